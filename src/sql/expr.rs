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

use std::cell::Cell;

use arrow::datatypes::Schema;
use sqlparser::ast::{
    self, BinaryOperator, CastKind, DateTimeField, FunctionArg, FunctionArgExpr, FunctionArguments,
    Spanned, UnaryOperator, Value,
};

use super::coerce::{arithmetic_types, coerce, common_type_all, common_type_of};
use super::fold::fold;
use crate::error::{closest, Error, Position, Result};
use crate::ir::func::SQL_NAMES;
use crate::ir::{
    scalar, AggFunc, AggregateCall, BinaryOp, ColumnRef, DatePart, Expr, Func, Literal, Scalar,
    SqlType, UnaryOp,
};

/// How deeply bound expressions may nest. Left-deep chains (`a OR b OR c …`) are not limited by
/// the parser's recursion limit, so the binder enforces one for every stage after it. A chain of
/// binary operators (`a + b - c + …`, `x OR y OR …`, `s || t || …`) counts as one level, up to
/// [`MAX_CHAIN_LENGTH`] operators.
pub const MAX_EXPR_DEPTH: usize = 400;

/// The most binary operators in one left-deep chain (a sum of 5,000 terms binds). Every pass
/// over a chain recurses along it, on a stack of at least 2 MiB (the default of a Rust thread).
pub const MAX_CHAIN_LENGTH: usize = 5_000;

/// `' '`: what `TRIM` removes by default.
fn space() -> Result<Expr> {
    Expr::literal(Scalar::Utf8(" ".into()), SqlType::Utf8)
}

/// The aggregate function a name denotes, if any.
pub fn aggregate_of(name: &str) -> Option<AggFunc> {
    match name {
        "count" => Some(AggFunc::Count),
        "sum" => Some(AggFunc::Sum),
        "avg" => Some(AggFunc::Avg),
        "min" => Some(AggFunc::Min),
        "max" => Some(AggFunc::Max),
        _ => None,
    }
}

/// The lower-cased name of a function call.
pub fn function_name(f: &ast::Function) -> String {
    f.name.to_string().to_lowercase()
}

/// Whether an expression contains an aggregate call (outside any subquery).
pub fn contains_aggregate(e: &ast::Expr) -> bool {
    use ast::Expr as E;
    let any = |es: &[&ast::Expr]| es.iter().any(|e| contains_aggregate(e));
    match e {
        E::Function(f) => {
            // `sum(x) OVER (…)` is a window function, not an aggregation of the query.
            (aggregate_of(&function_name(f)).is_some() && f.over.is_none())
                || match &f.args {
                    FunctionArguments::List(l) => l.args.iter().any(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => contains_aggregate(e),
                        _ => false,
                    }),
                    _ => false,
                }
        }
        E::BinaryOp { left, right, .. } => any(&[left, right]),
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::Cast { expr, .. }
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsNotTrue(expr)
        | E::IsFalse(expr)
        | E::IsNotFalse(expr)
        | E::Extract { expr, .. } => contains_aggregate(expr),
        E::Between {
            expr, low, high, ..
        } => any(&[expr, low, high]),
        E::InList { expr, list, .. } => {
            contains_aggregate(expr) || list.iter().any(contains_aggregate)
        }
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => any(&[expr, pattern]),
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            contains_aggregate(expr)
                || substring_from.as_deref().is_some_and(contains_aggregate)
                || substring_for.as_deref().is_some_and(contains_aggregate)
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref().is_some_and(contains_aggregate)
                || conditions
                    .iter()
                    .any(|w| contains_aggregate(&w.condition) || contains_aggregate(&w.result))
                || else_result.as_deref().is_some_and(contains_aggregate)
        }
        _ => false,
    }
}

