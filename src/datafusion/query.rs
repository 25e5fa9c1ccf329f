//! Queries over the tables of a path, run by DataFusion with qjit's kernels inside.
//!
//! In: a path as `qjit query` takes it, SQL, [`QueryOptions`]. Out: the result, written to a
//! [`ResultSink`] as qjit's own engine writes it.
//!
//! A path names tables ([`tables`]):
//! - a Parquet file: one table, named after the file's stem;
//! - a folder: a table per `NAME.parquet` file in it and per `NAME/` subfolder holding Parquet
//!   files (at any depth; hive-style `key=value/` folders become columns); a folder whose
//!   subfolders are all `key=value/` is one table, named after the folder;
//! - a glob (`data/lineitem/*.parquet`, quoted so that the shell leaves it): one table, named
//!   after the folder its pattern starts in.
//!
//! The session has `--threads` partitions and as many runtime threads, `--memory-limit` as its
//! memory pool, and qjit's rule unless the engine is [`EngineKind::Interp`]. A cancelled
//! [`crate::Cancel`] stops the query between batches and while it waits for one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::arrow::ArrowFormat;
use datafusion::datasource::file_format::csv::CsvFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_plan::{displayable, execute_stream, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::exec::{CsvOptions, EngineKind, FileKind, Part, QueryOptions, ResultSink};

/// A table of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// Its files: a file, a folder, or a glob.
    pub location: String,
    /// The one file it is, if it is one (qjit's own engine can run it).
    pub file: Option<PathBuf>,
    /// What its files hold: a folder or a glob holds Parquet files.
    pub kind: FileKind,
}

/// The kind of a table file in a folder, by its extension.
fn kind_by_extension(path: &Path) -> Option<FileKind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "parquet" => FileKind::Parquet,
        "csv" | "tsv" => FileKind::Csv,
        "arrow" | "feather" | "ipc" => FileKind::ArrowFile,
        "arrows" => FileKind::ArrowStream,
        _ => return None,
    })
}

/// Whether `path` is a glob pattern rather than a file or folder name.
pub fn is_glob(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// The tables `path` names (see the module docs), sorted by name.
pub fn tables(path: &Path) -> Result<Vec<Table>> {
    let text = path.to_string_lossy().to_string();
    let file_error = |reason: String| Error::File {
        path: text.clone(),
        reason,
    };
    if is_glob(path) {
        let name = glob_table_name(path).ok_or_else(|| {
            file_error("a glob must start in a named folder (the table is named after it)".into())
        })?;
        return Ok(vec![Table {
            name,
            location: text.clone(),
            file: None,
            kind: FileKind::Parquet,
        }]);
    }
    let meta = std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?;
    if meta.is_file() {
        return Ok(vec![Table {
            name: stem(path).ok_or_else(|| file_error("the file has no name".into()))?,
            location: text.clone(),
            file: Some(path.to_path_buf()),
            kind: crate::exec::files::detect(path)?,
        }]);
    }
    let mut entries: Vec<(PathBuf, bool)> = std::fs::read_dir(path)
        .map_err(|e| file_error(e.to_string()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            let hidden = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.') || n.starts_with('_'));
            (!hidden).then(|| (p.clone(), p.is_dir()))
        })
        .collect();
    entries.sort();
    let partitions = entries
        .iter()
        .filter(|(p, dir)| *dir && is_partition(p))
        .count();
    let dirs = entries.iter().filter(|(_, dir)| *dir).count();
    if dirs > 0 && partitions == dirs {
        // One hive-partitioned table.
        return Ok(vec![Table {
            name: stem(path).ok_or_else(|| file_error("the folder has no name".into()))?,
            location: folder_url(path),
            file: None,
            kind: FileKind::Parquet,
        }]);
    }
    let mut tables = vec![];
    for (p, dir) in entries {
        let Some(name) = stem(&p) else { continue };
        if dir {
            if holds_parquet(&p) {
                tables.push(Table {
                    name,
                    location: folder_url(&p),
                    file: None,
                    kind: FileKind::Parquet,
                });
            }
        } else if let Some(kind) = kind_by_extension(&p) {
            tables.push(Table {
                name,
                location: p.to_string_lossy().to_string(),
                file: Some(p.clone()),
                kind,
            });
        }
    }
    if tables.is_empty() {
        return Err(file_error(
            "the folder holds no tables: give it NAME.parquet (or .csv, .tsv, .arrow, .arrows) \
             files or NAME/ folders of Parquet files"
                .into(),
        ));
    }
    if let Some(w) = tables.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(file_error(format!(
            "two tables are named '{}' ({} and {}); rename one",
            w[0].name, w[0].location, w[1].location
        )));
    }
    Ok(tables)
}

