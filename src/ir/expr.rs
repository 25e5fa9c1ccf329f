//! Typed scalar expressions.
//!
//! An [`Expr`] is produced by the binder (`crate::sql`) and consumed by the evaluators
//! (`crate::interp`, and the JIT). Every node has a [`SqlType`] that was computed when it was built.
//! Nodes **must** be built through the constructors on [`Expr`] (`Expr::binary`, `Expr::cast`, …):
//! they check that the operand types are the ones the node accepts and compute the result type.
//! The binder's coercion pass inserts explicit casts first, so evaluators never coerce: an operand
//! of an unexpected type in an evaluator is an internal error.
//!
//! ## Operand rules (after coercion)
//!
//! | node | operands | result |
//! |---|---|---|
//! | `+ - * / %` | two integers of the same type | that type; overflow is an error |
//! | `+ - * / %` | two floats of the same type | that type |
//! | `+ - * / %` | two decimals (any precision/scale) | see [`decimal_result`] |
//! | `= <> < <= > >=` | two values of the same type (decimals: same precision and scale) | `BOOLEAN` |
//! | `AND OR NOT` | `BOOLEAN` | `BOOLEAN`, Kleene logic |
//! | `\|\|` | two `VARCHAR` | `VARCHAR` |
//! | unary `-` | a number | same type |
//!
//! Float arithmetic is IEEE 754: overflow gives ±infinity and `0 * inf` NaN; only division and
//! modulo by zero are errors.
//! Floats compare as in PostgreSQL: `-0.0 = 0.0`, and NaN equals NaN and is greater than every
//! other value (in comparisons, `IN`, grouping, `DISTINCT` and sorting alike).
//! Integer `/` truncates toward zero, `%` takes the sign of the dividend; division or modulo by
//! zero is an error for every numeric type. An operation on a NULL operand yields NULL and never
//! fails. Errors in a row whose value is not needed are not raised: a `CASE` branch that is not
//! taken, the right side of `AND` where the left is FALSE, the right side of `OR` where the left is
//! TRUE, and rows that `WHERE` removed.

use std::fmt;

use super::func::Func;
use super::scalar::{format_decimal, Scalar};
use super::types::{SqlType, MAX_DECIMAL_PRECISION};
use crate::error::{Error, Result};
use arrow::datatypes::DataType;

/// A reference to an input column.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub struct ColumnRef {
    /// Index of the column in the batch the expression is evaluated over.
    pub index: usize,
    /// The column's name, for display.
    pub name: String,
    /// The SQL type.
    pub ty: SqlType,
    /// The physical Arrow type of the column (for strings: which layout).
    pub data_type: DataType,
    pub nullable: bool,
}

/// A typed constant. `value` is one of the variants [`Scalar`] documents for `ty`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub struct Literal {
    pub value: Scalar,
    pub ty: SqlType,
}

impl Literal {
    /// A literal, checked to be a valid value of `ty`.
    pub fn new(value: Scalar, ty: SqlType) -> Result<Literal> {
        if !value.fits(ty) {
            return Err(Error::internal(format!("literal {value} is not a {ty}")));
        }
        Ok(Literal { value, ty })
    }

    /// The NULL of a type.
    pub fn null(ty: SqlType) -> Literal {
        Literal {
            value: Scalar::Null,
            ty,
        }
    }
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum UnaryOp {
    /// Arithmetic negation (checked for integers).
    Neg,
    /// Boolean NOT (NULL stays NULL).
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// Integer `+` that wraps around on overflow (two's complement), as DataFusion's default
    /// arithmetic does. qjit's binder never makes it (qjit's SQL fails on overflow); the
    /// DataFusion translation does. Written `+%` (Zig's notation).
    WrappingAdd,
    /// Integer `-` that wraps around on overflow, written `-%` (see [`BinaryOp::WrappingAdd`]).
    WrappingSub,
    /// Integer `*` that wraps around on overflow, written `*%` (see [`BinaryOp::WrappingAdd`]).
    WrappingMul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
}

impl BinaryOp {
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        ) || self.is_wrapping()
    }

    /// Whether it is integer arithmetic that wraps around on overflow.
    pub fn is_wrapping(self) -> bool {
        matches!(
            self,
            BinaryOp::WrappingAdd | BinaryOp::WrappingSub | BinaryOp::WrappingMul
        )
    }

    /// The wrapping form of integer `+ - *` (other operators are returned as they are).
    pub fn wrapping(self) -> BinaryOp {
        match self {
            BinaryOp::Add => BinaryOp::WrappingAdd,
            BinaryOp::Sub => BinaryOp::WrappingSub,
            BinaryOp::Mul => BinaryOp::WrappingMul,
            op => op,
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }

    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }

    /// The operator as SQL writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::WrappingAdd => "+%",
            BinaryOp::WrappingSub => "-%",
            BinaryOp::WrappingMul => "*%",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Concat => "||",
        }
    }

    /// The comparison with its operands swapped (`a < b` ⇔ `b > a`).
    pub fn swap(self) -> BinaryOp {
        match self {
            BinaryOp::Lt => BinaryOp::Gt,
            BinaryOp::LtEq => BinaryOp::GtEq,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::GtEq => BinaryOp::LtEq,
            other => other,
        }
    }
}

