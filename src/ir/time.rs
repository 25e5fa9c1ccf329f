//! Timestamps and intervals: the value helpers both engines share. The interpreter calls them
//! per value; the code generator (`codegen::lower::time`) builds the same arithmetic in LLVM IR,
//! and the property tests hold the two to each other.
//!
//! A timestamp is a count of [`TimeUnit`]s since 1970-01-01 00:00:00 (UTC for a
//! `TIMESTAMP WITH TIME ZONE`), split by floor division into a day number (the calendar of
//! [`super::scalar`]) and the units since midnight. The session zone is UTC, so a zoned
//! timestamp's fields, truncation and text are those of its UTC wall-clock time, printed with
//! PostgreSQL's `+00`.
//!
//! | operation | result | fails |
//! |---|---|---|
//! | [`rescale`] to a finer unit | exact | past the `i64` range |
//! | [`rescale`] to a coarser unit | floor (toward the past) | never |
//! | [`to_days`] (`CAST(ts AS DATE)`) | the day the time falls on | leaving `DATE` |
//! | [`part`] (`EXTRACT`) | see [`TimePart`] | never |
//! | [`trunc`] (`DATE_TRUNC`) | the start of the field's period | past the range |
//! | [`add_interval`] | months (clamped to the month's end), then days, then the rest | past the range |
//! | [`diff`] (`ts - ts`) | days and the time left over, as PostgreSQL's `timestamp_mi` | never |

use std::fmt::Write;

use super::expr::DatePart;
use super::scalar::{civil_from_days, days_from_civil, days_in_month, Interval};
use super::types::TimeUnit;

/// Nanoseconds in a day.
pub const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// The day number and the units since that day's midnight (both by floor division).
pub fn split(v: i64, unit: TimeUnit) -> (i64, i64) {
    let per_day = unit.per_day();
    (v.div_euclid(per_day), v.rem_euclid(per_day))
}

/// The day the timestamp falls on.
pub fn to_days(v: i64, unit: TimeUnit) -> i64 {
    split(v, unit).0
}

/// Midnight of day `days`, or `None` past the `i64` range.
pub fn from_days(days: i64, unit: TimeUnit) -> Option<i64> {
    days.checked_mul(unit.per_day())
}

/// The same time in another unit: exact (or `None` past the range) to a finer unit, floored to a
/// coarser one.
pub fn rescale(v: i64, from: TimeUnit, to: TimeUnit) -> Option<i64> {
    if to >= from {
        v.checked_mul(to.per_second() / from.per_second())
    } else {
        Some(v.div_euclid(from.per_second() / to.per_second()))
    }
}

/// The scale of `EXTRACT(SECOND …)`, `EXTRACT(EPOCH …)` on a unit: microseconds, as
/// PostgreSQL, or nanoseconds for a nanosecond timestamp.
pub fn second_scale(unit: TimeUnit) -> u32 {
    unit.digits().max(6)
}

/// What `EXTRACT(part FROM ts)` gives: the calendar parts of [`DatePart`] as integers, and the
/// parts of the time of day.
///
/// | part | value | SQL type |
/// |---|---|---|
/// | calendar parts | as for a `DATE` | `INTEGER` |
/// | `HOUR`, `MINUTE` | 0–23, 0–59 | `INTEGER` |
/// | `SECOND` | seconds of the minute with their fraction | `DECIMAL(2+s, s)`, `s` = [`second_scale`] |
/// | `MILLISECOND` | the same in milliseconds | `DECIMAL(5+s-3, s-3)` |
/// | `MICROSECOND` | the same in whole microseconds | `INTEGER` |
/// | `EPOCH` | seconds since 1970-01-01 with their fraction | `DECIMAL(19+s-digits, s)` |
///
/// The decimal parts' unscaled value is returned.
pub fn part(part: DatePart, v: i64, unit: TimeUnit) -> i128 {
    let (days, time) = split(v, unit);
    let per_second = unit.per_second();
    // Units to the decimal's scale (never coarser than the unit).
    let to_scale = 10i128.pow(second_scale(unit) - unit.digits());
    match part {
        DatePart::Hour => i128::from(time / (3600 * per_second)),
        DatePart::Minute => i128::from(time / (60 * per_second) % 60),
        DatePart::Second | DatePart::Millisecond => i128::from(time % (60 * per_second)) * to_scale,
        DatePart::Microsecond => {
            let of_minute = i128::from(time % (60 * per_second));
            match unit {
                TimeUnit::Nanosecond => of_minute / 1000,
                _ => of_minute * to_scale,
            }
        }
        DatePart::Epoch => i128::from(v) * to_scale,
        calendar => i128::from(calendar.of_days(days)),
    }
}

/// A field of `DATE_TRUNC(field, ts)`: the period whose start it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum TruncField {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    /// The ISO week, which starts on Monday.
    Week,
    Month,
    Quarter,
    Year,
    /// Years `…0` to `…9`.
    Decade,
    /// Years `…01` to `…00`, as PostgreSQL counts them.
    Century,
    /// Years `…001` to `…000`.
    Millennium,
}

