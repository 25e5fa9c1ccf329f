//! Arithmetic on integers and floats: `+ - * / %` and unary `-`.
//!
//! In: two operands of the same integer or float type (decimals go to [`super::decimal`]).
//! Out: an array of that type.
//!
//! Integers are checked (but for the wrapping `+% -% *%` of DataFusion's plans, which wrap
//! around): overflow is [`Error::Overflow`] (`INT_MIN / -1` included), `/`
//! truncates toward zero, `%` takes the sign of the dividend (`INT_MIN % -1` is 0, as in
//! PostgreSQL), and division or modulo by zero is [`Error::DivisionByZero`]. Floats follow IEEE
//! 754, except that dividing by zero (`0.0` or `-0.0`) is [`Error::DivisionByZero`] too.

use std::sync::Arc;

use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::datatypes::{ArrowPrimitiveType, Decimal128Type};

use super::decimal;
use super::eval;
use super::input::Input;
use super::kernel::{
    binary_flagged, downcast, unary_flagged, with_float_type, with_integer_type, FloatNative,
    IntNative, Operand,
};
use crate::error::{Error, Result};
use crate::ir::scalar::format_decimal;
use crate::ir::{BinaryOp, Expr, SqlType};

/// `left op right` for an arithmetic `op` whose result type is `ty`.
pub(crate) fn binary(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    ty: SqlType,
    input: &Input,
) -> Result<ArrayRef> {
    let (lt, rt) = (left.ty(), right.ty());
    if lt.is_decimal() && rt.is_decimal() {
        return decimal::binary(op, left, right, ty, input);
    }
    if lt != rt || lt != ty {
        return Err(operand_error(op.symbol(), &[lt, rt]));
    }
    with_integer_type!(ty, T => return integer_binary::<T>(op, left, right, ty, input), _ => {});
    with_float_type!(ty, T => return float_binary::<T>(op, left, right, input), _ => {});
    Err(operand_error(op.symbol(), &[lt, rt]))
}

/// An operand type that the `ir` constructors should have excluded.
pub(crate) fn operand_error(what: &str, types: &[SqlType]) -> Error {
    let types: Vec<String> = types.iter().map(SqlType::to_string).collect();
    Error::internal(format!(
        "the interpreter cannot evaluate {what} on ({})",
        types.join(", ")
    ))
}

fn integer_binary<T>(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    ty: SqlType,
    input: &Input,
) -> Result<ArrayRef>
where
    T: ArrowPrimitiveType,
    T::Native: IntNative,
{
    let l = Operand::<T>::eval(left, input)?;
    let r = Operand::<T>::eval(right, input)?;
    let n = input.num_rows();
    let overflow =
        |a: T::Native, b: T::Native| Error::overflow(ty, format!("{a} {} {b}", op.symbol()));
    let division = |a: T::Native, b: T::Native| {
        if b == T::Native::ZERO {
            Error::DivisionByZero
        } else {
            overflow(a, b)
        }
    };
    let out: PrimitiveArray<T> = match op {
        BinaryOp::Add => binary_flagged(&l, &r, n, |a, b| a.overflowing_add(b), overflow)?,
        BinaryOp::Sub => binary_flagged(&l, &r, n, |a, b| a.overflowing_sub(b), overflow)?,
        BinaryOp::Mul => binary_flagged(&l, &r, n, |a, b| a.overflowing_mul(b), overflow)?,
        BinaryOp::WrappingAdd => {
            binary_flagged(&l, &r, n, |a, b| wrapped(a.overflowing_add(b)), overflow)?
        }
        BinaryOp::WrappingSub => {
            binary_flagged(&l, &r, n, |a, b| wrapped(a.overflowing_sub(b)), overflow)?
        }
        BinaryOp::WrappingMul => {
            binary_flagged(&l, &r, n, |a, b| wrapped(a.overflowing_mul(b)), overflow)?
        }
        BinaryOp::Div => binary_flagged(
            &l,
            &r,
            n,
            |a, b| {
                let zero = b == T::Native::ZERO;
                let (q, o) = a.overflowing_div(if zero { T::Native::ONE } else { b });
                (q, zero | o)
            },
            division,
        )?,
        BinaryOp::Mod => binary_flagged(
            &l,
            &r,
            n,
            |a, b| {
                let zero = b == T::Native::ZERO;
                (a.wrapping_rem(if zero { T::Native::ONE } else { b }), zero)
            },
            division,
        )?,
        _ => return Err(operand_error(op.symbol(), &[ty, ty])),
    };
    Ok(Arc::new(out))
}

