//! `qjit._qjit`: qjit's engine as a Python extension module (the package `qjit` re-exports it).
//!
//! ```text
//! Python object ─__arrow_c_array__ / __arrow_c_stream__ / __arrow_c_schema__─▶ arrow-rs (no copy)
//!   ─▶ qjit (GIL released) ─▶ arrow-rs result ─stream export─▶ pyarrow object (no copy)
//! ```
//!
//! Inputs come through Arrow's PyCapsule interface, so pyarrow, Polars, DuckDB and anything
//! else that speaks it hand their buffers over without a copy; results are pyarrow objects.
//! Every call that evaluates releases the GIL. Queries run on a thread of their own while the
//! calling thread watches for signals: Ctrl-C cancels the query ([`qjit::Cancel`]) and raises
//! `KeyboardInterrupt`. qjit's errors raise `qjit.Error` with qjit's message.

use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use arrow::array::{
    Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchIterator, RecordBatchReader,
};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::ffi_stream::ArrowArrayStreamReader;
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, ToPyArrow};
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use rayon::prelude::*;

use qjit::exec::{Collect, TierSwitch};
use qjit::{Cancel, EngineKind, PartEngine, QueryOptions};

pyo3::create_exception!(
    qjit,
    Error,
    PyException,
    "An error qjit reports: bad SQL, a batch whose schema is not the compiled one, an error in \
     the data, a memory limit reached, a file that cannot be read. The message says what, where, \
     and what to do."
);

/// qjit's error as `qjit.Error`.
fn error(e: qjit::Error) -> PyErr {
    Error::new_err(e.to_string())
}

/// Rows per piece of work when a table is filtered or projected on several threads: small
/// enough to share a few batches among the threads, large enough that a piece's overhead
/// (a kernel call, an output batch) does not show. An error in the data is the first piece's
/// in order, as on one thread.
const PIECE_ROWS: usize = 1 << 16;

/// The options every entry point takes.
fn options(
    engine: &str,
    threads: Option<usize>,
    memory_limit: Option<&Bound<'_, PyAny>>,
    cache_dir: Option<PathBuf>,
) -> PyResult<QueryOptions> {
    let engine = match engine.to_ascii_lowercase().as_str() {
        "auto" => EngineKind::Auto,
        "jit" => EngineKind::Jit,
        "interp" => EngineKind::Interp,
        other => {
            return Err(Error::new_err(format!(
                "unknown engine '{other}': give 'auto' (the JIT where it compiles, else the \
                 interpreter), 'jit' or 'interp'"
            )))
        }
    };
    let memory_limit = match memory_limit {
        None => None,
        Some(limit) if limit.is_none() => None,
        Some(limit) => Some(match limit.extract::<usize>() {
            Ok(bytes) => bytes,
            Err(_) => {
                let text: String = limit.extract().map_err(|_| {
                    PyTypeError::new_err(
                        "memory_limit is a number of bytes or a size such as '512MiB' or '2GB'",
                    )
                })?;
                qjit::exec::parse_memory_size(&text)
                    .map_err(|why| Error::new_err(format!("memory_limit '{text}': {why}")))?
            }
        }),
    };
    let mut builder = qjit::Engine::builder().options(QueryOptions {
        engine,
        threads,
        memory_limit,
        // As `qjit query`: with `auto`, a query starts in the interpreter while its kernels
        // compile, then switches to them.
        tiers: match engine {
            EngineKind::Auto => TierSwitch::WhenReady,
            _ => TierSwitch::Off,
        },
        ..QueryOptions::default()
    });
    if let Some(dir) = cache_dir {
        builder = builder.cache_dir(dir);
    }
    Ok(builder.build().map_err(error)?.options().clone())
}

