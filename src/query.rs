//! One query from its input to its result: where it runs, decided and planned once, then
//! explained or run. `qjit query` and [`crate::Engine`]'s queries both go through here.
//!
//! ```text
//! path | Source, SQL ─plan─▶ Planned ─┬─ qjit's own engine: exec::PreparedQuery (the source
//!                                     │    opened, a Parquet file's footer read, the SQL bound)
//!                                     └─ DataFusion, in this process or on a Ballista cluster:
//!                                          datafusion::Query (planned, qjit's kernels inside)
//! Planned ─explain()─▶ the text of --explain
//! Planned ─run_into(sink)─▶ the result in the sink, and how it ran (Ran)
//! ```
//!
//! In: a path as `qjit query` takes it (a Parquet file, a folder of tables, a glob; see
//! [`crate::datafusion::tables`]) or a [`Source`], the SQL, [`QueryOptions`], and where the
//! query may run ([`Placement`]). Out: a [`Planned`] query. Everything that can go wrong
//! before the first row (syntax, names, types, a missing or damaged file, SQL that neither
//! engine takes) is an error of [`plan`]; errors in the data come from [`Planned::run_into`].
//!
//! Where a query over a path runs (with the `datafusion` feature; without it, qjit's engine
//! runs every query):
//! - SQL that does not parse as one query (syntax, several statements, a statement that would
//!   write) is qjit's error wherever it would run. SQL qjit's parser does not take (`WITH`)
//!   goes on.
//! - On a Parquet file, qjit's own engine, unless its binder refuses the query for what qjit
//!   does not do ([`hands_over`]: joins, subqueries, functions and column types it lacks); such
//!   a query goes to DataFusion, before anything is written. The binder's other errors are
//!   qjit's, with their positions.
//! - On a folder or glob, qjit's own engine if the query reads one table of one file and qjit
//!   binds it; else DataFusion.
//! - [`Placement::DataFusion`] (`--datafusion`) runs the query in DataFusion even where qjit's
//!   engine would, and [`Placement::Cluster`] (`--cluster`) on a Ballista cluster.
//! - When DataFusion cannot plan a query qjit's binder handed over either, the error is
//!   qjit's where it says what is wrong with the query ([`planning_error`]).
//!
//! The Parquet file qjit's engine reads is opened and its footer read once per query, in
//! [`plan`]: choosing the table of a folder needs no file (the `FROM` clause names it), and
//! [`Planned::run_into`] scans the file opened then, every worker through that one handle. A
//! query qjit's binder hands over has had its file opened once by qjit, to bind it; DataFusion
//! then reads the files itself.

use std::path::Path;
use std::time::Duration;
#[cfg(feature = "datafusion")]
use std::time::Instant;

use arrow::record_batch::RecordBatch;

#[cfg(feature = "datafusion")]
use crate::error::Error;
use crate::error::Result;
use crate::exec::{Collect, PreparedQuery, QueryOptions, QueryRun, ResultSink, Source};

/// Where a query over a path may run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// qjit's own engine where it takes the query, else DataFusion in this process.
    #[default]
    Auto,
    /// DataFusion in this process, with qjit's kernels inside unless the engine is `interp`,
    /// even where qjit's own engine would run the query (`--datafusion`, to compare).
    #[cfg(feature = "datafusion")]
    DataFusion,
    /// DataFusion on a Ballista cluster: its scheduler's `df://HOST:PORT`, or `standalone` (a
    /// scheduler and two executors inside this process). The files must be readable at the
    /// same path on every executor.
    #[cfg(feature = "ballista")]
    Cluster(String),
}

/// A query planned where it runs, ready to explain or run; see the module docs.
pub struct Planned {
    route: Route,
    options: QueryOptions,
}

/// The engine a [`Planned`] query runs in, with what it planned.
enum Route {
    /// qjit's own: the opened source and the bound plan.
    Qjit(Box<PreparedQuery>),
    /// DataFusion's physical plan, in this process or on a cluster.
    #[cfg(feature = "datafusion")]
    DataFusion(Box<crate::datafusion::Query>),
    /// `DESCRIBE table` or `qjit schema`: the description, already read from the files.
    Describe(RecordBatch),
}

