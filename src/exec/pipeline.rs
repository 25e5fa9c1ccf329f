//! The pipeline: runs a [`Plan`] over the morsels of a [`Scan`] on worker threads, with the
//! compiled kernels where there are some (a batch a filter or projection kernel hands back is
//! evaluated by the interpreter; a morsel's aggregation that its kernel hands back continues in
//! the interpreter, see [`crate::jit::AggregateState`]) and [`crate::interp`] for everything
//! else, combines the morsels' results in their order, then finishes the query (having,
//! distinct, sort, offset/limit, output types).

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, RecordBatch, RecordBatchOptions,
};
use arrow::compute::{self, SortColumn, SortOptions};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::iter::{IntoParallelIterator, ParallelIterator};
use rayon::{ThreadPool, ThreadPoolBuilder};

use super::limits::{Cancel, Limits, MemoryUse, Reservation};
use super::source::Scan;
use crate::error::{Error, Result};
use crate::interp::{self, Aggregator};
use crate::ir::{Body, Expr, Plan};
use crate::jit::{AggregateKernel, FilterKernel, ProjectKernel};

/// The compiled kernels of a plan (see [`super::compile`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kernels<'a> {
    /// The `WHERE` predicate.
    pub filter: Option<&'a FilterKernel>,
    /// The `WHERE` clause, group keys and aggregates of an aggregate query.
    pub aggregate: Option<&'a AggregateKernel>,
    /// The `WHERE` clause and `SELECT` expressions of a query without aggregates.
    pub project: Option<&'a ProjectKernel>,
}

/// Runs `plan` over `scan` (morsels of the plan's scan columns) with the interpreter, on
/// `threads` worker threads, without cancellation or memory limit.
pub fn execute_interpreted(plan: &Plan, scan: &Scan, threads: usize) -> Result<Vec<RecordBatch>> {
    execute(plan, scan, &Kernels::default(), threads, &Limits::none())
}

