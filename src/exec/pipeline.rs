//! The pipeline: runs a [`Plan`] over a stream of scan batches, filtering with a compiled
//! [`FilterKernel`] when there is one (a batch the kernel hands back is filtered by the
//! interpreter) and evaluating everything else with [`crate::interp`], then finishes it
//! (distinct, sort, offset/limit, output types).

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBufferBuilder, RecordBatch, RecordBatchOptions,
};
use arrow::compute::{self, SortColumn, SortOptions};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};

use crate::error::{Error, Result};
use crate::interp::{self, Aggregator};
use crate::ir::{Body, Expr, Plan};
use crate::jit::{AggregateKernel, FilterKernel, ProjectKernel};

/// The compiled kernels of a plan (see [`super::compile`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Kernels<'a> {
    /// The `WHERE` predicate.
    pub filter: Option<&'a FilterKernel>,
    /// The `WHERE` clause, group keys and aggregates of an aggregate query.
    pub aggregate: Option<&'a AggregateKernel>,
    /// The `WHERE` clause and `SELECT` expressions of a query without aggregates.
    pub project: Option<&'a ProjectKernel>,
}

/// Runs `plan` over `scan` (batches of the plan's scan schema) with the interpreter.
pub fn execute_interpreted(
    plan: &Plan,
    scan: impl Iterator<Item = Result<RecordBatch>>,
) -> Result<Vec<RecordBatch>> {
    execute(plan, scan, &Kernels::default())
}

/// Runs `plan` over `scan` with the compiled `kernels` (the interpreter does the rest).
pub fn execute(
    plan: &Plan,
    scan: impl Iterator<Item = Result<RecordBatch>>,
    kernels: &Kernels,
) -> Result<Vec<RecordBatch>> {
    let where_ = Where {
        filter: plan.filter.as_ref(),
        kernel: kernels.filter,
    };
    let finals = match &plan.body {
        Body::Project { exprs } => {
            // Without DISTINCT or ORDER BY, stop reading once LIMIT + OFFSET rows are in.
            let enough = match (plan.limit, plan.distinct || !plan.order_by.is_empty()) {
                (Some(limit), false) => Some(limit.saturating_add(plan.offset)),
                _ => None,
            };
            let mut out = Vec::new();
            let mut rows = 0usize;
            for batch in scan {
                if enough.is_some_and(|n| rows >= n) {
                    break;
                }
                let projected = match kernels.project {
                    Some(kernel) => match kernel.project(&batch?)? {
                        Some(columns) => columns,
                        None => continue,
                    },
                    None => {
                        let batch = where_.apply(batch?)?;
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        evaluate_all(exprs, &batch)?
                    }
                };
                rows += projected.first().map_or(0, |c| c.len());
                out.push(projected);
            }
            out
        }
        Body::Aggregate {
            keys,
            aggregates,
            having,
            exprs,
        } => {
            let groups = match kernels.aggregate {
                Some(kernel) => {
                    let mut state = kernel.new_state();
                    for batch in scan {
                        if kernel.filters() {
                            kernel.update(&batch?, &mut state)?;
                        } else {
                            // The WHERE clause runs on its own (see `compile`).
                            kernel.update(&where_.apply(batch?)?, &mut state)?;
                        }
                    }
                    kernel.finish(state)?
                }
                None => {
                    let mut agg = Aggregator::new(keys, aggregates)?;
                    for batch in scan {
                        let batch = where_.apply(batch?)?;
                        if batch.num_rows() > 0 {
                            agg.update(&batch)?;
                        }
                    }
                    agg.finish()?
                }
            };
            let groups = apply_filter(having.as_ref(), groups)?;
            vec![evaluate_all(exprs, &groups)?]
        }
    };
    finish(plan, finals)
}

/// The `WHERE` clause: a predicate, compiled or not.
struct Where<'a> {
    filter: Option<&'a Expr>,
    kernel: Option<&'a FilterKernel>,
}

impl Where<'_> {
    /// Keeps the rows where the predicate is TRUE.
    fn apply(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let Some(filter) = self.filter else {
            return Ok(batch);
        };
        let mask = match self.kernel {
            None => interp::evaluate_predicate(filter, &batch)?,
            Some(kernel) => match kernel.filter(&batch) {
                Ok(Some(mask)) => mask,
                // Some row needs the interpreter: it evaluates the whole batch.
                Ok(None) => interp::evaluate_predicate(filter, &batch)?,
                // The kernel reports the operation and row the interpreter fails at first; the
                // interpreter words the message with the operands' values. If it disagrees
                // (a bug), the kernel's error stands.
                Err(e) => match interp::evaluate_predicate(filter, &batch) {
                    Err(exact) => return Err(exact),
                    Ok(_) => return Err(e),
                },
            },
        };
        finish_filter(batch, &mask)
    }
}

