//! `qjit bench --suite tpch`: the 22 TPC-H queries over all eight tables in memory, on
//! DataFusion alone, DataFusion with qjit's kernels, and DuckDB.
//!
//! ```text
//! data dir ─(missing tables: gen-tpch)─▶ sf<N>/<table>.parquet ×8
//!   ├─duckdb engine: duckdb::run (every table loaded into memory)─▶ times, answers
//!   └─load once─▶ in-memory tables (one partition per thread) ─▶ one DataFusion session per engine
//!   for each query: each engine's cold run (empty kernel cache; its kernels' compile timed)
//!                   ─▶ K rounds of one timed run per engine (interleaved)
//!   every answer ─check─▶ the reference answers, or DuckDB's, or the first engine's
//! ```
//!
//! What a DataFusion execution time includes: planning the SQL text (parse, logical and
//! physical optimization, qjit's rule) and executing the plan over the in-memory tables with
//! `--threads` partitions, collecting the answer; as DuckDB's time includes its planning. With
//! qjit's kernels ([`Engine::DatafusionQjit`], `--engine jit` inside DataFusion) every kernel is
//! compiled before the timed runs (each run plans afresh and finds its kernels in the process's
//! kernel cache); `compile_ms` is the cold compile of the query's kernels. Reading the Parquet
//! files is timed by no engine.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::SessionContext;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{check::Answer, duckdb, BenchOptions, Engine, Measurement, Suite, Timed};
use crate::datafusion::query::{cancellable, error, physical_plan, runtime};
use crate::datafusion::{kernels, session};
use crate::error::{Error, Result};
use crate::exec::{EngineKind, QueryOptions};

/// A table loaded into memory.
struct Table {
    name: String,
    schema: SchemaRef,
    /// One list of batches per partition.
    partitions: Vec<Vec<RecordBatch>>,
    rows: usize,
}

/// The folder of the eight tables of scale factor `sf`, generating the missing ones.
pub fn tables_dir(
    data_dir: &Path,
    sf: f64,
    progress: bool,
    cancel: &crate::Cancel,
) -> Result<PathBuf> {
    let dir = data_dir.join(format!("sf{sf}"));
    let missing: Vec<&str> = crate::tpch::TABLES
        .iter()
        .copied()
        .filter(|t| !dir.join(format!("{t}.parquet")).exists())
        .collect();
    if !missing.is_empty() {
        crate::tpch::generate_with(sf, &dir, &missing, false, progress, cancel)?;
    }
    Ok(dir)
}

/// Reads each table of `dir` into memory, its batches dealt round-robin into `partitions`
/// partitions.
fn load(dir: &Path, partitions: usize, cancel: &crate::Cancel) -> Result<Vec<Table>> {
    let mut out = vec![];
    for &name in crate::tpch::TABLES {
        let path = dir.join(format!("{name}.parquet"));
        let bad = |reason: String| Error::File {
            path: path.display().to_string(),
            reason,
        };
        let file = File::open(&path).map_err(|e| bad(format!("cannot open it: {e}")))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| bad(format!("cannot read it: {e}")))?;
        let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
        let mut table = Table {
            name: name.to_string(),
            schema,
            partitions: vec![vec![]; partitions.max(1)],
            rows: 0,
        };
        for (i, batch) in reader.enumerate() {
            cancel.check()?;
            let batch = batch.map_err(|e| bad(format!("cannot read it: {e}")))?;
            table.rows += batch.num_rows();
            let n = table.partitions.len();
            table.partitions[i % n].push(batch);
        }
        out.push(table);
    }
    Ok(out)
}

/// The DataFusion engine of a bench engine, or `None` for DuckDB; an error for qjit's own.
fn datafusion_engine(engine: Engine) -> Result<Option<EngineKind>> {
    match engine {
        Engine::Datafusion => Ok(Some(EngineKind::Interp)),
        Engine::DatafusionQjit => Ok(Some(EngineKind::Jit)),
        Engine::Duckdb => Ok(None),
        Engine::Jit | Engine::Interp | Engine::Auto => Err(Error::Usage(format!(
            "--engines {}: the tpch suite runs on datafusion, datafusion+qjit and duckdb; \
             qjit's own engines run the single-table queries of --suite lineitem",
            engine.name()
        ))),
    }
}

