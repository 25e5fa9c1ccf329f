//! The error corpus: bad SQL, bad data and bad files, each run through the `qjit` binary on every
//! engine. Every case must exit with the given code, print nothing on stdout, print exactly one
//! line on stderr holding the case's key words, never panic, and give the same message on every
//! engine. (The `.slt` corpus checks the full text of many of these messages in-process;
//! `tests/cli.rs` checks missing, empty, truncated and non-Parquet files.)

mod common;

use std::process::Output;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, Int32Array, ListArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};

/// The engines every case runs on.
fn engines() -> Vec<&'static str> {
    let mut e = vec!["interp", "auto"];
    if cfg!(feature = "jit") {
        e.push("jit");
    }
    e
}

fn qjit(args: &[&str]) -> Output {
    common::qjit_command()
        .args(args)
        .output()
        .expect("run qjit")
}

/// Runs `sql` over `file` on every engine and checks the failure; returns the message.
fn fails_everywhere(file: &str, sql: &str, code: i32, words: &[&str]) -> String {
    let mut first: Option<String> = None;
    for engine in engines() {
        let o = qjit(&["query", file, sql, "--engine", engine]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        let what = format!("{engine}: {}", short(sql));
        assert_eq!(o.status.code(), Some(code), "{what}: stderr: {err}");
        assert!(
            o.stdout.is_empty(),
            "{what}: stdout should be empty, got {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: one line expected: {err}");
        assert!(err.starts_with("error: "), "{what}: {err}");
        // Expressions appear as the user wrote them, not with the plan's column indexes.
        assert!(
            !err.as_bytes()
                .windows(2)
                .any(|w| w[0] == b'@' && w[1].is_ascii_digit()),
            "{what}: {err}"
        );
        for w in words {
            assert!(
                err.to_lowercase().contains(&w.to_lowercase()),
                "{what}: stderr lacks {w:?}: {err}"
            );
        }
        match &first {
            None => first = Some(err),
            Some(f) => assert_eq!(f, &err, "{what}: the engines' messages differ"),
        }
    }
    first.unwrap_or_default()
}

/// Runs `sql` over `file` on every engine and returns the (identical) output.
fn succeeds_everywhere(file: &str, sql: &str) -> String {
    let mut first: Option<String> = None;
    for engine in engines() {
        let o = qjit(&["query", file, sql, "--engine", engine, "--format", "csv"]);
        let what = format!("{engine}: {}", short(sql));
        assert_eq!(
            o.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        match &first {
            None => first = Some(out),
            Some(f) => assert_eq!(f, &out, "{what}: the engines' answers differ"),
        }
    }
    first.unwrap_or_default()
}

fn short(sql: &str) -> String {
    if sql.len() > 120 {
        format!("{}… ({} bytes)", &sql[..100], sql.len())
    } else {
        sql.to_string()
    }
}

fn lineitem() -> String {
    common::lineitem_path().display().to_string()
}

#[test]
fn syntax_errors_say_where() {
    let cases: &[(&str, &[&str])] = &[
        (
            "SELEC 1 FROM lineitem",
            &["syntax error", "line 1, column 1"],
        ),
        (
            "SELECT l_quantity FROM lineitem WHERE",
            &["syntax error", "line 1, column 38", "EOF"],
        ),
        (
            "SELECT 'abc FROM lineitem",
            &["syntax error", "unterminated string"],
        ),
        (
            "SELECT CAST(l_quantity AS) FROM lineitem",
            &["syntax error", "data type"],
        ),
        (
            "SELECT l_quantity\nFROM lineitem\nWHERE l_quantity > > 3",
            &["syntax error", "line 3"],
        ),
        ("SELECT (1 FROM lineitem", &["syntax error"]),
    ];
    for (sql, words) in cases {
        fails_everywhere(&lineitem(), sql, 1, words);
    }
}

#[test]
fn unknown_names_suggest_the_right_one() {
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT l_shipdat FROM lineitem",
            &["unknown column 'l_shipdat'", "did you mean 'l_shipdate'"],
        ),
        (
            "SELECT count(*) FROM lineitem WHERE nosuch = 1",
            &["unknown column 'nosuch'", "line 1, column 37"],
        ),
        (
            "SELECT * FROM orders",
            &["unknown table 'orders'", "registered as table 'lineitem'"],
        ),
        (
            "SELECT lenght(l_comment) FROM lineitem",
            &["unknown function 'lenght'", "did you mean 'length'"],
        ),
        (
            "SELECT frobnicate(1) FROM lineitem",
            &[
                "unknown function 'frobnicate'",
                "\"Supported SQL\" in its README",
            ],
        ),
        // A file path in FROM: named as written.
        (
            "SELECT count(*) FROM 'data/lineitem.parquet'",
            &[
                "unknown table 'data/lineitem.parquet'",
                "registered as table 'lineitem'",
            ],
        ),
        // A string in double quotes is an identifier: say how strings are written.
        (
            "SELECT count(*) FROM lineitem WHERE l_returnflag = \"A\"",
            &["unknown column 'A'", "a string takes single quotes: 'A'"],
        ),
    ];
    for (sql, words) in cases {
        fails_everywhere(&lineitem(), sql, 1, words);
    }
}

