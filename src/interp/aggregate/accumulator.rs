//! Per-group state of one aggregate function.
//!
//! In: the evaluated argument of a batch (or none for `COUNT(*)`) and each row's group id. Out,
//! at the end: one value per group, of the aggregate's result type.
//!
//! State is a vector per group, updated by a typed loop per batch (`state[group[i]] += v[i]`;
//! the array is downcast once per batch). Sums of integers and decimals are exact: an `i128`
//! that wraps around and a count of its net wraps, so that a sum fails only when its exact
//! value does not fit the result type (`BIGINT`/`UBIGINT`, 38 digits), checked at the end,
//! whatever the order its terms arrive in (rows, batches, morsels, threads); sums of floats
//! are `f64`. `AVG` keeps the exact sum and the count; at the end the
//! sum becomes the nearest `f64` (one rounding; `ir::convert` for decimals) and is
//! divided by the count. A float sum or average that is NaN comes out as the one canonical NaN.
//! An exact sum whose total does not fit is [`Error::Overflow`] naming the call and what to
//! cast its argument to. `MIN`/`MAX` keep integers, decimals and dates as `i128`, floats as `f64` (IEEE
//! total order: NaN is the largest), strings as `String` (byte-wise).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int64Array, PrimitiveArray, StringArray, UInt64Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{ArrowPrimitiveType, Date32Type, Decimal128Type};

use super::super::as_boolean;
use super::super::kernel::{downcast, with_float_type, with_integer_type, FloatNative, IntNative};
use super::super::strings::StrArray;
use crate::error::{Error, Result};
use crate::ir::convert::decimal_to_f64;
use crate::ir::scalar::fits_precision;
use crate::ir::AccKind;
use crate::ir::{AggFunc, AggregateCall, SqlType};

/// The state of one aggregate across all groups.
#[derive(Debug)]
pub(crate) struct Accumulator {
    func: AggFunc,
    /// The argument's type (`NULL` for `COUNT(*)`).
    arg: SqlType,
    /// The result type.
    ty: SqlType,
    /// The call as SQL writes it (`sum(l_quantity)`), for error messages.
    call: String,
    state: State,
    /// The heap bytes of the strings of `MIN`/`MAX` of strings (their capacities).
    string_bytes: usize,
}

#[derive(Debug)]
enum State {
    /// `COUNT(*)` and `COUNT(x)`.
    Count(Vec<i64>),
    /// `SUM`/`AVG` of integers and decimals: a group's exact sum is `sums[g] + wraps[g] *
    /// 2^128`, `sums` adding with wrap-around and `wraps` counting the net times they wrapped
    /// (up: +1, down: -1), so that it does not depend on the order of the terms; it fits
    /// `i128` exactly when its wraps are 0.
    Exact {
        sums: Vec<i128>,
        wraps: Vec<i64>,
        counts: Vec<i64>,
    },
    /// `SUM`/`AVG` of floats.
    Float { sums: Vec<f64>, counts: Vec<i64> },
    /// `MIN`/`MAX`; `max` tells which.
    Extreme { max: bool, values: Extremes },
}