impl TruncField {
    /// The field a name (any case) denotes.
    pub fn named(name: &str) -> Option<TruncField> {
        Some(match name.to_ascii_lowercase().as_str() {
            "microsecond" | "microseconds" | "us" => TruncField::Microsecond,
            "millisecond" | "milliseconds" | "ms" => TruncField::Millisecond,
            "second" | "seconds" => TruncField::Second,
            "minute" | "minutes" => TruncField::Minute,
            "hour" | "hours" => TruncField::Hour,
            "day" | "days" => TruncField::Day,
            "week" | "weeks" => TruncField::Week,
            "month" | "months" => TruncField::Month,
            "quarter" => TruncField::Quarter,
            "year" | "years" => TruncField::Year,
            "decade" => TruncField::Decade,
            "century" => TruncField::Century,
            "millennium" => TruncField::Millennium,
            _ => return None,
        })
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            TruncField::Microsecond => "microseconds",
            TruncField::Millisecond => "milliseconds",
            TruncField::Second => "second",
            TruncField::Minute => "minute",
            TruncField::Hour => "hour",
            TruncField::Day => "day",
            TruncField::Week => "week",
            TruncField::Month => "month",
            TruncField::Quarter => "quarter",
            TruncField::Year => "year",
            TruncField::Decade => "decade",
            TruncField::Century => "century",
            TruncField::Millennium => "millennium",
        }
    }

    /// The length of a field of a day or less in `unit`s (at least 1), or `None` for the
    /// calendar fields.
    pub fn units(self, unit: TimeUnit) -> Option<i64> {
        let nanos: i64 = match self {
            TruncField::Microsecond => 1_000,
            TruncField::Millisecond => 1_000_000,
            TruncField::Second => 1_000_000_000,
            TruncField::Minute => 60_000_000_000,
            TruncField::Hour => 3_600_000_000_000,
            TruncField::Day => NANOS_PER_DAY,
            _ => return None,
        };
        Some((nanos / unit.nanos()).max(1))
    }

    /// The first day of the calendar period holding `days` (for the fields above a day).
    pub fn start_day(self, days: i64) -> i64 {
        if self == TruncField::Week {
            // 1970-01-01 was a Thursday: Monday is 3 days before it.
            return days - (days + 3).rem_euclid(7);
        }
        let (y, m, _) = civil_from_days(days);
        let (y, m) = match self {
            TruncField::Month => (y, m),
            TruncField::Quarter => (y, (m - 1) / 3 * 3 + 1),
            TruncField::Year => (y, 1),
            TruncField::Decade => (y.div_euclid(10) * 10, 1),
            TruncField::Century => ((y - 1).div_euclid(100) * 100 + 1, 1),
            _ => ((y - 1).div_euclid(1000) * 1000 + 1, 1),
        };
        days_from_civil(y, m, 1)
    }
}

/// `DATE_TRUNC(field, ts)`: the start of the field's period holding `v`, or `None` if that is
/// before the first timestamp of the unit.
pub fn trunc(field: TruncField, v: i64, unit: TimeUnit) -> Option<i64> {
    match field.units(unit) {
        Some(n) => v.checked_sub(v.rem_euclid(n)),
        None => from_days(field.start_day(to_days(v, unit)), unit),
    }
}

/// `ts + interval` as PostgreSQL adds them: the months first (the day clamped to the end of the
/// month), then the days, then the nanoseconds (`nanos` is a whole number of `unit`s; the
/// binder makes it so). `None` past the range.
pub fn add_interval(v: i64, unit: TimeUnit, iv: Interval) -> Option<i64> {
    let mut v = v;
    if iv.months != 0 {
        let (days, time) = split(v, unit);
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + (i64::from(m) - 1) + i64::from(iv.months);
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let nd = d.min(days_in_month(ny, nm));
        v = from_days(days_from_civil(ny, nm, nd), unit)?.checked_add(time)?;
    }
    let days = i64::from(iv.days).checked_mul(unit.per_day())?;
    v.checked_add(days)?.checked_add(iv.nanos / unit.nanos())
}

/// `a - b` as PostgreSQL's `timestamp_mi`: whole days and the time left over, both with the
/// difference's sign, and no months; `None` if the days pass an interval's `i32` (more than
/// 5.8 million years, between timestamps of seconds or milliseconds).
pub fn diff(a: i64, b: i64, unit: TimeUnit) -> Option<Interval> {
    let d = i128::from(a) - i128::from(b);
    let per_day = i128::from(unit.per_day());
    Some(Interval {
        months: 0,
        days: i32::try_from(d / per_day).ok()?,
        nanos: ((d % per_day) * i128::from(unit.nanos())) as i64,
    })
}

/// An interval's length for comparisons, as PostgreSQL orders intervals: a month is 30 days and
/// a day 24 hours, in nanoseconds.
pub fn interval_span(iv: Interval) -> i128 {
    (i128::from(iv.months) * 30 + i128::from(iv.days)) * i128::from(NANOS_PER_DAY)
        + i128::from(iv.nanos)
}

