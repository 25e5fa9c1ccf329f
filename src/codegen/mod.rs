//! Code generation: lowers the row loop of a typed plan to an LLVM module holding one kernel.
//!
//! ```text
//! WHERE                      ─compile_filter────▶ FilterModule    ─▶ FilterFn    (selection bitmap)
//! WHERE + SELECT expressions ─compile_project───▶ ProjectModule   ─▶ ProjectFn   (output buffers)
//! WHERE + GROUP BY + aggs    ─compile_aggregate─▶ AggregateModule ─▶ AggregateFn (accumulators)
//!                                  └─▶ jit (verify, optimize, machine code)
//! ```
//!
//! Every kernel reads the columns it uses through [`ColumnArg`]s and works a word of 64 rows at a
//! time: the filter's row function computes the selection bits of the word branch-free (so that
//! the loop vectorizes), then the projection or aggregation row function runs for each selected
//! row (count trailing zeros). Row functions are `alwaysinline` internal functions, inlined into
//! the entry. Values and validity are computed separately for every node (SQL three-valued
//! logic); errors (overflow, division by zero) are per-row error codes that count only where the
//! interpreter would raise them: for valid operands whose value is needed (see
//! `crate::ir::expr`), for rows the `WHERE` keeps. The filter kernel reports the first error's
//! code and row ([`ErrorSite`]); the projection and aggregation kernels stop at a failing row,
//! and the executor asks the interpreter for the exact error of that batch.
//!
//! `VARCHAR` values are `{ ptr, i64 }` pairs (the bytes and their length) in every column layout
//! ([`StringLayout`]); comparisons, `IN`, `LIKE`, `ILIKE`, `LENGTH` and `SUBSTRING` (a pointer and
//! length into the input, no copy) run byte loops defined as internal `alwaysinline` functions of
//! the same module (see `lower::strings`). `UPPER`, `LOWER`, `||` and casts to `VARCHAR` write
//! their result into a per-row scratch area ([`FilterFn`]'s `scratch`, sized by the caller from
//! [`ScratchNeed`]).
//!
//! Some rows are cheaper to hand back than to compile for: a filter or projection kernel reports
//! the reserved code [`STATUS_FALLBACK`] when a row needs the interpreter (`ILIKE` on a string
//! holding one of the two characters whose Unicode lowercase is ASCII, `UPPER`/`LOWER` of a
//! non-ASCII string, a cast from text that is not plainly well-formed (see `lower::text`), a
//! decimal not exact as a float, a scratch area too small), and the caller then evaluates the
//! whole batch with the interpreter. An aggregation kernel hands back at a row of its group keys
//! or aggregate arguments: it stops there with its state as the interpreter's would be after
//! the rows before it, and the interpreter carries on from that state (see `aggregate`). Its
//! fused `WHERE` clause does not hand back (the executor filters first instead).
//!
//! A kernel calls no function but the runtime ones (module `runtime`: Rust functions), and those
//! only in the casts that depend on a float's decimal digits (to and from `VARCHAR` and
//! `DECIMAL`, which need shortest round-trip digits or correctly rounded parsing), for the rows
//! their IR fast paths do not convert (see `lower::float_cast`), and in the group lookup of
//! string keys, for the rows whose key is not among the batch's recent ones (see `lower::group`).
//!
//! Constructs that do not compile are [`CodegenError::NotCompiled`] with a reason: the executor
//! runs that part in the interpreter and `--explain` says why.

mod aggregate;
mod kernel;
mod lower;
pub use lower::Params;
mod project;
pub(crate) mod runtime;

use arrow::datatypes::DataType;

use crate::error::Error;
use crate::ir::SqlType;

pub use aggregate::{
    aggregate_inputs, compile_aggregate, layout, AggregateModule, AGGREGATE_ENTRY_NAME,
};
pub use kernel::{compile_filter, FilterModule, ScratchNeed, ENTRY_NAME};
pub use project::{compile_project, lowers, writable, ProjectModule, PROJECT_ENTRY_NAME};

