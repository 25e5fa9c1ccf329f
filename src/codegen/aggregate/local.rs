//! The first groups' counts and exact sums in a table on the kernel's stack.
//!
//! A `GROUP BY` with few groups (Q1 has 4) updates the same handful of accumulators on every
//! row. In the state they are one vector per slot, so a row's update needs one base address
//! per slot: with Q1's six slots and its seven columns that is more addresses than the machine
//! has registers, and the kernel reloaded them from the stack on every row. In this table a
//! group's counts and exact sums are one record (`stride` bytes) at `local + group * stride`,
//! addressed from the stack pointer with no base register at all.
//!
//! ```text
//! update row:  group < groups ? record(group).slot += value : vector(slot)[group] += value
//! batch end, hand-back:  for group < min(groups found, groups): vector(slot)[group] += record(group).slot
//! batch start:  the table zeroed
//! ```
//!
//! Only slots whose merge is an exact integer addition go there, each an `i64`:
//! [`SlotKind::Rows`], [`SlotKind::Count`] and [`SlotKind::ExactSum`] of 64-bit values, whose
//! partial sum adds with one overflow test (a row that overflows it moves the partial sum into
//! the state's `i128`, see `Lowerer::accumulate_local`). Float sums keep the interpreter's
//! order of additions, and extremes their has-value bytes, in the state itself. The table is
//! flushed wherever the kernel writes its group count back (the end of the batch, a
//! hand-back), so the state the executor and the interpreter see is the same as without it.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::context::Context;
use inkwell::module::{Linkage, Module};
use inkwell::values::{FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::layout::{AggregateLayout, SlotKind};
use crate::codegen::CodegenError;
use crate::error::Error;

/// Bytes the table may take on the stack (it is zeroed once per batch).
const TABLE_BYTES: u64 = 4096;

/// Groups the table holds at most.
const TABLE_GROUPS: u64 = 16;

/// Where each eligible slot of the first groups lives on the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LocalTable {
    /// Groups with a record: ids below this.
    pub groups: u64,
    /// Bytes per record (a multiple of 16).
    pub stride: u64,
    /// The slots kept here, each at its offset in a record.
    pub slots: Vec<LocalSlot>,
}

/// A slot kept in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LocalSlot {
    /// Index into [`AggregateLayout::slots`].
    pub slot: usize,
    /// Byte offset in a record.
    pub offset: u64,
    /// A partial exact sum, added into the state's `i128`; else a count.
    pub sum: bool,
}

impl LocalTable {
    /// The table of a keyed aggregation, if any of its slots can live there; `word[n]`: slot
    /// `n`'s argument fits a signed 64-bit word.
    pub(super) fn plan(layout: &AggregateLayout, word: &[bool]) -> Option<LocalTable> {
        layout.keys.as_ref()?;
        let mut slots = vec![];
        for (n, slot) in layout.slots.iter().enumerate() {
            let sum = match slot.kind {
                SlotKind::Rows | SlotKind::Count => false,
                SlotKind::ExactSum if word.get(n).copied().unwrap_or(false) => true,
                _ => continue,
            };
            slots.push(LocalSlot {
                slot: n,
                offset: 8 * slots.len() as u64,
                sum,
            });
        }
        if slots.is_empty() {
            return None;
        }
        let offset = 8 * slots.len() as u64;
        let stride = offset.next_multiple_of(16);
        let groups = TABLE_GROUPS.min(TABLE_BYTES / stride);
        (groups > 0).then_some(LocalTable {
            groups,
            stride,
            slots,
        })
    }

    /// The table's bytes.
    pub(super) fn bytes(&self) -> u64 {
        self.groups * self.stride
    }

    /// Where slot `n` lives in a record, if here.
    pub(super) fn slot(&self, n: usize) -> Option<LocalSlot> {
        self.slots.iter().find(|s| s.slot == n).copied()
    }
}

impl LocalSlot {
    /// The slot's word in the group record at `record`.
    pub(super) fn at<'ctx>(
        &self,
        ctx: &'ctx Context,
        b: &inkwell::builder::Builder<'ctx>,
        record: PointerValue<'ctx>,
    ) -> Result<PointerValue<'ctx>, CodegenError> {
        let offset = ctx.i64_type().const_int(self.offset, false);
        // SAFETY (of the generated code): the slot's offset is inside the record.
        Ok(unsafe { b.build_in_bounds_gep(ctx.i8_type(), record, &[offset], "local_slot")? })
    }
}

