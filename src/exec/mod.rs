//! Execution: a typed [`Plan`] over a [`Source`] → result batches.
//!
//! ```text
//! Source::scan(projection) ─▶ per batch: filter ─▶ project | aggregate-update
//!                           ─▶ aggregate-finish ─▶ having ─▶ project ─▶ distinct ─▶ sort ─▶ limit
//! ```
//!
//! [`run`] is the whole path from SQL text to results: parse and bind against the source's
//! schema, choose the engine, execute, and report phase timings. [`PreparedQuery`] is the same
//! path in two steps: [`PreparedQuery::new`] parses, opens the source ([`Source::open`]: a
//! Parquet file's footer is read there, once) and binds; [`PreparedQuery::explain`] and
//! [`PreparedQuery::run_into`] then compile and execute without opening or binding again.
//! Where a query over a path runs (here or in DataFusion) is decided above, in `query`.
//!
//! Engines: with [`EngineKind::Jit`] or [`EngineKind::Auto`] an aggregate query's `WHERE`, group
//! keys and aggregates compile into one aggregation kernel ([`crate::jit::AggregateKernel`]);
//! otherwise the `WHERE` predicate compiles into a filter kernel whose selection bitmap filters
//! each batch. The rest (projections, `HAVING`, the expressions over aggregates) runs in the
//! interpreter. `Jit` fails on a part that does not compile, naming the construct; `Auto` falls
//! back to the interpreter for that part and says why ([`PartEngine`], [`explain`]).
//!
//! Limits (module `limits`): [`QueryOptions::cancel`] stops a running query between batches with
//! [`Error::Cancelled`]; [`QueryOptions::memory_limit`] bounds the `GROUP BY` state of all
//! workers (and the rows a query without aggregates collects) with [`Error::MemoryLimit`].
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

mod combine;
pub(crate) mod decode;
pub mod files;
mod limits;
mod pipeline;
mod predicate;
mod prune;
pub(crate) mod shared_file;
mod sink;
pub(crate) mod source;
pub(crate) mod tier;
mod topn;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

pub use files::{CsvOptions, FileKind};
pub use limits::{
    available_memory, default_memory_limit, format_bytes, parse_memory_size, Cancel, Limits,
    MemoryPool, MemoryUse, Progress, Reservation, DEFAULT_MEMORY_FRACTION,
};
pub use pipeline::{decoding_during, execute, execute_interpreted, Kernels};
pub(crate) use pipeline::{finish, predicate_mask, project_batch, Where};
pub(crate) use predicate::check_columns;
pub use predicate::Predicate;
pub use sink::{Collect, Encoder, Part, ResultSink, Text};
pub use source::{OpenSource, Scan, ScanFilter, Source, BATCH_SIZE, MORSEL_ROWS};
pub use tier::{compiles_in_flight, TierReport, TierSwitch};

use crate::error::{Error, Result};
use crate::ir::{Body, Expr, Plan};
use crate::jit::{self, AggregateKernel, CodegenError, FilterKernel, ProjectKernel};
use crate::kernel_cache::KernelCache;

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
    /// Worker threads; `None` means all cores ([`QueryOptions::threads`]).
    pub threads: Option<usize>,
    /// How kernels are optimized: `None` is qjit's kernel pipeline ([`jit::KERNEL_PIPELINE`]);
    /// `Some(n)` is LLVM's `default<On>` (0–3), to compare.
    pub opt_level: Option<u8>,
    /// Filter pushdown into Parquet scans: skip row groups and pages whose statistics prove
    /// the `WHERE` clause never TRUE on them. The answer is the same either way.
    pub pushdown: bool,
    /// Stops the query when raised: [`run`] then returns [`Error::Cancelled`], each worker
    /// within about one batch of work.
    pub cancel: Cancel,
    /// The bytes the query's growing state may take, over all worker threads: the `GROUP BY`
    /// state (hash tables, keys, accumulators) and the rows a query without aggregates collects
    /// before sorting and output. Past it the query fails with [`Error::MemoryLimit`]. `None`:
    /// [`default_memory_limit`], a share of the memory available when the query starts.
    pub memory_limit: Option<usize>,
    /// Counts the morsels of the query's scan done, for a progress bar drawn by another
    /// thread.
    pub progress: Progress,
    /// Tiered execution, for [`EngineKind::Auto`]: start in the interpreter while the kernels
    /// compile on another thread, and switch to them per batch once they are ready. Off by
    /// default (the kernels compile first); `qjit query` turns it on.
    pub tiers: TierSwitch,
    /// The kernel cache on disk to load kernels from and store them into
    /// ([`crate::kernel_cache`]); `None` (the default): every process compiles its own.
    pub kernel_cache: Option<Arc<KernelCache>>,
    /// How CSV inputs are read (`--csv-header`, `--csv-delimiter`).
    pub csv: CsvOptions,
    /// The session time zone (`--timezone`, else `TZ`, else UTC): where `TIMESTAMP WITH TIME
    /// ZONE` values meet wall-clock time (see [`crate::internals::sql::session_zone`]).
    pub timezone: crate::ir::time::Zone,
}

