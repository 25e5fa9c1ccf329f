//! The `qjit` command end to end: exit codes, output formats, stdout/stderr separation, and a
//! clear error for every kind of bad input file.

mod common;

use common::{lineitem, qjit, stderr, stdout};

use std::process::{Command, Output};

/// Asserts a failed run: the exit code, nothing on stdout, and the key words on stderr.
fn assert_fails(o: &Output, code: i32, words: &[&str]) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(o));
    assert!(
        o.stdout.is_empty(),
        "stdout should be empty, got {}",
        stdout(o)
    );
    let err = stderr(o);
    for w in words {
        assert!(err.contains(w), "stderr lacks {w:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn query_prints_a_table() {
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY 1 ORDER BY 1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("l_returnflag") && out.contains("| A "),
        "{out}"
    );
    assert!(out.contains("(3 rows)"), "{out}");
    assert!(stderr(&o).is_empty());
}

#[test]
fn csv_and_json_formats() {
    let sql = "SELECT l_linenumber, l_shipdate, l_discount FROM lineitem ORDER BY l_orderkey, l_linenumber LIMIT 2";
    let o = qjit(&["query", &lineitem(), sql, "--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("l_linenumber,l_shipdate,l_discount"));
    assert_eq!(lines.count(), 2);

    let o = qjit(&["query", &lineitem(), sql, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("{\"l_linenumber\":1,\"l_shipdate\":\"19"),
        "{first}"
    );
    assert_eq!(out.lines().count(), 2);
}

#[test]
fn json_writes_nulls_explicitly() {
    let o = qjit(&["query", &lineitem(), "SELECT NULLIF(l_linenumber, 1) AS x FROM lineitem ORDER BY l_orderkey, l_linenumber LIMIT 1", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "{\"x\":null}");
}

#[test]
fn timing_goes_to_stderr() {
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT count(*) FROM lineitem",
        "--timing",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), "count(*)\n60175\n");
    assert!(stderr(&o).contains("execute"), "{}", stderr(&o));
}

#[test]
fn explain_prints_the_plan() {
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT sum(l_quantity) FROM lineitem WHERE l_shipdate < DATE '1995-01-01'",
        "--explain",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Scan lineitem") && out.contains("Filter") && out.contains("Aggregate"),
        "{out}"
    );
}

#[test]
fn query_errors_exit_1_with_one_message() {
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT l_shipdat FROM lineitem",
            &["unknown column 'l_shipdat'", "l_shipdate"],
        ),
        ("SELEC 1 FROM lineitem", &["syntax error"]),
        ("SELECT * FROM orders", &["unknown table 'orders'"]),
        ("SELECT 1 / 0 FROM lineitem", &["division by zero"]),
        #[cfg(not(feature = "datafusion"))]
        (
            "SELECT * FROM lineitem a JOIN lineitem b ON a.l_orderkey = b.l_orderkey",
            &["unsupported", "join"],
        ),
        // In DataFusion (a join), an error in the data is still one message.
        #[cfg(feature = "datafusion")]
        (
            "SELECT a.l_orderkey / 0 FROM lineitem a JOIN lineitem b ON a.l_orderkey = b.l_orderkey",
            &["division by zero"],
        ),
        ("", &["empty"]),
    ];
    for (sql, words) in cases {
        assert_fails(&qjit(&["query", &lineitem(), sql]), 1, words);
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_fails(&qjit(&["query", &lineitem()]), 2, &["SQL"]);
    assert_fails(
        &qjit(&[
            "query",
            &lineitem(),
            "SELECT 1 FROM lineitem",
            "--format",
            "xml",
        ]),
        2,
        &["xml"],
    );
    assert_fails(&qjit(&["frobnicate"]), 2, &["frobnicate"]);
    assert_fails(
        &qjit(&[
            "query",
            &lineitem(),
            "SELECT 1 FROM lineitem",
            "--threads",
            "0",
        ]),
        2,
        &["threads"],
    );
}

/// `qjit query` with `input` on standard input.
fn qjit_with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = common::qjit_command()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start qjit");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("run qjit")
}

#[test]
fn sql_comes_from_the_argument_standard_input_or_a_file() {
    let count = "SELECT count(*) AS n FROM lineitem WHERE l_linenumber = 7";
    let expected = "n\n2173\n";
    let csv = ["--format", "csv"];
    let file = lineitem();
    // The argument after the path is SQL whatever it starts with, flags before or after it.
    let commented = format!("-- how many seventh lines\n{count}");
    for args in [
        vec!["query", &file, &commented, "--format", "csv"],
        vec!["query", &file, "--format", "csv", &commented],
    ] {
        let o = qjit(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), expected);
    }
    // `-` reads standard input: a query longer than an argument may be (128 KiB on Linux).
    let keys: Vec<String> = (1..=30_000).map(|k| k.to_string()).collect();
    let long = format!(
        "{count} AND l_orderkey NOT IN ({})",
        keys.iter()
            .map(|k| format!("-{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(long.len() > 200_000);
    let o = qjit_with_stdin(&["query", &file, "-", csv[0], csv[1]], &long);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);
    // --sql-file reads a file.
    let dir = tempfile::tempdir().unwrap();
    let sql_path = dir.path().join("q.sql");
    std::fs::write(&sql_path, &long).unwrap();
    let sql_file = sql_path.to_str().unwrap();
    let o = qjit(&["query", &file, "--sql-file", sql_file, csv[0], csv[1]]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), expected);
    // Usage errors: a missing file, empty SQL, SQL given twice.
    let missing = dir.path().join("missing.sql");
    let o = qjit(&["query", &file, "--sql-file", missing.to_str().unwrap()]);
    assert_fails(&o, 2, &["cannot read the SQL file", "missing.sql"]);
    let o = qjit_with_stdin(&["query", &file, "-"], "  \n");
    assert_fails(&o, 1, &["the query is empty"]);
    let o = qjit(&["query", &file, count, "--sql-file", sql_file]);
    assert_fails(&o, 2, &["--sql-file"]);
}

