//! The pipeline: runs a [`Plan`] over the morsels of a [`Scan`] on worker threads, with the
//! compiled kernels where there are some (a batch a filter or projection kernel hands back is
//! evaluated by the interpreter; a morsel's aggregation that its kernel hands back continues in
//! the interpreter, see [`crate::jit::AggregateState`]) and [`crate::interp`] for everything
//! else, combines the morsels' results in their order (aggregation states as `combine` says:
//! per worker or per morsel, in the kernel's own memory while they can be), then finishes the
//! query (having, distinct, sort, offset/limit, output types).

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, RecordBatch, RecordBatchOptions,
};
use arrow::compute;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::row::{RowConverter, SortField};

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

use super::combine::{Carried, CarriedState, Combined, Found, Partial};
use super::limits::{Cancel, Limits, MemoryUse, Reservation};
use super::sink::{Collect, Encoder, Part, ResultSink, Window};
use super::source::{Scan, BATCH_SIZE};
use super::tier::Tiers;
use super::topn::{sort_indices, take, Candidates, Threshold, TopN};
use super::Compiled;
use crate::error::{Error, Result};
use crate::interp::{self, Aggregator};
use crate::ir::{Body, Expr, Plan};
use crate::jit::{AggregateKernel, AggregateState, FilterKernel, ProjectKernel, StateHint};

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

/// Where a query's kernels come from: fixed for the whole query, or chosen per batch from the
/// tiers of a query that starts interpreted while its kernels compile ([`Tiers`]).
#[derive(Clone, Copy)]
pub(crate) enum KernelSource<'a> {
    Fixed(Kernels<'a>),
    Tiered(&'a Tiers),
}

impl<'a> KernelSource<'a> {
    /// The kernels for the next batch (or aggregation morsel).
    fn choose(&self) -> Chosen<'a> {
        match self {
            KernelSource::Fixed(kernels) => Chosen {
                fixed: *kernels,
                held: None,
            },
            KernelSource::Tiered(tiers) => Chosen {
                fixed: Kernels::default(),
                held: tiers.for_batch(),
            },
        }
    }
}

/// The kernels one batch (or one aggregation morsel) runs with.
pub(super) struct Chosen<'a> {
    fixed: Kernels<'a>,
    /// A tiered query's kernels, once ready.
    held: Option<Arc<Compiled>>,
}

impl Chosen<'_> {
    pub(super) fn kernels(&self) -> Kernels<'_> {
        match &self.held {
            Some(compiled) => compiled.kernels(),
            None => self.fixed,
        }
    }
}

/// Runs `plan` over `scan` (morsels of the plan's scan columns) with the interpreter, on
/// `threads` worker threads, without cancellation or memory limit.
pub fn execute_interpreted(plan: &Plan, scan: &Scan, threads: usize) -> Result<Vec<RecordBatch>> {
    let mut collect = Collect::default();
    execute(
        plan,
        scan,
        &Kernels::default(),
        threads,
        &Limits::none(),
        &mut collect,
    )?;
    Ok(collect.batches)
}

/// How a query without aggregates produces its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rows {
    /// Each morsel's rows go out as soon as the morsels before them have (no `ORDER BY`, no
    /// `DISTINCT`).
    Stream,
    /// `ORDER BY … LIMIT`: each morsel keeps the first `LIMIT + OFFSET` rows of its sort, and
    /// the morsels' tops are merged ([`TopN`]).
    Top(usize),
    /// `DISTINCT`, or `ORDER BY` without `LIMIT`: every row is collected, then finished.
    Collect,
}

impl Rows {
    fn of(plan: &Plan) -> Rows {
        match (plan.distinct, plan.order_by.is_empty(), plan.limit) {
            (false, true, _) => Rows::Stream,
            (false, false, Some(limit)) => Rows::Top(limit.saturating_add(plan.offset)),
            _ => Rows::Collect,
        }
    }
}

