//! Combining an aggregation's states into one: in, the states that the morsels of a query
//! built (one per morsel, or one per worker for a kernel whose states merge in any order); out,
//! the aggregate batch, its groups in the order a scan of the morsels in their order first
//! finds them, whichever thread ran which morsel and whichever order the states merged in.
//!
//! A kernel that is [`AggregateKernel::order_free`] (no float sums, no `DISTINCT`; exact sums
//! count their wraps, so they do not depend on order) lets a worker carry one state from
//! morsel to morsel
//! ([`Carried`]): a query then merges one state per worker instead of one per morsel, and each
//! group is created once per worker instead of once per morsel, which is most of the work of a
//! `GROUP BY` with many groups. Other kernels, and morsels that the interpreter runs while a
//! kernel compiles, build a state per morsel, merged as they come ([`Combined::add`]).

use std::sync::Mutex;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute;

use super::limits::Reservation;
use super::pipeline::Chosen;
use crate::error::{Error, Result};
use crate::interp::{Aggregator, Charge};
use crate::ir::{AggregateCall, Expr};
use crate::jit::{AggregateKernel, AggregateState};

/// An aggregation state, in the engine that built it.
pub(super) enum Partial<'a> {
    Compiled(Box<AggregateState>, Chosen<'a>),
    Interpreted(Box<Aggregator>),
}

/// Which morsels a state's groups were first found in: a group's place orders it as a scan of
/// the morsels in their order finds it.
pub(super) enum Found {
    /// All in this morsel (a state of one morsel).
    Morsel(usize),
    /// Per morsel the state took, in the order it took them: the morsel, and the number of
    /// groups the state had before it (a [`Carried`] state).
    Morsels(Vec<(usize, usize)>),
}

/// Bits of a place below the morsel: the rank of a group among those its morsel found first.
const RANK_BITS: u32 = 40;

impl Found {
    /// The place of the state's group `g`: its morsel, then its rank among the groups the state
    /// found first in that morsel. One state takes a morsel whole and in order, and its morsels
    /// in their order ([`Carried::take`]), so the groups whose first appearance in the scan is
    /// in a morsel are found first in it by the state that took it, in the scan's order; the
    /// least place of a group over all states is where the scan first finds it.
    fn place(&self, g: usize) -> u64 {
        let (morsel, first) = match self {
            Found::Morsel(m) => (*m, 0),
            Found::Morsels(ranges) => {
                // A keyless state starts with its one group: it belongs to the first morsel.
                let at = ranges.partition_point(|&(_, start)| start <= g);
                ranges
                    .get(at.saturating_sub(1))
                    .map_or((0, g), |&(m, s)| (m, s.min(g)))
            }
        };
        let rank = ((g - first) as u64).min((1 << RANK_BITS) - 1);
        ((morsel as u64) << RANK_BITS) | rank
    }
}

/// The states merged so far, and where each of their groups was first found.
#[derive(Default)]
pub(super) struct Combined<'a> {
    total: Total<'a>,
    /// The place ([`Found::place`]) of each group of `total`.
    places: Vec<u64>,
}

impl<'a> Combined<'a> {
    /// Folds in a state whose groups were first found where `found` says.
    pub(super) fn add(
        &mut self,
        partial: Partial<'a>,
        found: &Found,
        keys: &[Expr],
        aggregates: &[AggregateCall],
    ) -> Result<()> {
        let (total, map) = std::mem::take(&mut self.total).merge(partial, keys, aggregates)?;
        self.total = total;
        for (j, g) in map.into_iter().enumerate() {
            if g >= self.places.len() {
                self.places.resize(g + 1, u64::MAX);
            }
            self.places[g] = self.places[g].min(found.place(j));
        }
        Ok(())
    }

    /// The bytes the states take, for the memory limit.
    pub(super) fn memory_bytes(&self) -> usize {
        self.total.memory_bytes() + self.places.len() * size_of::<u64>()
    }

    /// The aggregate batch (see [`Aggregator::finish_within`]), its groups in the order of
    /// their places: `charge` hears the bytes it holds beyond the state.
    pub(super) fn finish(
        self,
        keys: &[Expr],
        aggregates: &[AggregateCall],
        charge: Charge<'_>,
    ) -> Result<RecordBatch> {
        let batch = self.total.finish(keys, aggregates, charge)?;
        if self.places.is_sorted() || batch.num_rows() != self.places.len() {
            return Ok(batch);
        }
        let mut order: Vec<u32> = (0..self.places.len() as u32).collect();
        order.sort_unstable_by_key(|&g| self.places[g as usize]);
        compute::take_record_batch(&batch, &UInt32Array::from(order))
            .map_err(|e| Error::internal(format!("ordering the groups: {e}")))
    }
}

