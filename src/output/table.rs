//! The table format, for people: a bordered grid, then the row count.
//!
//! ```text
//! +--------------+-------+
//! | l_returnflag | n     |
//! +--------------+-------+
//! | A            | 14876 |
//! | NULL         |     3 |
//! +--------------+-------+
//! (2 rows)
//! ```
//!
//! It streams: column widths are fixed from the header and the first [`WIDTH_ROWS`] rows (a
//! later, longer value is cut, ending in `…`), and every row after those is written as it
//! comes, so memory does not grow with the result. Numbers are right-aligned, everything else
//! left-aligned; NULL is `NULL`, the empty string nothing. Line breaks, tabs and other control
//! characters in values are escaped (`\n`, `\t`, `\x01`), so that a row stays one line. Given a
//! width (the terminal's), columns that do not fit are left out, and the footer says how many.

use std::io::Write as _;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::FormatOptions;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::cells::{self, TextKind};
use crate::Result;

/// Rows whose values set the column widths.
pub const WIDTH_ROWS: usize = 1000;

/// Writes a result as a table, row by row.
pub(super) struct TableWriter {
    names: Vec<String>,
    right: Vec<bool>,
    /// The widest the table may be (a terminal's width), if anything.
    max_width: Option<usize>,
    /// Rows held until the widths are fixed.
    pending: Vec<Vec<String>>,
    /// The width of each column shown (the first `widths.len()`), once fixed.
    widths: Option<Vec<usize>>,
    rows: usize,
    line: String,
}

impl TableWriter {
    pub(super) fn new(schema: &SchemaRef, max_width: Option<usize>) -> TableWriter {
        TableWriter {
            names: schema.fields().iter().map(|f| escape(f.name())).collect(),
            right: schema
                .fields()
                .iter()
                .map(|f| TextKind::of(f.data_type()).is_numeric())
                .collect(),
            max_width,
            pending: vec![],
            widths: None,
            rows: 0,
            line: String::new(),
        }
    }

    /// Writes (or holds, until the widths are fixed) the rows of `batch`.
    pub(super) fn write(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) -> Result<()> {
        let options = FormatOptions::new();
        let columns = cells::columns(batch.columns(), &options)?;
        let mut value = vec![];
        for row in 0..batch.num_rows() {
            let mut texts = Vec::with_capacity(columns.len());
            for cells in &columns {
                texts.push(match (cells.is_null(row), cells.str(row)) {
                    (true, _) => "NULL".to_string(),
                    (false, Some(s)) => escape(s),
                    (false, None) => {
                        value.clear();
                        cells.write(row, &mut value)?;
                        escape(&String::from_utf8_lossy(&value))
                    }
                });
            }
            self.rows += 1;
            match &self.widths {
                Some(_) => self.write_row(&texts, out)?,
                None => {
                    self.pending.push(texts);
                    if self.pending.len() >= WIDTH_ROWS {
                        self.fix_widths(out)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes what is held, the bottom border and the row count.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) -> Result<()> {
        if self.widths.is_none() {
            self.fix_widths(out)?;
        }
        let widths = self.widths.clone().unwrap_or_default();
        self.write_border(&widths, out)?;
        let noun = if self.rows == 1 { "row" } else { "rows" };
        let hidden = self.names.len() - widths.len();
        // Infallible: writing to a Vec.
        let _ = match hidden {
            0 => writeln!(out, "({} {noun})", self.rows),
            n => writeln!(
                out,
                "({} {noun}; {n} of {} columns not shown: the terminal is too narrow)",
                self.rows,
                self.names.len()
            ),
        };
        Ok(())
    }

    /// Fixes the widths from the header and the rows held, then writes the header and them.
    fn fix_widths(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let mut widths: Vec<usize> = self.names.iter().map(|n| n.width()).collect();
        for row in &self.pending {
            for (w, text) in widths.iter_mut().zip(row) {
                *w = (*w).max(text.width());
            }
        }
        if let Some(max) = self.max_width {
            // `| a | b |`: each column takes its width and 3, the table 1 more.
            let mut total = 1;
            let shown = widths
                .iter()
                .take_while(|&&w| {
                    total += w + 3;
                    total <= max
                })
                .count();
            widths.truncate(shown.max(1));
            if shown == 0 {
                widths[0] = widths[0].min(max.saturating_sub(4).max(1));
            }
        }
        self.write_border(&widths, out)?;
        let names = self.names.clone();
        self.widths = Some(widths.clone());
        self.write_cells(&names, &vec![false; names.len()], out)?;
        self.write_border(&widths, out)?;
        for row in std::mem::take(&mut self.pending) {
            self.write_row(&row, out)?;
        }
        Ok(())
    }

    fn write_row(&mut self, texts: &[String], out: &mut Vec<u8>) -> Result<()> {
        let right = std::mem::take(&mut self.right);
        let result = self.write_cells(texts, &right, out);
        self.right = right;
        result
    }

    /// One line of cells, each padded or cut to its column's width.
    fn write_cells(&mut self, texts: &[String], right: &[bool], out: &mut Vec<u8>) -> Result<()> {
        let widths = self.widths.as_deref().unwrap_or_default();
        let line = &mut self.line;
        line.clear();
        line.push('|');
        for ((text, &width), &right) in texts.iter().zip(widths).zip(right) {
            line.push(' ');
            let shown = fit(text, width);
            let pad = width - shown.width();
            if right {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(&shown);
            } else {
                line.push_str(&shown);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push_str(" |");
        }
        line.push('\n');
        out.extend_from_slice(line.as_bytes());
        Ok(())
    }

    fn write_border(&mut self, widths: &[usize], out: &mut Vec<u8>) -> Result<()> {
        let line = &mut self.line;
        line.clear();
        line.push('+');
        for &w in widths {
            line.extend(std::iter::repeat_n('-', w + 2));
            line.push('+');
        }
        line.push('\n');
        out.extend_from_slice(line.as_bytes());
        Ok(())
    }
}

/// `text` cut to `width` columns, ending in `…` where it is cut.
fn fit(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if text.width() <= width {
        return text.into();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out.into()
}

/// `text` with control characters escaped, so that it stays on one line.
fn escape(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let n = u32::from(c);
                match n {
                    0..=0xff => out.push_str(&format!("\\x{n:02x}")),
                    _ => out.push_str(&format!("\\u{{{n:x}}}")),
                }
            }
            c => out.push(c),
        }
    }
    out
}
