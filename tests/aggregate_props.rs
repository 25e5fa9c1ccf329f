//! The compiled aggregation against the interpreter: the kit's random tables (`tests/kit`:
//! several batches of random sizes, sliced arrays, NULLs, edge values, every string layout,
//! nullable and NOT NULL fields) and its random aggregations (keys, aggregates over all or
//! distinct values, WHERE, HAVING, ORDER BY, LIMIT), run on `EngineKind::Interp` and
//! `EngineKind::Auto`. Both must return the same rows in the same order (groups in first-seen
//! order, floats bit for bit) or the same error. Some keys and arguments make the kernel hand
//! the aggregation to the interpreter at some row (`UPPER`/`LOWER` of the non-ASCII strings of
//! the pool, `CAST` to `DOUBLE` of the decimals of 38 digits of a wild column). Deterministic
//! regression tests for the edge cases follow the property.
//!
//! Only with the JIT (the `jit` feature): without it both engines are the interpreter.
#![cfg(feature = "jit")]

mod kit;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, StringViewArray, StringViewBuilder, UInt16Array,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{Field, Schema};
use kit::table::Rng;
use kit::Outcome;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use qjit::exec::{EngineKind, PartEngine, QueryOptions, Source};

#[derive(Default)]
struct Tally {
    queries: usize,
    compiled: usize,
    compiled_rows: usize,
    errors: usize,
    reasons: std::collections::BTreeMap<String, usize>,
}

/// Cases of the property (`QJIT_PROP_CASES` overrides): each is a table and one to four
/// aggregations over it.
const CASES: u32 = 96;

