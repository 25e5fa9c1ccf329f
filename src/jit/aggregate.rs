//! Compiled aggregation: the kernel handle ([`AggregateKernel`]) and the state it updates
//! ([`AggregateState`]: accumulator vectors, the group hash table and the group keys).
//!
//! ```text
//! AggregateKernel::new_state ─▶ AggregateState ─update(batch)─▶ … ─finish─▶ aggregate batch
//!                                  │ a row handed back: merge_raw into an interp::Aggregator,
//!                                  ▼ which folds the rest of that batch and every later one
//!                               AggregateState (interpreted) ─update(batch)─▶ … ─finish─▶ …
//! ```
//!
//! The state is the memory the kernel reads and writes through [`AggArgs`]. Before each batch it
//! grows so that every row can create a group, and gets a scratch area for the strings the
//! kernel builds; after each batch the bytes of the string keys of new groups (and of new
//! `MIN`/`MAX` strings) are copied out of the batch and the scratch area, so that the table never
//! points into memory that is gone. [`AggregateKernel::finish`] turns the state into the same
//! aggregate batch as [`crate::interp::Aggregator::finish`] (key columns then aggregates, groups
//! in first-seen order).
//!
//! Morsels' states merge in the kernel's memory ([`AggregateKernel::merge_state`]) when the keys
//! are integer words and no extreme is a string: a group is found by its stored hash and key
//! words. Otherwise a state folds into an interpreter aggregation
//! ([`AggregateKernel::merge_into`]), whose keys it builds as Arrow columns first.
//!
//! A kernel that meets a row it does not evaluate exactly ([`STATUS_FALLBACK`]) stops with the
//! state of the rows before it, as the interpreter would have it (see
//! [`crate::codegen::compile_aggregate`]). The state then becomes an interpreter aggregation
//! ([`interp::Aggregator::merge_raw`] into an empty one adds every sum to zero, which changes no
//! bit: a float sum that starts at `+0` is never `-0`) that folds the rest of the batch, and
//! every later batch of that state.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, NullArray, RecordBatch, StringArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};

use super::direct::{DirectHint, DirectIndex};
use super::kernel::{CompileTiming, Jitted, KernelInputs, Optimize};
use super::plan_entry::Lowered;
use crate::codegen::{
    self, AccKind, AggArgs, AggregateFn, AggregateLayout, CodegenError, ColumnSlot, ErrorSite,
    KernelStatus, KeyKind, ScratchNeed, SlotKind, VectorType, STATUS_FALLBACK,
};
use crate::error::{Error, Result};
use crate::interp::{self, RawState};
use crate::ir::{AggregateCall, Expr, SqlType};
use crate::kernel_cache::KernelCache;

/// A compiled `WHERE` + `GROUP BY` + aggregates: [`AggregateKernel::update`] folds a scan batch
/// into an [`AggregateState`].
pub struct AggregateKernel {
    entry: AggregateFn,
    columns: Vec<ColumnSlot>,
    /// The words of the constants it takes as parameters (`codegen::Params`).
    params: Vec<u64>,
    errors: Vec<ErrorSite>,
    layout: AggregateLayout,
    /// The scratch bytes a row needs (zero: the kernel builds no strings).
    scratch: ScratchNeed,
    filter: Option<Expr>,
    /// The keys the kernel groups by: the query's, or for `DISTINCT` calls those of their plan
    /// ([`crate::ir::aggregate::DistinctPlan`]).
    keys: Vec<Expr>,
    /// The query's keys and calls: what the interpreter aggregations this kernel's states
    /// fold into are built for.
    query_keys: Vec<Expr>,
    query_aggregates: Vec<AggregateCall>,
    jit: Jitted,
}

impl std::fmt::Debug for AggregateKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggregateKernel")
            .field("columns", &self.columns)
            .field("layout", &self.layout)
            .field("timing", &self.jit.timing())
            .finish_non_exhaustive()
    }
}

/// One state vector.
#[derive(Debug)]
enum Vector {
    I64(Vec<i64>),
    I128(Vec<i128>),
    F64(Vec<f64>),
    U8(Vec<u8>),
}

impl Vector {
    fn new(t: VectorType) -> Vector {
        match t {
            VectorType::I64 => Vector::I64(vec![]),
            VectorType::I128 => Vector::I128(vec![]),
            VectorType::F64 => Vector::F64(vec![]),
            VectorType::U8 => Vector::U8(vec![]),
        }
    }

    /// Grows to at least `n` entries (new entries zero).
    fn reserve_groups(&mut self, n: usize) {
        match self {
            Vector::I64(v) if v.len() < n => v.resize(n, 0),
            Vector::I128(v) if v.len() < n => v.resize(n, 0),
            Vector::F64(v) if v.len() < n => v.resize(n, 0.0),
            Vector::U8(v) if v.len() < n => v.resize(n, 0),
            _ => {}
        }
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Vector::I64(v) => v.as_mut_ptr().cast(),
            Vector::I128(v) => v.as_mut_ptr().cast(),
            Vector::F64(v) => v.as_mut_ptr().cast(),
            Vector::U8(v) => v.as_mut_ptr(),
        }
    }
}

/// The accumulators, groups and keys of one aggregation in progress (per worker): the kernel's
/// memory, or, once the kernel has handed a row back, an interpreter aggregation.
#[derive(Debug)]
pub struct AggregateState {
    engine: StateEngine,
    /// The row of the batch at which the kernel handed the aggregation to the interpreter.
    handed_back_at: Option<usize>,
    /// An update failed on this state: it is partly updated and must not be used.
    poisoned: bool,
}

/// What a new [`AggregateState`] starts from ([`AggregateKernel::new_state_for`]): what the
/// states of earlier morsels found.
#[derive(Clone, Debug, Default)]
pub struct StateHint {
    groups: usize,
    direct: DirectHint,
}

impl StateHint {
    /// Takes in what another state found: the most groups, and what its direct index found
    /// (`DirectHint::absorb`).
    pub fn absorb(&mut self, other: StateHint) {
        self.groups = self.groups.max(other.groups);
        self.direct.absorb(other.direct);
    }
}

/// Who holds the state.
#[derive(Debug)]
enum StateEngine {
    Kernel(KernelMemory),
    Interpreter(interp::Aggregator),
}

/// The memory an aggregation kernel updates.
#[derive(Debug)]
struct KernelMemory {
    vectors: Vec<Vector>,
    /// `group + 1` per slot, 0 if empty; a power of two long (empty without keys).
    slots: Vec<u32>,
    hashes: Vec<u64>,
    /// Key records ([`codegen::KeyLayout::words`] words per group).
    keys: Vec<u64>,
    groups: usize,
    /// The bytes of the string keys, which the records point into.
    strings: Vec<Box<[u8]>>,
    /// The bytes of `strings` and `extremes` together.
    string_bytes: usize,
    /// The bytes of each `MIN`/`MAX` string, by (slot, group), which the slots point into.
    extremes: std::collections::HashMap<(usize, usize), Box<[u8]>>,
    /// The kernel's log of string extremes taken from the current batch.
    log: Vec<u64>,
    /// The strings the kernel builds in the current batch (a part per row).
    scratch: Vec<u8>,
    /// Keys of small domains mapped straight to their group (keys of a
    /// [`codegen::KeyLayout::direct_index`] layout).
    direct: Option<DirectIndex>,
}

impl AggregateState {
    /// The row of a batch at which the kernel handed this aggregation to the interpreter (which
    /// folded the rest of that batch and every batch since), if it did.
    pub fn handed_back_at(&self) -> Option<usize> {
        self.handed_back_at
    }

    /// The bytes the state takes (the kernel's memory, or the interpreter aggregation's), for
    /// the memory limit of a query.
    pub fn memory_bytes(&self) -> usize {
        match &self.engine {
            StateEngine::Kernel(m) => m.memory_bytes(),
            StateEngine::Interpreter(agg) => agg.memory_bytes(),
        }
    }