#[test]
fn type_errors_name_the_operator_and_types() {
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT l_quantity + l_comment FROM lineitem",
            &["type error", "+", "DECIMAL(15,2)", "VARCHAR"],
        ),
        (
            "SELECT count(*) FROM lineitem WHERE l_shipdate = 5",
            &["type error", "DATE", "INTEGER"],
        ),
        ("SELECT -l_comment FROM lineitem", &["unary -", "VARCHAR"]),
        ("SELECT sum(l_shipdate) FROM lineitem", &["sum()", "DATE"]),
        (
            "SELECT l_comment LIKE 5 FROM lineitem",
            &["LIKE", "INTEGER"],
        ),
        // A non-boolean WHERE
        (
            "SELECT count(*) FROM lineitem WHERE l_quantity",
            &["WHERE clause must be a BOOLEAN condition", "DECIMAL(15,2)"],
        ),
        (
            "SELECT count(*) FROM lineitem WHERE l_comment",
            &["WHERE clause must be a BOOLEAN condition", "VARCHAR"],
        ),
        // Aggregates where they are not allowed
        (
            "SELECT count(*) FROM lineitem WHERE sum(l_quantity) > 1",
            &["aggregate functions are not allowed in WHERE"],
        ),
        ("SELECT sum(count(*)) FROM lineitem", &["cannot be nested"]),
        // Columns that are neither grouped nor aggregated
        (
            "SELECT l_orderkey, sum(l_quantity) FROM lineitem GROUP BY l_returnflag",
            &["l_orderkey", "must appear in the GROUP BY clause"],
        ),
        (
            "SELECT l_orderkey, count(*) FROM lineitem",
            &["l_orderkey", "must appear in the GROUP BY clause"],
        ),
    ];
    for (sql, words) in cases {
        fails_everywhere(&lineitem(), sql, 1, words);
    }
}

