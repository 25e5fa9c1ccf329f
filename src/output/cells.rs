//! The text of one cell of a result column, written as bytes.
//!
//! Input: an Arrow array of a result column. Output: for each row, whether it is NULL and the
//! text of its value, appended to a `Vec<u8>`, with the same text arrow's display gives
//! (integers and decimals exactly, a decimal with all its scale digits; floats as the shortest
//! string that reads back as the same value, as `ryu` writes them; dates as `YYYY-MM-DD`,
//! [`format_date`]). The column types of query results have fast paths that write straight into
//! the buffer; any other type goes through arrow's [`ArrayFormatter`].
//!
//! The writers of every format ([`super::csv`], [`super::json`], [`super::table`]) quote or escape
//! this text as their format needs; [`TextKind`] tells them what the text is.

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, LargeStringArray, StringArray, StringViewArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Decimal64Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::ir::scalar::{civil_from_days, format_date};
use crate::Result;

/// What a cell's text is, for formats that treat kinds differently (JSON's literals, the table's
/// alignment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// Integers and decimals: digits, a sign and a point, a JSON number as it is.
    Number,
    /// Floats: a number, or `NaN`, `inf`, `-inf`.
    Float,
    /// `true` or `false`.
    Bool,
    /// Anything else (strings, dates): free text.
    Text,
    /// A nested value (a list, a struct, a map) as JSON text: a JSON value as it is.
    Json,
}

impl TextKind {
    /// The kind of the values of `data_type`.
    pub fn of(data_type: &DataType) -> TextKind {
        match data_type {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => TextKind::Number,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => TextKind::Float,
            DataType::Boolean => TextKind::Bool,
            DataType::Dictionary(_, values) => TextKind::of(values),
            t if is_nested(t) => TextKind::Json,
            _ => TextKind::Text,
        }
    }

    /// Whether the text is a number (right-aligned in a table).
    pub fn is_numeric(self) -> bool {
        matches!(self, TextKind::Number | TextKind::Float)
    }
}

