//! Dense words of an aggregation without `GROUP BY`: every row of a word evaluated branch-free
//! in a loop that LLVM vectorizes, instead of one update per selected row.
//!
//! The selected-row loop (count trailing zeros, update, clear the bit) costs about ten
//! instructions a row before any work, and its `i128` additions do not vectorize: a plain
//! `SELECT sum(x) FROM t` ran slower compiled than arrow's vectorized `sum`. When a word selects
//! many rows, the kernel instead runs the dense row function over all 64 rows, with the
//! selection bit as a mask:
//!
//! ```text
//! dense word (full, at least DENSE_MIN_SELECTED rows selected):
//!   for j in 0..64 (vectorized):  sel = word >> j & 1
//!     bad   |= sel & !ok                         ; a row the selected-row path would hand back
//!     count += sel & valid                       ; COUNT(x)
//!     v      = sel & valid ? x : 0               ; SUM(x), x as i64 (its narrow form)
//!     lo    += v & 0xffff_ffff ; hi += v >> 32   ; exact: 64 terms of 32 bits never overflow
//!   bad  ?  the selected-row path for this word (it hands the row back, or fails, as always)
//!       :  sum += hi << 32 + lo (i128), count += count, rows += popcount(word)
//! ```
//!
//! A word's partial sums reach the batch's accumulators only when no selected row of the word
//! is `bad`, so the state after each word is exactly what the selected-row path leaves, and
//! a hand-back or an error is the same as without this path. Rows that the filter rejected are
//! evaluated too: only their masked values are used, and their `ok` flags are ignored.
//!
//! Which aggregations take it ([`DensePlan::of`]): no keys; every slot a row count, a count
//! of values or an exact sum; every argument with a narrow form (decimal and integer columns,
//! literals, and `+ - *` over them: `SUM(price * (1 - discount))`), whose value is an `i64`.
//! The row function computes them as in `lanes` (`Lowerer::narrow_in_lanes`): a product only of
//! operands that fit 32 bits, range checks instead of the overflow intrinsics, which have no
//! vector instructions; a row outside them is `bad`.
//! Float sums keep the selected-row path: their order of additions is the interpreter's.
//! An aggregation that only counts rows (`SELECT count(*) … WHERE …`) evaluates nothing per
//! row: every word, full or not, adds its popcount, and neither loop runs.

use std::collections::HashMap;

use inkwell::attributes::Attribute;
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::layout::{AggregateLayout, SlotKind};
use super::row_lowerer;
use crate::codegen::lower::has_narrow_form;
use crate::codegen::skeleton::{intrinsic, word_loop};
use crate::codegen::{CodegenError, ColumnSlot, Params};
use crate::error::Error;
use crate::ir::{Expr, SqlType};

/// A word takes the dense path when it selects at least this many of its 64 rows. Below it,
/// the selected-row loop does less work (about ten instructions per selected row against a few
/// per row of the whole word).
pub(super) const DENSE_MIN_SELECTED: u64 = 12;

/// The symbol of the dense row function.
const DENSE_ROW: &str = "qjit_dense_row";

/// What a dense row contributes: the `i64` parts the word loop sums, after the `bad` flag
/// (part 0 of the row function's result).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// A `COUNT(x)` slot's count of valid selected rows.
    Count {
        slot: usize,
    },
    /// An exact sum's low 32 bits of each addend (unsigned) and high 32 bits (signed).
    SumLow {
        slot: usize,
    },
    SumHigh {
        slot: usize,
    },
}

/// The parts of an aggregation that has a dense path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DensePlan {
    pub parts: Vec<Part>,
    /// Slots that count rows (`COUNT(*)`): the word's popcount.
    pub rows: Vec<usize>,
    /// Whether the dense row function evaluates anything (an argument, which may be `bad`).
    /// Without, every word is a popcount: no loop, whatever its number of selected rows.
    pub evaluates: bool,
}