#[test]
fn version_names_qjit_llvm_and_arrow() {
    let o = qjit(&["--version"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("qjit {}\n", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("\narrow 59."), "{out}");
    if cfg!(feature = "jit") {
        assert!(out.contains("\nLLVM 19."), "{out}");
    } else {
        assert!(out.contains("built without LLVM"), "{out}");
    }
}

#[test]
fn bad_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT count(*) FROM x";
    let missing = dir.path().join("x.parquet");
    assert_fails(
        &qjit(&["query", missing.to_str().unwrap(), sql]),
        1,
        &["x.parquet", "no such file"],
    );

    let as_dir = dir.path().join("d");
    std::fs::create_dir(&as_dir).unwrap();
    // A folder is a folder of tables (with DataFusion): an empty one says what it should hold.
    let words: &[&str] = match cfg!(feature = "datafusion") {
        true => &["holds no tables", "NAME.parquet"],
        false => &["directory"],
    };
    assert_fails(
        &qjit(&["query", as_dir.to_str().unwrap(), "SELECT count(*) FROM d"]),
        1,
        words,
    );

    let empty = dir.path().join("x.parquet");
    std::fs::write(&empty, b"").unwrap();
    assert_fails(
        &qjit(&["query", empty.to_str().unwrap(), sql]),
        1,
        &["empty"],
    );

    let text = dir.path().join("x.parquet");
    std::fs::write(&text, b"id,name\n1,a\n").unwrap();
    assert_fails(
        &qjit(&["query", text.to_str().unwrap(), sql]),
        1,
        &["not a Parquet file"],
    );

    let whole = std::fs::read(common::lineitem_path()).unwrap();
    let truncated = dir.path().join("x.parquet");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    assert_fails(
        &qjit(&["query", truncated.to_str().unwrap(), sql]),
        1,
        &["truncated or corrupt"],
    );
}

#[test]
fn input_files_are_not_modified() {
    let path = common::lineitem_path();
    let before = std::fs::read(&path).unwrap();
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT count(*) FROM lineitem WHERE l_quantity > 10",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Casts through a float's digits (to and from text, to and from decimals), `IN` lists of
/// columns and `NULL` results used to be rejected by `--engine jit`; they compile now, and the
/// answers are the interpreter's.
#[test]
#[cfg(feature = "jit")]
fn jit_engine_compiles_float_casts_in_lists_and_nulls() {
    let queries = [
        "SELECT CAST(CAST(l_extendedprice AS DOUBLE) / 7 AS VARCHAR) AS t, \
         CAST(CAST(l_discount AS REAL) AS VARCHAR) AS r, \
         CAST(CAST(CAST(l_tax AS VARCHAR) AS DOUBLE) * 3 AS DECIMAL(10,3)) AS d, \
         CAST(CAST(l_quantity AS DECIMAL(38,30)) AS DOUBLE) AS q, NULL AS n \
         FROM lineitem WHERE l_orderkey < 200 AND l_linenumber IN (l_suppkey % 7, 1) \
         ORDER BY l_orderkey, l_linenumber",
        "SELECT l_returnflag, count(*), \
         sum(CAST(CASE WHEN l_linestatus = 'O' THEN ' 1.5' ELSE '-2e-3' END AS DOUBLE)) \
         FROM lineitem WHERE CAST(CAST(l_discount AS DOUBLE) AS DECIMAL(4,2)) > 0.05 \
         GROUP BY 1 ORDER BY 1",
    ];
    for sql in queries {
        let jit = qjit(&[
            "query",
            &lineitem(),
            sql,
            "--engine",
            "jit",
            "--format",
            "csv",
            "--timing",
        ]);
        assert_eq!(jit.status.code(), Some(0), "{sql}: {}", stderr(&jit));
        // Every part compiled (`--engine jit` fails otherwise).
        let err = stderr(&jit);
        assert!(err.contains("WHERE: compiled"), "{err}");
        for part in ["WHERE", "SELECT", "aggregation"] {
            assert!(!err.contains(&format!("{part}: interpreted")), "{err}");
        }
        let interp = qjit(&[
            "query",
            &lineitem(),
            sql,
            "--engine",
            "interp",
            "--format",
            "csv",
        ]);
        assert_eq!(stdout(&jit), stdout(&interp), "{sql}");
        assert!(stdout(&jit).lines().count() > 2, "{}", stdout(&jit));
    }
}

#[test]
#[cfg(feature = "jit")]
fn jit_engine_compiles_where_or_names_what_it_cannot() {
    let sql = "SELECT count(*) AS n FROM lineitem WHERE l_quantity < 24 AND l_discount > 0.05";
    let jit = qjit(&[
        "query",
        &lineitem(),
        sql,
        "--engine",
        "jit",
        "--format",
        "csv",
        "--timing",
    ]);
    assert_eq!(jit.status.code(), Some(0), "{}", stderr(&jit));
    let interp = qjit(&[
        "query",
        &lineitem(),
        sql,
        "--engine",
        "interp",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&jit), stdout(&interp));
    let err = stderr(&jit);
    assert!(
        err.contains("WHERE: compiled, aggregation: compiled"),
        "{err}"
    );

    let o = qjit(&["query", &lineitem(), sql, "--explain", "--opt-level", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("WHERE: compiled\naggregation: compiled"),
        "{out}"
    );
    assert!(
        out.contains("before optimization") && out.contains("after default<O1>"),
        "{out}"
    );
    assert!(out.contains("define void @qjit_aggregate"), "{out}");

    let projection = "SELECT l_orderkey FROM lineitem WHERE l_quantity < 2";
    let o = qjit(&["query", &lineitem(), projection, "--explain"]);
    assert!(
        stdout(&o).contains("define i64 @qjit_project"),
        "{}",
        stdout(&o)
    );

    // Text that is not a number fails with the interpreter's message, naming the text.
    let cast = "SELECT count(*) FROM lineitem WHERE CAST(l_shipmode AS DOUBLE) = 1";
    assert_fails(
        &qjit(&["query", &lineitem(), cast, "--engine", "jit"]),
        1,
        &["invalid value for type DOUBLE: 'TRUCK'"],
    );
    let o = qjit(&["query", &lineitem(), cast, "--explain"]);
    let out = stdout(&o);
    assert!(
        out.contains("WHERE: compiled") && out.contains("aggregation: compiled"),
        "{out}"
    );
    // UPPER compiles in a filter kernel, which may hand batches back to the interpreter; the
    // aggregation kernel then runs after it rather than with it.
    let upper = "SELECT count(*) FROM lineitem WHERE upper(l_shipmode) = 'MAIL'";
    let o = qjit(&["query", &lineitem(), upper, "--explain"]);
    let out = stdout(&o);
    assert!(
        out.contains("WHERE: compiled") && out.contains("aggregation: compiled"),
        "{out}"
    );
    // As a group key, UPPER compiles into the aggregation kernel, which hands the rest of the
    // aggregation to the interpreter at a row it does not evaluate.
    let key = "SELECT upper(l_shipmode), count(*) FROM lineitem GROUP BY 1";
    let o = qjit(&["query", &lineitem(), key, "--explain", "--engine", "jit"]);
    let out = stdout(&o);
    assert!(out.contains("aggregation: compiled"), "{out}");
    let o = qjit(&[
        "query",
        &lineitem(),
        key,
        "--engine",
        "jit",
        "--format",
        "csv",
    ]);
    assert!(stdout(&o).contains("MAIL,"), "{}", stdout(&o));
    // What does not compile (more than 63 group keys) runs interpreted on auto, and is named
    // on jit.
    let keys: Vec<String> = (0..64).map(|i| format!("l_orderkey + {i}")).collect();
    let wide = format!("SELECT count(*) FROM lineitem GROUP BY {}", keys.join(", "));
    let reason = "GROUP BY with more than 63 keys is not compiled";
    let o = qjit(&["query", &lineitem(), &wide, "--explain"]);
    assert!(
        stdout(&o).contains(&format!("aggregation: interpreted ({reason})")),
        "{}",
        stdout(&o)
    );
    assert_fails(
        &qjit(&["query", &lineitem(), &wide, "--engine", "jit"]),
        1,
        &["the JIT engine cannot compile the aggregation", reason],
    );
    assert_fails(
        &qjit(&["query", &lineitem(), sql, "--opt-level", "4"]),
        2,
        &["opt-level"],
    );
}

#[test]
fn threads_and_pushdown_options_do_not_change_the_answer() {
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/q06.sql"),
    )
    .unwrap();
    let file = lineitem();
    let base = qjit(&["query", &file, &sql, "--format", "csv", "--threads", "1"]);
    assert_eq!(base.status.code(), Some(0), "{}", stderr(&base));
    for extra in [
        &["--threads", "2"][..],
        &["--threads", "7"],
        &["--no-pushdown"],
        &["--engine", "interp", "--threads", "3"],
    ] {
        let mut args = vec!["query", &file, &sql, "--format", "csv"];
        args.extend_from_slice(extra);
        let o = qjit(&args);
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), stdout(&base), "{extra:?}");
    }
    let o = qjit(&["query", &lineitem(), &sql, "--threads", "0"]);
    assert_fails(&o, 2, &["--threads"]);
    // Late materialization through the parquet crate's `RowFilter` was slower on every
    // reference query (issue 18): the option is gone.
    let o = qjit(&["query", &lineitem(), &sql, "--late-filter"]);
    assert_fails(&o, 2, &["--late-filter"]);
}

/// Runs `qjit gen-tpch --sf 0.01 --out OUT --tables TABLES`.
fn gen_tpch(out: &str, tables: &str) -> Output {
    qjit(&["gen-tpch", "--sf", "0.01", "--out", out, "--tables", tables])
}

#[test]
fn gen_tpch_writes_the_tables_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let o = gen_tpch(&out, "nation,region");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["nation.parquet", "region.parquet"]);
    let o = qjit(&[
        "query",
        &format!("{out}/nation.parquet"),
        "SELECT COUNT(*) FROM nation",
    ]);
    assert!(stdout(&o).contains("25"), "{}", stdout(&o));
    let o = gen_tpch(&out, "lineitems");
    assert_fails(&o, 2, &["lineitems"]);
}

