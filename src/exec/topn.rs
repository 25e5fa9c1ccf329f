//! Top-N: the first `k` rows of a sort, kept while the rows stream past, so that
//! `ORDER BY … LIMIT n OFFSET m` holds `n + m` rows per worker instead of the whole input.
//!
//! Input: batches of a plan's final columns (outputs, then hidden sort keys), in file order.
//! Output: the `k` rows a full sort of all of them would put first, sorted, ties in file order
//! (the order a stable sort keeps), NULLs where the sort keys say. Each worker keeps a [`TopN`]
//! per morsel; the morsels' tops are merged in morsel order into one more [`TopN`], so ties
//! between morsels also resolve in file order.
//!
//! Before that, a query whose every row counts (no `WHERE` clause) and that reads more than its
//! sort keys finds its rows from the keys alone ([`Candidates`]), and its scan reads just those.

use std::sync::{Arc, RwLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::compute::{self, SortColumn, SortOptions};
use arrow::datatypes::DataType;
use arrow::datatypes::UInt64Type;
use arrow::row::{OwnedRow, RowConverter, SortField};

use crate::error::{Error, Result};
use crate::interp;
use crate::ir::{Body, Expr, Plan};

/// The first `k` rows, in sort order, of the rows pushed so far.
pub(crate) struct TopN<'p> {
    plan: &'p Plan,
    k: usize,
    /// Candidate rows in file order, columns in the engine's types: the first part is the
    /// sorted top of everything before it (after a [`TopN::compact`]), the rest is newer.
    parts: Vec<Vec<ArrayRef>>,
    /// The rows in `parts`.
    rows: usize,
    /// Told the worst row kept whenever `k` rows are.
    threshold: Option<&'p Threshold>,
}

impl<'p> TopN<'p> {
    /// Keeps the first `k` rows; once it has `k`, it offers the worst of them to `threshold`.
    pub(crate) fn new(plan: &'p Plan, k: usize, threshold: Option<&'p Threshold>) -> TopN<'p> {
        TopN {
            plan,
            k,
            parts: vec![],
            rows: 0,
            threshold,
        }
    }

    /// Adds rows that come after every row pushed before (in file order). A batch is cut to
    /// its own first `k` rows, and the candidates are sorted down to `k` once there are twice
    /// as many, so each row is sorted a bounded number of times whatever `k` is.
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
        self.rows += best.first().map_or(0, |c| c.len());
        self.parts.push(best);
        if self.rows >= self.k.saturating_mul(2) {
            self.compact()?;
        }
        Ok(())
    }

    /// Sorts the candidates down to the first `k`, and offers the worst of them to the
    /// threshold when there are `k`.
    fn compact(&mut self) -> Result<()> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let merged = concat_parts(&self.parts)?;
        let top = take(&merged, &sort_indices(self.plan, &merged, Some(self.k))?)?;
        self.rows = top.first().map_or(0, |c| c.len());
        self.parts = vec![top];
        if let (Some(threshold), true) = (self.threshold, self.rows == self.k) {
            threshold.offer(&self.parts[0])?;
        }
        Ok(())
    }

    /// The kept rows, sorted (no columns before the first push).
    pub(crate) fn into_columns(mut self) -> Result<Vec<ArrayRef>> {
        self.compact()?;
        Ok(self.parts.pop().unwrap_or_default())
    }

    /// The memory its candidate rows take.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.parts
            .iter()
            .flatten()
            .map(|c| c.get_array_memory_size())
            .sum()
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
            values: interp::order_key(&columns[k.column]),
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

