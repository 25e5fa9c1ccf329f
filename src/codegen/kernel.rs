//! The filter kernel's skeleton: the entry function with its 64-rows-per-word loop, and the
//! row function that [`super::lower`] fills with the predicate.
//!
//! ```text
//! qjit_filter(cols, len, out, status,          qjit_filter_row(i, scratch, scratch_len,
//!             scratch, scratch_len):                             col params…) -> i32
//!   for w in 0..len/64:                            (code << 1) | predicate-is-TRUE
//!     word = OR over j<64 of row(64w+j).bit << j
//!     out[w] = word; if any code: scan the rest for the interpreter's error, write status, return
//!   the same for the last len%64 rows
//! ```
//!
//! The row code [`super::STATUS_FALLBACK`] is the lowest there is, so the error scan reports it
//! whenever some row of the batch needs the interpreter.

use std::collections::HashMap;

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue};
use inkwell::{AddressSpace, IntPredicate};

use super::lower::{ColumnParams, Lowerer, Params};
use super::{CodegenError, ColumnSlot, ErrorSite, StringLayout, STATUS_LOST_ERROR};
use crate::error::Error;
use crate::ir::{ColumnRef, Expr, SqlType};

/// The symbol of a filter kernel's entry point.
pub const ENTRY_NAME: &str = "qjit_filter";
const ROW_NAME: &str = "qjit_filter_row";
/// Parameters of the row function per column slot: values, validity, validity mask, validity
/// offset, values offset, string offsets, string data.
const PARAMS_PER_COLUMN: u32 = 7;

/// A predicate lowered to LLVM IR, not yet verified or optimized.
pub struct FilterModule<'ctx> {
    pub module: Module<'ctx>,
    /// The columns the kernel reads, in the order of its `cols` argument.
    pub columns: Vec<ColumnSlot>,
    /// The operations that can fail, by code.
    pub errors: Vec<ErrorSite>,
    /// The scratch bytes a row needs.
    pub scratch: ScratchNeed,
    /// The constants the kernel takes as parameters.
    pub params: Params,
}

/// How many scratch bytes one row of a filter kernel may use: `per_max_len` times the length
/// in bytes of the longest string in the batch's string columns (NULL rows included), plus
/// `constant` (string literals). Both are 0 when the kernel builds no strings. The bound is
/// exact for what the kernel writes; a row that finds the area too small anyway reports
/// [`super::STATUS_FALLBACK`] instead of writing past it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScratchNeed {
    pub per_max_len: u64,
    pub constant: u64,
}

impl ScratchNeed {
    /// Whether the kernel uses no scratch at all.
    pub fn is_zero(self) -> bool {
        self == ScratchNeed::default()
    }

    /// The bytes a row needs when the longest string has `max_len` bytes (`None` past `u64`).
    pub fn bytes(self, max_len: u64) -> Option<u64> {
        self.per_max_len
            .checked_mul(max_len)?
            .checked_add(self.constant)
    }

    /// Room for `k` of it (saturating).
    pub(super) fn times(self, k: u64) -> ScratchNeed {
        ScratchNeed {
            per_max_len: self.per_max_len.saturating_mul(k),
            constant: self.constant.saturating_mul(k),
        }
    }

    /// Room for both (saturating).
    pub(super) fn plus(self, other: ScratchNeed) -> ScratchNeed {
        ScratchNeed {
            per_max_len: self.per_max_len.saturating_add(other.per_max_len),
            constant: self.constant.saturating_add(other.constant),
        }
    }

    /// Room for either (saturating).
    pub(super) fn either(self, other: ScratchNeed) -> ScratchNeed {
        ScratchNeed {
            per_max_len: self.per_max_len.max(other.per_max_len),
            constant: self.constant.max(other.constant),
        }
    }
}

