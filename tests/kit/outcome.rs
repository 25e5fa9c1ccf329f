//! The engines' outcomes compared: a table and a query's SQL in, an [`Agreement`] or the
//! description of a disagreement out.
//!
//! An [`Outcome`] is what a user sees of a query: the result's types and every value as text
//! (floats with their bits, so that `-0.0` and the sign of NaN count; NULL as `NULL`), in row
//! order, or the error's message. [`check`] runs the query on the interpreter and on
//! `EngineKind::Auto` (the JIT, with the interpreter for what does not compile) and requires
//! the same outcome; a JIT that failed to compile what it claims to support, and an internal
//! error, are failures too.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use qjit::exec::{EngineKind, PartEngine, QueryOptions, QueryResult, Source};

/// A query's outcome: the output types and every value as text, or the error message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Rows {
        types: Vec<DataType>,
        rows: Vec<Vec<String>>,
    },
    Error(String),
}

impl Outcome {
    /// The outcome of a query's result: its rows, or its error.
    pub fn of(result: &qjit::Result<QueryResult>) -> Outcome {
        match result {
            Ok(result) => render(result),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }

    /// The rows (panics on an error).
    pub fn rows(&self) -> &[Vec<String>] {
        match self {
            Outcome::Rows { rows, .. } => rows,
            Outcome::Error(e) => panic!("an error: {e}"),
        }
    }

    /// The error message (panics on rows).
    pub fn error(&self) -> &str {
        match self {
            Outcome::Error(e) => e,
            Outcome::Rows { rows, .. } => panic!("rows instead of an error: {rows:?}"),
        }
    }
}

/// A result's rows as text: a float as its `Debug` text and its bits (`1.5#3ff8000000000000`),
/// anything else as arrow displays it in quotes (`'12'`), NULL as `NULL`. A batch column of
/// another type than the result's schema says is a bug and panics.
pub fn render(result: &QueryResult) -> Outcome {
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
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("a printable result"))
            .collect();
        for r in 0..batch.num_rows() {
            let row = batch
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
                .collect();
            rows.push(row);
        }
    }
    Outcome::Rows { types, rows }
}

/// What one engine made of a query.
#[derive(Debug)]
pub struct Run {
    pub outcome: Outcome,
    /// The aggregation ran in a kernel (or would have, where the query failed).
    pub aggregate_compiled: bool,
    /// How each part ran ([`qjit::exec::Compiled::summary`]), where the query ran.
    pub summary: Option<String>,
}

/// Runs `sql` over `source` with `options`.
pub fn run(source: &Source, sql: &str, options: &QueryOptions) -> Run {
    let result = qjit::exec::run(source, sql, options);
    let (aggregate_compiled, summary) = match &result {
        Ok(r) => (
            r.compiled.aggregate == PartEngine::Compiled,
            Some(r.compiled.summary()),
        ),
        // Whether it would have compiled: the error may come from running it.
        Err(_) => {
            let compiled = qjit::exec::plan(source, sql)
                .and_then(|plan| qjit::exec::compile(&plan, options))
                .is_ok_and(|c| c.aggregate == PartEngine::Compiled);
            (compiled, None)
        }
    };
    Run {
        outcome: Outcome::of(&result),
        aggregate_compiled,
        summary,
    }
}

/// Both engines' common outcome.
#[derive(Debug)]
pub struct Agreement {
    pub outcome: Outcome,
    /// The JIT side's aggregation ran in a kernel.
    pub aggregate_compiled: bool,
}

/// Runs `sql` over `source` on the interpreter and on `EngineKind::Auto`, both with `options`
/// otherwise, and requires the same outcome, no internal error, and no JIT that failed to
/// compile. The error says what differed, with the SQL.
pub fn check(source: &Source, sql: &str, options: &QueryOptions) -> Result<Agreement, String> {
    let on = |engine| QueryOptions {
        engine,
        ..options.clone()
    };
    let interp = run(source, sql, &on(EngineKind::Interp));
    let auto = run(source, sql, &on(EngineKind::Auto));
    if let Some(summary) = &auto.summary {
        if summary.contains("JIT failed") {
            return Err(format!("the JIT failed on\n  {sql}\n{summary}"));
        }
    }
    if interp.outcome != auto.outcome {
        return Err(format!(
            "engines disagree on\n  {sql}\ninterpreter: {:?}\nauto ({}): {:?}",
            interp.outcome,
            auto.summary.as_deref().unwrap_or("failed"),
            auto.outcome
        ));
    }
    if let Outcome::Error(e) = &auto.outcome {
        if e.contains("internal error") {
            return Err(format!("an internal error on\n  {sql}\n{e}"));
        }
    }
    Ok(Agreement {
        outcome: auto.outcome,
        aggregate_compiled: auto.aggregate_compiled,
    })
}
