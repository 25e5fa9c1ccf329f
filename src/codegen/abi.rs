//! The kernels' ABI: what a compiled kernel is called with and reports back, shared by the code
//! generator (which emits code for it) and the executors (`jit`, which call it).
//!
//! - Inputs: one [`ColumnArg`] per column slot ([`ColumnSlot`]; the parameters' slot
//!   [`PARAMS_SLOT`] last), with strings in a [`StringLayout`]; which columns a kernel can read at
//!   all ([`kernel_type`], [`unreadable_column`]).
//! - Entry points: [`FilterFn`], [`ProjectFn`] (outputs: [`OutArg`]), [`AggregateFn`] (state:
//!   [`AggArgs`]), each reporting a [`KernelStatus`] with the `STATUS_*` codes.
//! - The scratch area a kernel builds strings in: [`ScratchNeed`].

use arrow::datatypes::DataType;

use crate::ir::{ColumnRef, SqlType};

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
        SqlType::Int64
        | SqlType::UInt64
        | SqlType::Float64
        | SqlType::Decimal { .. }
        | SqlType::Timestamp { .. }
        | SqlType::Interval => 8,
        SqlType::Null
        | SqlType::Boolean
        | SqlType::Int8
        | SqlType::UInt8
        | SqlType::Utf8
        | SqlType::Other(_) => 1,
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
                    DataType::Utf8View => Some(StringLayout::Views),
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
    /// The direct index of a [`KeyLayout::direct_index`] layout: `group + 1` per code (0: not
    /// known yet), which the kernel reads and fills; the product over the keys of `span + 1`
    /// entries (unused otherwise).
    pub direct: *mut u32,
    /// 1 if the direct index has ranges (else 0, and the kernel does not compute codes), then
    /// [`crate::codegen::DIRECT_KEY_WORDS`] words per key: base, span, multiplier, then a word
    /// the kernel sets to 1 when a key was out of its range (unused without a direct index).
    pub direct_keys: *mut u64,
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

/// How many scratch bytes one row of a filter kernel may use: `per_max_len` times the length
/// in bytes of the longest string in the batch's string columns (NULL rows included), plus
/// `constant` (string literals). Both are 0 when the kernel builds no strings. The bound is
/// exact for what the kernel writes; a row that finds the area too small anyway reports
/// [`super::STATUS_FALLBACK`] instead of writing past it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScratchNeed {
    pub per_max_len: u64,
    pub constant: u64,
}

impl ScratchNeed {
    /// Whether the kernel uses no scratch at all.
    pub fn is_zero(self) -> bool {
        self == ScratchNeed::default()
    }

    /// The bytes a row needs when the longest string has `max_len` bytes (`None` past `u64`).
    pub fn bytes(self, max_len: u64) -> Option<u64> {
        self.per_max_len
            .checked_mul(max_len)?
            .checked_add(self.constant)
    }

    /// Room for `k` of it (saturating).
    pub(crate) fn times(self, k: u64) -> ScratchNeed {
        ScratchNeed {
            per_max_len: self.per_max_len.saturating_mul(k),
            constant: self.constant.saturating_mul(k),
        }
    }

    /// Room for both (saturating).
    pub(crate) fn plus(self, other: ScratchNeed) -> ScratchNeed {
        ScratchNeed {
            per_max_len: self.per_max_len.saturating_add(other.per_max_len),
            constant: self.constant.saturating_add(other.constant),
        }
    }

    /// Room for either (saturating).
    pub(crate) fn either(self, other: ScratchNeed) -> ScratchNeed {
        ScratchNeed {
            per_max_len: self.per_max_len.max(other.per_max_len),
            constant: self.constant.max(other.constant),
        }
    }
}

/// Whether kernels read and write values of `ty` (as columns and as results).
pub(crate) fn kernel_type(ty: SqlType) -> bool {
    matches!(
        ty,
        SqlType::Boolean
            | SqlType::Int8
            | SqlType::Int16
            | SqlType::Int32
            | SqlType::Int64
            | SqlType::UInt8
            | SqlType::UInt16
            | SqlType::UInt32
            | SqlType::UInt64
            | SqlType::Float32
            | SqlType::Float64
            | SqlType::Decimal { .. }
            | SqlType::Date
            | SqlType::Timestamp { .. }
            | SqlType::Interval
            | SqlType::Utf8
    ) || validity_only(ty)
}

/// Whether a kernel reads a column of type `ty` for its validity alone: a type qjit passes
/// through ([`SqlType::Other`]) whose nulls are its own (not a dictionary's or a union's,
/// whose logical nulls lie in their children).
pub(crate) fn validity_only(ty: SqlType) -> bool {
    matches!(ty, SqlType::Other(kind) if kind != crate::ir::OtherType::Other)
}

/// Why the kernel cannot read a column, or `None` if it can (a column of type `NULL` it does not
/// need to read).
pub(crate) fn unreadable_column(c: &ColumnRef) -> Option<String> {
    if c.ty == SqlType::Null && c.data_type == arrow::datatypes::DataType::Null {
        return None;
    }
    let readable = kernel_type(c.ty);
    if !readable {
        Some(format!(
            "reading column '{}' of type {} is not compiled yet",
            c.name, c.ty
        ))
    } else if c.ty == SqlType::Utf8 {
        match StringLayout::of(&c.data_type) {
            Some(_) => None,
            None => Some(format!(
                "reading column '{}' stored as {} is not compiled yet",
                c.name, c.data_type
            )),
        }
    } else if validity_only(c.ty) {
        None
    } else if c.data_type != c.ty.to_arrow()
        && !matches!(
            c.data_type,
            arrow::datatypes::DataType::Decimal64(..) | arrow::datatypes::DataType::Timestamp(..)
        )
    {
        Some(format!(
            "reading column '{}' stored as {} is not compiled yet",
            c.name, c.data_type
        ))
    } else {
        None
    }
}
