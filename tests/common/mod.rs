//! Test fixtures shared by the integration tests: the tables the `.slt` corpus queries, and a
//! runner that executes SQL on a chosen engine and renders rows as text.

#![allow(dead_code)]

pub mod random_sql;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use qjit::exec::{EngineKind, QueryOptions, Source};

/// Runs the `qjit` binary with `args`.
pub fn qjit(args: &[&str]) -> std::process::Output {
    qjit_command().args(args).output().expect("run qjit")
}

/// What a run printed on stdout.
pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A command that runs the `qjit` binary with the kernel cache on disk in a directory of the
/// test build (`QJIT_CACHE_DIR`), never the user's own.
pub fn qjit_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_qjit"));
    command.env(
        "QJIT_CACHE_DIR",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("kernel-cache"),
    );
    command
}

/// What a run printed on stderr.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a Parquet file at `path` with `properties`: `k` = 0, 1, … `rows - 1` and `s` =
/// "value k" (distinct strings); returns its path as text.
pub fn numbered_parquet(
    path: &std::path::Path,
    rows: usize,
    properties: parquet::file::properties::WriterProperties,
) -> String {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let file = std::fs::File::create(path).expect("create the test file");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties))
        .expect("start the test file");
    for start in (0..rows).step_by(65_536) {
        let end = (start + 65_536).min(rows);
        let k: Int64Array = (start as i64..end as i64).collect();
        let s: StringArray = (start..end).map(|i| Some(format!("value {i}"))).collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(k), Arc::new(s)])
            .expect("a test batch");
        writer.write(&batch).expect("write the test file");
    }
    writer.close().expect("finish the test file");
    path.display().to_string()
}

/// The path of the TPC-H SF 0.01 `lineitem` sample shipped in data/, as text.
pub fn lineitem() -> String {
    lineitem_path().display().to_string()
}

/// Writes `batch` as a Parquet file at `path` with `properties`; returns its path as text.
pub fn write_parquet(
    path: &std::path::Path,
    batch: &RecordBatch,
    properties: parquet::file::properties::WriterProperties,
) -> String {
    let file = std::fs::File::create(path).expect("create the Parquet file");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(properties))
        .expect("a Parquet writer");
    writer.write(batch).expect("write the batch");
    writer.close().expect("close the Parquet file");
    path.display().to_string()
}

/// The path of the TPC-H SF 0.01 `lineitem` sample shipped in data/.
pub fn lineitem_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lineitem.parquet")
}

fn date(s: &str) -> i32 {
    qjit::ir::scalar::parse_date(s).expect("fixture date")
}

