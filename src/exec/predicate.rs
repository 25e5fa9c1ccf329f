//! A predicate over some of a table's columns, compiled or interpreted: what a Parquet scan
//! evaluates before it decodes the other columns ([`ScanFilter`]), and what
//! [`crate::Filter`] evaluates.
//!
//! ```text
//! Expr over the batch of `columns` ─compile_filter─▶ FilterKernel (or the interpreter)
//! batch of `columns` (in table order) ─mask─▶ BooleanArray (TRUE rows; NULL counts as FALSE)
//! ```

use std::sync::Arc;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use arrow::array::builder::make_view;
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringViewArray};
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

/// What a `WHERE` clause needs of single columns to be TRUE: for each of some of the table's
/// columns a [`Condition`] that every row the clause keeps meets. A scan prefilter that needs
/// no compiling ([`super::source::Scan::with_prefilter`]): the Parquet decoder checks these
/// conditions first, one column at a time, and decodes the rest only for the rows that meet
/// them.
///
/// ```text
/// l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_quantity < 24
///   ─▶ l_shipdate ∈ [8766, 9130], l_quantity ∈ [i64::MIN, 2399]
/// (l_shipmode = 'AIR' AND l_quantity <= 11) OR (l_shipmode IN ('AIR', 'RAIL') AND l_quantity >= 20)
///   ─▶ l_shipmode ∈ {AIR, RAIL}, l_quantity ∈ [i64::MIN, i64::MAX]
/// ```
#[derive(Debug)]
pub struct Necessary {
    /// The table's columns (indices into its schema, ascending) and the condition of each.
    pub columns: Vec<usize>,
    pub conditions: Vec<Condition>,
    /// Whether the last batch checked met them in at least half its rows: the scan's next row
    /// groups then check them only now and then (set and read by the decoder).
    pub declined: AtomicBool,
}

/// A condition on one column's values; NULL never meets it.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The stored integers (of an integer, date or `Decimal64` column) lie in `[lo, hi]`.
    Range(i64, i64),
    /// The string is one of these (bytes equal; kept sorted, without repeats).
    Strings(Vec<String>),
}

impl Necessary {
    /// What `filter` (over the batch of `projection`, the table's columns) needs of single
    /// columns, from its comparisons and `IN` lists of a column with constants, through `AND`
    /// (both) and `OR` (either, for the columns both sides constrain); `None` if nothing.
    pub fn of(filter: &Expr, projection: &[usize]) -> Option<Necessary> {
        let conditions = conditions(filter, projection);
        let (columns, conditions): (Vec<usize>, Vec<Condition>) = conditions
            .into_iter()
            .filter(|(_, c)| *c != Condition::Range(i64::MIN, i64::MAX))
            .unzip();
        (!columns.is_empty()).then_some(Necessary {
            columns,
            conditions,
            declined: AtomicBool::new(false),
        })
    }
}

/// The conditions `e` puts on columns (by file column) for it to be TRUE.
fn conditions(e: &Expr, projection: &[usize]) -> BTreeMap<usize, Condition> {
    crate::stack::guard(|| match e {
        Expr::Binary {
            op: op @ (BinaryOp::And | BinaryOp::Or),
            left,
            right,
            ..
        } => {
            let mut left = conditions(left, projection);
            let right = conditions(right, projection);
            if *op == BinaryOp::And {
                for (column, c) in right {
                    let both = match left.remove(&column) {
                        Some(l) => l.and(c),
                        None => Some(c),
                    };
                    if let Some(both) = both {
                        left.insert(column, both);
                    }
                }
                left
            } else {
                right
                    .into_iter()
                    .filter_map(|(column, c)| Some((column, left.remove(&column)?.or(c)?)))
                    .collect()
            }
        }
        Expr::Binary {
            op, left, right, ..
        } => {
            let (column, op, literal) = match (&**left, &**right) {
                (Expr::Column(c), Expr::Literal(l)) => (c, *op, l),
                (Expr::Literal(l), Expr::Column(c)) => (c, flip(*op), l),
                _ => return BTreeMap::new(),
            };
            let condition = match (stored(column, literal), &literal.value) {
                (Some(value), _) => match op {
                    BinaryOp::Eq => Some(Condition::Range(value, value)),
                    BinaryOp::Lt => Some(match value.checked_sub(1) {
                        Some(v) => Condition::Range(i64::MIN, v),
                        None => Condition::Range(1, 0),
                    }),
                    BinaryOp::LtEq => Some(Condition::Range(i64::MIN, value)),
                    BinaryOp::Gt => Some(match value.checked_add(1) {
                        Some(v) => Condition::Range(v, i64::MAX),
                        None => Condition::Range(1, 0),
                    }),
                    BinaryOp::GtEq => Some(Condition::Range(value, i64::MAX)),
                    _ => None,
                },
                (None, Scalar::Utf8(s)) if op == BinaryOp::Eq && is_text(column) => {
                    Some(Condition::Strings(vec![s.clone()]))
                }
                _ => None,
            };
            match (condition, projection.get(column.index)) {
                (Some(condition), Some(&file_column)) => [(file_column, condition)].into(),
                _ => BTreeMap::new(),
            }
        }
        Expr::InList {
            arg,
            list,
            negated: false,
        } => {
            let Expr::Column(column) = &**arg else {
                return BTreeMap::new();
            };
            let Some(&file_column) = projection.get(column.index) else {
                return BTreeMap::new();
            };
            let mut condition: Option<Condition> = None;
            for item in list {
                let one = match item {
                    Expr::Literal(l) => match (stored(column, l), &l.value) {
                        (Some(v), _) => Condition::Range(v, v),
                        (None, Scalar::Utf8(s)) if is_text(column) => {
                            Condition::Strings(vec![s.clone()])
                        }
                        _ => return BTreeMap::new(),
                    },
                    _ => return BTreeMap::new(),
                };
                condition = match condition {
                    None => Some(one),
                    Some(c) => match c.or(one) {
                        Some(c) => Some(c),
                        None => return BTreeMap::new(),
                    },
                };
            }
            condition
                .map(|c| [(file_column, c)].into())
                .unwrap_or_default()
        }
        _ => BTreeMap::new(),
    })
}

