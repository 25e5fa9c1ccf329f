//! The runtime functions compiled kernels call (see [`crate::codegen::runtime`]): `extern "C"`
//! wrappers around the interpreter's own conversions of one value, so that a kernel converts
//! exactly as the interpreter does. [`symbols`] names them for the loader.
//!
//! Each function is total: it never panics (a panic could not unwind through the kernel) and
//! reports what the interpreter would reject with a status instead.

use crate::codegen::runtime::{RuntimeFn, NO_ROOM};
use crate::ir::convert::{
    decimal_to_f32, decimal_to_f64, float_to_decimal, parse_float, write_float, SliceWriter,
};
use crate::ir::scalar::Bounded;

/// Each runtime function's symbol and the address of its Rust definition in this process: what
/// the loader defines for a kernel's references to them (`super::orc`).
pub(crate) fn symbols() -> Vec<(&'static str, usize)> {
    RuntimeFn::ALL
        .iter()
        .map(|&f| (f.symbol(), address(f)))
        .chain(builtins())
        .collect()
}

/// Declares the compiler's own helpers for 128-bit integers, which LLVM calls where the target
/// has no instruction (an `i128` division, an `i128` to `double` conversion), and defines
/// `builtins()`: each by name with its address in this process. An executable finds them in the
/// process's C runtime; a shared library (the Python extension module, loaded with its symbols
/// private) does not, so the loader is given their addresses. Only the addresses are taken:
/// the declarations' signatures do not matter.
macro_rules! compiler_builtins {
    ($($name:ident),* $(,)?) => {
        extern "C" {
            $(fn $name();)*
        }

        /// The compiler helpers kernels may call, by name, with their addresses.
        fn builtins() -> Vec<(&'static str, usize)> {
            vec![$((stringify!($name), $name as *const () as usize)),*]
        }
    };
}

compiler_builtins!(
    __divti3,
    __modti3,
    __udivti3,
    __umodti3,
    __muloti4,
    __floattidf,
    __floattisf,
    __floatuntidf,
    __floatuntisf,
    __fixdfti,
    __fixsfti,
    __fixunsdfti,
    __fixunssfti,
);

/// The address of the definition of `f`.
fn address(f: RuntimeFn) -> usize {
    match f {
        RuntimeFn::F64ToText => qjit_rt_f64_to_text as *const () as usize,
        RuntimeFn::F32ToText => qjit_rt_f32_to_text as *const () as usize,
        RuntimeFn::TextToF64 => qjit_rt_text_to_f64 as *const () as usize,
        RuntimeFn::TextToF32 => qjit_rt_text_to_f32 as *const () as usize,
        RuntimeFn::F64ToDecimal => qjit_rt_f64_to_decimal as *const () as usize,
        RuntimeFn::F32ToDecimal => qjit_rt_f32_to_decimal as *const () as usize,
        RuntimeFn::DecimalToF64 => qjit_rt_decimal_to_f64 as *const () as usize,
        RuntimeFn::DecimalToF32 => qjit_rt_decimal_to_f32 as *const () as usize,
        RuntimeFn::GroupFind => super::group_find::qjit_rt_group_find as *const () as usize,
        RuntimeFn::StrPos => qjit_rt_strpos as *const () as usize,
        RuntimeFn::Ln => qjit_rt_ln as *const () as usize,
        RuntimeFn::Exp => qjit_rt_exp as *const () as usize,
        RuntimeFn::Pow => qjit_rt_pow as *const () as usize,
        RuntimeFn::Replace => qjit_rt_replace as *const () as usize,
        RuntimeFn::Pad => qjit_rt_pad as *const () as usize,
        RuntimeFn::TimestampToText => qjit_rt_timestamp_to_text as *const () as usize,
        RuntimeFn::TextToTimestamp => qjit_rt_text_to_timestamp as *const () as usize,
        RuntimeFn::IntervalToText => qjit_rt_interval_to_text as *const () as usize,
        RuntimeFn::FormatTimestamp => qjit_rt_format_timestamp as *const () as usize,
    }
}

