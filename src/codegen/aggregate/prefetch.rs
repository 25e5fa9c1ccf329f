//! Prefetching for sparse selections: the columns that only selected rows read skip most cache
//! lines, which defeats the hardware prefetcher, so while a word selects few rows the kernel
//! prefetches those columns' rows some words ahead.

use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::values::{BasicMetadataValueEnum, IntValue};
use inkwell::AddressSpace;

use crate::codegen::lower::Params;
use crate::codegen::skeleton::{column_slots, COLUMN_PARAMS};
use crate::codegen::{CodegenError, ColumnSlot, PARAMS_SLOT};
use crate::error::Error;
use crate::ir::Expr;

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
pub(super) const SPARSE_SELECTED: u64 = 16;

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
pub(super) fn prefetch_words<'ctx>(
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

/// The columns (slot, bytes per row) that only the rows `filter` selects read, as many as fit
/// [`PREFETCH_LINES`]: without a filter, every row reads every column and there are none.
pub(super) fn sparse_columns(filter: Option<&Expr>, columns: &[ColumnSlot]) -> Vec<(usize, u64)> {
    match filter {
        None => vec![],
        Some(f) => {
            let in_filter = column_slots(&[f], &Params::default());
            let mut lines = 0;
            columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !in_filter.iter().any(|f| f.index == c.index))
                .filter(|(_, c)| c.index != PARAMS_SLOT)
                .filter_map(|(k, c)| Some((k, streamed_bytes(&c.data_type)?)))
                .take_while(|&(_, bytes)| {
                    lines += bytes;
                    lines <= PREFETCH_LINES
                })
                .collect()
        }
    }
}
