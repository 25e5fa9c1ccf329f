//! qjit expressions computed over an in-memory Arrow batch.
//!
//! `cargo run --example projection`

use std::sync::Arc;

use arrow::array::{Decimal128Array, Int32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::pretty::pretty_format_batches;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("price", DataType::Decimal128(10, 2), false),
        Field::new("quantity", DataType::Int32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(
                Decimal128Array::from(vec![1999, 250, 100000]).with_precision_and_scale(10, 2)?,
            ),
            Arc::new(Int32Array::from(vec![Some(3), None, Some(1)])),
        ],
    )?;

    let engine = qjit::Engine::new();
    let projection = engine.compile_projection(
        &schema,
        &[
            "price * quantity AS total",
            "CASE WHEN price >= 100 THEN 'large' ELSE 'small' END AS size",
            "coalesce(quantity, 0) AS quantity",
        ],
    )?;
    println!("the projection runs {:?}", projection.engine());
    let out = projection.evaluate(&batch)?;
    println!("{}", pretty_format_batches(std::slice::from_ref(&out))?);
    assert_eq!(
        out.schema().field(0).data_type(),
        &DataType::Decimal128(21, 2)
    );
    Ok(())
}
