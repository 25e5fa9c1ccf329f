//! The six TPC-H-style reference queries (queries/*.sql) over the shipped SF 0.01 `lineitem`,
//! compared with answers computed by an independent engine (tests/reference/sf0.01).
//!
//! Decimal and integer columns must match exactly; the floating columns (q01's `avg_*`, q14's
//! `promo`) within a relative 1e-6.

mod common;

use std::path::{Path, PathBuf};

use qjit::exec::{EngineKind, QueryOptions, Source};

/// Columns the reference engine computed in floating point.
const FLOAT_COLUMNS: &[&str] = &["avg_qty", "avg_price", "avg_disc", "promo"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1e-300)
}

/// Runs `queries/<name>.sql` on `engine` and compares with the reference CSV.
fn check(name: &str, engine: EngineKind) {
    let source = Source::parquet(common::lineitem_path());
    check_on(&source, name, engine, None);
}

/// [`check`] over `source` on `threads` threads; returns the result batches.
fn check_on(
    source: &Source,
    name: &str,
    engine: EngineKind,
    threads: Option<usize>,
) -> Vec<arrow::record_batch::RecordBatch> {
    let sql = std::fs::read_to_string(root().join("queries").join(format!("{name}.sql"))).unwrap();
    let expected = std::fs::read_to_string(
        root()
            .join("tests/reference/sf0.01")
            .join(format!("{name}.csv")),
    )
    .unwrap();
    let result = qjit::exec::run(
        source,
        &sql,
        &QueryOptions {
            engine,
            threads,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{name} failed: {e}"));
    let mut lines = expected.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let names: Vec<&str> = result
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, header, "{name}: column names");
    let actual = common::render_rows(&result);
    let expected: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(actual.len(), expected.len(), "{name}: row count");
    for (r, (got, want)) in actual.iter().zip(&expected).enumerate() {
        for (c, (g, w)) in got.iter().zip(want).enumerate() {
            if FLOAT_COLUMNS.contains(&header[c]) {
                let (g, w): (f64, f64) = (g.parse().unwrap(), w.parse().unwrap());
                assert!(close(g, w), "{name} row {r} {}: {g} vs {w}", header[c]);
            } else {
                assert_eq!(g, w, "{name} row {r} column {}", header[c]);
            }
        }
    }
    result.batches
}

/// `lineitem` in memory, in morsels of 4,096 rows (15 morsels), so that workers merge partial
/// results.
fn lineitem_in_morsels() -> Source {
    let file = Source::parquet(common::lineitem_path());
    let schema = file.schema().unwrap();
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let batches = file
        .scan(&all)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    Source::batches("lineitem", schema, batches).with_morsel_rows(4096)
}

#[test]
fn reference_queries_are_identical_on_every_thread_count() {
    let source = lineitem_in_morsels();
    for name in query_names() {
        for engine in [EngineKind::Interp, EngineKind::Auto] {
            let one = check_on(&source, &name, engine, Some(1));
            for threads in [2, 7] {
                let many = check_on(&source, &name, engine, Some(threads));
                assert_eq!(one, many, "{name} on {engine:?} with {threads} threads");
            }
        }
    }
}

#[test]
fn order_limit_and_float_sums_are_identical_on_every_thread_count() {
    let source = lineitem_in_morsels();
    for sql in [
        "SELECT l_orderkey, l_extendedprice * (1 - l_discount) AS v FROM lineitem \
         WHERE l_quantity > 45 ORDER BY v DESC, l_orderkey LIMIT 10",
        "SELECT l_orderkey, l_linenumber FROM lineitem WHERE l_discount > 0.05 LIMIT 7 OFFSET 3",
        "SELECT DISTINCT l_shipmode FROM lineitem WHERE l_quantity < 3",
        "SELECT SUM(CAST(l_extendedprice AS DOUBLE) * 1.1), AVG(CAST(l_tax AS REAL)) FROM lineitem",
        "SELECT l_returnflag, SUM(CAST(l_extendedprice AS DOUBLE) / 3), COUNT(*) FROM lineitem \
         GROUP BY l_returnflag",
        "SELECT l_suppkey, MIN(l_comment), MAX(l_shipdate) FROM lineitem GROUP BY l_suppkey \
         HAVING COUNT(*) > 5",
    ] {
        for engine in [EngineKind::Interp, EngineKind::Auto] {
            let run = |threads| {
                qjit::exec::run(
                    &source,
                    sql,
                    &QueryOptions {
                        engine,
                        threads: Some(threads),
                        ..Default::default()
                    },
                )
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .batches
            };
            let one = run(1);
            assert!(one.iter().map(|b| b.num_rows()).sum::<usize>() > 0, "{sql}");
            for threads in [2, 7] {
                assert_eq!(
                    one,
                    run(threads),
                    "{sql} on {engine:?} with {threads} threads"
                );
            }
        }
    }
}

fn query_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("queries"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "sql").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_reference_query_has_an_answer() {
    let names = query_names();
    assert_eq!(names.len(), 6, "{names:?}");
    for n in &names {
        assert!(
            Path::new(
                &root()
                    .join("tests/reference/sf0.01")
                    .join(format!("{n}.csv"))
            )
            .exists(),
            "{n}"
        );
    }
}

#[test]
fn reference_queries_match_on_the_interpreter() {
    for name in query_names() {
        check(&name, EngineKind::Interp);
    }
}

#[test]
fn reference_queries_match_with_compiled_filters() {
    for name in query_names() {
        check(&name, EngineKind::Auto);
    }
}

#[test]
#[cfg(feature = "jit")]
fn reference_queries_compile_whole_with_no_call_per_row() {
    for name in query_names() {
        let sql =
            std::fs::read_to_string(root().join("queries").join(format!("{name}.sql"))).unwrap();
        let source = Source::parquet(common::lineitem_path());
        let explain = qjit::exec::explain(
            &source,
            &sql,
            &QueryOptions {
                engine: EngineKind::Jit,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            explain.contains("WHERE: compiled") && explain.contains("aggregation: compiled"),
            "{name} does not compile whole:\n{explain}"
        );
        let after = explain
            .split("LLVM IR after")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no optimized IR"));
        // The calls allowed: the group lookup of string keys, on a miss of the batch's recent
        // keys (a handful of rows per batch for these queries' few groups), and the flush of
        // the first groups' table into the state, once per batch.
        let mut block = "";
        let mut calls = vec![];
        for l in after.lines() {
            if let Some((label, _)) = l.split_once(':').filter(|_| !l.starts_with(' ')) {
                block = label;
            }
            if l.contains("call ") && !l.contains("@llvm.") && !l.contains("@qjit_flush_table(") {
                calls.push((block, l));
            }
        }
        assert!(
            calls
                .iter()
                .all(|(block, l)| l.contains("@qjit_rt_group_find(")
                    && block.starts_with("last_miss")),
            "{name} calls out of the kernel: {calls:?}"
        );
        assert!(calls.len() <= 1, "{name}: {calls:?}");
        // The helpers were inlined: only the entry point is left, and the flush (per batch).
        let defines: Vec<&str> = after
            .lines()
            .filter(|l| l.starts_with("define ") && !l.contains("@qjit_flush_table("))
            .collect();
        assert_eq!(defines.len(), 1, "{name}:\n{after}");
    }
}

/// The optimized IR of `sql`'s kernels over the SF 0.01 sample.
#[cfg(feature = "jit")]
fn optimized_ir(sql: &str) -> String {
    let source = Source::parquet(common::lineitem_path());
    let options = QueryOptions {
        engine: EngineKind::Jit,
        ..Default::default()
    };
    let explain = qjit::exec::explain(&source, sql, &options).unwrap();
    explain
        .split("LLVM IR after")
        .nth(1)
        .expect("optimized IR")
        .to_string()
}

/// Q6 selects 2% of its rows, and only they read `l_extendedprice`: the kernel prefetches that
/// column at the rows it selects (one prefetch per row), and only it; Q14's selected rows read
/// three columns (`l_extendedprice`, `l_discount`, `l_shipmode`). Without a WHERE clause every
/// row reads every column, in order: nothing is prefetched.
#[test]
#[cfg(feature = "jit")]
fn columns_only_selected_rows_read_are_prefetched() {
    let query = |name: &str| std::fs::read_to_string(root().join("queries").join(name)).unwrap();
    let prefetches = |ir: &str| {
        ir.lines()
            .filter(|l| l.contains("call void @llvm.prefetch"))
            .count()
    };
    assert_eq!(prefetches(&optimized_ir(&query("q06.sql"))), 1);
    assert_eq!(prefetches(&optimized_ir(&query("q14_lineitem.sql"))), 3);
    let all = "SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem";
    assert_eq!(prefetches(&optimized_ir(all)), 0);
}