/// Lowers a `BOOLEAN` predicate to a module with the entry function [`ENTRY_NAME`]
/// (a [`super::FilterFn`]). Every function carries `target-cpu`/`target-features` attributes
/// for `cpu` and `features`, so that the JIT generates code for the host's SIMD.
pub fn compile_filter<'ctx>(
    ctx: &'ctx Context,
    expr: &Expr,
    cpu: &str,
    features: &str,
) -> Result<FilterModule<'ctx>, CodegenError> {
    if !matches!(expr.ty(), SqlType::Boolean | SqlType::Null) {
        return Err(CodegenError::Failed(Error::internal(format!(
            "a predicate of type {} reached the code generator: {expr}",
            expr.ty()
        ))));
    }
    let (params, columns) = super::kernel_inputs(&[expr]);
    let module = ctx.create_module("qjit_filter");
    let b = ctx.create_builder();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let target_attrs = target_attributes(ctx, cpu, features);
    // The row function: the row, the scratch area, then the columns.
    let FilterRow {
        function: row_fn,
        errors,
        scratch,
        ..
    } = filter_row(
        ctx,
        &module,
        &b,
        ROW_NAME,
        expr,
        &columns,
        &params,
        &target_attrs,
        true,
    )?;

    // The entry function.
    let entry_fn = module.add_function(
        ENTRY_NAME,
        ctx.void_type().fn_type(
            &[
                ptr.into(),
                i64t.into(),
                ptr.into(),
                ptr.into(),
                ptr.into(),
                i64t.into(),
            ],
            false,
        ),
        None,
    );
    for a in target_attrs {
        entry_fn.add_attribute(AttributeLoc::Function, a);
    }
    for p in [0, 2, 3, 4] {
        entry_fn.add_attribute(AttributeLoc::Param(p), enum_attr(ctx, "noalias"));
        entry_fn.add_attribute(AttributeLoc::Param(p), enum_attr(ctx, "nocapture"));
    }
    build_entry(ctx, &module, &b, entry_fn, row_fn, columns.len())?;

    verify_functions(
        &module,
        &[row_fn, entry_fn],
        &format!("the kernel for {expr}"),
    )?;
    Ok(FilterModule {
        module,
        columns,
        errors,
        scratch,
        params,
    })
}

pub(super) fn enum_attr(ctx: &Context, name: &str) -> Attribute {
    ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0)
}

pub(super) fn param(
    f: FunctionValue<'_>,
    n: u32,
) -> Result<inkwell::values::BasicValueEnum<'_>, Error> {
    f.get_nth_param(n)
        .ok_or_else(|| Error::internal(format!("kernel function has no parameter {n}")))
}

/// The columns expressions read that the kernel can read, in order of first use. (Lowering
/// reports the others, after the construct that uses them: `ILIKE` before its column.) A
/// column of type `NULL` has no slot: every row of it is NULL, and the kernel reads nothing.
/// With `params`, the parameter slot ([`super::PARAMS_SLOT`]) comes last.
pub(super) fn column_slots(exprs: &[&Expr], params: &Params) -> Vec<ColumnSlot> {
    let mut slots: Vec<ColumnSlot> = vec![];
    let mut visit = |e: &Expr| {
        let Expr::Column(c) = e else { return };
        if c.ty == SqlType::Null {
            return;
        }
        if unreadable_column(c).is_none() && !slots.iter().any(|s| s.index == c.index) {
            slots.push(ColumnSlot {
                index: c.index,
                data_type: c.data_type.clone(),
                nullable: c.nullable,
            });
        }
    };
    for e in exprs {
        e.walk(&mut visit);
    }
    if !params.is_empty() {
        slots.push(ColumnSlot {
            index: super::PARAMS_SLOT,
            data_type: arrow::datatypes::DataType::UInt64,
            nullable: false,
        });
    }
    slots
}

/// Each column slot's position, by the column's index in the scan batch.
pub(super) fn slot_map(columns: &[ColumnSlot]) -> HashMap<usize, usize> {
    columns
        .iter()
        .enumerate()
        .map(|(k, c)| (c.index, k))
        .collect()
}

/// Whether kernels read and write values of `ty` (as columns and as results).
pub(super) fn kernel_type(ty: SqlType) -> bool {
    matches!(
        ty,
        SqlType::Boolean
            | SqlType::Int8
            | SqlType::Int16
            | SqlType::Int32
            | SqlType::Int64
            | SqlType::UInt8
            | SqlType::UInt16
            | SqlType::UInt32
            | SqlType::UInt64
            | SqlType::Float32
            | SqlType::Float64
            | SqlType::Decimal { .. }
            | SqlType::Date
            | SqlType::Utf8
    )
}

