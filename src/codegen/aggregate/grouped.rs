//! A word's group ids found a group at a time, for `GROUP BY` keys of short strings.
//!
//! Row by row, a `GROUP BY` of strings finds each selected row's group through the per-batch
//! cache of recent keys (`lower::group`): load both words of each key's view, hash them, compare
//! them with the cache entry. For Q1's two one-letter flags that was a third of the kernel's
//! time, although its rows fall into four groups. When every key is a `Utf8View` column, a word
//! that selects many rows instead finds its group ids before its updates:
//!
//! ```text
//! codes:  for j in 0..64 (vectorized):  codes[j] = key code of row base + j   (qjit_key_code)
//!                                        (UNSELECTED where the filter rejected the row)
//! passes: while rows are pending (at first: the selected ones) and passes < MAX_PASSES:
//!           r = the first pending row;  g = its group (the row-by-row lookup, which inserts)
//!           codes[r] is NO_CODE:  gids[r] = g;  r is done
//!           else for j in 0..64 (vectorized):  same = codes[j] == codes[r];
//!                                              gids[j] = same ? g : gids[j];  done |= same << j
//!                (or, with `sums`, the pass sums and folds its rows instead)
//!         (after them, or in a word that selects few rows: each pending row by itself)
//! then:   each selected row's update not folded, with gids[r] as its group
//! ```
//!
//! A key's code is exact: the string's length (up to 7) and its first [`GroupedPlan::bytes`]
//! bytes (the bytes that fit its share of 64 bits) when every byte of its view after those is
//! zero, NULL a bit no string's code has, and the keys' codes side by side make the row's
//! code. Such a string is its first bytes followed by NUL characters up to its length, so equal
//! codes are equal keys, and every row of a pass has the group of its first row. Any other
//! string (longer, or with other bytes after the first ones) has no code ([`NO_CODE`]) and is
//! looked up alone. The code takes the first bytes as they are: Arrow pads a short string's
//! view with zeros, and in a view that is not so padded equal strings only get different codes
//! and separate passes (never one code for two strings).
//!
//! Groups are created in the order of their first rows, as row by row: each pass starts at the
//! first pending row, so every row before it is done, and the rest come after the last pass's
//! first row, in order. A row that hands back in the update loop may find groups that rows after
//! it created; the interpreter, which carries on from that row, finds them in the state and
//! folds those rows into them, so the groups and their order are those of the interpreter.
//! Plain column keys never fail or hand back, so finding the groups early changes no error.

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::IntPredicate;

use super::layout::{AggregateLayout, KeyKind};
use super::row_lowerer;
use super::sums::PassSums;
use crate::codegen::skeleton::{current_block, intrinsic, word_loop};
use crate::codegen::{CodegenError, ColumnSlot, Params};
use crate::error::Error;
use crate::ir::Expr;

/// A word finds its group ids a group at a time when it is full and selects at least this many
/// rows: its codes cost a few instructions per row of the word, a pass about two per row, and
/// the row-by-row lookup about thirty per selected row.
pub(super) const GROUPED_MIN_SELECTED: u64 = 16;

/// Passes per word at most; the rows left after them are looked up one by one. A word of
/// many groups (a `GROUP BY` of names) would otherwise pay a pass per row.
pub(super) const MAX_PASSES: u64 = 8;

/// The code of a row with a key too long for one: looked up alone. No key's code is all ones.
const NO_CODE: u64 = u64::MAX;

/// The code of a row the filter rejected: no pass takes it. No key's code has its top bits set.
const UNSELECTED: u64 = u64::MAX - 1;

/// The symbol of the key code row function.
const KEY_CODE_ROW: &str = "qjit_key_code";

/// The keys of an aggregation whose words find their groups a group at a time.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct GroupedPlan {
    /// The key columns, in order.
    keys: Vec<Expr>,
    /// Bytes of a string that a key's code holds: 4, 3 or 2 for one, two or three keys.
    bytes: u64,
}

