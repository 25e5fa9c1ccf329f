//! Literals and types: constants, numbers, `INTERVAL` values, and SQL type names.

use sqlparser::ast::{self, DateTimeField, UnaryOperator, Value};

use crate::error::{Error, Result};
use crate::ir::{scalar, Expr, Scalar, SqlType};
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
                _ => return Err(Error::unsupported(format!("the type {dt}"))),
            }
        }
        other => return Err(Error::unsupported(format!("the type {other}"))),
    })
}

/// The `(months, days)` of an `INTERVAL 'n' UNIT` or `INTERVAL 'n unit'` literal.
pub(super) fn interval_value(interval: &ast::Interval) -> Result<(i32, i32)> {
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
    let mut words = text.split_whitespace();
    let amount = words.next().unwrap_or("");
    let unit_word = words.next().map(str::to_lowercase);
    if words.next().is_some() {
        return Err(Error::unsupported(format!(
            "the INTERVAL '{text}' (one amount and unit)"
        )));
    }
    let n: i32 = amount.parse().map_err(|_| Error::Type {
        message: format!("INTERVAL '{text}' needs a whole number of days, months or years"),
        position: None,
    })?;
    let unit = match (&interval.leading_field, unit_word.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(Error::type_error(format!(
                "INTERVAL '{text}' gives its unit twice"
            )))
        }
        (Some(DateTimeField::Day | DateTimeField::Days), None) | (None, Some("day" | "days")) => {
            "day"
        }
        (Some(DateTimeField::Week(_) | DateTimeField::Weeks), None)
        | (None, Some("week" | "weeks")) => "week",
        (Some(DateTimeField::Month | DateTimeField::Months), None)
        | (None, Some("month" | "months" | "mon" | "mons")) => "month",
        (Some(DateTimeField::Year | DateTimeField::Years), None)
        | (None, Some("year" | "years")) => "year",
        (None, None) => {
            return Err(Error::type_error(format!(
                "INTERVAL '{text}' needs a unit: DAY, MONTH or YEAR"
            )))
        }
        (f, w) => {
            return Err(Error::unsupported(format!(
                "INTERVAL unit {} (DAY, WEEK, MONTH and YEAR are supported)",
                f.as_ref()
                    .map(|f| f.to_string())
                    .or(w.map(str::to_string))
                    .unwrap_or_default()
            )))
        }
    };
    let overflow = || Error::overflow("INTERVAL", text.clone());
    Ok(match unit {
        "day" => (0, n),
        "week" => (0, n.checked_mul(7).ok_or_else(overflow)?),
        "month" => (n, 0),
        _ => (n.checked_mul(12).ok_or_else(overflow)?, 0),
    })
}
