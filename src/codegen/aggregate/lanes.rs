//! A word's decimal arguments computed in vector lanes before its updates (with `grouped`).
//!
//! Row by row, the update computes Q1's `price * (1 - discount) * (1 + tax)` with an overflow
//! test per operation and hands a row back where one fails: about twenty instructions a row,
//! none of them in vector registers. When a word finds its group ids first (`grouped`), it can
//! as well compute the arguments that have a narrow form (arithmetic, not bare columns) for all
//! its 64 rows in a loop that LLVM vectorizes, and the update of each selected row then reads
//! them:
//!
//! ```text
//! for j in 0..64 (vectorized):  values[k][j] = narrow form k of row base + j
//!                               bad |= selected(j) & !ok(k, j)          (qjit_narrow_lanes)
//! bad ?  each selected row's update as before (it computes, hands back or fails)
//!     :  each selected row's update with values[k][j] (the same update row function, told by
//!        a flag: nothing to hand back; the validity is that of the argument's columns)
//! ```
//!
//! In lanes a product's operands must fit 32 bits, and a rescale compares its operand with the
//! largest that fits (`Lowerer::narrow_in_lanes`): where the lanes say `ok`, the value is the
//! one the row computes, and a word with any other row takes the row path, so the state, the
//! hand-backs and the errors are those of the rows one by one.

use std::collections::HashMap;

use inkwell::attributes::Attribute;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::row_lowerer;
use crate::codegen::lower::has_narrow_form;
use crate::codegen::skeleton::{current_block, word_loop};
use crate::codegen::{CodegenError, ColumnSlot, Params};
use crate::error::Error;
use crate::ir::{Expr, SqlType};

/// The symbol of the lanes row function.
const LANES_ROW: &str = "qjit_narrow_lanes";

/// The arguments a word computes in lanes: those with a narrow form that are not a bare column
/// or literal, each with its place in the word's arrays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LanesPlan {
    /// Indices into the aggregation's arguments, in evaluation order; argument `narrow[k]`'s
    /// values are row `k` of the arrays.
    pub narrow: Vec<usize>,
}

impl LanesPlan {
    /// The plan of arguments `args` evaluated in `order`, if the update evaluates them
    /// speculatively (`speculating`) and some are arithmetic.
    pub(super) fn of(args: &[&Expr], order: &[usize], speculating: bool) -> Option<LanesPlan> {
        let leaf = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(_));
        let narrow: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| args.get(i).is_some_and(|e| !leaf(e) && has_narrow_form(e)))
            .collect();
        let unsigned = narrow.iter().any(|&i| args[i].ty() == SqlType::UInt64);
        (speculating && !narrow.is_empty() && !unsigned).then_some(LanesPlan { narrow })
    }
}

/// A word's array of values (`i64`), 64 entries per argument of the plan.
pub(super) struct LanesWord<'ctx> {
    pub values: PointerValue<'ctx>,
}

impl<'ctx> LanesWord<'ctx> {
    /// The arrays, allocated where the builder is (the entry block).
    pub(super) fn alloca(
        ctx: &'ctx Context,
        b: &Builder<'ctx>,
        plan: &LanesPlan,
    ) -> Result<Self, CodegenError> {
        let n = 64 * plan.narrow.len() as u32;
        Ok(LanesWord {
            values: b.build_alloca(ctx.i64_type().array_type(n), "lane_values")?,
        })
    }

    /// The array's entry of row `j` of the word (argument `k` is `64 * k` further on).
    pub(super) fn at(
        &self,
        ctx: &'ctx Context,
        b: &Builder<'ctx>,
        j: IntValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        // SAFETY (of the generated code): `j` < 64, and the array has 64 entries per argument.
        Ok(unsafe { b.build_in_bounds_gep(ctx.i64_type(), self.values, &[j], "lane_values_at")? })
    }
}

