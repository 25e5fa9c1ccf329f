//! Newline-delimited JSON: one object per row, keys in column order, NULL as an explicit
//! `null`.
//!
//! Integers, decimals and booleans are JSON literals as they are; floats are JSON numbers, or the
//! strings `"NaN"`, `"Infinity"` and `"-Infinity"`, which JSON cannot express as numbers (as
//! PostgreSQL's `to_json` writes them); everything else (strings, dates) is a JSON string, with
//! quotes, backslashes and control characters escaped and other characters as UTF-8.

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::FormatOptions;

use super::cells::{self, write_json_string as write_string, TextKind};
use crate::exec::Text;
use crate::Result;

/// Encodes batches of one schema as JSON lines.
pub(super) struct JsonEncoder {
    /// Each column's key, quoted, with its colon.
    keys: Vec<Vec<u8>>,
}

impl JsonEncoder {
    pub(super) fn new(schema: &SchemaRef) -> JsonEncoder {
        let keys = schema
            .fields()
            .iter()
            .map(|f| {
                let mut key = vec![];
                write_string(&mut key, f.name());
                key.push(b':');
                key
            })
            .collect();
        JsonEncoder { keys }
    }

    /// One line per row of `batch`.
    pub(super) fn encode(&self, batch: &RecordBatch) -> Result<Text> {
        let options = FormatOptions::new();
        let columns = cells::columns(batch.columns(), &options)?;
        let rows = batch.num_rows();
        let mut text = Text {
            bytes: Vec::with_capacity(rows * (columns.len() * 16 + 3)),
            row_ends: Vec::with_capacity(rows),
        };
        let mut value = vec![];
        for row in 0..rows {
            text.bytes.push(b'{');
            for (col, cells) in columns.iter().enumerate() {
                if col > 0 {
                    text.bytes.push(b',');
                }
                text.bytes.extend_from_slice(&self.keys[col]);
                if cells.is_null(row) {
                    text.bytes.extend_from_slice(b"null");
                    continue;
                }
                if let Some(s) = cells.str(row) {
                    write_string(&mut text.bytes, s);
                    continue;
                }
                value.clear();
                cells.write(row, &mut value)?;
                match (cells.kind(), value.as_slice()) {
                    (TextKind::Float, b"NaN") => text.bytes.extend_from_slice(b"\"NaN\""),
                    (TextKind::Float, b"inf") => text.bytes.extend_from_slice(b"\"Infinity\""),
                    (TextKind::Float, b"-inf") => text.bytes.extend_from_slice(b"\"-Infinity\""),
                    (TextKind::Text, v) => {
                        write_string(&mut text.bytes, &String::from_utf8_lossy(v))
                    }
                    // A nested value's text is JSON already.
                    (TextKind::Json, v) => text.bytes.extend_from_slice(v),
                    (_, literal) => text.bytes.extend_from_slice(literal),
                }
            }
            text.bytes.extend_from_slice(b"}\n");
            text.end_row();
        }
        Ok(text)
    }
}
