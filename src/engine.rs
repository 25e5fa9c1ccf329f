//! The embedding API: qjit as a compiled filter and projection engine inside other programs.
//!
//! ```text
//! Engine (options) ─compile_filter(schema, "x > 1")──────▶ Filter     ─evaluate / apply(batch)─▶
//!                  ─compile_projection(schema, ["x + 1"])▶ Projection ─evaluate(batch)─────────▶
//!                  ─register_*("t", …) + query("SELECT … FROM t") ─────────────────────────────▶
//! ```
//!
//! An expression is parsed and bound against an Arrow schema with the same rules as a query
//! (`sql`), then compiled by the engine the options choose: with [`EngineKind::Auto`] what the
//! JIT does not compile runs in the interpreter, with [`EngineKind::Jit`] it is an error naming
//! the construct. A batch a kernel hands back runs in the interpreter, and a row that fails is
//! reported with the interpreter's wording, exactly as in `qjit query`.
//!
//! Queries ([`Engine::query`], [`Engine::query_source`]) are planned and run by the module
//! `query` that `qjit query` uses too, in qjit's own engine: the source opened and bound once,
//! then run.
//!
//! [`Filter`] and [`Projection`] are cheap to clone (the compiled kernel is shared) and may be
//! used from many threads at once. A batch whose columns do not have the compiled types is an
//! [`Error::Schema`] naming the column.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("name", DataType::Utf8, true),
//!     Field::new("qty", DataType::Int64, true),
//! ]));
//! let batch = RecordBatch::try_new(
//!     schema.clone(),
//!     vec![
//!         Arc::new(StringArray::from(vec![Some("bolt"), Some("nut"), None])),
//!         Arc::new(Int64Array::from(vec![Some(5), Some(50), Some(7)])),
//!     ],
//! )?;
//! let engine = qjit::Engine::new();
//! let filter = engine.compile_filter(&schema, "qty > 6 AND name LIKE 'n%'")?;
//! assert_eq!(filter.apply(&batch)?.num_rows(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch, RecordBatchReader};
use arrow::compute;
use arrow::datatypes::{Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowPredicate, RowFilter};
use parquet::schema::types::SchemaDescriptor;

use crate::error::{Error, Result};
use crate::exec::{self, Compiled, EngineKind, PartEngine, Predicate, QueryOptions, Source};
use crate::ir::{Body, Plan};
use crate::kernel_cache::KernelCache;

/// The table name expressions are bound against (never seen by the user).
const INPUT: &str = "qjit_input";

/// Compiles filters and projections, and runs queries over registered tables.
///
/// ```
/// use qjit::{Engine, EngineKind};
///
/// let default = Engine::new();
/// assert_eq!(default.options().engine, EngineKind::Auto);
/// let interpreted = Engine::builder().engine(EngineKind::Interp).threads(2).build()?;
/// assert_eq!(interpreted.options().threads, Some(2));
/// # Ok::<(), qjit::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Engine {
    options: QueryOptions,
    tables: HashMap<String, Registered>,
}

/// A table registered in an [`Engine`].
#[derive(Clone, Debug)]
enum Registered {
    /// One file or batches in memory: qjit's own engine runs a query of it alone.
    Source(Source),
    /// The Parquet files of a folder or a glob: DataFusion reads them.
    #[cfg(feature = "datafusion")]
    Files(crate::datafusion::Table),
}

/// Options for an [`Engine`]; see [`Engine::builder`].
#[derive(Clone, Debug, Default)]
pub struct EngineBuilder {
    options: QueryOptions,
}

impl EngineBuilder {
    /// Which engine evaluates expressions (default [`EngineKind::Auto`]).
    pub fn engine(mut self, engine: EngineKind) -> EngineBuilder {
        self.options.engine = engine;
        self
    }

    /// LLVM's `default<On>` pipeline (0–3) instead of qjit's kernel pipeline.
    pub fn opt_level(mut self, level: u8) -> EngineBuilder {
        self.options.opt_level = Some(level);
        self
    }

    /// Worker threads for [`Engine::query`] (default: every core).
    pub fn threads(mut self, threads: usize) -> EngineBuilder {
        self.options.threads = Some(threads);
        self
    }

