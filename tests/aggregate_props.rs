//! The compiled aggregation against the interpreter: random tables (several batches of random
//! sizes, sliced arrays, NULLs, edge values, every string layout, nullable and NOT NULL fields)
//! and random aggregate queries (keys, aggregates, WHERE, HAVING), run on `EngineKind::Interp`
//! and `EngineKind::Auto`. Both must return the same rows in the same order (groups in
//! first-seen order, floats bit for bit) or the same error. Some keys and arguments make the
//! kernel hand the aggregation to the interpreter at some row (`UPPER`/`LOWER` of the non-ASCII
//! strings of the pool, `CAST` to `DOUBLE` of the decimals of 38 digits of a wild column).
//! Deterministic regression tests for the edge cases follow the property.
//!
//! Only with the JIT (the `jit` feature): without it both engines are the interpreter.
#![cfg(feature = "jit")]

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray, StringViewBuilder, UInt16Array, UInt64Array,
};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Field, Float32Type, Float64Type, Int32Type, Schema, UInt16Type};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use qjit::exec::{EngineKind, PartEngine, QueryOptions, Source};

// ---------------------------------------------------------------------------------------------
// Tables

/// A small deterministic generator (splitmix64), so that a table is a function of its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, pool: &[T]) -> T {
        pool[self.below(pool.len())]
    }
}

// Each pool lists its tame values first: a column of a table is either tame (values from the
// first `*_TAME` entries: no overflow, no zero divisor) or wild (the whole pool).
const K: &[i16] = &[1, 2, 3, -1, 2, 1, 0, i16::MAX];
const K_TAME: usize = 6;
const I: &[i32] = &[0, 1, -1, 7, -7, 100, 3, 3, i32::MAX, i32::MIN];
const I_TAME: usize = 8;
const L: &[i64] = &[0, 1, -2, 1_000_000, 42, -42, i64::MAX, i64::MIN];
const L_TAME: usize = 6;
const U: &[u64] = &[0, 1, 5, 5, u64::MAX, 1 << 63];
const U_TAME: usize = 4;
const F: &[f64] = &[
    0.0,
    -0.0,
    1.5,
    -2.25,
    0.1,
    3.0,
    0.3,
    f64::NAN,
    -f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
];
const F_TAME: usize = 7;
const R: &[f32] = &[0.0, -0.0, 1.5, -0.5, 0.1, f32::NAN, f32::INFINITY, 3e38];
const R_TAME: usize = 5;
const D: &[i128] = &[0, 1234, -567, -1, 5, 1234, 9_999_999_999, -9_999_999_999];
const D_TAME: usize = 6;
const DD: &[i128] = &[
    0,
    1,
    -1,
    -7,
    10i128.pow(37),
    10i128.pow(38) - 1,
    -(10i128.pow(38) - 1),
    5 * 10i128.pow(37),
];
const DD_TAME: usize = 4;
const DT: &[i32] = &[0, 10957, -1, 19753, 8766, 10957];
/// Lengths 0, 1, 4, 5, 11, 12, 13, 40; non-ASCII; long strings that share a length and a
/// 4-byte prefix.
const S: &[&str] = &[
    "",
    "a",
    "abcd",
    "abcde",
    "hello world",
    "héllo wörld",
    "abcdefghijkl",
    "abcdefghijklm",
    "abcdXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "abcdYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY",
    "日本語のテキスト",
    "ß",
    "a",
    "abcd",
];

/// The table's columns: name, type.
fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("k", DataType::Int16),
        ("i", DataType::Int32),
        ("l", DataType::Int64),
        ("u", DataType::UInt64),
        ("f", DataType::Float64),
        ("r", DataType::Float32),
        ("d", DataType::Decimal128(10, 2)),
        ("dd", DataType::Decimal128(38, 0)),
        ("dt", DataType::Date32),
        ("b", DataType::Boolean),
        ("s", DataType::Utf8),
        ("ls", DataType::LargeUtf8),
        ("vs", DataType::Utf8View),
        (
            "ds",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        ),
        (
            "dl",
            DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::LargeUtf8)),
        ),
    ]
}