/// Why the kernel cannot read a column, or `None` if it can (a column of type `NULL` it does not
/// need to read).
pub(super) fn unreadable_column(c: &ColumnRef) -> Option<String> {
    if c.ty == SqlType::Null && c.data_type == arrow::datatypes::DataType::Null {
        return None;
    }
    let readable = kernel_type(c.ty);
    if !readable {
        Some(format!(
            "reading column '{}' of type {} is not compiled yet",
            c.name, c.ty
        ))
    } else if c.ty == SqlType::Utf8 {
        match StringLayout::of(&c.data_type) {
            Some(_) => None,
            None => Some(format!(
                "reading column '{}' stored as {} is not compiled yet",
                c.name, c.data_type
            )),
        }
    } else if c.data_type != c.ty.to_arrow()
        && !matches!(c.data_type, arrow::datatypes::DataType::Decimal64(..))
    {
        Some(format!(
            "reading column '{}' stored as {} is not compiled yet",
            c.name, c.data_type
        ))
    } else {
        None
    }
}

/// A built filter row function: `(row[, scratch, scratch_len], column params…) -> i32`
/// returning `(error code << 1) | predicate is TRUE`.
pub(super) struct FilterRow<'ctx> {
    pub function: FunctionValue<'ctx>,
    /// The last error rank handed out (a later part of the kernel continues after it).
    pub last_rank: u64,
    pub errors: Vec<ErrorSite>,
    /// The scratch bytes a row needs (zero without `fallback`).
    pub scratch: ScratchNeed,
}

/// Builds the row function `name` of the `BOOLEAN` predicate `expr` (a `NULL`-typed predicate
/// selects nothing). With `fallback`, the function also takes the scratch area and may report
/// [`STATUS_FALLBACK`](super::STATUS_FALLBACK) (filter and projection kernels); without, the
/// constructs that need it do not compile (the `WHERE` clause fused into an aggregation kernel,
/// which selects a word of rows before it updates any).
#[allow(clippy::too_many_arguments)]
pub(super) fn filter_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    name: &str,
    expr: &Expr,
    columns: &[ColumnSlot],
    kernel_params: &Params,
    attrs: &[Attribute],
    fallback: bool,
) -> Result<FilterRow<'ctx>, CodegenError> {
    let nothing = Expr::null(SqlType::Boolean);
    let expr = if expr.ty() == SqlType::Null {
        &nothing
    } else {
        expr
    };
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let leading: Vec<BasicMetadataTypeEnum> = if fallback {
        vec![i64t.into(), ptr.into(), i64t.into()]
    } else {
        vec![i64t.into()]
    };
    let (function, leading, params) =
        row_function(ctx, module, b, name, i32t, &leading, columns.len(), attrs)?;
    let row = leading[0].into_int_value();
    let slot_of: HashMap<usize, usize> = slot_map(columns);
    let mut lowerer = Lowerer::new(ctx, module, b, row, params, columns, slot_of)?;
    lowerer.use_params(kernel_params)?;
    if fallback {
        lowerer.allow_fallback(leading[1].into_pointer_value(), leading[2].into_int_value());
    }
    let result = lowerer.lower(expr)?;
    let bit = lowerer.is_true(&result)?;
    let scratch = lowerer.scratch_need();
    let last_rank = lowerer.last_rank();
    let errors = lowerer.into_errors();
    let code = b.build_left_shift(result.err, i32t.const_int(1, false), "code2")?;
    let bit = b.build_int_z_extend(bit, i32t, "bit32")?;
    let packed = b.build_or(code, bit, "packed")?;
    b.build_return(Some(&packed))?;
    Ok(FilterRow {
        function,
        last_rank,
        errors,
        scratch,
    })
}

