//! `qjit bench`: benchmark suites of queries over TPC-H data in memory, on several engines.
//!
//! Two suites ([`Suite`]): `lineitem` (the default), the TPC-H-style single-table queries of
//! `queries/` on qjit's own engines and DuckDB, described here; and `tpch`, the 22 TPC-H
//! queries of `queries/tpch` over all eight tables on DataFusion with and without qjit's
//! kernels and DuckDB (module [`tpch`], in builds with the `datafusion` feature).
//!
//! ```text
//! data dir ─(missing: gen-tpch)─▶ sf<N>/lineitem.parquet ─┬─duckdb engine: duckdb::run─▶ times, answers
//!                                                         └─load once─▶ in-memory batches
//!   for each query: each qjit engine's cold compile (empty kernel cache) ─▶ each one's warm-up
//!                   ─▶ K rounds of one timed run per engine (interleaved)
//!   every answer ─check─▶ the reference answers, or the first engine's
//! ```
//!
//! What a qjit execution time includes: the execute phase of [`crate::exec::run`]
//! ([`crate::exec::Timing::execute`]) over the in-memory Arrow batches, with `--threads` worker
//! threads and the kernels already compiled and cached: filtering, projecting or aggregating,
//! sorting, and building the result batches. It excludes parsing and binding the SQL and
//! compiling (reported apart, as a cold compile: the kernel cache is emptied before each query).
//! One untimed run warms up first; before the first query, one untimed compile loads LLVM. The
//! engines' timed runs alternate, so a slow moment of a shared machine slows them all alike.
//!
//! DuckDB ([`Engine::Duckdb`], module [`duckdb`]) runs in a Python process, before the qjit
//! engines (so the two never compete for cores), over an in-memory table loaded from the same
//! Parquet file, with `SET threads` to the same count. Its time includes its parse, bind and
//! optimize of the SQL text (a fraction of a millisecond) and fetching the answer; its
//! `compile_ms` is 0.
//!
//! Each answer is checked against the reference answers of the scale factor when there are some
//! (`<references>/<query>.csv`, as an independent engine printed them), otherwise against the
//! first engine's answer ([`check`]).

mod check;
pub mod duckdb;
#[cfg(feature = "datafusion")]
pub mod tpch;

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::exec::{self, EngineKind, QueryOptions, Source};

pub use check::Answer;

/// An engine `qjit bench` can run the queries on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// qjit's JIT; an error if a query does not compile.
    Jit,
    /// qjit's arrow-rs interpreter.
    Interp,
    /// qjit choosing per part: compiled where it compiles, else interpreted.
    Auto,
    /// DuckDB, through Python's `duckdb` module (`pip install duckdb`).
    Duckdb,
    /// DataFusion's own expressions (the tpch suite).
    Datafusion,
    /// DataFusion with qjit's kernels, compiled before the timed runs (the tpch suite).
    #[value(name = "datafusion+qjit")]
    DatafusionQjit,
}

/// A set of queries `qjit bench` runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// The single-table queries of `queries/` over `lineitem`.
    #[default]
    Lineitem,
    /// The 22 TPC-H queries of `queries/tpch` over the eight tables.
    Tpch,
}

impl Suite {
    /// The name in `--suite` and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Lineitem => "lineitem",
            Suite::Tpch => "tpch",
        }
    }

    /// The engines it runs on when `--engines` is not given.
    pub fn default_engines(self) -> Vec<Engine> {
        match self {
            Suite::Lineitem => vec![Engine::Jit, Engine::Interp],
            Suite::Tpch => vec![Engine::Datafusion, Engine::DatafusionQjit, Engine::Duckdb],
        }
    }

    /// Where its queries are when `--queries` is not given.
    pub fn default_queries(self) -> PathBuf {
        match self {
            Suite::Lineitem => PathBuf::from("queries"),
            Suite::Tpch => PathBuf::from("queries/tpch"),
        }
    }

    /// Where its reference answers at scale factor `sf` are kept in the project, if they are.
    pub fn reference_dir(self, sf: f64) -> PathBuf {
        match self {
            Suite::Lineitem => PathBuf::from(format!("tests/reference/sf{sf}")),
            Suite::Tpch => PathBuf::from(format!("tests/reference/tpch-sf{sf}")),
        }
    }
}