impl GroupedPlan {
    /// The plan of an aggregation whose keys are one to three `Utf8View` columns.
    pub(super) fn of(layout: &AggregateLayout, keys: &[Expr]) -> Option<GroupedPlan> {
        let kinds = &layout.keys.as_ref()?.kinds;
        let views = kinds.len() == keys.len()
            && kinds.iter().all(|k| *k == KeyKind::Utf8View)
            && keys.iter().all(|k| matches!(k, Expr::Column(_)));
        let bytes = match keys.len() {
            1 => 4,
            2 => 3,
            3 => 2,
            _ => return None,
        };
        views.then(|| GroupedPlan {
            keys: keys.to_vec(),
            bytes,
        })
    }

    /// Bits of a key's code: its length (3 bits), its bytes, then the bit of NULL.
    fn bits(&self) -> u64 {
        4 + 8 * self.bytes
    }
}

/// Builds the key code row function `qjit_key_code(row, columns…) -> i64`: the row's code (see
/// the module docs), or [`NO_CODE`].
pub(super) fn key_code_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    plan: &GroupedPlan,
    (columns, slot_of, params): (
        &[ColumnSlot],
        std::collections::HashMap<usize, usize>,
        &Params,
    ),
    attrs: &[inkwell::attributes::Attribute],
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let leading: [BasicMetadataTypeEnum; 1] = [i64t.into()];
    let (f, _, lowerer) = row_lowerer(
        ctx,
        module,
        b,
        KEY_CODE_ROW,
        i64t,
        &leading,
        (columns, slot_of, params),
        attrs,
    )?;
    let c = |v: u64| i64t.const_int(v, false);
    // The bits of a view that must be zero for a code: a length past 7, the bytes after the
    // first `bytes` (the first word holds the length, then four bytes), and the second word.
    let kept = 1u64
        .checked_shl(32 + 8 * plan.bytes as u32)
        .map_or(u64::MAX, |b| b - 1);
    let beyond = 0xffff_fff8 | !kept;
    let null_bit = c(1 << (3 + 8 * plan.bytes));
    let mut code = c(0);
    let mut other = c(0);
    for (k, key) in plan.keys.iter().enumerate() {
        let valid = lowerer.column_valid(key)?;
        // The view's words (zero where NULL; reading both lets LLVM load two views per vector).
        let (raw, rest) = lowerer.view_raw(key, valid)?;
        other = b.build_or(
            other,
            b.build_and(raw, c(beyond), "code_beyond")?,
            "code_other",
        )?;
        other = b.build_or(other, rest, "code_other2")?;
        // The bytes after the length's 3 bits (bits 29 to 31 of the word are zero here), then
        // the length.
        let bytes = b.build_right_shift(raw, c(29), false, "code_bytes")?;
        let key_code = b.build_or(bytes, b.build_and(raw, c(7), "code_len")?, "code_key")?;
        let key_code = b
            .build_select(valid, key_code, null_bit, "code_or_null")?
            .into_int_value();
        let key_code = b.build_left_shift(key_code, c(k as u64 * plan.bits()), "code_key_at")?;
        code = b.build_or(code, key_code, "code")?;
    }
    let coded = b.build_int_compare(IntPredicate::EQ, other, c(0), "row_coded")?;
    let code = b.build_select(coded, code, c(NO_CODE), "row_code")?;
    b.build_return(Some(&code))?;
    Ok(f)
}

/// Where a word's codes and group ids live: two arrays of 64 `i64`s on the entry's stack.
pub(super) struct GroupedWord<'ctx> {
    pub codes: PointerValue<'ctx>,
    pub gids: PointerValue<'ctx>,
}

impl<'ctx> GroupedWord<'ctx> {
    /// The arrays, allocated where the builder is (the entry block).
    pub(super) fn alloca(ctx: &'ctx Context, b: &Builder<'ctx>) -> Result<Self, CodegenError> {
        let t = ctx.i64_type().array_type(64);
        Ok(GroupedWord {
            codes: b.build_alloca(t, "word_codes")?,
            gids: b.build_alloca(t, "word_gids")?,
        })
    }

