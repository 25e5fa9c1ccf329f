//! The runtime functions a kernel may call: Rust functions that run the interpreter's own
//! routines on one value, for the conversions that are not sensible to write in IR (the
//! shortest round-trip digits of a float, correctly rounded parsing), and the group table's
//! lookup for string keys, whose byte loops cost more to compile than to call. They are the
//! only calls a kernel makes, and only for the rows its IR fast paths do not serve.
//!
//! ```text
//! lower::float_cast ──declares──▶ external function `qjit_rt_…` in the kernel's module
//! jit::runtime      ──defines───▶ `extern "C" fn` calling crate::interp's routine
//! jit::kernel       ──binds─────▶ the declaration to the Rust function (global mapping)
//! ```
//!
//! [`RuntimeFn`] is the list; each variant documents its C signature, which the declaration
//! (`lower::runtime`) and the definition (`crate::jit::runtime`) both follow.

/// One runtime function. `x` is a float argument (`double` or `float`), `dec` a `DECIMAL`'s
/// unscaled `i128` passed as two `u64` words (low, high) or written through a pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuntimeFn {
    /// `u64 (double x, ptr dst, u64 cap)`: writes the text of `CAST(x AS VARCHAR)` at `dst`
    /// and returns its length, or [`NO_ROOM`] (writing nothing useful) if it needs more than
    /// `cap` bytes.
    F64ToText,
    /// `u64 (float x, ptr dst, u64 cap)`: as [`RuntimeFn::F64ToText`] for a `REAL`.
    F32ToText,
    /// `u32 (ptr text, u64 len, ptr out)`: `CAST(text AS DOUBLE)`; returns 1 and writes the
    /// `double` at `out`, or returns 0 for text that is not a number.
    TextToF64,
    /// `u32 (ptr text, u64 len, ptr out)`: as [`RuntimeFn::TextToF64`], writing a `float`.
    TextToF32,
    /// `u32 (double x, u32 precision, u32 scale, ptr out)`: `CAST(x AS DECIMAL(p,s))`; returns
    /// 1 and writes the unscaled `i128` at `out`, or returns 0 when there is no such decimal
    /// (NaN, ±inf, too many digits).
    F64ToDecimal,
    /// `u32 (float x, u32 precision, u32 scale, ptr out)`: as [`RuntimeFn::F64ToDecimal`] for a
    /// `REAL` (its own shortest digits).
    F32ToDecimal,
    /// `double (u64 lo, u64 hi, u32 scale)`: `CAST(dec AS DOUBLE)`, correctly rounded.
    DecimalToF64,
    /// `float (u64 lo, u64 hi, u32 scale)`: `CAST(dec AS REAL)`, correctly rounded.
    DecimalToF32,
    /// `u64 (ptr groups, ptr slots, u64 mask, ptr hashes, ptr keys, ptr probe, ptr kinds,
    /// u64 keys)`: the group id of a row's key in an aggregation kernel's hash table (see
    /// `lower::group`), inserting a new group if the key is new. `probe` is the row's *probe
    /// record*: the NULL-mask word, then each key's words ([`ProbeKind`]); `kinds` has a
    /// [`ProbeKind`] byte per key. Called by kernels whose keys include strings, for the rows
    /// whose key is not among the batch's recent ones: hashing and comparing bytes out of line
    /// costs those rows little, and their kernels compile in a fraction of the time.
    GroupFind,
    /// `u64 (ptr hay, u64 hay_len, ptr needle, u64 needle_len)`: `STRPOS`, the 1-based
    /// character position of `needle` in `hay`, 0 if it is not there.
    StrPos,
    /// `double (double x)`: `LN(x)`, Rust's `f64::ln` (the interpreter's).
    Ln,
    /// `double (double x)`: `EXP(x)`, Rust's `f64::exp`.
    Exp,
    /// `double (double x, double y)`: `POWER(x, y)`, Rust's `f64::powf`.
    Pow,
    /// `u64 (ptr s, u64 len, ptr from, u64 from_len, ptr to, u64 to_len, ptr dst, u64 cap)`:
    /// writes `REPLACE(s, from, to)` at `dst` and returns its length, or [`NO_ROOM`].
    Replace,
    /// `u64 (ptr s, u64 len, i64 n, ptr fill, u64 fill_len, u32 left, ptr dst, u64 cap)`:
    /// writes `LPAD(s, n, fill)` (`RPAD` for `left` 0) at `dst` and returns its length, or
    /// [`NO_ROOM`].
    Pad,
    /// `u64 (i64 v, u32 unit, u32 zoned, ptr dst, u64 cap)`: writes the text of
    /// `CAST(ts AS VARCHAR)` for a timestamp of `unit` ([`crate::ir::TimeUnit`] as 0–3, seconds
    /// to nanoseconds) at `dst` and returns its length, or [`NO_ROOM`].
    TimestampToText,
    /// `u32 (ptr text, u64 len, u32 unit, u32 zoned, ptr out)`: `CAST(text AS TIMESTAMP…)`;
    /// returns 1 and writes the `i64` at `out`, or 0 for text that is not a timestamp.
    TextToTimestamp,
    /// `u64 (u64 lo, u64 hi, ptr dst, u64 cap)`: writes the text of an interval (its `i128`
    /// as two words) at `dst` and returns its length, or [`NO_ROOM`].
    IntervalToText,
    /// `u64 (i64 v, u32 unit, u32 flags, ptr fmt, u64 fmt_len, ptr dst, u64 cap)`: writes
    /// `TO_CHAR` (flags bit 1 clear) or `STRFTIME` (set) of a timestamp of `unit`, zoned if
    /// flags bit 0 is set, at `dst` and returns its length, or [`NO_ROOM`].
    FormatTimestamp,
}