    /// Whether the kernel's memory holds the state (the kernel has not handed it to the
    /// interpreter, and no update failed on it).
    pub fn in_kernel(&self) -> bool {
        matches!(self.engine, StateEngine::Kernel(_)) && !self.poisoned
    }

    /// What a later state of the same kernel can start from: this state's number of groups
    /// and the ranges of its direct index.
    pub fn hint(&self) -> StateHint {
        match &self.engine {
            StateEngine::Kernel(m) => StateHint {
                groups: m.groups,
                direct: m.direct.as_ref().map(DirectIndex::hint).unwrap_or_default(),
            },
            StateEngine::Interpreter(_) => StateHint::default(),
        }
    }

    /// The number of groups, in the kernel's memory or the interpreter's aggregation (its
    /// groups are the kernel's, in the same order, then those found since).
    pub fn groups(&self) -> usize {
        match &self.engine {
            StateEngine::Kernel(m) => m.groups,
            StateEngine::Interpreter(agg) => agg.groups(),
        }
    }
}

/// The fewest slots a keyed table starts with.
const MIN_SLOTS: usize = 1024;

impl AggregateKernel {
    /// Compiles `filter`, `keys` and `aggregates` (all over the scan batch) into one kernel.
    pub fn compile(
        filter: Option<&Expr>,
        keys: &[Expr],
        aggregates: &[AggregateCall],
        optimize: Optimize,
    ) -> std::result::Result<AggregateKernel, CodegenError> {
        AggregateKernel::compile_in(filter, keys, aggregates, optimize, None)
    }

    /// [`AggregateKernel::compile`], with the machine code from (or stored into) `cache`.
    pub fn compile_in(
        filter: Option<&Expr>,
        keys: &[Expr],
        aggregates: &[AggregateCall],
        optimize: Optimize,
        cache: Option<&KernelCache>,
    ) -> std::result::Result<AggregateKernel, CodegenError> {
        let (query_keys, query_aggregates) = (keys, aggregates);
        let (keys, aggregates, _) =
            crate::ir::aggregate::scan_side(keys, aggregates).map_err(CodegenError::Failed)?;
        let (keys, aggregates) = (keys.as_slice(), aggregates.as_slice());
        let layout = codegen::layout(keys, aggregates)?;
        let inputs = codegen::aggregate_inputs(filter, keys, &layout);
        codegen::check_size(&inputs)?;
        let (params, columns) = codegen::kernel_inputs(&inputs);
        let (jit, address, lowered) = Jitted::compile(
            optimize,
            codegen::AGGREGATE_ENTRY_NAME,
            cache,
            || format!("aggregate {filter:?} {keys:?} {aggregates:?}"),
            |ctx, cpu, features| {
                let m = codegen::compile_aggregate(ctx, filter, keys, aggregates, cpu, features)?;
                debug_assert_eq!((&m.columns, &m.layout), (&columns, &layout));
                let lowered = Lowered {
                    errors: m.errors,
                    scratch: m.scratch,
                    outputs: vec![],
                };
                Ok((m.module, lowered))
            },
        )?;
        // SAFETY: the entry function was built with exactly the `AggregateFn` signature
        // (`void (ptr, i64, ptr, ptr)`, C calling convention), and `address` is its machine code.
        let entry: AggregateFn = unsafe { std::mem::transmute::<usize, AggregateFn>(address) };
        Ok(AggregateKernel {
            entry,
            columns,
            params: params.words,
            errors: lowered.errors,
            layout,
            scratch: lowered.scratch,
            filter: filter.cloned(),
            keys: keys.to_vec(),
            query_keys: query_keys.to_vec(),
            query_aggregates: query_aggregates.to_vec(),
            jit,
        })
    }

    /// Whether the kernel applies the `WHERE` clause itself (else the caller filters first).
    pub fn filters(&self) -> bool {
        self.filter.is_some()
    }

    /// An empty state shaped by what earlier morsels' states found (`hint`, see
    /// [`AggregateState::hint`]): room for as many groups, so that its hash table does not grow
    /// while it fills, and the ranges of their direct index, so that its first batch uses one.
    pub fn new_state_for(&self, hint: &StateHint) -> AggregateState {
        let mut state = self.new_state();
        if let (Some(keys), StateEngine::Kernel(m)) = (&self.layout.keys, &mut state.engine) {
            if hint.groups > 0 {
                // `update` makes room for every row of a batch to be new.
                m.reserve(
                    hint.groups.saturating_add(crate::exec::BATCH_SIZE),
                    keys.words(),
                );
            }
            if let Some(index) = &mut m.direct {
                index.start_with(&hint.direct);
            }
        }
        state
    }

    /// An empty state: no groups with keys, one group (all accumulators empty) without.
    pub fn new_state(&self) -> AggregateState {
        let mut vectors: Vec<Vector> = self
            .layout
            .vectors
            .iter()
            .map(|t| Vector::new(*t))
            .collect();
        let groups = if self.layout.keys.is_none() {
            vectors.iter_mut().for_each(|v| v.reserve_groups(1));
            1
        } else {
            0
        };
        AggregateState {
            engine: StateEngine::Kernel(KernelMemory {
                vectors,
                slots: vec![],
                hashes: vec![],
                keys: vec![],
                groups,
                strings: vec![],
                string_bytes: 0,
                extremes: std::collections::HashMap::new(),
                log: vec![],
                scratch: vec![],
                direct: self.layout.keys.as_ref().and_then(DirectIndex::new),
            }),
            handed_back_at: None,
            poisoned: false,
        }
    }

    /// Filters `batch` (a scan batch) and folds its selected rows into `state`. A row that fails
    /// is the interpreter's error for this batch. A row the kernel hands back makes `state` an
    /// interpreter aggregation from that row on (see the module docs).
    pub fn update(&self, batch: &RecordBatch, state: &mut AggregateState) -> Result<()> {
        if state.poisoned {
            return Err(Error::internal(
                "an aggregation state reused after an error",
            ));
        }
        let folded = self.fold(batch, state);
        if folded.is_err() {
            state.poisoned = true;
        }
        folded
    }

