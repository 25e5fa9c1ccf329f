//! The aggregation kernel: `WHERE`, group keys and aggregate arguments of a query lowered into
//! one loop that updates accumulators, with nothing materialized in between.
//!
//! ```text
//! qjit_aggregate(cols, len, state, status):
//!   for each word of 64 rows:
//!     word = selection bits of the filter row function (vectorizable, as in the filter kernel)
//!       (with columns only selected rows read: computed 8 words ahead, and a sparse word's
//!        rows of those columns prefetched meanwhile; see `prefetch`)
//!     for each set bit i (count trailing zeros):
//!       code = qjit_update_row(i, …, scratch of row i): keys, arguments (may hand back)
//!                                      → group id (hash table, insert if new)
//!                                      → accumulators[group] (the first 16 groups' counts and
//!                                        exact sums in a table on the stack, see `local`)
//!       if code: status = (code, i); write back what a hand-back keeps (below); return
//!     (without keys, a full word with many selected rows: the `dense` loop instead; with
//!      keys of short strings, such a word finds its group ids first, `grouped`, computes
//!      its decimal arguments in vector lanes, `lanes`, and sums its rows a group at a time,
//!      `sums`)
//!   without GROUP BY: merge the batch's accumulators (kept in registers) into group 0
//! ```
//!
//! In: the plan's filter, keys and aggregates (over the scan batch). Out: an LLVM module with the
//! entry [`AGGREGATE_ENTRY_NAME`] (an [`crate::codegen::AggregateFn`]) and the [`AggregateLayout`] of the
//! state it updates. Errors of keys and arguments count only for selected rows, as in the
//! interpreter, which filters first. A non-zero status means "this batch fails": the executor
//! asks the interpreter for the exact error (it evaluates in a different order). An exact sum
//! does not fail here: it wraps around and counts its wraps ([`SlotKind::ExactSum`]), and fails
//! at the end only if its exact value does not fit, as the interpreter's. Accumulation follows the
//! interpreter's order exactly, so float sums are identical: rows in order, and without keys a
//! per-batch partial sum added to the total once.
//!
//! Keys and arguments may hand a row back ([`crate::codegen::STATUS_FALLBACK`]: `UPPER` of non-ASCII
//! text, a decimal not exact as a float, decimal arithmetic beyond 18 digits, …). A row's codes are all known before it touches the
//! state, so at a hand-back at row `i` the state holds the selected rows before `i`, folded as
//! the interpreter folds them, and the interpreter can carry on from row `i`:
//!
//! - with keys, accumulators are updated in memory row by row: the kernel writes back the
//!   number of groups and the length of the string log, as it does at the end, and reports
//!   `(STATUS_FALLBACK, i)`;
//! - without keys, the batch's partial accumulators are dropped (the interpreter adds a whole
//!   batch's partial sum to the total at once): the state is as before the batch, and the kernel
//!   reports `(STATUS_FALLBACK, 0)`.
//!
//! Decimal arguments (Q1's `price * (1 - discount) * (1 + tax)`) are computed in `i64`, all
//! their checks folded into one flag; a row that needs more digits is handed back
//! (`lower::narrow`, [`lower_args_speculatively`]). An exact sum of 64-bit values (such
//! arguments, integers, decimals of up to 18 digits) adds to its `i128` without a wrap
//! check, which it cannot need. Group keys with strings are found by the runtime's lookup
//! (`qjit_rt_group_find`), keys of integer words by inline code; both after a per-batch cache of
//! recent keys, and integer keys first in a direct index of their small range
//! ([`KeyLayout::direct_index`], `lower::group`).
//!
//! Strings the update row function builds (`UPPER`, `||`, casts to `VARCHAR`) go to the row's
//! own part of a scratch area that lasts for the batch ([`crate::codegen::AggArgs::scratch`]): a new
//! group's key or a `MIN`/`MAX` string may point there until the executor copies it. A kernel
//! without such constructs has neither the scratch nor the hand-back code.
//!
//! Its parts: `layout` (the state's slots and vectors, [`AggregateLayout`]), this module (the
//! update row function: keys, arguments, accumulators), `entry` (the entry function: the
//! word loop, the state it keeps in registers, the hand-back report),
//! `prefetch` (the columns only selected rows read, fetched at the selected rows ahead of their
//! updates), `local` (the table of the first groups' counts and exact sums on the stack,
//! flushed into the state wherever the group count is written back), `dense` (without
//! keys, words that select many rows evaluated branch-free over all 64 rows, vectorized),
//! `grouped` (with keys of `Utf8View` columns, a word's group ids found a group at a time),
//! `lanes` (with `grouped`, a word's decimal arguments computed for all its rows in
//! vector lanes before its updates) and `sums` (with `grouped`, counts and exact sums of a
//! group's rows added in the pass that finds them, when no row of the word can fail).