/// Runs LLVM's verifier on the functions of a kernel: a failure is a bug of the code
/// generator, reported with LLVM's message and `what` the kernel is.
pub(super) fn verify_functions(
    module: &Module<'_>,
    functions: &[FunctionValue<'_>],
    what: &str,
) -> Result<(), CodegenError> {
    if functions.iter().all(|f| f.verify(false)) {
        return Ok(());
    }
    let message = match module.verify() {
        Err(m) => m.to_string(),
        Ok(()) => "no message".to_string(),
    };
    Err(CodegenError::Failed(Error::internal(format!(
        "LLVM rejected {what}: {message}"
    ))))
}

/// Declares an internal `alwaysinline` row function `name` returning `ret`, whose parameters are
/// `leading` followed by [`PARAMS_PER_COLUMN`] per column slot, positions the builder at its
/// entry block, and returns it with its leading parameters and its view of the columns.
#[allow(clippy::too_many_arguments)]
pub(super) fn row_function<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    name: &str,
    ret: inkwell::types::IntType<'ctx>,
    leading: &[BasicMetadataTypeEnum<'ctx>],
    ncols: usize,
    attrs: &[Attribute],
) -> Result<RowFunction<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let mut row_params: Vec<BasicMetadataTypeEnum> = leading.to_vec();
    for _ in 0..ncols {
        row_params.extend::<[BasicMetadataTypeEnum; 7]>([
            ptr.into(),
            ptr.into(),
            i64t.into(),
            i64t.into(),
            i64t.into(),
            ptr.into(),
            ptr.into(),
        ]);
    }
    let f = module.add_function(
        name,
        ret.fn_type(&row_params, false),
        Some(Linkage::Internal),
    );
    for a in attrs {
        f.add_attribute(AttributeLoc::Function, *a);
    }
    f.add_attribute(AttributeLoc::Function, enum_attr(ctx, "alwaysinline"));
    b.position_at_end(ctx.append_basic_block(f, "entry"));
    let lead = leading.len() as u32;
    let leading_values = (0..lead)
        .map(|n| param(f, n))
        .collect::<Result<Vec<_>, Error>>()?;
    let mut params = Vec::with_capacity(ncols);
    for k in 0..ncols as u32 {
        let p = |n: u32| param(f, lead + k * PARAMS_PER_COLUMN + n);
        params.push(ColumnParams {
            values: p(0)?.into_pointer_value(),
            validity: p(1)?.into_pointer_value(),
            validity_mask: p(2)?.into_int_value(),
            validity_offset: p(3)?.into_int_value(),
            offset: p(4)?.into_int_value(),
            offsets: p(5)?.into_pointer_value(),
            data: p(6)?.into_pointer_value(),
        });
    }
    Ok((f, leading_values, params))
}

/// A row function, its leading parameters and its column parameters.
pub(super) type RowFunction<'ctx> = (
    FunctionValue<'ctx>,
    Vec<inkwell::values::BasicValueEnum<'ctx>>,
    Vec<ColumnParams<'ctx>>,
);

/// The string attributes that keep the optimizer from turning byte loops into calls of the C
/// library (`memcpy`, `memmove`, `memset`): a kernel calls nothing but the runtime functions of
/// the float casts (`super::runtime`). Every function of a kernel module carries them
/// (functions inline only into functions with the same ones).
pub(super) const NO_LIBRARY_CALLS: [&str; 3] = [
    "no-builtin-memcpy",
    "no-builtin-memmove",
    "no-builtin-memset",
];

/// The attributes every kernel function carries: the host CPU and its features, `nounwind`,
/// [`NO_LIBRARY_CALLS`].
pub(super) fn target_attributes(ctx: &Context, cpu: &str, features: &str) -> Vec<Attribute> {
    let mut attrs = vec![
        ctx.create_string_attribute("target-cpu", cpu),
        ctx.create_string_attribute("target-features", features),
        enum_attr(ctx, "nounwind"),
    ];
    attrs.extend(
        NO_LIBRARY_CALLS
            .iter()
            .map(|key| ctx.create_string_attribute(key, "")),
    );
    attrs
}

/// Loads, in an entry function, the row-function arguments of `ncols` column slots from the
/// [`super::ColumnArg`] array `cols` (a missing validity bitmap becomes the all-valid byte).
/// The parameters [`column_args`] gives each column: values, validity, validity mask, validity
/// offset, offset, offsets, data.
pub(super) const COLUMN_PARAMS: usize = 7;