/// Parses a timestamp: `YYYY-MM-DD`, then optionally ` ` or `T` and `HH:MM[:SS[.fraction]]`,
/// then optionally a zone: `Z`, `UTC`, or an offset `±HH[:MM]`/`±HHMM`. A zone moves a `zoned`
/// value to UTC; a timestamp without a zone ignores it, as PostgreSQL does. Digits past the
/// unit's are cut off. `None` if the text is not such a timestamp or past the range.
pub fn parse(text: &str, unit: TimeUnit, zoned: bool) -> Option<i64> {
    let text = text.trim();
    let date_len = text
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == ' ' || c == 'T')
        .map_or(text.len(), |(i, _)| i);
    let days = i64::from(super::scalar::parse_date(&text[..date_len])?);
    let mut rest = text[date_len..].trim_start_matches([' ', 'T']);
    let mut nanos: i64 = 0;
    if rest.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let two = |s: &str| -> Option<i64> {
            let b = s.as_bytes();
            (b.len() >= 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit())
                .then(|| i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'))
        };
        let h = two(rest)?;
        rest = rest[2..].strip_prefix(':')?;
        let m = two(rest)?;
        rest = &rest[2..];
        let mut s = 0;
        if let Some(r) = rest.strip_prefix(':') {
            s = two(r)?;
            rest = &r[2..];
            if let Some(r) = rest.strip_prefix('.') {
                let digits = r.bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return None;
                }
                let mut frac: i64 = 0;
                for (i, b) in r.bytes().take(digits.min(9)).enumerate() {
                    frac += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
                }
                nanos = frac;
                rest = &r[digits..];
            }
        }
        // 24:00:00 is the next midnight, as PostgreSQL allows.
        if h > 24 || m > 59 || s > 60 || (h == 24 && (m, s, nanos) != (0, 0, 0)) {
            return None;
        }
        nanos += (h * 3600 + m * 60 + s) * 1_000_000_000;
    }
    let offset = parse_zone(rest.trim())?;
    let per = unit.nanos();
    let v = from_days(days, unit)?.checked_add(nanos / per)?;
    if zoned {
        v.checked_sub(offset.checked_mul(unit.per_second())?)
    } else {
        Some(v)
    }
}

/// Parses a `TIMESTAMPTZ` in session zone `zone`: text with an offset or zone suffix is that
/// instant (as [`parse`]); text without one is a local time in `zone`
/// ([`Zone::from_local`]).
pub fn parse_in(text: &str, unit: TimeUnit, zone: Zone) -> Option<i64> {
    let text = text.trim();
    let wall = parse(text, unit, false)?;
    if has_zone_suffix(text) {
        parse(text, unit, true)
    } else {
        zone.from_local(wall, unit)
    }
}

/// Whether timestamp text ends with a zone (`Z`, `UTC`, `±HH[:MM]`) after its time.
fn has_zone_suffix(text: &str) -> bool {
    let t = text.trim_end();
    let lower = t.to_ascii_lowercase();
    if lower.ends_with('z') || lower.ends_with("utc") {
        return true;
    }
    // An offset: a sign after the date (whose `-`s come first), after the time if there is
    // one.
    let after_date = t
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == ' ' || c == 'T')
        .map_or(t.len(), |(i, _)| i);
    t[after_date..].contains(['+', '-'])
}

/// The offset from UTC in seconds that a zone suffix names (none: 0).
fn parse_zone(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") || zone.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, digits) = match zone.as_bytes()[0] {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|&c| c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    (h <= 15 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// Writes a timestamp as PostgreSQL prints it: `YYYY-MM-DD HH:MM:SS`, the fraction without
/// trailing zeros, and `+00` for a zoned value (the session zone is UTC).
pub fn format(out: &mut String, v: i64, unit: TimeUnit, zoned: bool) {
    let (days, time) = split(v, unit);
    let per_second = unit.per_second();
    let (seconds, fraction) = (time / per_second, time % per_second);
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    } else {
        let _ = write!(out, "{y}-{m:02}-{d:02}");
    }
    let _ = write!(
        out,
        " {:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction != 0 {
        let digits = unit.digits() as usize;
        let text = format!("{fraction:0digits$}");
        out.push('.');
        out.push_str(text.trim_end_matches('0'));
    }
    if zoned {
        out.push_str("+00");
    }
}

/// The timestamp as [`format`] writes it.
pub fn to_text(v: i64, unit: TimeUnit, zoned: bool) -> String {
    let mut s = String::with_capacity(32);
    format(&mut s, v, unit, zoned);
    s
}

/// Writes an interval as PostgreSQL prints it (`IntervalStyle` `postgres`): `1 year 2 mons
/// 3 days 04:05:06.789`, each part with its own sign, `00:00:00` when all are zero.
pub fn format_interval(out: &mut String, iv: Interval) {
    let start = out.len();
    let (years, months) = (iv.months / 12, iv.months % 12);
    // After a negative part, a positive one shows its `+` (`-1 days +02:00:00`).
    let mut after_negative = false;
    let mut unit = |n: i64, one: &str, many: &str| {
        if n != 0 {
            if out.len() > start {
                out.push(' ');
            }
            let plus = if after_negative && n > 0 { "+" } else { "" };
            let _ = write!(out, "{plus}{n} {}", if n == 1 { one } else { many });
            after_negative = n < 0;
        }
    };
    unit(i64::from(years), "year", "years");
    unit(i64::from(months), "mon", "mons");
    unit(i64::from(iv.days), "day", "days");
    if iv.nanos != 0 || out.len() == start {
        if out.len() > start {
            out.push(' ');
        }
        let micros = iv.nanos / 1000;
        if micros < 0 {
            out.push('-');
        } else if after_negative {
            out.push('+');
        }
        let a = micros.unsigned_abs();
        let (secs, frac) = (a / 1_000_000, a % 1_000_000);
        let _ = write!(
            out,
            "{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if frac != 0 {
            let text = format!("{frac:06}");
            out.push('.');
            out.push_str(text.trim_end_matches('0'));
        }
    }
}

/// The interval as [`format_interval`] writes it.
pub fn interval_text(iv: Interval) -> String {
    let mut s = String::with_capacity(24);
    format_interval(&mut s, iv);
    s
}

