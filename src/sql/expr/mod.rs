//! Expression binding: a sqlparser `Expr` → a typed [`ir::Expr`](crate::ir::Expr).
//!
//! Names are resolved against the table's Arrow schema (case-insensitively unless quoted),
//! operands are coerced to the types their operators take ([`super::coerce`]), and SQL sugar is
//! lowered to the IR's smaller set of nodes: `BETWEEN` to two comparisons, simple `CASE` to
//! searched `CASE`, `COALESCE` and `NULLIF` to `CASE`, `date ± INTERVAL` to date functions.
//!
//! In an aggregate query, expressions after the aggregation are bound in a [`Scope::Groups`]:
//! an aggregate call becomes a reference to its result column, and a sub-expression equal to a
//! group key becomes a reference to that key; any other column reference is an error.
//!
//! This module holds the binder and its walk over the syntax tree; its parts are `scope`
//! (names, positions, the scope after an aggregation), `operators`, `functions` (aggregates and
//! the scalar functions of [`crate::ir::func`]) and `literals` (constants, numbers, intervals and
//! type names).

mod functions;
mod literals;
mod operators;
mod scope;

pub use literals::{number_literal, sql_type};
pub use scope::{aggregate_of, contains_aggregate, function_name, pos, Groups, Scope};

use std::cell::Cell;

use arrow::datatypes::Schema;
use sqlparser::ast::{self, CastKind, DateTimeField, UnaryOperator, Value};

use super::coerce::{coerce, common_type_all};
use super::fold::fold;
use crate::error::{closest, Error, Position, Result};
use crate::ir::{BinaryOp, ColumnRef, DatePart, Expr, Func, Interval, Scalar, SqlType, UnaryOp};
use functions::space;
use literals::{ends_with_escape, interval_value};

/// How deeply bound expressions may nest. Left-deep chains (`a OR b OR c …`) are not limited by
/// the parser's recursion limit, so the binder enforces one for every stage after it. A chain of
/// binary operators (`a + b - c + …`, `x OR y OR …`, `s || t || …`) counts as one level, up to
/// [`MAX_CHAIN_LENGTH`] operators.
pub const MAX_EXPR_DEPTH: usize = 400;

/// The most binary operators in one left-deep chain (a sum of 5,000 terms binds). Every pass
/// over a chain recurses along it, on a stack of at least 2 MiB (the default of a Rust thread).
pub const MAX_CHAIN_LENGTH: usize = 5_000;

/// How many nodes the bound expressions of one query may have in total. A plan grows linearly
/// with the query's text (repeated operands are shared through [`Expr::Let`]); the limit keeps a
/// generated query of megabytes from taking the process's memory, and leaves room for wide
/// projections and long `IN` lists.
pub const MAX_PLAN_NODES: usize = 250_000;

/// Binds expressions against one table.
pub struct ExprBinder<'a> {
    pub table: &'a str,
    /// An alias given in `FROM t AS alias`, also accepted as a qualifier.
    pub alias: Option<String>,
    pub schema: &'a Schema,
    /// The last [`Expr::Let`] id handed out: ids are unique within a query.
    lets: Cell<u32>,
    /// The nodes of the expressions bound so far (see [`MAX_PLAN_NODES`]).
    nodes: Cell<usize>,
    /// Set while binding the left operand of a binary operator that is itself one: the chain
    /// continues (see [`MAX_CHAIN_LENGTH`]).
    in_chain: Cell<bool>,
    /// `NOW()`, `CURRENT_TIMESTAMP`, `CURRENT_DATE`: microseconds since 1970-01-01 UTC, read
    /// once when the binder is made, so every call in a query gives the same instant (and the
    /// kernel, whose cache key is the plan's text, is never stale).
    pub now_micros: i64,
    /// Set once a column of a pass-through type ([`SqlType::Other`]) is bound: a type error of
    /// the query is then an unsupported operation on it ([`ExprBinder::saw_other`]).
    pub saw_other: Cell<bool>,
}

/// What an AST node binds to: a value, or an interval (which only date arithmetic accepts).
enum Bound {
    Value(Expr),
    Interval(Interval),
}

impl<'a> ExprBinder<'a> {
    /// A binder for the table `table` (also called `alias`) with schema `schema`.
    pub fn new(table: &'a str, alias: Option<String>, schema: &'a Schema) -> Self {
        ExprBinder {
            table,
            alias,
            schema,
            lets: Cell::new(0),
            nodes: Cell::new(0),
            in_chain: Cell::new(false),
            saw_other: Cell::new(false),
            now_micros: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        }
    }

