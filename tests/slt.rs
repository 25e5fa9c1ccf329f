//! The SQL corpus: every `tests/sql/*.slt` file runs on every engine, and each engine must give
//! the expected rows (and errors) the file states.
//!
//! Engine-specific expectations are not allowed: the interpreter and the JIT must agree, so a
//! record runs unchanged on both. Run one file with `cargo test --test slt -- <name-fragment>`.
//!
//! The files of `tests/sql/datafusion/` hold queries beyond one table (joins, subqueries, set
//! operations, statements that create their own tables): they run in DataFusion, alone and with
//! qjit's kernels, over the same test tables ([`in_datafusion`]); each file must reach at least
//! one qjit kernel.
//!
//! With `QJIT_SLT_CACHE_DIR=DIR` every query uses the kernel cache on disk in DIR; with
//! `QJIT_SLT_EXPECT_CACHE=hit` too, every kernel a query ends up with must have been loaded from
//! it (`.ci/run` runs the corpus twice on one fresh directory: the second run compiles nothing,
//! and its answers must not change).

mod common;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use qjit::exec::{EngineKind, QueryOptions, Source, TierSwitch};
use qjit::internals::kernel_cache::KernelCache;
use sqllogictest::{DBOutput, DefaultColumnType};

/// One engine behind the sqllogictest `DB` interface.
struct Qjit {
    config: Config,
    tables: Vec<Source>,
    /// The file's session time zone (a `# timezone: NAME` line), else UTC.
    timezone: qjit::ir::time::Zone,
}

#[derive(Debug)]
struct QueryError(qjit::Error);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for QueryError {}

impl sqllogictest::DB for Qjit {
    type Error = QueryError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, QueryError> {
        let options = QueryOptions {
            engine: self.config.engine,
            threads: self.config.threads,
            tiers: self.config.tiers,
            kernel_cache: disk_cache().map(|(cache, _)| cache.clone()),
            timezone: self.timezone,
            ..Default::default()
        };
        let result = common::run_sql_options(&self.tables, sql, &options).map_err(QueryError)?;
        if disk_cache().is_some_and(|(_, expect_hits)| *expect_hits) {
            let compiled = &result.compiled;
            assert!(
                !compiled.any_kernel() || compiled.all_from_disk(),
                "{sql}: a kernel did not come from the kernel cache on disk: {:?}",
                compiled.disk_summary()
            );
        }
        Ok(DBOutput::Rows {
            types: column_types(&result.schema),
            rows: common::render_rows(&result),
        })
    }

    fn engine_name(&self) -> &str {
        label(self.config.engine)
    }
}

/// The sqllogictest type of each column of `schema`.
fn column_types(schema: &arrow::datatypes::Schema) -> Vec<DefaultColumnType> {
    schema
        .fields()
        .iter()
        .map(|f| match common::column_type(f.data_type()) {
            'I' => DefaultColumnType::Integer,
            'R' => DefaultColumnType::FloatingPoint,
            _ => DefaultColumnType::Text,
        })
        .collect()
}

/// The kernel cache on disk of `QJIT_SLT_CACHE_DIR`, if set, and whether every kernel must come
/// from it (`QJIT_SLT_EXPECT_CACHE=hit`).
fn disk_cache() -> Option<&'static (Arc<KernelCache>, bool)> {
    static CACHE: OnceLock<Option<(Arc<KernelCache>, bool)>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            let dir = std::env::var_os("QJIT_SLT_CACHE_DIR")?;
            let expect_hits = std::env::var("QJIT_SLT_EXPECT_CACHE").is_ok_and(|v| v == "hit");
            Some((Arc::new(KernelCache::new(dir)), expect_hits))
        })
        .as_ref()
}

fn label(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Interp => "interp",
        EngineKind::Jit => "jit",
        EngineKind::Auto => "auto",
    }
}

/// How a file runs: an engine, a thread count, and the in-memory tables' morsel size.
#[derive(Clone, Copy, Debug)]
struct Config {
    engine: EngineKind,
    threads: Option<usize>,
    /// `None`: the default morsels (every test table is one morsel).
    morsel_rows: Option<usize>,
    /// In-memory decimal columns of up to 18 digits stored as `Decimal64` (8 bytes), as qjit
    /// reads them from Parquet; the answers must not change.
    decimal64: bool,
    /// Tiered execution: where `auto` switches from the interpreter to the kernels.
    tiers: TierSwitch,
}

