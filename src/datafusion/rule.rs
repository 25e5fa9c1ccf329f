//! [`QjitRule`]: the physical optimizer rule that puts qjit kernels into a DataFusion plan.
//!
//! In: an optimized physical plan. Out: the same plan with, first, each partial aggregation
//! that qjit computes exactly fused with the filters and projections below it into a
//! [`QjitAggregateExec`](super::QjitAggregateExec) (see [`super::aggregate`]); then the
//! expressions of the remaining `FilterExec` predicates, `ProjectionExec` items and the
//! arguments of aggregates (in the `AggregateExec`s that read input rows) replaced by
//! [`QjitExpr`]s wherever qjit computes them exactly (see [`super::translate`]); nothing else
//! changes.
//!
//! - A filter's predicate is split into its `AND`ed conjuncts, and each is replaced on its own,
//!   so DataFusion still sees the conjuncts (for statistics, selectivity, pushdown).
//! - An expression qjit does not take as a whole keeps its DataFusion root, and its children
//!   are tried in turn: the largest subtrees qjit takes become kernels.
//! - Bare columns and literals stay as they are: a kernel would only copy them.
//! - A Parquet scan keeps DataFusion's plan of it, and the predicates and projections
//!   DataFusion pushed into it (its pruning predicate, its row filter) stay DataFusion's own,
//!   since the scan uses them for statistics as well as for rows; its local files are decoded
//!   by qjit's decoder ([`QjitParquetSource`](super::scan::QjitParquetSource)), unless the rule
//!   is built [`without_scans`](QjitRule::without_scans).
//! - The rule is idempotent: a [`QjitExpr`] is never translated again.
//!
//! The rule runs after DataFusion's own rules (it is appended to them by [`super::with_qjit`]),
//! so it sees the final shape of the plan: projections already pushed down, filters already
//! merged.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_expr::utils::{conjunction, split_conjunction};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::physical_plan::ExecutionPlan;

#[cfg(feature = "jit")]
use super::aggregate::QjitAggregateExec;
use super::expr::QjitExpr;
use super::scan::QjitParquetSource;
use super::translate::translate;
use crate::engine::Engine;
use crate::exec::EngineKind;

/// Replaces DataFusion expressions with qjit kernels; see the module docs.
#[derive(Debug)]
pub struct QjitRule {
    engine: Arc<Engine>,
    /// Whether Parquet scans get qjit's decoder.
    scans: bool,
}

impl QjitRule {
    /// A rule whose kernels compile with `engine`'s options (its engine kind, optimization
    /// level and kernel cache). With [`EngineKind::Interp`] the rule changes nothing:
    /// DataFusion evaluates every expression itself.
    pub fn new(engine: Engine) -> QjitRule {
        QjitRule {
            engine: Arc::new(engine),
            scans: true,
        }
    }

    /// The rule without qjit's decoder in Parquet scans: for a plan that must travel in
    /// DataFusion's protobuf encoding (a Ballista scheduler's), which knows only DataFusion's
    /// file sources.
    pub fn without_scans(self) -> QjitRule {
        QjitRule {
            scans: false,
            ..self
        }
    }

    /// `expr` (over batches of `schema`) with the largest subtrees qjit computes exactly
    /// replaced by kernels.
    fn replace(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        schema: &datafusion::arrow::datatypes::Schema,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if expr.is::<QjitExpr>() {
            return Ok(expr.clone());
        }
        if let Some(t) = translate(expr, schema) {
            return Ok(Arc::new(QjitExpr::new(
                expr.clone(),
                t,
                self.engine.clone(),
            )));
        }
        let children = expr.children();
        if children.is_empty() {
            return Ok(expr.clone());
        }
        let replaced = children
            .iter()
            .map(|c| self.replace(c, schema))
            .collect::<Result<Vec<_>>>()?;
        let same = replaced
            .iter()
            .zip(&children)
            .all(|(r, c)| Arc::ptr_eq(r, c));
        if same {
            return Ok(expr.clone());
        }
        // DataFusion derives some properties from the shape of the children (a `CASE` whose
        // condition tests a column is not NULL where that column is): where kernels as children
        // would change the node's field, the node keeps its own children.
        let rebuilt = Arc::clone(expr).with_new_children(replaced)?;
        let (new, old) = (rebuilt.return_field(schema)?, expr.return_field(schema)?);
        let same = new.data_type() == old.data_type() && new.is_nullable() == old.is_nullable();
        Ok(if same { rebuilt } else { expr.clone() })
    }