    fn fold(&self, batch: &RecordBatch, state: &mut AggregateState) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let resume = match &mut state.engine {
            StateEngine::Interpreter(agg) => return self.interpret(batch, agg),
            StateEngine::Kernel(memory) => match self.run(batch, memory)? {
                None => return Ok(()),
                Some(row) => row,
            },
        };
        // The kernel folded the rows before `resume`; the interpreter takes over from there.
        let mut agg = self.new_aggregator()?;
        if let StateEngine::Kernel(memory) = &state.engine {
            let (key_columns, raw, groups) = self.raw_parts(memory)?;
            agg.merge_raw(key_columns, raw, groups)?;
        }
        state.handed_back_at = Some(resume);
        let rest = batch.slice(resume, n - resume);
        let folded = self.interpret(&rest, &mut agg);
        state.engine = StateEngine::Interpreter(agg);
        // An error there is the interpreter's for the whole batch: the rows before `resume` have
        // no error (the kernel stops at the first row with a code), and the interpreter raises
        // the first error of the others in the same order in the whole batch as in `rest`.
        folded
    }

    /// Runs the kernel over `batch` (at least one row): `None` when it folded the whole batch,
    /// `Some(row)` when it handed back at `row` (see the module docs), or the batch's error.
    fn run(&self, batch: &RecordBatch, memory: &mut KernelMemory) -> Result<Option<usize>> {
        let n = batch.num_rows();
        let inputs = KernelInputs::new(&self.columns, &self.params, batch, "aggregation")?;
        // Scratch for the strings built per row, each row's kept for the batch; a batch whose
        // built strings could add up past the interpreter's limit for one batch (`i32::MAX`
        // bytes, an error there) goes to the interpreter whole.
        let mut scratch_row = 0;
        if !self.scratch.is_zero() {
            match self.scratch.bytes(inputs.max_string_len()) {
                Some(bytes) if bytes.saturating_mul(n as u64) <= i32::MAX as u64 => {
                    scratch_row = bytes;
                    let total = bytes as usize * n;
                    if memory.scratch.len() < total {
                        memory.scratch.resize(total, 0);
                    }
                }
                _ => return Ok(Some(0)),
            }
        }
        let stride = self.layout.keys.as_ref().map_or(0, |k| k.words());
        let before = memory.groups;
        if self.layout.keys.is_some() {
            let room = before
                .checked_add(n)
                .filter(|&r| r < u32::MAX as usize / 2)
                .ok_or_else(|| Error::unsupported("GROUP BY with more than 2^31 groups"))?;
            memory.reserve(room, stride);
        }
        let string_slots = self
            .layout
            .slots
            .iter()
            .filter(|s| matches!(s.kind, SlotKind::MinMaxStr { .. }))
            .count();
        let log_room = n * string_slots + 1;
        if memory.log.len() < log_room {
            memory.log.resize(log_room, 0);
        }
        let mut vector_ptrs: Vec<*mut u8> =
            memory.vectors.iter_mut().map(|v| v.as_mut_ptr()).collect();
        let (direct, direct_keys) = match &mut memory.direct {
            Some(index) => index.args(),
            None => (std::ptr::null_mut(), std::ptr::null_mut()),
        };
        let mut args = AggArgs {
            vectors: vector_ptrs.as_mut_ptr().cast_const(),
            slots: memory.slots.as_mut_ptr(),
            slot_mask: (memory.slots.len() as u64).wrapping_sub(1),
            hashes: memory.hashes.as_mut_ptr(),
            keys: memory.keys.as_mut_ptr(),
            groups: before as u64,
            log: memory.log.as_mut_ptr(),
            log_len: 0,
            scratch: memory.scratch.as_mut_ptr(),
            scratch_row,
            direct,
            direct_keys,
        };
        let mut status = KernelStatus::default();
        // SAFETY: `inputs.args` describes live arrays of the slots' types with `n` rows (checked
        // by `KernelInputs::new`); with keys, `reserve` made room for `n` new groups in every
        // vector, `hashes` and `keys`, and the slots are a power of two at least twice as many;
        // without keys every vector has group 0. `vector_ptrs` has one pointer per vector of
        // the layout; the log has room for an entry per row and string slot, plus one; the
        // scratch area has `scratch_row` bytes per row (or the kernel builds no strings). A
        // direct index has the entries its keys' words say (`DirectIndex::apply`); a layout
        // without one never reads the null pointers. `status` is zeroed; `self` owns the code.
        unsafe { (self.entry)(inputs.args.as_ptr(), n as u64, &mut args, &mut status) };
        let resume = match status.code {
            0 => None,
            STATUS_FALLBACK if status.row < n as u64 => Some(status.row as usize),
            _ => return Err(self.error(batch, status)),
        };
        let keyed = self.layout.keys.is_some();
        if !keyed && resume.is_some() {
            // Nothing of the batch reached the state (see the module docs).
            return match resume {
                Some(0) => Ok(resume),
                _ => Err(Error::internal(
                    "the aggregation kernel handed back in the middle of a batch without keys",
                )),
            };
        }
        let after = args.groups as usize;
        if after < before || (!keyed && after != 1) {
            return Err(Error::internal("the aggregation kernel lost groups"));
        }
        memory.groups = after;
        if let Some(keys) = &self.layout.keys {
            memory.own_strings(keys, before..after)?;
            if let Some(index) = &mut memory.direct {
                index.tune(&memory.keys, keys.words(), after);
            }
        }
        let logged = args.log_len as usize;
        if logged > log_room {
            return Err(Error::internal("the aggregation kernel overran its log"));
        }
        memory.own_extremes(&self.layout, logged)?;
        drop(inputs);
        Ok(resume)
    }

    /// Folds `batch` into an interpreter aggregation, filtering it first if the kernel filters.
    fn interpret(&self, batch: &RecordBatch, agg: &mut interp::Aggregator) -> Result<()> {
        let filtered = match &self.filter {
            Some(f) => {
                let mask = interp::evaluate_predicate(f, batch)?;
                arrow::compute::filter_record_batch(batch, &mask)?
            }
            None => batch.clone(),
        };
        if filtered.num_rows() == 0 {
            return Ok(());
        }
        agg.update(&filtered)
    }

    /// The error of a batch the kernel failed on: the interpreter's, which evaluates the
    /// batch in its own order; else (it succeeded) the kernel's.
    fn error(&self, batch: &RecordBatch, status: KernelStatus) -> Error {
        let exact = self
            .new_aggregator()
            .and_then(|mut agg| self.interpret(batch, &mut agg));
        if let Err(e) = exact {
            return e;
        }
        match self.errors.iter().find(|s| s.code == status.code) {
            Some(site) => site.to_error(status.row),
            None => Error::internal(format!(
                "the compiled aggregation failed (code {}) where the interpreter does not",
                status.code
            )),
        }
    }

    /// The aggregate batch of `state`: as [`crate::interp::Aggregator::finish_within`] returns
    /// it, telling `charge` what it holds beyond the state.
    pub fn finish(&self, state: AggregateState, charge: interp::Charge<'_>) -> Result<RecordBatch> {
        match usable(state, "finished")? {
            StateEngine::Kernel(memory) => {
                let (key_columns, raw, n) = self.raw_parts(&memory)?;
                interp::finish_raw(
                    &self.query_keys,
                    key_columns,
                    &self.query_aggregates,
                    raw,
                    n,
                    charge,
                )
            }
            StateEngine::Interpreter(agg) => agg.finish_within(charge),
        }
    }

    /// An empty interpreter aggregation of this kernel's keys and aggregates, to merge states
    /// into ([`AggregateKernel::merge_into`]).
    pub fn new_aggregator(&self) -> Result<interp::Aggregator> {
        interp::Aggregator::new(&self.query_keys, &self.query_aggregates)
    }

    /// Folds `state` into `into` (an aggregation of the same keys and aggregates): groups `into`
    /// does not have are appended in `state`'s first-seen order, and sums are added exactly as
    /// [`crate::interp::Aggregator::merge`] adds them, so partial states merged in a fixed order
    /// give the same answer as the interpreter merging its partial states in that order.
    /// Returns, for each of `state`'s groups in order, its group in `into`.
    pub fn merge_into(
        &self,
        state: AggregateState,
        into: &mut interp::Aggregator,
    ) -> Result<Vec<u32>> {
        match usable(state, "merged")? {
            StateEngine::Kernel(memory) => {
                let (key_columns, raw, n) = self.raw_parts(&memory)?;
                into.merge_raw(key_columns, raw, n)
            }
            StateEngine::Interpreter(agg) => into.merge(agg),
        }
    }

    /// Whether [`AggregateKernel::merge_state`] folds this kernel's states into each other: it
    /// keeps no string extremes (whose bytes each state owns by slot and group).
    pub fn merges_in_kernel(&self) -> bool {
        !self
            .layout
            .slots
            .iter()
            .any(|s| matches!(s.kind, SlotKind::MinMaxStr { .. }))
    }

    /// Whether this kernel's states fold into each other to the same answer in any order, so
    /// that one state may take the morsels of a whole worker rather than one morsel each (see
    /// `exec::combine`): they merge in the kernel's memory ([`Self::merges_in_kernel`]), no
    /// float is summed (a float sum depends on the order of its terms; an exact sum, which
    /// counts its wraps, does not, and fails only if its exact value does not fit), and the
    /// query has no `DISTINCT` aggregate (whose second grouping, at the end, folds the
    /// state's groups in their order, and whose groups are not the state's).
    pub fn order_free(&self) -> bool {
        self.merges_in_kernel()
            && !self
                .layout
                .slots
                .iter()
                .any(|slot| slot.kind == SlotKind::FloatSum)
            && !self.query_aggregates.iter().any(|call| call.distinct)
    }

    /// Folds `from` into `into`, both this kernel's states in its memory
    /// ([`AggregateState::in_kernel`]), for a kernel that [`AggregateKernel::merges_in_kernel`]:
    /// as [`AggregateKernel::merge_into`] folds a state into an interpreter aggregation (groups
    /// `into` does not have appended in `from`'s first-seen order, sums added as
    /// [`crate::interp::Aggregator::merge`] adds them), but in the kernel's own layout: a group is found by its stored hash and key
    /// record, with no key columns built and no keys encoded again. `into` takes over the bytes
    /// of `from`'s string keys (those of groups it already had too: they are freed with it).
    /// Returns, for each of `from`'s groups in order, its group in `into`.
    pub fn merge_state(
        &self,
        from: AggregateState,
        into: &mut AggregateState,
    ) -> Result<Vec<usize>> {
        let lost = |what: &str| Error::internal(format!("merging aggregation states: {what}"));
        if !self.merges_in_kernel() || into.poisoned {
            return Err(lost("not in the kernel's memory"));
        }
        let (StateEngine::Kernel(mut from), StateEngine::Kernel(to)) =
            (usable(from, "merged")?, &mut into.engine)
        else {
            return Err(lost("not in the kernel's memory"));
        };
        // Each group of `from` → its group in `to`.
        let map: Vec<usize> = match &self.layout.keys {
            None => vec![0],
            Some(layout) => {
                let stride = layout.words();
                to.reserve(to.groups + from.groups, stride);
                let mask = to.slots.len() - 1;
                let mut map = Vec::with_capacity(from.groups);
                for j in 0..from.groups {
                    let h = from.hashes[j];
                    let record = &from.keys[j * stride..(j + 1) * stride];
                    let mut pos = h as usize & mask;
                    let g = loop {
                        let slot = to.slots[pos];
                        if slot == 0 {
                            // A new group: its accumulators are still zero, as the
                            // interpreter's new groups start.
                            let g = to.groups;
                            to.groups += 1;
                            to.slots[pos] = g as u32 + 1;
                            to.hashes[g] = h;
                            to.keys[g * stride..(g + 1) * stride].copy_from_slice(record);
                            break g;
                        }
                        let g = slot as usize - 1;
                        let stored = &to.keys[g * stride..(g + 1) * stride];
                        // SAFETY: both records' strings are owned by their states.
                        if to.hashes[g] == h && unsafe { same_key(&layout.kinds, stored, record) } {
                            break g;
                        }
                        pos = (pos + 1) & mask;
                    };
                    map.push(g);
                }
                // The records of new groups point into these bytes, which stay where they are.
                to.strings.append(&mut from.strings);
                to.string_bytes += std::mem::take(&mut from.string_bytes);
                map
            }
        };
        for slot in &self.layout.slots {
            let v = slot.first_vector;
            match (slot.kind, from.vectors.get(v), from.vectors.get(v + 1)) {
                (SlotKind::Rows | SlotKind::Count, Some(Vector::I64(b)), _) => {
                    let Some(Vector::I64(a)) = to.vectors.get_mut(v) else {
                        return Err(lost("a count"));
                    };
                    for (j, &g) in map.iter().enumerate() {
                        a[g] += b[j];
                    }
                }
                (SlotKind::ExactSum, Some(Vector::I128(b)), Some(Vector::I64(bw))) => {
                    let Some((Vector::I128(a), Vector::I64(aw))) = pair(to, v) else {
                        return Err(lost("an exact sum"));
                    };
                    // Wrapping, with the net wraps (as the interpreter's exact sums).
                    for (j, &g) in map.iter().enumerate() {
                        let (sum, o) = a[g].overflowing_add(b[j]);
                        let wrap = match o {
                            false => 0,
                            true if b[j] < 0 => -1,
                            true => 1,
                        };
                        a[g] = sum;
                        aw[g] = aw[g].wrapping_add(bw[j]).wrapping_add(wrap);
                    }
                }
                (SlotKind::FloatSum, Some(Vector::F64(b)), _) => {
                    let Some(Vector::F64(a)) = to.vectors.get_mut(v) else {
                        return Err(lost("a float sum"));
                    };
                    for (j, &g) in map.iter().enumerate() {
                        a[g] += b[j];
                    }
                }
                (SlotKind::MinMaxInt { max }, Some(Vector::I128(b)), Some(Vector::U8(bh))) => {
                    let Some((Vector::I128(a), Vector::U8(ah))) = pair(to, v) else {
                        return Err(lost("an integer extreme"));
                    };
                    merge_extremes(a, ah, b, bh, &map, max, |x, y| x < y);
                }
                (SlotKind::MinMaxFloat { max }, Some(Vector::F64(b)), Some(Vector::U8(bh))) => {
                    let Some((Vector::F64(a), Vector::U8(ah))) = pair(to, v) else {
                        return Err(lost("a float extreme"));
                    };
                    merge_extremes(a, ah, b, bh, &map, max, |x, y| x.total_cmp(y).is_lt());
                }
                (SlotKind::MinMaxBool { max }, Some(Vector::U8(b)), Some(Vector::U8(bh))) => {
                    let Some((Vector::U8(a), Vector::U8(ah))) = pair(to, v) else {
                        return Err(lost("a boolean extreme"));
                    };
                    merge_extremes(a, ah, b, bh, &map, max, |x, y| x < y);
                }
                _ => return Err(lost("a state slot of another kind")),
            }
        }
        Ok(map)
    }

    /// The key columns (`None` without keys), each aggregate's state, and the number of groups.
    fn raw_parts(
        &self,
        state: &KernelMemory,
    ) -> Result<(Option<Vec<ArrayRef>>, Vec<RawState>, usize)> {
        let n = state.groups;
        let key_columns = match &self.layout.keys {
            None => None,
            Some(layout) => {
                let stride = layout.words();
                let mut columns = vec![];
                let mut at = 1;
                for (k, (key, kind)) in self.keys.iter().zip(&layout.kinds).enumerate() {
                    columns.push(key_column(state, stride, k, at, *kind, key.ty())?);
                    at += kind.words();
                }
                Some(columns)
            }
        };
        let mut raw = vec![];
        for (kind, (value, count)) in self.layout.accumulators.iter().zip(&self.layout.uses) {
            let vectors = |slot: &Option<usize>| -> &[Vector] {
                match slot.and_then(|s| self.layout.slots.get(s)) {
                    Some(s) => &state.vectors[s.first_vector..],
                    None => &[],
                }
            };
            raw.push(raw_state(*kind, vectors(value), vectors(count), n)?);
        }
        Ok((key_columns, raw, n))
    }

    /// The columns the kernel reads.
    pub fn columns(&self) -> &[ColumnSlot] {
        super::kernel::batch_columns(&self.columns)
    }

    pub fn ir_before(&self) -> &str {
        self.jit.ir_before()
    }

    pub fn ir_after(&self) -> &str {
        self.jit.ir_after()
    }

    pub fn timing(&self) -> CompileTiming {
        self.jit.timing()
    }
}

