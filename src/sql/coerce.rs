//! Type coercion: which common type two operands meet at, and the explicit casts that get them
//! there. Evaluators never coerce; after this pass every operand has the type its node expects.
//!
//! Rules (PostgreSQL's, extended to unsigned integers):
//!
//! * the same type meets itself; `NULL` meets anything;
//! * integers meet at the wider type; signed meets unsigned at the smallest signed type holding
//!   both (`UINTEGER` with `INTEGER` → `BIGINT`; `UBIGINT` with a signed type → `DECIMAL(20,0)`);
//! * an integer meets a decimal as the decimal that holds the integer type exactly
//!   (`INTEGER` → `DECIMAL(10,0)`), and decimals meet at enough integer digits and scale for both
//!   (or at `DOUBLE` when that would take more than 38 digits);
//! * anything meets a float at `DOUBLE` (`REAL` with `REAL` stays `REAL`);
//! * a string *literal* takes the other side's type (`l_shipdate < '1995-01-01'`); a string
//!   column does not.

use crate::error::{Error, Result};
use crate::ir::{Expr, Func, SqlType};

use super::fold::fold;

/// The type two values meet at for comparison, `IN`, `CASE` and `COALESCE`, if any.
pub fn common_type(a: SqlType, b: SqlType) -> Option<SqlType> {
    use SqlType::*;
    if a.is_other() || b.is_other() {
        // Values qjit passes through meet nothing, themselves included.
        return None;
    }
    if a == b {
        return Some(a);
    }
    match (a, b) {
        (Null, t) | (t, Null) => Some(t),
        // Timestamps meet in the finer unit, zoned if either is (the session zone is UTC); a
        // date is its midnight.
        (
            Timestamp {
                unit: u1,
                zoned: z1,
            },
            Timestamp {
                unit: u2,
                zoned: z2,
            },
        ) => Some(Timestamp {
            unit: u1.max(u2),
            zoned: z1 || z2,
        }),
        (Date, t @ Timestamp { .. }) | (t @ Timestamp { .. }, Date) => Some(t),
        (x, y) if x.is_integer() && y.is_integer() => Some(common_integer(x, y)),
        (x, y) if x.is_float() || y.is_float() => {
            (x.is_numeric() && y.is_numeric()).then_some(Float64)
        }
        (x, y) if x.is_numeric() && y.is_numeric() => {
            let (p1, s1) = x.as_decimal()?.decimal_parts()?;
            let (p2, s2) = y.as_decimal()?.decimal_parts()?;
            let scale = s1.max(s2) as u32;
            let int_digits = (p1 - s1).max(p2 - s2) as u32;
            if int_digits + scale > crate::ir::MAX_DECIMAL_PRECISION as u32 {
                // No 38-digit decimal holds both sides exactly.
                return Some(Float64);
            }
            Some(SqlType::decimal(int_digits + scale, scale))
        }
        _ => None,
    }
}

/// The common type of two integer types.
fn common_integer(a: SqlType, b: SqlType) -> SqlType {
    use SqlType::*;
    let bits = |t: SqlType| t.integer_bits().unwrap_or(64);
    let signed_of = |bits: u32| match bits {
        8 => Int8,
        16 => Int16,
        32 => Int32,
        _ => Int64,
    };
    let unsigned_of = |bits: u32| match bits {
        8 => UInt8,
        16 => UInt16,
        32 => UInt32,
        _ => UInt64,
    };
    match (a.is_signed_integer(), b.is_signed_integer()) {
        (true, true) => signed_of(bits(a).max(bits(b))),
        (false, false) => unsigned_of(bits(a).max(bits(b))),
        _ => {
            let (s, u) = if a.is_signed_integer() {
                (a, b)
            } else {
                (b, a)
            };
            if bits(u) == 64 {
                SqlType::decimal(20, 0)
            } else {
                signed_of(bits(s).max(bits(u) * 2))
            }
        }
    }
}

/// Whether `e` is a string literal (which adapts to the type of the other operand).
pub fn is_string_literal(e: &Expr) -> bool {
    matches!(e, Expr::Literal(l) if l.ty == SqlType::Utf8)
}

