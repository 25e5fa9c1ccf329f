//! Writing query results: CSV, JSON, a table for people, or Parquet, to standard output or a
//! file, as the rows stream out of the pipeline.
//!
//! Input: the result of a query, batch by batch ([`ResultWriter`] is an
//! [`crate::exec::ResultSink`]). Output: its bytes on a [`Destination`].
//!
//! | format    | shape | NULL | empty string |
//! |-----------|-------|------|--------------|
//! | `table`   | a bordered grid, then `(N rows)` ([`table`]) | `NULL` | nothing |
//! | `csv`     | a header row, then one record per row, as PostgreSQL's `COPY … TO STDOUT (FORMAT csv, HEADER)` ([`csv`]) | empty unquoted field | `""` |
//! | `json`    | one object per row (newline-delimited), keys in column order ([`json`]) | `null` | `""` |
//! | `parquet` | a Parquet file (Snappy), only to a file | null | empty |
//!
//! Values are written the way arrow displays them ([`cells`]): integers and decimals exactly (a
//! decimal keeps its scale: `1193053.2253`, `17.00`), floats as the shortest string that reads
//! back as the same value. Dates are `YYYY-MM-DD` in every format (no `+` before years past
//! 9999, and every `DATE` value can be printed).
//!
//! CSV and JSON rows are encoded on the worker threads that produce them
//! ([`crate::exec::ResultSink::encoder`]), so text formatting runs in parallel; the writer only
//! copies the bytes out, in order. Nothing is written before the first rows arrive (or the
//! query ends), so an error found before them leaves the destination empty. Every write is
//! checked ([`dest`]).
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Decimal128Array, RecordBatch, StringArray};
//! use qjit::internals::output::{render, OutputFormat};
//!
//! let mode: ArrayRef = Arc::new(StringArray::from(vec![Some("MAIL"), None]));
//! let revenue: ArrayRef =
//!     Arc::new(Decimal128Array::from(vec![11930532253, 50]).with_precision_and_scale(38, 4)?);
//! let batch = RecordBatch::try_from_iter([("mode", mode), ("revenue", revenue)])?;
//! let schema = batch.schema();
//! let csv = render(&schema, std::slice::from_ref(&batch), OutputFormat::Csv)?;
//! assert_eq!(csv, "mode,revenue\nMAIL,1193053.2253\n,0.0050\n");
//! let json = render(&schema, &[batch], OutputFormat::Json)?;
//! assert_eq!(
//!     json,
//!     "{\"mode\":\"MAIL\",\"revenue\":1193053.2253}\n{\"mode\":null,\"revenue\":0.0050}\n"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cells;
pub mod csv;
pub mod dest;
pub mod json;
pub mod table;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

pub use dest::Destination;

use crate::exec::{Encoder, Part, ResultSink};
use crate::{Error, Result};

/// How a result is written (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A table for people, with a row count.
    #[default]
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// Newline-delimited JSON: one object per row.
    Json,
    /// A Parquet file (with `--output` only).
    Parquet,
}

impl OutputFormat {
    /// The format a file's extension names: `.csv`, `.json` (`.jsonl`, `.ndjson`), `.parquet`
    /// (`.pq`), `.txt` (a table).
    pub fn from_extension(path: &Path) -> Option<OutputFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" => OutputFormat::Csv,
            "json" | "jsonl" | "ndjson" => OutputFormat::Json,
            "parquet" | "pq" => OutputFormat::Parquet,
            "txt" => OutputFormat::Table,
            _ => return None,
        })
    }
}

/// Bytes between writes to the destination.
const BUFFER_BYTES: usize = 1 << 20;

/// Writes a query's result in one format to a [`Destination`], as an
/// [`crate::exec::ResultSink`]: rows go out as they arrive, and [`ResultSink::finish`] writes
/// what ends the result (a CSV header of a result without rows, the table's footer, Parquet's
/// footer) and commits the destination. Dropped unfinished, a file destination is removed.
pub struct ResultWriter {
    format: OutputFormat,
    /// The destination; inside the Parquet writer while one is open.
    out: Option<BufWriter<Destination>>,
    /// The widest a table may be.
    table_width: Option<usize>,
    state: State,
    written: Arc<AtomicBool>,
    /// Called once, before the first byte is written.
    before_first_write: Option<Box<dyn FnOnce() + Send>>,
    /// The session time zone, that `TIMESTAMP WITH TIME ZONE` columns are shown in.
    timezone: Option<crate::ir::time::Zone>,
    /// The result's schema with its zoned timestamps labelled with [`Self::timezone`], where
    /// that changes it.
    relabelled: Option<SchemaRef>,
}

