//! A word's rows of one group summed in the pass that finds them (with `grouped`).
//!
//! After `grouped` and `lanes`, Q1 still updated its accumulators one selected row at a time:
//! the group's record, seven additions with a jump on overflow each, the arguments read back
//! from the lanes, about forty-five instructions a row, none of them in vector registers. But
//! a pass of `grouped` already compares every row of the word with the pass's first row in a
//! vectorized loop; that loop can as well sum the arguments of the rows it finds:
//!
//! ```text
//! pass (group g, its first row's code):
//!   on and g has a record in the table of the first groups (`local`):
//!     for j in 0..64 (vectorized):  take = codes[j] == code        (unselected rows: no code)
//!                                   same |= take << j
//!                                   count[k] += take & valid(k, j);  sum[k] += take & valid ? value(k, j) : 0
//!     record(g).rows += popcount(same);  record(g).count += count;  record(g).sum += sum
//!     (a partial sum that leaves 64 bits moves into the state's i128, as a row's does)
//!     the pass's rows are done, and need no group id
//!   else: the pass of `grouped`, which gives its rows their group id
//! then: the update row function for each selected row not done (single rows, groups past the
//!       table, rows after the last pass)
//! ```
//!
//! `on` says that no selected row of the word can fail or hand back (the lanes found every
//! computed argument `ok`, or there are none), so the order in which rows reach the
//! accumulators changes nothing: counts and exact sums add the same in any order, and a plan
//! exists only when every slot is one of them ([`SumsPlan::of`]). A word that is not `on`
//! updates every selected row by itself as before.
//!
//! Each value is below 2^57 in size (an argument's type says so for columns and literals, the
//! lanes check it for computed arguments), so the 64 terms of a pass cannot leave 64 bits.

use std::collections::HashMap;

use inkwell::attributes::Attribute;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum, StructType};
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::lanes::{LanesPlan, LanesWord};
use super::layout::{AggregateLayout, SlotKind};
use super::local::LocalTable;
use super::narrow_columns;
use super::row_lowerer;
use crate::codegen::skeleton::intrinsic;
use crate::codegen::{CodegenError, ColumnSlot, Params};
use crate::error::Error;
use crate::ir::{Expr, SqlType};

/// A value a pass sums is below `2^BOUND_BITS` in size: 64 of them fit an `i64`.
pub(super) const BOUND_BITS: u64 = 57;

/// The symbol of the pass sums row function.
const SUMS_ROW: &str = "qjit_pass_sums";

/// What a row adds to its pass's sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    /// Slot `slot` counts the rows whose argument `arg` is valid.
    Count { slot: usize, arg: usize },
    /// Slot `slot` sums argument `arg` exactly.
    Sum { slot: usize, arg: usize },
}

/// The slots of an aggregation whose passes sum their rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SumsPlan {
    /// The parts the row function returns, in order.
    pub parts: Vec<Part>,
    /// Slots that count rows (`COUNT(*)`): a pass's popcount.
    pub rows: Vec<usize>,
}

impl SumsPlan {
    /// The plan of a keyed aggregation whose words find their groups a group at a time, if
    /// every slot is a count or an exact sum that the table of the first groups keeps, and
    /// every argument is a column or literal (a sum's of a type below `2^BOUND_BITS`) or is
    /// computed in `lanes` (which then check the bound).
    pub(super) fn of(
        layout: &AggregateLayout,
        args: &[&Expr],
        lanes: Option<&LanesPlan>,
        table: Option<&LocalTable>,
    ) -> Option<SumsPlan> {
        let table = table?;
        let leaf = |e: &Expr| matches!(e, Expr::Column(_) | Expr::Literal(_));
        let in_lanes = |i: usize| lanes.is_some_and(|p| p.narrow.contains(&i));
        // Every argument, a slot's or not: none may fail where the word is `on`.
        if !(0..args.len()).all(|i| leaf(args[i]) || in_lanes(i)) {
            return None;
        }
        let mut plan = SumsPlan {
            parts: vec![],
            rows: vec![],
        };
        for (n, slot) in layout.slots.iter().enumerate() {
            table.slot(n)?;
            match (slot.kind, slot.arg) {
                (SlotKind::Rows, _) => plan.rows.push(n),
                (SlotKind::Count, Some(arg)) => plan.parts.push(Part::Count { slot: n, arg }),
                (SlotKind::ExactSum, Some(arg)) if in_lanes(arg) || bounded(args[arg].ty()) => {
                    plan.parts.push(Part::Sum { slot: n, arg })
                }
                _ => return None,
            }
        }
        Some(plan)
    }
}

