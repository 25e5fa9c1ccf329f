//! The state an aggregation kernel updates: one slot per distinct piece of state (a count, a
//! sum, an extreme) of each distinct argument, each slot one or more vectors of one element per
//! group, and the key record of a group. In: the query's keys and aggregate calls; out: the
//! [`AggregateLayout`] that the kernel's code and the executor's state (`jit::aggregate`)
//! both follow.

use crate::codegen::{not_compiled, CodegenError, StringLayout};
use crate::error::Error;
use crate::ir::aggregate::Arguments;
use crate::ir::{AccKind, AggFunc, AggregateCall, Expr};

/// The element type of one state vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorType {
    I64,
    I128,
    F64,
    U8,
}

/// One piece of per-group state, shared by every aggregate that needs it: `SUM(x)` and
/// `AVG(x)` share the sum of `x`, and every count of a column that cannot be NULL is the count
/// of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotKind {
    /// Selected rows (`i64`).
    Rows,
    /// Valid values of the argument (`i64`).
    Count,
    /// The exact sum of the argument: an `i128` that wraps around, and the net number of
    /// times it wrapped (`i64`: +1 past `i128::MAX`, -1 past `i128::MIN`), so that the sum does
    /// not depend on the order of its terms (see the interpreter's `State::Exact`).
    ExactSum,
    /// The float sum of the argument (`f64`).
    FloatSum,
    /// The extreme so far (`i128`) and a has-value byte.
    MinMaxInt { max: bool },
    /// The extreme so far (canonical `f64`) and a has-value byte.
    MinMaxFloat { max: bool },
    /// The extreme so far (a byte) and a has-value byte.
    MinMaxBool { max: bool },
    /// The extreme string so far: its address and length (`i64` each), a has-value byte and a
    /// byte set when the address points into the current batch (logged, see [`AggArgs::log`]).
    MinMaxStr { max: bool },
}

impl SlotKind {
    /// The state vectors, in order.
    pub fn vectors(self) -> &'static [VectorType] {
        match self {
            SlotKind::Rows | SlotKind::Count => &[VectorType::I64],
            SlotKind::ExactSum => &[VectorType::I128, VectorType::I64],
            SlotKind::FloatSum => &[VectorType::F64],
            SlotKind::MinMaxInt { .. } => &[VectorType::I128, VectorType::U8],
            SlotKind::MinMaxFloat { .. } => &[VectorType::F64, VectorType::U8],
            SlotKind::MinMaxBool { .. } => &[VectorType::U8, VectorType::U8],
            SlotKind::MinMaxStr { .. } => &[
                VectorType::I64,
                VectorType::I64,
                VectorType::U8,
                VectorType::U8,
            ],
        }
    }

    /// Whether the state is an extreme (carried over, not summed, when merging).
    pub fn is_extreme(self) -> bool {
        matches!(
            self,
            SlotKind::MinMaxInt { .. }
                | SlotKind::MinMaxFloat { .. }
                | SlotKind::MinMaxBool { .. }
                | SlotKind::MinMaxStr { .. }
        )
    }
}

/// A slot of the layout: what it keeps, of which distinct argument, and where its vectors start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateSlot {
    pub kind: SlotKind,
    /// Index into [`AggregateLayout::args`] (none for [`SlotKind::Rows`]).
    pub arg: Option<usize>,
    pub first_vector: usize,
}

/// How a group key is stored in a key record (see `lower::group`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `BOOLEAN` (and the `NULL` type): one word, 0 or 1.
    Bool,
    /// Signed integers and dates: one word, sign-extended.
    Signed,
    /// Unsigned integers: one word.
    Unsigned,
    /// The canonical value's bits, one word.
    Float32,
    Float64,
    /// Two words: low, high.
    Decimal,
    /// Two words: the address of the bytes, the length.
    Utf8,
    /// A `Utf8View` column, two words in the view's own form: strings of up to 12 bytes are
    /// the view itself (length, then the bytes, zero-padded), so that they hash and compare as
    /// two integers; longer ones are the view's first word (length and 4-byte prefix) and the
    /// address of the bytes.
    Utf8View,
}