/// The configurations every file runs in. `Auto` compiles everything the JIT supports and
/// interprets the rest (`Jit` would fail on the others). The parallel runs split every table
/// into morsels of two rows, so that partial results (groups, sums, rows, errors) are merged.
/// The next two store the tables' narrow decimals in 8 bytes. The last three run tiered
/// (start interpreted, switch to the kernels): before the first batch, after the first batch
/// of the two-row morsels (every query mixes both engines), and never.
const CONFIGS: &[Config] = &[
    Config {
        engine: EngineKind::Interp,
        threads: Some(1),
        morsel_rows: None,
        decimal64: false,
        tiers: TierSwitch::Off,
    },
    Config {
        engine: EngineKind::Auto,
        threads: Some(1),
        morsel_rows: None,
        decimal64: false,
        tiers: TierSwitch::Off,
    },
    Config {
        engine: EngineKind::Interp,
        threads: Some(7),
        morsel_rows: Some(2),
        decimal64: false,
        tiers: TierSwitch::Off,
    },
    Config {
        engine: EngineKind::Auto,
        threads: Some(7),
        morsel_rows: Some(2),
        decimal64: false,
        tiers: TierSwitch::Off,
    },
    Config {
        engine: EngineKind::Interp,
        threads: Some(1),
        morsel_rows: None,
        decimal64: true,
        tiers: TierSwitch::Off,
    },
    Config {
        engine: EngineKind::Auto,
        threads: Some(7),
        morsel_rows: Some(2),
        decimal64: true,
        tiers: TierSwitch::Off,
    },
    Config {
        engine: EngineKind::Auto,
        threads: Some(1),
        morsel_rows: None,
        decimal64: false,
        tiers: TierSwitch::AtBatch(0),
    },
    Config {
        engine: EngineKind::Auto,
        threads: Some(3),
        morsel_rows: Some(2),
        decimal64: false,
        tiers: TierSwitch::AtBatch(1),
    },
    Config {
        engine: EngineKind::Auto,
        threads: Some(2),
        morsel_rows: Some(2),
        decimal64: true,
        tiers: TierSwitch::Never,
    },
];

/// The `.slt` files of the project folder `dir` whose paths contain one of `filter` (all if it
/// is empty), sorted.
fn slt_files(dir: &str, filter: &[String]) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| {
            filter.is_empty()
                || filter
                    .iter()
                    .any(|f| p.to_string_lossy().contains(f.as_str()))
        })
        .collect();
    files.sort();
    files
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let files = slt_files("tests/sql", &filter);
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        // `# timezone: Europe/Berlin` sets the file's session time zone.
        let timezone = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("# timezone:"))
            .map(|name| {
                qjit::ir::time::Zone::parse(name)
                    .unwrap_or_else(|| panic!("{}: unknown time zone {name}", file.display()))
            })
            .unwrap_or_default();
        for &config in CONFIGS {
            let mut runner = sqllogictest::Runner::new(move || async move {
                let tables = common::tables()
                    .into_iter()
                    .map(|t| match config.morsel_rows {
                        Some(rows) => t.with_morsel_rows(rows),
                        None => t,
                    })
                    .map(|t| match config.decimal64 {
                        true => common::with_decimal64(t),
                        false => t,
                    })
                    .collect();
                Ok(Qjit {
                    config,
                    tables,
                    timezone,
                })
            });
            runner.with_column_validator(sqllogictest::strict_column_validator);
            runner.add_label(label(config.engine));
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match runner.run_file(file) {
                Ok(()) => {
                    passed += 1;
                    println!("ok     {name} {config:?}");
                }
                Err(e) => {
                    failed += 1;
                    println!("FAILED {name} {config:?}\n{}", e.display(true));
                }
            }
        }
    }
    #[cfg(feature = "datafusion")]
    {
        let (p, f) = in_datafusion::run_corpus(&filter);
        passed += p;
        failed += f;
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        std::process::exit(1);
    }
}

/// The multi-table corpus, `tests/sql/datafusion/*.slt`, in DataFusion with and without qjit.
#[cfg(feature = "datafusion")]
mod in_datafusion {
    use std::path::Path;
    use std::sync::Arc;

    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;
    use qjit::exec::{EngineKind, QueryOptions};
    use sqllogictest::{DBOutput, DefaultColumnType};

    use super::common;

    /// DataFusion alone, then with qjit's kernels compiled before a query runs, on one and on
    /// three partitions.
    const CONFIGS: &[(EngineKind, usize)] = &[
        (EngineKind::Interp, 1),
        (EngineKind::Jit, 1),
        (EngineKind::Interp, 3),
        (EngineKind::Jit, 3),
    ];

