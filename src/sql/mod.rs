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