/// The function `qjit_flush_table(local, vectors, found)` that adds the records of the groups
/// below `min(found, table.groups)` into the state's vectors (`vectors`: the state's array of
/// vector pointers). It runs once per batch over at most 16 groups, so it is compiled without
/// optimization (`optnone`, never inlined): optimized, LLVM vectorized its loop with runtime
/// alias checks in each of its two call sites, 5 ms of Q1's and Q15's compile time.
pub(super) fn flush_function<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    table: &LocalTable,
    layout: &AggregateLayout,
) -> Result<FunctionValue<'ctx>, CodegenError> {
    let i64t = ctx.i64_type();
    let ptr = ctx.ptr_type(AddressSpace::default());
    let ty = ctx
        .void_type()
        .fn_type(&[ptr.into(), ptr.into(), i64t.into()], false);
    let f = module.add_function("qjit_flush_table", ty, Some(Linkage::Private));
    for name in ["noinline", "optnone", "nounwind"] {
        f.add_attribute(
            AttributeLoc::Function,
            ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0),
        );
    }
    let b = ctx.create_builder();
    b.position_at_end(ctx.append_basic_block(f, "entry"));
    let param = |n: u32| {
        f.get_nth_param(n)
            .ok_or_else(|| Error::internal("the flush function lost a parameter"))
    };
    let (local, vectors, found) = (
        param(0)?.into_pointer_value(),
        param(1)?.into_pointer_value(),
        param(2)?.into_int_value(),
    );
    let mut globals = vec![ptr.const_null(); layout.vectors.len()];
    for s in &table.slots {
        let v = layout
            .slots
            .get(s.slot)
            .ok_or_else(|| Error::internal("a local slot without its state"))?
            .first_vector;
        // SAFETY (of the generated code): `vectors` has one pointer per state vector.
        let p = unsafe {
            b.build_in_bounds_gep(ptr, vectors, &[i64t.const_int(v as u64, false)], "vp")?
        };
        globals[v] = b.build_load(ptr, p, "vector")?.into_pointer_value();
    }
    flush(ctx, &b, f, table, local, &globals, layout, found)?;
    b.build_return(None)?;
    Ok(f)
}

