//! Prefetching for sparse selections. The columns that only selected rows read skip most cache
//! lines, which defeats the hardware prefetcher: every selected row would wait for memory
//! (TPC-H Q6 selects 2% of its rows and spent most of its time in the load of
//! `l_extendedprice`). So the selection runs [`AHEAD_WORDS`] words ahead of the updates, and
//! while it is sparse the kernel prefetches the cache lines of exactly the rows it selects.
//!
//! Streaming such columns whole instead (every cache line of the words ahead, as the kernels
//! did before) measured slower: one thread, SF1 in memory, Q14 selecting 1.3% of its rows took
//! 14–16 ms streaming (one of its three such columns or all of them) and 5.5 ms prefetching its
//! rows; Q15 (3.6%) 14–17 ms and 9 ms; Q6 (2%, one column) 12–14 ms and 11.5–13 ms.

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{BasicMetadataValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::AddressSpace;

use crate::codegen::lower::Params;
use crate::codegen::skeleton::{column_slots, COLUMN_PARAMS};
use crate::codegen::{CodegenError, ColumnSlot, PARAMS_SLOT};
use crate::error::Error;
use crate::ir::Expr;

/// How many words (of 64 rows) the selection runs ahead of the updates: 8 words are about
/// 1 µs of a sparse selection, several memory accesses' time on a loaded machine (4 words
/// measured the same or up to 10% slower on Q14, Q15 and Q19).
pub(super) const AHEAD_WORDS: u64 = 8;

/// The most columns a kernel prefetches (the first ones): each costs a prefetch per selected
/// row.
const PREFETCH_COLUMNS: usize = 8;

/// A word that selects fewer rows than this is sparse and its rows are prefetched; a denser
/// one reads (nearly) every cache line, in order, which the hardware prefetcher follows by
/// itself.
pub(super) const SPARSE_SELECTED: u64 = 16;

/// The bytes per row of a column of type `dt` that a prefetch fetches (its values or views), or
/// `None` where there is no fixed-width array to prefetch (offsets-and-bytes strings, bits).
fn prefetched_bytes(dt: &arrow::datatypes::DataType) -> Option<u64> {
    use arrow::datatypes::DataType;
    match dt {
        DataType::Utf8View => Some(16),
        DataType::Boolean => None,
        dt => dt.primitive_width().map(|w| w as u64),
    }
}

/// The columns (slot, bytes per row) that only the rows `filter` selects read, at most
/// [`PREFETCH_COLUMNS`]: without a filter, every row reads every column and there are none.
pub(super) fn sparse_columns(filter: Option<&Expr>, columns: &[ColumnSlot]) -> Vec<(usize, u64)> {
    let Some(f) = filter else {
        return vec![];
    };
    let in_filter = column_slots(&[f], &Params::default());
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| !in_filter.iter().any(|f| f.index == c.index))
        .filter(|(_, c)| c.index != PARAMS_SLOT)
        .filter_map(|(k, c)| Some((k, prefetched_bytes(&c.data_type)?)))
        .take(PREFETCH_COLUMNS)
        .collect()
}