/// Stack for a thread that compiles kernels: lowering recurses over expressions, whose depth
/// the binder bounds (`crate::sql::MAX_EXPR_DEPTH`).
pub(crate) const COMPILE_STACK_BYTES: usize = 64 << 20;

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            engine: EngineKind::Auto,
            threads: None,
            opt_level: None,
            pushdown: true,
            cancel: Cancel::new(),
            memory_limit: None,
            progress: Progress::new(),
            tiers: TierSwitch::Off,
            kernel_cache: None,
            csv: CsvOptions::default(),
            timezone: crate::ir::time::Zone::Utc,
        }
    }
}

impl QueryOptions {
    /// The number of worker threads: the option, else every core the process may use.
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// The memory limit in bytes: the option, else [`default_memory_limit`].
    pub fn memory_limit(&self) -> usize {
        self.memory_limit.unwrap_or_else(default_memory_limit)
    }

    /// The limits [`execute`] runs under: the cancel flag and a fresh memory pool.
    pub fn limits(&self) -> Limits {
        Limits {
            cancel: self.cancel.clone(),
            memory: MemoryPool::new(self.memory_limit()),
            progress: self.progress.clone(),
        }
    }
}

/// Time spent in each phase of a query.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    pub parse_bind: Duration,
    /// Compiling the kernel (zero when it came from the cache or nothing compiled).
    pub compile: jit::CompileTiming,
    /// Whether the kernel came from the kernel cache (`None`: no kernel).
    pub kernel_cache_hit: Option<bool>,
    /// Splitting the scan into morsels and running the pipeline, less `output`. On more than
    /// one thread, the first morsels of a Parquet file are decoded while the kernels compile,
    /// before this. Encoding rows as text runs on the workers and counts here.
    pub execute: Duration,
    /// Handing the result to its sink (writing it out), on the thread that runs the query.
    pub output: Duration,
}

/// How one part of a query (its `WHERE` clause, its aggregation) runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartEngine {
    /// The query does not have this part.
    None,
    /// A JIT kernel.
    Compiled,
    /// The interpreter, and why.
    Interpreted(String),
}

impl PartEngine {
    fn describe(&self, part: &str) -> String {
        match self {
            PartEngine::None => format!("{part}: none"),
            PartEngine::Compiled => format!("{part}: compiled"),
            PartEngine::Interpreted(why) => format!("{part}: interpreted ({why})"),
        }
    }
}

/// The compiled parts of a plan.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// How the `WHERE` clause runs (compiled alone, or fused into the aggregation kernel).
    pub filter: PartEngine,
    /// How the aggregation (group keys, aggregate arguments, accumulators) runs.
    pub aggregate: PartEngine,
    /// How the `SELECT` expressions of a query without aggregates run.
    pub projection: PartEngine,
    /// The `WHERE` kernel, when the filter compiled on its own.
    pub filter_kernel: Option<Arc<FilterKernel>>,
    /// The aggregation kernel (with the `WHERE` clause fused in).
    pub aggregate_kernel: Option<Arc<AggregateKernel>>,
    /// The projection kernel (with the `WHERE` clause fused in).
    pub project_kernel: Option<Arc<ProjectKernel>>,
    /// Whether the kernel came from the cache.
    pub cache_hit: bool,
}

impl Compiled {
    /// One line: how each part runs.
    pub fn summary(&self) -> String {
        let mut parts = vec![self.filter.describe("WHERE")];
        if self.aggregate != PartEngine::None {
            parts.push(self.aggregate.describe("aggregation"));
            parts.push(
                "HAVING and expressions over aggregates: interpreted (one row per group)".into(),
            );
        }
        if self.projection != PartEngine::None {
            parts.push(self.projection.describe("SELECT"));
        }
        parts.join(", ")
    }

    fn kernel_timing(&self) -> Option<jit::CompileTiming> {
        if let Some(k) = &self.aggregate_kernel {
            // With a separate filter kernel, both.
            let mut t = k.timing();
            if let Some(f) = &self.filter_kernel {
                let f = f.timing();
                t.codegen += f.codegen;
                t.optimize += f.optimize;
                t.machine_code += f.machine_code;
            }
            return Some(t);
        }
        if let Some(k) = &self.project_kernel {
            return Some(k.timing());
        }
        self.filter_kernel.as_ref().map(|k| k.timing())
    }

