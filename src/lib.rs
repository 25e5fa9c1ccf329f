//! qjit compiles the `WHERE` and `SELECT` expressions of single-table SQL queries into native
//! kernels over Apache Arrow data, with an arrow-rs interpreter as reference and fallback.
//!
//! A query flows through one pipeline:
//!
//! ```text
//! SQL text ─sql::parse─▶ AST ─sql::bind─▶ ir::Plan ─┬─▶ interp (arrow-rs kernels)
//!                                                    └─▶ codegen ─▶ jit (LLVM): WHERE today
//! Parquet / Arrow batches ─────────── exec ──────────────────────────▶ result batches
//! ```

#[cfg(feature = "ballista")]
pub mod ballista;
pub mod bandwidth;
pub mod bench;
#[cfg(feature = "jit")]
pub mod codegen;
#[cfg(feature = "datafusion")]
pub mod datafusion;
mod engine;
pub mod error;
pub mod exec;
pub mod interp;
pub mod ir;
#[cfg(feature = "jit")]
pub mod jit;
#[cfg(not(feature = "jit"))]
#[path = "jit/disabled.rs"]
pub mod jit;
pub mod kernel_cache;
pub mod output;
pub mod sql;
mod stack;
pub mod tpch;

pub use engine::{Engine, EngineBuilder, Filter, Projection};
pub use error::{Error, Result};
pub use exec::{Cancel, EngineKind, PartEngine, QueryOptions};