/// Runs `plan` over `scan` with the compiled `kernels` (the interpreter does the rest), on
/// `threads` worker threads, under `limits`.
///
/// Each morsel is processed on its own: its batches are filtered and projected, or folded into
/// an aggregation state of its own. The results are combined in morsel order, so the answer
/// (row order, floating-point sums, the first error) is the same for every thread count.
///
/// Every worker checks `limits.cancel` before each batch, and the combining loop before each
/// morsel's result: a cancelled query returns [`Error::Cancelled`] within about one batch of
/// work per thread. The aggregation states of all workers and the merged total, or the rows a
/// query without aggregates collects, hold reservations of `limits.memory` as large as they
/// are after each batch: past the limit the query fails with [`Error::MemoryLimit`].
pub fn execute(
    plan: &Plan,
    scan: &Scan,
    kernels: &Kernels,
    threads: usize,
    limits: &Limits,
) -> Result<Vec<RecordBatch>> {
    let where_ = Where {
        filter: plan.filter.as_ref(),
        kernel: kernels.filter,
    };
    let cancel = &limits.cancel;
    // What the combined results hold, until the query is finished.
    let mut kept = limits.memory.reserve(match plan.body {
        Body::Project { .. } => MemoryUse::Rows,
        Body::Aggregate { .. } => MemoryUse::GroupBy,
    });
    let finals = match &plan.body {
        Body::Project { exprs } => {
            // Without DISTINCT or ORDER BY, stop reading once LIMIT + OFFSET rows are in.
            let enough = match (plan.limit, plan.distinct || !plan.order_by.is_empty()) {
                (Some(limit), false) => Some(limit.saturating_add(plan.offset)),
                _ => None,
            };
            let project = |i: usize| -> Result<(Vec<Vec<ArrayRef>>, Reservation)> {
                let mut out = Vec::new();
                let mut rows = 0usize;
                let mut reservation = limits.memory.reserve(MemoryUse::Rows);
                for batch in scan.read(i)? {
                    cancel.check()?;
                    if enough.is_some_and(|n| rows >= n) {
                        break;
                    }
                    let Some(projected) = project_batch(&where_, exprs, kernels.project, batch?)?
                    else {
                        continue;
                    };
                    rows += projected.first().map_or(0, |c| c.len());
                    reservation.set(reservation.bytes() + columns_bytes(&projected))?;
                    out.push(projected);
                }
                Ok((out, reservation))
            };
            let mut out = Vec::new();
            let mut rows = 0usize;
            for_each_morsel(scan, threads, cancel, project, |(parts, reservation)| {
                let bytes = reservation.bytes();
                drop(reservation);
                kept.set(kept.bytes() + bytes)?;
                for part in parts {
                    if enough.is_some_and(|n| rows >= n) {
                        return Ok(false);
                    }
                    rows += part.first().map_or(0, |c| c.len());
                    out.push(part);
                }
                Ok(enough.is_none_or(|n| rows < n))
            })?;
            out
        }
        Body::Aggregate {
            keys,
            aggregates,
            having,
            exprs,
        } => {
            let groups = match kernels.aggregate {
                Some(kernel) => {
                    // The most groups a morsel has had: later morsels' tables start that big.
                    let groups_hint = AtomicUsize::new(0);
                    let fold = |i: usize| {
                        let mut state = kernel.new_state_for(groups_hint.load(Ordering::Relaxed));
                        let mut reservation = limits.memory.reserve(MemoryUse::GroupBy);
                        reservation.set(state.memory_bytes())?;
                        for batch in scan.read(i)? {
                            cancel.check()?;
                            if kernel.filters() {
                                kernel.update(&batch?, &mut state)?;
                            } else {
                                // The WHERE clause runs on its own (see `compile`).
                                kernel.update(&where_.apply(batch?)?, &mut state)?;
                            }
                            reservation.set(state.memory_bytes())?;
                        }
                        groups_hint.fetch_max(state.groups(), Ordering::Relaxed);
                        Ok((state, reservation))
                    };
                    let mut total = kernel.new_aggregator()?;
                    for_each_morsel(scan, threads, cancel, fold, |(state, reservation)| {
                        kernel.merge_into(state, &mut total)?;
                        drop(reservation);
                        kept.set(total.memory_bytes())?;
                        Ok(true)
                    })?;
                    cancel.check()?;
                    total.finish()?
                }
                None => {
                    let fold = |i: usize| {
                        let mut agg = Aggregator::new(keys, aggregates)?;
                        let mut reservation = limits.memory.reserve(MemoryUse::GroupBy);
                        for batch in scan.read(i)? {
                            cancel.check()?;
                            let batch = where_.apply(batch?)?;
                            if batch.num_rows() > 0 {
                                agg.update(&batch)?;
                                reservation.set(agg.memory_bytes())?;
                            }
                        }
                        Ok((agg, reservation))
                    };
                    let mut total = Aggregator::new(keys, aggregates)?;
                    for_each_morsel(scan, threads, cancel, fold, |(agg, reservation)| {
                        total.merge(agg)?;
                        drop(reservation);
                        kept.set(total.memory_bytes())?;
                        Ok(true)
                    })?;
                    cancel.check()?;
                    total.finish()?
                }
            };
            let groups = apply_filter(having.as_ref(), groups)?;
            vec![evaluate_all(exprs, &groups)?]
        }
    };
    cancel.check()?;
    let result = finish(plan, finals);
    drop(kept);
    result
}

/// The bytes of the columns of a projected batch: of their slices where a column shares the
/// buffers of a larger array, and for string views, of the views and the long strings they
/// point at (a view array shares the data buffers of everything decoded with it).
fn columns_bytes(columns: &[ArrayRef]) -> usize {
    columns.iter().map(array_bytes).sum()
}

fn array_bytes(a: &ArrayRef) -> usize {
    let views = match a.data_type() {
        DataType::Utf8View => Some(a.as_string_view().views()),
        DataType::BinaryView => Some(a.as_binary_view().views()),
        _ => None,
    };
    match views {
        Some(views) => {
            let long: usize = views
                .iter()
                .map(|v| *v as u32 as usize)
                .filter(|&len| len > 12)
                .sum();
            views.inner().len() + long + a.len().div_ceil(8)
        }
        None => a
            .to_data()
            .get_slice_memory_size()
            .unwrap_or_else(|_| a.get_array_memory_size()),
    }
}

