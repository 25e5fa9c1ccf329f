//! Compiled and interpreted timestamp arithmetic agree: random timestamps of every unit (over
//! the whole `i64` range, where years pass an `INTEGER` and units overflow, and over the years
//! people use), through random `EXTRACT`s, `DATE_TRUNC`s, `± INTERVAL`s, differences, casts and
//! comparisons, in projections, filters and aggregations. The JIT engine must compile each
//! query and give the interpreter's rows, or its error.
//!
//! Only with the JIT (the `jit` feature): without it both engines are the interpreter.
#![cfg(feature = "jit")]

mod common;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Array, RecordBatch, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{Field, Schema};
use proptest::prelude::*;
use qjit::exec::{EngineKind, Source};

/// Columns of the table, by unit: `s`, `ms`, `us`, `ns`, and `tz` (zoned microseconds).
const COLUMNS: [&str; 5] = ["s", "ms", "us", "ns", "tz"];

/// A value of a unit whose days per `i64` are `per_day`: mostly years 1600–2400 (1680–2260 in
/// nanoseconds, whose range ends in 1677 and 2262), sometimes anywhere in the `i64` range,
/// sometimes NULL.
fn value(per_day: i64) -> impl Strategy<Value = Option<i64>> {
    let days = if per_day > 86_400_000_000 {
        -106_000i64..106_000
    } else {
        -135_000i64..157_000
    };
    let ordinary = (days, 0..per_day).prop_map(move |(d, t)| d * per_day + t);
    prop_oneof![
        6 => ordinary.prop_map(Some),
        1 => any::<i64>().prop_map(Some),
        1 => Just(None),
    ]
}

/// A table of `rows` rows: one random instant per row and unit.
fn table(rows: usize) -> impl Strategy<Value = RecordBatch> {
    let per_day = [
        86_400,
        86_400_000,
        86_400_000_000,
        86_400_000_000_000,
        86_400_000_000,
    ];
    let columns: Vec<_> = per_day
        .iter()
        .map(|&p| proptest::collection::vec(value(p), rows))
        .collect();
    columns.prop_map(move |cols| {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int32Array::from((0..rows as i32).collect::<Vec<_>>())),
            Arc::new(TimestampSecondArray::from(cols[0].clone())),
            Arc::new(TimestampMillisecondArray::from(cols[1].clone())),
            Arc::new(TimestampMicrosecondArray::from(cols[2].clone())),
            Arc::new(TimestampNanosecondArray::from(cols[3].clone())),
            Arc::new(TimestampMicrosecondArray::from(cols[4].clone()).with_timezone("+05:30")),
        ];
        let fields: Vec<Field> = std::iter::once("id")
            .chain(COLUMNS)
            .zip(&arrays)
            .map(|(n, a)| Field::new(n, a.data_type().clone(), n != "id"))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a batch")
    })
}

fn column() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(COLUMNS.to_vec())
}

/// A random interval literal: months, days and microseconds of either sign.
fn interval() -> impl Strategy<Value = String> {
    (
        -40i32..40,
        -800i32..800,
        -200_000_000_000i64..200_000_000_000,
    )
        .prop_map(|(m, d, us)| format!("INTERVAL '{m} months {d} days {us} microseconds'"))
}

/// A random timestamp expression of one column, or an expression over two.
fn expression() -> impl Strategy<Value = String> {
    let part = proptest::sample::select(vec![
        "YEAR",
        "MONTH",
        "DAY",
        "QUARTER",
        "DOW",
        "DOY",
        "WEEK",
        "HOUR",
        "MINUTE",
        "SECOND",
        "MILLISECOND",
        "MICROSECOND",
        "EPOCH",
    ]);
    let field = proptest::sample::select(vec![
        "microseconds",
        "milliseconds",
        "second",
        "minute",
        "hour",
        "day",
        "week",
        "month",
        "quarter",
        "year",
        "decade",
        "century",
        "millennium",
    ]);
    let precision = proptest::sample::select(vec![0u32, 3, 6, 9]);
    prop_oneof![
        (part, column()).prop_map(|(p, c)| format!("EXTRACT({p} FROM {c})")),
        (field, column()).prop_map(|(f, c)| format!("DATE_TRUNC('{f}', {c})")),
        (column(), interval()).prop_map(|(c, i)| format!("{c} + {i}")),
        (column(), interval()).prop_map(|(c, i)| format!("{c} - {i}")),
        (column(), column()).prop_map(|(a, b)| format!("{a} - {b}")),
        column().prop_map(|c| format!("CAST({c} AS DATE)")),
        (column(), precision.clone()).prop_map(|(c, p)| format!("CAST({c} AS TIMESTAMP({p}))")),
        column().prop_map(|c| format!("CAST({c} AS VARCHAR)")),
        (column(), precision)
            .prop_map(|(c, p)| format!("CAST(CAST({c} AS VARCHAR) AS TIMESTAMP({p}))")),
        (column(), column()).prop_map(|(a, b)| format!("{a} < {b}")),
        (column(), column()).prop_map(|(a, b)| format!("{a} = {b}")),
        (column(), column(), interval()).prop_map(|(a, b, i)| format!("({a} - {b}) > {i}")),
        column().prop_map(|c| format!(
            "TO_CHAR({c}, 'FMYYYY-MM-DD HH12:MI:SS.US AM Dy Month DDDth IW Q TZ')"
        )),
        column().prop_map(|c| format!("STRFTIME({c}, '%Y %-m %e %H:%M:%S.%n %a %B %j %V %u %p')")),
    ]
}

/// A random query: a projection, a filter, or an aggregation.
fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        (expression(), expression()).prop_map(|(a, b)| format!("SELECT id, {a}, {b} FROM t")),
        (column(), column(), interval()).prop_map(|(a, b, i)| format!(
            "SELECT id FROM t WHERE {a} + {i} >= {b}"
        )),
        (expression(), column()).prop_map(|(e, c)| format!(
            "SELECT id, {e} FROM t WHERE {c} IS NOT NULL AND {c} > TIMESTAMP '1970-01-01'"
        )),
        (column(), column()).prop_map(|(k, c)| format!(
            "SELECT DATE_TRUNC('day', {k}) AS g, count(*), min({c}), max({c}) FROM t GROUP BY g ORDER BY g"
        )),
    ]
}

/// The rows of a query, or its error's message.
fn outcome(tables: &[Source], sql: &str, engine: EngineKind) -> Result<Vec<Vec<String>>, String> {
    common::run_sql_threads(tables, sql, engine, Some(1))
        .map(|r| common::render_rows(&r))
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compiled_timestamp_arithmetic_agrees_with_the_interpreter(
        batch in table(24),
        sql in query(),
    ) {
        let tables = vec![Source::batches("t", batch.schema(), vec![batch.slice(0, 10), batch.slice(10, 14)])];
        let interpreted = outcome(&tables, &sql, EngineKind::Interp);
        let compiled = outcome(&tables, &sql, EngineKind::Jit);
        if let Err(e) = &compiled {
            prop_assert!(!e.contains("cannot compile"), "{}: {}", sql, e);
        }
        prop_assert_eq!(interpreted, compiled, "{}", sql);
    }
}