enum State {
    /// Before [`ResultSink::start`].
    Unstarted,
    /// The CSV header, until it is written.
    Csv(Option<Vec<u8>>),
    Json(Arc<json::JsonEncoder>),
    Table(Box<table::TableWriter>),
    Parquet(Box<ArrowWriter<BufWriter<Destination>>>),
    /// Finished.
    Done,
}

impl ResultWriter {
    /// A writer of `format` to `dest`.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for Parquet to standard output.
    pub fn new(dest: Destination, format: OutputFormat) -> Result<ResultWriter> {
        if let (OutputFormat::Parquet, Destination::Stdout(_)) = (format, &dest) {
            return Err(Error::Usage(
                "--format parquet writes a file: give it with --output FILE".into(),
            ));
        }
        Ok(ResultWriter {
            format,
            out: Some(BufWriter::with_capacity(BUFFER_BYTES, dest)),
            table_width: None,
            state: State::Unstarted,
            written: Arc::new(AtomicBool::new(false)),
            before_first_write: None,
            timezone: None,
            relabelled: None,
        })
    }

    /// Shows `TIMESTAMP WITH TIME ZONE` columns in `zone` (the session zone) whatever zone
    /// their Arrow type names (DataFusion keeps a file's): their values are instants, and the
    /// label decides how they print (`output::cells`) and what a Parquet output file says.
    pub fn with_timezone(mut self, zone: crate::ir::time::Zone) -> ResultWriter {
        self.timezone = Some(zone);
        self
    }

    /// Cuts a table to `width` columns of text (a terminal's width), leaving out the columns
    /// that do not fit.
    pub fn with_table_width(mut self, width: Option<usize>) -> ResultWriter {
        self.table_width = width;
        self
    }

    /// Calls `f` once, before the first byte is written (to clear a progress bar off the
    /// terminal the result goes to, say).
    pub fn before_first_write(mut self, f: Box<dyn FnOnce() + Send>) -> ResultWriter {
        self.before_first_write = Some(f);
        self
    }

    /// A flag raised once the writer has written its first byte to the destination.
    pub fn written_flag(&self) -> Arc<AtomicBool> {
        self.written.clone()
    }

    /// The bytes written to a [`Destination::Memory`] (empty for other destinations).
    pub fn into_bytes(mut self) -> Vec<u8> {
        match self.out.take().map(BufWriter::into_inner) {
            Some(Ok(Destination::Memory(bytes))) => bytes,
            _ => vec![],
        }
    }

    fn out(&mut self) -> Result<&mut BufWriter<Destination>> {
        self.out
            .as_mut()
            .ok_or_else(|| Error::internal("the result writer has no destination"))
    }

    /// Writes `bytes` to the destination, then flushes them when `flush`.
    fn put(&mut self, bytes: &[u8], flush: bool) -> Result<()> {
        if let Some(f) = self.before_first_write.take() {
            f();
        }
        let out = self.out()?;
        let result = out.write_all(bytes).and_then(|_| match flush {
            true => out.flush(),
            false => Ok(()),
        });
        self.written.store(true, Ordering::Relaxed);
        result.map_err(|e| self.error(e))
    }

    fn error(&self, e: std::io::Error) -> Error {
        match &self.out {
            Some(out) => out.get_ref().error(e),
            None => Error::Write {
                target: "the output".into(),
                reason: e.to_string(),
            },
        }
    }
}