/// Whether every value of `ty` is below `2^BOUND_BITS` in size.
fn bounded(ty: SqlType) -> bool {
    match ty {
        // 10^17 < 2^57.
        SqlType::Decimal { precision, .. } => precision <= 17,
        SqlType::Int8 | SqlType::Int16 | SqlType::Int32 => true,
        SqlType::UInt8 | SqlType::UInt16 | SqlType::UInt32 => true,
        _ => false,
    }
}

/// Builds `qjit_pass_sums(row, take, lane, columns…) -> {i64 part…}`: each part of `plan` for
/// `row` (`take`: 1 when the row is the pass's, else 0; `lane`: the row's entry of the word's
/// lanes, read for the arguments `lanes` computes).
#[allow(clippy::too_many_arguments)]
pub(super) fn sums_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &Builder<'ctx>,
    plan: &SumsPlan,
    args: &[&Expr],
    lanes: Option<&LanesPlan>,
    (columns, slot_of, params): (&[ColumnSlot], HashMap<usize, usize>, &Params),
    attrs: &[Attribute],
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let ret = result_type(ctx, plan);
    let leading: [BasicMetadataTypeEnum; 3] = [i64t.into(), i64t.into(), ptr.into()];
    let (f, lead, mut lowerer) = row_lowerer(
        ctx,
        module,
        b,
        SUMS_ROW,
        ret,
        &leading,
        (columns, slot_of, params),
        attrs,
    )?;
    let take = lead[1].into_int_value();
    let lane = lead[2].into_pointer_value();
    // Each argument once: `take & valid` (0 or 1) and the value where so, else 0.
    let mut taken: HashMap<usize, (IntValue<'ctx>, IntValue<'ctx>)> = HashMap::new();
    let summed = |arg: usize| {
        plan.parts
            .iter()
            .any(|p| matches!(p, Part::Sum { arg: a, .. } if *a == arg))
    };
    for part in &plan.parts {
        let (Part::Count { arg, .. } | Part::Sum { arg, .. }) = *part;
        if taken.contains_key(&arg) {
            continue;
        }
        let e = args
            .get(arg)
            .ok_or_else(|| Error::internal("a pass part without its argument"))?;
        let lane_index = lanes.and_then(|p| p.narrow.iter().position(|&i| i == arg));
        let (value, valid) = match lane_index {
            Some(k) => {
                // As the update reads the lanes: the value computed there, NULL where one of
                // the argument's columns is.
                let mut valid = ctx.bool_type().const_int(1, false);
                for column in narrow_columns(e) {
                    valid = b.build_and(valid, lowerer.lower(column)?.valid, "pass_valid")?;
                }
                let at = i64t.const_int(64 * k as u64, false);
                // SAFETY (of the generated code): the word's array has 64 entries per
                // argument; `lane` points at the row's.
                let p = unsafe { b.build_in_bounds_gep(i64t, lane, &[at], "pass_lane_at")? };
                (b.build_load(i64t, p, "pass_lane")?.into_int_value(), valid)
            }
            None if summed(arg) => {
                let n = lowerer.lower_narrow(e)?;
                (n.value, n.valid)
            }
            // Counted only: its validity.
            None => (i64t.const_zero(), lowerer.lower(e)?.valid),
        };
        let valid = b.build_int_z_extend(valid, i64t, "pass_valid64")?;
        let took = b.build_and(valid, take, "pass_took")?;
        let mask = b.build_int_neg(took, "pass_mask")?;
        taken.insert(arg, (took, b.build_and(value, mask, "pass_value")?));
    }
    let mut out = ret.get_undef();
    for (k, part) in plan.parts.iter().enumerate() {
        let (Part::Count { arg, .. } | Part::Sum { arg, .. }) = *part;
        let (took, value) = taken
            .get(&arg)
            .copied()
            .ok_or_else(|| Error::internal("a pass part was not lowered"))?;
        let x = match part {
            Part::Count { .. } => took,
            Part::Sum { .. } => value,
        };
        out = b
            .build_insert_value(out, x, k as u32, "pass_out")?
            .into_struct_value();
    }
    b.build_return(Some(&out))?;
    Ok(f)
}

