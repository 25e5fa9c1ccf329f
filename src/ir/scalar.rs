//! Constant values of the typed plan, and the value helpers both engines share:
//! calendar arithmetic on `Date32` days and exact decimal rescaling and formatting.

use std::fmt;

use super::types::SqlType;
use crate::error::{Error, Result};

/// A constant value. Which variant goes with which [`SqlType`]:
///
/// | type | variant |
/// |---|---|
/// | any | `Null` |
/// | `Boolean` | `Boolean` |
/// | `Int8`..`Int64` | `Int` |
/// | `UInt8`..`UInt64` | `UInt` |
/// | `Float32`, `Float64` | `Float` (a `Float32` value is exactly representable as `f32`) |
/// | `Decimal(p, s)` | `Decimal(v)`, meaning `v / 10^s` |
/// | `Date` | `Date(days since 1970-01-01)` |
/// | `Utf8` | `Utf8` |
/// | `Timestamp(unit, _)` | `Timestamp(units since 1970-01-01 00:00:00 UTC)` |
/// | `Interval` | `Interval(months, days, nanoseconds)` |
#[derive(Clone, Debug)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum Scalar {
    Null,
    Boolean(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Decimal(i128),
    Date(i32),
    Utf8(String),
    Timestamp(i64),
    Interval(Interval),
}

/// A value of PostgreSQL's `interval` (Arrow `IntervalMonthDayNano`): its three parts are kept
/// apart, since a month and a day have no fixed length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub nanos: i64,
}