/// What the code generator decides about a kernel over `exprs` before it lowers them: the
/// constants the kernel takes as parameters, and the columns it reads (the parameter slot
/// last). A kernel loaded from the disk cache without code generation gets them from this same
/// function, so they agree with the machine code by construction.
pub fn kernel_inputs(exprs: &[&crate::ir::Expr]) -> (Params, Vec<ColumnSlot>) {
    let params = Params::of(exprs);
    let columns = kernel::column_slots(exprs, &params);
    (params, columns)
}

/// One input column of a kernel, as the kernel reads it (`#[repr(C)]`: the layout is the
/// kernel's ABI).
///
/// Fixed-width columns use `values` and `validity`; strings ([`StringLayout`]) also use `offsets`
/// and `data`:
///
/// | layout | `values` | `offset` | `offsets` | `data` |
/// |---|---|---|---|---|
/// | `Utf8` / `LargeUtf8` | null | index of row 0 in `offsets` | `i32` / `i64` offsets | the bytes |
/// | `Utf8View` | the 16-byte views | index of row 0's view | null | an array of the data buffers' pointers, at least one entry |
///
/// A dictionary column of strings is unpacked to its value type before the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ColumnArg {
    /// The values buffer: native little-endian elements, or bits for `BOOLEAN`.
    pub values: *const u8,
    /// The validity bitmap (bit set = valid), or null if every row is valid.
    pub validity: *const u8,
    /// The index of row 0 in `values`, in elements (in bits for `BOOLEAN`).
    pub offset: u64,
    /// The index of row 0's bit in `validity`.
    pub validity_offset: u64,
    /// String offsets (null for other columns).
    pub offsets: *const u8,
    /// String bytes, or for views an array of `*const u8` (null for other columns).
    pub data: *const u8,
}

/// The alignment in bytes that a kernel may promise LLVM for an element of a fixed-width
/// column of type `ty` (a load from an input values buffer, a store into an output one).
///
/// Arrow aligns a values buffer to its element type, and no more: a sliced `Int8` column starts
/// at any byte. Promising more is undefined behaviour that LLVM acts on: with `align 8` on `i8`
/// loads the vectorizer widened the last four-row load of a word to eight bytes, and read past
/// the end of the buffer (found by `tests/kernel_memory.rs`). `DECIMAL` (`i128`) promises 8,
/// not 16, because 16 is not promised by every producer.
pub(crate) fn value_alignment(ty: SqlType) -> u32 {
    match ty {
        SqlType::Int16 | SqlType::UInt16 => 2,
        SqlType::Int32 | SqlType::UInt32 | SqlType::Float32 | SqlType::Date => 4,
        SqlType::Int64 | SqlType::UInt64 | SqlType::Float64 | SqlType::Decimal { .. } => 8,
        SqlType::Null | SqlType::Boolean | SqlType::Int8 | SqlType::UInt8 | SqlType::Utf8 => 1,
    }
}

/// How a kernel reads a `VARCHAR` column, by its Arrow type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringLayout {
    /// `Utf8`: `i32` offsets into one data buffer.
    Offsets32,
    /// `LargeUtf8`: `i64` offsets into one data buffer.
    Offsets64,
    /// `Utf8View`: 16-byte views; strings of up to 12 bytes inline, longer ones in data buffers.
    Views,
}