/// Table `t`: one column of every supported type, six rows with NULLs, extremes, zero, negative
/// numbers, empty and non-ASCII strings. Row 3 is NULL in every column but `id`.
///
/// | id | i8 | i16 | i32 | i64 | u8 | u16 | u32 | u64 | f32 | f64 | d DECIMAL(10,2) | dt | s / ls / vs | ds (dictionary) | b |
/// |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
/// | 1 | 1 | 100 | 10 | 1000 | 1 | 10 | 100 | 1000 | 1.5 | 2.25 | 12.34 | 2024-01-31 | apple | red | true |
/// | 2 | -2 | -200 | -20 | -2000 | 2 | 20 | 200 | 2000 | -0.5 | -3.5 | -5.67 | 1999-12-31 | Banana | green | false |
/// | 3 | NULL … |
/// | 4 | 127 | 32767 | 2147483647 | 9223372036854775807 | 255 | 65535 | 4294967295 | 18446744073709551615 | 0 | 0 | 0.00 | 1970-01-01 | '' (empty) | red | true |
/// | 5 | -128 | -32768 | -2147483648 | -9223372036854775808 | 0 | 0 | 0 | 0 | 3.25 | 1e10 | 99999999.99 | 2000-02-29 | héllo wörld (vs: a longer string that is not inlined in a view) | blue | false |
/// | 6 | 0 | 0 | 0 | 0 | 3 | 3 | 3 | 3 | 2 | -0.125 | -0.01 | 1900-03-01 | a%b_c | green | NULL |
pub fn table_t() -> (Arc<Schema>, RecordBatch) {
    let s = [
        Some("apple"),
        Some("Banana"),
        None,
        Some(""),
        Some("héllo wörld"),
        Some("a%b_c"),
    ];
    let vs = [
        Some("apple"),
        Some("Banana"),
        None,
        Some(""),
        Some("a longer string that is not inlined in a view"),
        Some("a%b_c"),
    ];
    let ds: DictionaryArray<Int32Type> = vec![
        Some("red"),
        Some("green"),
        None,
        Some("red"),
        Some("blue"),
        Some("green"),
    ]
    .into_iter()
    .collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5, 6]))),
        (
            "i8",
            Arc::new(Int8Array::from(vec![
                Some(1),
                Some(-2),
                None,
                Some(127),
                Some(-128),
                Some(0),
            ])),
        ),
        (
            "i16",
            Arc::new(Int16Array::from(vec![
                Some(100),
                Some(-200),
                None,
                Some(32767),
                Some(-32768),
                Some(0),
            ])),
        ),
        (
            "i32",
            Arc::new(Int32Array::from(vec![
                Some(10),
                Some(-20),
                None,
                Some(i32::MAX),
                Some(i32::MIN),
                Some(0),
            ])),
        ),
        (
            "i64",
            Arc::new(Int64Array::from(vec![
                Some(1000),
                Some(-2000),
                None,
                Some(i64::MAX),
                Some(i64::MIN),
                Some(0),
            ])),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from(vec![
                Some(1),
                Some(2),
                None,
                Some(255),
                Some(0),
                Some(3),
            ])),
        ),
        (
            "u16",
            Arc::new(UInt16Array::from(vec![
                Some(10),
                Some(20),
                None,
                Some(65535),
                Some(0),
                Some(3),
            ])),
        ),
        (
            "u32",
            Arc::new(UInt32Array::from(vec![
                Some(100),
                Some(200),
                None,
                Some(u32::MAX),
                Some(0),
                Some(3),
            ])),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from(vec![
                Some(1000),
                Some(2000),
                None,
                Some(u64::MAX),
                Some(0),
                Some(3),
            ])),
        ),
        (
            "f32",
            Arc::new(Float32Array::from(vec![
                Some(1.5),
                Some(-0.5),
                None,
                Some(0.0),
                Some(3.25),
                Some(2.0),
            ])),
        ),
        (
            "f64",
            Arc::new(Float64Array::from(vec![
                Some(2.25),
                Some(-3.5),
                None,
                Some(0.0),
                Some(1e10),
                Some(-0.125),
            ])),
        ),
        (
            "d",
            Arc::new(
                Decimal128Array::from(vec![
                    Some(1234),
                    Some(-567),
                    None,
                    Some(0),
                    Some(9_999_999_999),
                    Some(-1),
                ])
                .with_precision_and_scale(10, 2)
                .expect("fixture decimal"),
            ),
        ),
        (
            "dt",
            Arc::new(Date32Array::from(vec![
                Some(date("2024-01-31")),
                Some(date("1999-12-31")),
                None,
                Some(0),
                Some(date("2000-02-29")),
                Some(date("1900-03-01")),
            ])),
        ),
        ("s", Arc::new(StringArray::from(s.to_vec()))),
        ("ls", Arc::new(LargeStringArray::from(s.to_vec()))),
        ("vs", Arc::new(StringViewArray::from(vs.to_vec()))),
        ("ds", Arc::new(ds)),
        (
            "b",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(false),
                None,
            ])),
        ),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), *n != "id"))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("fixture batch");
    (schema, batch)
}

/// Table `f`: float keys that IEEE total order tells apart but SQL does not — `0.0` and `-0.0`,
/// NaNs of both signs — plus duplicates, infinity and NULL, in `x DOUBLE` and `y REAL`.
///
/// | id | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 |
/// |---|---|---|---|---|---|---|---|---|
/// | x | 0.0 | -0.0 | NaN | -NaN | 1.5 | 1.5 | NULL | inf |
pub fn table_f() -> (Arc<Schema>, RecordBatch) {
    let x = vec![
        Some(0.0),
        Some(-0.0),
        Some(f64::NAN),
        Some(-f64::NAN),
        Some(1.5),
        Some(1.5),
        None,
        Some(f64::INFINITY),
    ];
    let y: Vec<Option<f32>> = x.iter().map(|v| v.map(|v| v as f32)).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("x", DataType::Float64, true),
        Field::new("y", DataType::Float32, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from((1..=8).collect::<Vec<i32>>())),
            Arc::new(Float64Array::from(x)),
            Arc::new(Float32Array::from(y)),
        ],
    )
    .expect("fixture batch");
    (schema, batch)
}