/// `qjit bench` at SF 0.01, on two threads, one timed run per query and engine, as JSON, with
/// `args` after.
#[cfg(feature = "jit")]
fn quick_bench(args: &[&str]) -> Output {
    let mut all = vec![
        "bench",
        "--sf",
        "0.01",
        "--threads",
        "2",
        "--iterations",
        "1",
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    qjit(&all)
}

/// A data directory holding the bundled SF 0.01 `lineitem` where `qjit bench --data-dir` looks
/// for it (so nothing is generated), and a query directory with Q1 and Q6 (so the run is short).
fn bench_dirs() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tpch");
    std::fs::create_dir_all(data.join("sf0.01")).unwrap();
    std::fs::copy(
        common::lineitem_path(),
        data.join("sf0.01/lineitem.parquet"),
    )
    .unwrap();
    let queries = dir.path().join("queries");
    std::fs::create_dir(&queries).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for q in ["q01.sql", "q06.sql"] {
        std::fs::copy(root.join("queries").join(q), queries.join(q)).unwrap();
    }
    let (data, queries) = (data.display().to_string(), queries.display().to_string());
    (dir, data, queries)
}

#[test]
#[cfg(feature = "jit")]
fn bench_prints_one_json_object_per_query_and_engine() {
    let (_dir, data, queries) = bench_dirs();
    let o = quick_bench(&["--data-dir", &data, "--queries", &queries]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["query"].as_str().unwrap(), r["engine"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("q01", "jit"),
            ("q01", "interp"),
            ("q06", "jit"),
            ("q06", "interp")
        ]
    );
    for r in &rows {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "compile_ms",
                "engine",
                "exec_ms",
                "exec_ms_min",
                "load_ms",
                "query",
                "result_ok",
                "rows_in",
                "sf",
                "suite",
                "threads"
            ]
        );
        assert_eq!(r["suite"], "lineitem", "{r}");
        assert_eq!(r["threads"], 2, "{r}");
        assert_eq!(r["sf"], 0.01, "{r}");
        assert_eq!(r["rows_in"], 60175, "{r}");
        // Checked against tests/reference/sf0.01.
        assert_eq!(r["result_ok"], true, "{r}");
        assert!(r["exec_ms_min"].as_f64() <= r["exec_ms"].as_f64(), "{r}");
        // Each engine's figures are its own: only the JIT compiles.
        let compile_ms = r["compile_ms"].as_f64().unwrap();
        // The JIT's kernels also load from the kernel cache on disk (the tests' own).
        match r["engine"].as_str() {
            Some("jit") => {
                assert!(compile_ms > 0.0, "{r}");
                assert!(r["load_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{r}");
            }
            _ => {
                assert_eq!(compile_ms, 0.0, "{r}");
                assert!(r["load_ms"].is_null(), "{r}");
            }
        }
    }
}

#[test]
#[cfg(all(feature = "jit", feature = "datafusion"))]
fn bench_tpch_suite_runs_the_22_queries_with_and_without_qjit_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The references, with one answer made wrong: the check must notice it.
    let references = dir.path().join("references");
    std::fs::create_dir(&references).unwrap();
    for entry in std::fs::read_dir(root.join("tests/reference/tpch-sf0.01")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, references.join(path.file_name().unwrap())).unwrap();
    }
    let q06 = references.join("q06.csv");
    let right = std::fs::read_to_string(&q06).unwrap();
    std::fs::write(&q06, right.replace('1', "2")).unwrap();
    let data = dir.path().join("tpch").display().to_string();
    let (queries, references) = (
        root.join("queries/tpch").display().to_string(),
        references.display().to_string(),
    );
    let bench = |engines: &str, suite: &str| {
        quick_bench(&[
            "--suite",
            suite,
            "--engines",
            engines,
            "--data-dir",
            &data,
            "--queries",
            &queries,
            "--references",
            &references,
        ])
    };
    let o = bench("datafusion,datafusion+qjit", "tpch");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(rows.len(), 44);
    for (i, r) in rows.iter().enumerate() {
        let query = format!("q{:02}", i / 2 + 1);
        let engine = ["datafusion", "datafusion+qjit"][i % 2];
        assert_eq!(
            (r["query"].as_str(), r["engine"].as_str()),
            (Some(&*query), Some(engine))
        );
        assert_eq!(r["suite"], "tpch", "{r}");
        assert_eq!(r["result_ok"], query != "q06", "{r}");
        assert!(r["exec_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{r}");
        // Q1 reads lineitem once; its expressions become qjit kernels.
        if query == "q01" {
            assert_eq!(r["rows_in"], 60175, "{r}");
            assert_eq!(
                r["compile_ms"].as_f64().unwrap() > 0.0,
                engine != "datafusion",
                "{r}"
            );
        }
    }
    // Each suite's engines are its own.
    assert_fails(
        &bench("jit", "tpch"),
        2,
        &["--engines jit", "--suite lineitem"],
    );
    assert_fails(
        &bench("datafusion", "lineitem"),
        2,
        &["--engines datafusion", "--suite tpch"],
    );
}

#[test]
fn bench_duckdb_without_python_or_module_says_how_to_install_it() {
    let (dir, _, queries) = bench_dirs();
    // Not there: the error comes before any data would be generated.
    let data = dir.path().join("empty");
    let run = |python: &std::path::Path| {
        common::qjit_command()
            .args(["bench", "--sf", "0.01", "--engines", "jit,duckdb"])
            .args(["--queries", &queries, "--data-dir"])
            .arg(&data)
            .env("QJIT_PYTHON", python)
            .output()
            .expect("run qjit")
    };
    let words = ["duckdb engine", "pip install duckdb", "QJIT_PYTHON"];
    let missing = dir.path().join("no-python");
    assert_fails(
        &run(&missing),
        2,
        &[&["was not found"], &words[..]].concat(),
    );
    #[cfg(unix)]
    {
        // A Python without the module: the script exits with status 3 and the import error.
        use std::os::unix::fs::PermissionsExt;
        let fake = dir.path().join("python-without-duckdb");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"No module named 'duckdb'\" >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_fails(
            &run(&fake),
            2,
            &[
                &["cannot import duckdb (No module named 'duckdb')"],
                &words[..],
            ]
            .concat(),
        );
    }
    assert!(!data.exists(), "no data generated before the error");
}

#[test]
#[cfg(not(feature = "jit"))]
fn jit_engine_without_the_jit_is_a_usage_error() {
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT count(*) FROM lineitem",
        "--engine",
        "jit",
    ]);
    assert_fails(&o, 2, &["built without the JIT"]);
    let o = qjit(&["query", &lineitem(), "SELECT count(*) FROM lineitem"]);
    assert!(o.status.success());
}

/// Sends SIGINT to a running `qjit` once it handles the signal (its SIGINT bit is set in
/// `SigCgt` of /proc/PID/status on Linux; elsewhere after a second), then waits for it: its
/// output, and the time from the signal to its exit.
#[cfg(unix)]
fn interrupt(mut child: std::process::Child, after: impl Fn() -> bool) -> (Output, f64) {
    use std::time::{Duration, Instant};
    let pid = child.id().to_string();
    let started = Instant::now();
    let handles_sigint = || match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << 1) != 0),
        Err(_) => !cfg!(target_os = "linux") && started.elapsed() > Duration::from_secs(1),
    };
    while !(handles_sigint() && after()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "qjit ended before it was interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "qjit never got ready to be interrupted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let signalled = Instant::now();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    (output, signalled.elapsed().as_secs_f64())
}

/// Writes a Parquet file of `rows` rows with distinct strings: grouping by them takes the
/// interpreter of a debug build many seconds (about 20 µs a row).
#[cfg(unix)]
fn distinct_strings_file(dir: &std::path::Path, rows: usize) -> String {
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let properties = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    common::numbered_parquet(&dir.join("big.parquet"), rows, properties)
}