    fn filter(&self, f: &FilterExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let schema = f.input().schema();
        let conjuncts = split_conjunction(f.predicate());
        let replaced = conjuncts
            .iter()
            .map(|c| self.replace(c, &schema))
            .collect::<Result<Vec<_>>>()?;
        if replaced
            .iter()
            .zip(&conjuncts)
            .all(|(r, c)| Arc::ptr_eq(r, c))
        {
            return Ok(None);
        }
        let predicate = conjunction(replaced);
        Ok(Some(Arc::new(
            FilterExecBuilder::from(f)
                .with_predicate(predicate)
                .build()?,
        )))
    }

    fn projection(&self, p: &ProjectionExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let schema = p.input().schema();
        let mut changed = false;
        let exprs = p
            .expr()
            .iter()
            .map(|item| {
                let expr = self.replace(&item.expr, &schema)?;
                changed |= !Arc::ptr_eq(&expr, &item.expr);
                Ok(ProjectionExpr {
                    expr,
                    alias: item.alias.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !changed {
            return Ok(None);
        }
        Ok(Some(Arc::new(ProjectionExec::try_new(
            exprs,
            p.input().clone(),
        )?)))
    }
}

impl QjitRule {
    /// The argument expressions of the aggregates that read the input rows (partial and
    /// single aggregations; a final one merges states).
    fn aggregate(&self, a: &AggregateExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if !matches!(
            a.mode(),
            AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
        ) {
            return Ok(None);
        }
        let schema = a.input().schema();
        let mut changed = false;
        let mut aggregates = Vec::with_capacity(a.aggr_expr().len());
        for aggregate in a.aggr_expr() {
            let args = aggregate.expressions();
            let replaced = args
                .iter()
                .map(|e| self.replace(e, &schema))
                .collect::<Result<Vec<_>>>()?;
            let order_by = aggregate
                .order_bys()
                .iter()
                .map(|s| s.expr.clone())
                .collect();
            let same = replaced.iter().zip(&args).all(|(r, e)| Arc::ptr_eq(r, e));
            match (same, aggregate.with_new_expressions(replaced, order_by)) {
                (false, Some(new)) => {
                    changed = true;
                    aggregates.push(Arc::new(new));
                }
                _ => aggregates.push(aggregate.clone()),
            }
        }
        Ok(changed.then(|| Arc::new(a.with_new_aggr_exprs(aggregates)) as Arc<dyn ExecutionPlan>))
    }
}

impl PhysicalOptimizerRule for QjitRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.engine.options().engine == EngineKind::Interp {
            return Ok(plan);
        }
        // First, partial aggregations fused with the filters and projections below them; then
        // the expressions of the operators left.
        #[cfg(feature = "jit")]
        let plan = plan
            .transform_up(|node| {
                let any: &dyn ExecutionPlan = node.as_ref();
                let fused = any
                    .downcast_ref::<AggregateExec>()
                    .and_then(|a| QjitAggregateExec::fuse(&node, a, &self.engine));
                Ok(match fused {
                    Some(f) => Transformed::yes(Arc::new(f) as Arc<dyn ExecutionPlan>),
                    None => Transformed::no(node),
                })
            })?
            .data;
        plan.transform_up(|node| {
            let any: &dyn ExecutionPlan = node.as_ref();
            let replaced = if self.scans && any.is::<DataSourceExec>() {
                QjitParquetSource::replace(&node)
            } else if let Some(f) = any.downcast_ref::<FilterExec>() {
                self.filter(f)?
            } else if let Some(p) = any.downcast_ref::<ProjectionExec>() {
                self.projection(p)?
            } else if let Some(a) = any.downcast_ref::<AggregateExec>() {
                self.aggregate(a)?
            } else {
                None
            };
            Ok(match replaced {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "qjit"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
