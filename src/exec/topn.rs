//! Top-N: the first `k` rows of a sort, kept while the rows stream past, so that
//! `ORDER BY … LIMIT n OFFSET m` holds `n + m` rows per worker instead of the whole input.
//!
//! Input: batches of a plan's final columns (outputs, then hidden sort keys), in file order.
//! Output: the `k` rows a full sort of all of them would put first, sorted, ties in file order
//! (the order a stable sort keeps), NULLs where the sort keys say. Each worker keeps a [`TopN`]
//! per morsel; the morsels' tops are merged in morsel order into one more [`TopN`], so ties
//! between morsels also resolve in file order.

use std::sync::{Arc, RwLock};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::compute::{self, SortColumn, SortOptions};
use arrow::datatypes::DataType;
use arrow::row::{OwnedRow, RowConverter, SortField};

use crate::error::{Error, Result};
use crate::interp;
use crate::ir::{Body, Expr, Plan};

/// The first `k` rows, in sort order, of the rows pushed so far.
pub(crate) struct TopN<'p> {
    plan: &'p Plan,
    k: usize,
    /// At most `k` rows, sorted; columns in the engine's types. Empty before the first push.
    rows: Vec<ArrayRef>,
    /// Told the worst row kept whenever `k` rows are.
    threshold: Option<&'p Threshold>,
}

impl<'p> TopN<'p> {
    /// Keeps the first `k` rows; once it has `k`, it offers the worst of them to `threshold`.
    pub(crate) fn new(plan: &'p Plan, k: usize, threshold: Option<&'p Threshold>) -> TopN<'p> {
        TopN {
            plan,
            k,
            rows: vec![],
            threshold,
        }
    }

    /// Adds rows that come after every row pushed before (in file order).
    pub(crate) fn push(&mut self, columns: Vec<ArrayRef>) -> Result<()> {
        let rows = columns.first().map_or(0, |c| c.len());
        if self.k == 0 || rows == 0 {
            return Ok(());
        }
        let columns = super::pipeline::normalize_all(self.plan, &columns)?;
        let best = match rows > self.k {
            true => take(&columns, &sort_indices(self.plan, &columns, Some(self.k))?)?,
            false => columns,
        };
        let merged = match self.rows.is_empty() {
            true => best,
            false => self
                .rows
                .iter()
                .zip(&best)
                .map(|(a, b)| compute::concat(&[a.as_ref(), b.as_ref()]))
                .collect::<std::result::Result<_, _>>()?,
        };
        let merged_rows = merged.first().map_or(0, |c| c.len());
        self.rows = match merged_rows > self.k || !self.rows.is_empty() {
            true => take(&merged, &sort_indices(self.plan, &merged, Some(self.k))?)?,
            false => merged,
        };
        if let Some(threshold) = self.threshold {
            if self.rows.first().is_some_and(|c| c.len() == self.k) {
                threshold.offer(&self.rows)?;
            }
        }
        Ok(())
    }

    /// The kept rows, sorted (no columns before the first push).
    pub(crate) fn into_columns(self) -> Vec<ArrayRef> {
        self.rows
    }

    /// The memory its rows take.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.rows.iter().map(|c| c.get_array_memory_size()).sum()
    }
}

/// The rows of `columns` (a plan's final columns) in the plan's sort order, the first `fetch` of
/// them if given. The sort is stable: rows with equal keys keep their order.
pub(crate) fn sort_indices(
    plan: &Plan,
    columns: &[ArrayRef],
    fetch: Option<usize>,
) -> Result<UInt32Array> {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut keys: Vec<SortColumn> = plan
        .order_by
        .iter()
        .map(|k| SortColumn {
            values: interp::canonical_floats(&columns[k.column]),
            options: Some(SortOptions {
                descending: k.descending,
                nulls_first: k.nulls_first,
            }),
        })
        .collect();
    // The row's position breaks ties, which makes arrow's (unstable) sort stable.
    keys.push(SortColumn {
        values: std::sync::Arc::new(UInt64Array::from_iter_values(0..rows as u64)),
        options: None,
    });
    Ok(compute::lexsort_to_indices(&keys, fetch)?)
}

/// The rows `indices` of every column.
pub(crate) fn take(columns: &[ArrayRef], indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
    Ok(columns
        .iter()
        .map(|c| compute::take(c.as_ref(), indices, None))
        .collect::<std::result::Result<_, _>>()?)
}