#[derive(Debug)]
enum Extremes {
    Int(Vec<Option<i128>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

/// Per-group state built outside the interpreter (by a compiled kernel), in the form the
/// interpreter keeps it; see `Accumulator::from_raw`.
#[derive(Debug)]
pub enum RawState {
    /// `COUNT(*)`, `COUNT(x)`.
    Count(Vec<i64>),
    /// `SUM`/`AVG` of integers and decimals: exact sums (`i128`, wrapping) with their net
    /// wraps (see `State::Exact`), and counts of values.
    Exact {
        sums: Vec<i128>,
        wraps: Vec<i64>,
        counts: Vec<i64>,
    },
    /// `SUM`/`AVG` of floats.
    Float { sums: Vec<f64>, counts: Vec<i64> },
    /// `MIN`/`MAX` of integers, dates and decimals.
    IntExtremes(Vec<Option<i128>>),
    /// `MIN`/`MAX` of floats (canonical values).
    FloatExtremes(Vec<Option<f64>>),
    /// `MIN`/`MAX` of booleans.
    BoolExtremes(Vec<Option<bool>>),
    /// `MIN`/`MAX` of strings.
    StrExtremes(Vec<Option<String>>),
}

/// The group of each row, or `None` when every row is in group 0 (no keys).
pub(crate) type GroupIds<'a> = Option<&'a [u32]>;

impl Accumulator {
    pub fn new(call: &AggregateCall) -> Result<Accumulator> {
        let arg = call.arg.as_ref().map_or(SqlType::Null, |a| a.ty());
        let unsupported = || {
            Error::internal(format!(
                "{}() of {arg} reached the interpreter",
                call.func.name()
            ))
        };
        let kind = AccKind::of(call).ok_or_else(unsupported)?;
        let extremes = |max: bool, values: Extremes| State::Extreme { max, values };
        let state = match kind {
            AccKind::CountStar | AccKind::Count => State::Count(vec![]),
            AccKind::ExactSum => State::Exact {
                sums: vec![],
                wraps: vec![],
                counts: vec![],
            },
            AccKind::FloatSum => State::Float {
                sums: vec![],
                counts: vec![],
            },
            AccKind::MinMaxInt { max } => extremes(max, Extremes::Int(vec![])),
            AccKind::MinMaxFloat { max } => extremes(max, Extremes::Float(vec![])),
            AccKind::MinMaxBool { max } => extremes(max, Extremes::Bool(vec![])),
            AccKind::MinMaxStr { max } => extremes(max, Extremes::Str(vec![])),
        };
        if call.distinct {
            return Err(Error::internal(format!(
                "{call} reached an accumulator without its DISTINCT plan"
            )));
        }
        Ok(Accumulator {
            func: call.func,
            arg,
            ty: call.ty,
            call: call.sql(),
            state,
            string_bytes: 0,
        })
    }

    /// The bytes this state takes: its vectors' capacities and the strings it holds.
    pub fn memory_bytes(&self) -> usize {
        fn capacity<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        self.string_bytes
            + match &self.state {
                State::Count(c) => capacity(c),
                State::Exact {
                    sums,
                    wraps,
                    counts,
                } => capacity(sums) + capacity(wraps) + capacity(counts),
                State::Float { sums, counts } => capacity(sums) + capacity(counts),
                State::Extreme { values, .. } => match values {
                    Extremes::Int(v) => capacity(v),
                    Extremes::Float(v) => capacity(v),
                    Extremes::Bool(v) => capacity(v),
                    Extremes::Str(v) => capacity(v),
                },
            }
    }

    /// The accumulator of `call` with the state `raw`, which must be the kind of state the
    /// interpreter keeps for `call`.
    pub fn from_raw(call: &AggregateCall, raw: RawState) -> Result<Accumulator> {
        let mut acc = Accumulator::new(call)?;
        acc.state = match (&acc.state, raw) {
            (State::Count(_), RawState::Count(c)) => State::Count(c),
            (
                State::Exact { .. },
                RawState::Exact {
                    sums,
                    wraps,
                    counts,
                },
            ) => State::Exact {
                sums,
                wraps,
                counts,
            },
            (State::Float { .. }, RawState::Float { sums, counts }) => {
                State::Float { sums, counts }
            }
            (
                State::Extreme {
                    max,
                    values: Extremes::Int(_),
                },
                RawState::IntExtremes(v),
            ) => State::Extreme {
                max: *max,
                values: Extremes::Int(v),
            },
            (
                State::Extreme {
                    max,
                    values: Extremes::Float(_),
                },
                RawState::FloatExtremes(v),
            ) => State::Extreme {
                max: *max,
                values: Extremes::Float(v),
            },
            (
                State::Extreme {
                    max,
                    values: Extremes::Bool(_),
                },
                RawState::BoolExtremes(v),
            ) => State::Extreme {
                max: *max,
                values: Extremes::Bool(v),
            },
            (
                State::Extreme {
                    max,
                    values: Extremes::Str(_),
                },
                RawState::StrExtremes(v),
            ) => {
                acc.string_bytes = v.iter().flatten().map(String::capacity).sum();
                State::Extreme {
                    max: *max,
                    values: Extremes::Str(v),
                }
            }
            (_, raw) => {
                return Err(Error::internal(format!(
                    "state {raw:?} does not fit the aggregate {call}"
                )))
            }
        };
        Ok(acc)
    }

    /// Makes room for `n` groups.
    pub fn resize(&mut self, n: usize) {
        match &mut self.state {
            State::Count(c) => c.resize(n, 0),
            State::Exact {
                sums,
                wraps,
                counts,
            } => {
                sums.resize(n, 0);
                wraps.resize(n, 0);
                counts.resize(n, 0);
            }
            State::Float { sums, counts } => {
                sums.resize(n, 0.0);
                counts.resize(n, 0);
            }
            State::Extreme { values, .. } => match values {
                Extremes::Int(v) => v.resize(n, None),
                Extremes::Float(v) => v.resize(n, None),
                Extremes::Bool(v) => v.resize(n, None),
                Extremes::Str(v) => v.resize(n, None),
            },
        }
    }

    /// Adds a batch of `rows` rows: `arg` is the evaluated argument (none for `COUNT(*)`),
    /// `groups` each row's group (groups must fit the last [`Accumulator::resize`]).
    pub fn update(&mut self, arg: Option<&ArrayRef>, groups: GroupIds, rows: usize) -> Result<()> {
        if let Some(g) = groups {
            if g.len() != rows {
                return Err(Error::internal("group ids for a different number of rows"));
            }
        }
        let Some(arg) = arg else {
            // COUNT(*)
            let State::Count(counts) = &mut self.state else {
                return Err(Error::internal("an aggregate without its argument"));
            };
            match groups {
                None => counts[0] += rows as i64,
                Some(ids) => ids.iter().for_each(|&g| counts[g as usize] += 1),
            }
            return Ok(());
        };
        if arg.len() != rows {
            return Err(Error::internal("aggregate argument of a wrong length"));
        }
        let arg_ty = self.arg;
        match &mut self.state {
            State::Count(counts) => {
                let nulls = arg.logical_nulls();
                match (groups, &nulls) {
                    (None, _) => counts[0] += (rows - arg.logical_null_count()) as i64,
                    (Some(ids), None) => ids.iter().for_each(|&g| counts[g as usize] += 1),
                    (Some(ids), Some(n)) => {
                        n.valid_indices().for_each(|i| counts[ids[i] as usize] += 1)
                    }
                }
            }
            State::Exact {
                sums,
                wraps,
                counts,
            } => {
                with_integer_type!(arg_ty, T => {
                    let a = downcast::<T>(arg)?;
                    add_all(sums, counts, wraps, a, groups, |v, s: i128| s.add_sum(v.to_i128()))
                }, _ => {
                    let a = downcast::<Decimal128Type>(arg)?;
                    add_all(sums, counts, wraps, a, groups, |v: i128, s: i128| s.add_sum(v))
                });
            }
            State::Float { sums, counts } => {
                with_float_type!(arg_ty, T => {
                    let a = downcast::<T>(arg)?;
                    add_all(sums, counts, &mut [], a, groups, |v, s: f64| (s + v.to_f64(), 0));
                }, _ => return Err(Error::internal("float sum of a non-float")));
            }
            State::Extreme { max, values } => {
                let max = *max;
                match values {
                    Extremes::Int(acc) => {
                        let less = |a: &i128, b: &i128| a < b;
                        with_integer_type!(arg_ty, T => {
                            let a = downcast::<T>(arg)?;
                            extremes(acc, a, groups, max, IntNative::to_i128, less);
                        }, _ => if arg_ty == SqlType::Date {
                            let a = downcast::<Date32Type>(arg)?;
                            extremes(acc, a, groups, max, i128::from, less);
                        } else if arg_ty.is_timestamp() {
                            let ints = crate::interp::time::retype(arg, &arrow::datatypes::DataType::Int64)?;
                            let a = downcast::<arrow::datatypes::Int64Type>(&ints)?;
                            extremes(acc, a, groups, max, i128::from, less);
                        } else {
                            let a = downcast::<Decimal128Type>(arg)?;
                            extremes(acc, a, groups, max, |v| v, less);
                        });
                    }
                    Extremes::Float(acc) => {
                        // Total order on canonical values: NaN (of either sign) is the largest,
                        // as in comparisons.
                        let less = |a: &f64, b: &f64| a.total_cmp(b).is_lt();
                        with_float_type!(arg_ty, T => {
                            let a = downcast::<T>(arg)?;
                            let canonical = |v| {
                                let f = FloatNative::to_f64(v);
                                if f.is_nan() { f64::NAN } else { f + 0.0 }
                            };
                            extremes(acc, a, groups, max, canonical, less);
                        }, _ => return Err(Error::internal("float MIN/MAX of a non-float")));
                    }
                    Extremes::Bool(acc) => {
                        let b = as_boolean(arg)?;
                        for_each_valid(b.nulls(), rows, groups, |i, g| {
                            let v = b.value(i);
                            let slot = &mut acc[g];
                            *slot = Some(match *slot {
                                None => v,
                                Some(cur) if max => cur | v,
                                Some(cur) => cur & v,
                            });
                        });
                    }
                    Extremes::Str(acc) => {
                        let s = StrArray::new(arg.as_ref())?;
                        let bytes = &mut self.string_bytes;
                        for_each_valid(s.nulls(), rows, groups, |i, g| {
                            let v = s.value(i);
                            match &mut acc[g] {
                                None => {
                                    let v = v.to_string();
                                    *bytes += v.capacity();
                                    acc[g] = Some(v);
                                }
                                Some(cur) => {
                                    if (max && v > cur.as_str()) || (!max && v < cur.as_str()) {
                                        let before = cur.capacity();
                                        cur.clear();
                                        cur.push_str(v);
                                        *bytes += cur.capacity() - before;
                                    }
                                }
                            }
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Folds `other`'s groups into this state: `other`'s group `j` is this state's `map[j]`
    /// (which must fit the last [`Accumulator::resize`]).
    pub fn merge(&mut self, other: Accumulator, map: &[u32]) -> Result<()> {
        let mismatch = || Error::internal("merging different aggregates");
        if other.func != self.func || other.arg != self.arg {
            return Err(mismatch());
        }
        match (&mut self.state, other.state) {
            (State::Count(a), State::Count(b)) => {
                for (j, v) in b.into_iter().enumerate() {
                    a[map[j] as usize] += v;
                }
            }
            (
                State::Exact {
                    sums,
                    wraps,
                    counts,
                },
                State::Exact {
                    sums: s2,
                    wraps: w2,
                    counts: c2,
                },
            ) => {
                for (j, ((s, w), c)) in s2.into_iter().zip(w2).zip(c2).enumerate() {
                    let g = map[j] as usize;
                    let (v, wrap) = sums[g].add_sum(s);
                    sums[g] = v;
                    wraps[g] = wraps[g].wrapping_add(w).wrapping_add(wrap);
                    counts[g] += c;
                }
            }
            (
                State::Float { sums, counts },
                State::Float {
                    sums: s2,
                    counts: c2,
                },
            ) => {
                for (j, (s, c)) in s2.into_iter().zip(c2).enumerate() {
                    let g = map[j] as usize;
                    sums[g] += s;
                    counts[g] += c;
                }
            }
            (State::Extreme { max, values }, State::Extreme { values: other, .. }) => {
                let max = *max;
                match (values, other) {
                    (Extremes::Int(a), Extremes::Int(b)) => {
                        merge_extremes(a, b, map, max, |x, y| x < y)
                    }
                    (Extremes::Float(a), Extremes::Float(b)) => {
                        merge_extremes(a, b, map, max, |x: &f64, y: &f64| x.total_cmp(y).is_lt())
                    }
                    (Extremes::Bool(a), Extremes::Bool(b)) => {
                        merge_extremes(a, b, map, max, |x, y| x < y)
                    }
                    (Extremes::Str(a), Extremes::Str(b)) => {
                        // The strings moved in are this state's now, those they replace go.
                        let kept = |a: &[Option<String>]| -> usize {
                            map.iter()
                                .filter_map(|&g| a[g as usize].as_ref())
                                .map(String::capacity)
                                .sum()
                        };
                        let before = kept(a);
                        merge_extremes(a, b, map, max, |x, y| x < y);
                        self.string_bytes = (self.string_bytes + kept(a)).saturating_sub(before);
                    }
                    _ => return Err(mismatch()),
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    /// One value per group, of the aggregate's result type.
    pub fn finish(self) -> Result<ArrayRef> {
        let Accumulator {
            func,
            arg,
            ty,
            call,
            state,
            ..
        } = self;
        let overflow = || sum_overflow(func, arg, ty, &call);
        Ok(match state {
            State::Count(counts) => Arc::new(Int64Array::from(counts)),
            State::Exact {
                sums,
                wraps,
                counts,
            } => {
                // A sum that wrapped on net is past `i128`, so past every result type.
                if wraps.iter().any(|&w| w != 0) {
                    return Err(overflow());
                }
                let present = sums
                    .iter()
                    .zip(&counts)
                    .map(|(s, c)| (*c > 0).then_some(*s));
                match (func, ty) {
                    (AggFunc::Avg, _) => {
                        // The exact sum to the nearest f64 (`as` is correctly rounded from
                        // i128), then one division.
                        let total = |s: i128| match arg.decimal_parts() {
                            Some((_, scale)) => decimal_to_f64(s, scale),
                            None => s as f64,
                        };
                        let avg = sums
                            .iter()
                            .zip(&counts)
                            .map(|(s, c)| (*c > 0).then(|| total(*s) / *c as f64));
                        Arc::new(avg.collect::<Float64Array>())
                    }
                    (_, SqlType::Int64) => Arc::new(
                        present
                            .map(|s| {
                                s.map(|s| i64::try_from(s).map_err(|_| overflow()))
                                    .transpose()
                            })
                            .collect::<Result<Int64Array>>()?,
                    ),
                    (_, SqlType::UInt64) => Arc::new(
                        present
                            .map(|s| {
                                s.map(|s| u64::try_from(s).map_err(|_| overflow()))
                                    .transpose()
                            })
                            .collect::<Result<UInt64Array>>()?,
                    ),
                    (_, SqlType::Decimal { precision, scale }) => {
                        let values = present
                            .map(|s| match s {
                                Some(v) if !fits_precision(v, precision) => Err(overflow()),
                                other => Ok(other),
                            })
                            .collect::<Result<Decimal128Array>>()?;
                        Arc::new(values.with_precision_and_scale(precision, scale as i8)?)
                    }
                    _ => return Err(Error::internal(format!("exact sum of type {ty}"))),
                }
            }
            State::Float { sums, counts } => {
                // A NaN's sign and payload depend on which operand of an addition the hardware
                // returns, which the compiler may swap: every NaN comes out as the one NaN.
                let values = sums.iter().zip(&counts).map(|(s, c)| {
                    (*c > 0).then(|| {
                        let v = if func == AggFunc::Avg {
                            s / *c as f64
                        } else {
                            *s
                        };
                        if v.is_nan() {
                            f64::NAN
                        } else {
                            v
                        }
                    })
                });
                Arc::new(values.collect::<Float64Array>())
            }
            State::Extreme { values, .. } => match values {
                Extremes::Int(v) => finish_int_extremes(v, ty)?,
                Extremes::Float(v) => match ty {
                    SqlType::Float32 => Arc::new(
                        v.into_iter()
                            .map(|x| x.map(|x| x as f32))
                            .collect::<Float32Array>(),
                    ),
                    _ => Arc::new(v.into_iter().collect::<Float64Array>()),
                },
                Extremes::Bool(v) => Arc::new(v.into_iter().collect::<BooleanArray>()),
                Extremes::Str(v) => Arc::new(v.into_iter().collect::<StringArray>()),
            },
        })
    }
}

/// The error for an exact sum that overflowed in `call` (of `func` over an `arg`, result type
/// `ty`): which type, in which call, and what to do about it.
fn sum_overflow(func: AggFunc, arg: SqlType, ty: SqlType, call: &str) -> Error {
    match (func, ty) {
        (AggFunc::Avg, _) => {
            // PostgreSQL averages integers and decimals through an exact numeric sum.
            let scale = arg.decimal_parts().map_or(0, |(_, s)| s);
            Error::overflow(
                SqlType::decimal(38, scale as u32),
                format!(
                    "the sum of the values of {call} exceeds 38 digits; cast the argument \
                     to DOUBLE to average it approximately"
                ),
            )
        }
        (_, ty) if ty.is_decimal() => Error::overflow(
            ty,
            format!(
                "the sum of {call} exceeds 38 digits; cast the argument to DOUBLE to sum \
                 it approximately"
            ),
        ),
        (_, ty) => Error::overflow(
            ty,
            format!(
                "the sum of {call} exceeds {ty}; cast the argument to DECIMAL(38,0) to sum \
                 it exactly"
            ),
        ),
    }
}

/// Calls `f(row, group)` for every valid row.
fn for_each_valid(
    nulls: Option<&NullBuffer>,
    rows: usize,
    groups: GroupIds,
    mut f: impl FnMut(usize, usize),
) {
    match (nulls, groups) {
        (None, None) => (0..rows).for_each(|i| f(i, 0)),
        (None, Some(ids)) => ids.iter().enumerate().for_each(|(i, &g)| f(i, g as usize)),
        (Some(n), None) => n.valid_indices().for_each(|i| f(i, 0)),
        (Some(n), Some(ids)) => n.valid_indices().for_each(|i| f(i, ids[i] as usize)),
    }
}

/// Adds the valid values of `a` to their groups' sums (`add` returns the new sum and its wrap:
/// +1 or -1 where an exact sum wrapped around, see `State::Exact`, 0 otherwise) and counts.
/// `wraps` holds each group's net wraps (an exact sum's; empty for float sums, which never
/// wrap).
fn add_all<T: ArrowPrimitiveType, S: SumValue + Default>(
    sums: &mut [S],
    counts: &mut [i64],
    wraps: &mut [i64],
    a: &PrimitiveArray<T>,
    groups: GroupIds,
    add: impl Fn(T::Native, S) -> (S, i64),
) {
    let values = a.values();
    let mut wrapped = |g: usize, w: i64| {
        if w != 0 {
            wraps[g] = wraps[g].wrapping_add(w);
        }
    };
    match (groups, a.nulls()) {
        (None, nulls) => {
            // One group: accumulate in a register, add once.
            let (mut acc, mut acc_wraps) = (S::default(), 0i64);
            let mut take = |v| {
                let (s, w) = add(v, acc);
                acc = s;
                acc_wraps = acc_wraps.wrapping_add(w);
            };
            let n = match nulls {
                None => {
                    values.iter().for_each(|&v| take(v));
                    values.len()
                }
                Some(n) => {
                    n.valid_indices().for_each(|i| take(values[i]));
                    values.len() - n.null_count()
                }
            };
            let (s, w) = sums[0].add_sum(acc);
            sums[0] = s;
            wrapped(0, acc_wraps.wrapping_add(w));
            counts[0] += n as i64;
        }
        (Some(ids), None) => {
            for (&v, &g) in values.iter().zip(ids) {
                let g = g as usize;
                let (s, w) = add(v, sums[g]);
                sums[g] = s;
                wrapped(g, w);
                counts[g] += 1;
            }
        }
        (Some(ids), Some(n)) => {
            for i in n.valid_indices() {
                let g = ids[i] as usize;
                let (s, w) = add(values[i], sums[g]);
                sums[g] = s;
                wrapped(g, w);
                counts[g] += 1;
            }
        }
    }
}

/// Adding to a sum: the new sum and its wrap (+1 where an exact sum passed `i128::MAX`, -1
/// where it passed `i128::MIN`, wrapping around; 0 otherwise and for floats).
trait SumValue: Copy {
    fn add_sum(self, other: Self) -> (Self, i64);
}

impl SumValue for i128 {
    fn add_sum(self, other: Self) -> (Self, i64) {
        match self.overflowing_add(other) {
            (s, false) => (s, 0),
            (s, true) => (s, if other < 0 { -1 } else { 1 }),
        }
    }
}

impl SumValue for f64 {
    fn add_sum(self, other: Self) -> (Self, i64) {
        (self + other, 0)
    }
}

/// Updates each group's minimum (or maximum) with the valid values of `a`, compared as `K`
/// by `less`.
fn extremes<T: ArrowPrimitiveType, K: Copy>(
    acc: &mut [Option<K>],
    a: &PrimitiveArray<T>,
    groups: GroupIds,
    max: bool,
    key: impl Fn(T::Native) -> K,
    less: impl Fn(&K, &K) -> bool,
) {
    let values = a.values();
    for_each_valid(a.nulls(), a.len(), groups, |i, g| {
        let v = key(values[i]);
        let slot = &mut acc[g];
        let better = match slot {
            None => true,
            Some(cur) if max => less(cur, &v),
            Some(cur) => less(&v, cur),
        };
        if better {
            *slot = Some(v);
        }
    });
}

fn merge_extremes<K>(
    acc: &mut [Option<K>],
    other: Vec<Option<K>>,
    map: &[u32],
    max: bool,
    less: impl Fn(&K, &K) -> bool,
) {
    for (j, v) in other.into_iter().enumerate() {
        let Some(v) = v else { continue };
        let slot = &mut acc[map[j] as usize];
        let better = match slot {
            None => true,
            Some(cur) if max => less(cur, &v),
            Some(cur) => less(&v, cur),
        };
        if better {
            *slot = Some(v);
        }
    }
}

fn finish_int_extremes(values: Vec<Option<i128>>, ty: SqlType) -> Result<ArrayRef> {
    let lost = || Error::internal(format!("MIN/MAX value does not fit its type {ty}"));
    with_integer_type!(ty, T => {
        type N = <T as ArrowPrimitiveType>::Native;
        let out = values
            .into_iter()
            .map(|v| v.map(|v| N::from_i128(v).ok_or_else(lost)).transpose())
            .collect::<Result<PrimitiveArray<T>>>()?;
        return Ok(Arc::new(out));
    }, _ => {});
    match ty {
        SqlType::Date => Ok(Arc::new(
            values
                .into_iter()
                .map(|v| v.map(|v| i32::try_from(v).map_err(|_| lost())).transpose())
                .collect::<Result<Date32Array>>()?,
        )),
        SqlType::Timestamp { .. } => {
            let ints: ArrayRef = Arc::new(
                values
                    .into_iter()
                    .map(|v| v.map(|v| i64::try_from(v).map_err(|_| lost())).transpose())
                    .collect::<Result<arrow::array::Int64Array>>()?,
            );
            crate::interp::time::retype(&ints, &ty.to_arrow())
        }
        SqlType::Decimal { precision, scale } => Ok(Arc::new(
            values
                .into_iter()
                .collect::<Decimal128Array>()
                .with_precision_and_scale(precision, scale as i8)?,
        )),
        _ => Err(Error::internal(format!("MIN/MAX of type {ty}"))),
    }
}