/// How a random table is made.
#[derive(Clone, Debug)]
struct TableSpec {
    seed: u64,
    /// Rows per batch.
    sizes: Vec<usize>,
    /// Bit `c`: column `c` is NOT NULL (and has no NULLs).
    not_null: u16,
    /// 1 in `null_one_in` values of a nullable column is NULL (0: none).
    null_one_in: usize,
    /// `d` is stored as `Decimal64` instead of `Decimal128`.
    decimal64: bool,
}

/// One column of `len` rows, built `offset` rows into a longer array and sliced.
fn column(
    dt: &DataType,
    len: usize,
    offset: usize,
    nullable: bool,
    null_one_in: usize,
    rng: &mut Rng,
) -> ArrayRef {
    let total = len + offset + rng.below(3);
    let mut valid: Vec<bool> = (0..total)
        .map(|_| !(nullable && null_one_in > 0 && rng.below(null_one_in) == 0))
        .collect();
    if !nullable {
        valid.iter_mut().for_each(|v| *v = true);
    }
    let wild = rng.below(3) == 0;
    fn pick_pool<T>(wild: bool, all: &'static [T], tame: usize) -> &'static [T] {
        if wild {
            all
        } else {
            &all[..tame]
        }
    }
    macro_rules! pool {
        ($all:expr, $tame:expr) => {
            pick_pool(wild, $all, $tame)
        };
    }
    macro_rules! prim {
        ($array:ty, $pool:expr) => {{
            let values: $array = valid
                .iter()
                .map(|&v| {
                    let x = rng.pick($pool);
                    v.then_some(x)
                })
                .collect();
            Arc::new(values) as ArrayRef
        }};
    }
    let full: ArrayRef = match dt {
        DataType::Int16 => prim!(Int16Array, pool!(K, K_TAME)),
        DataType::Int32 => prim!(Int32Array, pool!(I, I_TAME)),
        DataType::Int64 => prim!(Int64Array, pool!(L, L_TAME)),
        DataType::UInt64 => prim!(UInt64Array, pool!(U, U_TAME)),
        DataType::Float64 => prim!(Float64Array, pool!(F, F_TAME)),
        DataType::Float32 => prim!(Float32Array, pool!(R, R_TAME)),
        DataType::Date32 => prim!(Date32Array, DT),
        DataType::Boolean => prim!(BooleanArray, &[true, false, true]),
        DataType::Decimal64(p, s) => {
            // The values of `d`, stored in 8 bytes (as qjit reads Parquet decimals).
            let values: arrow::array::Decimal64Array = valid
                .iter()
                .map(|&v| {
                    let x = rng.pick(pool!(D, D_TAME));
                    v.then_some(x as i64)
                })
                .collect();
            Arc::new(values.with_precision_and_scale(*p, *s).unwrap())
        }
        DataType::Decimal128(p, s) => {
            let pool = if *p == 38 {
                pool!(DD, DD_TAME)
            } else {
                pool!(D, D_TAME)
            };
            let values: Decimal128Array = valid
                .iter()
                .map(|&v| {
                    let x = rng.pick(pool);
                    v.then_some(x)
                })
                .collect();
            Arc::new(values.with_precision_and_scale(*p, *s).unwrap())
        }
        DataType::Utf8 => prim!(StringArray, S),
        DataType::LargeUtf8 => prim!(LargeStringArray, S),
        DataType::Utf8View => {
            // Small data blocks, so that long strings land in several buffers; equal strings
            // are written again each time (different buffers and offsets).
            let mut builder = StringViewBuilder::new().with_fixed_block_size(64);
            for &v in &valid {
                let x = rng.pick(S);
                if v {
                    builder.append_value(x);
                } else {
                    builder.append_null();
                }
            }
            Arc::new(builder.finish())
        }
        DataType::Dictionary(key, _) => {
            // A dictionary with duplicate values and entries no key uses.
            let dict_len = 1 + rng.below(S.len());
            // Sometimes a NULL value that valid keys point at.
            let null_value = nullable && rng.below(3) == 0;
            let words: Vec<Option<&str>> = (0..dict_len)
                .map(|_| {
                    let x = rng.pick(S);
                    (!null_value || rng.below(4) != 0).then_some(x)
                })
                .collect();
            let keys: Vec<Option<usize>> = valid
                .iter()
                .map(|&v| {
                    let x = rng.below(dict_len);
                    v.then_some(x)
                })
                .collect();
            if **key == DataType::Int32 {
                let keys: Int32Array = keys.iter().map(|k| k.map(|k| k as i32)).collect();
                let values = StringArray::from(words);
                Arc::new(DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap())
            } else {
                let keys: UInt16Array = keys.iter().map(|k| k.map(|k| k as u16)).collect();
                let values = LargeStringArray::from(words);
                Arc::new(DictionaryArray::<UInt16Type>::try_new(keys, Arc::new(values)).unwrap())
            }
        }
        other => panic!("no generator for {other}"),
    };
    full.slice(offset, len)
}

/// The table's schema; with `decimal64`, `d` is stored as `Decimal64`.
fn schema(not_null: u16, decimal64: bool) -> Arc<Schema> {
    Arc::new(Schema::new(
        columns()
            .into_iter()
            .enumerate()
            .map(|(c, (name, dt))| {
                let dt = match dt {
                    DataType::Decimal128(p, s) if decimal64 && p <= 18 => DataType::Decimal64(p, s),
                    dt => dt,
                };
                Field::new(name, dt, not_null >> c & 1 == 0)
            })
            .collect::<Vec<_>>(),
    ))
}

fn make_table(spec: &TableSpec) -> Source {
    let mut rng = Rng(spec.seed);
    let schema = schema(spec.not_null, spec.decimal64);
    let batches = spec
        .sizes
        .iter()
        .map(|&len| {
            let arrays: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .map(|f| {
                    let offset = rng.below(70);
                    column(
                        f.data_type(),
                        len,
                        offset,
                        f.is_nullable(),
                        spec.null_one_in,
                        &mut rng,
                    )
                })
                .collect();
            RecordBatch::try_new(schema.clone(), arrays).unwrap()
        })
        .collect();
    Source::batches("t", schema, batches)
}

fn table_spec() -> impl Strategy<Value = TableSpec> {
    let size = prop_oneof![
        Just(0usize),
        Just(1),
        Just(3),
        Just(63),
        Just(64),
        Just(65),
        Just(130),
        Just(200),
        1usize..20,
    ];
    (
        any::<u64>(),
        proptest::collection::vec(size, 0..5),
        prop_oneof![Just(0u16), Just(u16::MAX), any::<u16>()],
        prop_oneof![Just(0usize), Just(2), Just(5), Just(12)],
        any::<bool>(),
    )
        .prop_map(
            |(seed, sizes, not_null, null_one_in, decimal64)| TableSpec {
                seed,
                sizes,
                not_null,
                null_one_in,
                decimal64,
            },
        )
}

// ---------------------------------------------------------------------------------------------
// Queries

/// Group keys: columns of every type and simple expressions over them.
const KEYS: &[&str] = &[
    "k",
    "i",
    "l",
    "u",
    "f",
    "r",
    "d",
    "dd",
    "dt",
    "b",
    "s",
    "ls",
    "vs",
    "ds",
    "k + 1",
    "i % 3",
    "f * 2",
    "d * 2",
    "-d",
    "EXTRACT(YEAR FROM dt)",
    "dt + INTERVAL '1' DAY",
    "LENGTH(s)",
    "SUBSTRING(vs, 2, 3)",
    "CASE WHEN b THEN 1 ELSE 0 END",
    "COALESCE(k, 0)",
    "NULLIF(k, 0)",
    "k = 1",
    "ROUND(d)",
    "l / k",
    "i + 1",
    "CAST(i AS BIGINT)",
    "dl",
    "SUBSTRING(s, 1, 2)",
    "SUBSTRING(ds, 2)",
    "LENGTH(vs)",
    "CAST(f AS REAL)",
    "r + 1",
    "u % 7",
    "-f",
    "f + 0",
    "CASE WHEN k > 1 THEN s ELSE vs END",
    "COALESCE(vs, ls)",
    "CASE WHEN b THEN d END",
    "NULL",
    "CAST(NULL AS INT)",
    "1",
    "'x'",
    "UPPER(s)",
    "LOWER(vs)",
    "UPPER(SUBSTRING(ds, 1, 1))",
    "LOWER(ls) || 'x'",
    "s || vs",
    "CAST(dd AS DOUBLE)",
    "CAST(k AS VARCHAR)",
];

/// What an aggregate argument can be given to.
#[derive(Clone, Copy, PartialEq)]
enum ArgKind {
    /// SUM, AVG, MIN, MAX, COUNT.
    Number,
    /// MIN, MAX, COUNT.
    Ordered,
}

const ARGS: &[(&str, ArgKind)] = &[
    ("k", ArgKind::Number),
    ("i", ArgKind::Number),
    ("l", ArgKind::Number),
    ("u", ArgKind::Number),
    ("f", ArgKind::Number),
    ("r", ArgKind::Number),
    ("d", ArgKind::Number),
    ("dd", ArgKind::Number),
    ("dt", ArgKind::Ordered),
    ("b", ArgKind::Ordered),
    ("s", ArgKind::Ordered),
    ("vs", ArgKind::Ordered),
    ("i * k", ArgKind::Number),
    ("l + i", ArgKind::Number),
    ("l * 2", ArgKind::Number),
    ("f + r", ArgKind::Number),
    ("d * k", ArgKind::Number),
    ("dd * 10", ArgKind::Number),
    ("dd + d", ArgKind::Number),
    ("l / k", ArgKind::Number),
    ("i % k", ArgKind::Number),
    ("CAST(l AS DECIMAL(38,0))", ArgKind::Number),
    ("f / k", ArgKind::Number),
    ("CASE WHEN b THEN f END", ArgKind::Number),
    ("ABS(i)", ArgKind::Number),
    ("ROUND(d, 1)", ArgKind::Number),
    ("LENGTH(ls)", ArgKind::Number),
    ("d / 3", ArgKind::Number),
    ("COALESCE(k, 0)", ArgKind::Number),
    ("NULLIF(i, 0)", ArgKind::Number),
    ("dt + INTERVAL '1' MONTH", ArgKind::Ordered),
    ("-f", ArgKind::Number),
    ("r * r", ArgKind::Number),
    ("CASE WHEN k > 1 THEN d END", ArgKind::Number),
    ("u + 1", ArgKind::Number),
    ("CAST(u AS DECIMAL(38,0))", ArgKind::Number),
    ("k * 1.5", ArgKind::Number),
    ("EXTRACT(DAY FROM dt)", ArgKind::Number),
    ("LENGTH(vs)", ArgKind::Number),
    ("k > 1", ArgKind::Ordered),
    ("dl", ArgKind::Ordered),
    ("CAST(f AS INT)", ArgKind::Number),
    ("CAST(r AS BIGINT)", ArgKind::Number),
    ("1", ArgKind::Number),
    ("2.5", ArgKind::Number),
    ("CAST(NULL AS BIGINT)", ArgKind::Number),
    ("NULL", ArgKind::Ordered),
    ("CAST(2.5 AS DOUBLE)", ArgKind::Number),
    ("CAST(dd AS DOUBLE)", ArgKind::Number),
    ("CAST(d AS DOUBLE) * CAST(dd AS DOUBLE)", ArgKind::Number),
    ("UPPER(s)", ArgKind::Ordered),
    ("LOWER(dl)", ArgKind::Ordered),
    ("ls || UPPER(vs)", ArgKind::Ordered),
    ("CAST(i AS VARCHAR)", ArgKind::Ordered),
    ("-(d * k)", ArgKind::Number),
    ("d * d * d", ArgKind::Number),
    ("CAST(i AS DECIMAL(12,2)) - d", ArgKind::Number),
    ("CAST(d AS DECIMAL(9,3))", ArgKind::Number),
];

const PREDICATES: &[&str] = &[
    "k > 0",
    "b",
    "NOT b",
    "i IS NOT NULL",
    "f > 0.5",
    "s LIKE 'a%'",
    "dt > DATE '2000-01-01'",
    "k <> 0 AND l / k > 1",
    "l / k > 1",
    "d < 0",
    "vs = 'abcd'",
    "u > 5",
    "f = f",
    "k IN (1, 2)",
    "i % 2 = 0",
    "k = 0",
    "FALSE",
    "NULL",
    "f > 0.5 OR NULL",
    "ds = dl",
    "vs < s",
];

const HAVING: &[&str] = &[
    "COUNT(*) > 1",
    "COUNT(*) >= 1",
    "MIN(k) IS NOT NULL",
    "SUM(i) > 0",
    "MAX(f) > 1",
];

#[derive(Clone, Debug)]
struct QuerySpec {
    keys: Vec<usize>,
    /// (function 0..6, argument index).
    aggs: Vec<(usize, usize)>,
    filter: Vec<usize>,
    or: bool,
    having: Option<usize>,
    /// Calls over distinct values (function 1..6, argument index), beside the others.
    distinct: Vec<(usize, usize)>,
}

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    (
        proptest::collection::vec(0..KEYS.len(), 0..=3),
        proptest::collection::vec((0usize..6, 0..ARGS.len()), 1..=4),
        proptest::collection::vec(0..PREDICATES.len(), 0..=2),
        any::<bool>(),
        proptest::option::weighted(0.25, 0..HAVING.len()),
        proptest::collection::vec((1usize..6, 0..ARGS.len()), 0..=2),
    )
        .prop_map(|(keys, aggs, filter, or, having, distinct)| QuerySpec {
            keys,
            aggs,
            filter,
            or,
            having,
            distinct,
        })
}