impl PartialEq for Scalar {
    /// Structural equality, as plan matching needs it: floats compare by bit pattern, so a NaN
    /// literal equals itself (and `-0.0` differs from `0.0`, which prints differently).
    fn eq(&self, other: &Scalar) -> bool {
        use Scalar::*;
        match (self, other) {
            (Null, Null) => true,
            (Boolean(a), Boolean(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (UInt(a), UInt(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            (Decimal(a), Decimal(b)) => a == b,
            (Date(a), Date(b)) => a == b,
            (Utf8(a), Utf8(b)) => a == b,
            (Timestamp(a), Timestamp(b)) => a == b,
            (Interval(a), Interval(b)) => a == b,
            _ => false,
        }
    }
}

impl Scalar {
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// Whether this value is a valid value of `ty` (see the table on [`Scalar`]).
    pub fn fits(&self, ty: SqlType) -> bool {
        match (self, ty) {
            (Scalar::Null, _) => true,
            (Scalar::Boolean(_), SqlType::Boolean) => true,
            (Scalar::Int(v), t) if t.is_signed_integer() => {
                let bits = t.integer_bits().unwrap_or(64);
                bits == 64 || (*v >= -(1i64 << (bits - 1)) && *v < (1i64 << (bits - 1)))
            }
            (Scalar::UInt(v), t) if t.is_unsigned_integer() => {
                let bits = t.integer_bits().unwrap_or(64);
                bits == 64 || *v < (1u64 << bits)
            }
            (Scalar::Float(v), SqlType::Float32) => v.is_nan() || (*v as f32) as f64 == *v,
            (Scalar::Float(_), SqlType::Float64) => true,
            (Scalar::Decimal(v), SqlType::Decimal { precision, .. }) => {
                v.unsigned_abs() < pow10(precision as u32) as u128
            }
            (Scalar::Date(_), SqlType::Date) => true,
            (Scalar::Utf8(_), SqlType::Utf8) => true,
            (Scalar::Timestamp(_), SqlType::Timestamp { .. }) => true,
            (Scalar::Interval(_), SqlType::Interval) => true,
            _ => false,
        }
    }
}

/// `10^n` for `n` in 0..=38.
pub fn pow10(n: u32) -> i128 {
    10i128.pow(n)
}

/// Divides `v` by `10^shift`, rounding half away from zero (PostgreSQL's numeric rounding).
pub fn div_pow10_round(v: i128, shift: u32) -> i128 {
    if shift == 0 {
        return v;
    }
    if shift > 38 {
        return 0;
    }
    let d = pow10(shift);
    let q = v / d;
    let r = v % d;
    if r.unsigned_abs() * 2 >= d as u128 {
        q + v.signum()
    } else {
        q
    }
}

/// Rescales a decimal value from scale `from` to scale `to` (rounding half away from zero when
/// the scale shrinks); `None` if it overflows `i128`.
pub fn rescale(v: i128, from: u8, to: u8) -> Option<i128> {
    if to >= from {
        v.checked_mul(pow10((to - from) as u32))
    } else {
        Some(div_pow10_round(v, (from - to) as u32))
    }
}

/// Whether a decimal value fits in `precision` digits.
pub fn fits_precision(v: i128, precision: u8) -> bool {
    v.unsigned_abs() < pow10(precision as u32) as u128
}

/// Formats `v / 10^scale` with exactly `scale` digits after the point.
pub fn format_decimal(v: i128, scale: u8) -> String {
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let sign = if v < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = if digits.len() <= scale {
        format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Parses a decimal number (`-12.345`, `+1`, `.5`, `1e3`) into `(unscaled, scale)` exactly;
/// `None` if the text is not a number or has more than 38 significant digits.
pub fn parse_decimal(text: &str) -> Option<(i128, u8)> {
    let text = text.trim();
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    // Beyond this no 38-digit decimal can hold the value (or its non-zero digits).
    if exponent.abs() > 1_000 {
        return None;
    }
    let (int, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i128 = 0;
    let mut significant = 0u32;
    for b in int.bytes().chain(frac.bytes()) {
        if value != 0 || b != b'0' {
            significant += 1;
        }
        if significant > 38 {
            return None;
        }
        value = value * 10 + (b - b'0') as i128;
    }
    let mut scale = frac.len() as i64 - exponent;
    if value == 0 {
        // Zero needs no digits: `0e50` and `0e-50` are both 0.
        scale = scale.clamp(0, 38);
    } else if scale < 0 {
        let shift = u32::try_from(-scale).ok().filter(|s| *s <= 38)?;
        value = value.checked_mul(pow10(shift))?;
        if !fits_precision(value, 38) {
            return None;
        }
        scale = 0;
    }
    if scale > 38 {
        return None;
    }
    Some((if negative { -value } else { value }, scale as u8))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The `(year, month, day)` of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in a month.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Adds `months` to a date, clamping the day to the end of the target month
/// (`2024-01-31 + 1 month = 2024-02-29`, as in PostgreSQL). An error if the result leaves `Date32`.
pub fn add_months(days: i32, months: i32) -> Result<i32> {
    let (y, m, d) = civil_from_days(days as i64);
    let total = y * 12 + (m as i64 - 1) + months as i64;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let nd = d.min(days_in_month(ny, nm));
    i32::try_from(days_from_civil(ny, nm, nd))
        .map_err(|_| Error::overflow("DATE", format!("{} + {months} months", format_date(days))))
}

/// Adds `n` days to a date; an error if the result leaves `Date32`.
pub fn add_days(days: i32, n: i32) -> Result<i32> {
    days.checked_add(n)
        .ok_or_else(|| Error::overflow("DATE", format!("{} + {n} days", format_date(days))))
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    let (y, m, d) = civil_from_days(days as i64);
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y}-{m:02}-{d:02}")
    }
}

/// Parses `YYYY-MM-DD` (surrounding white space allowed) into a day number.
pub fn parse_date(text: &str) -> Option<i32> {
    let text = text.trim();
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.is_empty() || y.len() > 6 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return None;
    }
    if ![y, m, d]
        .iter()
        .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    i32::try_from(days_from_civil(y, m, d)).ok()
}

impl fmt::Display for Scalar {
    /// The value as SQL text (strings quoted, dates as `DATE '…'`); decimals print their unscaled
    /// value here — use [`super::Literal`]'s `Display` for the typed form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("NULL"),
            Scalar::Boolean(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::UInt(v) => write!(f, "{v}"),
            Scalar::Float(v) => write!(f, "{v:?}"),
            Scalar::Decimal(v) => write!(f, "{v}"),
            Scalar::Date(d) => write!(f, "DATE '{}'", format_date(*d)),
            Scalar::Utf8(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Scalar::Timestamp(v) => write!(f, "{v}"),
            Scalar::Interval(iv) => write!(f, "INTERVAL '{}'", super::time::interval_text(*iv)),
        }
    }
}

/// `STRPOS(hay, needle)`: the 1-based position, in characters, of the first occurrence of
/// `needle` in `hay`, or 0 if there is none (an empty `needle` is at 1). Both are UTF-8.
pub fn strpos(hay: &[u8], needle: &[u8]) -> u64 {
    match memchr::memmem::find(hay, needle) {
        // Characters before the match: the bytes that do not continue a character.
        Some(at) => hay[..at].iter().filter(|&&b| (b as i8) >= -0x40).count() as u64 + 1,
        None => 0,
    }
}

/// Where the string builders ([`replace_into`], [`pad_into`]) append: a `String` (the
/// interpreter's), or a fixed area of bytes ([`Bounded`]: a compiled kernel's scratch).
pub trait TextOut {
    fn push_str(&mut self, s: &str);
    fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }
    /// Whether more text would be lost (a builder may stop early).
    fn full(&self) -> bool {
        false
    }
}

impl TextOut for String {
    fn push_str(&mut self, s: &str) {
        String::push_str(self, s);
    }
    fn push(&mut self, c: char) {
        String::push(self, c);
    }
}

/// A fixed area of bytes as a [`TextOut`]: it takes text while it fits; once a piece does not,
/// it is [`Bounded::overflowed`] and takes nothing more.
pub struct Bounded<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflowed: bool,
}

impl<'a> Bounded<'a> {
    pub fn new(buf: &'a mut [u8]) -> Bounded<'a> {
        Bounded {
            buf,
            len: 0,
            overflowed: false,
        }
    }

    /// The bytes written, or `None` if some text did not fit.
    pub fn written(&self) -> Option<usize> {
        (!self.overflowed).then_some(self.len)
    }
}

impl TextOut for Bounded<'_> {
    fn push_str(&mut self, s: &str) {
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) if !self.overflowed => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
            }
            _ => self.overflowed = true,
        }
    }
    fn full(&self) -> bool {
        self.overflowed
    }
}

