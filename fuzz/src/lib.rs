//! Shared pieces of qjit's fuzz targets (see `fuzz/README.md`).
//!
//! * [`kit`]: the test kit of the property tests (`tests/kit`): random tables, random
//!   well-typed queries and the comparison of the engines' outcomes, as proptest strategies
//!   that `engines_agree` draws from the fuzz bytes ([`kit::from_bytes`]).
//! * [`frontend_schema`]: the fixed schema the `sql_frontend` target binds against.

#[path = "../../tests/kit/mod.rs"]
pub mod kit;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

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