/// How a query ran ([`Planned::run_into`]).
#[derive(Debug)]
pub enum Ran {
    /// In qjit's own engine: its plan, what compiled, the phases' times and the tiers.
    Qjit(Box<QueryRun>),
    /// In DataFusion: its planning and execution times and the rows.
    #[cfg(feature = "datafusion")]
    DataFusion(crate::datafusion::Run),
    /// A description of tables ([`crate::internals::describe`]): its rows.
    Describe(usize),
}

/// Plans `sql` over the tables of `path` with `options`, where `placement` and the rules of the
/// module docs say it runs.
pub fn plan(
    path: &Path,
    sql: &str,
    options: &QueryOptions,
    placement: &Placement,
) -> Result<Planned> {
    crate::sql::with_session_zone(options.timezone, || {
        plan_in_zone(path, sql, options, placement)
    })
}

/// [`plan`] with the session zone set.
fn plan_in_zone(
    path: &Path,
    sql: &str,
    options: &QueryOptions,
    placement: &Placement,
) -> Result<Planned> {
    if let Some(table) = described_table(sql) {
        return Ok(Planned {
            route: Route::Describe(crate::internals::describe::describe(
                path,
                Some(&table),
                options,
            )?),
            options: options.clone(),
        });
    }
    Ok(Planned {
        route: route(path, sql, options, placement)?,
        options: options.clone(),
    })
}

/// The description of every table of `path` (`qjit schema`; see
/// [`crate::internals::describe`]), to run like a query.
pub fn describe(path: &Path, options: &QueryOptions) -> Result<Planned> {
    Ok(Planned {
        route: Route::Describe(crate::internals::describe::describe(path, None, options)?),
        options: options.clone(),
    })
}