/// A part of a date for `EXTRACT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum DatePart {
    Year,
    Month,
    Day,
    /// 1 to 4.
    Quarter,
    /// `DOW`: Sunday is 0, Saturday 6.
    DayOfWeek,
    /// `DOY`: 1 to 366.
    DayOfYear,
    /// The ISO 8601 week of the year, 1 to 53: weeks start on Monday, and week 1 holds the
    /// year's first Thursday (the first days of January may be in the last year's week 52 or 53).
    Week,
    /// The parts of a time of day and `EPOCH`: of a `TIMESTAMP` only (a `DATE` is cast to one
    /// at midnight); their values and types are in [`super::time::part`].
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Epoch,
}

impl DatePart {
    /// The field's name in `EXTRACT(… FROM …)`.
    pub fn sql_name(self) -> &'static str {
        match self {
            DatePart::Year => "YEAR",
            DatePart::Month => "MONTH",
            DatePart::Day => "DAY",
            DatePart::Quarter => "QUARTER",
            DatePart::DayOfWeek => "DOW",
            DatePart::DayOfYear => "DOY",
            DatePart::Week => "WEEK",
            DatePart::Hour => "HOUR",
            DatePart::Minute => "MINUTE",
            DatePart::Second => "SECOND",
            DatePart::Millisecond => "MILLISECOND",
            DatePart::Microsecond => "MICROSECOND",
            DatePart::Epoch => "EPOCH",
        }
    }

    /// The part a field name (any case) denotes, as `DATE_PART('name', d)` spells it.
    pub fn named(name: &str) -> Option<DatePart> {
        Some(match name.to_ascii_lowercase().as_str() {
            "year" | "years" => DatePart::Year,
            "month" | "months" => DatePart::Month,
            "day" | "days" => DatePart::Day,
            "quarter" => DatePart::Quarter,
            "dow" | "dayofweek" => DatePart::DayOfWeek,
            "doy" | "dayofyear" => DatePart::DayOfYear,
            "week" | "weeks" => DatePart::Week,
            "hour" | "hours" => DatePart::Hour,
            "minute" | "minutes" => DatePart::Minute,
            "second" | "seconds" => DatePart::Second,
            "millisecond" | "milliseconds" => DatePart::Millisecond,
            "microsecond" | "microseconds" => DatePart::Microsecond,
            "epoch" => DatePart::Epoch,
            _ => return None,
        })
    }

    /// Whether the part is of a time of day (or `EPOCH`): not a part of a `DATE`.
    pub fn is_time(self) -> bool {
        matches!(
            self,
            DatePart::Hour
                | DatePart::Minute
                | DatePart::Second
                | DatePart::Millisecond
                | DatePart::Microsecond
                | DatePart::Epoch
        )
    }

    /// The SQL type of this part of a timestamp of `unit` (see [`super::time::part`]).
    pub fn timestamp_result(self, unit: super::types::TimeUnit) -> SqlType {
        let s = super::time::second_scale(unit);
        match self {
            DatePart::Second => SqlType::decimal(2 + s, s),
            DatePart::Millisecond => SqlType::decimal(2 + s, s - 3),
            DatePart::Epoch => SqlType::decimal(19 + s - unit.digits(), s),
            _ => SqlType::Int32,
        }
    }

    /// The part of the date `days` (days since 1970-01-01); the time parts of a midnight.
    pub fn of_days(self, days: i64) -> i64 {
        use super::scalar::{civil_from_days, days_from_civil};
        let (y, m, d) = civil_from_days(days);
        match self {
            DatePart::Year => y,
            DatePart::Month => m as i64,
            DatePart::Day => d as i64,
            DatePart::Quarter => (m as i64 - 1) / 3 + 1,
            DatePart::Hour
            | DatePart::Minute
            | DatePart::Second
            | DatePart::Millisecond
            | DatePart::Microsecond => 0,
            DatePart::Epoch => days * 86_400,
            // 1970-01-01 was a Thursday.
            DatePart::DayOfWeek => (days + 4).rem_euclid(7),
            DatePart::DayOfYear => days - days_from_civil(y, 1, 1) + 1,
            DatePart::Week => {
                // The Thursday of the date's ISO week decides the year; count weeks from its
                // January 1st.
                let iso_dow = (days + 3).rem_euclid(7) + 1;
                let thursday = days - iso_dow + 4;
                let (ty, _, _) = civil_from_days(thursday);
                (thursday - days_from_civil(ty, 1, 1)) / 7 + 1
            }
        }
    }
}

