//! Hash aggregation for [`Body::Aggregate`](crate::ir::Body::Aggregate).
//!
//! ```text
//! scan batch (WHERE applied) ─update─▶ key columns ─GroupTable─▶ group ids ─┐
//!                                      argument columns ─────────────────────┴─▶ Accumulators
//! Aggregator ─merge─▶ Aggregator (partial results of parallel workers)
//! Aggregator ─finish─▶ aggregate batch: key0.. keyN, agg0.. aggM, one row per group
//! ```
//!
//! Without keys there is exactly one group and no hashing. Identical aggregate arguments (the
//! same expression under `SUM` and `AVG`, say) are evaluated once per batch.

mod accumulator;
mod groups;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::eval;
use super::input::Input;
use crate::error::{Error, Result};
use crate::ir::{AggregateCall, Expr, SqlType};
use accumulator::Accumulator;
pub use accumulator::RawState;
use groups::GroupTable;

/// Hash aggregation state: groups seen so far and each aggregate's per-group state.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Array, AsArray, Int64Array, StringArray};
/// use arrow::datatypes::{DataType, Field, Int64Type, Schema};
/// use arrow::record_batch::RecordBatch;
/// use qjit::interp::Aggregator;
/// use qjit::ir::{AggFunc, AggregateCall, ColumnRef, Expr, SqlType};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("flag", DataType::Utf8, false),
///     Field::new("qty", DataType::Int64, true),
/// ]));
/// let batch = RecordBatch::try_new(schema, vec![
///     Arc::new(StringArray::from(vec!["A", "B", "A"])),
///     Arc::new(Int64Array::from(vec![Some(1), Some(2), None])),
/// ])?;
/// let column = |index, name: &str, ty: SqlType| Expr::column(ColumnRef {
///     index, name: name.into(), ty, data_type: ty.to_arrow(), nullable: true,
/// });
/// let keys = [column(0, "flag", SqlType::Utf8)];
/// let aggs = [
///     AggregateCall::new(AggFunc::Sum, Some(column(1, "qty", SqlType::Int64)))?,
///     AggregateCall::new(AggFunc::CountStar, None)?,
/// ];
/// let mut agg = Aggregator::new(&keys, &aggs)?;
/// agg.update(&batch)?;
/// let out = agg.finish()?;
/// assert_eq!(out.num_rows(), 2); // groups in first-seen order: A, B
/// assert_eq!(out.column(1).as_primitive::<Int64Type>().value(0), 1);
/// assert_eq!(out.column(2).as_primitive::<Int64Type>().value(0), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Aggregator {
    keys: Vec<Expr>,
    aggregates: Vec<AggregateCall>,
    /// The distinct aggregate arguments; aggregate `i` reads `args[arg_of[i]]` (none for
    /// `COUNT(*)`).
    args: Vec<Expr>,
    arg_of: Vec<Option<usize>>,
    /// The order to evaluate `args` in: by size, smallest first.
    arg_order: Vec<usize>,
    /// `None` without keys (one group).
    groups: Option<GroupTable>,
    accumulators: Vec<Accumulator>,
    num_groups: usize,
}

impl Aggregator {
    /// An empty aggregation for the plan's `keys` and `aggregates` (both over the scan batch).
    pub fn new(keys: &[Expr], aggregates: &[AggregateCall]) -> Result<Aggregator> {
        let mut args: Vec<Expr> = vec![];
        let arg_of = aggregates
            .iter()
            .map(|a| {
                a.arg
                    .as_ref()
                    .map(|e| match args.iter().position(|x| x == e) {
                        Some(i) => i,
                        None => {
                            args.push(e.clone());
                            args.len() - 1
                        }
                    })
            })
            .collect();
        let mut arg_order: Vec<usize> = (0..args.len()).collect();
        arg_order.sort_by_key(|&i| size(&args[i]));
        let mut accumulators = aggregates
            .iter()
            .map(Accumulator::new)
            .collect::<Result<Vec<_>>>()?;
        let (groups, num_groups) = if keys.is_empty() {
            accumulators.iter_mut().for_each(|a| a.resize(1));
            (None, 1)
        } else {
            let types = keys.iter().map(key_type).collect();
            (Some(GroupTable::new(types)?), 0)
        };
        Ok(Aggregator {
            keys: keys.to_vec(),
            aggregates: aggregates.to_vec(),
            args,
            arg_of,
            arg_order,
            groups,
            accumulators,
            num_groups,
        })
    }