#[test]
fn compiled_aggregation_agrees_with_the_interpreter() {
    let cases = std::env::var("QJIT_PROP_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let tally = std::cell::RefCell::new(Tally::default());
    // Mostly the default (the kernel pipeline), sometimes one of LLVM's levels.
    let opt_level = prop_oneof![
        3 => Just(None),
        1 => (0..=qjit::internals::jit::MAX_OPT_LEVEL).prop_map(Some),
    ];
    let strategy = (
        kit::table_spec(),
        proptest::collection::vec(kit::aggregation(2), 1..=4),
        opt_level,
    );
    let result = runner.run(&strategy, |(table, queries, opt_level)| {
        let source = table.source();
        let options = QueryOptions {
            opt_level,
            ..QueryOptions::default()
        };
        for q in &queries {
            let sql = q.sql();
            let agreed = kit::check(&source, &sql, &options).map_err(TestCaseError::fail)?;
            let mut t = tally.borrow_mut();
            t.queries += 1;
            if agreed.aggregate_compiled {
                t.compiled += 1;
                if matches!(agreed.outcome, Outcome::Rows { .. }) {
                    t.compiled_rows += 1;
                }
            } else if let Ok(plan) = qjit::exec::plan(&source, &sql) {
                if let Ok(c) = qjit::exec::compile(&plan, &QueryOptions::default()) {
                    if let PartEngine::Interpreted(why) = c.aggregate {
                        *t.reasons.entry(why).or_default() += 1;
                    }
                }
            }
            if let Outcome::Error(e) = &agreed.outcome {
                t.errors += 1;
                if std::env::var("QJIT_PROP_ERRORS").is_ok() {
                    eprintln!("{sql}\n  {e}");
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let t = tally.into_inner();
    eprintln!(
        "{} queries: {} compiled ({} of them returned rows), {} errors; not compiled: {:?}",
        t.queries, t.compiled, t.compiled_rows, t.errors, t.reasons
    );
    assert!(
        t.compiled * 2 >= t.queries,
        "only {} of {} queries ran compiled",
        t.compiled,
        t.queries
    );
    assert!(
        t.compiled_rows * 3 >= t.queries,
        "only {} of {} queries ran compiled and returned rows",
        t.compiled_rows,
        t.queries
    );
}

// ---------------------------------------------------------------------------------------------
// Deterministic cases

/// A table `t` of `columns` (all nullable), cut into batches of the given sizes.
fn table_of(columns: Vec<(&str, ArrayRef)>, sizes: &[usize]) -> Source {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut batches = vec![];
    let mut at = 0;
    for &n in sizes {
        batches.push(batch.slice(at, n));
        at += n;
    }
    assert_eq!(at, batch.num_rows(), "the sizes cover the table");
    Source::batches("t", schema, batches)
}

/// Both engines agree on `sql`, and the aggregation ran compiled: the outcome.
fn agree_compiled(source: &Source, sql: &str) -> Outcome {
    let agreed =
        kit::check(source, sql, &QueryOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(agreed.aggregate_compiled, "not compiled: {sql}");
    agreed.outcome
}

/// The sign of a NaN sum depends on which operand of an addition the hardware returns; both
/// engines print the one canonical NaN.
#[test]
fn float_sums_of_nans_of_both_signs() {
    let nan = f64::NAN;
    let source = table_of(
        vec![
            ("k", Arc::new(Int32Array::from(vec![1, 1, 2, 2, 3, 3, 3]))),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    nan,
                    -nan,
                    -nan,
                    nan,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    1.0,
                ])),
            ),
        ],
        &[7],
    );
    for sql in [
        "SELECT k, SUM(f), AVG(f) FROM t GROUP BY k",
        "SELECT SUM(f), AVG(f) FROM t",
        "SELECT SUM(f) FROM t WHERE k = 2",
    ] {
        let out = agree_compiled(&source, sql);
        for row in out.rows() {
            for v in row.iter().filter(|v| v.starts_with("NaN")) {
                assert_eq!(v, "NaN#7ff8000000000000", "{sql}");
            }
        }
    }
}

/// The strings of every interesting length for a view: 0, 1, 4 (all in the prefix), 5, 11, 12
/// (the longest inline), 13 (the shortest in a buffer), 40.
const VIEW_STRINGS: &[&str] = &[
    "",
    "a",
    "abcd",
    "abcde",
    "abcdefghijk",
    "abcdefghijkl",
    "abcdefghijklm",
    "abcdefghijklmnopqrstuvwxyz0123456789ABCD",
];

/// A view column of `values`, each written into the data buffers anew (equal long strings at
/// different buffers and offsets).
fn views(values: &[Option<&str>]) -> StringViewArray {
    let mut b = StringViewBuilder::new().with_fixed_block_size(32);
    for v in values {
        b.append_option(*v);
    }
    b.finish()
}

/// `values` as views whose bytes past an inline string's length are garbage (and whose NULL
/// slots hold garbage inline views). arrow-rs's validator asks for zero padding, but readers
/// only look at `length` bytes, and the JIT masks the rest: equal strings must group together.
fn garbage_views(values: &[Option<&str>]) -> StringViewArray {
    let (views, buffers, nulls) = views(values).into_parts();
    let mut rng = Rng(7);
    let dirty: Vec<u128> = views
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let len = v as u32;
            if values[i].is_none() {
                // An inline view of a few ASCII letters.
                let mut bytes = [0u8; 16];
                bytes[0] = 3;
                for byte in &mut bytes[4..16] {
                    *byte = b'a' + rng.below(26) as u8;
                }
                return u128::from_le_bytes(bytes);
            }
            if len >= 12 {
                return v;
            }
            let keep = 32 + 8 * len;
            let garbage = (rng.next_u64() as u128) << 64 | rng.next_u64() as u128;
            v | (garbage >> keep << keep)
        })
        .collect();
    // SAFETY: every view is in bounds and valid UTF-8 within its length; only the padding past
    // the length of inline views is not zero.
    unsafe { StringViewArray::new_unchecked(ScalarBuffer::from(dirty), buffers, nulls) }
}

#[test]
fn view_keys_of_every_length_with_and_without_garbage_padding() {
    let mut values: Vec<Option<&str>> = vec![];
    for round in 0..3 {
        for (n, s) in VIEW_STRINGS.iter().enumerate() {
            if (n + round) % 4 == 0 {
                values.push(None);
            }
            values.push(Some(s));
        }
    }
    let n = values.len();
    let ids = Int64Array::from((0..n as i64).collect::<Vec<_>>());
    for array in [views(&values), garbage_views(&values)] {
        for (c, v) in values.iter().enumerate() {
            assert_eq!(array.is_valid(c), v.is_some());
            if let Some(v) = v {
                assert_eq!(array.value(c), *v);
            }
        }
        let source = table_of(
            vec![
                ("vs", Arc::new(array) as ArrayRef),
                ("id", Arc::new(ids.clone())),
            ],
            &[5, 0, 13, n - 18],
        );
        let out = agree_compiled(
            &source,
            "SELECT vs, COUNT(*), SUM(id), MIN(id) FROM t GROUP BY vs",
        );
        let rows = out.rows();
        assert_eq!(rows.len(), VIEW_STRINGS.len() + 1, "{rows:?}");
        let strings = rows.iter().filter(|r| r[0] != "NULL");
        for (row, s) in strings.zip(VIEW_STRINGS) {
            assert_eq!(row[0], format!("'{s}'"));
            assert_eq!(row[1], "'3'");
        }
        let nulls = rows.iter().find(|r| r[0] == "NULL").expect("a NULL group");
        assert_eq!(
            nulls[1],
            format!("'{}'", values.iter().filter(|v| v.is_none()).count())
        );
        // Two keys, one of them a view.
        agree_compiled(
            &source,
            "SELECT id % 2, vs, COUNT(*) FROM t GROUP BY id % 2, vs ORDER BY 1, 2",
        );
    }
}

#[test]
fn more_groups_than_a_batch_and_hash_table_growth() {
    // 30,000 rows, 12,000 distinct keys, first seen in a scrambled order; batches of 8192.
    let n = 30_000usize;
    let key = |r: usize| ((r * 7919) % 12_000) as i64 - 6_000;
    let k = Int64Array::from((0..n).map(key).collect::<Vec<_>>());
    let s = StringArray::from(
        (0..n)
            .map(|r| format!("key-{}-{}", key(r), "x".repeat(r % 17)))
            .collect::<Vec<_>>(),
    );
    let vs = StringViewArray::from_iter_values((0..n).map(|r| format!("v{}", key(r) * 3)));
    let f = Float64Array::from((0..n).map(|r| r as f64 * 0.1).collect::<Vec<_>>());
    let source = table_of(
        vec![
            ("k", Arc::new(k) as ArrayRef),
            ("s", Arc::new(s)),
            ("vs", Arc::new(vs)),
            ("f", Arc::new(f)),
        ],
        &[8192, 8192, 8192, n - 3 * 8192],
    );
    let out = agree_compiled(
        &source,
        "SELECT k, COUNT(*), SUM(f), AVG(f), MIN(f) FROM t GROUP BY k",
    );
    assert_eq!(out.rows().len(), 12_000);
    let out = agree_compiled(&source, "SELECT s, COUNT(*) FROM t GROUP BY s");
    assert!(out.rows().len() > 12_000);
    let out = agree_compiled(&source, "SELECT vs, k, SUM(k) FROM t GROUP BY vs, k");
    assert_eq!(out.rows().len(), 12_000);
    // Groups that span batches, few of them.
    let out = agree_compiled(&source, "SELECT k % 7, SUM(f) FROM t GROUP BY k % 7");
    assert_eq!(out.rows().len(), 13);
}

#[test]
fn bigint_sums_past_the_range() {
    let l = Int64Array::from(vec![
        Some(i64::MAX),
        Some(1),
        None,
        Some(-2),
        Some(i64::MIN),
        Some(-1),
    ]);
    let k = Int32Array::from(vec![1, 1, 1, 1, 2, 2]);
    let source = table_of(
        vec![("l", Arc::new(l) as ArrayRef), ("k", Arc::new(k))],
        &[1, 2, 3],
    );
    // Past i64::MAX and back: the exact sum fits.
    let out = agree_compiled(&source, "SELECT SUM(l), AVG(l) FROM t WHERE k = 1");
    assert_eq!(out.rows()[0][0], format!("'{}'", i64::MAX - 1));
    // Past the range at the end.
    for sql in [
        "SELECT SUM(l) FROM t WHERE l > 0",
        "SELECT k, SUM(l) FROM t GROUP BY k",
        "SELECT k, COUNT(*), SUM(l) FROM t WHERE l <> -2 GROUP BY k",
    ] {
        let out = agree_compiled(&source, sql);
        assert!(out.error().contains("exceeds BIGINT"), "{sql}: {out:?}");
    }
    // AVG of the same values is exact.
    let out = agree_compiled(&source, "SELECT k, AVG(l) FROM t GROUP BY k ORDER BY 1");
    assert_eq!(out.rows().len(), 2);
}

#[test]
fn decimal_sums_near_38_digits() {
    let max = 10i128.pow(38) - 1;
    let dd = |v: Vec<Option<i128>>| {
        Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(38, 0)
                .unwrap(),
        ) as ArrayRef
    };
    let k = || Arc::new(Int32Array::from(vec![1, 1, 1, 2, 2, 2])) as ArrayRef;
    // Exactly 38 nines, reached through larger partial sums of either sign.
    let fits = table_of(
        vec![
            (
                "dd",
                dd(vec![
                    Some(max),
                    Some(-5),
                    Some(5),
                    Some(max - 1),
                    Some(1),
                    None,
                ]),
            ),
            ("k", k()),
        ],
        &[2, 4],
    );
    let out = agree_compiled(
        &fits,
        "SELECT k, SUM(dd), AVG(dd), MIN(dd), MAX(dd) FROM t GROUP BY k",
    );
    assert_eq!(out.rows()[1][1], format!("'{max}'"));
    let out = agree_compiled(&fits, "SELECT SUM(dd) FROM t WHERE k = 1");
    assert_eq!(out.rows()[0][0], format!("'{max}'"));
    // One past: 39 digits at the end (no i128 overflow on the way).
    let past = table_of(
        vec![
            (
                "dd",
                dd(vec![
                    Some(max),
                    Some(1),
                    None,
                    Some(-max),
                    Some(-1),
                    Some(-1),
                ]),
            ),
            ("k", k()),
        ],
        &[1, 5],
    );
    for sql in [
        "SELECT SUM(dd) FROM t WHERE k = 1",
        "SELECT k, SUM(dd) FROM t GROUP BY k",
        "SELECT k, COUNT(*), SUM(dd) FROM t GROUP BY k",
    ] {
        let out = agree_compiled(&past, sql);
        assert!(out.error().contains("exceeds 38 digits"), "{sql}: {out:?}");
    }
    // Past i128 on the way (two values of 38 nines) and back: no error, the exact total, in
    // one batch or across batches (a sum counts its wraps).
    let wrap = table_of(
        vec![
            (
                "dd",
                dd(vec![
                    Some(max),
                    Some(max),
                    Some(max),
                    Some(-max),
                    Some(-max),
                    Some(-max),
                ]),
            ),
            ("k", Arc::new(Int32Array::from(vec![1, 1, 1, 1, 1, 1]))),
        ],
        &[2, 1, 3],
    );
    for (sql, column) in [
        ("SELECT SUM(dd) FROM t", 0),
        ("SELECT k, SUM(dd) FROM t GROUP BY k", 1),
        ("SELECT k, COUNT(*), AVG(dd), SUM(dd) FROM t GROUP BY k", 3),
        ("SELECT COUNT(*), SUM(dd) FROM t WHERE k = 1", 1),
    ] {
        let out = agree_compiled(&wrap, sql);
        assert_eq!(out.rows()[0][column], "'0'", "{sql}: {out:?}");
    }
    let out = agree_compiled(&wrap, "SELECT AVG(dd) FROM t");
    assert!(out.rows()[0][0].starts_with("0.0#"), "{out:?}");
    // Past i128 for good: the sum's error.
    let beyond = table_of(
        vec![
            ("dd", dd(vec![Some(max), Some(max), Some(max), Some(1)])),
            ("k", Arc::new(Int32Array::from(vec![1, 1, 2, 2]))),
        ],
        &[1, 3],
    );
    for sql in [
        "SELECT SUM(dd) FROM t",
        "SELECT AVG(dd) FROM t",
        "SELECT k, COUNT(*), AVG(dd), SUM(dd) FROM t GROUP BY k",
    ] {
        let out = agree_compiled(&beyond, sql);
        assert!(out.error().contains("38 digits"), "{sql}: {out:?}");
    }
}