    /// Each kernel's use of the kernel cache on disk, as `--timing` prints it (`aggregation:
    /// hit, loaded in 0.61 ms`); `None` without kernels or without a disk cache.
    pub fn disk_summary(&self) -> Option<String> {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut parts = vec![];
        let mut add = |what: &str, t: Option<jit::CompileTiming>| match t.map(|t| (t.disk, t)) {
            Some((jit::DiskUse::Hit, t)) => parts.push(format!(
                "{what}: hit, loaded in {:.3} ms",
                ms(t.machine_code)
            )),
            Some((jit::DiskUse::CodeHit, t)) => parts.push(format!(
                "{what}: hit for the machine code (IR generated in {:.3} ms), loaded in {:.3} ms",
                ms(t.codegen),
                ms(t.machine_code)
            )),
            Some((jit::DiskUse::Miss, _)) => parts.push(format!("{what}: miss")),
            _ => {}
        };
        add("WHERE", self.filter_kernel.as_ref().map(|k| k.timing()));
        add(
            "aggregation",
            self.aggregate_kernel.as_ref().map(|k| k.timing()),
        );
        add("SELECT", self.project_kernel.as_ref().map(|k| k.timing()));
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Whether every kernel (at least one) was loaded whole from the kernel cache on disk: by
    /// its plan entry, without generating code.
    pub fn all_from_disk(&self) -> bool {
        let timings = [
            self.filter_kernel.as_ref().map(|k| k.timing()),
            self.aggregate_kernel.as_ref().map(|k| k.timing()),
            self.project_kernel.as_ref().map(|k| k.timing()),
        ];
        self.any_kernel()
            && timings
                .iter()
                .flatten()
                .all(|t| t.disk == jit::DiskUse::Hit)
    }

    /// Whether any part compiled to a kernel.
    pub fn any_kernel(&self) -> bool {
        self.filter_kernel.is_some()
            || self.aggregate_kernel.is_some()
            || self.project_kernel.is_some()
    }

    /// The kernels, for [`execute`].
    pub fn kernels(&self) -> Kernels<'_> {
        Kernels {
            filter: self.filter_kernel.as_deref(),
            aggregate: self.aggregate_kernel.as_deref(),
            project: self.project_kernel.as_deref(),
        }
    }

    /// Each compiled kernel's name and IR before and after optimization.
    fn kernel_ir(&self) -> Vec<(&'static str, &str, &str)> {
        let mut out = vec![];
        if let Some(k) = &self.filter_kernel {
            out.push(("WHERE kernel", k.ir_before(), k.ir_after()));
        }
        if let Some(k) = &self.aggregate_kernel {
            out.push(("aggregation kernel", k.ir_before(), k.ir_after()));
        }
        if let Some(k) = &self.project_kernel {
            out.push(("projection kernel", k.ir_before(), k.ir_after()));
        }
        out
    }
}

/// What a query returned.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub plan: Plan,
    /// The engine that ran it: `Jit` if some part ran compiled, else `Interp`.
    pub engine: EngineKind,
    /// What ran compiled.
    pub compiled: Compiled,
    pub timing: Timing,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Parses and binds `sql` against `source`.
pub fn plan(source: &Source, sql: &str) -> Result<Plan> {
    Ok(PreparedQuery::new(source, sql)?.plan)
}

/// A query parsed and bound against its opened source ([`OpenSource`]), ready to explain or
/// run without reading the source's footer or binding the SQL again: what [`explain`],
/// [`run`] and [`run_into`] do in one call, in two steps.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Int32Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use qjit::exec::{PreparedQuery, QueryOptions, Source};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2, 3]))])?;
/// let source = Source::batches("t", schema, vec![batch]);
/// let query = PreparedQuery::new(&source, "SELECT x FROM t WHERE x > 1")?;
/// assert_eq!(query.plan().output_names, ["x"]);
/// assert_eq!(query.run(&QueryOptions::default())?.num_rows(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PreparedQuery {
    source: OpenSource,
    plan: Plan,
    /// Parsing, opening the source and binding.
    parse_bind: Duration,
}

impl PreparedQuery {
    /// Parses `sql`, opens `source` (reads a Parquet file's footer) and binds the query against
    /// it. A query that does not parse is an error before the source is opened.
    pub fn new(source: &Source, sql: &str) -> Result<PreparedQuery> {
        crate::stack::with_room(|| {
            let start = Instant::now();
            let query = crate::sql::parse_query(sql)?;
            PreparedQuery::bind(source, &query, start.elapsed())
        })
    }

    /// Opens `source` and binds the parsed `query` against it; `parsed` is the time parsing
    /// took, which the query's `parse_bind` timing counts.
    pub(crate) fn bind(
        source: &Source,
        query: &sqlparser::ast::Query,
        parsed: Duration,
    ) -> Result<PreparedQuery> {
        crate::stack::with_room(|| {
            let start = Instant::now();
            let source = source.open()?;
            let plan = crate::sql::bind_query(query, source.name(), source.schema())?;
            Ok(PreparedQuery {
                source,
                plan,
                parse_bind: parsed + start.elapsed(),
            })
        })
    }

    /// The typed plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The opened source.
    pub fn source(&self) -> &OpenSource {
        &self.source
    }