#[test]
#[cfg(unix)]
fn ctrl_c_stops_a_running_query_with_exit_130_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let big = distinct_strings_file(dir.path(), 2_000_000);
    for engine in ["interp", "auto"] {
        let child = common::qjit_command()
            .args([
                "query",
                &big,
                "SELECT s, count(*), min(k) FROM big GROUP BY s ORDER BY s",
                "--engine",
                engine,
                "--threads",
                "2",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Well inside the query: it cannot finish on any machine while this sleeps.
        let (o, seconds) = interrupt(child, || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            true
        });
        assert_fails(&o, 130, &["interrupted", "nothing was printed"]);
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        // qjit stops waiting for the query 5 s after the signal: this is the query stopping.
        assert!(
            seconds < 4.0,
            "{engine}: exited {seconds:.1} s after SIGINT"
        );
    }
}

#[test]
#[cfg(unix)]
fn ctrl_c_during_gen_tpch_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let child = common::qjit_command()
        .args([
            "gen-tpch", "--sf", "1", "--out", &out, "--tables", "lineitem",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once the table is being written under its temporary name.
    let writing = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp-"))
    };
    let (o, seconds) = interrupt(child, writing);
    assert_fails(&o, 130, &["interrupted", "no partial table file"]);
    assert!(seconds < 4.0, "exited {seconds:.1} s after SIGINT");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn memory_limit_stops_a_high_cardinality_group_by_on_both_engines() {
    let sql = "SELECT l_orderkey, l_linenumber, sum(l_quantity) FROM lineitem \
               GROUP BY l_orderkey, l_linenumber";
    let engines: &[&str] = if cfg!(feature = "jit") {
        &["jit", "interp", "auto"]
    } else {
        &["interp"]
    };
    let file = lineitem();
    for engine in engines {
        for threads in ["1", "2"] {
            let o = qjit(&[
                "query",
                &file,
                sql,
                "--engine",
                engine,
                "--threads",
                threads,
                "--memory-limit",
                "1MiB",
            ]);
            assert_fails(
                &o,
                1,
                &["the GROUP BY state needs more memory than the limit of 1.0 MiB; raise --memory-limit or group by fewer distinct values"],
            );
            assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
            // The same query under the default limit, and under one it fits in.
            for limit in [None, Some("1GB")] {
                let mut args = vec!["query", &file, sql, "--engine", engine];
                args.extend(["--threads", threads, "--format", "csv"]);
                if let Some(limit) = limit {
                    args.extend(["--memory-limit", limit]);
                }
                let o = qjit(&args);
                assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
                assert_eq!(stdout(&o).lines().count(), 60_175 + 1);
            }
        }
    }
    // Rows collected for ORDER BY count too; a small GROUP BY fits a small limit.
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT * FROM lineitem ORDER BY l_comment",
        "--memory-limit",
        "1MiB",
    ]);
    assert_fails(
        &o,
        1,
        &["the rows the query collects need more memory than the limit of 1.0 MiB"],
    );
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT l_returnflag, count(*) FROM lineitem GROUP BY l_returnflag",
        "--memory-limit",
        "64KiB",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for bad in ["lots", "0", "-1MiB"] {
        let limit = format!("--memory-limit={bad}");
        let o = qjit(&["query", &lineitem(), "SELECT 1 FROM lineitem", &limit]);
        assert_fails(&o, 2, &["--memory-limit"]);
    }
}

/// `--engine auto` starts in the interpreter while its kernels compile: a query that ends
/// before they are ready (forced with the test-only `--tier-switch never`) answers as the
/// interpreter does and exits at once and cleanly, with LLVM still compiling on another
/// thread; one told to switch before its first batch runs compiled.
#[test]
fn a_query_that_ends_while_its_kernels_compile_exits_cleanly() {
    for sql in [
        "SELECT l_returnflag, sum(l_extendedprice * (1 - l_discount)) FROM lineitem GROUP BY 1 ORDER BY 1",
        "SELECT l_orderkey, l_comment FROM lineitem WHERE l_quantity < 2 AND l_comment LIKE '%ly%'",
    ] {
        let interp = qjit(&["query", &lineitem(), sql, "--engine", "interp", "--format", "csv"]);
        assert_eq!(interp.status.code(), Some(0), "{}", stderr(&interp));
        // Without the JIT there is nothing to switch to.
        let first = match cfg!(feature = "jit") {
            true => "0 batches interpreted",
            false => "0 compiled",
        };
        for (switch, tier) in [("never", "0 compiled"), ("0", first)] {
            for threads in ["1", "2"] {
                let o = qjit(&[
                    "query", &lineitem(), sql, "--tier-switch", switch, "--threads", threads,
                    "--format", "csv", "--timing",
                ]);
                let what = format!("{sql}: --tier-switch {switch}, {threads} threads");
                assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
                assert_eq!(o.stdout, interp.stdout, "{what}");
                let err = stderr(&o);
                assert!(!err.contains("panicked"), "{what}: {err}");
                assert!(err.contains("timing: tiers: ") && err.contains(tier), "{what}: {err}");
            }
        }
    }
}

/// `--explain` says how `auto` would run a query: the SF 0.01 sample is too small to compile for.
#[test]
fn explain_says_how_auto_would_run_the_query() {
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT count(*) FROM lineitem",
        "--explain",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("\ntiers: 60175 rows to read, too few for compiling to pay off\n"),
        "{}",
        stdout(&o)
    );
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT count(*) FROM lineitem",
        "--explain",
        "--engine",
        "interp",
    ]);
    assert!(!stdout(&o).contains("\ntiers: "), "{}", stdout(&o));
}

/// Queries too large to compile in reasonable time run in the interpreter under `auto`, and say
/// why in `--timing`; they answer as the interpreter does.
#[test]
fn queries_over_the_compile_budget_run_interpreted() {
    let wide: Vec<String> = (0..2_000).map(|i| format!("l_quantity + {i}")).collect();
    let wide = format!("SELECT {} FROM lineitem LIMIT 5", wide.join(", "));
    let like = format!(
        "SELECT count(*) FROM lineitem WHERE l_comment LIKE '{}%'",
        "%a".repeat(3_000)
    );
    for sql in [wide, like] {
        let interp = qjit(&[
            "query",
            &lineitem(),
            &sql,
            "--engine",
            "interp",
            "--format",
            "csv",
        ]);
        assert_eq!(interp.status.code(), Some(0), "{}", stderr(&interp));
        let auto = qjit(&["query", &lineitem(), &sql, "--format", "csv", "--timing"]);
        assert_eq!(auto.status.code(), Some(0), "{}", stderr(&auto));
        assert_eq!(auto.stdout, interp.stdout);
        let err = stderr(&auto);
        assert!(err.contains("over the compile budget of 1000"), "{err}");
    }
}

/// The kernel cache on disk (`--cache-dir`): the second process loads what the first compiled,
/// with the same answer, and `--timing` says which.
#[cfg(feature = "jit")]
mod kernel_cache {
    use super::*;
    use std::path::Path;

    const Q01: &str = "SELECT l_returnflag, l_linestatus, sum(l_quantity), \
        sum(l_extendedprice * (1 - l_discount)), avg(l_discount), count(*) FROM lineitem \
        WHERE l_shipdate <= DATE '1998-09-02' GROUP BY 1, 2 ORDER BY 1, 2";
    const Q06: &str = "SELECT sum(l_extendedprice * l_discount) FROM lineitem \
        WHERE l_quantity < 24 AND l_discount BETWEEN 0.05 AND 0.07";

    /// Runs `sql` compiled first, with the cache in `dir` and `--timing`.
    fn run(dir: &Path, sql: &str) -> Output {
        let dir = dir.display().to_string();
        qjit(&[
            "query",
            &lineitem(),
            sql,
            "--engine",
            "jit",
            "--cache-dir",
            &dir,
            "--timing",
            "--format",
            "csv",
        ])
    }

