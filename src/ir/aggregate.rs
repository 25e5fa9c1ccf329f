//! Aggregates, defined once for both engines.
//!
//! In: the aggregate calls of a query (bound by `crate::sql`). Out, for the interpreter
//! (`crate::interp::Aggregator`) and the code generator (`crate::codegen::layout`) alike:
//!
//! - each call's result type ([`AggFunc::result_type`]) and the state it accumulates
//!   ([`AccKind::of`]);
//! - the distinct arguments of a list of calls and the order they are evaluated in
//!   ([`Arguments`]): `SUM(x)` and `AVG(x)` evaluate `x` once;
//! - how calls with `DISTINCT` are computed ([`DistinctPlan`]): the rows are grouped by the
//!   query's keys *and* the distinct argument, the other aggregates accumulating as usual, then
//!   those groups are grouped again by the query's keys alone, where the distinct aggregates run
//!   over the second-level key (each distinct value once) and the other aggregates' states merge.
//!
//! ```text
//! SELECT k, COUNT(DISTINCT x), SUM(y) … GROUP BY k
//!   scan side: GROUP BY k, x   with SUM(y)             (compiled or interpreted)
//!   regroup:   GROUP BY k      COUNT(x) over the x keys, SUM(y) states merged
//! ```

use std::fmt;

use super::expr::Expr;
use super::types::SqlType;
use crate::error::{Error, Result};

/// Aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "ballista", derive(serde::Serialize, serde::Deserialize))]
pub enum AggFunc {
    /// `COUNT(*)`: rows, NULLs included. `BIGINT`.
    CountStar,
    /// `COUNT(x)`: non-NULL values. `BIGINT`.
    Count,
    /// `SUM(x)`: integers → `BIGINT` (unsigned → `UBIGINT`), `DECIMAL(p,s)` → `DECIMAL(38,s)`,
    /// floats → `DOUBLE`. NULL for no non-NULL input. Integer sums are exact (kept in 128 bits)
    /// and checked once, at the end, against the result type, so the answer does not depend on
    /// row order; a decimal sum past 38 digits is an error.
    Sum,
    /// `AVG(x)`: `DOUBLE` for every numeric input (the sum is exact, divided once at the end).
    Avg,
    /// `MIN(x)`, `MAX(x)`: the input type; strings compare byte-wise.
    Min,
    Max,
}

impl AggFunc {
    /// The result type for an argument type, or `None` if the function does not accept it.
    /// `DISTINCT` does not change it.
    pub fn result_type(self, arg: Option<SqlType>) -> Option<SqlType> {
        use SqlType::*;
        match (self, arg) {
            (AggFunc::CountStar, None) => Some(Int64),
            (AggFunc::Count, Some(_)) => Some(Int64),
            (AggFunc::Sum, Some(t)) if t.is_signed_integer() => Some(Int64),
            (AggFunc::Sum, Some(t)) if t.is_unsigned_integer() => Some(UInt64),
            (AggFunc::Sum, Some(Decimal { scale, .. })) => Some(SqlType::decimal(38, scale as u32)),
            (AggFunc::Sum, Some(t)) if t.is_float() => Some(Float64),
            (AggFunc::Avg, Some(t)) if t.is_numeric() => Some(Float64),
            // Intervals have no total order of their values (PostgreSQL orders them by length).
            (AggFunc::Min | AggFunc::Max, Some(t))
                if t != Null && t != Interval && !t.is_other() =>
            {
                Some(t)
            }
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AggFunc::CountStar | AggFunc::Count => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
        }
    }
}

/// One aggregate: a function, its argument (none for `COUNT(*)`) and whether it runs over the
/// argument's distinct values only (`COUNT(DISTINCT x)`).
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    pub ty: SqlType,
    /// `DISTINCT`: each distinct non-NULL value of the argument counts once per group. Engines
    /// never see it on their own: [`DistinctPlan`] turns such calls into a regrouping.
    pub distinct: bool,
}

