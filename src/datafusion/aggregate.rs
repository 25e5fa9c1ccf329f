//! [`QjitAggregateExec`]: a DataFusion partial aggregation, with the filters and projections
//! below it, fused into one qjit aggregate kernel.
//!
//! In: an `AggregateExec` in `Partial` mode over a chain of `ProjectionExec`s and `FilterExec`s
//! above some input (the *base*: a scan, a join, …). Out: one operator that reads the base's
//! batches and folds each, in one compiled loop, through the filters into the groups' states,
//! then emits the same partial-state batch the `AggregateExec` would: its group columns and each
//! aggregate's state fields, for DataFusion's final aggregation to merge. The intermediate
//! columns of the filters and projections are never built.
//!
//! It takes the aggregation only where qjit computes every part exactly as DataFusion does:
//!
//! - at most [`MAX_GROUPS`] groups by the base's statistics (no keys, or key columns with
//!   known distinct counts or integer ranges);
//! - group keys, aggregate arguments and filter predicates translate whole over the base's
//!   columns ([`super::translate::translate_over_columns`]); one grouping set; no `DISTINCT`,
//!   `FILTER`, `ORDER BY` in an aggregate, no limit on the groups, no dynamic filter;
//! - `count` of anything; `sum` and `avg` of decimals (both engines sum them exactly; integer
//!   sums wrap in DataFusion and fail in qjit, float sums depend on the order of the additions);
//!   `min` and `max` of integers, decimals, dates and strings (not floats: NaN);
//! - each aggregate's state fields are what DataFusion's accumulators use (`sum`: the sum, of
//!   precision `min(38, p + 10)`; `avg`: the count, then the sum, of precision 38 for inputs
//!   of up to 25 digits; the others: the value).
//!
//! A qjit decimal sum fails past 38 digits, where DataFusion's would wrap; no sum of fewer
//! than 10^20 rows of 18-digit values gets there.
//!
//! Only with `--engine jit` ([`EngineKind::Jit`]): the kernel compiles on first use, while the
//! query waits. With `auto`, a kernel compiled in the background was not ready before the
//! partitions started in any TPC-H query at SF 1 from Parquet, and its compile took a core
//! from them: whole `qjit query --datafusion` processes ran 7-9% slower on the fused
//! queries (Q6, Q11, Q14, Q15) on two cores. A kernel that does not compile leaves every
//! partition to DataFusion's aggregation. The kernel's state is not counted in DataFusion's
//! memory pool.

use std::fmt;
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::Int64Array;
use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, nullif};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, FieldRef, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::{Column, Literal as DfLiteral};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use super::expr::QjitExpr;
use super::translate::{operations, translate_over_columns};
use crate::engine::Engine;
use crate::exec::EngineKind;
use crate::ir::{AggFunc, AggregateCall, Expr, SqlType};
use crate::jit::{AggregateKernel, CodegenError};

/// A partial aggregation fused with its filters and projections into one qjit kernel.
#[derive(Debug)]
pub struct QjitAggregateExec {
    /// The operators it replaces, top (the `AggregateExec`) first, down to the base's parent.
    layers: Vec<Arc<dyn ExecutionPlan>>,
    /// The base: the operator whose batches the kernel reads.
    input: Arc<dyn ExecutionPlan>,
    spec: Arc<Spec>,
    engine: Arc<Engine>,
    /// The kernel, or why it did not compile; shared by copies of the operator.
    kernel: Arc<OnceLock<std::result::Result<Arc<AggregateKernel>, String>>>,
}

/// What the kernel computes, over the base's columns, and how its result becomes the
/// aggregation's partial state.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) filter: Option<Expr>,
    pub(crate) keys: Vec<Expr>,
    pub(crate) calls: Vec<AggregateCall>,
    /// For each field of the output after the keys, the call whose column it is, and whether
    /// it is an `avg`'s count (NULL where no value was counted, as DataFusion's is: its final
    /// aggregation takes a 0 for a group it has seen).
    pub(crate) state: Vec<(usize, bool)>,
    /// The output: the `AggregateExec`'s schema.
    schema: SchemaRef,
}