/// Parts of the same columns, each column's pieces concatenated in order.
fn concat_parts(parts: &[Vec<ArrayRef>]) -> Result<Vec<ArrayRef>> {
    let width = parts.first().map_or(0, |p| p.len());
    Ok((0..width)
        .map(|c| {
            let pieces: Vec<&dyn Array> = parts.iter().map(|p| p[c].as_ref()).collect();
            compute::concat(&pieces)
        })
        .collect::<std::result::Result<_, _>>()?)
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
    /// The file columns of the sort keys, ascending: the scan filter's batches.
    scan_columns: Vec<usize>,
    /// Each sort key's column in the scan filter's batches.
    filter_columns: Vec<usize>,
    /// Each sort key's type in the sort (the final expression's), and its order.
    types: Vec<DataType>,
    options: Vec<SortOptions>,
    /// The file column of the first sort key, and its order.
    first_file_column: usize,
    first_options: SortOptions,
    /// The bound as rows, and for a sort on one key, as that key's value (an array of one).
    bound: RwLock<Option<(OwnedRow, ArrayRef)>>,
    /// The rows of the top-N.
    k: usize,
    /// Whether every row of the table counts for the top-N (there is no `WHERE` clause): then
    /// the scan filter raises the bound itself from the keys it reads, before any row reaches
    /// the pipeline.
    every_row_counts: bool,
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
        // Intervals sort by their length (`sort_indices`), which the row format's order of
        // their parts is not: no threshold on them.
        if types.iter().any(|t| matches!(t, DataType::Interval(_))) {
            return None;
        }
        let options: Vec<SortOptions> = plan
            .order_by
            .iter()
            .map(|k| SortOptions {
                descending: k.descending,
                nulls_first: k.nulls_first,
            })
            .collect();
        let fields = types
            .iter()
            .zip(&options)
            .map(|(t, o)| SortField::new_with_options(t.clone(), *o))
            .collect();
        let threshold = Threshold {
            converter: RowConverter::new(fields).ok()?,
            keys: plan.order_by.iter().map(|k| k.column).collect(),
            scan_columns: columns.clone(),
            filter_columns,
            types,
            first_options: options[0],
            options,
            k: plan.limit?.saturating_add(plan.offset),
            every_row_counts: plan.filter.is_none(),
            first_file_column: file_columns[0],
            bound: RwLock::new(None),
        };
        Some((Arc::new(threshold), columns))
    }

    /// The file columns of the sort keys (ascending) when reading them first pays: every row
    /// counts (there is no `WHERE` clause) and the query reads other columns too. A scan of
    /// just these columns finds the rows of the top-N ([`Candidates`]); the query then reads
    /// those rows alone.
    pub(crate) fn keys_first(&self, plan: &Plan) -> Option<&[usize]> {
        let worth = self.every_row_counts && self.scan_columns.len() < plan.projection.len();
        worth.then_some(&self.scan_columns)
    }

    /// Offers the last row of `columns` (a full top-N's final columns, sorted) as the bound.
    fn offer(&self, columns: &[ArrayRef]) -> Result<()> {
        let Some(last) = columns
            .first()
            .map(|c| c.len())
            .and_then(|n| n.checked_sub(1))
        else {
            return Ok(());
        };
        let keys: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|&c| interp::canonical_floats(&columns[c].slice(last, 1)))
            .collect();
        self.offer_keys(keys)
    }

    /// Offers the row of `keys` (one value per sort key, in the sort's types) as the bound.
    fn offer_keys(&self, keys: Vec<ArrayRef>) -> Result<()> {
        let rows = self.converter.convert_columns(&keys)?;
        let row = rows.row(0);
        let mut bound = self
            .bound
            .write()
            .map_err(|_| Error::internal("the top-N bound is poisoned"))?;
        if bound.as_ref().is_none_or(|(b, _)| row < b.row()) {
            *bound = Some((row.owned(), keys[0].clone()));
        }
        Ok(())
    }

    /// For each row group of `groups`, the best sort key any of its rows can have, by its
    /// statistics: its maximum in a descending sort, its minimum in an ascending one (`None`
    /// where that is unknown, or where NULLs sort first and the group may have some). A
    /// group whose best is worse than the bound ([`Threshold::excludes`]) has no row that can
    /// enter the top-N, and is not read. Only a sort on one key that is not a float (whose
    /// NaNs statistics leave out) has bests.
    pub(crate) fn row_group_bests(
        &self,
        metadata: &parquet::arrow::arrow_reader::ArrowReaderMetadata,
        groups: &[usize],
    ) -> Vec<Option<OwnedRow>> {
        let none = || vec![None; groups.len()];
        if self.types.len() != 1 || self.types[0].is_floating() {
            return none();
        }
        let schema = metadata.schema();
        let Some(field) = schema.fields().get(self.first_file_column) else {
            return none();
        };
        let parquet = metadata.metadata().file_metadata().schema_descr();
        let Ok(converter) = parquet::arrow::arrow_reader::statistics::StatisticsConverter::try_new(
            field.name(),
            schema,
            parquet,
        ) else {
            return none();
        };
        let metas = || groups.iter().map(|&g| metadata.metadata().row_group(g));
        let descending = self.converter_descending();
        let (bests, nulls) = match (
            match descending {
                true => converter.row_group_maxes(metas()),
                false => converter.row_group_mins(metas()),
            },
            converter.row_group_null_counts(metas()),
        ) {
            (Ok(bests), Ok(nulls)) => (bests, nulls),
            _ => return none(),
        };
        let Ok(bests) = compute::cast(&bests, &self.types[0]) else {
            return none();
        };
        let Ok(rows) = self.converter.convert_columns(std::slice::from_ref(&bests)) else {
            return none();
        };
        let nulls_first = self.nulls_first();
        (0..groups.len())
            .map(|i| {
                let may_have_nulls = nulls.is_null(i) || nulls.value(i) > 0;
                match bests.is_null(i) || (nulls_first && may_have_nulls) {
                    true => None,
                    false => Some(rows.row(i).owned()),
                }
            })
            .collect()
    }

    /// Whether a row group whose best sort key is `best` ([`Threshold::row_group_bests`]) has
    /// no row that can enter the top-N: the bound is already better than `best`.
    pub(crate) fn excludes(&self, best: &OwnedRow) -> bool {
        self.bound
            .read()
            .is_ok_and(|bound| bound.as_ref().is_some_and(|(b, _)| b.row() < best.row()))
    }

    /// [`Threshold::keep`] for a sort on one key that is not a float, by comparing the key
    /// column with the bound's `value` in its own type (vectorized, no row conversion); `None`
    /// for other sorts.
    fn keep_by_value(
        &self,
        batch: &RecordBatch,
        value: Option<&ArrayRef>,
    ) -> Result<Option<BooleanArray>> {
        if self.types.len() != 1 || self.types[0].is_floating() {
            return Ok(None);
        }
        let column = batch.column(self.filter_columns[0]);
        let same_type = column.data_type() == &self.types[0]
            || matches!(column.data_type(), DataType::Decimal64(..));
        if !same_type {
            return Ok(None);
        }
        let keep = self.reaching(column, value)?;
        self.tighten(column, &keep)?;
        Ok(Some(keep))
    }

    /// The rows of `column` (the only sort key) that reach the bound `value` (all of them
    /// without a bound).
    fn reaching(&self, column: &ArrayRef, value: Option<&ArrayRef>) -> Result<BooleanArray> {
        use arrow::compute::kernels::cmp;
        let Some(value) = value else {
            return Ok(BooleanArray::from(vec![true; column.len()]));
        };
        let nulls = compute::is_null(column)?;
        if value.is_null(0) {
            // The top-N is NULLs: with NULLs first only NULLs can enter it, with NULLs last
            // every value can.
            return Ok(match self.first_options.nulls_first {
                true => nulls,
                false => BooleanArray::from(vec![true; column.len()]),
            });
        }
        let value = compute::cast(value, column.data_type())?;
        let value = arrow::array::Scalar::new(value);
        let reaches = match self.first_options.descending {
            true => cmp::gt_eq(column, &value)?,
            false => cmp::lt_eq(column, &value)?,
        };
        // NULL keys: kept when NULLs sort first (they beat every value), else dropped.
        let reaches = match self.first_options.nulls_first {
            true => compute::or_kleene(&nulls, &reaches)?,
            false => reaches,
        };
        Ok(match reaches.nulls() {
            Some(valid) => BooleanArray::new(reaches.values() & valid.inner(), None),
            None => reaches,
        })
    }

    /// Raises the bound to the `k`-th best key of the rows of `column` that `keep` keeps,
    /// when every row counts for the top-N and there are `k` of them.
    fn tighten(&self, column: &ArrayRef, keep: &BooleanArray) -> Result<()> {
        if !self.every_row_counts || self.k == 0 || keep.true_count() < self.k {
            return Ok(());
        }
        let kept = compute::filter(column, keep)?;
        let order = compute::sort_to_indices(&kept, Some(self.first_options), Some(self.k))?;
        let last = order.value(self.k - 1) as usize;
        self.offer_keys(vec![compute::cast(&kept.slice(last, 1), &self.types[0])?])
    }

    fn converter_descending(&self) -> bool {
        self.first_options.descending
    }

    fn nulls_first(&self) -> bool {
        self.first_options.nulls_first
    }

    /// The sort keys of `batch` (the scan filter's columns) in the sort's types, floats
    /// canonical: what the sort compares.
    fn sort_keys(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        self.filter_columns
            .iter()
            .zip(&self.types)
            .map(|(&i, t)| {
                Ok(interp::canonical_floats(&compute::cast(
                    batch.column(i),
                    t,
                )?))
            })
            .collect()
    }

    /// The rows of `batch` (the scan filter's columns) that reach the bound: all of them
    /// before there is one.
    pub(crate) fn keep(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        let bound = match self.bound.read() {
            Ok(bound) => bound.clone(),
            Err(_) => return Err(Error::internal("the top-N bound is poisoned")),
        };
        if let Some(keep) = self.keep_by_value(batch, bound.as_ref().map(|(_, v)| v))? {
            return Ok(keep);
        }
        let Some((bound, _)) = bound else {
            return Ok(BooleanArray::from(vec![true; batch.num_rows()]));
        };
        let rows = self.converter.convert_columns(&self.sort_keys(batch)?)?;
        let bound = bound.row();
        Ok((0..rows.num_rows())
            .map(|i| Some(rows.row(i) <= bound))
            .collect())
    }
}

