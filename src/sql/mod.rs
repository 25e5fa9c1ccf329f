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
//! let plan = qjit::sql::plan_query(
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

use arrow::datatypes::SchemaRef;

pub use bind::{bind_query, table_name};
pub use coerce::common_type;
pub use expr::MAX_EXPR_DEPTH;
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
}
