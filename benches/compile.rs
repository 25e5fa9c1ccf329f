//! Cold compile time of each query in `queries/`: `cargo bench --bench compile`.
//!
//! Every iteration empties the kernel cache first (outside the timing) and then compiles the
//! query's kernels, as `qjit query` does on its first run: code generation, verification,
//! optimization and machine code. Two pipelines: qjit's own kernel pipeline (the default) and
//! LLVM's `default<O3>`, the comparison that chose it (`qjit::internals::jit::KERNEL_PIPELINE`).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use qjit::exec::{self, EngineKind, QueryOptions, Source};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compile(c: &mut Criterion) {
    // Only the schema is read: compiling does not look at the rows.
    let source = Source::parquet(root().join("data/lineitem.parquet"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("queries"))
        .expect("queries/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    paths.sort();
    // LLVM's one-time initialization is not part of any query's compile time.
    qjit::internals::jit::initialize().expect("LLVM initializes");
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for path in paths {
        let sql = std::fs::read_to_string(&path).expect("query text");
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let plan = exec::plan(&source, &sql).expect("the query binds");
        for (pipeline, opt_level) in [("kernel", None), ("O3", Some(3))] {
            let options = QueryOptions {
                engine: EngineKind::Jit,
                opt_level,
                ..Default::default()
            };
            group.bench_function(format!("{name}/{pipeline}"), |b| {
                b.iter_batched(
                    qjit::internals::jit::clear_cache,
                    |()| exec::compile(&plan, &options).expect("the query compiles"),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, compile);
criterion_main!(benches);
