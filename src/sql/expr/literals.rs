//! Literals and types: constants, numbers, `INTERVAL` values, and SQL type names.

use sqlparser::ast::{self, DateTimeField, UnaryOperator, Value};

use crate::error::{Error, Result};
use crate::ir::{scalar, Expr, Interval, Scalar, SqlType, TimeUnit};
use crate::sql::fold::fold;

use super::{pos, ExprBinder, Scope};

impl ExprBinder<'_> {
    /// A constant string operand (a LIKE pattern, an ESCAPE character); `None` for NULL.
    pub(super) fn constant_string(
        &self,
        e: &ast::Expr,
        scope: &mut Scope,
        d: usize,
        what: &str,
    ) -> Result<Option<String>> {
        let bound = fold(self.bind_expr(e, scope, d)?)?;
        match bound {
            Expr::Literal(l) => match l.value {
                Scalar::Utf8(s) => Ok(Some(s)),
                Scalar::Null => Ok(None),
                _ => Err(Error::Type {
                    message: format!("{what} must be a string, not {}", l.ty),
                    position: pos(e),
                }),
            },
            _ => Err(Error::Unsupported {
                what: format!("{what} that is not a constant"),
                position: pos(e),
            }),
        }
    }

    /// A literal value.
    pub(super) fn literal(&self, value: &Value) -> Result<Expr> {
        match value {
            Value::Number(text, _) => number_literal(text),
            Value::SingleQuotedString(s)
            | Value::EscapedStringLiteral(s)
            | Value::NationalStringLiteral(s) => {
                Expr::literal(Scalar::Utf8(s.clone()), SqlType::Utf8)
            }
            Value::Boolean(b) => Ok(Expr::boolean(*b)),
            Value::Null => Ok(Expr::null(SqlType::Null)),
            other => Err(Error::unsupported(format!("the literal {other}"))),
        }
    }
}

/// Whether a LIKE pattern ends with an escape character that escapes nothing.
pub(super) fn ends_with_escape(pattern: &str, escape: Option<char>) -> bool {
    let Some(esc) = escape else {
        return false;
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == esc && chars.next().is_none() {
            return true;
        }
    }
    false
}

/// The type of a numeric literal: `INTEGER` if it fits, else `BIGINT`, else an exact decimal with
/// as many digits as it has.
pub fn number_literal(text: &str) -> Result<Expr> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain_integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if plain_integer {
        if let Ok(v) = text.parse::<i64>() {
            let ty = if i32::try_from(v).is_ok() {
                SqlType::Int32
            } else {
                SqlType::Int64
            };
            return Expr::literal(Scalar::Int(v), ty);
        }
    }
    let Some((v, scale)) = scalar::parse_decimal(text) else {
        // Too many digits for DECIMAL(38): a DOUBLE if it is a finite one (`1e308`).
        return match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Expr::literal(Scalar::Float(f), SqlType::Float64),
            _ => Err(Error::Type {
                message: format!("the number {text} is out of range"),
                position: None,
            }),
        };
    };
    let digits = v.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    Expr::literal(
        Scalar::Decimal(v),
        SqlType::decimal(digits.max(scale as u32).max(1), scale as u32),
    )
}

/// `TIMESTAMP[(p)] [WITH TIME ZONE]` for a value `arg`.
fn timestamp_type(p: Option<u64>, zoned: bool, arg: &Expr) -> Result<SqlType> {
    let unit = match (p, arg.ty()) {
        (Some(p), _) if p <= 9 => TimeUnit::for_digits(p),
        (Some(p), _) => {
            return Err(Error::type_error(format!(
                "TIMESTAMP({p}): the precision must be 0 to 9"
            )))
        }
        (None, SqlType::Timestamp { unit, .. }) => unit,
        (None, _) => TimeUnit::Microsecond,
    };
    Ok(SqlType::Timestamp { unit, zoned })
}