impl QjitAggregateExec {
    /// The fused operator for `agg` (the node `plan`), or `None` where qjit would not compute
    /// all of it exactly (see the module docs).
    pub(crate) fn fuse(
        plan: &Arc<dyn ExecutionPlan>,
        agg: &AggregateExec,
        engine: &Arc<Engine>,
    ) -> Option<QjitAggregateExec> {
        // Only with `--engine jit`: see the module docs.
        if engine.options().engine != EngineKind::Jit
            || *agg.mode() != AggregateMode::Partial
            || !agg.group_expr().is_single()
            || agg.limit_options().is_some()
            || !agg.dynamic_expressions_produced().is_empty()
            || agg.filter_expr().iter().any(Option::is_some)
        {
            return None;
        }
        let keys: Vec<Arc<dyn PhysicalExpr>> = agg
            .group_expr()
            .expr()
            .iter()
            .map(|(e, _)| e.clone())
            .collect();
        let mut args = vec![];
        for a in agg.aggr_expr() {
            if a.is_distinct() || !a.order_bys().is_empty() || a.expressions().len() != 1 {
                return None;
            }
            args.push(a.expressions()[0].clone());
        }
        // Down through the projections and filters: every expression over the base's columns.
        let mut exprs: Vec<Arc<dyn PhysicalExpr>> = keys.into_iter().chain(args).collect();
        let mut predicates: Vec<Arc<dyn PhysicalExpr>> = vec![];
        let mut layers: Vec<Arc<dyn ExecutionPlan>> = vec![plan.clone()];
        let mut node = agg.input().clone();
        loop {
            let any: &dyn ExecutionPlan = node.as_ref();
            let next = if let Some(p) = any.downcast_ref::<ProjectionExec>() {
                let items: Vec<Arc<dyn PhysicalExpr>> =
                    p.expr().iter().map(|i| original(&i.expr)).collect();
                let through = |e: &Arc<dyn PhysicalExpr>| substitute(e, |i| items.get(i).cloned());
                exprs = exprs.iter().map(through).collect::<Option<_>>()?;
                predicates = predicates.iter().map(through).collect::<Option<_>>()?;
                p.input().clone()
            } else if let Some(f) = any.downcast_ref::<FilterExec>() {
                if f.fetch().is_some() {
                    break;
                }
                if let Some(projection) = f.projection() {
                    let schema = f.input().schema();
                    let column = |i: usize| {
                        let index = *projection.get(i)?;
                        let c: Arc<dyn PhysicalExpr> =
                            Arc::new(Column::new(schema.field(index).name(), index));
                        Some(c)
                    };
                    exprs = exprs
                        .iter()
                        .map(|e| substitute(e, column))
                        .collect::<Option<_>>()?;
                    predicates = predicates
                        .iter()
                        .map(|e| substitute(e, column))
                        .collect::<Option<_>>()?;
                }
                predicates.push(original(f.predicate()));
                f.input().clone()
            } else {
                break;
            };
            layers.push(node.clone());
            node = next;
        }
        let base = node.schema();
        let translate = |e: &Arc<dyn PhysicalExpr>| translate_over_columns(e, &base);
        let n_keys = agg.group_expr().expr().len();
        let keys: Vec<Expr> = exprs[..n_keys]
            .iter()
            .map(translate)
            .collect::<Option<_>>()?;
        // Lower filters first: DataFusion evaluates a filter only on the rows the filters below
        // it kept (TRUE), so a lower predicate guards an upper one as in
        // `CASE WHEN lower THEN upper ELSE FALSE END`, which evaluates `upper` only there.
        let mut filter: Option<Expr> = None;
        for p in predicates.iter().rev() {
            let p = translate(p)?;
            if p.ty() != SqlType::Boolean {
                return None;
            }
            filter = Some(match filter {
                None => p,
                Some(lower) => {
                    let otherwise = Expr::boolean(false);
                    Expr::case(vec![(lower, p)], Some(otherwise), SqlType::Boolean).ok()?
                }
            });
        }
        let schema = agg.schema();
        let mut calls = vec![];
        let mut state = vec![];
        for (a, arg) in agg.aggr_expr().iter().zip(&exprs[n_keys..]) {
            let fields = a.state_fields().ok()?;
            let literal = arg.downcast_ref::<DfLiteral>();
            let plan = match literal {
                Some(l) if !l.value().is_null() => None,
                _ => Some(translate(arg)?),
            };
            let arg_ty = plan.as_ref().map(Expr::ty);
            let field_types: Vec<&DataType> = fields.iter().map(|f| f.data_type()).collect();
            let decimal = arg_ty.is_some_and(|t| t.is_decimal());
            let sum_state = |t: &DataType| {
                matches!((arg_ty, t), (Some(SqlType::Decimal { precision, scale }), DataType::Decimal128(p, s))
                    if *s == scale as i8 && u32::from(*p) == (u32::from(precision) + 10).min(38))
            };
            // DataFusion's `avg` sums a DECIMAL(p, s) of up to 25 digits in a DECIMAL(38, s).
            let avg_state = |t: &DataType| {
                matches!((arg_ty, t), (Some(SqlType::Decimal { precision, scale }), DataType::Decimal128(38, s))
                    if *s == scale as i8 && precision <= 25)
            };
            let wanted: Vec<AggFunc> = match (a.fun().name(), field_types.as_slice()) {
                ("count", [DataType::Int64]) => match plan {
                    None => vec![AggFunc::CountStar],
                    Some(_) => vec![AggFunc::Count],
                },
                ("sum", [t]) if decimal && sum_state(t) => vec![AggFunc::Sum],
                ("avg", [DataType::UInt64, t]) if decimal && avg_state(t) => {
                    vec![AggFunc::Count, AggFunc::Sum]
                }
                ("min" | "max", [t]) => {
                    let ty = arg_ty?;
                    let comparable = ty.is_integer()
                        || ty.is_decimal()
                        || matches!(ty, SqlType::Date | SqlType::Utf8);
                    if !comparable || (ty != SqlType::Utf8 && ty.to_arrow() != **t) {
                        return None;
                    }
                    match a.fun().name() {
                        "min" => vec![AggFunc::Min],
                        _ => vec![AggFunc::Max],
                    }
                }
                _ => return None,
            };
            let avg = a.fun().name() == "avg";
            for func in wanted {
                let arg = match func {
                    AggFunc::CountStar => None,
                    _ => Some(plan.clone()?),
                };
                state.push((calls.len(), avg && func == AggFunc::Count));
                calls.push(AggregateCall::new(func, arg).ok()?);
            }
        }
        if state.len() + n_keys != schema.fields().len() {
            return None;
        }
        // Only where the kernel fuses work of its own (a filter, or arguments or keys that
        // compute): DataFusion's grouping of bare columns is as fast as qjit's, and faster
        // where the groups are many (it stops aggregating early when they are).
        if !few_groups(&node, &exprs[..n_keys]) {
            return None;
        }
        let computes = |e: &Expr| operations(e) > 0;
        if filter.is_none()
            && !keys.iter().any(computes)
            && !calls.iter().any(|c| c.arg.as_ref().is_some_and(computes))
        {
            return None;
        }
        Some(QjitAggregateExec {
            layers,
            input: node,
            spec: Arc::new(Spec {
                filter,
                keys,
                calls,
                state,
                schema,
            }),
            engine: engine.clone(),
            kernel: Arc::new(OnceLock::new()),
        })
    }

