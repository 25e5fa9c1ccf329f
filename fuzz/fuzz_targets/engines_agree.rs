//! Random well-typed queries over random tables through the interpreter and the JIT: both must
//! give the same result types, values (floats bit for bit), NULLs, and the same error text.
//! The JIT side runs as `--engine auto` (what does not compile runs interpreted), and a JIT that
//! failed to compile a query it claims to support (a fallback reason "the JIT failed") is a bug.
//! With `QJIT_FUZZ_VERBOSE` set, every query and its outcome go to stderr.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use qjit::exec::{EngineKind, QueryOptions};
use qjit_fuzz::{expr, outcome, table, Outcome};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(sql) = expr::query(&mut u) else {
        return;
    };
    let Ok(source) = table::table(&mut u) else {
        return;
    };
    let run = |engine| {
        let options = QueryOptions {
            engine,
            threads: Some(1),
            ..QueryOptions::default()
        };
        qjit::exec::run(&source, &sql, &options)
    };
    let jit = run(EngineKind::Auto);
    if let Ok(result) = &jit {
        let summary = result.compiled.summary();
        assert!(
            !summary.contains("JIT failed"),
            "the JIT failed on\n  {sql}\n{summary}"
        );
    }
    let jit = outcome(jit);
    let interp = outcome(run(EngineKind::Interp));
    if std::env::var_os("QJIT_FUZZ_VERBOSE").is_some() {
        let summary = match &interp {
            Outcome::Rows { rows, .. } => format!("{} rows", rows.len()),
            Outcome::Error(e) => format!("error: {e}"),
        };
        eprintln!("QUERY {sql}\nOUTCOME {summary}");
    }
    if let Outcome::Error(e) = &interp {
        assert!(
            !e.contains("internal error (a bug"),
            "an internal error on\n  {sql}\n{e}"
        );
    }
    assert_eq!(interp, jit, "engines disagree on\n  {sql}");
});