/// What a DataFusion query took.
#[derive(Debug)]
pub struct Run {
    /// Planning (parse, logical and physical plans, qjit's rule).
    pub plan: Duration,
    /// Execution and output.
    pub execute: Duration,
    pub rows: usize,
}

/// A query planned by DataFusion over the tables of a path, ready to run: planning errors
/// (unknown names, types, SQL DataFusion does not take) come from [`Query::plan`], errors in
/// the data from [`Query::run_into`].
pub struct Query {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    plan: Arc<dyn ExecutionPlan>,
    options: QueryOptions,
    planned: Duration,
    on_cancel: Option<CancelHook>,
    retry_when: Option<RetryWhen>,
}

/// Whether an error met before the query's first row calls for running the query once more (a
/// cluster job its scheduler could not finish: see `crate::ballista`): if so, the note to print
/// on stderr.
pub type RetryWhen = fn(&datafusion::error::DataFusionError) -> Option<String>;

/// What to do when a running query is cancelled, given its plan (stop its job on a cluster).
pub type CancelHook = Box<
    dyn FnOnce(Arc<dyn ExecutionPlan>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
        + Send,
>;

impl Query {
    /// Plans `sql` over the tables of `path` (with qjit's kernels unless the engine is
    /// `interp`).
    pub fn plan(path: &Path, sql: &str, options: &QueryOptions) -> Result<Query> {
        let runtime = runtime(options)?;
        Query::plan_in(runtime, |_| async { session(options) }, path, sql, options)
    }

    /// Plans `sql` over the tables of `path` in the session `make` opens on `runtime` (a
    /// Ballista cluster's, for one), which then runs the query.
    pub fn plan_in<F, Fut>(
        runtime: tokio::runtime::Runtime,
        make: F,
        path: &Path,
        sql: &str,
        options: &QueryOptions,
    ) -> Result<Query>
    where
        F: FnOnce(&tokio::runtime::Runtime) -> Fut,
        Fut: std::future::Future<Output = Result<SessionContext>>,
    {
        let tables = tables(path)?
            .into_iter()
            .map(|t| SessionTable::Files(t, options.csv))
            .collect();
        Query::plan_tables_in(runtime, make, tables, sql, options)
    }

    /// Plans `sql` over `tables` (files and batches in memory, as an [`crate::Engine`]
    /// registers them) in a session with `options`.
    pub fn plan_tables(
        tables: Vec<SessionTable>,
        sql: &str,
        options: &QueryOptions,
    ) -> Result<Query> {
        let runtime = runtime(options)?;
        Query::plan_tables_in(
            runtime,
            |_| async { session(options) },
            tables,
            sql,
            options,
        )
    }

    /// [`Query::plan_in`] over `tables`.
    fn plan_tables_in<F, Fut>(
        runtime: tokio::runtime::Runtime,
        make: F,
        tables: Vec<SessionTable>,
        sql: &str,
        options: &QueryOptions,
    ) -> Result<Query>
    where
        F: FnOnce(&tokio::runtime::Runtime) -> Fut,
        Fut: std::future::Future<Output = Result<SessionContext>>,
    {
        let start = Instant::now();
        let session = make(&runtime);
        let (ctx, plan) = runtime.block_on(async {
            let ctx = cancellable(session, options).await??;
            register(&ctx, tables, options).await?;
            let plan = physical_plan(&ctx, sql, options).await?;
            Ok::<_, Error>((ctx, plan))
        })?;
        Ok(Query {
            runtime,
            ctx,
            plan,
            options: options.clone(),
            planned: start.elapsed(),
            on_cancel: None,
            retry_when: None,
        })
    }

    /// The query with `hook` to run (for at most 3 s) if it is cancelled while it runs.
    pub fn on_cancel(mut self, hook: CancelHook) -> Query {
        self.on_cancel = Some(hook);
        self
    }

    /// The query, run once more from the start if its first row is an error for which `retry`
    /// gives a note (nothing has been written then).
    pub fn retry_when(mut self, retry: RetryWhen) -> Query {
        self.retry_when = Some(retry);
        self
    }

    /// The physical plan.
    pub fn physical_plan(&self) -> &Arc<dyn ExecutionPlan> {
        &self.plan
    }

    /// Runs the query and writes its result to `sink`.
    pub fn run_into(self, sink: &mut dyn ResultSink) -> Result<Run> {
        let Query {
            runtime,
            ctx,
            plan,
            options,
            planned,
            on_cancel,
            retry_when,
        } = self;
        let start = Instant::now();
        let running = plan.clone();
        let rows = runtime.block_on(async {
            let schema: SchemaRef = plan.schema();
            let mut stream = execute_stream(plan.clone(), ctx.task_ctx()).map_err(error)?;
            // The sink starts with the first batch, so that an error before it leaves the
            // output empty (and a query can run again).
            let mut next = cancellable(stream.next(), &options).await?;
            let retry = match (&next, retry_when) {
                (Some(Err(e)), Some(retry_when)) => retry_when(e),
                _ => None,
            };
            if let Some(note) = retry {
                eprintln!("qjit: {note}");
                stream = execute_stream(plan, ctx.task_ctx()).map_err(error)?;
                next = cancellable(stream.next(), &options).await?;
            }
            let first = next.transpose().map_err(error)?;
            sink.start(&schema)?;
            let encoder = sink.encoder();
            let mut rows = 0;
            let mut next = first.map(Ok);
            while let Some(batch) = next {
                let batch = batch.map_err(error)?;
                rows += batch.num_rows();
                let part = match &encoder {
                    Some(encode) => encode(batch)?,
                    None => Part::Rows(batch),
                };
                sink.write(part)?;
                next = cancellable(stream.next(), &options).await?;
            }
            sink.finish()?;
            Ok::<_, Error>(rows)
        });
        if let Err(Error::Cancelled) = &rows {
            if let Some(hook) = on_cancel {
                runtime.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(3), hook(running)).await;
                });
            }
            // A worker may be inside one long step of an operator (a nested-loop join's probe
            // batch) that does not look at the flag: the caller does not wait for it. The
            // workers stop when their steps end.
            runtime.shutdown_background();
        }
        let rows = rows?;
        Ok(Run {
            plan: planned,
            execute: start.elapsed(),
            rows,
        })
    }

    /// The physical plan with its qjit expressions, their qjit plans, how they run and their
    /// kernels' LLVM IR, as text (compiling the kernels).
    pub fn explain(&self) -> String {
        self.explain_with(true)
    }

    /// [`Query::explain`], with the kernels' LLVM IR only if `ir`.
    pub fn explain_with(&self, ir: bool) -> String {
        let mut out =
            String::from("DataFusion physical plan (qjit kernels appear as qjit(<expression>)):\n");
        out.push_str(&displayable(self.plan.as_ref()).indent(true).to_string());
        let kernels = super::kernels(&self.plan);
        #[cfg(feature = "jit")]
        let fused = super::fused_aggregates(&self.plan);
        #[cfg(not(feature = "jit"))]
        let fused: Vec<Arc<dyn ExecutionPlan>> = vec![];
        if kernels.is_empty() && fused.is_empty() {
            out.push_str("\nno qjit kernels\n");
        }
        #[cfg(feature = "jit")]
        for node in &fused {
            let Some(agg) = node.downcast_ref::<super::QjitAggregateExec>() else {
                continue;
            };
            let line = displayable(node.as_ref()).one_line().to_string();
            out.push_str(&format!("\n; ---- qjit aggregate kernel: {line}\n"));
            match agg.kernel_ir() {
                Ok(_) if !ir => out.push_str("; engine: Compiled\n"),
                Ok(ir) => out.push_str(&format!(
                    "; engine: Compiled\n; LLVM IR after the kernel pipeline:\n{ir}\n"
                )),
                Err(why) => out.push_str(&format!(
                    "; not compiled, DataFusion's aggregation runs: {why}\n"
                )),
            }
        }
        for (i, k) in kernels.iter().enumerate() {
            out.push_str(&format!("\n; ---- qjit kernel {i}: {}\n", k.original()));
            out.push_str(&format!("; plan over its inputs: {}\n", k.plan()));
            match k.kernel() {
                Ok(p) => out.push_str(&format!("; engine: {:?}\n", p.engine())),
                Err(why) => {
                    out.push_str(&format!("; not compiled, DataFusion evaluates it: {why}\n"))
                }
            }
            if let (true, Ok(text)) = (ir, k.kernel_ir()) {
                out.push_str(&format!("; LLVM IR after the kernel pipeline:\n{text}\n"));
            }
        }
        out
    }
}