/// Builds `qjit_narrow_lanes(row, sel, values, columns…) -> i64`: stores each planned
/// argument's narrow form of `row` at `values[64 k]` (garbage where NULL), and returns `sel`
/// where one is not `ok` (else 0). `bound`: a value `2^bound` or more in size is not `ok`
/// either (the word's passes sum them, see `sums`).
#[allow(clippy::too_many_arguments)]
pub(super) fn lanes_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    plan: &LanesPlan,
    bound: Option<u64>,
    args: &[&Expr],
    (columns, slot_of, params): (&[ColumnSlot], HashMap<usize, usize>, &Params),
    attrs: &[Attribute],
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let leading: [BasicMetadataTypeEnum; 3] = [i64t.into(), i64t.into(), ptr.into()];
    let (f, lead, mut lowerer) = row_lowerer(
        ctx,
        module,
        b,
        LANES_ROW,
        i64t,
        &leading,
        (columns, slot_of, params),
        attrs,
    )?;
    let sel = lead[1].into_int_value();
    let values = lead[2].into_pointer_value();
    lowerer.narrow_in_lanes();
    let mut ok = ctx.bool_type().const_int(1, false);
    for (k, &i) in plan.narrow.iter().enumerate() {
        let e = args
            .get(i)
            .ok_or_else(|| Error::internal("a lane's argument is missing"))?;
        let n = lowerer.lower_narrow(e)?;
        ok = b.build_and(ok, n.ok, "lanes_ok")?;
        if let Some(bits) = bound {
            // |value| < 2^bits: value + 2^bits < 2^(bits + 1), unsigned (NULLs need not).
            let biased =
                b.build_int_add(n.value, i64t.const_int(1 << bits, false), "lane_biased")?;
            let within = b.build_int_compare(
                IntPredicate::ULT,
                biased,
                i64t.const_int(1 << (bits + 1), false),
                "lane_within",
            )?;
            let null = b.build_not(n.valid, "lane_null")?;
            ok = b.build_and(ok, b.build_or(within, null, "lane_bounded")?, "lanes_ok")?;
        }
        let at = i64t.const_int(64 * k as u64, false);
        // SAFETY (of the generated code): the array has 64 entries per argument from row 0
        // of the word; `values` points at the row's.
        let v = unsafe { b.build_in_bounds_gep(i64t, values, &[at], "lane_value")? };
        b.build_store(v, n.value)?;
    }
    let not_ok = b.build_int_z_extend(b.build_not(ok, "lanes_not_ok")?, i64t, "lanes_bad")?;
    b.build_return(Some(&b.build_and(not_ok, sel, "lanes_bad_row")?))?;
    Ok(f)
}

/// Emits, from the current block, the lanes loop of the word `selected` at `base` when `take`
/// (it finds its groups a group at a time, see `grouped`): `lanes_fn` over its 64 rows into
/// `lw`. Returns whether its rows read their arguments there (`i64`: 1 when the word took the
/// loop and no selected row was `bad`, else 0; a flag rather than a null pointer, so that LLVM
/// sees the array escape nowhere and vectorizes without checking it against the columns).
/// The builder continues after.
pub(super) fn lanes_word<'ctx>(
    ctx: &'ctx Context,
    b: &Builder<'ctx>,
    f: FunctionValue<'ctx>,
    (lanes_fn, lw): (FunctionValue<'ctx>, &LanesWord<'ctx>),
    (selected, base, take): (IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>),
    args: &[BasicMetadataValueEnum<'ctx>],
) -> Result<IntValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let c = |v: u64| i64t.const_int(v, false);
    let start = current_block(b)?;
    let rows = ctx.append_basic_block(f, "lanes");
    let joined = ctx.append_basic_block(f, "lanes_joined");
    b.build_conditional_branch(take, rows, joined)?;
    b.position_at_end(rows);
    let bad = word_loop(ctx, b, f, "lane", &[c(0)], |j, carried| {
        let i = b.build_int_add(base, j, "lane_i")?;
        let shifted = b.build_right_shift(selected, j, false, "lane_shifted")?;
        let sel = b.build_and(shifted, c(1), "lane_sel")?;
        let mut a: Vec<BasicMetadataValueEnum> =
            vec![i.into(), sel.into(), lw.at(ctx, b, j)?.into()];
        a.extend(args.iter().copied());
        let r = b
            .build_call(lanes_fn, &a, "lanes")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("the lanes function returns nothing"))?
            .into_int_value();
        Ok(vec![b.build_or(carried[0], r, "lanes_bad2")?])
    })?;
    let clean = b.build_int_compare(IntPredicate::EQ, bad[0], c(0), "lanes_ok")?;
    let clean = b.build_int_z_extend(clean, i64t, "lanes_use")?;
    let done = current_block(b)?;
    b.build_unconditional_branch(joined)?;
    b.position_at_end(joined);
    let on = b.build_phi(i64t, "lanes_on")?;
    on.add_incoming(&[(&c(0), start), (&clean, done)]);
    Ok(on.as_basic_value().into_int_value())
}