impl QuerySpec {
    /// The SELECT list, FROM, WHERE, GROUP BY and HAVING (no ORDER BY).
    fn sql(&self) -> String {
        let mut select: Vec<String> = self.keys.iter().map(|&k| KEYS[k].to_string()).collect();
        let calls = self
            .aggs
            .iter()
            .map(|&c| (c, ""))
            .chain(self.distinct.iter().map(|&c| (c, "DISTINCT ")));
        for ((f, a), distinct) in calls {
            let (arg, kind) = ARGS[a];
            // Sums and averages of non-numbers become MIN/MAX.
            let f = if kind == ArgKind::Ordered && (f == 2 || f == 3) {
                f + 2
            } else {
                f
            };
            select.push(match f {
                0 => "COUNT(*)".to_string(),
                1 => format!("COUNT({distinct}{arg})"),
                2 => format!("SUM({distinct}{arg})"),
                3 => format!("AVG({distinct}{arg})"),
                4 => format!("MIN({distinct}{arg})"),
                _ => format!("MAX({distinct}{arg})"),
            });
        }
        let mut sql = format!("SELECT {} FROM t", select.join(", "));
        if !self.filter.is_empty() {
            let preds: Vec<String> = self
                .filter
                .iter()
                .map(|&p| format!("({})", PREDICATES[p]))
                .collect();
            sql.push_str(" WHERE ");
            sql.push_str(&preds.join(if self.or { " OR " } else { " AND " }));
        }
        if !self.keys.is_empty() {
            let keys: Vec<&str> = self.keys.iter().map(|&k| KEYS[k]).collect();
            sql.push_str(" GROUP BY ");
            sql.push_str(&keys.join(", "));
        }
        if let Some(h) = self.having {
            sql.push_str(" HAVING ");
            sql.push_str(HAVING[h]);
        }
        sql
    }

