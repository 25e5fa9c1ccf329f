//! The scalar functions, defined in one place.
//!
//! Each [`Func`] says here, and only here: the SQL names that call it, how many arguments it
//! takes, the argument types a call is coerced to, its result type (PostgreSQL's, unless the
//! table says otherwise), whether it can fail, and whether it builds a string. The binder
//! (`crate::sql`), the type check ([`Expr::func`](super::Expr::func)), the analysis of what can
//! fail (`interp::fallible`) and the messages of both engines read it. The implementations are
//! the interpreter's `interp::funcs` (strings in `interp::strings`) and the code generator's
//! `codegen::lower` (`Lowerer::func`), one arm per function in each.
//!
//! Adding a function: a variant and its rows in the `match`es below, its arm in the interpreter
//! and the code generator, and a `.slt` file in `tests/sql/`.
//!
//! | function | SQL | arguments | result | fails |
//! |---|---|---|---|---|
//! | `Abs` | `ABS(x)` | number | same | `ABS(INT_MIN)` overflows |
//! | `Round { digits }` | `ROUND(x[, d])` | number | integer, float: same; decimal: [`round_result`] | decimals; integers for `d < 0` |
//! | `Sign` | `SIGN(x)` | float; decimal; integer as `DOUBLE` | float: same, `-1`, `0` or `1` (NaN: `0`, as PostgreSQL's C comparison gives); decimal: `DECIMAL(1,0)` | never |
//! | `Floor`, `Ceil` | `FLOOR(x)`, `CEIL(x)`/`CEILING(x)` | float; decimal; integer as `DOUBLE` | float: same; `DECIMAL(p,s)`: `DECIMAL(min(p-s+1, 38), 0)` | never |
//! | `Trim { leading, trailing }` | `TRIM([BOTH \| LEADING \| TRAILING] [chars FROM] s)`, `TRIM(s, chars)`, `BTRIM`, `LTRIM`, `RTRIM(s[, chars])` | `VARCHAR, VARCHAR` (the characters to remove; default a space) | `VARCHAR` | never |
//! | `StrPos` | `STRPOS(s, sub)`, `POSITION(sub IN s)` | `VARCHAR, VARCHAR` | `INTEGER`: the first occurrence's position in characters from 1, 0 if none | never |
//! | `Sqrt`, `Ln`, `Exp` | `SQRT(x)`, `LN(x)`, `EXP(x)` | `DOUBLE` (any number is taken as one) | `DOUBLE` | see [`Func::domain_errors`] |
//! | `Power` | `POWER(x, y)`, `POW` | `DOUBLE, DOUBLE` | `DOUBLE` | see [`Func::domain_errors`] |
//! | `Replace` | `REPLACE(s, from, to)` | `VARCHAR` ×3 | `VARCHAR`: every `from` replaced (an empty `from` changes nothing) | never |
//! | `Pad { left }` | `LPAD(s, n[, fill])`, `RPAD` | `VARCHAR, INTEGER, VARCHAR` (fill: a space by default) | `VARCHAR` of `n` characters: filled on that side, or cut | `n` past 2^28 |
//! | `Length` | `LENGTH(s)`, `CHAR_LENGTH`, `CHARACTER_LENGTH` | `VARCHAR` | `INTEGER` (characters) | never |
//! | `Upper`, `Lower` | `UPPER(s)`, `LOWER(s)` | `VARCHAR` | `VARCHAR` (Unicode case mapping) | never |
//! | `Substring` | `SUBSTRING(s FROM i [FOR n])`, `SUBSTR` | `VARCHAR, BIGINT[, BIGINT]` | `VARCHAR` (1-based, in characters) | a negative length |
//! | `Extract(part)` | `EXTRACT(part FROM d)`, `DATE_PART('part', d)`: `YEAR`, `MONTH`, `DAY`, `QUARTER`, `DOW` (Sunday 0), `DOY`, `WEEK` (ISO 8601); of a timestamp also `HOUR`, `MINUTE`, `SECOND`, `MILLISECOND`, `MICROSECOND`, `EPOCH` | `DATE` or `TIMESTAMP` (a `DATE` is cast to one for the time parts) | `INTEGER`; the fractional parts as [`DatePart::timestamp_result`] | the `YEAR` of a timestamp of seconds or milliseconds past ±2^31 years |
//! | `DateTrunc(field)` | `DATE_TRUNC('field', ts)` | `TIMESTAMP` (a `DATE` is cast to one) | the same type | before the unit's range |
//! | `AddInterval(iv)` | `ts ± INTERVAL '…'` | `TIMESTAMP` (the binder picks a unit that holds the interval exactly) | the same type | leaving the range |
//! | `Format(style)` | `TO_CHAR(ts, 'pattern')` (PostgreSQL's patterns), `STRFTIME(ts, '%…')` | `TIMESTAMP` (a `DATE` is cast to one), a constant `VARCHAR` | `VARCHAR` ([`crate::ir::time::format_pattern`]) | never (a bad `STRFTIME` format is an error when the query is bound) |
//! | `ToLocal(zone)`, `FromLocal(zone)` | casts between `TIMESTAMPTZ` and `TIMESTAMP` (and what goes through them: dates, fields, truncation, calendar arithmetic) when the session zone is not UTC | `TIMESTAMPTZ` / `TIMESTAMP` | the other, same unit ([`crate::ir::time::Zone`]; gaps and overlaps as PostgreSQL) | leaving the range |
//! | `ZonedText(zone)`, `ParseZoned(zone, unit)` | `CAST` of a `TIMESTAMPTZ` to and from `VARCHAR` when the session zone is not UTC | | local time and offset | text that is not a timestamp |
//! | `TimestampDiff` | `ts - ts` | two timestamps of one type | `INTERVAL` (days and time, PostgreSQL's `timestamp_mi`) | days past an `INTEGER` |
//! | `DateAddDays` | `date ± INTERVAL 'n' DAY` | `DATE, INTEGER` | `DATE` | leaving the `DATE` range |
//! | `DateAddMonths` | `date ± INTERVAL 'n' MONTH` | `DATE, INTEGER` | `DATE` (day clamped to the month's end) | never in range |
//! | `DateDiffDays` | `date - date` | `DATE, DATE` | `INTEGER` (days) | overflow |
//!
//! PostgreSQL resolves `SIGN`, `FLOOR` and `CEIL` of an integer to their `double precision`
//! forms, and so does qjit. `SQRT`, `LN`, `EXP` and `POWER` always compute in `DOUBLE` (where
//! PostgreSQL has `numeric` forms for decimals), and follow qjit's float rules: overflow gives
//! infinity and underflow zero rather than PostgreSQL's `value out of range` errors; the domain
//! errors are PostgreSQL's.

