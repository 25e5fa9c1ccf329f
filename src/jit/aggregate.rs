//! Compiled aggregation: the kernel handle ([`AggregateKernel`]) and the state it updates
//! ([`AggregateState`]: accumulator vectors, the group hash table and the group keys).
//!
//! ```text
//! AggregateKernel::new_state ─▶ AggregateState ─update(batch)─▶ … ─finish─▶ aggregate batch
//! ```
//!
//! The state is the memory the kernel reads and writes through [`AggArgs`]. Before each batch it
//! grows so that every row can create a group; after each batch the bytes of the string keys of
//! new groups are copied out of the batch, so that the table never points into a batch that is
//! gone. [`AggregateKernel::finish`] turns the state into the same aggregate batch as
//! [`crate::interp::Aggregator::finish`] (key columns then aggregates, groups in first-seen
//! order).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, NullArray, RecordBatch, StringArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};

use super::kernel::{CompileTiming, Jitted, KernelInputs, Optimize};
use crate::codegen::{
    self, AccKind, AggArgs, AggregateFn, AggregateLayout, CodegenError, ColumnSlot, ErrorSite,
    KernelStatus, KeyKind, SlotKind, VectorType, STATUS_SUM_OVERFLOW,
};
use crate::error::{Error, Result};
use crate::interp::{self, RawState};
use crate::ir::{AggregateCall, Expr, SqlType};

/// A compiled `WHERE` + `GROUP BY` + aggregates: [`AggregateKernel::update`] folds a scan batch
/// into an [`AggregateState`].
pub struct AggregateKernel {
    entry: AggregateFn,
    columns: Vec<ColumnSlot>,
    errors: Vec<ErrorSite>,
    layout: AggregateLayout,
    filter: Option<Expr>,
    keys: Vec<Expr>,
    aggregates: Vec<AggregateCall>,
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

/// The accumulators, groups and keys of one aggregation in progress (per worker).
#[derive(Debug)]
pub struct AggregateState {
    vectors: Vec<Vector>,
    /// `group + 1` per slot, 0 if empty; a power of two long (empty without keys).
    slots: Vec<u32>,
    hashes: Vec<u64>,
    /// Key records ([`codegen::KeyLayout::words`] words per group).
    keys: Vec<u64>,
    groups: usize,
    /// The bytes of the string keys, which the records point into.
    strings: Vec<Box<[u8]>>,
    /// The bytes of each `MIN`/`MAX` string, by (slot, group), which the slots point into.
    extremes: std::collections::HashMap<(usize, usize), Box<[u8]>>,
    /// The kernel's log of string extremes taken from the current batch.
    log: Vec<u64>,
    /// A kernel failed on this state: it is partly updated and must not be used.
    poisoned: bool,
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
        let (jit, address, (columns, errors, layout)) = Jitted::compile(
            optimize,
            codegen::AGGREGATE_ENTRY_NAME,
            |ctx, cpu, features| {
                let m = codegen::compile_aggregate(ctx, filter, keys, aggregates, cpu, features)?;
                Ok((m.module, (m.columns, m.errors, m.layout)))
            },
        )?;
        // SAFETY: the entry function was built with exactly the `AggregateFn` signature
        // (`void (ptr, i64, ptr, ptr)`, C calling convention), and `address` is its machine code.
        let entry: AggregateFn = unsafe { std::mem::transmute::<usize, AggregateFn>(address) };
        Ok(AggregateKernel {
            entry,
            columns,
            errors,
            layout,
            filter: filter.cloned(),
            keys: keys.to_vec(),
            aggregates: aggregates.to_vec(),
            jit,
        })
    }