/// A typed scalar expression. Build with the constructors; see the module docs for the rules.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Column(ColumnRef),
    Literal(Literal),
    Unary {
        op: UnaryOp,
        arg: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: SqlType,
    },
    /// `arg IS NULL` (or `IS NOT NULL` when `negated`); never NULL itself.
    IsNull {
        arg: Box<Expr>,
        negated: bool,
    },
    /// `arg [NOT] IN (list)`: every item has `arg`'s type. NULL if `arg` is NULL, or if no item
    /// matches and some item is NULL.
    InList {
        arg: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `arg [NOT] [I]LIKE pattern [ESCAPE escape]` with a constant pattern. `%` matches any
    /// sequence of characters, `_` one character; `escape` (default `\`) makes the next character
    /// literal. `case_insensitive` compares Unicode-lowercased text.
    Like {
        arg: Box<Expr>,
        pattern: String,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    },
    /// Searched `CASE`: the first branch whose condition is TRUE gives the value; otherwise `else_`
    /// (NULL when absent). All values have type `ty`.
    Case {
        branches: Vec<(Expr, Expr)>,
        else_: Option<Box<Expr>>,
        ty: SqlType,
    },
    /// Conversion to `ty`; see [`can_cast`] for which conversions exist.
    Cast {
        arg: Box<Expr>,
        ty: SqlType,
    },
    Func {
        func: Func,
        args: Vec<Expr>,
        ty: SqlType,
    },
    /// `LET $id = value IN body`: `value` is evaluated once for the rows that reach this node,
    /// and every [`Expr::Var`] with the same `id` inside `body` reads it. The binder introduces it
    /// where SQL repeats an operand (`NULLIF`, `COALESCE`, `BETWEEN`, simple `CASE`), so that a
    /// plan grows linearly with the query's text however those nest. Its value and type are
    /// `body`'s; an error in `value` is raised for every row that reaches the node.
    Let {
        id: u32,
        value: Box<Expr>,
        body: Box<Expr>,
    },
    /// The value bound by the innermost enclosing [`Expr::Let`] with this `id`; `ty` and
    /// `nullable` are that value's. Like a column, it reads the row; it is never constant.
    Var {
        id: u32,
        ty: SqlType,
        nullable: bool,
    },
}

fn mismatch(what: impl fmt::Display, types: &[SqlType]) -> Error {
    let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    Error::internal(format!(
        "{what} built with operand types ({}) that coercion should have excluded",
        types.join(", ")
    ))
}

/// The result type of decimal arithmetic (the exact rules qjit documents):
///
/// | op | scale | precision |
/// |---|---|---|
/// | `+`, `-` | `max(s1, s2)` | `max(p1 - s1, p2 - s2) + scale + 1` |
/// | `*` | `s1 + s2` | `p1 + p2 + 1` |
/// | `/` | `max(s1, s2, 6)` | `p1 - s1 + s2 + scale` |
/// | `%` | `max(s1, s2)` | `min(p1 - s1, p2 - s2) + scale` |
///
/// Precision is capped at 38 (and the scale at the precision). When the uncapped precision is at
/// most 38 the result cannot overflow; otherwise a result of 39 or more digits is an overflow
/// error. `/` rounds half away from zero at the result scale. A product whose scale `s1 + s2`
/// exceeds 38 has no exact type: the binder rejects it (see [`decimal_product_fits`]).
pub fn decimal_result(op: BinaryOp, (p1, s1): (u8, u8), (p2, s2): (u8, u8)) -> SqlType {
    let (p1, s1, p2, s2) = (p1 as u32, s1 as u32, p2 as u32, s2 as u32);
    let (precision, scale) = match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let s = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + s + 1, s)
        }
        BinaryOp::Mul => (p1 + p2 + 1, s1 + s2),
        BinaryOp::Div => {
            let s = s1.max(s2).max(6);
            (p1 - s1 + s2 + s, s)
        }
        _ => {
            let s = s1.max(s2);
            ((p1 - s1).min(p2 - s2) + s, s)
        }
    };
    SqlType::decimal(precision.max(1), scale)
}