/// Runs `work` on every morsel of `scan` on `threads` threads and hands the results to `consume`
/// in morsel order, until it returns `false`. The first error in morsel order is returned, so
/// errors too do not depend on the thread count; once `cancel` is raised, that is
/// [`Error::Cancelled`] (`work` checks it too, between batches).
///
/// Morsels run in waves (`threads`, then up to four times as many), so that a query that stops
/// early (`LIMIT`) reads little more than it needs, and at most one wave of results is held
/// before it is consumed.
fn for_each_morsel<T: Send>(
    scan: &Scan,
    threads: usize,
    cancel: &Cancel,
    work: impl Fn(usize) -> Result<T> + Sync,
    mut consume: impl FnMut(T) -> Result<bool>,
) -> Result<()> {
    if threads <= 1 || scan.len() <= 1 {
        for i in 0..scan.len() {
            cancel.check()?;
            if !consume(work(i)?)? {
                break;
            }
        }
        return Ok(());
    }
    let pool = thread_pool(threads)?;
    let mut start = 0;
    let mut wave = threads;
    while start < scan.len() {
        cancel.check()?;
        let end = (start + wave).min(scan.len());
        let results: Vec<Result<T>> =
            pool.install(|| (start..end).into_par_iter().map(&work).collect());
        cancel.check()?;
        for r in results {
            if !consume(r?)? {
                return Ok(());
            }
        }
        start = end;
        wave = (wave * 2).min(threads * 4);
    }
    Ok(())
}

/// A rayon pool of `threads` workers, built once per size and kept for the process.
fn thread_pool(threads: usize) -> Result<Arc<ThreadPool>> {
    static POOLS: Mutex<Vec<(usize, Arc<ThreadPool>)>> = Mutex::new(Vec::new());
    let mut pools = POOLS
        .lock()
        .map_err(|_| Error::internal("the thread pool registry is poisoned"))?;
    if let Some((_, pool)) = pools.iter().find(|(n, _)| *n == threads) {
        return Ok(pool.clone());
    }
    let pool = ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("qjit-worker-{i}"))
        .build()
        .map_err(|e| Error::internal(format!("cannot start {threads} worker threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.push((threads, pool.clone()));
    Ok(pool)
}

/// The `WHERE` clause: a predicate, compiled or not.
pub(crate) struct Where<'a> {
    pub(crate) filter: Option<&'a Expr>,
    pub(crate) kernel: Option<&'a FilterKernel>,
}

impl Where<'_> {
    /// Keeps the rows where the predicate is TRUE.
    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let Some(filter) = self.filter else {
            return Ok(batch);
        };
        let mask = predicate_mask(filter, self.kernel, &batch)?;
        finish_filter(batch, &mask)
    }
}

/// The rows of `batch` where `filter` is TRUE (a mask with no nulls), with its compiled
/// `kernel` if there is one.
///
/// A batch the kernel hands back (some row needs the interpreter) is evaluated by the
/// interpreter. A kernel error is reported with the interpreter's wording: the kernel reports
/// the operation and row the interpreter fails at first, and the interpreter words the message
/// with the operands' values. If it disagrees (a bug), the kernel's error stands.
pub(crate) fn predicate_mask(
    filter: &Expr,
    kernel: Option<&FilterKernel>,
    batch: &RecordBatch,
) -> Result<BooleanArray> {
    let Some(kernel) = kernel else {
        return interp::evaluate_predicate(filter, batch);
    };
    match kernel.filter(batch) {
        Ok(Some(mask)) => Ok(mask),
        Ok(None) => interp::evaluate_predicate(filter, batch),
        Err(e) => match interp::evaluate_predicate(filter, batch) {
            Err(exact) => Err(exact),
            Ok(_) => Err(e),
        },
    }
}

/// The final columns of the rows of `batch` (a scan batch) that `where_` keeps, by the
/// projection `kernel` (with the `WHERE` clause fused in) if there is one, else by the
/// interpreter; `None` when no row is kept.
pub(crate) fn project_batch(
    where_: &Where,
    exprs: &[Expr],
    kernel: Option<&ProjectKernel>,
    batch: RecordBatch,
) -> Result<Option<Vec<ArrayRef>>> {
    if let Some(kernel) = kernel {
        return kernel.project(&batch);
    }
    let batch = where_.apply(batch)?;
    if batch.num_rows() == 0 {
        return Ok(None);
    }
    Ok(Some(evaluate_all(exprs, &batch)?))
}

