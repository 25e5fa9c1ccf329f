//! The aggregation kernel: `WHERE`, group keys and aggregate arguments of a query lowered into
//! one loop that updates accumulators, with nothing materialized in between.
//!
//! ```text
//! qjit_aggregate(cols, len, state, status):
//!   for each word of 64 rows:
//!     word = selection bits of the filter row function (vectorizable, as in the filter kernel)
//!     for each set bit i (count trailing zeros):
//!       code = qjit_update_row(i, …, scratch of row i): keys, arguments (may hand back)
//!                                      → group id (hash table, insert if new)
//!                                      → accumulators[group]
//!       if code: status = (code, i); write back what a hand-back keeps (below); return
//!   without GROUP BY: merge the batch's accumulators (kept in registers) into group 0
//! ```
//!
//! In: the plan's filter, keys and aggregates (over the scan batch). Out: an LLVM module with the
//! entry [`AGGREGATE_ENTRY_NAME`] (an [`super::AggregateFn`]) and the [`AggregateLayout`] of the
//! state it updates. Errors of keys and arguments count only for selected rows, as in the
//! interpreter, which filters first. A non-zero status means "this batch fails": the executor
//! asks the interpreter for the exact error (it evaluates in a different order), or, for
//! [`super::STATUS_SUM_OVERFLOW`], reports the overflowing sum. Accumulation follows the
//! interpreter's order exactly, so float sums are identical: rows in order, and without keys a
//! per-batch partial sum added to the total once.
//!
//! Keys and arguments may hand a row back ([`super::STATUS_FALLBACK`]: `UPPER` of non-ASCII
//! text, a decimal not exact as a float, decimal arithmetic beyond 18 digits, …). A row's codes are all known before it touches the
//! state, so at a hand-back at row `i` the state holds the selected rows before `i`, folded as
//! the interpreter folds them, and the interpreter can carry on from row `i`:
//!
//! - with keys, accumulators are updated in memory row by row: the kernel writes back the
//!   number of groups and the length of the string log, as it does at the end, and reports
//!   `(STATUS_FALLBACK, i)`; or, if an exact sum overflowed before `i`, the overflow;
//! - without keys, the batch's partial accumulators are dropped (the interpreter adds a whole
//!   batch's partial sum to the total at once): the state is as before the batch, and the kernel
//!   reports `(STATUS_FALLBACK, 0)`.
//!
//! Decimal arguments (Q1's `price * (1 - discount) * (1 + tax)`) are computed in `i64`, all
//! their checks folded into one flag; a row that needs more digits is handed back
//! (`lower::narrow`, [`lower_args_speculatively`]). An exact sum of 64-bit values (such
//! arguments, integers, decimals of up to 18 digits) adds to its `i128` without an overflow
//! check, which it cannot need. Group keys with strings are found by the runtime's lookup
//! (`qjit_rt_group_find`), keys of integer words by inline code; both after a per-batch cache of
//! recent keys (`lower::group`).
//!
//! Strings the update row function builds (`UPPER`, `||`, casts to `VARCHAR`) go to the row's
//! own part of a scratch area that lasts for the batch ([`super::AggArgs::scratch`]): a new
//! group's key or a `MIN`/`MAX` string may point there until the executor copies it. A kernel
//! without such constructs has neither the scratch nor the hand-back code.

use std::collections::HashMap;

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, BasicValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::attributes::{enum_attr, target_attributes};
use super::lower::{has_narrow_form, Lowered, Lowerer, NarrowLowered, Params, TableParams};
use super::skeleton::{
    column_args, column_slots, filter_row, for_each_selected, intrinsic, param, row_function,
    selection_word, slot_map, store_status, verify_functions, FailExit, Words, COLUMN_PARAMS,
};
use super::{
    not_compiled, AggregateLayout, CodegenError, ColumnSlot, ErrorSite, KeyKind, KeyLayout,
    ScratchNeed, SlotKind, StateSlot, VectorType, STATUS_FALLBACK, STATUS_SUM_OVERFLOW,
};
use crate::error::Error;
use crate::ir::aggregate::Arguments;
use crate::ir::{AccKind, AggregateCall, Expr, SqlType};

/// The symbol of an aggregation kernel's entry point.
pub const AGGREGATE_ENTRY_NAME: &str = "qjit_aggregate";
const FILTER_ROW: &str = "qjit_filter_row";
const UPDATE_ROW: &str = "qjit_update_row";
/// Leading parameters of the update row function: row, groups, slots, mask, hashes, keys,
/// overflow flags (a byte per state slot), string log, string log length, the last key, the
/// row's scratch area and its size.
const UPDATE_LEADING: usize = 12;