/// The type two operands meet at, letting a string literal take the other side's type, and a
/// timestamp literal the other side's coarser timestamp type where its value is exact there (so
/// that `ts_seconds >= TIMESTAMP '…'` compares the column as it is, and statistics prune it).
pub fn common_type_of(a: &Expr, b: &Expr) -> Option<SqlType> {
    let (ta, tb) = (a.ty(), b.ty());
    for (lit, other) in [(a, tb), (b, ta)] {
        if let (
            Expr::Literal(crate::ir::Literal {
                value: crate::ir::Scalar::Timestamp(v),
                ty: SqlType::Timestamp { unit, zoned },
            }),
            SqlType::Timestamp {
                unit: to,
                zoned: other_zoned,
            },
        ) = (lit, other)
        {
            // Zoned and wall-clock values meet as zoned ones (the session zone converts).
            if *zoned == other_zoned
                && to <= *unit
                && v % (unit.per_second() / to.per_second()) == 0
            {
                return Some(other);
            }
        }
    }
    if ta != tb {
        if is_string_literal(a) && tb != SqlType::Null {
            return Some(tb);
        }
        if is_string_literal(b) && ta != SqlType::Null {
            return Some(ta);
        }
    }
    common_type(ta, tb)
}

/// The common type of several expressions (for `IN`, `CASE`, `COALESCE`).
pub fn common_type_all<'a>(exprs: impl IntoIterator<Item = &'a Expr>) -> Option<SqlType> {
    let exprs: Vec<&Expr> = exprs.into_iter().collect();
    // Non-literal strings and typed values decide first; string literals then adapt.
    let mut ty = SqlType::Null;
    for e in exprs.iter().filter(|e| !is_string_literal(e)) {
        ty = common_type(ty, e.ty())?;
    }
    if ty == SqlType::Null && exprs.iter().any(|e| is_string_literal(e)) {
        ty = SqlType::Utf8;
    }
    Some(ty)
}

/// Casts `e` to `ty`. A literal is converted right away, so a bad literal (`DATE 'x'`,
/// `l_shipdate < 'soon'`) is reported at planning time rather than per row.
pub fn coerce(e: Expr, ty: SqlType) -> Result<Expr> {
    if e.ty() == ty {
        return Ok(e);
    }
    let was_literal = matches!(e, Expr::Literal(_));
    let cast = convert(e, ty)?;
    if was_literal {
        let folded = fold(cast)?;
        if !matches!(folded, Expr::Literal(_)) {
            // Folding left the cast in place only because it fails: report it now, as an error
            // in the query text (the caller attaches the position).
            let why = super::fold::evaluate_constant(&folded)
                .err()
                .unwrap_or_else(|| Error::internal("literal cast neither folded nor failed"));
            return Err(match why {
                Error::InvalidCast { .. } | Error::Overflow { .. } => {
                    Error::type_error(why.to_string())
                }
                other => other,
            });
        }
        return Ok(folded);
    }
    Ok(cast)
}

/// `e` converted to `ty`: a cast, or where the conversion depends on the session time zone
/// (between `TIMESTAMP WITH TIME ZONE` and wall-clock time: `TIMESTAMP`, `DATE`, text) and
/// that zone is not UTC, the zone's functions ([`Func::ToLocal`] and its kin) around the casts
/// that do not.
fn convert(e: Expr, ty: SqlType) -> Result<Expr> {
    use SqlType::{Date, Timestamp, Utf8};
    let zone = super::session_zone();
    let plain = |e: Expr, ty: SqlType| {
        if e.ty() == ty {
            Ok(e)
        } else {
            Expr::cast(e, ty)
        }
    };
    if zone.is_utc() {
        return Expr::cast(e, ty);
    }
    match (e.ty(), ty) {
        (Timestamp { zoned: true, .. }, Timestamp { zoned: false, .. }) => {
            plain(Expr::func(Func::ToLocal(zone), vec![e])?, ty)
        }
        (Timestamp { zoned: false, .. }, Timestamp { unit, zoned: true }) => Expr::func(
            Func::FromLocal(zone),
            vec![plain(e, Timestamp { unit, zoned: false })?],
        ),
        (Timestamp { zoned: true, .. }, Date) => {
            plain(Expr::func(Func::ToLocal(zone), vec![e])?, Date)
        }
        (Date, Timestamp { unit, zoned: true }) => Expr::func(
            Func::FromLocal(zone),
            vec![plain(e, Timestamp { unit, zoned: false })?],
        ),
        (Timestamp { zoned: true, .. }, Utf8) => Expr::func(Func::ZonedText(zone), vec![e]),
        (Utf8, Timestamp { unit, zoned: true }) => {
            Expr::func(Func::ParseZoned(zone, unit), vec![e])
        }
        _ => Expr::cast(e, ty),
    }
}