/// The engine of `state`, unless an update failed on it (`what`: what the caller does with it).
fn usable(state: AggregateState, what: &str) -> Result<StateEngine> {
    if state.poisoned {
        return Err(Error::internal(format!(
            "an aggregation state {what} after an error"
        )));
    }
    Ok(state.engine)
}

impl KernelMemory {
    /// The bytes the groups take: each group's entries in the vectors, its hash, its key
    /// record and two hash slots (the table is kept at most half full), and the copied strings.
    ///
    /// The room `run` makes for one batch of new groups before each batch, and the log and
    /// scratch area of one batch, are not counted: they are bounded by the batch size (like
    /// the batch itself), not by the number of groups, and counting them would make a query
    /// with a few groups fail a small limit under the JIT but not under the interpreter.
    fn memory_bytes(&self) -> usize {
        let vectors: usize = self
            .vectors
            .iter()
            .map(|v| match v {
                Vector::I64(_) => std::mem::size_of::<i64>(),
                Vector::I128(_) => std::mem::size_of::<i128>(),
                Vector::F64(_) => std::mem::size_of::<f64>(),
                Vector::U8(_) => std::mem::size_of::<u8>(),
            })
            .sum();
        // With keys, `hashes` and `keys` have an entry, and a record, for every reserved group.
        let key_words = self.keys.len().checked_div(self.hashes.len()).unwrap_or(0);
        let per_group =
            vectors + std::mem::size_of::<u64>() * (1 + key_words) + 2 * std::mem::size_of::<u32>();
        // A map entry: its key, its boxed bytes' pointer and length, a control byte.
        let extreme = std::mem::size_of::<((usize, usize), Box<[u8]>)>() + 1;
        per_group * self.groups
            + self.direct.as_ref().map_or(0, DirectIndex::memory_bytes)
            + self.strings.capacity() * std::mem::size_of::<Box<[u8]>>()
            + self.extremes.capacity() * extreme
            + self.string_bytes
    }

