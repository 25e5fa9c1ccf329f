//! DuckDB as a peer engine of `qjit bench`: `scripts/duckdb_bench.py`, run by Python.
//!
//! ```text
//! lineitem.parquet, or a folder of TABLE.parquet, + queries ─python3 -c <script>─▶ in-memory tables
//!   ─per query: warm-up, K timed `execute(sql).fetchall()`─▶ JSON lines ─▶ DuckDbRun
//! ```
//!
//! The script is compiled into the binary, so `qjit bench` works from any directory; it runs
//! under `python3`, or the interpreter that [`PYTHON_ENV`] names. A timed DuckDB run includes its
//! parse, bind and optimize of the SQL text (tenths of a millisecond) and the conversion of the
//! small answer to Python objects; qjit's timed runs exclude parse and bind (see the parent
//! module). Loading the table is timed by neither.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::error::{Error, Result};

/// The script, as shipped in `scripts/duckdb_bench.py`.
pub const SCRIPT: &str = include_str!("../../scripts/duckdb_bench.py");

/// The environment variable naming the Python interpreter (default `python3`).
pub const PYTHON_ENV: &str = "QJIT_PYTHON";

/// The script's exit status when Python has no `duckdb` module.
const MISSING_MODULE: i32 = 3;

/// What DuckDB answered and how long it took, per query.
#[derive(Clone, Debug)]
pub struct DuckDbRun {
    /// DuckDB's version.
    pub version: String,
    /// Rows of the loaded tables.
    pub rows: usize,
    /// Per query file stem.
    pub queries: HashMap<String, DuckDbQuery>,
}

/// One query in DuckDB.
#[derive(Clone, Debug)]
pub struct DuckDbQuery {
    /// The timed runs, in milliseconds.
    pub exec_ms: Vec<f64>,
    /// The answer as CSV (header row; NULL is an empty field).
    pub csv: String,
    /// Which columns DuckDB computed in floating point.
    pub float_columns: Vec<bool>,
}

/// The Python interpreter to run the script with.
fn python() -> OsString {
    std::env::var_os(PYTHON_ENV).unwrap_or_else(|| "python3".into())
}

/// The error for a Python without DuckDB, or no Python at all.
fn unavailable(why: String) -> Error {
    Error::Usage(format!(
        "the duckdb engine needs Python 3 with the duckdb module, but {why}; install it with \
         `pip install duckdb` (or set {PYTHON_ENV} to a Python that has it)"
    ))
}

/// Runs the script with `args`; the errors for a missing Python or module are [`unavailable`].
fn run_script(args: &[OsString]) -> Result<Output> {
    let python = python();
    let shown = python.to_string_lossy().into_owned();
    let output = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .args(args)
        .output()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => unavailable(format!("`{shown}` was not found")),
            _ => unavailable(format!("`{shown}` cannot be started: {e}")),
        })?;
    if output.status.code() == Some(MISSING_MODULE) {
        return Err(unavailable(format!(
            "`{shown}` cannot import duckdb ({})",
            said(&output).trim_start_matches(": ")
        )));
    }
    Ok(output)
}

/// What a failed process said on stderr, as `: <message>`, or nothing.
fn said(output: &Output) -> String {
    let message = String::from_utf8_lossy(&output.stderr);
    match message.trim() {
        "" => String::new(),
        m => format!(": {m}"),
    }
}