    /// Runs the query under `options` and collects its result, as [`run`] does.
    pub fn run(self, options: &QueryOptions) -> Result<QueryResult> {
        let mut collect = Collect::default();
        // With room for a long chain of operators on the caller's thread.
        let run = crate::stack::with_room(|| self.run_into(options, &mut collect))?;
        Ok(QueryResult {
            schema: run.plan.output_schema(),
            batches: collect.batches,
            plan: run.plan,
            engine: run.engine,
            compiled: run.compiled,
            timing: run.timing,
        })
    }
}

/// Compiles what the engine compiles of `plan`: the aggregation of an aggregate query (with its
/// `WHERE` clause fused in), else the `WHERE` predicate.
///
/// With [`EngineKind::Jit`] a construct the code generator does not support is an
/// [`Error::NotCompiled`] naming it; with [`EngineKind::Auto`] that part runs interpreted, and
/// so does a part the JIT failed on (a bug, reported in the reason).
pub fn compile(plan: &Plan, options: &QueryOptions) -> Result<Compiled> {
    compile_with(plan, options, false)
}

/// [`compile`], keeping the kernels' IR if `keep_ir` (for [`explain`]).
fn compile_with(plan: &Plan, options: &QueryOptions, keep_ir: bool) -> Result<Compiled> {
    let optimize = jit::Optimize {
        level: options.opt_level,
        keep_ir,
    };
    let has_aggregate = matches!(plan.body, Body::Aggregate { .. });
    let has_projection = matches!(plan.body, Body::Project { .. });
    let absent = |present: bool, why: &str| {
        if present {
            PartEngine::Interpreted(why.to_string())
        } else {
            PartEngine::None
        }
    };
    let mut compiled = Compiled {
        filter: absent(plan.filter.is_some(), "the engine is interp"),
        aggregate: absent(has_aggregate, "the engine is interp"),
        projection: absent(has_projection, "the engine is interp"),
        filter_kernel: None,
        aggregate_kernel: None,
        project_kernel: None,
        cache_hit: false,
    };
    if options.engine == EngineKind::Interp {
        return Ok(compiled);
    }
    check_jit_available(options)?;
    let fallback = |e: CodegenError, part: &str| fallback(e, part, options.engine);
    if let Body::Aggregate {
        keys, aggregates, ..
    } = &plan.body
    {
        match jit::aggregate_kernel(
            plan.filter.as_ref(),
            keys,
            aggregates,
            &plan.scan_schema,
            optimize,
            options.kernel_cache.as_deref(),
        ) {
            Ok((kernel, hit)) => {
                compiled.aggregate = PartEngine::Compiled;
                if plan.filter.is_some() {
                    compiled.filter = PartEngine::Compiled;
                }
                compiled.aggregate_kernel = Some(kernel);
                compiled.cache_hit = hit;
                return Ok(compiled);
            }
            Err(e) => {
                // What does not compile inside an aggregation may be the WHERE clause (a
                // construct that hands batches back to the interpreter): then the aggregation
                // compiles alone, after a separate filter. If it does not, the reason is its
                // own.
                let alone = match &plan.filter {
                    Some(_) => jit::aggregate_kernel(
                        None,
                        keys,
                        aggregates,
                        &plan.scan_schema,
                        optimize,
                        options.kernel_cache.as_deref(),
                    ),
                    None => Err(e),
                };
                match alone {
                    Ok((kernel, hit)) => {
                        compiled.aggregate = PartEngine::Compiled;
                        compiled.aggregate_kernel = Some(kernel);
                        compiled.cache_hit = hit;
                    }
                    Err(e) => {
                        compiled.aggregate =
                            PartEngine::Interpreted(fallback(e, "the aggregation")?);
                    }
                }
            }
        }
    }
    if let Body::Project { exprs } = &plan.body {
        match jit::project_kernel(
            plan.filter.as_ref(),
            exprs,
            &plan.scan_schema,
            optimize,
            options.kernel_cache.as_deref(),
        ) {
            Ok((kernel, hit)) => {
                let interpreted: Vec<String> = kernel
                    .outputs()
                    .iter()
                    .zip(exprs)
                    .filter_map(|(o, e)| match o {
                        jit::Output::Interpreted(why) => Some(format!("{e}: {why}")),
                        _ => None,
                    })
                    .collect();
                if let (Some(first), EngineKind::Jit) = (interpreted.first(), options.engine) {
                    return Err(Error::NotCompiled {
                        what: format!("the SELECT expression {first}"),
                    });
                }
                compiled.projection = if interpreted.is_empty() {
                    PartEngine::Compiled
                } else {
                    PartEngine::Interpreted(interpreted.join("; "))
                };
                if plan.filter.is_some() {
                    compiled.filter = PartEngine::Compiled;
                }
                compiled.project_kernel = Some(kernel);
                compiled.cache_hit = hit;
                return Ok(compiled);
            }
            Err(e) => {
                compiled.projection = PartEngine::Interpreted(fallback(e, "the query")?);
            }
        }
    }
    let Some(filter) = &plan.filter else {
        return Ok(compiled);
    };
    let (engine, kernel) = compile_filter(filter, &plan.scan_schema, options, keep_ir)?;
    compiled.filter = engine;
    if let Some((kernel, hit)) = kernel {
        compiled.filter_kernel = Some(kernel);
        compiled.cache_hit = hit && (compiled.aggregate_kernel.is_none() || compiled.cache_hit);
    }
    Ok(compiled)
}