    /// The entry files of the cache in `dir`.
    fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        found.retain(|p| p.extension().is_some_and(|x| x == "qjk"));
        found.sort();
        found
    }

    /// The entries that hold machine code (an ELF object after the entry's header); the others
    /// are plan entries.
    fn objects(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut found = entries(dir);
        found.retain(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.windows(4).any(|w| w == b"\x7fELF")
        });
        found
    }

    /// The plan entries: what lowering a kernel found, and which object holds its code.
    fn plans(dir: &Path) -> Vec<std::path::PathBuf> {
        let objects = objects(dir);
        let mut found = entries(dir);
        found.retain(|p| !objects.contains(p));
        found
    }

    fn says(o: &Output, what: &str) -> bool {
        stderr(o).contains(&format!("kernel cache: aggregation: {what}"))
    }

    #[test]
    fn a_second_process_loads_the_kernel_and_answers_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let first = run(dir.path(), Q01);
        assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
        assert!(says(&first, "miss"), "{}", stderr(&first));
        let second = run(dir.path(), Q01);
        assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
        // The same plan: found by its plan entry, no code generated.
        assert!(says(&second, "hit, loaded in"), "{}", stderr(&second));
        assert_eq!(stdout(&first), stdout(&second));
        assert_eq!(stdout(&first).lines().count(), 5, "{}", stdout(&first));
        // `--no-cache` neither reads nor writes it.
        let dir_text = dir.path().display().to_string();
        let o = qjit(&[
            "query",
            &lineitem(),
            Q06,
            "--engine",
            "jit",
            "--no-cache",
            "--timing",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(!stderr(&o).contains("kernel cache"), "{}", stderr(&o));
        assert_eq!(objects(dir.path()).len(), 1);
        assert_eq!(plans(dir.path()).len(), 1);
        // `cache info` and `cache clear`.
        let info = qjit(&["cache", "info", "--cache-dir", &dir_text]);
        assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
        let bytes: u64 = entries(dir.path())
            .iter()
            .map(|e| std::fs::metadata(e).unwrap().len())
            .sum();
        assert_eq!(
            stdout(&info),
            format!("location: {dir_text}\nentries: 2\nbytes: {bytes}\n")
        );
        let clear = qjit(&["cache", "clear", "--cache-dir", &dir_text]);
        assert_eq!(clear.status.code(), Some(0), "{}", stderr(&clear));
        assert!(entries(dir.path()).is_empty());
        let info = qjit(&["cache", "info", "--cache-dir", &dir_text]);
        assert!(
            stdout(&info).contains("entries: 0\nbytes: 0\n"),
            "{}",
            stdout(&info)
        );
    }

    /// Numeric and date constants compared with columns are the kernel's parameters: queries
    /// that differ only in them share machine code, each with its own answer.
    #[test]
    fn queries_that_differ_in_constants_share_a_kernel() {
        let dir = tempfile::tempdir().unwrap();
        let query = |quantity: &str, date: &str| {
            format!(
                "SELECT sum(l_extendedprice * l_discount), count(*) FROM lineitem \
                 WHERE l_shipdate >= DATE '{date}' AND l_shipdate < DATE '1995-01-01' \
                 AND l_quantity < {quantity} AND l_tax <> 0.02"
            )
        };
        let cases = [
            ("24", "1994-01-01"),
            ("25", "1994-01-01"),
            ("3.5", "1993-06-30"),
        ];
        for (i, (quantity, date)) in cases.into_iter().enumerate() {
            let sql = query(quantity, date);
            let o = run(dir.path(), &sql);
            assert_eq!(o.status.code(), Some(0), "{sql}: {}", stderr(&o));
            let want = qjit(&[
                "query",
                &lineitem(),
                &sql,
                "--engine",
                "interp",
                "--format",
                "csv",
            ]);
            assert_eq!(stdout(&o), stdout(&want), "{sql}");
            let expected = if i == 0 {
                "miss"
            } else {
                "hit for the machine code"
            };
            assert!(says(&o, expected), "{sql}: {}", stderr(&o));
        }
        // One object, and a plan entry for each query, which the next run of it finds.
        assert_eq!(objects(dir.path()).len(), 1);
        assert_eq!(plans(dir.path()).len(), cases.len());
        for (quantity, date) in cases {
            let o = run(dir.path(), &query(quantity, date));
            assert!(says(&o, "hit, loaded in"), "{}", stderr(&o));
        }
    }

    /// Both kinds of entry, damaged every way: the answer stays right, the entry is rewritten
    /// whole, and the next process loads it. A damaged plan entry costs code generation only
    /// (the machine code is still found by its IR); a damaged object costs a compile.
    #[test]
    fn a_damaged_or_foreign_entry_is_a_miss_and_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let want = stdout(&run(dir.path(), Q01));
        // Another kernel's entries (q06's), to put under q01's names.
        let other = tempfile::tempdir().unwrap();
        run(other.path(), Q06);
        let kinds = [
            (objects(dir.path()), objects(other.path()), "miss"),
            (
                plans(dir.path()),
                plans(other.path()),
                "hit for the machine code",
            ),
        ];
        for (mine, foreign, expected) in kinds {
            let (entry, foreign) = (&mine[0], std::fs::read(&foreign[0]).unwrap());
            let good = std::fs::read(entry).unwrap();
            let mut version = good.clone();
            version[8] ^= 1;
            let mut flipped = good.clone();
            let at = flipped.len() * 2 / 3;
            flipped[at] ^= 0x10;
            let damaged: [(&str, Vec<u8>); 5] = [
                ("empty", vec![]),
                ("truncated", good[..good.len() / 2].to_vec()),
                ("a flipped byte", flipped),
                ("another format version", version),
                ("another kernel's entry", foreign),
            ];
            for (what, bytes) in damaged {
                std::fs::write(entry, &bytes).unwrap();
                let o = run(dir.path(), Q01);
                assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
                assert_eq!(stdout(&o), want, "{what}");
                assert!(says(&o, expected), "{what}: {}", stderr(&o));
                // Rewritten whole: the next process loads it.
                assert_eq!(std::fs::read(entry).unwrap(), good, "{what}");
                assert!(says(&run(dir.path(), Q01), "hit, loaded in"), "{what}");
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_cache_directory_costs_only_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-directory");
        std::fs::write(&file, b"").unwrap();
        let want = stdout(&run(dir.path(), Q01));
        let o = run(&file.join("cache"), Q01);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), want);
        let err = stderr(&o);
        let warnings: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("cannot create"))
            .collect();
        assert_eq!(warnings.len(), 1, "{err}");
        assert!(warnings[0].contains("kernels were not stored"), "{err}");
        // Without --timing, nothing on stderr.
        let cache = file.join("cache").display().to_string();
        let o = qjit(&[
            "query",
            &lineitem(),
            Q01,
            "--engine",
            "jit",
            "--cache-dir",
            &cache,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    }

    #[test]
    fn four_processes_fill_one_cache_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let queries = [Q01, Q06, Q01, Q06];
        let want: Vec<String> = {
            let reference = tempfile::tempdir().unwrap();
            queries
                .iter()
                .map(|q| stdout(&run(reference.path(), q)))
                .collect()
        };
        let children: Vec<_> = queries
            .iter()
            .map(|q| {
                let dir = dir.path().display().to_string();
                common::qjit_command()
                    .args([
                        "query",
                        &lineitem(),
                        q,
                        "--engine",
                        "jit",
                        "--cache-dir",
                        &dir,
                        "--format",
                        "csv",
                    ])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (child, want) in children.into_iter().zip(&want) {
            let o = child.wait_with_output().unwrap();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert_eq!(&stdout(&o), want);
        }
        // Two kernels, whole, and no temporary file left.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(objects(dir.path()).len(), 2, "{names:?}");
        assert_eq!(plans(dir.path()).len(), 2, "{names:?}");
        assert_eq!(names.len(), 4, "{names:?}");
        for q in [Q01, Q06] {
            assert!(says(&run(dir.path(), q), "hit"));
        }
    }

    #[test]
    fn the_cache_directory_defaults_to_the_users_cache() {
        let info = |vars: &[(&str, &str)]| {
            let mut command = common::qjit_command();
            command
                .env_remove("QJIT_CACHE_DIR")
                .env_remove("XDG_CACHE_HOME")
                .env_remove("HOME")
                .args(["cache", "info"]);
            for (k, v) in vars {
                command.env(k, v);
            }
            command.output().unwrap()
        };
        let location = |o: &Output| stdout(o).lines().next().unwrap_or("").to_string();
        let o = info(&[("QJIT_CACHE_DIR", "/nowhere/q"), ("XDG_CACHE_HOME", "/x")]);
        assert_eq!(location(&o), "location: /nowhere/q");
        let o = info(&[("XDG_CACHE_HOME", "/nowhere/x"), ("HOME", "/h")]);
        assert_eq!(location(&o), "location: /nowhere/x/qjit");
        let o = info(&[("HOME", "/nowhere/h")]);
        assert_eq!(location(&o), "location: /nowhere/h/.cache/qjit");
        let o = info(&[]);
        assert_fails(&o, 2, &["no kernel cache directory", "--cache-dir"]);
    }
}

/// A folder of TPC-H tables at SF 0.01 as the command writes it.
#[cfg(feature = "datafusion")]
fn tpch_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().display().to_string();
    let o = gen_tpch(&out, "nation,region,supplier");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dir
}