    /// The same query ordered by every key.
    fn ordered_sql(&self) -> String {
        let mut sql = self.sql();
        if !self.keys.is_empty() {
            let ordinals: Vec<String> = (1..=self.keys.len()).map(|i| i.to_string()).collect();
            sql.push_str(" ORDER BY ");
            sql.push_str(&ordinals.join(", "));
        }
        sql
    }
}

// ---------------------------------------------------------------------------------------------
// Running and comparing

/// A query's outcome as text: the output types and every value (floats with their bits), or the
/// error message.
#[derive(Debug, PartialEq)]
enum Outcome {
    Rows {
        types: Vec<DataType>,
        rows: Vec<Vec<String>>,
    },
    Error(String),
}

fn render(result: &qjit::exec::QueryResult) -> Outcome {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("NULL");
    let types = result
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let mut rows = vec![];
    for batch in &result.batches {
        for (c, f) in batch.schema().fields().iter().enumerate() {
            assert_eq!(
                f.data_type(),
                result.schema.field(c).data_type(),
                "a batch column of another type than the schema's"
            );
        }
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(col, fmt)| {
                        if col.is_null(r) {
                            return "NULL".to_string();
                        }
                        match col.data_type() {
                            DataType::Float64 => {
                                let v = col.as_primitive::<Float64Type>().value(r);
                                format!("{v:?}#{:016x}", v.to_bits())
                            }
                            DataType::Float32 => {
                                let v = col.as_primitive::<Float32Type>().value(r);
                                format!("{v:?}#{:08x}", v.to_bits())
                            }
                            _ => format!("'{}'", fmt.value(r)),
                        }
                    })
                    .collect(),
            );
        }
    }
    Outcome::Rows { types, rows }
}

