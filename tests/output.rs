//! How `qjit query` writes its result, end to end: every write checked (a full disk, a closed
//! descriptor, a reader that went away), rows that stream (and the rows an error or Ctrl-C
//! leaves behind), `--output FILE` written atomically, and top-N answers identical to a full
//! sort.

mod common;

use common::{lineitem, qjit, stderr, stdout};

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::file::properties::WriterProperties;

/// The engines every case runs on.
fn engines() -> Vec<&'static str> {
    let mut e = vec!["interp", "auto"];
    if cfg!(feature = "jit") {
        e.push("jit");
    }
    e
}

/// Writes `t.parquet` in `dir`: `k` = 0..rows, `s` = "value k", in row groups of `group` rows.
fn numbered_file(dir: &Path, rows: usize, group: usize) -> String {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    common::numbered_parquet(&dir.join("t.parquet"), rows, properties)
}

#[test]
#[cfg(target_os = "linux")]
fn a_full_disk_is_an_error_in_every_format() {
    for format in ["table", "csv", "json"] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = common::qjit_command()
            .args([
                "query",
                &lineitem(),
                "SELECT * FROM lineitem LIMIT 5",
                "--format",
                format,
            ])
            .stdout(full)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{format}: {err}");
        assert_eq!(err.lines().count(), 1, "{format}: {err}");
        assert!(
            err.starts_with("error: cannot write the result to standard output: ")
                && err.contains("No space left on device"),
            "{format}: {err}"
        );
    }
    // What the command itself prints (the plan of --explain) is checked too.
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = common::qjit_command()
        .args(["query", &lineitem(), "SELECT 1 FROM lineitem", "--explain"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
#[cfg(unix)]
fn a_closed_stdout_is_an_error() {
    use std::os::unix::process::CommandExt;
    for format in ["table", "csv", "json"] {
        let mut command = common::qjit_command();
        command.args([
            "query",
            &lineitem(),
            "SELECT l_orderkey FROM lineitem LIMIT 3",
            "--format",
            format,
        ]);
        // SAFETY: close is async-signal-safe; the child closes its own descriptor 1.
        unsafe {
            command.pre_exec(|| {
                libc::close(1);
                Ok(())
            });
        }
        let o = command.stderr(Stdio::piped()).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{format}: {err}");
        assert!(
            err.starts_with("error: cannot write the result to standard output: ")
                && err.contains("Bad file descriptor"),
            "{format}: {err}"
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_query_quietly_with_141() {
    for format in ["csv", "table", "json"] {
        let mut child = common::qjit_command()
            .args([
                "query",
                &lineitem(),
                "SELECT * FROM lineitem",
                "--format",
                format,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read the first line, then hang up, as `| head -1` does.
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        out.read_exact(&mut first).unwrap();
        drop(out);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(141), "{format}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{format}: {}", stderr(&o));
    }
}

#[test]
fn rows_written_before_an_error_stay_and_the_error_is_the_same_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    // Row groups of 20,000 rows: the division fails in the fifth, at k = 90,000.
    let file = numbered_file(dir.path(), 100_000, 20_000);
    let sql = "SELECT k, 10 / (k - 90000) AS q FROM t";
    let mut first: Option<(String, String)> = None;
    for engine in engines() {
        for threads in ["1", "2"] {
            let o = qjit(&[
                "query",
                &file,
                sql,
                "--engine",
                engine,
                "--threads",
                threads,
                "--format",
                "csv",
            ]);
            let what = format!("{engine}, {threads} threads");
            assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
            let err = stderr(&o);
            assert_eq!(err.trim(), "error: division by zero", "{what}");
            // Whole rows, in order, from the first: at least the four row groups before the
            // failing one, and nothing at or past the failing row.
            let out = stdout(&o);
            let rows: Vec<&str> = out.lines().skip(1).collect();
            assert!(out.starts_with("k,q\n0,0\n"), "{what}: {}", &out[..40]);
            assert!(rows.len() >= 80_000 && rows.len() < 90_000, "{what}");
            for (i, row) in rows.iter().enumerate() {
                assert!(
                    row.starts_with(&format!("{i},")),
                    "{what}: row {i} is {row}"
                );
            }
            assert!(out.ends_with('\n'), "{what}");
            match &first {
                None => first = Some((out, err)),
                Some(f) => assert_eq!(f, &(out, err), "{what}: the output differs"),
            }
        }
    }
    // With --output the file is all or nothing: no file, no temporary file.
    let target = dir.path().join("out.csv");
    let o = qjit(&[
        "query",
        &file,
        sql,
        "--output",
        &target.display().to_string(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["t.parquet".to_string()]);
}

#[test]
fn a_streamed_result_needs_no_memory_for_the_rows_already_written() {
    // The whole table as CSV (about 7 MB) under a 2 MiB limit: rows are written as they come.
    // Sorting them needs them all, past the limit.
    let ok = qjit(&[
        "query",
        &lineitem(),
        "SELECT * FROM lineitem",
        "--format",
        "csv",
        "--memory-limit",
        "2MiB",
        "--threads",
        "2",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert_eq!(stdout(&ok).lines().count(), 60_175 + 1);
    let sorted = qjit(&[
        "query",
        &lineitem(),
        "SELECT * FROM lineitem ORDER BY l_comment",
        "--format",
        "csv",
        "--memory-limit",
        "2MiB",
    ]);
    assert_eq!(sorted.status.code(), Some(1), "{}", stderr(&sorted));
    assert!(sorted.stdout.is_empty());
    // Top-N holds only the rows it keeps.
    let top = qjit(&[
        "query",
        &lineitem(),
        "SELECT * FROM lineitem ORDER BY l_comment LIMIT 10",
        "--format",
        "csv",
        "--memory-limit",
        "2MiB",
    ]);
    assert_eq!(top.status.code(), Some(0), "{}", stderr(&top));
    assert_eq!(stdout(&top).lines().count(), 11);
}

#[test]
fn output_files_are_written_whole_in_the_format_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT l_orderkey, l_shipdate, l_extendedprice, l_comment FROM lineitem \
               WHERE l_quantity > 45 ORDER BY l_orderkey, l_linenumber";
    let csv = qjit(&["query", &lineitem(), sql, "--format", "csv"]);
    let json = qjit(&["query", &lineitem(), sql, "--format", "json"]);
    assert_eq!(csv.status.code(), Some(0), "{}", stderr(&csv));
    let path = |name: &str| dir.path().join(name).display().to_string();
    let input = lineitem();
    // From the extension, and from --format over it.
    for (file, format, expected) in [
        ("a.csv", None, &csv.stdout),
        ("b.json", None, &json.stdout),
        ("c.ndjson", None, &json.stdout),
        ("d.txt", Some("csv"), &csv.stdout),
    ] {
        let mut args = vec!["query", &input, sql];
        let target = path(file);
        args.extend(["--output", &target]);
        if let Some(format) = format {
            args.extend(["--format", format]);
        }
        let o = qjit(&args);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{file}");
        assert_eq!(&std::fs::read(&target).unwrap(), expected, "{file}");
    }
    // An existing file is replaced.
    std::fs::write(path("a.csv"), "old contents that are longer than nothing").unwrap();
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT 1 AS one FROM lineitem LIMIT 1",
        "--output",
        &path("a.csv"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(path("a.csv")).unwrap(), "one\n1\n");
    // Parquet reads back as the same rows.
    let o = qjit(&["query", &lineitem(), sql, "--output", &path("e.parquet")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let again = qjit(&[
        "query",
        &path("e.parquet"),
        "SELECT * FROM e",
        "--format",
        "csv",
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(again.stdout, csv.stdout);
    // Nothing else is left in the directory.
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["a.csv", "b.json", "c.ndjson", "d.txt", "e.parquet"]);
}

#[test]
fn bad_output_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("lineitem.parquet");
    std::fs::copy(common::lineitem_path(), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let input = copy.display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--format", "parquet"], "--format parquet writes a file"),
        (&["--output", &input], "is the query's input"),
        (
            &["--output", "/tmp/result.unknown"],
            "cannot tell the format",
        ),
        (
            &["--output", "/nonexistent-dir/x.csv"],
            "cannot create the output file",
        ),
    ];
    for (extra, words) in cases {
        let mut args = vec!["query", &input, "SELECT * FROM lineitem"];
        args.extend(extra);
        let o = qjit(&args);
        let err = stderr(&o);
        let code = if words.contains("cannot create") {
            1
        } else {
            2
        };
        assert_eq!(o.status.code(), Some(code), "{extra:?}: {err}");
        assert!(o.stdout.is_empty(), "{extra:?}");
        assert!(err.contains(words), "{extra:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(std::fs::read(&copy).unwrap(), before, "the input changed");
}

/// `ORDER BY … LIMIT n OFFSET m` against a stable sort of the same rows done here: keys with
/// many ties and NULLs (`k`), and keys with few ties (`v`, and `s`, its text, zero-padded so
/// that it sorts as `v` does), in row groups small enough that the top-N's bound skips some;
/// on every engine and thread count.
#[test]
fn top_n_is_a_full_sort_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ties.parquet");
    let rows = 30_000usize;
    let k: Vec<Option<i64>> = (0..rows as i64)
        .map(|i| (i % 11 != 3).then_some((i * 7919) % 7))
        .collect();
    let v: Vec<Option<i64>> = (0..rows as i64)
        .map(|i| (i % 997 != 5).then_some((i * 7919) % 20_011))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("id", DataType::Int64, false),
    ]));
    let s: StringArray = v.iter().map(|v| v.map(|v| format!("{v:05}"))).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(k.clone())),
        Arc::new(Int64Array::from(v.clone())),
        Arc::new(s),
        Arc::new(Int64Array::from_iter_values(0..rows as i64)),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(4_000))
        .build();
    let file = common::write_parquet(&path, &batch, properties);
    /// Orders two keys as `ORDER BY` does.
    fn compare(
        a: Option<i64>,
        b: Option<i64>,
        desc: bool,
        nulls_first: bool,
    ) -> std::cmp::Ordering {
        use std::cmp::Ordering::*;
        match (a, b) {
            (None, None) => Equal,
            (None, Some(_)) => {
                if nulls_first {
                    Less
                } else {
                    Greater
                }
            }
            (Some(_), None) => {
                if nulls_first {
                    Greater
                } else {
                    Less
                }
            }
            (Some(x), Some(y)) if desc => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
        }
    }
    /// A sort key: its values by row, descending, NULLs first.
    type Key<'a> = (&'a Vec<Option<i64>>, bool, bool);
    let cases: [(&str, &[Key]); 8] = [
        ("k", &[(&k, false, false)]),
        ("k DESC", &[(&k, true, true)]),
        ("k NULLS FIRST", &[(&k, false, true)]),
        ("k DESC NULLS LAST", &[(&k, true, false)]),
        ("v DESC", &[(&v, true, true)]),
        ("s", &[(&v, false, false)]),
        ("s DESC NULLS LAST", &[(&v, true, false)]),
        ("k DESC, v", &[(&k, true, true), (&v, false, false)]),
    ];
    for (order, keys) in cases {
        // The expected answer: a stable sort of the row numbers in file order.
        let mut expected: Vec<usize> = (0..rows).collect();
        expected.sort_by(|&a, &b| {
            keys.iter()
                .map(|(key, desc, nulls_first)| compare(key[a], key[b], *desc, *nulls_first))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for (limit, offset) in [(10usize, 0usize), (5, 2_995), (3_000, 7), (0, 0)] {
            let sql = format!("SELECT id FROM ties ORDER BY {order} LIMIT {limit} OFFSET {offset}");
            let want: String = std::iter::once("id\n".to_string())
                .chain(
                    expected
                        .iter()
                        .skip(offset)
                        .take(limit)
                        .map(|id| format!("{id}\n")),
                )
                .collect();
            for engine in engines() {
                for threads in ["1", "2", "7"] {
                    let o = qjit(&[
                        "query",
                        &file,
                        &sql,
                        "--engine",
                        engine,
                        "--threads",
                        threads,
                        "--format",
                        "csv",
                    ]);
                    assert_eq!(o.status.code(), Some(0), "{sql}: {}", stderr(&o));
                    assert_eq!(stdout(&o), want, "{sql}, {engine}, {threads} threads");
                }
            }
        }
    }
    // A SELECT list that can fail is evaluated on every row, as a full sort would: the error
    // of a row that does not make the top is still reported.
    let o = qjit(&[
        "query",
        &file,
        "SELECT id, 1 / (id - 29999) FROM ties ORDER BY v LIMIT 3",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim(), "error: division by zero");
}

/// A top-N finds its rows from the sort keys before it reads the other columns: over keys of
/// every kind that compares specially (floats with -0.0, 0.0, NaN and NULL, decimals, dates,
/// text, and two keys at once), tied across many row groups, its answer is the full sort's
/// cut to the same rows, on every engine and thread count.
#[test]
fn top_n_by_any_key_type_is_the_full_sort_cut_short() {
    use arrow::array::{Date32Array, Decimal128Array, Float64Array};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.parquet");
    let rows = 12_000i64;
    let floats = [
        0.0,
        -0.0,
        f64::NAN,
        -f64::NAN,
        1.5,
        -1.5,
        f64::INFINITY,
        2.25,
    ];
    let x: Float64Array = (0..rows)
        .map(|i| (i % 13 != 4).then(|| floats[((i * 31) % 8) as usize]))
        .collect();
    let p: Decimal128Array = (0..rows)
        .map(|i| (i % 17 != 2).then_some(i128::from((i * 7919) % 50 * 25)))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(12, 2)
        .unwrap();
    let d: Date32Array = (0..rows)
        .map(|i| (i % 19 != 6).then_some(((i * 104_729) % 90) as i32))
        .collect();
    let t: StringArray = (0..rows)
        .map(|i| (i % 23 != 9).then(|| format!("t{}", (i * 13) % 40)))
        .collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, true),
        Field::new("p", DataType::Decimal128(12, 2), true),
        Field::new("d", DataType::Date32, true),
        Field::new("t", DataType::Utf8, true),
        Field::new("id", DataType::Int64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(x),
        Arc::new(p),
        Arc::new(d),
        Arc::new(t),
        Arc::new(Int64Array::from_iter_values(0..rows)),
    ];
    let batch = RecordBatch::try_new(schema, columns).unwrap();
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1_000))
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::Page)
        .build();
    let file = common::write_parquet(&path, &batch, properties);
    let run = |sql: &str, engine: &str, threads: &str| {
        let o = qjit(&[
            "query",
            &file,
            sql,
            "--engine",
            engine,
            "--threads",
            threads,
            "--format",
            "csv",
        ]);
        assert_eq!(o.status.code(), Some(0), "{sql}: {}", stderr(&o));
        stdout(&o)
    };
    for order in [
        "x",
        "x DESC",
        "x NULLS FIRST",
        "x DESC NULLS LAST",
        "p DESC",
        "p NULLS FIRST",
        "d",
        "d DESC NULLS LAST",
        "t DESC",
        "x DESC, d",
        "t, p DESC NULLS LAST",
    ] {
        let full = run(
            &format!("SELECT id, x FROM keys ORDER BY {order}"),
            "interp",
            "1",
        );
        let full: Vec<&str> = full.lines().collect();
        for (limit, offset) in [(10usize, 0usize), (7, 993), (1_500, 20)] {
            let want: Vec<&str> = std::iter::once(full[0])
                .chain(full[1..].iter().skip(offset).take(limit).copied())
                .collect();
            let sql =
                format!("SELECT id, x FROM keys ORDER BY {order} LIMIT {limit} OFFSET {offset}");
            for engine in engines() {
                for threads in ["1", "3"] {
                    let got = run(&sql, engine, threads);
                    assert_eq!(
                        got.lines().collect::<Vec<_>>(),
                        want,
                        "{sql}, {engine}, {threads}"
                    );
                }
            }
        }
    }
}

#[test]
fn duplicate_output_names_are_made_unique() {
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT l_quantity, l_quantity, l_tax AS l_quantity_1, l_quantity FROM lineitem LIMIT 1",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"l_quantity\":17.00,\"l_quantity_2\":17.00,\"l_quantity_1\":0.02,\"l_quantity_3\":17.00}\n"
    );
}

#[test]
#[cfg(unix)]
fn ctrl_c_while_rows_stream_stops_at_once_and_keeps_whole_rows() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let file = numbered_file(dir.path(), 3_000_000, 100_000);
    let mut child = common::qjit_command()
        .args([
            "query",
            &file,
            "SELECT * FROM t",
            "--threads",
            "2",
            "--format",
            "csv",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read slowly, as a terminal does, so that the query is still writing when interrupted.
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = vec![];
        let mut chunk = [0u8; 4096];
        loop {
            match out.read(&mut chunk) {
                Ok(0) | Err(_) => return all,
                Ok(n) => all.extend_from_slice(&chunk[..n]),
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    std::thread::sleep(Duration::from_millis(700));
    assert!(child.try_wait().unwrap().is_none(), "the query ended early");
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let seconds = signalled.elapsed().as_secs_f64();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let out = String::from_utf8(reader.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(seconds < 2.0, "exited {seconds:.1} s after SIGINT");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("interrupted (Ctrl-C)") && err.contains("the rows printed before it"),
        "{err}"
    );
    // The rows written are whole and in order.
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert!(rows.len() > 100, "{} rows", rows.len());
    assert!(
        rows.len() < 3_000_000,
        "the query finished before it was interrupted"
    );
    assert!(out.ends_with('\n'));
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(*row, format!("{i},value {i}"), "row {i}");
    }
}

/// Timestamps, bytes and nested values print as PostgreSQL prints them (JSON for nested values)
/// in every format. qjit's own engine does not take these types yet: DataFusion runs the query.
#[cfg(feature = "datafusion")]
#[test]
fn timestamps_bytes_and_nested_values_print_in_every_format() {
    use arrow::array::{BinaryArray, ListArray, StructArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Int32Type, TimeUnit};
    let dir = tempfile::tempdir().unwrap();
    let names: ArrayRef = Arc::new(StringArray::from(vec![Some("x,\"y\""), None]));
    let numbers: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
    let structs = StructArray::from(vec![
        (Arc::new(Field::new("a", DataType::Int64, true)), numbers),
        (Arc::new(Field::new("b", DataType::Utf8, true)), names),
    ]);
    let lists =
        ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![Some(1), None]), None]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_711_852_200_123_456), None])
                .with_timezone_opt(None::<String>),
        ),
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_500_000), Some(-1)]).with_timezone("UTC"),
        ),
        Arc::new(BinaryArray::from_opt_vec(vec![Some(b"\x01\xab"), None])),
        Arc::new(lists),
        Arc::new(structs),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new(
            "tz",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("b", DataType::Binary, true),
        Field::new("l", columns[3].data_type().clone(), true),
        Field::new("s", columns[4].data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let path = dir.path().join("events.parquet");
    common::write_parquet(&path, &batch, WriterProperties::builder().build());
    let run = |format: &str| {
        let out = qjit(&[
            "query",
            path.to_str().unwrap(),
            "SELECT * FROM events",
            "--format",
            format,
        ]);
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        run("csv"),
        "ts,tz,b,l,s\n\
         2024-03-31 02:30:00.123456,1970-01-01 00:00:01.5+00,\\x01ab,\"[1,null]\",\"{\"\"a\"\":1,\"\"b\"\":\"\"x,\\\"\"y\\\"\"\"\"}\"\n\
         ,1969-12-31 23:59:59.999999+00,,,\"{\"\"a\"\":null,\"\"b\"\":null}\"\n"
    );
    assert_eq!(
        run("json"),
        "{\"ts\":\"2024-03-31 02:30:00.123456\",\"tz\":\"1970-01-01 00:00:01.5+00\",\"b\":\"\\\\x01ab\",\"l\":[1,null],\"s\":{\"a\":1,\"b\":\"x,\\\"y\\\"\"}}\n\
         {\"ts\":null,\"tz\":\"1969-12-31 23:59:59.999999+00\",\"b\":null,\"l\":null,\"s\":{\"a\":null,\"b\":null}}\n"
    );
    let table = run("table");
    assert!(
        table.contains("| 2024-03-31 02:30:00.123456 | 1970-01-01 00:00:01.5+00")
            && table.contains("\\x01ab")
            && table.contains("[1,null]"),
        "{table}"
    );
}
