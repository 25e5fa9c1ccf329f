//! Scalar functions ([`Func`]): `ABS`, `ROUND`, string functions (in [`super::strings`]),
//! `EXTRACT` and date arithmetic.
//!
//! In: the argument expressions, typed as the table on [`Func`] says. Out: an array of the
//! function's result type.
//!
//! * `ABS` is checked for signed integers (`ABS(INT_MIN)` overflows).
//! * `ROUND(x, d)` rounds integers and decimals half away from zero, floats half to even (as
//!   PostgreSQL's `round(double precision)`, which is C's `rint`: `ROUND(2.5) = 2`,
//!   `ROUND(-0.5) = -0`). Integers are unchanged for `d >= 0` and rounded to a multiple of `10^-d`
//!   otherwise (checked). Floats compute `(x * 10^d).round_ties_even() / 10^d` for `d >= 0` and
//!   `(x / 10^-d).round_ties_even() * 10^-d` for `d < 0`; when `10^|d|` is not a finite `f64`
//!   the value is returned unchanged (`d > 0`) or as zero (`d < 0`). Decimals rescale to the
//!   scale [`round_result`](crate::ir::round_result) gives, rounding; for `d < 0` they are rounded
//!   to a multiple of `10^-d` at scale 0.
//! * `EXTRACT(YEAR|MONTH|DAY FROM date)`; `date + n days` (checked), `date + n months` (the day
//!   clamped to the month's end), `date - date` in days (checked).

use std::sync::Arc;

use arrow::array::{ArrayRef, PrimitiveArray};
use arrow::datatypes::{ArrowPrimitiveType, Date32Type, Decimal128Type, Int32Type};

use super::arith::operand_error;
use super::eval;
use super::input::Input;
use super::kernel::{
    binary_flagged, binary_try, downcast, unary_flagged, with_float_type, with_integer_type,
    FloatNative, IntNative, Operand,
};
use super::strings;
use crate::error::{Error, Result};
use crate::ir::scalar::{add_months, div_pow10_round, fits_precision, format_date, pow10};
use crate::ir::{DatePart, Expr, Func, SqlType};

/// Evaluates `func(args)` with result type `ty`.
pub(crate) fn func(func: Func, args: &[Expr], ty: SqlType, input: &Input) -> Result<ArrayRef> {
    let types: Vec<SqlType> = args.iter().map(Expr::ty).collect();
    let wrong = || operand_error(&format!("{func:?}"), &types);
    match (func, args) {
        (Func::Abs, [x]) => abs(x, input),
        (Func::Sign | Func::Floor | Func::Ceil, [x]) => sign_floor_ceil(func, x, ty, input),
        (Func::Round { digits }, [x]) => round(x, digits, ty, input),
        (Func::Length, [s]) => strings::length(&eval(s, input)?),
        (Func::Upper, [s]) => strings::change_case(&eval(s, input)?, true),
        (Func::Lower, [s]) => strings::change_case(&eval(s, input)?, false),
        (Func::Substring, _) => strings::substring(args, input),
        (Func::Sqrt | Func::Ln | Func::Exp | Func::Power, _) => math(func, args, input),
        (Func::Replace, [s, from, to]) => {
            strings::replace(&eval(s, input)?, &eval(from, input)?, &eval(to, input)?)
        }
        (Func::Pad { left }, [s, n, fill]) => strings::pad(s, n, fill, left, input),
        (Func::StrPos, [s, sub]) => strings::strpos(&eval(s, input)?, &eval(sub, input)?),
        (Func::Trim { leading, trailing }, [s, chars]) => {
            strings::trim(&eval(s, input)?, &eval(chars, input)?, leading, trailing)
        }
        (Func::Extract(_), [x]) if x.ty().is_timestamp() => {
            super::time::func(func, args, ty, input)
        }
        (
            Func::DateTrunc(_)
            | Func::AddInterval(_)
            | Func::TimestampDiff
            | Func::Format(_)
            | Func::ToLocal(_)
            | Func::FromLocal(_)
            | Func::ZonedText(_)
            | Func::ParseZoned(..)
            | Func::DateTruncIn(..)
            | Func::FormatIn(..),
            _,
        ) => super::time::func(func, args, ty, input),
        (Func::Extract(part), [d]) => extract(part, d, input),
        (Func::DateAddDays, [d, n]) => {
            let (d, n) = date_operands::<Int32Type>(d, n, input)?;
            let out: PrimitiveArray<Date32Type> = binary_flagged(
                &d,
                &n,
                input.num_rows(),
                |a: i32, b: i32| a.overflowing_add(b),
                |a, b| Error::overflow("DATE", format!("{} + {b} days", format_date(a))),
            )?;
            Ok(Arc::new(out))
        }
        (Func::DateAddMonths, [d, n]) => {
            let (d, n) = date_operands::<Int32Type>(d, n, input)?;
            let out: PrimitiveArray<Date32Type> = binary_try(&d, &n, input.num_rows(), add_months)?;
            Ok(Arc::new(out))
        }
        (Func::DateDiffDays, [a, b]) => {
            let (a, b) = date_operands::<Date32Type>(a, b, input)?;
            let out: PrimitiveArray<Int32Type> = binary_flagged(
                &a,
                &b,
                input.num_rows(),
                |x: i32, y: i32| x.overflowing_sub(y),
                |x, y| {
                    Error::overflow(
                        "INTEGER",
                        format!("DATE '{}' - DATE '{}'", format_date(x), format_date(y)),
                    )
                },
            )?;
            Ok(Arc::new(out))
        }
        _ => Err(wrong()),
    }
}