/// A session time zone: UTC, a fixed offset from it, or a zone of the IANA database (with its
/// daylight-saving rules, from `chrono-tz`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Zone {
    #[default]
    Utc,
    /// Seconds east of UTC.
    Fixed(i32),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// The zone a name denotes: `UTC` (or `Z`, `GMT`, `Etc/UTC`), an offset `±HH[:MM]`, or an
    /// IANA name (`Europe/Berlin`, any case). `None` for anything else.
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        let name = name.strip_prefix(':').unwrap_or(name);
        if [
            "utc", "z", "gmt", "etc/utc", "etc/gmt", "+00", "+00:00", "-00:00",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
        {
            return Some(Zone::Utc);
        }
        if name.starts_with(['+', '-']) {
            let offset = parse_zone(name)?;
            return Some(if offset == 0 {
                Zone::Utc
            } else {
                Zone::Fixed(offset as i32)
            });
        }
        chrono_tz::Tz::from_str_insensitive(name)
            .ok()
            .map(Zone::Named)
    }

    pub fn is_utc(self) -> bool {
        self == Zone::Utc
    }

    /// The name the zone is parsed back from (`UTC`, `+05:30`, `Europe/Berlin`).
    pub fn name(self) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Fixed(s) => {
                let sign = if s < 0 { '-' } else { '+' };
                let a = s.unsigned_abs();
                format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
            }
            Zone::Named(tz) => tz.name().into(),
        }
    }

    /// The zone's abbreviation at the instant `utc_seconds` (`CEST`, `UTC`; a fixed offset's
    /// text, or the offset where the database has no abbreviation).
    pub fn abbreviation_at(self, utc_seconds: i64) -> String {
        use chrono::TimeZone;
        use chrono_tz::OffsetName;
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Fixed(_) => self.name(),
            Zone::Named(tz) => match chrono::DateTime::from_timestamp(utc_seconds, 0) {
                Some(t) => {
                    let offset = tz.offset_from_utc_datetime(&t.naive_utc());
                    match offset.abbreviation() {
                        Some(a) => a.to_string(),
                        None => {
                            let mut s = String::new();
                            put_offset(&mut s, self.offset_at(utc_seconds));
                            s
                        }
                    }
                }
                None => tz.name().into(),
            },
        }
    }

    /// The zone's offset from UTC, in seconds, at the instant `utc_seconds`.
    pub fn offset_at(self, utc_seconds: i64) -> i32 {
        use chrono::Offset;
        use chrono::TimeZone;
        match self {
            Zone::Utc => 0,
            Zone::Fixed(s) => s,
            Zone::Named(tz) => match chrono::DateTime::from_timestamp(utc_seconds, 0) {
                Some(t) => tz
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
                None => 0,
            },
        }
    }

    /// The local wall-clock time of the instant `v` (units of `unit` since 1970-01-01 UTC), in
    /// the same units; `None` past the range.
    pub fn to_local(self, v: i64, unit: TimeUnit) -> Option<i64> {
        let seconds = v.div_euclid(unit.per_second());
        v.checked_add(i64::from(self.offset_at(seconds)).checked_mul(unit.per_second())?)
    }

    /// The instant of the local wall-clock time `v` in this zone, as PostgreSQL resolves it:
    /// a time in a daylight-saving gap takes the offset before the gap (`02:30` on a day the
    /// clocks jump from 02:00 to 03:00 is `03:30` daylight time), an ambiguous time in an
    /// overlap the offset after it (standard time). `None` past the range.
    pub fn from_local(self, v: i64, unit: TimeUnit) -> Option<i64> {
        let per = unit.per_second();
        let local_seconds = v.div_euclid(per);
        let offset = match self {
            Zone::Utc => 0,
            Zone::Fixed(s) => i64::from(s),
            Zone::Named(_) => {
                // The offsets in force a day before and a day after: a local time has one of
                // them (no zone changes its offset twice in two days).
                let before = i64::from(self.offset_at(local_seconds.saturating_sub(86_400)));
                let after = i64::from(self.offset_at(local_seconds.saturating_add(86_400)));
                let fits = |o: i64| i64::from(self.offset_at(local_seconds.saturating_sub(o))) == o;
                match (fits(before), fits(after)) {
                    // An overlap (both are right): the offset after it, standard time.
                    (true, true) => after,
                    (true, false) => before,
                    (false, true) => after,
                    // A gap (neither is): the offset before it.
                    (false, false) => before,
                }
            }
        };
        v.checked_sub(offset.checked_mul(per)?)
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(feature = "ballista")]
impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

#[cfg(feature = "ballista")]
impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
        let name = String::deserialize(d)?;
        Zone::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown time zone {name}")))
    }
}

/// Writes a zoned timestamp as PostgreSQL prints it in the session zone `zone`: its local time
/// there, then the offset (`+01`, `+05:30`, `-03`).
pub fn format_zoned(out: &mut String, v: i64, unit: TimeUnit, zone: Zone) {
    let seconds = v.div_euclid(unit.per_second());
    let offset = zone.offset_at(seconds);
    let local = v.saturating_add(i64::from(offset).saturating_mul(unit.per_second()));
    format(out, local, unit, false);
    put_offset(out, offset);
}

/// An offset from UTC as PostgreSQL prints it: `+00`, `+01`, `+05:30`, `+00:53:28`.
fn put_offset(out: &mut String, offset: i32) {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let _ = write!(out, "{sign}{:02}", a / 3600);
    if !a.is_multiple_of(60) {
        let _ = write!(out, ":{:02}:{:02}", a / 60 % 60, a % 60);
    } else if !a.is_multiple_of(3600) {
        let _ = write!(out, ":{:02}", a / 60 % 60);
    }
}

/// Which pattern language a format is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum FormatStyle {
    /// PostgreSQL's `TO_CHAR` template patterns (`YYYY-MM-DD HH24:MI:SS`).
    ToChar,
    /// `STRFTIME`'s `%` codes, as DuckDB takes them (`%Y-%m-%d %H:%M:%S`).
    Strftime,
}