    /// The `AggregateExec` it replaces (over the same base), which runs where the kernel
    /// is not ready or did not compile.
    fn original(&self) -> &Arc<dyn ExecutionPlan> {
        &self.layers[0]
    }

    /// What the kernel computes.
    #[cfg(feature = "ballista")]
    pub(crate) fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The operators it replaces, over an `EmptyExec` of the base's schema in place of the
    /// base, and how many they are: a fused aggregation travels with them (for its
    /// properties, and to run them where the kernel does not compile), its base beside them.
    #[cfg(feature = "ballista")]
    pub(crate) fn template(&self) -> Result<(Arc<dyn ExecutionPlan>, usize)> {
        let placeholder = Arc::new(datafusion::physical_plan::empty::EmptyExec::new(
            self.input.schema(),
        ));
        let layers = over(&self.layers, placeholder)?;
        Ok((layers[0].clone(), layers.len()))
    }

    /// The fused aggregation of `filter`, `keys`, `calls` and `state` (as
    /// [`QjitAggregateExec::spec`] gives them) over `input`, replacing the `layers` operators
    /// at the top of `template` (as [`QjitAggregateExec::template`] gives it), as a plan
    /// arrives from elsewhere (`qjit::ballista`'s codec). An error if the parts do not fit
    /// together: a column the input does not have or of another type, a state field of no
    /// call, operators that are not a partial aggregation over `layers - 1` projections and
    /// filters.
    #[cfg(feature = "ballista")]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        template: Arc<dyn ExecutionPlan>,
        layers: usize,
        input: Arc<dyn ExecutionPlan>,
        filter: Option<Expr>,
        keys: Vec<Expr>,
        calls: Vec<AggregateCall>,
        state: Vec<(usize, bool)>,
        engine: Arc<Engine>,
    ) -> std::result::Result<QjitAggregateExec, String> {
        let mut chain = vec![template];
        while chain.len() <= layers {
            let last = &chain[chain.len() - 1];
            let [child] = last.children()[..] else {
                return Err(format!("its operator {} has no single input", last.name()));
            };
            chain.push(child.clone());
        }
        // The loop above pushed `layers + 1` operators, the last the base's placeholder.
        let Some(placeholder) = chain.pop() else {
            return Err("it replaces no operators".to_string());
        };
        let top: &dyn ExecutionPlan = chain[0].as_ref();
        let partial = top
            .downcast_ref::<AggregateExec>()
            .is_some_and(|a| *a.mode() == AggregateMode::Partial);
        let fusable = |p: &Arc<dyn ExecutionPlan>| {
            let any: &dyn ExecutionPlan = p.as_ref();
            any.is::<ProjectionExec>() || any.is::<FilterExec>()
        };
        if layers == 0 || !partial || !chain[1..].iter().all(fusable) {
            let what = "its operators are not a partial aggregation over projections and filters";
            return Err(what.to_string());
        }
        let schema = input.schema();
        if placeholder.schema().fields().len() != schema.fields().len() {
            return Err(format!(
                "its operators read {} columns, its input has {}",
                placeholder.schema().fields().len(),
                schema.fields().len()
            ));
        }
        let mut wrong = None;
        let exprs = filter
            .iter()
            .chain(&keys)
            .chain(calls.iter().filter_map(|c| c.arg.as_ref()));
        for e in exprs {
            e.walk(&mut |e| {
                if let Expr::Column(c) = e {
                    match schema.fields().get(c.index) {
                        Some(f) if *f.data_type() == c.data_type => {}
                        Some(f) => {
                            wrong = Some(format!(
                                "its column {} is {}, its input's is {}",
                                c.index,
                                c.data_type,
                                f.data_type()
                            ))
                        }
                        None => {
                            wrong = Some(format!(
                                "it reads column {} of an input of {}",
                                c.index,
                                schema.fields().len()
                            ))
                        }
                    }
                }
            });
        }
        if let Some(why) = wrong {
            return Err(why);
        }
        let out = chain[0].schema();
        if keys.len() + state.len() != out.fields().len()
            || state.iter().any(|&(call, _)| call >= calls.len())
        {
            return Err("its state fields do not match its calls".to_string());
        }
        let layers = over(&chain, input.clone()).map_err(|e| e.to_string())?;
        Ok(QjitAggregateExec {
            layers,
            input,
            spec: Arc::new(Spec {
                filter,
                keys,
                calls,
                state,
                schema: out,
            }),
            engine,
            kernel: Arc::new(OnceLock::new()),
        })
    }

    /// The compiled kernel, compiling it now if no one has; `Err` says why it did not compile.
    pub fn kernel(&self) -> std::result::Result<&Arc<AggregateKernel>, &str> {
        self.kernel
            .get_or_init(|| {
                let options = self.engine.options();
                // Without the IR: a kernel that keeps it is not stored in the cache on disk.
                let optimize = crate::jit::Optimize {
                    level: options.opt_level,
                    keep_ir: false,
                };
                let start = std::time::Instant::now();
                let kernel = crate::jit::aggregate_kernel(
                    self.spec.filter.as_ref(),
                    &self.spec.keys,
                    &self.spec.calls,
                    &self.input.schema(),
                    optimize,
                    options.kernel_cache.as_deref(),
                )
                .map(|(kernel, _)| kernel)
                .map_err(reason);
                // On a cluster, each executor says what it compiled (as for `QjitExpr`s).
                #[cfg(feature = "ballista")]
                match &kernel {
                    Ok(_) => log::info!(
                        target: "qjit",
                        "compiled {} in {:.1} ms",
                        Shown(self),
                        start.elapsed().as_secs_f64() * 1e3
                    ),
                    Err(e) => log::info!(target: "qjit", "{} does not compile: {e}", Shown(self)),
                }
                let _ = start;
                kernel
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The LLVM IR of the kernel after optimization, compiled afresh (for `--explain`).
    pub fn kernel_ir(&self) -> std::result::Result<String, String> {
        let optimize = crate::jit::Optimize {
            level: self.engine.options().opt_level,
            keep_ir: true,
        };
        AggregateKernel::compile(
            self.spec.filter.as_ref(),
            &self.spec.keys,
            &self.spec.calls,
            optimize,
        )
        .map(|k| k.ir_after().to_string())
        .map_err(reason)
    }

    fn copy(&self) -> QjitAggregateExec {
        QjitAggregateExec {
            layers: self.layers.clone(),
            input: self.input.clone(),
            spec: self.spec.clone(),
            engine: self.engine.clone(),
            kernel: self.kernel.clone(),
        }
    }

    /// The kernel's result (keys, then each call) as the aggregation's partial state.
    fn state_batch(spec: &Spec, out: RecordBatch) -> Result<RecordBatch> {
        let n_keys = spec.keys.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(spec.schema.fields().len());
        for (i, field) in spec.schema.fields().iter().enumerate() {
            let column = match i.checked_sub(n_keys) {
                None => out.column(i).clone(),
                Some(s) => {
                    let (call, avg_count) = spec.state[s];
                    let column = out.column(n_keys + call).clone();
                    match avg_count {
                        true => {
                            let zero = Int64Array::new_scalar(0);
                            nullif(&column, &eq(&column, &zero)?)?
                        }
                        false => column,
                    }
                }
            };
            columns.push(as_state(column, field)?);
        }
        Ok(RecordBatch::try_new(spec.schema.clone(), columns)?)
    }
}

/// The most groups a fused aggregation may expect: qjit's table of groups is fast while it
/// stays in the caches; past that, DataFusion's grouping (which stops aggregating early when
/// nearly every row is a group of its own) is the better one (TPC-H Q20's 800,000
/// `(l_partkey, l_suppkey)` groups ran 15% slower fused, Q15's 10,000 `l_suppkey` groups 25%
/// faster).
const MAX_GROUPS: u128 = 100_000;

/// Whether the grouping by `keys` (over the output of `base`) has at most [`MAX_GROUPS`]
/// groups by `base`'s statistics: each key a column with a known number of distinct values,
/// or an integer column with a known range. No keys: one group.
fn few_groups(base: &Arc<dyn ExecutionPlan>, keys: &[Arc<dyn PhysicalExpr>]) -> bool {
    if keys.is_empty() {
        return true;
    }
    let context = datafusion::physical_plan::statistics::StatisticsContext::new();
    let args = datafusion::physical_plan::statistics::StatisticsArgs::new();
    let Ok(stats) = context.compute(base.as_ref(), &args) else {
        return false;
    };
    let mut groups: u128 = 1;
    for key in keys {
        let Some(c) = key.downcast_ref::<Column>() else {
            return false;
        };
        let Some(column) = stats.column_statistics.get(c.index()) else {
            return false;
        };
        let distinct = match column.distinct_count.get_value() {
            Some(&n) => n as u128,
            None => {
                let bound = |v: &datafusion::common::ScalarValue| {
                    v.cast_to(&DataType::Int64).ok().and_then(|v| match v {
                        datafusion::common::ScalarValue::Int64(Some(n)) => Some(n),
                        _ => None,
                    })
                };
                let (Some(min), Some(max)) = (
                    column.min_value.get_value().and_then(bound),
                    column.max_value.get_value().and_then(bound),
                ) else {
                    return false;
                };
                (i128::from(max) - i128::from(min) + 1).max(0) as u128
            }
        };
        // A NULL key is a group of its own.
        groups = groups.saturating_mul(distinct + 1);
        if groups > MAX_GROUPS {
            return false;
        }
    }
    true
}

/// `column` in the type of `field`: a decimal sum keeps its values in the state's precision
/// (as DataFusion's accumulators do, without a check); the rest is cast (a count to `UInt64`,
/// strings to DataFusion's layout).
fn as_state(column: ArrayRef, field: &FieldRef) -> Result<ArrayRef> {
    match (column.data_type(), field.data_type()) {
        (a, b) if a == b => Ok(column),
        (DataType::Decimal128(..), DataType::Decimal128(p, s)) => Ok(Arc::new(
            column
                .as_primitive::<Decimal128Type>()
                .clone()
                .with_precision_and_scale(*p, *s)?,
        )),
        (_, to) => Ok(cast(&column, to)?),
    }
}

/// The chain of operators `layers` (each the input of the one before) over `input` instead of
/// their base.
fn over(
    layers: &[Arc<dyn ExecutionPlan>],
    input: Arc<dyn ExecutionPlan>,
) -> Result<Vec<Arc<dyn ExecutionPlan>>> {
    let mut layers = layers.to_vec();
    let mut below = input;
    for layer in layers.iter_mut().rev() {
        let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
        *layer = Arc::clone(layer).replace_children(vec![below], recompute)?;
        below = layer.clone();
    }
    Ok(layers)
}

/// Why a kernel did not compile.
fn reason(e: CodegenError) -> String {
    match e {
        CodegenError::NotCompiled(why) => why,
        CodegenError::Failed(e) => e.to_string(),
    }
}

/// The expression a [`QjitExpr`] replaced, or `e`.
fn original(e: &Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
    match e.downcast_ref::<QjitExpr>() {
        Some(q) => q.original().clone(),
        None => e.clone(),
    }
}

/// `e` with each column `i` replaced by `by(i)`; `None` if some column has no replacement.
fn substitute(
    e: &Arc<dyn PhysicalExpr>,
    by: impl Fn(usize) -> Option<Arc<dyn PhysicalExpr>>,
) -> Option<Arc<dyn PhysicalExpr>> {
    let mut missing = false;
    let out = original(e)
        .transform_down(|node| {
            Ok(match node.downcast_ref::<Column>() {
                // The replacement is over the layer below: not substituted again.
                Some(c) => match by(c.index()) {
                    Some(r) => Transformed::new(r, true, TreeNodeRecursion::Jump),
                    None => {
                        missing = true;
                        Transformed::no(node)
                    }
                },
                None => Transformed::no(node),
            })
        })
        .ok()?
        .data;
    (!missing).then_some(out)
}

/// A [`QjitAggregateExec`] as `EXPLAIN` shows it.
#[cfg(feature = "ballista")]
struct Shown<'a>(&'a QjitAggregateExec);

#[cfg(feature = "ballista")]
impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.fmt_as(DisplayFormatType::Default, f)
    }
}