/// Table `h`: rows that compiled kernels hand back to the interpreter (non-ASCII text under
/// `UPPER`/`LOWER`, decimals not exact as a `DOUBLE`) among rows they evaluate, in three batches
/// (ids 1–4, 5–9, 10–12): the first has none, the second has them in its middle.
///
/// | id | g | s | dd DECIMAL(38,2) | n |
/// |---|---|---|---|---|
/// | 1 | 1 | abc | 1.50 | 1 |
/// | 2 | 2 | Abc | NULL | 2 |
/// | 3 | 1 | NULL | 12.50 | 3 |
/// | 4 | 2 | xyz | -0.25 | NULL |
/// | 5 | 1 | ABC | 2.00 | 5 |
/// | 6 | NULL | straße | 0.10 | 6 |
/// | 7 | 2 | ÉCOLE | 12345678901234567.89 | 7 |
/// | 8 | 1 | abc | NULL | 8 |
/// | 9 | NULL | NULL | -98765432109876543.21 | 9 |
/// | 10 | 2 | école | -1.00 | 10 |
/// | 11 | 1 | xyz | 0.01 | 11 |
/// | 12 | 2 | Straße | 5.00 | 12 |
pub fn table_h() -> (Arc<Schema>, Vec<RecordBatch>) {
    let s = [
        Some("abc"),
        Some("Abc"),
        None,
        Some("xyz"),
        Some("ABC"),
        Some("straße"),
        Some("ÉCOLE"),
        Some("abc"),
        None,
        Some("école"),
        Some("xyz"),
        Some("Straße"),
    ];
    let g = [
        Some(1),
        Some(2),
        Some(1),
        Some(2),
        Some(1),
        None,
        Some(2),
        Some(1),
        None,
        Some(2),
        Some(1),
        Some(2),
    ];
    let dd = Decimal128Array::from(vec![
        Some(150),
        None,
        Some(1250),
        Some(-25),
        Some(200),
        Some(10),
        Some(1_234_567_890_123_456_789),
        None,
        Some(-9_876_543_210_987_654_321),
        Some(-100),
        Some(1),
        Some(500),
    ])
    .with_precision_and_scale(38, 2)
    .expect("fixture decimal");
    let n: Vec<Option<String>> = (1..=12).map(|i| (i != 4).then(|| i.to_string())).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("g", DataType::Int32, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("dd", DataType::Decimal128(38, 2), true),
        Field::new("n", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from((1..=12).collect::<Vec<i32>>())),
            Arc::new(Int32Array::from(g.to_vec())),
            Arc::new(StringArray::from(s.to_vec())),
            Arc::new(dd),
            Arc::new(StringArray::from(n)),
        ],
    )
    .expect("fixture batch");
    let batches = vec![batch.slice(0, 4), batch.slice(4, 5), batch.slice(9, 3)];
    (schema, batches)
}