/// The fields of one timestamp that formats print.
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    /// Nanoseconds of the second.
    nanos: i64,
    /// 0 (Sunday) to 6.
    dow: i64,
    doy: i64,
    iso_week: i64,
    /// The year of the ISO week.
    iso_year: i64,
    /// Days since 1970-01-01.
    days: i64,
    /// For a zoned value: its zone's abbreviation and offset from UTC in seconds there.
    zone: Option<(String, i32)>,
}

impl Fields {
    /// The fields of `v`, in `zone`'s local time for a zoned value.
    fn of(v: i64, unit: TimeUnit, zone: Option<Zone>) -> Fields {
        let seconds = v.div_euclid(unit.per_second());
        let zone_text = zone.map(|z| (z.abbreviation_at(seconds), z.offset_at(seconds)));
        let v = match zone {
            Some(z) => z.to_local(v, unit).unwrap_or(v),
            None => v,
        };
        let (days, time) = split(v, unit);
        let (year, month, day) = civil_from_days(days);
        let per_second = unit.per_second();
        let seconds = time / per_second;
        Fields {
            year,
            month,
            day,
            hour: seconds / 3600,
            minute: seconds / 60 % 60,
            second: seconds % 60,
            nanos: time % per_second * unit.nanos(),
            dow: DatePart::DayOfWeek.of_days(days),
            doy: DatePart::DayOfYear.of_days(days),
            iso_week: DatePart::Week.of_days(days),
            // The year of the week's Thursday.
            iso_year: civil_from_days(days - (days + 3).rem_euclid(7) + 3).0,
            days,
            zone: zone_text,
        }
    }

    fn hour12(&self) -> i64 {
        match self.hour % 12 {
            0 => 12,
            h => h,
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Writes the timestamp `v` as `pattern` says, in `style`'s pattern language. An error names
/// what in the pattern is not a pattern (`STRFTIME` only: `TO_CHAR` copies what it does not
/// know, as PostgreSQL does).
/// `zone`: the session zone of a zoned value (its fields are that zone's local time, and
/// `TZ`/`OF`/`%Z`/`%z` print it), `None` for a wall-clock timestamp.
pub fn format_pattern(
    out: &mut String,
    v: i64,
    unit: TimeUnit,
    zone: Option<Zone>,
    pattern: &str,
    style: FormatStyle,
) -> Result<(), String> {
    let f = Fields::of(v, unit, zone);
    match style {
        FormatStyle::ToChar => {
            to_char(out, &f, pattern);
            Ok(())
        }
        FormatStyle::Strftime => strftime(out, &f, pattern),
    }
}

/// A number with at least `width` digits (`width` 0: as it is), its sign first.
fn put_num(out: &mut String, n: i64, width: usize) {
    if n < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:0width$}", n.unsigned_abs());
}

/// A name in the case of the pattern that asked for it (`MONTH`, `Month`, `month`), padded with
/// spaces to `pad` characters.
fn put_name(out: &mut String, name: &str, case: &str, abbreviate: bool, pad: usize) {
    let name = if abbreviate { &name[..3] } else { name };
    let mut chars = case.chars();
    let (first, second) = (chars.next(), chars.next());
    let text = match (first, second) {
        (Some(a), Some(b)) if a.is_uppercase() && b.is_uppercase() => name.to_uppercase(),
        (Some(a), _) if a.is_lowercase() => name.to_lowercase(),
        _ => name.to_string(),
    };
    let _ = write!(out, "{text:<pad$}");
}

/// PostgreSQL's `to_char(timestamp, text)`: `YYYY YYY YY Y`, `MM`, `DD`, `DDD`, `D` (Sunday 1),
/// `HH24 HH12 HH`, `MI`, `SS`, `MS`, `US`, `AM PM A.M. P.M.` (and lower case), `Month Mon MONTH
/// MON month mon`, `Day Dy DAY DY day dy`, `Q`, `IW`, `WW`, `TZ`, `OF`, the `FM` prefix (no
/// padding), the `TH`/`th` suffix (ordinals), `"quoted text"`; anything else is copied.
fn to_char(out: &mut String, f: &Fields, pattern: &str) {
    let mut rest = pattern;
    let mut fill = true;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("FM") {
            fill = false;
            rest = r;
            continue;
        }
        if c == '"' {
            let body = &rest[1..];
            let end = body.find('"').unwrap_or(body.len());
            out.push_str(&body[..end]);
            rest = body.get(end + 1..).unwrap_or("");
            continue;
        }
        let w = |n: usize| if fill { n } else { 0 };
        let before = out.len();
        // Names print in the case they are written in, so they match it exactly; numbers match
        // in any case (`yyyy-mm-dd`), as PostgreSQL's do.
        let named = [
            "MONTH", "Month", "month", "A.M.", "P.M.", "a.m.", "p.m.", "MON", "Mon", "mon", "DAY",
            "Day", "day", "AM", "PM", "am", "pm", "DY", "Dy", "dy", "TZ", "OF",
        ]
        .into_iter()
        .find(|t| rest.starts_with(t));
        let token = named.or_else(|| {
            [
                "HH24", "HH12", "YYYY", "IYYY", "SSSS", "DDD", "YYY", "HH", "MI", "SS", "MS", "US",
                "YY", "MM", "DD", "IW", "WW", "CC", "Y", "D", "Q", "J",
            ]
            .into_iter()
            .find(|t| {
                rest.get(..t.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(t))
            })
        });
        let Some(token) = token else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        match token {
            "YYYY" => put_num(out, f.year, w(4)),
            // The ISO year of the ISO week.
            "IYYY" => put_num(out, f.iso_year, w(4)),
            "SSSS" => put_num(out, f.hour * 3600 + f.minute * 60 + f.second, 0),
            "CC" => put_num(
                out,
                if f.year > 0 {
                    (f.year - 1) / 100 + 1
                } else {
                    f.year / 100 - 1
                },
                w(2),
            ),
            // The Julian day: days since 4714-11-24 BC (1970-01-01 is 2440588).
            "J" => put_num(out, f.days + 2_440_588, 0),
            "YYY" => put_num(out, f.year.rem_euclid(1000), w(3)),
            "YY" => put_num(out, f.year.rem_euclid(100), w(2)),
            "Y" => put_num(out, f.year.rem_euclid(10), 0),
            "MM" => put_num(out, i64::from(f.month), w(2)),
            "DDD" => put_num(out, f.doy, w(3)),
            "DD" => put_num(out, i64::from(f.day), w(2)),
            "D" => put_num(out, f.dow + 1, 0),
            "HH24" => put_num(out, f.hour, w(2)),
            "HH12" | "HH" => put_num(out, f.hour12(), w(2)),
            "MI" => put_num(out, f.minute, w(2)),
            "SS" => put_num(out, f.second, w(2)),
            "MS" => put_num(out, f.nanos / 1_000_000, w(3)),
            "US" => put_num(out, f.nanos / 1_000, w(6)),
            "AM" | "PM" => out.push_str(if f.hour < 12 { "AM" } else { "PM" }),
            "am" | "pm" => out.push_str(if f.hour < 12 { "am" } else { "pm" }),
            "A.M." | "P.M." => out.push_str(if f.hour < 12 { "A.M." } else { "P.M." }),
            "a.m." | "p.m." => out.push_str(if f.hour < 12 { "a.m." } else { "p.m." }),
            "MONTH" | "Month" | "month" => {
                put_name(out, MONTHS[f.month as usize - 1], token, false, w(9))
            }
            "MON" | "Mon" | "mon" => put_name(out, MONTHS[f.month as usize - 1], token, true, 0),
            "DAY" | "Day" | "day" => put_name(out, DAYS[f.dow as usize], token, false, w(9)),
            "DY" | "Dy" | "dy" => put_name(out, DAYS[f.dow as usize], token, true, 0),
            "Q" => put_num(out, (i64::from(f.month) - 1) / 3 + 1, 0),
            "IW" => put_num(out, f.iso_week, w(2)),
            "WW" => put_num(out, (f.doy - 1) / 7 + 1, w(2)),
            "TZ" => out.push_str(f.zone.as_ref().map_or("", |(abbr, _)| abbr.as_str())),
            _ => {
                if let Some((_, offset)) = &f.zone {
                    put_offset(out, *offset);
                }
            }
        }
        fill = true;
        rest = &rest[token.len()..];
        // `TH`/`th` after a number: its ordinal suffix (`1st`, `22ND`).
        let number = out[before..].trim_start_matches('-');
        if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(upper) = [("TH", true), ("th", false)]
                .into_iter()
                .find_map(|(t, upper)| rest.starts_with(t).then_some(upper))
            {
                let n: u64 = number.parse().unwrap_or(0);
                let suffix = match (n % 10, n % 100) {
                    (_, 11..=13) => "th",
                    (1, _) => "st",
                    (2, _) => "nd",
                    (3, _) => "rd",
                    _ => "th",
                };
                out.push_str(&if upper {
                    suffix.to_uppercase()
                } else {
                    suffix.to_string()
                });
                rest = &rest[2..];
            }
        }
    }
}