/// An aggregation lowered to LLVM IR, not yet optimized.
pub struct AggregateModule<'ctx> {
    pub module: Module<'ctx>,
    /// The columns the kernel reads, in the order of its `cols` argument.
    pub columns: Vec<ColumnSlot>,
    /// The operations that can fail (filter, keys, arguments).
    pub errors: Vec<ErrorSite>,
    pub layout: AggregateLayout,
    /// The scratch bytes a row needs ([`super::AggArgs::scratch`]).
    pub scratch: ScratchNeed,
    /// The constants the kernel takes as parameters.
    pub params: super::Params,
}

/// How `call` accumulates in a kernel ([`AccKind::of`]), or why it does not compile.
pub fn acc_kind(call: &AggregateCall) -> Result<AccKind, CodegenError> {
    if call.distinct {
        return Err(CodegenError::Failed(Error::internal(format!(
            "{call} reached the code generator without its DISTINCT plan"
        ))));
    }
    match AccKind::of(call) {
        Some(kind) => Ok(kind),
        None => not_compiled(format!("{call} is not compiled yet")),
    }
}

/// The expressions an aggregation kernel with `layout` lowers, in the order its inputs are
/// found ([`super::kernel_inputs`]): the filter, the keys, the distinct arguments.
pub fn aggregate_inputs<'a>(
    filter: Option<&'a Expr>,
    keys: &'a [Expr],
    layout: &'a AggregateLayout,
) -> Vec<&'a Expr> {
    filter
        .into_iter()
        .chain(keys.iter())
        .chain(layout.args.iter())
        .collect()
}