/// Runs `plan` over `scan` with the compiled `kernels` (the interpreter does the rest), on
/// `threads` worker threads, under `limits`, handing the result to `sink`.
///
/// Each morsel is processed on its own: its batches are filtered and projected, or folded into
/// an aggregation state of its own. The results are combined in morsel order, so the answer
/// (row order, floating-point sums, the first error) is the same for every thread count. A
/// query without aggregates, `ORDER BY` or `DISTINCT` streams: each morsel's rows, encoded on
/// the worker by the sink's encoder, reach the sink as soon as the morsels before it have.
/// `ORDER BY … LIMIT` keeps only the top rows of each morsel ([`TopN`]).
///
/// Every worker checks `limits.cancel` before each batch, and the combining loop before each
/// morsel's result: a cancelled query returns [`Error::Cancelled`] within about one batch of
/// work per thread. The aggregation states of all workers and the merged total, the rows a
/// query without aggregates collects, and the streamed parts not yet written hold reservations
/// of `limits.memory` as large as they are after each batch: past the limit the query fails
/// with [`Error::MemoryLimit`].
pub fn execute(
    plan: &Plan,
    scan: &Scan,
    kernels: &Kernels,
    threads: usize,
    limits: &Limits,
    sink: &mut dyn ResultSink,
) -> Result<()> {
    execute_from(
        plan,
        scan,
        KernelSource::Fixed(*kernels),
        threads,
        limits,
        sink,
    )
}

/// The rows of a top-N, as (row group, row within it), found by `scan` (of the sort keys
/// alone, [`Threshold::keys_first`]) on `threads` threads; `None` when the scan is not of
/// whole row groups, or parts of them, of a file.
pub(crate) fn top_positions(
    scan: &Scan,
    threshold: &Threshold,
    threads: usize,
    limits: &Limits,
) -> Result<Option<Vec<(usize, u64)>>> {
    if (0..scan.len()).any(|i| scan.row_group(i).is_none()) {
        return Ok(None);
    }
    let mut all = Candidates::default();
    for_each_morsel(
        scan,
        threads,
        limits,
        |i| {
            let (group, mut first) = scan
                .row_group(i)
                .ok_or_else(|| Error::internal(format!("morsel {i} is not a row group")))?;
            let mut top = Candidates::default();
            for batch in scan.read(i)? {
                limits.cancel.check()?;
                let batch = batch?;
                top.push(threshold, group, first, &batch)?;
                first += batch.num_rows() as u64;
            }
            Ok(top)
        },
        |top| {
            all.merge(top, threshold)?;
            Ok(true)
        },
    )?;
    all.positions(threshold).map(Some)
}

