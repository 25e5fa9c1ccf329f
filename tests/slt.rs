//! The SQL corpus: every `tests/sql/*.slt` file runs on every engine, and each engine must give
//! the expected rows (and errors) the file states.
//!
//! Engine-specific expectations are not allowed: the interpreter and the JIT must agree, so a
//! record runs unchanged on both. Run one file with `cargo test --test slt -- <name-fragment>`.

mod common;

use std::path::PathBuf;

use qjit::exec::{EngineKind, Source};
use sqllogictest::{DBOutput, DefaultColumnType};

/// One engine behind the sqllogictest `DB` interface.
struct Qjit {
    engine: EngineKind,
    tables: Vec<Source>,
}

#[derive(Debug)]
struct QueryError(qjit::Error);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for QueryError {}

impl sqllogictest::DB for Qjit {
    type Error = QueryError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, QueryError> {
        let result = common::run_sql(&self.tables, sql, self.engine).map_err(QueryError)?;
        let types = result
            .schema
            .fields()
            .iter()
            .map(|f| match common::column_type(f.data_type()) {
                'I' => DefaultColumnType::Integer,
                'R' => DefaultColumnType::FloatingPoint,
                _ => DefaultColumnType::Text,
            })
            .collect();
        Ok(DBOutput::Rows {
            types,
            rows: common::render_rows(&result),
        })
    }

    fn engine_name(&self) -> &str {
        match self.engine {
            EngineKind::Interp => "interp",
            EngineKind::Jit => "jit",
            EngineKind::Auto => "auto",
        }
    }
}

/// The engines every file runs on. `Auto` compiles every `WHERE` the JIT supports and
/// interprets the rest (`Jit` would fail on the others).
const ENGINES: &[EngineKind] = &[EngineKind::Interp, EngineKind::Auto];

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/sql exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| {
            filter.is_empty()
                || filter
                    .iter()
                    .any(|f| p.to_string_lossy().contains(f.as_str()))
        })
        .collect();
    files.sort();
    let (mut passed, mut failed) = (0usize, 0usize);
    for file in &files {
        for &engine in ENGINES {
            let mut runner = sqllogictest::Runner::new(move || async move {
                Ok(Qjit {
                    engine,
                    tables: common::tables(),
                })
            });
            runner.with_column_validator(sqllogictest::strict_column_validator);
            runner.add_label(match engine {
                EngineKind::Interp => "interp",
                EngineKind::Jit => "jit",
                EngineKind::Auto => "auto",
            });
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match runner.run_file(file) {
                Ok(()) => {
                    passed += 1;
                    println!("ok     {name} [{engine:?}]");
                }
                Err(e) => {
                    failed += 1;
                    println!("FAILED {name} [{engine:?}]\n{}", e.display(true));
                }
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 || files.is_empty() {
        std::process::exit(1);
    }
}