pub(super) fn column_args<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    cols: inkwell::values::PointerValue<'ctx>,
    ncols: usize,
) -> Result<Vec<BasicMetadataValueEnum<'ctx>>, CodegenError> {
    let i8t = ctx.i8_type();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let column_ty = ctx.struct_type(
        &[
            ptr.into(),
            ptr.into(),
            i64t.into(),
            i64t.into(),
            ptr.into(),
            ptr.into(),
        ],
        false,
    );
    // One all-valid byte that stands in for a missing validity bitmap (read at byte 0 always).
    let all_valid = match module.get_global("qjit_all_valid") {
        Some(g) => g,
        None => {
            let g = module.add_global(i8t, None, "qjit_all_valid");
            g.set_initializer(&i8t.const_int(0xff, false));
            g.set_constant(true);
            g.set_linkage(Linkage::Private);
            g
        }
    };
    let mut args: Vec<BasicMetadataValueEnum> = vec![];
    for k in 0..ncols {
        // SAFETY (of the generated code, not of this Rust): `cols` has one entry per slot.
        let col = unsafe {
            b.build_in_bounds_gep(column_ty, cols, &[i64t.const_int(k as u64, false)], "col")?
        };
        let field = |n: u32, name: &str| -> Result<_, CodegenError> {
            let p = b.build_struct_gep(column_ty, col, n, name)?;
            let ty: inkwell::types::BasicTypeEnum = if n == 2 || n == 3 {
                i64t.into()
            } else {
                ptr.into()
            };
            Ok(b.build_load(ty, p, name)?)
        };
        let values = field(0, "values")?.into_pointer_value();
        let validity = field(1, "validity")?.into_pointer_value();
        let offset = field(2, "offset")?.into_int_value();
        let validity_offset = field(3, "validity_offset")?.into_int_value();
        let offsets = field(4, "offsets")?.into_pointer_value();
        let data = field(5, "data")?.into_pointer_value();
        let missing = b.build_is_null(validity, "no_validity")?;
        let vptr = b
            .build_select(missing, all_valid.as_pointer_value(), validity, "vptr")?
            .into_pointer_value();
        let vmask = b
            .build_select(missing, i64t.const_zero(), i64t.const_all_ones(), "vmask")?
            .into_int_value();
        args.extend::<[BasicMetadataValueEnum; COLUMN_PARAMS]>([
            values.into(),
            vptr.into(),
            vmask.into(),
            validity_offset.into(),
            offset.into(),
            offsets.into(),
            data.into(),
        ]);
    }
    Ok(args)
}

/// Emits, in `f`, a loop evaluating the filter row function `row_fn` for rows
/// `base..base + count` (1 ≤ count ≤ 64) into one selection word. Returns the word and an `i1`
/// that is set if some row had an error; the builder is left after the loop.
#[allow(clippy::too_many_arguments)]
pub(super) fn filter_word<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    row_fn: FunctionValue<'ctx>,
    args: &[BasicMetadataValueEnum<'ctx>],
    base: IntValue<'ctx>,
    count: IntValue<'ctx>,
    name: &str,
) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let pre = b
        .get_insert_block()
        .ok_or_else(|| Error::internal("builder lost its block"))?;
    let body = ctx.append_basic_block(f, &format!("{name}_rows"));
    let done = ctx.append_basic_block(f, &format!("{name}_done"));
    b.build_unconditional_branch(body)?;
    b.position_at_end(body);
    let j = b.build_phi(i64t, "j")?;
    let word = b.build_phi(i64t, "word")?;
    let errs = b.build_phi(i32t, "errs")?;
    let i = b.build_int_add(base, j.as_basic_value().into_int_value(), "i")?;
    let (bit, code) = call_filter_row(ctx, b, row_fn, args, i)?;
    let bit64 = b.build_int_z_extend(bit, i64t, "bit64")?;
    let shifted = b.build_left_shift(bit64, j.as_basic_value().into_int_value(), "shifted")?;
    let word2 = b.build_or(word.as_basic_value().into_int_value(), shifted, "word2")?;
    let errs2 = b.build_or(errs.as_basic_value().into_int_value(), code, "errs2")?;
    let j2 = b.build_int_add(
        j.as_basic_value().into_int_value(),
        i64t.const_int(1, false),
        "j2",
    )?;
    let more = b.build_int_compare(IntPredicate::ULT, j2, count, "more")?;
    let latch = b.build_conditional_branch(more, body, done)?;
    no_interleave(ctx, latch);
    j.add_incoming(&[(&i64t.const_zero(), pre), (&j2, body)]);
    word.add_incoming(&[(&i64t.const_zero(), pre), (&word2, body)]);
    errs.add_incoming(&[(&i32t.const_zero(), pre), (&errs2, body)]);
    b.position_at_end(done);
    let failed = b.build_int_compare(IntPredicate::NE, errs2, i32t.const_zero(), "failed")?;
    Ok((word2, failed))
}

