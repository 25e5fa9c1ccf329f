//! qjit's own stages, reachable for its command-line program, tests, benchmarks and fuzz
//! targets: not an API (embedders use what the crate root, [`crate::exec`], [`crate::ir`] and
//! the integrations export), and free to change with any release.
//!
//! - [`sql`]: parsing and binding SQL to the typed plan;
//! - [`interp`]: the interpreter over arrow-rs kernels;
//! - `codegen` and [`jit`]: lowering the plan to LLVM IR, and compiling and running kernels;
//! - [`kernel_cache`]: compiled kernels kept on disk between processes;
//! - [`query`]: one query from a path or source to its result, in qjit's engine or DataFusion
//!   (the orchestration `qjit query` and [`crate::Engine`] share);
//! - [`describe`]: the tables of a path and their columns (`qjit schema`, `DESCRIBE`);
//! - [`output`]: the command line's output formats;
//! - [`bench`], [`tpch`], [`bandwidth`]: `qjit bench`, `qjit gen-tpch` and the bench's floor.

#[path = "bandwidth.rs"]
pub mod bandwidth;
#[path = "bench/mod.rs"]
pub mod bench;
#[cfg(feature = "jit")]
#[path = "codegen/mod.rs"]
pub mod codegen;
#[path = "describe.rs"]
pub mod describe;
#[path = "interp/mod.rs"]
pub mod interp;
#[cfg(feature = "jit")]
#[path = "jit/mod.rs"]
pub mod jit;
#[cfg(not(feature = "jit"))]
#[path = "jit/disabled.rs"]
pub mod jit;
#[path = "kernel_cache.rs"]
pub mod kernel_cache;
#[path = "output/mod.rs"]
pub mod output;
#[path = "query.rs"]
pub mod query;
#[path = "sql/mod.rs"]
pub mod sql;
#[path = "tpch.rs"]
pub mod tpch;