/// A wrapped result, which never fails.
fn wrapped<N>((value, _): (N, bool)) -> (N, bool) {
    (value, false)
}

fn float_binary<T>(op: BinaryOp, left: &Expr, right: &Expr, input: &Input) -> Result<ArrayRef>
where
    T: ArrowPrimitiveType,
    T::Native: FloatNative,
{
    let l = Operand::<T>::eval(left, input)?;
    let r = Operand::<T>::eval(right, input)?;
    let n = input.num_rows();
    let never = |_, _| Error::internal("a float operation that cannot fail failed");
    let by_zero = |_, _| Error::DivisionByZero;
    let zero = T::Native::ZERO;
    let out: PrimitiveArray<T> = match op {
        BinaryOp::Add => binary_flagged(&l, &r, n, |a, b| (a + b, false), never)?,
        BinaryOp::Sub => binary_flagged(&l, &r, n, |a, b| (a - b, false), never)?,
        BinaryOp::Mul => binary_flagged(&l, &r, n, |a, b| (a * b, false), never)?,
        BinaryOp::Div => binary_flagged(&l, &r, n, |a, b| (a / b, b == zero), by_zero)?,
        BinaryOp::Mod => binary_flagged(&l, &r, n, |a, b| (a % b, b == zero), by_zero)?,
        _ => {
            return Err(Error::internal(format!(
                "{} is not arithmetic",
                op.symbol()
            )))
        }
    };
    Ok(Arc::new(out))
}

/// Unary minus: checked for integers (`-INT_MIN` and `-x` for unsigned `x > 0` overflow).
pub(crate) fn negate(arg: &Expr, input: &Input) -> Result<ArrayRef> {
    let ty = arg.ty();
    let values = eval(arg, input)?;
    with_integer_type!(ty, T => {
        let a = downcast::<T>(&values)?;
        let out: PrimitiveArray<T> = unary_flagged(a, |x| x.overflowing_neg(), |x| {
            Error::overflow(ty, negation(x, x.is_negative()))
        })?;
        return Ok(Arc::new(out));
    }, _ => {});
    with_float_type!(ty, T => {
        let a = downcast::<T>(&values)?;
        return Ok(Arc::new(a.unary::<_, T>(|x| -x)));
    }, _ => {});
    if let SqlType::Decimal { precision, scale } = ty {
        let a = downcast::<Decimal128Type>(&values)?;
        let out: PrimitiveArray<Decimal128Type> = unary_flagged(
            a,
            |x: i128| 0i128.overflowing_sub(x),
            |x| Error::overflow(ty, negation(format_decimal(x, scale), x < 0)),
        )?;
        return Ok(Arc::new(
            out.with_precision_and_scale(precision, scale as i8)?,
        ));
    }
    Err(operand_error("unary -", &[ty]))
}