/// The rows that make a top-N, found from their sort keys and their places in the file before
/// any other column is read: a scan of the key columns alone pushes every batch, row group by
/// row group, and [`Candidates::positions`] names the `k` rows a full sort would put first
/// (ties to the earlier row, as a stable sort keeps them). The query then decodes the other
/// columns of those rows only, which turns `SELECT * … ORDER BY x LIMIT 10` into a scan of `x`
/// and the pages that hold ten rows.
///
/// Memory is O(k): the candidates are sorted down to `k` once there are twice as many, and
/// each time they are, the `k`-th is offered to the [`Threshold`] as its bound, which drops
/// later rows and row groups that cannot enter.
#[derive(Default)]
pub(crate) struct Candidates {
    /// Each part: the sort keys (as [`Threshold::sort_keys`] gives them), then the row group and
    /// the row within it (`UInt64`).
    parts: Vec<Vec<ArrayRef>>,
    /// The rows in `parts`.
    rows: usize,
}

impl Candidates {
    /// Adds the rows of `batch` (the key columns, [`Threshold::keys_first`], of rows `first..`
    /// of row group `group`) that reach the bound of `threshold`.
    pub(crate) fn push(
        &mut self,
        threshold: &Threshold,
        group: usize,
        first: u64,
        batch: &RecordBatch,
    ) -> Result<()> {
        if threshold.k == 0 || batch.num_rows() == 0 {
            return Ok(());
        }
        let keep = threshold.keep(batch)?;
        let keep = match keep.nulls() {
            Some(valid) => keep.values() & valid.inner(),
            None => keep.values().clone(),
        };
        let indices = UInt32Array::from_iter_values(keep.set_indices().map(|i| i as u32));
        if indices.is_empty() {
            return Ok(());
        }
        let mut part: Vec<ArrayRef> = threshold
            .sort_keys(batch)?
            .iter()
            .map(|k| compute::take(k.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        let group = u64::try_from(group).map_err(|_| Error::internal("row group out of range"))?;
        part.push(Arc::new(UInt64Array::from_value(group, indices.len())));
        part.push(Arc::new(UInt64Array::from_iter_values(
            indices.values().iter().map(|&i| first + u64::from(i)),
        )));
        self.rows += indices.len();
        self.parts.push(part);
        if self.rows >= threshold.k.saturating_mul(2) {
            self.compact(threshold)?;
        }
        Ok(())
    }

    /// Adds the candidates of row groups that come after every one pushed before.
    pub(crate) fn merge(&mut self, other: Candidates, threshold: &Threshold) -> Result<()> {
        self.rows += other.rows;
        self.parts.extend(other.parts);
        if self.rows >= threshold.k.saturating_mul(2) {
            self.compact(threshold)?;
        }
        Ok(())
    }

    /// The rows of the top-N, as (row group, row within it), best first.
    pub(crate) fn positions(mut self, threshold: &Threshold) -> Result<Vec<(usize, u64)>> {
        self.compact(threshold)?;
        let Some(part) = self.parts.pop() else {
            return Ok(vec![]);
        };
        let width = part.len();
        let groups = part[width - 2].as_primitive::<UInt64Type>();
        let rows = part[width - 1].as_primitive::<UInt64Type>();
        groups
            .values()
            .iter()
            .zip(rows.values().iter())
            .map(|(&g, &r)| {
                let g =
                    usize::try_from(g).map_err(|_| Error::internal("row group out of range"))?;
                Ok((g, r))
            })
            .collect()
    }

    /// Sorts the candidates down to the first `k` (by sort keys, then place in the file), and
    /// offers the `k`-th to the threshold when there are `k`.
    fn compact(&mut self, threshold: &Threshold) -> Result<()> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let width = self.parts[0].len();
        let merged = concat_parts(&self.parts)?;
        let options = threshold
            .options
            .iter()
            .copied()
            .map(Some)
            .chain([None, None]);
        let columns: Vec<SortColumn> = merged
            .iter()
            .zip(options)
            .map(|(values, options)| SortColumn {
                values: values.clone(),
                options,
            })
            .collect();
        let top = take(
            &merged,
            &compute::lexsort_to_indices(&columns, Some(threshold.k))?,
        )?;
        self.rows = top.first().map_or(0, |c| c.len());
        if self.rows == threshold.k {
            let last = self.rows - 1;
            let keys = top[..width - 2].iter().map(|c| c.slice(last, 1)).collect();
            threshold.offer_keys(keys)?;
        }
        self.parts = vec![top];
        Ok(())
    }
}
