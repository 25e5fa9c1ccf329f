//! Arbitrary bytes as SQL text (lossy UTF-8) through qjit's whole front end against a fixed
//! schema: parse, bind (names, types, coercion, constant folding), plan, `--explain`'s planning
//! on the interpreter, and the interpreter itself over a small table. Errors are fine; a panic,
//! a hang (`-timeout=`) or an internal error (`Error::Internal`) is a bug.
#![no_main]

use std::sync::{Arc, OnceLock};

use arrow::array::{new_null_array, RecordBatch};
use libfuzzer_sys::fuzz_target;
use qjit::exec::{EngineKind, QueryOptions, Source};

/// The table `t` of [`qjit_fuzz::frontend_schema`]: two rows of NULLs and no rows.
fn sources() -> &'static (Source, Source) {
    static SOURCES: OnceLock<(Source, Source)> = OnceLock::new();
    SOURCES.get_or_init(|| {
        let schema = qjit_fuzz::frontend_schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| new_null_array(f.data_type(), 2))
            .collect();
        // NULLs in a NOT NULL column would be rejected: make every field nullable for the rows.
        let nullable = Arc::new(arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(nullable.clone(), columns).expect("a batch of NULLs");
        (
            Source::batches("t", nullable, vec![batch]),
            Source::batches("t", schema, vec![]),
        )
    })
}

/// Panics on an [`qjit::Error::Internal`]: a user's query must never reach one.
fn not_a_bug(e: qjit::Error) {
    assert!(!matches!(e, qjit::Error::Internal(_)), "{e}");
}

fuzz_target!(|data: &[u8]| {
    let sql = String::from_utf8_lossy(data);
    let (rows, empty) = sources();
    let plan = qjit::exec::plan(empty, &sql);
    let options = QueryOptions {
        engine: EngineKind::Interp,
        threads: Some(1),
        ..QueryOptions::default()
    };
    let Ok(plan) = plan.map_err(not_a_bug) else {
        return;
    };
    // The printers (the kernel-cache key, --explain) must handle every plan.
    let _ = plan.to_string();
    let _ = plan.output_schema();
    let _ = qjit::exec::explain(empty, &sql, &options).map_err(not_a_bug);
    let _ = qjit::exec::run(empty, &sql, &options).map_err(not_a_bug);
    let _ = qjit::exec::run(rows, &sql, &options).map_err(not_a_bug);
});
