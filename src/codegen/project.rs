//! The projection kernel: `WHERE` and the `SELECT` expressions of a non-aggregate query in one
//! loop that writes the selected rows' results, compacted, into output buffers.
//!
//! ```text
//! qjit_project(cols, len, outs, sel, status, scratch, scratch_len) -> rows written:
//!   for each word of 64 rows:
//!     word = selection bits of the filter row function (all rows without WHERE); sel[w] = word
//!     for each set bit i: code = qjit_project_row(i, n, scratch…, outs…, cols…)  (outputs at n)
//!                         if code: status = (code, i); return; n += 1
//! ```
//!
//! In: the filter and the projections to compile (results of every type: integers, floats,
//! decimals, dates, booleans, `VARCHAR`, and `NULL`, of which nothing is written), over the
//! scan batch. Out: a module with the entry
//! [`PROJECT_ENTRY_NAME`] (a [`super::ProjectFn`]). Output `k` gets its value of the `n`-th
//! selected row at element `n` of its values buffer (a bit for `BOOLEAN`) and its validity at
//! bit `n` of its validity bitmap; both start zeroed. The selection words let the caller take the
//! columns it copies (plain column references) and evaluate what did not compile. Errors count
//! for selected rows only, as in the interpreter, which filters first. A non-zero status (an
//! error, or [`super::STATUS_FALLBACK`] from a row the kernel does not evaluate) hands the
//! batch to the interpreter, which gives the exact result or error; strings built per row
//! (`UPPER`, `||`) use the scratch area, as in the filter kernel.

use std::collections::HashMap;

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::abi::kernel_type;
use super::attributes::target_attributes;
use super::lower::{Lowerer, Params};
use super::skeleton::{
    column_args, column_slots, entry_function, for_each_selected, param, row_function,
    selection_word, slot_map, store_status, verify_functions, where_row, FailExit, Words,
};
use super::{not_compiled, CodegenError, ColumnSlot, ErrorSite, ScratchNeed};
use crate::error::Error;
use crate::ir::{Expr, SqlType};

/// The symbol of a projection kernel's entry point.
pub const PROJECT_ENTRY_NAME: &str = "qjit_project";
const PROJECT_ROW: &str = "qjit_project_row";
/// Parameters of the row function per output.
const OUT_PARAMS: usize = 5;
/// The row function's first output parameter (after row, n, scratch, scratch length).
const OUT_FIRST: usize = 4;

/// A projection lowered to LLVM IR, not yet optimized.
pub struct ProjectModule<'ctx> {
    pub module: Module<'ctx>,
    /// The columns the kernel reads, in the order of its `cols` argument.
    pub columns: Vec<ColumnSlot>,
    pub errors: Vec<ErrorSite>,
    /// The scratch bytes a row needs (strings built by `UPPER`, `||`…).
    pub scratch: ScratchNeed,
    /// The constants the kernel takes as parameters.
    pub params: super::Params,
}

/// Whether a kernel can write results of type `ty`, or why not. A result of type `NULL` is
/// NULL on every row: the kernel evaluates it (for its errors) and writes nothing.
pub fn writable(ty: SqlType) -> Result<(), CodegenError> {
    if kernel_type(ty) || ty == SqlType::Null {
        Ok(())
    } else {
        not_compiled(format!("writing {ty} results is not compiled yet"))
    }
}

/// Whether `e` lowers (builds the IR of one row in a scratch module of `ctx`, which is then
/// dropped): `Err(NotCompiled)` names the construct that does not.
pub fn lowers(ctx: &Context, e: &Expr) -> Result<(), CodegenError> {
    // A probe lowers nothing from parameters.
    let columns = column_slots(&[e], &Params::default());
    let slot_of: HashMap<usize, usize> = slot_map(&columns);
    let module = ctx.create_module("qjit_probe");
    let b = ctx.create_builder();
    let (_, leading, params) = row_function(
        ctx,
        &module,
        &b,
        "qjit_probe_row",
        ctx.i32_type(),
        &[
            ctx.i64_type().into(),
            ctx.ptr_type(AddressSpace::default()).into(),
            ctx.i64_type().into(),
        ],
        columns.len(),
        &[],
    )?;
    let row = leading[0].into_int_value();
    let mut lowerer = Lowerer::new(ctx, &module, &b, row, params, &columns, slot_of)?;
    lowerer.allow_fallback(leading[1].into_pointer_value(), leading[2].into_int_value());
    lowerer.lower(e).map(|_| ())
}