    /// Whether the kernel applies the `WHERE` clause itself (else the caller filters first).
    pub fn filters(&self) -> bool {
        self.filter.is_some()
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
            vectors,
            slots: vec![],
            hashes: vec![],
            keys: vec![],
            groups,
            strings: vec![],
            extremes: std::collections::HashMap::new(),
            log: vec![],
            poisoned: false,
        }
    }

    /// Filters `batch` (a scan batch) and folds its selected rows into `state`. A row that fails
    /// is the interpreter's error for this batch.
    pub fn update(&self, batch: &RecordBatch, state: &mut AggregateState) -> Result<()> {
        if state.poisoned {
            return Err(Error::internal(
                "an aggregation state reused after an error",
            ));
        }
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let inputs = KernelInputs::new(&self.columns, batch, "aggregation")?;
        let stride = self.layout.keys.as_ref().map_or(0, |k| k.words());
        let before = state.groups;
        if self.layout.keys.is_some() {
            let room = before
                .checked_add(n)
                .filter(|&r| r < u32::MAX as usize / 2)
                .ok_or_else(|| Error::unsupported("GROUP BY with more than 2^31 groups"))?;
            state.reserve(room, stride);
        }
        let string_slots = self
            .layout
            .slots
            .iter()
            .filter(|s| matches!(s.kind, SlotKind::MinMaxStr { .. }))
            .count();
        let log_room = n * string_slots + 1;
        if state.log.len() < log_room {
            state.log.resize(log_room, 0);
        }
        let mut vector_ptrs: Vec<*mut u8> =
            state.vectors.iter_mut().map(|v| v.as_mut_ptr()).collect();
        let mut args = AggArgs {
            vectors: vector_ptrs.as_mut_ptr().cast_const(),
            slots: state.slots.as_mut_ptr(),
            slot_mask: (state.slots.len() as u64).wrapping_sub(1),
            hashes: state.hashes.as_mut_ptr(),
            keys: state.keys.as_mut_ptr(),
            groups: before as u64,
            log: state.log.as_mut_ptr(),
            log_len: 0,
        };
        let mut status = KernelStatus::default();
        // SAFETY: `inputs.args` describes live arrays of the slots' types with `n` rows (checked
        // by `KernelInputs::new`); with keys, `reserve` made room for `n` new groups in every
        // vector, `hashes` and `keys`, and the slots are a power of two at least twice as many;
        // without keys every vector has group 0. `vector_ptrs` has one pointer per vector of
        // the layout; the log has room for an entry per row and string slot, plus one.
        // `status` is zeroed; `self` owns the code.
        unsafe { (self.entry)(inputs.args.as_ptr(), n as u64, &mut args, &mut status) };
        if status.code != 0 {
            state.poisoned = true;
            return Err(self.error(batch, status));
        }
        let after = args.groups as usize;
        if after < before || (self.layout.keys.is_none() && after != 1) {
            state.poisoned = true;
            return Err(Error::internal("the aggregation kernel lost groups"));
        }
        state.groups = after;
        if let Some(keys) = &self.layout.keys {
            state.own_strings(keys, before..after)?;
        }
        let logged = args.log_len as usize;
        if logged > log_room {
            state.poisoned = true;
            return Err(Error::internal("the aggregation kernel overran its log"));
        }
        state.own_extremes(&self.layout, logged)?;
        drop(inputs);
        Ok(())
    }

    /// The error of a batch the kernel failed on: the interpreter's, which evaluates the
    /// batch in its own order; else (it succeeded) a sum that overflowed, or the kernel's.
    fn error(&self, batch: &RecordBatch, status: KernelStatus) -> Error {
        let exact = (|| -> Result<()> {
            let filtered = match &self.filter {
                Some(f) => {
                    let mask = interp::evaluate_predicate(f, batch)?;
                    arrow::compute::filter_record_batch(batch, &mask)?
                }
                None => batch.clone(),
            };
            let mut agg = interp::Aggregator::new(&self.keys, &self.aggregates)?;
            agg.update(&filtered)
        })();
        if let Err(e) = exact {
            return e;
        }
        if let Some(k) = status.code.checked_sub(STATUS_SUM_OVERFLOW) {
            if let Some(call) = self.aggregates.get(k as usize) {
                return interp::sum_overflow_error(call).unwrap_or_else(|e| e);
            }
        }
        match self.errors.iter().find(|s| s.code == status.code) {
            Some(site) => site.to_error(status.row),
            None => Error::internal(format!(
                "the compiled aggregation failed (code {}) where the interpreter does not",
                status.code
            )),
        }
    }

    /// The aggregate batch of `state`: as [`crate::interp::Aggregator::finish`] returns it.
    pub fn finish(&self, state: AggregateState) -> Result<RecordBatch> {
        let (key_columns, raw, n) = self.raw_parts(&state)?;
        interp::finish_raw(&self.keys, key_columns, &self.aggregates, raw, n)
    }

    /// An empty interpreter aggregation of this kernel's keys and aggregates, to merge states
    /// into ([`AggregateKernel::merge_into`]).
    pub fn new_aggregator(&self) -> Result<interp::Aggregator> {
        interp::Aggregator::new(&self.keys, &self.aggregates)
    }

    /// Folds `state` into `into` (an aggregation of the same keys and aggregates): groups `into`
    /// does not have are appended in `state`'s first-seen order, and sums are added exactly as
    /// [`crate::interp::Aggregator::merge`] adds them, so partial states merged in a fixed order
    /// give the same answer as the interpreter merging its partial states in that order.
    pub fn merge_into(&self, state: AggregateState, into: &mut interp::Aggregator) -> Result<()> {
        let (key_columns, raw, n) = self.raw_parts(&state)?;
        into.merge_raw(key_columns, raw, n)
    }

    /// The key columns (`None` without keys), each aggregate's state, and the number of groups.
    fn raw_parts(
        &self,
        state: &AggregateState,
    ) -> Result<(Option<Vec<ArrayRef>>, Vec<RawState>, usize)> {
        if state.poisoned {
            return Err(Error::internal(
                "an aggregation state finished after an error",
            ));
        }
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
        &self.columns
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

impl AggregateState {
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

    /// Copies the string extremes the kernel logged (taken from the batch just run) and points
    /// their slots at the copies.
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
                // it just ran over, which the caller still holds.
                unsafe { std::slice::from_raw_parts(ptr, n) }.into()
            };
            let owned = bytes.as_ptr() as i64;
            self.extremes.insert((slot, group), bytes);
            if let Vector::I64(addr) = &mut self.vectors[first] {
                addr[group] = owned;
            }
            if let Vector::U8(dirty) = &mut self.vectors[first + 3] {
                dirty[group] = 0;
            }
        }
        Ok(())
    }

    /// Copies the bytes of the string keys of `groups` (new in the batch just run) and points
    /// their records at the copies.
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
                    // it just ran over, which the caller still holds.
                    let bytes: Box<[u8]> = unsafe { std::slice::from_raw_parts(ptr, len) }.into();
                    self.keys[w + 1] = bytes.as_ptr() as u64;
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
                    // it just ran over, which the caller still holds.
                    let bytes: Box<[u8]> = unsafe { std::slice::from_raw_parts(ptr, len) }.into();
                    self.keys[w] = bytes.as_ptr() as u64;
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
    state: &AggregateState,
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
fn raw_state(kind: AccKind, value: &[Vector], count: &[Vector], n: usize) -> Result<RawState> {
    let lost = || Error::internal(format!("the state of a {kind:?} aggregate is lost"));
    let counts = || -> Result<Vec<i64>> {
        match count.first() {
            Some(Vector::I64(c)) => Ok(c[..n].to_vec()),
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