/// The states merged so far. While every state so far is a compiled one of a kernel that
/// merges in its own memory ([`AggregateKernel::merges_in_kernel`]), the total is that kernel's
/// state (the first state's, the next ones folded into it); from the first state that is not,
/// an interpreter aggregation, into which the kernel's total is folded first. Either way the
/// groups and every sum are those the interpreter's merge of the same states in the same order
/// gives.
#[derive(Default)]
enum Total<'a> {
    #[default]
    Empty,
    Compiled(Box<AggregateState>, Chosen<'a>),
    Interpreted(Box<Aggregator>),
}

impl<'a> Total<'a> {
    /// Folds the next state in: the total, and for each of the state's groups in order its
    /// group in the total.
    fn merge(
        self,
        partial: Partial<'a>,
        keys: &[Expr],
        aggregates: &[AggregateCall],
    ) -> Result<(Self, Vec<usize>)> {
        let lost = || Error::internal("a compiled state without its kernel");
        let widen = |map: Vec<u32>| map.into_iter().map(|g| g as usize).collect();
        let fresh = matches!(self, Total::Empty);
        let mut agg = match self {
            Total::Empty => Box::new(Aggregator::new(keys, aggregates)?),
            Total::Interpreted(agg) => agg,
            Total::Compiled(mut total, held) => {
                let kernel = held.kernels().aggregate.ok_or_else(lost)?;
                if let Partial::Compiled(state, chosen) = &partial {
                    let same = chosen
                        .kernels()
                        .aggregate
                        .is_some_and(|k| std::ptr::eq(k, kernel));
                    if same && state.in_kernel() {
                        let Partial::Compiled(state, _) = partial else {
                            return Err(lost());
                        };
                        let map = kernel.merge_state(*state, &mut total)?;
                        return Ok((Total::Compiled(total, held), map));
                    }
                }
                // The kernel's groups keep their order in a fresh aggregation.
                let mut agg = Box::new(Aggregator::new(keys, aggregates)?);
                kernel.merge_into(*total, &mut agg)?;
                agg
            }
        };
        let map = match partial {
            Partial::Compiled(state, chosen) => {
                let kernel: &AggregateKernel = chosen.kernels().aggregate.ok_or_else(lost)?;
                // The first state, in its kernel's memory: the total starts as it.
                if fresh && kernel.merges_in_kernel() && state.in_kernel() {
                    let map = (0..state.groups()).collect();
                    return Ok((Total::Compiled(state, chosen), map));
                }
                widen(kernel.merge_into(*state, &mut agg)?)
            }
            Partial::Interpreted(partial) => widen(agg.merge(*partial)?),
        };
        Ok((Total::Interpreted(agg), map))
    }

    /// The bytes the total takes, for the memory limit.
    fn memory_bytes(&self) -> usize {
        match self {
            Total::Empty => 0,
            Total::Compiled(state, _) => state.memory_bytes(),
            Total::Interpreted(agg) => agg.memory_bytes(),
        }
    }

    /// The aggregate batch (see [`Aggregator::finish_within`]): `charge` hears the bytes it
    /// holds beyond the state.
    fn finish(
        self,
        keys: &[Expr],
        aggregates: &[AggregateCall],
        charge: Charge<'_>,
    ) -> Result<RecordBatch> {
        match self {
            Total::Empty => Aggregator::new(keys, aggregates)?.finish(),
            Total::Compiled(state, held) => held
                .kernels()
                .aggregate
                .ok_or_else(|| Error::internal("a compiled state without its kernel"))?
                .finish(*state, charge),
            Total::Interpreted(agg) => agg.finish_within(charge),
        }
    }
}

/// A state a worker carries from morsel to morsel: its kernel, the memory it holds, and the
/// morsels it took.
pub(super) struct CarriedState<'a> {
    pub(super) state: AggregateState,
    pub(super) chosen: Chosen<'a>,
    pub(super) reservation: Reservation<'a>,
    /// Per morsel taken: the morsel and the groups the state had before it ([`Found`]).
    pub(super) taken: Vec<(usize, usize)>,
}

/// The states of an [`AggregateKernel::order_free`] kernel that workers carry: a worker takes
/// one (or starts one) for each morsel and gives it back after, so there are about as many as
/// workers.
#[derive(Default)]
pub(super) struct Carried<'a> {
    states: Mutex<Vec<CarriedState<'a>>>,
}