    /// A DataFusion session behind the sqllogictest `DB` interface.
    struct DataFusion {
        ctx: SessionContext,
        runtime: tokio::runtime::Runtime,
        /// qjit kernels in the plans run so far.
        kernels: Arc<std::sync::atomic::AtomicUsize>,
    }

    #[derive(Debug)]
    struct Failed(String);

    impl std::fmt::Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Failed {}

    impl sqllogictest::DB for DataFusion {
        type Error = Failed;
        type ColumnType = DefaultColumnType;

        fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Failed> {
            let failed = |e: datafusion::error::DataFusionError| Failed(e.to_string());
            let (schema, batches) = self.runtime.block_on(async {
                let plan = self
                    .ctx
                    .sql(sql)
                    .await
                    .map_err(failed)?
                    .create_physical_plan()
                    .await
                    .map_err(failed)?;
                self.kernels.fetch_add(
                    qjit::datafusion::kernels(&plan).len(),
                    std::sync::atomic::Ordering::SeqCst,
                );
                let schema = plan.schema();
                let batches = collect(plan, self.ctx.task_ctx()).await.map_err(failed)?;
                Ok::<_, Failed>((schema, batches))
            })?;
            let statement = ["create", "drop"]
                .iter()
                .any(|w| sql.trim_start().to_lowercase().starts_with(w));
            if statement {
                return Ok(DBOutput::StatementComplete(0));
            }
            Ok(DBOutput::Rows {
                types: super::column_types(&schema),
                rows: common::render_batches(&batches),
            })
        }

        fn engine_name(&self) -> &str {
            "datafusion"
        }
    }

    /// A session with the test tables `t`, `f` and `h` in memory and `lineitem` from its
    /// Parquet file.
    fn session(
        engine: EngineKind,
        threads: usize,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<SessionContext, Failed> {
        let options = QueryOptions {
            engine,
            threads: Some(threads),
            ..Default::default()
        };
        let ctx = qjit::datafusion::session(&options).map_err(|e| Failed(e.to_string()))?;
        let (t_schema, t) = common::table_t();
        let (f_schema, f) = common::table_f();
        let (h_schema, h) = common::table_h();
        for (name, schema, batches) in [
            ("t", t_schema, vec![t]),
            ("f", f_schema, vec![f]),
            ("h", h_schema, h),
        ] {
            let table =
                MemTable::try_new(schema, vec![batches]).map_err(|e| Failed(e.to_string()))?;
            ctx.register_table(name, Arc::new(table))
                .map_err(|e| Failed(e.to_string()))?;
        }
        runtime
            .block_on(qjit::datafusion::register_tables(
                &ctx,
                &common::lineitem_path(),
            ))
            .map_err(|e| Failed(e.to_string()))?;
        Ok(ctx)
    }

    /// Runs every file of the corpus whose path contains one of `filter` (all if empty) in
    /// every configuration: (passed, failed).
    pub fn run_corpus(filter: &[String]) -> (usize, usize) {
        let files = super::slt_files("tests/sql/datafusion", filter);
        let (mut passed, mut failed) = (0, 0);
        for file in &files {
            for &(engine, threads) in CONFIGS {
                match run_file(file, engine, threads) {
                    Ok(()) => {
                        passed += 1;
                        println!("ok     datafusion/{} {engine:?} {threads}", name(file));
                    }
                    Err(e) => {
                        failed += 1;
                        println!("FAILED datafusion/{} {engine:?} {threads}\n{e}", name(file));
                    }
                }
            }
        }
        (passed, failed)
    }

    fn name(file: &Path) -> String {
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// One file in one configuration; with qjit, the file must have reached a kernel.
    fn run_file(file: &Path, engine: EngineKind, threads: usize) -> Result<(), String> {
        let kernels = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = kernels.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let kernels = counter.clone();
            async move {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .build()
                    .map_err(|e| Failed(e.to_string()))?;
                Ok(DataFusion {
                    ctx: session(engine, threads, &runtime)?,
                    runtime,
                    kernels,
                })
            }
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        runner
            .run_file(file)
            .map_err(|e| e.display(true).to_string())?;
        let reached = kernels.load(std::sync::atomic::Ordering::SeqCst);
        match (engine, reached) {
            (EngineKind::Interp, 0) => Ok(()),
            (EngineKind::Interp, n) => Err(format!("DataFusion alone ran {n} qjit kernels")),
            (_, 0) => Err("no query of the file reached a qjit kernel".to_string()),
            _ => Ok(()),
        }
    }
}