    /// A cancellation flag for [`Engine::query`]: raising it (from any thread) stops every
    /// query of the engine with [`Error::Cancelled`], within about one batch per worker.
    ///
    /// ```
    /// let cancel = qjit::Cancel::new();
    /// let mut engine = qjit::Engine::builder().cancel(cancel.clone()).build()?;
    /// # let schema = std::sync::Arc::new(arrow::datatypes::Schema::empty());
    /// # engine.register_batches("t", schema, vec![])?;
    /// cancel.cancel();
    /// assert!(matches!(engine.query("SELECT 1 FROM t"), Err(qjit::Error::Cancelled)));
    /// # Ok::<(), qjit::Error>(())
    /// ```
    pub fn cancel(mut self, cancel: crate::Cancel) -> EngineBuilder {
        self.options.cancel = cancel;
        self
    }

    /// The bytes a query's `GROUP BY` state (or the rows a query without aggregates collects)
    /// may take over all worker threads; past it the query fails with [`Error::MemoryLimit`].
    /// Default: [`crate::exec::default_memory_limit`].
    pub fn memory_limit(mut self, bytes: usize) -> EngineBuilder {
        self.options.memory_limit = Some(bytes);
        self
    }

    /// Keeps compiled kernels in the kernel cache on disk in `dir` ([`crate::kernel_cache`]),
    /// shared with every other process that uses it: a kernel compiled once loads there in
    /// about a millisecond instead of running LLVM again. Off by default: a library writes
    /// nowhere it is not told to. [`crate::kernel_cache::KernelCache::default_dir`] names the
    /// directory `qjit query` uses.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let engine = qjit::Engine::builder().cache_dir(dir.path()).build()?;
    /// let cache = engine.options().kernel_cache.as_ref().expect("a cache");
    /// assert_eq!(cache.dir(), dir.path());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> EngineBuilder {
        self.options.kernel_cache = Some(Arc::new(KernelCache::new(dir)));
        self
    }

    /// Every option at once, as `qjit query` takes them.
    pub fn options(mut self, options: QueryOptions) -> EngineBuilder {
        self.options = options;
        self
    }

    /// The engine; an optimization level above 3 or zero threads is an [`Error::Usage`].
    pub fn build(self) -> Result<Engine> {
        if let Some(n) = self.options.opt_level.filter(|&n| n > 3) {
            return Err(Error::Usage(format!(
                "optimization level {n} does not exist; give 0 to 3"
            )));
        }
        if self.options.threads == Some(0) {
            return Err(Error::Usage("an engine needs at least one thread".into()));
        }
        if self.options.memory_limit == Some(0) {
            return Err(Error::Usage(
                "a memory limit of 0 bytes leaves no room for any query; give a positive size"
                    .into(),
            ));
        }
        Ok(Engine {
            options: self.options,
            tables: HashMap::new(),
        })
    }
}

impl Engine {
    /// An engine with the default options: [`EngineKind::Auto`], qjit's kernel pipeline,
    /// every core.
    ///
    /// ```
    /// let engine = qjit::Engine::new();
    /// assert_eq!(engine.options().engine, qjit::EngineKind::Auto);
    /// ```
    pub fn new() -> Engine {
        Engine::default()
    }

    /// A builder for an engine with other options.
    ///
    /// ```
    /// let engine = qjit::Engine::builder().engine(qjit::EngineKind::Jit).opt_level(2).build()?;
    /// assert_eq!(engine.options().opt_level, Some(2));
    /// # Ok::<(), qjit::Error>(())
    /// ```
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The engine's options.
    pub fn options(&self) -> &QueryOptions {
        &self.options
    }