/// Marks the loop whose latch (back-edge branch) is `latch` as one LLVM's loop vectorizer must
/// not interleave: it still vectorizes it where its cost model says so, but one vector
/// iteration at a time.
///
/// This is the selection loop of [`filter_word`], the one loop of a kernel that vectorizes.
/// Interleaving it (four vector iterations per trip, the cost model's choice) made no
/// measurable difference to execution and added compile time: 14% of Q6's and 3.5% of Q1's
/// (`callgrind`, see `KERNEL_PIPELINE` in `jit/kernel.rs`). The mark is LLVM's loop ID: a
/// distinct node whose first operand is itself, then `llvm.loop.interleave.count` = 1.
fn no_interleave(ctx: &Context, latch: inkwell::values::InstructionValue) {
    use inkwell::llvm_sys::core::{
        LLVMConstInt, LLVMGetMDKindIDInContext, LLVMInt32TypeInContext, LLVMMDNodeInContext2,
        LLVMMDStringInContext2, LLVMMetadataAsValue, LLVMSetMetadata, LLVMValueAsMetadata,
    };
    use inkwell::llvm_sys::debuginfo::{LLVMMetadataReplaceAllUsesWith, LLVMTemporaryMDNode};
    use inkwell::values::AsValueRef;
    const KEY: &str = "llvm.loop.interleave.count";
    const KIND: &str = "llvm.loop";
    let c = ctx.raw();
    // SAFETY: every reference comes from the live context `ctx` or is created in it here; the
    // strings outlive the calls, which copy them; the temporary node is replaced (and freed)
    // by `LLVMMetadataReplaceAllUsesWith` before anything else sees it.
    unsafe {
        let key = LLVMMDStringInContext2(c, KEY.as_ptr().cast(), KEY.len());
        let one = LLVMValueAsMetadata(LLVMConstInt(LLVMInt32TypeInContext(c), 1, 0));
        let mut option = [key, one];
        let option = LLVMMDNodeInContext2(c, option.as_mut_ptr(), option.len());
        let temp = LLVMTemporaryMDNode(c, std::ptr::null_mut(), 0);
        let mut ops = [temp, option];
        let id = LLVMMDNodeInContext2(c, ops.as_mut_ptr(), ops.len());
        LLVMMetadataReplaceAllUsesWith(temp, id);
        let kind = LLVMGetMDKindIDInContext(c, KIND.as_ptr().cast(), KIND.len() as u32);
        LLVMSetMetadata(latch.as_value_ref(), kind, LLVMMetadataAsValue(c, id));
    }
}

/// Emits, in an entry function, the selection word of rows `base..base + count`: the filter row
/// function's bits (a row that fails sends the kernel to `fail`, adding `(STATUS_LOST_ERROR,
/// base)` to its `fail_code` and `fail_row` phis), or without a filter every row (`full`: all 64).
/// The builder is left where the word is known.
#[allow(clippy::too_many_arguments)]
pub(super) fn selection_word<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    filter_fn: Option<FunctionValue<'ctx>>,
    args: &[BasicMetadataValueEnum<'ctx>],
    (base, count, full): (IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>),
    (fail, fail_code, fail_row): (
        inkwell::basic_block::BasicBlock<'ctx>,
        inkwell::values::PhiValue<'ctx>,
        inkwell::values::PhiValue<'ctx>,
    ),
    name: &str,
) -> Result<IntValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    match filter_fn {
        Some(filter) => {
            let (word, failed) = filter_word(ctx, b, f, filter, args, base, count, name)?;
            let ok = ctx.append_basic_block(f, &format!("{name}_selected"));
            let here = b
                .get_insert_block()
                .ok_or_else(|| Error::internal("builder lost its block"))?;
            b.build_conditional_branch(failed, fail, ok)?;
            fail_code.add_incoming(&[(&i64t.const_int(STATUS_LOST_ERROR, false), here)]);
            fail_row.add_incoming(&[(&base, here)]);
            b.position_at_end(ok);
            Ok(word)
        }
        None => {
            // All ones, or (1 << count) - 1 for a partial word (1 <= count < 64).
            let one = i64t.const_int(1, false);
            let short = b.build_and(count, i64t.const_int(63, false), "short")?;
            let bit = b.build_left_shift(one, short, "top")?;
            let some = b.build_int_sub(bit, one, "some_rows")?;
            Ok(
                b.build_select(full, i64t.const_all_ones(), some, "all_rows")?
                    .into_int_value(),
            )
        }
    }
}