mod dense;
mod entry;
mod grouped;
mod lanes;
mod layout;
mod local;
mod prefetch;
mod sums;

pub use layout::{
    aggregate_inputs, layout, AggregateLayout, KeyKind, KeyLayout, SlotKind, StateSlot, VectorType,
    DIRECT_KEY_WORDS,
};

use std::collections::HashMap;

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use crate::codegen::attributes::target_attributes;
use crate::codegen::lower::{has_narrow_form, Lowered, Lowerer, NarrowLowered, TableParams};
use crate::codegen::skeleton::{
    entry_function, row_function, slot_map, verify_functions, where_row,
};
use crate::codegen::{CodegenError, ColumnSlot, ErrorSite, ScratchNeed, STATUS_FALLBACK};
use crate::error::Error;
use crate::ir::{AggregateCall, Expr, SqlType};
use dense::DensePlan;
use entry::build_entry;
use grouped::GroupedPlan;
use lanes::LanesPlan;
use local::LocalTable;
use sums::SumsPlan;

/// The symbol of an aggregation kernel's entry point.
pub const AGGREGATE_ENTRY_NAME: &str = "qjit_aggregate";
const UPDATE_ROW: &str = "qjit_update_row";
/// Leading parameters of the update row function: row, groups, slots, mask, hashes, keys,
/// string log, string log length, the last key, the row's scratch area and its size, the
/// direct index and its keys' ranges, the table of the first groups (`local`), and the row's
/// group id when the entry found it first (`grouped`; else unused), the row's entry of the
/// word's arguments computed in lanes and whether to read them there (`lanes`; else unused).
const UPDATE_LEADING: usize = 17;
/// The symbol of the function that finds a row's group (with `grouped` only).
const GROUP_ROW: &str = "qjit_group_row";

/// An aggregation lowered to LLVM IR, not yet optimized.
pub struct AggregateModule<'ctx> {
    pub module: Module<'ctx>,
    /// The columns the kernel reads, in the order of its `cols` argument.
    pub columns: Vec<ColumnSlot>,
    /// The operations that can fail (filter, keys, arguments).
    pub errors: Vec<ErrorSite>,
    pub layout: AggregateLayout,
    /// The scratch bytes a row needs ([`crate::codegen::AggArgs::scratch`]).
    pub scratch: ScratchNeed,
    /// The constants the kernel takes as parameters.
    pub params: crate::codegen::Params,
}