/// `STRFTIME(ts, format)`: `%Y %y %m %d %e %H %I %M %S %f` (microseconds) `%g` (milliseconds)
/// `%n` (nanoseconds) `%j %a %A %b %h %B %p %w %u %V %F %T %D %R %Z %z %%`, and `%-d`, `%-m`,
/// `%-H`, `%-I`, `%-M`, `%-S`, `%-j` without padding.
fn strftime(out: &mut String, f: &Fields, pattern: &str) -> Result<(), String> {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut code = chars.next();
        let pad = if code == Some('-') {
            code = chars.next();
            false
        } else {
            true
        };
        let w = |n: usize| if pad { n } else { 0 };
        match code {
            Some('Y') => put_num(out, f.year, 4),
            Some('y') => put_num(out, f.year.rem_euclid(100), w(2)),
            Some('m') => put_num(out, i64::from(f.month), w(2)),
            Some('d') => put_num(out, i64::from(f.day), w(2)),
            Some('e') => {
                let _ = write!(out, "{:>2}", f.day);
            }
            Some('H') => put_num(out, f.hour, w(2)),
            Some('I') => put_num(out, f.hour12(), w(2)),
            Some('M') => put_num(out, f.minute, w(2)),
            Some('S') => put_num(out, f.second, w(2)),
            Some('f') => put_num(out, f.nanos / 1_000, 6),
            Some('g') => put_num(out, f.nanos / 1_000_000, 3),
            Some('n') => put_num(out, f.nanos, 9),
            Some('j') => put_num(out, f.doy, w(3)),
            Some('a') => out.push_str(&DAYS[f.dow as usize][..3]),
            Some('A') => out.push_str(DAYS[f.dow as usize]),
            Some('b') | Some('h') => out.push_str(&MONTHS[f.month as usize - 1][..3]),
            Some('B') => out.push_str(MONTHS[f.month as usize - 1]),
            Some('p') => out.push_str(if f.hour < 12 { "AM" } else { "PM" }),
            Some('w') => put_num(out, f.dow, 0),
            Some('u') => put_num(out, if f.dow == 0 { 7 } else { f.dow }, 0),
            Some('V') => put_num(out, f.iso_week, w(2)),
            Some('F') => {
                put_num(out, f.year, 4);
                let _ = write!(out, "-{:02}-{:02}", f.month, f.day);
            }
            Some('T') => {
                let _ = write!(out, "{:02}:{:02}:{:02}", f.hour, f.minute, f.second);
            }
            Some('D') => {
                let _ = write!(
                    out,
                    "{:02}/{:02}/{:02}",
                    f.month,
                    f.day,
                    f.year.rem_euclid(100)
                );
            }
            Some('R') => {
                let _ = write!(out, "{:02}:{:02}", f.hour, f.minute);
            }
            Some('Z') => out.push_str(f.zone.as_ref().map_or("", |(abbr, _)| abbr.as_str())),
            Some('z') => {
                if let Some((_, offset)) = &f.zone {
                    let sign = if *offset < 0 { '-' } else { '+' };
                    let a = offset.unsigned_abs();
                    let _ = write!(out, "{sign}{:02}{:02}", a / 3600, a / 60 % 60);
                }
            }
            Some('%') if pad => out.push('%'),
            Some(other) => {
                return Err(format!(
                    "STRFTIME's format has the unknown code %{}{other}",
                    if pad { "" } else { "-" }
                ))
            }
            None => return Err("STRFTIME's format ends with a lone %".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimeUnit::*;

    fn ts(text: &str, unit: TimeUnit) -> i64 {
        parse(text, unit, false).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn parses_and_prints_every_unit() {
        for (text, unit) in [
            ("2024-03-31 02:30:00", Second),
            ("2024-03-31 02:30:00.123", Millisecond),
            ("2024-03-31 02:30:00.123456", Microsecond),
            ("2024-03-31 02:30:00.123456789", Nanosecond),
            ("1969-12-31 23:59:59.5", Millisecond),
            ("1900-02-28 00:00:00", Second),
        ] {
            assert_eq!(to_text(ts(text, unit), unit, false), text);
        }
        assert_eq!(ts("1970-01-01", Second), 0);
        assert_eq!(ts("1970-01-01T00:00:01", Millisecond), 1000);
        assert_eq!(ts("1969-12-31 23:59:59.999", Millisecond), -1);
        assert_eq!(ts("2024-01-01 24:00:00", Second), ts("2024-01-02", Second));
        assert_eq!(
            parse("2024-01-01 01:00:00+01", Second, true),
            Some(ts("2024-01-01", Second))
        );
        assert_eq!(
            parse("2024-01-01 01:00:00+01:00", Second, false),
            Some(ts("2024-01-01 01:00:00", Second))
        );
        assert_eq!(
            parse("2024-01-01 00:00:00Z", Second, true),
            Some(ts("2024-01-01", Second))
        );
        for bad in [
            "2024-02-30",
            "2024-01-01 25:00",
            "2024-01-01 10",
            "x",
            "2024-01-01 10:00:00.",
            "2024-01-01 10:00 +1x",
        ] {
            assert_eq!(parse(bad, Microsecond, false), None, "{bad}");
        }
        assert_eq!(to_text(0, Second, true), "1970-01-01 00:00:00+00");
        // Past the range of nanoseconds (about 2262).
        assert_eq!(parse("2300-01-01", Nanosecond, false), None);
    }

    #[test]
    fn parts_of_a_time() {
        let v = ts("2024-03-31 02:30:45.123456", Microsecond);
        assert_eq!(part(DatePart::Hour, v, Microsecond), 2);
        assert_eq!(part(DatePart::Minute, v, Microsecond), 30);
        assert_eq!(part(DatePart::Second, v, Microsecond), 45_123_456);
        assert_eq!(part(DatePart::Millisecond, v, Microsecond), 45_123_456);
        assert_eq!(part(DatePart::Microsecond, v, Microsecond), 45_123_456);
        assert_eq!(part(DatePart::Year, v, Microsecond), 2024);
        assert_eq!(part(DatePart::DayOfWeek, v, Microsecond), 0);
        let s = ts("1969-12-31 23:59:59", Second);
        assert_eq!(part(DatePart::Epoch, s, Second), -1_000_000);
        assert_eq!(part(DatePart::Second, s, Second), 59_000_000);
        let n = ts("2000-01-01 00:00:01.000000789", Nanosecond);
        assert_eq!(part(DatePart::Second, n, Nanosecond), 1_000_000_789);
        assert_eq!(part(DatePart::Microsecond, n, Nanosecond), 1_000_000);
    }

    #[test]
    fn truncation() {
        let v = ts("2024-03-31 02:30:45.123456", Microsecond);
        let t = |f: &str| {
            to_text(
                trunc(TruncField::named(f).unwrap(), v, Microsecond).unwrap(),
                Microsecond,
                false,
            )
        };
        assert_eq!(t("millisecond"), "2024-03-31 02:30:45.123");
        assert_eq!(t("second"), "2024-03-31 02:30:45");
        assert_eq!(t("hour"), "2024-03-31 02:00:00");
        assert_eq!(t("day"), "2024-03-31 00:00:00");
        assert_eq!(t("week"), "2024-03-25 00:00:00");
        assert_eq!(t("month"), "2024-03-01 00:00:00");
        assert_eq!(t("quarter"), "2024-01-01 00:00:00");
        assert_eq!(t("decade"), "2020-01-01 00:00:00");
        assert_eq!(t("century"), "2001-01-01 00:00:00");
        assert_eq!(t("millennium"), "2001-01-01 00:00:00");
        let before = ts("1969-12-31 23:59:59", Second);
        assert_eq!(trunc(TruncField::Day, before, Second), Some(-86_400));
        assert_eq!(trunc(TruncField::Millisecond, 7, Second), Some(7));
    }

    #[test]
    fn zones_resolve_gaps_and_overlaps_as_postgresql() {
        let berlin = Zone::parse("europe/berlin").unwrap();
        assert_eq!(berlin.name(), "Europe/Berlin");
        assert_eq!(Zone::parse("+05:30"), Some(Zone::Fixed(19_800)));
        assert_eq!(Zone::parse("UTC"), Some(Zone::Utc));
        assert_eq!(Zone::parse("Mars/Olympus"), None);
        let local = |t: &str| ts(t, Second);
        let utc = |t: &str| ts(t, Second);
        // Winter and summer.
        assert_eq!(
            berlin.from_local(local("2024-01-15 12:00:00"), Second),
            Some(utc("2024-01-15 11:00:00"))
        );
        assert_eq!(
            berlin.from_local(local("2024-07-15 12:00:00"), Second),
            Some(utc("2024-07-15 10:00:00"))
        );
        // 2024-03-31 02:30 does not exist in Berlin: the offset before the gap (+01).
        assert_eq!(
            berlin.from_local(local("2024-03-31 02:30:00"), Second),
            Some(utc("2024-03-31 01:30:00"))
        );
        // 2024-10-27 02:30 happens twice: the offset after the overlap (+01).
        assert_eq!(
            berlin.from_local(local("2024-10-27 02:30:00"), Second),
            Some(utc("2024-10-27 01:30:00"))
        );
        assert_eq!(
            berlin.to_local(utc("2024-03-31 01:30:00"), Second),
            Some(local("2024-03-31 03:30:00"))
        );
        let mut s = String::new();
        format_zoned(&mut s, utc("2024-07-15 10:00:00"), Second, berlin);
        assert_eq!(s, "2024-07-15 12:00:00+02");
        s.clear();
        format_zoned(&mut s, 0, Second, Zone::Fixed(-34_200));
        assert_eq!(s, "1969-12-31 14:30:00-09:30");
    }

    #[test]
    fn formats() {
        let v = ts("2024-03-09 14:05:06.789012", Microsecond);
        let fmt = |p: &str, style| {
            let mut s = String::new();
            format_pattern(&mut s, v, Microsecond, None, p, style).map(|_| s)
        };
        assert_eq!(
            fmt(
                "YYYY-MM-DD HH24:MI:SS.US Dy Mon FMDD FMMonth, HH12 PM \"Q\"Q DDD IW",
                FormatStyle::ToChar
            )
            .unwrap(),
            "2024-03-09 14:05:06.789012 Sat Mar 9 March, 02 PM Q1 069 10"
        );
        assert_eq!(
            fmt("Month|DAY|day", FormatStyle::ToChar).unwrap(),
            "March    |SATURDAY |saturday "
        );
        assert_eq!(
            fmt(
                "%Y-%m-%d %H:%M:%S.%f %a %B %-d %j %I%p %% %F %T",
                FormatStyle::Strftime
            )
            .unwrap(),
            "2024-03-09 14:05:06.789012 Sat March 9 069 02PM % 2024-03-09 14:05:06"
        );
        assert!(fmt("%Q", FormatStyle::Strftime).unwrap_err().contains("%Q"));
        assert!(fmt("%", FormatStyle::Strftime).is_err());
    }

    #[test]
    fn interval_arithmetic() {
        let v = ts("2024-01-31 10:00:00", Second);
        let iv = |months, days, nanos| Interval {
            months,
            days,
            nanos,
        };
        assert_eq!(
            to_text(add_interval(v, Second, iv(1, 0, 0)).unwrap(), Second, false),
            "2024-02-29 10:00:00"
        );
        assert_eq!(
            to_text(
                add_interval(v, Second, iv(1, 1, 3_600_000_000_000)).unwrap(),
                Second,
                false
            ),
            "2024-03-01 11:00:00"
        );
        assert_eq!(add_interval(i64::MAX, Second, iv(0, 1, 0)), None);
        let d = diff(
            ts("2024-03-02 01:00:00", Second),
            ts("2024-03-01 00:00:00", Second),
            Second,
        )
        .unwrap();
        assert_eq!(interval_text(d), "1 day 01:00:00");
        let d = diff(
            ts("2024-03-01", Second),
            ts("2024-03-02 01:00:00", Second),
            Second,
        )
        .unwrap();
        assert_eq!(diff(i64::MAX, i64::MIN, Second), None);
        assert_eq!(interval_text(d), "-1 days -01:00:00");
        assert_eq!(
            interval_text(iv(-1, 3, 7_200_000_000_000)),
            "-1 mons +3 days 02:00:00"
        );
        assert_eq!(
            interval_text(iv(0, -1, 7_200_000_000_000)),
            "-1 days +02:00:00"
        );
        assert_eq!(
            parse_in(
                "2024-07-01 +05",
                Second,
                Zone::parse("Europe/Berlin").unwrap()
            ),
            Some(ts("2024-06-30 19:00:00", Second))
        );
        assert_eq!(interval_text(Interval::default()), "00:00:00");
        assert_eq!(
            interval_text(iv(14, 3, 4_005_500_000)),
            "1 year 2 mons 3 days 00:00:04.0055"
        );
        assert!(interval_span(iv(1, 0, 0)) > interval_span(iv(0, 29, 0)));
    }
}
