//! Shared pieces of qjit's fuzz targets (see `fuzz/README.md`).
//!
//! * [`table`]: fuzz bytes → a random in-memory table with NULLs, edge values and sliced arrays.
//! * [`expr`]: fuzz bytes → a random well-typed query over that table.
//! * [`outcome`]: a query's result (or error) as comparable text.
//! * [`frontend_schema`]: the fixed schema the `sql_frontend` target binds against.

pub mod expr;
pub mod table;

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// A query's outcome: the output types and every value as text (floats with their bits, so
/// that `-0.0` and NaN payloads count), or the error message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Rows {
        types: Vec<DataType>,
        rows: Vec<Vec<String>>,
    },
    Error(String),
}

/// The [`Outcome`] of a query's result.
pub fn outcome(result: qjit::Result<qjit::exec::QueryResult>) -> Outcome {
    let result = match result {
        Ok(r) => r,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let options = FormatOptions::default().with_null("NULL");
    let types = result
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let mut rows = vec![];
    for batch in &result.batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>();
        let formatters = match formatters {
            Ok(f) => f,
            Err(e) => return Outcome::Error(format!("unprintable result: {e}")),
        };
        for r in 0..batch.num_rows() {
            let row = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(col, fmt)| {
                    if col.is_null(r) {
                        return "NULL".to_string();
                    }
                    match col.data_type() {
                        DataType::Float64 => {
                            let v = col.as_primitive::<Float64Type>().value(r);
                            format!("{v:?}#{:016x}", v.to_bits())
                        }
                        DataType::Float32 => {
                            let v = col.as_primitive::<Float32Type>().value(r);
                            format!("{v:?}#{:08x}", v.to_bits())
                        }
                        dt => format!("{dt}:{}", fmt.value(r)),
                    }
                })
                .collect();
            rows.push(row);
        }
    }
    Outcome::Rows { types, rows }
}

/// The schema `sql_frontend` binds queries against, as table `t`: the columns of the `.slt`
/// corpus's tables `t`, `f` and `h` (so that its queries make a useful seed corpus), one of every
/// type qjit supports.
pub fn frontend_schema() -> Arc<Schema> {
    let dict = |value: DataType| DataType::Dictionary(Box::new(DataType::Int32), Box::new(value));
    let fields = [
        ("id", DataType::Int32),
        ("i8", DataType::Int8),
        ("i16", DataType::Int16),
        ("i32", DataType::Int32),
        ("i64", DataType::Int64),
        ("u8", DataType::UInt8),
        ("u16", DataType::UInt16),
        ("u32", DataType::UInt32),
        ("u64", DataType::UInt64),
        ("f32", DataType::Float32),
        ("f64", DataType::Float64),
        ("d", DataType::Decimal128(10, 2)),
        ("dd", DataType::Decimal128(38, 2)),
        ("dt", DataType::Date32),
        ("s", DataType::Utf8),
        ("ls", DataType::LargeUtf8),
        ("vs", DataType::Utf8View),
        ("ds", dict(DataType::Utf8)),
        ("dl", dict(DataType::LargeUtf8)),
        ("b", DataType::Boolean),
        ("x", DataType::Float64),
        ("y", DataType::Float32),
        ("g", DataType::Int32),
        ("n", DataType::Utf8),
        ("nul", DataType::Null),
    ];
    Arc::new(Schema::new(
        fields
            .into_iter()
            .map(|(name, dt)| Field::new(name, dt, name != "id"))
            .collect::<Vec<_>>(),
    ))
}