impl KeyKind {
    pub fn words(self) -> usize {
        match self {
            KeyKind::Decimal | KeyKind::Utf8 | KeyKind::Utf8View => 2,
            _ => 1,
        }
    }
}

/// The key record of a group: the NULL-mask word, then each key's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    pub kinds: Vec<KeyKind>,
}

impl KeyLayout {
    /// Words per record.
    pub fn words(&self) -> usize {
        1 + self.kinds.iter().map(|k| k.words()).sum::<usize>()
    }

    /// Whether the kernel looks its keys up in a direct index first: every key is an integer,
    /// a date or a boolean, whose values of a small range (a supplier number, a year, a flag)
    /// map straight to an entry.
    ///
    /// The direct index is `group + 1` per code (0: not known yet), a cache in front of the
    /// hash table that the kernel fills as it finds groups there, so it never holds a wrong
    /// group whatever its ranges: the executor sets the ranges (a word saying whether there
    /// are any, then [`DIRECT_KEY_WORDS`] words per key: base, span, multiplier) from the
    /// groups found so far, and a row out of range takes the hash table. Key `k`'s code is `value - base` (as `u64`) when below `span`, `span`
    /// for NULL; the entry is at the sum over the keys of code times multiplier, the product
    /// of `span + 1` entries in all.
    ///
    /// Strings are left out: `Utf8View` keys of a few bytes do map to numbers, but measured on
    /// Q1's one-letter flags the codes cost as many instructions as the recent-key cache they
    /// would replace, and strings of two lengths or second bytes lie too far apart.
    pub fn direct_index(&self) -> bool {
        self.kinds
            .iter()
            .all(|k| matches!(k, KeyKind::Bool | KeyKind::Signed | KeyKind::Unsigned))
    }

    /// The direct-index value of a key of `kind` with record words `words` (not NULL), if it has
    /// one, as an ordinal: values compare as `u64`s, and the value itself is
    /// [`KeyLayout::from_ordinal`] of it. Integers are their word, signed ones with the sign
    /// bit flipped to order them.
    pub fn direct_ordinal(kind: KeyKind, words: &[u64]) -> Option<u64> {
        match kind {
            KeyKind::Bool | KeyKind::Unsigned => Some(words[0]),
            KeyKind::Signed => Some(words[0] ^ SIGN_BIT),
            _ => None,
        }
    }

    /// The value of an ordinal of [`KeyLayout::direct_ordinal`]: the word the kernel computes
    /// for the key and subtracts the base from.
    pub fn from_ordinal(kind: KeyKind, ordinal: u64) -> u64 {
        match kind {
            KeyKind::Signed => ordinal ^ SIGN_BIT,
            _ => ordinal,
        }
    }
}

/// Words per key of the direct index's ranges (see [`KeyLayout::direct_index`]).
pub const DIRECT_KEY_WORDS: usize = 3;

const SIGN_BIT: u64 = 1 << 63;

/// Where an aggregation kernel keeps its state.
#[derive(Clone, Debug, PartialEq)]
pub struct AggregateLayout {
    /// One per aggregate.
    pub accumulators: Vec<AccKind>,
    /// Per aggregate: the slot of its value (sum, extreme) and of its count, if any.
    pub uses: Vec<(Option<usize>, Option<usize>)>,
    pub slots: Vec<StateSlot>,
    pub vectors: Vec<VectorType>,
    /// The distinct aggregate arguments ([`crate::ir::aggregate::Arguments`]) and the order
    /// they are evaluated in.
    pub args: Vec<crate::ir::Expr>,
    pub order: Vec<usize>,
    /// `None` without `GROUP BY` (one group, id 0, no table).
    pub keys: Option<KeyLayout>,
}

/// How `call` accumulates in a kernel ([`AccKind::of`]), or why it does not compile.
fn acc_kind(call: &AggregateCall) -> Result<AccKind, CodegenError> {
    if call.distinct {
        return Err(CodegenError::Failed(Error::internal(format!(
            "{call} reached the code generator without its DISTINCT plan"
        ))));
    }
    match AccKind::of(call) {
        Some(kind) => Ok(kind),
        None => not_compiled(format!("{call} is not compiled yet")),
    }
}

