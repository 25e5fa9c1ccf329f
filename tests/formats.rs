//! The same table as Parquet, CSV, an Arrow IPC file and an Arrow IPC stream (and files of each
//! kind without an extension): the same queries give the same answers from every format, on
//! every engine, through the `qjit` binary; CSV options and errors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};

mod common;

use common::{qjit, stderr, stdout};

/// 20,000 rows of integers, floats, strings, dates and booleans, NULLs in each but the key.
fn table() -> RecordBatch {
    let n = 20_000i64;
    let nth = |i: i64, k: i64| i % k == 0;
    let ids: Vec<i64> = (0..n).collect();
    let qty: Vec<Option<i64>> = (0..n)
        .map(|i| (!nth(i, 11)).then_some((i * 7919) % 50 - 5))
        .collect();
    let price: Vec<Option<f64>> = (0..n)
        .map(|i| (!nth(i, 13)).then_some(((i * 104_729) % 100_000) as f64 / 100.0))
        .collect();
    let flags = ["A", "N", "R", "MAIL", "SHIP", "héllo"];
    let flag: Vec<Option<&str>> = (0..n)
        .map(|i| (!nth(i, 17)).then_some(flags[(i % 6) as usize]))
        .collect();
    let day: Vec<Option<i32>> = (0..n)
        .map(|i| (!nth(i, 19)).then_some(9000 + (i % 2000) as i32))
        .collect();
    let ok: Vec<Option<bool>> = (0..n)
        .map(|i| (!nth(i, 23)).then_some(i % 3 == 0))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("qty", DataType::Int64, true),
        Field::new("price", DataType::Float64, true),
        Field::new("flag", DataType::Utf8, true),
        Field::new("day", DataType::Date32, true),
        Field::new("ok", DataType::Boolean, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(Int64Array::from(qty)),
        Arc::new(Float64Array::from(price)),
        Arc::new(StringArray::from(flag)),
        Arc::new(Date32Array::from(day)),
        Arc::new(BooleanArray::from(ok)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// `batch` written in every format into `dir`, as `t.<ext>` files and copies without an
/// extension.
fn write_all(dir: &Path, batch: &RecordBatch) -> Vec<PathBuf> {
    let schema = batch.schema();
    // Several record batches (and row groups), so that the files have several morsels.
    let parts: Vec<RecordBatch> = (0..batch.num_rows())
        .step_by(3000)
        .map(|at| batch.slice(at, 3000.min(batch.num_rows() - at)))
        .collect();
    let parquet = dir.join("t.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&parquet).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    for p in &parts {
        w.write(p).unwrap();
        w.flush().unwrap();
    }
    w.close().unwrap();
    let csv = dir.join("t.csv");
    let mut w = arrow::csv::Writer::new(std::fs::File::create(&csv).unwrap());
    for p in &parts {
        w.write(p).unwrap();
    }
    drop(w);
    let arrow_file = dir.join("t.arrow");
    let mut w = arrow::ipc::writer::FileWriter::try_new(
        std::fs::File::create(&arrow_file).unwrap(),
        &schema,
    )
    .unwrap();
    for p in &parts {
        w.write(p).unwrap();
    }
    w.finish().unwrap();
    let stream = dir.join("t.arrows");
    let mut w =
        arrow::ipc::writer::StreamWriter::try_new(std::fs::File::create(&stream).unwrap(), &schema)
            .unwrap();
    for p in &parts {
        w.write(p).unwrap();
    }
    w.finish().unwrap();
    let mut paths = vec![parquet, csv, arrow_file, stream];
    for (i, p) in paths.clone().iter().enumerate() {
        let bare = dir.join(format!("t{i}"));
        std::fs::copy(p, &bare).unwrap();
        paths.push(bare);
    }
    paths
}

const QUERIES: &[&str] = &[
    "SELECT * FROM t ORDER BY id LIMIT 25",
    "SELECT id, qty * 2 + 1 AS q, price / 4 AS p, upper(flag) AS f FROM t \
     WHERE qty > 10 AND price < 500 ORDER BY id DESC LIMIT 40",
    "SELECT flag, count(*), count(qty), sum(qty), min(price), max(day), avg(qty) \
     FROM t GROUP BY flag ORDER BY flag",
    "SELECT count(*) FROM t WHERE flag IS NULL OR day IS NULL OR ok IS NULL",
    "SELECT day, count(*) AS n FROM t WHERE ok AND flag LIKE '%A%' \
     GROUP BY day ORDER BY n DESC, day LIMIT 10",
    "SELECT sum(CASE WHEN day < DATE '1995-01-01' THEN qty ELSE 0 END), \
     count(DISTINCT flag) FROM t WHERE price BETWEEN 100 AND 900",
];

/// The engines of this build.
fn engines() -> Vec<&'static str> {
    let mut e = vec!["interp", "auto"];
    if cfg!(feature = "jit") {
        e.push("jit");
    }
    e
}

/// The answer of `sql` over the file `path` (table `t` whatever the file's name) on `engine`.
fn answer(path: &Path, sql: &str, engine: &str) -> String {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let sql = sql.replace("FROM t", &format!("FROM {name}"));
    let out = qjit(&[
        "query",
        path.to_str().unwrap(),
        &sql,
        "--engine",
        engine,
        "--threads",
        "2",
        "--format",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{} on {engine}: {}",
        path.display(),
        stderr(&out)
    );
    stdout(&out)
}

#[test]
fn every_format_gives_the_same_answers_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_all(dir.path(), &table());
    for sql in QUERIES {
        let expected = answer(&paths[0], sql, "interp");
        assert!(expected.lines().count() > 1, "{sql}: {expected}");
        for path in &paths {
            for &engine in &engines() {
                assert_eq!(
                    answer(path, sql, engine),
                    expected,
                    "{sql} over {} on {engine}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn csv_options_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No header, semicolons.
    let bare = d.join("bare.txt");
    std::fs::write(&bare, "1;x;2.5\n2;y;\n3;;4\n").unwrap();
    let out = qjit(&[
        "query",
        bare.to_str().unwrap(),
        "SELECT column_1, column_2 IS NULL, column_3 FROM bare ORDER BY 1",
        "--csv-header",
        "false",
        "--csv-delimiter",
        ";",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "column_1,column_2 IS NULL,column_3\n1,false,2.5\n2,false,\n3,true,4.0\n"
    );
    // A tab-separated file by its extension.
    let tsv = d.join("tabs.tsv");
    std::fs::write(&tsv, "a\tb\n1\t2\n3\t4\n").unwrap();
    let out = qjit(&[
        "query",
        tsv.to_str().unwrap(),
        "SELECT sum(a * b) FROM tabs",
    ]);
    assert!(stdout(&out).contains("14"), "{}", stderr(&out));
    // A ragged row: one error naming the line, nothing on stdout.
    let ragged = d.join("ragged.csv");
    std::fs::write(&ragged, "a,b\n1,2\n3\n").unwrap();
    let out = qjit(&["query", ragged.to_str().unwrap(), "SELECT * FROM ragged"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains("ragged.csv: cannot read it as CSV") && err.contains("at line 3"),
        "{err}"
    );
    // A delimiter that is not one character is a usage error.
    let out = qjit(&[
        "query",
        tsv.to_str().unwrap(),
        "SELECT 1",
        "--csv-delimiter",
        "ab",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("one ASCII character"),
        "{}",
        stderr(&out)
    );
    // An `.arrow` file that is not Arrow.
    let fake = d.join("fake.arrow");
    std::fs::write(&fake, "a,b\n1,2\n").unwrap();
    let out = qjit(&["query", fake.to_str().unwrap(), "SELECT * FROM fake"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not an Arrow IPC file or stream"),
        "{}",
        stderr(&out)
    );
    // A truncated IPC file.
    let batch = table();
    let paths = write_all(d, &batch);
    let bytes = std::fs::read(&paths[2]).unwrap();
    let cut = d.join("cut.arrow");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = qjit(&["query", cut.to_str().unwrap(), "SELECT count(*) FROM cut"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read it as an Arrow IPC file"),
        "{}",
        stderr(&out)
    );
}

/// With DataFusion: a folder of tables in several formats, joined.
#[cfg(feature = "datafusion")]
#[test]
fn a_folder_of_tables_in_several_formats_joins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let paths = write_all(d, &table());
    // Keep one table per format: a (CSV), b (Arrow file), c (Arrow stream), t (Parquet).
    for (from, to) in [(1, "a.csv"), (2, "b.arrow"), (3, "c.arrows")] {
        std::fs::rename(&paths[from], d.join(to)).unwrap();
    }
    for p in &paths[4..] {
        std::fs::remove_file(p).unwrap();
    }
    let out = qjit(&[
        "query",
        d.to_str().unwrap(),
        "SELECT count(*), sum(a.qty) FROM t JOIN a ON a.id = t.id JOIN b ON b.id = a.id \
         JOIN c ON c.id = b.id WHERE c.flag = 'MAIL'",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let single = answer(
        &d.join("t.parquet"),
        "SELECT count(*), sum(qty) FROM t WHERE flag = 'MAIL'",
        "interp",
    );
    assert_eq!(
        stdout(&out).lines().nth(1),
        single.lines().nth(1),
        "{}",
        stdout(&out)
    );
}

/// The committed fixtures of `tests/fixtures` (made by `make.py` with pyarrow and Polars): the
/// spellings other writers use read as the same values on every engine. Timestamps of every
/// unit (pyarrow writes seconds as milliseconds), zones `UTC`, `+00:00` and an IANA name (the
/// same instants), INT96, large strings, dictionaries with `UInt32` keys (Polars'
/// categoricals); `SELECT *` shows the types qjit does not compute on too.
#[test]
fn files_written_by_pyarrow_and_polars() {
    let fixtures = common::root().join("tests/fixtures");
    let cases: [(&str, &str, &str); 5] = [
        (
            "pyarrow_types.parquet",
            "SELECT id, ts_s, ts_ns, ts_utc = ts_offset AND ts_offset = ts_ny AS same, \
             EXTRACT(HOUR FROM ts_ny), DATE_TRUNC('day', ts_ms), big_s, cat \
             FROM pyarrow_types WHERE ts_us > '1970-01-01' ORDER BY id",
            "id,ts_s,ts_ns,same,EXTRACT(HOUR FROM ts_ny),\"DATE_TRUNC('day', ts_ms)\",big_s,cat\n\
             1,2024-03-31 02:30:00,2024-03-31 02:30:00.123456,true,2,2024-03-31 00:00:00,a,x\n\
             4,2000-02-29 12:00:00,2000-02-29 12:00:00,true,12,2000-02-29 00:00:00,dddd,\n",
        ),
        (
            "pyarrow_types.parquet",
            "SELECT id, ts_utc, d, bin, list, st, t64 FROM pyarrow_types WHERE id <= 2 ORDER BY id",
            "id,ts_utc,d,bin,list,st,t64\n\
             1,2024-03-31 02:30:00.123456+00,2024-03-31,\\x00ff,\"[1,2]\",\"{\"\"a\"\":1,\"\"b\"\":\"\"x\"\"}\",01:00:00\n\
             2,1969-12-31 23:59:59.5+00,1969-12-31,\\x,[],\"{\"\"a\"\":2,\"\"b\"\":null}\",00:00:00\n",
        ),
        (
            "pyarrow_int96.parquet",
            "SELECT id, ts, EXTRACT(YEAR FROM ts) AS y FROM pyarrow_int96 WHERE ts < TIMESTAMP '2024-01-01' \
             ORDER BY id",
            "id,ts,y\n2,1969-12-31 23:59:59.5,1969\n4,2000-02-29 12:00:00,2000\n",
        ),
        (
            "polars.parquet",
            "SELECT id, ts, DATE_TRUNC('month', ts_ms) AS m, s, cat, d + INTERVAL '1 day' AS next \
             FROM polars WHERE ts IS NOT NULL ORDER BY id",
            "id,ts,m,s,cat,next\n\
             1,2024-03-31 02:30:00.123456+00,2024-03-01 00:00:00,a,x,2024-04-01\n\
             2,1969-12-31 23:59:59.5+00,1969-12-01 00:00:00,bb,y,1970-01-01\n\
             4,2000-02-29 12:00:00+00,2000-02-01 00:00:00,dddd,,2000-03-01\n",
        ),
        (
            "polars.parquet",
            "SELECT count(*) AS n, count(ts) AS c, min(ts) AS lo, max(ts_ms) AS hi FROM polars",
            "n,c,lo,hi\n4,3,1969-12-31 23:59:59.5+00,2024-03-31 02:30:00.123\n",
        ),
    ];
    // Columns of types qjit does not compute on pass through its own engine: selected, tested
    // with IS NULL, counted (the kernels do not read them: `auto` interprets what does).
    let passing: [(&str, &str, &str); 2] = [
        (
            "polars.parquet",
            "SELECT count(dur) AS n, count(*) AS m FROM polars WHERE dur IS NULL OR id > 1",
            "n,m\n2,3\n",
        ),
        (
            "pyarrow_types.parquet",
            "SELECT id, list, st FROM pyarrow_types WHERE list IS NOT NULL AND st IS NOT NULL \
             ORDER BY id DESC LIMIT 1",
            "id,list,st\n4,[3],\"{\"\"a\"\":4,\"\"b\"\":\"\"z\"\"}\"\n",
        ),
    ];
    for (file, sql, want) in passing {
        let path = fixtures.join(file);
        for engine in ["interp", "auto"] {
            let out = qjit(&[
                "query",
                path.to_str().unwrap(),
                sql,
                "--engine",
                engine,
                "--format",
                "csv",
            ]);
            assert!(out.status.success(), "{file} on {engine}: {}", stderr(&out));
            assert_eq!(stdout(&out), want, "{file} on {engine}: {sql}");
        }
    }
    for (file, sql, want) in cases {
        let path = fixtures.join(file);
        for engine in engines() {
            let out = qjit(&[
                "query",
                path.to_str().unwrap(),
                sql,
                "--engine",
                engine,
                "--format",
                "csv",
            ]);
            assert!(out.status.success(), "{file} on {engine}: {}", stderr(&out));
            assert_eq!(stdout(&out), want, "{file} on {engine}: {sql}");
        }
    }
}