/// Lowers a filtered aggregation to a module with the entry [`AGGREGATE_ENTRY_NAME`]. `filter`
/// is the `WHERE` predicate, `keys` the group keys and `aggregates` the aggregate calls, all over
/// the scan batch.
pub fn compile_aggregate<'ctx>(
    ctx: &'ctx Context,
    filter: Option<&Expr>,
    keys: &[Expr],
    aggregates: &[AggregateCall],
    cpu: &str,
    features: &str,
) -> Result<AggregateModule<'ctx>, CodegenError> {
    let layout = layout(keys, aggregates)?;
    // The distinct arguments, in the interpreter's evaluation order.
    let args: Vec<&Expr> = layout.args.iter().collect();
    let order = layout.order.clone();

    let (kernel_params, columns) =
        crate::codegen::kernel_inputs(&aggregate_inputs(filter, keys, &layout));
    let slot_of: HashMap<usize, usize> = slot_map(&columns);
    let module = ctx.create_module("qjit_aggregate");
    let b = ctx.create_builder();
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let attrs = target_attributes(ctx, cpu, features);

    // The filter row function: (code << 1) | selected.
    let where_ = where_row(
        ctx,
        &module,
        &b,
        filter,
        &columns,
        &kernel_params,
        &attrs,
        false,
    )?;
    let (filter_fn, rank, mut errors) = (where_.function, where_.last_rank, where_.errors);

    // The update row function: an error code, 0 for none.
    let mut leading: Vec<BasicMetadataTypeEnum> = vec![
        i64t.into(),
        ptr.into(),
        ptr.into(),
        i64t.into(),
        ptr.into(),
        ptr.into(),
        ptr.into(),
        ptr.into(),
        ptr.into(),
        ptr.into(),
        i64t.into(),
        ptr.into(),
        ptr.into(),
        ptr.into(),
        i64t.into(),
        ptr.into(),
        i64t.into(),
    ];
    leading.extend(std::iter::repeat_n(
        BasicMetadataTypeEnum::from(ptr),
        layout.vectors.len(),
    ));
    // Keys of short strings: a word finds its rows' groups before their updates (`grouped`).
    let grouped = GroupedPlan::of(&layout, keys);
    let speculating = speculates(&args);
    // The arguments a word that finds its groups first computes in vector lanes (`lanes`).
    let lanes = match grouped {
        Some(_) => LanesPlan::of(&args, &order, speculating),
        None => None,
    };
    // The update row function; with `lanes`, the planned arguments come from the word's
    // arrays where the row says so (see `lanes`).
    let from_lanes = lanes.as_ref();
    let (update_fn, lead, params) = row_function(
        ctx,
        &module,
        &b,
        UPDATE_ROW,
        i32t,
        &leading,
        columns.len(),
        &attrs,
    )?;
    let (scratch, falls_back, local_table) = {
        let row = lead[0].into_int_value();
        let table = table_params(&lead);
        let log = (lead[6].into_pointer_value(), lead[7].into_pointer_value());
        let vectors: Vec<PointerValue> = lead[UPDATE_LEADING..]
            .iter()
            .map(|v| v.into_pointer_value())
            .collect();
        let mut lowerer = Lowerer::new(ctx, &module, &b, row, params, &columns, slot_of.clone())?;
        lowerer.use_params(&kernel_params)?;
        lowerer.allow_fallback(lead[9].into_pointer_value(), lead[10].into_int_value());
        lowerer.start_after(rank);
        // Keys read as raw views are lowered only where the group is not the previous row's.
        let view_key = |k: usize| {
            layout
                .keys
                .as_ref()
                .is_some_and(|l| l.kinds[k] == KeyKind::Utf8View)
        };
        let key_values: Vec<Option<Lowered>> = keys
            .iter()
            .enumerate()
            .map(|(k, e)| {
                if view_key(k) {
                    Ok(None)
                } else {
                    lowerer.lower(e).map(Some)
                }
            })
            .collect::<Result<_, _>>()?;
        let mut arg_values: Vec<Option<Lowered>> = (0..args.len()).map(|_| None).collect();
        let mut err = i32t.const_zero();
        if speculating {
            let from_lanes = from_lanes.map(|plan| {
                (
                    plan,
                    lead[15].into_pointer_value(),
                    lead[16].into_int_value(),
                )
            });
            err = lower_args_speculatively(
                ctx,
                &b,
                &mut lowerer,
                (&args, &order, from_lanes),
                &mut arg_values,
            )?;
        } else {
            for &i in &order {
                arg_values[i] = Some(lowerer.lower(args[i])?);
            }
        }
        for l in key_values
            .iter()
            .flatten()
            .chain(arg_values.iter().flatten())
        {
            err = lowerer.first_of(err, l.err)?;
        }
        let update_bb = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("builder lost its block"))?;
        let failed_bb = ctx.append_basic_block(update_fn, "row_failed");
        let ok_bb = ctx.append_basic_block(update_fn, "row_ok");
        let any = b.build_int_compare(IntPredicate::NE, err, i32t.const_zero(), "row_err")?;
        b.build_conditional_branch(any, failed_bb, ok_bb)?;
        b.position_at_end(failed_bb);
        b.build_return(Some(&err))?;
        let _ = update_bb;
        b.position_at_end(ok_bb);
        let group = match &layout.keys {
            None => i64t.const_zero(),
            Some(_) if grouped.is_some() => lead[14].into_int_value(),
            Some(key_layout) => {
                let keyed: Vec<(&Expr, Option<&Lowered>)> = keys
                    .iter()
                    .zip(&key_values)
                    .map(|(e, l)| (e, l.as_ref()))
                    .collect();
                lowerer.group_id(&keyed, key_layout, &table)?
            }
        };
        // Each slot's argument, its type and whether it has at most 64 bits: a narrow
        // form's, or of a type that has no more (a decimal of up to 18 digits).
        let slot_args = layout
            .slots
            .iter()
            .map(|slot| match slot.arg {
                Some(i) => {
                    let l = arg_values[i]
                        .as_ref()
                        .ok_or_else(|| Error::internal("an argument was not lowered"))?;
                    let ty = args[i].ty();
                    let leaf = matches!(args[i], Expr::Column(_) | Expr::Literal(_));
                    Ok(Some((l, ty, (speculating && !leaf) || fits_word(ty))))
                }
                None => Ok(None),
            })
            .collect::<Result<Vec<_>, CodegenError>>()?;
        // Slots whose values the table's `i64` words take as they are: signed 64 bits at most
        // (a `UBIGINT` may not fit).
        let word: Vec<bool> = slot_args
            .iter()
            .map(|a| a.is_none_or(|(_, ty, w)| w && ty != SqlType::UInt64))
            .collect();
        let local_table = LocalTable::plan(&layout, &word);
        // Each slot once: with a table of the first groups, its slots there for those groups
        // (one branch on the group id), the state's vectors for the others.
        let update_all = |lowerer: &mut Lowerer<'_, 'ctx>,
                          record: Option<PointerValue<'ctx>>|
         -> Result<(), CodegenError> {
            for (n, slot) in layout.slots.iter().enumerate() {
                let arg = slot_args[n];
                let here = local_table.as_ref().and_then(|t| t.slot(n));
                if let (Some(record), Some(here)) = (record, here) {
                    let p = here.at(ctx, &b, record)?;
                    let total = vectors[slot.first_vector];
                    lowerer.accumulate_local(slot.kind, arg, p, (total, group))?;
                    continue;
                }
                let count = slot.kind.vectors().len();
                let at = slot.first_vector;
                lowerer.accumulate(
                    slot.kind,
                    arg,
                    &vectors[at..at + count],
                    group,
                    (log.0, log.1, n as u64),
                )?;
            }
            Ok(())
        };
        if let Some(t) = &local_table {
            let in_table = b.build_int_compare(
                IntPredicate::ULT,
                group,
                i64t.const_int(t.groups, false),
                "in_table",
            )?;
            let table_bb = ctx.append_basic_block(update_fn, "update_table");
            let state_bb = ctx.append_basic_block(update_fn, "update_state");
            b.build_conditional_branch(in_table, table_bb, state_bb)?;
            b.position_at_end(table_bb);
            let at = b.build_int_mul(group, i64t.const_int(t.stride, false), "record_at")?;
            // SAFETY (of the generated code): `group` < `t.groups`, the table's records.
            let record = unsafe {
                b.build_in_bounds_gep(
                    ctx.i8_type(),
                    lead[13].into_pointer_value(),
                    &[at],
                    "record",
                )?
            };
            update_all(&mut lowerer, Some(record))?;
            b.build_return(Some(&i32t.const_zero()))?;
            b.position_at_end(state_bb);
        }
        update_all(&mut lowerer, None)?;
        b.build_return(Some(&i32t.const_zero()))?;
        let handed_back = (lowerer.scratch_need(), lowerer.may_fall_back());
        errors.extend(lowerer.into_errors());
        (handed_back.0, handed_back.1, local_table)
    };

    // With keys of short strings: the row's group alone, and the rows' key codes.
    let grouped = match (&grouped, &layout.keys) {
        (Some(plan), Some(key_layout)) => {
            let (group_fn, lead, params) = row_function(
                ctx,
                &module,
                &b,
                GROUP_ROW,
                i64t,
                &leading,
                columns.len(),
                &attrs,
            )?;
            let table = table_params(&lead);
            let row = lead[0].into_int_value();
            let mut lowerer =
                Lowerer::new(ctx, &module, &b, row, params, &columns, slot_of.clone())?;
            lowerer.use_params(&kernel_params)?;
            let keyed: Vec<(&Expr, Option<&Lowered>)> = keys.iter().map(|e| (e, None)).collect();
            let group = lowerer.group_id(&keyed, key_layout, &table)?;
            b.build_return(Some(&group))?;
            let code_fn = grouped::key_code_row(
                ctx,
                &module,
                &b,
                plan,
                (&columns, slot_of.clone(), &kernel_params),
                &attrs,
            )?;
            Some((code_fn, group_fn))
        }
        _ => None,
    };
    // Their passes' sums of the rows they find (`sums`), whose values the lanes then bound.
    let sums = match &grouped {
        Some(_) => SumsPlan::of(&layout, &args, lanes.as_ref(), local_table.as_ref()),
        None => None,
    };
    let sums = match sums {
        Some(plan) => {
            let f = sums::sums_row(
                ctx,
                &module,
                &b,
                &plan,
                &args,
                lanes.as_ref(),
                (&columns, slot_of.clone(), &kernel_params),
                &attrs,
            )?;
            Some((f, plan))
        }
        None => None,
    };
    // Their arguments in lanes: the row function that computes them for a word.
    let lanes = match &lanes {
        Some(plan) => {
            let f = lanes::lanes_row(
                ctx,
                &module,
                &b,
                plan,
                sums.as_ref().map(|_| sums::BOUND_BITS),
                &args,
                (&columns, slot_of.clone(), &kernel_params),
                &attrs,
            )?;
            Some((f, plan))
        }
        None => None,
    };

    // Without keys, words that select many rows may run branch-free (see `dense`).
    let dense = match DensePlan::of(&layout, &args) {
        Some(plan) => {
            let f = dense::dense_row(
                ctx,
                &module,
                &b,
                &plan,
                &layout,
                &args,
                (&columns, slot_of, &kernel_params),
                &attrs,
            )?;
            Some((f, plan))
        }
        None => None,
    };

    // The entry function.
    let entry_fn = entry_function(
        ctx,
        &module,
        AGGREGATE_ENTRY_NAME,
        ctx.void_type()
            .fn_type(&[ptr.into(), i64t.into(), ptr.into(), ptr.into()], false),
        &attrs,
        &[0, 2, 3],
    );
    let sparse = prefetch::sparse_columns(filter, &columns);
    build_entry(
        ctx,
        &module,
        &b,
        entry_fn,
        filter_fn,
        update_fn,
        columns.len(),
        &layout,
        (!scratch.is_zero(), falls_back),
        &sparse,
        local_table.as_ref(),
        dense.as_ref().map(|(f, plan)| (*f, plan)),
        grouped,
        lanes,
        sums.as_ref().map(|(f, plan)| (*f, plan)),
    )?;

    let mut functions = vec![update_fn, entry_fn];
    functions.extend(grouped.iter().flat_map(|(c, g)| [*c, *g]));
    functions.extend(lanes.iter().map(|(l, _)| *l));
    functions.extend(dense.as_ref().map(|(f, _)| *f));
    functions.extend(filter_fn);
    verify_functions(&module, &functions, "the aggregation kernel")?;
    Ok(AggregateModule {
        module,
        columns,
        errors,
        layout,
        scratch,
        params: kernel_params,
    })
}

