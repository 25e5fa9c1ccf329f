//! Random well-typed queries over random tables through the interpreter and the JIT: both must
//! give the same result types, values (floats bit for bit), NULLs, and the same error text.
//! The fuzz bytes are the random stream of the test kit's strategies (`tests/kit`, the property
//! tests' own), so an input is one kit case: a query (`kit::query`) and a table
//! (`kit::table_spec`). The JIT side runs as `EngineKind::Auto` (what does not compile runs
//! interpreted); a JIT that failed to compile a query it claims to support, and an internal
//! error, are bugs too (`kit::check`). With `QJIT_FUZZ_VERBOSE` set, every query and its
//! outcome go to stderr.
#![no_main]

use libfuzzer_sys::fuzz_target;
use qjit::exec::QueryOptions;
use qjit_fuzz::kit::{self, Outcome};

fuzz_target!(|data: &[u8]| {
    let Some((query, table)) = kit::from_bytes(&(kit::query(), kit::table_spec()), data) else {
        return;
    };
    let sql = query.sql();
    let options = QueryOptions {
        threads: Some(1),
        ..QueryOptions::default()
    };
    let agreed = match kit::check(&table.source(), &sql, &options) {
        Ok(agreed) => agreed,
        Err(disagreement) => panic!("{disagreement}\n{table:?}"),
    };
    if std::env::var_os("QJIT_FUZZ_VERBOSE").is_some() {
        let summary = match &agreed.outcome {
            Outcome::Rows { rows, .. } => format!("{} rows", rows.len()),
            Outcome::Error(e) => format!("error: {e}"),
        };
        eprintln!("QUERY {sql}\nOUTCOME {summary}");
    }
});