    /// Compiles a `WHERE` predicate over batches of `schema`.
    ///
    /// The predicate must be `BOOLEAN` (or a bare `NULL`); rows where it is NULL do not pass.
    /// Positions in errors count lines and columns of `predicate`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Array, Int32Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    /// let filter = qjit::Engine::new().compile_filter(&schema, "x % 2 = 1")?;
    /// let batch = RecordBatch::try_new(
    ///     schema,
    ///     vec![Arc::new(Int32Array::from(vec![Some(1), Some(2), None]))],
    /// )?;
    /// let mask = filter.evaluate(&batch)?;
    /// assert_eq!(mask.null_count(), 0);
    /// assert_eq!(mask.values().iter().collect::<Vec<_>>(), vec![true, false, false]);
    ///
    /// let e = qjit::Engine::new().compile_filter(&batch.schema(), "y > 1").unwrap_err();
    /// assert!(e.to_string().contains("unknown column 'y'"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compile_filter(&self, schema: &Schema, predicate: &str) -> Result<Filter> {
        crate::stack::with_room(|| self.filter_of(schema, predicate))
    }

    fn filter_of(&self, schema: &Schema, predicate: &str) -> Result<Filter> {
        let sql = format!("SELECT 1 FROM {INPUT} WHERE\n{predicate}");
        let plan = bind(&sql, schema)?;
        let (Some(expr), false) = (plan.filter.clone(), has_extra_clauses(&plan, 1)) else {
            return Err(Error::plan(format!(
                "'{predicate}' is not one predicate (clauses such as GROUP BY, ORDER BY or LIMIT do not belong in it)"
            )));
        };
        let predicate = Predicate::compile(
            expr,
            plan.projection.clone(),
            plan.scan_schema.clone(),
            &self.options,
        )?;
        Ok(Filter {
            inner: Arc::new(FilterInner {
                schema: plan.source_schema.clone(),
                predicate,
            }),
        })
    }

    /// Compiles a list of expressions over batches of `schema`, each optionally named with
    /// `AS name` (otherwise named by its text, as a `SELECT` item). Aggregates are not
    /// expressions over one row and are an error. Positions in errors count the expressions as
    /// lines: the `k`-th expression starts on line `k` (if none has a line break).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int32Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    /// let projection = qjit::Engine::new().compile_projection(&schema, &["x * 2 AS double", "x IS NULL"])?;
    /// assert_eq!(projection.schema().field(0).name(), "double");
    /// assert_eq!(projection.schema().field(0).data_type(), &DataType::Int32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compile_projection(&self, schema: &Schema, exprs: &[&str]) -> Result<Projection> {
        crate::stack::with_room(|| self.projection_of(schema, exprs))
    }

    fn projection_of(&self, schema: &Schema, exprs: &[&str]) -> Result<Projection> {
        if exprs.is_empty() {
            return Err(Error::plan("a projection needs at least one expression"));
        }
        // Each expression parses alone first: an incomplete one (`s +`) would otherwise take
        // the `FROM` that follows it as its operand.
        let mut line = 1;
        for expr in exprs {
            match crate::sql::parse_query(&format!("SELECT\n{expr}")) {
                Err(mut e @ Error::Syntax { .. }) => {
                    if let Some(Some(p)) = e.position_mut() {
                        p.line = p.line.saturating_sub(1).max(1) + line - 1;
                    }
                    return Err(e);
                }
                _ => line += 1 + expr.matches('\n').count() as u64,
            }
        }
        let sql = format!("SELECT\n{}\nFROM {INPUT}", exprs.join(",\n"));
        let plan = bind(&sql, schema)?;
        let Body::Project { exprs: bound } = &plan.body else {
            return Err(Error::plan(
                "aggregates do not belong in a projection: it computes one row per input row",
            ));
        };
        if bound.len() != exprs.len() || plan.filter.is_some() || has_extra_clauses(&plan, 0) {
            return Err(Error::plan(format!(
                "{} items are not {} expressions: give one expression (and its AS name) per item",
                exprs.len(),
                exprs.len()
            )));
        }
        let compiled = exec::compile(&plan, &self.options)?;
        Ok(Projection {
            inner: Arc::new(ProjectionInner {
                input: plan.source_schema.clone(),
                output: plan.output_schema(),
                plan,
                compiled,
            }),
        })
    }

    /// Compiles expressions already bound to qjit's typed plan (each over the columns of
    /// `schema`, by index, and named): what front ends other than qjit's SQL, such as the
    /// DataFusion integration, build. The expressions must be well typed; the columns they read
    /// need not be all of `schema`.
    pub fn compile_typed_projection(
        &self,
        schema: &SchemaRef,
        exprs: Vec<(String, crate::ir::Expr)>,
    ) -> Result<Projection> {
        if exprs.is_empty() {
            return Err(Error::plan("a projection needs at least one expression"));
        }
        let plan = typed_plan(schema, exprs);
        let compiled = exec::compile(&plan, &self.options)?;
        Ok(Projection {
            inner: Arc::new(ProjectionInner {
                input: schema.clone(),
                output: plan.output_schema(),
                plan,
                compiled,
            }),
        })
    }

    /// The LLVM IR, after optimization, of the kernel [`Engine::compile_typed_projection`]
    /// compiles for `exprs` (none where they are interpreted), compiled afresh.
    #[cfg(feature = "datafusion")]
    pub(crate) fn typed_projection_ir(
        &self,
        schema: &SchemaRef,
        exprs: Vec<(String, crate::ir::Expr)>,
    ) -> Result<Vec<String>> {
        exec::kernel_ir_of(&typed_plan(schema, exprs), &self.options)
    }

    /// Registers the Parquet file at `path` as table `name` (it reads the file's footer).
    ///
    /// ```no_run
    /// let mut engine = qjit::Engine::new();
    /// engine.register_parquet("lineitem", "data/lineitem.parquet")?;
    /// let rows = engine.query("SELECT count(*) FROM lineitem WHERE l_quantity > 45")?;
    /// # Ok::<(), qjit::Error>(())
    /// ```
    pub fn register_parquet(&mut self, name: &str, path: impl AsRef<Path>) -> Result<()> {
        let source = Source::Parquet {
            name: name.to_string(),
            path: path.as_ref().to_path_buf(),
        };
        source.schema()?;
        self.tables
            .insert(name.to_string(), Registered::Source(source));
        Ok(())
    }

    /// Registers the file at `path` as table `name`: a Parquet, CSV or Arrow IPC file (or
    /// stream), by its extension or its first bytes, CSV read with `csv` (it reads the file's
    /// footer, or infers a CSV file's schema from its first rows).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("t.csv");
    /// std::fs::write(&path, "x,y\n1,a\n2,b\n3,c\n")?;
    /// let mut engine = qjit::Engine::new();
    /// engine.register_file("t", &path, &qjit::exec::CsvOptions::default())?;
    /// let result = engine.query("SELECT sum(x) FROM t WHERE y <> 'b'")?;
    /// let sum = result[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
    /// assert_eq!(sum.value(0), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_file(
        &mut self,
        name: &str,
        path: impl AsRef<Path>,
        csv: &exec::CsvOptions,
    ) -> Result<()> {
        let source = Source::file(path, csv)?.with_name(name);
        source.schema()?;
        self.tables
            .insert(name.to_string(), Registered::Source(source));
        Ok(())
    }

    /// Registers what `path` names as table `name`: a file as [`Engine::register_file`] does
    /// (CSV with the engine's CSV options), or a folder of Parquet files (at any depth, hive-style
    /// `key=value/` folders becoming columns) or a glob of them, which queries read through
    /// DataFusion (the `datafusion` feature; without it, a folder is an [`Error::Usage`]).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("t.csv"), "x\n1\n2\n")?;
    /// let mut engine = qjit::Engine::new();
    /// engine.register_path("t", dir.path().join("t.csv"))?;
    /// assert_eq!(engine.query("SELECT x FROM t WHERE x > 1")?[0].num_rows(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_path(&mut self, name: &str, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        #[cfg(feature = "datafusion")]
        if path.is_dir() || crate::datafusion::is_glob(path) {
            let location = crate::datafusion::tables(path)?;
            let table = match location.as_slice() {
                // A folder of one hive-partitioned table, or a glob.
                [one] if one.file.is_none() => one.clone(),
                // A folder of several tables (`NAME/` folders) is not one table.
                many if many.iter().any(|t| t.file.is_none()) => {
                    let names: Vec<&str> = many.iter().map(|t| t.name.as_str()).collect();
                    return Err(Error::File {
                        path: path.display().to_string(),
                        reason: format!(
                            "the folder holds several tables ({}); register each of them, or \
                             query the folder as a whole",
                            names.join(", ")
                        ),
                    });
                }
                // A folder of files: one table of all of them.
                _ => crate::datafusion::Table {
                    name: name.to_string(),
                    location: crate::datafusion::query::folder_url(path),
                    file: None,
                    kind: exec::FileKind::Parquet,
                },
            };
            self.tables.insert(
                name.to_string(),
                Registered::Files(crate::datafusion::Table {
                    name: name.to_string(),
                    ..table
                }),
            );
            return Ok(());
        }
        #[cfg(not(feature = "datafusion"))]
        if path.is_dir() {
            return Err(Error::Usage(format!(
                "{} is a folder; qjit reads folders of tables through DataFusion, which this \
                 build leaves out (build with the `datafusion` feature)",
                path.display()
            )));
        }
        let csv = self.options.csv;
        self.register_file(name, path, &csv)
    }

    /// Registers batches held in memory, all of `schema`, as table `name`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int32Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2, 3]))])?;
    /// let mut engine = qjit::Engine::new();
    /// engine.register_batches("t", schema, vec![batch.clone(), batch])?;
    /// let result = engine.query("SELECT sum(x) AS s FROM t WHERE x > 1")?;
    /// let sum = result[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
    /// assert_eq!(sum.value(0), 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_batches(
        &mut self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        for batch in &batches {
            exec::check_columns(&schema, batch)?;
        }
        self.tables.insert(
            name.to_string(),
            Registered::Source(Source::batches(name, schema.clone(), batches)),
        );
        Ok(())
    }

    /// Reads every batch of `reader` into memory and registers them as table `name`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int32Array, RecordBatch, RecordBatchIterator};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2, 3]))])?;
    /// let reader = RecordBatchIterator::new(vec![Ok(batch)], schema);
    /// let mut engine = qjit::Engine::new();
    /// engine.register_reader("t", reader)?;
    /// let result = engine.query("SELECT x FROM t WHERE x <> 2")?;
    /// assert_eq!(result.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_reader(&mut self, name: &str, reader: impl RecordBatchReader) -> Result<()> {
        let schema = reader.schema();
        let batches = reader
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::File {
                path: format!("the reader of table '{name}'"),
                reason: e.to_string(),
            })?;
        self.register_batches(name, schema, batches)
    }

    /// Runs one `SELECT` over the table it names in `FROM` (registered with `register_*`).
    /// See [`Engine::register_batches`] for an example.
    ///
    /// A query that qjit's own engine does not take (a join, a table of many files, SQL its
    /// binder hands over) runs in DataFusion over every registered table, with qjit's kernels
    /// inside (the `datafusion` feature).
    pub fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut collect = exec::Collect::default();
        self.query_into(sql, &mut collect)?;
        Ok(collect.batches)
    }

    /// [`Engine::query`], its result handed to `sink` as it is produced ([`exec::Collect`]
    /// keeps the batches and the schema, which a result of no rows still has).
    pub fn query_into(&self, sql: &str, sink: &mut dyn exec::ResultSink) -> Result<()> {
        crate::stack::with_room(|| self.query_registered(sql, sink))
    }

    fn query_registered(&self, sql: &str, sink: &mut dyn exec::ResultSink) -> Result<()> {
        // A query that qjit's parser does not take (`WITH`) may be DataFusion's.
        let parsed = match crate::sql::parse_query(sql) {
            Err(e) if !cfg!(feature = "datafusion") || !matches!(e, Error::Unsupported { .. }) => {
                return Err(e)
            }
            parsed => parsed,
        };
        let planned = parsed.and_then(|query| {
            let name = crate::sql::table_name(&query)?;
            match self.table(&name)? {
                Registered::Source(source) => {
                    crate::query::plan_parsed(source, &query, &self.options)
                }
                #[cfg(feature = "datafusion")]
                Registered::Files(_) => Err(Error::unsupported(
                    "a table of many files (qjit's own engine reads one file)",
                )),
            }
        });
        match planned {
            Ok(planned) => planned.run_into(sink).map(|_| ()),
            #[cfg(feature = "datafusion")]
            Err(e) if crate::query::hands_over(&e) => {
                let tables = self.session_tables();
                crate::datafusion::Query::plan_tables(tables, sql, &self.options)
                    .map_err(|d| crate::query::planning_error(Some(e), d))?
                    .run_into(sink)
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// The table registered as `name` (else as `name` in any case).
    fn table(&self, name: &str) -> Result<&Registered> {
        self.tables
            .get(name)
            .or_else(|| {
                self.tables
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, s)| s)
            })
            .ok_or_else(|| {
                let mut names: Vec<&str> = self.tables.keys().map(String::as_str).collect();
                names.sort_unstable();
                Error::plan(format!(
                    "no table '{name}' is registered (registered: {})",
                    match names.is_empty() {
                        true => "none".to_string(),
                        false => names.join(", "),
                    }
                ))
            })
    }

    /// Every registered table, as a DataFusion session registers it.
    #[cfg(feature = "datafusion")]
    fn session_tables(&self) -> Vec<crate::datafusion::SessionTable> {
        use crate::datafusion::{SessionTable, Table};
        let file = |name: &str, path: &Path, kind: exec::FileKind| Table {
            name: name.to_string(),
            location: path.to_string_lossy().into_owned(),
            file: Some(path.to_path_buf()),
            kind,
        };
        let csv = &self.options.csv;
        self.tables
            .iter()
            .map(|(name, table)| match table {
                Registered::Files(t) => SessionTable::Files(t.clone(), *csv),
                Registered::Source(Source::Parquet { path, .. }) => {
                    SessionTable::Files(file(name, path, exec::FileKind::Parquet), *csv)
                }
                Registered::Source(Source::Csv { path, options, .. }) => {
                    SessionTable::Files(file(name, path, exec::FileKind::Csv), *options)
                }
                Registered::Source(Source::Ipc { path, stream, .. }) => SessionTable::Files(
                    file(
                        name,
                        path,
                        match stream {
                            true => exec::FileKind::ArrowStream,
                            false => exec::FileKind::ArrowFile,
                        },
                    ),
                    *csv,
                ),
                Registered::Source(Source::Batches {
                    schema, batches, ..
                }) => SessionTable::Batches {
                    name: name.clone(),
                    schema: schema.clone(),
                    batches: batches.clone(),
                },
            })
            .collect()
    }

    /// The names of the registered tables, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// The engine with `cancel` as its cancellation flag (its tables shared): what one call
    /// that may be cancelled on its own runs with.
    pub fn with_cancel(&self, cancel: crate::Cancel) -> Engine {
        let mut engine = self.clone();
        engine.options.cancel = cancel;
        engine
    }

    /// Runs one `SELECT` over `source`, registered or not; `FROM` must name it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int32Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use qjit::exec::Source;
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1, 2, 3]))])?;
    /// let source = Source::batches("numbers", schema, vec![batch]);
    /// let result = qjit::Engine::new().query_source(&source, "SELECT x FROM numbers ORDER BY x DESC LIMIT 1")?;
    /// assert_eq!(result[0].num_rows(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_source(&self, source: &Source, sql: &str) -> Result<Vec<RecordBatch>> {
        crate::query::plan_source(source, sql, &self.options)?.run()
    }
}