/// Lowers `filter` and `outputs` (each of a [`writable`] type) to a module with the entry
/// [`PROJECT_ENTRY_NAME`].
pub fn compile_project<'ctx>(
    ctx: &'ctx Context,
    filter: Option<&Expr>,
    outputs: &[Expr],
    cpu: &str,
    features: &str,
) -> Result<ProjectModule<'ctx>, CodegenError> {
    for e in outputs {
        writable(e.ty())?;
    }
    let all: Vec<&Expr> = filter.into_iter().chain(outputs.iter()).collect();
    let (kernel_params, columns) = super::kernel_inputs(&all);
    let slot_of: HashMap<usize, usize> = slot_map(&columns);
    let module = ctx.create_module("qjit_project");
    let b = ctx.create_builder();
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let attrs = target_attributes(ctx, cpu, features);

    let where_ = where_row(
        ctx,
        &module,
        &b,
        filter,
        &columns,
        &kernel_params,
        &attrs,
        true,
    )?;
    let (filter_fn, rank) = (where_.function, where_.last_rank);
    let (mut errors, mut scratch) = (where_.errors, where_.scratch);

    // The row function: (row, n, scratch, scratch length, per output: values, validity,
    // offsets, used bytes (a pointer), capacity) → error code.
    let mut leading: Vec<BasicMetadataTypeEnum> =
        vec![i64t.into(), i64t.into(), ptr.into(), i64t.into()];
    for _ in outputs {
        leading.extend::<[BasicMetadataTypeEnum; 5]>([
            ptr.into(),
            ptr.into(),
            ptr.into(),
            ptr.into(),
            i64t.into(),
        ]);
    }
    let (row_fn, lead, params) = row_function(
        ctx,
        &module,
        &b,
        PROJECT_ROW,
        i32t,
        &leading,
        columns.len(),
        &attrs,
    )?;
    {
        let row = lead[0].into_int_value();
        let n = lead[1].into_int_value();
        let mut lowerer = Lowerer::new(ctx, &module, &b, row, params, &columns, slot_of)?;
        lowerer.use_params(&kernel_params)?;
        lowerer.allow_fallback(lead[2].into_pointer_value(), lead[3].into_int_value());
        lowerer.start_after(rank);
        let values = outputs
            .iter()
            .map(|e| lowerer.lower(e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut err = i32t.const_zero();
        for v in &values {
            err = lowerer.first_of(err, v.err)?;
        }
        let failed_bb = ctx.append_basic_block(row_fn, "row_failed");
        let ok_bb = ctx.append_basic_block(row_fn, "row_ok");
        let any = b.build_int_compare(IntPredicate::NE, err, i32t.const_zero(), "row_err")?;
        b.build_conditional_branch(any, failed_bb, ok_bb)?;
        b.position_at_end(failed_bb);
        b.build_return(Some(&err))?;
        b.position_at_end(ok_bb);
        let word = b.build_right_shift(n, i64t.const_int(6, false), false, "out_word")?;
        let shift = b.build_and(n, i64t.const_int(63, false), "out_bit")?;
        let set_bit =
            |words: PointerValue<'ctx>, bit: IntValue<'ctx>| -> Result<(), CodegenError> {
                // SAFETY (of the generated code): bitmaps have a bit per row of the batch.
                let p = unsafe { b.build_in_bounds_gep(i64t, words, &[word], "out_word_ptr")? };
                let old = b.build_load(i64t, p, "out_old")?.into_int_value();
                let bit64 = b.build_int_z_extend(bit, i64t, "out_bit64")?;
                let shifted = b.build_left_shift(bit64, shift, "out_shifted")?;
                b.build_store(p, b.build_or(old, shifted, "out_new")?)?;
                Ok(())
            };
        for (k, (e, v)) in outputs.iter().zip(&values).enumerate() {
            let out_values = lead[OUT_FIRST + OUT_PARAMS * k].into_pointer_value();
            let out_validity = lead[OUT_FIRST + 1 + OUT_PARAMS * k].into_pointer_value();
            if e.ty() == SqlType::Null {
                // Its validity bitmap stays zero.
                continue;
            }
            set_bit(out_validity, v.valid)?;
            if e.ty() == SqlType::Utf8 {
                let offsets = lead[OUT_FIRST + 2 + OUT_PARAMS * k].into_pointer_value();
                let used_ptr = lead[OUT_FIRST + 3 + OUT_PARAMS * k].into_pointer_value();
                let capacity = lead[OUT_FIRST + 4 + OUT_PARAMS * k].into_int_value();
                lowerer.write_string(v, out_values, offsets, used_ptr, capacity, n)?;
                continue;
            }
            if e.ty() == SqlType::Boolean {
                let bit = b.build_and(v.valid, v.value.into_int_value(), "out_true")?;
                set_bit(out_values, bit)?;
                continue;
            }
            let t = v.value.get_type();
            let zero = t.const_zero();
            let value = b.build_select(v.valid, v.value, zero, "out_value")?;
            // SAFETY (of the generated code): values buffers have an element per row.
            let p = unsafe { b.build_in_bounds_gep(t, out_values, &[n], "out_ptr")? };
            let store = b.build_store(p, value)?;
            store
                .set_alignment(super::value_alignment(e.ty()))
                .map_err(|e| Error::internal(format!("store alignment: {e}")))?;
        }
        b.build_return(Some(&i32t.const_zero()))?;
        scratch = scratch.plus(lowerer.scratch_need());
        errors.extend(lowerer.into_errors());
    }

    // The entry: u64 qjit_project(cols, len, outs, sel, status, scratch, scratch_len).
    let entry_fn = entry_function(
        ctx,
        &module,
        PROJECT_ENTRY_NAME,
        i64t.fn_type(
            &[
                ptr.into(),
                i64t.into(),
                ptr.into(),
                ptr.into(),
                ptr.into(),
                ptr.into(),
                i64t.into(),
            ],
            false,
        ),
        &attrs,
        &[0, 2, 3, 4],
    );
    build_entry(
        ctx,
        &module,
        &b,
        entry_fn,
        filter_fn,
        row_fn,
        columns.len(),
        outputs.len(),
    )?;
    let mut functions = vec![row_fn, entry_fn];
    functions.extend(filter_fn);
    verify_functions(&module, &functions, "the projection kernel")?;
    Ok(ProjectModule {
        module,
        columns,
        errors,
        scratch,
        params: kernel_params,
    })
}

#[allow(clippy::too_many_arguments)]
fn build_entry<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &inkwell::builder::Builder<'ctx>,
    entry_fn: inkwell::values::FunctionValue<'ctx>,
    filter_fn: Option<inkwell::values::FunctionValue<'ctx>>,
    row_fn: inkwell::values::FunctionValue<'ctx>,
    ncols: usize,
    nout: usize,
) -> Result<(), CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let cols = param(entry_fn, 0)?.into_pointer_value();
    let len = param(entry_fn, 1)?.into_int_value();
    let outs = param(entry_fn, 2)?.into_pointer_value();
    let sel = param(entry_fn, 3)?.into_pointer_value();
    let status = param(entry_fn, 4)?.into_pointer_value();
    let scratch = param(entry_fn, 5)?;
    let scratch_len = param(entry_fn, 6)?;
    let entry = ctx.append_basic_block(entry_fn, "entry");
    b.position_at_end(entry);
    // The row functions' arguments after the row: the scratch area, then the columns.
    let mut args: Vec<BasicMetadataValueEnum> = vec![scratch.into(), scratch_len.into()];
    args.extend(column_args(ctx, module, b, cols, ncols)?);
    // Per output: values, validity, offsets, a counter of string bytes used, capacity.
    let out_ty = ctx.struct_type(&[ptr.into(), ptr.into(), ptr.into(), i64t.into()], false);
    let mut out_ptrs: Vec<BasicMetadataValueEnum> = vec![];
    for k in 0..nout {
        // SAFETY (of the generated code): `outs` has one `OutArg` per output.
        let o = unsafe {
            b.build_in_bounds_gep(out_ty, outs, &[i64t.const_int(k as u64, false)], "out_arg")?
        };
        let field = |n: u32, t: inkwell::types::BasicTypeEnum<'ctx>| -> Result<_, CodegenError> {
            let p = b.build_struct_gep(out_ty, o, n, "out_field")?;
            Ok(b.build_load(t, p, "out")?)
        };
        let used = b.build_alloca(i64t, "used")?;
        b.build_store(used, i64t.const_zero())?;
        out_ptrs.extend::<[BasicMetadataValueEnum; 5]>([
            field(0, ptr.into())?.into(),
            field(1, ptr.into())?.into(),
            field(2, ptr.into())?.into(),
            used.into(),
            field(3, i64t.into())?.into(),
        ]);
    }

    let fail = FailExit::new(ctx, b, entry_fn)?;
    let (code, row) = fail.values();
    store_status(ctx, b, status, code, row)?;
    b.build_return(Some(&i64t.const_zero()))?;
    b.position_at_end(entry);

    // Every word: its selection, then the projection of each selected row into output `n`.
    let word = Words::begin(ctx, b, entry_fn, len, &[("n_word", i64t.const_zero())])?;
    let selected = selection_word(
        ctx,
        b,
        entry_fn,
        filter_fn,
        &args,
        (word.base, word.count, word.full),
        &fail,
        "word",
    )?;
    // SAFETY (of the generated code): `sel` has a word per 64 rows.
    let sp = unsafe { b.build_in_bounds_gep(i64t, sel, &[word.index], "sel_ptr")? };
    b.build_store(sp, selected)?;
    let n_word = word.carried[0];
    let after = for_each_selected(
        ctx,
        module,
        b,
        entry_fn,
        (selected, word.base),
        &[("n", n_word)],
        &fail,
        "word",
        |i, n| {
            let mut call_args: Vec<BasicMetadataValueEnum> =
                vec![i.into(), n[0].into(), args[0], args[1]];
            call_args.extend(out_ptrs.iter().copied());
            call_args.extend(args[2..].iter().copied());
            let code = b
                .build_call(row_fn, &call_args, "project")?
                .try_as_basic_value()
                .basic()
                .ok_or_else(|| Error::internal("the row function returns nothing"))?
                .into_int_value();
            let n2 = b.build_int_add(n[0], i64t.const_int(1, false), "n2")?;
            Ok((code, vec![n2]))
        },
    )?;
    word.end(ctx, b, &after)?;
    b.build_return(Some(&n_word))?;
    Ok(())
}