/// The layout of the state of `keys` and `aggregates`: one slot per distinct piece of state.
pub fn layout(
    keys: &[Expr],
    aggregates: &[AggregateCall],
) -> Result<AggregateLayout, CodegenError> {
    if keys.len() > 63 {
        return not_compiled("GROUP BY with more than 63 keys is not compiled");
    }
    let accumulators = aggregates
        .iter()
        .map(acc_kind)
        .collect::<Result<Vec<_>, _>>()?;
    let arguments = Arguments::of(aggregates);
    let mut slots: Vec<StateSlot> = vec![];
    let mut vectors = vec![];
    let mut slot = |kind: SlotKind, arg: Option<usize>| -> usize {
        if let Some(i) = slots.iter().position(|s| s.kind == kind && s.arg == arg) {
            return i;
        }
        slots.push(StateSlot {
            kind,
            arg,
            first_vector: vectors.len(),
        });
        vectors.extend_from_slice(kind.vectors());
        slots.len() - 1
    };
    let mut uses = vec![];
    for ((call, kind), &arg) in aggregates.iter().zip(&accumulators).zip(&arguments.arg_of) {
        // The count of an argument that cannot be NULL is the count of rows.
        let nullable = call.arg.as_ref().is_some_and(Expr::nullable);
        let count = |slot: &mut dyn FnMut(SlotKind, Option<usize>) -> usize| {
            if nullable {
                slot(SlotKind::Count, arg)
            } else {
                slot(SlotKind::Rows, None)
            }
        };
        uses.push(match kind {
            AccKind::CountStar => (None, Some(slot(SlotKind::Rows, None))),
            AccKind::Count => (None, Some(count(&mut slot))),
            AccKind::ExactSum => (Some(slot(SlotKind::ExactSum, arg)), Some(count(&mut slot))),
            AccKind::FloatSum => (Some(slot(SlotKind::FloatSum, arg)), Some(count(&mut slot))),
            AccKind::MinMaxInt { max } => {
                (Some(slot(SlotKind::MinMaxInt { max: *max }, arg)), None)
            }
            AccKind::MinMaxFloat { max } => {
                (Some(slot(SlotKind::MinMaxFloat { max: *max }, arg)), None)
            }
            AccKind::MinMaxBool { max } => {
                (Some(slot(SlotKind::MinMaxBool { max: *max }, arg)), None)
            }
            AccKind::MinMaxStr { max } => {
                (Some(slot(SlotKind::MinMaxStr { max: *max }, arg)), None)
            }
        });
    }
    let keys = if keys.is_empty() {
        None
    } else {
        Some(KeyLayout {
            kinds: keys
                .iter()
                .map(|k| match k {
                    Expr::Column(c)
                        if super::StringLayout::of(&c.data_type)
                            == Some(super::StringLayout::Views) =>
                    {
                        Ok(KeyKind::Utf8View)
                    }
                    _ => KeyKind::of(k.ty()),
                })
                .collect::<Result<_, _>>()?,
        })
    };
    Ok(AggregateLayout {
        accumulators,
        uses,
        slots,
        vectors,
        args: arguments.args,
        order: arguments.order,
        keys,
    })
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

    let (kernel_params, columns) = super::kernel_inputs(&aggregate_inputs(filter, keys, &layout));
    let slot_of: HashMap<usize, usize> = slot_map(&columns);
    let module = ctx.create_module("qjit_aggregate");
    let b = ctx.create_builder();
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let attrs = target_attributes(ctx, cpu, features);

    // The filter row function: (code << 1) | selected.
    let mut errors = vec![];
    let mut rank = 0;
    let filter_fn = match filter {
        None => None,
        Some(f) => {
            let row = filter_row(
                ctx,
                &module,
                &b,
                FILTER_ROW,
                f,
                &columns,
                &kernel_params,
                &attrs,
                false,
            )?;
            rank = row.last_rank;
            errors.extend(row.errors);
            Some(row.function)
        }
    };

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
        ptr.into(),
        i64t.into(),
    ];
    leading.extend(std::iter::repeat_n(
        BasicMetadataTypeEnum::from(ptr),
        layout.vectors.len(),
    ));
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
    let (scratch, falls_back) = {
        let row = lead[0].into_int_value();
        let table = TableParams {
            groups: lead[1].into_pointer_value(),
            slots: lead[2].into_pointer_value(),
            mask: lead[3].into_int_value(),
            hashes: lead[4].into_pointer_value(),
            keys: lead[5].into_pointer_value(),
            last: lead[9].into_pointer_value(),
        };
        let overflow_flags = lead[6].into_pointer_value();
        let log = (lead[7].into_pointer_value(), lead[8].into_pointer_value());
        let vectors: Vec<PointerValue> = lead[UPDATE_LEADING..]
            .iter()
            .map(|v| v.into_pointer_value())
            .collect();
        let mut lowerer = Lowerer::new(ctx, &module, &b, row, params, &columns, slot_of)?;
        lowerer.use_params(&kernel_params)?;
        lowerer.allow_fallback(lead[10].into_pointer_value(), lead[11].into_int_value());
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
        let speculating = speculates(&args);
        if speculating {
            err = lower_args_speculatively(ctx, &b, &mut lowerer, &args, &order, &mut arg_values)?;
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
            Some(key_layout) => {
                let keyed: Vec<(&Expr, Option<&Lowered>)> = keys
                    .iter()
                    .zip(&key_values)
                    .map(|(e, l)| (e, l.as_ref()))
                    .collect();
                lowerer.group_id(&keyed, key_layout, &table)?
            }
        };
        // Each slot once; an exact sum that overflows sets its sticky flag.
        for (n, slot) in layout.slots.iter().enumerate() {
            let arg = match slot.arg {
                Some(i) => {
                    let l = arg_values[i]
                        .as_ref()
                        .ok_or_else(|| Error::internal("an argument was not lowered"))?;
                    // A value of at most 64 bits: a narrow form's, or of a type that has no
                    // more (a decimal of up to 18 digits).
                    let ty = args[i].ty();
                    let leaf = matches!(args[i], Expr::Column(_) | Expr::Literal(_));
                    let word = (speculating && !leaf) || fits_word(ty);
                    Some((l, ty, word))
                }
                None => None,
            };
            let count = slot.kind.vectors().len();
            let at = slot.first_vector;
            let overflow = lowerer.accumulate(
                slot.kind,
                arg,
                &vectors[at..at + count],
                group,
                (log.0, log.1, n as u64),
            )?;
            if slot.kind == SlotKind::ExactSum && !small_sum(arg) {
                let i8t = ctx.i8_type();
                // SAFETY (of the generated code): one flag per slot.
                let fp = unsafe {
                    b.build_in_bounds_gep(
                        i8t,
                        overflow_flags,
                        &[i64t.const_int(n as u64, false)],
                        "flag_ptr",
                    )?
                };
                // Set only where the sum overflowed: the row loop does not carry the flags.
                let set_bb = ctx.append_basic_block(update_fn, "sum_overflowed");
                let next_bb = ctx.append_basic_block(update_fn, "sum_added");
                b.build_conditional_branch(overflow, set_bb, next_bb)?;
                b.position_at_end(set_bb);
                volatile(b.build_store(fp, i8t.const_int(1, false))?)?;
                b.build_unconditional_branch(next_bb)?;
                b.position_at_end(next_bb);
            }
        }
        b.build_return(Some(&i32t.const_zero()))?;
        let handed_back = (lowerer.scratch_need(), lowerer.may_fall_back());
        errors.extend(lowerer.into_errors());
        handed_back
    };

    // The entry function.
    let entry_fn = module.add_function(
        AGGREGATE_ENTRY_NAME,
        ctx.void_type()
            .fn_type(&[ptr.into(), i64t.into(), ptr.into(), ptr.into()], false),
        None,
    );
    for a in attrs {
        entry_fn.add_attribute(inkwell::attributes::AttributeLoc::Function, a);
    }
    for p in [0, 2, 3] {
        for name in ["noalias", "nocapture"] {
            entry_fn.add_attribute(
                inkwell::attributes::AttributeLoc::Param(p),
                enum_attr(ctx, name),
            );
        }
    }
    // The columns only selected rows read: without a filter, every row reads every column.
    let sparse: Vec<(usize, u64)> = match filter {
        None => vec![],
        Some(f) => {
            let in_filter = column_slots(&[f], &Params::default());
            let mut lines = 0;
            columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !in_filter.iter().any(|f| f.index == c.index))
                .filter(|(_, c)| c.index != super::PARAMS_SLOT)
                .filter_map(|(k, c)| Some((k, streamed_bytes(&c.data_type)?)))
                .take_while(|&(_, bytes)| {
                    lines += bytes;
                    lines <= PREFETCH_LINES
                })
                .collect()
        }
    };
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
    )?;

    let mut functions = vec![update_fn, entry_fn];
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

