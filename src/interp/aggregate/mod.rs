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
use crate::ir::aggregate::{self, Arguments, DistinctPlan, Regrouped};
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
/// use qjit::internals::interp::Aggregator;
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
    /// The keys and calls accumulated per scan batch: the query's own, or those of its
    /// `distinct` plan.
    keys: Vec<Expr>,
    aggregates: Vec<AggregateCall>,
    /// The query's calls with `DISTINCT`: how the groups above fold into the query's groups
    /// at [`Aggregator::finish`].
    distinct: Option<Box<DistinctPlan>>,
    /// The query's keys and calls, for the result batch.
    query_keys: Vec<Expr>,
    query_aggregates: Vec<AggregateCall>,
    /// The distinct aggregate arguments and their evaluation order.
    args: Arguments,
    /// `None` without keys (one group).
    groups: Option<GroupTable>,
    accumulators: Vec<Accumulator>,
    num_groups: usize,
}

impl Aggregator {
    /// An empty aggregation for the plan's `keys` and `aggregates` (both over the scan batch).
    pub fn new(keys: &[Expr], aggregates: &[AggregateCall]) -> Result<Aggregator> {
        let (scan_keys, scan_calls, distinct) = aggregate::scan_side(keys, aggregates)?;
        let args = Arguments::of(&scan_calls);
        let mut accumulators = scan_calls
            .iter()
            .map(Accumulator::new)
            .collect::<Result<Vec<_>>>()?;
        let (groups, num_groups) = if scan_keys.is_empty() {
            accumulators.iter_mut().for_each(|a| a.resize(1));
            (None, 1)
        } else {
            let types = scan_keys.iter().map(key_type).collect();
            (Some(GroupTable::new(types)?), 0)
        };
        Ok(Aggregator {
            keys: scan_keys,
            aggregates: scan_calls,
            distinct: distinct.map(Box::new),
            query_keys: keys.to_vec(),
            query_aggregates: aggregates.to_vec(),
            args,
            groups,
            accumulators,
            num_groups,
        })
    }