/// Keeps the rows where `filter` is TRUE.
fn apply_filter(filter: Option<&Expr>, batch: RecordBatch) -> Result<RecordBatch> {
    let Some(filter) = filter else {
        return Ok(batch);
    };
    let mask = interp::evaluate_predicate(filter, &batch)?;
    finish_filter(batch, &mask)
}

/// `filter_record_batch`, skipped when every row stays.
fn finish_filter(batch: RecordBatch, mask: &BooleanArray) -> Result<RecordBatch> {
    if mask.true_count() == batch.num_rows() {
        return Ok(batch);
    }
    Ok(compute::filter_record_batch(&batch, mask)?)
}

/// Evaluates the final expressions into columns (no schema names yet).
fn evaluate_all(exprs: &[Expr], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    exprs.iter().map(|e| interp::evaluate(e, batch)).collect()
}

/// Distinct, sort, offset/limit, and the output schema, over the final columns of every batch.
pub(crate) fn finish(plan: &Plan, parts: Vec<Vec<ArrayRef>>) -> Result<Vec<RecordBatch>> {
    let width = plan.final_exprs().len();
    let schema = plan.output_schema();
    // Concatenate each column across batches, in the engine's logical types.
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(width);
    for (i, e) in plan.final_exprs().iter().enumerate() {
        let target = e.ty().to_arrow();
        let pieces: Vec<ArrayRef> = parts
            .iter()
            .map(|p| normalize(&p[i], &target))
            .collect::<Result<_>>()?;
        columns.push(if pieces.is_empty() {
            arrow::array::new_empty_array(&target)
        } else {
            let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
            compute::concat(&refs)?
        });
    }
    let mut rows = columns.first().map_or(0, |c| c.len());

    if plan.distinct && rows > 0 {
        let keys: Vec<ArrayRef> = columns[..plan.output_names.len()]
            .iter()
            .map(interp::canonical_floats)
            .collect();
        let keep = first_occurrences(&keys)?;
        columns = columns
            .iter()
            .map(|c| compute::filter(c, &keep))
            .collect::<std::result::Result<_, _>>()?;
        rows = columns.first().map_or(0, |c| c.len());
    }

    if !plan.order_by.is_empty() && rows > 1 {
        let keys: Vec<SortColumn> = plan
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
        let fetch = plan.limit.map(|l| l.saturating_add(plan.offset));
        let indices = compute::lexsort_to_indices(&keys, fetch)?;
        columns = columns
            .iter()
            .map(|c| compute::take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        rows = indices.len();
    }

    let start = plan.offset.min(rows);
    let len = plan.limit.map_or(rows - start, |l| l.min(rows - start));
    let out: Vec<ArrayRef> = columns
        .into_iter()
        .take(plan.output_names.len())
        .map(|c| c.slice(start, len))
        .collect();
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        out,
        &RecordBatchOptions::new().with_row_count(Some(len)),
    )
    .map_err(|e| Error::internal(format!("result batch does not match its schema: {e}")))?;
    Ok(vec![batch])
}

/// Converts an evaluator's array to the engine's canonical Arrow type (strings in any layout →
/// `Utf8`).
fn normalize(a: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if a.data_type() == target {
        return Ok(a.clone());
    }
    Ok(compute::cast(a, target)?)
}

/// A mask keeping the first occurrence of each distinct row.
fn first_occurrences(columns: &[ArrayRef]) -> Result<BooleanArray> {
    let fields = columns
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let rows = converter.convert_columns(columns)?;
    let mut seen = std::collections::HashSet::with_capacity(rows.num_rows());
    let mut keep = BooleanBufferBuilder::new(rows.num_rows());
    for row in rows.iter() {
        keep.append(seen.insert(row.as_ref().to_vec()));
    }
    Ok(BooleanArray::new(keep.finish(), None))
}