/// [`execute`] with the kernels of each batch (each aggregation morsel) from `kernels`.
pub(crate) fn execute_from(
    plan: &Plan,
    scan: &Scan,
    kernels: KernelSource,
    threads: usize,
    limits: &Limits,
    sink: &mut dyn ResultSink,
) -> Result<()> {
    let cancel = &limits.cancel;
    let schema = plan.output_schema();
    sink.start(&schema)?;
    let encoder = sink.encoder();
    // The result's rows as the sink takes them.
    let encode = |columns: &[ArrayRef]| -> Result<Part> {
        let batch = output_batch(plan, &schema, normalize_all(plan, columns)?)?;
        match &encoder {
            Some(encode) => encode(batch),
            None => Ok(Part::Rows(batch)),
        }
    };
    // What the combined results hold, until the query is finished.
    let mut kept = limits.memory.reserve(match plan.body {
        Body::Project { .. } => MemoryUse::Rows,
        Body::Aggregate { .. } => MemoryUse::GroupBy,
    });
    let finals = match &plan.body {
        Body::Project { exprs } => {
            let rows = Rows::of(plan);
            // Without DISTINCT or ORDER BY, stop reading once LIMIT + OFFSET rows are in.
            let enough = match rows {
                Rows::Stream => plan.limit.map(|limit| limit.saturating_add(plan.offset)),
                _ => None,
            };
            // A morsel's projected batches, as `for_each` takes them until it returns `false`.
            let project = |i: usize,
                           for_each: &mut dyn FnMut(Vec<ArrayRef>) -> Result<bool>|
             -> Result<()> {
                let mut rows = 0usize;
                for batch in scan.read(i)? {
                    cancel.check()?;
                    if enough.is_some_and(|n| rows >= n) {
                        break;
                    }
                    let chosen = kernels.choose();
                    let kernels = chosen.kernels();
                    let where_ = Where {
                        filter: plan.filter.as_ref(),
                        kernel: kernels.filter,
                    };
                    let mut batch = batch?;
                    // Without a WHERE clause, the rows past LIMIT + OFFSET are not evaluated.
                    if let (None, Some(n)) = (&plan.filter, enough) {
                        if batch.num_rows() > n - rows {
                            batch = batch.slice(0, n - rows);
                        }
                    }
                    let Some(projected) = project_batch(&where_, exprs, kernels.project, batch)?
                    else {
                        continue;
                    };
                    rows += projected.first().map_or(0, |c| c.len());
                    if !for_each(projected)? {
                        break;
                    }
                }
                Ok(())
            };
            match rows {
                Rows::Stream => {
                    // Each batch's part goes out as soon as it is encoded, in order.
                    let work = streamed::<(Part, Reservation), _>(|i, emit| {
                        project(i, &mut |columns| {
                            let part = encode(&columns)?;
                            let mut reservation = limits.memory.reserve(MemoryUse::Rows);
                            reservation.set(part.memory_bytes())?;
                            emit((part, reservation))
                        })
                    });
                    let mut window = Window::new(plan.offset, plan.limit);
                    // A sink that does its work as it takes the rows (a table) is slower than
                    // the workers: they run one morsel ahead, not several, to hold less.
                    let ahead = if encoder.is_some() { AHEAD } else { 1 };
                    for_each_morsel_streamed(
                        scan,
                        threads,
                        ahead,
                        // Later morsels' batches that may wait for the consumer: a few per
                        // worker, fewer where the consumer does the work (a table).
                        if encoder.is_some() {
                            8 * threads
                        } else {
                            2 * threads
                        },
                        limits,
                        work,
                        |(part, _reservation)| {
                            if let Some(part) = window.take(part) {
                                sink.write(part)?;
                            }
                            Ok(!window.is_full())
                        },
                    )?;
                    cancel.check()?;
                    drop(kept);
                    return sink.finish();
                }
                Rows::Top(k) => {
                    let work = |i: usize| -> Result<(Vec<ArrayRef>, Reservation)> {
                        let mut top = TopN::new(plan, k, scan.threshold());
                        let mut reservation = limits.memory.reserve(MemoryUse::Rows);
                        project(i, &mut |columns| {
                            top.push(columns)?;
                            reservation.set(top.memory_bytes())?;
                            Ok(true)
                        })?;
                        Ok((top.into_columns()?, reservation))
                    };
                    let mut total = TopN::new(plan, k, scan.threshold());
                    for_each_morsel(scan, threads, limits, work, |(columns, reservation)| {
                        total.push(columns)?;
                        drop(reservation);
                        kept.set(total.memory_bytes())?;
                        Ok(true)
                    })?;
                    let columns = total.into_columns()?;
                    match columns.is_empty() {
                        true => vec![],
                        false => vec![columns],
                    }
                }
                Rows::Collect => {
                    let work = |i: usize| -> Result<(Vec<Vec<ArrayRef>>, Reservation)> {
                        let mut out = Vec::new();
                        let mut reservation = limits.memory.reserve(MemoryUse::Rows);
                        project(i, &mut |columns| {
                            reservation.set(reservation.bytes() + columns_bytes(&columns))?;
                            out.push(columns);
                            Ok(true)
                        })?;
                        Ok((out, reservation))
                    };
                    let mut out = Vec::new();
                    for_each_morsel(scan, threads, limits, work, |(parts, reservation)| {
                        let bytes = reservation.bytes();
                        drop(reservation);
                        kept.set(kept.bytes() + bytes)?;
                        out.extend(parts);
                        Ok(true)
                    })?;
                    out
                }
            }
        }
        Body::Aggregate {
            keys,
            aggregates,
            having,
            exprs,
        } => {
            // Each morsel runs in the engine its kernels say when it starts, and its state
            // stays there; compiled and interpreted states merge alike. A kernel whose states
            // merge in any order has a state per worker, carried from morsel to morsel
            // (`combine`), other morsels a state each.
            // What earlier morsels' states found: later states start from it.
            let hint = Mutex::new(StateHint::default());
            let carried = Carried::default();
            let fold = |i: usize| -> Result<(usize, Option<Partial>, Reservation)> {
                let chosen = kernels.choose();
                let mut reservation = limits.memory.reserve(MemoryUse::GroupBy);
                let chosen_kernels = chosen.kernels();
                let where_ = Where {
                    filter: plan.filter.as_ref(),
                    kernel: chosen_kernels.filter,
                };
                let update =
                    |kernel: &AggregateKernel, state: &mut AggregateState, batch: RecordBatch| {
                        if kernel.filters() {
                            kernel.update(&batch, state)
                        } else {
                            // The WHERE clause runs on its own (see `compile`).
                            kernel.update(&where_.apply(batch)?, state)
                        }
                    };
                let Some(kernel) = chosen_kernels.aggregate else {
                    let mut agg = Aggregator::new(keys, aggregates)?;
                    for batch in scan.read(i)? {
                        cancel.check()?;
                        let batch = where_.apply(batch?)?;
                        if batch.num_rows() > 0 {
                            agg.update(&batch)?;
                            reservation.set(agg.memory_bytes())?;
                        }
                    }
                    return Ok((i, Some(Partial::Interpreted(Box::new(agg))), reservation));
                };
                let start = || hint.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if kernel.order_free() {
                    let mut c = match carried.take(kernel, i) {
                        Some(c) => c,
                        None => {
                            // Its own hold on the kernel (the same one: a tier, once compiled,
                            // stays).
                            let again = kernels.choose();
                            if !again
                                .kernels()
                                .aggregate
                                .is_some_and(|k| std::ptr::eq(k, kernel))
                            {
                                return Err(Error::internal("the aggregation kernel changed"));
                            }
                            CarriedState {
                                state: kernel.new_state_for(&start()),
                                chosen: again,
                                reservation: limits.memory.reserve(MemoryUse::GroupBy),
                                taken: vec![],
                            }
                        }
                    };
                    c.taken.push((i, c.state.groups()));
                    for batch in scan.read(i)? {
                        cancel.check()?;
                        update(kernel, &mut c.state, batch?)?;
                        c.reservation.set(c.state.memory_bytes())?;
                    }
                    hint.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .absorb(c.state.hint());
                    carried.give_back(c);
                    return Ok((i, None, reservation));
                }
                let mut state = kernel.new_state_for(&start());
                reservation.set(state.memory_bytes())?;
                for batch in scan.read(i)? {
                    cancel.check()?;
                    update(kernel, &mut state, batch?)?;
                    reservation.set(state.memory_bytes())?;
                }
                hint.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .absorb(state.hint());
                Ok((
                    i,
                    Some(Partial::Compiled(Box::new(state), chosen)),
                    reservation,
                ))
            };
            let mut combined = Combined::default();
            for_each_morsel(scan, threads, limits, fold, |(i, partial, reservation)| {
                if let Some(partial) = partial {
                    combined.add(partial, &Found::Morsel(i), keys, aggregates)?;
                }
                drop(reservation);
                kept.set(combined.memory_bytes())?;
                Ok(true)
            })?;
            for c in carried.into_states() {
                let state = Partial::Compiled(Box::new(c.state), c.chosen);
                combined.add(state, &Found::Morsels(c.taken), keys, aggregates)?;
                drop(c.reservation);
                kept.set(combined.memory_bytes())?;
            }
            cancel.check()?;
            // The state stays counted (`kept`) while it finishes, and what finishing builds on
            // top of it too.
            let mut finishing = limits.memory.reserve(MemoryUse::GroupBy);
            let groups = combined.finish(keys, aggregates, &mut |bytes| finishing.set(bytes))?;
            drop(finishing);
            let groups = apply_filter(having.as_ref(), groups)?;
            vec![evaluate_all(exprs, &groups)?]
        }
    };
    cancel.check()?;
    let result = finish(plan, finals)?;
    drop(kept);
    write_finished(result, threads, cancel, encoder.as_ref(), sink)?;
    sink.finish()
}

