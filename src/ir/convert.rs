//! Conversions of one value that both engines make: between decimals and floats, as PostgreSQL
//! makes them (through decimal text), and between floats and text.
//!
//! In: a `Decimal128` value (`i128` holding `value * 10^scale`), a float or text. Out: another
//! kind. The interpreter's `CAST` and `AVG` of decimals call them over arrays; compiled kernels
//! call them through their runtime functions (`crate::jit::runtime`) for the rows they do not
//! convert in IR.
//!
//! * **decimal → float** is correctly rounded: the float nearest to the exact decimal value (ties
//!   to even), as PostgreSQL's `numeric_float8`/`numeric_float4` get by printing the numeric and
//!   reading it back. When the unscaled value and `10^scale` are both exact in the float
//!   (`|v| < 2^53` and `scale <= 22` for `f64`; `2^24` and `10` for `f32`) one IEEE division is
//!   that nearest float; otherwise the exact text of the decimal is parsed, directly into `f32`
//!   for `REAL` (never through `f64`, which would round twice).
//! * **float → decimal** reads the float's shortest round-trip digits (what Rust's `Display`
//!   prints: `0.1` for the `f64` nearest 0.1, not `0.1000000000000000055…`; an `f32` uses its
//!   own shortest digits) as an exact decimal, then rounds that to the target scale half away
//!   from zero. So `CAST(1.005::DOUBLE AS DECIMAL(5,2))` is `1.01`, and
//!   `CAST(0.1::DOUBLE AS DECIMAL(38,30))` is `0.1` followed by 29 zeros. NaN, the infinities,
//!   and values with more digits than the precision allows have no decimal.
//!

use std::fmt::{LowerExp, Write};

use super::scalar::{div_pow10_round, fits_precision, format_decimal, pow10};

/// The `f64` nearest to `v / 10^scale` (ties to even).
pub(crate) fn decimal_to_f64(v: i128, scale: u8) -> f64 {
    // Below 2^53 every integer is an exact f64, and so is 10^22 (5^22 < 2^53): one correctly
    // rounded division.
    if v.unsigned_abs() < 1 << 53 && scale <= 22 {
        return v as f64 / pow10(scale as u32) as f64;
    }
    // `format_decimal` writes a plain decimal number, which `parse` rounds correctly.
    format_decimal(v, scale).parse().unwrap_or(f64::NAN)
}

/// The `f32` nearest to `v / 10^scale` (ties to even), without passing through `f64`.
pub(crate) fn decimal_to_f32(v: i128, scale: u8) -> f32 {
    // Below 2^24 every integer is an exact f32, and so is 10^10 (5^10 < 2^24).
    if v.unsigned_abs() < 1 << 24 && scale <= 10 {
        return v as f32 / pow10(scale as u32) as f32;
    }
    format_decimal(v, scale).parse().unwrap_or(f32::NAN)
}

/// The decimal of scale `scale` nearest to the shortest round-trip digits of `x` (half away from
/// zero), as an unscaled `i128`; `None` when `x` is not finite or the result does not fit
/// `precision` digits. `finite` is `x.is_finite()`.
pub(crate) fn float_to_decimal<F: LowerExp>(
    x: F,
    finite: bool,
    scale: u8,
    precision: u8,
) -> Option<i128> {
    if !finite {
        return None;
    }
    // `{:e}` prints the same shortest round-trip digits as `Display`, as `[-]d[.ddd]e[-]n`:
    // at most 17 significant digits, whatever the magnitude (`1e-300`, not 300 zeros), so at
    // most 25 bytes (`-2.2250738585072014e-308`). Written on the stack: compiled kernels call
    // this once per row.
    let mut buf = [0u8; 32];
    let mut w = SliceWriter::new(&mut buf);
    write!(w, "{x:e}").ok()?;
    let text = std::str::from_utf8(w.written()).ok()?;
    let (mantissa, exponent) = text.split_once('e')?;
    let exponent: i64 = exponent.parse().ok()?;
    let negative = mantissa.starts_with('-');
    // The digits as one integer, and how many of them follow the point.
    let (mut digits, mut frac_len, mut point) = (0i128, 0i64, false);
    for c in mantissa.trim_start_matches('-').bytes() {
        match c {
            b'.' => point = true,
            b'0'..=b'9' => {
                digits = digits.checked_mul(10)?.checked_add((c - b'0') as i128)?;
                frac_len += point as i64;
            }
            _ => return None,
        }
    }
    // x = digits * 10^(exponent - frac_len); the unscaled result is x * 10^scale.
    let shift = exponent - frac_len + scale as i64;
    let magnitude = if digits == 0 {
        0
    } else if shift >= 0 {
        // Beyond 10^38 nothing fits a DECIMAL.
        let factor = u32::try_from(shift).ok().filter(|&s| s <= 38)?;
        digits.checked_mul(pow10(factor))?
    } else {
        // `div_pow10_round` gives 0 for shifts beyond 38, where the digits (< 10^17) round to 0.
        div_pow10_round(digits, u32::try_from(-shift).unwrap_or(u32::MAX))
    };
    let v = if negative { -magnitude } else { magnitude };
    fits_precision(v, precision).then_some(v)
}