use super::expr::{round_result, DatePart};
use super::scalar::Interval;
use super::time::{FormatStyle, TruncField, Zone};
use super::types::SqlType;

/// A scalar function (see the module's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum Func {
    Abs,
    Round {
        digits: i32,
    },
    Length,
    Upper,
    Lower,
    Substring,
    Extract(DatePart),
    DateAddDays,
    DateAddMonths,
    DateDiffDays,
    /// `DATE_TRUNC('field', ts)`.
    DateTrunc(TruncField),
    /// `ts + interval` with a constant interval (the one argument is the timestamp).
    AddInterval(Interval),
    /// `ts - ts`.
    TimestampDiff,
    /// `TO_CHAR(ts, pattern)`, `STRFTIME(ts, format)`.
    Format(FormatStyle),
    /// [`Func::Format`] of a `TIMESTAMP WITH TIME ZONE` in a session zone other than UTC: its
    /// local time there, and the zone's abbreviation and offset for `TZ`, `OF`, `%Z`, `%z`.
    FormatIn(FormatStyle, Zone),
    /// `DATE_TRUNC` of a `TIMESTAMP WITH TIME ZONE` to an hour or less in a session zone other
    /// than UTC: the local time truncated, with the value's own offset kept (PostgreSQL looks
    /// the offset up again only for a day and coarser, [`Func::FromLocal`]).
    DateTruncIn(TruncField, Zone),
    /// A `TIMESTAMP WITH TIME ZONE` as the wall-clock `TIMESTAMP` of the session zone.
    ToLocal(Zone),
    /// A wall-clock `TIMESTAMP` of the session zone as the instant it is there.
    FromLocal(Zone),
    /// `CAST(tstz AS VARCHAR)` in a session zone other than UTC: the local time and offset.
    ZonedText(Zone),
    /// `CAST(text AS TIMESTAMPTZ)` in a session zone other than UTC: text without an offset is
    /// a local time there.
    ParseZoned(Zone, super::types::TimeUnit),
    Sign,
    Floor,
    Ceil,
    /// `TRIM`: the string without the leading and/or trailing characters that are in the set.
    Trim {
        leading: bool,
        trailing: bool,
    },
    /// `STRPOS(s, sub)`, `POSITION(sub IN s)`.
    StrPos,
    Sqrt,
    Ln,
    Exp,
    Power,
    /// `REPLACE(s, from, to)`.
    Replace,
    /// `LPAD(s, n[, fill])` (`left`) or `RPAD`.
    Pad {
        left: bool,
    },
}