impl Engine {
    /// The name in `--engines` and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Jit => "jit",
            Engine::Interp => "interp",
            Engine::Auto => "auto",
            Engine::Duckdb => "duckdb",
            Engine::Datafusion => "datafusion",
            Engine::DatafusionQjit => "datafusion+qjit",
        }
    }

    /// The qjit engine, or `None` for DuckDB and the DataFusion engines.
    fn qjit(self) -> Option<EngineKind> {
        match self {
            Engine::Jit => Some(EngineKind::Jit),
            Engine::Interp => Some(EngineKind::Interp),
            Engine::Auto => Some(EngineKind::Auto),
            Engine::Duckdb | Engine::Datafusion | Engine::DatafusionQjit => None,
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Which queries over which tables.
    pub suite: Suite,
    /// The TPC-H scale factor.
    pub sf: f64,
    /// The directory of `*.sql` queries.
    pub queries: PathBuf,
    pub engines: Vec<Engine>,
    /// Worker threads for every engine (`None`: all cores, [`default_threads`]).
    pub threads: Option<usize>,
    /// Timed executions per query and engine.
    pub iterations: usize,
    /// Where generated data is cached (`<data_dir>/sf<N>/<table>.parquet`).
    pub data_dir: PathBuf,
    /// A Parquet file the lineitem suite runs its queries over instead of the generated
    /// `lineitem` (the queries name it after the file: `events.parquet` is `events`).
    pub data: Option<PathBuf>,
    /// The reference answers for this scale factor, if any.
    pub references: Option<PathBuf>,
    /// Show a progress bar while generating data.
    pub progress: bool,
    /// Stops the benchmark (data generation, loading, every query) with [`Error::Cancelled`].
    pub cancel: crate::Cancel,
    /// The memory limit of each query ([`QueryOptions::memory_limit`]).
    pub memory_limit: Option<usize>,
    /// A kernel cache on disk to measure loads from ([`Measurement::load_ms`]); compile_ms
    /// never uses it.
    pub kernel_cache: Option<std::sync::Arc<crate::kernel_cache::KernelCache>>,
}

/// One query on one engine.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The query file's stem.
    pub query: String,
    pub suite: Suite,
    pub engine: Engine,
    /// Worker threads the engine was given.
    pub threads: usize,
    pub sf: f64,
    /// Rows of the tables scanned per execution (a table read twice counts twice).
    pub rows_in: usize,
    /// Cold compile time (empty kernel cache); 0 for the interpreter and DuckDB.
    pub compile_ms: f64,
    /// The time to get the same kernels from the kernel cache on disk instead (codegen, then
    /// reading and linking the stored object code); `None` without kernels or a cache.
    pub load_ms: Option<f64>,
    /// Median execution time.
    pub exec_ms: f64,
    pub exec_ms_min: f64,
    /// Whether the answer matched.
    pub result_ok: bool,
    /// Why the answer did not match, or how the engine ran the query.
    pub note: String,
    /// The time one core takes to read the query's columns from memory once (their bytes ÷
    /// the measured single-core read bandwidth): a floor for a scan-bound query on one thread.
    /// Not in the JSON output.
    pub floor_ms: Option<f64>,
}

impl Measurement {
    /// One JSON object with exactly the documented keys.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"query\":{:?},\"suite\":\"{}\",\"engine\":\"{}\",\"threads\":{},\"sf\":{},\"rows_in\":{},\"compile_ms\":{:.3},\"load_ms\":{},\"exec_ms\":{:.3},\"exec_ms_min\":{:.3},\"result_ok\":{}}}",
            self.query,
            self.suite.name(),
            self.engine.name(),
            self.threads,
            self.sf,
            self.rows_in,
            self.compile_ms,
            self.load_ms.map_or("null".to_string(), |ms| format!("{ms:.3}")),
            self.exec_ms,
            self.exec_ms_min,
            self.result_ok
        )
    }
}

impl Measurement {
    /// Records the outcome of checking the answer: on a mismatch, `why` replaces the note.
    fn check(&mut self, (ok, why): (bool, String)) {
        if !ok {
            self.result_ok = false;
            self.note = why;
        }
    }
}

/// All cores: the number of threads when `--threads` is not given.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The cached `lineitem` of scale factor `sf`, generated if missing (until `cancel` is raised).
pub fn lineitem_file(
    data_dir: &Path,
    sf: f64,
    progress: bool,
    cancel: &crate::Cancel,
) -> Result<PathBuf> {
    let dir = data_dir.join(format!("sf{sf}"));
    let path = dir.join("lineitem.parquet");
    if !path.exists() {
        crate::tpch::generate_with(sf, &dir, &["lineitem"], false, progress, cancel)?;
    }
    Ok(path)
}