/// Emits a prefetch of row `i` of each `sparse` column (slot, bytes per row): the cache line of
/// its value (or view), for reading, into every cache level. A prefetch of a line already
/// fetched or in flight costs an instruction.
pub(super) fn prefetch_row<'ctx>(
    ctx: &'ctx Context,
    module: &Module<'ctx>,
    b: &inkwell::builder::Builder<'ctx>,
    args: &[BasicMetadataValueEnum<'ctx>],
    sparse: &[(usize, u64)],
    i: IntValue<'ctx>,
) -> Result<(), CodegenError> {
    let i32t = ctx.i32_type();
    let prefetch: FunctionValue = inkwell::intrinsics::Intrinsic::find("llvm.prefetch")
        .and_then(|f| f.get_declaration(module, &[ctx.ptr_type(AddressSpace::default()).into()]))
        .ok_or_else(|| Error::internal("LLVM has no llvm.prefetch"))?;
    for &(k, bytes) in sparse {
        let arg = |n: usize| {
            args.get(k * COLUMN_PARAMS + n)
                .copied()
                .ok_or_else(|| Error::internal(format!("column {k} has no parameter {n}")))
        };
        let values: PointerValue = arg(0)?.into_pointer_value();
        let row = b.build_int_add(arg(4)?.into_int_value(), i, "prefetch_row")?;
        // SAFETY (of the generated code): an address to prefetch, never dereferenced (row `i`
        // is a row of the batch, so it lies in the column's buffer).
        let p = unsafe {
            b.build_gep(
                ctx.i8_type().array_type(bytes as u32),
                values,
                &[row],
                "prefetch_at",
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int32Array, Int64Array, RecordBatch, StringViewArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::exec::Source;
    use crate::jit::{assert_compiled_as_interpreted, AggregateKernel};

    /// Batches of 1000, 64, 1, 130 and 3000 rows whose filter column `f` selects words of every
    /// density: none, one row, a few, all. Columns the filter does not read: three `Int64`, a
    /// string view and a decimal whose squares need more than 18 digits at a few rows (a
    /// hand-back in the middle of a batch).
    fn table() -> Source {
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Int32, true),
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, false),
            Field::new("c", DataType::Int64, true),
            Field::new("s", DataType::Utf8View, true),
            Field::new("d", DataType::Decimal128(18, 0), true),
        ]));
        let mut first = 0i64;
        let batches = [1000i64, 64, 1, 130, 3000]
            .iter()
            .map(|&n| {
                let rows = first..first + n;
                first += n;
                let word_kind = |r: i64| (r / 64) % 5;
                let f: Int32Array = rows
                    .clone()
                    .map(|r| {
                        let selected = match word_kind(r) {
                            0 => false,
                            1 => r % 64 == 17,
                            2 => r % 13 == 0,
                            3 => r % 3 != 0,
                            _ => true,
                        };
                        (r % 41 != 7).then_some(if selected { 1 } else { 0 })
                    })
                    .collect();
                let a: Int64Array = rows
                    .clone()
                    .map(|r| (r % 9 != 2).then_some(r * 3))
                    .collect();
                let b: Int64Array = rows.clone().map(|r| Some(r % 7 - 3)).collect();
                let c: Int64Array = rows
                    .clone()
                    .map(|r| (r % 5 != 0).then_some(r % 4))
                    .collect();
                let s: StringViewArray = rows
                    .clone()
                    .map(|r| (r % 17 != 3).then(|| format!("group {}", r % 6)))
                    .collect();
                let d: Decimal128Array = rows
                    .map(|r| {
                        Some(if r % 997 == 5 {
                            10i128.pow(15)
                        } else {
                            i128::from(r)
                        })
                    })
                    .collect();
                let d = d.with_precision_and_scale(18, 0).unwrap();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(f),
                        Arc::new(a),
                        Arc::new(b),
                        Arc::new(c),
                        Arc::new(s),
                        Arc::new(d),
                    ],
                )
                .unwrap()
            })
            .collect();
        Source::batches("t", schema, batches).with_morsel_rows(1500)
    }

    /// Whether the kernel of `sql` runs its selection ahead of its updates.
    fn selects_ahead(source: &Source, sql: &str) -> bool {
        AggregateKernel::of_query(source, sql)
            .ir_before()
            .contains("lag_selected")
    }

    /// The kernels that prefetch (their selection runs words ahead of their updates) and the
    /// ones that do not give the interpreter's answers and errors, on 1 and 2 threads,
    /// with words of every density, batches shorter than the distance ahead, and hand-backs.
    #[test]
    fn kernels_that_select_ahead_answer_as_the_interpreter() {
        let source = table();
        for (sql, ahead) in [
            (
                "SELECT SUM(a), SUM(b), SUM(c), COUNT(*) FROM t WHERE f = 1",
                true,
            ),
            (
                "SELECT s, SUM(a), SUM(b * c), COUNT(c) FROM t WHERE f = 1 GROUP BY s",
                true,
            ),
            (
                "SELECT c, SUM(d * d), SUM(a), SUM(b) FROM t WHERE f > 0 GROUP BY c",
                true,
            ),
            // Every column in the filter: nothing to prefetch.
            ("SELECT SUM(f), COUNT(*) FROM t WHERE f = 1", false),
            // The filter fails at a row (division by zero) ahead of the updates.
            (
                "SELECT SUM(a), SUM(c), COUNT(s) FROM t WHERE 10 / (b + 3) > f",
                true,
            ),
        ] {
            assert_eq!(selects_ahead(&source, sql), ahead, "{sql}");
            assert_compiled_as_interpreted(&source, sql);
        }
    }
}