    /// Element `j` of `array`.
    pub(super) fn at(
        &self,
        ctx: &'ctx Context,
        b: &Builder<'ctx>,
        array: PointerValue<'ctx>,
        j: IntValue<'ctx>,
        name: &str,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        // SAFETY (of the generated code): `j` < 64, the arrays' length.
        Ok(unsafe { b.build_in_bounds_gep(ctx.i64_type(), array, &[j], name)? })
    }
}

/// Emits whether the word `selected` finds its groups a group at a time (`i1`; `full`: it has
/// 64 rows): it is full and selects at least [`GROUPED_MIN_SELECTED`] rows.
pub(super) fn takes_word<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    selected: IntValue<'ctx>,
    full: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ctpop = intrinsic(module, "llvm.ctpop", i64t.into())?;
    let n = b
        .build_call(ctpop, &[selected.into()], "grouped_selected")?
        .try_as_basic_value()
        .basic()
        .ok_or_else(|| Error::internal("ctpop returns nothing"))?
        .into_int_value();
    let many = b.build_int_compare(
        IntPredicate::UGE,
        n,
        i64t.const_int(GROUPED_MIN_SELECTED, false),
        "grouped_many",
    )?;
    Ok(b.build_and(many, full, "grouped_take")?)
}

/// Emits, from the current block, the group ids of the selected rows of the word `selected` at
/// `base` into `word.gids` (see the module docs); `take`: a group at a time (see
/// [`takes_word`]), else every row by itself. `lookup(i)` emits row `i`'s row-by-row lookup and
/// returns its group id (emitted once). With `sums`, a pass whose rows can be folded into their
/// group sums them instead of storing their group ids (see `sums`). Returns the rows so folded,
/// whose updates are done (`i64`, a mask of the word); the builder continues after.
#[allow(clippy::too_many_arguments)]
pub(super) fn group_ids<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    code_fn: FunctionValue<'ctx>,
    word: &GroupedWord<'ctx>,
    (selected, base, take): (IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>),
    args: &[BasicMetadataValueEnum<'ctx>],
    lookup: &dyn Fn(IntValue<'ctx>) -> Result<IntValue<'ctx>, CodegenError>,
    sums: Option<&PassSums<'_, 'ctx>>,
) -> Result<IntValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let c = |v: u64| i64t.const_int(v, false);
    let lost = || Error::internal("a call returns nothing");
    let cttz = intrinsic(module, "llvm.cttz", i64t.into())?;
    let start = current_block(b)?;
    let codes = ctx.append_basic_block(f, "codes");
    let head = ctx.append_basic_block(f, "pass_head");
    let body = ctx.append_basic_block(f, "pass_first");
    let coded = ctx.append_basic_block(f, "pass_coded");
    let single = ctx.append_basic_block(f, "pass_single");
    let done = ctx.append_basic_block(f, "pass_end");
    b.build_conditional_branch(take, codes, head)?;

    // Every row's code; a row the filter rejected matches no pass (its gid is never read).
    b.position_at_end(codes);
    word_loop(ctx, b, f, "code", &[], |j, _| {
        let i = b.build_int_add(base, j, "code_i")?;
        let mut a: Vec<BasicMetadataValueEnum> = vec![i.into()];
        a.extend(args.iter().copied());
        let code = b
            .build_call(code_fn, &a, "key_code")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(lost)?
            .into_int_value();
        let shifted = b.build_right_shift(selected, j, false, "code_shifted")?;
        let row_selected = b.build_and(shifted, c(1), "code_sel")?;
        let row_selected =
            b.build_int_compare(IntPredicate::NE, row_selected, c(0), "code_sel1")?;
        let code = b.build_select(row_selected, code, c(UNSELECTED), "code_or_unselected")?;
        b.build_store(word.at(ctx, b, word.codes, j, "code_at")?, code)?;
        Ok(vec![])
    })?;
    let codes_end = current_block(b)?;
    b.build_unconditional_branch(head)?;

    // The first pending row's group: one lookup, the only one in the kernel (its code is
    // large), for passes and single rows alike.
    b.position_at_end(head);
    let pending = b.build_phi(i64t, "pending")?;
    let passes = b.build_phi(i64t, "passes")?;
    let folded = b.build_phi(i64t, "folded")?;
    let pendingv = pending.as_basic_value().into_int_value();
    let passesv = passes.as_basic_value().into_int_value();
    let foldedv = folded.as_basic_value().into_int_value();
    for from in [start, codes_end] {
        pending.add_incoming(&[(&selected, from)]);
        passes.add_incoming(&[(&c(0), from)]);
        folded.add_incoming(&[(&c(0), from)]);
    }
    let some = b.build_int_compare(IntPredicate::NE, pendingv, c(0), "pass_some")?;
    b.build_conditional_branch(some, body, done)?;

    b.position_at_end(body);
    let r = b
        .build_call(
            cttz,
            &[pendingv.into(), ctx.bool_type().const_int(1, false).into()],
            "pass_r",
        )?
        .try_as_basic_value()
        .basic()
        .ok_or_else(lost)?
        .into_int_value();
    let i = b.build_int_add(base, r, "pass_i")?;
    let g = lookup(i)?;
    // A pass when the word has codes and passes left, and the row a code.
    let room = b.build_int_compare(IntPredicate::ULT, passesv, c(MAX_PASSES), "pass_room")?;
    let go = b.build_and(take, room, "pass_go")?;
    b.build_conditional_branch(go, coded, single)?;
    b.position_at_end(coded);
    let first = b
        .build_load(
            i64t,
            word.at(ctx, b, word.codes, r, "pass_code_at")?,
            "pass_code",
        )?
        .into_int_value();
    let alone = b.build_int_compare(IntPredicate::EQ, first, c(NO_CODE), "pass_alone")?;
    let pass = ctx.append_basic_block(f, "pass");
    b.build_conditional_branch(alone, single, pass)?;

    // A row by itself: its own group id, the next pending row.
    b.position_at_end(single);
    b.build_store(word.at(ctx, b, word.gids, r, "single_gid_at")?, g)?;
    let minus1 = b.build_int_sub(pendingv, c(1), "single_m1")?;
    let pending_single = b.build_and(pendingv, minus1, "single_pending")?;
    b.build_unconditional_branch(head)?;
    pending.add_incoming(&[(&pending_single, single)]);
    passes.add_incoming(&[(&passesv, single)]);
    folded.add_incoming(&[(&foldedv, single)]);

    // The rows with the first row's code (`same`): either summed and folded into their group
    // (then no row of them needs its group id), or each given the group id.
    b.position_at_end(pass);
    let (same, rows_folded) = match sums {
        Some(s) => {
            let summed = ctx.append_basic_block(f, "pass_summed");
            let ids = ctx.append_basic_block(f, "pass_ids");
            let joined = ctx.append_basic_block(f, "pass_joined");
            b.build_conditional_branch(s.folds(ctx, b, g)?, summed, ids)?;
            b.position_at_end(summed);
            let mut init = vec![c(0)];
            init.extend(std::iter::repeat_n(c(0), s.plan.parts.len()));
            let out = word_loop(ctx, b, f, "pass_sum", &init, |j, carried| {
                let eq = same_code(ctx, b, word, j, first)?;
                let mut next = vec![same_bit(ctx, b, j, eq, carried[0])?];
                let row = b.build_int_add(base, j, "pass_row")?;
                for (sum, part) in carried[1..].iter().zip(s.row(ctx, b, (row, j, eq), args)?) {
                    next.push(b.build_int_add(*sum, part, "pass_sum2")?);
                }
                Ok(next)
            })?;
            s.fold(ctx, module, b, f, (g, out[0]), &out[1..])?;
            let summed_end = current_block(b)?;
            b.build_unconditional_branch(joined)?;
            b.position_at_end(ids);
            let same_ids = gid_loop(ctx, b, f, word, first, g)?;
            let ids_end = current_block(b)?;
            b.build_unconditional_branch(joined)?;
            b.position_at_end(joined);
            let same = b.build_phi(i64t, "pass_same_rows")?;
            same.add_incoming(&[(&out[0], summed_end), (&same_ids, ids_end)]);
            let rows = b.build_phi(i64t, "pass_folded_rows")?;
            rows.add_incoming(&[(&out[0], summed_end), (&c(0), ids_end)]);
            (
                same.as_basic_value().into_int_value(),
                rows.as_basic_value().into_int_value(),
            )
        }
        None => (gid_loop(ctx, b, f, word, first, g)?, c(0)),
    };
    let pending_next = b.build_and(pendingv, b.build_not(same, "pass_not")?, "pass_pending")?;
    let passes_next = b.build_int_add(passesv, c(1), "passes_next")?;
    let folded_next = b.build_or(foldedv, rows_folded, "folded_next")?;
    let pass_end = current_block(b)?;
    b.build_unconditional_branch(head)?;
    pending.add_incoming(&[(&pending_next, pass_end)]);
    passes.add_incoming(&[(&passes_next, pass_end)]);
    folded.add_incoming(&[(&folded_next, pass_end)]);

    b.position_at_end(done);
    Ok(foldedv)
}

