//! Literals as Arrow arrays.
//!
//! In: an [`ir::Literal`](crate::ir::Literal) (a [`Scalar`] and its [`SqlType`]). Out: a constant
//! array of that type (strings as `Utf8View`), either one value per row or a single value to use as an
//! [`arrow::array::Scalar`] operand of a comparison kernel.

use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, BooleanArray, Date32Array, Decimal128Array, PrimitiveArray,
    StringViewArray,
};
use arrow::buffer::{BooleanBuffer, ScalarBuffer};
use arrow::compute::cast;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::error::{Error, Result};
use crate::ir::{Literal, Scalar, SqlType};

/// The literal repeated `n` times, as an array of `lit.ty.to_arrow()` (a string as `Utf8View`; a
/// NULL literal of type `NULL` is a `NullArray`).
pub(crate) fn literal_array(lit: &Literal, n: usize) -> Result<ArrayRef> {
    let bad = || Error::internal(format!("literal {} is not a valid {}", lit.value, lit.ty));
    Ok(match (&lit.value, lit.ty) {
        (Scalar::Null, ty) => new_null_array(&ty.to_arrow(), n),
        (Scalar::Boolean(b), SqlType::Boolean) => Arc::new(BooleanArray::new(
            if *b {
                BooleanBuffer::new_set(n)
            } else {
                BooleanBuffer::new_unset(n)
            },
            None,
        )),
        (Scalar::Int(v), SqlType::Int8) => {
            repeat::<Int8Type>(i8::try_from(*v).map_err(|_| bad())?, n)
        }
        (Scalar::Int(v), SqlType::Int16) => {
            repeat::<Int16Type>(i16::try_from(*v).map_err(|_| bad())?, n)
        }
        (Scalar::Int(v), SqlType::Int32) => {
            repeat::<Int32Type>(i32::try_from(*v).map_err(|_| bad())?, n)
        }
        (Scalar::Int(v), SqlType::Int64) => repeat::<Int64Type>(*v, n),
        (Scalar::UInt(v), SqlType::UInt8) => {
            repeat::<UInt8Type>(u8::try_from(*v).map_err(|_| bad())?, n)
        }
        (Scalar::UInt(v), SqlType::UInt16) => {
            repeat::<UInt16Type>(u16::try_from(*v).map_err(|_| bad())?, n)
        }
        (Scalar::UInt(v), SqlType::UInt32) => {
            repeat::<UInt32Type>(u32::try_from(*v).map_err(|_| bad())?, n)
        }
        (Scalar::UInt(v), SqlType::UInt64) => repeat::<UInt64Type>(*v, n),
        (Scalar::Float(v), SqlType::Float32) => repeat::<Float32Type>(*v as f32, n),
        (Scalar::Float(v), SqlType::Float64) => repeat::<Float64Type>(*v, n),
        (Scalar::Decimal(v), SqlType::Decimal { precision, scale }) => Arc::new(
            Decimal128Array::from_value(*v, n).with_precision_and_scale(precision, scale as i8)?,
        ),
        (Scalar::Date(d), SqlType::Date) => Arc::new(Date32Array::from_value(*d, n)),
        (Scalar::Utf8(s), SqlType::Utf8) => repeat_string(s, n)?,
        (Scalar::Timestamp(v), SqlType::Timestamp { .. }) => {
            super::time::retype(&repeat::<Int64Type>(*v, n), &lit.ty.to_arrow())?
        }
        (Scalar::Interval(iv), SqlType::Interval) => {
            Arc::new(arrow::array::IntervalMonthDayNanoArray::from_value(
                arrow::datatypes::IntervalMonthDayNano::new(iv.months, iv.days, iv.nanos),
                n,
            ))
        }
        _ => return Err(bad()),
    })
}

/// `n` copies of `s` as a `Utf8View` array whose views all point at one copy of the text (so
/// a long literal costs its length once, not `n` times).
fn repeat_string(s: &str, n: usize) -> Result<ArrayRef> {
    let one = StringViewArray::from(vec![s]);
    let view = one.views()[0];
    Ok(Arc::new(StringViewArray::try_new(
        ScalarBuffer::from(vec![view; n]),
        one.data_buffers().to_vec(),
        None,
    )?))
}

fn repeat<T: ArrowPrimitiveType>(v: T::Native, n: usize) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::from_value(v, n))
}

/// The literal as a one-value array of exactly `data_type` (the physical type of the array it
/// is compared with: a string literal takes the other side's string layout).
pub(crate) fn literal_like(lit: &Literal, data_type: &DataType) -> Result<ArrayRef> {
    let array = literal_array(lit, 1)?;
    if array.data_type() == data_type {
        Ok(array)
    } else {
        Ok(cast(array.as_ref(), data_type)?)
    }
}