fn date_operands<B: ArrowPrimitiveType>(
    date: &Expr,
    other: &Expr,
    input: &Input,
) -> Result<(Operand<Date32Type>, Operand<B>)> {
    Ok((
        Operand::<Date32Type>::eval(date, input)?,
        Operand::<B>::eval(other, input)?,
    ))
}

fn abs(x: &Expr, input: &Input) -> Result<ArrayRef> {
    let ty = x.ty();
    let values = eval(x, input)?;
    with_integer_type!(ty, T => {
        let a = downcast::<T>(&values)?;
        let out: PrimitiveArray<T> = unary_flagged(
            a,
            |v| if v.is_negative() { v.overflowing_neg() } else { (v, false) },
            |v| Error::overflow(ty, format!("ABS({v})")),
        )?;
        return Ok(Arc::new(out));
    }, _ => {});
    with_float_type!(ty, T => {
        let a = downcast::<T>(&values)?;
        return Ok(Arc::new(a.unary::<_, T>(FloatNative::abs)));
    }, _ => {});
    if let SqlType::Decimal { precision, scale } = ty {
        let a = downcast::<Decimal128Type>(&values)?;
        let out: PrimitiveArray<Decimal128Type> = unary_flagged(
            a,
            |v: i128| (v.wrapping_abs(), v == i128::MIN),
            |_| Error::overflow(ty, "ABS"),
        )?;
        return Ok(Arc::new(
            out.with_precision_and_scale(precision, scale as i8)?,
        ));
    }
    Err(operand_error("ABS", &[ty]))
}