/// Runs `sql` over the tables of `path` in DataFusion (with qjit's kernels unless the engine is
/// `interp`) and writes the result to `sink`.
pub fn run_into(
    path: &Path,
    sql: &str,
    options: &QueryOptions,
    sink: &mut dyn ResultSink,
) -> Result<Run> {
    Query::plan(path, sql, options)?.run_into(sink)
}

/// The physical plan of `sql` over the tables of `path`, with its qjit expressions, as text.
pub fn explain(path: &Path, sql: &str, options: &QueryOptions) -> Result<String> {
    Ok(Query::plan(path, sql, options)?.explain())
}

/// The tokio runtime a query runs on: `--threads` workers.
pub(crate) fn runtime(options: &QueryOptions) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads())
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the query's runtime: {e}")))
}

/// A DataFusion session for queries with `options`: `--threads` partitions, `--memory-limit`
/// as its memory pool, `--timezone` as its time zone, and qjit's rule unless the engine is
/// [`EngineKind::Interp`].
pub fn session(options: &QueryOptions) -> Result<SessionContext> {
    let mut config = SessionConfig::new().with_target_partitions(options.threads());
    if !options.timezone.is_utc() {
        // DataFusion's own casts and `now()` follow the session zone too.
        config.options_mut().execution.time_zone = Some(options.timezone.name());
    }
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = options.memory_limit {
        runtime = runtime.with_memory_limit(limit, 1.0);
    }
    let runtime = runtime.build_arc().map_err(error)?;
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features();
    let builder = match options.engine {
        EngineKind::Interp => builder,
        _ => super::with_qjit(
            builder,
            crate::Engine::builder().options(options.clone()).build()?,
        ),
    };
    Ok(SessionContext::new_with_state(builder.build()))
}