/// DuckDB's version: checks that the engine is available, before any data is generated.
pub fn version() -> Result<String> {
    let output = run_script(&["--version".into()])?;
    if !output.status.success() {
        return Err(unavailable(format!(
            "`{}` failed to report DuckDB's version ({}){}",
            python().to_string_lossy(),
            output.status,
            said(&output)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Loads `data` into DuckDB (a Parquet file as the table `lineitem`, or a folder's
/// `TABLE.parquet` files as tables named after them) and runs each of `queries` once to warm
/// up, then `iterations` times.
pub fn run(
    data: &Path,
    threads: usize,
    iterations: usize,
    queries: &[PathBuf],
) -> Result<DuckDbRun> {
    let file = data;
    let mut args: Vec<OsString> = vec![
        if data.is_dir() { "--dir" } else { "--file" }.into(),
        data.into(),
        "--threads".into(),
        threads.to_string().into(),
        "--iterations".into(),
        iterations.to_string().into(),
    ];
    args.extend(queries.iter().map(OsString::from));
    let output = run_script(&args)?;
    if !output.status.success() {
        return Err(Error::File {
            path: file.display().to_string(),
            reason: format!(
                "DuckDB could not run the benchmark ({}){}",
                output.status,
                said(&output)
            ),
        });
    }
    parse(&String::from_utf8_lossy(&output.stdout), queries)
}

/// Reads the script's JSON lines: a header, then one line per query. Other lines (anything
/// DuckDB itself might print) are skipped.
fn parse(stdout: &str, queries: &[PathBuf]) -> Result<DuckDbRun> {
    let bad = |what: &str| Error::internal(format!("the DuckDB script printed {what}"));
    let mut lines = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(serde_json::from_str::<Value>);
    let header = lines
        .next()
        .ok_or_else(|| bad("nothing"))?
        .map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    let mut run = DuckDbRun {
        version: header["duckdb"].as_str().unwrap_or("?").to_string(),
        rows: header["rows"].as_u64().ok_or_else(|| bad("no row count"))? as usize,
        queries: HashMap::new(),
    };
    for line in lines {
        let line = line.map_err(|e| bad(&format!("invalid JSON: {e}")))?;
        let name = line["query"]
            .as_str()
            .ok_or_else(|| bad("a line without a query"))?;
        if let Some(message) = line["error"].as_str() {
            let path = queries
                .iter()
                .find(|p| p.file_stem().is_some_and(|s| s == name))
                .map_or(name.to_string(), |p| p.display().to_string());
            return Err(Error::File {
                path,
                reason: format!("DuckDB cannot run it: {message}"),
            });
        }
        let exec_ms: Option<Vec<f64>> = line["exec_ms"]
            .as_array()
            .map(|a| a.iter().map(Value::as_f64).collect())
            .unwrap_or_default();
        let float_columns: Option<Vec<bool>> = line["float_columns"]
            .as_array()
            .map(|a| a.iter().map(Value::as_bool).collect())
            .unwrap_or_default();
        let query = DuckDbQuery {
            exec_ms: exec_ms
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad("no times"))?,
            csv: line["csv"]
                .as_str()
                .ok_or_else(|| bad("no answer"))?
                .to_string(),
            float_columns: float_columns.ok_or_else(|| bad("no column types"))?,
        };
        run.queries.insert(name.to_string(), query);
    }
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_script_output() {
        let out = concat!(
            "{\"duckdb\": \"2.0.0\", \"rows\": 60175, \"load_ms\": 40.1}\n",
            "\r 50% ▕██████████████████████████████                              ▏\n",
            "{\"query\": \"q06\", \"first_ms\": 2.0, \"exec_ms\": [1.5, 1.25], ",
            "\"csv\": \"revenue\\n1193053.2253\\n\", \"float_columns\": [false]}\n"
        );
        let run = parse(out, &[]).unwrap();
        assert_eq!((run.version.as_str(), run.rows), ("2.0.0", 60175));
        let q = &run.queries["q06"];
        assert_eq!(q.exec_ms, vec![1.5, 1.25]);
        assert_eq!(q.csv, "revenue\n1193053.2253\n");
        assert_eq!(q.float_columns, vec![false]);
    }

    #[test]
    fn a_query_duckdb_rejects_names_the_file() {
        let out = concat!(
            "{\"duckdb\": \"2.0.0\", \"rows\": 1, \"load_ms\": 1}\n",
            "{\"query\": \"bad\", \"error\": \"Parser Error: syntax error\"}\n"
        );
        let e = parse(out, &[PathBuf::from("queries/bad.sql")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "queries/bad.sql: DuckDB cannot run it: Parser Error: syntax error"
        );
    }
}