/// `SIGN`, `FLOOR` or `CEIL` of a float or decimal `x`, of result type `ty`. A float's sign is
/// `1`, `-1` or `0` as C's comparisons give it (NaN and `-0.0` have sign `0`, as in PostgreSQL);
/// a decimal's floor and ceiling are integers at scale 0 (they cannot overflow their type).
fn sign_floor_ceil(func: Func, x: &Expr, ty: SqlType, input: &Input) -> Result<ArrayRef> {
    let arg_ty = x.ty();
    let values = eval(x, input)?;
    with_float_type!(arg_ty, T => {
        let a = downcast::<T>(&values)?;
        let out: PrimitiveArray<T> = match func {
            Func::Floor => a.unary(FloatNative::floor),
            Func::Ceil => a.unary(FloatNative::ceil),
            _ => a.unary(|v: <T as ArrowPrimitiveType>::Native| {
                let one = <<T as ArrowPrimitiveType>::Native as FloatNative>::from_f64(1.0);
                if v > FloatNative::ZERO {
                    one
                } else if v < FloatNative::ZERO {
                    -one
                } else {
                    FloatNative::ZERO
                }
            }),
        };
        return Ok(Arc::new(out));
    }, _ => {});
    if let (SqlType::Decimal { scale, .. }, SqlType::Decimal { precision, .. }) = (arg_ty, ty) {
        let a = downcast::<Decimal128Type>(&values)?;
        let unit = pow10(u32::from(scale));
        let out: PrimitiveArray<Decimal128Type> = a.unary(|v: i128| match func {
            Func::Floor => v.div_euclid(unit),
            Func::Ceil => -(-v).div_euclid(unit),
            _ => v.signum(),
        });
        return Ok(Arc::new(out.with_precision_and_scale(precision, 0)?));
    }
    Err(operand_error(&func.name(), &[arg_ty]))
}

/// `SQRT`, `LN`, `EXP` or `POWER` over `DOUBLE` arguments: Rust's `f64` functions (the ones
/// kernels call as runtime functions), after checking the domain errors in the order
/// [`Func::domain_errors`] gives, each over every row where the arguments are valid.
fn math(func: Func, args: &[Expr], input: &Input) -> Result<ArrayRef> {
    use arrow::datatypes::Float64Type;
    let n = input.num_rows();
    let x = Operand::<Float64Type>::eval(&args[0], input)?;
    let y = match args.get(1) {
        Some(y) => Some(Operand::<Float64Type>::eval(y, input)?),
        None => None,
    };
    let xs = float64_values(&x, n)?;
    let ys = y.as_ref().map(|y| float64_values(y, n)).transpose()?;
    let arg = |i: usize| -> Option<(f64, f64)> {
        let a = xs[i]?;
        match &ys {
            Some(ys) => ys[i].map(|b| (a, b)),
            None => Some((a, 0.0)),
        }
    };
    for (kind, message) in func.domain_errors().iter().enumerate() {
        let outside = |(a, b): (f64, f64)| match (func, kind) {
            (Func::Sqrt, _) => a < 0.0,
            (Func::Ln, 0) => a == 0.0,
            (Func::Ln, _) => a < 0.0,
            (Func::Power, 0) => a == 0.0 && b < 0.0,
            (Func::Power, _) => a < 0.0 && !b.is_nan() && b.floor() != b,
            _ => false,
        };
        if (0..n).any(|i| arg(i).is_some_and(outside)) {
            return Err(Error::InvalidArgument {
                message: (*message).into(),
            });
        }
    }
    let out: arrow::array::Float64Array = (0..n)
        .map(|i| {
            arg(i).map(|(a, b)| match func {
                Func::Sqrt => a.sqrt(),
                Func::Ln => a.ln(),
                Func::Exp => a.exp(),
                _ => a.powf(b),
            })
        })
        .collect();
    Ok(Arc::new(out))
}

/// The values of a `DOUBLE` operand, one per row (`None` for NULL).
fn float64_values(
    v: &Operand<arrow::datatypes::Float64Type>,
    n: usize,
) -> Result<Vec<Option<f64>>> {
    Ok(match v {
        Operand::Array(a) if a.len() == n => a.iter().collect(),
        Operand::Array(_) => return Err(Error::internal("an operand of a wrong length")),
        Operand::Const(c) => vec![Some(*c); n],
        Operand::Null => vec![None; n],
    })
}