#[test]
fn unsupported_sql_is_named() {
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT * FROM lineitem a JOIN lineitem b ON a.l_orderkey = b.l_orderkey",
            &["unsupported SQL", "join"],
        ),
        (
            "SELECT * FROM lineitem, lineitem",
            &["unsupported SQL", "join"],
        ),
        (
            "SELECT count(*) FROM lineitem WHERE l_orderkey IN (SELECT l_orderkey FROM lineitem)",
            &["unsupported SQL", "subqueries"],
        ),
        (
            "SELECT (SELECT max(l_orderkey) FROM lineitem) FROM lineitem",
            &["unsupported SQL", "subqueries"],
        ),
        (
            "SELECT count(*) FROM lineitem WHERE EXISTS (SELECT 1 FROM lineitem)",
            &["unsupported SQL", "subqueries"],
        ),
        (
            "SELECT count(*) FROM (SELECT * FROM lineitem)",
            &["unsupported SQL", "subqueries in FROM"],
        ),
        (
            "SELECT l_orderkey, row_number() OVER (ORDER BY l_orderkey) FROM lineitem",
            &["unsupported SQL", "window functions"],
        ),
        (
            "SELECT sum(l_quantity) OVER (PARTITION BY l_returnflag) FROM lineitem",
            &["unsupported SQL", "window functions"],
        ),
        (
            "WITH x AS (SELECT * FROM lineitem) SELECT count(*) FROM x",
            &["unsupported SQL", "WITH"],
        ),
        (
            "SELECT l_orderkey FROM lineitem UNION SELECT l_orderkey FROM lineitem",
            &["unsupported SQL", "UNION"],
        ),
        (
            "SELECT l_orderkey FROM lineitem INTERSECT SELECT l_orderkey FROM lineitem",
            &["unsupported SQL", "INTERSECT"],
        ),
        (
            "SELECT 1 FROM lineitem; SELECT 2 FROM lineitem",
            &["more than one statement"],
        ),
        ("CREATE TABLE x (a INT)", &["unsupported SQL", "CREATE"]),
        ("DROP TABLE lineitem", &["unsupported SQL", "DROP"]),
        (
            "INSERT INTO lineitem VALUES (1)",
            &["unsupported SQL", "INSERT"],
        ),
        (
            "UPDATE lineitem SET l_quantity = 0",
            &["unsupported SQL", "UPDATE"],
        ),
        ("DELETE FROM lineitem", &["unsupported SQL", "DELETE"]),
        ("SELECT * FROM lineitem FOR UPDATE", &["unsupported SQL"]),
    ];
    for (sql, words) in cases {
        // Queries qjit's own engine does not take run in DataFusion when it is built in;
        // statements that are not queries are refused either way.
        let query = !words.iter().any(|w| {
            [
                "CREATE",
                "DROP",
                "INSERT",
                "UPDATE",
                "DELETE",
                "more than one statement",
            ]
            .contains(w)
        }) && !sql.contains("FOR UPDATE");
        if cfg!(feature = "datafusion") && *sql == "SELECT * FROM lineitem, lineitem" {
            // Two tables of one name: DataFusion refuses it, as PostgreSQL does.
            fails_everywhere(&lineitem(), sql, 1, &["duplicate qualified field name"]);
        } else if cfg!(feature = "datafusion") && query {
            succeeds_everywhere(&lineitem(), &format!("SELECT count(*) FROM ({sql}) AS q"));
        } else if !(cfg!(feature = "datafusion") && sql.contains("FOR UPDATE")) {
            fails_everywhere(&lineitem(), sql, 1, words);
        }
    }
}

#[test]
fn empty_sql_is_an_error() {
    for sql in ["", "   \n\t", ";", " -- only a comment", "/* nothing */"] {
        fails_everywhere(&lineitem(), sql, 1, &["the query is empty"]);
    }
}

