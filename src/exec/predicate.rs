//! A predicate over some of a table's columns, compiled or interpreted: what a Parquet scan
//! evaluates before it decodes the other columns ([`ScanFilter`]), and what
//! [`crate::Filter`] evaluates.
//!
//! ```text
//! Expr over the batch of `columns` ─compile_filter─▶ FilterKernel (or the interpreter)
//! batch of `columns` (in table order) ─mask─▶ BooleanArray (TRUE rows; NULL counts as FALSE)
//! ```

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::datatypes::{DataType, Date32Type, Decimal64Type, Int32Type, Int64Type, SchemaRef};

use super::{compile_filter, predicate_mask, PartEngine, QueryOptions, ScanFilter};
use crate::error::{Error, Result};
use crate::ir::{BinaryOp, ColumnRef, Expr, Literal, Scalar, SqlType};
use crate::jit::FilterKernel;

/// A predicate over the batch of some columns of a table.
#[derive(Debug)]
pub struct Predicate {
    /// The table's columns the predicate reads (indices into its schema, ascending).
    pub columns: Vec<usize>,
    /// The schema of the batch of `columns`.
    pub schema: SchemaRef,
    /// The predicate, over the batch of `columns`.
    pub expr: Expr,
    /// How it runs.
    pub engine: PartEngine,
    kernel: Option<Arc<FilterKernel>>,
}

impl Predicate {
    /// Compiles `expr` (over batches of `schema`, the table's `columns`) with the engine of
    /// `options`: with [`super::EngineKind::Auto`] a predicate that does not compile runs
    /// interpreted, with [`super::EngineKind::Jit`] it is an error naming the construct.
    pub fn compile(
        expr: Expr,
        columns: Vec<usize>,
        schema: SchemaRef,
        options: &QueryOptions,
    ) -> Result<Predicate> {
        let (engine, kernel) = compile_filter(&expr, &schema, options, false)?;
        Ok(Predicate {
            columns,
            schema,
            expr,
            engine,
            kernel: kernel.map(|(k, _)| k),
        })
    }

    /// The rows of `batch` (of the predicate's columns, in order) where the predicate is TRUE:
    /// a mask with no nulls. The batch's columns must have the types of [`Predicate::schema`]
    /// (an error naming the column otherwise).
    pub fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        check_columns(&self.schema, batch)?;
        if batch.num_rows() == 0 {
            return Ok(BooleanArray::from(Vec::<bool>::new()));
        }
        predicate_mask(&self.expr, self.kernel.as_deref(), batch)
    }

    /// The predicate as a [`ScanFilter`] for a Parquet scan of the table.
    pub fn scan_filter(self: Arc<Self>) -> ScanFilter {
        ScanFilter {
            columns: self.columns.clone(),
            keep: Arc::new(move |batch: &RecordBatch| self.mask(batch)),
        }
    }
}

/// Checks that `batch` has the columns of `schema`: as many, each of the same type, and no
/// NULL in a column declared NOT NULL (compiled code may not look at its validity).
pub(crate) fn check_columns(schema: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    let fields = schema.fields();
    if batch.num_columns() != fields.len() {
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        return Err(Error::Schema(format!(
            "the batch has {} columns, expected {} ({})",
            batch.num_columns(),
            fields.len(),
            names.join(", ")
        )));
    }
    for (field, column) in fields.iter().zip(batch.columns()) {
        if column.data_type() != field.data_type() {
            return Err(Error::Schema(format!(
                "column '{}' has type {}, expected {}",
                field.name(),
                column.data_type(),
                field.data_type()
            )));
        }
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(Error::Schema(format!(
                "column '{}' has NULLs, but it was declared NOT NULL when compiled",
                field.name()
            )));
        }
    }
    Ok(())
}

/// Conjuncts `column op constant` of a `WHERE` clause over integer, date and `Decimal64`
/// columns, as one closed range of values per column: a scan prefilter that needs no
/// compiling and costs a comparison pair per row ([`super::source::Scan::with_prefilter`]).
///
/// ```text
/// l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_quantity < 24
///   ─▶ l_shipdate ∈ [8766, 9130], l_quantity ∈ [i64::MIN, 2399]
/// ```
#[derive(Debug, PartialEq)]
pub struct Ranges {
    /// The table's columns (indices into its schema, ascending) and the range each keeps.
    pub columns: Vec<usize>,
    pub ranges: Vec<(i64, i64)>,
}

impl Ranges {
    /// The ranges that the conjuncts of `filter` (over the batch of `projection`, the table's
    /// columns) put on single columns, or `None` if no conjunct is such a comparison. A row
    /// outside them makes `filter` FALSE or NULL, never TRUE.
    pub fn of(filter: &Expr, projection: &[usize]) -> Option<Ranges> {
        let mut bounds: Vec<(usize, i64, i64)> = vec![];
        let mut todo = vec![filter];
        while let Some(e) = todo.pop() {
            let Expr::Binary {
                op, left, right, ..
            } = e
            else {
                continue;
            };
            if *op == BinaryOp::And {
                todo.push(left);
                todo.push(right);
                continue;
            }
            let (column, op, literal) = match (&**left, &**right) {
                (Expr::Column(c), Expr::Literal(l)) => (c, *op, l),
                (Expr::Literal(l), Expr::Column(c)) => (c, flip(*op), l),
                _ => continue,
            };
            let (Some(value), Some(&file_column)) =
                (comparable(column, literal), projection.get(column.index))
            else {
                continue;
            };
            let (lo, hi) = match op {
                BinaryOp::Eq => (value, value),
                BinaryOp::Lt => match value.checked_sub(1) {
                    Some(v) => (i64::MIN, v),
                    None => (1, 0),
                },
                BinaryOp::LtEq => (i64::MIN, value),
                BinaryOp::Gt => match value.checked_add(1) {
                    Some(v) => (v, i64::MAX),
                    None => (1, 0),
                },
                BinaryOp::GtEq => (value, i64::MAX),
                _ => continue,
            };
            bounds.push((file_column, lo, hi));
        }
        bounds.sort_unstable_by_key(|b| b.0);
        let mut ranges = Ranges {
            columns: vec![],
            ranges: vec![],
        };
        for (column, lo, hi) in bounds {
            match ranges.columns.last() {
                Some(&last) if last == column => {
                    if let Some(r) = ranges.ranges.last_mut() {
                        *r = (r.0.max(lo), r.1.min(hi));
                    }
                }
                _ => {
                    ranges.columns.push(column);
                    ranges.ranges.push((lo, hi));
                }
            }
        }
        (!ranges.columns.is_empty()).then_some(ranges)
    }