impl DisplayAs for QjitAggregateExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let list = |es: &mut dyn Iterator<Item = String>| es.collect::<Vec<_>>().join(", ");
        write!(
            f,
            "QjitAggregateExec: mode=Partial, gby=[{}], aggr=[{}]",
            list(&mut self.spec.keys.iter().map(|k| k.to_string())),
            list(&mut self.spec.calls.iter().map(|c| c.to_string())),
        )?;
        if let Some(filter) = &self.spec.filter {
            write!(f, ", filter={filter}")?;
        }
        write!(f, ", fused={}", self.layers.len())
    }
}

impl ExecutionPlan for QjitAggregateExec {
    fn name(&self) -> &str {
        "QjitAggregateExec"
    }

    fn apply_expressions(
        &self,
        _: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        // Its expressions are qjit's, in the kernel.
        Ok(TreeNodeRecursion::Continue)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.original().properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|_| {
            DataFusionError::Internal("QjitAggregateExec takes one input".to_string())
        })?;
        // The replaced operators over the new input.
        let layers = over(&self.layers, input.clone())?;
        if input.schema() != self.input.schema() {
            // The kernel reads the old input's columns: DataFusion's operators take over.
            return Ok(layers[0].clone());
        }
        Ok(Arc::new(QjitAggregateExec {
            layers,
            input,
            ..self.copy()
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let kernel = match self.kernel() {
            Ok(kernel) => kernel.clone(),
            Err(_) => return self.original().execute(partition, context),
        };
        let mut input = self.input.execute(partition, context)?;
        let spec = self.spec.clone();
        let qjit = |e: crate::Error| DataFusionError::External(Box::new(e));
        let folded = futures::stream::once(async move {
            let mut state = kernel.new_state();
            while let Some(batch) = input.next().await {
                kernel.update(&batch?, &mut state).map_err(qjit)?;
            }
            // DataFusion's memory pool does not count the state (see the module docs).
            let out = kernel.finish(state, &mut |_| Ok(())).map_err(qjit)?;
            QjitAggregateExec::state_batch(&spec, out)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.spec.schema.clone(),
            folded,
        )))
    }
}
