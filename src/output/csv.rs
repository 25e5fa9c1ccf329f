//! CSV: a header row, then one record per row, as PostgreSQL's `COPY … TO STDOUT (FORMAT csv,
//! HEADER)` writes them.
//!
//! A field (header names included) is quoted when it is empty (so that an empty string differs
//! from NULL), contains a comma, a double quote, CR or LF, or begins or ends with white space
//! (which some readers trim); a double quote inside is doubled. NULL is an empty unquoted field.
//! Records end with LF, so a row of a single NULL column is an empty line, as in PostgreSQL.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::FormatOptions;

use super::cells::{self, TextKind};
use crate::exec::Text;
use crate::Result;

/// The header record of `schema`.
pub(super) fn header(schema: &SchemaRef) -> Vec<u8> {
    let mut out = vec![];
    for (col, field) in schema.fields().iter().enumerate() {
        if col > 0 {
            out.push(b',');
        }
        write_field(&mut out, field.name());
    }
    out.push(b'\n');
    out
}

/// The records of the rows of `batch`.
pub(super) fn encode(batch: &RecordBatch) -> Result<Text> {
    let options = FormatOptions::new();
    let columns = cells::columns(batch.columns(), &options)?;
    let rows = batch.num_rows();
    let mut text = Text {
        bytes: Vec::with_capacity(rows * (columns.len() * 8 + 1)),
        row_ends: Vec::with_capacity(rows),
    };
    let mut value = vec![];
    for row in 0..rows {
        for (col, cells) in columns.iter().enumerate() {
            if col > 0 {
                text.bytes.push(b',');
            }
            if cells.is_null(row) {
                continue;
            }
            if let Some(s) = cells.str(row) {
                write_field(&mut text.bytes, s);
            } else if matches!(cells.kind(), TextKind::Text | TextKind::Json) {
                value.clear();
                cells.write(row, &mut value)?;
                write_field(&mut text.bytes, &String::from_utf8_lossy(&value));
            } else {
                // Numbers and booleans never need quotes.
                cells.write(row, &mut text.bytes)?;
            }
        }
        text.bytes.push(b'\n');
        text.end_row();
    }
    Ok(text)
}

/// Appends one non-NULL field, quoted when it must be (see the module docs).
fn write_field(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let quote = bytes.is_empty()
        || bytes
            .iter()
            .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace);
    if !quote {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}