/// Runs `work` on a thread of its own, the GIL released, while this thread checks for signals
/// every 50 ms: a signal handler that raises (Ctrl-C's `KeyboardInterrupt`) cancels the work
/// through `cancel`, waits for it to stop, and raises.
fn interruptible<T: Send>(
    py: Python<'_>,
    cancel: &Cancel,
    work: impl FnOnce() -> qjit::Result<T> + Send,
) -> PyResult<T> {
    let (tx, mut rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("qjit-query".into())
            .spawn_scoped(scope, move || {
                let _ = tx.send(work());
            })
            .map_err(|e| Error::new_err(format!("cannot start a thread for the query: {e}")))?;
        let outcome = loop {
            let (back, next) = py.detach(move || {
                let next = rx.recv_timeout(Duration::from_millis(50));
                (rx, next)
            });
            rx = back;
            match next {
                Ok(result) => break result.map_err(error),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        cancel.cancel();
                        // The query stops within about a batch per worker.
                        let _ = py.detach(move || rx.recv());
                        break Err(interrupt);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(Error::new_err(
                        "internal error: the query's thread stopped without an answer",
                    ))
                }
            }
        };
        match worker.join() {
            Ok(()) => outcome,
            Err(_) => Err(Error::new_err(
                "internal error: the query's thread panicked; please report it",
            )),
        }
    })
}

/// A rayon pool of `threads` workers, or rayon's global pool (every core).
struct Workers {
    threads: Option<usize>,
    pool: OnceLock<Option<rayon::ThreadPool>>,
}

impl Workers {
    fn new(threads: Option<usize>) -> Arc<Workers> {
        Arc::new(Workers {
            threads,
            pool: OnceLock::new(),
        })
    }

    /// `f` of each piece of `batches` ([`pieces`]), in order, on the workers; the first
    /// piece's error in order, as on one thread.
    fn map_pieces<T: Send>(
        &self,
        batches: &[RecordBatch],
        f: impl Fn(&RecordBatch) -> qjit::Result<T> + Sync,
    ) -> qjit::Result<Vec<T>> {
        let pieces = pieces(batches);
        self.install(|| pieces.par_iter().map(&f).collect::<Vec<_>>())
            .into_iter()
            .collect()
    }

    /// Runs `f` on the workers.
    fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let pool = self.pool.get_or_init(|| {
            let n = self.threads?;
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("qjit-py-{i}"))
                .build()
                .ok()
        });
        match pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

/// What a filter or projection evaluates: one batch, or the batches of a stream.
enum Input {
    Batch(RecordBatch),
    Stream(SchemaRef, Vec<RecordBatch>),
}

impl Input {
    /// A record batch through `__arrow_c_array__` (a pyarrow `RecordBatch`), else the batches of
    /// a stream through `__arrow_c_stream__` (a pyarrow `Table` or `RecordBatchReader`, a Polars
    /// `DataFrame`, a DuckDB relation, ...), else a pyarrow `RecordBatchReader`.
    fn read(obj: &Bound<'_, PyAny>) -> PyResult<Input> {
        if obj.hasattr("__arrow_c_array__")? {
            return Ok(Input::Batch(RecordBatch::from_pyarrow_bound(obj)?));
        }
        let reader = ArrowArrayStreamReader::from_pyarrow_bound(obj).map_err(|_| {
            PyTypeError::new_err(format!(
                "expected Arrow data (an object with __arrow_c_array__ or __arrow_c_stream__, \
                 such as a pyarrow RecordBatch or Table, or a Polars DataFrame), got {}",
                type_name(obj)
            ))
        })?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::new_err(format!("cannot read the input stream: {e}")))?;
        Ok(Input::Stream(schema, batches))
    }
}

/// The type of a Python object, for messages.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an object".into())
}

/// A schema: a pyarrow `Schema` or anything with `__arrow_c_schema__`, else the schema of Arrow
/// data (a table, a batch, a stream, a Polars `DataFrame`).
fn read_schema(obj: &Bound<'_, PyAny>) -> PyResult<Schema> {
    if let Ok(schema) = Schema::from_pyarrow_bound(obj) {
        return Ok(schema);
    }
    if let Ok(schema) = obj.getattr("schema") {
        if let Ok(schema) = Schema::from_pyarrow_bound(&schema) {
            return Ok(schema);
        }
    }
    if obj.hasattr("__arrow_c_stream__")? {
        return Ok(ArrowArrayStreamReader::from_pyarrow_bound(obj)?
            .schema()
            .as_ref()
            .clone());
    }
    Err(PyTypeError::new_err(format!(
        "expected an Arrow schema (a pyarrow Schema or an object with __arrow_c_schema__), got {}",
        type_name(obj)
    )))
}

