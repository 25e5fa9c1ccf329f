//! `CAST(x AS t)` for every conversion [`can_cast`](crate::ir::can_cast) admits.
//!
//! In: an array of the source type. Out: an array of the target type; NULL stays NULL and a NULL
//! of type `NULL` becomes a NULL of any type. Failures are raised for valid rows only.
//!
//! | from → to | rule | fails with [`Error::Overflow`] when |
//! |---|---|---|
//! | integer → integer | exact | out of range |
//! | float → integer | round half to even (`round_ties_even`, PostgreSQL's `rint`) | out of range, NaN, ±inf |
//! | decimal → integer | round half away from zero | out of range |
//! | integer, decimal → decimal | rescale, rounding half away from zero if the scale shrinks | too many digits |
//! | float → decimal | the float's shortest round-trip digits (`0.1`, `1.005`) read exactly, then rounded to `s` places half away from zero ([`crate::ir::convert`]) | NaN, ±inf, too many digits |
//! | integer → float | nearest (one rounding) | — |
//! | decimal → float | nearest to the exact decimal value (one rounding, straight to `f32` for `REAL`; [`crate::ir::convert`]) | — |
//! | float → float | `as` | — |
//! | boolean ↔ integer | `1`/`0`; nonzero is true | — |
//!
//! To `VARCHAR` (never fails): integers in decimal; decimals with exactly `s` digits after the
//! point ([`format_decimal`]); floats with Rust's `Display` for `f64`/`f32` (`1.5`, `1`, `NaN`,
//! `inf`, `-inf`, `100000000000000000000`: no exponent); dates `YYYY-MM-DD`; booleans
//! `true`/`false`.
//!
//! From `VARCHAR`, after trimming surrounding white space: integers `[+-]digits`; decimals as
//! [`parse_decimal`] reads them, then rescaled to the target scale with rounding; floats with
//! Rust's `str::parse` (`f32` directly for `REAL`; `inf`, `NaN` accepted); dates [`parse_date`];
//! booleans `t true yes y on 1` / `f false no n off 0` in any case. Text of another shape is
//! [`Error::InvalidCast`]; a well-formed number out of range is [`Error::Overflow`].

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, PrimitiveArray};
use arrow::buffer::{BooleanBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowPrimitiveType, Date32Type, Decimal128Type};

use super::arith::operand_error;
use super::as_boolean;
use super::eval;
use super::input::Input;
use super::kernel::{
    downcast, unary_flagged, with_float_type, with_integer_type, FloatNative, IntNative,
};
use super::strings::{build_strings, StrArray};
use crate::error::{Error, Result};
use crate::ir::convert::{float_to_decimal, parse_float, write_float};
use crate::ir::scalar::{
    fits_precision, format_date, format_decimal, parse_date, parse_decimal, pow10, rescale,
};
use crate::ir::{Expr, SqlType};

/// `CAST(arg AS to)`.
pub(crate) fn cast(arg: &Expr, to: SqlType, input: &Input) -> Result<ArrayRef> {
    let values = eval(arg, input)?;
    cast_array(&values, arg.ty(), to)
}

/// Converts `values` of SQL type `from` to `to`.
pub(crate) fn cast_array(values: &ArrayRef, from: SqlType, to: SqlType) -> Result<ArrayRef> {
    if from == to {
        return Ok(values.clone());
    }
    if from == SqlType::Null {
        return Ok(new_null_array(&to.to_arrow(), values.len()));
    }
    if let Some(done) = super::time::cast(values, from, to)? {
        return Ok(done);
    }
    if to == SqlType::Utf8 {
        return to_text(values, from);
    }
    if from == SqlType::Utf8 {
        return from_text(values, to);
    }
    with_integer_type!(from, I => return from_integer::<I>(values, to), _ => {});
    with_float_type!(from, F => return from_float::<F>(values, to), _ => {});
    match from {
        SqlType::Decimal { scale, .. } => from_decimal(values, scale, to),
        SqlType::Boolean => {
            let b = as_boolean(values)?;
            with_integer_type!(to, O => {
                let v: Vec<<O as ArrowPrimitiveType>::Native> = b
                    .values()
                    .iter()
                    .map(|x| if x { IntNative::ONE } else { IntNative::ZERO })
                    .collect();
                Ok(Arc::new(PrimitiveArray::<O>::new(ScalarBuffer::from(v), b.nulls().cloned())))
            }, _ => Err(operand_error("CAST", &[from, to])))
        }
        _ => Err(operand_error("CAST", &[from, to])),
    }
}