impl ResultSink for ResultWriter {
    fn start(&mut self, schema: &SchemaRef) -> Result<()> {
        self.relabelled = self.timezone.and_then(|zone| relabel_schema(schema, zone));
        let schema = self.relabelled.as_ref().unwrap_or(schema);
        self.state = match self.format {
            OutputFormat::Csv => State::Csv(Some(csv::header(schema))),
            OutputFormat::Json => State::Json(Arc::new(json::JsonEncoder::new(schema))),
            OutputFormat::Table => {
                State::Table(Box::new(table::TableWriter::new(schema, self.table_width)))
            }
            OutputFormat::Parquet => {
                // arrow's Parquet writer has no `IntervalMonthDayNano` (Parquet's INTERVAL is
                // months, days and milliseconds): say so before anything is written.
                if let Some(f) = schema
                    .fields()
                    .iter()
                    .find(|f| matches!(f.data_type(), arrow::datatypes::DataType::Interval(_)))
                {
                    return Err(Error::type_error(format!(
                        "the INTERVAL column '{}' cannot be written to Parquet; CAST it to \
                         VARCHAR, or write CSV or JSON",
                        f.name()
                    )));
                }
                let out = self
                    .out
                    .take()
                    .ok_or_else(|| Error::internal("the result writer has no destination"))?;
                let properties = WriterProperties::builder()
                    .set_compression(Compression::SNAPPY)
                    .build();
                let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties))
                    .map_err(|e| Error::internal(format!("cannot start a Parquet file: {e}")))?;
                State::Parquet(Box::new(writer))
            }
        };
        Ok(())
    }

    fn encoder(&self) -> Option<Encoder> {
        let relabelled = self.relabelled.clone();
        match &self.state {
            State::Csv(_) => Some(Arc::new(move |batch: RecordBatch| {
                csv::encode(&relabel(batch, relabelled.as_ref())?).map(Part::Text)
            })),
            State::Json(encoder) => {
                let encoder = encoder.clone();
                Some(Arc::new(move |batch: RecordBatch| {
                    encoder
                        .encode(&relabel(batch, relabelled.as_ref())?)
                        .map(Part::Text)
                }))
            }
            _ => None,
        }
    }

    fn write(&mut self, part: Part) -> Result<()> {
        let part = match part {
            Part::Rows(batch) => Part::Rows(relabel(batch, self.relabelled.as_ref())?),
            text => text,
        };
        let part = match (&mut self.state, part) {
            (State::Csv(header), part) => {
                if let Some(header) = header.take() {
                    self.put(&header, false)?;
                }
                part
            }
            (State::Table(table), Part::Rows(batch)) => {
                let mut text = vec![];
                table.write(&batch, &mut text)?;
                return self.put(&text, true);
            }
            (State::Parquet(writer), Part::Rows(batch)) => {
                let result = writer.write(&batch);
                self.written.store(true, Ordering::Relaxed);
                return result.map_err(|e| parquet_error(writer.inner().get_ref(), e));
            }
            (_, part) => part,
        };
        match part {
            Part::Text(text) => self.put(&text.bytes, true),
            Part::Rows(_) => Err(Error::internal(
                "the result writer was handed rows its format encodes on the workers",
            )),
        }
    }

    fn finish(&mut self) -> Result<()> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Csv(Some(header)) => self.put(&header, false)?,
            State::Table(mut table) => {
                let mut text = vec![];
                table.finish(&mut text)?;
                self.put(&text, false)?;
            }
            State::Parquet(writer) => {
                let name = writer.inner().get_ref().name();
                let out = writer.into_inner().map_err(|e| Error::Write {
                    target: name,
                    reason: e.to_string(),
                })?;
                self.out = Some(out);
            }
            State::Unstarted | State::Done | State::Csv(None) | State::Json(_) => {}
        }
        let out = self.out()?;
        let flushed = out.flush();
        if let Err(e) = flushed {
            return Err(self.error(e));
        }
        self.out()?.get_mut().commit()
    }
}

/// `schema` with each zoned timestamp labelled `zone`, or `None` if none needs it.
fn relabel_schema(schema: &SchemaRef, zone: crate::ir::time::Zone) -> Option<SchemaRef> {
    use arrow::datatypes::DataType;
    let name: Arc<str> = zone.name().into();
    let mut changed = false;
    let fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(unit, Some(tz)) if **tz != *name => {
                changed = true;
                f.as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(*unit, Some(name.clone())))
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    changed.then(|| Arc::new(arrow::datatypes::Schema::new(fields)))
}