/// The SQL type a `CAST` target or typed literal names, for a value `arg`.
///
/// `DECIMAL`/`NUMERIC` without precision has no fixed scale in PostgreSQL; here it becomes a
/// 38-digit decimal with the value's own scale: a decimal keeps its scale, an integer has scale
/// 0, a string literal the scale it is written with, and anything else scale 10.
pub fn sql_type(dt: &ast::DataType, arg: &Expr) -> Result<SqlType> {
    use ast::DataType as D;
    use ast::ExactNumberInfo as N;
    Ok(match dt {
        D::Boolean | D::Bool => SqlType::Boolean,
        D::TinyInt(_) => SqlType::Int8,
        D::SmallInt(_) | D::Int2(_) | D::Int16 => SqlType::Int16,
        D::Int(_) | D::Integer(_) | D::Int4(_) | D::Int32 => SqlType::Int32,
        D::BigInt(_) | D::Int8(_) | D::Int64 => SqlType::Int64,
        D::UTinyInt | D::TinyIntUnsigned(_) | D::UInt8 => SqlType::UInt8,
        D::USmallInt | D::SmallIntUnsigned(_) | D::UInt16 => SqlType::UInt16,
        D::IntUnsigned(_) | D::IntegerUnsigned(_) | D::UInt32 => SqlType::UInt32,
        D::UBigInt | D::BigIntUnsigned(_) | D::UInt64 => SqlType::UInt64,
        D::Real | D::Float4 | D::Float32 => SqlType::Float32,
        D::Double(_) | D::DoublePrecision | D::Float8 | D::Float64 | D::Float(_) => {
            SqlType::Float64
        }
        D::Decimal(info) | D::Numeric(info) | D::Dec(info) => match info {
            N::None => match arg {
                Expr::Literal(crate::ir::Literal {
                    value: Scalar::Utf8(text),
                    ..
                }) => {
                    let scale = scalar::parse_decimal(text).map_or(10, |(_, s)| s as u32);
                    SqlType::decimal(38, scale)
                }
                _ => match arg.ty() {
                    SqlType::Decimal { scale, .. } => SqlType::decimal(38, scale as u32),
                    t if t.is_integer() => t.as_decimal().unwrap_or(SqlType::decimal(38, 0)),
                    _ => SqlType::decimal(38, 10),
                },
            },
            N::Precision(p) if (1..=38).contains(p) => SqlType::decimal(*p as u32, 0),
            N::PrecisionAndScale(p, s) if (1..=38).contains(p) && *s >= 0 && (*s as u64) <= *p => {
                SqlType::decimal(*p as u32, *s as u32)
            }
            _ => {
                return Err(Error::type_error(format!(
                    "{dt}: precision must be 1 to 38 and the scale 0 to the precision"
                )))
            }
        },
        D::Date => SqlType::Date,
        // `TIMESTAMP(p)` holds `p` digits after the point (0, 3, 6, 9: seconds to
        // nanoseconds); without `p`, a timestamp keeps its unit and anything else becomes
        // microseconds, PostgreSQL's.
        D::Timestamp(p, tz) => {
            let zoned = matches!(tz, ast::TimezoneInfo::WithTimeZone | ast::TimezoneInfo::Tz);
            timestamp_type(*p, zoned, arg)?
        }
        D::TimestampNtz(p) | D::Datetime(p) => timestamp_type(*p, false, arg)?,
        D::Varchar(_)
        | D::Text
        | D::String(_)
        | D::CharacterVarying(_)
        | D::Char(_)
        | D::Character(_) => SqlType::Utf8,
        D::Custom(name, modifiers) if modifiers.is_empty() => {
            match name.to_string().to_lowercase().as_str() {
                "utinyint" => SqlType::UInt8,
                "usmallint" => SqlType::UInt16,
                "uinteger" | "uint" => SqlType::UInt32,
                "ubigint" => SqlType::UInt64,
                "timestamptz" => timestamp_type(None, true, arg)?,
                "timestamp_s" => timestamp_type(Some(0), false, arg)?,
                "timestamp_ms" => timestamp_type(Some(3), false, arg)?,
                "timestamp_ns" => timestamp_type(Some(9), false, arg)?,
                _ => return Err(Error::unsupported(format!("the type {dt}"))),
            }
        }
        other => return Err(Error::unsupported(format!("the type {other}"))),
    })
}