/// Calls the filter row function for row `i`: (`i32` predicate bit, `i32` error code).
pub(super) fn call_filter_row<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    row_fn: FunctionValue<'ctx>,
    args: &[BasicMetadataValueEnum<'ctx>],
    i: IntValue<'ctx>,
) -> Result<(IntValue<'ctx>, IntValue<'ctx>), CodegenError> {
    let i32t = ctx.i32_type();
    let mut a = vec![i.into()];
    a.extend(args.iter().copied());
    let r = b
        .build_call(row_fn, &a, "row")?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| Error::internal("row function returns nothing"))?
        .into_int_value();
    let bit = b.build_and(r, i32t.const_int(1, false), "bit")?;
    let code = b.build_right_shift(r, i32t.const_int(1, false), false, "code")?;
    Ok((bit, code))
}

/// Builds `qjit_filter(cols, len, out, status)`.
fn build_entry<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    entry_fn: FunctionValue<'ctx>,
    row_fn: FunctionValue<'ctx>,
    ncols: usize,
) -> Result<(), CodegenError> {
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let status_ty = ctx.struct_type(&[i64t.into(), i64t.into()], false);
    let cols = param(entry_fn, 0)?.into_pointer_value();
    let len = param(entry_fn, 1)?.into_int_value();
    let out = param(entry_fn, 2)?.into_pointer_value();
    let status = param(entry_fn, 3)?.into_pointer_value();
    let scratch = param(entry_fn, 4)?;
    let scratch_len = param(entry_fn, 5)?;
    let entry = ctx.append_basic_block(entry_fn, "entry");
    b.position_at_end(entry);
    // The row function's arguments after the row: the scratch area, then the column
    // parameters, loaded once.
    let mut args: Vec<BasicMetadataValueEnum> = vec![scratch.into(), scratch_len.into()];
    args.extend(column_args(ctx, module, b, cols, ncols)?);
    let call_row = |i: IntValue<'ctx>| call_filter_row(ctx, b, row_fn, &args, i);
    let chunk = |base: IntValue<'ctx>, count: IntValue<'ctx>, name: &str| {
        filter_word(ctx, b, entry_fn, row_fn, &args, base, count, name)
    };

    // The error scan: from the first word that saw an error to the end of the batch, the code of
    // the lowest rank (`code >> 1`) and its first row. Rows before `start` had no error.
    let scan_entry = ctx.append_basic_block(entry_fn, "error_scan_entry");
    let scan = ctx.append_basic_block(entry_fn, "error_scan");
    let scan_done = ctx.append_basic_block(entry_fn, "error_scan_done");
    b.position_at_end(scan_entry);
    let start = b.build_phi(i64t, "scan_start")?;
    b.build_unconditional_branch(scan)?;
    b.position_at_end(scan);
    let j = b.build_phi(i64t, "ej")?;
    let best = b.build_phi(i32t, "best")?;
    let best_row = b.build_phi(i64t, "best_row")?;
    let jv = j.as_basic_value().into_int_value();
    let bestv = best.as_basic_value().into_int_value();
    let (_, code) = call_row(jv)?;
    let one = i32t.const_int(1, false);
    let rank = b.build_right_shift(code, one, false, "rank")?;
    let best_rank = b.build_right_shift(bestv, one, false, "best_rank")?;
    let has = b.build_int_compare(IntPredicate::NE, code, i32t.const_zero(), "has")?;
    let none_yet = b.build_int_compare(IntPredicate::EQ, bestv, i32t.const_zero(), "none_yet")?;
    let lower = b.build_int_compare(IntPredicate::ULT, rank, best_rank, "lower")?;
    let wins = b.build_or(none_yet, lower, "wins")?;
    let better = b.build_and(has, wins, "better")?;
    let best2 = b
        .build_select(better, code, bestv, "best2")?
        .into_int_value();
    let row2 = b
        .build_select(
            better,
            jv,
            best_row.as_basic_value().into_int_value(),
            "row2",
        )?
        .into_int_value();
    let j2 = b.build_int_add(jv, i64t.const_int(1, false), "ej2")?;
    let more = b.build_int_compare(IntPredicate::ULT, j2, len, "emore")?;
    b.build_conditional_branch(more, scan, scan_done)?;
    j.add_incoming(&[(&start.as_basic_value(), scan_entry), (&j2, scan)]);
    best.add_incoming(&[(&i32t.const_zero(), scan_entry), (&best2, scan)]);
    best_row.add_incoming(&[(&i64t.const_zero(), scan_entry), (&row2, scan)]);
    b.position_at_end(scan_done);
    let found = b.build_int_compare(IntPredicate::NE, best2, i32t.const_zero(), "found")?;
    let code64 = b.build_int_z_extend(best2, i64t, "code64")?;
    let code64 = b
        .build_select(
            found,
            code64,
            i64t.const_int(STATUS_LOST_ERROR, false),
            "status_code",
        )?
        .into_int_value();
    let pc = b.build_struct_gep(status_ty, status, 0, "status_code_ptr")?;
    b.build_store(pc, code64)?;
    let pr = b.build_struct_gep(status_ty, status, 1, "status_row_ptr")?;
    b.build_store(pr, row2)?;
    b.build_return(None)?;
    b.position_at_end(entry);

    let store_word = |w: IntValue<'ctx>, word: IntValue<'ctx>| -> Result<(), CodegenError> {
        // SAFETY (of the generated code): `out` has len.div_ceil(64) words.
        let p = unsafe { b.build_in_bounds_gep(i64t, out, &[w], "out_w")? };
        b.build_store(p, word)?;
        Ok(())
    };

    let six = i64t.const_int(6, false);
    let full = b.build_right_shift(len, six, false, "full_words")?;
    let head = ctx.append_basic_block(entry_fn, "word_head");
    let body = ctx.append_basic_block(entry_fn, "word_body");
    let tail = ctx.append_basic_block(entry_fn, "tail");
    b.build_unconditional_branch(head)?;
    b.position_at_end(head);
    let w = b.build_phi(i64t, "w")?;
    let wv = w.as_basic_value().into_int_value();
    let more = b.build_int_compare(IntPredicate::ULT, wv, full, "more_words")?;
    b.build_conditional_branch(more, body, tail)?;
    b.position_at_end(body);
    let base = b.build_left_shift(wv, six, "base")?;
    let (word, failed) = chunk(base, i64t.const_int(64, false), "full")?;
    store_word(wv, word)?;
    let ok = ctx.append_basic_block(entry_fn, "word_ok");
    let fail = ctx.append_basic_block(entry_fn, "word_fail");
    b.build_conditional_branch(failed, fail, ok)?;
    b.position_at_end(fail);
    b.build_unconditional_branch(scan_entry)?;
    start.add_incoming(&[(&base, fail)]);
    b.position_at_end(ok);
    let w2 = b.build_int_add(wv, i64t.const_int(1, false), "w2")?;
    b.build_unconditional_branch(head)?;
    w.add_incoming(&[(&i64t.const_zero(), entry), (&w2, ok)]);

    // The last len % 64 rows.
    b.position_at_end(tail);
    let rest = b.build_and(len, i64t.const_int(63, false), "rest")?;
    let has_rest = b.build_int_compare(IntPredicate::NE, rest, i64t.const_zero(), "has_rest")?;
    let rest_bb = ctx.append_basic_block(entry_fn, "rest");
    let exit = ctx.append_basic_block(entry_fn, "exit");
    b.build_conditional_branch(has_rest, rest_bb, exit)?;
    b.position_at_end(rest_bb);
    let base = b.build_left_shift(full, six, "tail_base")?;
    let (word, failed) = chunk(base, rest, "tail")?;
    store_word(full, word)?;
    let fail = ctx.append_basic_block(entry_fn, "tail_fail");
    b.build_conditional_branch(failed, fail, exit)?;
    b.position_at_end(fail);
    b.build_unconditional_branch(scan_entry)?;
    start.add_incoming(&[(&base, fail)]);
    b.position_at_end(exit);
    b.build_return(None)?;
    Ok(())
}