/// [`EngineKind::Jit`] in a build without the JIT is an error; every other engine runs.
fn check_jit_available(options: &QueryOptions) -> Result<()> {
    match (cfg!(feature = "jit"), options.engine) {
        (false, EngineKind::Jit) => Err(Error::Usage(
            "qjit was built without the JIT engine (the `jit` cargo feature); use the engine auto or interp".into(),
        )),
        _ => Ok(()),
    }
}

/// What to do when a part does not compile: an error with [`EngineKind::Jit`], else the reason
/// it runs interpreted.
fn fallback(e: CodegenError, part: &str, engine: EngineKind) -> Result<String> {
    match (e, engine) {
        (CodegenError::NotCompiled(reason), EngineKind::Jit) => Err(Error::NotCompiled {
            what: format!("{part}: {reason}"),
        }),
        (CodegenError::NotCompiled(reason), _) => Ok(reason),
        (CodegenError::Failed(e @ Error::Usage(_)), _)
        | (CodegenError::Failed(e), EngineKind::Jit) => Err(e),
        (CodegenError::Failed(e), _) => Ok(format!("the JIT failed: {e}")),
    }
}

/// A kernel, and whether it came from the cache.
type CachedKernel<K> = (Arc<K>, bool);

/// Compiles the predicate `filter` over batches of `schema` on its own (a filter kernel), as
/// [`compile`] does a `WHERE` clause: how it runs, and the kernel with whether it came from the
/// cache.
pub(crate) fn compile_filter(
    filter: &Expr,
    schema: &Schema,
    options: &QueryOptions,
    keep_ir: bool,
) -> Result<(PartEngine, Option<CachedKernel<FilterKernel>>)> {
    if options.engine == EngineKind::Interp {
        return Ok((PartEngine::Interpreted("the engine is interp".into()), None));
    }
    check_jit_available(options)?;
    let optimize = jit::Optimize {
        level: options.opt_level,
        keep_ir,
    };
    match jit::filter_kernel(filter, schema, optimize, options.kernel_cache.as_deref()) {
        Ok(kernel) => Ok((PartEngine::Compiled, Some(kernel))),
        Err(e) => Ok((
            PartEngine::Interpreted(fallback(e, "the WHERE clause", options.engine)?),
            None,
        )),
    }
}

/// What `--explain` prints: the typed plan, which parts run compiled and which interpreted (and
/// why), how a tiered `auto` query would run (`tiers: …`), and the LLVM IR of compiled kernels
/// before and after optimization.
pub fn explain(source: &Source, sql: &str, options: &QueryOptions) -> Result<String> {
    crate::sql::with_session_zone(options.timezone, || PreparedQuery::new(source, sql))?
        .explain(options, true)
}

impl PreparedQuery {
    /// What [`explain`] prints for the query; without `ir`, not the kernels' LLVM IR.
    pub fn explain(&self, options: &QueryOptions, ir: bool) -> Result<String> {
        let (plan, source) = (&self.plan, &self.source);
        crate::stack::with_room(|| explain_plan(plan, source, options, ir))
    }
}

/// [`explain`] of a bound `plan` over its opened `source` (with its kernels' IR if `ir`).
fn explain_plan(
    plan: &Plan,
    source: &OpenSource,
    options: &QueryOptions,
    ir: bool,
) -> Result<String> {
    let compiled = compile_with(plan, options, true)?;
    let mut out = format!(
        "{plan}\n\nengine: {:?}\n{}\n",
        options.engine,
        compiled.summary().replace(", ", "\n")
    );
    // What `auto` would do with these parts when it runs tiered.
    if options.engine == EngineKind::Auto && options.tiers != TierSwitch::Off {
        let scan = source.pruned_morsels(&plan.projection, plan.filter.as_ref())?;
        let tiering = Tiering::choose(plan, &scan, options);
        out.push_str(&format!("tiers: {}\n", tiering.reason(scan.rows())));
    }
    for (name, before, after) in compiled.kernel_ir().into_iter().filter(|_| ir) {
        out.push_str(&format!(
            "\n; ---- {name}: LLVM IR before optimization ----\n{before}\n; ---- {name}: LLVM IR after {} ----\n{after}",
            match options.opt_level {
                None => "the kernel pipeline".to_string(),
                Some(n) => format!("default<O{n}>"),
            },
        ));
    }
    Ok(out)
}

/// The LLVM IR after optimization of the kernels of `plan`, compiled afresh with `options` (for
/// the DataFusion integration's `--explain`).
#[cfg(feature = "datafusion")]
pub(crate) fn kernel_ir_of(plan: &Plan, options: &QueryOptions) -> Result<Vec<String>> {
    let compiled = compile_with(plan, options, true)?;
    Ok(compiled
        .kernel_ir()
        .into_iter()
        .map(|(_, _, after)| after.to_string())
        .collect())
}

