//! Inputs beyond Parquet: CSV files and Arrow IPC files and streams.
//!
//! In: a path (and, for CSV, [`CsvOptions`]). Out: the file's kind ([`detect`]), its Arrow schema,
//! and its rows in morsels that workers read independently, as a Parquet file's row groups are:
//!
//! - **CSV** ([`CsvInput`]): arrow's CSV reader, with the schema inferred from the first
//!   [`INFER_ROWS`] rows (types qjit does not take yet, such as timestamps, are read as text).
//!   The file splits at line starts outside quoted fields into morsels of about
//!   [`MORSEL_BYTES`] bytes, read in parallel; a file with a quote that does not start a field
//!   (so that quoted fields cannot be told apart) is one morsel, read in order. An error names
//!   the line of the file it is on (its record, where quoted fields hold line breaks).
//! - **Arrow IPC file** ([`IpcInput`]): one morsel per record batch, read through the file's
//!   footer.
//! - **Arrow IPC stream**: read whole when the query opens it (a stream has no index to seek
//!   by), then split as batches in memory are.
//!
//! A file's kind comes from its extension (`.parquet`, `.csv`/`.tsv`, `.arrow`/`.feather`/`.ipc`,
//! `.arrows`), or, without a known one, from its first bytes (`PAR1`, `ARROW1`, an IPC stream's
//! continuation marker; anything else is read as CSV).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::ipc::reader::{FileReader, FileReaderBuilder, StreamReader};
use arrow::record_batch::RecordBatch;

use super::source::{Batches, BATCH_SIZE};
use crate::error::{Error, Result};
use crate::ir::SqlType;

/// Rows a CSV file's schema is inferred from (as in the error a later value of another type
/// gets).
pub const INFER_ROWS: usize = 100_000;

/// Bytes of a CSV morsel (about; morsels end at line starts).
pub const MORSEL_BYTES: u64 = 8 << 20;

/// How a CSV file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Whether the first line names the columns (else they are `column_1`, `column_2`, …).
    pub header: bool,
    /// The field delimiter; `None`: a tab for `.tsv` files, else a comma.
    pub delimiter: Option<u8>,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            header: true,
            delimiter: None,
        }
    }
}

/// What a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Parquet,
    Csv,
    /// An Arrow IPC file (Feather v2).
    ArrowFile,
    /// An Arrow IPC stream.
    ArrowStream,
}

/// The magic bytes an Arrow IPC file starts with.
const ARROW_MAGIC: &[u8; 6] = b"ARROW1";
/// The first bytes of an Arrow IPC stream's first message (the continuation marker).
const STREAM_MARKER: [u8; 4] = [0xFF; 4];

fn file_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::File {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// The file at `path`, checked to be a readable, non-empty file.
fn open(path: &Path) -> Result<(File, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => file_error(path, "no such file; check the path"),
        std::io::ErrorKind::PermissionDenied => file_error(path, "permission denied"),
        _ => file_error(path, format!("cannot read the file: {e}")),
    })?;
    if meta.is_dir() {
        return Err(file_error(path, "is a directory, not a file"));
    }
    let file = File::open(path).map_err(|e| file_error(path, format!("cannot open it: {e}")))?;
    Ok((file, meta.len()))
}

/// The kind of the file at `path`: by its extension, else by its first bytes (see the module
/// docs). An error for a file that is missing, a directory, or an `.arrow` file that is neither
/// an IPC file nor a stream.
pub fn detect(path: &Path) -> Result<FileKind> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("parquet" | "parq" | "pq") => return Ok(FileKind::Parquet),
        Some("csv" | "tsv") => return Ok(FileKind::Csv),
        Some("arrows") => return Ok(FileKind::ArrowStream),
        _ => {}
    }
    let (mut file, len) = open(path)?;
    let mut head = [0u8; 8];
    let n = (len as usize).min(head.len());
    file.read_exact(&mut head[..n])
        .map_err(|e| file_error(path, format!("cannot read it: {e}")))?;
    let head = &head[..n];
    let arrow = matches!(extension.as_deref(), Some("arrow" | "feather" | "ipc"));
    if head.starts_with(b"PAR1") {
        Ok(FileKind::Parquet)
    } else if head.starts_with(ARROW_MAGIC) {
        Ok(FileKind::ArrowFile)
    } else if head.starts_with(&STREAM_MARKER) {
        Ok(FileKind::ArrowStream)
    } else if arrow {
        Err(file_error(
            path,
            "not an Arrow IPC file or stream (it starts with neither ARROW1 nor a stream's \
             first message)",
        ))
    } else {
        Ok(FileKind::Csv)
    }
}