/// Copies `s` to the `cap` bytes at `dst`; its length, or [`NO_ROOM`].
///
/// # Safety
/// `dst` points to `cap` writable bytes of the row's scratch area.
unsafe fn put_text(s: &str, dst: *mut u8, cap: u64) -> u64 {
    // SAFETY: the caller's promise.
    let out = unsafe { scratch(dst, cap) };
    match out.get_mut(..s.len()) {
        Some(room) => {
            room.copy_from_slice(s.as_bytes());
            s.len() as u64
        }
        None => NO_ROOM,
    }
}

/// [`RuntimeFn::TimestampToText`].
///
/// # Safety
/// `dst` points to `cap` writable bytes of the row's scratch area.
unsafe extern "C" fn qjit_rt_timestamp_to_text(
    v: i64,
    unit: u32,
    zoned: u32,
    dst: *mut u8,
    cap: u64,
) -> u64 {
    let unit = crate::codegen::runtime::unit_of_code(unit);
    let s = crate::ir::time::to_text(v, unit, zoned != 0);
    // SAFETY: the caller's promise.
    unsafe { put_text(&s, dst, cap) }
}

/// [`RuntimeFn::TextToTimestamp`].
///
/// # Safety
/// `s` points to `len` readable bytes of UTF-8; `out` to a writable `i64`.
unsafe extern "C" fn qjit_rt_text_to_timestamp(
    s: *const u8,
    len: u64,
    unit: u32,
    zoned: u32,
    out: *mut i64,
) -> u32 {
    let unit = crate::codegen::runtime::unit_of_code(unit);
    // SAFETY: the caller's promises.
    unsafe {
        match crate::ir::time::parse(text(s, len), unit, zoned != 0) {
            Some(v) => {
                out.write(v);
                1
            }
            None => 0,
        }
    }
}

/// [`RuntimeFn::FormatTimestamp`].
///
/// # Safety
/// `fmt` points to `fmt_len` readable bytes of UTF-8; `dst` to `cap` writable bytes of the
/// row's scratch area.
unsafe extern "C" fn qjit_rt_format_timestamp(
    v: i64,
    unit: u32,
    flags: u32,
    fmt: *const u8,
    fmt_len: u64,
    dst: *mut u8,
    cap: u64,
) -> u64 {
    use crate::ir::time::FormatStyle;
    let unit = crate::codegen::runtime::unit_of_code(unit);
    let style = if flags & 2 != 0 {
        FormatStyle::Strftime
    } else {
        FormatStyle::ToChar
    };
    let mut s = String::new();
    // SAFETY: the caller's promises.
    unsafe {
        match crate::ir::time::format_pattern(
            &mut s,
            v,
            unit,
            (flags & 1 != 0).then_some(crate::ir::time::Zone::Utc),
            text(fmt, fmt_len),
            style,
        ) {
            Ok(()) => put_text(&s, dst, cap),
            // Checked when the query was bound: the interpreter reports it.
            Err(_) => NO_ROOM,
        }
    }
}

/// [`RuntimeFn::IntervalToText`].
///
/// # Safety
/// `dst` points to `cap` writable bytes of the row's scratch area.
unsafe extern "C" fn qjit_rt_interval_to_text(lo: u64, hi: u64, dst: *mut u8, cap: u64) -> u64 {
    let iv = crate::ir::Interval {
        months: lo as u32 as i32,
        days: (lo >> 32) as u32 as i32,
        nanos: hi as i64,
    };
    // SAFETY: the caller's promise.
    unsafe { put_text(&crate::ir::time::interval_text(iv), dst, cap) }
}

/// [`RuntimeFn::Ln`].
extern "C" fn qjit_rt_ln(x: f64) -> f64 {
    x.ln()
}

/// [`RuntimeFn::Exp`].
extern "C" fn qjit_rt_exp(x: f64) -> f64 {
    x.exp()
}

/// [`RuntimeFn::Pow`].
extern "C" fn qjit_rt_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// The `n` bytes at `p` as text (empty when `n` is 0, when `p` may dangle).
///
/// # Safety
/// `p` must point to `n` readable bytes of UTF-8 that outlive the result.
unsafe fn text<'a>(p: *const u8, n: u64) -> &'a str {
    match usize::try_from(n) {
        // SAFETY: the caller promises `n` readable bytes of UTF-8 at `p`.
        Ok(n) if n > 0 => unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, n))
        },
        _ => "",
    }
}