impl StringLayout {
    /// The layout of a string column of Arrow type `dt` (a dictionary is read as its values'
    /// type, after unpacking), or `None` if it is not a string type.
    pub fn of(dt: &DataType) -> Option<StringLayout> {
        match dt {
            DataType::Utf8 => Some(StringLayout::Offsets32),
            DataType::LargeUtf8 => Some(StringLayout::Offsets64),
            DataType::Utf8View => Some(StringLayout::Views),
            DataType::Dictionary(key, value) if key.is_dictionary_key_type() => {
                match value.as_ref() {
                    DataType::Utf8 => Some(StringLayout::Offsets32),
                    DataType::LargeUtf8 => Some(StringLayout::Offsets64),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// What a kernel reports back: `code` 0 means success; [`STATUS_FALLBACK`] that a row needs the
/// interpreter; otherwise the code of the failing operation ([`ErrorSite::code`]) and the index
/// of its first failing row.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStatus {
    pub code: u64,
    pub row: u64,
}

/// The code a kernel reports if it saw an error in a word but could not find the row again
/// (a bug).
pub const STATUS_LOST_ERROR: u64 = u32::MAX as u64;

/// The reserved per-row code (and status code) of a row that the kernel does not evaluate
/// exactly: the batch must be evaluated with the interpreter instead. It is `0 << 1 | 1`, below
/// every [`ErrorSite`] code (operation ranks start at 1), so that it wins over every error of
/// the row and of the batch: the interpreter then raises whatever error it raises.
pub const STATUS_FALLBACK: u64 = 1;

/// The entry point of a filter kernel.
///
/// `scratch` is `scratch_len` writable bytes the kernel uses as a per-row bump allocator for
/// the strings it builds (`UPPER`, `LOWER`, `||`): every row starts again at byte 0, and a row
/// whose strings do not fit reports [`STATUS_FALLBACK`]. The caller sizes it from the kernel's
/// [`ScratchNeed`]; a kernel that builds no strings never touches it (it may be dangling with
/// `scratch_len` 0).
///
/// # Safety
/// `cols` must point to one valid [`ColumnArg`] per column slot of the kernel, in slot order, each
/// describing a live array of the slot's Arrow type with at least `len` rows from its offsets;
/// `out` must point to `len.div_ceil(64)` writable `u64` words, zeroed; `status` must point to a
/// writable [`KernelStatus`] initialized to zero; `scratch` must point to `scratch_len` writable
/// bytes that nothing else reads or writes during the call. The machine code must still be
/// owned by a live execution engine.
pub type FilterFn = unsafe extern "C" fn(
    cols: *const ColumnArg,
    len: u64,
    out: *mut u64,
    status: *mut KernelStatus,
    scratch: *mut u8,
    scratch_len: u64,
);

/// The index of the column slot that carries a kernel's parameters ([`Params`]): no column of
/// a batch has it. Its `values` pointer is the parameters' words (`u64`, one or two each); the
/// caller fills it from the kernel's [`Params::words`], not from the batch.
pub const PARAMS_SLOT: usize = usize::MAX;

/// A column the kernel reads: its index in the scan batch and the Arrow type it was compiled for.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSlot {
    pub index: usize,
    pub data_type: DataType,
    /// `false` when the schema promises no NULLs: the kernel does not read the validity bitmap
    /// (the caller checks the promise).
    pub nullable: bool,
}

impl ColumnSlot {
    /// Whether the column holds decimals in 8 bytes (Arrow `Decimal64`): the kernel widens each
    /// value it loads to the `i128` it computes with.
    pub fn stores_decimal64(&self) -> bool {
        matches!(self.data_type, DataType::Decimal64(..))
    }
}

/// The code an aggregation kernel reports when the exact sum of aggregate `k` overflowed:
/// `STATUS_SUM_OVERFLOW + k` (above every [`ErrorSite`] code).
pub const STATUS_SUM_OVERFLOW: u64 = 1 << 30;

/// The state an aggregation kernel updates (`#[repr(C)]`: the kernel's ABI). The executor owns
/// the memory and, before each call, makes room for one new group per row: every vector,
/// `hashes` and `keys` have entries for `groups + len` groups and `slots` at least twice as many
/// entries (a power of two).
#[repr(C)]
#[derive(Debug)]
pub struct AggArgs {
    /// One pointer per state vector ([`AggregateLayout::vectors`]), each with one element per
    /// group.
    pub vectors: *const *mut u8,
    /// The hash table's slots: `group + 1`, or 0 when empty (unused without keys).
    pub slots: *mut u32,
    /// The number of slots minus one.
    pub slot_mask: u64,
    /// Each group's hash.
    pub hashes: *mut u64,
    /// Each group's key record of [`KeyLayout::words`] words.
    pub keys: *mut u64,
    /// The number of groups; the kernel adds the groups it creates.
    pub groups: u64,
    /// Where the kernel logs `slot << 32 | group` the first time in a batch that a
    /// [`SlotKind::MinMaxStr`] slot takes a string of the batch (so that the executor copies
    /// it); room for one entry per row and string slot, plus one.
    pub log: *mut u64,
    /// Entries in `log` (the executor sets 0 before a batch).
    pub log_len: u64,
    /// The scratch area of the strings the kernel builds (`UPPER`, `||`, …; see
    /// [`ScratchNeed`]): `scratch_row` bytes per row of the batch, row `i`'s at
    /// `scratch + i * scratch_row`. Unlike a filter's, a row's strings stay for the whole batch:
    /// group keys and `MIN`/`MAX` strings point into it until the executor copies them. A
    /// kernel that builds no strings never reads these two (null and 0 will do).
    pub scratch: *mut u8,
    pub scratch_row: u64,
}

/// The entry point of an aggregation kernel: filters the rows of a batch and updates the
/// accumulators of each selected row's group.
///
/// # Safety
/// `cols` as for [`FilterFn`]; `state` must point to an [`AggArgs`] that satisfies its
/// invariants for `len` more rows, with vectors of the kernel's [`AggregateLayout`] and, if the
/// kernel builds strings, `len * scratch_row` writable bytes of scratch; `status` must point to
/// a zeroed [`KernelStatus`]. On [`STATUS_FALLBACK`] at row `i` the state holds exactly the
/// selected rows before `i` (with keys; without, none of the batch, and `i` is 0) and stays
/// usable; on any other non-zero status it is partly updated and must not be used again.
pub type AggregateFn = unsafe extern "C" fn(
    cols: *const ColumnArg,
    len: u64,
    state: *mut AggArgs,
    status: *mut KernelStatus,
);

/// One output of a projection kernel (`#[repr(C)]`): where the `n`-th selected row's value
/// and validity go.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OutArg {
    /// Elements of the output's type (bits for `BOOLEAN`), zeroed, one per row of the batch;
    /// for `VARCHAR`, the bytes of the strings, `capacity` of them.
    pub values: *mut u8,
    /// A zeroed bitmap of one bit per row of the batch.
    pub validity: *mut u64,
    /// `VARCHAR` only: `i32` offsets, one more than rows, zeroed (null otherwise).
    pub offsets: *mut i32,
    /// `VARCHAR` only: the size of `values`; a batch whose strings do not fit fails with
    /// [`STATUS_NEED_ROOM`] and is run again with more.
    pub capacity: u64,
}

/// The code a projection kernel reports when the strings of a `VARCHAR` output do not fit its
/// buffer.
pub const STATUS_NEED_ROOM: u64 = 0x7fff_fffe;

/// The entry point of a projection kernel: filters a batch and writes each selected row's
/// outputs, compacted; returns the number of rows written.
///
/// # Safety
/// `cols` as for [`FilterFn`]; `outs` must point to one [`OutArg`] per output of the kernel;
/// `sel` to `len.div_ceil(64)` writable words; `status` to a zeroed [`KernelStatus`];
/// `scratch` to `scratch_len` writable bytes (see [`ScratchNeed`]). On a non-zero status the
/// outputs are partly written and the return value is 0; [`STATUS_FALLBACK`] means the
/// interpreter must evaluate the batch.
pub type ProjectFn = unsafe extern "C" fn(
    cols: *const ColumnArg,
    len: u64,
    outs: *const OutArg,
    sel: *mut u64,
    status: *mut KernelStatus,
    scratch: *mut u8,
    scratch_len: u64,
) -> u64;

/// The element type of one state vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorType {
    I64,
    I128,
    F64,
    U8,
}

pub use crate::ir::AccKind;

/// One piece of per-group state, shared by every aggregate that needs it: `SUM(x)` and
/// `AVG(x)` share the sum of `x`, and every count of a column that cannot be NULL is the count
/// of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotKind {
    /// Selected rows (`i64`).
    Rows,
    /// Valid values of the argument (`i64`).
    Count,
    /// The exact sum of the argument (`i128`).
    ExactSum,
    /// The float sum of the argument (`f64`).
    FloatSum,
    /// The extreme so far (`i128`) and a has-value byte.
    MinMaxInt { max: bool },
    /// The extreme so far (canonical `f64`) and a has-value byte.
    MinMaxFloat { max: bool },
    /// The extreme so far (a byte) and a has-value byte.
    MinMaxBool { max: bool },
    /// The extreme string so far: its address and length (`i64` each), a has-value byte and a
    /// byte set when the address points into the current batch (logged, see [`AggArgs::log`]).
    MinMaxStr { max: bool },
}