impl DensePlan {
    /// The plan of `layout` (its arguments `args`), if every slot and argument allows one
    /// (see the module docs).
    pub(super) fn of(layout: &AggregateLayout, args: &[&Expr]) -> Option<DensePlan> {
        if layout.keys.is_some() {
            return None;
        }
        let mut plan = DensePlan {
            parts: vec![],
            rows: vec![],
            evaluates: !args.is_empty(),
        };
        // Every argument is evaluated, whether a slot reads it or not (`COUNT` of a NOT NULL
        // argument counts rows, and the argument's errors count all the same): only narrow
        // forms, whose `bad` the dense row function computes, leave nothing out.
        let evaluable = |e: &Expr| has_narrow_form(e) && e.ty() != SqlType::UInt64;
        if !args.iter().all(|e| evaluable(e)) {
            return None;
        }
        for (n, slot) in layout.slots.iter().enumerate() {
            let arg = slot.arg.and_then(|i| args.get(i).copied());
            let narrow = |e: &Expr| has_narrow_form(e) && e.ty() != SqlType::UInt64;
            // The selected-row path adds such a sum to the batch's `i128` unchecked (see
            // `SlotKind::ExactSum`), as the fold does: a narrow form's value, or a column
            // whose every value fits 64 bits.
            let leaf = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(_));
            let unchecked = |e: &Expr| !leaf(e) || super::fits_word(e.ty());
            match (slot.kind, arg) {
                (SlotKind::Rows, _) => plan.rows.push(n),
                (SlotKind::Count, Some(e)) if narrow(e) => plan.parts.push(Part::Count { slot: n }),
                (SlotKind::ExactSum, Some(e)) if narrow(e) && unchecked(e) => {
                    plan.parts.push(Part::SumLow { slot: n });
                    plan.parts.push(Part::SumHigh { slot: n });
                }
                _ => return None,
            }
        }
        Some(plan)
    }
}

/// Builds the dense row function `qjit_dense_row(row, sel, columns…) -> {bad, parts…}` (all
/// `i64`; `sel` is 1 for a selected row, else 0) of `plan`, over the kernel's `columns`.
#[allow(clippy::too_many_arguments)]
pub(super) fn dense_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    plan: &DensePlan,
    layout: &AggregateLayout,
    args: &[&Expr],
    (columns, slot_of, params): (&[ColumnSlot], HashMap<usize, usize>, &Params),
    attrs: &[Attribute],
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ret = result_type(ctx, plan);
    let leading: [BasicMetadataTypeEnum; 2] = [i64t.into(), i64t.into()];
    let (f, lead, mut lowerer) = row_lowerer(
        ctx,
        module,
        b,
        DENSE_ROW,
        ret,
        &leading,
        (columns, slot_of, params),
        attrs,
    )?;
    let sel = lead[1].into_int_value();
    // Products of 32-bit operands and range checks that vectorize (`Lowerer::narrow_in_lanes`):
    // a row they do not cover is `bad`, and its word takes the selected-row path.
    lowerer.narrow_in_lanes();
    // Each argument once, as its narrow form (the interpreter's order does not matter: nothing
    // here reports an error), slots' or not.
    let mut bad = i64t.const_zero();
    let mut values: HashMap<usize, (IntValue<'ctx>, IntValue<'ctx>)> = HashMap::new();
    for (i, e) in args.iter().enumerate() {
        let n = lowerer.lower_narrow(e)?;
        let not_ok = b.build_not(n.ok, "dense_not_ok")?;
        let not_ok = b.build_int_z_extend(not_ok, i64t, "dense_not_ok64")?;
        bad = b.build_or(bad, b.build_and(not_ok, sel, "dense_bad_row")?, "dense_bad")?;
        // Valid and selected: the mask of the value's bits (all ones or zero).
        let valid = b.build_int_z_extend(n.valid, i64t, "dense_valid")?;
        let take = b.build_and(valid, sel, "dense_take")?;
        let mask = b.build_int_neg(take, "dense_mask")?;
        let v = b.build_and(n.value, mask, "dense_value")?;
        values.insert(i, (take, v));
    }
    let mut out = ret.get_undef();
    out = b
        .build_insert_value(out, bad, 0, "dense_out")?
        .into_struct_value();
    for (k, part) in plan.parts.iter().enumerate() {
        let slot = match part {
            Part::Count { slot } | Part::SumLow { slot } | Part::SumHigh { slot } => *slot,
        };
        let (take, v) = layout.slots[slot]
            .arg
            .and_then(|i| values.get(&i).copied())
            .ok_or_else(|| Error::internal("a dense part without its argument"))?;
        let x = match part {
            Part::Count { .. } => take,
            Part::SumLow { .. } => b.build_and(v, i64t.const_int(0xffff_ffff, false), "lo")?,
            Part::SumHigh { .. } => {
                b.build_right_shift(v, i64t.const_int(32, false), true, "hi")?
            }
        };
        out = b
            .build_insert_value(out, x, k as u32 + 1, "dense_out")?
            .into_struct_value();
    }
    b.build_return(Some(&out))?;
    Ok(f)
}