/// The hash table's parameters among the leading ones of the update and group row functions
/// (see [`UPDATE_LEADING`]).
fn table_params<'ctx>(lead: &[inkwell::values::BasicValueEnum<'ctx>]) -> TableParams<'ctx> {
    TableParams {
        groups: lead[1].into_pointer_value(),
        slots: lead[2].into_pointer_value(),
        mask: lead[3].into_int_value(),
        hashes: lead[4].into_pointer_value(),
        keys: lead[5].into_pointer_value(),
        last: lead[8].into_pointer_value(),
        direct: lead[11].into_pointer_value(),
        direct_keys: lead[12].into_pointer_value(),
    }
}

/// What a row function of the kernel reads: the kernel's column slots, where each column is
/// among them, and the kernel's parameters.
type KernelColumns<'p> = (
    &'p [ColumnSlot],
    HashMap<usize, usize>,
    &'p crate::codegen::Params,
);

/// Declares the row function `name` (returning `ret`; its `leading` parameters, the first of
/// them the row, then the columns) and a lowerer for its row, with the builder in its body.
/// Returns the function, its leading parameters and the lowerer.
#[allow(clippy::too_many_arguments)]
fn row_lowerer<'a, 'ctx>(
    ctx: &'ctx Context,
    module: &'a Module<'ctx>,
    b: &'a inkwell::builder::Builder<'ctx>,
    name: &str,
    ret: impl inkwell::types::BasicType<'ctx>,
    leading: &[BasicMetadataTypeEnum<'ctx>],
    (columns, slot_of, params): KernelColumns<'a>,
    attrs: &[inkwell::attributes::Attribute],
) -> Result<RowLowerer<'a, 'ctx>, CodegenError> {
    let (f, lead, cols) = row_function(ctx, module, b, name, ret, leading, columns.len(), attrs)?;
    let row = lead
        .first()
        .ok_or_else(|| Error::internal("a row function without its row"))?
        .into_int_value();
    let mut lowerer = Lowerer::new(ctx, module, b, row, cols, columns, slot_of)?;
    lowerer.use_params(params)?;
    Ok((f, lead, lowerer))
}

/// A row function, its leading parameters and the lowerer of its row ([`row_lowerer`]).
type RowLowerer<'a, 'ctx> = (
    inkwell::values::FunctionValue<'ctx>,
    Vec<inkwell::values::BasicValueEnum<'ctx>>,
    Lowerer<'a, 'ctx>,
);

/// Whether the update row function evaluates its arguments' narrow forms first: every
/// argument is a column, a literal or has a narrow form, and at least one is arithmetic.
fn speculates(args: &[&Expr]) -> bool {
    let leaf = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(_));
    args.iter().all(|a| leaf(a) || has_narrow_form(a))
        && args.iter().any(|a| !leaf(a) && has_narrow_form(a))
}