/// `e` as wall-clock time in the session zone, where it is a `TIMESTAMP WITH TIME ZONE` and the
/// zone is not UTC (its fields, truncation and calendar arithmetic are the local time's).
pub fn local_time(e: Expr) -> Result<Expr> {
    let zone = super::session_zone();
    match e.ty() {
        SqlType::Timestamp { zoned: true, .. } if !zone.is_utc() => {
            Expr::func(Func::ToLocal(zone), vec![e])
        }
        _ => Ok(e),
    }
}

/// The instant of `e`, wall-clock time in the session zone, if `zoned` and the zone is not UTC
/// (the inverse of [`local_time`]).
pub fn instant(e: Expr, zoned: bool) -> Result<Expr> {
    let zone = super::session_zone();
    match e.ty() {
        SqlType::Timestamp { zoned: false, .. } if zoned && !zone.is_utc() => {
            Expr::func(Func::FromLocal(zone), vec![e])
        }
        _ => Ok(e),
    }
}

/// The type of an arithmetic operation's operands, if the types allow one.
///
/// Integers meet as for comparison; a float makes both `DOUBLE` (or `REAL`); decimals and
/// integers keep their own precision (each integer becomes its exact decimal), since decimal
/// arithmetic accepts operands of different precision and scale.
pub fn arithmetic_types(a: SqlType, b: SqlType) -> Option<(SqlType, SqlType)> {
    use SqlType::*;
    let num = |t: SqlType| t.is_numeric() || t == Null;
    if !num(a) || !num(b) {
        return None;
    }
    match (a, b) {
        (Null, Null) => Some((Int32, Int32)),
        (Null, t) | (t, Null) => Some((t, t)),
        (x, y) if x.is_float() || y.is_float() => {
            let t = if x == Float32 && y == Float32 {
                Float32
            } else {
                Float64
            };
            Some((t, t))
        }
        (x, y) if x.is_integer() && y.is_integer() => {
            let t = common_integer(x, y);
            Some((t, t))
        }
        (x, y) => Some((x.as_decimal()?, y.as_decimal()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SqlType::*;

    #[test]
    fn integers_meet_at_the_wider_type() {
        assert_eq!(common_type(Int32, Int64), Some(Int64));
        assert_eq!(common_type(UInt8, Int8), Some(Int16));
        assert_eq!(common_type(UInt32, Int32), Some(Int64));
        assert_eq!(common_type(UInt64, Int8), Some(SqlType::decimal(20, 0)));
        assert_eq!(common_type(UInt16, UInt64), Some(UInt64));
    }

    #[test]
    fn decimals_keep_digits_on_both_sides() {
        assert_eq!(
            common_type(SqlType::decimal(15, 2), Int32),
            Some(SqlType::decimal(15, 2))
        );
        assert_eq!(
            common_type(SqlType::decimal(15, 2), SqlType::decimal(5, 4)),
            Some(SqlType::decimal(17, 4))
        );
        assert_eq!(common_type(SqlType::decimal(15, 2), Float32), Some(Float64));
        assert_eq!(
            common_type(SqlType::decimal(38, 0), SqlType::decimal(15, 2)),
            Some(Float64)
        );
    }

    #[test]
    fn unrelated_types_do_not_meet() {
        assert_eq!(common_type(Date, Int32), None);
        assert_eq!(common_type(Utf8, Int32), None);
        assert_eq!(common_type(Boolean, Int32), None);
    }
}