/// The plan of a projection of typed expressions over every column of `schema`.
fn typed_plan(schema: &SchemaRef, exprs: Vec<(String, crate::ir::Expr)>) -> Plan {
    let (output_names, exprs): (Vec<String>, Vec<crate::ir::Expr>) = exprs.into_iter().unzip();
    Plan {
        table: INPUT.to_string(),
        source_schema: schema.clone(),
        projection: (0..schema.fields().len()).collect(),
        scan_schema: schema.clone(),
        filter: None,
        body: Body::Project { exprs },
        distinct: false,
        order_by: vec![],
        offset: 0,
        limit: None,
        output_names,
        timezone: crate::ir::time::Zone::Utc,
    }
}

/// Binds `sql` (a query over [`INPUT`] whose text after its first line is the user's) against
/// `schema`, with error positions counted from the second line.
fn bind(sql: &str, schema: &Schema) -> Result<Plan> {
    let schema = Arc::new(schema.clone());
    crate::sql::plan_query(sql, INPUT, &schema).map_err(|mut e| {
        if let Some(Some(p)) = e.position_mut() {
            p.line = p.line.saturating_sub(1).max(1);
        }
        e
    })
}

/// Checks that `batch` has the columns of `schema` ([`exec::check_columns`]) under the same
/// names: columns of the right types in another order would otherwise give wrong answers.
fn check_batch(schema: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    exec::check_columns(schema, batch)?;
    let batch_schema = batch.schema();
    for (i, (want, got)) in schema
        .fields()
        .iter()
        .zip(batch_schema.fields())
        .enumerate()
    {
        if want.name() != got.name() {
            return Err(Error::Schema(format!(
                "column {} of the batch is named '{}', expected '{}' (the columns, their names, \
                 types and order, must be those the expression was compiled for)",
                i + 1,
                got.name(),
                want.name()
            )));
        }
    }
    Ok(())
}