/// The overflow error of a cast.
fn out_of_range(value: impl std::fmt::Display, to: SqlType) -> Error {
    Error::overflow(to, format!("CAST({value} AS {to})"))
}

fn from_integer<I>(values: &ArrayRef, to: SqlType) -> Result<ArrayRef>
where
    I: ArrowPrimitiveType,
    I::Native: IntNative,
{
    let a = downcast::<I>(values)?;
    with_integer_type!(to, O => {
        let out: PrimitiveArray<O> = unary_flagged(
            a,
            |x| match <O as ArrowPrimitiveType>::Native::from_i128(x.to_i128()) {
                Some(v) => (v, false),
                None => (IntNative::ZERO, true),
            },
            |x| out_of_range(x, to),
        )?;
        return Ok(Arc::new(out));
    }, _ => {});
    with_float_type!(to, O => {
        let out = a.unary::<_, O>(|x| FloatNative::from_i128(x.to_i128()));
        return Ok(Arc::new(out));
    }, _ => {});
    match to {
        SqlType::Decimal { precision, scale } => {
            let factor = pow10(scale as u32);
            let out: PrimitiveArray<Decimal128Type> = unary_flagged(
                a,
                |x| {
                    let (v, o) = x.to_i128().overflowing_mul(factor);
                    (v, o || !fits_precision(v, precision))
                },
                |x| out_of_range(x, to),
            )?;
            Ok(Arc::new(
                out.with_precision_and_scale(precision, scale as i8)?,
            ))
        }
        SqlType::Boolean => {
            let zero = I::Native::ZERO;
            let bits = BooleanBuffer::collect_bool(a.len(), |i| a.values()[i] != zero);
            Ok(Arc::new(BooleanArray::new(bits, a.nulls().cloned())))
        }
        _ => Err(operand_error("CAST", &[SqlType::Int64, to])),
    }
}

fn from_float<F>(values: &ArrayRef, to: SqlType) -> Result<ArrayRef>
where
    F: ArrowPrimitiveType,
    F::Native: FloatNative,
{
    let a = downcast::<F>(values)?;
    with_integer_type!(to, O => {
        type N = <O as ArrowPrimitiveType>::Native;
        let lo = N::MIN.to_i128() as f64;
        let hi = (N::MAX.to_i128() + 1) as f64;
        let out: PrimitiveArray<O> = unary_flagged(
            a,
            |x| {
                let r = x.to_f64().round_ties_even();
                if r >= lo && r < hi {
                    (N::from_i128(r as i128).unwrap_or(N::ZERO), false)
                } else {
                    (N::ZERO, true)
                }
            },
            |x| out_of_range(x, to),
        )?;
        return Ok(Arc::new(out));
    }, _ => {});
    with_float_type!(to, O => {
        let out = a.unary::<_, O>(|x| FloatNative::from_f64(x.to_f64()));
        return Ok(Arc::new(out));
    }, _ => {});
    match to {
        SqlType::Decimal { precision, scale } => {
            let out: PrimitiveArray<Decimal128Type> = unary_flagged(
                a,
                |x| match float_to_decimal(x, x.to_f64().is_finite(), scale, precision) {
                    Some(v) => (v, false),
                    None => (0, true),
                },
                |x| out_of_range(x, to),
            )?;
            Ok(Arc::new(
                out.with_precision_and_scale(precision, scale as i8)?,
            ))
        }
        _ => Err(operand_error("CAST", &[SqlType::Float64, to])),
    }
}

fn from_decimal(values: &ArrayRef, scale: u8, to: SqlType) -> Result<ArrayRef> {
    let a = downcast::<Decimal128Type>(values)?;
    let shown = |v: i128| format_decimal(v, scale);
    with_integer_type!(to, O => {
        let out: PrimitiveArray<O> = unary_flagged(
            a,
            |v| match <O as ArrowPrimitiveType>::Native::from_i128(
                crate::ir::scalar::div_pow10_round(v, scale as u32),
            ) {
                Some(x) => (x, false),
                None => (IntNative::ZERO, true),
            },
            |v| out_of_range(shown(v), to),
        )?;
        return Ok(Arc::new(out));
    }, _ => {});
    with_float_type!(to, O => {
        let out = a.unary::<_, O>(|v| FloatNative::from_decimal(v, scale));
        return Ok(Arc::new(out));
    }, _ => {});
    match to {
        SqlType::Decimal {
            precision,
            scale: to_scale,
        } => {
            let out: PrimitiveArray<Decimal128Type> = unary_flagged(
                a,
                |v| match rescale(v, scale, to_scale) {
                    Some(x) => (x, !fits_precision(x, precision)),
                    None => (0, true),
                },
                |v| out_of_range(shown(v), to),
            )?;
            Ok(Arc::new(
                out.with_precision_and_scale(precision, to_scale as i8)?,
            ))
        }
        _ => Err(operand_error(
            "CAST",
            &[SqlType::decimal(38, scale as u32), to],
        )),
    }
}