/// The `cap` bytes at `dst` (none when `cap` is 0, when `dst` may dangle), where a runtime
/// function builds a row's string in place.
///
/// # Safety
/// `dst` must point to `cap` writable bytes that nothing else reads or writes meanwhile.
unsafe fn scratch<'a>(dst: *mut u8, cap: u64) -> &'a mut [u8] {
    match usize::try_from(cap) {
        // SAFETY: the caller promises `cap` writable bytes at `dst`.
        Ok(n) if n > 0 => unsafe { std::slice::from_raw_parts_mut(dst, n) },
        _ => &mut [],
    }
}

/// [`RuntimeFn::Replace`].
///
/// # Safety
/// Each (pointer, length) pair is readable UTF-8 (it may dangle when its length is 0); `dst`
/// points to `cap` writable bytes of the row's scratch area.
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn qjit_rt_replace(
    s: *const u8,
    len: u64,
    from: *const u8,
    from_len: u64,
    to: *const u8,
    to_len: u64,
    dst: *mut u8,
    cap: u64,
) -> u64 {
    // SAFETY: the caller's promises.
    unsafe {
        let mut out = Bounded::new(scratch(dst, cap));
        crate::ir::scalar::replace_into(
            text(s, len),
            text(from, from_len),
            text(to, to_len),
            &mut out,
        );
        out.written().map_or(NO_ROOM, |n| n as u64)
    }
}

/// [`RuntimeFn::Pad`].
///
/// # Safety
/// As [`qjit_rt_replace`].
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn qjit_rt_pad(
    s: *const u8,
    len: u64,
    n: i64,
    fill: *const u8,
    fill_len: u64,
    left: u32,
    dst: *mut u8,
    cap: u64,
) -> u64 {
    // SAFETY: the caller's promises.
    unsafe {
        let mut out = Bounded::new(scratch(dst, cap));
        crate::ir::scalar::pad_into(text(s, len), n, text(fill, fill_len), left != 0, &mut out);
        out.written().map_or(NO_ROOM, |n| n as u64)
    }
}

/// [`RuntimeFn::StrPos`].
///
/// # Safety
/// `hay` and `needle` point to `hay_len` and `needle_len` readable bytes of UTF-8 (either may
/// dangle when its length is 0).
unsafe extern "C" fn qjit_rt_strpos(
    hay: *const u8,
    hay_len: u64,
    needle: *const u8,
    needle_len: u64,
) -> u64 {
    // SAFETY: the caller's promises.
    let (hay, needle) = unsafe { (text(hay, hay_len), text(needle, needle_len)) };
    crate::ir::scalar::strpos(hay.as_bytes(), needle.as_bytes())
}

/// Writes the text of `x` into the `cap` bytes at `dst`: its length, or [`NO_ROOM`].
///
/// # Safety
/// `dst` must point to `cap` writable bytes (it may dangle when `cap` is 0).
unsafe fn float_to_text<F: std::fmt::Display>(x: F, dst: *mut u8, cap: u64) -> u64 {
    let Ok(cap) = usize::try_from(cap) else {
        return NO_ROOM;
    };
    if cap == 0 {
        return NO_ROOM;
    }
    // SAFETY: the caller promises `cap` writable bytes at `dst`, used by nothing else.
    let buf = unsafe { std::slice::from_raw_parts_mut(dst, cap) };
    let mut w = SliceWriter::new(buf);
    match write_float(x, &mut w) {
        Ok(()) => w.written().len() as u64,
        Err(_) => NO_ROOM,
    }
}

/// [`RuntimeFn::F64ToText`].
///
/// # Safety
/// As [`float_to_text`].
unsafe extern "C" fn qjit_rt_f64_to_text(x: f64, dst: *mut u8, cap: u64) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { float_to_text(x, dst, cap) }
}

/// [`RuntimeFn::F32ToText`].
///
/// # Safety
/// As [`float_to_text`].
unsafe extern "C" fn qjit_rt_f32_to_text(x: f32, dst: *mut u8, cap: u64) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { float_to_text(x, dst, cap) }
}

