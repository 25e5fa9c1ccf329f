//! TEMPORARY helper (not to be committed): runs every record of the given .slt files and prints
//! every failure instead of stopping at the first.
mod common;
use qjit::exec::{EngineKind, Source};
use sqllogictest::{DBOutput, DefaultColumnType};
struct Qjit {
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
        let result = common::run_sql(&self.tables, sql, EngineKind::Interp).map_err(QueryError)?;
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
}
#[test]
fn each() {
    let files: Vec<String> = std::env::var("SLT_FILES")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut nfail = 0;
    for f in &files {
        let records = sqllogictest::parse_file::<DefaultColumnType>(f).expect("parse");
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(Qjit {
                tables: common::tables(),
            })
        });
        runner.with_column_validator(sqllogictest::strict_column_validator);
        for r in records {
            let res =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.run(r.clone())));
            match res {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    nfail += 1;
                    println!("---- {}\n", e.display(false));
                }
                Err(_) => {
                    nfail += 1;
                    println!("---- PANIC in record {r}\n");
                }
            }
        }
    }
    println!("{nfail} failures");
}