/// How [`RuntimeFn::GroupFind`] reads one key of a probe record, and stores it in the group's
/// key record ([`crate::codegen::KeyKind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ProbeKind {
    /// One word, stored as it is.
    Word = 0,
    /// Two words (a decimal's low and high), stored as they are.
    TwoWords = 1,
    /// A string as its address and length (both 0 for NULL), stored so.
    Utf8 = 2,
    /// A `Utf8View` column's raw view (two words, zero for NULL) and the address of the
    /// column's array of data buffer addresses (of [`crate::codegen::ColumnArg::data`]),
    /// stored in the view form of [`crate::codegen::KeyKind::Utf8View`].
    Utf8View = 3,
}

impl ProbeKind {
    /// The kind of a byte of `kinds`.
    pub(crate) fn from_byte(b: u8) -> Option<ProbeKind> {
        Some(match b {
            0 => ProbeKind::Word,
            1 => ProbeKind::TwoWords,
            2 => ProbeKind::Utf8,
            3 => ProbeKind::Utf8View,
            _ => return None,
        })
    }

    /// Its words in a probe record.
    pub(crate) fn probe_words(self) -> usize {
        match self {
            ProbeKind::Word => 1,
            ProbeKind::TwoWords | ProbeKind::Utf8 => 2,
            ProbeKind::Utf8View => 3,
        }
    }

    /// Its words in a key record.
    pub(crate) fn record_words(self) -> usize {
        match self {
            ProbeKind::Word => 1,
            _ => 2,
        }
    }
}

/// The code of a [`crate::ir::TimeUnit`] in runtime calls.
pub(crate) fn unit_code(unit: crate::ir::TimeUnit) -> u64 {
    use crate::ir::TimeUnit::*;
    match unit {
        Second => 0,
        Millisecond => 1,
        Microsecond => 2,
        Nanosecond => 3,
    }
}

/// The [`crate::ir::TimeUnit`] of a code of [`unit_code`] (nanoseconds past 3).
pub(crate) fn unit_of_code(code: u32) -> crate::ir::TimeUnit {
    use crate::ir::TimeUnit::*;
    match code {
        0 => Second,
        1 => Millisecond,
        2 => Microsecond,
        _ => Nanosecond,
    }
}

/// What a `…ToText` runtime function returns when the text does not fit.
pub(crate) const NO_ROOM: u64 = u64::MAX;

impl RuntimeFn {
    pub(crate) const ALL: [RuntimeFn; 19] = [
        RuntimeFn::F64ToText,
        RuntimeFn::F32ToText,
        RuntimeFn::TextToF64,
        RuntimeFn::TextToF32,
        RuntimeFn::F64ToDecimal,
        RuntimeFn::F32ToDecimal,
        RuntimeFn::DecimalToF64,
        RuntimeFn::DecimalToF32,
        RuntimeFn::GroupFind,
        RuntimeFn::StrPos,
        RuntimeFn::Ln,
        RuntimeFn::Exp,
        RuntimeFn::Pow,
        RuntimeFn::Replace,
        RuntimeFn::Pad,
        RuntimeFn::TimestampToText,
        RuntimeFn::TextToTimestamp,
        RuntimeFn::IntervalToText,
        RuntimeFn::FormatTimestamp,
    ];

    /// The symbol of its declaration in a kernel module.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            RuntimeFn::F64ToText => "qjit_rt_f64_to_text",
            RuntimeFn::F32ToText => "qjit_rt_f32_to_text",
            RuntimeFn::TextToF64 => "qjit_rt_text_to_f64",
            RuntimeFn::TextToF32 => "qjit_rt_text_to_f32",
            RuntimeFn::F64ToDecimal => "qjit_rt_f64_to_decimal",
            RuntimeFn::F32ToDecimal => "qjit_rt_f32_to_decimal",
            RuntimeFn::DecimalToF64 => "qjit_rt_decimal_to_f64",
            RuntimeFn::DecimalToF32 => "qjit_rt_decimal_to_f32",
            RuntimeFn::GroupFind => "qjit_rt_group_find",
            RuntimeFn::StrPos => "qjit_rt_strpos",
            RuntimeFn::Ln => "qjit_rt_ln",
            RuntimeFn::Exp => "qjit_rt_exp",
            RuntimeFn::Pow => "qjit_rt_pow",
            RuntimeFn::Replace => "qjit_rt_replace",
            RuntimeFn::Pad => "qjit_rt_pad",
            RuntimeFn::TimestampToText => "qjit_rt_timestamp_to_text",
            RuntimeFn::TextToTimestamp => "qjit_rt_text_to_timestamp",
            RuntimeFn::IntervalToText => "qjit_rt_interval_to_text",
            RuntimeFn::FormatTimestamp => "qjit_rt_format_timestamp",
        }
    }
}