/// Table `tt`: timestamps of every unit, with and without a zone, over the edges of the
/// calendar (text as qjit prints them; `tz` is labelled `Europe/Berlin`, its values are UTC):
///
/// | id | us (µs) | ms, s, ns | tz (µs) | d |
/// |---|---|---|---|---|
/// | 1 | 2024-03-31 02:30:00.123456 | the same, in their units | the same | 2024-03-31 |
/// | 2 | 1969-12-31 23:59:59.5 | | | 1969-12-31 |
/// | 3 | NULL | NULL | NULL | NULL |
/// | 4 | 2000-02-29 12:00:00 | | | 2000-02-29 |
/// | 5 | 2024-01-31 23:59:59.999999 | | | 2024-01-31 |
/// | 6 | 1900-03-01 00:00:00 | | | 1900-03-01 |
pub fn table_tt() -> (Arc<Schema>, RecordBatch) {
    use arrow::array::{
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };
    use qjit::ir::time::{parse, rescale};
    use qjit::ir::TimeUnit;
    let texts = [
        Some("2024-03-31 02:30:00.123456"),
        Some("1969-12-31 23:59:59.5"),
        None,
        Some("2000-02-29 12:00:00"),
        Some("2024-01-31 23:59:59.999999"),
        Some("1900-03-01 00:00:00"),
    ];
    let us: Vec<Option<i64>> = texts
        .iter()
        .map(|t| t.map(|t| parse(t, TimeUnit::Microsecond, false).expect("fixture time")))
        .collect();
    let unit = |u: TimeUnit| -> Vec<Option<i64>> {
        us.iter()
            .map(|v| v.map(|v| rescale(v, TimeUnit::Microsecond, u).expect("in range")))
            .collect()
    };
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "id",
            Arc::new(Int32Array::from((1..=6).collect::<Vec<_>>())),
        ),
        ("us", Arc::new(TimestampMicrosecondArray::from(us.clone()))),
        (
            "ms",
            Arc::new(TimestampMillisecondArray::from(unit(TimeUnit::Millisecond))),
        ),
        (
            "s",
            Arc::new(TimestampSecondArray::from(unit(TimeUnit::Second))),
        ),
        (
            "ns",
            Arc::new(TimestampNanosecondArray::from(unit(TimeUnit::Nanosecond))),
        ),
        (
            "tz",
            Arc::new(TimestampMicrosecondArray::from(us.clone()).with_timezone("Europe/Berlin")),
        ),
        (
            "d",
            Arc::new(Date32Array::from(
                us.iter()
                    .map(|v| v.map(|v| qjit::ir::time::to_days(v, TimeUnit::Microsecond) as i32))
                    .collect::<Vec<_>>(),
            )),
        ),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), *n != "id"))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("fixture batch");
    (schema, batch)
}

/// Every table the corpus can query: `f` (see [`table_f`]), `h` (see [`table_h`]), `t` (one
/// batch), `t_split` (the same rows in three sliced batches, to exercise array offsets), `empty`
/// (t's schema, no rows), `lineitem` (TPC-H SF 0.01), `tt` (see [`table_tt`]).
pub fn tables() -> Vec<Source> {
    let (schema, batch) = table_t();
    let split = vec![batch.slice(0, 2), batch.slice(2, 3), batch.slice(5, 1)];
    let (f_schema, f_batch) = table_f();
    let (h_schema, h_batches) = table_h();
    let (tt_schema, tt_batch) = table_tt();
    vec![
        Source::batches("t", schema.clone(), vec![batch]),
        Source::batches("t_split", schema.clone(), split),
        Source::batches("empty", schema, vec![]),
        Source::Parquet {
            name: "lineitem".into(),
            path: lineitem_path(),
        },
        Source::batches("f", f_schema, vec![f_batch]),
        Source::batches("h", h_schema, h_batches),
        Source::batches(
            "tt",
            tt_schema,
            vec![tt_batch.slice(0, 3), tt_batch.slice(3, 3)],
        ),
    ]
}