/// Every SQL name the binder calls a function by, aggregates and `COALESCE`/`NULLIF` included:
/// the candidates for "did you mean" and the list in messages.
pub const SQL_NAMES: &[&str] = &[
    "abs",
    "avg",
    "btrim",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "coalesce",
    "concat",
    "count",
    "current_date",
    "current_timestamp",
    "date_part",
    "date_trunc",
    "ends_with",
    "exp",
    "floor",
    "greatest",
    "least",
    "left",
    "length",
    "ln",
    "localtimestamp",
    "lower",
    "lpad",
    "ltrim",
    "max",
    "min",
    "mod",
    "now",
    "nullif",
    "position",
    "pow",
    "power",
    "replace",
    "right",
    "round",
    "rpad",
    "rtrim",
    "sign",
    "sqrt",
    "statement_timestamp",
    "starts_with",
    "strftime",
    "strpos",
    "substr",
    "substring",
    "sum",
    "transaction_timestamp",
    "to_char",
    "trim",
    "upper",
];

impl Func {
    /// The function a plain call `name(args…)` binds to, for the functions whose arguments need
    /// nothing but [`Func::params`] (`ROUND`, `SUBSTRING` and the syntax forms bind their own).
    pub fn called(name: &str) -> Option<Func> {
        Some(match name {
            "abs" => Func::Abs,
            "length" | "char_length" | "character_length" => Func::Length,
            "upper" => Func::Upper,
            "lower" => Func::Lower,
            "sign" => Func::Sign,
            "floor" => Func::Floor,
            "ceil" | "ceiling" => Func::Ceil,
            "strpos" => Func::StrPos,
            "sqrt" => Func::Sqrt,
            "ln" => Func::Ln,
            "exp" => Func::Exp,
            "power" | "pow" => Func::Power,
            "replace" => Func::Replace,
            "lpad" => Func::Pad { left: true },
            "rpad" => Func::Pad { left: false },
            "btrim" => Func::Trim {
                leading: true,
                trailing: true,
            },
            "ltrim" => Func::Trim {
                leading: true,
                trailing: false,
            },
            "rtrim" => Func::Trim {
                leading: false,
                trailing: true,
            },
            _ => return None,
        })
    }

