//! `qjit bench`: the TPC-H-style queries on each engine over `lineitem` in memory.
//!
//! ```text
//! data dir ─(missing: gen-tpch)─▶ sf<N>/lineitem.parquet ─load once─▶ in-memory batches
//!   for each query × engine: cold compile (empty kernel cache) ─▶ K timed executions ─▶ check
//! ```
//!
//! Execution time excludes loading and compiling: it is the execute phase of [`crate::exec::run`]
//! ([`crate::exec::Timing::execute`]) over the in-memory batches, with `--threads` worker threads
//! and the kernels already compiled and cached; one untimed run warms up first. Compile time is
//! a cold compile: the kernel cache is emptied before each query. Each answer is checked against the
//! reference answers of the scale factor when there are some (`<references>/<query>.csv`, as
//! an independent engine printed them), otherwise against the first engine's answer. Floating
//! columns match within a relative 1e-6, everything else exactly.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::exec::{self, EngineKind, QueryOptions, Source};
use crate::format::{self, OutputFormat};

/// Columns the reference engine computed in floating point (qjit keeps some of them exact).
const REFERENCE_FLOAT_COLUMNS: &[&str] = &["avg_qty", "avg_price", "avg_disc", "promo"];

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The TPC-H scale factor.
    pub sf: f64,
    /// The directory of `*.sql` queries.
    pub queries: PathBuf,
    pub engines: Vec<EngineKind>,
    /// Worker threads for the engines (`None`: all cores, [`default_threads`]).
    pub threads: Option<usize>,
    /// Timed executions per query and engine.
    pub iterations: usize,
    /// Where generated data is cached (`<data_dir>/sf<N>/lineitem.parquet`).
    pub data_dir: PathBuf,
    /// The reference answers for this scale factor, if any.
    pub references: Option<PathBuf>,
    /// Show a progress bar while generating data.
    pub progress: bool,
}

/// One query on one engine.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// The query file's stem.
    pub query: String,
    pub engine: EngineKind,
    /// Worker threads the engine was given.
    pub threads: usize,
    pub sf: f64,
    /// Rows of `lineitem` scanned per execution.
    pub rows_in: usize,
    /// Cold compile time (empty kernel cache); 0 for the interpreter.
    pub compile_ms: f64,
    /// Median execution time.
    pub exec_ms: f64,
    pub exec_ms_min: f64,
    /// Whether the answer matched.
    pub result_ok: bool,
    /// Why the answer did not match, or which parts ran compiled.
    pub note: String,
}

impl Measurement {
    /// One JSON object with exactly the documented keys.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"query\":{:?},\"engine\":\"{}\",\"threads\":{},\"sf\":{},\"rows_in\":{},\"compile_ms\":{:.3},\"exec_ms\":{:.3},\"exec_ms_min\":{:.3},\"result_ok\":{}}}",
            self.query,
            engine_name(self.engine),
            self.threads,
            self.sf,
            self.rows_in,
            self.compile_ms,
            self.exec_ms,
            self.exec_ms_min,
            self.result_ok
        )
    }
}

pub fn engine_name(e: EngineKind) -> &'static str {
    match e {
        EngineKind::Auto => "auto",
        EngineKind::Jit => "jit",
        EngineKind::Interp => "interp",
    }
}

/// All cores: the number of threads when `--threads` is not given.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The cached `lineitem` of scale factor `sf`, generated if missing.
pub fn lineitem_file(data_dir: &Path, sf: f64, progress: bool) -> Result<PathBuf> {
    let dir = data_dir.join(format!("sf{sf}"));
    let path = dir.join("lineitem.parquet");
    if !path.exists() {
        crate::tpch::generate(sf, &dir, &["lineitem"], false, progress)?;
    }
    Ok(path)
}

/// Loads every column of a Parquet file into memory.
pub fn load(path: &Path) -> Result<Source> {
    let file = Source::parquet(path);
    let schema = file.schema()?;
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let batches = file.scan(&all)?.collect::<Result<Vec<RecordBatch>>>()?;
    Ok(Source::batches(file.name(), schema, batches))
}