/// Whether `DECIMAL(_, s1) * DECIMAL(_, s2)` has an exact result type (`s1 + s2 <= 38`).
pub fn decimal_product_fits((_, s1): (u8, u8), (_, s2): (u8, u8)) -> bool {
    s1 as u32 + s2 as u32 <= MAX_DECIMAL_PRECISION as u32
}

/// The result type of `ROUND(x, digits)`: integers and floats keep their type; `DECIMAL(p, s)`
/// with `digits < s` becomes `DECIMAL(p - s + d + 1, d)` where `d = max(digits, 0)` (one more
/// integer digit for the carry), and stays as it is otherwise.
pub fn round_result(ty: SqlType, digits: i32) -> SqlType {
    match ty {
        SqlType::Decimal { precision, scale } if digits < scale as i32 => {
            let d = digits.max(0) as u32;
            SqlType::decimal(precision as u32 - scale as u32 + d + 1, d)
        }
        other => other,
    }
}

/// Whether `CAST(from AS to)` exists. Numbers convert among themselves, range-checked:
///
/// * float → integer rounds half to even (PostgreSQL's `rint`); decimal → integer and decimal →
///   decimal round half away from zero;
/// * float → decimal goes through the float's shortest round-trip digits (`0.1` → `0.1`, not the
///   binary expansion), then rounds half away from zero at the target scale;
/// * decimal → float is correctly rounded.
///
/// Every type converts to and from `VARCHAR` (parsing fails on bad text; `VARCHAR(n)` does not
/// truncate); `BOOLEAN` and integers convert both ways; NULL converts to anything.
pub fn can_cast(from: SqlType, to: SqlType) -> bool {
    use SqlType::*;
    if from.is_other() || to.is_other() {
        return false;
    }
    from == to
        || from == Null
        || (from.is_numeric() && to.is_numeric())
        || from == Utf8
        || to == Utf8
        || (from == Boolean && to.is_integer())
        || (from.is_integer() && to == Boolean)
        || (matches!(from, Date | Timestamp { .. }) && matches!(to, Date | Timestamp { .. }))
}

impl Expr {
    /// A column reference.
    pub fn column(column: ColumnRef) -> Expr {
        Expr::Column(column)
    }

    /// A literal.
    pub fn literal(value: Scalar, ty: SqlType) -> Result<Expr> {
        Ok(Expr::Literal(Literal::new(value, ty)?))
    }

    /// A boolean literal.
    pub fn boolean(b: bool) -> Expr {
        Expr::Literal(Literal {
            value: Scalar::Boolean(b),
            ty: SqlType::Boolean,
        })
    }

    /// The NULL of a type.
    pub fn null(ty: SqlType) -> Expr {
        Expr::Literal(Literal::null(ty))
    }

    /// A unary operator: `-` on a number, `NOT` on a boolean.
    pub fn unary(op: UnaryOp, arg: Expr) -> Result<Expr> {
        let t = arg.ty();
        let ok = match op {
            UnaryOp::Neg => t.is_numeric(),
            UnaryOp::Not => t == SqlType::Boolean,
        };
        if !ok {
            return Err(mismatch(format!("{op:?}"), &[t]));
        }
        Ok(Expr::Unary {
            op,
            arg: Box::new(arg),
        })
    }