/// Registers the tables of `path` (see [`tables`]) in `ctx`.
pub async fn register_tables(ctx: &SessionContext, path: &Path) -> Result<()> {
    for t in tables(path)? {
        register_table(ctx, &t, &CsvOptions::default()).await?;
    }
    Ok(())
}

/// A table of a DataFusion session: files, or batches held in memory.
#[derive(Clone, Debug)]
pub enum SessionTable {
    /// The files of a path (a CSV file read with the options).
    Files(Table, CsvOptions),
    /// Batches, all of `schema`, read in place (never copied).
    Batches {
        name: String,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
}

/// Registers each table in `ctx`; batches are dealt round-robin into as many partitions as the
/// query has threads, so that every thread scans some.
async fn register(
    ctx: &SessionContext,
    tables: Vec<SessionTable>,
    options: &QueryOptions,
) -> Result<()> {
    for t in tables {
        match t {
            SessionTable::Files(t, csv) => register_table(ctx, &t, &csv).await?,
            SessionTable::Batches {
                name,
                schema,
                batches,
            } => {
                let mut partitions = vec![vec![]; options.threads().clamp(1, batches.len().max(1))];
                let width = partitions.len();
                for (i, b) in batches.into_iter().enumerate() {
                    partitions[i % width].push(b);
                }
                let table = MemTable::try_new(schema, partitions).map_err(error)?;
                ctx.register_table(name.as_str(), Arc::new(table))
                    .map_err(error)?;
            }
        }
    }
    Ok(())
}

/// Registers `t` in `ctx`, as a listing of its files (partition columns from `key=value/`
/// folders, the schema from the files; a CSV file's read with `csv`, its schema inferred from
/// as many rows as qjit's own engine infers it from).
pub(crate) async fn register_table(
    ctx: &SessionContext,
    t: &Table,
    csv: &CsvOptions,
) -> Result<()> {
    let state = ctx.state();
    let file_error = |e: DataFusionError| Error::File {
        path: t.location.clone(),
        reason: error(e).to_string(),
    };
    let url = ListingTableUrl::parse(&t.location).map_err(file_error)?;
    // A file is listed by its own extension (it may have none).
    let extension = match (&t.file, t.kind) {
        (Some(file), _) => file
            .extension()
            .map_or(String::new(), |e| format!(".{}", e.to_string_lossy())),
        (None, _) => ".parquet".to_string(),
    };
    let format: Arc<dyn FileFormat> = match t.kind {
        FileKind::Parquet => Arc::new(ParquetFormat::default()),
        FileKind::Csv => {
            let tsv = extension.eq_ignore_ascii_case(".tsv");
            let delimiter = csv.delimiter.unwrap_or(if tsv { b'\t' } else { b',' });
            Arc::new(
                CsvFormat::default()
                    .with_has_header(csv.header)
                    .with_delimiter(delimiter)
                    .with_schema_infer_max_rec(crate::exec::files::INFER_ROWS),
            )
        }
        FileKind::ArrowFile | FileKind::ArrowStream => Arc::new(ArrowFormat),
    };
    let options = ListingOptions::new(format).with_file_extension(extension);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .infer_partitions_from_path(&state)
        .await
        .map_err(file_error)?
        .infer_schema(&state)
        .await
        .map_err(file_error)?;
    // Zoned timestamps are labelled with the session zone (their instants are the same), so
    // that DataFusion's fields and casts of them are the session zone's, as qjit's are.
    let zone = state
        .config()
        .options()
        .execution
        .time_zone
        .clone()
        .unwrap_or_else(|| "UTC".into());
    let config = match config.file_schema.clone() {
        Some(schema) => {
            let label: Arc<str> = zone.as_str().into();
            let mut changed = false;
            let fields: Vec<arrow::datatypes::Field> =
                schema
                    .fields()
                    .iter()
                    .map(|f| match f.data_type() {
                        arrow::datatypes::DataType::Timestamp(unit, Some(tz)) if **tz != *label => {
                            changed = true;
                            f.as_ref().clone().with_data_type(
                                arrow::datatypes::DataType::Timestamp(*unit, Some(label.clone())),
                            )
                        }
                        _ => f.as_ref().clone(),
                    })
                    .collect();
            match changed {
                true => config.with_schema(Arc::new(arrow::datatypes::Schema::new_with_metadata(
                    fields,
                    schema.metadata().clone(),
                ))),
                false => config,
            }
        }
        None => config,
    };
    let table: Arc<dyn TableProvider> =
        Arc::new(ListingTable::try_new(config).map_err(file_error)?);
    ctx.register_table(t.name.as_str(), table)
        .map_err(file_error)?;
    Ok(())
}

pub(crate) async fn physical_plan(
    ctx: &SessionContext,
    sql: &str,
    options: &QueryOptions,
) -> Result<Arc<dyn ExecutionPlan>> {
    let state = ctx.state();
    let logical = cancellable(state.create_logical_plan(sql), options)
        .await?
        .map_err(error)?;
    // qjit reads its inputs and never writes them: queries only, no DDL, DML or SET.
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&logical)
        .map_err(|_| {
            Error::unsupported("statements other than queries: qjit only reads its inputs")
        })?;
    let frame = cancellable(ctx.execute_logical_plan(logical), options)
        .await?
        .map_err(error)?;
    cancellable(frame.create_physical_plan(), options)
        .await?
        .map_err(error)
}