/// `-x` as SQL writes it: `-5`, but `-(-5)` rather than `--5` (which SQL reads as a comment).
fn negation(x: impl std::fmt::Display, negative: bool) -> String {
    if negative {
        format!("-({x})")
    } else {
        format!("-{x}")
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Float64Array, Int32Array, Int64Array, Int8Array, UInt8Array};

    use super::super::testutil::*;
    use super::*;

    fn int32(values: Vec<Option<i32>>) -> (Expr, arrow::record_batch::RecordBatch) {
        one_column(Arc::new(Int32Array::from(values)))
    }

    #[test]
    fn integer_arithmetic_truncates_and_keeps_the_dividend_sign() {
        let (x, batch) = int32(vec![Some(7), Some(-7), None, Some(0)]);
        let three = lit_i32(3);
        let run = |op| eval_on(&bin(op, x.clone(), three.clone()), &batch).unwrap();
        assert_int32(&run(BinaryOp::Add), &[Some(10), Some(-4), None, Some(3)]);
        assert_int32(&run(BinaryOp::Sub), &[Some(4), Some(-10), None, Some(-3)]);
        assert_int32(&run(BinaryOp::Mul), &[Some(21), Some(-21), None, Some(0)]);
        assert_int32(&run(BinaryOp::Div), &[Some(2), Some(-2), None, Some(0)]);
        assert_int32(&run(BinaryOp::Mod), &[Some(1), Some(-1), None, Some(0)]);
        let neg = eval_on(&Expr::unary(crate::ir::UnaryOp::Neg, x).unwrap(), &batch).unwrap();
        assert_int32(&neg, &[Some(-7), Some(7), None, Some(0)]);
    }

    #[test]
    fn wrapping_arithmetic_wraps_around_and_takes_only_integers() {
        let (x, batch) = int32(vec![Some(i32::MAX), Some(i32::MIN), None, Some(-7)]);
        let run = |op| eval_on(&bin(op, x.clone(), lit_i32(2)), &batch).unwrap();
        let wrap = |f: fn(i32, i32) -> i32| {
            [i32::MAX, i32::MIN, 0, -7]
                .map(|a| Some(f(a, 2)))
                .into_iter()
                .enumerate()
                .map(|(i, v)| if i == 2 { None } else { v })
                .collect::<Vec<_>>()
        };
        assert_int32(&run(BinaryOp::WrappingAdd), &wrap(i32::wrapping_add));
        assert_int32(&run(BinaryOp::WrappingSub), &wrap(i32::wrapping_sub));
        assert_int32(&run(BinaryOp::WrappingMul), &wrap(i32::wrapping_mul));
        let (u, batch) = one_column(Arc::new(UInt8Array::from(vec![1u8, 200])));
        let two = Expr::literal(crate::ir::Scalar::UInt(2), SqlType::UInt8).unwrap();
        let r = eval_on(&bin(BinaryOp::WrappingSub, u.clone(), two.clone()), &batch).unwrap();
        let r = r
            .as_any()
            .downcast_ref::<arrow::array::UInt8Array>()
            .unwrap();
        assert_eq!(r.values().to_vec(), vec![255u8, 198]);
        let r = eval_on(&bin(BinaryOp::WrappingMul, u, two), &batch).unwrap();
        let r = r
            .as_any()
            .downcast_ref::<arrow::array::UInt8Array>()
            .unwrap();
        assert_eq!(r.values().to_vec(), vec![2u8, 144]);
        // Integers only: qjit's decimals and floats have no wrapping form.
        let f = Expr::literal(crate::ir::Scalar::Float(1.5), SqlType::Float64).unwrap();
        assert!(Expr::binary(BinaryOp::WrappingAdd, f.clone(), f).is_err());
        let d = lit_dec(150, 3, 2);
        assert!(Expr::binary(BinaryOp::WrappingMul, d.clone(), d).is_err());
    }

    #[test]
    fn integer_overflow_is_an_error() {
        let (x, batch) = int32(vec![Some(i32::MAX)]);
        let e = eval_on(&bin(BinaryOp::Add, x.clone(), lit_i32(1)), &batch).unwrap_err();
        assert_eq!(e.to_string(), "INTEGER out of range: 2147483647 + 1");
        let (m, batch) = int32(vec![Some(i32::MIN)]);
        let e = eval_on(&bin(BinaryOp::Div, m.clone(), lit_i32(-1)), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
        let r = eval_on(&bin(BinaryOp::Mod, m.clone(), lit_i32(-1)), &batch).unwrap();
        assert_int32(&r, &[Some(0)]);
        let e = eval_on(&Expr::unary(crate::ir::UnaryOp::Neg, m).unwrap(), &batch).unwrap_err();
        assert_eq!(e.to_string(), "INTEGER out of range: -(-2147483648)");
        let (t, batch) = one_column(Arc::new(Int8Array::from(vec![100i8])));
        let e = eval_on(&bin(BinaryOp::Mul, t.clone(), t), &batch).unwrap_err();
        assert_eq!(e.to_string(), "TINYINT out of range: 100 * 100");
        let (u, batch) = one_column(Arc::new(UInt8Array::from(vec![1u8])));
        let two = Expr::literal(crate::ir::Scalar::UInt(2), SqlType::UInt8).unwrap();
        let e = eval_on(&bin(BinaryOp::Sub, u.clone(), two), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
        let e = eval_on(&Expr::unary(crate::ir::UnaryOp::Neg, u).unwrap(), &batch).unwrap_err();
        assert_eq!(e.to_string(), "UTINYINT out of range: -1");
    }

    #[test]
    fn division_by_zero_only_fails_on_valid_rows() {
        let schema_batch = two_columns(
            Arc::new(Int64Array::from(vec![Some(10), Some(10), None])),
            Arc::new(Int64Array::from(vec![Some(5), None, Some(0)])),
        );
        let (a, b, batch) = schema_batch;
        let r = eval_on(&bin(BinaryOp::Div, a.clone(), b.clone()), &batch).unwrap();
        assert_eq!(
            r.as_ref(),
            &Int64Array::from(vec![Some(2), None, None]) as &dyn arrow::array::Array
        );
        let (a2, b2, batch) = two_columns(
            Arc::new(Int64Array::from(vec![Some(10), Some(1)])),
            Arc::new(Int64Array::from(vec![Some(5), Some(0)])),
        );
        for op in [BinaryOp::Div, BinaryOp::Mod] {
            let e = eval_on(&bin(op, a2.clone(), b2.clone()), &batch).unwrap_err();
            assert!(matches!(e, Error::DivisionByZero), "{e}");
        }
        // An overflow hidden under a NULL is not an error either.
        let (a3, b3, batch) = two_columns(
            Arc::new(Int64Array::from(vec![Some(i64::MAX), Some(1)])),
            Arc::new(Int64Array::from(vec![None, Some(1)])),
        );
        let r = eval_on(&bin(BinaryOp::Add, a3, b3), &batch).unwrap();
        assert_eq!(
            r.as_ref(),
            &Int64Array::from(vec![None, Some(2)]) as &dyn arrow::array::Array
        );
    }

    #[test]
    fn float_division_by_zero_is_an_error() {
        let (x, batch) = one_column(Arc::new(Float64Array::from(vec![Some(1.0), None])));
        let half = eval_on(&bin(BinaryOp::Div, x.clone(), lit_f64(2.0)), &batch).unwrap();
        assert_eq!(
            half.as_ref(),
            &Float64Array::from(vec![Some(0.5), None]) as &dyn arrow::array::Array
        );
        for zero in [0.0, -0.0] {
            for op in [BinaryOp::Div, BinaryOp::Mod] {
                let e = eval_on(&bin(op, x.clone(), lit_f64(zero)), &batch).unwrap_err();
                assert!(matches!(e, Error::DivisionByZero), "{e}");
            }
        }
        let (y, batch) = one_column(Arc::new(Float64Array::from(vec![Some(7.5), Some(-7.5)])));
        let m = eval_on(&bin(BinaryOp::Mod, y, lit_f64(2.0)), &batch).unwrap();
        assert_eq!(
            m.as_ref(),
            &Float64Array::from(vec![1.5, -1.5]) as &dyn arrow::array::Array
        );
    }

    #[test]
    fn null_literal_operands_give_null() {
        let (x, batch) = int32(vec![Some(1), Some(0)]);
        let r = eval_on(
            &bin(BinaryOp::Div, lit_i32(1), Expr::null(SqlType::Int32)),
            &batch,
        )
        .unwrap();
        assert_int32(&r, &[None, None]);
        let r = eval_on(&bin(BinaryOp::Div, x, Expr::null(SqlType::Int32)), &batch).unwrap();
        assert_int32(&r, &[None, None]);
    }

    #[test]
    fn sliced_inputs_are_read_at_their_offset() {
        let (x, batch) = int32(vec![Some(1), Some(2), None, Some(4), Some(i32::MAX)]);
        let sliced = batch.slice(1, 3);
        let r = eval_on(&bin(BinaryOp::Add, x.clone(), x), &sliced).unwrap();
        assert_int32(&r, &[Some(4), None, Some(8)]);
    }
}