    /// A binary operator; operand types must follow the table in the module docs.
    pub fn binary(op: BinaryOp, left: Expr, right: Expr) -> Result<Expr> {
        let (l, r) = (left.ty(), right.ty());
        let ty = if op.is_arithmetic() {
            match (l, r) {
                _ if op.is_wrapping() && !(l == r && l.is_integer()) => {
                    return Err(mismatch(op.symbol(), &[l, r]));
                }
                (SqlType::Decimal { .. }, SqlType::Decimal { .. }) => {
                    let (lp, rp) = (l.decimal_parts(), r.decimal_parts());
                    let (lp, rp) = (lp.unwrap_or((1, 0)), rp.unwrap_or((1, 0)));
                    if op == BinaryOp::Mul && !decimal_product_fits(lp, rp) {
                        return Err(mismatch("* (scale over 38)", &[l, r]));
                    }
                    decimal_result(op, lp, rp)
                }
                _ if l == r && (l.is_integer() || l.is_float()) => l,
                _ => return Err(mismatch(op.symbol(), &[l, r])),
            }
        } else if op.is_comparison() {
            if l != r || l == SqlType::Null {
                return Err(mismatch(op.symbol(), &[l, r]));
            }
            SqlType::Boolean
        } else if op.is_logical() {
            if l != SqlType::Boolean || r != SqlType::Boolean {
                return Err(mismatch(op.symbol(), &[l, r]));
            }
            SqlType::Boolean
        } else {
            if l != SqlType::Utf8 || r != SqlType::Utf8 {
                return Err(mismatch(op.symbol(), &[l, r]));
            }
            SqlType::Utf8
        };
        Ok(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty,
        })
    }

    /// `arg IS [NOT] NULL`.
    pub fn is_null(arg: Expr, negated: bool) -> Expr {
        Expr::IsNull {
            arg: Box::new(arg),
            negated,
        }
    }

    /// `arg [NOT] IN (list)`; every item must have `arg`'s type.
    pub fn in_list(arg: Expr, list: Vec<Expr>, negated: bool) -> Result<Expr> {
        let t = arg.ty();
        if t == SqlType::Null || list.is_empty() || list.iter().any(|e| e.ty() != t) {
            let mut types = vec![t];
            types.extend(list.iter().map(Expr::ty));
            return Err(mismatch("IN", &types));
        }
        Ok(Expr::InList {
            arg: Box::new(arg),
            list,
            negated,
        })
    }

    /// `arg [NOT] [I]LIKE pattern [ESCAPE escape]`; `arg` must be a string.
    pub fn like(
        arg: Expr,
        pattern: String,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    ) -> Result<Expr> {
        if arg.ty() != SqlType::Utf8 {
            return Err(mismatch("LIKE", &[arg.ty()]));
        }
        Ok(Expr::Like {
            arg: Box::new(arg),
            pattern,
            escape,
            case_insensitive,
            negated,
        })
    }

    /// A searched CASE; conditions must be boolean and values must all have type `ty`.
    pub fn case(branches: Vec<(Expr, Expr)>, else_: Option<Expr>, ty: SqlType) -> Result<Expr> {
        if branches.is_empty()
            || branches
                .iter()
                .any(|(c, v)| c.ty() != SqlType::Boolean || v.ty() != ty)
            || else_.as_ref().is_some_and(|e| e.ty() != ty)
        {
            return Err(mismatch("CASE", &[ty]));
        }
        Ok(Expr::Case {
            branches,
            else_: else_.map(Box::new),
            ty,
        })
    }

    /// `LET $id = value IN body(var)`, where `var` reads `value`. A column or a literal is cheap to
    /// repeat: then `body` gets `value` itself and no `Let` is built. `id` must differ from the
    /// ids of the `Let`s inside `body` that `var` is used under (the binder numbers them).
    pub fn share(id: u32, value: Expr, body: impl FnOnce(Expr) -> Result<Expr>) -> Result<Expr> {
        if matches!(value, Expr::Column(_) | Expr::Literal(_) | Expr::Var { .. }) {
            return body(value);
        }
        let var = Expr::Var {
            id,
            ty: value.ty(),
            nullable: value.nullable(),
        };
        Ok(Expr::Let {
            id,
            body: Box::new(body(var)?),
            value: Box::new(value),
        })
    }

    /// `CAST(arg AS ty)`; returns `arg` unchanged if it already has type `ty`.
    pub fn cast(arg: Expr, ty: SqlType) -> Result<Expr> {
        let from = arg.ty();
        if from == ty {
            return Ok(arg);
        }
        if !can_cast(from, ty) {
            return Err(Error::type_error(format!("cannot cast {from} to {ty}")));
        }
        Ok(Expr::Cast {
            arg: Box::new(arg),
            ty,
        })
    }

    /// A scalar function; argument types must be ones [`Func::result_type`] takes.
    pub fn func(func: Func, args: Vec<Expr>) -> Result<Expr> {
        let types: Vec<SqlType> = args.iter().map(Expr::ty).collect();
        let ty = func
            .result_type(&types)
            .ok_or_else(|| mismatch(func.name(), &types))?;
        Ok(Expr::Func { func, args, ty })
    }

    /// The SQL type of the expression's values.
    pub fn ty(&self) -> SqlType {
        match self {
            Expr::Column(c) => c.ty,
            Expr::Literal(l) => l.ty,
            Expr::Unary { op, arg } => match op {
                UnaryOp::Neg => arg.ty(),
                UnaryOp::Not => SqlType::Boolean,
            },
            Expr::Binary { ty, .. } | Expr::Case { ty, .. } | Expr::Func { ty, .. } => *ty,
            Expr::IsNull { .. } | Expr::InList { .. } | Expr::Like { .. } => SqlType::Boolean,
            Expr::Cast { ty, .. } | Expr::Var { ty, .. } => *ty,
            Expr::Let { body, .. } => body.ty(),
        }
    }

    /// Whether the expression can be NULL for some input row.
    pub fn nullable(&self) -> bool {
        match self {
            Expr::Column(c) => c.nullable,
            Expr::Literal(l) => l.value.is_null(),
            Expr::Unary { arg, .. } | Expr::Cast { arg, .. } | Expr::Like { arg, .. } => {
                arg.nullable()
            }
            Expr::Binary { left, right, .. } => left.nullable() || right.nullable(),
            Expr::IsNull { .. } => false,
            Expr::InList { arg, list, .. } => arg.nullable() || list.iter().any(Expr::nullable),
            Expr::Case {
                branches, else_, ..
            } => {
                branches.iter().any(|(_, v)| v.nullable())
                    || else_.as_ref().is_none_or(|e| e.nullable())
            }
            Expr::Func { args, .. } => args.iter().any(Expr::nullable),
            Expr::Let { body, .. } => body.nullable(),
            Expr::Var { nullable, .. } => *nullable,
        }
    }

    /// The direct children, in evaluation order.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(_) | Expr::Literal(_) => vec![],
            Expr::Unary { arg, .. }
            | Expr::Cast { arg, .. }
            | Expr::Like { arg, .. }
            | Expr::IsNull { arg, .. } => vec![arg],
            Expr::Binary { left, right, .. } => vec![left, right],
            Expr::InList { arg, list, .. } => std::iter::once(arg.as_ref()).chain(list).collect(),
            Expr::Case {
                branches, else_, ..
            } => {
                let mut v: Vec<&Expr> = branches.iter().flat_map(|(c, e)| [c, e]).collect();
                v.extend(else_.as_deref());
                v
            }
            Expr::Func { args, .. } => args.iter().collect(),
            Expr::Let { value, body, .. } => vec![value, body],
            Expr::Var { .. } => vec![],
        }
    }

    /// Calls `f` on every node, parents before children.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        for c in self.children() {
            c.walk(f);
        }
    }

    /// Whether any node satisfies `pred`.
    pub fn any(&self, pred: &mut impl FnMut(&Expr) -> bool) -> bool {
        pred(self) || self.children().into_iter().any(|c| c.any(pred))
    }

    /// Whether the expression reads no column (nor a [`Expr::Var`], which reads the row).
    pub fn is_constant(&self) -> bool {
        !self.any(&mut |e| matches!(e, Expr::Column(_) | Expr::Var { .. }))
    }

    /// The number of nodes, counted without recursion.
    pub fn node_count(&self) -> usize {
        self.count_nodes_up_to(usize::MAX)
    }

    /// The number of nodes, or `limit + 1` if there are more than `limit`: a bounded walk
    /// (without recursion) that costs at most `limit` steps.
    pub fn count_nodes_up_to(&self, limit: usize) -> usize {
        let mut stack = vec![self];
        let mut n = 0;
        while let Some(e) = stack.pop() {
            n += 1;
            if n > limit {
                return n;
            }
            stack.extend(e.children());
        }
        n
    }

    /// Rebuilds the node with each direct child replaced by `f(child)`, in evaluation order;
    /// the first error stops the rewrite. Leaves (columns, literals) are returned as they are.
    /// Every bottom-up rewrite (renumbering columns, constant folding) is built on this.
    pub fn try_map_children<E>(
        self,
        f: &mut impl FnMut(Expr) -> Result<Expr, E>,
    ) -> Result<Expr, E> {
        let mut m = |e: Box<Expr>| f(*e).map(Box::new);
        Ok(match self {
            Expr::Column(_) | Expr::Literal(_) | Expr::Var { .. } => self,
            Expr::Unary { op, arg } => Expr::Unary { op, arg: m(arg)? },
            Expr::Binary {
                op,
                left,
                right,
                ty,
            } => {
                let left = m(left)?;
                Expr::Binary {
                    op,
                    left,
                    right: m(right)?,
                    ty,
                }
            }
            Expr::IsNull { arg, negated } => Expr::IsNull {
                arg: m(arg)?,
                negated,
            },
            Expr::InList { arg, list, negated } => Expr::InList {
                arg: m(arg)?,
                list: list.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
                negated,
            },
            Expr::Like {
                arg,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => Expr::Like {
                arg: m(arg)?,
                pattern,
                escape,
                case_insensitive,
                negated,
            },
            Expr::Case {
                branches,
                else_,
                ty,
            } => Expr::Case {
                branches: branches
                    .into_iter()
                    .map(|(c, v)| Ok((f(c)?, f(v)?)))
                    .collect::<Result<_, E>>()?,
                else_: else_.map(|e| f(*e).map(Box::new)).transpose()?,
                ty,
            },
            Expr::Cast { arg, ty } => Expr::Cast { arg: m(arg)?, ty },
            Expr::Func { func, args, ty } => Expr::Func {
                func,
                args: args.into_iter().map(&mut *f).collect::<Result<_, E>>()?,
                ty,
            },
            Expr::Let { id, value, body } => {
                let value = m(value)?;
                Expr::Let {
                    id,
                    value,
                    body: m(body)?,
                }
            }
        })
    }

    /// Rewrites every column reference with `f` (used to renumber columns after the scan
    /// projection is chosen).
    pub fn map_columns(self, f: &mut impl FnMut(ColumnRef) -> ColumnRef) -> Expr {
        fn go(e: Expr, f: &mut impl FnMut(ColumnRef) -> ColumnRef) -> Expr {
            crate::stack::guard(|| go_node(e, f))
        }
        fn go_node(e: Expr, f: &mut impl FnMut(ColumnRef) -> ColumnRef) -> Expr {
            match e {
                Expr::Column(c) => Expr::Column(f(c)),
                other => match other
                    .try_map_children::<std::convert::Infallible>(&mut |c| Ok(go(c, f)))
                {
                    Ok(e) => e,
                    Err(never) => match never {},
                },
            }
        }
        go(self, f)
    }
}

