//! The parts every kernel is built from: the row function that the lowerer fills (its
//! parameters: the row, leading arguments, then [`PARAMS_PER_COLUMN`] per column slot), the
//! entry's loading of the [`super::ColumnArg`]s, the vectorizable loop that computes a word of
//! 64 selection bits from the filter row function, and the checks shared by every kernel
//! (LLVM's verifier). The kernels themselves are `filter`, `project` and `aggregate`.

use std::collections::HashMap;

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PhiValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::abi::{unreadable_column, ScratchNeed};
use super::attributes::enum_attr;
use super::lower::{ColumnParams, Lowerer, Params};
use super::{CodegenError, ColumnSlot, ErrorSite, STATUS_LOST_ERROR};
use crate::error::Error;
use crate::ir::{Expr, SqlType};

/// Parameters of the row function per column slot: values, validity, validity mask, validity
/// offset, values offset, string offsets, string data.
const PARAMS_PER_COLUMN: u32 = 7;

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

/// Declares a kernel's entry point `name` of type `ty` (external: the JIT looks it up by
/// name) with the kernel attributes `attrs`, its pointer parameters at `exclusive` (buffers
/// nothing else reads or writes during the call) `noalias` and `nocapture`.
pub(super) fn entry_function<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    name: &str,
    ty: inkwell::types::FunctionType<'ctx>,
    attrs: &[Attribute],
    exclusive: &[u32],
) -> FunctionValue<'ctx> {
    let f = module.add_function(name, ty, None);
    for a in attrs {
        f.add_attribute(AttributeLoc::Function, *a);
    }
    for &p in exclusive {
        for attr in ["noalias", "nocapture"] {
            f.add_attribute(AttributeLoc::Param(p), enum_attr(ctx, attr));
        }
    }
    f
}

/// The symbol of the `WHERE` row function of a projection or aggregation kernel.
const WHERE_ROW: &str = "qjit_filter_row";

/// The `WHERE` clause of a projection or aggregation kernel: its filter row function (see
/// [`filter_row`]) if there is a `filter`, and the errors, last rank and scratch it brings (none
/// without one).
pub(super) struct WhereRow<'ctx> {
    pub function: Option<FunctionValue<'ctx>>,
    pub last_rank: u64,
    pub errors: Vec<ErrorSite>,
    pub scratch: ScratchNeed,
}