/// The table of `DESCRIBE t` (or `DESC t`, `DESCRIBE TABLE t`), if `sql` is one.
fn described_table(sql: &str) -> Option<String> {
    use sqlparser::ast::{DescribeAlias, Statement};
    let dialect = sqlparser::dialect::GenericDialect {};
    match sqlparser::parser::Parser::parse_sql(&dialect, sql)
        .ok()?
        .as_slice()
    {
        [Statement::ExplainTable {
            describe_alias: DescribeAlias::Describe | DescribeAlias::Desc,
            hive_format: None,
            table_name,
            ..
        }] => Some(
            table_name
                .0
                .iter()
                .filter_map(|p| p.as_ident())
                .map(|i| i.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
        _ => None,
    }
}

/// What `--explain` prints for `sql` over `path`: qjit's plan and kernels, DataFusion's
/// physical plan with its qjit expressions, or a cluster's distributed plan; the kernels' LLVM
/// IR only if `ir` (`--explain=plan` leaves it out).
pub fn explain(
    path: &Path,
    sql: &str,
    options: &QueryOptions,
    placement: &Placement,
    ir: bool,
) -> Result<String> {
    // The scheduler plans the stages: it is asked for them, and the query itself is never
    // planned here.
    #[cfg(feature = "ballista")]
    if let Placement::Cluster(cluster) = placement {
        return crate::ballista::explain(cluster, path, sql, options);
    }
    plan(path, sql, options, placement)?.explain_with(ir)
}

/// Plans `sql` over `source` in qjit's own engine (what [`crate::Engine`] runs): `FROM` must
/// name it. A raised cancel flag is [`crate::Error::Cancelled`] before anything else.
pub fn plan_source(source: &Source, sql: &str, options: &QueryOptions) -> Result<Planned> {
    options.cancel.check()?;
    let query =
        crate::sql::with_session_zone(options.timezone, || PreparedQuery::new(source, sql))?;
    Ok(Planned {
        route: Route::Qjit(Box::new(query)),
        options: options.clone(),
    })
}

/// [`plan_source`] of a query already parsed (and its table found by its `FROM` name).
pub(crate) fn plan_parsed(
    source: &Source,
    query: &sqlparser::ast::Query,
    options: &QueryOptions,
) -> Result<Planned> {
    options.cancel.check()?;
    let query = crate::sql::with_session_zone(options.timezone, || {
        PreparedQuery::bind(source, query, Duration::ZERO)
    })?;
    Ok(Planned {
        route: Route::Qjit(Box::new(query)),
        options: options.clone(),
    })
}

impl Planned {
    /// The session time zone the query's zoned timestamps are shown in.
    pub fn timezone(&self) -> crate::ir::time::Zone {
        self.options.timezone
    }

    /// Whether qjit's own engine runs the query (else DataFusion does).
    pub fn in_qjit(&self) -> bool {
        matches!(self.route, Route::Qjit(_))
    }

    /// The query's plan and how it would run, as `--explain` prints it (compiling its kernels
    /// to show their IR).
    pub fn explain(&self) -> Result<String> {
        self.explain_with(true)
    }

    /// [`Planned::explain`], with the kernels' LLVM IR only if `ir`.
    pub fn explain_with(&self, ir: bool) -> Result<String> {
        match &self.route {
            Route::Qjit(query) => query.explain(&self.options, ir),
            #[cfg(feature = "datafusion")]
            Route::DataFusion(query) => Ok(query.explain_with(ir)),
            Route::Describe(_) => Ok(
                "a description of tables, read from their files' footers (no query to plan)\n"
                    .into(),
            ),
        }
    }

    /// Runs the query and hands its result to `sink` as it is produced; on an error the sink
    /// has taken the rows that came before it and is not finished.
    pub fn run_into(self, sink: &mut dyn ResultSink) -> Result<Ran> {
        match self.route {
            Route::Qjit(query) => query
                .run_into(&self.options, sink)
                .map(|run| Ran::Qjit(Box::new(run))),
            #[cfg(feature = "datafusion")]
            Route::DataFusion(query) => query.run_into(sink).map(Ran::DataFusion),
            Route::Describe(batch) => {
                let rows = batch.num_rows();
                sink.start(&batch.schema())?;
                let part = match sink.encoder() {
                    Some(encode) => encode(batch)?,
                    None => crate::exec::Part::Rows(batch),
                };
                sink.write(part)?;
                sink.finish()?;
                Ok(Ran::Describe(rows))
            }
        }
    }

    /// Runs the query and collects its result.
    pub fn run(self) -> Result<Vec<RecordBatch>> {
        let mut collect = Collect::default();
        // With room for a long chain of operators on the caller's thread.
        crate::stack::with_room(|| self.run_into(&mut collect))?;
        Ok(collect.batches)
    }
}

/// Without DataFusion, qjit's own engine runs every query.
#[cfg(not(feature = "datafusion"))]
fn route(path: &Path, sql: &str, options: &QueryOptions, _placement: &Placement) -> Result<Route> {
    Ok(Route::Qjit(Box::new(PreparedQuery::new(
        &Source::file(path, &options.csv)?,
        sql,
    )?)))
}

/// Where the query runs, planned there (see the module docs).
#[cfg(feature = "datafusion")]
fn route(path: &Path, sql: &str, options: &QueryOptions, placement: &Placement) -> Result<Route> {
    #[cfg(feature = "ballista")]
    if let Placement::Cluster(cluster) = placement {
        // A cluster runs every query in DataFusion.
        return in_datafusion(path, sql, options, Some(cluster), None);
    }
    let started = Instant::now();
    // A query that qjit's parser does not take (`WITH`) goes on, its error kept.
    let parsed = match crate::sql::parse_query(sql) {
        Err(e) if !matches!(e, Error::Unsupported { .. }) || !is_one_query(sql) => return Err(e),
        parsed => parsed,
    };
    let parsed_in = started.elapsed();
    if *placement == Placement::DataFusion {
        return in_datafusion(path, sql, options, None, None);
    }
    if !path.is_dir() && !crate::datafusion::is_glob(path) {
        // qjit's engine tries first; a query its binder hands over goes on to DataFusion.
        let bound = Source::file(path, &options.csv).and_then(|source| {
            parsed.and_then(|query| PreparedQuery::bind(&source, &query, parsed_in))
        });
        return match bound {
            Ok(query) => Ok(Route::Qjit(Box::new(query))),
            Err(e) if hands_over(&e) => in_datafusion(path, sql, options, None, Some(e)),
            Err(e) => Err(e),
        };
    }
    let tables = crate::datafusion::tables(path)?;
    if let Ok(query) = &parsed {
        if let Some(file) = table_file(&tables, query) {
            // On a folder, whatever qjit does not bind is DataFusion's to run, or to refuse.
            let bound = Source::file(file, &options.csv)
                .and_then(|source| PreparedQuery::bind(&source, query, parsed_in));
            if let Ok(query) = bound {
                return Ok(Route::Qjit(Box::new(query)));
            }
        }
    }
    in_datafusion(path, sql, options, None, None)
}

/// The one Parquet file of the table `query` reads among `tables`, if it is one: the first
/// table's unless `FROM` names another ([`crate::sql::check_from`]; no file is opened).
/// `None` for a query of several tables, clauses qjit does not take, or a table of many files.
#[cfg(feature = "datafusion")]
fn table_file<'a>(
    tables: &'a [crate::datafusion::Table],
    query: &sqlparser::ast::Query,
) -> Option<&'a Path> {
    let files: Vec<(&str, &Path)> = tables
        .iter()
        .filter_map(|t| Some((t.name.as_str(), t.file.as_deref()?)))
        .collect();
    let mut candidate = files.first().copied();
    let mut tried = vec![];
    while let Some((name, file)) = candidate {
        tried.push(name);
        match crate::sql::check_from(query, name) {
            Ok(()) => return Some(file),
            Err(Error::UnknownTable { name, .. }) => {
                candidate = files
                    .iter()
                    .copied()
                    .find(|(n, _)| *n == name && !tried.contains(n));
            }
            Err(_) => return None,
        }
    }
    None
}