/// Runs `sql` on `engine` (kernels optimized at `opt_level`: `None` is the kernel pipeline,
/// `Some(n)` LLVM's `default<On>`): the outcome, and whether the aggregation ran compiled.
fn run(source: &Source, sql: &str, engine: EngineKind, opt_level: Option<u8>) -> (Outcome, bool) {
    let options = QueryOptions {
        engine,
        opt_level,
        ..Default::default()
    };
    match qjit::exec::run(source, sql, &options) {
        Ok(result) => {
            let compiled = result.compiled.aggregate == PartEngine::Compiled;
            (render(&result), compiled)
        }
        Err(e) => {
            // Whether it would have compiled (the error may come from running it).
            let compiled = qjit::exec::plan(source, sql)
                .and_then(|plan| qjit::exec::compile(&plan, &options))
                .is_ok_and(|c| c.aggregate == PartEngine::Compiled);
            (Outcome::Error(e.to_string()), compiled)
        }
    }
}

/// Runs `sql` on both engines and requires the same outcome; returns Auto's outcome and whether
/// it ran compiled.
fn check(source: &Source, sql: &str) -> Result<(Outcome, bool), String> {
    check_at(source, sql, None)
}

/// [`check`] with kernels optimized at `opt_level`.
fn check_at(source: &Source, sql: &str, opt_level: Option<u8>) -> Result<(Outcome, bool), String> {
    let (interp, _) = run(source, sql, EngineKind::Interp, opt_level);
    let (auto, compiled) = run(source, sql, EngineKind::Auto, opt_level);
    if interp != auto {
        return Err(format!(
            "engines disagree on\n  {sql}\ninterpreter: {interp:?}\nauto (compiled: {compiled}): {auto:?}"
        ));
    }
    if let Outcome::Error(e) = &auto {
        if e.contains("internal") || e.contains("bug") {
            return Err(format!("an internal error on\n  {sql}\n{e}"));
        }
    }
    Ok((auto, compiled))
}