/// Builds the [`WhereRow`] of `filter` (`fallback` as for [`filter_row`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn where_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    filter: Option<&Expr>,
    columns: &[ColumnSlot],
    kernel_params: &Params,
    attrs: &[Attribute],
    fallback: bool,
) -> Result<WhereRow<'ctx>, CodegenError> {
    let Some(f) = filter else {
        return Ok(WhereRow {
            function: None,
            last_rank: 0,
            errors: vec![],
            scratch: ScratchNeed::default(),
        });
    };
    let row = filter_row(
        ctx,
        module,
        b,
        WHERE_ROW,
        f,
        columns,
        kernel_params,
        attrs,
        fallback,
    )?;
    Ok(WhereRow {
        function: Some(row.function),
        last_rank: row.last_rank,
        errors: row.errors,
        scratch: row.scratch,
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
    ret: impl inkwell::types::BasicType<'ctx>,
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
///
/// Each row stores its bit as a byte of a 64-byte stack array (zeroed first, for a partial
/// word); the word is that array compared with zero as one `<64 x i1>` bitcast to an `i64`
/// (two `vpcmpeqb` and two `vpmovmskb`). LLVM vectorizes the row loop into compares whose
/// lanes it packs into bytes. Built as `word | bit << j` instead, the loop vectorized into
/// 64-bit lanes (a `zext`, a variable shift and an `or` per four rows). Callgrind, SF 0.1,
/// instructions per row: Q6 9.2 -> 8.5, Q12 13.2 -> 12.8, Q14 6.2 -> 4.8, Q15's filter with
/// `COUNT(*)` 4.2 -> 2.8. Forcing a vectorization factor of 16 or 32, so that the array's
/// stores are as wide as its loads, saved up to a third more but added a third to the compile
/// time of a filter of strings (Q19 41 -> 54 and 84 ms), and the row loop's own factor costs
/// nothing to compile.
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
    use inkwell::values::BasicValue;
    let i8t = ctx.i8_type();
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let bytes_t = i8t.vec_type(64);
    let bytes = entry_alloca(ctx, b, bytes_t.into(), &format!("{name}_bytes"), Some(32))?;
    b.build_store(bytes, bytes_t.const_zero())?
        .set_alignment(32)
        .map_err(|e| Error::internal(format!("store alignment: {e}")))?;
    let pre = current_block(b)?;
    let body = ctx.append_basic_block(f, &format!("{name}_rows"));
    let done = ctx.append_basic_block(f, &format!("{name}_done"));
    b.build_unconditional_branch(body)?;
    b.position_at_end(body);
    let j = b.build_phi(i64t, "j")?;
    let errs = b.build_phi(i32t, "errs")?;
    let jv = j.as_basic_value().into_int_value();
    let i = b.build_int_add(base, jv, "i")?;
    let (bit, code) = call_filter_row(ctx, b, row_fn, args, i)?;
    let byte = b.build_int_truncate(bit, i8t, "byte")?;
    // SAFETY (of the generated code): j < count ≤ 64, inside the 64-byte array.
    let at = unsafe { b.build_in_bounds_gep(i8t, bytes, &[jv], "byte_at")? };
    b.build_store(at, byte)?;
    let errs2 = b.build_or(errs.as_basic_value().into_int_value(), code, "errs2")?;
    let j2 = b.build_int_add(jv, i64t.const_int(1, false), "j2")?;
    let more = b.build_int_compare(IntPredicate::ULT, j2, count, "more")?;
    let latch = b.build_conditional_branch(more, body, done)?;
    no_interleave(ctx, latch);
    j.add_incoming(&[(&i64t.const_zero(), pre), (&j2, body)]);
    errs.add_incoming(&[(&i32t.const_zero(), pre), (&errs2, body)]);
    b.position_at_end(done);
    let all = b.build_load(bytes_t, bytes, &format!("{name}_all"))?;
    all.as_instruction_value()
        .ok_or_else(|| Error::internal("a load is not an instruction"))?
        .set_alignment(32)
        .map_err(|e| Error::internal(format!("load alignment: {e}")))?;
    let set = b.build_int_compare(
        IntPredicate::NE,
        all.into_vector_value(),
        bytes_t.const_zero(),
        &format!("{name}_set"),
    )?;
    let word = b
        .build_bit_cast(set, i64t, &format!("{name}_word"))?
        .into_int_value();
    let failed = b.build_int_compare(IntPredicate::NE, errs2, i32t.const_zero(), "failed")?;
    Ok((word, failed))
}

/// A stack slot of type `ty` in the entry block of the function the builder is in (aligned to
/// `align` bytes, else to its type): static, so that LLVM keeps it out of every loop.
pub(super) fn entry_alloca<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    ty: inkwell::types::BasicTypeEnum<'ctx>,
    name: &str,
    align: Option<u32>,
) -> R<PointerValue<'ctx>> {
    let entry = current_block(b)?
        .get_parent()
        .and_then(|f| f.get_first_basic_block())
        .ok_or_else(|| Error::internal("the builder is outside a function"))?;
    let eb = ctx.create_builder();
    match entry.get_first_instruction() {
        Some(first) => eb.position_before(&first),
        None => eb.position_at_end(entry),
    }
    let slot = eb.build_alloca(ty, name)?;
    if let Some(align) = align {
        slot.as_instruction()
            .ok_or_else(|| Error::internal("an alloca is not an instruction"))?
            .set_alignment(align)
            .map_err(|e| Error::internal(format!("alloca alignment: {e}")))?;
    }
    Ok(slot)
}