#[test]
fn division_by_zero_in_an_argument_only_for_rows_the_where_keeps() {
    let source = table_of(
        vec![
            (
                "l",
                Arc::new(Int64Array::from(vec![10, 20, 30, 40, 50, 60, 70])) as ArrayRef,
            ),
            (
                "k",
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(2),
                    Some(0),
                    None,
                    Some(5),
                    Some(0),
                    Some(2),
                ])),
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])),
            ),
        ],
        &[3, 4],
    );
    for sql in [
        "SELECT SUM(l / k), COUNT(l % k) FROM t WHERE k <> 0",
        "SELECT k, SUM(l / k), MAX(l % k) FROM t WHERE k <> 0 GROUP BY k",
        "SELECT l / k, COUNT(*) FROM t WHERE k > 0 GROUP BY l / k",
        "SELECT k, AVG(f / k) FROM t WHERE k IS NULL OR k > 0 GROUP BY k",
        "SELECT SUM(l / k) FROM t WHERE k IS NULL",
    ] {
        let out = agree_compiled(&source, sql);
        assert!(!out.rows().is_empty(), "{sql}");
    }
    for sql in [
        "SELECT SUM(l / k) FROM t",
        "SELECT SUM(l / k) FROM t WHERE l > 20",
        "SELECT k, SUM(l / k) FROM t WHERE l >= 30 GROUP BY k",
        "SELECT l / k, COUNT(*) FROM t WHERE k >= 0 GROUP BY l / k",
        "SELECT COUNT(*), MIN(l % k) FROM t WHERE l = 60",
    ] {
        let out = agree_compiled(&source, sql);
        assert!(out.error().contains("division by zero"), "{sql}: {out:?}");
    }
}