/// Emits whether row `j`'s code is `first` (`i1`).
fn same_code<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    word: &GroupedWord<'ctx>,
    j: IntValue<'ctx>,
    first: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, CodegenError> {
    let at = word.at(ctx, b, word.codes, j, "pass_row_code_at")?;
    let code = b.build_load(ctx.i64_type(), at, "pass_row_code")?;
    Ok(b.build_int_compare(IntPredicate::EQ, code.into_int_value(), first, "pass_eq")?)
}

/// Emits `same | eq << j`.
fn same_bit<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    j: IntValue<'ctx>,
    eq: IntValue<'ctx>,
    same: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, CodegenError> {
    let bit = b.build_int_z_extend(eq, ctx.i64_type(), "pass_eq64")?;
    let bit = b.build_left_shift(bit, j, "pass_bit")?;
    Ok(b.build_or(same, bit, "pass_same2")?)
}

/// Emits the loop that gives group `g` to every row whose code is `first`; returns those rows.
fn gid_loop<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    word: &GroupedWord<'ctx>,
    first: IntValue<'ctx>,
    g: IntValue<'ctx>,
) -> Result<IntValue<'ctx>, CodegenError> {
    let zero = ctx.i64_type().const_zero();
    let out = word_loop(ctx, b, f, "pass_id", &[zero], |j, carried| {
        let eq = same_code(ctx, b, word, j, first)?;
        let gid_at = word.at(ctx, b, word.gids, j, "pass_gid_at")?;
        let old = b.build_load(ctx.i64_type(), gid_at, "pass_old_gid")?;
        b.build_store(gid_at, b.build_select(eq, g.into(), old, "pass_gid")?)?;
        Ok(vec![same_bit(ctx, b, j, eq, carried[0])?])
    })?;
    Ok(out[0])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Float64Array, Int32Array, RecordBatch, StringViewArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::exec::Source;
    use crate::jit::{assert_compiled_as_interpreted, AggregateKernel};

    /// Batches of 700, 1, 64, 2500 and 130 rows: a filter column `f` that selects every row
    /// of some words, none of others and a few of the rest; `Utf8View` keys of up to five
    /// bytes, with NUL bytes, and longer (`s`, with NULLs), of two values and a longer third (`u`), and of 97
    /// values (`w`: more groups in a word than a word has passes); decimals `d` with NULLs,
    /// values past 32 bits at a few rows (the lanes' products need the row path there) and
    /// squares beyond 18 digits at others (hand-backs in the middle of a word), and small
    /// ones `e`; floats `x`.
    fn table() -> Source {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Int32, true),
            Field::new("s", DataType::Utf8View, true),
            Field::new("u", DataType::Utf8View, false),
            Field::new("w", DataType::Utf8View, false),
            Field::new("v", DataType::Utf8View, false),
            Field::new("d", DataType::Decimal128(15, 2), true),
            Field::new("e", DataType::Decimal128(15, 2), false),
            Field::new("x", DataType::Float64, true),
            Field::new("h", DataType::Decimal128(17, 0), true),
            Field::new("i", DataType::Int32, true),
        ]));
        // Strings that differ only in their length (a trailing NUL byte) or past the bytes a
        // code holds.
        let words = [
            "A",
            "N",
            "R",
            "",
            "A\0",
            "\0",
            "AB",
            "ABC",
            "ABCD",
            "ABCE",
            "ABCDE",
            "ABCDF",
            "a string past twelve",
            // NUL characters after the bytes a code holds: up to a length of 7, coded.
            "ABC\0",
            "AB\0\0",
            "ABC\0\0\0\0",
            "ABC\0\0\0\0\0",
            "\0\0\0\0\0",
        ];
        let mut first = 0i64;
        let batches = [700i64, 1, 64, 2500, 130]
            .iter()
            .map(|&n| {
                let rows = first..first + n;
                first += n;
                let f: Int32Array = rows
                    .clone()
                    .map(|r| {
                        let word = r / 64;
                        Some(match word % 4 {
                            0 => 1,
                            1 => 0,
                            2 => i32::from(r % 9 == 0),
                            _ => i32::from(r % 3 != 0),
                        })
                    })
                    .collect();
                let s: StringViewArray = rows
                    .clone()
                    .map(|r| {
                        let k = if r % 50 < 40 { r % 3 } else { r % 18 } as usize;
                        (r % 17 != 5).then_some(words[k])
                    })
                    .collect();
                let u: StringViewArray = rows
                    .clone()
                    .map(|r| {
                        Some(if r % 101 == 7 {
                            "FOO"
                        } else {
                            ["F", "O"][(r % 2) as usize]
                        })
                    })
                    .collect();
                let w: StringViewArray = rows
                    .clone()
                    .map(|r| Some((r * 7 % 97).to_string()))
                    .collect();
                let v: StringViewArray = rows.clone().map(|r| Some((r % 5).to_string())).collect();
                let d: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        (r % 13 != 4).then_some(match r % 311 {
                            100 => 3_000_000_000 + i128::from(r),
                            200 => 40_000_000_000_000 + i128::from(r),
                            _ => i128::from(r % 10_000) * 37,
                        })
                    })
                    .collect();
                let d = d.with_precision_and_scale(15, 2).unwrap();
                let e: Decimal128Array = rows.clone().map(|r| Some(i128::from(r % 11))).collect();
                let e = e.with_precision_and_scale(15, 2).unwrap();
                let x: Float64Array = rows
                    .clone()
                    .map(|r| (r % 7 != 0).then_some(r as f64 * 0.1))
                    .collect();
                // Near the largest 17 digits: a word's partial sums leave 64 bits, and twice
                // them is past the bound of a pass's values.
                let h: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        let v = 10i128.pow(17) - 1 - i128::from(r);
                        (r % 23 != 9).then_some(if r % 1000 < 900 { v } else { -v })
                    })
                    .collect();
                let h = h.with_precision_and_scale(17, 0).unwrap();
                let i: Int32Array = rows
                    .clone()
                    .map(|r| (r % 19 != 2).then_some((r as i32).wrapping_mul(-48_271)))
                    .collect();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(f),
                        Arc::new(s),
                        Arc::new(u),
                        Arc::new(w),
                        Arc::new(v),
                        Arc::new(d),
                        Arc::new(e),
                        Arc::new(x),
                        Arc::new(h),
                        Arc::new(i),
                    ],
                )
                .unwrap()
            })
            .collect();
        Source::batches("t", schema, batches).with_morsel_rows(1000)
    }

    /// Aggregations whose words find their groups a group at a time, with and without
    /// arguments in lanes, give the interpreter's groups (in its order), answers and errors,
    /// on 1 and 2 threads; keys that are not all `Utf8View` columns keep the row path.
    #[test]
    fn words_that_find_their_groups_first_answer_as_the_interpreter() {
        let source = table();
        // (query, finds groups first, arguments in lanes, passes sum their rows)
        for (sql, grouped, lanes, sums) in [
            (
                "SELECT s, u, COUNT(*), SUM(d * (1 - e)), SUM(d * (1 - e) * (1 + e)), AVG(d), \
                 SUM(e) FROM t WHERE f > 0 GROUP BY s, u",
                true,
                true,
                true,
            ),
            (
                "SELECT s, SUM(d - e), COUNT(d), MIN(d), SUM(x), MAX(u) FROM t GROUP BY s",
                true,
                true,
                false,
            ),
            (
                "SELECT w, u, s, COUNT(*), SUM(d * e) FROM t WHERE f > 0 GROUP BY w, u, s",
                true,
                true,
                true,
            ),
            (
                "SELECT w, SUM(d * d), COUNT(*) FROM t GROUP BY w",
                true,
                true,
                true,
            ),
            (
                "SELECT s, u, SUM(d * d), SUM(x) FROM t WHERE f = 1 GROUP BY s, u",
                true,
                true,
                false,
            ),
            (
                "SELECT u, SUM(d), COUNT(*), AVG(x) FROM t WHERE f > 0 GROUP BY u",
                true,
                false,
                false,
            ),
            (
                "SELECT s, w, COUNT(*) FROM t GROUP BY s, w",
                true,
                false,
                true,
            ),
            (
                "SELECT u, v, COUNT(x), SUM(i), AVG(h), SUM(d), COUNT(*) FROM t WHERE f > 0 \
                 GROUP BY u, v",
                true,
                false,
                true,
            ),
            (
                "SELECT s, SUM(h + 0), SUM(h + h), COUNT(h - d), SUM(i) FROM t GROUP BY s",
                true,
                true,
                true,
            ),
            (
                "SELECT v, SUM(h * 1), SUM(-h), COUNT(*) FROM t WHERE f = 1 GROUP BY v",
                true,
                true,
                true,
            ),
            // Partial sums past 64 bits in the table of the first groups, and (four times
            // `h`) values past the bound of a pass's.
            (
                "SELECT u, SUM(h), COUNT(h), SUM(i) FROM t GROUP BY u",
                true,
                false,
                true,
            ),
            (
                "SELECT u, SUM(h + h + h + h), COUNT(*) FROM t WHERE f > 0 GROUP BY u",
                true,
                true,
                true,
            ),
            (
                "SELECT v, SUM(CAST(i AS BIGINT)), COUNT(*) FROM t GROUP BY v",
                true,
                false,
                false,
            ),
            (
                "SELECT s, u, w, v, COUNT(*) FROM t GROUP BY s, u, w, v",
                false,
                false,
                false,
            ),
            (
                "SELECT UPPER(s), COUNT(*) FROM t GROUP BY UPPER(s)",
                false,
                false,
                false,
            ),
            (
                "SELECT s, f, SUM(d * e) FROM t GROUP BY s, f",
                false,
                false,
                false,
            ),
        ] {
            let kernel = AggregateKernel::of_query(&source, sql);
            let ir = kernel.ir_before();
            assert_eq!(ir.contains("qjit_key_code"), grouped, "{sql}");
            assert_eq!(ir.contains("qjit_narrow_lanes"), lanes, "{sql}");
            assert_eq!(ir.contains("qjit_pass_sums"), sums, "{sql}");
            assert_compiled_as_interpreted(&source, sql);
        }
    }
}