/// `schema` with each field of a type qjit does not take read as text instead (CSV inference
/// makes timestamps of `2024-01-01T10:00:00`, in the unit their fraction needs, which qjit
/// takes; nothing it infers is refused today, but a newer arrow may infer more).
fn readable(schema: Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match SqlType::from_arrow(f.data_type()) {
            Some(_) => f.as_ref().clone(),
            None => f.as_ref().clone().with_data_type(DataType::Utf8),
        })
        .collect();
    Schema::new(fields)
}

/// A byte range of a CSV file that starts at a line start and ends at one (or at the end).
#[derive(Clone, Copy, Debug)]
struct Range {
    start: u64,
    end: u64,
    /// The 1-based line (record) of the file the range starts on.
    line: u64,
}

/// A CSV file opened for a query: its schema and its morsels.
///
/// Morsel `k` is the byte range from boundary `k` to boundary `k + 1`: boundary 0 is the file's
/// start, boundary `k` the first line start outside quoted fields at or after `k` morsel sizes
/// and after boundary `k - 1` ([`Splitter`]). The boundaries are found by one scan of the file
/// that advances as the morsels are read, so no pass over the whole file comes before the first
/// row; a morsel whose range is empty (after a quoted field longer than a morsel) has no rows.
#[derive(Debug)]
pub struct CsvInput {
    path: PathBuf,
    schema: SchemaRef,
    header: bool,
    delimiter: u8,
    /// The file's size, the bytes per morsel, and the number of morsels.
    len: u64,
    morsel_bytes: u64,
    count: usize,
    /// About how many bytes a row takes (from the file's first bytes).
    row_bytes: u64,
    splitter: Mutex<Splitter>,
}

/// The scan that finds a CSV file's morsel boundaries, in order.
///
/// A line break is outside quotes where the quotes before it are even in number: in RFC 4180
/// CSV a field is quoted whole and a quote inside it is doubled. That holds where every quote
/// that opens a quoted field starts a field (follows a delimiter, a line break or a quote); after
/// a quote anywhere else (`5" screen`), no later boundary can be told, and the rest of the file
/// is one morsel, read in order.
#[derive(Debug)]
struct Splitter {
    file: File,
    /// The boundaries found so far: each morsel's start and its first line.
    bounds: Vec<(u64, u64)>,
    /// The bytes read, where they start in the file, and how many of them are scanned.
    chunk: Vec<u8>,
    chunk_start: u64,
    at: usize,
    /// Inside a quoted field; the byte before `at`; the line at `at`.
    quoted: bool,
    last: u8,
    line: u64,
    /// A quote inside an unquoted field was met: no boundary after the last is trusted.
    stuck: bool,
}

impl Splitter {
    fn new(file: File) -> Splitter {
        Splitter {
            file,
            bounds: vec![(0, 1)],
            chunk: vec![],
            chunk_start: 0,
            at: 0,
            quoted: false,
            last: b'\n',
            line: 1,
            stuck: false,
        }
    }

    /// The start and first line of morsel `k`, finding the boundaries up to it.
    fn bound(&mut self, k: usize, csv: &CsvInput) -> std::io::Result<(u64, u64)> {
        while self.bounds.len() <= k {
            let target = self.bounds.len() as u64 * csv.morsel_bytes;
            let next = self.next_bound(target, csv)?;
            self.bounds.push(next);
        }
        Ok(self.bounds[k])
    }

