//! Where a query's result goes: a [`ResultSink`] takes the result batch by batch, in order, as
//! the pipeline produces it.
//!
//! A query without `ORDER BY`, `DISTINCT` or aggregates streams: each morsel's rows reach the
//! sink as soon as the morsels before it have, so memory holds a few morsels, not the result.
//! Other queries hand the sink their finished result.
//!
//! A sink may have its rows encoded (rendered as text, say) on the worker threads that produce
//! them ([`ResultSink::encoder`]); the sink then takes [`Part::Text`] instead of
//! [`Part::Rows`]. `OFFSET` and `LIMIT` cut parts of either kind by rows ([`Part::slice`]).
//!
//! [`Collect`] is the sink that keeps the batches ([`super::run`]).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// Rows of a result encoded as bytes: `bytes` holds them one after the other, row `i` ending at
/// `row_ends[i]` (and starting where row `i - 1` ends, or at 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub bytes: Vec<u8>,
    pub row_ends: Vec<usize>,
}

impl Text {
    /// Marks the end of a row at the current end of `bytes`.
    #[inline]
    pub fn end_row(&mut self) {
        self.row_ends.push(self.bytes.len());
    }

    /// The rows `offset..offset + len`.
    fn slice(&self, offset: usize, len: usize) -> Text {
        let start = match offset {
            0 => 0,
            n => self.row_ends[n - 1],
        };
        let ends = &self.row_ends[offset..offset + len];
        let end = ends.last().copied().unwrap_or(start);
        Text {
            bytes: self.bytes[start..end].to_vec(),
            row_ends: ends.iter().map(|e| e - start).collect(),
        }
    }
}

/// A piece of a query's result on its way to a sink.
#[derive(Clone, Debug)]
pub enum Part {
    /// Result rows, with the result's schema.
    Rows(RecordBatch),
    /// Result rows as the sink's encoder wrote them.
    Text(Text),
}

impl Part {
    /// The rows it holds.
    pub fn num_rows(&self) -> usize {
        match self {
            Part::Rows(batch) => batch.num_rows(),
            Part::Text(text) => text.row_ends.len(),
        }
    }

    /// The rows `offset..offset + len` (which must be in range).
    pub fn slice(&self, offset: usize, len: usize) -> Part {
        match self {
            Part::Rows(batch) => Part::Rows(batch.slice(offset, len)),
            Part::Text(text) => Part::Text(text.slice(offset, len)),
        }
    }

    /// The bytes of memory it holds (for the memory limit).
    pub fn memory_bytes(&self) -> usize {
        match self {
            Part::Rows(batch) => batch.get_array_memory_size(),
            Part::Text(text) => {
                text.bytes.capacity() + text.row_ends.capacity() * std::mem::size_of::<usize>()
            }
        }
    }
}

/// Encodes a batch of result rows into the part a sink takes; called on worker threads, for
/// batches in any order.
pub type Encoder = Arc<dyn Fn(RecordBatch) -> Result<Part> + Send + Sync>;

/// Takes a query's result, in order.
///
/// The pipeline calls [`ResultSink::start`] once with the result's schema, then
/// [`ResultSink::write`] for each part in order, then [`ResultSink::finish`] once the query
/// has succeeded. A query that fails stops calling it (and drops it) wherever it is.
pub trait ResultSink {
    /// The result's schema, before any part. A sink that writes somewhere should write nothing
    /// yet: an error found before the first row must leave its destination untouched.
    fn start(&mut self, schema: &SchemaRef) -> Result<()>;

    /// How worker threads turn result batches into the parts [`ResultSink::write`] takes
    /// (called after [`ResultSink::start`]). `None`, the default: parts are [`Part::Rows`].
    fn encoder(&self) -> Option<Encoder> {
        None
    }

    /// Takes the next rows of the result.
    fn write(&mut self, part: Part) -> Result<()>;

    /// The result is complete.
    fn finish(&mut self) -> Result<()>;
}

/// A sink that keeps the result's batches.
#[derive(Debug, Default)]
pub struct Collect {
    pub batches: Vec<RecordBatch>,
    pub schema: Option<SchemaRef>,
}

impl ResultSink for Collect {
    fn start(&mut self, schema: &SchemaRef) -> Result<()> {
        self.schema = Some(schema.clone());
        Ok(())
    }

    fn write(&mut self, part: Part) -> Result<()> {
        match part {
            Part::Rows(batch) => self.batches.push(batch),
            Part::Text(_) => {
                return Err(crate::Error::internal(
                    "a collecting sink was handed encoded rows",
                ))
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The `OFFSET` and `LIMIT` of a streamed result: which rows of each part go out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Rows still to skip.
    skip: usize,
    /// Rows still to let through (`None`: all).
    left: Option<usize>,
}

impl Window {
    pub(crate) fn new(offset: usize, limit: Option<usize>) -> Window {
        Window {
            skip: offset,
            left: limit,
        }
    }

    /// The rows of `part` inside the window (`None` when there are none), moving the window on.
    pub(crate) fn take(&mut self, part: Part) -> Option<Part> {
        let rows = part.num_rows();
        let skip = self.skip.min(rows);
        self.skip -= skip;
        let len = self.left.map_or(rows - skip, |l| l.min(rows - skip));
        if let Some(left) = &mut self.left {
            *left -= len;
        }
        match (skip, len) {
            (_, 0) => None,
            (0, len) if len == rows => Some(part),
            (skip, len) => Some(part.slice(skip, len)),
        }
    }

    /// Whether no more rows can pass.
    pub(crate) fn is_full(&self) -> bool {
        self.left == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[&str]) -> Part {
        let mut t = Text::default();
        for r in rows {
            t.bytes.extend_from_slice(r.as_bytes());
            t.end_row();
        }
        Part::Text(t)
    }

    fn rows_of(part: &Part) -> Vec<String> {
        let Part::Text(t) = part else { panic!() };
        let mut start = 0;
        t.row_ends
            .iter()
            .map(|&end| {
                let r = String::from_utf8(t.bytes[start..end].to_vec()).unwrap();
                start = end;
                r
            })
            .collect()
    }

    #[test]
    fn a_window_cuts_parts_by_rows() {
        let mut w = Window::new(3, Some(4));
        assert!(w.take(text(&["a\n", "b\n"])).is_none());
        let p = w.take(text(&["c\n", "d\n", "e\"\n\"\n"])).unwrap();
        assert_eq!(rows_of(&p), ["d\n", "e\"\n\"\n"]);
        assert!(!w.is_full());
        let p = w.take(text(&["f\n", "g\n", "h\n"])).unwrap();
        assert_eq!(rows_of(&p), ["f\n", "g\n"]);
        assert!(w.is_full());
        assert!(w.take(text(&["i\n"])).is_none());
        let mut all = Window::new(0, None);
        let p = all.take(text(&["x", "", "y"])).unwrap();
        assert_eq!(rows_of(&p), ["x", "", "y"]);
        assert!(all.take(text(&[])).is_none());
    }
}