#[cfg(feature = "datafusion")]
#[test]
fn folders_of_tables_run_joins_in_datafusion_on_every_engine() {
    let dir = tpch_dir();
    let path = dir.path().display().to_string();
    let sql =
        "SELECT r_name, count(*) AS nations FROM nation JOIN region ON n_regionkey = r_regionkey \
               WHERE (n_name <> 'FRANCE' OR n_nationkey < 0) GROUP BY r_name ORDER BY r_name";
    let mut answers = vec![];
    for engine in ["auto", "jit", "interp"] {
        let o = qjit(&["query", &path, sql, "--format", "csv", "--engine", engine]);
        assert_eq!(o.status.code(), Some(0), "{engine}: {}", stderr(&o));
        answers.push(stdout(&o));
    }
    assert_eq!(
        answers[0],
        "r_name,nations\nAFRICA,5\nAMERICA,5\nASIA,5\nEUROPE,4\nMIDDLE EAST,5\n"
    );
    assert!(answers.iter().all(|a| *a == answers[0]));
    // A one-table query over one file of the folder runs in qjit's own engine.
    let o = qjit(&[
        "query",
        &path,
        "SELECT count(*) FROM supplier WHERE s_acctbal > 0",
        "--timing",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("parse+bind"), "{}", stderr(&o));
    // A join: DataFusion, with its plan and qjit's kernels in --explain.
    let o = qjit(&["query", &path, sql, "--explain", "--engine", "jit"]);
    let plan = stdout(&o);
    assert!(
        plan.contains("HashJoinExec") && plan.contains("FilterExec: qjit("),
        "{plan}"
    );
    // With each kernel's LLVM IR.
    assert!(plan.contains("define i64 @qjit_project"), "{plan}");
    // A partial aggregation with an argument that computes: one fused aggregate kernel.
    let fused = "SELECT sum(s_acctbal * 2) FROM supplier JOIN nation \
                 ON s_nationkey = n_nationkey WHERE n_name <> 'FRANCE'";
    let o = qjit(&["query", &path, fused, "--explain", "--engine", "jit"]);
    let plan = stdout(&o);
    assert!(
        plan.contains("QjitAggregateExec: mode=Partial")
            && plan.contains("; ---- qjit aggregate kernel"),
        "{plan}"
    );
    assert!(plan.contains("; engine: Compiled"), "{plan}");
    let o = qjit(&["query", &path, sql, "--explain", "--engine", "interp"]);
    let plan = stdout(&o);
    assert!(
        plan.contains("no qjit kernels") && !plan.contains("FilterExec: qjit("),
        "{plan}"
    );
    // Errors there are one message too, with nothing on stdout.
    let o = qjit(&[
        "query",
        &path,
        "SELECT n_nope FROM nation JOIN region ON n_regionkey = r_regionkey",
    ]);
    assert_fails(&o, 1, &["n_nope"]);
}

#[cfg(feature = "datafusion")]
#[test]
fn globs_and_hive_folders_are_tables() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().display().to_string();
    // orders/ of two files in hive partitions: one table, with the partition as a column.
    for (part, tables) in [("part=a", "nation"), ("part=b", "region")] {
        let folder = format!("{root}/t/{part}");
        std::fs::create_dir_all(&folder).unwrap();
        let o = gen_tpch(&folder, tables);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let o = qjit(&[
        "query",
        &format!("{root}/t"),
        "SELECT part, count(*) AS n FROM t GROUP BY part ORDER BY part",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "part,n\na,25\nb,5\n");
    // A glob names one table after the folder it starts in.
    let o = qjit(&[
        "query",
        &format!("{root}/t/part=a/*.parquet"),
        "SELECT count(*) AS n FROM \"part=a\"",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n25\n");
}

/// A free TCP port on the loopback (bound, then released for the process that takes it).
#[cfg(feature = "ballista")]
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Stops a server process with Ctrl-C and returns what it printed on stderr.
#[cfg(all(unix, feature = "ballista"))]
fn stop(mut child: Reap) -> (Output, f64) {
    interrupt(child.0.take().unwrap(), || true)
}

/// A child process that is killed if the test ends (fails) before it stops it.
#[cfg(all(unix, feature = "ballista"))]
struct Reap(Option<std::process::Child>);

/// Starts `qjit args` with its stdout and stderr piped.
#[cfg(all(unix, feature = "ballista"))]
fn spawn(args: &[&str]) -> Reap {
    use std::process::Stdio;
    let child = common::qjit_command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Reap(Some(child))
}

/// Waits (at most a minute) until something listens at `address`.
#[cfg(all(unix, feature = "ballista"))]
fn wait_for(address: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(address).is_err() {
        assert!(
            started.elapsed().as_secs() < 60,
            "nothing listens at {address}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[cfg(all(unix, feature = "ballista"))]
impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(all(unix, feature = "ballista"))]
#[test]
fn a_cluster_of_qjit_processes_runs_joins_with_kernels_compiled_on_the_executor() {
    let dir = tpch_dir();
    let path = dir.path().display().to_string();
    let sql = "SELECT r_name, count(*) AS nations, sum(n_nationkey * 2 + 1) AS k \
               FROM nation JOIN region ON n_regionkey = r_regionkey \
               WHERE n_name <> 'FRANCE' AND n_nationkey + 1 > 0 GROUP BY r_name ORDER BY r_name";
    let local = qjit(&["query", &path, sql, "--format", "csv"]);
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));

    let scheduler = format!("127.0.0.1:{}", free_port());
    let cache = tempfile::tempdir().unwrap();
    let sched = spawn(&["scheduler", "--bind", &scheduler]);
    let flight = format!("127.0.0.1:{}", free_port());
    let grpc = free_port().to_string();
    let cache_dir = cache.path().display().to_string();
    wait_for(&scheduler);
    let exec = spawn(&[
        "executor",
        "--scheduler",
        &scheduler,
        "--bind",
        &flight,
        "--grpc-port",
        &grpc,
        "--concurrency",
        "2",
        "--engine",
        "jit",
        "--cache-dir",
        &cache_dir,
    ]);
    wait_for(&flight);
    let url = format!("df://{scheduler}");
    let mut answers = vec![];
    for engine in ["jit", "interp"] {
        let o = qjit(&[
            "query",
            &path,
            sql,
            "--format",
            "csv",
            "--engine",
            engine,
            "--cluster",
            &url,
        ]);
        answers.push((engine, o));
    }
    // --explain shows the stages as the scheduler distributes them, with their kernels.
    let o = qjit(&["query", &path, sql, "--explain", "--cluster", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(
        plan.contains("Ballista distributed plan")
            && plan.contains("Stage")
            && plan.contains("qjit("),
        "{plan}"
    );
    // Ctrl-C on a long query cancels its job on the cluster.
    let long = spawn(&[
        "query",
        &path,
        "SELECT count(*) FROM supplier a, supplier b, supplier c, supplier d, supplier e \
         WHERE a.s_suppkey + b.s_suppkey * 2 + c.s_suppkey * 3 > d.s_suppkey + e.s_suppkey",
        "--cluster",
        &url,
    ]);
    // Long enough for the job to reach the executor (a Ctrl-C while the job is still being
    // submitted has no job to cancel).
    std::thread::sleep(std::time::Duration::from_secs(4));
    let (o, _) = stop(long);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("on the cluster"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let (exec_out, _) = stop(exec);
    let (sched_out, _) = stop(sched);
    for (engine, o) in &answers {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{engine}: {}\nexecutor: {}\nscheduler: {}",
            stderr(o),
            stderr(&exec_out),
            stderr(&sched_out)
        );
        assert_eq!(stdout(o), stdout(&local), "{engine}");
    }
    // The executor compiled the kernels it received and logged each.
    let log = stderr(&exec_out);
    assert!(log.contains("compiled qjit("), "{log}");
    // Ctrl-C stops the servers with the interrupted status and a message.
    assert_eq!(exec_out.status.code(), Some(130), "{log}");
    assert!(stderr(&sched_out).contains("qjit scheduler listening on"));
}

#[cfg(feature = "ballista")]
#[test]
fn cluster_errors_are_clear_and_quick() {
    let dir = tpch_dir();
    let path = dir.path().display().to_string();
    let port = free_port();
    let url = format!("df://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let o = qjit(&["query", &path, "SELECT * FROM nation", "--cluster", &url]);
    assert_fails(
        &o,
        1,
        &["cannot reach a Ballista scheduler", "qjit scheduler --bind"],
    );
    assert!(started.elapsed().as_secs() < 10);
    let o = qjit(&[
        "executor",
        "--scheduler",
        &format!("127.0.0.1:{port}"),
        "--bind",
        &format!("127.0.0.1:{}", free_port()),
    ]);
    assert_fails(&o, 1, &["executor cannot reach a Ballista scheduler"]);
    let o = qjit(&["query", &path, "SELECT 1", "--cluster", "localhost:50050"]);
    assert_fails(&o, 2, &["df://HOST:PORT"]);
    let o = qjit(&["scheduler", "--bind", "nowhere"]);
    assert_fails(&o, 2, &["--bind 'nowhere' is not an address"]);
    let o = qjit(&[
        "scheduler",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--executor-timeout",
        "2",
    ]);
    assert_fails(
        &o,
        2,
        &["--executor-timeout 2 s is too short", "at least 5"],
    );
}

/// Lines a child process writes on stderr, as they come, and all of them once it has stopped.
#[cfg(all(unix, feature = "ballista"))]
struct Lines {
    lines: std::sync::mpsc::Receiver<String>,
    all: std::thread::JoinHandle<String>,
}

#[cfg(all(unix, feature = "ballista"))]
impl Lines {
    fn of(child: &mut std::process::Child) -> Lines {
        use std::io::BufRead;
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        let all = std::thread::spawn(move || {
            let mut all = String::new();
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = send.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        Lines { lines, all }
    }

    /// Waits (at most `within`) for a line containing `text`.
    fn wait_for(&self, text: &str, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
}

/// An executor killed while a query runs on it, once the query's second stage has started there
/// (so that the first stage's shuffle output it held is lost too): the query still gives the
/// local answer. The scheduler takes the executor for dead after 5 s without a heartbeat and
/// runs the first stage's lost task again on the other executor; Ballista 55's planner then
/// loses track of the job, and qjit's scheduler fails it (`src/ballista/watchdog.rs`) and the
/// client runs the query again.
#[cfg(all(unix, feature = "ballista"))]
#[test]
fn a_query_gives_the_local_answer_when_an_executor_is_killed_under_it() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let o = gen_tpch(&path, "lineitem,supplier,nation");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Stage 1 (two tasks, one on each executor) counts lineitem's rows by order, shuffled by
    // order; stage 2 filters the counts with a kernel of its own (whose compile each executor
    // logs: `KILL_AFTER`), then joins them with suppliers and nations; stage 3 adds up.
    const KILL_AFTER: &str = "compiled qjit(count(Int64(1))@1 * 3";
    let sql = "SELECT count(*) AS n, sum(c.k) AS w FROM \
               (SELECT l_orderkey AS k, count(*) AS m FROM lineitem GROUP BY l_orderkey) c, \
               supplier s, nation x \
               WHERE c.m * 3 + c.k % 7 > 9 AND (c.m * 37 + s.s_suppkey * 11 + x.n_nationkey) % 13 < 4";
    let local = qjit(&["query", &path, sql, "--format", "csv"]);
    assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));

    let scheduler = format!("127.0.0.1:{}", free_port());
    let sched = spawn(&["scheduler", "--bind", &scheduler, "--executor-timeout", "5"]);
    wait_for(&scheduler);
    let executor = |flight: &str| {
        spawn(&[
            "executor",
            "--scheduler",
            &scheduler,
            "--bind",
            flight,
            "--grpc-port",
            &free_port().to_string(),
            "--concurrency",
            "1",
            "--engine",
            "jit",
            "--no-cache",
        ])
    };
    let (flight_a, flight_b) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let mut victim = executor(&flight_a);
    let victim_log = Lines::of(victim.0.as_mut().unwrap());
    let other = executor(&flight_b);
    wait_for(&flight_a);
    wait_for(&flight_b);

    let url = format!("df://{scheduler}");
    let mut query = spawn(&[
        "query",
        &path,
        sql,
        "--format",
        "csv",
        "--engine",
        "jit",
        "--cluster",
        &url,
    ]);
    let query_log = Lines::of(query.0.as_mut().unwrap());
    assert!(
        victim_log.wait_for(KILL_AFTER, Duration::from_secs(120)),
        "the executor never ran the second stage"
    );
    // Stopped at once, so that its second-stage task cannot end before it is killed.
    let mut killed = victim.0.take().unwrap();
    let pid = killed.id().to_string();
    let signal = Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    assert!(signal.success());
    assert!(
        query.0.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the query ended before the executor was killed"
    );
    killed.kill().unwrap();
    killed.wait().unwrap();
    let started = Instant::now();

    // The query ends within the executor timeout, the watchdog's patience and a second run.
    let mut child = query.0.take().unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the query was still running 180 s after its executor was killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let query_err = query_log.all.join().unwrap();
    let (_, _) = stop(other);
    let (sched_out, _) = stop(sched);
    assert!(
        status.success() && out == stdout(&local),
        "status {status}\nstdout: {out}\nstderr: {query_err}\nscheduler: {}",
        stderr(&sched_out)
    );
    eprintln!(
        "after the kill: {:.1} s; the query said: {query_err}",
        started.elapsed().as_secs_f64()
    );
    // Either Ballista recovered the job, or the client said why it ran the query again.
    assert!(
        query_err.is_empty() || query_err.contains("running the query once more"),
        "{query_err}"
    );
}

#[cfg(feature = "ballista")]
#[test]
fn a_standalone_cluster_gives_the_local_answer() {
    let dir = tpch_dir();
    let path = dir.path().display().to_string();
    let sql = "SELECT s_nationkey, count(*) AS n, max(s_acctbal * 2) AS m FROM supplier \
               JOIN nation ON s_nationkey = n_nationkey WHERE s_acctbal > 0 \
               GROUP BY s_nationkey ORDER BY s_nationkey";
    let local = qjit(&["query", &path, sql, "--format", "csv"]);
    let o = qjit(&[
        "query",
        &path,
        sql,
        "--format",
        "csv",
        "--cluster",
        "standalone",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&local));
}

#[test]
fn bench_without_its_queries_says_where_they_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("queries");
    let o = qjit(&[
        "bench",
        "--sf",
        "0.01",
        "--queries",
        missing.to_str().unwrap(),
    ]);
    assert_fails(
        &o,
        2,
        &["cannot read the query folder", "queries", "--queries DIR"],
    );
}

#[test]
fn schema_and_describe_show_every_column() {
    // One file: each column's SQL and Arrow types, nullability and the file's counts.
    let o = qjit(&["schema", &lineitem(), "--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "table,column,sql_type,arrow_type,nullable,rows,row_groups,files"
    );
    assert_eq!(lines.len(), 17, "{out}");
    assert!(
        lines.contains(
            &"lineitem,l_quantity,\"DECIMAL(15,2)\",\"Decimal64(15, 2)\",false,60175,1,1"
        ),
        "{out}"
    );
    assert!(
        lines.contains(&"lineitem,l_shipdate,DATE,Date32,false,60175,1,1"),
        "{out}"
    );
    // DESCRIBE is the same rows for one table, in every format.
    let o = qjit(&["query", &lineitem(), "DESCRIBE lineitem", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), out);
    let o = qjit(&["query", &lineitem(), "DESC lineitem", "--format", "json"]);
    assert!(stdout(&o)
        .starts_with("{\"table\":\"lineitem\",\"column\":\"l_orderkey\",\"sql_type\":\"BIGINT\""));
    // Bad input: one error, nothing on stdout.
    let o = qjit(&["query", &lineitem(), "DESCRIBE orders"]);
    assert_fails(&o, 1, &["unknown table 'orders'", "'lineitem'"]);
    let o = qjit(&["schema", "no/such/file.parquet"]);
    assert_fails(&o, 1, &["no/such/file.parquet", "no such file"]);
}

/// A folder: a table per file and a hive-partitioned table of two files, whose partition
/// column DataFusion's listing adds; a column type qjit's engine does not take has no SQL type.
#[cfg(feature = "datafusion")]
#[test]
fn schema_of_a_folder_of_tables() {
    use arrow::array::{ArrayRef, BinaryArray, Int32Array, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int32, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
        Field::new("bin", DataType::Binary, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![Some(1), None, Some(3)])),
        Arc::new(TimestampMicrosecondArray::from(vec![0, 1, 2])),
        Arc::new(BinaryArray::from(vec![&b"a"[..], b"b", b"c"])),
    ];
    let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), columns).unwrap();
    let write = |path: std::path::PathBuf| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(path).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    write(dir.path().join("a.parquet"));
    write(dir.path().join("b/k=1/part.parquet"));
    write(dir.path().join("b/k=2/part.parquet"));
    let o = qjit(&["schema", dir.path().to_str().unwrap(), "--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "a,x,INTEGER,Int32,true,3,1,1",
            "a,ts,TIMESTAMP,Timestamp(µs),false,3,1,1",
            "a,bin,,Binary,false,3,1,1",
            "b,x,INTEGER,Int32,true,6,2,2",
            "b,ts,TIMESTAMP,Timestamp(µs),false,6,2,2",
            "b,bin,,BinaryView,false,6,2,2",
            "b,k,VARCHAR,\"Dictionary(UInt16, Utf8)\",false,6,2,2",
        ],
        "{out}"
    );
    let o = qjit(&[
        "query",
        dir.path().to_str().unwrap(),
        "DESCRIBE b",
        "--format",
        "csv",
    ]);
    assert_eq!(stdout(&o).lines().count(), 5, "{}", stderr(&o));
}

/// Only with the JIT: without it there are no kernels and no IR to leave out.
#[cfg(feature = "jit")]
#[test]
fn explain_plan_leaves_the_ir_out() {
    let sql = "SELECT count(*) FROM lineitem WHERE l_quantity > 3";
    let full = qjit(&["query", &lineitem(), sql, "--explain", "--engine", "jit"]);
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let plan = qjit(&[
        "query",
        &lineitem(),
        sql,
        "--explain=plan",
        "--engine",
        "jit",
    ]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let (full, plan) = (stdout(&full), stdout(&plan));
    assert!(
        full.contains("LLVM IR") && full.contains("define "),
        "{full}"
    );
    assert!(
        !plan.contains("LLVM IR") && !plan.contains("define "),
        "{plan}"
    );
    // The plan and how it runs are the same in both.
    assert!(plan.contains("Filter (l_quantity@0 > 3.00"), "{plan}");
    assert!(plan.contains("WHERE: compiled"), "{plan}");
    assert!(full.starts_with(plan.trim_end()), "{full}\n---\n{plan}");
    let o = qjit(&["query", &lineitem(), sql, "--explain=ir"]);
    assert_fails(&o, 2, &["full", "plan"]);
}

/// An INTERVAL result cannot be a Parquet column (arrow's writer has no month-day-nanosecond
/// interval): one clear error before anything is written, and no file.
#[test]
fn an_interval_column_is_not_written_to_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT CAST(l_shipdate AS TIMESTAMP) - CAST(l_commitdate AS TIMESTAMP) AS late \
         FROM lineitem LIMIT 3",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the INTERVAL column 'late' cannot be written to Parquet"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let o = qjit(&[
        "query",
        &lineitem(),
        "SELECT CAST(l_shipdate AS TIMESTAMP) - CAST(l_commitdate AS TIMESTAMP) AS late \
         FROM lineitem ORDER BY late DESC LIMIT 2",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "late\n91 days\n91 days\n");
}

/// The session time zone (`--timezone`, else `TZ`): zoned timestamps print in it, their fields,
/// dates and truncation are its local time's, text without an offset is local time there, and
/// daylight-saving gaps and overlaps resolve as PostgreSQL resolves them (a time in the gap
/// takes the offset before it, an ambiguous one the offset after). Zone rules run in the
/// interpreter, and `--explain` says so.
#[test]
fn the_session_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("events.csv");
    std::fs::write(
        &csv,
        "id,at\n1,2024-03-31 00:30:00\n2,2024-07-01 12:00:00\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let sql = "SELECT id, CAST(at AS TIMESTAMPTZ) AS utc_at, EXTRACT(HOUR FROM CAST(at AS TIMESTAMPTZ) + INTERVAL '0' DAY) AS h, \
               DATE_TRUNC('day', TIMESTAMPTZ '2024-03-31 12:00:00') AS d, \
               TIMESTAMPTZ '2024-03-31 02:30:00' AS gap, TIMESTAMPTZ '2024-10-27 02:30:00' AS overlap, \
               TIMESTAMPTZ '2024-10-27 02:30:00+02' AS explicit, CAST(TIMESTAMPTZ '2024-01-01 00:30:00+00' AS DATE) AS day \
               FROM events ORDER BY id";
    let berlin = "id,utc_at,h,d,gap,overlap,explicit,day\n\
                  1,2024-03-31 00:30:00+01,0,2024-03-31 00:00:00+01,2024-03-31 03:30:00+02,2024-10-27 02:30:00+01,2024-10-27 02:30:00+02,2024-01-01\n\
                  2,2024-07-01 12:00:00+02,12,2024-03-31 00:00:00+01,2024-03-31 03:30:00+02,2024-10-27 02:30:00+01,2024-10-27 02:30:00+02,2024-01-01\n";
    for engine in ["interp", "auto"] {
        let o = qjit(&[
            "query",
            csv,
            sql,
            "--timezone",
            "Europe/Berlin",
            "--engine",
            engine,
            "--format",
            "csv",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), berlin, "{engine}");
    }
    // The same from TZ; UTC by default.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qjit"))
        .args([
            "query",
            csv,
            "SELECT CAST(at AS TIMESTAMPTZ) AS t FROM events WHERE id = 2",
            "--format",
            "csv",
        ])
        .env("TZ", "America/New_York")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "t\n2024-07-01 12:00:00-04\n", "{}", stderr(&o));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qjit"))
        .args([
            "query",
            csv,
            "SELECT CAST(at AS TIMESTAMPTZ) AS t FROM events WHERE id = 2",
            "--format",
            "csv",
        ])
        .env_remove("TZ")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "t\n2024-07-01 12:00:00+00\n", "{}", stderr(&o));
    // Zone rules run in the interpreter, with the reason (a build without the JIT says so).
    let o = qjit(&[
        "query",
        csv,
        sql,
        "--timezone",
        "Europe/Berlin",
        "--explain",
    ]);
    let why = if cfg!(feature = "jit") {
        "depends on the session time zone (Europe/Berlin)"
    } else {
        "built without the JIT"
    };
    assert!(stdout(&o).contains(why), "{}", stdout(&o));
    // Unknown zones are usage errors.
    let o = qjit(&[
        "query",
        csv,
        "SELECT 1 FROM events",
        "--timezone",
        "Mars/Base",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown time zone 'Mars/Base'"),
        "{}",
        stderr(&o)
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_qjit"))
        .args(["query", csv, "SELECT 1 FROM events"])
        .env("TZ", "Nowhere/Land")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("TZ environment variable"),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());
}