impl fmt::Display for Literal {
    /// The literal with its type: `24.00::DECIMAL(15,2)`, `'MAIL'`, `DATE '1998-09-02'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.value, self.ty) {
            (Scalar::Null, SqlType::Null) => f.write_str("NULL"),
            (Scalar::Null, t) => write!(f, "NULL::{t}"),
            (Scalar::Decimal(v), SqlType::Decimal { scale, .. }) => {
                write!(f, "{}::{}", format_decimal(*v, scale), self.ty)
            }
            (Scalar::Utf8(_) | Scalar::Date(_) | Scalar::Boolean(_) | Scalar::Interval(_), _) => {
                write!(f, "{}", self.value)
            }
            (Scalar::Timestamp(v), SqlType::Timestamp { unit, zoned }) => {
                write!(
                    f,
                    "'{}'::{}",
                    super::time::to_text(*v, unit, zoned),
                    self.ty
                )
            }
            (v, t) => write!(f, "{v}::{t}"),
        }
    }
}

impl fmt::Display for Expr {
    /// A fully parenthesized, fully typed rendering: the plan printer and the kernel-cache key.
    /// Columns carry their index (`name@i`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Show {
            e: self,
            index: true,
        }
        .fmt(f)
    }
}

impl Expr {
    /// The rendering of [`fmt::Display`] with columns by name alone, as messages to users show
    /// an expression.
    pub fn sql(&self) -> impl fmt::Display + '_ {
        Show {
            e: self,
            index: false,
        }
    }
}