/// The float `CAST` reads from the `len` bytes at `text`, or `None`.
///
/// # Safety
/// `text` must point to `len` readable bytes (it may dangle when `len` is 0).
unsafe fn text_to_float<F: std::str::FromStr>(text: *const u8, len: u64) -> Option<F> {
    let len = usize::try_from(len).ok()?;
    let bytes = if len == 0 {
        &[][..]
    } else {
        // SAFETY: the caller promises `len` readable bytes at `text`.
        unsafe { std::slice::from_raw_parts(text, len) }
    };
    // Kernel strings are UTF-8 (Arrow strings, and what the kernel builds from them).
    parse_float(std::str::from_utf8(bytes).ok()?)
}

/// [`RuntimeFn::TextToF64`].
///
/// # Safety
/// As [`text_to_float`]; `out` must be writable for an `f64` (alignment not required).
unsafe extern "C" fn qjit_rt_text_to_f64(text: *const u8, len: u64, out: *mut u8) -> u32 {
    // SAFETY: forwarded from the caller.
    match unsafe { text_to_float::<f64>(text, len) } {
        Some(x) => {
            // SAFETY: the caller promises room for an f64 at `out`.
            unsafe { out.cast::<f64>().write_unaligned(x) };
            1
        }
        None => 0,
    }
}

/// [`RuntimeFn::TextToF32`].
///
/// # Safety
/// As [`text_to_float`]; `out` must be writable for an `f32` (alignment not required).
unsafe extern "C" fn qjit_rt_text_to_f32(text: *const u8, len: u64, out: *mut u8) -> u32 {
    // SAFETY: forwarded from the caller.
    match unsafe { text_to_float::<f32>(text, len) } {
        Some(x) => {
            // SAFETY: the caller promises room for an f32 at `out`.
            unsafe { out.cast::<f32>().write_unaligned(x) };
            1
        }
        None => 0,
    }
}

/// Writes `v` at `out` and returns 1, or returns 0 for `None`.
///
/// # Safety
/// `out` must be writable for an `i128` (alignment not required).
unsafe fn put_decimal(v: Option<i128>, out: *mut u8) -> u32 {
    match v {
        Some(v) => {
            // SAFETY: the caller promises room for an i128 at `out`.
            unsafe { out.cast::<i128>().write_unaligned(v) };
            1
        }
        None => 0,
    }
}

/// The decimal of a precision and scale given as `u32`s (`None` when they are no decimal's).
fn float_decimal<F: std::fmt::LowerExp>(
    x: F,
    finite: bool,
    precision: u32,
    scale: u32,
) -> Option<i128> {
    let precision = u8::try_from(precision).ok()?;
    let scale = u8::try_from(scale).ok()?;
    float_to_decimal(x, finite, scale, precision)
}

/// [`RuntimeFn::F64ToDecimal`].
///
/// # Safety
/// As [`put_decimal`].
unsafe extern "C" fn qjit_rt_f64_to_decimal(
    x: f64,
    precision: u32,
    scale: u32,
    out: *mut u8,
) -> u32 {
    let v = float_decimal(x, x.is_finite(), precision, scale);
    // SAFETY: forwarded from the caller.
    unsafe { put_decimal(v, out) }
}

/// [`RuntimeFn::F32ToDecimal`].
///
/// # Safety
/// As [`put_decimal`].
unsafe extern "C" fn qjit_rt_f32_to_decimal(
    x: f32,
    precision: u32,
    scale: u32,
    out: *mut u8,
) -> u32 {
    let v = float_decimal(x, x.is_finite(), precision, scale);
    // SAFETY: forwarded from the caller.
    unsafe { put_decimal(v, out) }
}

/// The `i128` of two words.
fn join_words(lo: u64, hi: u64) -> i128 {
    ((hi as u128) << 64 | lo as u128) as i128
}

/// The scale as a `u8` (scales are at most 38).
fn scale_u8(scale: u32) -> u8 {
    u8::try_from(scale).unwrap_or(u8::MAX)
}

/// [`RuntimeFn::DecimalToF64`].
extern "C" fn qjit_rt_decimal_to_f64(lo: u64, hi: u64, scale: u32) -> f64 {
    decimal_to_f64(join_words(lo, hi), scale_u8(scale))
}

