//! Timestamps and intervals: the [`Func`]s on them, their casts, and interval comparisons, as
//! `ir::time` defines them.
//!
//! In: arrays of Arrow `Timestamp(unit, tz)` (read as their `i64` values) and
//! `Interval(MonthDayNano)`. Out: arrays of the result type as [`SqlType::to_arrow`] gives it (a
//! zoned timestamp is labelled `UTC`). Failures (leaving the range) are raised for valid rows
//! only, with the value in the message.

use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayRef, AsArray, Decimal128Array, Int32Array, Int64Array, PrimitiveArray,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{
    DataType, Date32Type, Int32Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType,
};

use super::eval;
use super::input::Input;
use super::kernel::{binary_try, downcast, Operand};
use super::strings::{build_strings, StrArray};
use crate::error::{Error, Result};
use crate::ir::scalar::format_date;
use crate::ir::time::{self, interval_span};
use crate::ir::{Expr, Func, Interval, SqlType, TimeUnit};

/// The same buffers under another Arrow type of the same width (a timestamp as `Int64` and
/// back, another zone label).
pub(crate) fn retype(array: &ArrayRef, data_type: &DataType) -> Result<ArrayRef> {
    if array.data_type() == data_type {
        return Ok(array.clone());
    }
    let data = array
        .to_data()
        .into_builder()
        .data_type(data_type.clone())
        .build()?;
    Ok(make_array(data))
}

/// The `i64` values of a timestamp array.
fn values(array: &ArrayRef) -> Result<Int64Array> {
    Ok(retype(array, &DataType::Int64)?
        .as_primitive::<Int64Type>()
        .clone())
}

/// A timestamp operand as `i64`s (a literal stays a constant).
fn operand(e: &Expr, input: &Input) -> Result<Operand<Int64Type>> {
    match e {
        Expr::Literal(l) => Ok(match l.value {
            crate::ir::Scalar::Timestamp(v) => Operand::Const(v),
            _ => Operand::Null,
        }),
        _ => Ok(Operand::Array(values(&eval(e, input)?)?)),
    }
}

fn unit_of(ty: SqlType) -> Result<TimeUnit> {
    ty.time_unit()
        .ok_or_else(|| Error::internal(format!("a timestamp function on {ty}")))
}

/// `i64` results as an array of timestamp type `ty`.
fn timestamps(out: PrimitiveArray<Int64Type>, ty: SqlType) -> Result<ArrayRef> {
    retype(&(Arc::new(out) as ArrayRef), &ty.to_arrow())
}

fn overflow(ty: SqlType, what: String) -> Error {
    Error::overflow(ty, what)
}

/// Applies `op` to every valid value of the timestamp array `a`; NULL stays NULL.
fn map_valid<O: arrow::datatypes::ArrowPrimitiveType>(
    a: &Int64Array,
    op: impl Fn(i64) -> Result<O::Native>,
) -> Result<PrimitiveArray<O>> {
    let mut out = vec![O::Native::default(); a.len()];
    match a.nulls() {
        Some(n) => {
            for i in n.valid_indices() {
                out[i] = op(a.value(i))?;
            }
        }
        None => {
            for (i, v) in out.iter_mut().enumerate() {
                *v = op(a.value(i))?;
            }
        }
    }
    Ok(PrimitiveArray::new(
        ScalarBuffer::from(out),
        a.nulls().cloned(),
    ))
}

