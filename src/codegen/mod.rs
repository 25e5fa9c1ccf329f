//! Code generation: lowers a typed `WHERE` predicate ([`Expr`]) to an LLVM module holding one
//! filter kernel.
//!
//! ```text
//! ir::Expr (BOOLEAN) ─compile_filter─▶ FilterModule { LLVM module, column slots, error sites }
//!                                          └─▶ jit (verify, optimize, machine code) ─▶ FilterFn
//! ```
//!
//! The kernel ([`FilterFn`]) reads the columns the predicate uses through [`ColumnArg`]s and
//! writes a selection bitmap: bit `i % 64` of word `i / 64` is set iff the predicate is TRUE for
//! row `i` (NULL and FALSE are 0). Its loop processes 64 rows per output word, evaluating the whole
//! predicate for a row branch-free in an `alwaysinline` internal row function, so that the
//! optimizer can inline and vectorize it. Values and validity are computed separately for every
//! node (SQL three-valued logic); errors (overflow, division by zero) are per-row error codes that
//! count only where the interpreter would raise them: for valid operands whose value is needed
//! (see [`crate::ir::expr`]). When a 64-row word saw an error the kernel scans the rest of the
//! batch for the error the interpreter would raise (see [`ErrorSite`]), writes its code and row
//! to [`KernelStatus`] and returns.
//!
//! `VARCHAR` values are `{ ptr, i64 }` pairs (the bytes and their length) in every column layout
//! ([`StringLayout`]); comparisons, `IN`, `LIKE`, `LENGTH` and `SUBSTRING` (a pointer and length
//! into the input, no copy) run byte loops defined as internal
//! `alwaysinline` functions of the same module (see `lower::strings`).
//!
//! Constructs this milestone does not compile (`ILIKE`, `UPPER`, `LOWER`, `||`, casts from and
//! to `VARCHAR`, …) make
//! [`compile_filter`] return [`CodegenError::NotCompiled`] with a reason, and the executor falls
//! back to the interpreter.

mod kernel;
mod lower;

use arrow::datatypes::DataType;

use crate::error::Error;

pub use kernel::{compile_filter, FilterModule, ENTRY_NAME};

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

/// What a kernel reports back: `code` 0 means success; otherwise the code of the failing
/// operation ([`ErrorSite::code`]) and the index of its first failing row.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStatus {
    pub code: u64,
    pub row: u64,
}

/// The code a kernel reports if it saw an error in a word but could not find the row again
/// (a bug).
pub const STATUS_LOST_ERROR: u64 = u32::MAX as u64;

/// The entry point of a filter kernel.
///
/// # Safety
/// `cols` must point to one valid [`ColumnArg`] per column slot of the kernel, in slot order, each
/// describing a live array of the slot's Arrow type with at least `len` rows from its offsets;
/// `out` must point to `len.div_ceil(64)` writable `u64` words, zeroed; `status` must point to a
/// writable [`KernelStatus`] initialized to zero. The machine code must still be owned by a live
/// execution engine.
pub type FilterFn = unsafe extern "C" fn(
    cols: *const ColumnArg,
    len: u64,
    out: *mut u64,
    status: *mut KernelStatus,
);

/// A column the kernel reads: its index in the scan batch and the Arrow type it was compiled for.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSlot {
    pub index: usize,
    pub data_type: DataType,
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

#[cfg(test)]
mod tests;