/// Keeps the rows where `filter` is TRUE.
fn apply_filter(filter: Option<&Expr>, batch: RecordBatch) -> Result<RecordBatch> {
    let Some(filter) = filter else {
        return Ok(batch);
    };
    let mask = interp::evaluate_predicate(filter, &batch)?;
    finish_filter(batch, &mask)
}

/// `filter_record_batch`, skipped when every row stays.
fn finish_filter(batch: RecordBatch, mask: &BooleanArray) -> Result<RecordBatch> {
    if mask.true_count() == batch.num_rows() {
        return Ok(batch);
    }
    Ok(compute::filter_record_batch(&batch, mask)?)
}

/// Evaluates the final expressions into columns (no schema names yet).
fn evaluate_all(exprs: &[Expr], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    exprs.iter().map(|e| interp::evaluate(e, batch)).collect()
}

/// Distinct, sort, offset/limit, and the output schema, over the final columns of every batch.
pub(crate) fn finish(plan: &Plan, parts: Vec<Vec<ArrayRef>>) -> Result<Vec<RecordBatch>> {
    let width = plan.final_exprs().len();
    let schema = plan.output_schema();
    // Concatenate each column across batches, in the engine's logical types.
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(width);
    for (i, e) in plan.final_exprs().iter().enumerate() {
        let target = e.ty().to_arrow();
        let pieces: Vec<ArrayRef> = parts
            .iter()
            .map(|p| normalize(&p[i], &target))
            .collect::<Result<_>>()?;
        columns.push(if pieces.is_empty() {
            arrow::array::new_empty_array(&target)
        } else {
            let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
            compute::concat(&refs)?
        });
    }
    let mut rows = columns.first().map_or(0, |c| c.len());

    if plan.distinct && rows > 0 {
        let keys: Vec<ArrayRef> = columns[..plan.output_names.len()]
            .iter()
            .map(interp::canonical_floats)
            .collect();
        let keep = first_occurrences(&keys)?;
        columns = columns
            .iter()
            .map(|c| compute::filter(c, &keep))
            .collect::<std::result::Result<_, _>>()?;
        rows = columns.first().map_or(0, |c| c.len());
    }

    if !plan.order_by.is_empty() && rows > 1 {
        let keys: Vec<SortColumn> = plan
            .order_by
            .iter()
            .map(|k| SortColumn {
                values: interp::canonical_floats(&columns[k.column]),
                options: Some(SortOptions {
                    descending: k.descending,
                    nulls_first: k.nulls_first,
                }),
            })
            .collect();
        let fetch = plan.limit.map(|l| l.saturating_add(plan.offset));
        let indices = compute::lexsort_to_indices(&keys, fetch)?;
        columns = columns
            .iter()
            .map(|c| compute::take(c.as_ref(), &indices, None))
            .collect::<std::result::Result<_, _>>()?;
        rows = indices.len();
    }

    let start = plan.offset.min(rows);
    let len = plan.limit.map_or(rows - start, |l| l.min(rows - start));
    let out: Vec<ArrayRef> = columns
        .into_iter()
        .take(plan.output_names.len())
        .map(|c| c.slice(start, len))
        .collect();
    let batch = RecordBatch::try_new_with_options(
        schema.clone(),
        out,
        &RecordBatchOptions::new().with_row_count(Some(len)),
    )
    .map_err(|e| Error::internal(format!("result batch does not match its schema: {e}")))?;
    Ok(vec![batch])
}

/// Converts an evaluator's array to the engine's canonical Arrow type (strings in any layout →
/// `Utf8`).
fn normalize(a: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if a.data_type() == target {
        return Ok(a.clone());
    }
    Ok(compute::cast(a, target)?)
}

/// A mask keeping the first occurrence of each distinct row.
fn first_occurrences(columns: &[ArrayRef]) -> Result<BooleanArray> {
    let fields = columns
        .iter()
        .map(|c| SortField::new(c.data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let rows = converter.convert_columns(columns)?;
    let mut seen = std::collections::HashSet::with_capacity(rows.num_rows());
    let mut keep = BooleanBufferBuilder::new(rows.num_rows());
    for row in rows.iter() {
        keep.append(seen.insert(row.as_ref().to_vec()));
    }
    Ok(BooleanArray::new(keep.finish(), None))
}