/// `batches` cut into pieces of at most [`PIECE_ROWS`] rows (slices: no copy).
fn pieces(batches: &[RecordBatch]) -> Vec<RecordBatch> {
    let mut out = vec![];
    for b in batches {
        let mut start = 0;
        while start < b.num_rows() {
            let len = PIECE_ROWS.min(b.num_rows() - start);
            out.push(b.slice(start, len));
            start += len;
        }
    }
    out
}

/// A pyarrow `Table` of `batches`, all of `schema`: handed over as one Arrow stream that
/// pyarrow reads whole, so that the schema crosses once rather than once per batch.
fn table<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let stream: Box<dyn RecordBatchReader + Send> = Box::new(RecordBatchIterator::new(
        batches.into_iter().map(Ok),
        schema,
    ));
    stream.into_pyarrow(py)?.call_method0("read_all")
}

/// How a compiled part runs, for `engine` properties.
fn describe_engine(engine: &PartEngine) -> String {
    match engine {
        PartEngine::None => "none".into(),
        PartEngine::Compiled => "compiled".into(),
        PartEngine::Interpreted(why) => format!("interpreted: {why}"),
    }
}

/// Compiles filters and projections and runs SQL over registered tables.
///
/// `engine` is 'auto' (the JIT where an expression compiles, else the interpreter), 'jit' (an
/// error where it does not compile) or 'interp'; `threads` the worker threads (default: every
/// core); `memory_limit` what a query's GROUP BY state or collected rows may take, in bytes or
/// as a size such as '2GB' (default: 80% of the memory available); `cache_dir` a folder where
/// compiled kernels are kept and shared with other processes (default: none).
#[pyclass(frozen, module = "qjit", name = "Engine")]
struct PyEngine {
    engine: RwLock<qjit::Engine>,
    workers: Arc<Workers>,
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (engine = "auto", threads = None, memory_limit = None, cache_dir = None))]
    fn new(
        engine: &str,
        threads: Option<usize>,
        memory_limit: Option<&Bound<'_, PyAny>>,
        cache_dir: Option<PathBuf>,
    ) -> PyResult<PyEngine> {
        let options = options(engine, threads, memory_limit, cache_dir)?;
        let engine = qjit::Engine::builder()
            .options(options)
            .build()
            .map_err(error)?;
        Ok(PyEngine {
            engine: RwLock::new(engine),
            workers: Workers::new(threads),
        })
    }

    /// Compiles a WHERE predicate over batches of `schema` (a pyarrow Schema, anything with
    /// `__arrow_c_schema__`, or Arrow data whose schema it takes).
    fn compile_filter(
        &self,
        py: Python<'_>,
        schema: &Bound<'_, PyAny>,
        predicate: &str,
    ) -> PyResult<Filter> {
        let schema = read_schema(schema)?;
        let engine = self.engine()?;
        let filter = py
            .detach(|| engine.compile_filter(&schema, predicate))
            .map_err(error)?;
        Ok(Filter {
            filter,
            workers: self.workers.clone(),
        })
    }

    /// Compiles expressions (each optionally `AS name`) over batches of `schema`.
    fn compile_projection(
        &self,
        py: Python<'_>,
        schema: &Bound<'_, PyAny>,
        exprs: &Bound<'_, PyAny>,
    ) -> PyResult<Projection> {
        let schema = read_schema(schema)?;
        let exprs: Vec<String> = match exprs.cast::<PyString>() {
            Ok(one) => vec![one.to_string()],
            Err(_) => exprs.extract().map_err(|_| {
                PyTypeError::new_err("exprs is a list of SQL expressions (strings)")
            })?,
        };
        let engine = self.engine()?;
        let projection = py
            .detach(|| {
                let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
                engine.compile_projection(&schema, &exprs)
            })
            .map_err(error)?;
        Ok(Projection {
            projection,
            workers: self.workers.clone(),
        })
    }

    /// Registers `obj` as table `name`: a path (str or os.PathLike) to a Parquet, CSV or Arrow
    /// file or to a folder of Parquet files, or Arrow data (a pyarrow Table, RecordBatch or
    /// RecordBatchReader, a Polars DataFrame, anything with `__arrow_c_stream__`), read once
    /// and kept without a copy.
    fn register(&self, name: &str, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        if let Ok(path) = obj.extract::<PathBuf>() {
            // Reads a footer or lists a folder: short, so the GIL stays held.
            return self.engine_mut()?.register_path(name, &path).map_err(error);
        }
        let (schema, batches) = match Input::read(obj)? {
            Input::Batch(batch) => (batch.schema(), vec![batch]),
            Input::Stream(schema, batches) => (schema, batches),
        };
        self.engine_mut()?
            .register_batches(name, schema, batches)
            .map_err(error)
    }

    /// Runs one SELECT over the registered tables: in qjit's own engine when it names one
    /// table it takes, else in DataFusion with qjit's kernels inside. Returns a pyarrow Table.
    fn sql<'py>(&self, py: Python<'py>, sql: &str) -> PyResult<Bound<'py, PyAny>> {
        let cancel = Cancel::new();
        let engine = self.engine()?.with_cancel(cancel.clone());
        let (schema, batches) = interruptible(py, &cancel, || {
            let mut collect = Collect::default();
            engine.query_into(sql, &mut collect)?;
            Ok((collect.schema, collect.batches))
        })?;
        let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
        table(py, schema, batches)
    }

    /// The names of the registered tables, sorted.
    fn tables(&self) -> PyResult<Vec<String>> {
        Ok(self.engine()?.table_names())
    }

    fn __repr__(&self) -> PyResult<String> {
        let engine = self.engine()?;
        let o = engine.options();
        Ok(format!(
            "qjit.Engine(engine='{}', threads={}, tables={:?})",
            format!("{:?}", o.engine).to_ascii_lowercase(),
            o.threads.map_or("None".into(), |n| n.to_string()),
            engine.table_names()
        ))
    }
}