    /// The rows of `batch` (the columns of [`Ranges::columns`], in order) inside every range:
    /// a mask with no nulls (a NULL is outside).
    pub fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let n = batch.num_rows();
        let mut keep: Option<BooleanBuffer> = None;
        for (array, &(lo, hi)) in batch.columns().iter().zip(&self.ranges) {
            let inside = match array.data_type() {
                DataType::Int32 => within(array.as_primitive::<Int32Type>().values(), lo, hi),
                DataType::Date32 => within(array.as_primitive::<Date32Type>().values(), lo, hi),
                DataType::Int64 => within(array.as_primitive::<Int64Type>().values(), lo, hi),
                DataType::Decimal64(..) => {
                    within(array.as_primitive::<Decimal64Type>().values(), lo, hi)
                }
                other => {
                    return Err(Error::internal(format!("a range filter over {other}")));
                }
            };
            let inside = match array.logical_nulls() {
                Some(nulls) => &inside & nulls.inner(),
                None => inside,
            };
            keep = Some(match keep {
                Some(k) => &k & &inside,
                None => inside,
            });
        }
        Ok(BooleanArray::new(
            keep.unwrap_or_else(|| BooleanBuffer::new_set(n)),
            None,
        ))
    }

    /// The ranges as a [`ScanFilter`].
    pub fn scan_filter(self) -> ScanFilter {
        let ranges = Arc::new(self);
        ScanFilter {
            columns: ranges.columns.clone(),
            keep: Arc::new(move |batch: &RecordBatch| ranges.mask(batch)),
        }
    }
}

/// The rows whose value lies in `[lo, hi]`: 64 rows to a word, one unsigned comparison each
/// (`v - lo <= hi - lo` in wrapping arithmetic), a loop LLVM vectorizes.
fn within<T: Copy + Into<i64>>(values: &[T], lo: i64, hi: i64) -> BooleanBuffer {
    if lo > hi {
        return BooleanBuffer::new_unset(values.len());
    }
    let width = hi.wrapping_sub(lo) as u64;
    let words: Vec<u64> = values
        .chunks(64)
        .map(|chunk| {
            chunk.iter().enumerate().fold(0u64, |word, (j, v)| {
                let v: i64 = (*v).into();
                word | (u64::from(v.wrapping_sub(lo) as u64 <= width) << j)
            })
        })
        .collect();
    BooleanBuffer::new(Buffer::from_vec(words), 0, values.len())
}

/// `a op b` as `b op' a`.
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// `literal` as a value of `column`'s stored integers, when the comparison of the two is that
/// of those integers: integers against integers, dates against dates, decimals of one scale.
fn comparable(column: &ColumnRef, literal: &Literal) -> Option<i64> {
    match (&column.data_type, column.ty, &literal.value, literal.ty) {
        (
            DataType::Int32 | DataType::Int64,
            SqlType::Int32 | SqlType::Int64,
            Scalar::Int(v),
            ty,
        ) if ty.is_integer() => Some(*v),
        (DataType::Date32, SqlType::Date, Scalar::Date(d), SqlType::Date) => Some(i64::from(*d)),
        (
            DataType::Decimal64(..),
            SqlType::Decimal { scale, .. },
            Scalar::Decimal(v),
            SqlType::Decimal { scale: s, .. },
        ) if scale == s => i64::try_from(*v).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Date32Array, Int32Array};

    use super::*;

    #[test]
    fn ranges_keep_the_values_inside_and_never_a_null() {
        let ranges = Ranges {
            columns: vec![2, 5],
            ranges: vec![(-3, 3), (i64::MIN, 10)],
        };
        let k = Int32Array::from(vec![Some(-4), Some(-3), None, Some(3), Some(4), Some(0)]);
        let d = Date32Array::from(vec![0, 0, 0, 10, 0, 11]);
        let batch = RecordBatch::try_from_iter([
            ("k", Arc::new(k) as arrow::array::ArrayRef),
            ("d", Arc::new(d) as arrow::array::ArrayRef),
        ])
        .unwrap();
        let mask = ranges.mask(&batch).unwrap();
        assert_eq!(mask.null_count(), 0);
        let kept: Vec<bool> = mask.iter().map(|b| b == Some(true)).collect();
        assert_eq!(kept, [false, true, false, true, false, false]);
        // 130 rows: whole words of 64 and a partial one; an empty range keeps nothing.
        let values: Vec<i32> = (0..130).collect();
        assert_eq!(within(&values, 60, 70).count_set_bits(), 11);
        assert_eq!(within(&values, i64::MIN, i64::MAX).count_set_bits(), 130);
        assert_eq!(within(&values, 5, 4).count_set_bits(), 0);
    }
}