/// An expression as text; `index`: columns as `name@i`.
struct Show<'a> {
    e: &'a Expr,
    index: bool,
}

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index = self.index;

        match self.e {
            Expr::Column(c) if index => write!(f, "{}@{}", c.name, c.index),
            Expr::Column(c) => write!(f, "{}", c.name),
            Expr::Literal(l) => write!(f, "{l}"),
            Expr::Unary { op, arg } => match op {
                UnaryOp::Neg => write!(f, "(- {})", Show { e: arg, index }),
                UnaryOp::Not => write!(f, "(NOT {})", Show { e: arg, index }),
            },
            Expr::Binary {
                op, left, right, ..
            } => write!(
                f,
                "({} {} {})",
                Show { e: left, index },
                op.symbol(),
                Show { e: right, index }
            ),
            Expr::IsNull { arg, negated } => {
                write!(
                    f,
                    "({} IS {}NULL)",
                    Show { e: arg, index },
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::InList { arg, list, negated } => {
                write!(
                    f,
                    "({} {}IN (",
                    Show { e: arg, index },
                    if *negated { "NOT " } else { "" }
                )?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Show { e, index })?;
                }
                f.write_str("))")
            }
            Expr::Like {
                arg,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => {
                write!(
                    f,
                    "({} {}{} {}",
                    Show { e: arg, index },
                    if *negated { "NOT " } else { "" },
                    if *case_insensitive { "ILIKE" } else { "LIKE" },
                    Scalar::Utf8(pattern.clone())
                )?;
                match escape {
                    Some(c) => write!(f, " ESCAPE {})", Scalar::Utf8(c.to_string())),
                    None => f.write_str(" ESCAPE '')"),
                }
            }
            Expr::Case {
                branches, else_, ..
            } => {
                f.write_str("CASE")?;
                for (c, v) in branches {
                    write!(
                        f,
                        " WHEN {} THEN {}",
                        Show { e: c, index },
                        Show { e: v, index }
                    )?;
                }
                if let Some(e) = else_ {
                    write!(f, " ELSE {}", Show { e, index })?;
                }
                f.write_str(" END")
            }
            Expr::Cast { arg, ty } => write!(f, "CAST({} AS {ty})", Show { e: arg, index }),
            Expr::Func { func, args, .. } => {
                match func {
                    Func::Round { digits } => write!(f, "round[{digits}](")?,
                    Func::Extract(part) => write!(f, "extract[{part:?}](")?,
                    Func::Trim { .. } => write!(f, "{}(", func.name().to_lowercase())?,
                    other => write!(f, "{}(", format!("{other:?}").to_lowercase())?,
                }
                for (i, e) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Show { e, index })?;
                }
                f.write_str(")")
            }
            Expr::Let { id, value, body } => write!(
                f,
                "(LET ${id} = {} IN {})",
                Show { e: value, index },
                Show { e: body, index }
            ),
            Expr::Var { id, .. } => write!(f, "${id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(p: u8, s: u8) -> SqlType {
        SqlType::Decimal {
            precision: p,
            scale: s,
        }
    }

    #[test]
    fn decimal_result_types() {
        assert_eq!(decimal_result(BinaryOp::Add, (15, 2), (10, 0)), dec(16, 2));
        assert_eq!(decimal_result(BinaryOp::Mul, (15, 2), (16, 2)), dec(32, 4));
        assert_eq!(decimal_result(BinaryOp::Mul, (32, 4), (16, 2)), dec(38, 6));
        assert_eq!(decimal_result(BinaryOp::Div, (5, 2), (3, 1)), dec(10, 6));
        assert_eq!(decimal_result(BinaryOp::Mod, (5, 2), (3, 1)), dec(4, 2));
        assert_eq!(round_result(dec(15, 2), 1), dec(15, 1));
        assert_eq!(round_result(dec(15, 2), 0), dec(14, 0));
        assert_eq!(round_result(dec(15, 2), -1), dec(14, 0));
        assert_eq!(round_result(dec(15, 2), 3), dec(15, 2));
    }

    #[test]
    fn constructors_reject_uncoerced_operands() {
        let i = Expr::literal(Scalar::Int(1), SqlType::Int32).unwrap();
        let d = Expr::literal(Scalar::Decimal(1), dec(3, 0)).unwrap();
        assert!(matches!(
            Expr::binary(BinaryOp::Add, i.clone(), d.clone()),
            Err(Error::Internal(_))
        ));
        assert!(Expr::binary(BinaryOp::Lt, i.clone(), i.clone()).is_ok());
        assert!(Expr::cast(i, SqlType::Date).is_err());
    }

    #[test]
    fn printing_carries_types() {
        let e = Expr::binary(
            BinaryOp::Lt,
            Expr::literal(Scalar::Decimal(2400), dec(15, 2)).unwrap(),
            Expr::literal(Scalar::Decimal(6), dec(15, 2)).unwrap(),
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "(24.00::DECIMAL(15,2) < 0.06::DECIMAL(15,2))"
        );
    }
}