    /// Makes room for `groups` groups of `stride` key words, growing (and rehashing) the slots
    /// to at least twice as many.
    fn reserve(&mut self, groups: usize, stride: usize) {
        for v in &mut self.vectors {
            v.reserve_groups(groups);
        }
        if self.hashes.len() < groups {
            self.hashes.resize(groups, 0);
        }
        if self.keys.len() < groups * stride {
            self.keys.resize(groups * stride, 0);
        }
        let wanted = (2 * groups).next_power_of_two().max(MIN_SLOTS);
        if self.slots.len() < wanted {
            let size = wanted.max(2 * self.slots.len());
            let mask = size - 1;
            let mut slots = vec![0u32; size];
            for g in 0..self.groups {
                let mut pos = self.hashes[g] as usize & mask;
                while slots[pos] != 0 {
                    pos = (pos + 1) & mask;
                }
                slots[pos] = g as u32 + 1;
            }
            self.slots = slots;
        }
    }

    /// Copies the string extremes the kernel logged (taken from the batch just run or the
    /// scratch area) and points their slots at the copies.
    fn own_extremes(&mut self, layout: &AggregateLayout, logged: usize) -> Result<()> {
        for e in 0..logged {
            let entry = self.log[e];
            let (slot, group) = ((entry >> 32) as usize, (entry & u32::MAX as u64) as usize);
            let first = layout
                .slots
                .get(slot)
                .ok_or_else(|| Error::internal("a logged slot does not exist"))?
                .first_vector;
            let (Vector::I64(addr), Vector::I64(len), Vector::U8(has), Vector::U8(dirty)) = (
                &self.vectors[first],
                &self.vectors[first + 1],
                &self.vectors[first + 2],
                &self.vectors[first + 3],
            ) else {
                return Err(Error::internal("a string extreme without its vectors"));
            };
            if has[group] == 0 || dirty[group] == 0 {
                return Err(Error::internal("a logged string extreme without a value"));
            }
            let (ptr, n) = (addr[group] as usize as *const u8, len[group] as usize);
            let bytes: Box<[u8]> = if n == 0 {
                Box::new([])
            } else {
                // SAFETY: the kernel stored the address and length of a string of the batch
                // it just ran over, which the caller still holds, or of the scratch area, which
                // only the next batch overwrites.
                unsafe { std::slice::from_raw_parts(ptr, n) }.into()
            };
            let owned = bytes.as_ptr() as i64;
            self.string_bytes += bytes.len();
            if let Some(old) = self.extremes.insert((slot, group), bytes) {
                self.string_bytes -= old.len();
            }
            if let Vector::I64(addr) = &mut self.vectors[first] {
                addr[group] = owned;
            }
            if let Vector::U8(dirty) = &mut self.vectors[first + 3] {
                dirty[group] = 0;
            }
        }
        Ok(())
    }

    /// Copies the bytes of the string keys of `groups` (new in the batch just run, their bytes
    /// in the batch or the scratch area) and points their records at the copies.
    fn own_strings(
        &mut self,
        layout: &codegen::KeyLayout,
        groups: std::ops::Range<usize>,
    ) -> Result<()> {
        let stride = layout.words();
        let mut at = 1;
        for kind in &layout.kinds {
            if *kind == KeyKind::Utf8View {
                for g in groups.clone() {
                    let w = g * stride + at;
                    let len = (self.keys[w] & u32::MAX as u64) as usize;
                    if len <= 12 {
                        continue;
                    }
                    let ptr = self.keys[w + 1] as usize as *const u8;
                    // SAFETY: the kernel stored the address and length of a string of the batch
                    // it just ran over, which the caller still holds, or of the scratch area,
                    // which only the next batch overwrites.
                    let bytes: Box<[u8]> = unsafe { std::slice::from_raw_parts(ptr, len) }.into();
                    self.keys[w + 1] = bytes.as_ptr() as u64;
                    self.string_bytes += bytes.len();
                    self.strings.push(bytes);
                }
            }
            if *kind == KeyKind::Utf8 {
                for g in groups.clone() {
                    let w = g * stride + at;
                    let (ptr, len) = (
                        self.keys[w] as usize as *const u8,
                        self.keys[w + 1] as usize,
                    );
                    if len == 0 {
                        self.keys[w] = 0;
                        continue;
                    }
                    // SAFETY: the kernel stored the address and length of a string of the batch
                    // it just ran over, which the caller still holds, or of the scratch area,
                    // which only the next batch overwrites.
                    let bytes: Box<[u8]> = unsafe { std::slice::from_raw_parts(ptr, len) }.into();
                    self.keys[w] = bytes.as_ptr() as u64;
                    self.string_bytes += bytes.len();
                    self.strings.push(bytes);
                }
            }
            at += kind.words();
        }
        Ok(())
    }
}

