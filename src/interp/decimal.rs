//! Exact decimal arithmetic on `Decimal128` values.
//!
//! In: two decimal operands of any precision and scale, and the result type that
//! [`decimal_result`](crate::ir::decimal_result) gave the node. Out: a `Decimal128` array of that
//! type. Values are `i128`s holding `value * 10^scale`:
//!
//! | op | computation |
//! |---|---|
//! | `+ - %` | both operands rescaled (exactly, scaling up) to the result scale, then the operation |
//! | `*` | the raw values multiplied (scale `s1 + s2` is the result scale) |
//! | `/` | `a * 10^(s - s1 + s2) / b`, rounded half away from zero; the scaled numerator must fit `i128` |
//!
//! Every step is checked: an `i128` overflow, or a result of more digits than the result
//! precision, is [`Error::Overflow`] naming the result type; a zero divisor is
//! [`Error::DivisionByZero`]. Errors are raised for valid rows only (see [`super::kernel`]).

use std::sync::Arc;

use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::datatypes::Decimal128Type;

use super::arith::operand_error;
use super::input::Input;
use super::kernel::{binary_flagged, Operand};
use crate::error::{Error, Result};
use crate::ir::scalar::{format_decimal, pow10};
use crate::ir::{BinaryOp, Expr, SqlType};

/// `left op right` on decimals, with result type `ty`.
pub(crate) fn binary(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    ty: SqlType,
    input: &Input,
) -> Result<ArrayRef> {
    let parts = (
        left.ty().decimal_parts(),
        right.ty().decimal_parts(),
        ty.decimal_parts(),
    );
    let (Some((_, s1)), Some((_, s2)), Some((p, s))) = parts else {
        return Err(operand_error(op.symbol(), &[left.ty(), right.ty(), ty]));
    };
    let l = Operand::<Decimal128Type>::eval(left, input)?;
    let r = Operand::<Decimal128Type>::eval(right, input)?;
    let n = input.num_rows();
    let limit = pow10(p as u32).unsigned_abs();
    let overflow = |a: i128, b: i128| {
        Error::overflow(
            ty,
            format!(
                "{} {} {}",
                format_decimal(a, s1),
                op.symbol(),
                format_decimal(b, s2)
            ),
        )
    };
    let division = |a: i128, b: i128| {
        if b == 0 {
            Error::DivisionByZero
        } else {
            overflow(a, b)
        }
    };
    let out: PrimitiveArray<Decimal128Type> = match op {
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mod => {
            if s < s1 || s < s2 {
                return Err(operand_error(op.symbol(), &[left.ty(), right.ty(), ty]));
            }
            let (l, ml, pl) = prescale(l, pow10((s - s1) as u32));
            let (r, mr, pr) = prescale(r, pow10((s - s2) as u32));
            // The error closures see a prescaled constant as it was written.
            let overflow = |a: i128, b: i128| overflow(a / pl, b / pr);
            let division = |a: i128, b: i128| division(a / pl, b / pr);
            match op {
                BinaryOp::Add => rescaled(&l, &r, ml, mr, n, add(limit), overflow)?,
                BinaryOp::Sub => rescaled(&l, &r, ml, mr, n, sub(limit), overflow)?,
                _ => rescaled(&l, &r, ml, mr, n, rem(limit), division)?,
            }
        }
        BinaryOp::Mul => binary_flagged(
            &l,
            &r,
            n,
            |a: i128, b: i128| {
                let (v, o) = mul(a, b);
                (v, o | (v.unsigned_abs() >= limit))
            },
            overflow,
        )?,
        BinaryOp::Div => {
            // The result scale is at least s1, so the shift is not negative.
            let shift = (s as u32 + s2 as u32).saturating_sub(s1 as u32);
            let factor = (shift <= 38).then(|| pow10(shift));
            binary_flagged(&l, &r, n, |a, b| divide(a, b, factor, limit), division)?
        }
        _ => return Err(operand_error(op.symbol(), &[left.ty(), right.ty(), ty])),
    };
    Ok(Arc::new(out.with_precision_and_scale(p, s as i8)?))
}

