//! The six reference queries over the shipped TPC-H SF 0.01 `lineitem`, loaded into memory once,
//! on each engine: `cargo bench --bench queries`.
//!
//! Compilation is cached per process, so after the first iteration the `auto` figures measure
//! execution only; the interpreter and the JIT run the same plan side by side in one process.

use std::path::PathBuf;

use arrow::record_batch::RecordBatch;
use criterion::{criterion_group, criterion_main, Criterion};
use qjit::exec::{self, EngineKind, QueryOptions, Source};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `lineitem` decoded into memory, so the benchmark measures query execution, not Parquet.
fn in_memory_lineitem() -> Source {
    let parquet = Source::parquet(root().join("data/lineitem.parquet"));
    let schema = parquet.schema().expect("data/lineitem.parquet is readable");
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let batches: Vec<RecordBatch> = parquet
        .scan(&all)
        .expect("scan")
        .collect::<Result<_, _>>()
        .expect("decode");
    Source::batches("lineitem", schema, batches)
}

fn queries(c: &mut Criterion) {
    let source = in_memory_lineitem();
    let mut names: Vec<PathBuf> = std::fs::read_dir(root().join("queries"))
        .expect("queries/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    names.sort();
    for path in names {
        let sql = std::fs::read_to_string(&path).expect("query text");
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut group = c.benchmark_group(name);
        for (label, engine) in [("interp", EngineKind::Interp), ("auto", EngineKind::Auto)] {
            let options = QueryOptions {
                engine,
                ..Default::default()
            };
            group.bench_function(label, |b| {
                b.iter(|| exec::run(&source, &sql, &options).expect("query runs"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, queries);
criterion_main!(benches);