/// Whether every value of `ty` fits 64 bits (signed or not).
fn fits_word(ty: SqlType) -> bool {
    match ty {
        SqlType::Decimal { precision, .. } => precision <= 18,
        t => t.is_signed_integer() || t.is_unsigned_integer() || t == SqlType::Boolean,
    }
}

/// A row's view of its word's arguments in lanes: the plan, the row's entry of the word's
/// array, and whether to read it there (`i64`, 0: compute).
type RowLanes<'p, 'ctx> = (&'p LanesPlan, PointerValue<'ctx>, IntValue<'ctx>);

/// Lowers the arguments (each a column, a literal or with a narrow form, see [`speculates`]) as
/// their narrow forms, and hands the row back to the interpreter where one is not ok:
///
/// ```text
/// columns and literals
/// (with `lanes`: the validity of the planned arguments' columns;
///  br lanes_on, args_from_lanes, args_compute; args_from_lanes: the word's array's values)
/// args_compute: narrow forms of the others → ok; br ok, args_ok, args_hand_back
/// args_hand_back: ret STATUS_FALLBACK    ; rows with values or results beyond 18 digits
/// args_ok:        the sign-extended narrow values and their validity
/// (with `lanes`: args_joined, the values and validity of the path the row took)
/// ```
///
/// The interpreter then computes what the general code would (it raises the same errors), from
/// the state of the rows before: real data seldom needs it, and the general code (`i256`
/// arithmetic, an error code per operation) was a fifth of TPC-H Q1's compile time. The row's
/// code is [`STATUS_FALLBACK`] there whatever its keys' errors, as every combination of codes
/// gives it. Fills `values` (no error sites and no ranks, so the order does not matter) and
/// returns the arguments' error code on the rows that go on: 0. `lanes`: the word's plan, the
/// row's entry of its array, and whether to read it there (`i64`, 0: compute).
fn lower_args_speculatively<'ctx>(
    ctx: &'ctx Context,
    b: &inkwell::builder::Builder<'ctx>,
    lowerer: &mut Lowerer<'_, 'ctx>,
    (args, order, lanes): (&[&Expr], &[usize], Option<RowLanes<'_, 'ctx>>),
    values: &mut [Option<Lowered<'ctx>>],
) -> Result<IntValue<'ctx>, CodegenError> {
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let i128t = ctx.i128_type();
    let lost = || Error::internal("the builder lost its block");
    let leaf = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(_));
    // Columns and literals: no error and no rank, the same in both paths.
    for &i in order {
        if leaf(args[i]) {
            values[i] = Some(lowerer.lower(args[i])?);
        }
    }
    let function = b
        .get_insert_block()
        .and_then(|bb| bb.get_parent())
        .ok_or_else(lost)?;
    // From the lanes: each planned argument's value from the word's array, its validity that
    // of its columns (a narrow form is NULL where one of them is), read before the branch so
    // that the computing path reuses them.
    let from_lanes = match lanes {
        Some((plan, lane, on)) => {
            let mut valid = vec![];
            for &i in &plan.narrow {
                let mut v = ctx.bool_type().const_int(1, false);
                for column in narrow_columns(args[i]) {
                    v = b.build_and(v, lowerer.lower(column)?.valid, "lane_valid")?;
                }
                valid.push((i, v));
            }
            let computing = ctx.append_basic_block(function, "args_compute");
            let read = ctx.append_basic_block(function, "args_from_lanes");
            let off = b.build_int_compare(IntPredicate::EQ, on, i64t.const_zero(), "no_lanes")?;
            b.build_conditional_branch(off, computing, read)?;
            b.position_at_end(read);
            let mut read_values = vec![];
            for (k, (i, valid)) in valid.into_iter().enumerate() {
                let at = i64t.const_int(64 * k as u64, false);
                // SAFETY (of the generated code): the word's array has 64 entries per
                // argument; `lane` points at the row's.
                let p = unsafe { b.build_in_bounds_gep(i64t, lane, &[at], "lane_value_at")? };
                let v = b.build_load(i64t, p, "lane_value")?.into_int_value();
                read_values.push((i, b.build_int_s_extend(v, i128t, "lane_wide")?, valid));
            }
            let read_end = b.get_insert_block().ok_or_else(lost)?;
            b.position_at_end(computing);
            Some((read_end, read_values))
        }
        None => None,
    };
    let mut narrow: Vec<(usize, NarrowLowered<'ctx>, IntValue<'ctx>)> = vec![];
    let mut all_ok = ctx.bool_type().const_int(1, false);
    for &i in order {
        if !leaf(args[i]) {
            let n = lowerer.lower_narrow(args[i])?;
            all_ok = b.build_and(all_ok, n.ok, "narrow_ok")?;
            let wide = b.build_int_s_extend(n.value, i128t, "narrow_value")?;
            narrow.push((i, n, wide));
        }
    }
    let back_bb = ctx.append_basic_block(function, "args_hand_back");
    let ok_bb = ctx.append_basic_block(function, "args_ok");
    b.build_conditional_branch(all_ok, ok_bb, back_bb)?;
    lowerer.require_fallback("decimal arithmetic beyond 18 digits")?;
    b.position_at_end(back_bb);
    b.build_return(Some(&i32t.const_int(STATUS_FALLBACK, false)))?;

    b.position_at_end(ok_bb);
    let Some((read_end, read_values)) = from_lanes else {
        for (i, n, wide) in narrow {
            values[i] = Some(Lowered {
                value: wide.into(),
                valid: n.valid,
                err: i32t.const_zero(),
            });
        }
        return Ok(i32t.const_zero());
    };
    // Both paths join: each argument's value and validity from the one the row took.
    let join = ctx.append_basic_block(function, "args_joined");
    b.build_unconditional_branch(join)?;
    b.position_at_end(read_end);
    b.build_unconditional_branch(join)?;
    b.position_at_end(join);
    for (i, n, wide) in narrow {
        let (_, lane_value, lane_valid) = read_values
            .iter()
            .find(|(k, ..)| *k == i)
            .copied()
            .ok_or_else(|| Error::internal("an argument without its lane"))?;
        let value = b.build_phi(i128t, "arg_value")?;
        value.add_incoming(&[(&wide, ok_bb), (&lane_value, read_end)]);
        let valid = b.build_phi(ctx.bool_type(), "arg_valid")?;
        valid.add_incoming(&[(&n.valid, ok_bb), (&lane_valid, read_end)]);
        values[i] = Some(Lowered {
            value: value.as_basic_value(),
            valid: valid.as_basic_value().into_int_value(),
            err: i32t.const_zero(),
        });
    }
    Ok(i32t.const_zero())
}

/// The columns an expression with a narrow form reads (its value is NULL where one is).
pub(super) fn narrow_columns(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Column(_) => vec![e],
        Expr::Binary { left, right, .. } => {
            let mut c = narrow_columns(left);
            c.extend(narrow_columns(right));
            c
        }
        Expr::Unary { arg, .. } | Expr::Cast { arg, .. } => narrow_columns(arg),
        _ => vec![],
    }
}