/// The value of an `INTERVAL` literal: `INTERVAL 'n' UNIT`, or PostgreSQL's text of amounts
/// and units (`'1 year 2 months'`, `'3 days 04:05:06.5'`, `'-90 minutes'`, `'1.5 seconds'`).
///
/// Units: `microsecond(s)`/`us`, `millisecond(s)`/`ms`, `second(s)`/`sec(s)`/`s`,
/// `minute(s)`/`min(s)`/`m`, `hour(s)`/`hr(s)`/`h`, `day(s)`/`d`, `week(s)`/`w`,
/// `month(s)`/`mon(s)`, `year(s)`/`y`, `decade(s)`, `century`/`centuries`,
/// `millennium`/`millennia`. Amounts of a day or more are whole numbers; smaller ones may have a
/// fraction (kept to the nanosecond). A `HH:MM[:SS[.f]]` part adds a time.
pub(super) fn interval_value(interval: &ast::Interval) -> Result<Interval> {
    let text = match interval.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::Number(s, _) => s.clone(),
            other => return Err(Error::unsupported(format!("the interval value {other}"))),
        },
        ast::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                Value::Number(s, _) => format!("-{s}"),
                _ => return Err(Error::unsupported("a non-constant INTERVAL")),
            },
            _ => return Err(Error::unsupported("a non-constant INTERVAL")),
        },
        _ => return Err(Error::unsupported("a non-constant INTERVAL")),
    };
    if interval.last_field.is_some() || interval.fractional_seconds_precision.is_some() {
        return Err(Error::unsupported("INTERVAL … TO … ranges"));
    }
    let leading = match &interval.leading_field {
        None => None,
        Some(field) => Some(match field {
            DateTimeField::Microsecond | DateTimeField::Microseconds => "microsecond",
            DateTimeField::Millisecond | DateTimeField::Milliseconds => "millisecond",
            DateTimeField::Second | DateTimeField::Seconds => "second",
            DateTimeField::Minute | DateTimeField::Minutes => "minute",
            DateTimeField::Hour | DateTimeField::Hours => "hour",
            DateTimeField::Day | DateTimeField::Days => "day",
            DateTimeField::Week(_) | DateTimeField::Weeks => "week",
            DateTimeField::Month | DateTimeField::Months => "month",
            DateTimeField::Year | DateTimeField::Years => "year",
            DateTimeField::Decade => "decade",
            DateTimeField::Century => "century",
            DateTimeField::Millennium => "millennium",
            other => {
                return Err(Error::unsupported(format!(
                    "INTERVAL unit {other} (MICROSECOND to MILLENNIUM are supported)"
                )))
            }
        }),
    };
    let bad = |why: &str| Error::Type {
        message: format!("INTERVAL '{text}': {why}"),
        position: None,
    };
    let overflow = || Error::overflow("INTERVAL", text.clone());
    let mut iv = Interval::default();
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Err(bad(
            "needs an amount and a unit, such as '3 days' or '1 hour'",
        ));
    }
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        if word.contains(':') {
            let nanos =
                clock_nanos(word).ok_or_else(|| bad("a time is written HH:MM[:SS[.fraction]]"))?;
            iv.nanos = iv.nanos.checked_add(nanos).ok_or_else(overflow)?;
            i += 1;
            continue;
        }
        let unit = match (words.get(i + 1), leading) {
            (Some(u), None) => {
                i += 1;
                unit_name(&u.to_lowercase()).ok_or_else(|| {
                    bad(&format!(
                        "unknown unit {u} (MICROSECOND to MILLENNIUM are supported)"
                    ))
                })?
            }
            (None, Some(u)) if words.len() == 1 => u,
            (Some(_), Some(_)) => return Err(bad("gives its unit twice")),
            _ => return Err(bad("needs a unit, such as DAY, HOUR or MONTH")),
        };
        i += 1;
        add_amount(&mut iv, word, unit).map_err(|e| match e {
            AmountError::NotWhole => bad(&format!("needs a whole number of {unit}s")),
            AmountError::NotANumber => bad(&format!("{word} is not a number")),
            AmountError::Overflow => overflow(),
        })?;
    }
    Ok(iv)
}