#[test]
fn errors_in_the_data_are_the_same_on_every_engine() {
    let cases: &[(&str, &[&str])] = &[
        // Division by zero: a constant, and a divisor that is zero only at run time
        ("SELECT l_quantity / 0 FROM lineitem", &["division by zero"]),
        (
            "SELECT l_linenumber / (l_linenumber - l_linenumber) FROM lineitem",
            &["division by zero"],
        ),
        (
            "SELECT count(*) FROM lineitem WHERE l_orderkey % (l_linenumber - 1) = 0",
            &["division by zero"],
        ),
        (
            "SELECT sum(l_extendedprice / (l_quantity - l_quantity)) FROM lineitem",
            &["division by zero"],
        ),
        // Integer overflow, in an expression and inside SUM
        (
            "SELECT 9223372036854775807 + l_linenumber FROM lineitem",
            &["BIGINT out of range", "9223372036854775807 + 1"],
        ),
        (
            "SELECT l_linenumber * 2147483647 FROM lineitem WHERE l_linenumber > 1",
            &["INTEGER out of range"],
        ),
        (
            "SELECT sum(CAST(9000000000000000000 AS BIGINT) + l_linenumber * 0) FROM lineitem",
            &["BIGINT out of range", "sum((9000000000000000000::BIGINT + CAST((l_linenumber * 0::INTEGER) AS BIGINT)))", "DECIMAL(38,0)"],
        ),
        (
            "SELECT l_returnflag, sum(l_orderkey * 3000000000000000) FROM lineitem GROUP BY l_returnflag",
            &["BIGINT out of range"],
        ),
        // Decimal overflow, in an expression and inside SUM
        (
            "SELECT l_extendedprice * 100000000000000000000000000000000000 FROM lineitem",
            &["DECIMAL(38,2) out of range"],
        ),
        (
            "SELECT sum(CAST('99999999999999999999999999999999999.99' AS DECIMAL(37,2)) + l_quantity * 0) FROM lineitem",
            &["DECIMAL(38,2) out of range", "sum", "38 digits"],
        ),
        // Invalid casts
        (
            "SELECT CAST('abc' AS INTEGER) FROM lineitem",
            &["invalid value for type INTEGER: 'abc'"],
        ),
        (
            "SELECT CAST(l_comment AS INTEGER) FROM lineitem",
            &["invalid value for type INTEGER"],
        ),
        (
            "SELECT CAST(l_shipmode AS DATE) FROM lineitem",
            &["invalid value for type DATE"],
        ),
        (
            "SELECT CAST(l_comment AS DECIMAL(10,2)) FROM lineitem",
            &["invalid value for type DECIMAL(10,2)"],
        ),
        (
            "SELECT CAST(l_extendedprice AS DECIMAL(3,1)) FROM lineitem",
            &["DECIMAL(3,1)"],
        ),
        (
            "SELECT CAST(l_orderkey * 1000 AS TINYINT) FROM lineitem",
            &["TINYINT"],
        ),
    ];
    for (sql, words) in cases {
        fails_everywhere(&lineitem(), sql, 1, words);
    }
}

/// Thousands of nested parentheses, operators or calls: a clear error from the front end on every
/// engine (so codegen never sees such a tree), never a stack overflow.
#[test]
fn deep_nesting_is_a_clear_error() {
    let n = 5000;
    let parens = format!("{}l_quantity{}", "(".repeat(n), ")".repeat(n));
    let calls = format!("{}l_quantity{}", "abs(".repeat(n), ")".repeat(n));
    let nots = format!("{}l_quantity > 0", "NOT ".repeat(n));
    let minus = format!("{}l_quantity", "- ".repeat(n));
    let cases = [
        format!("SELECT {parens} FROM lineitem"),
        format!("SELECT count(*) FROM lineitem WHERE {parens} > 1"),
        format!("SELECT {calls} FROM lineitem"),
        format!("SELECT count(*) FROM lineitem WHERE {nots}"),
        format!("SELECT {minus} FROM lineitem"),
    ];
    for sql in &cases {
        fails_everywhere(&lineitem(), sql, 1, &["nests more than", "levels deep"]);
    }
    // A chain of binary operators is one level, up to its own limit.
    let terms = qjit::internals::sql::MAX_CHAIN_LENGTH + 2;
    let chain = vec!["l_quantity"; terms].join(" + ");
    let ors = vec!["l_linenumber = 1"; terms].join(" OR ");
    let cases = [
        format!("SELECT {chain} FROM lineitem"),
        format!("SELECT count(*) FROM lineitem WHERE {ors}"),
        format!("SELECT sum({chain}) FROM lineitem"),
    ];
    let limit = format!(
        "binary operators, more than the {}",
        qjit::internals::sql::MAX_CHAIN_LENGTH
    );
    for sql in &cases {
        fails_everywhere(&lineitem(), sql, 1, &[&limit]);
    }
}