/// Runs `sql` over `source`: parse, bind, compile what compiles, execute; the result's
/// batches are collected ([`run_into`] streams them instead).
pub fn run(source: &Source, sql: &str, options: &QueryOptions) -> Result<QueryResult> {
    options.cancel.check()?;
    crate::sql::with_session_zone(options.timezone, || PreparedQuery::new(source, sql))?
        .run(options)
}

/// How a query ran ([`run_into`]): everything [`QueryResult`] says but the rows.
#[derive(Clone, Debug)]
pub struct QueryRun {
    pub plan: Plan,
    /// The engine that ran it: `Jit` if some part ran compiled, else `Interp`.
    pub engine: EngineKind,
    /// What ran compiled.
    pub compiled: Compiled,
    pub timing: Timing,
    /// The rows handed to the sink.
    pub rows: usize,
    /// What ran in which tier, for a tiered query ([`QueryOptions::tiers`]).
    pub tiers: Option<TierReport>,
}

/// Runs `sql` over `source` as [`run`] does, handing the result to `sink` as it is produced
/// (see [`ResultSink`]): a query without `ORDER BY`, `DISTINCT` or aggregates streams, so its
/// memory holds a few morsels of rows, not the whole result. On an error the sink has taken
/// whatever rows came before it, and is not finished.
pub fn run_into(
    source: &Source,
    sql: &str,
    options: &QueryOptions,
    sink: &mut dyn ResultSink,
) -> Result<QueryRun> {
    options.cancel.check()?;
    crate::sql::with_session_zone(options.timezone, || PreparedQuery::new(source, sql))?
        .run_into(options, sink)
}

impl PreparedQuery {
    /// Runs the query as [`run_into`] does, handing the result to `sink` as it is produced.
    pub fn run_into(self, options: &QueryOptions, sink: &mut dyn ResultSink) -> Result<QueryRun> {
        options.cancel.check()?;
        let PreparedQuery {
            source,
            plan,
            parse_bind,
        } = self;
        run_plan_into(plan, &source, parse_bind, options, sink)
    }
}

/// [`run_into`] of a bound `plan` over its opened `source`.
fn run_plan_into(
    plan: Plan,
    source: &OpenSource,
    parse_bind: Duration,
    options: &QueryOptions,
    sink: &mut dyn ResultSink,
) -> Result<QueryRun> {
    let threads = options.threads();
    // The first morsels are decoded while the kernels compile.
    let start = Instant::now();
    let mut scan = match options.pushdown {
        true => source.filtered_morsels(&plan.projection, plan.filter.as_ref(), None)?,
        false => source.morsels(&plan.projection)?,
    };
    if options.pushdown {
        scan = scan.with_prefilter(prefilter(&plan));
    }
    // ORDER BY … LIMIT finds its rows from the sort keys first when dropping rows
    // cannot hide an error, and reads only those.
    let can_drop_rows =
        plan.filter.as_ref().is_none_or(infallible) && plan.final_exprs().iter().all(infallible);
    if let (true, true, Some((threshold, columns))) = (
        options.pushdown,
        can_drop_rows,
        topn::Threshold::for_plan(&plan),
    ) {
        scan = scan.with_top_threshold(threshold.clone(), columns, &plan.projection);
        if scan.threshold().is_some() {
            scan = top_rows_first(source, &plan, scan, &threshold, options)?;
        }
    }
    let scan_time = start.elapsed();
    let tiering = Tiering::choose(&plan, &scan, options);
    let compiled = match tiering {
        Tiering::Tiered => return run_tiered(&plan, scan, scan_time, parse_bind, options, sink),
        Tiering::InterpretOnly | Tiering::OverBudget(_) => {
            not_compiled(&plan, &tiering.reason(scan.rows()))
        }
        _ if options.engine == EngineKind::Interp => compile(&plan, options)?,
        _ => decoding_during(&scan, threads, || compile(&plan, options))??,
    };
    options.cancel.check()?;
    let compile_timing = match compiled.cache_hit {
        false => compiled.kernel_timing().unwrap_or_default(),
        true => jit::CompileTiming::default(),
    };
    let start = Instant::now();
    let (output, rows) = execute_timed(
        &plan,
        &scan,
        pipeline::KernelSource::Fixed(compiled.kernels()),
        options,
        sink,
    )?;
    let execute = (scan_time + start.elapsed()).saturating_sub(output);
    Ok(QueryRun {
        engine: if compiled.any_kernel() {
            EngineKind::Jit
        } else {
            EngineKind::Interp
        },
        timing: Timing {
            parse_bind,
            compile: compile_timing,
            kernel_cache_hit: compiled.any_kernel().then_some(compiled.cache_hit),
            execute,
            output,
        },
        rows,
        compiled,
        plan,
        tiers: None,
    })
}