impl AggregateCall {
    /// An aggregate call, its type computed by [`AggFunc::result_type`].
    pub fn new(func: AggFunc, arg: Option<Expr>) -> Result<AggregateCall> {
        let arg_ty = arg.as_ref().map(Expr::ty);
        let ty = func.result_type(arg_ty).ok_or_else(|| {
            Error::type_error(format!(
                "{}() does not accept an argument of type {}",
                func.name(),
                arg_ty.map_or("(none)".to_string(), |t| t.to_string())
            ))
        })?;
        Ok(AggregateCall {
            func,
            arg,
            ty,
            distinct: false,
        })
    }

    /// `func(DISTINCT arg)`.
    pub fn new_distinct(func: AggFunc, arg: Expr) -> Result<AggregateCall> {
        if func == AggFunc::CountStar {
            return Err(Error::internal("count(DISTINCT *)"));
        }
        Ok(AggregateCall {
            distinct: true,
            ..AggregateCall::new(func, Some(arg))?
        })
    }

    /// Whether the result can be NULL (everything but the counts).
    pub fn nullable(&self) -> bool {
        !matches!(self.func, AggFunc::Count | AggFunc::CountStar)
    }

    /// The call as messages to users show it: columns by name alone (see [`Expr::sql`]).
    pub fn sql(&self) -> String {
        match &self.arg {
            None => "count(*)".to_string(),
            Some(a) => format!("{}({}{})", self.func.name(), self.distinct_word(), a.sql()),
        }
    }

    fn distinct_word(&self) -> &'static str {
        if self.distinct {
            "DISTINCT "
        } else {
            ""
        }
    }
}

impl fmt::Display for AggregateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            None => write!(f, "count(*)"),
            Some(a) => write!(f, "{}({}{a})", self.func.name(), self.distinct_word()),
        }
    }
}

/// The state an aggregate accumulates per group: the one table of aggregate × argument type
/// that the interpreter's accumulators and the compiled kernel's state slots both follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccKind {
    /// `COUNT(*)`.
    CountStar,
    /// `COUNT(x)`.
    Count,
    /// `SUM`/`AVG` of integers and decimals: an exact sum (128 bits) and a count.
    ExactSum,
    /// `SUM`/`AVG` of floats: an `f64` sum and a count.
    FloatSum,
    /// `MIN`/`MAX` of integers, dates and decimals (as `i128`).
    MinMaxInt { max: bool },
    /// `MIN`/`MAX` of floats (canonical values: one NaN, no negative zero).
    MinMaxFloat { max: bool },
    /// `MIN`/`MAX` of booleans.
    MinMaxBool { max: bool },
    /// `MIN`/`MAX` of strings (byte-wise).
    MinMaxStr { max: bool },
}