/// Adds the records of the groups below `min(found, table.groups)` into the state's vectors
/// (`globals`, one per state vector); the builder continues after the loop.
#[allow(clippy::too_many_arguments)]
fn flush<'ctx>(
    ctx: &'ctx Context,
    b: &inkwell::builder::Builder<'ctx>,
    function: FunctionValue<'ctx>,
    table: &LocalTable,
    local: PointerValue<'ctx>,
    globals: &[PointerValue<'ctx>],
    layout: &AggregateLayout,
    found: IntValue<'ctx>,
) -> Result<(), CodegenError> {
    let i64t = ctx.i64_type();
    let i128t = ctx.i128_type();
    let lost = || Error::internal("the builder lost its block");
    let cap = i64t.const_int(table.groups, false);
    let few = b.build_int_compare(IntPredicate::ULT, found, cap, "flush_few")?;
    let n = b
        .build_select(few, found, cap, "flush_groups")?
        .into_int_value();
    let before = b.get_insert_block().ok_or_else(lost)?;
    let head = ctx.append_basic_block(function, "flush_head");
    let body = ctx.append_basic_block(function, "flush_body");
    let after = ctx.append_basic_block(function, "flush_done");
    b.build_unconditional_branch(head)?;
    b.position_at_end(head);
    let g = b.build_phi(i64t, "flush_group")?;
    g.add_incoming(&[(&i64t.const_zero(), before)]);
    let group = g.as_basic_value().into_int_value();
    let more = b.build_int_compare(IntPredicate::ULT, group, n, "flush_more")?;
    b.build_conditional_branch(more, body, after)?;
    b.position_at_end(body);
    let at = b.build_int_mul(
        group,
        i64t.const_int(table.stride, false),
        "flush_record_at",
    )?;
    // SAFETY (of the generated code): `group` < `table.groups`, so the record is in the table.
    let record = unsafe { b.build_in_bounds_gep(ctx.i8_type(), local, &[at], "flush_record")? };
    for s in &table.slots {
        let v = layout
            .slots
            .get(s.slot)
            .map(|slot| slot.first_vector)
            .and_then(|v| globals.get(v))
            .ok_or_else(|| Error::internal("a local slot without its state vector"))?;
        let p = s.at(ctx, b, record)?;
        let part = b.build_load(i64t, p, "flush_part")?.into_int_value();
        let (t, part) = match s.sum {
            true => (i128t, b.build_int_s_extend(part, i128t, "flush_part128")?),
            false => (i64t, part),
        };
        // SAFETY (of the generated code): every vector has an entry per group found.
        let q = unsafe { b.build_in_bounds_gep(t, *v, &[group], "flush_total_ptr")? };
        let total = b.build_load(t, q, "flush_total")?.into_int_value();
        b.build_store(q, b.build_int_add(total, part, "flush_sum")?)?;
    }
    let next = b.build_int_add(group, i64t.const_int(1, false), "flush_next")?;
    let latch = b.get_insert_block().ok_or_else(lost)?;
    b.build_unconditional_branch(head)?;
    g.add_incoming(&[(&next, latch)]);
    b.position_at_end(after);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Decimal128Array, Int32Array, Int64Array, RecordBatch, StringViewArray, UInt64Array,
    };
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::exec::Source;
    use crate::jit::{assert_compiled_as_interpreted, AggregateKernel};

    /// Batches of 700, 1, 64 and 2500 rows: a key `k` of 4 values and one `m` of 40 (ids past
    /// the table's), a string key, `Int64` values near 2^62 (totals that do not fit), 18-digit
    /// decimals whose partial sums overflow an `i64` within a batch, a decimal whose squares
    /// need more than 18 digits at a few rows (a hand-back in a batch), and `UBIGINT` values
    /// past `i64::MAX`.
    fn table() -> Source {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("m", DataType::Int64, false),
            Field::new("s", DataType::Utf8View, true),
            Field::new("x", DataType::Int64, true),
            Field::new("y", DataType::Int64, false),
            Field::new("d", DataType::Decimal128(18, 0), true),
            Field::new("e", DataType::Decimal128(18, 0), true),
            Field::new("u", DataType::UInt64, true),
        ]));
        let mut first = 0i64;
        let batches = [700i64, 1, 64, 2500]
            .iter()
            .map(|&n| {
                let rows = first..first + n;
                first += n;
                let k: Int32Array = rows
                    .clone()
                    .map(|r| (r % 11 != 4).then_some((r % 4) as i32))
                    .collect();
                let m: Int64Array = rows.clone().map(|r| Some((r * 7) % 40)).collect();
                let s: StringViewArray = rows
                    .clone()
                    .map(|r| (r % 13 != 1).then(|| ["A", "N", "R"][(r % 3) as usize].to_string()))
                    .collect();
                let big = 1i64 << 62;
                let x: Int64Array = rows
                    .clone()
                    .map(|r| (r % 9 != 3).then_some(if r % 2 == 0 { big + r } else { big / 3 - r }))
                    .collect();
                let y: Int64Array = rows
                    .clone()
                    .map(|r| Some(if r % 5 == 0 { -big + r } else { big / 7 + r }))
                    .collect();
                let d: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        (r % 17 != 8).then_some(if r % 601 == 300 {
                            10i128.pow(15)
                        } else {
                            i128::from(r)
                        })
                    })
                    .collect();
                let d = d.with_precision_and_scale(18, 0).unwrap();
                // 18 digits: partial sums of a few rows overflow 64 bits, the total fits
                // `DECIMAL(38, 0)`.
                let e: Decimal128Array = rows
                    .clone()
                    .map(|r| {
                        let v = 9 * 10i128.pow(17) - i128::from(r);
                        (r % 23 != 6).then_some(if r % 7 == 3 { -v } else { v })
                    })
                    .collect();
                let e = e.with_precision_and_scale(18, 0).unwrap();
                // Past `i64::MAX`: not a signed word.
                let u: UInt64Array = rows
                    .clone()
                    .map(|r| (r % 19 != 2).then_some(u64::MAX - r as u64))
                    .collect();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(k),
                        Arc::new(m),
                        Arc::new(s),
                        Arc::new(x),
                        Arc::new(y),
                        Arc::new(d),
                        Arc::new(e),
                        Arc::new(u),
                    ],
                )
                .unwrap()
            })
            .collect();
        Source::batches("t", schema, batches).with_morsel_rows(1000)
    }

    /// Kernels that keep their first groups' counts and exact sums on the stack give the
    /// interpreter's answers and errors, on 1 and 2 threads: few groups and more than the
    /// table holds, NULL keys and values, partial sums that overflow 64 bits, totals that do
    /// not fit, hand-backs in the middle of a batch, and slots the table does not keep.
    #[test]
    fn kernels_with_a_table_of_the_first_groups_answer_as_the_interpreter() {
        let source = table();
        for (sql, table) in [
            ("SELECT k, SUM(x), COUNT(*), COUNT(x) FROM t GROUP BY k ORDER BY k", true),
            ("SELECT k, SUM(e), AVG(e), COUNT(e) FROM t GROUP BY k ORDER BY k", true),
            ("SELECT m, SUM(e), SUM(d * d) FROM t GROUP BY m ORDER BY m", true),
            ("SELECT k, SUM(u), COUNT(u), SUM(e) FROM t GROUP BY k ORDER BY k", true),
            ("SELECT m, SUM(y), SUM(x), COUNT(x) FROM t GROUP BY m ORDER BY m", true),
            ("SELECT s, k, SUM(y), AVG(y), MIN(x), SUM(d * d) FROM t GROUP BY s, k ORDER BY s, k", true),
            ("SELECT m, SUM(d * d), COUNT(d), MAX(s) FROM t WHERE k > 0 GROUP BY m ORDER BY m", true),
            ("SELECT k, SUM(CAST(y AS DOUBLE)), MIN(y), COUNT(*) FROM t GROUP BY k ORDER BY k", true),
            ("SELECT k, SUM(CAST(y AS DOUBLE)), MIN(y) FROM t GROUP BY k ORDER BY k", false),
            ("SELECT SUM(y), COUNT(*) FROM t", false),
        ] {
            let kernel = AggregateKernel::of_query(&source, sql);
            assert_eq!(kernel.ir_before().contains("local_table"), table, "{sql}");
            assert_compiled_as_interpreted(&source, sql);
        }
    }
}