fn round(x: &Expr, digits: i32, ty: SqlType, input: &Input) -> Result<ArrayRef> {
    let arg_ty = x.ty();
    let values = eval(x, input)?;
    let overflow = |v: &dyn std::fmt::Display| Error::overflow(ty, format!("ROUND({v}, {digits})"));
    with_integer_type!(arg_ty, T => {
        if digits >= 0 {
            return Ok(values);
        }
        let a = downcast::<T>(&values)?;
        let shift = digits.unsigned_abs();
        let out: PrimitiveArray<T> = unary_flagged(
            a,
            |v| {
                let rounded = if shift > 38 {
                    Some(0)
                } else {
                    div_pow10_round(v.to_i128(), shift).checked_mul(pow10(shift))
                };
                match rounded.and_then(<T as ArrowPrimitiveType>::Native::from_i128) {
                    Some(r) => (r, false),
                    None => (IntNative::ZERO, true),
                }
            },
            |v| overflow(&v),
        )?;
        return Ok(Arc::new(out));
    }, _ => {});
    with_float_type!(arg_ty, T => {
        let a = downcast::<T>(&values)?;
        let out = a.unary::<_, T>(|v| FloatNative::from_f64(round_float(v.to_f64(), digits)));
        return Ok(Arc::new(out));
    }, _ => {});
    let (Some((_, scale)), Some((precision, to_scale))) =
        (arg_ty.decimal_parts(), ty.decimal_parts())
    else {
        return Err(operand_error("ROUND", &[arg_ty]));
    };
    if digits >= scale as i32 {
        return Ok(values);
    }
    let a = downcast::<Decimal128Type>(&values)?;
    // Drop `scale - digits` digits; for negative digits, scale the result back up by `-digits`.
    let drop = (scale as i64 - digits as i64) as u32;
    let up = (-digits).max(0) as u32;
    let out: PrimitiveArray<Decimal128Type> = unary_flagged(
        a,
        |v: i128| {
            let q = div_pow10_round(v, drop);
            let r = if up == 0 {
                Some(q)
            } else if q == 0 {
                Some(0)
            } else if up > 38 {
                None
            } else {
                q.checked_mul(pow10(up))
            };
            match r {
                Some(r) => (r, !fits_precision(r, precision)),
                None => (0, true),
            }
        },
        |v| overflow(&crate::ir::scalar::format_decimal(v, scale)),
    )?;
    Ok(Arc::new(
        out.with_precision_and_scale(precision, to_scale as i8)?,
    ))
}

/// Rounds a float to `digits` decimal places, half to even (PostgreSQL's `rint`).
pub(crate) fn round_float(x: f64, digits: i32) -> f64 {
    if digits >= 0 {
        let p = 10f64.powi(digits);
        if !p.is_finite() {
            return x;
        }
        let y = (x * p).round_ties_even() / p;
        if y.is_finite() {
            y
        } else {
            x
        }
    } else {
        let p = 10f64.powi(-digits);
        if !p.is_finite() {
            return if x.is_nan() { x } else { 0.0 * x.signum() };
        }
        (x / p).round_ties_even() * p
    }
}

