//! Helpers for the interpreter's unit tests: one-column batches, literals, result readers.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use arrow::datatypes::{Field, Schema};
use arrow::record_batch::RecordBatch;

use super::strings::StrArray;
use crate::error::Result;
use crate::ir::{BinaryOp, ColumnRef, Expr, Scalar, SqlType};

/// A column reference of SQL type `ty` (physical type `ty.to_arrow()`).
pub fn col(index: usize, ty: SqlType) -> Expr {
    Expr::column(ColumnRef {
        index,
        name: format!("c{index}"),
        ty,
        data_type: ty.to_arrow(),
        nullable: true,
    })
}

/// A batch of `arrays` and a column reference for each.
pub fn columns(arrays: Vec<ArrayRef>) -> (Vec<Expr>, RecordBatch) {
    let fields: Vec<Field> = arrays
        .iter()
        .enumerate()
        .map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true))
        .collect();
    let exprs = arrays
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Expr::column(ColumnRef {
                index: i,
                name: format!("c{i}"),
                ty: SqlType::from_arrow(a.data_type()).expect("a supported test column type"),
                data_type: a.data_type().clone(),
                nullable: true,
            })
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a valid batch");
    (exprs, batch)
}

pub fn one_column(array: ArrayRef) -> (Expr, RecordBatch) {
    let (mut exprs, batch) = columns(vec![array]);
    (exprs.remove(0), batch)
}

pub fn two_columns(a: ArrayRef, b: ArrayRef) -> (Expr, Expr, RecordBatch) {
    let (mut exprs, batch) = columns(vec![a, b]);
    let b = exprs.remove(1);
    (exprs.remove(0), b, batch)
}

pub fn eval_on(expr: &Expr, batch: &RecordBatch) -> Result<ArrayRef> {
    super::evaluate(expr, batch)
}

pub fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::binary(op, l, r).expect("well-typed test expression")
}

pub fn lit_i32(v: i32) -> Expr {
    Expr::literal(Scalar::Int(v as i64), SqlType::Int32).unwrap()
}

pub fn lit_i64(v: i64) -> Expr {
    Expr::literal(Scalar::Int(v), SqlType::Int64).unwrap()
}

pub fn lit_f64(v: f64) -> Expr {
    Expr::literal(Scalar::Float(v), SqlType::Float64).unwrap()
}

pub fn lit_str(v: &str) -> Expr {
    Expr::literal(Scalar::Utf8(v.into()), SqlType::Utf8).unwrap()
}

pub fn lit_dec(v: i128, precision: u8, scale: u8) -> Expr {
    Expr::literal(Scalar::Decimal(v), SqlType::Decimal { precision, scale }).unwrap()
}

pub fn assert_int32(array: &ArrayRef, expected: &[Option<i32>]) {
    assert_eq!(
        array.as_ref(),
        &Int32Array::from(expected.to_vec()) as &dyn Array
    );
}

pub fn bools(array: &ArrayRef) -> Vec<Option<bool>> {
    array.as_boolean().iter().collect()
}

pub fn strings(array: &ArrayRef) -> Vec<Option<String>> {
    let s = StrArray::new(array.as_ref()).expect("a string array");
    (0..s.len()).map(|i| s.get(i).map(str::to_string)).collect()
}