/// [`RuntimeFn::DecimalToF32`].
extern "C" fn qjit_rt_decimal_to_f32(lo: u64, hi: u64, scale: u32) -> f32 {
    decimal_to_f32(join_words(lo, hi), scale_u8(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text<F: std::fmt::Display>(x: F, cap: usize) -> Option<String> {
        let mut buf = vec![0u8; cap];
        // SAFETY: `buf` has `cap` bytes.
        let n = unsafe { float_to_text(x, buf.as_mut_ptr(), cap as u64) };
        (n != NO_ROOM).then(|| String::from_utf8(buf[..n as usize].to_vec()).unwrap())
    }

    #[test]
    fn float_text_is_the_interpreters() {
        for x in [1.5, 1.0, -0.0, f64::NAN, f64::INFINITY, 1e20, 0.1, 5e-324] {
            assert_eq!(text(x, 400).as_deref(), Some(format!("{x}").as_str()));
        }
        assert_eq!(text(0.1f32, 64).as_deref(), Some("0.1"));
        assert_eq!(text(-0.0, 400).as_deref(), Some("-0"));
        // Too little room, or none at all.
        assert_eq!(text(123.25, 5), None);
        assert_eq!(text(123.25, 6).as_deref(), Some("123.25"));
        assert_eq!(text(1.0, 0), None);
    }

    #[test]
    fn text_parses_as_the_interpreter_parses() {
        let parse64 = |s: &str| {
            let mut out = [0u8; 8];
            // SAFETY: `s` has `s.len()` bytes; `out` has room for an f64.
            let ok = unsafe { qjit_rt_text_to_f64(s.as_ptr(), s.len() as u64, out.as_mut_ptr()) };
            (ok == 1).then(|| f64::from_ne_bytes(out))
        };
        assert_eq!(parse64(" 2.5\u{3000}"), Some(2.5));
        assert_eq!(parse64("-inf"), Some(f64::NEG_INFINITY));
        assert!(parse64("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse64("1e400"), Some(f64::INFINITY));
        assert_eq!(parse64("two"), None);
        assert_eq!(parse64(""), None);
        let mut out = [0u8; 4];
        // SAFETY: a static string; `out` has room for an f32.
        let ok = unsafe { qjit_rt_text_to_f32(b"0.1".as_ptr(), 3, out.as_mut_ptr()) };
        assert_eq!((ok, f32::from_ne_bytes(out)), (1, 0.1f32));
        // Not UTF-8: not a number (kernels never pass such bytes).
        // SAFETY: a static byte string.
        let ok = unsafe { qjit_rt_text_to_f64(b"1\xff".as_ptr(), 2, out.as_mut_ptr()) };
        assert_eq!(ok, 0);
    }

    #[test]
    fn decimals_convert_as_the_interpreter_converts() {
        let to_decimal = |x: f64, p: u32, s: u32| {
            let mut out = [0u8; 16];
            // SAFETY: `out` has room for an i128.
            let ok = unsafe { qjit_rt_f64_to_decimal(x, p, s, out.as_mut_ptr()) };
            (ok == 1).then(|| i128::from_ne_bytes(out))
        };
        assert_eq!(to_decimal(1.005, 5, 2), Some(101));
        assert_eq!(to_decimal(f64::NAN, 5, 2), None);
        assert_eq!(to_decimal(1e10, 5, 1), None);
        assert_eq!(to_decimal(1.0, 5, 200), None);
        let mut out = [0u8; 16];
        // SAFETY: `out` has room for an i128.
        let ok = unsafe { qjit_rt_f32_to_decimal(0.1, 20, 12, out.as_mut_ptr()) };
        assert_eq!((ok, i128::from_ne_bytes(out)), (1, 10i128.pow(11)));
        let tenth = 10i128.pow(29);
        let (lo, hi) = (tenth as u64, (tenth >> 64) as u64);
        assert_eq!(qjit_rt_decimal_to_f64(lo, hi, 30), 0.1);
        assert_eq!(qjit_rt_decimal_to_f32(lo, hi, 30), 0.1f32);
        let minus = -tenth;
        assert_eq!(
            qjit_rt_decimal_to_f64(minus as u64, (minus >> 64) as u64, 30),
            -0.1
        );
    }
}