/// Whether the plan has more than `SELECT <width items> [WHERE]`.
fn has_extra_clauses(plan: &Plan, width: usize) -> bool {
    plan.distinct
        || !plan.order_by.is_empty()
        || plan.limit.is_some()
        || plan.offset > 0
        || (width > 0 && plan.final_exprs().len() != width)
        || !matches!(plan.body, Body::Project { .. })
}

/// A compiled predicate; see [`Engine::compile_filter`]. Cloning shares the compiled kernel.
#[derive(Clone, Debug)]
pub struct Filter {
    inner: Arc<FilterInner>,
}

#[derive(Debug)]
struct FilterInner {
    /// The schema the filter was compiled for.
    schema: SchemaRef,
    predicate: Predicate,
}

impl Filter {
    /// The rows of `batch` where the predicate is TRUE: a mask with no nulls (a NULL
    /// predicate is FALSE).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Array, Int32Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
    /// let filter = qjit::Engine::new().compile_filter(&schema, "x < 10")?;
    /// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![Some(1), None]))])?;
    /// let mask = filter.evaluate(&batch)?;
    /// assert_eq!((mask.len(), mask.true_count(), mask.null_count()), (2, 1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        check_batch(&self.inner.schema, batch)?;
        let columns = batch.project(&self.inner.predicate.columns)?;
        self.inner.predicate.mask(&columns)
    }

    /// The rows of `batch` where the predicate is TRUE, every column kept.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int32Array, RecordBatch, StringArray};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("s", DataType::Utf8, false),
    ///     Field::new("x", DataType::Int32, true),
    /// ]));
    /// let filter = qjit::Engine::new().compile_filter(&schema, "x BETWEEN 2 AND 3")?;
    /// let batch = RecordBatch::try_new(schema, vec![
    ///     Arc::new(StringArray::from(vec!["a", "b", "c"])),
    ///     Arc::new(Int32Array::from(vec![1, 2, 3])),
    /// ])?;
    /// let kept = filter.apply(&batch)?;
    /// assert_eq!((kept.num_rows(), kept.num_columns()), (2, 2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let mask = self.evaluate(batch)?;
        if mask.true_count() == batch.num_rows() {
            return Ok(batch.clone());
        }
        Ok(compute::filter_record_batch(batch, &mask)?)
    }

    /// The schema the filter was compiled for.
    pub fn schema(&self) -> &SchemaRef {
        &self.inner.schema
    }

    /// The columns the predicate reads (indices into [`Filter::schema`], ascending).
    pub fn columns(&self) -> &[usize] {
        &self.inner.predicate.columns
    }

    /// Whether the predicate runs compiled, or interpreted and why.
    pub fn engine(&self) -> &PartEngine {
        &self.inner.predicate.engine
    }

    /// The filter as the parquet crate's `ArrowPredicate`, for a Parquet file whose root
    /// columns are [`Filter::schema`]'s (`parquet_schema` is the file's schema descriptor).
    /// The reader decodes only [`Filter::columns`] to evaluate it. Its errors come out of the
    /// reader as `ArrowError::ExternalError` holding the [`Error`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Int32Array, RecordBatch, StringArray};
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowFilter};
    /// use parquet::arrow::ArrowWriter;
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("s", DataType::Utf8, false),
    ///     Field::new("x", DataType::Int32, true),
    /// ]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![
    ///     Arc::new(StringArray::from(vec!["a", "b", "c"])),
    ///     Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
    /// ])?;
    /// let file = tempfile::tempfile()?;
    /// let mut writer = ArrowWriter::try_new(file.try_clone()?, schema.clone(), None)?;
    /// writer.write(&batch)?;
    /// writer.close()?;
    ///
    /// let filter = qjit::Engine::new().compile_filter(&schema, "x >= 2")?;
    /// let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    /// let predicate = filter.arrow_predicate(builder.parquet_schema())?;
    /// let reader = builder.with_row_filter(RowFilter::new(vec![predicate])).build()?;
    /// let rows: usize = reader.map(|b| b.map(|b| b.num_rows())).sum::<Result<_, _>>()?;
    /// assert_eq!(rows, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn arrow_predicate(
        &self,
        parquet_schema: &SchemaDescriptor,
    ) -> Result<Box<dyn ArrowPredicate>> {
        let roots = parquet_schema.root_schema().get_fields();
        let fields = self.inner.schema.fields();
        if roots.len() != fields.len() {
            return Err(Error::Schema(format!(
                "the Parquet file has {} columns, the filter was compiled for {}",
                roots.len(),
                fields.len()
            )));
        }
        for &i in &self.inner.predicate.columns {
            if roots[i].name() != fields[i].name() {
                return Err(Error::Schema(format!(
                    "column {i} of the Parquet file is '{}', the filter was compiled for '{}'",
                    roots[i].name(),
                    fields[i].name()
                )));
            }
        }
        let filter = self.clone();
        Ok(exec::ScanFilter {
            columns: self.inner.predicate.columns.clone(),
            keep: Arc::new(move |batch: &RecordBatch| filter.inner.predicate.mask(batch)),
        }
        .arrow_predicate(parquet_schema))
    }

    /// A `RowFilter` of the one predicate [`Filter::arrow_predicate`], for
    /// `ParquetRecordBatchReaderBuilder::with_row_filter`.
    pub fn row_filter(&self, parquet_schema: &SchemaDescriptor) -> Result<RowFilter> {
        Ok(RowFilter::new(vec![self.arrow_predicate(parquet_schema)?]))
    }
}