/// The values of one column, by the way their text is written.
enum Values<'a> {
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Decimal64(&'a [i64], u32),
    Decimal128(&'a [i128], u32),
    Bool(&'a BooleanArray),
    Date(&'a [i32]),
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    /// Values of `unit` since the epoch; with the time zone they are shown in (the zone their
    /// Arrow type names: UTC prints `+00`), or none.
    Timestamp(&'a [i64], TimeUnit, Option<crate::ir::time::Zone>),
    /// PostgreSQL's `interval`, printed as PostgreSQL prints it (`1 day 02:00:00`).
    Interval(&'a [arrow::datatypes::IntervalMonthDayNano]),
    /// Bytes of any binary layout, printed as PostgreSQL prints `bytea`: `\x` and hex digits.
    Binary(&'a dyn Array),
    /// Lists, structs and maps, printed as JSON.
    Nested(&'a dyn Array, &'a FormatOptions<'a>),
    Other(ArrayFormatter<'a>),
}

/// The cell texts of one column.
pub struct ColumnText<'a> {
    values: Values<'a>,
    /// The logical nulls (a `Null` column, a dictionary key pointing at a null value).
    nulls: Option<NullBuffer>,
    kind: TextKind,
}

impl<'a> ColumnText<'a> {
    /// The cells of `array`; types without a fast path are displayed with `options`.
    ///
    /// # Errors
    ///
    /// A type arrow cannot display (an internal error: query results have displayable types).
    pub fn new(array: &'a ArrayRef, options: &'a FormatOptions<'a>) -> Result<ColumnText<'a>> {
        let a = array.as_ref();
        let scale = |s: i8| u32::try_from(s).ok();
        let values = match a.data_type() {
            DataType::Int8 => Values::I8(a.as_primitive::<Int8Type>().values()),
            DataType::Int16 => Values::I16(a.as_primitive::<Int16Type>().values()),
            DataType::Int32 => Values::I32(a.as_primitive::<Int32Type>().values()),
            DataType::Int64 => Values::I64(a.as_primitive::<Int64Type>().values()),
            DataType::UInt8 => Values::U8(a.as_primitive::<UInt8Type>().values()),
            DataType::UInt16 => Values::U16(a.as_primitive::<UInt16Type>().values()),
            DataType::UInt32 => Values::U32(a.as_primitive::<UInt32Type>().values()),
            DataType::UInt64 => Values::U64(a.as_primitive::<UInt64Type>().values()),
            DataType::Float32 => Values::F32(a.as_primitive::<Float32Type>().values()),
            DataType::Float64 => Values::F64(a.as_primitive::<Float64Type>().values()),
            DataType::Decimal64(_, s) if scale(*s).is_some() => Values::Decimal64(
                a.as_primitive::<Decimal64Type>().values(),
                scale(*s).unwrap_or(0),
            ),
            DataType::Decimal128(_, s) if scale(*s).is_some() => Values::Decimal128(
                a.as_primitive::<Decimal128Type>().values(),
                scale(*s).unwrap_or(0),
            ),
            DataType::Boolean => Values::Bool(a.as_boolean()),
            DataType::Date32 => Values::Date(a.as_primitive::<Date32Type>().values()),
            DataType::Utf8 => Values::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => Values::LargeUtf8(a.as_string::<i64>()),
            DataType::Utf8View => Values::Utf8View(a.as_string_view()),
            DataType::Timestamp(unit, tz) => {
                let values = match unit {
                    TimeUnit::Second => a.as_primitive::<TimestampSecondType>().values(),
                    TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().values(),
                    TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().values(),
                    TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().values(),
                };
                let zone = tz.as_ref().map(|tz| {
                    crate::ir::time::Zone::parse(tz).unwrap_or(crate::ir::time::Zone::Utc)
                });
                Values::Timestamp(values, *unit, zone)
            }
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano) => Values::Interval(
                a.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
                    .values(),
            ),
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => Values::Binary(a),
            t if is_nested(t) => Values::Nested(a, options),
            _ => Values::Other(ArrayFormatter::try_new(a, options)?),
        };
        Ok(ColumnText {
            values,
            nulls: a.logical_nulls(),
            kind: TextKind::of(a.data_type()),
        })
    }

    /// What the column's text is.
    pub fn kind(&self) -> TextKind {
        self.kind
    }

    /// Whether the cell of `row` is NULL.
    #[inline]
    pub fn is_null(&self, row: usize) -> bool {
        self.nulls.as_ref().is_some_and(|n| n.is_null(row))
    }

    /// The string of `row` of a string column, without copying (`None` for other types).
    #[inline]
    pub fn str(&self, row: usize) -> Option<&str> {
        match &self.values {
            Values::Utf8(a) => Some(a.value(row)),
            Values::LargeUtf8(a) => Some(a.value(row)),
            Values::Utf8View(a) => Some(a.value(row)),
            _ => None,
        }
    }

    /// Appends the text of the (non-NULL) cell of `row` to `out`.
    pub fn write(&self, row: usize, out: &mut Vec<u8>) -> Result<()> {
        match &self.values {
            Values::I8(v) => write_int(out, v[row]),
            Values::I16(v) => write_int(out, v[row]),
            Values::I32(v) => write_int(out, v[row]),
            Values::I64(v) => write_int(out, v[row]),
            Values::U8(v) => write_int(out, v[row]),
            Values::U16(v) => write_int(out, v[row]),
            Values::U32(v) => write_int(out, v[row]),
            Values::U64(v) => write_int(out, v[row]),
            Values::F32(v) => out.extend_from_slice(ryu::Buffer::new().format(v[row]).as_bytes()),
            Values::F64(v) => out.extend_from_slice(ryu::Buffer::new().format(v[row]).as_bytes()),
            Values::Decimal64(v, scale) => write_decimal(out, i128::from(v[row]), *scale),
            Values::Decimal128(v, scale) => write_decimal(out, v[row], *scale),
            Values::Bool(a) => out.extend_from_slice(match a.value(row) {
                true => b"true",
                false => b"false",
            }),
            Values::Date(v) => write_date(out, v[row]),
            Values::Utf8(_) | Values::LargeUtf8(_) | Values::Utf8View(_) => {
                out.extend_from_slice(self.str(row).unwrap_or_default().as_bytes())
            }
            Values::Timestamp(v, unit, Some(zone)) if !zone.is_utc() => {
                let mut text = String::new();
                crate::ir::time::format_zoned(
                    &mut text,
                    v[row],
                    crate::ir::TimeUnit::from_arrow(*unit),
                    *zone,
                );
                out.extend_from_slice(text.as_bytes());
            }
            Values::Timestamp(v, unit, zone) => write_timestamp(out, v[row], *unit, zone.is_some()),
            Values::Interval(v) => {
                let iv = v[row];
                let mut text = String::new();
                crate::ir::time::format_interval(
                    &mut text,
                    crate::ir::Interval {
                        months: iv.months,
                        days: iv.days,
                        nanos: iv.nanoseconds,
                    },
                );
                out.extend_from_slice(text.as_bytes());
            }
            Values::Binary(a) => write_bytes(out, binary_value(*a, row)),
            Values::Nested(a, options) => write_json(out, *a, row, options)?,
            Values::Other(f) => {
                let mut text = String::new();
                f.value(row).write(&mut text)?;
                out.extend_from_slice(text.as_bytes());
            }
        }
        Ok(())
    }
}

/// Whether values of `t` are nested (printed as JSON).
fn is_nested(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(..)
            | DataType::Struct(_)
            | DataType::Map(..)
    )
}

/// The bytes of `row` of a binary array (any layout; empty for another type).
fn binary_value(a: &dyn Array, row: usize) -> &[u8] {
    match a.data_type() {
        DataType::Binary => a.as_binary::<i32>().value(row),
        DataType::LargeBinary => a.as_binary::<i64>().value(row),
        DataType::BinaryView => a.as_binary_view().value(row),
        DataType::FixedSizeBinary(_) => a.as_fixed_size_binary().value(row),
        _ => &[],
    }
}

/// Bytes as PostgreSQL prints a `bytea`: `\x` then two lowercase hex digits per byte.
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\x");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// A timestamp of `v` `unit`s since 1970-01-01 00:00:00 as PostgreSQL prints one:
/// `2024-03-31 02:30:00.123456`, the fraction without trailing zeros (up to nine digits for
/// nanoseconds); one with a time zone is an instant, printed in UTC (qjit's session zone) with
/// its offset, `+00`.
fn write_timestamp(out: &mut Vec<u8>, v: i64, unit: TimeUnit, zoned: bool) {
    let (per_second, digits) = match unit {
        TimeUnit::Second => (1, 0),
        TimeUnit::Millisecond => (1_000, 3),
        TimeUnit::Microsecond => (1_000_000, 6),
        TimeUnit::Nanosecond => (1_000_000_000, 9),
    };
    let (seconds, fraction) = (v.div_euclid(per_second), v.rem_euclid(per_second));
    let (days, time) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    write_days(out, days);
    let two = |n: i64| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    out.push(b' ');
    out.extend_from_slice(&two(time / 3600));
    out.push(b':');
    out.extend_from_slice(&two(time / 60 % 60));
    out.push(b':');
    out.extend_from_slice(&two(time % 60));
    if fraction != 0 {
        let text = format!("{fraction:0digits$}");
        out.push(b'.');
        out.extend_from_slice(text.trim_end_matches('0').as_bytes());
    }
    if zoned {
        out.extend_from_slice(b"+00");
    }
}

/// The date `days` after 1970-01-01 as `YYYY-MM-DD` (a year past 9999 or before 0 in full,
/// with its sign, as [`format_date`] writes it).
fn write_days(out: &mut Vec<u8>, days: i64) {
    match i32::try_from(days) {
        Ok(days) => write_date(out, days),
        Err(_) => {
            let (y, m, d) = civil_from_days(days);
            out.extend_from_slice(format!("{y}-{m:02}-{d:02}").as_bytes());
        }
    }
}

/// Row `row` of the nested array `a` as JSON: lists as arrays, structs as objects, maps as
/// objects of their keys' text; numbers and booleans as JSON literals (NaN and infinities as
/// strings), everything else as the string of its cell text.
fn write_json(out: &mut Vec<u8>, a: &dyn Array, row: usize, options: &FormatOptions) -> Result<()> {
    if a.is_null(row) {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let list = |out: &mut Vec<u8>, items: ArrayRef| -> Result<()> {
        out.push(b'[');
        for i in 0..items.len() {
            if i > 0 {
                out.push(b',');
            }
            write_json(out, items.as_ref(), i, options)?;
        }
        out.push(b']');
        Ok(())
    };
    match a.data_type() {
        DataType::List(_) => list(out, a.as_list::<i32>().value(row))?,
        DataType::LargeList(_) => list(out, a.as_list::<i64>().value(row))?,
        DataType::ListView(_) => list(out, a.as_list_view::<i32>().value(row))?,
        DataType::LargeListView(_) => list(out, a.as_list_view::<i64>().value(row))?,
        DataType::FixedSizeList(..) => list(out, a.as_fixed_size_list().value(row))?,
        DataType::Struct(fields) => {
            let s = a.as_struct();
            out.push(b'{');
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, field.name());
                out.push(b':');
                write_json(out, s.column(i).as_ref(), row, options)?;
            }
            out.push(b'}');
        }
        DataType::Map(..) => {
            let entries = a.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            out.push(b'{');
            for i in 0..entries.len() {
                if i > 0 {
                    out.push(b',');
                }
                let mut key = vec![];
                write_json(&mut key, keys.as_ref(), i, options)?;
                match key.first() {
                    Some(b'"') => out.extend_from_slice(&key),
                    _ => write_json_string(out, &String::from_utf8_lossy(&key)),
                }
                out.push(b':');
                write_json(out, values.as_ref(), i, options)?;
            }
            out.push(b'}');
        }
        _ => {
            let one = a.slice(row, 1);
            let cell = ColumnText::new(&one, options)?;
            let mut text = vec![];
            cell.write(0, &mut text)?;
            match (cell.kind(), text.as_slice()) {
                (TextKind::Float, b"NaN" | b"inf" | b"-inf") | (TextKind::Text, _) => {
                    write_json_string(out, &String::from_utf8_lossy(&text))
                }
                _ => out.extend_from_slice(&text),
            }
        }
    }
    Ok(())
}

/// Appends `s` as a JSON string literal.
pub(super) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b if b < b' ' => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The cell texts of every column of a batch.
pub fn columns<'a>(
    columns: &'a [ArrayRef],
    options: &'a FormatOptions<'a>,
) -> Result<Vec<ColumnText<'a>>> {
    columns
        .iter()
        .map(|c| ColumnText::new(c, options))
        .collect()
}

fn write_int(out: &mut Vec<u8>, v: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A decimal's unscaled value `v` with `scale` digits after the point, as arrow displays it:
/// `-0.0050` for -50 at scale 4, `12` at scale 0.
fn write_decimal(out: &mut Vec<u8>, v: i128, scale: u32) {
    if v < 0 {
        out.push(b'-');
    }
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(v.unsigned_abs()).as_bytes();
    let scale = scale as usize;
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits);
    }
}

/// A date as `YYYY-MM-DD` ([`format_date`]), without allocating for years 0 to 9999.
fn write_date(out: &mut Vec<u8>, days: i32) {
    let (y, m, d) = civil_from_days(i64::from(days));
    if !(0..=9999).contains(&y) {
        out.extend_from_slice(format_date(days).as_bytes());
        return;
    }
    let y = y as u32;
    let digit = |n: u32| b'0' + (n % 10) as u8;
    out.extend_from_slice(&[
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Date32Array, Decimal128Array, Decimal64Array, Float64Array, Int64Array};

    /// The text of every cell of `array` ("NULL" for nulls).
    fn texts(array: ArrayRef) -> Vec<String> {
        let options = FormatOptions::new();
        let cells = ColumnText::new(&array, &options).unwrap();
        (0..array.len())
            .map(|row| match cells.is_null(row) {
                true => "NULL".to_string(),
                false => {
                    let mut out = vec![];
                    cells.write(row, &mut out).unwrap();
                    String::from_utf8(out).unwrap()
                }
            })
            .collect()
    }

    /// The text arrow's own display gives.
    fn arrow_texts(array: ArrayRef) -> Vec<String> {
        let options = FormatOptions::new().with_null("NULL");
        let f = ArrayFormatter::try_new(array.as_ref(), &options).unwrap();
        (0..array.len()).map(|i| f.value(i).to_string()).collect()
    }

    #[test]
    fn fast_paths_write_what_arrow_displays() {
        let decimals = [
            Some(0),
            Some(5),
            Some(-5),
            Some(-50),
            Some(12345),
            Some(-12345),
            Some(i128::from(i64::MAX)),
            Some(i128::from(i64::MIN)),
            None,
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![
                Some(0),
                Some(-1),
                Some(i64::MIN),
                None,
            ])),
            Arc::new(Float64Array::from(vec![
                0.1,
                -0.0,
                1e20,
                1e-7,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1.0,
                123456789.125,
            ])),
            Arc::new(
                Decimal128Array::from(decimals.to_vec())
                    .with_precision_and_scale(38, 4)
                    .unwrap(),
            ),
            Arc::new(
                // The widest values of precision 38 (arrow 59 prints values beyond a type's
                // precision cut to it; no decimal qjit makes is).
                Decimal128Array::from(vec![
                    Some(10i128.pow(38) - 1),
                    Some(1 - 10i128.pow(38)),
                    Some(-7),
                ])
                .with_precision_and_scale(38, 0)
                .unwrap(),
            ),
            Arc::new(
                Decimal64Array::from(vec![Some(1), Some(-99), Some(100), None])
                    .with_precision_and_scale(18, 2)
                    .unwrap(),
            ),
            Arc::new(Date32Array::from(vec![
                Some(0),
                Some(-719528),
                Some(2932896),
            ])),
        ];
        for array in arrays {
            assert_eq!(texts(array.clone()), arrow_texts(array));
        }
    }

    #[test]
    fn timestamps_print_as_postgresql_prints_them() {
        use arrow::array::{
            TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
            TimestampSecondArray,
        };
        let micros: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_711_852_200_123_456),
            Some(1_711_852_200_100_000),
            Some(0),
            Some(-1),
            None,
        ]));
        assert_eq!(
            texts(micros),
            [
                "2024-03-31 02:30:00.123456",
                "2024-03-31 02:30:00.1",
                "1970-01-01 00:00:00",
                "1969-12-31 23:59:59.999999",
                "NULL"
            ]
        );
        let seconds: ArrayRef = Arc::new(TimestampSecondArray::from(vec![86_399, i64::MAX]));
        let text = texts(seconds);
        assert_eq!(text[0], "1970-01-01 23:59:59");
        assert!(
            text[1].starts_with("292277026596-12-04 15:30:07"),
            "{}",
            text[1]
        );
        // A zoned value prints in the zone its type names (the result writer labels every
        // zoned column with the session zone): UTC as `+00`.
        let millis: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![1_500]).with_timezone("Europe/Berlin"));
        assert_eq!(texts(millis), ["1970-01-01 01:00:01.5+01"]);
        let utc: ArrayRef =
            Arc::new(TimestampMillisecondArray::from(vec![1_500]).with_timezone("+00:00"));
        assert_eq!(texts(utc), ["1970-01-01 00:00:01.5+00"]);
        let nanos: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![1, i64::MIN]));
        assert_eq!(
            texts(nanos),
            [
                "1970-01-01 00:00:00.000000001",
                "1677-09-21 00:12:43.145224192"
            ]
        );
    }

    #[test]
    fn bytes_print_as_hex_and_nested_values_as_json() {
        use arrow::array::{BinaryArray, FixedSizeBinaryArray, ListArray, StructArray};
        use arrow::datatypes::{Field, Int32Type};
        let binary: ArrayRef = Arc::new(BinaryArray::from_opt_vec(vec![
            Some(b"\x00\xffA"),
            Some(b""),
            None,
        ]));
        assert_eq!(texts(binary), ["\\x00ff41", "\\x", "NULL"]);
        let fixed: ArrayRef =
            Arc::new(FixedSizeBinaryArray::try_from_iter(vec![vec![1u8, 2]].into_iter()).unwrap());
        assert_eq!(texts(fixed), ["\\x0102"]);
        let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(-3)]),
            Some(vec![]),
            None,
        ]));
        assert_eq!(texts(lists.clone()), ["[1,null,-3]", "[]", "NULL"]);
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("a\"b"), None, Some("é")]));
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, 0.5, -0.0]));
        let structs: ArrayRef = Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("name", DataType::Utf8, true)), names),
            (Arc::new(Field::new("x", DataType::Float64, false)), floats),
            (
                Arc::new(Field::new("l", lists.data_type().clone(), true)),
                lists,
            ),
        ]));
        assert_eq!(
            texts(structs),
            [
                r#"{"name":"a\"b","x":"NaN","l":[1,null,-3]}"#,
                r#"{"name":null,"x":0.5,"l":[]}"#,
                r#"{"name":"é","x":-0.0,"l":null}"#,
            ]
        );
    }

    #[test]
    fn dates_outside_four_digit_years_keep_their_sign() {
        let array: ArrayRef = Arc::new(Date32Array::from(vec![i32::MIN, i32::MAX, -719529]));
        let expected: Vec<String> = [i32::MIN, i32::MAX, -719529].map(format_date).to_vec();
        assert_eq!(texts(array), expected);
        assert_eq!(format_date(-719529), "-1-12-31");
    }
}