/// Plans a query in DataFusion: in this process, or on the Ballista cluster `cluster`. If it
/// cannot, the error is [`planning_error`]'s choice between `qjit_error` (why qjit's binder
/// handed the query over) and DataFusion's.
#[cfg(feature = "datafusion")]
fn in_datafusion(
    path: &Path,
    sql: &str,
    options: &QueryOptions,
    cluster: Option<&str>,
    qjit_error: Option<Error>,
) -> Result<Route> {
    #[cfg(feature = "ballista")]
    let planned = match cluster {
        Some(cluster) => crate::ballista::plan_query(cluster, path, sql, options),
        None => crate::datafusion::Query::plan(path, sql, options),
    };
    #[cfg(not(feature = "ballista"))]
    let planned = {
        debug_assert!(cluster.is_none(), "a cluster without the ballista feature");
        crate::datafusion::Query::plan(path, sql, options)
    };
    planned
        .map(|query| Route::DataFusion(Box::new(query)))
        .map_err(|e| planning_error(qjit_error, e))
}

/// Whether qjit's binder refuses a query for what qjit does not do (SQL, a function, a column
/// type) rather than for what is wrong with it: such a query goes on to DataFusion.
#[cfg(feature = "datafusion")]
pub(crate) fn hands_over(e: &Error) -> bool {
    matches!(
        e,
        Error::Unsupported { .. }
            | Error::UnknownFunction { .. }
            | Error::UnsupportedColumnType { .. }
    )
}

/// Whether `sql` is one query statement (and nothing that writes).
#[cfg(feature = "datafusion")]
fn is_one_query(sql: &str) -> bool {
    use sqlparser::ast::Statement;
    let dialect = sqlparser::dialect::GenericDialect {};
    matches!(
        sqlparser::parser::Parser::parse_sql(&dialect, sql).as_deref(),
        Ok([Statement::Query(_)])
    )
}

/// The error of a query that neither qjit's binder nor DataFusion takes: qjit's (`qjit`, why its
/// binder handed the query over), which has positions and suggestions, unless qjit only said
/// that it does not do something (a join) and DataFusion says what is wrong with it.
#[cfg(feature = "datafusion")]
pub(crate) fn planning_error(qjit: Option<Error>, datafusion: Error) -> Error {
    match (qjit, datafusion) {
        // Neither takes it (a statement that is not a query): qjit names it.
        (Some(q @ Error::Unsupported { .. }), Error::Unsupported { .. }) => q,
        (Some(Error::Unsupported { .. }), d) => d,
        (Some(q), _) => q,
        (None, d) => d,
    }
}