/// The rest of [`run_into`] for a tiered query: the kernels compile on another thread while
/// the query runs, each batch in the tier ready when it starts ([`tier`]).
#[allow(clippy::too_many_arguments)]
fn run_tiered(
    plan: &Plan,
    scan: Scan,
    scan_time: Duration,
    parse_bind: Duration,
    options: &QueryOptions,
    sink: &mut dyn ResultSink,
) -> Result<QueryRun> {
    check_jit_available(options)?;
    let start = Instant::now();
    let tiers = tier::Tiers::start(plan, options)?;
    let (output, rows) = execute_timed(
        plan,
        &scan,
        pipeline::KernelSource::Tiered(&tiers),
        options,
        sink,
    )?;
    let execute = (scan_time + start.elapsed()).saturating_sub(output);
    let report = tiers.outcome();
    let compiled = match &report.compiled {
        Some(compiled) => (**compiled).clone(),
        None => not_compiled(plan, "the query ended before its kernels compiled"),
    };
    let ran_compiled = report.compiled_batches > 0;
    Ok(QueryRun {
        engine: if ran_compiled {
            EngineKind::Jit
        } else {
            EngineKind::Interp
        },
        timing: Timing {
            parse_bind,
            compile: compiled.kernel_timing().unwrap_or_default(),
            kernel_cache_hit: compiled.any_kernel().then_some(compiled.cache_hit),
            execute,
            output,
        },
        rows,
        compiled,
        plan: plan.clone(),
        tiers: Some(report),
    })
}

/// How `--engine auto` runs a query, by the rows it reads per worker thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tiering {
    /// Too few rows for compiling to pay off: the interpreter alone.
    InterpretOnly,
    /// Start interpreted while the kernels compile, and switch ([`tier`]).
    Tiered,
    /// Compile first while the first morsels decode, then run compiled: with this many rows
    /// the kernels' speed is worth more than starting a few morsels early.
    CompileFirst,
    /// The plan is too large to compile in reasonable time ([`COMPILE_BUDGET`]): the
    /// interpreter alone.
    OverBudget(usize),
}

/// The most expression nodes (a `LIKE` pattern's wildcards counting as nodes too) that
/// `auto` compiles into kernels; a larger query runs in the interpreter. LLVM's time grows
/// faster than the IR: whole `--engine jit` processes over the SF 0.01 sample took 0.06 s
/// for 25 projected `l_quantity + i` (about 100 nodes), 0.27 s for 100 and 0.63 s for 200,
/// and a `LIKE` of 300 wildcards 0.36 s; at this budget a compile stays under about a second.
pub const COMPILE_BUDGET: usize = 1_000;

/// The size of what compiling `plan` would lower: the nodes of its `WHERE` clause, `SELECT`
/// expressions or group keys and aggregate arguments, and the wildcards of its `LIKE`
/// patterns (each becomes a search loop).
fn compile_weight(plan: &Plan) -> usize {
    let mut weight = 0usize;
    let mut count = |e: &Expr| {
        e.walk(&mut |n| {
            weight += 1;
            if let Expr::Like { pattern, .. } = n {
                weight += pattern.chars().filter(|c| matches!(c, '%' | '_')).count();
            }
        })
    };
    if let Some(filter) = &plan.filter {
        count(filter);
    }
    match &plan.body {
        Body::Project { exprs } => exprs.iter().for_each(&mut count),
        Body::Aggregate {
            keys, aggregates, ..
        } => {
            keys.iter().for_each(&mut count);
            aggregates
                .iter()
                .filter_map(|a| a.arg.as_ref())
                .for_each(&mut count);
        }
    }
    weight
}

/// Rows per worker thread below which `auto` does not compile: the interpreter runs TPC-H Q1
/// at about 77 ns a row per thread (SF 1 `lineitem`, 2 threads, 231 ms), and its kernels take
/// 15-35 ms to compile, so below about 400,000 rows a thread the compile costs more than it
/// saves (and, on few cores, takes a core from the interpreter while it runs).
pub const COMPILE_PAYS_ROWS: usize = 400_000;

/// Rows per worker thread from which `auto` compiles before running: at SF 1 (3 million rows a
/// thread) tiered execution was 5-20% slower than compiling first, since the morsels an
/// aggregation starts interpreted stay interpreted.
pub const COMPILE_FIRST_ROWS: usize = 1_000_000;

impl Tiering {
    /// How `auto` runs `plan` over `scan` under `options` (compile first for other engines
    /// and without tiers).
    fn choose(plan: &Plan, scan: &Scan, options: &QueryOptions) -> Tiering {
        let weight = compile_weight(plan);
        match (options.engine, options.tiers) {
            (EngineKind::Auto, TierSwitch::WhenReady) if weight > COMPILE_BUDGET => {
                Tiering::OverBudget(weight)
            }
            (EngineKind::Auto, TierSwitch::WhenReady) => {
                Tiering::for_rows(scan.rows(), options.threads())
            }
            (EngineKind::Auto, TierSwitch::AtBatch(_) | TierSwitch::Never) => Tiering::Tiered,
            _ => Tiering::CompileFirst,
        }
    }