/// One DataFusion engine's session over the tables.
struct Session {
    engine: Engine,
    options: QueryOptions,
    ctx: SessionContext,
}

/// Runs the benchmark's tpch suite (see the module docs).
pub(super) fn run(
    options: &BenchOptions,
    threads: usize,
    queries: &[PathBuf],
) -> Result<Vec<Measurement>> {
    let kinds = options
        .engines
        .iter()
        .map(|&e| Ok((e, datafusion_engine(e)?)))
        .collect::<Result<Vec<_>>>()?;
    let with_duckdb = options.engines.contains(&Engine::Duckdb);
    let duckdb_version = with_duckdb.then(duckdb::version).transpose()?;
    let dir = tables_dir(
        &options.data_dir,
        options.sf,
        options.progress,
        &options.cancel,
    )?;
    let duckdb = with_duckdb
        .then(|| duckdb::run(&dir, threads, options.iterations, queries))
        .transpose()?;
    let tables = match kinds.iter().any(|(_, k)| k.is_some()) {
        true => load(&dir, threads, &options.cancel)?,
        false => vec![],
    };
    let rows: HashMap<String, usize> = tables.iter().map(|t| (t.name.clone(), t.rows)).collect();
    let query_options = |engine: EngineKind| QueryOptions {
        engine,
        threads: Some(threads),
        cancel: options.cancel.clone(),
        memory_limit: options.memory_limit,
        ..QueryOptions::default()
    };
    let runtime = runtime(&query_options(EngineKind::Interp))?;
    let mut sessions = vec![];
    for &(engine, kind) in &kinds {
        let Some(kind) = kind else { continue };
        let options = query_options(kind);
        let ctx = session(&options)?;
        for t in &tables {
            let table = MemTable::try_new(t.schema.clone(), t.partitions.clone()).map_err(error)?;
            ctx.register_table(t.name.as_str(), Arc::new(table))
                .map_err(error)?;
        }
        sessions.push(Session {
            engine,
            options,
            ctx,
        });
    }
    let datafusion_version = ::datafusion::DATAFUSION_VERSION;
    let mut out = vec![];
    for path in queries {
        let name = super::query_name(path);
        let sql = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        let in_query = |e: Error| match e {
            e @ (Error::Cancelled | Error::MemoryLimit { .. } | Error::Usage(_)) => e,
            e => Error::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            },
        };
        let reference = match &options.references {
            Some(dir) => std::fs::read_to_string(dir.join(format!("{name}.csv"))).ok(),
            None => None,
        };
        let rows_in = match sessions.first() {
            Some(s) => runtime
                .block_on(rows_scanned(&s.ctx, &sql, &rows))
                .map_err(in_query)?,
            None => duckdb.as_ref().map_or(0, |d| d.rows),
        };
        let measured = measure(&runtime, &sessions, &sql, options.iterations).map_err(in_query)?;
        let mut measured = measured.into_iter();
        let mut answers = vec![];
        for &(engine, kind) in &kinds {
            let (mut timed, answer) = match (kind, &duckdb) {
                (Some(_), _) => measured
                    .next()
                    .ok_or_else(|| Error::internal("an engine without its data"))?,
                (None, Some(run)) => {
                    super::from_duckdb(run, &name, duckdb_version.as_deref().unwrap_or("?"))?
                }
                _ => return Err(Error::internal("an engine without its data")),
            };
            timed.rows_in = rows_in;
            answers.push((engine, timed, answer));
        }
        // The reference answers if there are some, else DuckDB's, else the first engine's.
        let baseline = match &reference {
            Some(csv) => Some(Answer::reference(csv)),
            None => answers
                .iter()
                .find(|(e, ..)| *e == Engine::Duckdb)
                .or(answers.first())
                .map(|(_, _, a)| a.clone()),
        };
        for (engine, mut timed, answer) in answers {
            if engine != Engine::Duckdb {
                timed.how = format!("DataFusion {datafusion_version}{}", timed.how);
            }
            let mut m = timed.measurement(&name, Suite::Tpch, engine, options.sf, threads);
            if let Some(want) = &baseline {
                m.check(answer.matches(want));
            }
            out.push(m);
        }
    }
    Ok(out)
}

