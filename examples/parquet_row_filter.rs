//! A qjit predicate pushed into a Parquet read with the parquet crate's `RowFilter`: the reader
//! decodes the predicate's columns first and the others only for the rows it keeps.
//!
//! `cargo run --example parquet_row_filter`

use std::fs::File;
use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lineitem.parquet");
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path)?)?;

    let filter = qjit::Engine::new().compile_filter(
        builder.schema(),
        "l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' AND l_quantity < 24",
    )?;
    let row_filter = filter.row_filter(builder.parquet_schema())?;
    let reader = builder.with_row_filter(row_filter).build()?;

    let mut rows = 0;
    for batch in reader {
        rows += batch?.num_rows();
    }
    println!("{rows} line items shipped in 1994 with a quantity under 24");
    assert!(rows > 0);
    Ok(())
}