/// The position where an AST expression starts.
///
/// Follows the leftmost operand down to where the text starts instead of asking sqlparser for
/// the span of the whole expression, which recurses over every node (and over the whole rest of
/// a long `a OR b OR …` chain at each level).
pub fn pos(e: &ast::Expr) -> Option<Position> {
    use ast::Expr as E;
    let mut e = e;
    loop {
        e = match e {
            E::BinaryOp { left, .. } => left,
            E::IsNull(x) | E::IsNotNull(x) | E::IsTrue(x) | E::IsNotTrue(x) => x,
            E::IsFalse(x) | E::IsNotFalse(x) => x,
            E::InList { expr, .. } | E::Between { expr, .. } => expr,
            E::Like { expr, .. } | E::ILike { expr, .. } => expr,
            _ => break,
        };
    }
    crate::stack::guard_deep(|| Position::from_span(e.span()))
}

/// Group keys and aggregates collected while binding the expressions after an aggregation.
#[derive(Debug, Default)]
pub struct Groups {
    /// Group keys, over the scan batch.
    pub keys: Vec<Expr>,
    /// Aggregate calls found so far, over the scan batch.
    pub aggregates: Vec<AggregateCall>,
}

impl Groups {
    /// A reference to column `index` of the aggregate batch.
    fn column(&self, index: usize, name: String, ty: SqlType, nullable: bool) -> Expr {
        Expr::column(ColumnRef {
            index,
            name,
            ty,
            data_type: ty.to_arrow(),
            nullable,
        })
    }

    fn key_ref(&self, e: &Expr) -> Option<Expr> {
        let i = self.keys.iter().position(|k| k == e)?;
        let name = match e {
            Expr::Column(c) => c.name.clone(),
            _ => format!("key{i}"),
        };
        Some(self.column(i, name, e.ty(), e.nullable()))
    }

    fn aggregate_ref(&mut self, call: AggregateCall) -> Expr {
        let i = match self.aggregates.iter().position(|a| *a == call) {
            Some(i) => i,
            None => {
                self.aggregates.push(call.clone());
                self.aggregates.len() - 1
            }
        };
        let name = call.to_string();
        self.column(self.keys.len() + i, name, call.ty, call.nullable())
    }
}

/// Where an expression is bound.
pub enum Scope<'g> {
    /// Over input rows (`WHERE`, `GROUP BY`, a non-aggregate `SELECT`); `clause` names the clause
    /// for the "aggregates are not allowed here" error.
    Rows { clause: &'static str },
    /// After an aggregation (`SELECT`, `HAVING`, `ORDER BY` of an aggregate query).
    Groups(&'g mut Groups),
}

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
}