impl Condition {
    /// Both conditions (`None` if they are of different kinds).
    fn and(self, other: Condition) -> Option<Condition> {
        match (self, other) {
            (Condition::Range(a, b), Condition::Range(c, d)) => {
                Some(Condition::Range(a.max(c), b.min(d)))
            }
            (Condition::Strings(a), Condition::Strings(b)) => Some(Condition::Strings(
                a.into_iter().filter(|s| b.contains(s)).collect(),
            )),
            _ => None,
        }
    }

    /// Either condition, or a wider one (`None` if they are of different kinds).
    fn or(self, other: Condition) -> Option<Condition> {
        match (self, other) {
            (Condition::Range(a, b), Condition::Range(c, d)) if a > b => {
                Some(Condition::Range(c, d))
            }
            (Condition::Range(a, b), Condition::Range(c, d)) if c > d => {
                Some(Condition::Range(a, b))
            }
            (Condition::Range(a, b), Condition::Range(c, d)) => {
                Some(Condition::Range(a.min(c), b.max(d)))
            }
            (Condition::Strings(mut a), Condition::Strings(b)) => {
                a.extend(b);
                a.sort_unstable();
                a.dedup();
                Some(Condition::Strings(a))
            }
            _ => None,
        }
    }

    /// The values of `array` that meet the condition (a NULL does not).
    pub fn mask(&self, array: &dyn Array) -> Result<BooleanBuffer> {
        let meets = match (self, array.data_type()) {
            (Condition::Range(lo, hi), DataType::Int32) => {
                within(array.as_primitive::<Int32Type>().values(), *lo, *hi)
            }
            (Condition::Range(lo, hi), DataType::Date32) => {
                within(array.as_primitive::<Date32Type>().values(), *lo, *hi)
            }
            (Condition::Range(lo, hi), DataType::Int64) => {
                within(array.as_primitive::<Int64Type>().values(), *lo, *hi)
            }
            (Condition::Range(lo, hi), DataType::Decimal64(..)) => {
                within(array.as_primitive::<Decimal64Type>().values(), *lo, *hi)
            }
            (Condition::Strings(set), DataType::Utf8View) => {
                one_of_views(array.as_string_view(), set)
            }
            (Condition::Strings(set), DataType::Utf8) => {
                let strings = array.as_string::<i32>();
                BooleanBuffer::collect_bool(strings.len(), |i| {
                    let value = strings.value(i);
                    set.iter().any(|s| s == value)
                })
            }
            (condition, other) => {
                return Err(Error::internal(format!(
                    "{condition:?} on a column of {other}"
                )))
            }
        };
        Ok(match array.logical_nulls() {
            Some(nulls) => &meets & nulls.inner(),
            None => meets,
        })
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

/// The rows of a view column whose string is in `set`, a word of 64 rows at a time for each
/// string of the set: a string of up to 12 bytes is all in its view (length and bytes, bytes
/// past its length masked off), so one 128-bit comparison decides; a longer one compares its
/// length and 4-byte prefix so, and the rows that pass are then checked byte for byte.
fn one_of_views(strings: &StringViewArray, set: &[String]) -> BooleanBuffer {
    let views = strings.views();
    let mut met = vec![0u64; views.len().div_ceil(64)];
    for s in set {
        let mask = match s.len() {
            0..=11 => (1u128 << (32 + 8 * s.len())) - 1,
            12 => u128::MAX,
            _ => u128::from(u64::MAX),
        };
        let view = make_view(s.as_bytes(), 0, 0) & mask;
        for (c, (w, chunk)) in met.iter_mut().zip(views.chunks(64)).enumerate() {
            let mut word = chunk.iter().enumerate().fold(0u64, |word, (j, v)| {
                word | (u64::from(v & mask == view) << j)
            });
            let mut candidates = if s.len() > 12 { word } else { 0 };
            while candidates != 0 {
                let j = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if strings.value(c * 64 + j) != s {
                    word &= !(1 << j);
                }
            }
            *w |= word;
        }
    }
    BooleanBuffer::new(Buffer::from_vec(met), 0, views.len())
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

/// Whether `column` holds text a [`Condition::Strings`] can test.
fn is_text(column: &ColumnRef) -> bool {
    column.ty == SqlType::Utf8 && matches!(column.data_type, DataType::Utf8 | DataType::Utf8View)
}

/// `literal` as a value of `column`'s stored integers, when the comparison of the two is that
/// of those integers: integers against integers, dates against dates, decimals of one scale.
fn stored(column: &ColumnRef, literal: &Literal) -> Option<i64> {
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
    use arrow::array::{Date32Array, Int32Array, StringArray};

    use super::*;

    #[test]
    fn conditions_keep_the_values_that_meet_them_and_never_a_null() {
        let k = Int32Array::from(vec![Some(-4), Some(-3), None, Some(3), Some(4), Some(0)]);
        let kept = Condition::Range(-3, 3).mask(&k).unwrap();
        assert_eq!(
            kept.iter().collect::<Vec<_>>(),
            [false, true, false, true, false, true]
        );
        let d = Date32Array::from(vec![0, 10, 11]);
        let kept = Condition::Range(i64::MIN, 10).mask(&d).unwrap();
        assert_eq!(kept.iter().collect::<Vec<_>>(), [true, true, false]);
        // 130 rows: whole words of 64 and a partial one; an empty range keeps nothing.
        let values: Vec<i32> = (0..130).collect();
        assert_eq!(within(&values, 60, 70).count_set_bits(), 11);
        assert_eq!(within(&values, i64::MIN, i64::MAX).count_set_bits(), 130);
        assert_eq!(within(&values, 5, 4).count_set_bits(), 0);
    }

    #[test]
    fn string_sets_compare_whole_strings_of_every_length() {
        let words = [
            "",
            "A",
            "AIR",
            "AIR REG",
            "exactly12byt",
            "exactly12bytes",
            "DELIVER IN PERSON",
            "DELIVER IN PERSOM",
            "DELIVER",
            "AIR\0",
        ];
        let set: Vec<String> = ["", "AIR", "exactly12byt", "DELIVER IN PERSON"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let expected = [
            true, false, true, false, true, false, true, false, false, false,
        ];
        let views = StringViewArray::from_iter_values(words);
        let strings = StringArray::from_iter_values(words);
        let condition = Condition::Strings(set);
        for array in [&views as &dyn Array, &strings] {
            let kept = condition.mask(array).unwrap();
            assert_eq!(
                kept.iter().collect::<Vec<_>>(),
                expected,
                "{}",
                array.data_type()
            );
        }
        let with_null = StringViewArray::from(vec![Some("AIR"), None]);
        let kept = condition.mask(&with_null).unwrap();
        assert_eq!(kept.iter().collect::<Vec<_>>(), [true, false]);
    }

    #[test]
    fn or_widens_and_narrows_what_both_sides_need() {
        let range = Condition::Range;
        let strings = |s: &[&str]| Condition::Strings(s.iter().map(|s| s.to_string()).collect());
        assert_eq!(range(1, 11).or(range(20, 30)), Some(range(1, 30)));
        assert_eq!(range(5, 4).or(range(20, 30)), Some(range(20, 30)));
        assert_eq!(range(1, 11).and(range(5, 30)), Some(range(5, 11)));
        assert_eq!(
            strings(&["SHIP"]).or(strings(&["AIR", "SHIP"])),
            Some(strings(&["AIR", "SHIP"]))
        );
        assert_eq!(
            strings(&["AIR", "MAIL"]).and(strings(&["MAIL"])),
            Some(strings(&["MAIL"]))
        );
        assert_eq!(range(1, 2).or(strings(&["AIR"])), None);
    }
}