/// Loads every column of a Parquet file into memory (until `cancel` is raised).
pub fn load(path: &Path, cancel: &crate::Cancel) -> Result<Source> {
    let file = Source::parquet(path);
    let schema = file.schema()?;
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let batches = file
        .scan(&all)?
        .map(|b| cancel.check().and(b))
        .collect::<Result<Vec<RecordBatch>>>()?;
    Ok(Source::batches(file.name(), schema, batches))
}

/// The `*.sql` files of a directory, sorted.
fn query_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut queries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            Error::Usage(format!(
                "cannot read the query folder {}: {e}; run qjit bench in the qjit repository \
                 (its queries/ folder), or give the folder of *.sql files with --queries DIR",
                dir.display()
            ))
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    queries.sort();
    if queries.is_empty() {
        return Err(Error::Usage(format!("no .sql files in {}", dir.display())));
    }
    Ok(queries)
}

/// A query's name: its file's stem.
fn query_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs the benchmark.
pub fn run(options: &BenchOptions) -> Result<Vec<Measurement>> {
    if options.iterations == 0 {
        return Err(Error::Usage("--iterations must be at least 1".into()));
    }
    if options.threads == Some(0) {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let threads = options.threads.unwrap_or_else(default_threads);
    let queries = query_files(&options.queries)?;
    match options.suite {
        Suite::Lineitem => lineitem(options, threads, &queries),
        #[cfg(feature = "datafusion")]
        Suite::Tpch => tpch::run(options, threads, &queries),
        #[cfg(not(feature = "datafusion"))]
        Suite::Tpch => Err(Error::Usage(
            "--suite tpch runs on DataFusion, and this qjit was built without its `datafusion` \
             feature; build it with the default features"
                .into(),
        )),
    }
}

/// The lineitem suite (see the module docs).
fn lineitem(
    options: &BenchOptions,
    threads: usize,
    queries: &[PathBuf],
) -> Result<Vec<Measurement>> {
    if let Some(e) = options
        .engines
        .iter()
        .find(|e| e.qjit().is_none() && **e != Engine::Duckdb)
    {
        return Err(Error::Usage(format!(
            "--engines {}: the DataFusion engines run the multi-table queries of --suite tpch",
            e.name()
        )));
    }
    let with_duckdb = options.engines.contains(&Engine::Duckdb);
    // A missing Python or module is reported before minutes of data generation.
    let duckdb_version = with_duckdb.then(duckdb::version).transpose()?;
    let file = match &options.data {
        Some(file) => file.clone(),
        None => lineitem_file(
            &options.data_dir,
            options.sf,
            options.progress,
            &options.cancel,
        )?,
    };
    let duckdb = with_duckdb
        .then(|| duckdb::run(&file, threads, options.iterations, queries))
        .transpose()?;
    let source = options
        .engines
        .iter()
        .any(|e| e.qjit().is_some())
        .then(|| load(&file, &options.cancel))
        .transpose()?;
    // Single-core read bandwidth, over a buffer far larger than the caches.
    let bandwidth = source
        .as_ref()
        .map(|_| crate::bandwidth::read_bandwidth(1 << 30, 3));
    // A probe compile, untimed: the first compile of a process also pages in LLVM's code and
    // initializes its target, which is not the query's cost.
    if let (Some(source), Some(path)) = (&source, queries.first()) {
        if let Ok(sql) = std::fs::read_to_string(path) {
            let plan = exec::plan(source, &sql)?;
            let _ = exec::compile(&plan, &QueryOptions::default());
        }
    }
    let mut out = vec![];
    for path in queries {
        let name = query_name(path);
        let sql = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        let reference = match &options.references {
            Some(dir) => std::fs::read_to_string(dir.join(format!("{name}.csv"))).ok(),
            None => None,
        };
        let floor_ms = match (&source, bandwidth) {
            (Some(source), Some(bw)) => Some(column_bytes(source, &sql)? as f64 / bw * 1e3),
            _ => None,
        };
        let qjit_engines: Vec<(Engine, EngineKind)> = options
            .engines
            .iter()
            .filter_map(|&e| Some((e, e.qjit()?)))
            .collect();
        let mut qjit_runs =
            match &source {
                Some(source) => measure(source, &sql, &qjit_engines, threads, options).map_err(
                    |(engine, e)| match e {
                        // `--engines jit` in a build without the JIT, say.
                        Error::Usage(m) => {
                            Error::Usage(format!("{name} on {}: {m}", engine.name()))
                        }
                        e @ (Error::Cancelled | Error::MemoryLimit { .. }) => e,
                        e => Error::internal(format!("{name} on {}: {e}", engine.name())),
                    },
                )?,
                None => vec![],
            }
            .into_iter();
        let mut baseline: Option<Answer> = None;
        for &engine in &options.engines {
            let (timed, answer) = match (engine.qjit(), &duckdb) {
                (Some(_), _) => qjit_runs
                    .next()
                    .ok_or_else(|| Error::internal("an engine without its data"))?,
                (None, Some(run)) => {
                    let version = duckdb_version.as_deref().unwrap_or("?");
                    from_duckdb(run, &name, version)?
                }
                _ => return Err(Error::internal("an engine without its data")),
            };
            let (result_ok, why) = match (&reference, &baseline) {
                (Some(want), _) => answer.matches(&Answer::reference(want)),
                (None, Some(want)) => answer.matches(want),
                (None, None) => (true, String::new()),
            };
            let mut m = timed.measurement(&name, Suite::Lineitem, engine, options.sf, threads);
            m.floor_ms = floor_ms;
            m.check((result_ok, why));
            out.push(m);
            baseline.get_or_insert(answer);
        }
    }
    Ok(out)
}

/// What one engine measured for one query.
struct Timed {
    rows_in: usize,
    compile_ms: f64,
    load_ms: Option<f64>,
    /// The timed runs, sorted.
    exec_ms: Vec<f64>,
    /// How the engine ran the query.
    how: String,
}

impl Timed {
    /// The measurement of query `name` on `engine` (its answer taken as right, with no floor).
    fn measurement(
        self,
        name: &str,
        suite: Suite,
        engine: Engine,
        sf: f64,
        threads: usize,
    ) -> Measurement {
        Measurement {
            query: name.to_string(),
            suite,
            engine,
            threads,
            sf,
            rows_in: self.rows_in,
            compile_ms: self.compile_ms,
            load_ms: self.load_ms,
            exec_ms: self.exec_ms[self.exec_ms.len() / 2],
            exec_ms_min: self.exec_ms[0],
            result_ok: true,
            note: self.how,
            floor_ms: None,
        }
    }
}

/// One query on the qjit `engines`, in their order: for each a cold compile (an empty kernel
/// cache), then for each a warm-up run, then `options.iterations` rounds that run each engine
/// once. Interleaving the timed runs puts every engine through the same moments of a noisy
/// machine, so their ratio holds even when the times drift. An error comes with its engine.
fn measure(
    source: &Source,
    sql: &str,
    engines: &[(Engine, EngineKind)],
    threads: usize,
    options: &BenchOptions,
) -> std::result::Result<Vec<(Timed, Answer)>, (Engine, Error)> {
    let Some(&(first, _)) = engines.first() else {
        return Ok(vec![]);
    };
    let plan = exec::plan(source, sql).map_err(|e| (first, e))?;
    let mut runs = vec![];
    for &(engine, kind) in engines {
        let query_options = QueryOptions {
            engine: kind,
            threads: Some(threads),
            cancel: options.cancel.clone(),
            memory_limit: options.memory_limit,
            ..QueryOptions::default()
        };
        crate::jit::clear_cache();
        let start = Instant::now();
        let compiled = exec::compile(&plan, &query_options).map_err(|e| (engine, e))?;
        let compile_ms = match compiled.any_kernel() {
            true => start.elapsed().as_secs_f64() * 1e3,
            false => 0.0,
        };
        let load_ms = match (compiled.any_kernel(), &options.kernel_cache) {
            (true, Some(cache)) => {
                cache_load_ms(&plan, &query_options, cache).map_err(|e| (engine, e))?
            }
            _ => None,
        };
        runs.push((
            engine,
            query_options,
            compile_ms,
            load_ms,
            compiled.summary(),
        ));
    }
    // The warm-up runs compile again what a later engine's cold compile evicted; the timed
    // runs then find every kernel in the cache.
    let mut results = vec![];
    for (engine, query_options, ..) in &runs {
        results.push(exec::run(source, sql, query_options).map_err(|e| (*engine, e))?);
    }
    let mut exec_ms = vec![vec![]; runs.len()];
    for _ in 0..options.iterations {
        for (i, (engine, query_options, ..)) in runs.iter().enumerate() {
            let result = exec::run(source, sql, query_options).map_err(|e| (*engine, e))?;
            if result.timing.kernel_cache_hit == Some(false) {
                let e = Error::internal("a timed run compiled its kernels again");
                return Err((*engine, e));
            }
            exec_ms[i].push(result.timing.execute.as_secs_f64() * 1e3);
            results[i] = result;
        }
    }
    let rows_in: usize = source
        .scan(&plan.projection)
        .and_then(|batches| batches.map(|b| b.map(|b| b.num_rows())).sum())
        .map_err(|e| (first, e))?;
    let schema = plan.output_schema();
    let mut out = vec![];
    for (((engine, _, compile_ms, load_ms, how), result), mut exec_ms) in
        runs.into_iter().zip(results).zip(exec_ms)
    {
        exec_ms.sort_by(f64::total_cmp);
        let answer = Answer::from_batches(&schema, &result.batches).map_err(|e| (engine, e))?;
        let timed = Timed {
            rows_in,
            compile_ms,
            load_ms,
            exec_ms,
            how,
        };
        out.push((timed, answer));
    }
    Ok(out)
}

/// The time to get `plan`'s kernels from the kernel cache on disk `cache`: they are stored
/// there first (unless a previous run did), then compiled again with an empty in-process
/// cache, which loads them. `None` when they do not all load from it (a cache that cannot be
/// written).
fn cache_load_ms(
    plan: &crate::ir::Plan,
    options: &QueryOptions,
    cache: &std::sync::Arc<crate::kernel_cache::KernelCache>,
) -> Result<Option<f64>> {
    let cached = QueryOptions {
        kernel_cache: Some(cache.clone()),
        ..options.clone()
    };
    crate::jit::clear_cache();
    exec::compile(plan, &cached)?;
    crate::jit::clear_cache();
    let start = Instant::now();
    let loaded = exec::compile(plan, &cached)?;
    let elapsed = start.elapsed().as_secs_f64() * 1e3;
    Ok(loaded.all_from_disk().then_some(elapsed))
}

/// The bytes of the in-memory columns `sql` reads.
fn column_bytes(source: &Source, sql: &str) -> Result<usize> {
    let plan = exec::plan(source, sql)?;
    let mut bytes = 0;
    for batch in source.scan(&plan.projection)? {
        bytes += batch?
            .columns()
            .iter()
            .map(|c| c.get_buffer_memory_size())
            .sum::<usize>();
    }
    Ok(bytes)
}

/// One query's figures from the DuckDB run.
fn from_duckdb(run: &duckdb::DuckDbRun, name: &str, version: &str) -> Result<(Timed, Answer)> {
    let query = run
        .queries
        .get(name)
        .ok_or_else(|| Error::internal(format!("the DuckDB script did not report query {name}")))?;
    let mut exec_ms = query.exec_ms.clone();
    exec_ms.sort_by(f64::total_cmp);
    let timed = Timed {
        rows_in: run.rows,
        compile_ms: 0.0,
        load_ms: None,
        exec_ms,
        how: format!("DuckDB {version}, tables in memory; time includes its planning"),
    };
    let answer = Answer {
        csv: query.csv.clone(),
        floats: query.float_columns.clone(),
    };
    Ok((timed, answer))
}

/// A table of measurements for humans.
pub fn render_table(rows: &[Measurement]) -> String {
    let mut out = format!(
        "{:<8} {:<16} {:<15} {:>7} {:>11} {:>9} {:>11} {:>11} {:>12} {:>13} {:>6}  {}\n",
        "suite",
        "query",
        "engine",
        "threads",
        "compile ms",
        "load ms",
        "exec ms",
        "min ms",
        "Mrows/s",
        "1-core floor",
        "ok",
        "how"
    );
    for m in rows {
        let rate = m.rows_in as f64 / (m.exec_ms / 1e3) / 1e6;
        let floor = m.floor_ms.map_or("-".to_string(), |f| format!("{f:.2}"));
        out.push_str(&format!(
            "{:<8} {:<16} {:<15} {:>7} {:>11.2} {:>9} {:>11.2} {:>11.2} {:>12.1} {:>13} {:>6}  {}\n",
            m.suite.name(),
            m.query,
            m.engine.name(),
            m.threads,
            m.compile_ms,
            m.load_ms.map_or("-".to_string(), |ms| format!("{ms:.2}")),
            m.exec_ms,
            m.exec_ms_min,
            rate,
            floor,
            if m.result_ok { "yes" } else { "NO" },
            m.note
        ));
    }
    out
}