/// Key `k` (at word `at` of each record) as a column of its type.
fn key_column(
    state: &KernelMemory,
    stride: usize,
    k: usize,
    at: usize,
    kind: KeyKind,
    ty: SqlType,
) -> Result<ArrayRef> {
    let n = state.groups;
    let word = |g: usize, i: usize| state.keys[g * stride + at + i];
    let valid = |g: usize| state.keys[g * stride] >> k & 1 == 0;
    macro_rules! column {
        ($array:ty, $f:expr) => {
            Arc::new((0..n).map(|g| valid(g).then(|| $f(g))).collect::<$array>()) as ArrayRef
        };
    }
    Ok(match (kind, ty) {
        (_, SqlType::Null) => Arc::new(NullArray::new(n)),
        (KeyKind::Bool, _) => column!(BooleanArray, |g| word(g, 0) != 0),
        (KeyKind::Signed, SqlType::Int8) => column!(Int8Array, |g| word(g, 0) as i8),
        (KeyKind::Signed, SqlType::Int16) => column!(Int16Array, |g| word(g, 0) as i16),
        (KeyKind::Signed, SqlType::Int32) => column!(Int32Array, |g| word(g, 0) as i32),
        (KeyKind::Signed, SqlType::Int64) => column!(Int64Array, |g| word(g, 0) as i64),
        (KeyKind::Signed, SqlType::Date) => column!(Date32Array, |g| word(g, 0) as i32),
        (KeyKind::Signed, SqlType::Timestamp { .. }) => crate::interp::time::retype(
            &column!(Int64Array, |g| word(g, 0) as i64),
            &ty.to_arrow(),
        )?,
        (KeyKind::Unsigned, SqlType::UInt8) => column!(UInt8Array, |g| word(g, 0) as u8),
        (KeyKind::Unsigned, SqlType::UInt16) => column!(UInt16Array, |g| word(g, 0) as u16),
        (KeyKind::Unsigned, SqlType::UInt32) => column!(UInt32Array, |g| word(g, 0) as u32),
        (KeyKind::Unsigned, SqlType::UInt64) => column!(UInt64Array, |g| word(g, 0)),
        (KeyKind::Float32, _) => column!(Float32Array, |g| f32::from_bits(word(g, 0) as u32)),
        (KeyKind::Float64, _) => column!(Float64Array, |g| f64::from_bits(word(g, 0))),
        (KeyKind::Decimal, SqlType::Decimal { precision, scale }) => {
            let values = (0..n)
                .map(|g| valid(g).then(|| (word(g, 1) as i128) << 64 | word(g, 0) as i128))
                .collect::<Decimal128Array>()
                .with_precision_and_scale(precision, scale as i8)?;
            Arc::new(values)
        }
        (KeyKind::Utf8View, _) => {
            let mut values: Vec<Option<String>> = Vec::with_capacity(n);
            for g in 0..n {
                if !valid(g) {
                    values.push(None);
                    continue;
                }
                let (w0, w1) = (word(g, 0), word(g, 1));
                let len = (w0 & u32::MAX as u64) as usize;
                let bytes: Vec<u8> = if len <= 12 {
                    let mut inline = [0u8; 12];
                    inline[..4].copy_from_slice(&((w0 >> 32) as u32).to_le_bytes());
                    inline[4..].copy_from_slice(&w1.to_le_bytes());
                    inline[..len].to_vec()
                } else {
                    // SAFETY: after every batch, `own_strings` pointed the record at bytes
                    // owned by `state.strings`, which `state` keeps alive.
                    unsafe { std::slice::from_raw_parts(w1 as usize as *const u8, len) }.to_vec()
                };
                values.push(Some(String::from_utf8(bytes).map_err(|_| {
                    Error::internal("a compiled group key is not UTF-8")
                })?));
            }
            Arc::new(values.into_iter().collect::<StringArray>())
        }
        (KeyKind::Utf8, _) => {
            let mut owned: Vec<Option<&str>> = Vec::with_capacity(n);
            for g in 0..n {
                if !valid(g) {
                    owned.push(None);
                    continue;
                }
                let (ptr, len) = (word(g, 0) as usize as *const u8, word(g, 1) as usize);
                let bytes: &[u8] = if len == 0 {
                    &[]
                } else {
                    // SAFETY: after every batch, `own_strings` pointed the record at bytes
                    // owned by `state.strings`, which `state` keeps alive.
                    unsafe { std::slice::from_raw_parts(ptr, len) }
                };
                owned.push(Some(std::str::from_utf8(bytes).map_err(|_| {
                    Error::internal("a compiled group key is not UTF-8")
                })?));
            }
            Arc::new(owned.into_iter().collect::<StringArray>())
        }
        (kind, ty) => {
            return Err(Error::internal(format!(
                "a group key of type {ty} stored as {kind:?}"
            )))
        }
    })
}

/// The interpreter's form of one aggregate's state, from the vectors of its value slot and of
/// its count slot (each slice starts at the slot's first vector).
/// Whether two key records of keys of `kinds` are the same key: equal words, strings with
/// equal bytes (a view's first word holds its length and prefix; a short view is its words).
///
/// # Safety
/// The strings of both records are readable (owned by their states).
unsafe fn same_key(kinds: &[KeyKind], a: &[u64], b: &[u64]) -> bool {
    if a[0] != b[0] {
        return false;
    }
    // SAFETY (of `bytes`): the caller's promise; a length of 0 reads nothing.
    let bytes = |addr: u64, len: u64| -> &[u8] {
        if len == 0 {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len as usize) }
        }
    };
    let mut at = 1;
    for kind in kinds {
        let n = kind.words();
        let same = match kind {
            KeyKind::Utf8 => {
                a[at + 1] == b[at + 1] && bytes(a[at], a[at + 1]) == bytes(b[at], b[at + 1])
            }
            KeyKind::Utf8View => {
                let len = a[at] & u32::MAX as u64;
                a[at] == b[at]
                    && if len <= 12 {
                        a[at + 1] == b[at + 1]
                    } else {
                        bytes(a[at + 1], len) == bytes(b[at + 1], len)
                    }
            }
            _ => a[at..at + n] == b[at..at + n],
        };
        if !same {
            return false;
        }
        at += n;
    }
    true
}

/// The two vectors of a slot from vector `v` on (an extreme's value and has-value flag).
fn pair(to: &mut KernelMemory, v: usize) -> Option<(&mut Vector, &mut Vector)> {
    match to.vectors.get_mut(v..v + 2)? {
        [a, b] => Some((a, b)),
        _ => None,
    }
}

/// `MIN`/`MAX` of `from` (values `b`, has-value flags `bh`) folded into `a`/`ah` through
/// `map`, as the interpreter merges extremes: a value replaces none, or a worse one (`less`).
fn merge_extremes<T: Copy>(
    a: &mut [T],
    ah: &mut [u8],
    b: &[T],
    bh: &[u8],
    map: &[usize],
    max: bool,
    less: impl Fn(&T, &T) -> bool,
) {
    for (j, &g) in map.iter().enumerate() {
        if bh[j] == 0 {
            continue;
        }
        let better = ah[g] == 0
            || if max {
                less(&a[g], &b[j])
            } else {
                less(&b[j], &a[g])
            };
        if better {
            a[g] = b[j];
            ah[g] = 1;
        }
    }
}

fn raw_state(kind: AccKind, value: &[Vector], count: &[Vector], n: usize) -> Result<RawState> {
    let lost = || Error::internal(format!("the state of a {kind:?} aggregate is lost"));
    let counts = || -> Result<Vec<i64>> {
        match count.first() {
            Some(Vector::I64(c)) => Ok(c[..n].to_vec()),
            // A sum of an argument that cannot be NULL, grouped, keeps no count: every group
            // has a value (see `layout`).
            None if matches!(kind, AccKind::ExactSum | AccKind::FloatSum) => Ok(vec![1; n]),
            _ => Err(lost()),
        }
    };
    let has = || -> Result<Vec<bool>> {
        match value.get(1) {
            Some(Vector::U8(h)) => Ok(h[..n].iter().map(|&b| b != 0).collect()),
            _ => Err(lost()),
        }
    };
    Ok(match (kind, value.first()) {
        (AccKind::CountStar | AccKind::Count, _) => RawState::Count(counts()?),
        (AccKind::ExactSum, Some(Vector::I128(s))) => RawState::Exact {
            sums: s[..n].to_vec(),
            wraps: match value.get(1) {
                Some(Vector::I64(w)) => w[..n].to_vec(),
                _ => return Err(lost()),
            },
            counts: counts()?,
        },
        (AccKind::FloatSum, Some(Vector::F64(s))) => RawState::Float {
            sums: s[..n].to_vec(),
            counts: counts()?,
        },
        (AccKind::MinMaxInt { .. }, Some(Vector::I128(v))) => RawState::IntExtremes(
            v[..n]
                .iter()
                .zip(has()?)
                .map(|(v, h)| h.then_some(*v))
                .collect(),
        ),
        (AccKind::MinMaxFloat { .. }, Some(Vector::F64(v))) => RawState::FloatExtremes(
            v[..n]
                .iter()
                .zip(has()?)
                .map(|(v, h)| h.then_some(*v))
                .collect(),
        ),
        (AccKind::MinMaxBool { .. }, Some(Vector::U8(v))) => RawState::BoolExtremes(
            v[..n]
                .iter()
                .zip(has()?)
                .map(|(v, h)| h.then_some(*v != 0))
                .collect(),
        ),
        (AccKind::MinMaxStr { .. }, Some(Vector::I64(addr))) => {
            let (Some(Vector::I64(len)), Some(Vector::U8(has))) = (value.get(1), value.get(2))
            else {
                return Err(lost());
            };
            let mut out = Vec::with_capacity(n);
            for g in 0..n {
                if has[g] == 0 {
                    out.push(None);
                    continue;
                }
                let bytes: &[u8] = if len[g] == 0 {
                    &[]
                } else {
                    // SAFETY: after every batch, `own_extremes` pointed the slot at bytes owned
                    // by the state, which outlives this call.
                    unsafe {
                        std::slice::from_raw_parts(addr[g] as usize as *const u8, len[g] as usize)
                    }
                };
                out.push(Some(String::from_utf8(bytes.to_vec()).map_err(|_| {
                    Error::internal("a compiled MIN/MAX string is not UTF-8")
                })?));
            }
            RawState::StrExtremes(out)
        }
        _ => return Err(lost()),
    })
}

