//! The SQL front end: SQL text → typed [`Plan`](crate::ir::Plan).
//!
//! ```text
//! &str ──parse──▶ sqlparser Query ──bind (names, types, coercion)──▶ ir::Plan ──fold──▶ ir::Plan
//! ```
//!
//! * [`parse`] accepts exactly one `SELECT` and rejects every other statement with a clear error.
//! * `bind` resolves the table and columns against an Arrow schema (case-insensitively), expands
//!   `*`, resolves `GROUP BY`/`ORDER BY` aliases and ordinals, and builds typed expressions.
//! * `coerce` inserts explicit casts so every operator sees the operand types it takes.
//! * `fold` evaluates constant sub-expressions once.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("l_quantity", DataType::Decimal128(15, 2), false),
//!     Field::new("l_shipdate", DataType::Date32, false),
//! ]));
//! let plan = qjit::internals::sql::plan_query(
//!     "SELECT sum(l_quantity) FROM lineitem WHERE l_shipdate < DATE '1995-01-01' + INTERVAL '1' MONTH",
//!     "lineitem",
//!     &schema,
//! )?;
//! assert_eq!(plan.filter.unwrap().to_string(), "(l_shipdate@1 < DATE '1995-02-01')");
//! # Ok::<(), qjit::Error>(())
//! ```

mod bind;
mod coerce;
mod expr;
mod fold;
mod parse;

use std::cell::Cell;

use arrow::datatypes::SchemaRef;

use crate::ir::time::Zone;

thread_local! {
    /// The session time zone of the query being bound on this thread ([`with_session_zone`]).
    static SESSION_ZONE: Cell<Zone> = const { Cell::new(Zone::Utc) };
}

/// The session time zone binding uses (UTC unless [`with_session_zone`] says otherwise): where
/// a `TIMESTAMP WITH TIME ZONE` meets wall-clock time (casts to and from `TIMESTAMP`, `DATE`
/// and text, fields, truncation, calendar arithmetic), the binder writes the zone into the plan
/// ([`crate::ir::Func::ToLocal`] and its kin), so a plan never depends on it afterwards.
pub fn session_zone() -> Zone {
    SESSION_ZONE.with(Cell::get)
}

/// Runs `f` (binding a query) with `zone` as the session time zone of this thread.
pub fn with_session_zone<T>(zone: Zone, f: impl FnOnce() -> T) -> T {
    let before = SESSION_ZONE.with(|z| z.replace(zone));
    let out = f();
    SESSION_ZONE.with(|z| z.set(before));
    out
}

pub use bind::{bind_query, check_from, table_name};
pub use coerce::common_type;
pub use expr::{MAX_CHAIN_LENGTH, MAX_EXPR_DEPTH, MAX_PLAN_NODES};
pub use fold::{evaluate_constant, scalar_at};
pub use parse::{parse_query, MAX_PARSE_DEPTH};

use crate::error::Result;
use crate::ir::Plan;