/// Runs the benchmark.
pub fn run(options: &BenchOptions) -> Result<Vec<Measurement>> {
    if options.iterations == 0 {
        return Err(Error::Usage("--iterations must be at least 1".into()));
    }
    if options.threads == Some(0) {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let mut queries: Vec<PathBuf> = std::fs::read_dir(&options.queries)
        .map_err(|e| Error::Usage(format!("cannot read {}: {e}", options.queries.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    queries.sort();
    if queries.is_empty() {
        return Err(Error::Usage(format!(
            "no .sql files in {}",
            options.queries.display()
        )));
    }
    let source = load(&lineitem_file(
        &options.data_dir,
        options.sf,
        options.progress,
    )?)?;
    let mut out = vec![];
    for path in &queries {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sql = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        let reference = match &options.references {
            Some(dir) => std::fs::read_to_string(dir.join(format!("{name}.csv"))).ok(),
            None => None,
        };
        let mut baseline: Option<String> = None;
        for &engine in &options.engines {
            let m = measure(
                &source,
                &name,
                &sql,
                engine,
                options,
                &mut baseline,
                &reference,
            )
            .map_err(|e| Error::internal(format!("{name} on {}: {e}", engine_name(engine))))?;
            out.push(m);
        }
    }
    Ok(out)
}

fn measure(
    source: &Source,
    name: &str,
    sql: &str,
    engine: EngineKind,
    options: &BenchOptions,
    baseline: &mut Option<String>,
    reference: &Option<String>,
) -> Result<Measurement> {
    let threads = options.threads.unwrap_or_else(default_threads);
    let query_options = QueryOptions {
        engine,
        threads: Some(threads),
        ..QueryOptions::default()
    };
    let plan = exec::plan(source, sql)?;
    crate::jit::clear_cache();
    let start = Instant::now();
    let compiled = exec::compile(&plan, &query_options)?;
    let compile_ms = if compiled.filter_kernel.is_some()
        || compiled.aggregate_kernel.is_some()
        || compiled.project_kernel.is_some()
    {
        start.elapsed().as_secs_f64() * 1e3
    } else {
        0.0
    };
    // The warm-up run; it and the timed runs find the kernels just compiled in the cache.
    let mut result = exec::run(source, sql, &query_options)?;
    if result.timing.kernel_cache_hit == Some(false) {
        return Err(Error::internal("the kernel compiled for timing was not reused"));
    }
    let mut times = vec![];
    for _ in 0..options.iterations {
        result = exec::run(source, sql, &query_options)?;
        times.push(result.timing.execute.as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let rows_in: usize = source
        .scan(&plan.projection)?
        .map(|b| b.map(|b| b.num_rows()))
        .sum::<Result<usize>>()?;
    let schema = plan.output_schema();
    let csv = format::render(&schema, &result.batches, OutputFormat::Csv)?;
    let floats: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| {
            matches!(f.data_type(), DataType::Float32 | DataType::Float64)
                || REFERENCE_FLOAT_COLUMNS.contains(&f.name().as_str())
        })
        .collect();
    let (result_ok, note) = match (reference, baseline.as_ref()) {
        (Some(want), _) => compare(&csv, want, &floats),
        (None, Some(want)) => compare(&csv, want, &floats),
        (None, None) => (true, "first engine: the baseline".to_string()),
    };
    if baseline.is_none() {
        *baseline = Some(csv);
    }
    Ok(Measurement {
        query: name.to_string(),
        engine,
        threads,
        sf: options.sf,
        rows_in,
        compile_ms,
        exec_ms: times[times.len() / 2],
        exec_ms_min: times[0],
        result_ok,
        note: if result_ok { compiled.summary() } else { note },
    })
}

/// Compares two CSV answers cell by cell (`floats`: which columns are floating).
fn compare(got: &str, want: &str, floats: &[bool]) -> (bool, String) {
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect()
    };
    let (got, want) = (lines(got), lines(want));
    if got.len() != want.len() {
        return (
            false,
            format!(
                "{} rows, expected {}",
                got.len().saturating_sub(1),
                want.len().saturating_sub(1)
            ),
        );
    }
    for (r, (g, w)) in got.iter().zip(&want).enumerate() {
        let (gs, ws): (Vec<&str>, Vec<&str>) = (g.split(',').collect(), w.split(',').collect());
        if gs.len() != ws.len() {
            return (false, format!("line {r}: {g} vs {w}"));
        }
        for (c, (a, b)) in gs.iter().zip(&ws).enumerate() {
            let same = match (floats.get(c), a.parse::<f64>(), b.parse::<f64>()) {
                (Some(true), Ok(x), Ok(y)) if r > 0 => {
                    (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-300)
                }
                _ => a == b,
            };
            if !same {
                return (false, format!("line {r} column {c}: {a} vs {b}"));
            }
        }
    }
    (true, String::new())
}

/// A table of measurements for humans.
pub fn render_table(rows: &[Measurement]) -> String {
    let mut out = format!(
        "{:<16} {:<7} {:>7} {:>11} {:>11} {:>11} {:>12} {:>6}  {}\n",
        "query", "engine", "threads", "compile ms", "exec ms", "min ms", "Mrows/s", "ok", "how"
    );
    for m in rows {
        let rate = m.rows_in as f64 / (m.exec_ms / 1e3) / 1e6;
        out.push_str(&format!(
            "{:<16} {:<7} {:>7} {:>11.2} {:>11.2} {:>11.2} {:>12.1} {:>6}  {}\n",
            m.query,
            engine_name(m.engine),
            m.threads,
            m.compile_ms,
            m.exec_ms,
            m.exec_ms_min,
            rate,
            if m.result_ok { "yes" } else { "NO" },
            m.note
        ));
    }
    out
}