    /// Feeds one (already `WHERE`-filtered) scan batch.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let exprs: Vec<&Expr> = self.keys.iter().chain(&self.args).collect();
        let mut input = Input::from_batch(batch, &exprs)?;
        let ids = match &mut self.groups {
            Some(table) => {
                let keys = self
                    .keys
                    .iter()
                    .map(|k| eval(k, &input))
                    .collect::<Result<Vec<_>>>()?;
                let ids = table.group_ids(&keys)?;
                self.num_groups = table.len();
                Some(ids)
            }
            None => None,
        };
        // Smaller arguments first, so that a larger one reuses them where it contains them
        // (Q1's `price * (1 - discount)` inside `price * (1 - discount) * (1 + tax)`).
        let mut args: Vec<Option<ArrayRef>> = vec![None; self.args.len()];
        for &i in &self.arg_order {
            let values = eval(&self.args[i], &input)?;
            input.remember(&self.args[i], values.clone());
            args[i] = Some(values);
        }
        for (acc, arg) in self.accumulators.iter_mut().zip(&self.arg_of) {
            acc.resize(self.num_groups);
            let arg = arg.and_then(|i| args.get(i).and_then(Option::as_ref));
            acc.update(arg, ids.as_deref(), batch.num_rows())?;
        }
        Ok(())
    }

    /// The bytes this aggregation's state takes (its group table and accumulators), for the
    /// memory limit of a query.
    pub fn memory_bytes(&self) -> usize {
        self.groups.as_ref().map_or(0, GroupTable::memory_bytes)
            + self
                .accumulators
                .iter()
                .map(Accumulator::memory_bytes)
                .sum::<usize>()
    }

    /// Merges another aggregator's state built from the same keys and aggregates. Groups of
    /// `other` that `self` does not have are appended after `self`'s, in `other`'s order.
    pub fn merge(&mut self, other: Aggregator) -> Result<()> {
        // Compared as text: a NaN literal is not equal to itself.
        let shape = |a: &Aggregator| {
            let keys: Vec<String> = a.keys.iter().map(Expr::to_string).collect();
            let aggs: Vec<String> = a.aggregates.iter().map(|c| c.to_string()).collect();
            (keys, aggs)
        };
        if shape(&other) != shape(self) {
            return Err(Error::internal(
                "merging aggregators of different keys or aggregates",
            ));
        }
        let map: Vec<u32> = match (&mut self.groups, &other.groups) {
            (Some(mine), Some(theirs)) => {
                let map = mine.merge(theirs)?;
                self.num_groups = mine.len();
                map
            }
            (None, None) => vec![0],
            _ => return Err(Error::internal("merging keyed and unkeyed aggregators")),
        };
        for (acc, theirs) in self.accumulators.iter_mut().zip(other.accumulators) {
            acc.resize(self.num_groups);
            acc.merge(theirs, &map)?;
        }
        Ok(())
    }

    /// Folds state built elsewhere (a compiled kernel's, see
    /// [`crate::jit::AggregateKernel::merge_into`]) into this aggregation, as [`Aggregator::merge`]
    /// does: `key_columns` holds `n` groups' keys in their first-seen order (any Arrow types that
    /// cast to the keys' types; `None` without keys) and `states` one [`RawState`] of `n` groups
    /// per aggregate. Groups this aggregation does not have are appended in that order.
    pub fn merge_raw(
        &mut self,
        key_columns: Option<Vec<ArrayRef>>,
        states: Vec<RawState>,
        n: usize,
    ) -> Result<()> {
        if states.len() != self.aggregates.len() {
            return Err(Error::internal(
                "merging a wrong number of aggregate states",
            ));
        }
        let map: Vec<u32> = match (&mut self.groups, key_columns) {
            (Some(table), Some(columns)) => {
                if columns.iter().any(|c| c.len() != n) {
                    return Err(Error::internal(
                        "a key column with a wrong number of groups",
                    ));
                }
                let map = table.group_ids(&columns)?;
                self.num_groups = table.len();
                map
            }
            (None, None) if n == 1 => vec![0],
            _ => {
                return Err(Error::internal(
                    "merging keyed and unkeyed aggregation states",
                ))
            }
        };
        for ((acc, call), raw) in self
            .accumulators
            .iter_mut()
            .zip(&self.aggregates)
            .zip(states)
        {
            acc.resize(self.num_groups);
            acc.merge(Accumulator::from_raw(call, raw)?, &map)?;
        }
        Ok(())
    }

    /// The aggregate batch: one column per key (`VARCHAR` keys as `Utf8`) then one per
    /// aggregate, named `key0…`, `agg0…`, groups in first-seen order. Without keys there is
    /// exactly one row, even for no input (`COUNT` 0, other aggregates NULL).
    pub fn finish(mut self) -> Result<RecordBatch> {
        let keys = match &self.groups {
            Some(table) => Some(table.finish()?),
            None => None,
        };
        let accumulators = std::mem::take(&mut self.accumulators);
        assemble(
            &self.keys,
            keys,
            &self.aggregates,
            accumulators,
            self.num_groups,
        )
    }
}