/// The kernel evaluates decimal arguments in `i64` and hands a row back to the interpreter where
/// that is not exact: values at and past the `i64` range, products and rescales that overflow
/// it, results past a precision of at most 18 digits; NULLs over garbage values stay in the
/// kernel. Whatever path a row takes, values and errors are the interpreter's.
#[test]
fn decimal_arguments_on_both_sides_of_the_i64_range() {
    let big = i64::MAX as i128;
    let a = Decimal128Array::from(vec![
        Some(1234),
        Some(-5),
        Some(big),
        Some(-big - 1),
        Some(big + 1),
        Some(-big - 2),
        Some(10i128.pow(20)),
        Some(0),
        Some(99),
        Some(7),
    ]);
    // A NULL over a value that fits nothing narrow.
    let nulls = arrow::buffer::NullBuffer::from(vec![
        true, true, true, true, true, true, true, false, true, true,
    ]);
    let a = Decimal128Array::new(
        a.values()
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 7 { 10i128.pow(30) } else { *v })
            .collect(),
        Some(nulls),
    )
    .with_precision_and_scale(38, 2)
    .unwrap();
    let b = Decimal128Array::from(vec![
        Some(250),
        Some(-100),
        Some(3),
        Some(1),
        None,
        Some(-1),
        Some(2),
        Some(12345),
        Some(999_999),
        Some(-999_999),
    ])
    .with_precision_and_scale(10, 2)
    .unwrap();
    let n = Int64Array::from(vec![
        Some(1),
        Some(i64::MAX),
        Some(i64::MIN),
        None,
        Some(-3),
        Some(0),
        Some(5),
        Some(6),
        Some(i64::MAX / 100),
        Some(-7),
    ]);
    let w = UInt16Array::from(vec![1, 2, 3, 65535, 0, 9, 8, 7, 6, 5]);
    let k = Int32Array::from(vec![1, 2, 1, 2, 1, 2, 1, 2, 3, 3]);
    let source = table_of(
        vec![
            ("a", Arc::new(a) as ArrayRef),
            ("b", Arc::new(b)),
            ("n", Arc::new(n)),
            ("w", Arc::new(w)),
            ("k", Arc::new(k)),
        ],
        &[3, 7],
    );
    let exact = [
        "SELECT SUM(a * b), SUM(a + b), SUM(-a), COUNT(a - b) FROM t",
        "SELECT k, SUM(a * b), SUM(a + b), SUM(-a), COUNT(a - b) FROM t GROUP BY k",
        "SELECT k, SUM(a * b * b), AVG(b * b - a) FROM t WHERE k < 3 GROUP BY k",
        "SELECT SUM(CAST(n AS DECIMAL(38,2))), SUM(CAST(n AS DECIMAL(30,0)) * b) FROM t",
        "SELECT k, SUM(CAST(w AS DECIMAL(10,1)) * b), SUM(b * (1 - b)) FROM t GROUP BY k",
        "SELECT SUM(a * b), SUM(a) FROM t WHERE k = 3",
    ];
    for sql in exact {
        let out = agree_compiled(&source, sql);
        assert!(!out.rows().is_empty(), "{sql}");
    }
    // An error of a row in the i64 range (a result past a precision of at most 18 digits), on
    // a row whose other operand is NULL, and two failing arguments on one row: the same error.
    for sql in [
        "SELECT SUM(CAST(b AS DECIMAL(4,2))) FROM t",
        "SELECT k, SUM(CAST(b AS DECIMAL(4,2)) + CAST(n AS DECIMAL(20,2))) FROM t GROUP BY k",
        "SELECT SUM(CAST(b AS DECIMAL(4,2))), SUM(a * a) FROM t",
        "SELECT SUM(a * a), SUM(CAST(b AS DECIMAL(4,2))) FROM t",
        "SELECT SUM(CAST(a AS DECIMAL(20,2))) FROM t",
    ] {
        let out = agree_compiled(&source, sql);
        out.error();
    }
}