impl PyEngine {
    /// The engine (a clone: its compiled state and tables are shared).
    fn engine(&self) -> PyResult<qjit::Engine> {
        self.engine
            .read()
            .map(|e| e.clone())
            .map_err(|_| Error::new_err("internal error: the engine's lock is poisoned"))
    }

    fn engine_mut(&self) -> PyResult<std::sync::RwLockWriteGuard<'_, qjit::Engine>> {
        self.engine
            .write()
            .map_err(|_| Error::new_err("internal error: the engine's lock is poisoned"))
    }
}

/// A compiled WHERE predicate; see `Engine.compile_filter`. Safe to share between threads.
#[pyclass(frozen, module = "qjit")]
struct Filter {
    filter: qjit::Filter,
    workers: Arc<Workers>,
}

#[pymethods]
impl Filter {
    /// The rows where the predicate is TRUE, as a pyarrow BooleanArray without NULLs (NULL
    /// counts as false, as in WHERE): of a RecordBatch, or of all the batches of a Table or
    /// stream, in order.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mask = match Input::read(batch)? {
            Input::Batch(batch) => py.detach(|| self.filter.evaluate(&batch)).map_err(error)?,
            Input::Stream(_, batches) => {
                let masks = py
                    .detach(|| {
                        self.workers
                            .map_pieces(&batches, |b| self.filter.evaluate(b))
                    })
                    .map_err(error)?;
                let parts: Vec<&dyn Array> = masks.iter().map(|m| m as &dyn Array).collect();
                match parts.is_empty() {
                    true => BooleanArray::from(Vec::<bool>::new()),
                    false => {
                        let whole: ArrayRef = arrow::compute::concat(&parts)
                            .map_err(|e| Error::new_err(format!("internal error: {e}")))?;
                        BooleanArray::from(whole.to_data())
                    }
                }
            }
        };
        mask.to_data().to_pyarrow(py)
    }

    /// The rows where the predicate is TRUE, every column kept: a RecordBatch gives a
    /// RecordBatch; a Table, a stream or a Polars DataFrame gives a pyarrow Table (its batches
    /// filtered on the engine's threads). A batch all of whose rows pass comes back without a
    /// copy.
    fn apply<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match Input::read(data)? {
            Input::Batch(batch) => {
                let kept = py.detach(|| self.filter.apply(&batch)).map_err(error)?;
                kept.to_pyarrow(py)
            }
            Input::Stream(schema, batches) => {
                let mut kept = py
                    .detach(|| self.workers.map_pieces(&batches, |b| self.filter.apply(b)))
                    .map_err(error)?;
                kept.retain(|b| b.num_rows() > 0);
                table(py, schema, kept)
            }
        }
    }

    /// The schema the filter was compiled for, as a pyarrow Schema.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.filter.schema().as_ref().to_pyarrow(py)
    }

    /// How the predicate runs: 'compiled', or 'interpreted: <why>'.
    #[getter]
    fn engine(&self) -> String {
        describe_engine(self.filter.engine())
    }

    fn __repr__(&self) -> String {
        format!("qjit.Filter(engine={:?})", self.engine())
    }
}

