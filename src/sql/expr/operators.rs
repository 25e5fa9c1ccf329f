//! Operators: `CASE`, binary operators (with long left-deep chains), arithmetic, date ±
//! interval, comparisons, and the coercions they apply.

use sqlparser::ast::{self, BinaryOperator};

use crate::error::{Error, Position, Result};
use crate::ir::{BinaryOp, Expr, Func, Interval, Scalar, SqlType, TimeUnit, UnaryOp};
use crate::sql::coerce::{arithmetic_types, coerce, common_type_all, common_type_of};

use super::{pos, Bound, ExprBinder, Scope, MAX_CHAIN_LENGTH};

impl ExprBinder<'_> {
    pub(super) fn bind_case(
        &self,
        e: &ast::Expr,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        scope: &mut Scope,
        d: usize,
    ) -> Result<Bound> {
        let at = pos(e);
        match operand {
            // CASE x WHEN v THEN … ≡ LET $1 = x IN CASE WHEN $1 = v THEN …
            Some(o) => {
                let x = self.bind_expr(o, scope, d)?;
                self.share(x, |x| {
                    self.case_branches(Some(&x), conditions, else_result, scope, d, at)
                })
            }
            None => self.case_branches(None, conditions, else_result, scope, d, at),
        }
        .map(Bound::Value)
    }

    /// The searched `CASE` of [`ExprBinder::bind_case`], comparing each `WHEN` value with
    /// `operand` if there is one.
    pub(super) fn case_branches(
        &self,
        operand: Option<&Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
        scope: &mut Scope,
        d: usize,
        at: Option<Position>,
    ) -> Result<Expr> {
        let mut conds = Vec::with_capacity(conditions.len());
        let mut values = Vec::with_capacity(conditions.len());
        for w in conditions {
            let c = self.bind_expr(&w.condition, scope, d)?;
            let c = match operand {
                Some(x) => self.comparison(BinaryOp::Eq, x.clone(), c, pos(&w.condition))?,
                None => self.to_boolean(c, "CASE WHEN", pos(&w.condition))?,
            };
            conds.push(c);
            values.push(self.bind_expr(&w.result, scope, d)?);
        }
        let else_ = else_result
            .map(|x| self.bind_expr(x, scope, d))
            .transpose()?;
        let ty = self.common(
            &values.iter().chain(else_.as_ref()).collect::<Vec<_>>(),
            "CASE",
            at,
        )?;
        let ty = if ty == SqlType::Null {
            SqlType::Int32
        } else {
            ty
        };
        let branches = conds
            .into_iter()
            .zip(values)
            .map(|(c, v)| Ok((c, coerce(v, ty)?)))
            .collect::<Result<Vec<_>>>()?;
        let else_ = else_.map(|x| coerce(x, ty)).transpose()?;
        Expr::case(branches, else_, ty)
    }

    pub(super) fn bind_binary(
        &self,
        e: &ast::Expr,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
        scope: &mut Scope,
        d: usize,
    ) -> Result<Bound> {
        let at = pos(e);
        let op = match op {
            BinaryOperator::Plus => BinaryOp::Add,
            BinaryOperator::Minus => BinaryOp::Sub,
            BinaryOperator::Multiply => BinaryOp::Mul,
            BinaryOperator::Divide => BinaryOp::Div,
            BinaryOperator::Modulo => BinaryOp::Mod,
            BinaryOperator::Eq => BinaryOp::Eq,
            BinaryOperator::NotEq => BinaryOp::NotEq,
            BinaryOperator::Lt => BinaryOp::Lt,
            BinaryOperator::LtEq => BinaryOp::LtEq,
            BinaryOperator::Gt => BinaryOp::Gt,
            BinaryOperator::GtEq => BinaryOp::GtEq,
            BinaryOperator::And => BinaryOp::And,
            BinaryOperator::Or => BinaryOp::Or,
            BinaryOperator::StringConcat => BinaryOp::Concat,
            other => {
                return Err(Error::Unsupported {
                    what: format!("the operator {other}"),
                    position: at,
                })
            }
        };
        // A chain of binary operators nests one level: its left spine stays at this depth.
        let continues = self.in_chain.replace(false);
        let l = if let ast::Expr::BinaryOp { .. } = left {
            if !continues {
                let mut length = 1;
                let mut x = left;
                while let ast::Expr::BinaryOp { left, .. } = x {
                    length += 1;
                    x = left;
                }
                if length > MAX_CHAIN_LENGTH {
                    return Err(Error::Plan {
                        message: format!(
                            "the expression chains {length} binary operators, more than the {MAX_CHAIN_LENGTH} qjit takes; split it into several columns or queries"
                        ),
                        position: at,
                    });
                }
            }
            self.in_chain.set(true);
            let l = self.bind_any(left, scope, d - 1);
            self.in_chain.set(false);
            l?
        } else {
            self.bind_any(left, scope, d)?
        };
        let r = self.bind_any(right, scope, d)?;
        let (l, r) = match (l, r) {
            (Bound::Value(l), Bound::Value(r)) => (l, r),
            (Bound::Value(date), Bound::Interval(iv))
                if matches!(op, BinaryOp::Add | BinaryOp::Sub) =>
            {
                let iv = if op == BinaryOp::Sub {
                    match (
                        iv.months.checked_neg(),
                        iv.days.checked_neg(),
                        iv.nanos.checked_neg(),
                    ) {
                        (Some(months), Some(days), Some(nanos)) => Interval {
                            months,
                            days,
                            nanos,
                        },
                        _ => {
                            return Err(Error::Type {
                                message: "the INTERVAL is out of range when negated".into(),
                                position: at,
                            })
                        }
                    }
                } else {
                    iv
                };
                return self.add_interval(date, iv, at).map(Bound::Value);
            }
            (Bound::Interval(iv), Bound::Value(date)) if op == BinaryOp::Add => {
                return self.add_interval(date, iv, at).map(Bound::Value);
            }
            (l, r) => {
                let value = |b: Bound| match b {
                    Bound::Value(v) => Ok(v),
                    Bound::Interval(iv) => Expr::literal(Scalar::Interval(iv), SqlType::Interval),
                };
                (value(l)?, value(r)?)
            }
        };
        let bound = if op.is_comparison() {
            self.comparison(op, l, r, at)?
        } else if op.is_logical() {
            let l = self.to_boolean(l, op.symbol(), pos(left))?;
            let r = self.to_boolean(r, op.symbol(), pos(right))?;
            Expr::binary(op, l, r)?
        } else if op == BinaryOp::Concat {
            Expr::binary(op, coerce(l, SqlType::Utf8)?, coerce(r, SqlType::Utf8)?)?
        } else {
            self.arithmetic(op, l, r, at)?
        };
        Ok(Bound::Value(bound))
    }

    pub(super) fn arithmetic(
        &self,
        op: BinaryOp,
        l: Expr,
        r: Expr,
        at: Option<Position>,
    ) -> Result<Expr> {
        let (lt, rt) = (l.ty(), r.ty());
        // Date arithmetic: date ± integer days, date − date.
        match (op, lt, rt) {
            (BinaryOp::Add, SqlType::Date, t) | (BinaryOp::Sub, SqlType::Date, t)
                if t.is_integer() || t == SqlType::Null =>
            {
                let n = coerce(r, SqlType::Int32)?;
                let n = if op == BinaryOp::Sub {
                    Expr::unary(UnaryOp::Neg, n)?
                } else {
                    n
                };
                return Expr::func(Func::DateAddDays, vec![l, n]);
            }
            (BinaryOp::Add, t, SqlType::Date) if t.is_integer() || t == SqlType::Null => {
                return Expr::func(Func::DateAddDays, vec![r, coerce(l, SqlType::Int32)?]);
            }
            (BinaryOp::Sub, SqlType::Date, SqlType::Date) => {
                return Expr::func(Func::DateDiffDays, vec![l, r]);
            }
            (BinaryOp::Sub, a, b) if a.is_timestamp() || b.is_timestamp() => {
                // `ts - ts` (a date or a string literal meets the timestamp's type).
                let ty = common_type_of(&l, &r).filter(|t| t.is_timestamp()).ok_or_else(|| {
                    Error::Type {
                        message: format!(
                            "operator - cannot be applied to {a} and {b}; subtract a TIMESTAMP or an INTERVAL from a TIMESTAMP"
                        ),
                        position: at,
                    }
                })?;
                let (l, r) = (
                    coerce(l, ty).map_err(|e| e.at(at))?,
                    coerce(r, ty).map_err(|e| e.at(at))?,
                );
                return Expr::func(Func::TimestampDiff, vec![l, r]).map_err(|e| e.at(at));
            }
            _ => {}
        }
        // A string literal next to a number takes the number's type.
        let (l, r) = match (
            super::super::coerce::is_string_literal(&l),
            super::super::coerce::is_string_literal(&r),
        ) {
            (true, false) if rt.is_numeric() => (coerce(l, rt).map_err(|e| e.at(at))?, r),
            (false, true) if lt.is_numeric() => (l, coerce(r, lt).map_err(|e| e.at(at))?),
            _ => (l, r),
        };
        let (lt, rt) = (l.ty(), r.ty());
        let Some((tl, tr)) = arithmetic_types(lt, rt) else {
            return Err(Error::Type {
                message: format!(
                    "operator {} cannot be applied to {lt} and {rt}{}",
                    op.symbol(),
                    if lt == SqlType::Utf8 || rt == SqlType::Utf8 {
                        "; use || to concatenate strings or CAST to a number"
                    } else {
                        ""
                    }
                ),
                position: at,
            });
        };
        if let (Some(lp), Some(rp)) = (tl.decimal_parts(), tr.decimal_parts()) {
            if op == BinaryOp::Mul && !crate::ir::decimal_product_fits(lp, rp) {
                return Err(Error::Type {
                    message: format!(
                        "the product of {tl} and {tr} would need {} digits after the point, more than 38; CAST an operand to a smaller scale",
                        lp.1 as u32 + rp.1 as u32
                    ),
                    position: at,
                });
            }
        }
        Expr::binary(op, coerce(l, tl)?, coerce(r, tr)?).map_err(|e| e.at(at))
    }

    /// `date + INTERVAL` (months first, then days) is a `DATE`; `timestamp + INTERVAL`, and
    /// `date + INTERVAL` with a time part, a timestamp in the coarsest unit at least as fine as
    /// the timestamp's that holds the interval's time exactly.
    pub(super) fn add_interval(
        &self,
        date: Expr,
        iv: Interval,
        at: Option<Position>,
    ) -> Result<Expr> {
        let has_time = iv.nanos != 0;
        let date = match date.ty() {
            SqlType::Date if !has_time => date,
            SqlType::Date => coerce(date, SqlType::timestamp())?,
            SqlType::Null if !has_time => coerce(date, SqlType::Date)?,
            SqlType::Null => coerce(date, SqlType::timestamp())?,
            SqlType::Timestamp { .. } => date,
            _ if super::super::coerce::is_string_literal(&date) => {
                // A date's text stays a DATE (`'1998-12-01' - INTERVAL '90' DAY`).
                let is_date = matches!(&date, Expr::Literal(l) if matches!(&l.value, Scalar::Utf8(s) if crate::ir::scalar::parse_date(s).is_some()));
                let ty = if is_date && !has_time {
                    SqlType::Date
                } else {
                    SqlType::timestamp()
                };
                coerce(date, ty).map_err(|e| e.at(at))?
            }
            t => {
                return Err(Error::Type {
                    message: format!(
                        "an INTERVAL can only be added to a DATE or TIMESTAMP, not {t}"
                    ),
                    position: at,
                })
            }
        };
        if let SqlType::Timestamp { unit, zoned } = date.ty() {
            let zone = crate::sql::session_zone();
            if zoned && !zone.is_utc() && (iv.months != 0 || iv.days != 0) {
                // Months, then days, move the local time in the session zone, each step
                // resolved there again; the rest is elapsed time (PostgreSQL's
                // `timestamptz + interval`).
                let mut back = date;
                for step in [
                    Interval {
                        months: iv.months,
                        days: 0,
                        nanos: 0,
                    },
                    Interval {
                        months: 0,
                        days: iv.days,
                        nanos: 0,
                    },
                ] {
                    if step != Interval::default() {
                        let local = crate::sql::coerce::local_time(back)?;
                        let moved = self.add_interval(local, step, at)?;
                        back = crate::sql::coerce::instant(moved, true)?;
                    }
                }
                return self.add_interval(
                    back,
                    Interval {
                        months: 0,
                        days: 0,
                        nanos: iv.nanos,
                    },
                    at,
                );
            }
            let mut fine = unit;
            while iv.nanos % fine.nanos() != 0 {
                fine = match fine {
                    TimeUnit::Second => TimeUnit::Millisecond,
                    TimeUnit::Millisecond => TimeUnit::Microsecond,
                    _ => TimeUnit::Nanosecond,
                };
            }
            let ts =
                coerce(date, SqlType::Timestamp { unit: fine, zoned }).map_err(|e| e.at(at))?;
            if iv == Interval::default() {
                return Ok(ts);
            }
            return Expr::func(Func::AddInterval(iv), vec![ts]).map_err(|e| e.at(at));
        }
        let (months, days) = (iv.months, iv.days);
        let mut out = date;
        if months != 0 {
            out = Expr::func(
                Func::DateAddMonths,
                vec![
                    out,
                    Expr::literal(Scalar::Int(months as i64), SqlType::Int32)?,
                ],
            )?;
        }
        if days != 0 || months == 0 {
            out = Expr::func(
                Func::DateAddDays,
                vec![
                    out,
                    Expr::literal(Scalar::Int(days as i64), SqlType::Int32)?,
                ],
            )?;
        }
        Ok(out)
    }

    /// A comparison after coercing both sides to their common type.
    pub fn comparison(&self, op: BinaryOp, l: Expr, r: Expr, at: Option<Position>) -> Result<Expr> {
        let ty = common_type_of(&l, &r).ok_or_else(|| Error::Type {
            message: format!(
                "operator {} cannot compare {} with {}; CAST one side to the other's type",
                op.symbol(),
                l.ty(),
                r.ty()
            ),
            position: at,
        })?;
        if ty == SqlType::Null {
            return Ok(Expr::null(SqlType::Boolean));
        }
        let l = coerce(l, ty).map_err(|e| e.at(at))?;
        let r = coerce(r, ty).map_err(|e| e.at(at))?;
        Expr::binary(op, l, r)
    }

    pub(super) fn common(
        &self,
        items: &[&Expr],
        what: &str,
        at: Option<Position>,
    ) -> Result<SqlType> {
        common_type_all(items.iter().copied()).ok_or_else(|| Error::Type {
            message: format!(
                "{what} mixes incompatible types ({})",
                items
                    .iter()
                    .map(|i| i.ty().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            position: at,
        })
    }

    /// Requires a boolean (a NULL literal becomes a boolean NULL).
    pub fn to_boolean(&self, e: Expr, what: &str, at: Option<Position>) -> Result<Expr> {
        self.to_type(e, SqlType::Boolean, what, at)
    }

    /// Requires type `ty` exactly (a NULL or string literal is converted).
    pub(super) fn to_type(
        &self,
        e: Expr,
        ty: SqlType,
        what: &str,
        at: Option<Position>,
    ) -> Result<Expr> {
        let t = e.ty();
        if t == ty {
            Ok(e)
        } else if t == SqlType::Null
            || (super::super::coerce::is_string_literal(&e) && ty != SqlType::Utf8)
        {
            coerce(e, ty).map_err(|err| err.at(at))
        } else {
            Err(Error::Type {
                message: format!("{what} needs {ty}, not {t}"),
                position: at,
            })
        }
    }

    /// A `DATE` or `TIMESTAMP` argument of `what`: a NULL or a string literal becomes a `DATE`
    /// if its text is one, a `TIMESTAMP` otherwise.
    pub(super) fn datetime(&self, e: Expr, what: &str, at: Option<Position>) -> Result<Expr> {
        match e.ty() {
            SqlType::Date | SqlType::Timestamp { .. } => Ok(e),
            SqlType::Null => coerce(e, SqlType::Date),
            _ if super::super::coerce::is_string_literal(&e) => {
                let is_date = matches!(&e, Expr::Literal(l) if matches!(&l.value, Scalar::Utf8(s) if crate::ir::scalar::parse_date(s).is_some()));
                let ty = if is_date {
                    SqlType::Date
                } else {
                    SqlType::timestamp()
                };
                coerce(e, ty).map_err(|err| err.at(at))
            }
            t => Err(Error::Type {
                message: format!("{what} needs a DATE or TIMESTAMP, not {t}"),
                position: at,
            }),
        }
    }

    /// `EXTRACT(part FROM x)`: a `DATE` is cast to a `TIMESTAMP` for the parts of a time.
    pub(super) fn extract(
        &self,
        part: crate::ir::DatePart,
        x: Expr,
        at: Option<Position>,
    ) -> Result<Expr> {
        let x = self.datetime(x, "EXTRACT", at)?;
        let x = if part.is_time() && x.ty() == SqlType::Date {
            coerce(x, SqlType::timestamp())?
        } else {
            x
        };
        // The fields of a zoned value are its local time's in the session zone; its EPOCH is
        // the instant's.
        let x = if part == crate::ir::DatePart::Epoch {
            x
        } else {
            crate::sql::coerce::local_time(x)?
        };
        Expr::func(Func::Extract(part), vec![x]).map_err(|e| e.at(at))
    }

    pub(super) fn numeric(&self, e: Expr, what: &str, at: Option<Position>) -> Result<Expr> {
        match e.ty() {
            t if t.is_numeric() => Ok(e),
            SqlType::Null => coerce(e, SqlType::Int32),
            t => Err(Error::Type {
                message: format!("{what}() needs a number, not {t}"),
                position: at,
            }),
        }
    }
}