/// `future`, or [`Error::Cancelled`] as soon as the query is cancelled.
pub(crate) async fn cancellable<T>(
    future: impl std::future::Future<Output = T>,
    options: &QueryOptions,
) -> Result<T> {
    let cancel = options.cancel.clone();
    let woken = cancel.cancelled();
    // A flag raised by a signal handler wakes nothing: it is looked at every 20 ms too.
    let polled = async move {
        while !cancel.is_cancelled() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let watch = async move {
        tokio::pin!(woken);
        tokio::pin!(polled);
        futures::future::select(woken, polled).await;
    };
    tokio::pin!(future);
    tokio::pin!(watch);
    match futures::future::select(future, watch).await {
        futures::future::Either::Left((value, _)) => Ok(value),
        futures::future::Either::Right(_) => Err(Error::Cancelled),
    }
}

/// A DataFusion error as qjit's: qjit's own errors (from its kernels) come back as they were;
/// DataFusion's own message keeps its first line (the problem and DataFusion's suggestion; the
/// lines after it list every valid field).
pub(crate) fn error(e: DataFusionError) -> Error {
    match datafusion_error(e) {
        Error::DataFusion(message) => Error::DataFusion(
            message
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_string(),
        ),
        other => other,
    }
}

fn datafusion_error(e: DataFusionError) -> Error {
    let e = match e {
        DataFusionError::Context(_, inner) => *inner,
        other => other,
    };
    match e {
        DataFusionError::External(inner) => match inner.downcast::<Error>() {
            Ok(e) => *e,
            Err(inner) => Error::DataFusion(inner.to_string()),
        },
        DataFusionError::ArrowError(inner, _) => match *inner {
            datafusion::arrow::error::ArrowError::DivideByZero => Error::DivisionByZero,
            datafusion::arrow::error::ArrowError::ExternalError(inner) => {
                match inner.downcast::<Error>() {
                    Ok(e) => *e,
                    Err(inner) => Error::DataFusion(inner.to_string()),
                }
            }
            other => Error::DataFusion(other.to_string()),
        },
        other => Error::DataFusion(other.strip_backtrace()),
    }
}

/// A table name from a path's last part: its stem, if it has one.
fn stem(path: &Path) -> Option<String> {
    let s = path.file_stem()?.to_str()?;
    (!s.is_empty()).then(|| s.to_string())
}

/// Whether a folder is a hive-style partition (`key=value`).
fn is_partition(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.split_once('=').is_some_and(|(k, _)| !k.is_empty()))
}

/// Whether a folder holds a Parquet file at some depth.
fn holds_parquet(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|e| {
        let p = e.path();
        if p.is_dir() {
            holds_parquet(&p)
        } else {
            p.extension().is_some_and(|x| x == "parquet")
        }
    })
}

/// A folder as a listing location (DataFusion reads a trailing `/` as "every file in it").
pub(crate) fn folder_url(dir: &Path) -> String {
    let s = dir.to_string_lossy();
    match s.ends_with('/') {
        true => s.to_string(),
        false => format!("{s}/"),
    }
}

/// The table a glob names: the last folder of the pattern before its first wildcard.
fn glob_table_name(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    let fixed = &text[..text.find(['*', '?', '['])?];
    let folder = match fixed.rfind('/') {
        Some(i) => &fixed[..i],
        None => return None,
    };
    stem(Path::new(folder))
}
