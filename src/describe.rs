//! What a path holds, as `qjit schema PATH` and `DESCRIBE table` show it.
//!
//! In: a path as `qjit query` takes it (a Parquet, CSV or Arrow IPC file; with DataFusion built in, a folder of
//! tables or a glob) and, for `DESCRIBE`, one table's name. Out: a record batch with a row per
//! column of each table, tables sorted by name and columns in their order:
//!
//! | column | what |
//! |---|---|
//! | `table` | the name queries use in `FROM` |
//! | `column` | the column's name |
//! | `sql_type` | its SQL type in qjit (`DECIMAL(15,2)`, `VARCHAR`, …), NULL where qjit's own engine does not take the type (DataFusion may) |
//! | `arrow_type` | its Arrow type (`Decimal64(15, 2)`, `Utf8View`, `Timestamp(Microsecond, None)`, …) |
//! | `nullable` | whether the schema allows NULLs |
//! | `rows`, `row_groups`, `files` | the table's rows and row groups, from the Parquet footers, and its Parquet files (NULL for a CSV or Arrow IPC file) |
//!
//! A table of one file reads that file's footer (no data). A table of several files (a folder
//! of files, hive-style `key=value/` folders, a glob) takes its schema from DataFusion's
//! listing (partition columns included, as `VARCHAR`), and its counts from the footers of the
//! Parquet files below its folder (NULL for a glob).

use std::path::Path;
#[cfg(feature = "datafusion")]
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, StringArray, UInt64Array};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::exec::QueryOptions;
use crate::ir::SqlType;

/// One table of a path: its name, its columns and its counts.
struct TableInfo {
    name: String,
    schema: SchemaRef,
    /// Rows, row groups and files, where known.
    counts: Option<(u64, u64, u64)>,
}

/// The description of the tables of `path` (only `table`, if given): see the module docs.
/// An unknown `table` is [`Error::UnknownTable`] naming the tables there are.
pub fn describe(path: &Path, table: Option<&str>, options: &QueryOptions) -> Result<RecordBatch> {
    let mut tables = tables(path, table, options)?;
    if let Some(name) = table {
        tables.retain(|t| t.name.eq_ignore_ascii_case(name));
    }
    let (mut names, mut columns, mut sql, mut arrow_types) = (vec![], vec![], vec![], vec![]);
    let (mut nullable, mut rows, mut groups, mut files) = (vec![], vec![], vec![], vec![]);
    for t in &tables {
        for field in t.schema.fields() {
            names.push(t.name.clone());
            columns.push(field.name().clone());
            sql.push(SqlType::from_arrow(field.data_type()).map(|ty| ty.to_string()));
            arrow_types.push(field.data_type().to_string());
            nullable.push(field.is_nullable());
            rows.push(t.counts.map(|c| c.0));
            groups.push(t.counts.map(|c| c.1));
            files.push(t.counts.map(|c| c.2));
        }
    }
    let out: Vec<(&str, ArrayRef, bool)> = vec![
        ("table", Arc::new(StringArray::from(names)), false),
        ("column", Arc::new(StringArray::from(columns)), false),
        ("sql_type", Arc::new(StringArray::from(sql)), true),
        (
            "arrow_type",
            Arc::new(StringArray::from(arrow_types)),
            false,
        ),
        ("nullable", Arc::new(BooleanArray::from(nullable)), false),
        ("rows", Arc::new(UInt64Array::from(rows)), true),
        ("row_groups", Arc::new(UInt64Array::from(groups)), true),
        ("files", Arc::new(UInt64Array::from(files)), true),
    ];
    let schema = Schema::new(
        out.iter()
            .map(|(name, a, null)| Field::new(*name, a.data_type().clone(), *null))
            .collect::<Vec<_>>(),
    );
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        out.into_iter().map(|(_, a, _)| a).collect(),
    )?)
}