    /// Binds `e` in `scope`, then folds constants.
    pub fn bind(&self, e: &ast::Expr, scope: &mut Scope) -> Result<Expr> {
        let bound = self.bind_expr(e, scope, 0)?;
        let room = MAX_PLAN_NODES.saturating_sub(self.nodes.get());
        let n = bound.count_nodes_up_to(room);
        if n > room {
            return Err(Error::Plan {
                message: format!(
                    "the query's plan would have more than {MAX_PLAN_NODES} nodes; \
                     split the query into smaller ones"
                ),
                position: pos(e),
            });
        }
        self.nodes.set(self.nodes.get() + n);
        fold(bound)
    }

    /// `LET $id = value IN body(var)` with a fresh id (see [`Expr::share`]): how the binder
    /// repeats an operand without copying it.
    fn share(&self, value: Expr, body: impl FnOnce(Expr) -> Result<Expr>) -> Result<Expr> {
        let id = self.lets.get() + 1;
        self.lets.set(id);
        Expr::share(id, value, body)
    }

    /// Resolves a column name to a reference into the source schema.
    pub fn column(&self, ident: &ast::Ident) -> Result<Expr> {
        let fields = self.schema.fields();
        let exact: Vec<usize> = (0..fields.len())
            .filter(|&i| fields[i].name() == &ident.value)
            .collect();
        let found = if ident.quote_style.is_some() || !exact.is_empty() {
            exact
        } else {
            (0..fields.len())
                .filter(|&i| fields[i].name().eq_ignore_ascii_case(&ident.value))
                .collect()
        };
        let position = Position::from_span(ident.span);
        let index = match found.as_slice() {
            [i] => *i,
            [] => {
                return Err(Error::UnknownColumn {
                    name: ident.value.clone(),
                    table: self.table.to_string(),
                    suggestion: closest(&ident.value, fields.iter().map(|f| f.name().as_str())),
                    position,
                    double_quoted: ident.quote_style == Some('"'),
                })
            }
            _ => {
                return Err(Error::Plan {
                    message: format!(
                        "column name '{}' is ambiguous (the table has several columns that differ only in case); quote it to pick one",
                        ident.value
                    ),
                    position,
                })
            }
        };
        let field = &fields[index];
        // A type qjit does not compute on passes through (see `SqlType::Other`).
        let ty = SqlType::from_arrow(field.data_type())
            .or_else(|| SqlType::passthrough(field.data_type()))
            .ok_or_else(|| Error::UnsupportedColumnType {
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            })?;
        if ty.is_other() {
            self.saw_other.set(true);
        }
        Ok(Expr::column(ColumnRef {
            index,
            name: field.name().clone(),
            ty,
            data_type: field.data_type().clone(),
            nullable: field.is_nullable(),
        }))
    }

    fn bind_expr(&self, e: &ast::Expr, scope: &mut Scope, depth: usize) -> Result<Expr> {
        match self.bind_any(e, scope, depth)? {
            Bound::Value(v) => Ok(v),
            Bound::Interval(iv) => Expr::literal(Scalar::Interval(iv), SqlType::Interval),
        }
    }

    fn bind_any(&self, e: &ast::Expr, scope: &mut Scope, depth: usize) -> Result<Bound> {
        crate::stack::guard(|| self.bind_node(e, scope, depth))
    }