/// Compiled expressions; see `Engine.compile_projection`. Safe to share between threads.
#[pyclass(frozen, module = "qjit")]
struct Projection {
    projection: qjit::Projection,
    workers: Arc<Workers>,
}

#[pymethods]
impl Projection {
    /// One column per expression: a RecordBatch of a RecordBatch, a pyarrow Table of a Table, a
    /// stream or a Polars DataFrame.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match Input::read(batch)? {
            Input::Batch(batch) => {
                let out = py
                    .detach(|| self.projection.evaluate(&batch))
                    .map_err(error)?;
                out.to_pyarrow(py)
            }
            Input::Stream(_, batches) => {
                let out = py
                    .detach(|| {
                        self.workers
                            .map_pieces(&batches, |b| self.projection.evaluate(b))
                    })
                    .map_err(error)?;
                table(py, self.projection.schema().clone(), out)
            }
        }
    }

    /// The schema of the result, as a pyarrow Schema.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.projection.schema().as_ref().to_pyarrow(py)
    }

    /// How the expressions run: 'compiled', or 'interpreted: <why>'.
    #[getter]
    fn engine(&self) -> String {
        describe_engine(self.projection.engine())
    }

    fn __repr__(&self) -> String {
        format!("qjit.Projection(engine={:?})", self.engine())
    }
}

/// Runs one SELECT over `path` as `qjit query` does: a Parquet (or CSV, Arrow) file, a folder
/// of tables (`NAME.parquet` files, `NAME/` folders of Parquet files), or a glob. Returns a
/// pyarrow Table. Ctrl-C cancels it.
#[pyfunction]
#[pyo3(signature = (path, sql, engine = "auto", threads = None, memory_limit = None, cache_dir = None))]
fn query<'py>(
    py: Python<'py>,
    path: PathBuf,
    sql: &str,
    engine: &str,
    threads: Option<usize>,
    memory_limit: Option<&Bound<'py, PyAny>>,
    cache_dir: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let cancel = Cancel::new();
    let options = QueryOptions {
        cancel: cancel.clone(),
        ..options(engine, threads, memory_limit, cache_dir)?
    };
    let (schema, batches) = interruptible(py, &cancel, || {
        let planned = qjit::internals::query::plan(
            &path,
            sql,
            &options,
            &qjit::internals::query::Placement::Auto,
        )?;
        let mut collect = Collect::default();
        planned.run_into(&mut collect)?;
        Ok((collect.schema, collect.batches))
    })?;
    let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
    table(py, schema, batches)
}

/// The versions qjit was built with: qjit, LLVM (None without the JIT), arrow, DataFusion.
#[pyfunction]
fn versions(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let dict = pyo3::types::PyDict::new(py);
    dict.set_item("qjit", env!("CARGO_PKG_VERSION"))?;
    dict.set_item("llvm", qjit::internals::jit::llvm_version())?;
    dict.set_item("arrow", arrow::ARROW_VERSION)?;
    dict.set_item("datafusion", qjit::datafusion::DATAFUSION_VERSION)?;
    Ok(dict.into_any())
}

/// qjit's engine for Python.
#[pymodule]
fn _qjit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("Error", m.py().get_type::<Error>())?;
    m.add_class::<PyEngine>()?;
    m.add_class::<Filter>()?;
    m.add_class::<Projection>()?;
    m.add_function(wrap_pyfunction!(query, m)?)?;
    m.add_function(wrap_pyfunction!(versions, m)?)?;
    Ok(())
}