/// Marks the loop whose latch (back-edge branch) is `latch` as one LLVM's loop vectorizer must
/// not interleave: it still vectorizes it where its cost model says so, but one vector
/// iteration at a time.
///
/// This is the selection loop of [`filter_word`] and the dense loop of an aggregation without
/// keys (`aggregate::dense`), the loops of a kernel that vectorize.
/// Interleaving it (four vector iterations per trip, the cost model's choice) made no
/// measurable difference to execution and added compile time: 14% of Q6's and 3.5% of Q1's
/// (`callgrind`, see `KERNEL_PIPELINE` in `jit/kernel.rs`). The mark is LLVM's loop ID: a
/// distinct node whose first operand is itself, then `llvm.loop.interleave.count` = 1.
pub(super) fn no_interleave(ctx: &Context, latch: inkwell::values::InstructionValue) {
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

/// Emits, in an entry function, the selection word of the rows `base..base + count` (`full`:
/// `count` is 64): the filter row function's bits (a row that fails sends the kernel to `fail`
/// with `(STATUS_LOST_ERROR, base)`), or without a filter every row of the word. The builder is
/// left where the word is known.
#[allow(clippy::too_many_arguments)]
pub(super) fn selection_word<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    filter_fn: Option<FunctionValue<'ctx>>,
    args: &[BasicMetadataValueEnum<'ctx>],
    (base, count, full): (IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>),
    fail: &FailExit<'ctx>,
    name: &str,
) -> Result<IntValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    match filter_fn {
        Some(filter) => {
            let (word, failed) = filter_word(ctx, b, f, filter, args, base, count, name)?;
            let ok = ctx.append_basic_block(f, &format!("{name}_selected"));
            let here = current_block(b)?;
            b.build_conditional_branch(failed, fail.block, ok)?;
            fail.code
                .add_incoming(&[(&i64t.const_int(STATUS_LOST_ERROR, false), here)]);
            fail.row.add_incoming(&[(&base, here)]);
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

/// Where an entry function goes when a row fails: a block whose phis take the failure's code
/// and row from every branch to it. The kernel writes them into its status there
/// ([`store_status`]) and returns, after whatever else its state needs.
pub(super) struct FailExit<'ctx> {
    pub block: BasicBlock<'ctx>,
    pub code: PhiValue<'ctx>,
    pub row: PhiValue<'ctx>,
}

impl<'ctx> FailExit<'ctx> {
    /// Appends the block to `f` with its two `i64` phis, and leaves the builder in it.
    pub fn new(ctx: &'ctx Context, b: &Builder<'ctx>, f: FunctionValue<'ctx>) -> R<FailExit<'ctx>> {
        let block = ctx.append_basic_block(f, "fail");
        b.position_at_end(block);
        let i64t = ctx.i64_type();
        Ok(FailExit {
            block,
            code: b.build_phi(i64t, "fail_code")?,
            row: b.build_phi(i64t, "fail_row")?,
        })
    }

    /// The code and row phis' values.
    pub fn values(&self) -> (IntValue<'ctx>, IntValue<'ctx>) {
        (
            self.code.as_basic_value().into_int_value(),
            self.row.as_basic_value().into_int_value(),
        )
    }
}

/// Stores `(code, row)` into the [`super::KernelStatus`] at `status`.
pub(super) fn store_status<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    status: PointerValue<'ctx>,
    code: IntValue<'ctx>,
    row: IntValue<'ctx>,
) -> R<()> {
    let i64t = ctx.i64_type();
    let status_ty = ctx.struct_type(&[i64t.into(), i64t.into()], false);
    let pc = b.build_struct_gep(status_ty, status, 0, "status_code_ptr")?;
    b.build_store(pc, code)?;
    let pr = b.build_struct_gep(status_ty, status, 1, "status_row_ptr")?;
    b.build_store(pr, row)?;
    Ok(())
}

/// The loop of an entry function over the words of 64 rows of a batch of `len` rows, the last
/// word possibly partial, with values carried from word to word (`i64` phis).
///
/// ```text
/// head:  w, carried… = phi [0, init…] [w + 1, next…]; if w < ceil(len / 64) goto body else exit
/// body:  base = w * 64; count = min(64, len - base); full = count == 64
///        … the caller's code for the word …
///        (Words::end) goto head
/// ```
pub(super) struct Words<'ctx> {
    /// `base = w * 64`, the word's first row.
    pub base: IntValue<'ctx>,
    /// The word's index.
    pub index: IntValue<'ctx>,
    /// Its rows: 64, or fewer in the last word.
    pub count: IntValue<'ctx>,
    /// `i1`: `count` is 64.
    pub full: IntValue<'ctx>,
    /// The carried values, as the word sees them.
    pub carried: Vec<IntValue<'ctx>>,
    head: BasicBlock<'ctx>,
    exit: BasicBlock<'ctx>,
    phis: Vec<PhiValue<'ctx>>,
}

impl<'ctx> Words<'ctx> {
    /// Emits the loop's head from the current block and leaves the builder in its body.
    pub fn begin(
        ctx: &'ctx Context,
        b: &Builder<'ctx>,
        f: FunctionValue<'ctx>,
        len: IntValue<'ctx>,
        carried: &[(&str, IntValue<'ctx>)],
    ) -> R<Words<'ctx>> {
        let i64t = ctx.i64_type();
        let six = i64t.const_int(6, false);
        let words = b.build_int_add(len, i64t.const_int(63, false), "len63")?;
        let words = b.build_right_shift(words, six, false, "words")?;
        let entry = current_block(b)?;
        let head = ctx.append_basic_block(f, "word_head");
        let body = ctx.append_basic_block(f, "word_body");
        let exit = ctx.append_basic_block(f, "exit");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let w = b.build_phi(i64t, "w")?;
        w.add_incoming(&[(&i64t.const_zero(), entry)]);
        let mut phis = vec![w];
        for (name, init) in carried {
            let phi = b.build_phi(i64t, name)?;
            phi.add_incoming(&[(init, entry)]);
            phis.push(phi);
        }
        let index = w.as_basic_value().into_int_value();
        let more = b.build_int_compare(IntPredicate::ULT, index, words, "more_words")?;
        b.build_conditional_branch(more, body, exit)?;
        b.position_at_end(body);
        let base = b.build_left_shift(index, six, "base")?;
        let rest = b.build_int_sub(len, base, "rest")?;
        let sixty_four = i64t.const_int(64, false);
        let full = b.build_int_compare(IntPredicate::UGE, rest, sixty_four, "full_word")?;
        let count = b
            .build_select(full, sixty_four, rest, "count")?
            .into_int_value();
        Ok(Words {
            base,
            index,
            count,
            full,
            carried: phis[1..]
                .iter()
                .map(|p| p.as_basic_value().into_int_value())
                .collect(),
            head,
            exit,
            phis,
        })
    }

    /// Closes the word's code with the values the next word carries (one per carried value),
    /// and leaves the builder at the loop's exit, where the carried values are those of the
    /// head ([`Words::carried`]).
    pub fn end(self, ctx: &'ctx Context, b: &Builder<'ctx>, next: &[IntValue<'ctx>]) -> R<()> {
        let latch = current_block(b)?;
        let next_w = b.build_int_add(self.index, ctx.i64_type().const_int(1, false), "w2")?;
        b.build_unconditional_branch(self.head)?;
        self.phis[0].add_incoming(&[(&next_w, latch)]);
        if next.len() != self.phis.len() - 1 {
            return Err(Error::internal("a word loop carries another number of values").into());
        }
        for (phi, value) in self.phis[1..].iter().zip(next) {
            phi.add_incoming(&[(value, latch)]);
        }
        b.position_at_end(self.exit);
        Ok(())
    }
}

/// Emits, from the current block, the loop over the set bits of `word` (rows `base + j`, in
/// order, by counting trailing zeros) that calls `row` for each, with `i64` values carried
/// from row to row. `row` emits the row's work and returns its `i32` code and the carried
/// values for the next row; a non-zero code goes to `fail` with the row. Leaves the builder
/// after the word and returns the carried values there.
#[allow(clippy::too_many_arguments)]
pub(super) fn for_each_selected<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    (word, base): (IntValue<'ctx>, IntValue<'ctx>),
    carried: &[(&str, IntValue<'ctx>)],
    fail: &FailExit<'ctx>,
    name: &str,
    mut row: impl FnMut(IntValue<'ctx>, &[IntValue<'ctx>]) -> R<(IntValue<'ctx>, Vec<IntValue<'ctx>>)>,
) -> R<Vec<IntValue<'ctx>>> {
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let cttz = intrinsic(module, "llvm.cttz", i64t.into())?;
    let pre = current_block(b)?;
    let bits = ctx.append_basic_block(f, &format!("{name}_bits"));
    let body = ctx.append_basic_block(f, &format!("{name}_bit"));
    let next = ctx.append_basic_block(f, &format!("{name}_bit_next"));
    let done = ctx.append_basic_block(f, &format!("{name}_word_done"));
    b.build_unconditional_branch(bits)?;
    b.position_at_end(bits);
    let left = b.build_phi(i64t, "left")?;
    left.add_incoming(&[(&word, pre)]);
    let mut phis = vec![];
    for (name, init) in carried {
        let phi = b.build_phi(i64t, name)?;
        phi.add_incoming(&[(init, pre)]);
        phis.push(phi);
    }
    let values: Vec<IntValue> = phis
        .iter()
        .map(|p| p.as_basic_value().into_int_value())
        .collect();
    let leftv = left.as_basic_value().into_int_value();
    let any = b.build_int_compare(IntPredicate::NE, leftv, i64t.const_zero(), "any_left")?;
    b.build_conditional_branch(any, body, done)?;
    b.position_at_end(body);
    let j = b
        .build_call(
            cttz,
            &[leftv.into(), ctx.bool_type().const_int(1, false).into()],
            "j",
        )?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| Error::internal("cttz returns nothing"))?
        .into_int_value();
    let i = b.build_int_add(base, j, "row_i")?;
    let (code, after) = row(i, &values)?;
    let failed = b.build_int_compare(IntPredicate::NE, code, i32t.const_zero(), "failed")?;
    let code64 = b.build_int_z_extend(code, i64t, "code64")?;
    let here = current_block(b)?;
    b.build_conditional_branch(failed, fail.block, next)?;
    fail.code.add_incoming(&[(&code64, here)]);
    fail.row.add_incoming(&[(&i, here)]);
    b.position_at_end(next);
    let minus1 = b.build_int_sub(leftv, i64t.const_int(1, false), "left_m1")?;
    let left2 = b.build_and(leftv, minus1, "left2")?;
    b.build_unconditional_branch(bits)?;
    left.add_incoming(&[(&left2, next)]);
    if after.len() != phis.len() {
        return Err(Error::internal("a row loop carries another number of values").into());
    }
    for (phi, value) in phis.iter().zip(&after) {
        phi.add_incoming(&[(value, next)]);
    }
    b.position_at_end(done);
    Ok(values)
}

/// The declaration of the overloaded LLVM intrinsic `name` for the type `ty`.
pub(super) fn intrinsic<'ctx>(
    module: &Module<'ctx>,
    name: &str,
    ty: inkwell::types::BasicTypeEnum<'ctx>,
) -> R<FunctionValue<'ctx>> {
    inkwell::intrinsics::Intrinsic::find(name)
        .and_then(|i| i.get_declaration(module, &[ty]))
        .ok_or_else(|| Error::internal(format!("LLVM has no {name}")).into())
}