/// The text of a float, as `CAST(x AS VARCHAR)` writes it: Rust's `Display` for `f64`/`f32`
/// (the shortest digits that read back as `x`, never an exponent: `1.5`, `1`, `-0`, `NaN`,
/// `inf`, `100000000000000000000`). Compiled kernels call it too (`crate::jit::runtime`).
pub(crate) fn write_float<F: std::fmt::Display>(x: F, out: &mut impl Write) -> std::fmt::Result {
    write!(out, "{x}")
}

/// A float from text, as `CAST(text AS REAL|DOUBLE)` reads it: surrounding white space (Unicode's,
/// as `str::trim` removes it) dropped, then Rust's `str::parse`, which rounds correctly straight to
/// `F` and accepts `inf`, `infinity` and `NaN` in any case; `None` for text of another shape.
/// Compiled kernels call it too (`crate::jit::runtime`).
pub(crate) fn parse_float<F: std::str::FromStr>(text: &str) -> Option<F> {
    text.trim().parse().ok()
}

/// A [`Write`] into a byte slice, for writers that must not allocate (the float digits of
/// this module's decimal conversions, the text compiled kernels write into their scratch area). Writing
/// past the end fails and leaves what fitted.
pub(crate) struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> SliceWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> SliceWriter<'a> {
        SliceWriter { buf, len: 0 }
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(std::fmt::Error)?;
        let room = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_decimal(x: f64, scale: u8, precision: u8) -> Option<i128> {
        float_to_decimal(x, x.is_finite(), scale, precision)
    }

    #[test]
    fn decimal_to_float_is_correctly_rounded() {
        // 0.1 at scale 30: 10^29 is not an exact f64, so (v as f64) / 10^30 is off by an ulp.
        let tenth = pow10(29);
        assert_eq!(decimal_to_f64(tenth, 30), 0.1);
        assert_eq!(decimal_to_f64(-tenth, 30), -0.1);
        assert_eq!(decimal_to_f32(tenth, 30), 0.1f32);
        // The fast path.
        assert_eq!(decimal_to_f64(125, 2), 1.25);
        assert_eq!(decimal_to_f64(-1, 22), -1e-22);
        assert_eq!(decimal_to_f32(1, 1), 0.1f32);
        assert_eq!(decimal_to_f64(0, 38), 0.0);
        // Large values: 2^53 + 1 rounds to even; 38 nines are 1e38.
        assert_eq!(decimal_to_f64((1 << 53) + 1, 0), 9007199254740992.0);
        assert_eq!(decimal_to_f64(pow10(38) - 1, 0), 1e38);
        assert_eq!(decimal_to_f64(i128::MAX, 38), 1.7014118346046923);
        // An f32 that f64 then `as f32` would round twice: 2^24 + 1 + 2^-30 is nearest
        // 2^24 + 2 in f32, but rounds to 2^24 + 1 in f64 first and then (ties to even) to 2^24.
        let v = (((1i128 << 24) + 1) << 30) + 1;
        // v / 2^30 as a decimal: scale 30 with v * 5^30.
        let unscaled = v * 5i128.pow(30);
        assert_eq!(decimal_to_f32(unscaled, 30), 16777218.0f32);
        assert_eq!((decimal_to_f64(unscaled, 30)) as f32, 16777216.0f32);
    }

    #[test]
    fn float_to_decimal_reads_the_shortest_digits() {
        // 1.005 is 1.00499999999999989… in binary, but its shortest digits are 1.005.
        assert_eq!(to_decimal(1.005, 2, 5), Some(101));
        assert_eq!(to_decimal(-1.005, 2, 5), Some(-101));
        assert_eq!(to_decimal(0.1, 30, 38), Some(pow10(29)));
        assert_eq!(to_decimal(2.5, 0, 5), Some(3));
        assert_eq!(to_decimal(-0.5, 0, 5), Some(-1));
        assert_eq!(to_decimal(1.235, 1, 5), Some(12));
        assert_eq!(to_decimal(-0.0, 2, 5), Some(0));
        assert_eq!(to_decimal(1e-300, 2, 5), Some(0));
        assert_eq!(to_decimal(0.005, 2, 5), Some(1));
        assert_eq!(to_decimal(0.0049, 2, 5), Some(0));
        assert_eq!(to_decimal(1e20, 0, 38), Some(pow10(20)));
        assert_eq!(to_decimal(1.5e37, 0, 38), Some(15 * pow10(36)));
        // An f32 converts from its own shortest digits, not from the f64 it widens to.
        assert_eq!(float_to_decimal(0.1f32, true, 10, 38), Some(pow10(9)));
        assert_eq!(to_decimal(0.1f32 as f64, 10, 38), Some(1_000_000_015));
    }

    #[test]
    fn float_to_decimal_fails_without_a_decimal() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(to_decimal(x, 0, 38), None, "{x}");
        }
        assert_eq!(to_decimal(1e10, 1, 5), None);
        assert_eq!(to_decimal(99.995, 2, 4), None); // rounds up to 100.00
        assert_eq!(to_decimal(99.994, 2, 4), Some(9999));
        assert_eq!(to_decimal(1e38, 0, 38), None);
        assert_eq!(to_decimal(-1e300, 0, 38), None);
        assert_eq!(to_decimal(f64::MAX, 0, 38), None);
        assert_eq!(to_decimal(1.0, 38, 38), None);
        assert_eq!(to_decimal(0.5, 38, 38), Some(5 * pow10(37)));
    }
}
