//! [`QjitExpr`]: a DataFusion physical expression that a qjit kernel evaluates.
//!
//! In: a batch of the operator's input. The expression's inputs (columns, and subtrees qjit does
//! not take; see [`super::translate`]) are evaluated by DataFusion, handed to the kernel as the
//! columns of one batch, and the kernel's one output column is the result, of the type
//! DataFusion gives the replaced expression. The kernel is compiled on first use (so a plan
//! that is only planned, or sent elsewhere, compiles nothing), once for all partitions and
//! copies of the expression: with `--engine jit` before the first batch, with `auto` in the
//! background while DataFusion evaluates the batches that come first. If it cannot be compiled,
//! the replaced expression is evaluated as DataFusion would have.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

use super::translate::Translation;
use crate::engine::{Engine, Projection};
use crate::exec::tier::InFlight;
use crate::exec::EngineKind;
use crate::ir::Expr;

/// A DataFusion expression evaluated by a compiled qjit kernel. Its children are the inputs
/// the kernel reads, so DataFusion's rewrites of column references still reach them.
#[derive(Clone, Debug)]
pub struct QjitExpr {
    /// The DataFusion expression it stands for (with the current inputs): its name, its SQL,
    /// its return field, and how to evaluate it if the kernel does not compile.
    original: Arc<dyn PhysicalExpr>,
    plan: Arc<Expr>,
    inputs: Vec<Arc<dyn PhysicalExpr>>,
    /// The kernel's input batch: a field per input.
    input_schema: SchemaRef,
    engine: Arc<Engine>,
    /// The kernel, or why it did not compile; shared by copies with other inputs.
    kernel: Arc<OnceLock<std::result::Result<Projection, String>>>,
    /// Whether its background compile has been started (shared as `kernel` is).
    compile_started: Arc<AtomicBool>,
}

/// Runs `job` (a kernel compile) on qjit's compile thread, one job after another, counted in
/// [`crate::exec::tier::compiles_in_flight`] until it ends.
pub(super) fn compile_in_background(job: Box<dyn FnOnce() + Send>) {
    type Job = Box<dyn FnOnce() + Send>;
    static QUEUE: OnceLock<Mutex<Option<mpsc::Sender<Job>>>> = OnceLock::new();
    let queue = QUEUE.get_or_init(|| {
        let (send, receive) = mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("qjit-compile".into())
            .spawn(move || receive.into_iter().for_each(|job| job()));
        Mutex::new(worker.ok().map(|_| send))
    });
    let guard = InFlight::new();
    let job: Job = Box::new(move || {
        job();
        drop(guard);
    });
    let rejected = match queue.lock().ok().as_deref().and_then(Option::as_ref) {
        Some(send) => send.send(job).err().map(|e| e.0),
        None => Some(job),
    };
    // No compile thread: compile here.
    if let Some(job) = rejected {
        job();
    }
}