    /// The first line start outside quotes at or after `target` (the end of the file if none).
    fn next_bound(&mut self, target: u64, csv: &CsvInput) -> std::io::Result<(u64, u64)> {
        if self.stuck || target >= csv.len {
            return Ok((csv.len, self.line));
        }
        loop {
            if self.at == self.chunk.len() {
                self.chunk_start += self.chunk.len() as u64;
                self.chunk.resize(1 << 20, 0);
                let n = self.file.read(&mut self.chunk)?;
                self.chunk.truncate(n);
                self.at = 0;
                if n == 0 {
                    return Ok((csv.len, self.line));
                }
            }
            let bytes = &self.chunk[self.at..];
            let mut found = None;
            let mut consumed = bytes.len();
            for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
                if bytes[i] == b'"' {
                    let before = if i == 0 { self.last } else { bytes[i - 1] };
                    let starts_field =
                        matches!(before, b'\n' | b'\r' | b'"') || before == csv.delimiter;
                    if !self.quoted && !starts_field {
                        self.stuck = true;
                        return Ok((csv.len, self.line));
                    }
                    self.quoted = !self.quoted;
                    continue;
                }
                if self.quoted {
                    continue;
                }
                self.line += 1;
                let offset = self.chunk_start + (self.at + i) as u64 + 1;
                if offset >= target && offset < csv.len {
                    found = Some((offset, self.line));
                    consumed = i + 1;
                    break;
                }
            }
            if consumed > 0 {
                self.last = bytes[consumed - 1];
            }
            self.at += consumed;
            if let Some(bound) = found {
                return Ok(bound);
            }
        }
    }
}

impl CsvInput {
    /// Opens the CSV file at `path` and infers its schema from its first rows (see the module
    /// docs). An empty file is an error; a header without rows is a table of no rows.
    pub fn open(path: &Path, options: &CsvOptions) -> Result<CsvInput> {
        CsvInput::open_in(path, options, MORSEL_BYTES)
    }