/// Compiled expressions; see [`Engine::compile_projection`]. Cloning shares the compiled
/// kernel.
#[derive(Clone, Debug)]
pub struct Projection {
    inner: Arc<ProjectionInner>,
}

#[derive(Debug)]
struct ProjectionInner {
    /// The schema the projection was compiled for.
    input: SchemaRef,
    /// The schema of its result.
    output: SchemaRef,
    plan: Plan,
    compiled: Compiled,
}

impl Projection {
    /// The expressions evaluated on every row of `batch`: a batch of [`Projection::schema`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Array, Float64Array, Int32Array, RecordBatch};
    /// use arrow::datatypes::{DataType, Field, Schema};
    ///
    /// let schema = Arc::new(Schema::new(vec![
    ///     Field::new("a", DataType::Int32, true),
    ///     Field::new("b", DataType::Float64, true),
    /// ]));
    /// let projection = qjit::Engine::new().compile_projection(&schema, &["b * 2 AS b2", "a + 1"])?;
    /// let batch = RecordBatch::try_new(schema, vec![
    ///     Arc::new(Int32Array::from(vec![Some(1), None])),
    ///     Arc::new(Float64Array::from(vec![0.5, 1.5])),
    /// ])?;
    /// let out = projection.evaluate(&batch)?;
    /// assert_eq!(out.num_rows(), 2);
    /// assert_eq!(out.column(1).null_count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let inner = &self.inner;
        check_batch(&inner.input, batch)?;
        let scan = batch.project(&inner.plan.projection)?;
        let mut parts = vec![];
        let no_filter = exec::Where {
            filter: None,
            kernel: None,
        };
        if let Some(columns) = exec::project_batch(
            &no_filter,
            inner.plan.final_exprs(),
            inner.compiled.project_kernel.as_deref(),
            scan,
        )? {
            parts.push(columns);
        }
        let mut batches = exec::finish(&inner.plan, parts)?;
        match (batches.pop(), batches.is_empty()) {
            (Some(out), true) => Ok(out),
            _ => Err(Error::internal("a projection did not produce one batch")),
        }
    }

    /// The schema the projection was compiled for.
    pub fn input_schema(&self) -> &SchemaRef {
        &self.inner.input
    }

    /// The schema of [`Projection::evaluate`]'s result: one column per expression.
    pub fn schema(&self) -> &SchemaRef {
        &self.inner.output
    }

    /// How the expressions run: compiled, or interpreted and why.
    pub fn engine(&self) -> &PartEngine {
        &self.inner.compiled.projection
    }
}