/// Parses and binds `sql` against a table named `table` with schema `schema`.
pub fn plan_query(sql: &str, table: &str, schema: &SchemaRef) -> Result<Plan> {
    let query = parse_query(sql)?;
    bind::bind_query(&query, table, schema)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::plan_query;
    use crate::error::Error;
    use crate::ir::{Body, Expr, SqlType};

    fn schema() -> arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("q", DataType::Decimal128(15, 2), false),
            Field::new("d", DataType::Date32, true),
            Field::new("n", DataType::Int32, true),
        ]))
    }

    /// The first output expression of `SELECT <expr> FROM t`.
    fn select(expr: &str) -> Result<Expr, Error> {
        let plan = plan_query(&format!("SELECT {expr} FROM t"), "t", &schema())?;
        match plan.body {
            Body::Project { mut exprs } => Ok(exprs.remove(0)),
            Body::Aggregate { .. } => panic!("not a projection"),
        }
    }

    /// `f` applied `depth` times to `n + 1`.
    fn nest(depth: usize, f: impl Fn(String) -> String) -> String {
        (0..depth).fold("n + 1".to_string(), |e, _| f(e))
    }

    #[test]
    fn repeated_operands_are_shared_so_plans_grow_linearly() {
        type Form = fn(String) -> String;
        let forms: [(&str, Form); 5] = [
            ("NULLIF", |e| format!("NULLIF({e}, 1)")),
            ("COALESCE", |e| format!("COALESCE({e}, n, 2)")),
            ("simple CASE", |e| {
                format!("CASE {e} WHEN 1 THEN 2 WHEN 3 THEN 4 ELSE 5 END")
            }),
            ("BETWEEN", |e| {
                format!("CASE WHEN {e} BETWEEN 1 AND 9 THEN 1 END")
            }),
            ("mixed", |e| {
                format!("COALESCE(NULLIF(CASE {e} WHEN 1 THEN 2 END, 3), 4)")
            }),
        ];
        for (name, f) in forms {
            let small = select(&nest(10, f)).unwrap();
            let large = select(&nest(40, f)).unwrap();
            let (a, b) = (small.node_count(), large.node_count());
            // Each level adds the same number of nodes: 4× the levels, at most 4× the nodes.
            assert!(
                b <= 4 * a + 8,
                "{name}: {a} nodes at depth 10, {b} at depth 40"
            );
            // The shared value is a LET, read through its variable.
            assert!(large.to_string().contains("(LET $"), "{name}: {large}");
        }
    }

    #[test]
    fn a_shared_column_or_constant_is_not_a_let() {
        let e = select("NULLIF(n, 1)").unwrap();
        assert_eq!(
            e.to_string(),
            "CASE WHEN (n@0 = 1::INTEGER) THEN NULL::INTEGER ELSE n@0 END"
        );
        // A shared constant folds away with the expression around it.
        assert_eq!(
            select("NULLIF(1 + 1, 2)").unwrap().to_string(),
            "NULL::INTEGER"
        );
        assert_eq!(
            select("COALESCE(NULLIF(2 * 3, 5), 1)").unwrap().to_string(),
            "6::INTEGER"
        );
    }

    #[test]
    fn plans_past_the_node_limit_are_an_error() {
        let items = super::MAX_PLAN_NODES;
        let list: Vec<String> = (0..items).map(|i| i.to_string()).collect();
        let sql = format!("SELECT n IN ({}) FROM t", list.join(","));
        let e = plan_query(&sql, "t", &schema()).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("more than {} nodes", super::MAX_PLAN_NODES)),
            "{e}"
        );
        let list: Vec<String> = (0..items / 2).map(|i| i.to_string()).collect();
        let sql = format!("SELECT n IN ({}) FROM t", list.join(","));
        assert!(plan_query(&sql, "t", &schema()).is_ok());
    }

    #[test]
    fn negative_literals_take_the_narrowest_type() {
        assert_eq!(select("-2147483648").unwrap().ty(), SqlType::Int32);
        assert_eq!(select("-9223372036854775808").unwrap().ty(), SqlType::Int64);
        assert_eq!(select("2147483648").unwrap().ty(), SqlType::Int64);
    }

    #[test]
    fn numbers_beyond_38_digits_are_doubles() {
        assert_eq!(select("1e308").unwrap().ty(), SqlType::Float64);
        assert_eq!(select("1e-2147483648").unwrap().ty(), SqlType::Float64);
        assert_eq!(select("0e39").unwrap().ty(), SqlType::decimal(1, 0));
    }

    #[test]
    fn interval_negation_overflow_is_an_error() {
        let e = select("d - INTERVAL '-2147483648' DAY").unwrap_err();
        assert!(matches!(e, Error::Type { .. }), "{e}");
    }

    #[test]
    fn decimal_products_beyond_scale_38_are_rejected() {
        let e = select("q * CAST(0.5 AS DECIMAL(38,37))").unwrap_err();
        assert!(e.to_string().contains("smaller scale"), "{e}");
        assert_eq!(select("q * q").unwrap().ty(), SqlType::decimal(31, 4));
    }

    #[test]
    fn wide_decimal_comparisons_meet_at_double() {
        let p = plan_query(
            "SELECT n FROM t WHERE q < 99999999999999999999999999999999999999",
            "t",
            &schema(),
        );
        assert!(p.is_ok(), "{p:?}");
    }

    #[test]
    fn unconstrained_decimal_keeps_the_value_scale() {
        assert_eq!(
            select("CAST(1.23456 AS DECIMAL)").unwrap().ty(),
            SqlType::decimal(38, 5)
        );
        assert_eq!(
            select("CAST(q AS DECIMAL)").unwrap().ty(),
            SqlType::decimal(38, 2)
        );
        assert_eq!(
            select("CAST(n AS DECIMAL)").unwrap().ty(),
            SqlType::decimal(10, 0)
        );
    }

    #[test]
    fn nan_group_keys_match_their_select_item() {
        let p = plan_query(
            "SELECT n + CAST('NaN' AS DOUBLE), count(*) FROM t GROUP BY n + CAST('NaN' AS DOUBLE)",
            "t",
            &schema(),
        );
        assert!(p.is_ok(), "{p:?}");
    }

    /// Columns of types qjit does not compute on pass through: selected, tested for NULL and
    /// counted; any other use is an unsupported operation naming the type (which the command
    /// line hands to DataFusion).
    #[test]
    fn other_types_pass_through_and_are_refused_elsewhere() {
        let item = Arc::new(Field::new("item", DataType::Int32, true));
        let schema = Arc::new(Schema::new(vec![
            Field::new("l", DataType::List(item), true),
            Field::new("b", DataType::Binary, true),
        ]));
        for ok in [
            "SELECT l, b FROM t",
            "SELECT count(l), count(*) FROM t WHERE b IS NOT NULL",
        ] {
            assert!(plan_query(ok, "t", &schema).is_ok(), "{ok}");
        }
        for (sql, want) in [
            ("SELECT l FROM t ORDER BY l", "ORDER BY on l of type LIST"),
            (
                "SELECT DISTINCT b FROM t",
                "SELECT DISTINCT on b of type BYTEA",
            ),
            (
                "SELECT count(*) FROM t GROUP BY b",
                "GROUP BY on b of type BYTEA",
            ),
            ("SELECT length(b) FROM t", "BYTEA"),
            ("SELECT l FROM t WHERE l = l", "LIST"),
            (
                "SELECT CAST(b AS VARCHAR) FROM t",
                "cannot cast BYTEA to VARCHAR",
            ),
            ("SELECT min(l) FROM t", "LIST"),
        ] {
            let e = plan_query(sql, "t", &schema).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Unsupported {
                        position: Some(_),
                        ..
                    }
                ),
                "{sql}: {e}"
            );
            assert!(e.to_string().contains(want), "{sql}: {e}");
        }
    }
}
