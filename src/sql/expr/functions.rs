//! Function calls: aggregates over input rows, and scalar functions through the one table of
//! them ([`crate::ir::func`]), with the SQL sugar some of them lower to.

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, FunctionArguments};

use crate::error::{closest, Error, Position, Result};
use crate::ir::func::SQL_NAMES;
use crate::ir::time::{FormatStyle, TruncField};
use crate::ir::{
    AggFunc, AggregateCall, BinaryOp, DatePart, Expr, Func, Literal, Scalar, SqlType, TimeUnit,
};
use crate::sql::coerce::{coerce, instant, local_time};
use crate::sql::fold::fold;

use super::{aggregate_of, contains_aggregate, function_name, pos, ExprBinder, Scope};

/// `' '`: what `TRIM` removes by default.
pub(super) fn space() -> Result<Expr> {
    Expr::literal(Scalar::Utf8(" ".into()), SqlType::Utf8)
}

impl ExprBinder<'_> {
    /// Binds an aggregate call's argument over input rows.
    pub(super) fn bind_aggregate(
        &self,
        f: &ast::Function,
        func: AggFunc,
        e: &ast::Expr,
    ) -> Result<AggregateCall> {
        let at = pos(e);
        if f.filter.is_some() || !f.within_group.is_empty() {
            return Err(Error::Unsupported {
                what: "aggregate FILTER / WITHIN GROUP".into(),
                position: at,
            });
        }
        let list = match &f.args {
            FunctionArguments::List(l) => l,
            _ => {
                return Err(Error::Type {
                    message: format!("{}() takes one argument", func.name()),
                    position: at,
                })
            }
        };
        // MIN and MAX are the same over distinct values.
        let distinct = matches!(
            list.duplicate_treatment,
            Some(ast::DuplicateTreatment::Distinct)
        ) && !matches!(func, AggFunc::Min | AggFunc::Max);
        if !list.clauses.is_empty() {
            return Err(Error::Unsupported {
                what: format!("clauses inside {}()", func.name()),
                position: at,
            });
        }
        match list.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
                if func == AggFunc::Count && !distinct =>
            {
                AggregateCall::new(AggFunc::CountStar, None)
            }
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => {
                if contains_aggregate(arg) {
                    return Err(Error::Plan {
                        message: "aggregate function calls cannot be nested".into(),
                        position: pos(arg),
                    });
                }
                let a = self.bind(arg, &mut Scope::Rows { clause: "" })?;
                let a = if a.ty() == SqlType::Null {
                    coerce(
                        a,
                        if func == AggFunc::Count || func == AggFunc::Min || func == AggFunc::Max {
                            SqlType::Int32
                        } else {
                            SqlType::Int64
                        },
                    )?
                } else {
                    a
                };
                let call = if distinct {
                    AggregateCall::new_distinct(func, a)
                } else {
                    AggregateCall::new(func, Some(a))
                };
                call.map_err(|err| err.at(at))
            }
            _ => Err(Error::Type {
                message: format!("{}() takes exactly one argument", func.name()),
                position: at,
            }),
        }
    }

    pub(super) fn bind_function(
        &self,
        e: &ast::Expr,
        f: &ast::Function,
        scope: &mut Scope,
        d: usize,
    ) -> Result<Expr> {
        let name = function_name(f);
        let at = pos(e);
        if f.over.is_some() {
            return Err(Error::Unsupported {
                what: "window functions (OVER)".into(),
                position: at,
            });
        }
        if aggregate_of(&name).is_some() {
            // Reached only over input rows: Groups scope handles aggregates before this.
            let clause = match scope {
                Scope::Rows { clause } => *clause,
                Scope::Groups(_) => "this position",
            };
            return Err(Error::Plan {
                message: format!("aggregate functions are not allowed in {clause}"),
                position: at,
            });
        }
        if f.over.is_some() {
            return Err(Error::Unsupported {
                what: "window functions (OVER)".into(),
                position: at,
            });
        }
        let args: Vec<&ast::Expr> = match &f.args {
            FunctionArguments::None => vec![],
            FunctionArguments::Subquery(_) => {
                return Err(Error::Unsupported {
                    what: "subqueries".into(),
                    position: at,
                })
            }
            FunctionArguments::List(l) => {
                if l.duplicate_treatment.is_some() || !l.clauses.is_empty() {
                    return Err(Error::Unsupported {
                        what: format!("DISTINCT or clauses in {name}()"),
                        position: at,
                    });
                }
                l.args
                    .iter()
                    .map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Ok(x),
                        _ => Err(Error::Unsupported {
                            what: format!("the argument '{a}' of {name}()"),
                            position: at,
                        }),
                    })
                    .collect::<Result<_>>()?
            }
        };
        let arity = |lo: usize, hi: usize| -> Result<()> {
            if args.len() < lo || args.len() > hi {
                let want = if lo == hi {
                    format!("{lo}")
                } else if hi == usize::MAX {
                    format!("at least {lo}")
                } else {
                    format!("{lo} or {hi}")
                };
                return Err(Error::Type {
                    message: format!("{name}() takes {want} argument(s), not {}", args.len()),
                    position: at,
                });
            }
            Ok(())
        };
        let bound = |i: usize, s: &mut Scope| self.bind_expr(args[i], s, d);
        match name.as_str() {
            "coalesce" => {
                arity(1, usize::MAX)?;
                let items: Vec<Expr> = (0..args.len())
                    .map(|i| bound(i, scope))
                    .collect::<Result<_>>()?;
                let ty = self.common(&items.iter().collect::<Vec<_>>(), "COALESCE", at)?;
                let mut items: Vec<Expr> = items
                    .into_iter()
                    .map(|i| coerce(i, ty))
                    .collect::<Result<_>>()?;
                let Some(mut coalesced) = items.pop() else {
                    return Err(Error::internal("COALESCE arity"));
                };
                // COALESCE(a, b, c) ≡ LET $1 = a IN CASE WHEN $1 IS NOT NULL THEN $1
                //   ELSE LET $2 = b IN CASE WHEN $2 IS NOT NULL THEN $2 ELSE c END END:
                // each item is evaluated once, and only for the rows the items before it left NULL.
                for item in items.into_iter().rev() {
                    coalesced = self.share(item, |i| {
                        Expr::case(
                            vec![(Expr::is_null(i.clone(), true), i)],
                            Some(coalesced),
                            ty,
                        )
                    })?;
                }
                Ok(coalesced)
            }
            "nullif" => {
                arity(2, 2)?;
                let a = bound(0, scope)?;
                let b = bound(1, scope)?;
                let ty = self.common(&[&a, &b], "NULLIF", at)?;
                let a = coerce(a, ty)?;
                let b = coerce(b, ty)?;
                // NULLIF(a, b) ≡ LET $1 = a IN CASE WHEN $1 = b THEN NULL ELSE $1 END
                self.share(a, |a| {
                    let eq = self.comparison(BinaryOp::Eq, a.clone(), b, at)?;
                    Expr::case(vec![(eq, Expr::null(ty))], Some(a), ty)
                })
            }
            "round" => {
                arity(1, 2)?;
                let a = self.numeric(bound(0, scope)?, "ROUND", at)?;
                let digits = if args.len() == 2 {
                    let n = bound(1, scope)?;
                    match fold(n)? {
                        Expr::Literal(l) => match l.value {
                            Scalar::Int(v) if (-38..=38).contains(&v) => v as i32,
                            Scalar::UInt(v) if v <= 38 => v as i32,
                            _ => {
                                return Err(Error::Type {
                                    message: "ROUND's second argument must be an integer constant between -38 and 38".into(),
                                    position: pos(args[1]),
                                })
                            }
                        },
                        _ => {
                            return Err(Error::Unsupported {
                                what: "ROUND with a non-constant number of digits".into(),
                                position: pos(args[1]),
                            })
                        }
                    }
                } else {
                    0
                };
                Expr::func(Func::Round { digits }, vec![a])
            }
            "mod" => {
                // MOD(a, b) is a % b.
                arity(2, 2)?;
                let (a, b) = (bound(0, scope)?, bound(1, scope)?);
                self.arithmetic(BinaryOp::Mod, a, b, at)
            }
            "left" | "right" => {
                arity(2, 2)?;
                let (s, n) = (bound(0, scope)?, bound(1, scope)?);
                self.left_right(name == "left", s, n, at)
            }
            "concat" => {
                arity(1, usize::MAX)?;
                let items: Vec<Expr> = (0..args.len())
                    .map(|i| bound(i, scope))
                    .collect::<Result<_>>()?;
                self.concat(items)
            }
            "starts_with" | "ends_with" => {
                arity(2, 2)?;
                let (s, affix) = (bound(0, scope)?, bound(1, scope)?);
                self.affix(name == "starts_with", s, affix, at)
            }
            "date_part" => {
                arity(2, 2)?;
                let part = match fold(bound(0, scope)?)? {
                    Expr::Literal(Literal {
                        value: Scalar::Utf8(name),
                        ..
                    }) => DatePart::named(&name),
                    _ => None,
                };
                let Some(part) = part else {
                    return Err(Error::Unsupported {
                        what: "DATE_PART of anything but a constant 'year', 'month', 'day', \
                               'quarter', 'dow', 'doy', 'week', 'hour', 'minute', 'second', \
                               'millisecond', 'microsecond' or 'epoch'"
                            .into(),
                        position: pos(args[0]),
                    });
                };
                self.extract(part, bound(1, scope)?, pos(args[1]))
            }
            "date_trunc" => {
                arity(2, 2)?;
                let field = match fold(bound(0, scope)?)? {
                    Expr::Literal(Literal {
                        value: Scalar::Utf8(name),
                        ..
                    }) => TruncField::named(&name),
                    _ => None,
                };
                let Some(field) = field else {
                    return Err(Error::Unsupported {
                        what: "DATE_TRUNC of anything but a constant 'microseconds', \
                               'milliseconds', 'second', 'minute', 'hour', 'day', 'week', \
                               'month', 'quarter', 'year', 'decade', 'century' or 'millennium'"
                            .into(),
                        position: pos(args[0]),
                    });
                };
                let x = self.datetime(bound(1, scope)?, "DATE_TRUNC", pos(args[1]))?;
                let x = match x.ty() {
                    SqlType::Timestamp { .. } => x,
                    _ => coerce(x, SqlType::timestamp())?,
                };
                // A zoned value is truncated in the session zone, as PostgreSQL does: to a day
                // or more, the local midnight's instant; to an hour or less, keeping its offset.
                let zone = crate::sql::session_zone();
                let zoned = matches!(x.ty(), SqlType::Timestamp { zoned: true, .. });
                if zoned
                    && !zone.is_utc()
                    && field
                        .units(TimeUnit::Nanosecond)
                        .is_some_and(|n| n < crate::ir::time::NANOS_PER_DAY)
                {
                    return Expr::func(Func::DateTruncIn(field, zone), vec![x])
                        .map_err(|e| e.at(at));
                }
                let t = Expr::func(Func::DateTrunc(field), vec![local_time(x)?])
                    .map_err(|e| e.at(at))?;
                instant(t, zoned)
            }
            "to_char" | "strftime" => {
                arity(2, 2)?;
                let style = if name == "to_char" {
                    FormatStyle::ToChar
                } else {
                    FormatStyle::Strftime
                };
                let x = self.datetime(bound(0, scope)?, &name.to_uppercase(), pos(args[0]))?;
                let x = match x.ty() {
                    SqlType::Timestamp { .. } => x,
                    _ => coerce(x, SqlType::timestamp())?,
                };
                // A zoned value prints its local time and zone in the session zone.
                let zone = crate::sql::session_zone();
                let in_zone =
                    matches!(x.ty(), SqlType::Timestamp { zoned: true, .. }) && !zone.is_utc();
                let format = match fold(bound(1, scope)?)? {
                    Expr::Literal(
                        l @ Literal {
                            value: Scalar::Utf8(_) | Scalar::Null,
                            ..
                        },
                    ) => l,
                    _ => {
                        return Err(Error::Unsupported {
                            what: format!(
                                "{} with a format that is not a constant string",
                                name.to_uppercase()
                            ),
                            position: pos(args[1]),
                        })
                    }
                };
                if let Scalar::Utf8(pattern) = &format.value {
                    // A bad format is an error of the query, found before any row.
                    let mut probe = String::new();
                    crate::ir::time::format_pattern(
                        &mut probe,
                        0,
                        TimeUnit::Second,
                        None,
                        pattern,
                        style,
                    )
                    .map_err(|message| Error::Type {
                        message,
                        position: pos(args[1]),
                    })?;
                }
                let format = coerce(Expr::Literal(format), SqlType::Utf8)?;
                let func = if in_zone {
                    Func::FormatIn(style, zone)
                } else {
                    Func::Format(style)
                };
                Expr::func(func, vec![x, format]).map_err(|e| e.at(at))
            }
            "now"
            | "current_timestamp"
            | "transaction_timestamp"
            | "statement_timestamp"
            | "localtimestamp"
            | "current_date" => {
                arity(0, 0)?;
                // Fixed once per query: the binder's clock, read when it was made.
                let (value, ty) = match name.as_str() {
                    "current_date" => {
                        let local = crate::sql::session_zone()
                            .to_local(self.now_micros, TimeUnit::Microsecond)
                            .unwrap_or(self.now_micros);
                        let days = local.div_euclid(86_400_000_000);
                        let days = i32::try_from(days)
                            .map_err(|_| Error::internal("the clock is past the DATE range"))?;
                        (Scalar::Date(days), SqlType::Date)
                    }
                    "localtimestamp" => (
                        Scalar::Timestamp(
                            crate::sql::session_zone()
                                .to_local(self.now_micros, TimeUnit::Microsecond)
                                .unwrap_or(self.now_micros),
                        ),
                        SqlType::timestamp(),
                    ),
                    _ => (
                        Scalar::Timestamp(self.now_micros),
                        SqlType::Timestamp {
                            unit: TimeUnit::Microsecond,
                            zoned: true,
                        },
                    ),
                };
                Expr::literal(value, ty)
            }
            "greatest" | "least" => {
                arity(1, usize::MAX)?;
                let items: Vec<Expr> = (0..args.len())
                    .map(|i| bound(i, scope))
                    .collect::<Result<_>>()?;
                self.extreme(name == "greatest", items, at)
            }
            "substring" | "substr" => {
                arity(2, 3)?;
                let s = bound(0, scope)?;
                let start = bound(1, scope)?;
                let len = if args.len() == 3 {
                    Some(bound(2, scope)?)
                } else {
                    None
                };
                self.substring(s, start, len, at)
            }
            _ => match Func::called(&name) {
                Some(func) => {
                    let (lo, hi) = func.arity();
                    arity(lo, hi)?;
                    let mut bound_args: Vec<Expr> = (0..args.len())
                        .map(|i| bound(i, scope))
                        .collect::<Result<_>>()?;
                    let defaulted = match func {
                        Func::Trim { .. } => bound_args.len() == 1,
                        Func::Pad { .. } => bound_args.len() == 2,
                        _ => false,
                    };
                    if defaulted {
                        bound_args.push(space()?);
                    }
                    self.call(func, bound_args, at)
                }
                None => Err(Error::UnknownFunction {
                    suggestion: closest(&name, SQL_NAMES.iter().copied()),
                    name,
                    position: at,
                }),
            },
        }
    }

    /// `func(args)` with each argument converted to the type [`Func::params`] gives it.
    pub(super) fn call(&self, func: Func, args: Vec<Expr>, at: Option<Position>) -> Result<Expr> {
        let types: Vec<SqlType> = args.iter().map(Expr::ty).collect();
        let name = func.name();
        let params = func.params(&types).ok_or_else(|| {
            let takes_numbers = func.params(&vec![SqlType::Float64; types.len()]).is_some();
            let message = match types
                .iter()
                .find(|t| !t.is_numeric() && **t != SqlType::Null)
            {
                Some(t) if takes_numbers => format!("{name}() needs a number, not {t}"),
                _ => format!(
                    "{name}() does not take ({})",
                    types
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            Error::Type {
                message,
                position: at,
            }
        })?;
        let args = args
            .into_iter()
            .zip(params)
            .map(|(a, t)| {
                if a.ty().is_numeric() && t.is_numeric() && a.ty() != t {
                    coerce(a, t)
                } else {
                    self.to_type(a, t, &name, at)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Expr::func(func, args)
    }

    /// `LEFT(s, n)`: the first `n` characters, or all but the last `-n`; `RIGHT(s, n)`: the
    /// last `n`, or all but the first `-n` (PostgreSQL's). As `SUBSTRING`, each operand once:
    /// `LEFT ≡ LET $s, $n IN SUBSTRING($s, 1, CASE WHEN $n >= 0 THEN $n
    ///   WHEN $n < 0 THEN GREATEST(LENGTH($s) + $n, 0) END)`,
    /// `RIGHT ≡ … SUBSTRING($s, CASE WHEN $n >= 0 THEN LENGTH($s) - $n + 1 WHEN $n < 0 THEN 1 - $n END)`.
    pub(super) fn left_right(
        &self,
        left: bool,
        s: Expr,
        n: Expr,
        at: Option<Position>,
    ) -> Result<Expr> {
        let what = if left { "LEFT" } else { "RIGHT" };
        let s = self.to_type(s, SqlType::Utf8, what, at)?;
        let t = n.ty();
        if !(t.is_integer() || t == SqlType::Null) {
            return Err(Error::Type {
                message: format!("{what}() needs an integer count, not {t}"),
                position: at,
            });
        }
        let n = coerce(n, SqlType::Int64)?;
        let int = |v: i64| Expr::literal(Scalar::Int(v), SqlType::Int64);
        self.share(s, |s| {
            self.share(n, |n| {
                let length = coerce(Expr::func(Func::Length, vec![s.clone()])?, SqlType::Int64)?;
                let non_negative = self.comparison(BinaryOp::GtEq, n.clone(), int(0)?, at)?;
                let negative = self.comparison(BinaryOp::Lt, n.clone(), int(0)?, at)?;
                let (when_non_negative, when_negative, start) = if left {
                    let rest = self.arithmetic(BinaryOp::Add, length, n.clone(), at)?;
                    let rest = self.extreme(true, vec![rest, int(0)?], at)?;
                    (n, rest, None)
                } else {
                    let from_end = self.arithmetic(BinaryOp::Sub, length, n.clone(), at)?;
                    let from_end = self.arithmetic(BinaryOp::Add, from_end, int(1)?, at)?;
                    let after = self.arithmetic(BinaryOp::Sub, int(1)?, n, at)?;
                    (from_end, after, Some(()))
                };
                let chosen = Expr::case(
                    vec![(non_negative, when_non_negative), (negative, when_negative)],
                    None,
                    SqlType::Int64,
                )?;
                match start {
                    None => self.substring(s, int(1)?, Some(chosen), at),
                    Some(()) => self.substring(s, chosen, None, at),
                }
            })
        })
    }

    /// `CONCAT(items)`: the text of every item that is not NULL, one after another (never
    /// NULL): `COALESCE(CAST(a AS VARCHAR), '') || COALESCE(CAST(b AS VARCHAR), '') || …`.
    pub(super) fn concat(&self, items: Vec<Expr>) -> Result<Expr> {
        let empty = || Expr::literal(Scalar::Utf8(String::new()), SqlType::Utf8);
        let mut text = items.into_iter().map(|item| {
            let item = coerce(item, SqlType::Utf8)?;
            self.share(item, |i| {
                Expr::case(
                    vec![(Expr::is_null(i.clone(), true), i)],
                    Some(empty()?),
                    SqlType::Utf8,
                )
            })
        });
        let first = text.next().unwrap_or_else(empty)?;
        text.try_fold(first, |acc, t| Expr::binary(BinaryOp::Concat, acc, t?))
    }

    /// `STARTS_WITH(s, p)` / `ENDS_WITH(s, p)`: `s LIKE 'p%'` (or `'%p'`, with `p`'s wildcards
    /// escaped) when `p` is a constant, else `LEFT(s, LENGTH(p)) = p` (or `RIGHT`).
    pub(super) fn affix(
        &self,
        starts: bool,
        s: Expr,
        affix: Expr,
        at: Option<Position>,
    ) -> Result<Expr> {
        let what = if starts { "STARTS_WITH" } else { "ENDS_WITH" };
        let s = self.to_type(s, SqlType::Utf8, what, at)?;
        let affix = self.to_type(affix, SqlType::Utf8, what, at)?;
        if let Expr::Literal(Literal {
            value: Scalar::Utf8(text),
            ..
        }) = fold(affix.clone())?
        {
            let mut pattern = String::with_capacity(text.len() + 1);
            if !starts {
                pattern.push('%');
            }
            for c in text.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            if starts {
                pattern.push('%');
            }
            return Expr::like(s, pattern, Some('\\'), false, false);
        }
        self.share(affix, |p| {
            let length = Expr::func(Func::Length, vec![p.clone()])?;
            let part = self.left_right(starts, s, length, at)?;
            self.comparison(BinaryOp::Eq, part, p, at)
        })
    }

    /// `GREATEST(items)` (or `LEAST`): the largest (smallest) item that is not NULL, NULL if all
    /// are, at the items' common type. Each item is evaluated once:
    /// `GREATEST(a, b) ≡ LET $1 = a IN LET $2 = b IN
    ///   CASE WHEN $2 IS NULL OR $1 >= $2 THEN $1 ELSE $2 END` (a NULL `$1` gives `$2`),
    /// folded left over more items. Floats order as comparisons do (NaN is the largest).
    pub(super) fn extreme(
        &self,
        greatest: bool,
        items: Vec<Expr>,
        at: Option<Position>,
    ) -> Result<Expr> {
        let what = if greatest { "GREATEST" } else { "LEAST" };
        let ty = self.common(&items.iter().collect::<Vec<_>>(), what, at)?;
        let mut items = items.into_iter().map(|i| coerce(i, ty));
        let Some(first) = items.next() else {
            return Err(Error::internal("GREATEST/LEAST arity"));
        };
        let op = if greatest {
            BinaryOp::GtEq
        } else {
            BinaryOp::LtEq
        };
        items.try_fold(first?, |acc, item| {
            let item = item?;
            self.share(acc, |a| {
                self.share(item, |b| {
                    let keep = Expr::binary(
                        BinaryOp::Or,
                        Expr::is_null(b.clone(), false),
                        self.comparison(op, a.clone(), b.clone(), at)?,
                    )?;
                    Expr::case(vec![(keep, a)], Some(b), ty)
                })
            })
        })
    }

    pub(super) fn substring(
        &self,
        s: Expr,
        start: Expr,
        len: Option<Expr>,
        at: Option<Position>,
    ) -> Result<Expr> {
        let s = self.to_type(s, SqlType::Utf8, "SUBSTRING", at)?;
        let int = |x: Expr| -> Result<Expr> {
            let t = x.ty();
            if t.is_integer() || t == SqlType::Null {
                coerce(x, SqlType::Int64)
            } else {
                Err(Error::Type {
                    message: format!("SUBSTRING positions must be integers, not {t}"),
                    position: at,
                })
            }
        };
        let mut args = vec![s, int(start)?];
        if let Some(l) = len {
            args.push(int(l)?);
        }
        Expr::func(Func::Substring, args)
    }
}
