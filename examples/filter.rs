//! A qjit filter over an in-memory Arrow batch.
//!
//! `cargo run --example filter`

use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::pretty::pretty_format_batches;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("city", DataType::Utf8, false),
        Field::new("temperature", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["Oslo", "Lisbon", "Cairo", "Lima"])),
            Arc::new(Float64Array::from(vec![
                Some(-3.5),
                Some(17.0),
                Some(29.5),
                None,
            ])),
        ],
    )?;

    let engine = qjit::Engine::new();
    let warm = engine.compile_filter(&schema, "temperature > 15 AND city <> 'Cairo'")?;
    println!("the filter runs {:?}", warm.engine());
    // A NULL temperature does not pass.
    let kept = warm.apply(&batch)?;
    println!("{}", pretty_format_batches(std::slice::from_ref(&kept))?);
    assert_eq!(kept.num_rows(), 1);
    Ok(())
}