/// The expressions an aggregation kernel with `layout` lowers, in the order its inputs are
/// found ([`crate::codegen::kernel_inputs`]): the filter, the keys, the distinct arguments.
pub fn aggregate_inputs<'a>(
    filter: Option<&'a Expr>,
    keys: &'a [Expr],
    layout: &'a AggregateLayout,
) -> Vec<&'a Expr> {
    filter
        .into_iter()
        .chain(keys.iter())
        .chain(layout.args.iter())
        .collect()
}

/// The layout of the state of `keys` and `aggregates`: one slot per distinct piece of state.
pub fn layout(
    keys: &[Expr],
    aggregates: &[AggregateCall],
) -> Result<AggregateLayout, CodegenError> {
    if keys.len() > 63 {
        return not_compiled("GROUP BY with more than 63 keys is not compiled");
    }
    let accumulators = aggregates
        .iter()
        .map(acc_kind)
        .collect::<Result<Vec<_>, _>>()?;
    let arguments = Arguments::of(aggregates);
    let mut slots: Vec<StateSlot> = vec![];
    let mut vectors = vec![];
    let mut slot = |kind: SlotKind, arg: Option<usize>| -> usize {
        if let Some(i) = slots.iter().position(|s| s.kind == kind && s.arg == arg) {
            return i;
        }
        slots.push(StateSlot {
            kind,
            arg,
            first_vector: vectors.len(),
        });
        vectors.extend_from_slice(kind.vectors());
        slots.len() - 1
    };
    let mut uses = vec![];
    for ((call, kind), &arg) in aggregates.iter().zip(&accumulators).zip(&arguments.arg_of) {
        // The count of an argument that cannot be NULL is the count of rows.
        let nullable = call.arg.as_ref().is_some_and(Expr::nullable);
        let count = |slot: &mut dyn FnMut(SlotKind, Option<usize>) -> usize| {
            if nullable {
                slot(SlotKind::Count, arg)
            } else {
                slot(SlotKind::Rows, None)
            }
        };
        // A sum needs its count only to be NULL without values, and an average to divide.
        // With keys, every group has a selected row, so the `SUM` of an argument that cannot be
        // NULL has a value in every group: it keeps no count (one fewer update per row, in
        // state that a query of many groups finds outside the cache).
        let sum_count = |slot: &mut dyn FnMut(SlotKind, Option<usize>) -> usize| {
            if nullable || call.func == AggFunc::Avg || keys.is_empty() {
                Some(count(slot))
            } else {
                None
            }
        };
        uses.push(match kind {
            AccKind::CountStar => (None, Some(slot(SlotKind::Rows, None))),
            AccKind::Count => (None, Some(count(&mut slot))),
            AccKind::ExactSum => (Some(slot(SlotKind::ExactSum, arg)), sum_count(&mut slot)),
            AccKind::FloatSum => (Some(slot(SlotKind::FloatSum, arg)), sum_count(&mut slot)),
            AccKind::MinMaxInt { max } => {
                (Some(slot(SlotKind::MinMaxInt { max: *max }, arg)), None)
            }
            AccKind::MinMaxFloat { max } => {
                (Some(slot(SlotKind::MinMaxFloat { max: *max }, arg)), None)
            }
            AccKind::MinMaxBool { max } => {
                (Some(slot(SlotKind::MinMaxBool { max: *max }, arg)), None)
            }
            AccKind::MinMaxStr { max } => {
                (Some(slot(SlotKind::MinMaxStr { max: *max }, arg)), None)
            }
        });
    }
    let keys = if keys.is_empty() {
        None
    } else {
        Some(KeyLayout {
            kinds: keys
                .iter()
                .map(|k| match k {
                    Expr::Column(c)
                        if StringLayout::of(&c.data_type) == Some(StringLayout::Views) =>
                    {
                        Ok(KeyKind::Utf8View)
                    }
                    _ => KeyKind::of(k.ty()),
                })
                .collect::<Result<_, _>>()?,
        })
    };
    Ok(AggregateLayout {
        accumulators,
        uses,
        slots,
        vectors,
        args: arguments.args,
        order: arguments.order,
        keys,
    })
}