fn extract(part: DatePart, date: &Expr, input: &Input) -> Result<ArrayRef> {
    let values = eval(date, input)?;
    let a = downcast::<Date32Type>(&values)?;
    // A Date32 year is within ±5.9 million: every part fits an INTEGER.
    let out = a.unary::<_, Int32Type>(|d| part.of_days(d as i64) as i32);
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Array, AsArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    };

    use super::super::testutil::*;
    use super::*;

    fn f(func: Func, args: Vec<Expr>) -> Expr {
        Expr::func(func, args).unwrap()
    }

    #[test]
    fn abs_is_checked() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![Some(-3), None, Some(4)])));
        assert_int32(
            &eval_on(&f(Func::Abs, vec![x]), &batch).unwrap(),
            &[Some(3), None, Some(4)],
        );
        let (m, batch) = one_column(Arc::new(Int32Array::from(vec![i32::MIN])));
        let e = eval_on(&f(Func::Abs, vec![m]), &batch).unwrap_err();
        assert_eq!(e.to_string(), "INTEGER out of range: ABS(-2147483648)");
        let (d, batch) = one_column(Arc::new(
            Decimal128Array::from(vec![-150])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        ));
        let r = eval_on(&f(Func::Abs, vec![d]), &batch).unwrap();
        assert_eq!(r.as_primitive::<Decimal128Type>().value(0), 150);
        assert_eq!(r.data_type(), &arrow::datatypes::DataType::Decimal128(5, 2));
    }

    #[test]
    fn round_every_type() {
        let (x, batch) = one_column(Arc::new(Int64Array::from(vec![
            Some(1250),
            Some(-1250),
            Some(1249),
            None,
        ])));
        let r = eval_on(&f(Func::Round { digits: -2 }, vec![x.clone()]), &batch).unwrap();
        assert_eq!(
            r.as_ref(),
            &Int64Array::from(vec![Some(1300), Some(-1300), Some(1200), None]) as &dyn Array
        );
        let r = eval_on(&f(Func::Round { digits: 2 }, vec![x]), &batch).unwrap();
        assert_eq!(
            r.as_primitive::<arrow::datatypes::Int64Type>().value(0),
            1250
        );
        let (big, batch) = one_column(Arc::new(Int64Array::from(vec![i64::MAX])));
        let e = eval_on(&f(Func::Round { digits: -1 }, vec![big.clone()]), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let e = eval_on(&f(Func::Round { digits: -19 }, vec![big.clone()]), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let r = eval_on(&f(Func::Round { digits: -40 }, vec![big]), &batch).unwrap();
        assert_eq!(r.as_primitive::<arrow::datatypes::Int64Type>().value(0), 0);

        let (y, batch) = one_column(Arc::new(Float64Array::from(vec![2.5, -2.5, 1.25, 1234.5])));
        let r = eval_on(&f(Func::Round { digits: 0 }, vec![y.clone()]), &batch).unwrap();
        assert_eq!(
            r.as_ref(),
            &Float64Array::from(vec![2.0, -2.0, 1.0, 1234.0]) as &dyn Array
        );
        let r = eval_on(&f(Func::Round { digits: -2 }, vec![y.clone()]), &batch).unwrap();
        assert_eq!(
            r.as_ref(),
            &Float64Array::from(vec![0.0, -0.0, 0.0, 1200.0]) as &dyn Array
        );
        assert_eq!(round_float(1.5, 400), 1.5);
        assert_eq!(round_float(123.0, -400), 0.0);

        let (d, batch) = one_column(Arc::new(
            Decimal128Array::from(vec![Some(12345), Some(-12355), Some(99999), None])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        ));
        let e = f(Func::Round { digits: 1 }, vec![d.clone()]);
        assert_eq!(e.ty(), SqlType::decimal(5, 1));
        let r = eval_on(&e, &batch).unwrap();
        assert_eq!(
            r.as_primitive::<Decimal128Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(1235), Some(-1236), Some(10000), None]
        );
        let e = f(Func::Round { digits: -1 }, vec![d.clone()]);
        assert_eq!(e.ty(), SqlType::decimal(4, 0));
        let r = eval_on(&e, &batch).unwrap();
        assert_eq!(
            r.as_primitive::<Decimal128Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(120), Some(-120), Some(1000), None]
        );
        let same = f(Func::Round { digits: 3 }, vec![d]);
        assert_eq!(
            eval_on(&same, &batch)
                .unwrap()
                .as_primitive::<Decimal128Type>()
                .value(0),
            12345
        );
    }

    #[test]
    fn round_floats_half_to_even() {
        // PostgreSQL's round(double precision) is rint: ties go to the even neighbour.
        let (y, batch) = one_column(Arc::new(Float64Array::from(vec![
            0.5, 1.5, 2.5, -2.5, -0.5, 0.49,
        ])));
        let r = eval_on(&f(Func::Round { digits: 0 }, vec![y]), &batch).unwrap();
        let r = r.as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(r.values().to_vec(), vec![0.0, 2.0, 2.0, -2.0, -0.0, 0.0]);
        assert!(r.value(4).is_sign_negative());
        // 0.125 * 100 = 12.5 exactly; 25 / 10 = 2.5 exactly.
        assert_eq!(round_float(0.125, 2), 0.12);
        assert_eq!(round_float(0.375, 2), 0.38);
        assert_eq!(round_float(25.0, -1), 20.0);
        assert_eq!(round_float(35.0, -1), 40.0);
        let (g, batch) = one_column(Arc::new(arrow::array::Float32Array::from(vec![
            2.5f32, 3.5,
        ])));
        let r = eval_on(&f(Func::Round { digits: 0 }, vec![g]), &batch).unwrap();
        assert_eq!(
            r.as_ref(),
            &arrow::array::Float32Array::from(vec![2.0f32, 4.0]) as &dyn Array
        );
        // Integers and decimals still round half away from zero.
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![25, -25, 35])));
        let r = eval_on(&f(Func::Round { digits: -1 }, vec![x]), &batch).unwrap();
        assert_int32(&r, &[Some(30), Some(-30), Some(40)]);
        let (d, batch) = one_column(Arc::new(
            Decimal128Array::from(vec![25, -25])
                .with_precision_and_scale(3, 1)
                .unwrap(),
        ));
        let r = eval_on(&f(Func::Round { digits: 0 }, vec![d]), &batch).unwrap();
        assert_eq!(
            r.as_primitive::<Decimal128Type>().values().to_vec(),
            vec![3, -3]
        );
    }

    #[test]
    fn dates() {
        let days = |s: &str| crate::ir::scalar::parse_date(s).unwrap();
        let (d, batch) = one_column(Arc::new(Date32Array::from(vec![
            Some(days("2024-01-31")),
            None,
            Some(days("1998-12-01")),
        ])));
        let year = eval_on(&f(Func::Extract(DatePart::Year), vec![d.clone()]), &batch).unwrap();
        assert_int32(&year, &[Some(2024), None, Some(1998)]);
        let month = eval_on(&f(Func::Extract(DatePart::Month), vec![d.clone()]), &batch).unwrap();
        assert_int32(&month, &[Some(1), None, Some(12)]);
        let day = eval_on(&f(Func::Extract(DatePart::Day), vec![d.clone()]), &batch).unwrap();
        assert_int32(&day, &[Some(31), None, Some(1)]);
        let plus = eval_on(&f(Func::DateAddMonths, vec![d.clone(), lit_i32(1)]), &batch).unwrap();
        assert_eq!(
            plus.as_ref(),
            &Date32Array::from(vec![
                Some(days("2024-02-29")),
                None,
                Some(days("1999-01-01"))
            ]) as &dyn Array
        );
        let plus = eval_on(&f(Func::DateAddDays, vec![d.clone(), lit_i32(-1)]), &batch).unwrap();
        assert_eq!(
            plus.as_ref(),
            &Date32Array::from(vec![
                Some(days("2024-01-30")),
                None,
                Some(days("1998-11-30"))
            ]) as &dyn Array
        );
        let diff = eval_on(
            &f(
                Func::DateDiffDays,
                vec![
                    d.clone(),
                    Expr::literal(crate::ir::Scalar::Date(days("1998-11-30")), SqlType::Date)
                        .unwrap(),
                ],
            ),
            &batch,
        )
        .unwrap();
        assert_int32(&diff, &[Some(9193), None, Some(1)]);
        let (m, batch) = one_column(Arc::new(Date32Array::from(vec![i32::MAX])));
        let e = eval_on(&f(Func::DateAddDays, vec![m.clone(), lit_i32(1)]), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let e = eval_on(&f(Func::DateAddMonths, vec![m.clone(), lit_i32(1)]), &batch).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let e = eval_on(
            &f(
                Func::DateDiffDays,
                vec![
                    m,
                    Expr::literal(crate::ir::Scalar::Date(-5), SqlType::Date).unwrap(),
                ],
            ),
            &batch,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
    }
}