/// The unit a word of an interval's text names.
fn unit_name(word: &str) -> Option<&'static str> {
    Some(match word {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" => "microsecond",
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => "millisecond",
        "second" | "seconds" | "sec" | "secs" | "s" => "second",
        "minute" | "minutes" | "min" | "mins" | "m" => "minute",
        "hour" | "hours" | "hr" | "hrs" | "h" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mon" | "mons" => "month",
        "year" | "years" | "y" | "yr" | "yrs" => "year",
        "decade" | "decades" => "decade",
        "century" | "centuries" => "century",
        "millennium" | "millennia" | "millenniums" => "millennium",
        _ => return None,
    })
}

enum AmountError {
    NotWhole,
    NotANumber,
    Overflow,
}

/// Adds `amount` of `unit` to `iv`.
fn add_amount(iv: &mut Interval, amount: &str, unit: &str) -> std::result::Result<(), AmountError> {
    let nanos_per: i64 = match unit {
        "microsecond" => 1_000,
        "millisecond" => 1_000_000,
        "second" => 1_000_000_000,
        "minute" => 60_000_000_000,
        "hour" => 3_600_000_000_000,
        _ => 0,
    };
    if nanos_per > 0 {
        // An exact decimal amount, kept to the nanosecond (rounded half away from zero).
        let (v, scale) = scalar::parse_decimal(amount).ok_or(AmountError::NotANumber)?;
        let n = v
            .checked_mul(i128::from(nanos_per))
            .ok_or(AmountError::Overflow)?;
        let n = scalar::div_pow10_round(n, u32::from(scale));
        let n = i64::try_from(n).map_err(|_| AmountError::Overflow)?;
        iv.nanos = iv.nanos.checked_add(n).ok_or(AmountError::Overflow)?;
        return Ok(());
    }
    let n: i32 = match amount.parse() {
        Ok(n) => n,
        Err(_) if scalar::parse_decimal(amount).is_some() => {
            return Err(if amount.contains('.') {
                AmountError::NotWhole
            } else {
                AmountError::Overflow
            })
        }
        Err(_) => return Err(AmountError::NotANumber),
    };
    let (months, days) = match unit {
        "day" => (0, n),
        "week" => (0, n.checked_mul(7).ok_or(AmountError::Overflow)?),
        "month" => (n, 0),
        "year" => (n.checked_mul(12).ok_or(AmountError::Overflow)?, 0),
        "decade" => (n.checked_mul(120).ok_or(AmountError::Overflow)?, 0),
        "century" => (n.checked_mul(1200).ok_or(AmountError::Overflow)?, 0),
        _ => (n.checked_mul(12_000).ok_or(AmountError::Overflow)?, 0),
    };
    iv.months = iv.months.checked_add(months).ok_or(AmountError::Overflow)?;
    iv.days = iv.days.checked_add(days).ok_or(AmountError::Overflow)?;
    Ok(())
}

/// The nanoseconds of `[-]H:MM[:SS[.f]]`.
fn clock_nanos(word: &str) -> Option<i64> {
    let (negative, body) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word.strip_prefix('+').unwrap_or(word)),
    };
    let mut parts = body.split(':');
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let (h, m) = (parts.next()?, parts.next()?);
    if !digits(h) || !digits(m) {
        return None;
    }
    let h: i64 = h.parse().ok()?;
    let m: i64 = m.parse().ok()?;
    let s = parts.next().unwrap_or("0");
    if parts.next().is_some() || m > 59 || !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (sv, scale) = scalar::parse_decimal(s).filter(|(v, _)| *v >= 0)?;
    let s_nanos = i64::try_from(scalar::div_pow10_round(
        sv.checked_mul(1_000_000_000)?,
        u32::from(scale),
    ))
    .ok()?;
    if s_nanos >= 60_000_000_000 {
        return None;
    }
    let n = h
        .checked_mul(3_600_000_000_000)?
        .checked_add(m * 60_000_000_000)?
        .checked_add(s_nanos)?;
    Some(if negative { -n } else { n })
}
