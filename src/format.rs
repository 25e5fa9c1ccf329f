//! Rendering query results for the command line.
//!
//! Input: the result's schema and its record batches (possibly none). Output: one `String` in the
//! format the user chose with `--format`. The CLI prints it only after the whole query has
//! succeeded, so a failing query never leaves partial output on stdout.
//!
//! | format  | shape | NULL | empty string |
//! |---------|-------|------|--------------|
//! | `table` | arrow's pretty printer, then `(N rows)` | `NULL` | nothing |
//! | `csv`   | a header row, then one record per row, as PostgreSQL's `COPY … TO STDOUT (FORMAT csv, HEADER)` | empty unquoted field | `""` |
//! | `json`  | one object per row (newline-delimited), keys in column order | `null` | `""` |
//!
//! Values are written the way arrow displays them: integers and decimals exactly (a decimal keeps
//! its scale: `1193053.2253`, `17.00`), floats as the shortest string that reads back as the same
//! value. Dates are `YYYY-MM-DD` in every format ([`format_date`]: no `+` before years past
//! 9999, and every `DATE` value can be printed). In JSON, numbers are JSON numbers; a float that
//! is NaN or infinite, which JSON cannot express as a number, is the string `"NaN"`, `"Infinity"`
//! or `"-Infinity"` (as PostgreSQL's `to_json` writes it).
//!
//! In CSV a field (header names included) is quoted when it is empty (so that an empty string
//! differs from NULL), contains a comma, a double quote, CR or LF, or begins or ends with white
//! space (which some readers trim); a double quote inside is doubled. Records end with LF. A row
//! of a single NULL column is therefore an empty line, as in PostgreSQL.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Decimal128Array, RecordBatch, StringArray};
//! use qjit::format::{render, OutputFormat};
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

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use arrow::util::pretty::pretty_format_batches_with_options;

use crate::ir::scalar::format_date;
use crate::{Error, Result};

/// How the CLI prints a result (`--format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A table for humans, with a row count.
    #[default]
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// Newline-delimited JSON: one object per row.
    Json,
}

/// Renders all `batches`, whose columns are those of `schema`, as one string in `format`.
///
/// The schema is given separately because a result may have no batches; the header (table, CSV)
/// is printed even then.
///
/// # Errors
///
/// [`Error::Internal`] when a batch does not match `schema`.
pub fn render(schema: &SchemaRef, batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
    check_batches(schema, batches)?;
    let (schema, batches) = dates_as_text(schema, batches)?;
    match format {
        OutputFormat::Table => render_table(&schema, &batches),
        OutputFormat::Csv => render_csv(&schema, &batches),
        OutputFormat::Json => render_json(&schema, &batches),
    }
}

/// Checks that every batch has `schema`'s column types, so that the renderers below only fail on
/// bugs.
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

/// The result with every `DATE` column replaced by its text ([`format_date`]): arrow's display
/// (chrono) writes `+10000-01-01` past year 9999 and cannot display every `DATE` value.
fn dates_as_text(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let is_date = |t: &DataType| matches!(t, DataType::Date32);
    if !schema.fields().iter().any(|f| is_date(f.data_type())) {
        return Ok((schema.clone(), batches.to_vec()));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if is_date(t) => f.as_ref().clone().with_data_type(DataType::Utf8),
            _ => f.as_ref().clone(),
        })
        .collect();
    let text_schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let batches = batches
        .iter()
        .map(|batch| {
            let columns: Vec<ArrayRef> = batch
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    t if is_date(t) => {
                        let days = c.as_primitive::<Date32Type>();
                        let text: StringArray = days.iter().map(|d| d.map(format_date)).collect();
                        Arc::new(text) as ArrayRef
                    }
                    _ => c.clone(),
                })
                .collect();
            Ok(RecordBatch::try_new(text_schema.clone(), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((text_schema, batches))
}

/// The total number of rows.
/// A formatter and the logical nulls (a `Null` column, or a dictionary key pointing at a null
/// value) of every column of `batch`, for the writers that render cell by cell.
fn cell_formatters<'a>(
    batch: &'a RecordBatch,
    options: &'a FormatOptions<'a>,
) -> Result<(
    Vec<ArrayFormatter<'a>>,
    Vec<Option<arrow::buffer::NullBuffer>>,
)> {
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), options))
        .collect::<Result<Vec<_>, _>>()?;
    let nulls = batch.columns().iter().map(|c| c.logical_nulls()).collect();
    Ok((formatters, nulls))
}

fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Arrow's pretty table, with `NULL` for nulls, followed by `(N rows)`.
fn render_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
    // The pretty printer takes its header from the first batch: lead with an empty batch of the
    // result schema so that the header is there even without rows.
    let mut all = Vec::with_capacity(batches.len() + 1);
    all.push(RecordBatch::new_empty(schema.clone()));
    all.extend_from_slice(batches);
    // Dates are text by now, so nothing fails to display; "safe" keeps the printer from
    // panicking all the same.
    let options = FormatOptions::new()
        .with_null("NULL")
        .with_display_error(true);
    let table = pretty_format_batches_with_options(&all, &options)?;
    let rows = row_count(batches);
    let noun = if rows == 1 { "row" } else { "rows" };
    Ok(format!("{table}\n({rows} {noun})\n"))
}

/// CSV with a header row: NULL is an empty unquoted field, other values are quoted where needed
/// (see the module docs).
fn render_csv(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
    let mut out = String::new();
    for (col, field) in schema.fields().iter().enumerate() {
        if col > 0 {
            out.push(',');
        }
        write_csv_field(&mut out, field.name());
    }
    out.push('\n');
    let options = FormatOptions::new();
    let mut value = String::new();
    for batch in batches {
        let (formatters, nulls) = cell_formatters(batch, &options)?;
        for row in 0..batch.num_rows() {
            for (col, formatter) in formatters.iter().enumerate() {
                if col > 0 {
                    out.push(',');
                }
                if nulls[col].as_ref().is_some_and(|n| n.is_null(row)) {
                    continue;
                }
                value.clear();
                formatter.value(row).write(&mut value)?;
                write_csv_field(&mut out, &value);
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// Appends one non-NULL CSV field, quoted when it is empty, contains a delimiter, a quote or a
/// line break, or begins or ends with white space; quotes inside are doubled.
fn write_csv_field(out: &mut String, s: &str) {
    let quote = s.is_empty()
        || s.contains([',', '"', '\n', '\r'])
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace);
    if !quote {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// How a column's values are written in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JsonKind {
    /// Integers, decimals and booleans: arrow's display is already a JSON literal.
    Literal,
    /// Floats: a JSON number, or a string for NaN and the infinities.
    Float,
    /// Everything else (strings, dates): a JSON string.
    Text,
}

impl JsonKind {
    fn of(data_type: &DataType) -> JsonKind {
        match data_type {
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => JsonKind::Literal,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => JsonKind::Float,
            DataType::Dictionary(_, values) => JsonKind::of(values),
            _ => JsonKind::Text,
        }
    }
}

/// Newline-delimited JSON objects, keys in column order, NULL as an explicit `null`.
fn render_json(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String> {
    let keys: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut key = String::new();
            write_json_string(&mut key, f.name());
            key.push(':');
            key
        })
        .collect();
    let kinds: Vec<JsonKind> = schema
        .fields()
        .iter()
        .map(|f| JsonKind::of(f.data_type()))
        .collect();
    let options = FormatOptions::new();
    let mut out = String::new();
    let mut value = String::new();
    for batch in batches {
        let (formatters, nulls) = cell_formatters(batch, &options)?;
        for row in 0..batch.num_rows() {
            out.push('{');
            for (col, formatter) in formatters.iter().enumerate() {
                if col > 0 {
                    out.push(',');
                }
                out.push_str(&keys[col]);
                if nulls[col].as_ref().is_some_and(|n| n.is_null(row)) {
                    out.push_str("null");
                    continue;
                }
                value.clear();
                formatter.value(row).write(&mut value)?;
                match (kinds[col], value.as_str()) {
                    (JsonKind::Float, "NaN") => out.push_str("\"NaN\""),
                    (JsonKind::Float, "inf") => out.push_str("\"Infinity\""),
                    (JsonKind::Float, "-inf") => out.push_str("\"-Infinity\""),
                    (JsonKind::Literal | JsonKind::Float, literal) => out.push_str(literal),
                    (JsonKind::Text, text) => write_json_string(&mut out, text),
                }
            }
            out.push_str("}\n");
        }
    }
    Ok(out)
}

/// Appends `s` as a JSON string literal: quotes, backslashes and control characters escaped,
/// everything else (including non-ASCII) as UTF-8.
fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if c < ' ' => {
                // Infallible: writing to a String.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
| true  | -8   | 1                    | 18446744073709551615 | 1193053.2253 | 0.1  | 1994-01-01 | MAIL |
| NULL  | 0    | NULL                 | 0                    | NULL         | 1e20 | NULL       | NULL |
| false | NULL | -9223372036854775808 | NULL                 | -0.0050      | NULL | 1969-12-31 |      |
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