/// `REPLACE(s, from, to)`: every occurrence of `from` in `s` replaced by `to`, appended to
/// `out`; an empty `from` leaves `s` as it is (PostgreSQL's).
pub fn replace_into(s: &str, from: &str, to: &str, out: &mut impl TextOut) {
    if from.is_empty() {
        out.push_str(s);
        return;
    }
    let mut rest = s;
    while let Some(at) = rest.find(from) {
        out.push_str(&rest[..at]);
        out.push_str(to);
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
}

/// The longest string, in characters, `LPAD` and `RPAD` build (as PostgreSQL, which refuses
/// lengths past its 1 GB allocation limit).
pub const MAX_PAD_CHARS: i64 = 1 << 28;

/// `LPAD(s, n, fill)` (`left`) or `RPAD`: `s` filled to `n` characters with `fill` repeated on
/// that side, or cut to its first `n` characters; an empty `fill` or `n <= 0` gives at most `s`
/// cut (PostgreSQL's), appended to `out`.
pub fn pad_into(s: &str, n: i64, fill: &str, left: bool, out: &mut impl TextOut) {
    let n = usize::try_from(n).unwrap_or(0);
    let chars = s.chars().count();
    if chars >= n || fill.is_empty() {
        let end = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
        out.push_str(&s[..end]);
        return;
    }
    if left {
        repeat_into(fill, n - chars, out);
        out.push_str(s);
    } else {
        out.push_str(s);
        repeat_into(fill, n - chars, out);
    }
}

/// The first `count` characters of `fill` repeated, appended to `out` (until it is full).
fn repeat_into(fill: &str, count: usize, out: &mut impl TextOut) {
    for c in fill.chars().cycle().take(count) {
        if out.full() {
            return;
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_write_into_a_bounded_area_until_it_is_full() {
        let mut area = [0u8; 8];
        let mut out = Bounded::new(&mut area);
        replace_into("a-b-c", "-", "é", &mut out);
        assert_eq!(out.written(), Some(7));
        assert_eq!(&area[..7], "aébéc".as_bytes());
        let mut area = [0u8; 6];
        let mut out = Bounded::new(&mut area);
        pad_into("ab", 1 << 20, "xy", true, &mut out);
        assert_eq!(out.written(), None);
        let mut out = Bounded::new(&mut []);
        pad_into("", 0, "x", false, &mut out);
        assert_eq!(out.written(), Some(0));
        let mut text = String::new();
        pad_into("ab", 5, "xy", false, &mut text);
        assert_eq!(text, "abxyx");
    }

    #[test]
    fn dates_round_trip() {
        for days in [-719468, -1, 0, 1, 10_000, 10_471, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(parse_date("1998-12-01"), Some(10_561));
        assert_eq!(format_date(10_561), "1998-12-01");
        assert_eq!(parse_date("1998-02-29"), None);
        assert_eq!(parse_date("2000-02-29"), Some(11_016));
        assert_eq!(parse_date("1998-1-5"), Some(10_231));
        assert_eq!(parse_date("x"), None);
    }

    #[test]
    fn month_arithmetic_clamps_the_day() {
        let jan31 = parse_date("2024-01-31").unwrap();
        assert_eq!(format_date(add_months(jan31, 1).unwrap()), "2024-02-29");
        assert_eq!(format_date(add_months(jan31, -2).unwrap()), "2023-11-30");
        assert_eq!(format_date(add_months(jan31, 12).unwrap()), "2025-01-31");
    }

    #[test]
    fn decimals_parse_and_print_exactly() {
        assert_eq!(parse_decimal("0.06"), Some((6, 2)));
        assert_eq!(parse_decimal("-12.345"), Some((-12345, 3)));
        assert_eq!(parse_decimal("1e3"), Some((1000, 0)));
        assert_eq!(parse_decimal("1.5e-2"), Some((15, 3)));
        assert_eq!(parse_decimal(".5"), Some((5, 1)));
        assert_eq!(parse_decimal("1."), Some((1, 0)));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal("."), None);
        // Exponents that no 38-digit decimal can hold are rejected, never overflow.
        assert_eq!(parse_decimal("1e40"), None);
        assert_eq!(parse_decimal("1e308"), None);
        assert_eq!(parse_decimal("1e-2147483648"), None);
        assert_eq!(parse_decimal("1e-39"), None);
        assert_eq!(parse_decimal("0e39"), Some((0, 0)));
        assert_eq!(parse_decimal("0e-50"), Some((0, 38)));
        assert_eq!(parse_decimal("1e37"), Some((pow10(37), 0)));
        assert_eq!(format_decimal(6, 2), "0.06");
        assert_eq!(format_decimal(-12345, 3), "-12.345");
        assert_eq!(format_decimal(-5, 3), "-0.005");
        assert_eq!(format_decimal(42, 0), "42");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_pow10_round(125, 1), 13);
        assert_eq!(div_pow10_round(-125, 1), -13);
        assert_eq!(div_pow10_round(124, 1), 12);
        assert_eq!(rescale(5, 0, 2), Some(500));
        assert_eq!(rescale(i128::MAX, 0, 2), None);
    }
}