/// Multiplies a constant operand by its rescaling factor up front when that cannot overflow;
/// returns the operand, the factor still to apply per row, and the factor already applied (by
/// which an error message divides the operand to show it as written).
fn prescale(op: Operand<Decimal128Type>, factor: i128) -> (Operand<Decimal128Type>, i128, i128) {
    match op {
        Operand::Const(v) if factor != 1 => match v.checked_mul(factor) {
            Some(scaled) => (Operand::Const(scaled), 1, factor),
            None => (Operand::Const(v), factor, 1),
        },
        other => (other, factor, 1),
    }
}

/// Applies `f` to operands multiplied by `ml` and `mr` (checked), specialized so that a factor
/// of 1 costs nothing. `err` sees the operands before scaling.
fn rescaled(
    l: &Operand<Decimal128Type>,
    r: &Operand<Decimal128Type>,
    ml: i128,
    mr: i128,
    n: usize,
    f: impl Fn(i128, i128) -> (i128, bool),
    err: impl Fn(i128, i128) -> Error,
) -> Result<PrimitiveArray<Decimal128Type>> {
    let scale = mul;
    match (ml == 1, mr == 1) {
        (true, true) => binary_flagged(l, r, n, f, err),
        (false, true) => binary_flagged(
            l,
            r,
            n,
            |a, b| {
                let (a, o) = scale(a, ml);
                let (v, o2) = f(a, b);
                (v, o | o2)
            },
            err,
        ),
        (true, false) => binary_flagged(
            l,
            r,
            n,
            |a, b| {
                let (b, o) = scale(b, mr);
                let (v, o2) = f(a, b);
                (v, o | o2)
            },
            err,
        ),
        (false, false) => binary_flagged(
            l,
            r,
            n,
            |a, b| {
                let (a, o1) = scale(a, ml);
                let (b, o2) = scale(b, mr);
                let (v, o3) = f(a, b);
                (v, o1 | o2 | o3)
            },
            err,
        ),
    }
}

/// `a * b` with an overflow flag. When both fit 64 bits the product is one widening multiply
/// that cannot overflow; `i128::overflowing_mul` is a library call.
#[inline]
pub(crate) fn mul(a: i128, b: i128) -> (i128, bool) {
    let (x, y) = (a as i64, b as i64);
    if x as i128 == a && y as i128 == b {
        ((x as i128) * (y as i128), false)
    } else {
        a.overflowing_mul(b)
    }
}

fn add(limit: u128) -> impl Fn(i128, i128) -> (i128, bool) {
    move |a, b| {
        let (v, o) = a.overflowing_add(b);
        (v, o | (v.unsigned_abs() >= limit))
    }
}

fn sub(limit: u128) -> impl Fn(i128, i128) -> (i128, bool) {
    move |a, b| {
        let (v, o) = a.overflowing_sub(b);
        (v, o | (v.unsigned_abs() >= limit))
    }
}

fn rem(limit: u128) -> impl Fn(i128, i128) -> (i128, bool) {
    move |a, b| {
        let zero = b == 0;
        let v = a.wrapping_rem(if zero { 1 } else { b });
        (v, zero | (v.unsigned_abs() >= limit))
    }
}