/// What an AST node binds to: a value, or an interval (which only date arithmetic accepts).
enum Bound {
    Value(Expr),
    Interval { months: i32, days: i32 },
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
        let ty =
            SqlType::from_arrow(field.data_type()).ok_or_else(|| Error::UnsupportedColumnType {
                column: field.name().clone(),
                data_type: field.data_type().to_string(),
            })?;
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
            Bound::Interval { .. } => Err(Error::Type {
                message: "an INTERVAL can only be added to or subtracted from a DATE".into(),
                position: pos(e),
            }),
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
                let (months, days) = interval_value(interval).map_err(|err| err.at(pos(e)))?;
                Ok(Bound::Interval { months, days })
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
                    other => {
                        return Err(Error::Unsupported {
                            what: format!(
                                "EXTRACT({other}) (YEAR, MONTH, DAY, QUARTER, DOW, DOY and WEEK \
                                 of a DATE are supported)"
                            ),
                            position: pos(e),
                        })
                    }
                };
                let arg = self.bind_expr(expr, scope, d)?;
                let arg = self.to_type(arg, SqlType::Date, "EXTRACT", pos(expr))?;
                v(Expr::func(Func::Extract(part), vec![arg]))
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

    /// Binds an aggregate call's argument over input rows.
    fn bind_aggregate(
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

    fn bind_function(
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
                               'quarter', 'dow', 'doy' or 'week'"
                            .into(),
                        position: pos(args[0]),
                    });
                };
                let d = self.to_type(bound(1, scope)?, SqlType::Date, "DATE_PART", at)?;
                Expr::func(Func::Extract(part), vec![d])
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
    fn call(&self, func: Func, args: Vec<Expr>, at: Option<Position>) -> Result<Expr> {
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
    fn left_right(&self, left: bool, s: Expr, n: Expr, at: Option<Position>) -> Result<Expr> {
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
    fn concat(&self, items: Vec<Expr>) -> Result<Expr> {
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
    fn affix(&self, starts: bool, s: Expr, affix: Expr, at: Option<Position>) -> Result<Expr> {
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
    fn extreme(&self, greatest: bool, items: Vec<Expr>, at: Option<Position>) -> Result<Expr> {
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

    fn substring(
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

    fn bind_case(
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
    fn case_branches(
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

    fn bind_binary(
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
            (Bound::Value(date), Bound::Interval { months, days })
                if matches!(op, BinaryOp::Add | BinaryOp::Sub) =>
            {
                let (months, days) = if op == BinaryOp::Sub {
                    match (months.checked_neg(), days.checked_neg()) {
                        (Some(m), Some(d)) => (m, d),
                        _ => {
                            return Err(Error::Type {
                                message: "the INTERVAL is out of range when negated".into(),
                                position: at,
                            })
                        }
                    }
                } else {
                    (months, days)
                };
                return self.add_interval(date, months, days, at).map(Bound::Value);
            }
            (Bound::Interval { months, days }, Bound::Value(date)) if op == BinaryOp::Add => {
                return self.add_interval(date, months, days, at).map(Bound::Value);
            }
            _ => {
                return Err(Error::Type {
                    message: format!(
                        "operator {} does not accept an INTERVAL here; intervals can only be added to or subtracted from a DATE",
                        op.symbol()
                    ),
                    position: at,
                })
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

    fn arithmetic(&self, op: BinaryOp, l: Expr, r: Expr, at: Option<Position>) -> Result<Expr> {
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
            _ => {}
        }
        // A string literal next to a number takes the number's type.
        let (l, r) = match (
            super::coerce::is_string_literal(&l),
            super::coerce::is_string_literal(&r),
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

    /// `date + INTERVAL`: months first, then days.
    fn add_interval(
        &self,
        date: Expr,
        months: i32,
        days: i32,
        at: Option<Position>,
    ) -> Result<Expr> {
        let date = match date.ty() {
            SqlType::Date => date,
            SqlType::Null => coerce(date, SqlType::Date)?,
            _ if super::coerce::is_string_literal(&date) => coerce(date, SqlType::Date)?,
            t => {
                return Err(Error::Type {
                    message: format!("an INTERVAL can only be added to a DATE, not {t}"),
                    position: at,
                })
            }
        };
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

    fn common(&self, items: &[&Expr], what: &str, at: Option<Position>) -> Result<SqlType> {
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
    fn to_type(&self, e: Expr, ty: SqlType, what: &str, at: Option<Position>) -> Result<Expr> {
        let t = e.ty();
        if t == ty {
            Ok(e)
        } else if t == SqlType::Null
            || (super::coerce::is_string_literal(&e) && ty != SqlType::Utf8)
        {
            coerce(e, ty).map_err(|err| err.at(at))
        } else {
            Err(Error::Type {
                message: format!("{what} needs {ty}, not {t}"),
                position: at,
            })
        }
    }

    fn numeric(&self, e: Expr, what: &str, at: Option<Position>) -> Result<Expr> {
        match e.ty() {
            t if t.is_numeric() => Ok(e),
            SqlType::Null => coerce(e, SqlType::Int32),
            t => Err(Error::Type {
                message: format!("{what}() needs a number, not {t}"),
                position: at,
            }),
        }
    }

    /// A constant string operand (a LIKE pattern, an ESCAPE character); `None` for NULL.
    fn constant_string(
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
    fn literal(&self, value: &Value) -> Result<Expr> {
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
fn ends_with_escape(pattern: &str, escape: Option<char>) -> bool {
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
fn interval_value(interval: &ast::Interval) -> Result<(i32, i32)> {
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
