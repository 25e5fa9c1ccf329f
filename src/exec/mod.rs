//! Execution: a typed [`Plan`] over a [`Source`] → result batches.
//!
//! ```text
//! Source::scan(projection) ─▶ per batch: filter ─▶ project | aggregate-update
//!                           ─▶ aggregate-finish ─▶ having ─▶ project ─▶ distinct ─▶ sort ─▶ limit
//! ```
//!
//! [`run`] is the whole path from SQL text to results: parse and bind against the source's
//! schema, choose the engine, execute, and report phase timings.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int32Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use qjit::exec::{run, QueryOptions, Source};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
//! let batch = RecordBatch::try_new(
//!     schema.clone(),
//!     vec![Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]))],
//! )?;
//! let source = Source::batches("t", schema, vec![batch]);
//! let result = run(&source, "SELECT x * 10 AS y FROM t WHERE x > 1", &QueryOptions::default())?;
//! assert_eq!(result.num_rows(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod pipeline;
mod source;

use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

pub use pipeline::execute_interpreted;
pub use source::{Source, BATCH_SIZE};

use crate::error::{Error, Result};
use crate::ir::Plan;

/// Which engine runs a query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The JIT when the query compiles, else the interpreter.
    #[default]
    Auto,
    /// The LLVM JIT; an error if the query does not compile.
    Jit,
    /// The arrow-rs interpreter.
    Interp,
}

/// Options for running a query.
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    pub engine: EngineKind,
    /// Worker threads; `None` means all cores. Not used yet: execution is single-threaded until
    /// morsel-driven parallelism lands.
    pub threads: Option<usize>,
}

/// Time spent in each phase of a query.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    pub parse_bind: Duration,
    pub execute: Duration,
}

/// What a query returned.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub plan: Plan,
    /// The engine that ran it.
    pub engine: EngineKind,
    pub timing: Timing,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Parses and binds `sql` against `source`.
pub fn plan(source: &Source, sql: &str) -> Result<Plan> {
    let query = crate::sql::parse_query(sql)?;
    let schema = source.schema()?;
    crate::sql::bind_query(&query, source.name(), &schema)
}

/// Chooses the engine for a plan, or says why the requested one cannot run it.
pub fn choose_engine(requested: EngineKind) -> Result<EngineKind> {
    match requested {
        EngineKind::Interp | EngineKind::Auto => Ok(EngineKind::Interp),
        EngineKind::Jit => Err(Error::Usage(
            "the JIT engine is not available yet in this build; use --engine interp (or auto)"
                .into(),
        )),
    }
}

/// Runs `sql` over `source`: parse, bind, execute.
pub fn run(source: &Source, sql: &str, options: &QueryOptions) -> Result<QueryResult> {
    let start = Instant::now();
    let plan = plan(source, sql)?;
    let engine = choose_engine(options.engine)?;
    let parse_bind = start.elapsed();
    let start = Instant::now();
    let batches = execute_interpreted(&plan, source.scan(&plan.projection)?)?;
    let execute = start.elapsed();
    Ok(QueryResult {
        schema: plan.output_schema(),
        batches,
        plan,
        engine,
        timing: Timing {
            parse_bind,
            execute,
        },
    })
}
