//! What a name means where it is bound: aggregate names, positions, and the scope after an
//! aggregation (group keys and aggregate calls as columns of the aggregate batch).

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, FunctionArguments, Spanned};

use crate::error::Position;
use crate::ir::{AggFunc, AggregateCall, ColumnRef, Expr, SqlType};

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
    pub(super) fn column(&self, index: usize, name: String, ty: SqlType, nullable: bool) -> Expr {
        Expr::column(ColumnRef {
            index,
            name,
            ty,
            data_type: ty.to_arrow(),
            nullable,
        })
    }

    pub(super) fn key_ref(&self, e: &Expr) -> Option<Expr> {
        let i = self.keys.iter().position(|k| k == e)?;
        let name = match e {
            Expr::Column(c) => c.name.clone(),
            _ => format!("key{i}"),
        };
        Some(self.column(i, name, e.ty(), e.nullable()))
    }

    pub(super) fn aggregate_ref(&mut self, call: AggregateCall) -> Expr {
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
