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

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue};
use inkwell::{AddressSpace, IntPredicate};

use super::abi::ScratchNeed;
use super::attributes::target_attributes;
use super::lower::Params;
use super::skeleton::{
    call_filter_row, column_args, entry_function, filter_row, filter_word, param, store_status,
    verify_functions, FilterRow,
};
use super::{CodegenError, ColumnSlot, ErrorSite, STATUS_LOST_ERROR};
use crate::error::Error;
use crate::ir::{Expr, SqlType};

/// The symbol of a filter kernel's entry point.
pub const ENTRY_NAME: &str = "qjit_filter";
const ROW_NAME: &str = "qjit_filter_row";

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
    let entry_fn = entry_function(
        ctx,
        &module,
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
        &target_attrs,
        &[0, 2, 3, 4],
    );
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
    store_status(ctx, b, status, code64, row2)?;
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