/// `{i64 bad, i64 part…}`.
fn result_type<'ctx>(ctx: &'ctx Context, plan: &DensePlan) -> inkwell::types::StructType<'ctx> {
    let fields: Vec<BasicTypeEnum> =
        std::iter::repeat_n(BasicTypeEnum::from(ctx.i64_type()), plan.parts.len() + 1).collect();
    ctx.struct_type(&fields, false)
}

/// Emits, in the entry function, the choice for one word of selection `word` at row `base`
/// (`full`: the word has 64 rows): the dense loop and its fold into the batch's accumulators
/// `locals` (one per state vector), or `sparse`, the selected-row path, which the builder is
/// left in front of. Returns the block after the dense fold, which the caller joins after
/// its selected-row path.
#[allow(clippy::too_many_arguments)]
pub(super) fn dense_word<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    (dense_fn, plan, layout): (FunctionValue<'ctx>, &DensePlan, &AggregateLayout),
    (word, base, full): (IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>),
    args: &[BasicMetadataValueEnum<'ctx>],
    locals: &[PointerValue<'ctx>],
) -> Result<BasicBlock<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ctpop = intrinsic(module, "llvm.ctpop", i64t.into())?;
    let selected = b
        .build_call(ctpop, &[word.into()], "dense_selected")?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| Error::internal("ctpop returns nothing"))?
        .into_int_value();
    let fold = ctx.append_basic_block(f, "dense_fold");
    let sparse = ctx.append_basic_block(f, "dense_sparse");
    let after = ctx.append_basic_block(f, "dense_after");
    if !plan.evaluates {
        // Only rows are counted: every word, full or not (its bits past the batch's end are
        // clear), adds its popcount; the selected-row path after `sparse` is unreachable.
        b.build_unconditional_branch(fold)?;
        return dense_fold(
            ctx,
            b,
            (fold, sparse, after),
            plan,
            layout,
            &[],
            selected,
            locals,
        );
    }
    let rows = ctx.append_basic_block(f, "dense");
    let many = b.build_int_compare(
        IntPredicate::UGE,
        selected,
        i64t.const_int(DENSE_MIN_SELECTED, false),
        "dense_many",
    )?;
    let take = b.build_and(many, full, "dense_take")?;
    b.build_conditional_branch(take, rows, sparse)?;

    // The loop over the word's 64 rows, summing each part (bad: or).
    b.position_at_end(rows);
    let init = vec![i64t.const_zero(); plan.parts.len() + 1];
    let next = word_loop(ctx, b, f, "dense", &init, |j, sums| {
        let i = b.build_int_add(base, j, "dense_i")?;
        let bit = b.build_right_shift(word, j, false, "dense_shifted")?;
        let bit = b.build_and(bit, i64t.const_int(1, false), "dense_sel")?;
        let mut a: Vec<BasicMetadataValueEnum> = vec![i.into(), bit.into()];
        a.extend(args.iter().copied());
        let r = b
            .build_call(dense_fn, &a, "dense_row")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("the dense row function returns nothing"))?
            .into_struct_value();
        let mut next = vec![];
        for (k, &s) in sums.iter().enumerate() {
            let x = b
                .build_extract_value(r, k as u32, "dense_part")?
                .into_int_value();
            next.push(if k == 0 {
                b.build_or(s, x, "dense_bad2")?
            } else {
                b.build_int_add(s, x, "dense_sum2")?
            });
        }
        Ok(next)
    })?;

    // A bad row sends the word to the selected-row path; else its sums join the batch's.
    let bad = b.build_int_compare(IntPredicate::NE, next[0], i64t.const_zero(), "dense_is_bad")?;
    b.build_conditional_branch(bad, sparse, fold)?;
    dense_fold(
        ctx,
        b,
        (fold, sparse, after),
        plan,
        layout,
        &next[1..],
        selected,
        locals,
    )
}