/// `batch` under `schema` (the same values; zoned timestamps labelled as it says).
fn relabel(batch: RecordBatch, schema: Option<&SchemaRef>) -> Result<RecordBatch> {
    let Some(schema) = schema else {
        return Ok(batch);
    };
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| crate::interp::time::retype(c, f.data_type()))
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// A Parquet writer's error as a write error of `dest` (its cause when it is the destination's).
fn parquet_error(dest: &Destination, e: parquet::errors::ParquetError) -> Error {
    match e {
        parquet::errors::ParquetError::External(inner) => {
            match inner.downcast::<std::io::Error>() {
                Ok(io) => dest.error(*io),
                Err(other) => Error::Write {
                    target: dest.name(),
                    reason: other.to_string(),
                },
            }
        }
        other => Error::Write {
            target: dest.name(),
            reason: other.to_string(),
        },
    }
}

/// Renders all `batches`, whose columns are those of `schema`, as one string in `format` (not
/// Parquet).
///
/// The schema is given separately because a result may have no batches; the header (table, CSV)
/// is printed even then.
///
/// # Errors
///
/// [`Error::Internal`] when a batch does not match `schema`; [`Error::Usage`] for Parquet.
pub fn render(schema: &SchemaRef, batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
    if format == OutputFormat::Parquet {
        return Err(Error::Usage("Parquet is not text".into()));
    }
    check_batches(schema, batches)?;
    let mut writer = ResultWriter::new(Destination::Memory(vec![]), format)?;
    writer.start(schema)?;
    let encoder = writer.encoder();
    for batch in batches {
        let part = match &encoder {
            Some(encode) => encode(batch.clone())?,
            None => Part::Rows(batch.clone()),
        };
        writer.write(part)?;
    }
    writer.finish()?;
    String::from_utf8(writer.into_bytes())
        .map_err(|e| Error::internal(format!("rendered text is not UTF-8: {e}")))
}