impl SlotKind {
    /// The state vectors, in order.
    pub fn vectors(self) -> &'static [VectorType] {
        match self {
            SlotKind::Rows | SlotKind::Count => &[VectorType::I64],
            SlotKind::ExactSum => &[VectorType::I128],
            SlotKind::FloatSum => &[VectorType::F64],
            SlotKind::MinMaxInt { .. } => &[VectorType::I128, VectorType::U8],
            SlotKind::MinMaxFloat { .. } => &[VectorType::F64, VectorType::U8],
            SlotKind::MinMaxBool { .. } => &[VectorType::U8, VectorType::U8],
            SlotKind::MinMaxStr { .. } => &[
                VectorType::I64,
                VectorType::I64,
                VectorType::U8,
                VectorType::U8,
            ],
        }
    }

    /// Whether the state is an extreme (carried over, not summed, when merging).
    pub fn is_extreme(self) -> bool {
        matches!(
            self,
            SlotKind::MinMaxInt { .. }
                | SlotKind::MinMaxFloat { .. }
                | SlotKind::MinMaxBool { .. }
                | SlotKind::MinMaxStr { .. }
        )
    }
}

/// A slot of the layout: what it keeps, of which distinct argument, and where its vectors start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSlot {
    pub kind: SlotKind,
    /// Index into [`AggregateLayout::args`] (none for [`SlotKind::Rows`]).
    pub arg: Option<usize>,
    pub first_vector: usize,
}