/// The rows a query scans: each table's rows once per time the plan reads it.
async fn rows_scanned(
    ctx: &SessionContext,
    sql: &str,
    rows: &HashMap<String, usize>,
) -> Result<usize> {
    let plan = ctx.state().create_logical_plan(sql).await.map_err(error)?;
    let mut total = 0;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            total += rows.get(scan.table_name.table()).copied().unwrap_or(0);
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(error)?;
    Ok(total)
}

/// One query on each DataFusion session: a cold run (an empty kernel cache, the kernels'
/// compile timed), then `iterations` rounds that run each session once, interleaved as in the
/// lineitem suite.
fn measure(
    runtime: &tokio::runtime::Runtime,
    sessions: &[Session],
    sql: &str,
    iterations: usize,
) -> Result<Vec<(Timed, Answer)>> {
    let mut cold = vec![];
    for s in sessions {
        crate::jit::clear_cache();
        let plan = runtime.block_on(physical_plan(&s.ctx, sql, &s.options))?;
        let kernels = kernels(&plan);
        let start = Instant::now();
        let (fused, fused_compiled) = compile_fused(&plan);
        let compiled = kernels.iter().filter(|k| k.kernel().is_ok()).count() + fused_compiled;
        let total = kernels.len() + fused;
        let compile_ms = match total {
            0 => 0.0,
            _ => start.elapsed().as_secs_f64() * 1e3,
        };
        let how = match s.engine {
            Engine::DatafusionQjit => format!(
                " with qjit kernels ({compiled} compiled of {total} in the plan, {} of them \
                 fused aggregations), tables in memory; time includes planning",
                fused
            ),
            _ => ", tables in memory; time includes planning".to_string(),
        };
        let (_, batches) = run_once(runtime, s, sql)?;
        cold.push((compile_ms, how, batches));
    }
    let mut times = vec![vec![]; sessions.len()];
    let mut last = vec![None; sessions.len()];
    for _ in 0..iterations {
        for (i, s) in sessions.iter().enumerate() {
            s.options.cancel.check()?;
            let (ms, batches) = run_once(runtime, s, sql)?;
            times[i].push(ms);
            last[i] = Some(batches);
        }
    }
    let mut out = vec![];
    for ((mut exec_ms, (compile_ms, how, first)), last) in times.into_iter().zip(cold).zip(last) {
        exec_ms.sort_by(f64::total_cmp);
        let (schema, batches) = last.unwrap_or(first);
        let answer = Answer::from_batches(&schema, &batches)?;
        let timed = Timed {
            rows_in: 0,
            compile_ms,
            load_ms: None,
            exec_ms,
            how,
        };
        out.push((timed, answer));
    }
    Ok(out)
}

/// Compiles the fused aggregations of `plan`: (how many there are, how many compiled).
#[cfg(feature = "jit")]
fn compile_fused(plan: &Arc<dyn ExecutionPlan>) -> (usize, usize) {
    let fused = crate::datafusion::fused_aggregates(plan);
    let compiled = fused
        .iter()
        .filter_map(|f| f.downcast_ref::<crate::datafusion::QjitAggregateExec>())
        .filter(|f| f.kernel().is_ok())
        .count();
    (fused.len(), compiled)
}

/// Without the JIT there are no fused aggregations.
#[cfg(not(feature = "jit"))]
fn compile_fused(_: &Arc<dyn ExecutionPlan>) -> (usize, usize) {
    (0, 0)
}

/// Plans and runs `sql` once on a session: the time it took and the answer.
fn run_once(
    runtime: &tokio::runtime::Runtime,
    s: &Session,
    sql: &str,
) -> Result<(f64, (SchemaRef, Vec<RecordBatch>))> {
    let start = Instant::now();
    let (schema, batches) = runtime.block_on(async {
        let plan = physical_plan(&s.ctx, sql, &s.options).await?;
        let schema = plan.schema();
        let batches = cancellable(collect(plan, s.ctx.task_ctx()), &s.options)
            .await?
            .map_err(error)?;
        Ok::<_, Error>((schema, batches))
    })?;
    Ok((start.elapsed().as_secs_f64() * 1e3, (schema, batches)))
}
