//! Cancellation and memory limits, through `qjit::Engine` and `qjit::exec::run`, on every engine
//! and several thread counts: a cancelled query stops promptly with `Error::Cancelled`, and a
//! GROUP BY (or the rows of an ORDER BY) past the memory limit fails with the same
//! `Error::MemoryLimit` on every engine.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use qjit::exec::{MemoryUse, QueryOptions, Source};
use qjit::{Cancel, Engine, EngineKind, Error};

fn engine_kinds() -> Vec<EngineKind> {
    if cfg!(feature = "jit") {
        vec![EngineKind::Interp, EngineKind::Jit, EngineKind::Auto]
    } else {
        vec![EngineKind::Interp]
    }
}

/// The SF 0.01 `lineitem` in memory, in morsels of 16,384 rows (four morsels).
fn lineitem_in_memory() -> Source {
    let file = Source::parquet(common::lineitem_path());
    let schema = file.schema().unwrap();
    let all: Vec<usize> = (0..schema.fields().len()).collect();
    let batches = file
        .scan(&all)
        .unwrap()
        .collect::<qjit::Result<Vec<_>>>()
        .unwrap();
    Source::batches("lineitem", schema, batches).with_morsel_rows(16_384)
}

const HIGH_CARDINALITY: &str = "SELECT l_orderkey, l_linenumber, sum(l_quantity), \
     max(l_comment) FROM lineitem GROUP BY l_orderkey, l_linenumber";

#[test]
fn a_query_cancelled_before_it_starts_returns_cancelled() {
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
    )
    .unwrap();
    for kind in engine_kinds() {
        let cancel = Cancel::new();
        let mut engine = Engine::builder()
            .engine(kind)
            .cancel(cancel.clone())
            .build()
            .unwrap();
        engine
            .register_batches("t", schema.clone(), vec![batch.clone()])
            .unwrap();
        let sql = "SELECT x % 2, count(*) FROM t GROUP BY 1";
        assert_eq!(engine.query(sql).unwrap()[0].num_rows(), 2, "{kind:?}");
        cancel.cancel();
        let e = engine.query(sql).unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{kind:?}: {e:?}");
        assert_eq!(e.exit_code(), 130);
        assert!(e.to_string().contains("cancelled"), "{e}");
        let e = engine.query("SELECT x FROM t ORDER BY x").unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{kind:?}: {e:?}");
    }
}

#[test]
fn a_query_cancelled_from_another_thread_stops_promptly() {
    // 8,192 distinct strings, the same batch 20,000 times: 164 million rows held once. Grouping
    // them takes seconds even in an optimized build.
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let rows = 8192;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new((0..rows as i64).collect::<Int64Array>()),
            Arc::new(
                (0..rows)
                    .map(|i| Some(format!("a string key number {i}")))
                    .collect::<StringArray>(),
            ),
        ],
    )
    .unwrap();
    let batches = vec![batch; 20_000];
    for kind in engine_kinds() {
        for threads in [1, 2] {
            let cancel = Cancel::new();
            let mut engine = Engine::builder()
                .engine(kind)
                .threads(threads)
                .cancel(cancel.clone())
                .build()
                .unwrap();
            engine
                .register_batches("t", schema.clone(), batches.clone())
                .unwrap();
            let canceller = {
                let cancel = cancel.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    cancel.cancel();
                    Instant::now()
                })
            };
            let outcome = engine.query("SELECT s, sum(k), count(*) FROM t GROUP BY s");
            let returned = Instant::now();
            let cancelled_at = canceller.join().unwrap();
            let e = outcome.unwrap_err();
            assert!(matches!(e, Error::Cancelled), "{kind:?}: {e:?}");
            let late = returned.saturating_duration_since(cancelled_at);
            assert!(
                late < Duration::from_secs(2),
                "{kind:?} on {threads} threads returned {late:?} after the cancel"
            );
        }
    }
}

#[test]
fn a_group_by_past_the_memory_limit_fails_alike_on_every_engine_and_thread_count() {
    let source = lineitem_in_memory();
    let mut messages = vec![];
    for engine in engine_kinds() {
        for threads in [1, 2, 3] {
            let options = |memory_limit| QueryOptions {
                engine,
                threads: Some(threads),
                memory_limit,
                ..QueryOptions::default()
            };
            let e =
                qjit::exec::run(&source, HIGH_CARDINALITY, &options(Some(1 << 20))).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::MemoryLimit {
                        what: MemoryUse::GroupBy,
                        limit: 1048576
                    }
                ),
                "{engine:?} on {threads} threads: {e:?}"
            );
            assert_eq!(e.exit_code(), 1);
            messages.push(e.to_string());
            // Under the default limit, and under one the state fits in, the answer is whole.
            for limit in [None, Some(1 << 30)] {
                let result = qjit::exec::run(&source, HIGH_CARDINALITY, &options(limit)).unwrap();
                assert_eq!(result.num_rows(), 60_175, "{engine:?} on {threads} threads");
            }
        }
    }
    messages.dedup();
    assert_eq!(
        messages,
        ["the GROUP BY state needs more memory than the limit of 1.0 MiB; raise the memory limit or group by fewer distinct values"]
    );
}

#[test]
fn a_small_group_by_fits_a_small_limit_on_every_engine() {
    let source = lineitem_in_memory();
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/q01.sql"),
    )
    .unwrap();
    let mut answers = vec![];
    for engine in engine_kinds() {
        for threads in [1, 3] {
            let options = QueryOptions {
                engine,
                threads: Some(threads),
                memory_limit: Some(64 << 10),
                ..QueryOptions::default()
            };
            let result = qjit::exec::run(&source, &sql, &options).unwrap();
            answers.push(result.batches);
        }
    }
    answers.dedup();
    assert_eq!(answers.len(), 1);
}

#[test]
fn rows_collected_for_order_by_count_against_the_limit() {
    let source = lineitem_in_memory();
    for engine in engine_kinds() {
        let options = |sql: &str| {
            qjit::exec::run(
                &source,
                sql,
                &QueryOptions {
                    engine,
                    threads: Some(2),
                    memory_limit: Some(1 << 20),
                    ..QueryOptions::default()
                },
            )
        };
        let e =
            options("SELECT l_comment, l_orderkey FROM lineitem ORDER BY l_comment").unwrap_err();
        assert!(
            matches!(
                e,
                Error::MemoryLimit {
                    what: MemoryUse::Rows,
                    ..
                }
            ),
            "{engine:?}: {e:?}"
        );
        assert!(
            e.to_string().starts_with(
                "the rows the query collects need more memory than the limit of 1.0 MiB"
            ),
            "{e}"
        );
        // A LIMIT without ORDER BY stops reading early; a selective WHERE keeps few rows.
        let few = options("SELECT l_comment FROM lineitem LIMIT 10").unwrap();
        assert_eq!(few.num_rows(), 10);
        let few =
            options("SELECT l_comment FROM lineitem WHERE l_quantity > 49 ORDER BY 1").unwrap();
        assert!(few.num_rows() > 0);
    }
}

#[test]
fn a_zero_memory_limit_is_a_usage_error() {
    let e = Engine::builder().memory_limit(0).build().unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e:?}");
    let engine = Engine::builder().memory_limit(1 << 30).build().unwrap();
    assert_eq!(engine.options().memory_limit, Some(1 << 30));
}
