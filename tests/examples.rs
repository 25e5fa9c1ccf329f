//! Runs every example's `main` (the example files are compiled into this test as modules), so
//! the examples in `examples/` keep working.

#[cfg(feature = "datafusion")]
#[path = "../examples/datafusion.rs"]
mod datafusion_session;
#[path = "../examples/filter.rs"]
mod filter;
#[path = "../examples/parquet_row_filter.rs"]
mod parquet_row_filter;
#[path = "../examples/projection.rs"]
mod projection;
#[path = "../examples/threads.rs"]
mod threads;

#[test]
fn filter_example_runs() {
    filter::main().unwrap();
}

#[test]
fn projection_example_runs() {
    projection::main().unwrap();
}

#[test]
fn threads_example_runs() {
    threads::main().unwrap();
}

#[test]
fn parquet_row_filter_example_runs() {
    parquet_row_filter::main().unwrap();
}

#[cfg(feature = "datafusion")]
#[test]
fn datafusion_example_runs() {
    datafusion_session::main().unwrap();
}