/// `{i64 part…}`.
fn result_type<'ctx>(ctx: &'ctx Context, plan: &SumsPlan) -> StructType<'ctx> {
    let fields: Vec<BasicTypeEnum> =
        std::iter::repeat_n(BasicTypeEnum::from(ctx.i64_type()), plan.parts.len()).collect();
    ctx.struct_type(&fields, false)
}

/// What the entry gives a word's passes to sum and fold their rows.
pub(super) struct PassSums<'a, 'ctx> {
    /// The pass sums row function and its plan.
    pub row_fn: FunctionValue<'ctx>,
    pub plan: &'a SumsPlan,
    /// `i64`, nonzero: the word's rows may reach the accumulators in any order (see the
    /// module docs); else its passes fold nothing.
    pub on: IntValue<'ctx>,
    /// The word's lanes, when the plan reads some.
    pub lanes: Option<&'a LanesWord<'ctx>>,
    /// The table of the first groups, where it is on the stack, and the state's vectors.
    pub table: &'a LocalTable,
    pub local: PointerValue<'ctx>,
    pub vectors: &'a [PointerValue<'ctx>],
    pub layout: &'a AggregateLayout,
}

impl<'ctx> PassSums<'_, 'ctx> {
    /// Emits, in a pass's loop, row `i` (`j` of its word)'s parts (`eq`: it is the pass's).
    pub(super) fn row(
        &self,
        ctx: &'ctx Context,
        b: &Builder<'ctx>,
        (i, j, eq): (IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>),
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> Result<Vec<IntValue<'ctx>>, CodegenError> {
        let i64t = ctx.i64_type();
        let lane = match self.lanes {
            Some(lw) => lw.at(ctx, b, j)?,
            None => ctx.ptr_type(AddressSpace::default()).const_null(),
        };
        let take = b.build_int_z_extend(eq, i64t, "pass_take")?;
        let mut a: Vec<BasicMetadataValueEnum> = vec![i.into(), take.into(), lane.into()];
        a.extend(args.iter().copied());
        let r = b
            .build_call(self.row_fn, &a, "pass_sums")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("the pass sums function returns nothing"))?
            .into_struct_value();
        (0..self.plan.parts.len())
            .map(|k| {
                Ok(b.build_extract_value(r, k as u32, "pass_part")?
                    .into_int_value())
            })
            .collect()
    }

    /// Emits whether a pass of group `g` sums and folds its rows (`i1`): the word is on and `g`
    /// has a record in the table of the first groups.
    pub(super) fn folds(
        &self,
        ctx: &'ctx Context,
        b: &Builder<'ctx>,
        g: IntValue<'ctx>,
    ) -> Result<IntValue<'ctx>, CodegenError> {
        let i64t = ctx.i64_type();
        let on = b.build_int_compare(IntPredicate::NE, self.on, i64t.const_zero(), "fold_on")?;
        let groups = i64t.const_int(self.table.groups, false);
        let here = b.build_int_compare(IntPredicate::ULT, g, groups, "fold_here")?;
        Ok(b.build_and(on, here, "fold_go")?)
    }

    /// Emits, after a pass of group `g` (where [`PassSums::folds`]) over the rows `rows` with
    /// `sums` (one per part), their fold into `g`'s record. The builder continues after.
    pub(super) fn fold(
        &self,
        ctx: &'ctx Context,
        module: &Module<'ctx>,
        b: &Builder<'ctx>,
        f: FunctionValue<'ctx>,
        (g, rows): (IntValue<'ctx>, IntValue<'ctx>),
        sums: &[IntValue<'ctx>],
    ) -> Result<(), CodegenError> {
        let i64t = ctx.i64_type();
        let i128t = ctx.i128_type();
        let c = |v: u64| i64t.const_int(v, false);
        let lost = || Error::internal("a call returns nothing");
        let at = b.build_int_mul(g, c(self.table.stride), "fold_record_at")?;
        // SAFETY (of the generated code): `g` < the table's groups.
        let record =
            unsafe { b.build_in_bounds_gep(ctx.i8_type(), self.local, &[at], "fold_record")? };
        let word = |slot: usize| -> Result<PointerValue<'ctx>, CodegenError> {
            let here = self
                .table
                .slot(slot)
                .ok_or_else(|| Error::internal("a pass slot outside the table"))?;
            here.at(ctx, b, record)
        };
        let add = |p: PointerValue<'ctx>, by: IntValue<'ctx>| -> Result<(), CodegenError> {
            let v = b.build_load(i64t, p, "fold_count")?.into_int_value();
            b.build_store(p, b.build_int_add(v, by, "fold_count2")?)?;
            Ok(())
        };
        if !self.plan.rows.is_empty() {
            let ctpop = intrinsic(module, "llvm.ctpop", i64t.into())?;
            let n = b
                .build_call(ctpop, &[rows.into()], "fold_rows")?
                .try_as_basic_value()
                .basic()
                .ok_or_else(lost)?
                .into_int_value();
            for &slot in &self.plan.rows {
                add(word(slot)?, n)?;
            }
        }
        let sadd = intrinsic(module, "llvm.sadd.with.overflow", i64t.into())?;
        for (part, &v) in self.plan.parts.iter().zip(sums) {
            match *part {
                Part::Count { slot, .. } => add(word(slot)?, v)?,
                Part::Sum { slot, .. } => {
                    // As a row's addition (`Lowerer::accumulate_local`): a partial sum that
                    // would leave 64 bits moves, with the addend, into the state's `i128`.
                    let p = word(slot)?;
                    let s = b.build_load(i64t, p, "fold_sum")?.into_int_value();
                    let r = b
                        .build_call(sadd, &[s.into(), v.into()], "fold_add")?
                        .try_as_basic_value()
                        .basic()
                        .ok_or_else(lost)?
                        .into_struct_value();
                    let s2 = b.build_extract_value(r, 0, "fold_sum2")?.into_int_value();
                    let o = b.build_extract_value(r, 1, "fold_over")?.into_int_value();
                    let spill = ctx.append_basic_block(f, "fold_spill");
                    let added = ctx.append_basic_block(f, "fold_added");
                    b.build_store(p, s2)?;
                    b.build_conditional_branch(o, spill, added)?;
                    b.position_at_end(spill);
                    let exact = b.build_int_add(
                        b.build_int_s_extend(s, i128t, "fold_sum128")?,
                        b.build_int_s_extend(v, i128t, "fold_addend128")?,
                        "fold_exact",
                    )?;
                    let total = self
                        .vectors
                        .get(self.layout.slots[slot].first_vector)
                        .copied()
                        .ok_or_else(|| Error::internal("a pass sum without its vector"))?;
                    // SAFETY (of the generated code): every vector has an entry per group.
                    let q = unsafe { b.build_in_bounds_gep(i128t, total, &[g], "fold_total_at")? };
                    let t = b.build_load(i128t, q, "fold_total")?.into_int_value();
                    b.build_store(q, b.build_int_add(t, exact, "fold_total2")?)?;
                    b.build_store(p, i64t.const_zero())?;
                    b.build_unconditional_branch(added)?;
                    b.position_at_end(added);
                }
            }
        }
        Ok(())
    }
}
