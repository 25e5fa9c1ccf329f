//! One compiled qjit filter shared by several threads, each filtering its own batches.
//!
//! `cargo run --example threads`

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    // Compiled once; clones share the kernel.
    let filter = qjit::Engine::new().compile_filter(&schema, "n % 7 = 0 OR n % 11 = 0")?;

    let threads: Vec<_> = (0..4i64)
        .map(|t| {
            let filter = filter.clone();
            let schema = schema.clone();
            std::thread::spawn(move || -> qjit::Result<usize> {
                let mut kept = 0;
                for chunk in 0..10i64 {
                    let start = (t * 10 + chunk) * 1000;
                    let values: Int64Array = (start..start + 1000).collect();
                    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(values)])?;
                    kept += filter.apply(&batch)?.num_rows();
                }
                Ok(kept)
            })
        })
        .collect();
    let mut total = 0;
    for thread in threads {
        total += thread.join().map_err(|_| "a worker panicked")??;
    }
    println!("{total} of 40000 numbers are multiples of 7 or 11");
    assert_eq!(
        total,
        (0..40000).filter(|n| n % 7 == 0 || n % 11 == 0).count()
    );
    Ok(())
}