/// The block the builder is in.
pub(super) fn current_block<'ctx>(b: &Builder<'ctx>) -> R<BasicBlock<'ctx>> {
    b.get_insert_block()
        .ok_or_else(|| Error::internal("the builder lost its block").into())
}

type R<T> = Result<T, CodegenError>;

/// Emits, from the current block, a loop over the 64 rows of a word that LLVM vectorizes (not
/// interleaved, see [`no_interleave`]): `body(j, carried)` emits row `j`'s work and returns the
/// next values of the `i64`s it carries (`init` at first, as many). Returns their final values;
/// the builder continues after the loop. The loop of `aggregate::dense`, `grouped`, `lanes`
/// and `sums`.
pub(super) fn word_loop<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    name: &str,
    init: &[IntValue<'ctx>],
    mut body: impl FnMut(IntValue<'ctx>, &[IntValue<'ctx>]) -> R<Vec<IntValue<'ctx>>>,
) -> R<Vec<IntValue<'ctx>>> {
    let i64t = ctx.i64_type();
    let pre = ctx.append_basic_block(f, &format!("{name}_pre"));
    let rows = ctx.append_basic_block(f, &format!("{name}_rows"));
    let done = ctx.append_basic_block(f, &format!("{name}_done"));
    b.build_unconditional_branch(pre)?;
    b.position_at_end(pre);
    b.build_unconditional_branch(rows)?;
    b.position_at_end(rows);
    let j = b.build_phi(i64t, &format!("{name}_j"))?;
    let phis: Vec<PhiValue> = init
        .iter()
        .map(|_| b.build_phi(i64t, &format!("{name}_carried")))
        .collect::<Result<_, _>>()?;
    let jv = j.as_basic_value().into_int_value();
    let carried: Vec<IntValue> = phis
        .iter()
        .map(|p| p.as_basic_value().into_int_value())
        .collect();
    let next = body(jv, &carried)?;
    if next.len() != init.len() {
        return Err(Error::internal("a word loop's body changed what it carries").into());
    }
    let end = current_block(b)?;
    let j2 = b.build_int_add(jv, i64t.const_int(1, false), &format!("{name}_j2"))?;
    let more = b.build_int_compare(
        IntPredicate::ULT,
        j2,
        i64t.const_int(64, false),
        &format!("{name}_more"),
    )?;
    let latch = b.build_conditional_branch(more, rows, done)?;
    no_interleave(ctx, latch);
    j.add_incoming(&[(&i64t.const_zero(), pre), (&j2, end)]);
    for ((phi, first), last) in phis.iter().zip(init).zip(&next) {
        phi.add_incoming(&[(first, pre), (last, end)]);
    }
    b.position_at_end(done);
    Ok(next)
}