#[derive(Default)]
struct Tally {
    queries: usize,
    compiled: usize,
    compiled_rows: usize,
    errors: usize,
    reasons: std::collections::BTreeMap<String, usize>,
}

#[test]
fn compiled_aggregation_agrees_with_the_interpreter() {
    let cases = std::env::var("QJIT_PROP_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96);
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
        table_spec(),
        proptest::collection::vec(query_spec(), 1..=4),
        opt_level,
    );
    let result = runner.run(&strategy, |(table, queries, opt_level)| {
        let source = make_table(&table);
        for q in &queries {
            for sql in [q.ordered_sql(), q.sql()] {
                let (outcome, compiled) =
                    check_at(&source, &sql, opt_level).map_err(TestCaseError::fail)?;
                let mut t = tally.borrow_mut();
                t.queries += 1;
                if compiled {
                    t.compiled += 1;
                    if matches!(outcome, Outcome::Rows { .. }) {
                        t.compiled_rows += 1;
                    }
                } else if let Ok(plan) = qjit::exec::plan(&source, &sql) {
                    let options = QueryOptions::default();
                    if let Ok(c) = qjit::exec::compile(&plan, &options) {
                        if let PartEngine::Interpreted(why) = c.aggregate {
                            *t.reasons.entry(why).or_default() += 1;
                        }
                    }
                }
                if let Outcome::Error(e) = &outcome {
                    t.errors += 1;
                    if std::env::var("QJIT_PROP_ERRORS").is_ok() {
                        eprintln!("{sql}\n  {e}");
                    }
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
    let (outcome, compiled) = check(source, sql).unwrap_or_else(|e| panic!("{e}"));
    assert!(compiled, "not compiled: {sql}");
    outcome
}

fn rows(outcome: &Outcome) -> &[Vec<String>] {
    match outcome {
        Outcome::Rows { rows, .. } => rows,
        Outcome::Error(e) => panic!("an error: {e}"),
    }
}

fn error(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Error(e) => e,
        Outcome::Rows { rows, .. } => panic!("rows instead of an error: {rows:?}"),
    }
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
        for row in rows(&out) {
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
            let garbage = (rng.next() as u128) << 64 | rng.next() as u128;
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
        let rows = rows(&out);
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
    assert_eq!(rows(&out).len(), 12_000);
    let out = agree_compiled(&source, "SELECT s, COUNT(*) FROM t GROUP BY s");
    assert!(rows(&out).len() > 12_000);
    let out = agree_compiled(&source, "SELECT vs, k, SUM(k) FROM t GROUP BY vs, k");
    assert_eq!(rows(&out).len(), 12_000);
    // Groups that span batches, few of them.
    let out = agree_compiled(&source, "SELECT k % 7, SUM(f) FROM t GROUP BY k % 7");
    assert_eq!(rows(&out).len(), 13);
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
    assert_eq!(rows(&out)[0][0], format!("'{}'", i64::MAX - 1));
    // Past the range at the end.
    for sql in [
        "SELECT SUM(l) FROM t WHERE l > 0",
        "SELECT k, SUM(l) FROM t GROUP BY k",
        "SELECT k, COUNT(*), SUM(l) FROM t WHERE l <> -2 GROUP BY k",
    ] {
        let out = agree_compiled(&source, sql);
        assert!(error(&out).contains("exceeds BIGINT"), "{sql}: {out:?}");
    }
    // AVG of the same values is exact.
    let out = agree_compiled(&source, "SELECT k, AVG(l) FROM t GROUP BY k ORDER BY 1");
    assert_eq!(rows(&out).len(), 2);
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
    assert_eq!(rows(&out)[1][1], format!("'{max}'"));
    let out = agree_compiled(&fits, "SELECT SUM(dd) FROM t WHERE k = 1");
    assert_eq!(rows(&out)[0][0], format!("'{max}'"));
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
        assert!(error(&out).contains("exceeds 38 digits"), "{sql}: {out:?}");
    }
    // Past i128 on the way (two values of 38 nines), even if the sum comes back: the
    // interpreter's running sum overflows, in one batch or across batches.
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
    for sql in [
        "SELECT SUM(dd) FROM t",
        "SELECT AVG(dd) FROM t",
        "SELECT k, SUM(dd) FROM t GROUP BY k",
        "SELECT k, COUNT(*), AVG(dd), SUM(dd) FROM t GROUP BY k",
        "SELECT COUNT(*), SUM(dd) FROM t WHERE k = 1",
    ] {
        let out = agree_compiled(&wrap, sql);
        assert!(error(&out).contains("38 digits"), "{sql}: {out:?}");
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
        assert!(!rows(&out).is_empty(), "{sql}");
    }
    for sql in [
        "SELECT SUM(l / k) FROM t",
        "SELECT SUM(l / k) FROM t WHERE l > 20",
        "SELECT k, SUM(l / k) FROM t WHERE l >= 30 GROUP BY k",
        "SELECT l / k, COUNT(*) FROM t WHERE k >= 0 GROUP BY l / k",
        "SELECT COUNT(*), MIN(l % k) FROM t WHERE l = 60",
    ] {
        let out = agree_compiled(&source, sql);
        assert!(error(&out).contains("division by zero"), "{sql}: {out:?}");
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
        assert!(!rows(&out).is_empty(), "{sql}");
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
        error(&out);
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
            assert!(error(&out).contains("38 digits"), "{sql}: {out:?}");
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
            Ok(crate::render(&result))
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
