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
//! Engines: with [`EngineKind::Jit`] or [`EngineKind::Auto`] the `WHERE` predicate is compiled
//! with the LLVM JIT ([`crate::jit`]) when the code generator supports it, and its selection
//! bitmap filters each batch; everything else (projections, aggregates, `HAVING`) runs in the
//! interpreter. `Jit` fails on a predicate that does not compile, naming the construct; `Auto`
//! falls back to the interpreter and says why ([`FilterEngine`], [`explain`]).
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

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

pub use pipeline::{execute, execute_interpreted};
pub use source::{Source, BATCH_SIZE};

use crate::codegen::CodegenError;
use crate::error::{Error, Result};
use crate::ir::Plan;
use crate::jit::{self, FilterKernel};

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
#[derive(Clone, Debug)]
pub struct QueryOptions {
    pub engine: EngineKind,
    /// Worker threads; `None` means all cores. Not used yet: execution is single-threaded until
    /// morsel-driven parallelism lands.
    pub threads: Option<usize>,
    /// The LLVM optimization level of compiled kernels, 0–3 (`default<O0>`…`default<O3>`).
    pub opt_level: u8,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            engine: EngineKind::Auto,
            threads: None,
            opt_level: jit::MAX_OPT_LEVEL,
        }
    }
}

/// Time spent in each phase of a query.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    pub parse_bind: Duration,
    /// Compiling the `WHERE` kernel (zero when it came from the cache or nothing compiled).
    pub compile: jit::CompileTiming,
    /// Whether the `WHERE` kernel came from the kernel cache (`None`: no kernel).
    pub kernel_cache_hit: Option<bool>,
    pub execute: Duration,
}

/// How the `WHERE` clause runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterEngine {
    /// The query has no `WHERE`.
    None,
    /// A JIT kernel.
    Compiled,
    /// The interpreter, and why.
    Interpreted(String),
}

impl fmt::Display for FilterEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterEngine::None => f.write_str("WHERE: none"),
            FilterEngine::Compiled => f.write_str("WHERE: compiled"),
            FilterEngine::Interpreted(why) => write!(f, "WHERE: interpreted ({why})"),
        }
    }
}

/// The compiled parts of a plan.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub filter: FilterEngine,
    /// The `WHERE` kernel, when [`FilterEngine::Compiled`].
    pub filter_kernel: Option<Arc<FilterKernel>>,
    /// Whether the kernel came from the cache.
    pub cache_hit: bool,
}

/// What a query returned.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub plan: Plan,
    /// The engine that ran it: `Jit` if some part ran compiled, else `Interp`.
    pub engine: EngineKind,
    /// How the `WHERE` clause ran.
    pub filter: FilterEngine,
    /// The compiled `WHERE` kernel, if any (its IR, for `--explain`).
    pub filter_kernel: Option<Arc<FilterKernel>>,
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

/// Compiles what the engine compiles of `plan`: for now its `WHERE` predicate.
///
/// With [`EngineKind::Jit`] a predicate the code generator does not support is an
/// [`Error::NotCompiled`] naming the construct; with [`EngineKind::Auto`] it runs interpreted,
/// and so does a predicate the JIT failed on (a bug, reported in the reason).
pub fn compile(plan: &Plan, options: &QueryOptions) -> Result<Compiled> {
    let interpreted = |why: String| Compiled {
        filter: FilterEngine::Interpreted(why),
        filter_kernel: None,
        cache_hit: false,
    };
    let Some(filter) = &plan.filter else {
        return Ok(Compiled {
            filter: FilterEngine::None,
            filter_kernel: None,
            cache_hit: false,
        });
    };
    if options.engine == EngineKind::Interp {
        return Ok(interpreted("--engine interp".into()));
    }
    match jit::filter_kernel(filter, &plan.scan_schema, options.opt_level) {
        Ok((kernel, hit)) => Ok(Compiled {
            filter: FilterEngine::Compiled,
            filter_kernel: Some(kernel),
            cache_hit: hit,
        }),
        Err(CodegenError::NotCompiled(reason)) => match options.engine {
            EngineKind::Jit => Err(Error::NotCompiled {
                what: format!("the WHERE clause: {reason}"),
            }),
            _ => Ok(interpreted(reason)),
        },
        Err(CodegenError::Failed(e)) => match (options.engine, e) {
            (_, e @ Error::Usage(_)) | (EngineKind::Jit, e) => Err(e),
            (_, e) => Ok(interpreted(format!("the JIT failed: {e}"))),
        },
    }
}

/// What `--explain` prints: the typed plan, which parts run compiled and which interpreted (and
/// why), and the LLVM IR of compiled kernels before and after optimization.
pub fn explain(source: &Source, sql: &str, options: &QueryOptions) -> Result<String> {
    let plan = plan(source, sql)?;
    let compiled = compile(&plan, options)?;
    let mut out = format!(
        "{plan}\n\nengine: {:?}\n{}\nSELECT: interpreted (only WHERE is compiled in this version)\n",
        options.engine, compiled.filter
    );
    if let Some(kernel) = &compiled.filter_kernel {
        out.push_str(&format!(
            "\n; ---- WHERE kernel: LLVM IR before optimization ----\n{}\n; ---- WHERE kernel: LLVM IR after default<O{}> ----\n{}",
            kernel.ir_before(),
            options.opt_level,
            kernel.ir_after()
        ));
    }
    Ok(out)
}

/// Runs `sql` over `source`: parse, bind, compile what compiles, execute.
pub fn run(source: &Source, sql: &str, options: &QueryOptions) -> Result<QueryResult> {
    let start = Instant::now();
    let plan = plan(source, sql)?;
    let parse_bind = start.elapsed();
    let compiled = compile(&plan, options)?;
    let compile_timing = match (&compiled.filter_kernel, compiled.cache_hit) {
        (Some(k), false) => k.timing(),
        _ => jit::CompileTiming::default(),
    };
    let start = Instant::now();
    let batches = execute(
        &plan,
        source.scan(&plan.projection)?,
        compiled.filter_kernel.as_deref(),
    )?;
    let execute = start.elapsed();
    Ok(QueryResult {
        schema: plan.output_schema(),
        batches,
        plan,
        engine: if compiled.filter_kernel.is_some() {
            EngineKind::Jit
        } else {
            EngineKind::Interp
        },
        filter: compiled.filter,
        timing: Timing {
            parse_bind,
            compile: compile_timing,
            kernel_cache_hit: compiled.filter_kernel.as_ref().map(|_| compiled.cache_hit),
            execute,
        },
        filter_kernel: compiled.filter_kernel,
    })
}