    /// Feeds one (already `WHERE`-filtered) scan batch.
    pub fn update(&mut self, batch: &RecordBatch) -> Result<()> {
        let exprs: Vec<&Expr> = self.keys.iter().chain(&self.args.args).collect();
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
        // Smaller arguments first (see `Arguments::order`).
        let mut args: Vec<Option<ArrayRef>> = vec![None; self.args.args.len()];
        for &i in &self.args.order {
            let values = eval(&self.args.args[i], &input)?;
            input.remember(&self.args.args[i], values.clone());
            args[i] = Some(values);
        }
        for (acc, arg) in self.accumulators.iter_mut().zip(&self.args.arg_of) {
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

    /// The number of groups so far (1 without keys).
    pub fn groups(&self) -> usize {
        self.num_groups
    }

    /// Merges another aggregator's state built from the same keys and aggregates. Groups of
    /// `other` that `self` does not have are appended after `self`'s, in `other`'s order.
    /// Returns, for each of `other`'s groups in order, its group in `self`.
    pub fn merge(&mut self, other: Aggregator) -> Result<Vec<u32>> {
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
        Ok(map)
    }

    /// Folds state built elsewhere (a compiled kernel's, see
    /// [`crate::jit::AggregateKernel::merge_into`]) into this aggregation, as [`Aggregator::merge`]
    /// does: `key_columns` holds `n` groups' keys in their first-seen order (any Arrow types that
    /// cast to the keys' types; `None` without keys) and `states` one [`RawState`] of `n` groups
    /// per aggregate. Groups this aggregation does not have are appended in that order.
    /// Returns, for each of the `n` groups in order, its group in this aggregation.
    pub fn merge_raw(
        &mut self,
        key_columns: Option<Vec<ArrayRef>>,
        states: Vec<RawState>,
        n: usize,
    ) -> Result<Vec<u32>> {
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
        Ok(map)
    }

    /// The aggregate batch: one column per key (`VARCHAR` keys as `Utf8`) then one per
    /// aggregate, named `key0…`, `agg0…`, groups in first-seen order. Without keys there is
    /// exactly one row, even for no input (`COUNT` 0, other aggregates NULL).
    pub fn finish(self) -> Result<RecordBatch> {
        self.finish_within(&mut |_| Ok(()))
    }

    /// [`Aggregator::finish`], telling `charge` the bytes it holds beyond the state as it
    /// grows, so that a query's memory limit covers them: the second grouping of a query with
    /// `DISTINCT` calls builds tables and columns as large as the state itself. An error from
    /// `charge` stops it.
    pub fn finish_within(mut self, charge: Charge<'_>) -> Result<RecordBatch> {
        let keys = match &self.groups {
            Some(table) => Some(table.finish()?),
            None => None,
        };
        let accumulators = std::mem::take(&mut self.accumulators);
        match self.distinct.take() {
            None => assemble(
                &self.keys,
                keys,
                &self.aggregates,
                accumulators,
                self.num_groups,
            ),
            Some(plan) => self.regroup(&plan, keys.unwrap_or_default(), accumulators, charge),
        }
    }

    /// The result of a query with `DISTINCT` calls (see [`DistinctPlan`]): the `n` scan-side
    /// groups (`key_columns`: the query's keys then the distinct arguments, first-seen order;
    /// `accumulators`: the calls without `DISTINCT`) grouped again by the query's keys.
    fn regroup(
        &self,
        plan: &DistinctPlan,
        key_columns: Vec<ArrayRef>,
        accumulators: Vec<Accumulator>,
        charge: Charge<'_>,
    ) -> Result<RecordBatch> {
        let n = self.num_groups;
        if key_columns.len() != plan.keys + plan.args {
            return Err(Error::internal("a DISTINCT aggregation without its keys"));
        }
        // The finished key columns, then what each step below builds.
        let mut held: usize = key_columns.iter().map(|c| c.get_array_memory_size()).sum();
        charge(held)?;
        let (outer_columns, distinct_columns) = key_columns.split_at(plan.keys);
        // The query group of each scan-side group.
        let (map, groups, outer) = if plan.keys == 0 {
            (vec![0; n], 1, None)
        } else {
            let types = self.query_keys.iter().map(key_type).collect();
            let mut table = GroupTable::new(types)?;
            let map = table.group_ids(outer_columns)?;
            held += table.memory_bytes();
            (map, table.len(), Some(table.finish()?))
        };
        held += map.len() * std::mem::size_of::<u32>();
        charge(held)?;
        // Per distinct argument: its distinct values per query group, and their groups.
        let mut distinct: Vec<Option<(ArrayRef, Vec<u32>)>> = vec![None; plan.args];
        let mut merged: Vec<Option<Accumulator>> = accumulators.into_iter().map(Some).collect();
        let mut results = vec![];
        for (output, call) in plan.outputs.iter().zip(&self.query_aggregates) {
            let plain = AggregateCall {
                distinct: false,
                ..call.clone()
            };
            let mut acc = Accumulator::new(&plain)?;
            acc.resize(groups);
            match output {
                Regrouped::Merge(i) => {
                    let state = merged
                        .get_mut(*i)
                        .and_then(Option::take)
                        .ok_or_else(|| Error::internal("a DISTINCT plan merges a state twice"))?;
                    acc.merge(state, &map)?;
                }
                Regrouped::OverKey { arg, .. } => {
                    let slot = distinct
                        .get_mut(*arg)
                        .ok_or_else(|| Error::internal("a DISTINCT plan without its argument"))?;
                    if slot.is_none() {
                        let values = &distinct_columns[*arg];
                        let (values, ids) = if plan.args == 1 {
                            (values.clone(), map.clone())
                        } else {
                            self.distinct_pairs(outer_columns, values, &map, &mut held)?
                        };
                        held +=
                            values.get_array_memory_size() + ids.len() * std::mem::size_of::<u32>();
                        charge(held)?;
                        *slot = Some((values, ids));
                    }
                    let (values, ids) = slot
                        .as_ref()
                        .ok_or_else(|| Error::internal("a DISTINCT argument not computed"))?;
                    let ty = plain
                        .arg
                        .as_ref()
                        .map_or(SqlType::Null, Expr::ty)
                        .to_arrow();
                    let values = if values.data_type() == &ty {
                        values.clone()
                    } else {
                        cast(values.as_ref(), &ty)?
                    };
                    acc.update(Some(&values), Some(ids), ids.len())?;
                }
            }
            held += acc.memory_bytes();
            charge(held)?;
            results.push(acc);
        }
        assemble(
            &self.query_keys,
            outer,
            &self.query_aggregates,
            results,
            groups,
        )
    }

    /// The distinct pairs of (query keys, `values`) among the scan-side groups: each pair's value
    /// and query group (from `map`), in first-seen order. Adds the bytes of its table to `held`.
    fn distinct_pairs(
        &self,
        outer_columns: &[ArrayRef],
        values: &ArrayRef,
        map: &[u32],
        held: &mut usize,
    ) -> Result<(ArrayRef, Vec<u32>)> {
        let mut columns = outer_columns.to_vec();
        columns.push(values.clone());
        let types = columns.iter().map(|c| c.data_type().clone()).collect();
        let mut pairs = GroupTable::new(types)?;
        let ids = pairs.group_ids(&columns)?;
        *held += pairs.memory_bytes() + ids.len() * std::mem::size_of::<u32>();
        let mut first: Vec<Option<u32>> = vec![None; pairs.len()];
        for (row, &id) in ids.iter().enumerate() {
            first[id as usize].get_or_insert(row as u32);
        }
        let rows: Vec<u32> = first.into_iter().flatten().collect();
        let take = arrow::array::UInt32Array::from(rows.clone());
        let values = arrow::compute::take(values.as_ref(), &take, None)?;
        let groups = rows.iter().map(|&r| map[r as usize]).collect();
        Ok((values, groups))
    }
}

/// What a finishing aggregation tells of the memory it holds beyond its state (see
/// [`Aggregator::finish_within`]): the bytes so far, each time they grow.
pub type Charge<'a> = &'a mut dyn FnMut(usize) -> Result<()>;

/// The aggregate batch of `n` groups (see [`Aggregator::finish`]) from state built by a compiled
/// kernel: the key columns (one value per group, any Arrow type that casts to the keys' types;
/// none without keys) and each aggregate's [`RawState`].
pub fn finish_raw(
    keys: &[Expr],
    key_columns: Option<Vec<ArrayRef>>,
    aggregates: &[AggregateCall],
    states: Vec<RawState>,
    n: usize,
    charge: Charge<'_>,
) -> Result<RecordBatch> {
    if aggregates.iter().any(|c| c.distinct) {
        let mut agg = Aggregator::new(keys, aggregates)?;
        agg.merge_raw(key_columns, states, n)?;
        return agg.finish_within(charge);
    }
    let accumulators = aggregates
        .iter()
        .zip(states)
        .map(|(call, raw)| Accumulator::from_raw(call, raw))
        .collect::<Result<Vec<_>>>()?;
    assemble(keys, key_columns, aggregates, accumulators, n)
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