/// How a group key is stored in a key record (see `lower::group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `BOOLEAN` (and the `NULL` type): one word, 0 or 1.
    Bool,
    /// Signed integers and dates: one word, sign-extended.
    Signed,
    /// Unsigned integers: one word.
    Unsigned,
    /// The canonical value's bits, one word.
    Float32,
    Float64,
    /// Two words: low, high.
    Decimal,
    /// Two words: the address of the bytes, the length.
    Utf8,
    /// A `Utf8View` column, two words in the view's own form: strings of up to 12 bytes are
    /// the view itself (length, then the bytes, zero-padded), so that they hash and compare as
    /// two integers; longer ones are the view's first word (length and 4-byte prefix) and the
    /// address of the bytes.
    Utf8View,
}

impl KeyKind {
    pub fn words(self) -> usize {
        match self {
            KeyKind::Decimal | KeyKind::Utf8 | KeyKind::Utf8View => 2,
            _ => 1,
        }
    }
}

/// The key record of a group: the NULL-mask word, then each key's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    pub kinds: Vec<KeyKind>,
}

impl KeyLayout {
    /// Words per record.
    pub fn words(&self) -> usize {
        1 + self.kinds.iter().map(|k| k.words()).sum::<usize>()
    }
}

/// Where an aggregation kernel keeps its state.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateLayout {
    /// One per aggregate.
    pub accumulators: Vec<AccKind>,
    /// Per aggregate: the slot of its value (sum, extreme) and of its count, if any.
    pub uses: Vec<(Option<usize>, Option<usize>)>,
    pub slots: Vec<StateSlot>,
    pub vectors: Vec<VectorType>,
    /// The distinct aggregate arguments ([`crate::ir::aggregate::Arguments`]) and the order
    /// they are evaluated in.
    pub args: Vec<crate::ir::Expr>,
    pub order: Vec<usize>,
    /// `None` without `GROUP BY` (one group, id 0, no table).
    pub keys: Option<KeyLayout>,
}