    /// The name messages print: `ABS`, `EXTRACT(YEAR)`, `date + INTERVAL … DAY`.
    pub fn name(self) -> String {
        match self {
            Func::Abs => "ABS".into(),
            Func::Round { .. } => "ROUND".into(),
            Func::Length => "LENGTH".into(),
            Func::Upper => "UPPER".into(),
            Func::Lower => "LOWER".into(),
            Func::Substring => "SUBSTRING".into(),
            Func::Extract(part) => format!("EXTRACT({})", part.sql_name()),
            Func::DateAddDays => "date + INTERVAL … DAY".into(),
            Func::DateAddMonths => "date + INTERVAL … MONTH".into(),
            Func::DateDiffDays => "date - date".into(),
            Func::DateTrunc(field) => format!("DATE_TRUNC('{}')", field.sql_name()),
            Func::AddInterval(_) => "timestamp + INTERVAL".into(),
            Func::TimestampDiff => "timestamp - timestamp".into(),
            Func::Format(FormatStyle::ToChar) => "TO_CHAR".into(),
            Func::Format(FormatStyle::Strftime) => "STRFTIME".into(),
            Func::FormatIn(FormatStyle::ToChar, _) => "TO_CHAR".into(),
            Func::FormatIn(FormatStyle::Strftime, _) => "STRFTIME".into(),
            Func::ToLocal(z) => format!("local time in {z}"),
            Func::DateTruncIn(field, z) => format!("DATE_TRUNC('{}') in {z}", field.sql_name()),
            Func::FromLocal(z) => format!("instant of a local time in {z}"),
            Func::ZonedText(z) => format!("text in {z}"),
            Func::ParseZoned(z, _) => format!("a timestamp read in {z}"),
            Func::Sign => "SIGN".into(),
            Func::Floor => "FLOOR".into(),
            Func::Ceil => "CEIL".into(),
            Func::StrPos => "STRPOS".into(),
            Func::Sqrt => "SQRT".into(),
            Func::Ln => "LN".into(),
            Func::Exp => "EXP".into(),
            Func::Power => "POWER".into(),
            Func::Replace => "REPLACE".into(),
            Func::Pad { left: true } => "LPAD".into(),
            Func::Pad { left: false } => "RPAD".into(),
            Func::Trim { leading, trailing } => match (leading, trailing) {
                (true, false) => "LTRIM".into(),
                (false, true) => "RTRIM".into(),
                _ => "TRIM".into(),
            },
        }
    }