/// `source` with its in-memory decimal columns of up to 18 digits stored as `Decimal64` (a
/// column with a value outside `i64` stays `Decimal128`); a Parquet source is unchanged (qjit
/// reads its `INT64` decimals as `Decimal64` already).
pub fn with_decimal64(source: Source) -> Source {
    let Source::Batches {
        name,
        schema,
        batches,
        morsel_rows,
    } = source
    else {
        return source;
    };
    let narrow = |i: usize| -> Option<DataType> {
        let DataType::Decimal128(p, s) = schema.field(i).data_type() else {
            return None;
        };
        let fits = batches.iter().all(|b| {
            let c = b.column(i).as_any().downcast_ref::<Decimal128Array>();
            c.is_some_and(|c| c.iter().flatten().all(|v| i64::try_from(v).is_ok()))
        });
        (*p <= 18 && fits).then_some(DataType::Decimal64(*p, *s))
    };
    let types: Vec<Option<DataType>> = (0..schema.fields().len()).map(narrow).collect();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(&types)
        .map(|(f, t)| match t {
            Some(t) => f.as_ref().clone().with_data_type(t.clone()),
            None => f.as_ref().clone(),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let batches = batches
        .iter()
        .map(|b| {
            let columns: Vec<ArrayRef> = b
                .columns()
                .iter()
                .zip(&types)
                .map(|(c, t)| match t {
                    Some(t) => arrow::compute::cast(c, t).expect("decimal fits i64"),
                    None => c.clone(),
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).expect("same columns")
        })
        .collect();
    Source::Batches {
        name,
        schema,
        batches,
        morsel_rows,
    }
}

/// Runs `sql` on the table its `FROM` names (an unknown name goes to `t`, whose binder then
/// reports the unknown table).
pub fn run_sql(
    tables: &[Source],
    sql: &str,
    engine: EngineKind,
) -> qjit::Result<qjit::exec::QueryResult> {
    run_sql_threads(tables, sql, engine, None)
}

/// [`run_sql`] on `threads` worker threads (`None`: all cores).
pub fn run_sql_threads(
    tables: &[Source],
    sql: &str,
    engine: EngineKind,
    threads: Option<usize>,
) -> qjit::Result<qjit::exec::QueryResult> {
    let options = QueryOptions {
        engine,
        threads,
        ..Default::default()
    };
    run_sql_options(tables, sql, &options)
}

/// [`run_sql`] with `options`.
pub fn run_sql_options(
    tables: &[Source],
    sql: &str,
    options: &QueryOptions,
) -> qjit::Result<qjit::exec::QueryResult> {
    let query = qjit::internals::sql::parse_query(sql)?;
    let name = qjit::internals::sql::table_name(&query)?;
    let source = tables
        .iter()
        .find(|s| s.name().eq_ignore_ascii_case(&name))
        .unwrap_or(&tables[0]);
    qjit::exec::run(source, sql, options)
}

/// The sqllogictest column type of an Arrow type: `I` integers, `R` decimals and floats, `T` the rest.
pub fn column_type(dt: &DataType) -> char {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => 'I',
        DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => 'R',
        _ => 'T',
    }
}

/// Renders every value as text: `NULL`, `(empty)` for the empty string, decimals with their
/// scale, floats in Rust's shortest form, dates `YYYY-MM-DD`, booleans `true`/`false`.
pub fn render_rows(result: &qjit::exec::QueryResult) -> Vec<Vec<String>> {
    render_batches(&result.batches)
}

/// [`render_rows`] of any batches.
pub fn render_batches(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        // Timestamps and intervals as qjit prints them (PostgreSQL's text), not as arrow does.
        let texts: Vec<Option<qjit::internals::output::cells::ColumnText>> = batch
            .columns()
            .iter()
            .map(|c| {
                matches!(
                    c.data_type(),
                    DataType::Timestamp(..) | DataType::Interval(_)
                )
                .then(|| {
                    qjit::internals::output::cells::ColumnText::new(c, &options).expect("cell text")
                })
            })
            .collect();
        for r in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .zip(&texts)
                    .map(|(f, text)| {
                        let v = match text {
                            Some(t) if t.is_null(r) => "NULL".to_string(),
                            Some(t) => {
                                let mut out = Vec::new();
                                t.write(r, &mut out).expect("cell text");
                                String::from_utf8(out).expect("UTF-8 cell text")
                            }
                            None => f.value(r).to_string(),
                        };
                        if v.is_empty() {
                            "(empty)".to_string()
                        } else {
                            v
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// The project's root folder.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The eight TPC-H tables at SF 0.01 in a temporary folder, generated once per test process.
pub fn tpch_tables() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        qjit::internals::tpch::generate_with(
            0.01,
            dir.path(),
            qjit::internals::tpch::TABLES,
            true,
            false,
            &qjit::Cancel::new(),
        )
        .expect("generate the TPC-H tables");
        dir
    })
    .path()
}

/// The names of the 22 TPC-H queries in `queries/tpch` (`q01` …), sorted.
pub fn tpch_query_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("queries/tpch"))
        .expect("queries/tpch")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            p.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// TPC-H query `name`'s text (`queries/tpch/NAME.sql`) and its reference answer at SF 0.01
/// (`tests/reference/tpch-sf0.01/NAME.csv`, DuckDB's).
pub fn tpch_query_and_answer(name: &str) -> (String, qjit::internals::bench::Answer) {
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let sql = read(root().join("queries/tpch").join(format!("{name}.sql")));
    let expected = read(
        root()
            .join("tests/reference/tpch-sf0.01")
            .join(format!("{name}.csv")),
    );
    (sql, qjit::internals::bench::Answer::reference(&expected))
}