/// Emits the fold of a dense word into the batch's accumulators `locals` at `fold` (`sums`: the
/// word's parts, `selected`: its popcount), then the jump to `after`; leaves the builder in
/// front of `sparse` and returns `after` (see [`dense_word`]).
#[allow(clippy::too_many_arguments)]
fn dense_fold<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    (fold, sparse, after): (BasicBlock<'ctx>, BasicBlock<'ctx>, BasicBlock<'ctx>),
    plan: &DensePlan,
    layout: &AggregateLayout,
    sums: &[IntValue<'ctx>],
    selected: IntValue<'ctx>,
    locals: &[PointerValue<'ctx>],
) -> Result<BasicBlock<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let i128t = ctx.i128_type();
    b.position_at_end(fold);
    let local = |slot: usize| -> Result<PointerValue<'ctx>, CodegenError> {
        locals
            .get(layout.slots[slot].first_vector)
            .copied()
            .ok_or_else(|| Error::internal("a dense slot without its accumulator").into())
    };
    for &slot in &plan.rows {
        let p = local(slot)?;
        let c = b.build_load(i64t, p, "dense_rows")?.into_int_value();
        b.build_store(p, b.build_int_add(c, selected, "dense_rows2")?)?;
    }
    for (k, part) in plan.parts.iter().enumerate() {
        let x = sums[k];
        match *part {
            Part::Count { slot } => {
                let p = local(slot)?;
                let c = b.build_load(i64t, p, "dense_count")?.into_int_value();
                b.build_store(p, b.build_int_add(c, x, "dense_count2")?)?;
            }
            Part::SumLow { slot } => {
                // lo (at most 64 * (2^32 - 1)) and hi (at most 64 * 2^31 in size) as one i128,
                // added to the batch's sum, which cannot wrap within a batch.
                let hi = match plan.parts.get(k + 1) {
                    Some(Part::SumHigh { slot: s }) if *s == slot => sums[k + 1],
                    _ => return Err(Error::internal("a dense sum without its high part").into()),
                };
                let lo = b.build_int_z_extend(x, i128t, "dense_lo")?;
                let hi = b.build_int_s_extend(hi, i128t, "dense_hi")?;
                let hi = b.build_left_shift(hi, i128t.const_int(32, false), "dense_hi32")?;
                let v = b.build_int_add(hi, lo, "dense_word_sum")?;
                let p = local(slot)?;
                let s = b.build_load(i128t, p, "dense_sum")?.into_int_value();
                b.build_store(p, b.build_int_add(s, v, "dense_sum2")?)?;
            }
            Part::SumHigh { .. } => {}
        }
    }
    b.build_unconditional_branch(after)?;
    b.position_at_end(sparse);
    Ok(after)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int32Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::exec::Source;
    use crate::jit::{assert_compiled_as_interpreted, AggregateKernel};

    /// Batches of 700, 1, 64, 2500 and 130 rows: a filter column `f` that selects every row
    /// of some words, none of others and a few of the rest; `Int64` values at and near both
    /// ends of the range (every bit of the low and high halves set somewhere), whose partial
    /// sums leave 64 bits and whose totals fit, or, over the positive ones, do not; 18-digit
    /// decimals; a 20-digit decimal past 64 bits at a few rows (a hand-back inside a dense
    /// word), all with NULLs.
    fn table() -> Source {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Int32, true),
            Field::new("x", DataType::Int64, true),
            Field::new("y", DataType::Int64, false),
            Field::new("d", DataType::Decimal128(18, 2), true),
            Field::new("e", DataType::Decimal128(12, 0), true),
            Field::new("i", DataType::Int32, true),
            Field::new("g", DataType::Decimal128(20, 0), true),
        ]));
        let mut first = 0i64;
        let batches = [700i64, 1, 64, 2500, 130]
            .iter()
            .map(|&n| {
                let rows = first..first + n;
                first += n;
                // Per word of 64 rows: all selected (f = 1), none (f = 0), or every 7th.
                let f: Int32Array = rows
                    .clone()
                    .map(|r| {
                        let v = match (r / 64) % 3 {
                            0 => 1,
                            1 => 0,
                            _ => i32::from(r % 7 == 0),
                        };
                        (r % 97 != 5).then_some(v)
                    })
                    .collect();
                let x: Int64Array = rows
                    .clone()
                    .map(|r| {
                        (r % 9 != 3).then_some(match r % 4 {
                            0 => i64::MAX - r,
                            1 => i64::MIN + r,
                            2 => (1 << 32) - 1 + r,
                            _ => -(r << 31),
                        })
                    })
                    .collect();
                let y: Int64Array = rows
                    .clone()
                    .map(|r| {
                        Some(if r % 2 == 0 {
                            (1 << 62) + r
                        } else {
                            -(1 << 62) - 2 * r
                        })
                    })
                    .collect();
                let d: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        let v = 99 * 10i128.pow(15) - i128::from(r) * 1_000_003;
                        (r % 17 != 8).then_some(if r % 3 == 1 { -v } else { v })
                    })
                    .collect();
                let d = d.with_precision_and_scale(18, 2).unwrap();
                let e: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        (r % 13 != 2).then_some(if r % 601 == 300 {
                            10i128.pow(11)
                        } else {
                            i128::from(r % 1000)
                        })
                    })
                    .collect();
                let e = e.with_precision_and_scale(12, 0).unwrap();
                let i: Int32Array = rows
                    .clone()
                    .map(|r| (r % 11 != 4).then_some((r as i32).wrapping_mul(48_271)))
                    .collect();
                // Past 64 bits at a few rows: its narrow form hands those rows back.
                let g: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        (r % 29 != 7).then_some(if r % 601 == 300 {
                            10i128.pow(19) + i128::from(r)
                        } else {
                            -i128::from(r) * 1_000_000_007
                        })
                    })
                    .collect();
                let g = g.with_precision_and_scale(20, 0).unwrap();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(f),
                        Arc::new(x),
                        Arc::new(y),
                        Arc::new(d),
                        Arc::new(e),
                        Arc::new(i),
                        Arc::new(g),
                    ],
                )
                .unwrap()
            })
            .collect();
        Source::batches("t", schema, batches).with_morsel_rows(1000)
    }

    /// Kernels with dense words give the interpreter's answers and errors on 1 and 2 threads:
    /// words all, none and a few of whose rows are selected, partial words, values at both
    /// ends of `BIGINT` (totals that fit and totals that do not), NULLs, a hand-back inside a
    /// dense word; aggregations it does not apply to keep the selected-row path alone.
    #[test]
    fn dense_words_answer_as_the_interpreter() {
        let source = table();
        for (sql, dense) in [
            ("SELECT SUM(i), COUNT(*), COUNT(i), AVG(i) FROM t", true),
            ("SELECT SUM(i), COUNT(*), COUNT(x), SUM(y) FROM t WHERE f = 1", true),
            ("SELECT SUM(x) FROM t WHERE f = 1 AND x > 0", true),
            ("SELECT SUM(x) FROM t", true),
            ("SELECT SUM(d), AVG(d), COUNT(d) FROM t WHERE f > 0", true),
            ("SELECT SUM(d - e), SUM(e + 999999999999 + 999999999999), COUNT(*) FROM t WHERE f = 1", true),
            ("SELECT SUM(-e - 999999999999 - 999999999999 - 999999999999) FROM t", true),
            ("SELECT SUM(g + 1), COUNT(g), COUNT(*) FROM t", true),
            ("SELECT SUM(g - e), AVG(g + 0) FROM t WHERE f = 1", true),
            ("SELECT COUNT(g), SUM(i) FROM t WHERE f = 1", true),
            ("SELECT SUM(d * (1 - e)), COUNT(*) FROM t WHERE f = 1", true),
            // Operands past 32 bits (`d`), and products past 64 (`d * d`): the row path.
            ("SELECT SUM(d * e), SUM(e * e * e), COUNT(*) FROM t WHERE f > 0", true),
            ("SELECT SUM(d * d), COUNT(d) FROM t WHERE f = 1", true),
            ("SELECT SUM(d * 0.05), SUM(0.05 * -d), COUNT(*) FROM t WHERE f = 1", true),
            ("SELECT SUM(g * e), AVG(e * (1 + e)) FROM t", true),
            // Integer arithmetic has no narrow form (its overflow is an error, not a hand-back).
            ("SELECT SUM(i + i), SUM(y - i) FROM t WHERE f IS NOT NULL", false),
            // Only rows counted: every word a popcount, partial ones (700, 1, 130 rows) too.
            ("SELECT COUNT(*) FROM t WHERE f = 1", true),
            ("SELECT COUNT(*), COUNT(*) FROM t WHERE f <> 1 OR x > 0", true),
            ("SELECT COUNT(*) FROM t WHERE f IS NULL", true),
            // A filter's error is the interpreter's, counting or not.
            ("SELECT COUNT(*) FROM t WHERE y / (f - 1) > 0", true),
            ("SELECT COUNT(*) FROM t WHERE y + y > 0", true),
            ("SELECT f, SUM(i) FROM t GROUP BY f ORDER BY f", false),
            ("SELECT SUM(i), MIN(i) FROM t", false),
            // A count of a NOT NULL argument counts rows, but the argument's errors count too.
            ("SELECT COUNT(y / (y - y)), COUNT(*) FROM t", false),
            ("SELECT COUNT(y / (y - y)) FROM t WHERE f = 1", false),
            ("SELECT SUM(CAST(i AS DOUBLE)), COUNT(*) FROM t", false),
        ] {
            let kernel = AggregateKernel::of_query(&source, sql);
            assert_eq!(kernel.ir_before().contains("qjit_dense_row"), dense, "{sql}");
            assert_compiled_as_interpreted(&source, sql);
        }
    }
}