#[test]
fn decimal_sum_that_wraps_before_a_hand_back() {
    // Three values of 38 nines wrap an i128 to a sum that fits 38 digits again; the row after
    // them hands the aggregation to the interpreter (UPPER of non-ASCII text). The kernel must
    // report the overflow it saw rather than hand over the wrapped sum.
    let max = 10i128.pow(38) - 1;
    let dd = Decimal128Array::from(vec![Some(max), Some(max), Some(max), None, Some(1)])
        .with_precision_and_scale(38, 0)
        .unwrap();
    let s = StringArray::from(vec!["a", "b", "c", "ü", "d"]);
    let k = Int32Array::from(vec![1, 1, 1, 1, 2]);
    for sizes in [&[5][..], &[4, 1], &[1, 4]] {
        let source = table_of(
            vec![
                ("dd", Arc::new(dd.clone()) as ArrayRef),
                ("s", Arc::new(s.clone())),
                ("k", Arc::new(k.clone())),
            ],
            sizes,
        );
        for sql in [
            "SELECT k, SUM(dd), MAX(UPPER(s)) FROM t GROUP BY k",
            "SELECT UPPER(s) = 'Ü', SUM(dd) FROM t GROUP BY 1",
            "SELECT SUM(dd), MIN(LOWER(s)) FROM t",
        ] {
            let out = agree_compiled(&source, sql);
            assert!(out.error().contains("38 digits"), "{sql}: {out:?}");
        }
    }
}

