//! Constant folding: every sub-expression that reads no column is evaluated once, at planning
//! time, and replaced by its value.
//!
//! Folding evaluates with the interpreter on a one-row batch, so a folded value is exactly what
//! both engines would compute per row. A constant sub-expression whose evaluation fails (`1 / 0`)
//! is left in place: it then fails at run time only for the rows whose value is needed, which keeps
//! `CASE WHEN x > 0 THEN 1 / 0 END` and `WHERE FALSE AND 1 / 0 = 1` meaning what they say.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
    Float64Array,
};
use arrow::datatypes::{
    DataType, Int16Type, Int32Type, Int64Type, Int8Type, Schema, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{Error, Result};
use crate::ir::{BinaryOp, Expr, Literal, Scalar};

/// Folds every constant sub-expression of `e`, in one bottom-up pass.
pub fn fold(e: Expr) -> Result<Expr> {
    fold_node(e).map(|(e, _)| e)
}

/// Folds `e`; the flag says whether `e` reads no column (it may still be an expression that
/// failed to evaluate, such as `1 / 0`).
fn fold_node(e: Expr) -> Result<(Expr, bool)> {
    crate::stack::guard(|| match e {
        Expr::Literal(_) => Ok((e, true)),
        Expr::Column(_) | Expr::Var { .. } => Ok((e, false)),
        Expr::Let { id, value, body } => {
            let (value, _) = fold_node(*value)?;
            if let Expr::Literal(_) = value {
                // A constant needs no sharing: put it where it is read, and fold again there.
                return fold_node(substitute(*body, id, &value));
            }
            let (body, _) = fold_node(*body)?;
            Ok((
                Expr::Let {
                    id,
                    value: Box::new(value),
                    body: Box::new(body),
                },
                false,
            ))
        }
        e => {
            let mut constant = true;
            let e = e.try_map_children(&mut |c| {
                let (c, k) = fold_node(c)?;
                constant &= k;
                Ok::<_, Error>(c)
            })?;
            if !constant {
                return Ok((e, false));
            }
            // Every child is a value now, or a constant that failed to evaluate. Only a node
            // that may skip such a child (`CASE`, `AND`, `OR`) can still have a value.
            let skips = matches!(
                e,
                Expr::Case { .. }
                    | Expr::Binary {
                        op: BinaryOp::And | BinaryOp::Or,
                        ..
                    }
            );
            if !skips && e.children().iter().any(|c| !matches!(c, Expr::Literal(_))) {
                return Ok((e, true));
            }
            Ok(match evaluate_constant(&e) {
                Ok(value) => (Expr::Literal(Literal::new(value, e.ty())?), true),
                Err(_) => (e, true),
            })
        }
    })
}

/// `e` with every [`Expr::Var`] of `id` replaced by `value`, stopping under a `Let` that binds
/// the same id again.
fn substitute(e: Expr, id: u32, value: &Expr) -> Expr {
    crate::stack::guard(|| match e {
        Expr::Var { id: v, .. } if v == id => value.clone(),
        Expr::Let {
            id: inner,
            value: v,
            body,
        } if inner == id => Expr::Let {
            id: inner,
            value: Box::new(substitute(*v, id, value)),
            body,
        },
        e => match e
            .try_map_children::<std::convert::Infallible>(&mut |c| Ok(substitute(c, id, value)))
        {
            Ok(e) => e,
            Err(never) => match never {},
        },
    })
}

/// Evaluates an expression that reads no column.
pub fn evaluate_constant(e: &Expr) -> Result<Scalar> {
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let array = crate::interp::evaluate(e, &batch)?;
    scalar_at(&array, 0)
}

/// The value at `row` of an array of one of the types qjit produces.
pub fn scalar_at(array: &ArrayRef, row: usize) -> Result<Scalar> {
    if array.is_null(row) {
        return Ok(Scalar::Null);
    }
    let a = array.as_ref();
    Ok(match a.data_type() {
        DataType::Null => Scalar::Null,
        DataType::Boolean => Scalar::Boolean(downcast::<BooleanArray>(a)?.value(row)),
        DataType::Int8 => Scalar::Int(a.as_primitive::<Int8Type>().value(row) as i64),
        DataType::Int16 => Scalar::Int(a.as_primitive::<Int16Type>().value(row) as i64),
        DataType::Int32 => Scalar::Int(a.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int64 => Scalar::Int(a.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Scalar::UInt(a.as_primitive::<UInt8Type>().value(row) as u64),
        DataType::UInt16 => Scalar::UInt(a.as_primitive::<UInt16Type>().value(row) as u64),
        DataType::UInt32 => Scalar::UInt(a.as_primitive::<UInt32Type>().value(row) as u64),
        DataType::UInt64 => Scalar::UInt(a.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 => Scalar::Float(downcast::<Float32Array>(a)?.value(row) as f64),
        DataType::Float64 => Scalar::Float(downcast::<Float64Array>(a)?.value(row)),
        DataType::Decimal128(..) => Scalar::Decimal(downcast::<Decimal128Array>(a)?.value(row)),
        DataType::Date32 => Scalar::Date(downcast::<Date32Array>(a)?.value(row)),
        DataType::Utf8 => Scalar::Utf8(a.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Scalar::Utf8(a.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Scalar::Utf8(a.as_string_view().value(row).to_string()),
        DataType::Timestamp(..) => Scalar::Timestamp(
            arrow::array::make_array(
                a.to_data()
                    .into_builder()
                    .data_type(DataType::Int64)
                    .build()?,
            )
            .as_primitive::<Int64Type>()
            .value(row),
        ),
        DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano) => {
            let v = a
                .as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
                .value(row);
            Scalar::Interval(crate::ir::Interval {
                months: v.months,
                days: v.days,
                nanos: v.nanoseconds,
            })
        }
        other => {
            return Err(Error::internal(format!(
                "constant of unexpected type {other}"
            )))
        }
    })
}

fn downcast<T: 'static>(a: &dyn Array) -> Result<&T> {
    a.as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| Error::internal(format!("array of type {} not as expected", a.data_type())))
}