/// What kind of error an error code stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    DivisionByZero,
    /// A result that does not fit the named SQL type.
    Overflow {
        ty: String,
    },
    /// An argument a function rejects (`SUBSTRING` with a negative length).
    InvalidArgument {
        message: String,
    },
    /// Text that is not a value of the named SQL type.
    InvalidCast {
        ty: String,
    },
}

/// One way an operation of a kernel can fail, and the code the kernel reports for it.
///
/// Codes order failures as the interpreter meets them: `code >> 1` is the operation's rank in
/// the interpreter's evaluation order (post-order), `code & 1` the kind. A kernel reports the
/// failure of the lowest rank anywhere in the batch, at its first row — the error the
/// interpreter, which evaluates one operation at a time over the whole batch, raises.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorSite {
    pub code: u64,
    pub kind: ErrorKind,
    /// The operation, as the plan prints it.
    pub what: String,
}

impl ErrorSite {
    /// The user-facing error for a failure of this operation at `row` of a batch.
    pub fn to_error(&self, row: u64) -> Error {
        match &self.kind {
            ErrorKind::DivisionByZero => Error::DivisionByZero,
            ErrorKind::Overflow { ty } => {
                Error::overflow(ty, format!("{} (batch row {row})", self.what))
            }
            ErrorKind::InvalidArgument { message } => Error::InvalidArgument {
                message: message.clone(),
            },
            // The kernel does not keep the text; the executor asks the interpreter, which
            // quotes it.
            ErrorKind::InvalidCast { ty } => Error::InvalidCast {
                value: format!("the text of {} (batch row {row})", self.what),
                ty: ty.clone(),
            },
        }
    }
}

/// Why a predicate did not become a kernel.
#[derive(Debug)]
pub enum CodegenError {
    /// A construct this JIT does not compile yet; the reason names it ("LIKE is not compiled yet").
    NotCompiled(String),
    /// A bug: the builder or the verifier failed.
    Failed(Error),
}

impl From<inkwell::builder::BuilderError> for CodegenError {
    fn from(e: inkwell::builder::BuilderError) -> CodegenError {
        CodegenError::Failed(Error::internal(format!("LLVM IR builder: {e}")))
    }
}

impl From<Error> for CodegenError {
    fn from(e: Error) -> CodegenError {
        CodegenError::Failed(e)
    }
}

/// A [`CodegenError::NotCompiled`] with `reason`.
pub(crate) fn not_compiled<T>(reason: impl Into<String>) -> Result<T, CodegenError> {
    Err(CodegenError::NotCompiled(reason.into()))
}

/// The most expression nodes one kernel compiles (an `IN` list's constants not counted: they
/// become one table). LLVM's compile time grows faster than a kernel's size: a sum of 250, 500
/// and 1,000 terms (about 500, 1,000 and 2,000 nodes) compiles in 0.25, 0.55 and 2.0 s, in
/// LLVM's loop vectorizer and x86 domain reassignment mostly, while the interpreter evaluates
/// the 1,000-term sum over 60,000 rows in 0.05 s. A larger kernel is not compiled: `auto`
/// interprets it (its compile budget, `exec::COMPILE_BUDGET`, is lower still), `jit` says why.
pub const MAX_KERNEL_NODES: usize = 2_500;

/// Refuses kernels of more than [`MAX_KERNEL_NODES`] nodes over `exprs`.
pub fn check_size(exprs: &[&crate::ir::Expr]) -> Result<(), CodegenError> {
    use crate::ir::Expr;
    let (mut all, mut constants) = (0usize, 0usize);
    for e in exprs {
        e.walk(&mut |x| {
            all += 1;
            if let Expr::InList { list, .. } = x {
                constants += list
                    .iter()
                    .filter(|i| matches!(i, Expr::Literal(_)))
                    .count();
            }
        });
    }
    let nodes = all - constants;
    if nodes > MAX_KERNEL_NODES {
        return not_compiled(format!(
            "expressions of {nodes} nodes (more than {MAX_KERNEL_NODES}) are not compiled: LLVM's compile time grows faster than their size"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