/// Compiled morsel states merge in the kernel's own memory (unless they keep string extremes):
/// many morsels, on one thread and on several, with the groups first seen in a scrambled order,
/// NULL keys, integer, `VARCHAR` and view keys (short and long), float sums whose order shows,
/// extremes of every kind, and morsels that hand back to the interpreter between compiled ones
/// (a total that then moves to the interpreter). Values, group order and errors are the
/// interpreter's.
#[test]
fn compiled_states_merge_in_the_kernel() {
    let n = 3_000usize;
    let key = |r: usize| ((r * 7919) % 37) as i64 - 5;
    let k = Int64Array::from(
        (0..n)
            .map(|r| (r % 11 != 3).then(|| key(r)))
            .collect::<Vec<_>>(),
    );
    let d = Decimal128Array::from(
        (0..n)
            .map(|r| (r % 13 != 0).then_some(r as i128 * 101 - 70_000))
            .collect::<Vec<_>>(),
    )
    .with_precision_and_scale(12, 2)
    .unwrap();
    // Large and small floats alternate, so that the order of addition changes the sums.
    let f = Float64Array::from(
        (0..n)
            .map(|r| match r % 7 {
                0 => None,
                1 => Some(1e16),
                2 => Some(-0.0),
                3 => Some(f64::NAN),
                _ => Some(r as f64 * 0.37 - 300.0),
            })
            .collect::<Vec<_>>(),
    );
    let b = BooleanArray::from(
        (0..n)
            .map(|r| (r % 5 != 0).then_some(r % 3 == 0))
            .collect::<Vec<_>>(),
    );
    // One non-ASCII string per 600 rows: UPPER hands those morsels back to the interpreter.
    let s = StringArray::from(
        (0..n)
            .map(|r| {
                if r % 600 == 599 {
                    "ü".to_string()
                } else {
                    format!("s{}", r % 5)
                }
            })
            .collect::<Vec<_>>(),
    );
    // Views of up to 12 bytes and longer, some equal in length and prefix.
    let v = StringViewArray::from(
        (0..n)
            .map(|r| match r % 9 {
                0 => None,
                1 | 2 => Some(format!("short {}", key(r))),
                _ => Some(format!("a longer view, group {:>4}", key(r) % 7)),
            })
            .collect::<Vec<_>>(),
    );
    let columns = vec![
        ("k", Arc::new(k) as ArrayRef),
        ("d", Arc::new(d)),
        ("f", Arc::new(f)),
        ("b", Arc::new(b)),
        ("s", Arc::new(s)),
        ("v", Arc::new(v)),
    ];
    let source = table_of(columns, &[n]).with_morsel_rows(250);
    let queries = [
        "SELECT k, COUNT(*), COUNT(d), SUM(d), AVG(d), SUM(f), AVG(f), MIN(d), MAX(d), MIN(f), \
         MAX(f), MIN(b), MAX(b) FROM t GROUP BY k",
        "SELECT k, SUM(f), COUNT(*) FROM t WHERE d > 0 GROUP BY k",
        "SELECT k % 4, b, SUM(d), MAX(f) FROM t GROUP BY k % 4, b",
        "SELECT SUM(d), SUM(f), MIN(f), COUNT(*) FROM t",
        // Hand-backs in some morsels.
        "SELECT k, SUM(LENGTH(UPPER(s))), SUM(d) FROM t GROUP BY k",
        // String keys: their bytes compared, and owned by the total.
        "SELECT s, k, SUM(d) FROM t GROUP BY s, k",
        "SELECT v, COUNT(*), SUM(f) FROM t GROUP BY v",
        "SELECT v, s, k % 3, MAX(d) FROM t GROUP BY v, s, k % 3",
        "SELECT UPPER(s), v, COUNT(*) FROM t GROUP BY UPPER(s), v",
        // String extremes merge through the interpreter.
        "SELECT k, MIN(s), SUM(f) FROM t GROUP BY k",
    ];
    let render = |options: &QueryOptions, sql: &str| match qjit::exec::run(&source, sql, options) {
        Ok(result) => {
            assert_eq!(
                result.compiled.aggregate == PartEngine::Compiled,
                options.engine == EngineKind::Jit,
                "{sql}"
            );
            Ok(kit::outcome::render(&result))
        }
        Err(e) => Err(e.to_string()),
    };
    for sql in queries {
        let expected = render(
            &QueryOptions {
                engine: EngineKind::Interp,
                threads: Some(1),
                ..Default::default()
            },
            sql,
        );
        assert!(expected.is_ok(), "{sql}: {expected:?}");
        for threads in [1, 3] {
            let jit = QueryOptions {
                engine: EngineKind::Jit,
                threads: Some(threads),
                ..Default::default()
            };
            assert_eq!(render(&jit, sql), expected, "{sql} on {threads} threads");
        }
    }

    // Sums that fit each morsel but not their total: the interpreter's error, from the merge.
    let max = 10i128.pow(38) - 1;
    let big = Decimal128Array::from(
        (0..n)
            .map(|r| Some(if r % 250 == 0 { max / 2 } else { 1 }))
            .collect::<Vec<_>>(),
    )
    .with_precision_and_scale(38, 0)
    .unwrap();
    let keys = Int32Array::from((0..n).map(|r| (r % 2) as i32).collect::<Vec<_>>());
    let source = table_of(
        vec![("g", Arc::new(keys) as ArrayRef), ("big", Arc::new(big))],
        &[n],
    )
    .with_morsel_rows(250);
    for sql in [
        "SELECT g, SUM(big) FROM t GROUP BY g",
        "SELECT g, COUNT(*), AVG(big) FROM t GROUP BY g",
    ] {
        let interp = qjit::exec::run(
            &source,
            sql,
            &QueryOptions {
                engine: EngineKind::Interp,
                ..Default::default()
            },
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        let jit = qjit::exec::run(
            &source,
            sql,
            &QueryOptions {
                engine: EngineKind::Jit,
                ..Default::default()
            },
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert_eq!(jit, interp, "{sql}");
        assert!(jit.contains("38 digits"), "{jit}");
    }
}