/// Formats every valid value with `f`.
fn format_primitive<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    mut f: impl FnMut(T::Native, &mut String),
) -> Result<ArrayRef> {
    let out = build_strings(a.len(), a.len() * 8, |i, buf| {
        if a.is_valid(i) {
            f(a.value(i), buf);
            Ok(true)
        } else {
            Ok(false)
        }
    })?;
    Ok(Arc::new(out))
}

fn to_text(values: &ArrayRef, from: SqlType) -> Result<ArrayRef> {
    with_integer_type!(from, T => {
        let a = downcast::<T>(values)?;
        return format_primitive(a, |x, buf| {
            let _ = write!(buf, "{x}");
        });
    }, _ => {});
    with_float_type!(from, T => {
        let a = downcast::<T>(values)?;
        return format_primitive(a, |x, buf| {
            let _ = write_float(x, buf);
        });
    }, _ => {});
    match from {
        SqlType::Decimal { scale, .. } => {
            let a = downcast::<Decimal128Type>(values)?;
            format_primitive(a, |v, buf| buf.push_str(&format_decimal(v, scale)))
        }
        SqlType::Date => {
            let a = downcast::<Date32Type>(values)?;
            format_primitive(a, |d, buf| buf.push_str(&format_date(d)))
        }
        SqlType::Boolean => {
            let b = as_boolean(values)?;
            let texts: Vec<Option<&str>> = b
                .iter()
                .map(|v| v.map(|x| if x { "true" } else { "false" }))
                .collect();
            Ok(Arc::new(arrow::array::StringArray::from(texts)))
        }
        _ => Err(operand_error("CAST", &[from, SqlType::Utf8])),
    }
}

/// Parses every valid string with `parse`; NULL stays NULL.
fn parse_strings<T: ArrowPrimitiveType>(
    s: &StrArray<'_>,
    parse: impl Fn(&str) -> Result<T::Native>,
) -> Result<PrimitiveArray<T>> {
    let mut values = vec![T::Native::default(); s.len()];
    for (i, v) in values.iter_mut().enumerate() {
        if let Some(text) = s.get(i) {
            *v = parse(text)?;
        }
    }
    Ok(PrimitiveArray::new(
        ScalarBuffer::from(values),
        s.nulls().cloned(),
    ))
}

fn invalid(text: &str, to: SqlType) -> Error {
    Error::InvalidCast {
        value: text.to_string(),
        ty: to.to_string(),
    }
}

/// An optionally signed run of ASCII digits, as `i128`; `Err(true)` if it overflows `i128`,
/// `Err(false)` if it is not an integer.
fn parse_integer(text: &str) -> std::result::Result<i128, bool> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(false);
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        let d = (b - b'0') as i128;
        v = v
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or(true)?;
    }
    Ok(v)
}

