//! Boolean logic: `AND`, `OR` (Kleene), `NOT`, `IS [NOT] NULL`.
//!
//! In: `BOOLEAN` operands (any type for `IS NULL`). Out: a `BOOLEAN` array.
//!
//! | `a` | `b` | `a AND b` | `a OR b` |
//! |---|---|---|---|
//! | TRUE | NULL | NULL | TRUE |
//! | FALSE | NULL | FALSE | NULL |
//! | NULL | NULL | NULL | NULL |
//!
//! The right operand is evaluated only on the rows whose result it can change — where the left is
//! not FALSE for `AND`, not TRUE for `OR` — whenever it can fail ([`can_fail`]), so that
//! `x <> 0 AND 10 / x > 1` does not divide by zero. It is also restricted to those rows when they
//! are few (below [`SUBSET_FRACTION`]), to save the work on the others.

use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use arrow::buffer::NullBuffer;
use arrow::compute::{
    and_kleene, is_not_null, is_null as arrow_is_null, not as arrow_not, or_kleene,
};

use super::fallible::can_fail;
use super::input::{row_index, Input};
use super::{as_boolean, eval};
use crate::error::{Error, Result};
use crate::ir::{BinaryOp, Expr, SqlType};

/// When the rows that still need the right operand of `AND`/`OR` are at most this fraction of
/// the batch, the right operand is evaluated on those rows only (taken with `take`) even if it
/// cannot fail. The value is a starting point chosen by reasoning (taking a column costs about
/// as much as one cheap kernel over the whole column), not yet measured; `qjit bench` is where
/// to tune it.
pub(crate) const SUBSET_FRACTION: f64 = 0.25;

/// `NOT arg`: NULL stays NULL.
pub(crate) fn not(arg: &Expr, input: &Input) -> Result<ArrayRef> {
    let values = eval(arg, input)?;
    Ok(Arc::new(arrow_not(as_boolean(&values)?)?))
}

/// `arg IS [NOT] NULL`: never NULL.
pub(crate) fn is_null(arg: &Expr, negated: bool, input: &Input) -> Result<ArrayRef> {
    let values = eval(arg, input)?;
    Ok(Arc::new(if negated {
        is_not_null(values.as_ref())?
    } else {
        arrow_is_null(values.as_ref())?
    }))
}

/// `left AND right` or `left OR right`, Kleene, with the right side evaluated lazily.
pub(crate) fn and_or(op: BinaryOp, left: &Expr, right: &Expr, input: &Input) -> Result<ArrayRef> {
    if left.ty() != SqlType::Boolean || right.ty() != SqlType::Boolean {
        return Err(super::arith::operand_error(
            op.symbol(),
            &[left.ty(), right.ty()],
        ));
    }
    let is_and = match op {
        BinaryOp::And => true,
        BinaryOp::Or => false,
        other => return Err(Error::internal(format!("{} is not AND/OR", other.symbol()))),
    };
    let l = eval(left, input)?;
    let l = as_boolean(&l)?;
    let n = l.len();
    // The rows where the right side decides the result: left TRUE or NULL for AND, FALSE or
    // NULL for OR.
    let needed = match (is_and, l.nulls()) {
        (true, None) => l.values().clone(),
        (false, None) => !l.values(),
        (true, Some(v)) => l.values() | &!v.inner(),
        (false, Some(v)) => &!l.values() | &!v.inner(),
    };
    let count = needed.count_set_bits();
    if count == 0 {
        // Every row is decided by the left side alone.
        return Ok(Arc::new(l.clone()));
    }
    let lazy = count < n && (can_fail(right) || (count as f64) <= SUBSET_FRACTION * n as f64);
    let r = if lazy {
        row_index(n)?;
        let rows = UInt32Array::from_iter_values(needed.set_indices_u32());
        let sub = input.take(&rows, &[right])?;
        let values = eval(right, &sub)?;
        Arc::new(scatter_booleans(as_boolean(&values)?, &rows, n)?)
    } else {
        eval(right, input)?
    };
    let r = as_boolean(&r)?;
    Ok(Arc::new(if is_and {
        and_kleene(l, r)?
    } else {
        or_kleene(l, r)?
    }))
}

/// Places `values[k]` at row `positions[k]` of `len` rows; the other rows are NULL (the left
/// side alone decides them). Bit operations instead of a `take`: O(positions + len / 8).
fn scatter_booleans(
    values: &BooleanArray,
    positions: &UInt32Array,
    len: usize,
) -> Result<BooleanArray> {
    if values.len() != positions.len() {
        return Err(Error::internal(
            "scatter of values and positions of different lengths",
        ));
    }
    let mut bits = BooleanBufferBuilder::new(len);
    bits.append_n(len, false);
    let mut valid = BooleanBufferBuilder::new(len);
    valid.append_n(len, false);
    for (k, &row) in positions.values().iter().enumerate() {
        let row = row as usize;
        if row >= len {
            return Err(Error::internal("scatter position out of range"));
        }
        if values.is_valid(k) {
            valid.set_bit(row, true);
            bits.set_bit(row, values.value(k));
        }
    }
    Ok(BooleanArray::new(
        bits.finish(),
        Some(NullBuffer::new(valid.finish())),
    ))
}

#[cfg(test)]
mod tests {
    use arrow::array::Int32Array;

    use super::super::testutil::*;
    use super::*;