    /// [`CsvInput::open`] with morsels of about `morsel_bytes`.
    fn open_in(path: &Path, options: &CsvOptions, morsel_bytes: u64) -> Result<CsvInput> {
        let (file, len) = open(path)?;
        if len == 0 {
            return Err(file_error(
                path,
                "the file is empty (0 bytes): a CSV file needs at least a header line",
            ));
        }
        let tsv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
        let delimiter = options.delimiter.unwrap_or(if tsv { b'\t' } else { b',' });
        let format = Format::default()
            .with_header(options.header)
            .with_delimiter(delimiter);
        let (schema, _) = format
            .infer_schema(BufReader::new(&file), Some(INFER_ROWS))
            .map_err(|e| csv_error(path, e, 1))?;
        let io = |e: std::io::Error| file_error(path, format!("cannot read it: {e}"));
        // The bytes of a row, from the first 64 KiB.
        let mut head = vec![0u8; 64 << 10];
        let mut f = &file;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        let n = f.read(&mut head).map_err(io)?;
        let breaks = memchr::memchr_iter(b'\n', &head[..n]).count() as u64;
        Ok(CsvInput {
            path: path.to_path_buf(),
            schema: Arc::new(readable(schema)),
            header: options.header,
            delimiter,
            len,
            morsel_bytes,
            count: len.div_ceil(morsel_bytes).max(1) as usize,
            row_bytes: (n as u64 / breaks.max(1)).max(1),
            splitter: Mutex::new(Splitter::new(File::open(path).map_err(io)?)),
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The number of morsels.
    pub fn morsels(&self) -> usize {
        self.count
    }

    /// About how many rows a morsel holds (from the bytes of the file's first rows).
    pub fn rows(&self) -> usize {
        (self.morsel_bytes.min(self.len) / self.row_bytes) as usize
    }

    /// The byte range of morsel `i`, finding the boundaries up to its end.
    fn range(&self, i: usize) -> Result<Range> {
        let mut splitter = self
            .splitter
            .lock()
            .map_err(|_| Error::internal("the CSV splitter is poisoned"))?;
        let io = |e: std::io::Error| file_error(&self.path, format!("cannot read it: {e}"));
        let (start, line) = splitter.bound(i, self).map_err(io)?;
        let end = match i + 1 < self.count {
            true => splitter.bound(i + 1, self).map_err(io)?.0,
            false => self.len,
        };
        Ok(Range { start, end, line })
    }

    /// The batches of morsel `i`, of the columns `projection` (indices into the schema, in
    /// that order), read as they are consumed.
    pub fn read(&self, i: usize, projection: &[usize]) -> Result<Batches> {
        if i >= self.count {
            return Err(Error::internal(format!("no CSV morsel {i}")));
        }
        let range = self.range(i)?;
        if range.start >= range.end {
            return Ok(Box::new(std::iter::empty()));
        }
        let (mut file, _) = open(&self.path)?;
        file.seek(SeekFrom::Start(range.start))
            .map_err(|e| file_error(&self.path, format!("cannot read it: {e}")))?;
        let bytes = BufReader::with_capacity(1 << 20, file.take(range.end - range.start));
        // Only the first morsel holds the header line.
        let header = self.header && range.start == 0;
        let reader = arrow::csv::ReaderBuilder::new(self.schema.clone())
            .with_header(header)
            .with_delimiter(self.delimiter)
            .with_batch_size(BATCH_SIZE)
            .with_projection(projection.to_vec())
            .build(bytes)
            .map_err(|e| csv_error(&self.path, e, range.line))?;
        let path = self.path.clone();
        // Arrow numbers the lines it reads from 1 at the start of the range, header included.
        let first = range.line;
        // The reader may repeat an error: the morsel ends at its first.
        let mut failed = false;
        Ok(Box::new(reader.map_while(move |b| {
            if failed {
                return None;
            }
            failed = b.is_err();
            Some(b.map_err(|e| csv_error(&path, e, first)))
        })))
    }
}

/// A CSV reader's error as qjit's, its line numbers counted from the file's start: `first` is
/// the file line the reader started on. Arrow counts a parsing error's line from 0 at the
/// reader's start (the header included), a record of the wrong length's from 1.
fn csv_error(path: &Path, e: ArrowError, first: u64) -> Error {
    let (message, hint) = match e {
        ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
            Ok(e) => return *e,
            Err(other) => (other.to_string(), ""),
        },
        ArrowError::ParseError(m) => (
            shift_lines(&m, first),
            "; each column's type is inferred from the file's first rows: a later value of \
             another type cannot be read",
        ),
        ArrowError::CsvError(m) => (shift_lines(&m, first - 1), ""),
        other => (other.to_string(), ""),
    };
    file_error(
        path,
        format!(
            "cannot read it as CSV: {message}{hint}; check the file, or --csv-header and \
             --csv-delimiter"
        ),
    )
}

/// `message` with each number after the word `line` raised by `by`.
fn shift_lines(message: &str, by: u64) -> String {
    if by == 0 {
        return message.to_string();
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (before, after) = rest.split_at(at + "line ".len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        match after[..digits].parse::<u64>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&after[..digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// An Arrow IPC file opened for a query: its schema and its record batches (one morsel each).
#[derive(Debug)]
pub struct IpcInput {
    path: PathBuf,
    schema: SchemaRef,
    batches: usize,
    /// The rows of the first record batch, taken for those of every batch in estimates.
    rows_per_batch: usize,
}

fn ipc_error(path: &Path, e: ArrowError) -> Error {
    file_error(
        path,
        format!("cannot read it as an Arrow IPC file (truncated or corrupt?): {e}"),
    )
}

impl IpcInput {
    /// Opens the IPC file at `path` and reads its footer.
    pub fn open(path: &Path) -> Result<IpcInput> {
        let (file, _) = open(path)?;
        // No columns: the first batch's row count, without its data.
        let mut reader = FileReaderBuilder::new()
            .with_projection(vec![])
            .build(BufReader::new(file))
            .map_err(|e| ipc_error(path, e))?;
        let batches = reader.num_batches();
        let rows_per_batch = match reader.next() {
            Some(batch) => batch.map_err(|e| ipc_error(path, e))?.num_rows(),
            None => 0,
        };
        let (file, _) = open(path)?;
        let schema = FileReader::try_new(BufReader::new(file), None)
            .map_err(|e| ipc_error(path, e))?
            .schema();
        Ok(IpcInput {
            path: path.to_path_buf(),
            schema,
            batches,
            rows_per_batch,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The number of morsels (record batches).
    pub fn morsels(&self) -> usize {
        self.batches
    }

    /// About how many rows a morsel holds (as many as the first).
    pub fn rows(&self) -> usize {
        self.rows_per_batch
    }

    /// Record batch `i`, of the columns `projection` (in that order).
    pub fn read(&self, i: usize, projection: &[usize]) -> Result<Batches> {
        let (file, _) = open(&self.path)?;
        let mut reader = FileReaderBuilder::new()
            .with_projection(projection.to_vec())
            .build(BufReader::new(file))
            .map_err(|e| ipc_error(&self.path, e))?;
        reader.set_index(i).map_err(|e| ipc_error(&self.path, e))?;
        let batch = reader
            .next()
            .ok_or_else(|| Error::internal(format!("no record batch {i} in an IPC file")))?
            .map_err(|e| ipc_error(&self.path, e))?;
        Ok(Box::new(std::iter::once(Ok(batch))))
    }
}

fn stream_error(path: &Path, e: ArrowError) -> Error {
    file_error(
        path,
        format!("cannot read it as an Arrow IPC stream (truncated or corrupt?): {e}"),
    )
}

/// The schema of the Arrow IPC stream at `path` (its first message only).
pub fn stream_schema(path: &Path) -> Result<SchemaRef> {
    let (file, _) = open(path)?;
    let reader =
        StreamReader::try_new(BufReader::new(file), None).map_err(|e| stream_error(path, e))?;
    Ok(reader.schema())
}

/// The schema and every record batch of the Arrow IPC stream at `path`.
pub fn read_stream(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (file, _) = open(path)?;
    let fail = |e: ArrowError| stream_error(path, e);
    let reader = StreamReader::try_new(BufReader::new(file), None).map_err(fail)?;
    let schema = reader.schema();
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(fail)?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, RecordBatch};
    use arrow::datatypes::Int64Type;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn kinds_come_from_the_extension_or_the_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let cases: [(&str, &[u8], FileKind); 7] = [
            ("a.parquet", b"anything", FileKind::Parquet),
            ("a.CSV", b"PAR1", FileKind::Csv),
            ("a.tsv", b"x\ty\n", FileKind::Csv),
            ("a.arrows", b"", FileKind::ArrowStream),
            ("noext", b"PAR1....", FileKind::Parquet),
            ("noext2", b"ARROW1\0\0", FileKind::ArrowFile),
            ("a.data", b"a,b\n1,2\n", FileKind::Csv),
        ];
        for (name, bytes, kind) in cases {
            assert_eq!(detect(&write(d, name, bytes)).unwrap(), kind, "{name}");
        }
        let stream = write(d, "s.arrow", &[0xFF, 0xFF, 0xFF, 0xFF, 8, 0, 0, 0]);
        assert_eq!(detect(&stream).unwrap(), FileKind::ArrowStream);
        let bad = write(d, "bad.feather", b"a,b\n");
        let err = detect(&bad).unwrap_err().to_string();
        assert!(err.contains("not an Arrow IPC file or stream"), "{err}");
        let err = detect(&d.join("missing")).unwrap_err().to_string();
        assert!(err.contains("no such file"), "{err}");
        let err = detect(d).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
    }

    /// Every value of column 0 (`BIGINT`) of every morsel of `csv`, in order.
    fn column(csv: &CsvInput) -> Vec<i64> {
        let mut out = vec![];
        for i in 0..csv.morsels() {
            for batch in csv.read(i, &[0]).unwrap() {
                let batch: RecordBatch = batch.unwrap();
                out.extend(batch.column(0).as_primitive::<Int64Type>().values().iter());
            }
        }
        out
    }

    #[test]
    fn a_csv_file_without_quotes_splits_at_line_starts() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("n,s\n");
        for i in 0..2000 {
            text.push_str(&format!("{i},x{}\n", i % 7));
        }
        let path = write(dir.path(), "t.csv", text.as_bytes());
        let csv = CsvInput::open_in(&path, &CsvOptions::default(), 1000).unwrap();
        assert!(csv.morsels() > 10, "{}", csv.morsels());
        assert_eq!(column(&csv), (0..2000).collect::<Vec<i64>>());
        // The ranges tile the file, each starting at a line start, on its line.
        let mut end = 0;
        for i in 0..csv.morsels() {
            let r = csv.range(i).unwrap();
            assert_eq!(r.start, end);
            let before = &text.as_bytes()[..r.start as usize];
            assert!(r.start == 0 || before.ends_with(b"\n"));
            assert_eq!(
                r.line,
                1 + memchr::memchr_iter(b'\n', before).count() as u64
            );
            end = r.end;
        }
        assert_eq!(end, text.len() as u64);
        // Morsels read in any order (the boundaries are found in order all the same).
        let csv = CsvInput::open_in(&path, &CsvOptions::default(), 1000).unwrap();
        let mut values: Vec<i64> = vec![];
        for i in (0..csv.morsels()).rev() {
            for batch in csv.read(i, &[0]).unwrap() {
                let batch = batch.unwrap();
                let mut part: Vec<i64> = batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec();
                part.extend(values);
                values = part;
            }
        }
        assert_eq!(values.len(), 2000);
        // Without a header line, the first one is a row too.
        let no_header = CsvOptions {
            header: false,
            delimiter: None,
        };
        let csv = CsvInput::open_in(&path, &no_header, 1000).unwrap();
        assert_eq!(csv.schema().field(0).data_type(), &DataType::Utf8);
    }

    #[test]
    fn quoted_fields_split_outside_their_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("n,s\n");
        for i in 0..2000 {
            // Quoted fields with line breaks, delimiters and doubled quotes.
            text.push_str(&format!("{i},\"a\n\"\"b,\"\"\n\"\n"));
        }
        let path = write(dir.path(), "q.csv", text.as_bytes());
        let csv = CsvInput::open_in(&path, &CsvOptions::default(), 1000).unwrap();
        assert!(csv.morsels() > 10, "{}", csv.morsels());
        assert_eq!(column(&csv), (0..2000).collect::<Vec<i64>>());
        let texts: Vec<String> = (0..csv.morsels())
            .flat_map(|i| csv.read(i, &[1]).unwrap())
            .flat_map(|b| {
                let b = b.unwrap();
                let column = b.column(0).as_string::<i32>().clone();
                (0..b.num_rows()).map(move |r| column.value(r).to_string())
            })
            .collect();
        assert!(
            texts.iter().all(|t| t == "a\n\"b,\"\n"),
            "{:?}",
            &texts[..3]
        );
        // A quote inside an unquoted field (on the second line): the file is read as one range.
        let stray = format!("n,s\n1,5\" screen\n{}", &text[4..]);
        let path = write(dir.path(), "stray.csv", stray.as_bytes());
        let csv = CsvInput::open_in(&path, &CsvOptions::default(), 1000).unwrap();
        let first = csv.range(0).unwrap();
        assert_eq!((first.start, first.end), (0, stray.len() as u64));
        for i in 1..csv.morsels() {
            let r = csv.range(i).unwrap();
            assert_eq!(r.start, r.end);
        }
        assert_eq!(column(&csv).len(), 2001);
    }

    #[test]
    fn csv_errors_name_the_line_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("n,s\n");
        for i in 0..2000 {
            text.push_str(&format!("{i},x\n"));
        }
        // Line 1502 of the file: a row of one field.
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[1501] = "7".into();
        let ragged = write(dir.path(), "r.csv", (lines.join("\n") + "\n").as_bytes());
        // The ragged row is among those the schema is inferred from: opening fails.
        let err = CsvInput::open_in(&ragged, &CsvOptions::default(), 1000).unwrap_err();
        assert!(err.to_string().contains("line 1502"), "{err}");
        // Past the inferred rows, in later morsels: a value of another type, a ragged row.
        let mut text = String::from("n,s\n");
        for i in 0..150_000 {
            text.push_str(&format!("{i},x\n"));
        }
        let mut bad_value = text.clone();
        bad_value.push_str("seven,x\n");
        text.push_str("1,2,3\n");
        let ragged = write(dir.path(), "late_r.csv", text.as_bytes());
        let value = write(dir.path(), "late_v.csv", bad_value.as_bytes());
        for (path, wanted) in [
            (ragged, "line 150002, expected 2 got 3"),
            (value, "'seven' as type 'Int64' for column 0 at line 150002"),
        ] {
            let csv = CsvInput::open_in(&path, &CsvOptions::default(), 100_000).unwrap();
            assert!(csv.morsels() > 1);
            let errors: Vec<Error> = (0..csv.morsels())
                .flat_map(|i| csv.read(i, &[0, 1]).unwrap().filter_map(|b| b.err()))
                .collect();
            let [e] = &errors[..] else {
                panic!("{errors:?}")
            };
            assert!(e.to_string().contains(wanted), "{e}");
        }
        let empty = write(dir.path(), "e.csv", b"");
        let err = CsvInput::open(&empty, &CsvOptions::default()).unwrap_err();
        assert!(err.to_string().contains("the file is empty"), "{err}");
    }

    #[test]
    fn line_numbers_shift_by_the_lines_before_a_range() {
        assert_eq!(
            shift_lines(
                "incorrect number of fields for line 3, expected 2 got 3",
                10
            ),
            "incorrect number of fields for line 13, expected 2 got 3"
        );
        assert_eq!(
            shift_lines("at line 7. Row data: 'line x'", 2),
            "at line 9. Row data: 'line x'"
        );
        assert_eq!(shift_lines("no number", 5), "no number");
    }
}
