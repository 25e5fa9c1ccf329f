//! Tiered execution: a query starts at once in the interpreter while a background thread
//! compiles its kernels, and each worker switches to them before the next batch once they are
//! ready (HyPer's adaptive execution, per batch).
//!
//! Input: a plan and its options ([`Tiers::start`]). Output: for each batch (or each morsel of
//! an aggregation, whose state stays in one engine for the whole morsel), the kernels to run it
//! with, or none ([`Tiers::for_batch`]); and, when the query ends, what compiled
//! ([`Tiers::outcome`]).
//!
//! Switching cannot change an answer: a filter or projection kernel gives exactly the rows and
//! errors of the interpreter for every batch, and an aggregation morsel's compiled state merges
//! exactly as an interpreted one does. [`TierSwitch`] fixes the switch point for tests.
//!
//! A compile the query no longer needs (the query ended first) is not waited for: it finishes
//! on its thread, into the in-process kernel cache, and its result is dropped.
//! [`compiles_in_flight`] counts those still running, so that a process can exit without
//! running LLVM's teardown under a live compile.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{Compiled, QueryOptions};
use crate::error::{Error, Result};
use crate::ir::Plan;

/// When a tiered query switches from the interpreter to its kernels
/// ([`QueryOptions::tiers`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TierSwitch {
    /// No tiers: the kernels compile first, then the query runs (the library's default, and
    /// `--engine jit`).
    #[default]
    Off,
    /// Start in the interpreter while the kernels compile; switch before each batch once they
    /// are ready (`qjit query --engine auto`).
    WhenReady,
    /// For tests: switch before batch `n` (counted over all workers; an aggregation counts
    /// morsels), waiting for the kernels there, so that the switch point is fixed.
    AtBatch(usize),
    /// For tests: never switch; the kernels compile and are not used.
    Never,
}

/// Compiles still running on background threads, in this process.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How many kernel compiles (or [`crate::jit::prepare_loader`] threads) are running on
/// background threads for queries that may have ended: a process exiting now should not run
/// LLVM's global teardown (`exit`), but `_exit`.
pub fn compiles_in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst) + usize::from(crate::jit::loader_preparing())
}

/// Counts a compile another part of qjit runs in the background (the DataFusion
/// integration's kernels) in [`compiles_in_flight`] until the guard is dropped.
#[cfg_attr(not(feature = "datafusion"), allow(dead_code))]
pub(crate) struct InFlight(());

#[cfg_attr(not(feature = "datafusion"), allow(dead_code))]
impl InFlight {
    pub(crate) fn new() -> InFlight {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the compiling thread leaves: nothing yet, then the kernels (`None`: nothing compiled).
type Slot = Option<Option<Arc<Compiled>>>;

/// The kernels of a query being compiled in the background, and the batches each tier ran.
pub(crate) struct Tiers {
    switch: TierSwitch,
    /// Set once by the compiling thread: the kernels, or `None` if compiling failed.
    ready: Arc<(Mutex<Slot>, Condvar)>,
    started: Instant,
    /// When the kernels were ready, after `started`.
    ready_after: Arc<Mutex<Option<Duration>>>,
    /// Batches (or aggregation morsels) handed out, interpreted, compiled.
    handed: AtomicUsize,
    interpreted: AtomicUsize,
    compiled: AtomicUsize,
}

impl Tiers {
    /// Starts compiling `plan`'s kernels on a thread of their own.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if the thread cannot be started.
    pub(crate) fn start(plan: &Plan, options: &QueryOptions) -> Result<Tiers> {
        let ready = Arc::new((Mutex::new(None), Condvar::new()));
        let ready_after = Arc::new(Mutex::new(None));
        let started = Instant::now();
        let switch = options.tiers;
        let (plan, mut options) = (plan.clone(), options.clone());
        options.tiers = TierSwitch::Off;
        let (done, after) = (ready.clone(), ready_after.clone());
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("qjit-compile".into())
            .stack_size(super::COMPILE_STACK_BYTES)
            .spawn(move || {
                let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    super::compile(&plan, &options)
                }))
                .ok()
                .and_then(|c| c.ok())
                .filter(Compiled::any_kernel)
                .map(Arc::new);
                if let Ok(mut after) = after.lock() {
                    *after = Some(started.elapsed());
                }
                let (slot, changed) = &*done;
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(compiled);
                }
                changed.notify_all();
                IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::internal(format!(
                "cannot start the compiling thread: {e}"
            )));
        }
        Ok(Tiers {
            switch,
            ready,
            started,
            ready_after,
            handed: AtomicUsize::new(0),
            interpreted: AtomicUsize::new(0),
            compiled: AtomicUsize::new(0),
        })
    }

    /// The kernels for the next batch: those compiled, if they are ready and the switch
    /// allows; `None` runs it in the interpreter.
    pub(crate) fn for_batch(&self) -> Option<Arc<Compiled>> {
        let n = self.handed.fetch_add(1, Ordering::Relaxed);
        let kernels = match self.switch {
            TierSwitch::Off | TierSwitch::WhenReady => self.now(),
            TierSwitch::AtBatch(at) if n >= at => self.wait(),
            TierSwitch::AtBatch(_) | TierSwitch::Never => None,
        };
        let counter = match kernels {
            Some(_) => &self.compiled,
            None => &self.interpreted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        kernels
    }

    /// The kernels if they are ready now.
    fn now(&self) -> Option<Arc<Compiled>> {
        self.ready.0.lock().ok()?.clone().flatten()
    }

    /// The kernels, once compiling has ended.
    fn wait(&self) -> Option<Arc<Compiled>> {
        let (slot, changed) = &*self.ready;
        let mut slot = slot.lock().ok()?;
        while slot.is_none() {
            slot = changed.wait(slot).ok()?;
        }
        slot.clone().flatten()
    }

    /// What the query ran with: the kernels if they were ready by the end, how many batches
    /// (aggregation morsels) each tier ran, and when the kernels were ready.
    pub(crate) fn outcome(&self) -> TierReport {
        TierReport {
            compiled: self.now(),
            interpreted_batches: self.interpreted.load(Ordering::Relaxed),
            compiled_batches: self.compiled.load(Ordering::Relaxed),
            ready_after: self.ready_after.lock().ok().and_then(|a| *a),
            ran_for: self.started.elapsed(),
        }
    }
}

/// What ran in which tier ([`Tiers::outcome`]).
#[derive(Clone, Debug)]
pub struct TierReport {
    /// The kernels, if they compiled before the query ended.
    pub compiled: Option<Arc<Compiled>>,
    /// Batches (morsels of an aggregation) the interpreter ran, and the kernels.
    pub interpreted_batches: usize,
    pub compiled_batches: usize,
    /// How long after the query started its kernels were ready (`None`: not before it ended).
    pub ready_after: Option<Duration>,
    /// How long the query ran.
    pub ran_for: Duration,
}

impl TierReport {
    /// One line for `--timing`.
    pub fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let ready = match (self.ready_after, &self.compiled) {
            (Some(after), Some(_)) => format!("kernels ready after {:.3} ms", ms(after)),
            (Some(after), None) => {
                format!("compiling ended after {:.3} ms with no kernel", ms(after))
            }
            (None, _) => format!(
                "the query ended after {:.3} ms, before its kernels compiled",
                ms(self.ran_for)
            ),
        };
        format!(
            "tiers: {} batches interpreted, {} compiled; {ready}",
            self.interpreted_batches, self.compiled_batches
        )
    }
}