#[cfg(all(test, feature = "datafusion"))]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    /// A folder of tables `a` and `b` (one file each) and `c` (a folder of two files), each a
    /// column `x` of 1 to 10.
    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from_iter_values(1..=10))],
        )
        .expect("a batch");
        std::fs::create_dir(dir.path().join("c")).expect("a table folder");
        for file in ["a.parquet", "b.parquet", "c/1.parquet", "c/2.parquet"] {
            let out = std::fs::File::create(dir.path().join(file)).expect("a file");
            let mut writer = ArrowWriter::try_new(out, schema.clone(), None).expect("a writer");
            writer.write(&batch).expect("written");
            writer.close().expect("closed");
        }
        dir
    }

    fn planned(path: &Path, sql: &str, placement: &Placement) -> Result<Planned> {
        plan(path, sql, &QueryOptions::default(), placement)
    }

    fn rows(planned: Planned) -> usize {
        let batches = planned.run().expect("the query runs");
        batches.iter().map(RecordBatch::num_rows).sum()
    }

    #[test]
    fn a_folder_runs_a_table_of_one_file_in_qjit_and_the_rest_in_datafusion() {
        let dir = folder();
        let auto = Placement::Auto;
        let b = planned(dir.path(), "SELECT x FROM b WHERE x > 3", &auto).expect("planned");
        assert!(b.in_qjit());
        assert_eq!(rows(b), 7);
        let c = planned(dir.path(), "SELECT x FROM c WHERE x > 3", &auto).expect("planned");
        assert!(!c.in_qjit());
        assert_eq!(rows(c), 14);
        let join = "SELECT a.x FROM a JOIN b ON a.x = b.x WHERE a.x > 3";
        let join = planned(dir.path(), join, &auto).expect("planned");
        assert!(!join.in_qjit());
        assert_eq!(rows(join), 7);
        // What qjit does not bind on a folder is DataFusion's to refuse.
        let e = planned(dir.path(), "SELECT y FROM b", &auto).err();
        assert!(matches!(e, Some(Error::DataFusion(_))), "{e:?}");
    }

    #[test]
    fn a_file_hands_over_what_qjit_does_not_do_and_keeps_its_own_errors() {
        let dir = folder();
        let file = dir.path().join("a.parquet");
        let auto = Placement::Auto;
        let own = planned(&file, "SELECT count(*) FROM a", &auto).expect("planned");
        assert!(own.in_qjit());
        let join = "SELECT count(*) FROM a JOIN a AS b ON a.x = b.x";
        let join = planned(&file, join, &auto).expect("planned");
        assert!(!join.in_qjit());
        let with = "WITH t AS (SELECT x FROM a) SELECT x FROM t WHERE x > 8";
        let with = planned(&file, with, &auto).expect("planned");
        assert!(!with.in_qjit());
        assert_eq!(rows(with), 2);
        let e = planned(&file, "SELECT y FROM a", &auto).err();
        assert!(matches!(e, Some(Error::UnknownColumn { .. })), "{e:?}");
        let e = planned(&file, "SELEC x FROM a", &auto).err();
        assert!(matches!(e, Some(Error::Syntax { .. })), "{e:?}");
        let forced = planned(&file, "SELECT x FROM a", &Placement::DataFusion).expect("planned");
        assert!(!forced.in_qjit());
        assert_eq!(rows(forced), 10);
    }

    #[test]
    fn explain_names_the_engine_that_would_run() {
        let dir = folder();
        let file = dir.path().join("a.parquet");
        let options = QueryOptions::default();
        let own =
            explain(&file, "SELECT x FROM a", &options, &Placement::Auto, true).expect("text");
        assert!(own.starts_with("Scan"), "{own}");
        let join = "SELECT a.x FROM a JOIN a AS b ON a.x = b.x";
        let join = explain(&file, join, &options, &Placement::Auto, true).expect("text");
        assert!(join.starts_with("DataFusion physical plan"), "{join}");
    }

    #[test]
    fn planning_error_prefers_what_is_wrong_over_what_is_not_done() {
        let join = || Error::unsupported("joins");
        let unknown = || Error::DataFusion("table 'x' not found".into());
        assert!(matches!(
            planning_error(Some(join()), unknown()),
            Error::DataFusion(_)
        ));
        assert!(matches!(
            planning_error(Some(join()), Error::unsupported("a statement")),
            Error::Unsupported { what, .. } if what == "joins"
        ));
        let function = Error::UnknownFunction {
            name: "nope".into(),
            suggestion: None,
            position: None,
        };
        assert!(matches!(
            planning_error(Some(function), unknown()),
            Error::UnknownFunction { .. }
        ));
        assert!(matches!(
            planning_error(None, unknown()),
            Error::DataFusion(_)
        ));
    }
}
