//! qjit inside DataFusion: compiled expressions in DataFusion's physical plans.
//!
//! DataFusion evaluates an expression one arrow kernel per operator, materializing every
//! intermediate column; qjit compiles the whole expression into one loop. This module puts
//! qjit's kernels where DataFusion evaluates expressions, its aggregate kernels in place of
//! partial aggregations with their filters and projections, and its Parquet decoder in
//! DataFusion's Parquet scans of local files; it leaves everything else (planning, joins,
//! final aggregation) to DataFusion:
//!
//! ```text
//! SQL ─DataFusion─▶ physical plan ─QjitRule─▶ plan with QjitAggregateExecs and QjitExprs
//!                                    │            ─DataFusion─▶ batches
//!                                    └─ translate: DataFusion expression → qjit plan
//! ```
//!
//! - [`translate`]: which DataFusion expressions qjit computes exactly, and their qjit plans;
//! - [`QjitExpr`]: a `PhysicalExpr` that evaluates a compiled kernel;
//! - [`QjitAggregateExec`] (`aggregate`, with the `jit` feature): a partial aggregation fused
//!   with the filters and projections below it into one aggregate kernel;
//! - [`QjitParquetSource`] (`scan`): a Parquet scan as DataFusion plans it, whose local files
//!   qjit's decoder reads;
//! - [`QjitRule`]: the `PhysicalOptimizerRule` that puts them in the plan.
//!
//! An embedder adds the rule with one call:
//!
//! ```
//! use datafusion::execution::SessionStateBuilder;
//! use datafusion::prelude::SessionContext;
//!
//! let state = qjit::datafusion::with_qjit(SessionStateBuilder::new().with_default_features(), qjit::Engine::new())
//!     .build();
//! let ctx = SessionContext::new_with_state(state);
//! ```

#[cfg(feature = "jit")]
mod aggregate;
mod expr;
pub(crate) mod query;
mod rule;
mod scan;
mod translate;

use std::sync::Arc;

use ::datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use ::datafusion::execution::SessionStateBuilder;
use ::datafusion::physical_expr::PhysicalExpr;
use ::datafusion::physical_plan::aggregates::AggregateExec;
use ::datafusion::physical_plan::filter::FilterExec;
use ::datafusion::physical_plan::projection::ProjectionExec;
use ::datafusion::physical_plan::ExecutionPlan;

/// The DataFusion version qjit is built with.
pub use ::datafusion::DATAFUSION_VERSION;
#[cfg(feature = "jit")]
pub use aggregate::QjitAggregateExec;
pub use expr::QjitExpr;
pub use query::{
    explain, is_glob, register_tables, run_into, session, tables, Query, Run, SessionTable, Table,
};
pub use rule::QjitRule;
pub use scan::{QjitParquetSource, DECODED_ROW_GROUPS};

/// `builder` with qjit's rule appended to its physical optimizer rules (after DataFusion's own):
/// the expressions of filters and projections that qjit computes exactly run as compiled
/// kernels, with `engine`'s options, and local Parquet files are read by qjit's decoder.
pub fn with_qjit(builder: SessionStateBuilder, engine: crate::Engine) -> SessionStateBuilder {
    builder.with_physical_optimizer_rule(Arc::new(QjitRule::new(engine)))
}

/// The qjit expressions of a physical plan (in filters, projections and aggregate arguments),
/// in plan order.
pub fn kernels(plan: &Arc<dyn ExecutionPlan>) -> Vec<Arc<QjitExpr>> {
    let mut found = vec![];
    let mut visit_expr = |e: &Arc<dyn PhysicalExpr>| {
        let _ = e.apply(|node| {
            if let Some(q) = node.downcast_ref::<QjitExpr>() {
                found.push(Arc::new(q.clone()));
                return Ok(TreeNodeRecursion::Jump);
            }
            Ok(TreeNodeRecursion::Continue)
        });
    };
    let _ = plan.apply(|node| {
        let any: &dyn ExecutionPlan = node.as_ref();
        if let Some(f) = any.downcast_ref::<FilterExec>() {
            visit_expr(f.predicate());
        } else if let Some(p) = any.downcast_ref::<ProjectionExec>() {
            p.expr().iter().for_each(|item| visit_expr(&item.expr));
        } else if let Some(a) = any.downcast_ref::<AggregateExec>() {
            for aggregate in a.aggr_expr() {
                aggregate.expressions().iter().for_each(&mut visit_expr);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// The fused aggregations of a physical plan, in plan order.
#[cfg(feature = "jit")]
pub fn fused_aggregates(plan: &Arc<dyn ExecutionPlan>) -> Vec<Arc<dyn ExecutionPlan>> {
    let mut found = vec![];
    let _ = plan.apply(|node| {
        if node.is::<QjitAggregateExec>() {
            found.push(node.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}