/// `func(args)` for the timestamp functions: `EXTRACT` of a timestamp, `DATE_TRUNC`,
/// `AddInterval`, `TimestampDiff`.
pub(crate) fn func(func: Func, args: &[Expr], ty: SqlType, input: &Input) -> Result<ArrayRef> {
    match (func, args) {
        (Func::Extract(part), [x]) => {
            let unit = unit_of(x.ty())?;
            let a = values(&eval(x, input)?)?;
            if ty.is_decimal() {
                let (p, s) = ty.decimal_parts().unwrap_or((38, 0));
                let out = map_valid::<arrow::datatypes::Decimal128Type>(&a, |v| {
                    Ok(time::part(part, v, unit))
                })?;
                return Ok(Arc::new(out.with_precision_and_scale(p, s as i8)?));
            }
            // Every integer part fits an INTEGER but the year of a timestamp of seconds or
            // milliseconds past ±2^31 years.
            let out: Int32Array = map_valid::<Int32Type>(&a, |v| {
                i32::try_from(time::part(part, v, unit)).map_err(|_| {
                    overflow(
                        SqlType::Int32,
                        format!(
                            "EXTRACT({} FROM '{}')",
                            part.sql_name(),
                            time::to_text(v, unit, false)
                        ),
                    )
                })
            })?;
            Ok(Arc::new(out))
        }
        (Func::DateTrunc(field), [x]) => {
            let unit = unit_of(x.ty())?;
            let a = values(&eval(x, input)?)?;
            let out = map_valid::<Int64Type>(&a, |v| {
                time::trunc(field, v, unit).ok_or_else(|| {
                    overflow(
                        ty,
                        format!(
                            "DATE_TRUNC('{}', '{}')",
                            field.sql_name(),
                            time::to_text(v, unit, false)
                        ),
                    )
                })
            })?;
            timestamps(out, ty)
        }
        (Func::AddInterval(iv), [x]) => {
            let unit = unit_of(x.ty())?;
            let a = values(&eval(x, input)?)?;
            let out = map_valid::<Int64Type>(&a, |v| {
                time::add_interval(v, unit, iv).ok_or_else(|| {
                    overflow(
                        ty,
                        format!(
                            "'{}' + INTERVAL '{}'",
                            time::to_text(v, unit, false),
                            time::interval_text(iv)
                        ),
                    )
                })
            })?;
            timestamps(out, ty)
        }
        (Func::TimestampDiff, [x, y]) => {
            let unit = unit_of(x.ty())?;
            let (l, r) = (operand(x, input)?, operand(y, input)?);
            let out: PrimitiveArray<IntervalMonthDayNanoType> =
                binary_try(&l, &r, input.num_rows(), |a, b| {
                    let iv = time::diff(a, b, unit).ok_or_else(|| {
                        overflow(
                            SqlType::Interval,
                            format!(
                                "'{}' - '{}'",
                                time::to_text(a, unit, false),
                                time::to_text(b, unit, false)
                            ),
                        )
                    })?;
                    Ok(IntervalMonthDayNano::new(iv.months, iv.days, iv.nanos))
                })?;
            Ok(Arc::new(out))
        }
        (Func::ToLocal(zone) | Func::FromLocal(zone), [x]) => {
            let unit = unit_of(x.ty())?;
            let a = values(&eval(x, input)?)?;
            let to_local = matches!(func, Func::ToLocal(_));
            let out = map_valid::<Int64Type>(&a, |v| {
                let r = if to_local {
                    zone.to_local(v, unit)
                } else {
                    zone.from_local(v, unit)
                };
                r.ok_or_else(|| {
                    overflow(
                        ty,
                        format!("'{}' in {zone}", time::to_text(v, unit, !to_local)),
                    )
                })
            })?;
            timestamps(out, ty)
        }
        (Func::DateTruncIn(field, zone), [x]) => {
            let unit = unit_of(x.ty())?;
            let n = field
                .units(unit)
                .ok_or_else(|| Error::internal("DATE_TRUNC in a zone of a calendar field"))?;
            let a = values(&eval(x, input)?)?;
            let out = map_valid::<Int64Type>(&a, |v| {
                zone.to_local(v, unit)
                    .and_then(|local| v.checked_sub(local.rem_euclid(n)))
                    .ok_or_else(|| {
                        overflow(
                            ty,
                            format!(
                                "DATE_TRUNC('{}', '{}')",
                                field.sql_name(),
                                time::to_text(v, unit, true)
                            ),
                        )
                    })
            })?;
            timestamps(out, ty)
        }
        (Func::ZonedText(zone), [x]) => {
            let unit = unit_of(x.ty())?;
            let a = values(&eval(x, input)?)?;
            Ok(Arc::new(build_strings(a.len(), a.len() * 32, |i, buf| {
                if a.is_null(i) {
                    return Ok(false);
                }
                time::format_zoned(buf, a.value(i), unit, zone);
                Ok(true)
            })?))
        }
        (Func::ParseZoned(zone, unit), [text]) => {
            let values = eval(text, input)?;
            let s = StrArray::new(values.as_ref())?;
            let mut out = vec![0i64; s.len()];
            for (i, v) in out.iter_mut().enumerate() {
                if let Some(t) = s.get(i) {
                    *v = time::parse_in(t, unit, zone).ok_or_else(|| Error::InvalidCast {
                        value: t.to_string(),
                        ty: ty.to_string(),
                    })?;
                }
            }
            timestamps(
                PrimitiveArray::new(ScalarBuffer::from(out), s.nulls().cloned()),
                ty,
            )
        }
        (Func::Format(style) | Func::FormatIn(style, _), [x, pattern]) => {
            let unit = unit_of(x.ty())?;
            let zoned = matches!(x.ty(), SqlType::Timestamp { zoned: true, .. });
            // A zoned value's fields and zone are the session zone's (UTC unless `FormatIn`).
            let zone = match func {
                Func::FormatIn(_, zone) => Some(zone),
                _ => zoned.then_some(time::Zone::Utc),
            };
            let pattern = match pattern {
                Expr::Literal(l) => match &l.value {
                    crate::ir::Scalar::Utf8(p) => Some(p.as_str()),
                    _ => None,
                },
                _ => {
                    return Err(Error::internal(format!(
                        "{} with a format that is not a constant",
                        func.name()
                    )))
                }
            };
            let a = values(&eval(x, input)?)?;
            let Some(pattern) = pattern else {
                return Ok(arrow::array::new_null_array(&DataType::Utf8, a.len()));
            };
            let out = build_strings(a.len(), a.len() * (pattern.len() + 8), |i, buf| {
                if a.is_null(i) {
                    return Ok(false);
                }
                time::format_pattern(buf, a.value(i), unit, zone, pattern, style)
                    .map_err(Error::internal)?;
                Ok(true)
            })?;
            Ok(Arc::new(out))
        }
        _ => Err(Error::internal(format!(
            "{} is not a timestamp function of {:?}",
            func.name(),
            args.iter().map(Expr::ty).collect::<Vec<_>>()
        ))),
    }
}