    /// Why, for `--explain` and the parts' reasons, given the rows the scan reads.
    fn reason(self, rows: usize) -> String {
        match self {
            Tiering::OverBudget(weight) => format!(
                "the query's {weight} expression nodes are over the compile budget of {COMPILE_BUDGET}"
            ),
            Tiering::InterpretOnly => {
                format!("{rows} rows to read, too few for compiling to pay off")
            }
            Tiering::Tiered => format!(
                "{rows} rows to read: start interpreted while the kernels compile, then switch"
            ),
            Tiering::CompileFirst => format!("{rows} rows to read: compile first, then run"),
        }
    }

    fn for_rows(rows: usize, threads: usize) -> Tiering {
        match rows / threads.max(1) {
            n if n < COMPILE_PAYS_ROWS => Tiering::InterpretOnly,
            n if n < COMPILE_FIRST_ROWS => Tiering::Tiered,
            _ => Tiering::CompileFirst,
        }
    }
}

/// A plan's parts, all interpreted for `why`.
fn not_compiled(plan: &Plan, why: &str) -> Compiled {
    let part = |present: bool| match present {
        true => PartEngine::Interpreted(why.to_string()),
        false => PartEngine::None,
    };
    Compiled {
        filter: part(plan.filter.is_some()),
        aggregate: part(matches!(plan.body, Body::Aggregate { .. })),
        projection: part(matches!(plan.body, Body::Project { .. })),
        filter_kernel: None,
        aggregate_kernel: None,
        project_kernel: None,
        cache_hit: false,
    }
}

/// Finds the rows of `plan`'s top-N from its sort keys alone ([`topn::Candidates`]) when
/// that pays ([`topn::Threshold::keys_first`]), and cuts `scan` to those rows.
fn top_rows_first(
    source: &OpenSource,
    plan: &Plan,
    scan: Scan,
    threshold: &Arc<topn::Threshold>,
    options: &QueryOptions,
) -> Result<Scan> {
    let Some(columns) = threshold.keys_first(plan) else {
        return Ok(scan);
    };
    let keys = source
        .filtered_morsels(columns, None, None)?
        .with_top_threshold(threshold.clone(), columns.to_vec(), columns);
    let limits = options.limits();
    match pipeline::top_positions(&keys, threshold, options.threads(), &limits)? {
        Some(positions) => Ok(scan.select_rows(&positions)),
        None => Ok(scan),
    }
}

/// Runs the pipeline under `options`' limits into `sink`: the time spent handing the result to
/// the sink, and the rows it took.
fn execute_timed(
    plan: &Plan,
    scan: &Scan,
    kernels: pipeline::KernelSource,
    options: &QueryOptions,
    sink: &mut dyn ResultSink,
) -> Result<(Duration, usize)> {
    let mut timed = TimedSink {
        sink,
        spent: Duration::ZERO,
        rows: 0,
    };
    let limits = options.limits();
    pipeline::execute_from(plan, scan, kernels, options.threads(), &limits, &mut timed)?;
    Ok((timed.spent, timed.rows))
}

/// A sink that counts the time spent in another and the rows it took.
struct TimedSink<'a> {
    sink: &'a mut dyn ResultSink,
    spent: Duration,
    rows: usize,
}

impl TimedSink<'_> {
    fn time<T>(&mut self, f: impl FnOnce(&mut dyn ResultSink) -> T) -> T {
        let start = Instant::now();
        let out = f(&mut *self.sink);
        self.spent += start.elapsed();
        out
    }
}

impl ResultSink for TimedSink<'_> {
    fn start(&mut self, schema: &SchemaRef) -> Result<()> {
        self.time(|s| s.start(schema))
    }

    fn encoder(&self) -> Option<Encoder> {
        self.sink.encoder()
    }

    fn write(&mut self, part: Part) -> Result<()> {
        self.rows += part.num_rows();
        self.time(|s| s.write(part))
    }

    fn finish(&mut self) -> Result<()> {
        self.time(|s| s.finish())
    }
}

/// The prefilter of a Parquet scan ([`source::Scan::with_prefilter`]): what the `WHERE`
/// clause needs of single columns ([`predicate::Necessary`]), when the whole clause cannot
/// fail, so that dropping the rows that fail it early drops no error, only rows the clause
/// rejects anyway.
fn prefilter(plan: &Plan) -> Option<predicate::Necessary> {
    let filter = plan.filter.as_ref()?;
    if !infallible(filter) {
        return None;
    }
    predicate::Necessary::of(filter, &plan.projection)
}

/// Whether evaluating `e` can never fail (the interpreter's conservative rule, one for both
/// engines).
fn infallible(e: &Expr) -> bool {
    !crate::interp::fallible::can_fail(e)
}