/// Whether the update row function evaluates its arguments' narrow forms first: every
/// argument is a column, a literal or has a narrow form, and at least one is arithmetic.
fn speculates(args: &[&Expr]) -> bool {
    let leaf = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(_));
    args.iter().all(|a| leaf(a) || has_narrow_form(a))
        && args.iter().any(|a| !leaf(a) && has_narrow_form(a))
}

/// How many words (of 64 rows) ahead of the selection the kernel prefetches the columns only
/// selected rows read. Their reads skip most cache lines, which defeats the hardware
/// prefetcher: every selected row would wait for memory (TPC-H Q6 selects 2% of its rows and
/// spent most of its time in the load of `l_extendedprice`). Prefetched, such a column streams
/// in with the filter's columns; 4 words is about 1 µs of selection ahead, more than a memory
/// access takes.
const PREFETCH_WORDS: u64 = 4;

/// The most cache lines a word prefetches (the first columns that fit). Each costs compile
/// time, and a query with more such columns reads most of its bytes only at selected rows
/// anyway.
const PREFETCH_LINES: u64 = 16;

/// A word that selects fewer rows than this is sparse: the next word prefetches.
const SPARSE_SELECTED: u64 = 16;

/// The bytes per row a prefetch of a column of type `dt` streams (its values or views), or
/// `None` where there is no fixed-width array to stream (offsets-and-bytes strings, bits).
fn streamed_bytes(dt: &arrow::datatypes::DataType) -> Option<u64> {
    use arrow::datatypes::DataType;
    match dt {
        DataType::Utf8View => Some(16),
        DataType::Boolean => None,
        dt => dt.primitive_width().map(|w| w as u64),
    }
}

/// Emits prefetches of the rows `PREFETCH_WORDS` words past `base` of each `sparse` column
/// (slot, bytes per row): one per cache line. A prefetch past the end of a buffer does not
/// fault, so the last words need no test.
fn prefetch_words<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &inkwell::builder::Builder<'ctx>,
    args: &[BasicMetadataValueEnum<'ctx>],
    sparse: &[(usize, u64)],
    base: IntValue<'ctx>,
) -> Result<(), CodegenError> {
    if sparse.is_empty() {
        return Ok(());
    }
    let i8t = ctx.i8_type();
    let i32t = ctx.i32_type();
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let prefetch = inkwell::intrinsics::Intrinsic::find("llvm.prefetch")
        .and_then(|i| i.get_declaration(module, &[ptr.into()]))
        .ok_or_else(|| Error::internal("LLVM has no llvm.prefetch"))?;
    let ahead = b.build_int_add(base, i64t.const_int(PREFETCH_WORDS * 64, false), "ahead")?;
    for &(k, bytes) in sparse {
        let arg = |n: usize| {
            args.get(k * COLUMN_PARAMS + n)
                .copied()
                .ok_or_else(|| Error::internal(format!("column {k} has no parameter {n}")))
        };
        let values = arg(0)?.into_pointer_value();
        let offset = arg(4)?.into_int_value();
        let row = b.build_int_add(offset, ahead, "prefetch_row")?;
        let element = i8t.array_type(bytes as u32);
        // SAFETY (of the generated code): only addresses to prefetch, never dereferenced; not
        // `inbounds`, since they may lie past the buffer (a prefetch of it is harmless).
        let start = unsafe { b.build_gep(element, values, &[row], "prefetch_start")? };
        for line in 0..bytes {
            // SAFETY: as above.
            let p = unsafe {
                b.build_gep(
                    i8t,
                    start,
                    &[i64t.const_int(line * 64, false)],
                    "prefetch_ptr",
                )?
            };
            b.build_call(
                prefetch,
                &[
                    p.into(),
                    i32t.const_zero().into(),
                    i32t.const_int(3, false).into(),
                    i32t.const_int(1, false).into(),
                ],
                "",
            )?;
        }
    }
    Ok(())
}

