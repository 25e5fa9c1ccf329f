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
#[cfg(feature = "datafusion")]
pub mod datafusion;
mod engine;
pub mod error;
pub mod exec;
#[doc(hidden)]
pub mod internals;
pub mod ir;
mod stack;

// The internals by their short paths inside the crate (`crate::codegen`, …).
#[cfg(feature = "jit")]
use internals::codegen;
use internals::{bandwidth, interp, jit, kernel_cache, output, query, sql, tpch};

pub use engine::{Engine, EngineBuilder, Filter, Projection};
pub use error::{Error, Result};
pub use exec::{Cancel, EngineKind, PartEngine, QueryOptions, QueryResult, Source};
pub use kernel_cache::KernelCache;