    fn bind_node(&self, e: &ast::Expr, scope: &mut Scope, depth: usize) -> Result<Bound> {
        if depth > MAX_EXPR_DEPTH {
            return Err(Error::Plan {
                message: format!(
                    "the expression nests more than {MAX_EXPR_DEPTH} levels deep; simplify it"
                ),
                position: pos(e),
            });
        }
        // After an aggregation, a whole sub-expression may be a group key or an aggregate.
        if let Scope::Groups(groups) = scope {
            if let ast::Expr::Function(f) = e {
                if let Some(func) = aggregate_of(&function_name(f)).filter(|_| f.over.is_none()) {
                    let call = self.bind_aggregate(f, func, e)?;
                    return Ok(Bound::Value(groups.aggregate_ref(call)));
                }
            }
            if !contains_aggregate(e) && !matches!(e, ast::Expr::Interval(_)) {
                let row = fold(self.bind_expr(e, &mut Scope::Rows { clause: "" }, depth)?)?;
                if let Some(key) = groups.key_ref(&row) {
                    return Ok(Bound::Value(key));
                }
                if row.is_constant() {
                    return Ok(Bound::Value(row));
                }
                if let Expr::Column(c) = &row {
                    return Err(Error::Plan {
                        message: format!(
                            "column '{}' must appear in the GROUP BY clause or be used in an aggregate function",
                            c.name
                        ),
                        position: pos(e),
                    });
                }
            }
        }
        let d = depth + 1;
        let v = |x: Result<Expr>| x.map(Bound::Value);
        use ast::Expr as E;
        match e {
            E::Identifier(ident) => match scope {
                Scope::Rows { .. } => v(self.column(ident)),
                Scope::Groups(_) => Err(Error::internal("ungrouped column not caught")),
            },
            E::CompoundIdentifier(parts) => {
                let [qualifier, name] = parts.as_slice() else {
                    return Err(Error::Unsupported {
                        what: format!("the qualified name '{e}'"),
                        position: pos(e),
                    });
                };
                let q = &qualifier.value;
                let known = q.eq_ignore_ascii_case(self.table)
                    || self
                        .alias
                        .as_deref()
                        .is_some_and(|a| q.eq_ignore_ascii_case(a));
                if !known {
                    return Err(Error::UnknownTable {
                        name: q.clone(),
                        expected: self.table.to_string(),
                        position: Position::from_span(qualifier.span),
                    });
                }
                self.bind_any(&E::Identifier(name.clone()), scope, d)
            }
            E::Value(value) => v(self.literal(&value.value).map_err(|err| err.at(pos(e)))),
            E::TypedString(ts) => {
                let text = match &ts.value.value {
                    Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                let text = Expr::literal(Scalar::Utf8(text), SqlType::Utf8)?;
                let ty = sql_type(&ts.data_type, &text).map_err(|err| err.at(pos(e)))?;
                v(coerce(text, ty).map_err(|err| err.at(pos(e))))
            }
            E::Interval(interval) => {
                let iv = interval_value(interval).map_err(|err| err.at(pos(e)))?;
                Ok(Bound::Interval(iv))
            }
            E::Nested(inner) => self.bind_any(inner, scope, d),
            E::UnaryOp {
                op: UnaryOperator::Minus,
                expr: inner,
            } if matches!(
                inner.as_ref(),
                E::Value(ast::ValueWithSpan {
                    value: Value::Number(..),
                    ..
                })
            ) =>
            {
                // `-2147483648` is one INTEGER literal, not the negation of a BIGINT.
                let E::Value(ast::ValueWithSpan {
                    value: Value::Number(text, _),
                    ..
                }) = inner.as_ref()
                else {
                    return Err(Error::internal("negative literal lost its number"));
                };
                v(number_literal(&format!("-{text}")).map_err(|err| err.at(pos(e))))
            }
            E::UnaryOp { op, expr } => {
                let arg = self.bind_expr(expr, scope, d)?;
                let at = pos(e);
                v(match op {
                    UnaryOperator::Not => {
                        Expr::unary(UnaryOp::Not, self.to_boolean(arg, "NOT", at)?)
                    }
                    UnaryOperator::Minus | UnaryOperator::Plus => {
                        let t = arg.ty();
                        let arg = if t == SqlType::Null {
                            coerce(arg, SqlType::Int32)?
                        } else if t.is_numeric() {
                            arg
                        } else {
                            return Err(Error::Type {
                                message: format!("unary {op} does not accept {t}"),
                                position: at,
                            });
                        };
                        if *op == UnaryOperator::Plus {
                            Ok(arg)
                        } else {
                            Expr::unary(UnaryOp::Neg, arg)
                        }
                    }
                    other => Err(Error::Unsupported {
                        what: format!("the unary operator {other}"),
                        position: at,
                    }),
                })
            }
            E::BinaryOp { left, op, right } => self.bind_binary(e, left, op, right, scope, d),
            E::IsNull(x) => v(Ok(Expr::is_null(self.bind_expr(x, scope, d)?, false))),
            E::IsNotNull(x) => v(Ok(Expr::is_null(self.bind_expr(x, scope, d)?, true))),
            E::IsTrue(x) | E::IsNotTrue(x) | E::IsFalse(x) | E::IsNotFalse(x) => {
                let arg = self.bind_expr(x, scope, d)?;
                let arg = self.to_boolean(arg, "IS TRUE/FALSE", pos(x))?;
                let want = matches!(e, E::IsTrue(_) | E::IsNotTrue(_));
                let negated = matches!(e, E::IsNotTrue(_) | E::IsNotFalse(_));
                // x IS TRUE ≡ CASE WHEN x THEN TRUE ELSE FALSE END (never NULL); the NOT forms
                // swap the two results; IS [NOT] FALSE tests NOT x.
                let cond = if want {
                    arg
                } else {
                    Expr::unary(UnaryOp::Not, arg)?
                };
                let hit = Expr::boolean(!negated);
                v(Expr::case(
                    vec![(cond, hit)],
                    Some(Expr::boolean(negated)),
                    SqlType::Boolean,
                ))
            }
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.bind_expr(expr, scope, d)?;
                let lo = self.bind_expr(low, scope, d)?;
                let hi = self.bind_expr(high, scope, d)?;
                let at = pos(e);
                v(self.share(x, |x| {
                    let ge = self.comparison(BinaryOp::GtEq, x.clone(), lo, at)?;
                    let le = self.comparison(BinaryOp::LtEq, x, hi, at)?;
                    let between = Expr::binary(BinaryOp::And, ge, le)?;
                    if *negated {
                        Expr::unary(UnaryOp::Not, between)
                    } else {
                        Ok(between)
                    }
                }))
            }
            E::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.bind_expr(expr, scope, d)?;
                let items: Vec<Expr> = list
                    .iter()
                    .map(|i| self.bind_expr(i, scope, d))
                    .collect::<Result<_>>()?;
                let ty = common_type_all(std::iter::once(&x).chain(&items)).ok_or_else(|| {
                    Error::Type {
                        message: format!(
                            "IN compares {} with a list of incompatible types ({})",
                            x.ty(),
                            items
                                .iter()
                                .map(|i| i.ty().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        position: pos(e),
                    }
                })?;
                if ty == SqlType::Null {
                    return v(Ok(Expr::null(SqlType::Boolean)));
                }
                let x = coerce(x, ty).map_err(|err| err.at(pos(expr)))?;
                let items = items
                    .into_iter()
                    .map(|i| coerce(i, ty))
                    .collect::<Result<Vec<_>>>()
                    .map_err(|err| err.at(pos(e)))?;
                v(Expr::in_list(x, items, *negated))
            }
            E::InSubquery { .. } | E::Subquery(_) | E::Exists { .. } => Err(Error::Unsupported {
                what: "subqueries".into(),
                position: pos(e),
            }),
            E::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            }
            | E::ILike {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any {
                    return Err(Error::Unsupported {
                        what: "LIKE ANY".into(),
                        position: pos(e),
                    });
                }
                let insensitive = matches!(e, E::ILike { .. });
                let x = self.bind_expr(expr, scope, d)?;
                let x = match x.ty() {
                    SqlType::Utf8 => x,
                    SqlType::Null => coerce(x, SqlType::Utf8)?,
                    t => {
                        return Err(Error::Type {
                            message: format!("LIKE needs a VARCHAR to match, not {t}"),
                            position: pos(expr),
                        })
                    }
                };
                let pattern_expr = pattern.as_ref();
                let pattern = self.constant_string(pattern, scope, d, "the LIKE pattern")?;
                let escape = match escape_char {
                    None => Some('\\'),
                    Some(esc) => {
                        let Some(s) =
                            self.constant_string(esc, scope, d, "the ESCAPE character")?
                        else {
                            return v(Ok(Expr::null(SqlType::Boolean)));
                        };
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (None, _) => None,
                            (Some(c), None) => Some(c),
                            _ => {
                                return Err(Error::Type {
                                    message: format!("ESCAPE takes a single character, not '{s}'"),
                                    position: pos(esc),
                                })
                            }
                        }
                    }
                };
                match pattern {
                    None => v(Ok(Expr::null(SqlType::Boolean))),
                    Some(p) => {
                        if ends_with_escape(&p, escape) {
                            return Err(Error::Type {
                                message: format!(
                                    "the LIKE pattern '{p}' ends with its escape character; escape it too to match it literally"
                                ),
                                position: pos(pattern_expr),
                            });
                        }
                        v(Expr::like(x, p, escape, insensitive, *negated))
                    }
                }
            }
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.bind_case(
                e,
                operand.as_deref(),
                conditions,
                else_result.as_deref(),
                scope,
                d,
            ),
            E::Cast {
                kind,
                expr,
                data_type,
                format,
            } => {
                if format.is_some() || matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                    return Err(Error::Unsupported {
                        what: format!("{kind:?} with options"),
                        position: pos(e),
                    });
                }
                let arg = self.bind_expr(expr, scope, d)?;
                let ty = sql_type(data_type, &arg).map_err(|err| err.at(pos(e)))?;
                v(coerce(arg, ty).map_err(|err| err.at(pos(e))))
            }
            E::Extract { field, expr, .. } => {
                let part = match field {
                    DateTimeField::Year | DateTimeField::Years => DatePart::Year,
                    DateTimeField::Month | DateTimeField::Months => DatePart::Month,
                    DateTimeField::Day | DateTimeField::Days => DatePart::Day,
                    DateTimeField::Quarter => DatePart::Quarter,
                    DateTimeField::Dow | DateTimeField::DayOfWeek => DatePart::DayOfWeek,
                    DateTimeField::Doy | DateTimeField::DayOfYear => DatePart::DayOfYear,
                    DateTimeField::Week(None) | DateTimeField::Weeks => DatePart::Week,
                    DateTimeField::Hour | DateTimeField::Hours => DatePart::Hour,
                    DateTimeField::Minute | DateTimeField::Minutes => DatePart::Minute,
                    DateTimeField::Second | DateTimeField::Seconds => DatePart::Second,
                    DateTimeField::Millisecond | DateTimeField::Milliseconds => {
                        DatePart::Millisecond
                    }
                    DateTimeField::Microsecond | DateTimeField::Microseconds => {
                        DatePart::Microsecond
                    }
                    DateTimeField::Epoch => DatePart::Epoch,
                    other => {
                        return Err(Error::Unsupported {
                            what: format!(
                                "EXTRACT({other}) (YEAR, MONTH, DAY, QUARTER, DOW, DOY, WEEK, \
                                 HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND and EPOCH are \
                                 supported)"
                            ),
                            position: pos(e),
                        })
                    }
                };
                let arg = self.bind_expr(expr, scope, d)?;
                v(self.extract(part, arg, pos(expr)))
            }
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let s = self.bind_expr(expr, scope, d)?;
                let start = match substring_from {
                    Some(f) => self.bind_expr(f, scope, d)?,
                    None => Expr::literal(Scalar::Int(1), SqlType::Int64)?,
                };
                let len = substring_for
                    .as_deref()
                    .map(|f| self.bind_expr(f, scope, d))
                    .transpose()?;
                v(self.substring(s, start, len, pos(e)))
            }
            E::Floor { expr, field } | E::Ceil { expr, field }
                if matches!(
                    field,
                    ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime)
                ) =>
            {
                let func = if matches!(e, E::Floor { .. }) {
                    Func::Floor
                } else {
                    Func::Ceil
                };
                let arg = self.bind_expr(expr, scope, d)?;
                v(self.call(func, vec![arg], pos(e)))
            }
            E::Position { expr, r#in } => {
                let sub = self.bind_expr(expr, scope, d)?;
                let s = self.bind_expr(r#in, scope, d)?;
                v(self.call(Func::StrPos, vec![s, sub], pos(e)))
            }
            E::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                let (leading, trailing) = match trim_where {
                    Some(ast::TrimWhereField::Leading) => (true, false),
                    Some(ast::TrimWhereField::Trailing) => (false, true),
                    _ => (true, true),
                };
                let s = self.bind_expr(expr, scope, d)?;
                let chars = match (trim_what, trim_characters.as_deref()) {
                    (Some(w), _) => self.bind_expr(w, scope, d)?,
                    (None, Some([c])) => self.bind_expr(c, scope, d)?,
                    (None, None) => space()?,
                    (None, Some(_)) => {
                        return Err(Error::Type {
                            message: "TRIM takes one string of characters to remove".into(),
                            position: pos(e),
                        })
                    }
                };
                let func = Func::Trim { leading, trailing };
                v(self.call(func, vec![s, chars], pos(e)))
            }
            E::Function(f) => self.bind_function(e, f, scope, d).map(Bound::Value),
            E::Wildcard(_) | E::QualifiedWildcard(..) => Err(Error::Plan {
                message: "* is only allowed as a whole SELECT item or in COUNT(*)".into(),
                position: pos(e),
            }),
            other => Err(Error::Unsupported {
                what: format!("the expression '{other}'"),
                position: pos(e),
            }),
        }
    }
}