fn from_text(values: &ArrayRef, to: SqlType) -> Result<ArrayRef> {
    let s = StrArray::new(values.as_ref())?;
    with_integer_type!(to, O => {
        let out = parse_strings::<O>(&s, |text| {
            let t = text.trim();
            match parse_integer(t) {
                Ok(v) => <O as ArrowPrimitiveType>::Native::from_i128(v)
                    .ok_or_else(|| out_of_range(format!("'{t}'"), to)),
                Err(true) => Err(out_of_range(format!("'{t}'"), to)),
                Err(false) => Err(invalid(text, to)),
            }
        })?;
        return Ok(Arc::new(out));
    }, _ => {});
    if to == SqlType::Float32 {
        let out = parse_strings::<arrow::datatypes::Float32Type>(&s, |text| {
            parse_float::<f32>(text).ok_or_else(|| invalid(text, to))
        })?;
        return Ok(Arc::new(out));
    }
    if to == SqlType::Float64 {
        let out = parse_strings::<arrow::datatypes::Float64Type>(&s, |text| {
            parse_float::<f64>(text).ok_or_else(|| invalid(text, to))
        })?;
        return Ok(Arc::new(out));
    }
    match to {
        SqlType::Decimal { precision, scale } => {
            let out = parse_strings::<Decimal128Type>(&s, |text| {
                let t = text.trim();
                let Some((v, from_scale)) = parse_decimal(t) else {
                    // A number that is too long for a decimal overflows; anything else is
                    // not a number.
                    return Err(match t.parse::<f64>() {
                        Ok(f) if f.is_finite() => out_of_range(format!("'{t}'"), to),
                        _ => invalid(text, to),
                    });
                };
                rescale(v, from_scale, scale)
                    .filter(|x| fits_precision(*x, precision))
                    .ok_or_else(|| out_of_range(format!("'{t}'"), to))
            })?;
            Ok(Arc::new(
                out.with_precision_and_scale(precision, scale as i8)?,
            ))
        }
        SqlType::Timestamp { .. } => super::time::parse(&s, to),
        SqlType::Date => {
            let out = parse_strings::<Date32Type>(&s, |text| {
                parse_date(text).ok_or_else(|| invalid(text, to))
            })?;
            Ok(Arc::new(out))
        }
        SqlType::Boolean => {
            let mut bits = vec![false; s.len()];
            for (i, bit) in bits.iter_mut().enumerate() {
                if let Some(text) = s.get(i) {
                    *bit = parse_bool(text).ok_or_else(|| invalid(text, to))?;
                }
            }
            Ok(Arc::new(BooleanArray::new(
                BooleanBuffer::from(bits),
                s.nulls().cloned(),
            )))
        }
        _ => Err(operand_error("CAST", &[SqlType::Utf8, to])),
    }
}