/// `a * factor / b` rounded half away from zero, flagged when `b` is zero, the numerator
/// overflows (`factor` is `None` when it exceeds `i128`: only `a = 0` fits), or the quotient
/// needs `limit` or more.
#[inline]
pub(crate) fn divide(a: i128, b: i128, factor: Option<i128>, limit: u128) -> (i128, bool) {
    let zero = b == 0;
    let d = if zero { 1 } else { b };
    let (num, o) = match factor {
        Some(f) => mul(a, f),
        None => (0, a != 0),
    };
    let (q, r) = match (i64::try_from(num), i64::try_from(d)) {
        // Most values fit 64 bits, where division is a machine instruction rather than a call
        // (`i64::MIN / -1` does not fit 64 bits: leave it to i128).
        (Ok(x), Ok(y)) if y != -1 => (x.wrapping_div(y) as i128, x.wrapping_rem(y) as i128),
        _ => (num.wrapping_div(d), num.wrapping_rem(d)),
    };
    let wrapped = num == i128::MIN && d == -1;
    let (ra, da) = (r.unsigned_abs(), d.unsigned_abs());
    let q = if ra >= da - ra {
        if (num < 0) != (d < 0) {
            q.wrapping_sub(1)
        } else {
            q.wrapping_add(1)
        }
    } else {
        q
    };
    (q, zero | o | wrapped | (q.unsigned_abs() >= limit))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Decimal128Array};

    use super::super::testutil::*;
    use super::*;

    fn decimals(values: Vec<Option<i128>>, p: u8, s: u8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(p, s as i8)
                .unwrap(),
        )
    }

    fn unscaled(a: &ArrayRef) -> Vec<Option<i128>> {
        a.as_any()
            .downcast_ref::<Decimal128Array>()
            .unwrap()
            .iter()
            .collect()
    }

    #[test]
    fn add_and_sub_rescale_to_the_larger_scale() {
        // 1.50 (15,2) + 2.125 (10,3) = 3.625 (17,3)
        let (a, b, batch) = two_columns(
            decimals(vec![Some(150), None, Some(-150)], 15, 2),
            decimals(vec![Some(2125), Some(1), Some(2125)], 10, 3),
        );
        let sum = bin(BinaryOp::Add, a.clone(), b.clone());
        assert_eq!(sum.ty(), SqlType::decimal(17, 3));
        let r = eval_on(&sum, &batch).unwrap();
        assert_eq!(
            r.data_type(),
            &arrow::datatypes::DataType::Decimal128(17, 3)
        );
        assert_eq!(unscaled(&r), vec![Some(3625), None, Some(625)]);
        let r = eval_on(&bin(BinaryOp::Sub, a, b), &batch).unwrap();
        assert_eq!(unscaled(&r), vec![Some(-625), None, Some(-3625)]);
    }

    #[test]
    fn literal_operands_are_rescaled_once() {
        // 1 - l_discount with 1 as DECIMAL(1,0)
        let (d, batch) = one_column(decimals(vec![Some(6), Some(10)], 15, 2));
        let one = lit_dec(1, 1, 0);
        let r = eval_on(&bin(BinaryOp::Sub, one, d), &batch).unwrap();
        assert_eq!(unscaled(&r), vec![Some(94), Some(90)]);
    }

    #[test]
    fn mul_keeps_raw_digits_and_div_rounds_half_away_from_zero() {
        let (a, b, batch) = two_columns(
            decimals(vec![Some(150), Some(-100), Some(200)], 5, 2),
            decimals(vec![Some(30), Some(30), Some(-30)], 3, 1),
        );
        let r = eval_on(&bin(BinaryOp::Mul, a.clone(), b.clone()), &batch).unwrap();
        assert_eq!(unscaled(&r), vec![Some(4500), Some(-3000), Some(-6000)]);
        // 1.50 / 3.0 = 0.500000; -1.00 / 3.0 = -0.333333; 2.00 / -3.0 = -0.666667
        let div = bin(BinaryOp::Div, a.clone(), b.clone());
        assert_eq!(div.ty(), SqlType::decimal(10, 6));
        let r = eval_on(&div, &batch).unwrap();
        assert_eq!(
            unscaled(&r),
            vec![Some(500_000), Some(-333_333), Some(-666_667)]
        );
        let r = eval_on(&bin(BinaryOp::Mod, a, b), &batch).unwrap();
        // 1.50 % 3.0 = 1.50; -1.00 % 3.0 = -1.00; 2.00 % -3.0 = 2.00
        assert_eq!(unscaled(&r), vec![Some(150), Some(-100), Some(200)]);
    }

    #[test]
    fn rounding_of_halves() {
        let (a, b, batch) = two_columns(
            decimals(vec![Some(1), Some(-1), Some(5)], 10, 0),
            decimals(vec![Some(8), Some(8), Some(3)], 10, 0),
        );
        // 1/8 = 0.125 at scale 6 stays; check half: 5/3 = 1.666667
        let r = eval_on(&bin(BinaryOp::Div, a, b), &batch).unwrap();
        assert_eq!(
            unscaled(&r),
            vec![Some(125_000), Some(-125_000), Some(1_666_667)]
        );
        assert_eq!(divide(1, 2_000_001, Some(1_000_000), u128::MAX), (0, false));
        assert_eq!(divide(1, 2_000_000, Some(1_000_000), u128::MAX), (1, false));
        assert_eq!(
            divide(-1, 2_000_000, Some(1_000_000), u128::MAX),
            (-1, false)
        );
        assert!(divide(1, 0, Some(1), u128::MAX).1);
        assert!(divide(i128::MIN, -1, Some(1), u128::MAX).1);
        assert!(divide(5, 1, None, u128::MAX).1);
        assert_eq!(
            divide(i64::MIN as i128, -1, Some(1), u128::MAX),
            (1 << 63, false)
        );
        assert_eq!(mul(i64::MIN as i128, i64::MIN as i128), (1 << 126, false));
        assert!(mul(1 << 64, 1 << 63).1);
        assert_eq!(mul(-(1 << 64), 3), (-(3 << 64), false));
        assert_eq!(divide(0, 7, None, u128::MAX), (0, false));
        assert_eq!(divide(-1, 2, Some(1), u128::MAX), (-1, false));
        assert_eq!(divide(1, -2, Some(1), u128::MAX), (-1, false));
        assert_eq!(divide(-3, -2, Some(1), u128::MAX), (2, false));
    }

    #[test]
    fn errors() {
        let (a, b, batch) = two_columns(
            decimals(vec![Some(100), Some(100)], 5, 2),
            decimals(vec![None, Some(0)], 5, 2),
        );
        for op in [BinaryOp::Div, BinaryOp::Mod] {
            let e = eval_on(&bin(op, a.clone(), b.clone()), &batch).unwrap_err();
            assert!(matches!(e, Error::DivisionByZero), "{e}");
            // The NULL divisor row alone does not fail.
            let r = eval_on(&bin(op, a.clone(), b.clone()), &batch.slice(0, 1)).unwrap();
            assert_eq!(r.null_count(), 1);
        }
        let big = 10i128.pow(37) * 9;
        let (x, y, batch) = two_columns(
            decimals(vec![Some(big)], 38, 0),
            decimals(vec![Some(big)], 38, 0),
        );
        let e = eval_on(&bin(BinaryOp::Add, x.clone(), y.clone()), &batch).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("DECIMAL(38,0) out of range: {big} + {big}")
        );
        let e = eval_on(&bin(BinaryOp::Mul, x.clone(), y.clone()), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
        // The numerator 9e37 * 10^6 overflows i128.
        let e = eval_on(&bin(BinaryOp::Div, x, y), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
    }

    #[test]
    fn errors_show_prescaled_constants_as_written() {
        // 1 (DECIMAL(1,0)) is rescaled to 1.00 once, up front; the message still says 1.
        let nines = 10i128.pow(38) - 1;
        let (x, batch) = one_column(decimals(vec![Some(nines)], 38, 2));
        let e = eval_on(&bin(BinaryOp::Add, x.clone(), lit_dec(1, 1, 0)), &batch).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "DECIMAL(38,2) out of range: {} + 1",
                format_decimal(nines, 2)
            )
        );
        let e = eval_on(&bin(BinaryOp::Sub, lit_dec(-1, 1, 0), x), &batch).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "DECIMAL(38,2) out of range: -1 - {}",
                format_decimal(nines, 2)
            )
        );
    }
}