/// `CAST` between `DATE` and timestamps and between timestamps; `None` for other casts.
pub(crate) fn cast(values_in: &ArrayRef, from: SqlType, to: SqlType) -> Result<Option<ArrayRef>> {
    Ok(Some(match (from, to) {
        (SqlType::Date, SqlType::Timestamp { unit, .. }) => {
            let a = downcast::<Date32Type>(values_in)?;
            let out = map_valid_date(a, |d| {
                time::from_days(i64::from(d), unit)
                    .ok_or_else(|| overflow(to, format!("CAST(DATE '{}' AS {to})", format_date(d))))
            })?;
            timestamps(out, to)?
        }
        (SqlType::Timestamp { unit, zoned }, SqlType::Date) => {
            let a = values(values_in)?;
            let out = map_valid::<Date32Type>(&a, |v| {
                i32::try_from(time::to_days(v, unit)).map_err(|_| {
                    overflow(
                        to,
                        format!("CAST('{}' AS DATE)", time::to_text(v, unit, zoned)),
                    )
                })
            })?;
            Arc::new(out)
        }
        (SqlType::Timestamp { unit: u1, zoned }, SqlType::Timestamp { unit: u2, .. }) => {
            let a = values(values_in)?;
            let out = map_valid::<Int64Type>(&a, |v| {
                time::rescale(v, u1, u2).ok_or_else(|| {
                    overflow(
                        to,
                        format!("CAST('{}' AS {to})", time::to_text(v, u1, zoned)),
                    )
                })
            })?;
            timestamps(out, to)?
        }
        (SqlType::Timestamp { unit, zoned }, SqlType::Utf8) => {
            let a = values(values_in)?;
            Arc::new(build_strings(a.len(), a.len() * 26, |i, buf| {
                if a.is_valid(i) {
                    time::format(buf, a.value(i), unit, zoned);
                    Ok(true)
                } else {
                    Ok(false)
                }
            })?)
        }
        (SqlType::Interval, SqlType::Utf8) => {
            let a = values_in.as_primitive::<IntervalMonthDayNanoType>();
            Arc::new(build_strings(a.len(), a.len() * 16, |i, buf| {
                if a.is_valid(i) {
                    time::format_interval(buf, interval_of(a.value(i)));
                    Ok(true)
                } else {
                    Ok(false)
                }
            })?)
        }
        _ => return Ok(None),
    }))
}