/// PostgreSQL's boolean words, case-insensitive, surrounding white space ignored.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "yes" | "y" | "on" | "1" => Some(true),
        "f" | "false" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        AsArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array, Int32Array,
        Int64Array, StringArray, UInt8Array,
    };

    use super::super::testutil::*;
    use super::*;

    fn run(values: ArrayRef, to: SqlType) -> Result<ArrayRef> {
        let (x, batch) = one_column(values);
        eval_on(&Expr::cast(x, to).unwrap(), &batch)
    }

    fn dec(p: u8, s: u8) -> SqlType {
        SqlType::Decimal {
            precision: p,
            scale: s,
        }
    }

    fn unscaled(a: &ArrayRef) -> Vec<Option<i128>> {
        a.as_primitive::<Decimal128Type>().iter().collect()
    }

    #[test]
    fn integer_casts_are_range_checked() {
        let r = run(
            Arc::new(Int32Array::from(vec![Some(300), None])),
            SqlType::Int64,
        )
        .unwrap();
        assert_eq!(
            r.as_ref(),
            &Int64Array::from(vec![Some(300), None]) as &dyn Array
        );
        let e = run(Arc::new(Int32Array::from(vec![300])), SqlType::UInt8).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UTINYINT out of range: CAST(300 AS UTINYINT)"
        );
        let e = run(Arc::new(Int32Array::from(vec![-1])), SqlType::UInt32).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        // Not raised under NULL: the slot's value is garbage.
        let arr = Int32Array::new(vec![70_000, 1].into(), Some(vec![false, true].into()));
        let r = run(Arc::new(arr), SqlType::Int16).unwrap();
        assert_eq!(
            r.as_ref(),
            &Int16Array::from(vec![None, Some(1)]) as &dyn Array
        );
        let b = run(
            Arc::new(Int32Array::from(vec![Some(0), Some(-3), None])),
            SqlType::Boolean,
        );
        assert_eq!(bools(&b.unwrap()), vec![Some(false), Some(true), None]);
        let i = run(
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
            SqlType::UInt8,
        )
        .unwrap();
        assert_eq!(
            i.as_ref(),
            &UInt8Array::from(vec![Some(1), Some(0), None]) as &dyn Array
        );
    }

    #[test]
    fn float_to_integer_rounds_half_to_even() {
        let r = run(
            Arc::new(Float64Array::from(vec![0.5, 1.5, 2.5, -2.5, -0.4])),
            SqlType::Int32,
        )
        .unwrap();
        assert_int32(&r, &[Some(0), Some(2), Some(2), Some(-2), Some(0)]);
        for bad in [f64::NAN, f64::INFINITY, 3e9, 9.3e18] {
            let e = run(Arc::new(Float64Array::from(vec![bad])), SqlType::Int32).unwrap_err();
            assert!(matches!(e, Error::Overflow { .. }), "{bad}: {e}");
        }
        let e = run(Arc::new(Float64Array::from(vec![9.3e18])), SqlType::Int64).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let r = run(Arc::new(Float64Array::from(vec![-9.2e18])), SqlType::Int64).unwrap();
        assert_eq!(
            r.as_primitive::<arrow::datatypes::Int64Type>().value(0),
            -9_200_000_000_000_000_000
        );
    }

    #[test]
    fn decimal_casts_round_half_away_from_zero() {
        let d = Arc::new(
            Decimal128Array::from(vec![Some(125), Some(-125), Some(124), None])
                .with_precision_and_scale(5, 2)
                .unwrap(),
        );
        let r = run(d.clone(), SqlType::Int32).unwrap();
        assert_int32(&r, &[Some(1), Some(-1), Some(1), None]);
        let r = run(d.clone(), dec(4, 1)).unwrap();
        assert_eq!(unscaled(&r), vec![Some(13), Some(-13), Some(12), None]);
        let r = run(d.clone(), dec(6, 3)).unwrap();
        assert_eq!(
            unscaled(&r),
            vec![Some(1250), Some(-1250), Some(1240), None]
        );
        let e = run(d.clone(), dec(2, 2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "DECIMAL(2,2) out of range: CAST(1.25 AS DECIMAL(2,2))"
        );
        let r = run(d, SqlType::Float64).unwrap();
        assert_eq!(
            r.as_ref(),
            &Float64Array::from(vec![Some(1.25), Some(-1.25), Some(1.24), None]) as &dyn Array
        );
        let r = run(Arc::new(Int32Array::from(vec![123])), dec(5, 2)).unwrap();
        assert_eq!(unscaled(&r), vec![Some(12300)]);
        let e = run(Arc::new(Int32Array::from(vec![1234])), dec(5, 2)).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let r = run(
            Arc::new(Float64Array::from(vec![1.235, -0.5, 2.0])),
            dec(5, 1),
        )
        .unwrap();
        assert_eq!(unscaled(&r), vec![Some(12), Some(-5), Some(20)]);
        for bad in [f64::NAN, f64::INFINITY, 1e10] {
            let e = run(Arc::new(Float64Array::from(vec![bad])), dec(5, 1)).unwrap_err();
            assert!(matches!(e, Error::Overflow { .. }), "{bad}");
        }
    }

    #[test]
    fn decimal_float_casts_are_correctly_rounded() {
        // CAST(CAST(0.1 AS DECIMAL(38,30)) AS DOUBLE) is 0.1, not the f64 below it.
        let tenth = Arc::new(
            Decimal128Array::from(vec![Some(10i128.pow(29)), None])
                .with_precision_and_scale(38, 30)
                .unwrap(),
        );
        let r = run(tenth.clone(), SqlType::Float64).unwrap();
        assert_eq!(
            r.as_ref(),
            &Float64Array::from(vec![Some(0.1), None]) as &dyn Array
        );
        let r = run(tenth, SqlType::Float32).unwrap();
        assert_eq!(
            r.as_ref(),
            &Float32Array::from(vec![Some(0.1f32), None]) as &dyn Array
        );
        // Floats convert from their shortest digits: 1.005 is 1.00499999999999989… in binary.
        let r = run(
            Arc::new(Float64Array::from(vec![Some(1.005), Some(-1.005), None])),
            dec(5, 2),
        )
        .unwrap();
        assert_eq!(unscaled(&r), vec![Some(101), Some(-101), None]);
        let r = run(Arc::new(Float64Array::from(vec![0.1, 1e-300])), dec(38, 30)).unwrap();
        assert_eq!(unscaled(&r), vec![Some(10i128.pow(29)), Some(0)]);
        let r = strings(&cast_array(&r, dec(38, 30), SqlType::Utf8).unwrap());
        assert_eq!(r[0].as_deref(), Some("0.100000000000000000000000000000"));
        // A REAL converts from its own digits (0.1, not 0.100000001490116…).
        let r = run(Arc::new(Float32Array::from(vec![0.1f32])), dec(20, 12)).unwrap();
        assert_eq!(unscaled(&r), vec![Some(10i128.pow(11))]);
        for bad in [f64::NAN, f64::NEG_INFINITY, 1e38, 99.995] {
            let e = run(Arc::new(Float64Array::from(vec![bad])), dec(4, 2)).unwrap_err();
            assert!(matches!(e, Error::Overflow { .. }), "{bad}: {e}");
        }
        let e = run(Arc::new(Float64Array::from(vec![f64::NAN])), dec(4, 2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "DECIMAL(4,2) out of range: CAST(NaN AS DECIMAL(4,2))"
        );
    }

    #[test]
    fn to_text() {
        let texts = |a: ArrayRef| strings(&run(a, SqlType::Utf8).unwrap());
        assert_eq!(
            texts(Arc::new(Int32Array::from(vec![Some(-5), None]))),
            vec![Some("-5".into()), None]
        );
        assert_eq!(
            texts(Arc::new(Float64Array::from(vec![
                1.5,
                1.0,
                f64::NAN,
                f64::INFINITY,
                1e20
            ]))),
            vec![
                Some("1.5".into()),
                Some("1".into()),
                Some("NaN".into()),
                Some("inf".into()),
                Some("100000000000000000000".into())
            ]
        );
        assert_eq!(
            texts(Arc::new(Float32Array::from(vec![0.1f32]))),
            vec![Some("0.1".into())]
        );
        let d = Decimal128Array::from(vec![5, -1050])
            .with_precision_and_scale(6, 3)
            .unwrap();
        assert_eq!(
            texts(Arc::new(d)),
            vec![Some("0.005".into()), Some("-1.050".into())]
        );
        assert_eq!(
            texts(Arc::new(Date32Array::from(vec![10_561]))),
            vec![Some("1998-12-01".into())]
        );
        assert_eq!(
            texts(Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None
            ]))),
            vec![Some("true".into()), Some("false".into()), None]
        );
    }

    #[test]
    fn from_text() {
        let s = |v: Vec<Option<&str>>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        let r = run(
            s(vec![Some(" 42 "), Some("-7"), Some("+3"), None]),
            SqlType::Int32,
        )
        .unwrap();
        assert_int32(&r, &[Some(42), Some(-7), Some(3), None]);
        let e = run(s(vec![Some("4x2")]), SqlType::Int32).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for type INTEGER: '4x2'");
        for bad in ["", "-", "1.5", "1e3"] {
            let e = run(s(vec![Some(bad)]), SqlType::Int64).unwrap_err();
            assert!(matches!(e, Error::InvalidCast { .. }), "{bad}");
        }
        let e = run(s(vec![Some("3000000000")]), SqlType::Int32).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let e = run(
            s(vec![Some("99999999999999999999999999999999999999999")]),
            SqlType::Int64,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let r = run(s(vec![Some("1.235"), Some(" -2 ")]), dec(5, 2)).unwrap();
        assert_eq!(unscaled(&r), vec![Some(124), Some(-200)]);
        let e = run(s(vec![Some("1234")]), dec(5, 2)).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }));
        let e = run(s(vec![Some("abc")]), dec(5, 2)).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for type DECIMAL(5,2): 'abc'");
        let r = run(s(vec![Some(" 2.5 "), Some("-inf")]), SqlType::Float64).unwrap();
        assert_eq!(
            r.as_ref(),
            &Float64Array::from(vec![2.5, f64::NEG_INFINITY]) as &dyn Array
        );
        let e = run(s(vec![Some("two")]), SqlType::Float64).unwrap_err();
        assert!(matches!(e, Error::InvalidCast { .. }));
        let r = run(s(vec![Some("1998-12-01")]), SqlType::Date).unwrap();
        assert_eq!(r.as_ref(), &Date32Array::from(vec![10_561]) as &dyn Array);
        let e = run(s(vec![Some("1998-02-30")]), SqlType::Date).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for type DATE: '1998-02-30'");
        let r = run(
            s(vec![Some("T"), Some(" yes"), Some("off"), Some("0"), None]),
            SqlType::Boolean,
        )
        .unwrap();
        assert_eq!(
            bools(&r),
            vec![Some(true), Some(true), Some(false), Some(false), None]
        );
        let e = run(s(vec![Some("maybe")]), SqlType::Boolean).unwrap_err();
        assert!(matches!(e, Error::InvalidCast { .. }));
        // NULL of type NULL becomes a NULL of any type.
        let batch = one_column(Arc::new(Int32Array::from(vec![1, 2]))).1;
        let r = eval_on(
            &Expr::cast(Expr::null(SqlType::Null), SqlType::Date).unwrap(),
            &batch,
        );
        let r = r.unwrap();
        assert_eq!(r.data_type(), &arrow::datatypes::DataType::Date32);
        assert_eq!(r.null_count(), 2);
    }
}