impl QjitExpr {
    /// The kernel expression for `original`, translated as `translation`.
    pub(crate) fn new(
        original: Arc<dyn PhysicalExpr>,
        translation: Translation,
        engine: Arc<Engine>,
    ) -> QjitExpr {
        let mut fields = vec![None; translation.inputs.len()];
        translation.expr.walk(&mut |e| {
            if let Expr::Column(c) = e {
                if let Some(f) = fields.get_mut(c.index) {
                    *f = Some(Field::new(
                        format!("c{}", c.index),
                        c.data_type.clone(),
                        true,
                    ));
                }
            }
        });
        let fields: Vec<Field> = fields
            .into_iter()
            .enumerate()
            .map(|(i, f)| f.unwrap_or_else(|| Field::new(format!("c{i}"), DataType::Null, true)))
            .collect();
        QjitExpr {
            original,
            plan: Arc::new(translation.expr),
            inputs: translation.inputs,
            input_schema: Arc::new(Schema::new(fields)),
            engine,
            kernel: Arc::new(OnceLock::new()),
            compile_started: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The kernel expression for `original` from its parts, as a plan arrives from elsewhere
    /// (`qjit::ballista`'s codec): `plan` reads `inputs` as its columns. An error if `plan`
    /// reads a column that `inputs` does not have.
    #[cfg(feature = "ballista")]
    pub(crate) fn from_parts(
        original: Arc<dyn PhysicalExpr>,
        plan: Expr,
        inputs: Vec<Arc<dyn PhysicalExpr>>,
        engine: Arc<Engine>,
    ) -> Result<QjitExpr> {
        let mut beyond = None;
        plan.walk(&mut |e| {
            if let Expr::Column(c) = e {
                if c.index >= inputs.len() {
                    beyond = Some(c.index);
                }
            }
        });
        if let Some(index) = beyond {
            return Err(DataFusionError::Execution(format!(
                "cannot decode a qjit expression: its plan reads input {index} of {}",
                inputs.len()
            )));
        }
        let translation = Translation { expr: plan, inputs };
        Ok(QjitExpr::new(original, translation, engine))
    }

    /// qjit's plan of the expression, over the inputs as columns `c0`, `c1`, ….
    pub fn plan(&self) -> &Expr {
        &self.plan
    }

    /// The DataFusion expression this one replaces.
    pub fn original(&self) -> &Arc<dyn PhysicalExpr> {
        &self.original
    }

    /// The kernel to evaluate with now, if any. With `--engine jit` it is compiled on first use,
    /// while the query waits; with `auto`, on first use it starts compiling in the background
    /// (on qjit's one compile thread, so that the query keeps the other cores) and DataFusion
    /// evaluates the expression until the kernel is ready, as qjit's own engine does.
    fn ready_kernel(&self) -> Option<&Projection> {
        if let Some(done) = self.kernel.get() {
            return done.as_ref().ok();
        }
        if self.engine.options().engine == EngineKind::Jit {
            return self.kernel().ok();
        }
        if !self.compile_started.swap(true, Ordering::SeqCst) {
            let this = self.clone();
            compile_in_background(Box::new(move || {
                let _ = this.kernel();
            }));
        }
        None
    }

    /// The LLVM IR of the kernel after optimization, compiled afresh (for `--explain`).
    pub fn kernel_ir(&self) -> crate::Result<String> {
        let ir = self.engine.typed_projection_ir(
            &self.input_schema,
            vec![("value".to_string(), (*self.plan).clone())],
        )?;
        Ok(ir.join("\n"))
    }

    /// The compiled kernel, compiling it now if no one has; `Err` says why it did not compile.
    pub fn kernel(&self) -> std::result::Result<&Projection, &str> {
        self.kernel
            .get_or_init(|| {
                let start = std::time::Instant::now();
                let kernel = self
                    .engine
                    .compile_typed_projection(
                        &self.input_schema,
                        vec![("value".to_string(), (*self.plan).clone())],
                    )
                    .map_err(|e| e.to_string());
                #[cfg(feature = "ballista")]
                match &kernel {
                    Ok(_) => log::info!(
                        target: "qjit",
                        "compiled {self} in {:.1} ms",
                        start.elapsed().as_secs_f64() * 1e3
                    ),
                    Err(e) => log::info!(target: "qjit", "{self} does not compile: {e}"),
                }
                let _ = start;
                kernel
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

impl fmt::Display for QjitExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "qjit({})", self.original)
    }
}

impl PartialEq for QjitExpr {
    fn eq(&self, other: &QjitExpr) -> bool {
        self.original.as_ref() == other.original.as_ref()
    }
}

impl Eq for QjitExpr {}

impl Hash for QjitExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "qjit".hash(state);
        self.original.hash(state);
    }
}

impl PhysicalExpr for QjitExpr {
    // The replaced expression's type, nullability and field, as DataFusion computes them (its
    // operators check that a rewritten plan keeps its schema).
    fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
        self.original.data_type(input_schema)
    }

    fn nullable(&self, input_schema: &Schema) -> Result<bool> {
        self.original.nullable(input_schema)
    }

    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        self.original.return_field(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let Some(kernel) = self.ready_kernel() else {
            return self.original.evaluate(batch);
        };
        let rows = batch.num_rows();
        let columns = self
            .inputs
            .iter()
            .map(|i| i.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let input = RecordBatch::try_new_with_options(
            self.input_schema.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let out = kernel
            .evaluate(&input)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let value = out.column(0);
        let want = self.original.data_type(batch.schema_ref())?;
        if value.data_type() == &want {
            Ok(ColumnarValue::Array(value.clone()))
        } else {
            // Strings: the kernel's `Utf8` in DataFusion's layout.
            Ok(ColumnarValue::Array(cast(value, &want)?))
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.inputs.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != self.inputs.len() {
            return Err(DataFusionError::Internal(format!(
                "qjit expression {self} takes {} inputs, given {}",
                self.inputs.len(),
                children.len()
            )));
        }
        // The replaced expression with the same inputs replaced.
        let original = Arc::clone(&self.original)
            .transform_down(|e| {
                Ok(
                    match self.inputs.iter().position(|i| i.as_ref() == e.as_ref()) {
                        Some(k) => {
                            Transformed::new(children[k].clone(), true, TreeNodeRecursion::Jump)
                        }
                        None => Transformed::no(e),
                    },
                )
            })?
            .data;
        Ok(Arc::new(QjitExpr {
            original,
            plan: self.plan.clone(),
            inputs: children,
            input_schema: self.input_schema.clone(),
            engine: self.engine.clone(),
            kernel: self.kernel.clone(),
            compile_started: self.compile_started.clone(),
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.original.fmt_sql(f)
    }
}