/// Asserts that the JIT answers `sql` over `source` on 1 and 2 threads exactly as the
/// interpreter does on one, errors included (for the tests of the kernel's parts).
#[cfg(test)]
pub(crate) fn assert_compiled_as_interpreted(source: &crate::exec::Source, sql: &str) {
    use crate::exec::{self, EngineKind, QueryOptions};
    let options = |engine, threads| QueryOptions {
        engine,
        threads: Some(threads),
        ..QueryOptions::default()
    };
    let reference = exec::run(source, sql, &options(EngineKind::Interp, 1))
        .map(|r| r.batches)
        .map_err(|e| e.to_string());
    for threads in [1, 2] {
        let compiled = exec::run(source, sql, &options(EngineKind::Jit, threads))
            .map(|r| r.batches)
            .map_err(|e| e.to_string());
        assert_eq!(compiled, reference, "{sql} on {threads}");
    }
}

#[cfg(test)]
impl AggregateKernel {
    /// The kernel of the aggregation query `sql` over `source`, at optimization level 1.
    pub(crate) fn of_query(source: &crate::exec::Source, sql: &str) -> AggregateKernel {
        let plan = crate::exec::plan(source, sql).unwrap();
        let crate::ir::Body::Aggregate {
            keys, aggregates, ..
        } = &plan.body
        else {
            panic!("not an aggregation: {sql}");
        };
        AggregateKernel::compile(plan.filter.as_ref(), keys, aggregates, Optimize::level(1))
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int32Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::{same_key, AggregateKernel};
    use crate::codegen::KeyKind;
    use crate::exec::{self, EngineKind, PartEngine, QueryOptions, Source};
    use crate::interp::Aggregator;
    use crate::ir::Body;
    use crate::jit::Optimize;

    /// Three batches of 100, 100 and 50 rows: ASCII text and decimals exact as a `DOUBLE`,
    /// except at row 70 of the second batch (text with an umlaut, a decimal past 2^53 units).
    fn table() -> (Source, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("d", DataType::Decimal128(38, 2), true),
        ]));
        let words = ["abc", "Abc", "xyz", "", "hello world", "ABC"];
        let batch = |rows: std::ops::Range<i32>, odd: Option<i32>| {
            let k: Int32Array = rows.clone().map(|r| (r % 11 != 5).then_some(r)).collect();
            let s: StringArray = rows
                .clone()
                .map(|r| match r {
                    r if Some(r) == odd => Some("grüße".to_string()),
                    r if r % 13 == 4 => None,
                    r => Some(words[r as usize % words.len()].to_string()),
                })
                .collect();
            let d: Decimal128Array = rows
                .map(|r| match r {
                    r if Some(r) == odd => Some(123_456_789_012_345_678_901),
                    r if r % 17 == 3 => None,
                    r => Some(i128::from(r) * 7 - 300),
                })
                .collect();
            let d = d.with_precision_and_scale(38, 2).unwrap();
            RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(s), Arc::new(d)])
                .unwrap()
        };
        let batches = vec![
            batch(0..100, None),
            batch(100..200, Some(170)),
            batch(200..250, None),
        ];
        (Source::batches("t", schema, batches.clone()), batches)
    }

    /// Runs `sql`'s aggregation through the kernel batch by batch, checking where it handed
    /// back, and compares the result with the interpreter's.
    fn hands_back(sql: &str, expected: [Option<usize>; 3]) {
        let (source, batches) = table();
        let jit = QueryOptions {
            engine: EngineKind::Jit,
            ..Default::default()
        };
        let plan = exec::plan(&source, sql).unwrap();
        assert_eq!(
            exec::compile(&plan, &jit).unwrap().aggregate,
            PartEngine::Compiled,
            "{sql}"
        );
        let (kernel, keys, aggregates) = kernel_for(&plan);
        let filter = plan.filter.as_ref();
        let mut state = kernel.new_state();
        let mut interpreted = Aggregator::new(keys, aggregates).unwrap();
        for (batch, expected) in batches.iter().zip(expected) {
            let batch = batch.project(&plan.projection).unwrap();
            kernel.update(&batch, &mut state).unwrap();
            assert_eq!(state.handed_back_at(), expected, "{sql}");
            interpreted.update(&selected(filter, batch)).unwrap();
        }
        assert_eq!(
            kernel.finish(state, &mut |_| Ok(())).unwrap(),
            interpreted.finish().unwrap()
        );
        engines_agree(&source, sql);
    }

    /// The aggregation kernel of `plan` (an aggregation), with its keys and aggregates.
    fn kernel_for(
        plan: &crate::ir::Plan,
    ) -> (
        AggregateKernel,
        &[crate::ir::Expr],
        &[crate::ir::AggregateCall],
    ) {
        let Body::Aggregate {
            keys, aggregates, ..
        } = &plan.body
        else {
            panic!("not an aggregation: {plan:?}");
        };
        let filter = plan.filter.as_ref();
        let kernel =
            AggregateKernel::compile(filter, keys, aggregates, Optimize::level(2)).unwrap();
        (kernel, keys, aggregates)
    }

    /// The rows of `batch` that `filter` selects (all without one), as the interpreter folds.
    fn selected(filter: Option<&crate::ir::Expr>, batch: RecordBatch) -> RecordBatch {
        match filter {
            Some(f) => {
                let mask = crate::interp::evaluate_predicate(f, &batch).unwrap();
                arrow::compute::filter_record_batch(&batch, &mask).unwrap()
            }
            None => batch,
        }
    }

    /// The whole query gives the interpreter's answer, on one thread and on several.
    fn engines_agree(source: &Source, sql: &str) {
        for threads in [1, 3] {
            let options = |engine| QueryOptions {
                engine,
                threads: Some(threads),
                ..Default::default()
            };
            let compiled = exec::run(source, sql, &options(EngineKind::Jit)).unwrap();
            let reference = exec::run(source, sql, &options(EngineKind::Interp)).unwrap();
            assert_eq!(compiled.batches, reference.batches, "{sql}");
        }
    }

    #[test]
    fn keyed_aggregation_runs_compiled_up_to_the_row_it_hands_back() {
        // Row 70 of the second batch hands back; the third batch is interpreted.
        hands_back(
            "SELECT UPPER(s), k % 3, COUNT(*), SUM(CAST(d AS DOUBLE)), AVG(k), \
             MIN(LOWER(s)), MAX(s || 'x') FROM t GROUP BY UPPER(s), k % 3",
            [None, Some(70), Some(70)],
        );
        hands_back(
            "SELECT k % 4, SUM(CAST(d AS DOUBLE)), MAX(UPPER(s)) FROM t GROUP BY k % 4",
            [None, Some(70), Some(70)],
        );
        // Groups new in the second batch before the hand-back (k / 40 = 3 and 4), and after.
        hands_back(
            "SELECT k / 40, LOWER(s), COUNT(*), MIN(s || 'x'), SUM(CAST(d AS DOUBLE)) FROM t \
             GROUP BY k / 40, LOWER(s)",
            [None, Some(70), Some(70)],
        );
    }

    #[test]
    fn unkeyed_aggregation_hands_back_its_whole_batch() {
        // Float sums of a batch are added to the total once: the interpreter redoes the batch.
        hands_back(
            "SELECT SUM(CAST(d AS DOUBLE)), AVG(CAST(d AS DOUBLE)), MAX(UPPER(s)), COUNT(*) \
             FROM t",
            [None, Some(0), Some(0)],
        );
    }

    #[test]
    fn aggregation_without_a_hand_back_stays_compiled() {
        hands_back(
            "SELECT UPPER(s), SUM(CAST(d AS DOUBLE)) FROM t WHERE k < 150 OR k > 180 \
             GROUP BY UPPER(s)",
            [None, None, None],
        );
    }

    /// Key records compare their strings' bytes wherever they live: long views equal in
    /// length and prefix, `VARCHAR` keys of one length; NULL and the empty string differ by the
    /// NULL mask alone.
    #[test]
    fn key_records_compare_string_bytes() {
        let view = |s: &[u8], at: &[u8]| -> [u64; 2] {
            let mut w = [0u8; 8];
            w[..4].copy_from_slice(&(s.len() as u32).to_le_bytes());
            w[4..].copy_from_slice(&s[..4]);
            [u64::from_le_bytes(w), at.as_ptr() as u64]
        };
        let (a, b, c) = (
            b"SHIP BY AIR, fast".to_vec(),
            b"SHIP BY AIR, fast".to_vec(),
            b"SHIP BY AIR, slow".to_vec(),
        );
        let kinds = [KeyKind::Signed, KeyKind::Utf8View, KeyKind::Utf8];
        let record = |s: &[u8], text: &[u8]| {
            let [w0, w1] = view(s, s);
            vec![0, 7, w0, w1, text.as_ptr() as u64, text.len() as u64]
        };
        // SAFETY (all): the records point into the vectors above.
        unsafe {
            assert!(same_key(&kinds, &record(&a, &c), &record(&b, &c)));
            assert!(!same_key(&kinds, &record(&a, &c), &record(&c, &c)));
            assert!(same_key(&kinds, &record(&a, &a), &record(&a, &b)));
            assert!(!same_key(&kinds, &record(&a, &a), &record(&a, &c)));
            assert!(!same_key(&kinds, &record(&a, &a), &record(&a, &a[..5])));
            let mut other = record(&a, &a);
            other[1] = 8;
            assert!(!same_key(&kinds, &record(&a, &a), &other));
            // NULL (mask bit 2, words 0) against the empty string.
            let kinds = [KeyKind::Utf8];
            assert!(!same_key(&kinds, &[0b1, 0, 0], &[0, 0, 0]));
            assert!(same_key(&kinds, &[0, 0, 0], &[0, a.as_ptr() as u64, 0]));
        }
    }

    /// Integer keys of small domains go through the direct index, whose ranges move as batches
    /// bring values outside them (negative numbers, far-off ones, a domain too wide for one),
    /// with NULLs and booleans; strings beside them take the table: the answers are the
    /// interpreter's, and the index was in use where it should be.
    #[test]
    fn direct_index_follows_moving_keys() {
        use arrow::array::{BooleanArray, Int64Array, StringViewArray};
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("f", DataType::Utf8View, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("v", DataType::Int64, false),
            Field::new("w", DataType::Utf8View, true),
        ]));
        let flags = ["A", "N", "R", "", "O", "F", "B", "Z", "x"];
        let words = [
            "A",
            "ab",
            "abcd",
            "abc\0",
            "abcde",
            "twelve bytes",
            "a longer string!",
        ];
        let batch = |rows: std::ops::Range<i64>, n: &dyn Fn(i64) -> i64| {
            let ns: Int64Array = rows.clone().map(|r| (r % 7 != 3).then(|| n(r))).collect();
            let fs: StringViewArray = rows
                .clone()
                .map(|r| (r % 11 != 2).then(|| flags[(r % 9) as usize]))
                .collect();
            let bs: BooleanArray = rows
                .clone()
                .map(|r| (r % 5 != 1).then_some(r % 3 == 0))
                .collect();
            let ws: StringViewArray = rows
                .clone()
                .map(|r| (r % 13 != 2).then(|| words[(r % 7) as usize]))
                .collect();
            let vs: Int64Array = rows.map(Some).collect();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(ns),
                    Arc::new(fs),
                    Arc::new(bs),
                    Arc::new(vs),
                    Arc::new(ws),
                ],
            )
            .unwrap()
        };
        let batches = vec![
            batch(0..300, &|r| r % 10),
            batch(300..600, &|r| r % 10),
            batch(600..900, &|r| -(r % 50)),
            batch(900..1200, &|r| 1000 + r % 10),
            batch(1200..1500, &|r| (r % 13) * 1_000_000_007),
            batch(1500..1800, &|r| i64::MIN + r % 4),
        ];
        let source = Source::batches("t", schema, batches.clone());
        for (sql, direct) in [
            ("SELECT n, COUNT(*), SUM(v) FROM t GROUP BY n", true),
            ("SELECT f, COUNT(*), SUM(v) FROM t GROUP BY f", false),
            (
                "SELECT b, n % 3, COUNT(*), MIN(v) FROM t GROUP BY b, n % 3",
                true,
            ),
            (
                "SELECT b, f, n % 3, COUNT(*), MIN(v) FROM t GROUP BY b, f, n % 3",
                false,
            ),
            // Keys too far apart for the bound: the table serves them.
            ("SELECT v * 1000, COUNT(*) FROM t GROUP BY v * 1000", false),
            (
                "SELECT n, b, SUM(v) FROM t WHERE v % 3 <> 0 GROUP BY n, b",
                true,
            ),
            // Strings: the recent keys and the table serve them.
            ("SELECT w, COUNT(*), SUM(v) FROM t GROUP BY w", false),
            ("SELECT w, f, COUNT(*) FROM t GROUP BY w, f", false),
        ] {
            let plan = exec::plan(&source, sql).unwrap();
            let (kernel, keys, aggregates) = kernel_for(&plan);
            let filter = plan.filter.as_ref();
            let mut state = kernel.new_state();
            let mut used = false;
            for (i, batch) in batches.iter().enumerate() {
                kernel
                    .update(&batch.project(&plan.projection).unwrap(), &mut state)
                    .unwrap();
                used |= matches!(state.hint().direct, super::DirectHint::Ranges(_));
                if sql.starts_with("SELECT n, COUNT") && i == 2 {
                    // The kernel reported the negative keys, and the range moved to them.
                    let super::DirectHint::Ranges(ranges) = state.hint().direct else {
                        panic!("no ranges after the third batch");
                    };
                    let first = ranges[0].expect("a range of n").0;
                    assert!(first <= (-49i64 as u64) ^ 1 << 63, "{ranges:?}");
                }
            }
            assert_eq!(used, direct, "{sql}");
            assert!(state.in_kernel(), "{sql}");
            // A second state starts from the first one's ranges.
            let mut second = kernel.new_state_for(&state.hint());
            for batch in batches.iter().rev() {
                kernel
                    .update(&batch.project(&plan.projection).unwrap(), &mut second)
                    .unwrap();
            }
            let mut interpreted = Aggregator::new(keys, aggregates).unwrap();
            for batch in &batches {
                let batch = batch.project(&plan.projection).unwrap();
                interpreted.update(&selected(filter, batch)).unwrap();
            }
            let expected = interpreted.finish().unwrap();
            let got = kernel.finish(state, &mut |_| Ok(())).unwrap();
            assert_eq!(got, expected, "{sql}");
            // The reversed batches find the groups in another order: compare sorted.
            let sorted = |b: &RecordBatch| {
                let text = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(b))
                    .unwrap()
                    .to_string();
                let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
                rows.sort();
                rows
            };
            let got = kernel.finish(second, &mut |_| Ok(())).unwrap();
            assert_eq!(sorted(&got), sorted(&expected), "{sql}");
            engines_agree(&source, sql);
        }
    }
}