/// Parses text as a timestamp of type `to`.
pub(crate) fn parse(s: &StrArray<'_>, to: SqlType) -> Result<ArrayRef> {
    let unit = unit_of(to)?;
    let zoned = matches!(to, SqlType::Timestamp { zoned: true, .. });
    let mut out = vec![0i64; s.len()];
    for (i, v) in out.iter_mut().enumerate() {
        if let Some(text) = s.get(i) {
            *v = time::parse(text, unit, zoned).ok_or_else(|| Error::InvalidCast {
                value: text.to_string(),
                ty: to.to_string(),
            })?;
        }
    }
    timestamps(
        PrimitiveArray::new(ScalarBuffer::from(out), s.nulls().cloned()),
        to,
    )
}

fn map_valid_date(
    a: &PrimitiveArray<Date32Type>,
    op: impl Fn(i32) -> Result<i64>,
) -> Result<Int64Array> {
    let mut out = vec![0i64; a.len()];
    for (i, v) in out.iter_mut().enumerate() {
        if a.is_valid(i) {
            *v = op(a.value(i))?;
        }
    }
    Ok(PrimitiveArray::new(
        ScalarBuffer::from(out),
        a.nulls().cloned(),
    ))
}

/// The qjit value of an Arrow interval.
pub(crate) fn interval_of(v: IntervalMonthDayNano) -> Interval {
    Interval {
        months: v.months,
        days: v.days,
        nanos: v.nanoseconds,
    }
}

/// Interval values as their spans ([`interval_span`]), to compare as `DECIMAL(38,0)`.
pub(crate) fn spans(array: &ArrayRef) -> Result<ArrayRef> {
    let a = array
        .as_primitive_opt::<IntervalMonthDayNanoType>()
        .ok_or_else(|| Error::internal(format!("interval spans of {}", array.data_type())))?;
    let v: Vec<i128> = a
        .values()
        .iter()
        .map(|x| interval_span(interval_of(*x)))
        .collect();
    Ok(Arc::new(
        Decimal128Array::new(ScalarBuffer::from(v), a.nulls().cloned())
            .with_precision_and_scale(38, 0)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::TimestampSecondArray;

    #[test]
    fn retype_keeps_values_and_nulls() {
        let a: ArrayRef = Arc::new(
            TimestampSecondArray::from(vec![Some(1), None]).with_timezone("Europe/Berlin"),
        );
        let utc = retype(
            &a,
            &SqlType::Timestamp {
                unit: TimeUnit::Second,
                zoned: true,
            }
            .to_arrow(),
        )
        .unwrap();
        assert_eq!(utc.null_count(), 1);
        assert_eq!(values(&utc).unwrap().value(0), 1);
    }
}