impl AccKind {
    /// How `call` accumulates, or `None` for a call that no engine accumulates (one that
    /// [`AggregateCall::new`] would not have built).
    pub fn of(call: &AggregateCall) -> Option<AccKind> {
        let arg = call.arg.as_ref().map(Expr::ty);
        Some(match (call.func, arg) {
            (AggFunc::CountStar, _) => AccKind::CountStar,
            (AggFunc::Count, _) => AccKind::Count,
            (AggFunc::Sum | AggFunc::Avg, Some(t)) if t.is_integer() || t.is_decimal() => {
                AccKind::ExactSum
            }
            (AggFunc::Sum | AggFunc::Avg, Some(t)) if t.is_float() => AccKind::FloatSum,
            (AggFunc::Min | AggFunc::Max, Some(t)) => {
                let max = call.func == AggFunc::Max;
                match t {
                    t if t.is_integer()
                        || t.is_decimal()
                        || t == SqlType::Date
                        || t.is_timestamp() =>
                    {
                        AccKind::MinMaxInt { max }
                    }
                    t if t.is_float() => AccKind::MinMaxFloat { max },
                    SqlType::Boolean => AccKind::MinMaxBool { max },
                    SqlType::Utf8 => AccKind::MinMaxStr { max },
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

/// The distinct arguments of a list of aggregate calls, each evaluated once per batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Arguments {
    /// The distinct argument expressions, in the order of their first call.
    pub args: Vec<Expr>,
    /// Call `i` reads `args[arg_of[i]]` (none for `COUNT(*)`).
    pub arg_of: Vec<Option<usize>>,
    /// The order both engines evaluate `args` in: by size, smallest first, so that a larger
    /// argument reuses the smaller ones it contains (Q1's `price * (1 - discount)` inside
    /// `price * (1 - discount) * (1 + tax)`).
    pub order: Vec<usize>,
}

impl Arguments {
    pub fn of(calls: &[AggregateCall]) -> Arguments {
        let mut args: Vec<Expr> = vec![];
        let arg_of = calls
            .iter()
            .map(|c| {
                c.arg
                    .as_ref()
                    .map(|e| match args.iter().position(|x| x == e) {
                        Some(i) => i,
                        None => {
                            args.push(e.clone());
                            args.len() - 1
                        }
                    })
            })
            .collect();
        let mut order: Vec<usize> = (0..args.len()).collect();
        order.sort_by_key(|&i| size(&args[i]));
        Arguments {
            args,
            arg_of,
            order,
        }
    }
}

/// The number of nodes of an expression.
fn size(e: &Expr) -> usize {
    let mut n = 0;
    e.walk(&mut |_| n += 1);
    n
}

/// How an aggregation with `DISTINCT` calls runs: the keys and calls the scan side (a compiled
/// kernel or the interpreter) accumulates, and how its groups fold into the query's groups.
///
/// With one distinct argument `x`, each scan-side group `(keys, x)` holds one distinct value of
/// `x` for its query group. With several (`COUNT(DISTINCT x), COUNT(DISTINCT y)`), the scan side
/// groups by `(keys, x, y)`, and each argument's distinct values per query group are those of
/// the distinct pairs `(keys, x)` among those groups.
#[derive(Clone, Debug, PartialEq)]
pub struct DistinctPlan {
    /// The query's keys followed by the distinct arguments.
    pub scan_keys: Vec<Expr>,
    /// The calls without `DISTINCT`, in their order.
    pub scan_calls: Vec<AggregateCall>,
    /// The number of the query's own keys (the first of `scan_keys`).
    pub keys: usize,
    /// The number of distinct arguments (the last of `scan_keys`).
    pub args: usize,
    /// Per call of the query, in its order, how its result is made.
    pub outputs: Vec<Regrouped>,
}

/// How [`DistinctPlan`] makes one call's result.
#[derive(Clone, Debug, PartialEq)]
pub enum Regrouped {
    /// The state of `scan_calls[i]`, merged over the query's groups.
    Merge(usize),
    /// The call (without `DISTINCT`) over the distinct values of distinct argument `arg`.
    OverKey { call: AggregateCall, arg: usize },
}

impl DistinctPlan {
    /// The plan of `keys` and `calls`, or `None` when no call has `DISTINCT`.
    pub fn of(keys: &[Expr], calls: &[AggregateCall]) -> Result<Option<DistinctPlan>> {
        if !calls.iter().any(|c| c.distinct) {
            return Ok(None);
        }
        let mut args: Vec<Expr> = vec![];
        let mut scan_calls = vec![];
        let mut outputs = vec![];
        for c in calls {
            if !c.distinct {
                scan_calls.push(c.clone());
                outputs.push(Regrouped::Merge(scan_calls.len() - 1));
                continue;
            }
            let x = c
                .arg
                .clone()
                .ok_or_else(|| Error::internal("count(DISTINCT *)"))?;
            let arg = match args.iter().position(|a| *a == x) {
                Some(i) => i,
                None => {
                    args.push(x);
                    args.len() - 1
                }
            };
            outputs.push(Regrouped::OverKey {
                call: AggregateCall {
                    distinct: false,
                    ..c.clone()
                },
                arg,
            });
        }
        let n_args = args.len();
        let mut scan_keys = keys.to_vec();
        scan_keys.extend(args);
        Ok(Some(DistinctPlan {
            scan_keys,
            scan_calls,
            keys: keys.len(),
            args: n_args,
            outputs,
        }))
    }
}

/// The keys and calls the scan side of an aggregation accumulates: those of the
/// [`DistinctPlan`] if there is one, else `keys` and `calls` themselves.
pub fn scan_side(
    keys: &[Expr],
    calls: &[AggregateCall],
) -> Result<(Vec<Expr>, Vec<AggregateCall>, Option<DistinctPlan>)> {
    Ok(match DistinctPlan::of(keys, calls)? {
        Some(plan) => (plan.scan_keys.clone(), plan.scan_calls.clone(), Some(plan)),
        None => (keys.to_vec(), calls.to_vec(), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinaryOp, ColumnRef};

    fn column(index: usize, name: &str) -> Expr {
        Expr::column(ColumnRef {
            index,
            name: name.into(),
            ty: SqlType::Int64,
            data_type: SqlType::Int64.to_arrow(),
            nullable: true,
        })
    }

    fn call(func: AggFunc, arg: &Expr) -> AggregateCall {
        AggregateCall::new(func, Some(arg.clone())).unwrap()
    }

    fn distinct(func: AggFunc, arg: &Expr) -> AggregateCall {
        AggregateCall::new_distinct(func, arg.clone()).unwrap()
    }

    #[test]
    fn arguments_are_shared_and_evaluated_smallest_first() {
        let x = column(0, "x");
        let double = Expr::binary(BinaryOp::Mul, x.clone(), x.clone()).unwrap();
        let calls = [
            call(AggFunc::Sum, &double),
            call(AggFunc::Avg, &x),
            AggregateCall::new(AggFunc::CountStar, None).unwrap(),
            call(AggFunc::Max, &double),
        ];
        let a = Arguments::of(&calls);
        assert_eq!(a.args, vec![double.clone(), x.clone()]);
        assert_eq!(a.arg_of, vec![Some(0), Some(1), None, Some(0)]);
        assert_eq!(a.order, vec![1, 0]);
    }

    #[test]
    fn distinct_calls_become_keys_and_the_others_merge() {
        let (k, x, y) = (column(0, "k"), column(1, "x"), column(2, "y"));
        assert_eq!(
            DistinctPlan::of(std::slice::from_ref(&k), &[call(AggFunc::Sum, &x)]).unwrap(),
            None
        );
        let calls = [
            distinct(AggFunc::Count, &x),
            call(AggFunc::Sum, &y),
            distinct(AggFunc::Sum, &x),
            distinct(AggFunc::Count, &y),
        ];
        let plan = DistinctPlan::of(std::slice::from_ref(&k), &calls)
            .unwrap()
            .unwrap();
        assert_eq!(plan.scan_keys, vec![k, x.clone(), y.clone()]);
        assert_eq!(plan.scan_calls, vec![call(AggFunc::Sum, &y)]);
        assert_eq!((plan.keys, plan.args), (1, 2));
        assert_eq!(
            plan.outputs,
            vec![
                Regrouped::OverKey {
                    call: call(AggFunc::Count, &x),
                    arg: 0
                },
                Regrouped::Merge(0),
                Regrouped::OverKey {
                    call: call(AggFunc::Sum, &x),
                    arg: 0
                },
                Regrouped::OverKey {
                    call: call(AggFunc::Count, &y),
                    arg: 1
                },
            ]
        );
        assert_eq!(calls[0].to_string(), "count(DISTINCT x@1)");
    }
}