    /// How many arguments a call takes, at least and at most.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Abs
            | Func::Round { .. }
            | Func::Length
            | Func::Upper
            | Func::Lower
            | Func::Extract(_)
            | Func::DateTrunc(_)
            | Func::AddInterval(_)
            | Func::ToLocal(_)
            | Func::FromLocal(_)
            | Func::ZonedText(_)
            | Func::ParseZoned(..)
            | Func::DateTruncIn(..)
            | Func::Sign
            | Func::Floor
            | Func::Ceil => (1, 1),
            Func::Substring => (2, 3),
            Func::Trim { .. } => (1, 2),
            Func::StrPos | Func::Power => (2, 2),
            Func::Sqrt | Func::Ln | Func::Exp => (1, 1),
            Func::Replace => (3, 3),
            Func::Pad { .. } => (2, 3),
            Func::DateAddDays | Func::DateAddMonths | Func::DateDiffDays => (2, 2),
            Func::TimestampDiff | Func::Format(_) | Func::FormatIn(..) => (2, 2),
        }
    }

    /// The types a call's arguments are coerced to, given their types (`NULL` for an untyped
    /// NULL); `None` if the function takes no such arguments.
    pub fn params(self, args: &[SqlType]) -> Option<Vec<SqlType>> {
        use SqlType::*;
        let number_or_double = |t: SqlType| match t {
            t if t.is_float() || t.is_decimal() => Some(t),
            t if t.is_integer() => Some(Float64),
            Null => Some(Float64),
            _ => None,
        };
        Some(match (self, args) {
            (Func::Abs | Func::Round { .. }, [t]) if t.is_numeric() => vec![*t],
            (Func::Abs | Func::Round { .. }, [Null]) => vec![Int32],
            (Func::Length | Func::Upper | Func::Lower, [_]) => vec![Utf8],
            (Func::Trim { .. } | Func::StrPos, [_, _]) => vec![Utf8, Utf8],
            (Func::Replace, [_, _, _]) => vec![Utf8, Utf8, Utf8],
            (Func::Pad { .. }, [_, n, _]) if n.is_integer() || *n == Null => {
                vec![Utf8, Int32, Utf8]
            }
            (Func::Sqrt | Func::Ln | Func::Exp | Func::Power, args)
                if args.iter().all(|t| t.is_numeric() || *t == Null) =>
            {
                vec![Float64; args.len()]
            }
            (Func::Sign | Func::Floor | Func::Ceil, [t]) => vec![number_or_double(*t)?],
            (Func::Substring, [_, _]) => vec![Utf8, Int64],
            (Func::Substring, [_, _, _]) => vec![Utf8, Int64, Int64],
            (Func::Extract(_), [t @ Timestamp { .. }]) => vec![*t],
            (Func::Extract(part), [_]) if part.is_time() => vec![SqlType::timestamp()],
            (Func::Extract(_), [_]) => vec![Date],
            (Func::DateTrunc(_) | Func::AddInterval(_), [t @ Timestamp { .. }]) => vec![*t],
            (Func::DateTrunc(_), [Date | Null]) => vec![SqlType::timestamp()],
            (Func::TimestampDiff, [a @ Timestamp { .. }, b]) if a == b => vec![*a, *b],
            (Func::Format(_), [t @ Timestamp { .. }, _]) => vec![*t, Utf8],
            (Func::FormatIn(..), [t @ Timestamp { zoned: true, .. }, _]) => vec![*t, Utf8],
            (Func::Format(_), [Date | Null, _]) => vec![SqlType::timestamp(), Utf8],
            (
                Func::ToLocal(_) | Func::ZonedText(_) | Func::DateTruncIn(..),
                [t @ Timestamp { zoned: true, .. }],
            ) => {
                vec![*t]
            }
            (Func::FromLocal(_), [t @ Timestamp { zoned: false, .. }]) => vec![*t],
            (Func::ParseZoned(..), [_]) => vec![Utf8],
            (Func::DateAddDays | Func::DateAddMonths, [_, _]) => vec![Date, Int32],
            (Func::DateDiffDays, [_, _]) => vec![Date, Date],
            _ => return None,
        })
    }

    /// The result type of a call whose arguments have types `args` (after coercion); `None` if
    /// the function does not take them.
    pub fn result_type(self, args: &[SqlType]) -> Option<SqlType> {
        use SqlType::*;
        Some(match (self, args) {
            (Func::Abs, [t]) if t.is_numeric() => *t,
            (Func::Round { digits }, [t]) if t.is_numeric() => round_result(*t, digits),
            (Func::Length, [Utf8]) => Int32,
            (Func::Upper | Func::Lower, [Utf8]) => Utf8,
            (Func::Trim { .. }, [Utf8, Utf8]) => Utf8,
            (Func::StrPos, [Utf8, Utf8]) => Int32,
            (Func::Replace, [Utf8, Utf8, Utf8]) => Utf8,
            (Func::Pad { .. }, [Utf8, Int32, Utf8]) => Utf8,
            (Func::Sqrt | Func::Ln | Func::Exp, [Float64]) => Float64,
            (Func::Power, [Float64, Float64]) => Float64,
            (Func::Substring, [Utf8, Int64]) | (Func::Substring, [Utf8, Int64, Int64]) => Utf8,
            (Func::Extract(part), [Date]) if !part.is_time() => Int32,
            (Func::Extract(part), [Timestamp { unit, .. }]) => part.timestamp_result(*unit),
            (Func::DateTrunc(_) | Func::AddInterval(_), [t @ Timestamp { .. }]) => *t,
            (Func::TimestampDiff, [a @ Timestamp { .. }, b]) if a == b => SqlType::Interval,
            (Func::Format(_), [Timestamp { .. }, Utf8]) => Utf8,
            (Func::FormatIn(..), [Timestamp { zoned: true, .. }, Utf8]) => Utf8,
            (Func::ToLocal(_), [Timestamp { unit, zoned: true }]) => Timestamp {
                unit: *unit,
                zoned: false,
            },
            (Func::FromLocal(_), [Timestamp { unit, zoned: false }]) => Timestamp {
                unit: *unit,
                zoned: true,
            },
            (Func::ZonedText(_), [Timestamp { zoned: true, .. }]) => Utf8,
            (Func::DateTruncIn(..), [t @ Timestamp { zoned: true, .. }]) => *t,
            (Func::ParseZoned(_, unit), [Utf8]) => Timestamp { unit, zoned: true },
            (Func::DateAddDays | Func::DateAddMonths, [Date, Int32]) => Date,
            (Func::DateDiffDays, [Date, Date]) => Int32,
            (Func::Sign | Func::Floor | Func::Ceil, [t]) if t.is_float() => *t,
            (Func::Sign, [Decimal { .. }]) => SqlType::decimal(1, 0),
            (Func::Floor | Func::Ceil, [Decimal { precision, scale }]) => {
                // `decimal` caps the precision at 38.
                SqlType::decimal(u32::from(precision - scale) + 1, 0)
            }
            _ => return None,
        })
    }

    /// Whether a call with arguments of types `args` can fail for some row (conservative).
    pub fn can_fail(self, args: &[SqlType]) -> bool {
        let arg = args.first().copied().unwrap_or(SqlType::Null);
        match self {
            Func::Abs => arg.is_signed_integer(),
            // The year of a timestamp of seconds or milliseconds may pass an INTEGER.
            Func::Extract(DatePart::Year) => matches!(
                arg,
                SqlType::Timestamp {
                    unit: super::types::TimeUnit::Second | super::types::TimeUnit::Millisecond,
                    ..
                }
            ),
            Func::Round { digits } => arg.is_decimal() || (arg.is_integer() && digits < 0),
            Func::Length
            | Func::Upper
            | Func::Lower
            | Func::Extract(_)
            | Func::Format(_)
            | Func::FormatIn(..)
            | Func::Sign
            | Func::Floor
            | Func::Ceil
            | Func::Trim { .. }
            | Func::StrPos
            | Func::Exp
            | Func::Replace => false,
            // A length past `scalar::MAX_PAD_CHARS`.
            Func::Pad { .. } => true,
            Func::Sqrt | Func::Ln | Func::Power => true,
            Func::Substring | Func::DateAddDays | Func::DateAddMonths | Func::DateDiffDays => true,
            Func::DateTrunc(_) | Func::AddInterval(_) => true,
            // Days past an interval's INTEGER, between timestamps of seconds or milliseconds.
            Func::TimestampDiff => true,
            Func::ToLocal(_) | Func::FromLocal(_) | Func::ParseZoned(..) => true,
            Func::DateTruncIn(..) => true,
            Func::ZonedText(_) => false,
        }
    }

    /// The errors of a `DOUBLE` function's arguments outside its domain (PostgreSQL's messages),
    /// in the order both engines check them over a batch: the first kind any row has is the
    /// error. `SQRT(x)`: `x < 0`. `LN(x)`: `x = 0`, then `x < 0`. `POWER(x, y)`: `x = 0` and
    /// `y < 0`, then `x < 0` and `y` is a number that is not an integer.
    pub fn domain_errors(self) -> &'static [&'static str] {
        match self {
            Func::Sqrt => &["cannot take square root of a negative number"],
            Func::Ln => &[
                "cannot take logarithm of zero",
                "cannot take logarithm of a negative number",
            ],
            Func::Power => &[
                "zero raised to a negative power is undefined",
                "a negative number raised to a non-integer power yields a complex result",
            ],
            _ => &[],
        }
    }

    /// Whether the function builds a new string (the code generator gives it scratch memory).
    pub fn builds_string(self) -> bool {
        matches!(
            self,
            Func::Upper
                | Func::Lower
                | Func::Substring
                | Func::Replace
                | Func::Pad { .. }
                | Func::Format(_)
                | Func::FormatIn(..)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_plain_name_is_listed_and_binds_with_its_arity() {
        for name in SQL_NAMES {
            if let Some(f) = Func::called(name) {
                let (lo, hi) = f.arity();
                assert!(lo <= hi, "{name}");
                // Calls with fewer arguments get the rest as defaults from the binder.
                let args = vec![SqlType::Null; hi];
                let params = f
                    .params(&args)
                    .unwrap_or_else(|| panic!("{name}: no params"));
                assert!(f.result_type(&params).is_some(), "{name}: {params:?}");
            }
        }
    }

    #[test]
    fn rounding_functions_keep_decimals_and_take_integers_as_doubles() {
        let d = SqlType::decimal(15, 2);
        assert_eq!(Func::Floor.result_type(&[d]), Some(SqlType::decimal(14, 0)));
        assert_eq!(
            Func::Ceil.result_type(&[SqlType::decimal(38, 0)]),
            Some(SqlType::decimal(38, 0))
        );
        assert_eq!(Func::Sign.result_type(&[d]), Some(SqlType::decimal(1, 0)));
        assert_eq!(
            Func::Floor.params(&[SqlType::Int32]),
            Some(vec![SqlType::Float64])
        );
        assert_eq!(Func::Sign.params(&[SqlType::Utf8]), None);
    }
}