/// A bound on the sort keys that a row must reach to be among the first `k` rows of a sort: the
/// worst row of a full top-N (any `k` rows' worst is no better than the worst of the true first
/// `k`), the best such bound offered so far. A Parquet scan evaluates it on the key columns
/// before it decodes the others ([`super::ScanFilter`]), so a row group read after the first
/// top-N filled decodes the other columns of only the few rows that can still enter it, and
/// `SELECT * … ORDER BY x LIMIT 10` costs little more than reading `x`. Rows equal to the bound
/// are kept, since an earlier row wins a tie.
pub(crate) struct Threshold {
    /// Sort keys → rows that compare in the sort's order.
    converter: RowConverter,
    /// The final-expression column of each sort key.
    keys: Vec<usize>,
    /// Each sort key's column in the scan filter's batches.
    filter_columns: Vec<usize>,
    /// Each sort key's type in the sort (the final expression's).
    types: Vec<DataType>,
    bound: RwLock<Option<OwnedRow>>,
}

impl Threshold {
    /// The threshold of `plan` and the file columns its scan filter reads (ascending), when the
    /// plan has a top-N over plain columns: `ORDER BY` columns of the table, a `LIMIT`, no
    /// `DISTINCT` or aggregates. Rows it drops never reach the `WHERE` clause or the `SELECT`
    /// expressions, so the caller must know that those cannot fail (or an error on a dropped
    /// row would go unreported).
    pub(crate) fn for_plan(plan: &Plan) -> Option<(Arc<Threshold>, Vec<usize>)> {
        if plan.distinct || plan.limit.is_none() || plan.order_by.is_empty() {
            return None;
        }
        let Body::Project { exprs } = &plan.body else {
            return None;
        };
        let mut file_columns = vec![];
        for key in &plan.order_by {
            let Some(Expr::Column(c)) = exprs.get(key.column) else {
                return None;
            };
            file_columns.push(*plan.projection.get(c.index)?);
        }
        let mut columns = file_columns.clone();
        columns.sort_unstable();
        columns.dedup();
        let filter_columns = file_columns
            .iter()
            .map(|c| columns.binary_search(c).unwrap_or(0))
            .collect();
        let types: Vec<DataType> = plan
            .order_by
            .iter()
            .map(|k| exprs[k.column].ty().to_arrow())
            .collect();
        let fields = plan
            .order_by
            .iter()
            .zip(&types)
            .map(|(k, t)| {
                SortField::new_with_options(
                    t.clone(),
                    SortOptions {
                        descending: k.descending,
                        nulls_first: k.nulls_first,
                    },
                )
            })
            .collect();
        let threshold = Threshold {
            converter: RowConverter::new(fields).ok()?,
            keys: plan.order_by.iter().map(|k| k.column).collect(),
            filter_columns,
            types,
            bound: RwLock::new(None),
        };
        Some((Arc::new(threshold), columns))
    }

    /// Offers the last row of `columns` (a full top-N's final columns, sorted) as the bound.
    fn offer(&self, columns: &[ArrayRef]) -> Result<()> {
        let Some(last) = columns.first().map(|c| c.len()).and_then(|n| n.checked_sub(1)) else {
            return Ok(());
        };
        let keys: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|&c| interp::canonical_floats(&columns[c].slice(last, 1)))
            .collect();
        let rows = self.converter.convert_columns(&keys)?;
        let row = rows.row(0);
        let mut bound = self
            .bound
            .write()
            .map_err(|_| Error::internal("the top-N bound is poisoned"))?;
        if bound.as_ref().is_none_or(|b| row < b.row()) {
            *bound = Some(row.owned());
        }
        Ok(())
    }

    /// The rows of `batch` (the scan filter's columns) that reach the bound: all of them
    /// before there is one.
    pub(crate) fn keep(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let bound = match self.bound.read() {
            Ok(bound) => bound.clone(),
            Err(_) => return Err(Error::internal("the top-N bound is poisoned")),
        };
        let Some(bound) = bound else {
            return Ok(BooleanArray::from(vec![true; batch.num_rows()]));
        };
        let keys: Vec<ArrayRef> = self
            .filter_columns
            .iter()
            .zip(&self.types)
            .map(|(&i, t)| Ok(interp::canonical_floats(&compute::cast(batch.column(i), t)?)))
            .collect::<Result<_>>()?;
        let rows = self.converter.convert_columns(&keys)?;
        let bound = bound.row();
        Ok((0..rows.num_rows())
            .map(|i| Some(rows.row(i) <= bound))
            .collect())
    }
}