/// The tables of `path`, sorted by name; `wanted` names the one `DESCRIBE` asks for, which must
/// be there.
fn tables(path: &Path, wanted: Option<&str>, options: &QueryOptions) -> Result<Vec<TableInfo>> {
    #[cfg(feature = "datafusion")]
    if path.is_dir() || crate::datafusion::is_glob(path) {
        let listed = crate::datafusion::tables(path)?;
        if let Some(name) = wanted {
            if !listed.iter().any(|t| t.name.eq_ignore_ascii_case(name)) {
                return Err(unknown_table(name, listed.iter().map(|t| t.name.as_str())));
            }
        }
        let mut out = vec![];
        for t in &listed {
            if wanted.is_some_and(|name| !t.name.eq_ignore_ascii_case(name)) {
                continue;
            }
            out.push(match &t.file {
                Some(file) => one_file(&t.name, file, options)?,
                None => several_files(t, options)?,
            });
        }
        return Ok(out);
    }
    let source = crate::exec::Source::parquet(path);
    if let Some(name) = wanted {
        if !source.name().eq_ignore_ascii_case(name) {
            return Err(unknown_table(name, [source.name()]));
        }
    }
    Ok(vec![one_file(source.name(), path, options)?])
}

/// `DESCRIBE` of a table that is not there: the error names the tables there are.
fn unknown_table<'a>(name: &str, there: impl IntoIterator<Item = &'a str>) -> Error {
    let there: Vec<&str> = there.into_iter().collect();
    Error::UnknownTable {
        name: name.to_string(),
        expected: there.join("', '"),
        position: None,
    }
}

/// A table of one Parquet file: its footer.
fn one_file(name: &str, file: &Path, options: &QueryOptions) -> Result<TableInfo> {
    let source = crate::exec::Source::file(file, &options.csv)?;
    if !matches!(source, crate::exec::Source::Parquet { .. }) {
        // A CSV or Arrow IPC file: its schema (a CSV file's inferred); no footer counts.
        return Ok(TableInfo {
            name: name.to_string(),
            schema: source.schema()?,
            counts: None,
        });
    }
    let (schema, rows, groups) = footer(file)?;
    Ok(TableInfo {
        name: name.to_string(),
        schema,
        counts: Some((rows, groups, 1)),
    })
}

/// The Arrow schema, rows and row groups in the footer of the Parquet file `file`.
fn footer(file: &Path) -> Result<(SchemaRef, u64, u64)> {
    let (_, metadata) = crate::exec::source::open_parquet(file)?;
    let meta = metadata.metadata();
    let rows = meta.file_metadata().num_rows().max(0) as u64;
    Ok((
        metadata.schema().clone(),
        rows,
        meta.num_row_groups() as u64,
    ))
}

/// A table of several files: DataFusion's schema of it, and the counts of the Parquet files
/// below its folder.
#[cfg(feature = "datafusion")]
fn several_files(t: &crate::datafusion::Table, options: &QueryOptions) -> Result<TableInfo> {
    let runtime = crate::datafusion::query::runtime(options)?;
    let schema = runtime.block_on(async {
        let ctx = crate::datafusion::session(&QueryOptions {
            engine: crate::exec::EngineKind::Interp,
            ..options.clone()
        })?;
        crate::datafusion::query::register_table(&ctx, t, &options.csv).await?;
        let provider = ctx
            .table_provider(t.name.as_str())
            .await
            .map_err(crate::datafusion::query::error)?;
        Ok::<_, Error>(provider.schema())
    })?;
    let folder = PathBuf::from(&t.location);
    let counts = if folder.is_dir() {
        let mut files = vec![];
        parquet_files(&folder, &mut files)?;
        let mut counts = (0, 0, files.len() as u64);
        for file in &files {
            let (_, rows, groups) = footer(file)?;
            counts.0 += rows;
            counts.1 += groups;
        }
        Some(counts)
    } else {
        None
    };
    Ok(TableInfo {
        name: t.name.clone(),
        schema,
        counts,
    })
}

/// The `.parquet` files below `dir`, at any depth (as DataFusion's listing reads them), in
/// name order.
#[cfg(feature = "datafusion")]
fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let fail = |e: std::io::Error| Error::File {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(fail)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(fail)?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(['.', '_']));
        if hidden {
            continue;
        }
        if path.is_dir() {
            parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}