/// Whether every value of `ty` fits 64 bits (signed or not).
fn fits_word(ty: SqlType) -> bool {
    match ty {
        SqlType::Decimal { precision, .. } => precision <= 18,
        t => t.is_signed_integer() || t.is_unsigned_integer() || t == SqlType::Boolean,
    }
}

/// Whether an exact sum's argument is a 64-bit value: its `i128` sum cannot overflow (a state
/// starts at zero and takes fewer than 2^62 rows), so it is added without a check.
fn small_sum(arg: Option<(&Lowered, SqlType, bool)>) -> bool {
    arg.is_some_and(|(_, _, word)| word)
}

/// Lowers the arguments (each a column, a literal or with a narrow form, see [`speculates`]) as
/// their narrow forms, and hands the row back to the interpreter where one is not ok:
///
/// ```text
/// columns and literals; narrow forms of the others → ok
/// br ok, args_ok, args_hand_back
/// args_hand_back: ret STATUS_FALLBACK    ; rows with values or results beyond 18 digits
/// args_ok:        the sign-extended narrow values and their validity
/// ```
///
/// The interpreter then computes what the general code would (it raises the same errors), from
/// the state of the rows before: real data seldom needs it, and the general code (`i256`
/// arithmetic, an error code per operation) was a fifth of TPC-H Q1's compile time. The row's
/// code is [`STATUS_FALLBACK`] there whatever its keys' errors, as every combination of codes
/// gives it. Fills `values` (in the order `order`, so that error ranks are those of the plain
/// lowering) and returns the arguments' error code on the rows that go on: 0.
fn lower_args_speculatively<'ctx>(
    ctx: &'ctx Context,
    b: &inkwell::builder::Builder<'ctx>,
    lowerer: &mut Lowerer<'_, 'ctx>,
    args: &[&Expr],
    order: &[usize],
    values: &mut [Option<Lowered<'ctx>>],
) -> Result<IntValue<'ctx>, CodegenError> {
    let i32t = ctx.i32_type();
    let i128t = ctx.i128_type();
    let lost = || Error::internal("the builder lost its block");
    let mut narrow: Vec<(usize, NarrowLowered<'ctx>, IntValue<'ctx>)> = vec![];
    let mut all_ok = ctx.bool_type().const_int(1, false);
    for &i in order {
        if matches!(args[i], Expr::Column(_) | Expr::Literal(_)) {
            // No error and no rank: the same in both paths.
            values[i] = Some(lowerer.lower(args[i])?);
        } else {
            let n = lowerer.lower_narrow(args[i])?;
            all_ok = b.build_and(all_ok, n.ok, "narrow_ok")?;
            let wide = b.build_int_s_extend(n.value, i128t, "narrow_value")?;
            narrow.push((i, n, wide));
        }
    }
    let function = b
        .get_insert_block()
        .and_then(|bb| bb.get_parent())
        .ok_or_else(lost)?;
    let back_bb = ctx.append_basic_block(function, "args_hand_back");
    let ok_bb = ctx.append_basic_block(function, "args_ok");
    b.build_conditional_branch(all_ok, ok_bb, back_bb)?;
    lowerer.require_fallback("decimal arithmetic beyond 18 digits")?;
    b.position_at_end(back_bb);
    b.build_return(Some(&i32t.const_int(STATUS_FALLBACK, false)))?;

    b.position_at_end(ok_bb);
    for (i, n, wide) in narrow {
        values[i] = Some(Lowered {
            value: wide.into(),
            valid: n.valid,
            err: i32t.const_zero(),
        });
    }
    Ok(i32t.const_zero())
}

/// Makes an access to the overflow flags volatile. The flags are set in a block that only rows
/// whose sum overflowed enter; volatile accesses keep LLVM from promoting them to values that
/// the row loop would carry (and spill) on every row.
fn volatile(access: inkwell::values::InstructionValue<'_>) -> Result<(), CodegenError> {
    access
        .set_volatile(true)
        .map_err(|e| Error::internal(format!("a volatile flag access: {e}")).into())
        .map(|_| ())
}

