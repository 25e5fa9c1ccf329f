//! The typed plan: qjit's intermediate representation.
//!
//! The SQL front end (`crate::sql`) turns a `SELECT` statement into a [`Plan`] whose expressions
//! are typed [`Expr`] trees; the interpreter (`crate::interp`) and the JIT evaluate the same plan.
//! Expressions print (via `Display`) as fully parenthesized, fully typed text; that text is the
//! key of the kernel cache, so two expressions print alike exactly when they compute the same
//! thing over the same input.

pub mod aggregate;
pub(crate) mod convert;
mod expr;
pub mod func;
pub mod like;
mod plan;
pub mod scalar;
pub mod time;
mod types;

pub use aggregate::{AccKind, AggFunc, AggregateCall};
pub use expr::{
    can_cast, decimal_product_fits, decimal_result, round_result, BinaryOp, ColumnRef, DatePart,
    Expr, Literal, UnaryOp,
};
pub use func::Func;
pub use plan::{Body, Plan, SortKey};
pub use scalar::{Interval, Scalar};
pub use types::{OtherType, SqlType, TimeUnit, DECIMAL64_PRECISION, MAX_DECIMAL_PRECISION};