/// Checks that every batch has `schema`'s column types, so that the writers only fail on bugs.
fn check_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    for batch in batches {
        let types = batch.columns().iter().map(|c| c.data_type());
        if !types.eq(schema.fields().iter().map(|f| f.data_type())) {
            return Err(Error::internal(format!(
                "a result batch with columns {:?} does not match the result schema {schema:?}",
                batch.schema()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::ir::scalar::format_date;

    use arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
        Float64Array, Int32Array, Int64Array, Int8Array, NullArray, StringArray, StringViewArray,
        UInt64Array,
    };
    use arrow::datatypes::{Field, Int32Type, Schema};

    /// A batch of `columns`, with a schema where every column is nullable.
    fn batch(columns: Vec<(&str, ArrayRef)>) -> (SchemaRef, RecordBatch) {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
        (schema, batch)
    }

    /// Three rows over the supported column types, with NULLs.
    fn sample() -> (SchemaRef, RecordBatch) {
        let revenue = Decimal128Array::from(vec![Some(11930532253), None, Some(-50)])
            .with_precision_and_scale(38, 4)
            .unwrap();
        batch(vec![
            (
                "flag",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            ),
            (
                "i8",
                Arc::new(Int8Array::from(vec![Some(-8), Some(0), None])),
            ),
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(i64::MIN)])),
            ),
            (
                "u",
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(0), None])),
            ),
            ("revenue", Arc::new(revenue)),
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(0.1), Some(1e20), None])),
            ),
            (
                "d",
                Arc::new(Date32Array::from(vec![Some(8766), None, Some(-1)])),
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("MAIL"), None, Some("")])),
            ),
        ])
    }

    /// A string that needs quoting or escaping in every format.
    const AWKWARD: &str = "say \"hi\", then\nleave — naïve ✓\\";

    #[test]
    fn table_has_header_nulls_and_row_count() {
        let (schema, batch) = sample();
        let out = render(&schema, &[batch], OutputFormat::Table).unwrap();
        let expected = "\
+-------+------+----------------------+----------------------+--------------+------+------------+------+
| flag  | i8   | n                    | u                    | revenue      | f    | d          | s    |
+-------+------+----------------------+----------------------+--------------+------+------------+------+
| true  |   -8 |                    1 | 18446744073709551615 | 1193053.2253 |  0.1 | 1994-01-01 | MAIL |
| NULL  |    0 |                 NULL |                    0 |         NULL | 1e20 | NULL       | NULL |
| false | NULL | -9223372036854775808 |                 NULL |      -0.0050 | NULL | 1969-12-31 |      |
+-------+------+----------------------+----------------------+--------------+------+------------+------+
(3 rows)
";
        assert_eq!(out, expected);
    }

    #[test]
    fn table_of_zero_rows_keeps_the_header() {
        let (schema, _) = sample();
        let out = render(&schema, &[], OutputFormat::Table).unwrap();
        assert!(out.starts_with("+------+----+---+---+---------+---+---+---+\n| flag | i8 |"));
        assert!(out.ends_with("+\n(0 rows)\n"), "{out}");
        let (schema, batch) = batch(vec![("x", Arc::new(Int32Array::from(vec![7])))]);
        let out = render(
            &schema,
            &[batch.clone(), batch.slice(0, 0)],
            OutputFormat::Table,
        );
        assert_eq!(out.unwrap(), "+---+\n| x |\n+---+\n| 7 |\n+---+\n(1 row)\n");
    }

    /// The lines of a table written with `width` columns of room.
    fn table_lines(columns: Vec<(&str, ArrayRef)>, width: Option<usize>) -> Vec<String> {
        let (schema, batch) = batch(columns);
        let mut writer = ResultWriter::new(Destination::Memory(vec![]), OutputFormat::Table)
            .unwrap()
            .with_table_width(width);
        writer.start(&schema).unwrap();
        for start in (0..batch.num_rows()).step_by(7) {
            let len = 7.min(batch.num_rows() - start);
            writer.write(Part::Rows(batch.slice(start, len))).unwrap();
        }
        writer.finish().unwrap();
        let text = String::from_utf8(writer.into_bytes()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn table_rows_stay_on_one_line() {
        let lines = table_lines(
            vec![
                (
                    "s",
                    Arc::new(StringArray::from(vec![
                        "a\nb",
                        "tab\there",
                        "\u{1}\r",
                        "日本",
                    ])),
                ),
                ("n", Arc::new(Int64Array::from(vec![1, 22, 333, 4444]))),
            ],
            None,
        );
        assert_eq!(
            lines,
            [
                "+-----------+------+",
                "| s         | n    |",
                "+-----------+------+",
                "| a\\nb      |    1 |",
                "| tab\\there |   22 |",
                "| \\x01\\r    |  333 |",
                "| 日本      | 4444 |",
                "+-----------+------+",
                "(4 rows)",
            ]
        );
    }

    #[test]
    fn table_widths_come_from_the_first_rows_and_later_values_are_cut() {
        let mut words: Vec<String> = (0..table::WIDTH_ROWS)
            .map(|i| format!("w{}", i % 10))
            .collect();
        words.push("a much longer value".into());
        words.push("w12".into());
        let n = words.len();
        let lines = table_lines(
            vec![
                ("word", Arc::new(StringArray::from(words))),
                ("k", Arc::new(Int64Array::from_iter_values(0..n as i64))),
            ],
            None,
        );
        // Widths from the header and the first 1,000 rows: "word" and "999".
        assert_eq!(lines[0], "+------+-----+");
        assert_eq!(lines[3], "| w0   |   0 |");
        assert_eq!(lines[3 + 1000], "| a m… | 10… |");
        assert_eq!(lines[3 + 1001], "| w12  | 10… |");
        assert_eq!(lines.last().unwrap(), "(1002 rows)");
    }

    #[test]
    fn tables_wider_than_the_terminal_leave_out_columns_and_say_so() {
        let columns = || -> Vec<(&str, ArrayRef)> {
            vec![
                ("first", Arc::new(StringArray::from(vec!["aaaaaaaaaa"]))),
                ("second", Arc::new(StringArray::from(vec!["bbbbbbbbbb"]))),
                ("third", Arc::new(StringArray::from(vec!["cccccccccc"]))),
            ]
        };
        // Each column takes 13 characters, the table 1 more.
        let lines = table_lines(columns(), Some(30));
        assert_eq!(lines[1], "| first      | second     |");
        assert_eq!(
            lines[5],
            "(1 row; 1 of 3 columns not shown: the terminal is too narrow)"
        );
        let lines = table_lines(columns(), Some(40));
        assert_eq!(lines[1], "| first      | second     | third      |");
        assert_eq!(lines[5], "(1 row)");
        // Even the first column does not fit: it is cut.
        let lines = table_lines(columns(), Some(10));
        assert_eq!(lines[3], "| aaaaa… |");
        assert_eq!(
            lines[5],
            "(1 row; 2 of 3 columns not shown: the terminal is too narrow)"
        );
    }

    #[test]
    fn csv_and_json_stream_batch_by_batch() {
        // What a writer gives for batches handed one at a time is what it gives for the whole.
        let (schema, all) = sample();
        for format in [OutputFormat::Csv, OutputFormat::Json, OutputFormat::Table] {
            let whole = render(&schema, std::slice::from_ref(&all), format).unwrap();
            let pieces: Vec<RecordBatch> = (0..all.num_rows()).map(|i| all.slice(i, 1)).collect();
            assert_eq!(
                render(&schema, &pieces, format).unwrap(),
                whole,
                "{format:?}"
            );
        }
    }

    #[test]
    fn csv_has_header_and_empty_nulls() {
        let (schema, batch) = sample();
        let out = render(
            &schema,
            &[batch.clone(), batch.slice(0, 1)],
            OutputFormat::Csv,
        )
        .unwrap();
        let expected = "\
flag,i8,n,u,revenue,f,d,s
true,-8,1,18446744073709551615,1193053.2253,0.1,1994-01-01,MAIL
,0,,0,,1e20,,
false,,-9223372036854775808,,-0.0050,,1969-12-31,\"\"
true,-8,1,18446744073709551615,1193053.2253,0.1,1994-01-01,MAIL
";
        assert_eq!(out, expected);
        assert_eq!(
            render(&schema, &[], OutputFormat::Csv).unwrap(),
            "flag,i8,n,u,revenue,f,d,s\n"
        );
    }

    #[test]
    fn csv_distinguishes_null_from_the_empty_string() {
        // As PostgreSQL's COPY: NULL is an empty unquoted field (a lone NULL is an empty line),
        // the empty string is "".
        let (schema, one) = batch(vec![(
            "s",
            Arc::new(StringArray::from(vec![
                Some("a"),
                None,
                Some(""),
                Some(" x"),
            ])),
        )]);
        let out = render(&schema, &[one], OutputFormat::Csv).unwrap();
        assert_eq!(out, "s\na\n\n\"\"\n\" x\"\n");
        let (schema, many) = batch(vec![
            ("n", Arc::new(Int64Array::from(vec![None, Some(1)]))),
            ("e", Arc::new(StringArray::from(vec![Some(""), None]))),
            (
                "q",
                Arc::new(StringArray::from(vec![Some("x,y"), Some("t ")])),
            ),
            (
                "",
                Arc::new(StringViewArray::from(vec![Some("\"a\""), Some("\r")])),
            ),
        ]);
        let out = render(&schema, &[many], OutputFormat::Csv).unwrap();
        assert_eq!(
            out,
            "n,e,q,\"\"\n,\"\",\"x,y\",\"\"\"a\"\"\"\n1,,\"t \",\"\r\"\n"
        );
    }

    #[test]
    fn csv_quotes_awkward_strings() {
        let (schema, batch) = batch(vec![
            ("a,b", Arc::new(StringArray::from(vec![AWKWARD, "plain"]))),
            ("v", Arc::new(StringViewArray::from(vec!["x", "日本"]))),
        ]);
        let out = render(&schema, &[batch], OutputFormat::Csv).unwrap();
        let expected = "\"a,b\",v\n\"say \"\"hi\"\", then\nleave — naïve ✓\\\",x\nplain,日本\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn json_writes_numbers_exactly_and_nulls_explicitly() {
        let (schema, batch) = sample();
        let out = render(&schema, &[batch], OutputFormat::Json).unwrap();
        let expected = concat!(
            r#"{"flag":true,"i8":-8,"n":1,"u":18446744073709551615,"revenue":1193053.2253,"f":0.1,"d":"1994-01-01","s":"MAIL"}"#,
            "\n",
            r#"{"flag":null,"i8":0,"n":null,"u":0,"revenue":null,"f":1e20,"d":null,"s":null}"#,
            "\n",
            r#"{"flag":false,"i8":null,"n":-9223372036854775808,"u":null,"revenue":-0.0050,"f":null,"d":"1969-12-31","s":""}"#,
            "\n",
        );
        assert_eq!(out, expected);
        assert_eq!(render(&schema, &[], OutputFormat::Json).unwrap(), "");
    }

    #[test]
    fn json_escapes_strings_and_keys() {
        let (schema, batch) = batch(vec![
            ("say \"k\"", Arc::new(StringArray::from(vec![AWKWARD]))),
            ("ctl", Arc::new(StringArray::from(vec!["\t\u{1}\r"]))),
        ]);
        let out = render(&schema, &[batch], OutputFormat::Json).unwrap();
        let expected = "{\"say \\\"k\\\"\":\"say \\\"hi\\\", then\\nleave — naïve ✓\\\\\",\"ctl\":\"\\t\\u0001\\r\"}\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn json_writes_special_floats_as_strings() {
        let (schema, batch) = batch(vec![
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    -0.0,
                    1.0,
                    32.02565114586363,
                ])),
            ),
            (
                "g",
                Arc::new(Float32Array::from(vec![
                    0.1f32,
                    2.5,
                    1e-7,
                    3.0,
                    -1.5,
                    f32::NAN,
                ])),
            ),
        ]);
        let out = render(&schema, &[batch], OutputFormat::Json).unwrap();
        let expected = "\
{\"f\":\"NaN\",\"g\":0.1}
{\"f\":\"Infinity\",\"g\":2.5}
{\"f\":\"-Infinity\",\"g\":1e-7}
{\"f\":-0.0,\"g\":3.0}
{\"f\":1.0,\"g\":-1.5}
{\"f\":32.02565114586363,\"g\":\"NaN\"}
";
        assert_eq!(out, expected);
    }

    #[test]
    fn null_and_dictionary_columns() {
        let dict: DictionaryArray<Int32Type> =
            vec![Some("AIR"), None, Some("AIR")].into_iter().collect();
        let (schema, batch) = batch(vec![
            ("z", Arc::new(NullArray::new(3))),
            ("mode", Arc::new(dict)),
        ]);
        let json = render(&schema, std::slice::from_ref(&batch), OutputFormat::Json).unwrap();
        assert_eq!(
            json,
            "{\"z\":null,\"mode\":\"AIR\"}\n{\"z\":null,\"mode\":null}\n{\"z\":null,\"mode\":\"AIR\"}\n"
        );
        let csv = render(&schema, std::slice::from_ref(&batch), OutputFormat::Csv).unwrap();
        assert_eq!(csv, "z,mode\n,AIR\n,\n,AIR\n");
        let table = render(&schema, &[batch], OutputFormat::Table).unwrap();
        assert!(table.contains("| NULL | NULL |"), "{table}");
    }

    #[test]
    fn every_date_prints_without_a_plus_sign() {
        // chrono writes +10000-01-01 and cannot display the ends of the DATE range at all.
        let y10k = crate::ir::scalar::days_from_civil(10000, 1, 1) as i32;
        let (schema, batch) = batch(vec![(
            "d",
            Arc::new(Date32Array::from(vec![
                Some(y10k),
                Some(i32::MAX),
                Some(i32::MIN),
                None,
            ])),
        )]);
        let dates = [y10k, i32::MAX, i32::MIN].map(format_date);
        assert_eq!(dates[0], "10000-01-01");
        let one = std::slice::from_ref(&batch);
        let csv = render(&schema, one, OutputFormat::Csv).unwrap();
        assert_eq!(
            csv,
            format!("d\n{}\n{}\n{}\n\n", dates[0], dates[1], dates[2])
        );
        let json = render(&schema, one, OutputFormat::Json).unwrap();
        assert_eq!(
            json,
            format!(
                "{{\"d\":\"{}\"}}\n{{\"d\":\"{}\"}}\n{{\"d\":\"{}\"}}\n{{\"d\":null}}\n",
                dates[0], dates[1], dates[2]
            )
        );
        let table = render(&schema, one, OutputFormat::Table).unwrap();
        for date in &dates {
            assert!(table.contains(&format!("| {date}")), "{table}");
        }
        assert!(table.contains("| NULL"), "{table}");
        assert!(!table.contains("+10000"), "{table}");
    }

    #[test]
    fn mismatched_batches_are_internal_errors() {
        let (schema, _) = sample();
        let (_, other) = batch(vec![("x", Arc::new(Int32Array::from(vec![1])))]);
        let err = render(&schema, &[other], OutputFormat::Csv).unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
    }
}