/// The aggregate batch of `n` groups (see [`Aggregator::finish`]) from state built by a compiled
/// kernel: the key columns (one value per group, any Arrow type that casts to the keys' types;
/// none without keys) and each aggregate's [`RawState`].
pub fn finish_raw(
    keys: &[Expr],
    key_columns: Option<Vec<ArrayRef>>,
    aggregates: &[AggregateCall],
    states: Vec<RawState>,
    n: usize,
) -> Result<RecordBatch> {
    let accumulators = aggregates
        .iter()
        .zip(states)
        .map(|(call, raw)| Accumulator::from_raw(call, raw))
        .collect::<Result<Vec<_>>>()?;
    assemble(keys, key_columns, aggregates, accumulators, n)
}

/// The error of the exact sum of `call` overflowing, as the interpreter words it.
pub fn sum_overflow_error(call: &AggregateCall) -> Result<Error> {
    Ok(Accumulator::new(call)?.sum_overflow())
}

fn assemble(
    keys: &[Expr],
    key_columns: Option<Vec<ArrayRef>>,
    aggregates: &[AggregateCall],
    accumulators: Vec<Accumulator>,
    n: usize,
) -> Result<RecordBatch> {
    let mut fields = vec![];
    let mut columns: Vec<ArrayRef> = vec![];
    if let Some(key_columns) = key_columns {
        if key_columns.len() != keys.len() {
            return Err(Error::internal("a wrong number of key columns"));
        }
        for (i, (key, column)) in keys.iter().zip(key_columns).enumerate() {
            let ty = key.ty().to_arrow();
            let column = if column.data_type() == &ty {
                column
            } else {
                cast(column.as_ref(), &ty)?
            };
            if column.len() != n {
                return Err(Error::internal(
                    "a key column with a wrong number of groups",
                ));
            }
            let nullable = key.nullable() || column.null_count() > 0;
            fields.push(Field::new(format!("key{i}"), ty, nullable));
            columns.push(column);
        }
    }
    for (i, (call, acc)) in aggregates.iter().zip(accumulators).enumerate() {
        let column = acc.finish()?;
        if column.len() != n {
            return Err(Error::internal(
                "an aggregate with a wrong number of groups",
            ));
        }
        let nullable = call.nullable() || column.null_count() > 0;
        fields.push(Field::new(format!("agg{i}"), call.ty.to_arrow(), nullable));
        columns.push(column);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(n));
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &options,
    )?)
}

/// The number of nodes of an expression.
fn size(e: &Expr) -> usize {
    let mut n = 0;
    e.walk(&mut |_| n += 1);
    n
}

/// The physical type a group key is encoded in: a string column keeps its layout (dictionaries
/// unpacked), other strings are `Utf8`, everything else is the SQL type's Arrow type.
fn key_type(key: &Expr) -> DataType {
    match key {
        Expr::Column(c) if c.ty == SqlType::Utf8 => match &c.data_type {
            DataType::Dictionary(_, value) => value.as_ref().clone(),
            other => other.clone(),
        },
        other => other.ty().to_arrow(),
    }
}

#[cfg(test)]
mod tests;