impl<'a> Carried<'a> {
    /// A state of `kernel` for `morsel` that no worker holds, if there is one: of those that
    /// have taken only earlier morsels, the one that took the latest. A state takes its
    /// morsels in their order, so that the groups it finds first in a morsel are all those
    /// whose first appearance in the scan is in that morsel (see [`Found::place`]); a worker
    /// that claimed its morsel before another but took longer to get here does not break that.
    pub(super) fn take(&self, kernel: &AggregateKernel, morsel: usize) -> Option<CarriedState<'a>> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let at = states
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.chosen
                    .kernels()
                    .aggregate
                    .is_some_and(|k| std::ptr::eq(k, kernel))
            })
            .filter_map(|(at, c)| match c.taken.last() {
                Some(&(last, _)) if last >= morsel => None,
                last => Some((last.map(|&(m, _)| m), at)),
            })
            .max()?
            .1;
        Some(states.swap_remove(at))
    }

    /// Gives `state` back for the next morsel.
    pub(super) fn give_back(&self, state: CarriedState<'a>) {
        self.states
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(state);
    }

    /// Every state, to be combined once the morsels are done.
    pub(super) fn into_states(self) -> Vec<CarriedState<'a>> {
        self.states.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::Found;

    #[test]
    fn a_place_is_the_morsel_then_the_rank_in_it() {
        assert_eq!(Found::Morsel(3).place(5), 3 << 40 | 5);
        // Morsel 7 found groups 0..4, morsel 2 none, morsel 9 the rest.
        let found = Found::Morsels(vec![(7, 0), (2, 4), (9, 4)]);
        assert_eq!(found.place(0), 7 << 40);
        assert_eq!(found.place(3), 7 << 40 | 3);
        assert_eq!(found.place(4), 9 << 40);
        assert_eq!(found.place(6), 9 << 40 | 2);
    }

    /// Compiled aggregations against the interpreter.
    #[cfg(feature = "jit")]
    mod compiled {
        use std::sync::Arc;

        use arrow::array::{
            Decimal128Array, Float64Array, Int64Array, RecordBatch, StringViewArray,
        };
        use arrow::datatypes::{DataType, Field, Schema};

        use crate::exec::{self, EngineKind, QueryOptions, Source};
        use crate::jit::AggregateKernel;

        /// 40 morsels of 500 rows: keys that morsels find in changing orders (a few, and many more
        /// than a morsel has rows), sums of integers and of two-digit decimals, floats, strings.
        fn table() -> Source {
            let schema = Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, true),
                Field::new("s", DataType::Utf8View, true),
                Field::new("d", DataType::Decimal128(12, 2), true),
                Field::new("f", DataType::Float64, false),
            ]));
            let batches = (0..40i64)
                .map(|b| {
                    let rows = b * 500..(b + 1) * 500;
                    let k: Int64Array = rows
                        .clone()
                        .map(|r| (r % 97 != 5).then_some((r * 7919 + b * 13) % (300 + 40 * b)))
                        .collect();
                    let s: StringViewArray = rows
                        .clone()
                        .map(|r| (r % 31 != 1).then(|| format!("key {}", (r * 31 + b) % 23)))
                        .collect();
                    let d: Decimal128Array = rows
                        .clone()
                        .map(|r| (r % 11 != 4).then_some(i128::from(r % 1000) * 37 - 9000))
                        .collect();
                    let d = d.with_precision_and_scale(12, 2).unwrap();
                    let f: Float64Array = rows.map(|r| r as f64 * 0.1 + 1e10).collect();
                    RecordBatch::try_new(
                        schema.clone(),
                        vec![Arc::new(k), Arc::new(s), Arc::new(d), Arc::new(f)],
                    )
                    .unwrap()
                })
                .collect();
            Source::batches("t", schema, batches).with_morsel_rows(500)
        }

        fn order_free(source: &Source, sql: &str) -> bool {
            AggregateKernel::of_query(source, sql).order_free()
        }

        /// Whether states carried per worker or built per morsel, on any number of threads, the
        /// groups come out in the order a scan finds them (no `ORDER BY`), with the interpreter's
        /// answer on one thread.
        #[test]
        fn groups_come_out_as_the_scan_finds_them() {
            let source = table();
            for (sql, carried) in [
                (
                    "SELECT k, COUNT(*), SUM(d), MIN(d), MAX(k) FROM t GROUP BY k",
                    true,
                ),
                (
                    "SELECT s, k % 5, AVG(d), COUNT(k) FROM t GROUP BY s, k % 5",
                    true,
                ),
                ("SELECT SUM(k), COUNT(*) FROM t WHERE d > 0", true),
                (
                    "SELECT k, COUNT(*) FROM t WHERE s <> 'key 3' GROUP BY k",
                    true,
                ),
                (
                    "SELECT k, SUM(d * d * d), AVG(d * 3) FROM t GROUP BY k",
                    true,
                ),
                // Float sums and string extremes: a state per morsel.
                ("SELECT k, SUM(f) FROM t GROUP BY k", false),
                ("SELECT s, MAX(s) FROM t GROUP BY s", false),
                // A DISTINCT aggregate's second grouping folds the state's groups in order.
                (
                    "SELECT k % 7, COUNT(DISTINCT s), SUM(DISTINCT d) FROM t GROUP BY k % 7",
                    false,
                ),
                ("SELECT s, AVG(DISTINCT f) FROM t GROUP BY s", false),
            ] {
                assert_eq!(order_free(&source, sql), carried, "{sql}");
                let options = |engine, threads| QueryOptions {
                    engine,
                    threads: Some(threads),
                    ..Default::default()
                };
                let reference = exec::run(&source, sql, &options(EngineKind::Interp, 1)).unwrap();
                for threads in [1, 2, 3] {
                    let compiled =
                        exec::run(&source, sql, &options(EngineKind::Jit, threads)).unwrap();
                    assert_eq!(compiled.batches, reference.batches, "{sql} on {threads}");
                }
            }
        }

        /// An exact sum fails only when its exact value does not fit: partial sums past `i128`,
        /// in whatever order the rows, batches, morsels and threads bring them, give the total
        /// when it fits (both engines, with keys and without), and a total past 38 digits is the
        /// same error everywhere.
        #[test]
        fn exact_sums_fail_only_when_their_value_does_not_fit() {
            let schema = Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, false),
                Field::new("x", DataType::Decimal128(38, 0), true),
            ]));
            let big: i128 = 9 * 10i128.pow(37);
            // Per group: big values up, then as many down, then a small one: the running sum
            // passes i128::MAX (1.7e38) on its way; whole cycles of 24 rows, so the totals fit.
            let rows: Vec<(i64, Option<i128>)> = (0..4008i64)
                .map(|r| {
                    let x = match (r / 3) % 8 {
                        0..=2 => Some(big),
                        3..=5 => Some(-big),
                        6 => None,
                        _ => Some(i128::from(r)),
                    };
                    (r % 3, x)
                })
                .collect();
            let batches: Vec<RecordBatch> = rows
                .chunks(250)
                .map(|part| {
                    let k: Int64Array = part.iter().map(|(k, _)| Some(*k)).collect();
                    let x: Decimal128Array = part.iter().map(|(_, x)| *x).collect();
                    let x = x.with_precision_and_scale(38, 0).unwrap();
                    RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(x)]).unwrap()
                })
                .collect();
            let expected = |k: i64| -> i128 {
                rows.iter()
                    .filter(|(g, _)| *g == k)
                    .filter_map(|(_, x)| *x)
                    // Wrapping: the exact total fits, the running sum does not.
                    .fold(0, i128::wrapping_add)
            };
            let source = Source::batches("t", schema, batches).with_morsel_rows(500);
            let options = |engine, threads| QueryOptions {
                engine,
                threads: Some(threads),
                ..Default::default()
            };
            let decimals = |b: &RecordBatch, c: usize| -> Vec<Option<i128>> {
                b.column(c)
                    .as_any()
                    .downcast_ref::<Decimal128Array>()
                    .unwrap()
                    .iter()
                    .collect()
            };
            let overflow = "SELECT k, SUM(x) FROM t WHERE x > 0 GROUP BY k";
            let reference = exec::run(&source, overflow, &options(EngineKind::Interp, 1))
                .unwrap_err()
                .to_string();
            assert!(reference.contains("the sum of sum(x)"), "{reference}");
            for threads in [1, 2, 3] {
                for engine in [EngineKind::Interp, EngineKind::Jit] {
                    let run = |sql| exec::run(&source, sql, &options(engine, threads));
                    let keyed =
                        run("SELECT k, SUM(x), COUNT(x) FROM t GROUP BY k ORDER BY k").unwrap();
                    let want: Vec<Option<i128>> = (0..3).map(|k| Some(expected(k))).collect();
                    assert_eq!(decimals(&keyed.batches[0], 1), want, "{engine:?} {threads}");
                    let total = run("SELECT SUM(x) FROM t").unwrap();
                    let want = (0..3).map(expected).fold(0, i128::wrapping_add);
                    assert_eq!(decimals(&total.batches[0], 0), [Some(want)], "{engine:?}");
                    // Past 38 digits: the sum's error, whichever engine and order.
                    let err = run(overflow).unwrap_err().to_string();
                    assert_eq!(err, reference, "{engine:?} {threads}");
                }
            }
        }
    }
}