fn vector_type<'ctx>(ctx: &'ctx Context, v: VectorType) -> BasicTypeEnum<'ctx> {
    match v {
        VectorType::I64 => ctx.i64_type().into(),
        VectorType::I128 => ctx.i128_type().into(),
        VectorType::F64 => ctx.f64_type().into(),
        VectorType::U8 => ctx.i8_type().into(),
    }
}

/// Builds `qjit_aggregate(cols, len, state, status)`. `scratch`: the update row function
/// builds strings; `falls_back`: it may hand a row back. `sparse`: the columns (slot, bytes per
/// row) that only the update reads, which are prefetched (see [`PREFETCH_WORDS`]).
#[allow(clippy::too_many_arguments)]
fn build_entry<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &inkwell::builder::Builder<'ctx>,
    entry_fn: inkwell::values::FunctionValue<'ctx>,
    filter_fn: Option<inkwell::values::FunctionValue<'ctx>>,
    update_fn: inkwell::values::FunctionValue<'ctx>,
    ncols: usize,
    layout: &AggregateLayout,
    (scratch, falls_back): (bool, bool),
    sparse: &[(usize, u64)],
) -> Result<(), CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let state_ty = ctx.struct_type(
        &[
            ptr.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            i64t.into(),
            ptr.into(),
            i64t.into(),
        ],
        false,
    );
    let status_ty = ctx.struct_type(&[i64t.into(), i64t.into()], false);
    let cols = param(entry_fn, 0)?.into_pointer_value();
    let len = param(entry_fn, 1)?.into_int_value();
    let state = param(entry_fn, 2)?.into_pointer_value();
    let status = param(entry_fn, 3)?.into_pointer_value();
    let entry = ctx.append_basic_block(entry_fn, "entry");
    b.position_at_end(entry);
    let args = column_args(ctx, module, b, cols, ncols)?;
    let field = |n: u32, t: BasicTypeEnum<'ctx>, name: &str| -> Result<_, CodegenError> {
        let p = b.build_struct_gep(state_ty, state, n, name)?;
        Ok(b.build_load(t, p, name)?)
    };
    let vectors_ptr = field(0, ptr.into(), "vectors")?.into_pointer_value();
    let slots = field(1, ptr.into(), "slots")?;
    let mask = field(2, i64t.into(), "slot_mask")?;
    let hashes = field(3, ptr.into(), "hashes")?;
    let keys = field(4, ptr.into(), "keys")?;
    let groups0 = field(5, i64t.into(), "groups")?;
    let groups = b.build_alloca(i64t, "groups_slot")?;
    b.build_store(groups, groups0)?;
    let log = field(6, ptr.into(), "log")?;
    let log_len0 = field(7, i64t.into(), "log_len")?;
    let log_len = b.build_alloca(i64t, "log_len_slot")?;
    b.build_store(log_len, log_len0)?;
    // The scratch area and the bytes of each row's part.
    let scratch = if scratch {
        Some((
            field(8, ptr.into(), "scratch")?.into_pointer_value(),
            field(9, i64t.into(), "scratch_row")?.into_int_value(),
        ))
    } else {
        None
    };
    // Recent groups and keys (none yet: addresses of an earlier batch may repeat).
    let last_words =
        (layout.keys.as_ref().map_or(0, |k| k.words()) + 1) as u64 * super::lower::RECENT_KEYS;
    let last_t = i64t.array_type(last_words as u32);
    let last = b.build_alloca(last_t, "last_key")?;
    // Empty entries: one memset of the whole cache (a store per entry costs the backend more).
    b.build_memset(
        last,
        8,
        ctx.i8_type().const_zero(),
        i64t.const_int(last_words * 8, false),
    )?;

    // The state vectors: without keys, local copies of group 0 that stay in registers.
    let mut globals: Vec<PointerValue> = vec![];
    for v in 0..layout.vectors.len() {
        // SAFETY (of the generated code): `vectors` has one pointer per state vector.
        let p = unsafe {
            b.build_in_bounds_gep(ptr, vectors_ptr, &[i64t.const_int(v as u64, false)], "vp")?
        };
        globals.push(b.build_load(ptr, p, "vector")?.into_pointer_value());
    }
    let keyed = layout.keys.is_some();
    let mut locals: Vec<PointerValue> = vec![];
    if !keyed {
        for slot in &layout.slots {
            for (n, vt) in slot.kind.vectors().iter().enumerate() {
                let v = slot.first_vector + n;
                let t = vector_type(ctx, *vt);
                let local = b.build_alloca(t, "local_acc")?;
                // Extremes continue from group 0's value; sums and counts are the batch's.
                let init = if slot.kind.is_extreme() {
                    b.build_load(t, globals[v], "acc0")?
                } else {
                    t.const_zero()
                };
                b.build_store(local, init)?;
                locals.push(local);
            }
        }
    }
    // A sticky overflow flag per slot.
    let i8t = ctx.i8_type();
    let flags_t = i8t.array_type(layout.slots.len().max(1) as u32);
    let flags = b.build_alloca(flags_t, "overflow_flags")?;
    volatile(b.build_store(flags, flags_t.const_zero())?)?;
    let flag = |n: usize| -> Result<IntValue<'ctx>, CodegenError> {
        // SAFETY (of the generated code): one flag per slot.
        let p = unsafe {
            b.build_in_bounds_gep(i8t, flags, &[i64t.const_int(n as u64, false)], "flag_ptr")?
        };
        let f = b.build_load(i8t, p, "flag")?;
        if let Some(load) = f.as_instruction_value() {
            volatile(load)?;
        }
        Ok(f.into_int_value())
    };
    let vector_args: &[PointerValue] = if keyed { &globals } else { &locals };

    let call_update = |i: IntValue<'ctx>| -> Result<IntValue<'ctx>, CodegenError> {
        let (row_scratch, row_bytes) = match scratch {
            Some((base, row_bytes)) => {
                let at = b.build_int_mul(i, row_bytes, "scratch_at")?;
                // SAFETY (of the generated code): the area has `row_bytes` bytes per row; not
                // `inbounds` because a dangling base with 0 bytes per row is allowed.
                let p = unsafe { b.build_gep(ctx.i8_type(), base, &[at], "row_scratch")? };
                (p, row_bytes)
            }
            None => (ptr.const_null(), i64t.const_zero()),
        };
        let mut a: Vec<BasicMetadataValueEnum> = vec![
            i.into(),
            groups.into(),
            slots.into(),
            mask.into(),
            hashes.into(),
            keys.into(),
            flags.into(),
            log.into(),
            log_len.into(),
            last.into(),
            row_scratch.into(),
            row_bytes.into(),
        ];
        a.extend(vector_args.iter().map(|p| BasicMetadataValueEnum::from(*p)));
        a.extend(args.iter().copied());
        Ok(b.build_call(update_fn, &a, "update")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("the update function returns nothing"))?
            .into_int_value())
    };
    let ctpop = intrinsic(module, "llvm.ctpop", i64t.into())?;

    // The group count and the length of the string log, back into the state.
    let write_back = || -> Result<(), CodegenError> {
        let g = b.build_load(i64t, groups, "groups_end")?;
        let pg = b.build_struct_gep(state_ty, state, 5, "groups_ptr")?;
        b.build_store(pg, g)?;
        let l = b.build_load(i64t, log_len, "log_len_end")?;
        let pl = b.build_struct_gep(state_ty, state, 7, "log_len_ptr")?;
        b.build_store(pl, l)?;
        Ok(())
    };
    // `i1` per slot: its exact sum overflowed (so far).
    let overflowed = || -> Result<Vec<IntValue<'ctx>>, CodegenError> {
        (0..layout.slots.len())
            .map(|n| {
                let f = flag(n)?;
                Ok(b.build_int_compare(IntPredicate::NE, f, i8t.const_zero(), "overflowed")?)
            })
            .collect()
    };

    // Failure: (code, row) into the status.
    let fail = FailExit::new(ctx, b, entry_fn)?;
    let (mut code, mut row) = fail.values();
    if falls_back {
        // A hand-back keeps the state (see the module docs).
        let handed_back = b.build_int_compare(
            IntPredicate::EQ,
            code,
            i64t.const_int(STATUS_FALLBACK, false),
            "handed_back",
        )?;
        if keyed {
            write_back()?;
            let overflow = first_overflow(ctx, b, layout, &overflowed()?)?;
            let any = b.build_int_compare(
                IntPredicate::NE,
                overflow,
                i64t.const_zero(),
                "overflowed_before",
            )?;
            let report = b.build_and(handed_back, any, "report_overflow")?;
            code = b
                .build_select(report, overflow, code, "fail_code2")?
                .into_int_value();
        } else {
            row = b
                .build_select(handed_back, i64t.const_zero(), row, "resume_row")?
                .into_int_value();
        }
    }
    store_status(ctx, b, status, code, row)?;
    b.build_return(None)?;
    b.position_at_end(entry);

    // Every word, the last one possibly partial: one copy of the row functions. Carried: the
    // rows the last word selected (all, before the first word).
    let word = Words::begin(
        ctx,
        b,
        entry_fn,
        len,
        &[("last_selected", i64t.const_int(64, false))],
    )?;
    if !sparse.is_empty() {
        // Only while the selection is sparse: a dense one reads (nearly) every cache line, in
        // order, which the hardware prefetcher follows by itself.
        let sparse_block = ctx.append_basic_block(entry_fn, "prefetch");
        let selection = ctx.append_basic_block(entry_fn, "selection");
        let few = b.build_int_compare(
            IntPredicate::ULT,
            word.carried[0],
            i64t.const_int(SPARSE_SELECTED, false),
            "sparse_selection",
        )?;
        b.build_conditional_branch(few, sparse_block, selection)?;
        b.position_at_end(sparse_block);
        prefetch_words(ctx, module, b, &args, sparse, word.base)?;
        b.build_unconditional_branch(selection)?;
        b.position_at_end(selection);
    }
    // The selection, then the update of each selected row.
    let selected = selection_word(ctx, b, entry_fn, filter_fn, &args, &word, &fail, "word")?;
    for_each_selected(
        ctx,
        module,
        b,
        entry_fn,
        (selected, word.base),
        &[],
        &fail,
        "word",
        |i, _| Ok((call_update(i)?, vec![])),
    )?;
    let selected = b
        .build_call(ctpop, &[selected.into()], "selected")?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| Error::internal("ctpop returns nothing"))?
        .into_int_value();
    word.end(ctx, b, &[selected])?;

    // Write back the group count and, without keys, fold the batch into group 0.
    write_back()?;
    let mut overflowed = overflowed()?;
    if !keyed {
        for (n, slot) in layout.slots.iter().enumerate() {
            for (k, vt) in slot.kind.vectors().iter().enumerate() {
                let v = slot.first_vector + k;
                let t = vector_type(ctx, *vt);
                let local = b.build_load(t, locals[v], "local")?;
                let merged = match slot.kind {
                    kind if kind.is_extreme() => local,
                    SlotKind::FloatSum => {
                        let total = b.build_load(t, globals[v], "total")?.into_float_value();
                        b.build_float_add(total, local.into_float_value(), "total2")?
                            .into()
                    }
                    SlotKind::ExactSum => {
                        let total = b.build_load(t, globals[v], "total")?.into_int_value();
                        let f = inkwell::intrinsics::Intrinsic::find("llvm.sadd.with.overflow")
                            .and_then(|i| i.get_declaration(module, &[t]))
                            .ok_or_else(|| Error::internal("LLVM has no sadd.with.overflow"))?;
                        let r = b
                            .build_call(f, &[total.into(), local.into()], "merge")?
                            .try_as_basic_value()
                            .basic()
                            .ok_or_else(|| Error::internal("sadd returns nothing"))?
                            .into_struct_value();
                        let o = b.build_extract_value(r, 1, "merge_o")?.into_int_value();
                        overflowed[n] = b.build_or(overflowed[n], o, "overflowed2")?;
                        b.build_extract_value(r, 0, "merged")?
                    }
                    _ => {
                        let total = b.build_load(t, globals[v], "total")?.into_int_value();
                        b.build_int_add(total, local.into_int_value(), "total2")?
                            .into()
                    }
                };
                b.build_store(globals[v], merged)?;
            }
        }
    }
    let overflow_code = first_overflow(ctx, b, layout, &overflowed)?;
    let pc = b.build_struct_gep(status_ty, status, 0, "status_code_ptr")?;
    b.build_store(pc, overflow_code)?;
    b.build_return(None)?;
    Ok(())
}

/// `i64`: [`STATUS_SUM_OVERFLOW`] `+ k` for the first aggregate `k` whose exact sum's slot
/// `overflowed` (`i1` per slot), or 0.
fn first_overflow<'ctx>(
    ctx: &'ctx Context,
    b: &inkwell::builder::Builder<'ctx>,
    layout: &AggregateLayout,
    overflowed: &[IntValue<'ctx>],
) -> Result<IntValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let mut code = i64t.const_zero();
    for (k, (value, _)) in layout.uses.iter().enumerate().rev() {
        if let Some(n) = value {
            if layout.slots[*n].kind == SlotKind::ExactSum {
                code = b
                    .build_select(
                        overflowed[*n],
                        i64t.const_int(STATUS_SUM_OVERFLOW + k as u64, false),
                        code,
                        "overflow_code",
                    )?
                    .into_int_value();
            }
        }
    }
    Ok(code)
}