    fn kleene_batch() -> (Expr, Expr, arrow::record_batch::RecordBatch) {
        let t = Some(true);
        let f = Some(false);
        two_columns(
            Arc::new(BooleanArray::from(vec![t, t, t, f, f, f, None, None, None])),
            Arc::new(BooleanArray::from(vec![t, f, None, t, f, None, t, f, None])),
        )
    }

    #[test]
    fn kleene_truth_tables() {
        let (a, b, batch) = kleene_batch();
        let t = Some(true);
        let f = Some(false);
        let and = eval_on(&bin(BinaryOp::And, a.clone(), b.clone()), &batch).unwrap();
        assert_eq!(bools(&and), vec![t, f, None, f, f, f, None, f, None]);
        let or = eval_on(&bin(BinaryOp::Or, a.clone(), b.clone()), &batch).unwrap();
        assert_eq!(bools(&or), vec![t, t, t, t, f, None, t, None, None]);
        let not = eval_on(
            &Expr::unary(crate::ir::UnaryOp::Not, a.clone()).unwrap(),
            &batch,
        );
        assert_eq!(
            bools(&not.unwrap()),
            vec![f, f, f, t, t, t, None, None, None]
        );
        let isnull = eval_on(&Expr::is_null(b.clone(), false), &batch).unwrap();
        assert_eq!(bools(&isnull), vec![f, f, t, f, f, t, f, f, t]);
        let notnull = eval_on(&Expr::is_null(b, true), &batch).unwrap();
        assert_eq!(bools(&notnull), vec![t, t, f, t, t, f, t, t, f]);
    }

    #[test]
    fn right_side_errors_are_suppressed_where_not_needed() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![
            Some(0),
            Some(5),
            None,
            Some(20),
        ])));
        let nonzero = bin(BinaryOp::NotEq, x.clone(), lit_i32(0));
        let zero = bin(BinaryOp::Eq, x.clone(), lit_i32(0));
        let big = bin(
            BinaryOp::Gt,
            bin(BinaryOp::Div, lit_i32(100), x.clone()),
            lit_i32(10),
        );
        let and = bin(BinaryOp::And, nonzero, big.clone());
        assert_eq!(
            bools(&eval_on(&and, &batch).unwrap()),
            vec![Some(false), Some(true), None, Some(false)]
        );
        let or = bin(BinaryOp::Or, zero, big.clone());
        assert_eq!(
            bools(&eval_on(&or, &batch).unwrap()),
            vec![Some(true), Some(true), None, Some(false)]
        );
        // Needed rows still fail.
        let bad = bin(BinaryOp::And, Expr::boolean(true), big);
        assert!(matches!(eval_on(&bad, &batch), Err(Error::DivisionByZero)));
    }

    #[test]
    fn selective_left_sides_restrict_the_right() {
        let n = 100;
        let (x, batch) = one_column(Arc::new(Int32Array::from((0..n).collect::<Vec<i32>>())));
        let few = bin(BinaryOp::Lt, x.clone(), lit_i32(10));
        let even = bin(
            BinaryOp::Eq,
            bin(BinaryOp::Mod, x.clone(), lit_i32(2)),
            lit_i32(0),
        );
        let e = bin(BinaryOp::And, few, even);
        let r = bools(&eval_on(&e, &batch).unwrap());
        let expected: Vec<Option<bool>> = (0..n).map(|i| Some(i < 10 && i % 2 == 0)).collect();
        assert_eq!(r, expected);
    }

    #[test]
    fn lazy_and_eager_paths_agree() {
        // Pseudo-random three-valued columns; `y / 1 > 0` can fail, so it is evaluated lazily.
        let mut seed = 12345u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % 3
        };
        let n = 500;
        let a: Vec<Option<bool>> = (0..n)
            .map(|_| match next() {
                0 => None,
                v => Some(v == 1),
            })
            .collect();
        let b: Vec<Option<i32>> = (0..n)
            .map(|_| match next() {
                0 => None,
                v => Some(v as i32 - 1),
            })
            .collect();
        let (x, y, batch) = two_columns(
            Arc::new(BooleanArray::from(a.clone())),
            Arc::new(Int32Array::from(b.clone())),
        );
        let lazy_right = bin(
            BinaryOp::Gt,
            bin(BinaryOp::Div, y.clone(), lit_i32(1)),
            lit_i32(0),
        );
        let eager_right = bin(BinaryOp::Gt, y, lit_i32(0));
        for op in [BinaryOp::And, BinaryOp::Or] {
            let lazy = eval_on(&bin(op, x.clone(), lazy_right.clone()), &batch).unwrap();
            let eager = eval_on(&bin(op, x.clone(), eager_right.clone()), &batch).unwrap();
            assert_eq!(bools(&lazy), bools(&eager), "{op:?}");
            let expected: Vec<Option<bool>> = a
                .iter()
                .zip(&b)
                .map(|(l, r)| {
                    let r = r.map(|r| r > 0);
                    match (op, l, r) {
                        (BinaryOp::And, Some(false), _) | (BinaryOp::And, _, Some(false)) => {
                            Some(false)
                        }
                        (BinaryOp::And, Some(true), Some(true)) => Some(true),
                        (BinaryOp::Or, Some(true), _) | (BinaryOp::Or, _, Some(true)) => Some(true),
                        (BinaryOp::Or, Some(false), Some(false)) => Some(false),
                        _ => None,
                    }
                })
                .collect();
            assert_eq!(bools(&lazy), expected, "{op:?}");
        }
    }
}