/// Hands a finished result to `sink`: in slices of [`BATCH_SIZE`] rows, encoded by `encoder`
/// on `threads` workers a window of slices at a time.
fn write_finished(
    batches: Vec<RecordBatch>,
    threads: usize,
    cancel: &Cancel,
    encoder: Option<&Encoder>,
    sink: &mut dyn ResultSink,
) -> Result<()> {
    let slices: Vec<RecordBatch> = batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .step_by(BATCH_SIZE)
                .map(|start| b.slice(start, BATCH_SIZE.min(b.num_rows() - start)))
        })
        .collect();
    let Some(encode) = encoder else {
        for slice in slices {
            sink.write(Part::Rows(slice))?;
        }
        return Ok(());
    };
    let pool = thread_pool(threads)?;
    for window in slices.chunks(AHEAD * threads) {
        cancel.check()?;
        let parts: Vec<Result<Part>> = pool.install(|| {
            use rayon::prelude::*;
            window.par_iter().map(|b| encode(b.clone())).collect()
        });
        for part in parts {
            sink.write(part?)?;
        }
    }
    Ok(())
}

/// A batch of the result's schema from the final columns of some rows (in the engine's types):
/// the output columns, without the hidden sort keys.
fn output_batch(plan: &Plan, schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let rows = columns.first().map_or(0, |c| c.len());
    let out: Vec<ArrayRef> = columns
        .into_iter()
        .take(plan.output_names.len())
        .zip(schema.fields())
        .map(|(c, f)| match (c.data_type(), f.data_type()) {
            // A zoned timestamp takes the session zone's label (the same instants).
            (DataType::Timestamp(..), DataType::Timestamp(..))
                if c.data_type() != f.data_type() =>
            {
                crate::interp::time::retype(&c, f.data_type())
            }
            _ => Ok(c),
        })
        .collect::<Result<_>>()?;
    RecordBatch::try_new_with_options(
        schema.clone(),
        out,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| Error::internal(format!("result batch does not match its schema: {e}")))
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
/// in morsel order, until it returns `false`: [`for_each_morsel_streamed`] for work that has one
/// result per morsel.
fn for_each_morsel<T: Send>(
    scan: &Scan,
    threads: usize,
    limits: &Limits,
    work: impl Fn(usize) -> Result<T> + Sync,
    consume: impl FnMut(T) -> Result<bool>,
) -> Result<()> {
    let work = |i: usize, emit: &mut dyn FnMut(T) -> Result<bool>| emit(work(i)?).map(|_| ());
    for_each_morsel_streamed(scan, threads, AHEAD, usize::MAX, limits, work, consume)
}

/// `work` as [`for_each_morsel_streamed`] takes it (a closure's signature, spelled out once).
fn streamed<T, W>(work: W) -> W
where
    W: Fn(usize, &mut dyn FnMut(T) -> Result<bool>) -> Result<()> + Sync,
{
    work
}

/// A morsel's output on its way to the consumer.
enum Emitted<T> {
    /// One of its results, and whether it counts as queued ([`Dispatch::enqueue`]).
    Item(T, bool),
    /// It is done: every result is sent, or it failed.
    Done(Result<()>),
}

/// The results of one morsel not yet consumed, and how it ended.
struct Pending<T> {
    items: std::collections::VecDeque<(T, bool)>,
    done: Option<Result<()>>,
}

/// Runs `work` on every morsel of `scan` on `threads` threads and hands the results it emits
/// to `consume` in morsel order (and, within a morsel, in the order they were emitted), until
/// `consume` returns `false`. A morsel's results are consumed as soon as it emits them, once
/// the morsels before it are done, so the first rows of a streamed result go out after one
/// batch, not one morsel. `emit` returns `false` once the consumer needs no more results;
/// `work` may stop then.
///
/// The first error in morsel order is returned, after the results its morsel emitted before
/// it, so errors too do not depend on the thread count; once `limits.cancel` is raised, that is
/// [`Error::Cancelled`] (`work` checks it too, between batches). `limits.progress` counts the
/// morsels consumed.
///
/// Each worker takes the next morsel as soon as it has finished one; the calling thread waits
/// for the results and consumes them in order as they come. There is no barrier at which
/// fast workers wait for slow ones. Workers run at most `ahead` morsels per thread beyond the
/// first morsel not yet consumed (fewer at first: one per thread plus one per morsel
/// consumed), so a query that stops early (`LIMIT`) reads little more than it needs, and the
/// results held before they are consumed stay bounded.
fn for_each_morsel_streamed<T: Send>(
    scan: &Scan,
    threads: usize,
    ahead: usize,
    queue: usize,
    limits: &Limits,
    work: impl Fn(usize, &mut dyn FnMut(T) -> Result<bool>) -> Result<()> + Sync,
    mut consume: impl FnMut(T) -> Result<bool>,
) -> Result<()> {
    let (cancel, progress) = (&limits.cancel, &limits.progress);
    let morsels = scan.len();
    progress.start(morsels);
    if threads <= 1 || morsels <= 1 {
        let mut more = true;
        for i in 0..morsels {
            cancel.check()?;
            work(i, &mut |item| {
                if more {
                    more = consume(item)?;
                }
                Ok(more)
            })?;
            if !more {
                break;
            }
            progress.advance();
        }
        return Ok(());
    }
    let pool = thread_pool(threads)?;
    let dispatch = Dispatch {
        threads,
        ahead,
        queue,
        next: AtomicUsize::new(0),
        end: AtomicUsize::new(morsels),
        progress: Mutex::new(Progress {
            consumed: 0,
            queued: 0,
            stop: false,
        }),
        changed: Condvar::new(),
    };
    let (results, received) = mpsc::channel::<(usize, Emitted<T>)>();
    pool.in_place_scope(|scope| {
        for _ in 0..threads.min(morsels) {
            let results = results.clone();
            let (dispatch, work) = (&dispatch, &work);
            scope.spawn(move |_| {
                while let Some(i) = dispatch.claim() {
                    let mut emit = |item: T| {
                        let Some(counted) = dispatch.enqueue(i) else {
                            return Ok(false);
                        };
                        let sent = results.send((i, Emitted::Item(item, counted))).is_ok();
                        Ok(sent && !dispatch.stopped())
                    };
                    let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(i, &mut emit)))
                        .unwrap_or_else(|panic| Err(Error::from_panic(&panic)));
                    if result.is_err() {
                        // Morsels after this one are not needed: their results would not be
                        // consumed.
                        dispatch.end.fetch_min(i + 1, Ordering::Relaxed);
                    }
                    if results.send((i, Emitted::Done(result))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(results);
        // Consume in morsel order; results that come early wait in `pending`.
        let consumed = (|| {
            let mut pending: BTreeMap<usize, Pending<T>> = BTreeMap::new();
            let mut want = 0;
            while want < morsels {
                let (i, emitted) = received
                    .recv()
                    .map_err(|_| Error::internal("the worker threads stopped early"))?;
                let entry = pending.entry(i).or_insert_with(|| Pending {
                    items: Default::default(),
                    done: None,
                });
                match emitted {
                    Emitted::Item(item, counted) => entry.items.push_back((item, counted)),
                    Emitted::Done(result) => entry.done = Some(result),
                }
                while let Some(entry) = pending.get_mut(&want) {
                    while let Some((item, counted)) = entry.items.pop_front() {
                        if counted {
                            dispatch.dequeued();
                        }
                        cancel.check()?;
                        if !consume(item)? {
                            return Ok(());
                        }
                    }
                    match entry.done.take() {
                        None => break,
                        Some(result) => {
                            result?;
                            pending.remove(&want);
                            want += 1;
                            dispatch.consumed(want);
                            progress.advance();
                        }
                    }
                }
            }
            Ok(())
        })();
        dispatch.stop();
        consumed
    })
}

/// Runs `work` (compiling the kernels) on the calling thread while `threads - 1` workers decode
/// the first morsels of `scan` ahead ([`Scan::decode_ahead`]), as many as the pipeline may hold
/// ahead of its consumer ([`AHEAD`] per thread). The pipeline, started after `work`, then finds
/// them decoded, so the time `work` takes is spent on the scan too instead of keeping the other
/// cores idle. The workers stop within a batch once `work` returns; nothing is decoded ahead
/// with one thread or when reading a morsel decodes nothing.
pub fn decoding_during<R>(scan: &Scan, threads: usize, work: impl FnOnce() -> R) -> Result<R> {
    if threads <= 1 || scan.len() <= 1 || !scan.decodes() {
        return Ok(work());
    }
    let pool = thread_pool(threads)?;
    let stop = AtomicBool::new(false);
    /// Raises `stop` however `work` ends, so that the workers end too.
    struct Raise<'a>(&'a AtomicBool);
    impl Drop for Raise<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    Ok(pool.in_place_scope(|scope| {
        for _ in 1..threads {
            let stop = &stop;
            scope.spawn(move |_| {
                scan.decode_ahead(threads * AHEAD, &|| stop.load(Ordering::Relaxed));
            });
        }
        let _raise = Raise(&stop);
        work()
    }))
}

/// Morsels each worker may run ahead of the consumer, at most (see [`for_each_morsel`]).
const AHEAD: usize = 4;

/// The morsels of [`for_each_morsel`]: which to take next, and how far the consumer is.
struct Dispatch {
    /// The workers.
    threads: usize,
    /// Morsels each worker may run ahead of the consumer, at most.
    ahead: usize,
    /// Results of later morsels that may wait for the consumer, at most (a worker emitting
    /// one more waits); the morsel being consumed never waits.
    queue: usize,
    /// The next morsel to take.
    next: AtomicUsize,
    /// No morsel at or past this one is taken: the number of morsels, lowered past a failed one.
    end: AtomicUsize,
    progress: Mutex<Progress>,
    /// Signalled when `progress` changes.
    changed: Condvar,
}

struct Progress {
    /// The morsels consumed (all those before this index).
    consumed: usize,
    /// Results of morsels after the one being consumed, sent and not yet consumed.
    queued: usize,
    /// Set when the consumer needs no more morsels.
    stop: bool,
}

impl Dispatch {
    /// How many morsels the workers may run ahead of the first one not yet consumed, once
    /// `consumed` have been: one per thread at first, growing to `self.ahead` per thread.
    fn ahead(&self, consumed: usize) -> usize {
        (self.threads + consumed).min(self.ahead.max(1) * self.threads)
    }

    /// The next morsel for a worker, once the consumer is close enough to it; `None` when there
    /// are no more or the consumer has stopped.
    fn claim(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i >= self.end.load(Ordering::Relaxed) {
            return None;
        }
        let mut progress = self.progress.lock().ok()?;
        while !progress.stop && i >= progress.consumed + self.ahead(progress.consumed) {
            progress = self.changed.wait(progress).ok()?;
        }
        (!progress.stop).then_some(i)
    }

    /// Waits until morsel `i` may send one more result: at once for the morsel being
    /// consumed, else while `queue` results of later morsels wait. Returns whether the result
    /// counts as queued (to [`Dispatch::dequeued`] when consumed), or `None` once stopped.
    fn enqueue(&self, i: usize) -> Option<bool> {
        let mut progress = self.progress.lock().ok()?;
        while !progress.stop && i > progress.consumed && progress.queued >= self.queue {
            progress = self.changed.wait(progress).ok()?;
        }
        if progress.stop {
            return None;
        }
        let counted = i > progress.consumed;
        progress.queued += usize::from(counted);
        Some(counted)
    }

    /// A queued result was consumed.
    fn dequeued(&self) {
        if let Ok(mut progress) = self.progress.lock() {
            progress.queued = progress.queued.saturating_sub(1);
        }
        self.changed.notify_all();
    }

    fn consumed(&self, consumed: usize) {
        if let Ok(mut progress) = self.progress.lock() {
            progress.consumed = consumed;
        }
        self.changed.notify_all();
    }

    /// Whether the consumer has stopped.
    fn stopped(&self) -> bool {
        self.progress.lock().map_or(true, |p| p.stop)
    }

    fn stop(&self) {
        if let Ok(mut progress) = self.progress.lock() {
            progress.stop = true;
        }
        self.changed.notify_all();
    }
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
        let target = engine_type(e);
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
        let fetch = plan.limit.map(|l| l.saturating_add(plan.offset));
        let indices = sort_indices(plan, &columns, fetch)?;
        columns = take(&columns, &indices)?;
        rows = indices.len();
    }

    let start = plan.offset.min(rows);
    let len = plan.limit.map_or(rows - start, |l| l.min(rows - start));
    let columns = columns.into_iter().map(|c| c.slice(start, len)).collect();
    Ok(vec![output_batch(plan, &schema, columns)?])
}

/// The final columns of some rows in the engine's canonical types ([`normalize`]).
pub(crate) fn normalize_all(plan: &Plan, columns: &[ArrayRef]) -> Result<Vec<ArrayRef>> {
    columns
        .iter()
        .zip(plan.final_exprs())
        .map(|(c, e)| normalize(c, &engine_type(e)))
        .collect()
}

/// The Arrow type the engine holds the values of a final expression in: its SQL type's, or for
/// a column qjit passes through ([`SqlType::Other`]), the column's own.
fn engine_type(e: &Expr) -> DataType {
    match e {
        Expr::Column(c) if c.ty.is_other() => c.data_type.clone(),
        e => e.ty().to_arrow(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};

    use crate::exec::Source;

    /// A scan of `n` morsels of one row each.
    fn scan(n: usize) -> Scan {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let x = Int64Array::from_iter_values(0..n as i64);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(x)]).unwrap();
        let source = Source::batches("t", schema, vec![batch]).with_morsel_rows(1);
        source.morsels(&[0]).unwrap()
    }

    /// Work that takes longer on some morsels than on others, so they complete out of order.
    fn uneven(i: usize) {
        std::thread::sleep(Duration::from_micros([300, 0, 50, 0, 700, 10][i % 6]));
    }

    /// Runs `work` over `n` morsels on `threads` threads, consuming while `more` says so: the
    /// morsels consumed, in order, and the outcome.
    fn consumed(
        n: usize,
        threads: usize,
        work: impl Fn(usize) -> Result<usize> + Sync,
        more: impl Fn(usize) -> bool,
    ) -> (Vec<usize>, Result<()>) {
        let mut seen = vec![];
        let outcome = for_each_morsel(&scan(n), threads, &Limits::none(), work, |i| {
            seen.push(i);
            Ok(more(i))
        });
        (seen, outcome)
    }

    #[test]
    fn results_are_consumed_in_morsel_order() {
        for threads in [1, 2, 3, 7] {
            let work = |i| {
                uneven(i);
                Ok(i)
            };
            let (seen, outcome) = consumed(40, threads, work, |_| true);
            outcome.unwrap();
            assert_eq!(seen, (0..40).collect::<Vec<_>>(), "{threads} threads");
        }
    }

    #[test]
    fn later_morsels_wait_while_their_results_queue_up() {
        // Each morsel emits 10 results; the consumer is slow. Results of morsels after the
        // one being consumed may queue up to 3 at a time, so at most that morsel's 10 and 3
        // more are ever waiting, and every result arrives, in order.
        let emitted = AtomicUsize::new(0);
        let consumed = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let work = streamed::<(usize, usize), _>(|i, emit| {
            for j in 0..10 {
                emitted.fetch_add(1, Ordering::SeqCst);
                if !emit((i, j))? {
                    break;
                }
            }
            Ok(())
        });
        let mut seen = vec![];
        for_each_morsel_streamed(&scan(12), 3, AHEAD, 3, &Limits::none(), work, |item| {
            let waiting = emitted.load(Ordering::SeqCst) - consumed.fetch_add(1, Ordering::SeqCst);
            most.fetch_max(waiting, Ordering::SeqCst);
            std::thread::sleep(Duration::from_micros(200));
            seen.push(item);
            Ok(true)
        })
        .unwrap();
        let expected: Vec<(usize, usize)> =
            (0..12).flat_map(|i| (0..10).map(move |j| (i, j))).collect();
        assert_eq!(seen, expected);
        let most = most.into_inner();
        assert!(most <= 10 + 3 + 3, "{most} results waited at once");
    }

    #[test]
    fn the_first_error_in_morsel_order_is_returned() {
        // Morsel 30 fails at once; morsel 9 fails after the others have run.
        let work = |i| match i {
            9 => {
                std::thread::sleep(Duration::from_millis(20));
                Err(Error::internal("morsel 9"))
            }
            30 => Err(Error::internal("morsel 30")),
            _ => Ok(i),
        };
        for threads in [1, 2, 7] {
            let (seen, outcome) = consumed(40, threads, work, |_| true);
            let e = outcome.unwrap_err();
            assert!(e.to_string().contains("morsel 9"), "{threads} threads: {e}");
            assert_eq!(seen, (0..9).collect::<Vec<_>>(), "{threads} threads");
        }
    }

    #[test]
    fn stopping_early_leaves_later_morsels_unread() {
        for threads in [2, 7] {
            let last = AtomicUsize::new(0);
            let work = |i| {
                uneven(i);
                last.fetch_max(i, Ordering::Relaxed);
                Ok(i)
            };
            let (seen, outcome) = consumed(200, threads, work, |i| i < 2);
            outcome.unwrap();
            assert_eq!(seen, vec![0, 1, 2]);
            // When it stops, two morsels have been consumed: workers may have run ahead of the
            // third by one morsel per thread plus one per morsel consumed, no further.
            let last = last.into_inner();
            assert!(
                last < 2 + threads + 2,
                "{threads} threads ran morsel {last}"
            );
        }
    }

    #[test]
    fn a_panicking_morsel_is_an_error_not_a_hang() {
        let scan = scan(20);
        let e = for_each_morsel(
            &scan,
            2,
            &Limits::none(),
            |i| {
                if i == 5 {
                    panic!("morsel five");
                }
                Ok(i)
            },
            |_| Ok(true),
        )
        .unwrap_err();
        assert!(e.to_string().contains("morsel five"), "{e}");
    }

    #[test]
    fn cancelling_stops_the_workers() {
        let scan = scan(1000);
        let limits = Limits::none();
        let cancel = &limits.cancel;
        let started = AtomicBool::new(false);
        let e = for_each_morsel(
            &scan,
            2,
            &limits,
            |i| {
                cancel.check()?;
                if i == 3 {
                    started.store(true, Ordering::Relaxed);
                    cancel.cancel();
                }
                Ok(i)
            },
            |_| Ok(true),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert!(started.load(Ordering::Relaxed));
    }
}