/// Long left-deep chains of binary operators run with the same answer on every engine: a sum of
/// 1,000 terms compiles; chains of 5,000 operators (a sum, mixed `+` and `-`, an `OR` of
/// equalities) run interpreted, and `--engine jit` says why it does not compile them.
#[test]
fn long_operator_chains_run() {
    let sum = vec!["l_linenumber"; 1000].join(" + ");
    let out = succeeds_everywhere(
        &lineitem(),
        &format!("SELECT sum({sum}) FROM lineitem WHERE l_linenumber = 7"),
    );
    // Rows with l_linenumber 7: 2173 of them.
    assert_eq!(out.lines().nth(1), Some("15211000"), "{out}");

    let n = qjit::internals::sql::MAX_CHAIN_LENGTH;
    let sum = vec!["l_linenumber"; n].join(" + ");
    let mixed: String = (0..n)
        .map(|i| match i {
            0 => "l_quantity".to_string(),
            i if i % 2 == 1 => " + l_linenumber".to_string(),
            _ => " - l_linenumber".to_string(),
        })
        .collect();
    // The equalities' `=` are in the OR chain's left spine too: n - 1 of them.
    let ors = vec!["l_linenumber = 7"; n - 1].join(" OR ");
    // Too long for one command-line argument: read from a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chains.sql");
    std::fs::write(
        &file,
        format!("SELECT sum({sum}), sum({mixed}) FROM lineitem WHERE {ors}"),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let mut answers = vec![];
    for engine in ["interp", "auto"] {
        let args = ["--sql-file", &file, "--engine", engine, "--format", "csv"];
        let o = qjit(&[&["query", &lineitem()][..], &args].concat());
        assert!(
            o.status.success(),
            "{engine}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        answers.push(String::from_utf8_lossy(&o.stdout).into_owned());
    }
    assert_eq!(answers[0], answers[1]);
    // The mixed chain adds one more l_linenumber than it subtracts.
    let expected = format!(
        "{},{}",
        15211 * n,
        succeeds_everywhere(
            &lineitem(),
            "SELECT sum(l_quantity + l_linenumber) FROM lineitem WHERE l_linenumber = 7",
        )
        .lines()
        .nth(1)
        .unwrap_or_default()
    );
    assert_eq!(answers[0].lines().nth(1), Some(expected.as_str()));
    if cfg!(feature = "jit") {
        let o = qjit(&["query", &lineitem(), "--sql-file", &file, "--engine", "jit"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(o.stdout.is_empty());
        assert!(
            err.contains("the JIT engine cannot compile")
                && err.contains("nodes (more than 2500) are not compiled"),
            "{err}"
        );
    }
}

/// Nesting just inside the limits compiles and runs on every engine.
#[test]
fn nesting_within_the_limits_runs() {
    let parens = format!("{}l_linenumber{}", "(".repeat(150), ")".repeat(150));
    let chain = vec!["l_linenumber"; 300].join(" + ");
    let out = succeeds_everywhere(
        &lineitem(),
        &format!("SELECT sum({parens}), sum({chain}) FROM lineitem WHERE {parens} > 6"),
    );
    // Rows with l_linenumber 7: 2173 of them.
    assert_eq!(out.lines().nth(1), Some("15211,4563300"), "{out}");
}

/// A 10,000-item IN list works on every engine, with the same answer (its compile time does not
/// grow with the list: the JIT searches a sorted table).
#[test]
fn an_in_list_of_ten_thousand_items_works() {
    let keys: Vec<String> = (0..10_000).map(|i| (i * 3 + 1).to_string()).collect();
    let sql = format!(
        "SELECT count(*), sum(l_quantity) FROM lineitem WHERE l_orderkey IN ({})",
        keys.join(", ")
    );
    let out = succeeds_everywhere(&lineitem(), &sql);
    let expected = succeeds_everywhere(
        &lineitem(),
        "SELECT count(*), sum(l_quantity) FROM lineitem WHERE l_orderkey % 3 = 1 AND l_orderkey < 30000",
    );
    assert_eq!(out, expected);

    let words: Vec<String> = (0..10_000).map(|i| format!("'w{i}'")).collect();
    let sql = format!(
        "SELECT count(*) FROM lineitem WHERE l_shipmode IN ({}, 'MAIL', 'SHIP')",
        words.join(", ")
    );
    let out = succeeds_everywhere(&lineitem(), &sql);
    let expected = succeeds_everywhere(
        &lineitem(),
        "SELECT count(*) FROM lineitem WHERE l_shipmode = 'MAIL' OR l_shipmode = 'SHIP'",
    );
    assert_eq!(out, expected);
}

/// A Parquet file with columns of types qjit does not support: a query that uses one fails with
/// an error naming the column and its type; a query that does not use them runs.
#[test]
fn unsupported_column_types_are_named_when_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("payload", DataType::Binary, true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))),
            true,
        ),
        Field::new("name", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![1, 2, 3])),
        Arc::new(BinaryArray::from_opt_vec(vec![
            Some(b"\x00\x01".as_slice()),
            None,
            Some(b"".as_slice()),
        ])),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(0),
            None,
            Some(1),
        ])),
        Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
        ])),
        Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let p = path.display().to_string();

    assert_eq!(
        succeeds_everywhere(&p, "SELECT id, name FROM odd WHERE id > 1 ORDER BY id"),
        "id,name\n2,\n3,c\n"
    );
    assert_eq!(
        succeeds_everywhere(&p, "SELECT count(*), sum(id) FROM odd"),
        "count(*),sum(id)\n3,6\n"
    );
    // Types qjit's own engine does not compute on pass through it: selected, tested for NULL,
    // counted.
    assert_eq!(
        succeeds_everywhere(&p, "SELECT id FROM odd WHERE at IS NULL ORDER BY id"),
        "id\n2\n"
    );
    assert_eq!(
        succeeds_everywhere(&p, "SELECT count(tags) AS n, count(payload) AS m FROM odd"),
        "n,m\n2,2\n"
    );
    assert_eq!(
        succeeds_everywhere(
            &p,
            "SELECT id, payload, tags FROM odd WHERE tags IS NOT NULL ORDER BY id"
        ),
        "id,payload,tags\n1,\\x0001,\"[1,null]\"\n3,\\x,[]\n"
    );
    if !cfg!(feature = "datafusion") {
        // Anything else on them names the operation and the type (DataFusion, when it is
        // built in, takes such queries over).
        fails_everywhere(
            &p,
            "SELECT id FROM odd ORDER BY tags",
            1,
            &["ORDER BY on tags of type LIST"],
        );
        fails_everywhere(&p, "SELECT payload || 'x' FROM odd", 1, &["BYTEA"]);
    }
}

/// `sum(x) OVER (…)` beside a plain column is a window function, not an aggregation that would
/// need a GROUP BY: DataFusion runs it, or a build without DataFusion says it has no window
/// functions.
#[test]
fn window_aggregates_beside_columns_are_window_functions() {
    let sql = "SELECT l_linenumber, sum(l_quantity) OVER () AS total FROM lineitem \
               WHERE l_orderkey = 1 ORDER BY l_linenumber";
    let o = qjit(&["query", &lineitem(), sql, "--format", "csv"]);
    let err = String::from_utf8_lossy(&o.stderr);
    if cfg!(feature = "datafusion") {
        assert_eq!(o.status.code(), Some(0), "{err}");
        let out = String::from_utf8_lossy(&o.stdout);
        let totals: Vec<&str> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1))
            .collect();
        assert_eq!(totals.len(), 6, "{out}");
        assert!(totals.iter().all(|t| *t == totals[0]), "{out}");
    } else {
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("window functions"), "{err}");
        assert!(!err.contains("GROUP BY"), "{err}");
    }
}
