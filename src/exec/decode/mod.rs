//! qjit's own decoder of Parquet row groups, for the column chunks it can read faster than the
//! arrow-rs record-batch reader.
//!
//! In: a row group of a Parquet file and the columns a scan projects. Out: the row group's
//! rows as record batches of [`BATCH_SIZE`] rows, each equal, column for column, to what the
//! arrow-rs reader returns for the same projection (the shared tests compare them).
//!
//! A column is decoded here when it is a flat (non-nested, at most optional) column whose
//! chunk is uncompressed, Snappy or ZSTD, whose pages are PLAIN or dictionary-encoded, and
//! whose Arrow type is `Int32`, `Date32`, `Int64`, `Decimal64` (stored as `INT64`),
//! `Float32`, `Float64`, `Utf8View` or `BinaryView`; any other projected column is decoded by
//! the arrow-rs reader in batches of the same size, and the two are zipped. What this decoder
//! saves, measured on TPC-H's `lineitem`: each column chunk is read with one read call instead
//! of one per page; pages are decompressed into one buffer per column that is reused (the
//! arrow-rs reader allocates and zero-fills a fresh buffer for every page); dictionary indices
//! are unpacked a chunk at a time and gathered straight into the output column.
//!
//! Page headers are parsed by the parquet crate's [`SerializedPageReader`], given the chunk's
//! metadata with its codec set to "uncompressed" so that it hands over each page's bytes as
//! they are stored (a slice of the chunk read, no copy), and this module decompresses them.

mod rle;

use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::builder::make_view;
use arrow::array::BooleanBufferBuilder;
use arrow::array::{make_array, ArrayRef, BinaryViewArray, BooleanArray, StringViewArray};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReader};
use parquet::arrow::ProjectionMask;
use parquet::basic::{Compression, Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::errors::ParquetError;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;

use self::rle::Rle;
use super::predicate::{Condition, Necessary};
use super::shared_file::SharedFile;
use super::source::BATCH_SIZE;
use crate::error::{Error, Result};

/// The batches of one row group: columns decoded here, the others by arrow-rs.
pub struct RowGroupBatches {
    path: String,
    schema: SchemaRef,
    columns: Vec<Slot>,
    /// The arrow-rs reader of the columns this module does not decode (in file order).
    others: Option<ParquetRecordBatchReader>,
    /// Rows not returned yet.
    left: usize,
    prefilter: Option<Prefilter>,
}

/// Conditions that the rows a query keeps meet on some columns ([`Necessary`]), checked one
/// column at a time: each column is decoded only for the rows that met the conditions checked
/// before it, and the other columns only for the rows that met them all.
struct Prefilter {
    /// Each column's position in the projection and condition, with how many of the values
    /// checked so far met it; checked in the order of those fractions, lowest first.
    checks: Vec<Check>,
    /// Cleared when a batch keeps at least half its rows: from then on the row group is
    /// decoded whole (the query's own `WHERE` drops the rows, as it always does).
    active: bool,
    /// The scan's conditions, which tell the next row groups whether this one declined.
    shared: Arc<Necessary>,
}

struct Check {
    position: usize,
    condition: Condition,
    met: usize,
    checked: usize,
}

impl Check {
    /// Orders checks by the fraction of the values they checked that met them, lowest first
    /// (checks that checked nothing yet last).
    fn keeps_fewer(&self, other: &Check) -> std::cmp::Ordering {
        let this = self.met as u128 * other.checked.max(1) as u128;
        let that = other.met as u128 * self.checked.max(1) as u128;
        (self.checked == 0)
            .cmp(&(other.checked == 0))
            .then(this.cmp(&that))
    }
}

enum Slot {
    /// Decoded here; the column's name for errors.
    Own(Box<dyn ColumnDecoder>, String),
    /// Column `i` of the arrow-rs reader's batches.
    Other(usize),
}

impl RowGroupBatches {
    /// The batches of row group `group` of the open file `file`, projected to `columns` (file
    /// column indices, ascending) with the Arrow schema `schema` (the arrow-rs reader's for
    /// that projection), or `None` when this module decodes none of those columns (the caller
    /// then reads the row group with arrow-rs alone).
    ///
    /// With a `prefilter` each batch holds only the rows that meet its conditions, while
    /// fewer than half of them do: a row that fails them must be one the query's `WHERE`
    /// rejects.
    pub fn try_new(
        file: &SharedFile,
        path: &Path,
        metadata: &ArrowReaderMetadata,
        group: usize,
        columns: &[usize],
        schema: &SchemaRef,
        prefilter: Option<&Arc<Necessary>>,
    ) -> Result<Option<RowGroupBatches>> {
        let shown = path.display().to_string();
        let parquet = metadata.metadata();
        let descr = parquet.file_metadata().schema_descr();
        // Only flat schemas: file column i is leaf i.
        if descr.num_columns() != metadata.schema().fields().len()
            || schema.fields().len() != columns.len()
            || columns.is_empty()
        {
            return Ok(None);
        }
        let row_group = parquet.row_group(group);
        let rows = usize::try_from(row_group.num_rows()).unwrap_or(0);
        let own: Vec<Option<Kind>> = columns
            .iter()
            .zip(schema.fields())
            .map(|(&c, field)| Kind::of(row_group.column(c), field.data_type()))
            .collect();
        if own.iter().all(Option::is_none) {
            return Ok(None);
        }
        let others: Vec<usize> = columns
            .iter()
            .zip(&own)
            .filter(|(_, kind)| kind.is_none())
            .map(|(&c, _)| c)
            .collect();
        let mut slots = Vec::with_capacity(columns.len());
        let mut other = 0;
        for ((&c, kind), field) in columns.iter().zip(&own).zip(schema.fields()) {
            slots.push(match kind {
                Some(kind) => {
                    let chunk = row_group.column(c);
                    let pages = Pages::open(file, chunk, rows)
                        .map_err(|f| failure(&shown, field.name(), f))?;
                    let decoder: Box<dyn ColumnDecoder> = match kind {
                        Kind::Word4 => Box::new(Words::<u32>::new(pages, field.data_type())),
                        Kind::Word8 => Box::new(Words::<u64>::new(pages, field.data_type())),
                        Kind::View { utf8 } => Box::new(Views::new(pages, *utf8)),
                    };
                    Slot::Own(decoder, field.name().clone())
                }
                None => {
                    other += 1;
                    Slot::Other(other - 1)
                }
            });
        }
        let others = if others.is_empty() {
            None
        } else {
            let reader =
                ParquetRecordBatchReaderBuilder::new_with_metadata(file.clone(), metadata.clone())
                    .with_row_groups(vec![group])
                    .with_projection(ProjectionMask::roots(descr, others))
                    .with_batch_size(BATCH_SIZE)
                    .build()
                    .map_err(|e| super::source::parquet_error(path, e))?;
            Some(reader)
        };
        // Conditions on columns the scan does not read are left out.
        let prefilter = prefilter.and_then(|necessary| {
            let checks: Vec<Check> = necessary
                .columns
                .iter()
                .zip(&necessary.conditions)
                .filter_map(|(c, condition)| {
                    Some(Check {
                        position: columns.binary_search(c).ok()?,
                        condition: condition.clone(),
                        met: 0,
                        checked: 0,
                    })
                })
                .collect();
            // After a batch that most rows passed, only every fourth row group checks again.
            let active = !necessary.declined.load(Ordering::Relaxed) || group.is_multiple_of(4);
            (!checks.is_empty() && checks.len() < columns.len()).then_some(Prefilter {
                checks,
                active,
                shared: necessary.clone(),
            })
        });
        Ok(Some(RowGroupBatches {
            path: shown,
            schema: schema.clone(),
            columns: slots,
            others,
            left: rows,
            prefilter,
        }))
    }

    /// The next `n` rows, or those of them that meet the prefilter (`None` if none do).
    fn batch(&mut self, n: usize) -> Result<Option<RecordBatch>> {
        let others = match &mut self.others {
            Some(reader) => match reader.next() {
                Some(Ok(batch)) if batch.num_rows() == n => Some(batch),
                Some(Ok(batch)) => {
                    return Err(Error::internal(format!(
                        "the arrow-rs reader returned {} rows where {n} were expected",
                        batch.num_rows()
                    )))
                }
                Some(Err(e)) => return Err(super::source::arrow_error(Path::new(&self.path), e)),
                None => return Err(Error::internal("the arrow-rs reader ended early")),
            },
            None => None,
        };
        let mut arrays: Vec<Option<ArrayRef>> = vec![None; self.columns.len()];
        let mut selected: Option<(Vec<usize>, BooleanArray)> = None;
        if let Some(pre) = self.prefilter.as_mut().filter(|p| p.active) {
            pre.checks.sort_by(Check::keeps_fewer);
            for check in &mut pre.checks {
                let p = check.position;
                let (array, met) = read_meeting(
                    &mut self.columns[p],
                    n,
                    selected.as_ref(),
                    &check.condition,
                    &others,
                    &self.path,
                )?;
                check.met += met.count_set_bits();
                check.checked += met.len();
                // The rows of the batch that met every condition so far, and the columns
                // decoded so far cut to them.
                let rows: Vec<usize> = match &selected {
                    None => met.set_indices().collect(),
                    Some((rows, _)) => met.set_indices().map(|j| rows[j]).collect(),
                };
                let met = BooleanArray::new(met, None);
                for array in arrays.iter_mut().flatten() {
                    *array = arrow::compute::filter(array, &met)?;
                }
                arrays[p] = Some(array);
                let mut mask = BooleanBufferBuilder::new(n);
                mask.append_n(n, false);
                for &row in &rows {
                    mask.set_bit(row, true);
                }
                selected = Some((rows, BooleanArray::new(mask.finish(), None)));
            }
            let most = selected
                .as_ref()
                .is_some_and(|(rows, _)| rows.len() * 2 >= n);
            pre.active = !most;
            pre.shared.declined.store(most, Ordering::Relaxed);
        }
        for (p, array) in arrays.iter_mut().enumerate() {
            if array.is_none() {
                *array = Some(read(
                    &mut self.columns[p],
                    n,
                    selected.as_ref(),
                    &others,
                    &self.path,
                )?);
            }
        }
        let rows = selected.as_ref().map_or(n, |(s, _)| s.len());
        if rows == 0 {
            return Ok(None);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let arrays = arrays.into_iter().flatten().collect();
        Ok(Some(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?))
    }
}

/// The next `n` rows of the column in `slot` (those `selected` of them, if given).
fn read(
    slot: &mut Slot,
    n: usize,
    selected: Option<&(Vec<usize>, BooleanArray)>,
    others: &Option<RecordBatch>,
    path: &str,
) -> Result<ArrayRef> {
    match slot {
        Slot::Own(decoder, name) => match selected {
            Some((selected, mask)) => decoder.read_selected(n, selected, mask),
            None => decoder.read(n),
        }
        .map_err(|f| failure(path, name, f)),
        Slot::Other(i) => match others {
            Some(batch) => match selected {
                Some((_, mask)) => Ok(arrow::compute::filter(batch.column(*i), mask)?),
                None => Ok(batch.column(*i).clone()),
            },
            None => Err(Error::internal("no arrow-rs batch for a column")),
        },
    }
}

/// The values that meet `condition` of the next `n` rows of the column in `slot` (of those
/// `selected`, if given), and which of those rows met it.
fn read_meeting(
    slot: &mut Slot,
    n: usize,
    selected: Option<&(Vec<usize>, BooleanArray)>,
    condition: &Condition,
    others: &Option<RecordBatch>,
    path: &str,
) -> Result<(ArrayRef, BooleanBuffer)> {
    match slot {
        Slot::Own(decoder, name) => decoder
            .read_meeting(n, selected, condition)
            .map_err(|f| failure(path, name, f)),
        other => {
            let whole = read(other, n, selected, others, path)?;
            let met = condition.mask(whole.as_ref())?;
            let kept = arrow::compute::filter(&whole, &BooleanArray::new(met.clone(), None))?;
            Ok((kept, met))
        }
    }
}

impl Iterator for RowGroupBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        while self.left > 0 {
            let n = self.left.min(BATCH_SIZE);
            self.left -= n;
            match self.batch(n) {
                Ok(Some(batch)) => return Some(Ok(batch)),
                Ok(None) => {}
                Err(e) => {
                    self.left = 0;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Why a column could not be decoded.
#[derive(Debug)]
enum Failure {
    /// The data contradicts the format (a corrupt file).
    Corrupt(String),
    /// Parsing the pages failed.
    Parquet(ParquetError),
    /// Reading the file failed.
    Io(std::io::Error),
    /// Text that is not UTF-8 in a string column.
    NotUtf8,
}

impl From<ParquetError> for Failure {
    fn from(e: ParquetError) -> Failure {
        Failure::Parquet(e)
    }
}

impl From<rle::Corrupt> for Failure {
    fn from(why: rle::Corrupt) -> Failure {
        Failure::Corrupt(why.to_string())
    }
}

fn failure(path: &str, column: &str, f: Failure) -> Error {
    let reason = match f {
        Failure::Corrupt(why) => {
            format!("column {column} cannot be decoded ({why}); the file is corrupt")
        }
        Failure::Parquet(e) => {
            format!("column {column} cannot be read ({e}); the file is truncated or corrupt")
        }
        Failure::Io(e) => format!("column {column} cannot be read: {e}"),
        Failure::NotUtf8 => format!(
            "column {column} holds a string that is not valid UTF-8; \
             the file is corrupt or the column is binary"
        ),
    };
    Error::File {
        path: path.to_string(),
        reason,
    }
}

/// How a column this module decodes is stored in memory.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// 4-byte values (`INT32` as `Int32`/`Date32`, `FLOAT` as `Float32`).
    Word4,
    /// 8-byte values (`INT64` as `Int64`/`Decimal64`, `DOUBLE` as `Float64`).
    Word8,
    /// `BYTE_ARRAY` as `Utf8View` (`utf8`) or `BinaryView`.
    View { utf8: bool },
}

impl Kind {
    /// How `chunk`, read as `target`, is decoded here, or `None` if arrow-rs decodes it.
    fn of(chunk: &ColumnChunkMetaData, target: &DataType) -> Option<Kind> {
        let descr = chunk.column_descr();
        if descr.max_rep_level() != 0 || descr.max_def_level() > 1 {
            return None;
        }
        let codec_ok = matches!(
            chunk.compression(),
            Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_)
        );
        let encodings_ok = chunk.encodings().all(|e| {
            matches!(
                e,
                Encoding::PLAIN
                    | Encoding::PLAIN_DICTIONARY
                    | Encoding::RLE_DICTIONARY
                    | Encoding::RLE
            )
        });
        if !codec_ok || !encodings_ok {
            return None;
        }
        match (descr.physical_type(), target) {
            (PhysicalType::INT32, DataType::Int32 | DataType::Date32)
            | (PhysicalType::FLOAT, DataType::Float32) => Some(Kind::Word4),
            (PhysicalType::INT64, DataType::Int64 | DataType::Decimal64(..))
            | (PhysicalType::DOUBLE, DataType::Float64) => Some(Kind::Word8),
            (PhysicalType::BYTE_ARRAY, DataType::Utf8View) => Some(Kind::View { utf8: true }),
            (PhysicalType::BYTE_ARRAY, DataType::BinaryView) => Some(Kind::View { utf8: false }),
            _ => None,
        }
    }
}

/// A column chunk read into memory, seen by [`SerializedPageReader`] at its file offsets.
struct Chunk {
    start: u64,
    bytes: Bytes,
}

impl Chunk {
    fn slice(&self, start: u64, len: Option<usize>) -> parquet::errors::Result<Bytes> {
        let from = start
            .checked_sub(self.start)
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o <= self.bytes.len())
            .ok_or_else(|| ParquetError::EOF("a page outside its column chunk".into()))?;
        let to = match len {
            Some(len) => from
                .checked_add(len)
                .filter(|&to| to <= self.bytes.len())
                .ok_or_else(|| ParquetError::EOF("a page past its column chunk's end".into()))?,
            None => self.bytes.len(),
        };
        Ok(self.bytes.slice(from..to))
    }
}

impl Length for Chunk {
    fn len(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl ChunkReader for Chunk {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(self.slice(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, Some(length))
    }
}

/// A page codec.
enum Codec {
    None,
    Snappy(snap::raw::Decoder),
    Zstd,
}

impl Codec {
    /// Decompresses `input` into `out[at..]` (growing `out`, never shrinking it, so a reused
    /// buffer is not zero-filled again); returns the end of the decompressed bytes.
    fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>, at: usize) -> Result<usize, Failure> {
        let corrupt = |e: &dyn std::fmt::Display| Failure::Corrupt(format!("a page: {e}"));
        let grow = |out: &mut Vec<u8>, end: usize| {
            if out.len() < end {
                out.resize(end, 0);
            }
        };
        match self {
            Codec::None => {
                grow(out, at + input.len());
                out[at..at + input.len()].copy_from_slice(input);
                Ok(at + input.len())
            }
            Codec::Snappy(decoder) => {
                let len = snap::raw::decompress_len(input).map_err(|e| corrupt(&e))?;
                grow(out, at + len);
                let n = decoder
                    .decompress(input, &mut out[at..at + len])
                    .map_err(|e| corrupt(&e))?;
                Ok(at + n)
            }
            Codec::Zstd => match zstd::zstd_safe::get_frame_content_size(input) {
                Ok(Some(len)) => {
                    let len = usize::try_from(len).map_err(|e| corrupt(&e))?;
                    grow(out, at + len);
                    let n = zstd::bulk::decompress_to_buffer(input, &mut out[at..at + len])
                        .map_err(|e| corrupt(&e))?;
                    Ok(at + n)
                }
                _ => {
                    let mut decoder =
                        zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(&e))?;
                    let mut end = at;
                    loop {
                        if out.len() - end < 64 * 1024 {
                            let room = out.len().max(64 * 1024);
                            out.resize(end + room, 0);
                        }
                        let n = decoder.read(&mut out[end..]).map_err(|e| corrupt(&e))?;
                        if n == 0 {
                            return Ok(end);
                        }
                        end += n;
                    }
                }
            },
        }
    }
}

/// How the values of the current data page are encoded.
enum Values {
    /// Plain values from this byte position on.
    Plain(usize),
    /// Dictionary indices.
    Dict(Rle),
    /// The page holds no values (all NULL).
    Empty,
}

/// What [`Pages::step`] found.
enum Step {
    /// A dictionary page of `count` plain values.
    Dictionary { data: Buffer, count: usize },
    /// The next `k` rows, all in the current data page (`new_page`: its first rows).
    Rows { k: usize, new_page: bool },
}

/// What [`Pages::next`] found.
enum PageKind {
    /// A dictionary page of `count` plain values.
    Dictionary { data: Buffer, count: usize },
    /// A data page, set up for reading.
    Data,
}

/// The pages of one column chunk, read one after another.
struct Pages {
    reader: SerializedPageReader<Chunk>,
    codec: Codec,
    /// Whether the column is optional (definition levels of 1 bit).
    nullable: bool,
    /// Whether plain data pages go into a buffer of their own (string views point into them).
    share_plain: bool,
    /// The current data page (definition levels, then values), decompressed; its length only
    /// grows, `len` is the page's.
    buf: Vec<u8>,
    len: usize,
    /// The current page's bytes when they are shared with the arrays built from them.
    shared: Option<Buffer>,
    levels: Option<Rle>,
    values: Values,
    /// Levels (rows) left in the current page.
    left: usize,
    /// Whether no row of the current data page has been handed out yet.
    fresh: bool,
    /// A buffer for unpacked levels.
    scratch: Vec<u32>,
}

impl Pages {
    /// Reads `chunk` (one read call) and prepares to read its pages.
    fn open(file: &SharedFile, chunk: &ColumnChunkMetaData, rows: usize) -> Result<Pages, Failure> {
        let (start, len) = chunk.byte_range();
        let len = usize::try_from(len).map_err(|e| Failure::Corrupt(e.to_string()))?;
        let mut bytes = vec![0; len];
        file.read_exact_at(&mut bytes, start)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    Failure::Corrupt("the column chunk lies past the end of the file".into())
                }
                _ => Failure::Io(e),
            })?;
        let codec = match chunk.compression() {
            Compression::UNCOMPRESSED => Codec::None,
            Compression::SNAPPY => Codec::Snappy(snap::raw::Decoder::new()),
            Compression::ZSTD(_) => Codec::Zstd,
            other => return Err(Failure::Corrupt(format!("unexpected codec {other}"))),
        };
        // The page reader hands over the pages as stored: this module decompresses them.
        let stored = chunk
            .clone()
            .into_builder()
            .set_compression(Compression::UNCOMPRESSED)
            .build()?;
        let chunk = Arc::new(Chunk {
            start,
            bytes: Bytes::from(bytes),
        });
        let reader = SerializedPageReader::new(chunk, &stored, rows, None)?;
        Ok(Pages {
            reader,
            codec,
            nullable: stored.column_descr().max_def_level() == 1,
            share_plain: false,
            buf: vec![],
            len: 0,
            shared: None,
            levels: None,
            values: Values::Empty,
            left: 0,
            fresh: false,
            scratch: vec![],
        })
    }

    /// The next step of reading `want` more rows (`None` once `want` is 0): a dictionary
    /// page, or the next rows of the current data page, counted as read.
    fn step(&mut self, want: usize) -> Result<Option<Step>, Failure> {
        if want == 0 {
            return Ok(None);
        }
        while self.left == 0 {
            if let PageKind::Dictionary { data, count } = self.next()? {
                return Ok(Some(Step::Dictionary { data, count }));
            }
        }
        let k = want.min(self.left);
        self.left -= k;
        let new_page = std::mem::take(&mut self.fresh);
        Ok(Some(Step::Rows { k, new_page }))
    }

    /// The current page's bytes, its definition levels and its values.
    fn parts(&mut self) -> (&[u8], &mut Option<Rle>, &mut Values) {
        let bytes = match &self.shared {
            Some(b) => b.as_slice(),
            None => &self.buf[..self.len],
        };
        (bytes, &mut self.levels, &mut self.values)
    }

    /// Appends the next `k` rows' validity (1 valid, 0 NULL) to `out`; returns how many are
    /// valid. Every row is valid in a required column.
    fn validity(&mut self, k: usize, out: &mut Vec<u8>) -> Result<usize, Failure> {
        if !self.nullable {
            return Ok(k);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let (bytes, levels, _) = self.parts();
        let levels = levels
            .as_mut()
            .ok_or_else(|| Failure::Corrupt("a page without definition levels".into()))?;
        let valid = levels.read_levels(bytes, k, 1, out, &mut scratch);
        self.scratch = scratch;
        Ok(valid?)
    }

    /// Reads the next page: a dictionary page is returned, a data page is set up for reading.
    fn next(&mut self) -> Result<PageKind, Failure> {
        let page = self.reader.get_next_page()?.ok_or_else(|| {
            Failure::Corrupt("the column chunk ends before its row group's last row".into())
        })?;
        self.shared = None;
        self.levels = None;
        match page {
            Page::DictionaryPage {
                buf,
                num_values,
                encoding,
                ..
            } => {
                if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                    return Err(Failure::Corrupt(format!("a dictionary page in {encoding}")));
                }
                let mut data = vec![];
                let end = self.codec.decompress(&buf, &mut data, 0)?;
                data.truncate(end);
                Ok(PageKind::Dictionary {
                    data: Buffer::from_vec(data),
                    count: num_values as usize,
                })
            }
            Page::DataPage {
                buf,
                num_values,
                encoding,
                def_level_encoding,
                ..
            } => {
                let end = self.fill(&buf, 0, 0, encoding)?;
                let mut pos = 0;
                if self.nullable {
                    if def_level_encoding != Encoding::RLE {
                        return Err(Failure::Corrupt(format!(
                            "definition levels in {def_level_encoding}"
                        )));
                    }
                    let (bytes, levels, _) = self.parts();
                    let header: [u8; 4] = bytes
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| Failure::Corrupt("a page shorter than its levels".into()))?;
                    let len = u32::from_le_bytes(header) as usize;
                    if 4 + len > end {
                        return Err(Failure::Corrupt("levels past the page's end".into()));
                    }
                    *levels = Some(Rle::new(4, 4 + len, 1)?);
                    pos = 4 + len;
                }
                self.start_values(encoding, pos, end, num_values as usize)
            }
            Page::DataPageV2 {
                buf,
                num_values,
                encoding,
                def_levels_byte_len,
                rep_levels_byte_len,
                is_compressed,
                ..
            } => {
                if rep_levels_byte_len != 0 {
                    return Err(Failure::Corrupt(
                        "repetition levels in a flat column".into(),
                    ));
                }
                let levels = def_levels_byte_len as usize;
                if levels > buf.len() {
                    return Err(Failure::Corrupt("levels past the page's end".into()));
                }
                let end = if is_compressed {
                    self.fill(&buf, levels, levels, encoding)?
                } else {
                    let mut codec = Codec::None;
                    std::mem::swap(&mut codec, &mut self.codec);
                    let end = self.fill(&buf, levels, levels, encoding);
                    std::mem::swap(&mut codec, &mut self.codec);
                    end?
                };
                if self.nullable {
                    self.levels = Some(Rle::new(0, levels, 1)?);
                }
                self.start_values(encoding, levels, end, num_values as usize)
            }
        }
    }

    /// Puts a data page's bytes in place: `page[..head]` as stored (levels of a v2 page),
    /// then `page[from..]` decompressed; returns their length.
    fn fill(
        &mut self,
        page: &[u8],
        head: usize,
        from: usize,
        encoding: Encoding,
    ) -> Result<usize, Failure> {
        let shared = self.share_plain && encoding == Encoding::PLAIN;
        let mut fresh = vec![];
        let out = if shared { &mut fresh } else { &mut self.buf };
        if out.len() < head {
            out.resize(head, 0);
        }
        out[..head].copy_from_slice(&page[..head]);
        let end = self.codec.decompress(&page[from..], out, head)?;
        if shared {
            fresh.truncate(end);
            self.shared = Some(Buffer::from_vec(fresh));
        } else {
            self.len = end;
        }
        Ok(end)
    }

    /// Sets up the values of a data page of `count` levels, in `encoding` from `pos` to `end`.
    fn start_values(
        &mut self,
        encoding: Encoding,
        pos: usize,
        end: usize,
        count: usize,
    ) -> Result<PageKind, Failure> {
        self.values = match encoding {
            _ if pos >= end => Values::Empty,
            Encoding::PLAIN => Values::Plain(pos),
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY => {
                let (bytes, ..) = self.parts();
                let width = u32::from(bytes[pos]);
                Values::Dict(Rle::new(pos + 1, end, width)?)
            }
            other => return Err(Failure::Corrupt(format!("values in {other}"))),
        };
        self.left = count;
        self.fresh = true;
        Ok(PageKind::Data)
    }
}

/// Decodes one column, a batch of rows at a time.
trait ColumnDecoder: Send {
    /// The next `n` rows of the column.
    fn read(&mut self, n: usize) -> Result<ArrayRef, Failure>;

    /// The rows `selected` (ascending, below `n`; the TRUE rows of `mask`) of the next `n`.
    fn read_selected(
        &mut self,
        n: usize,
        selected: &[usize],
        mask: &BooleanArray,
    ) -> Result<ArrayRef, Failure> {
        let _ = selected;
        filtered(self.read(n)?, mask)
    }

    /// The values that meet `condition` of the next `n` rows (of those `selected`, if
    /// given), and which of the rows read met it.
    fn read_meeting(
        &mut self,
        n: usize,
        selected: Option<&(Vec<usize>, BooleanArray)>,
        condition: &Condition,
    ) -> Result<(ArrayRef, BooleanBuffer), Failure> {
        let whole = match selected {
            Some((rows, mask)) => self.read_selected(n, rows, mask)?,
            None => self.read(n)?,
        };
        meeting(whole, condition)
    }
}

/// The values of `whole` that meet `condition`, and which did.
fn meeting(whole: ArrayRef, condition: &Condition) -> Result<(ArrayRef, BooleanBuffer), Failure> {
    let met = condition
        .mask(whole.as_ref())
        .map_err(|e| Failure::Corrupt(e.to_string()))?;
    let kept = filtered(whole, &BooleanArray::new(met.clone(), None))?;
    Ok((kept, met))
}

/// The rows of `whole` that `mask` keeps.
fn filtered(whole: ArrayRef, mask: &BooleanArray) -> Result<ArrayRef, Failure> {
    arrow::compute::filter(&whole, mask).map_err(|e| Failure::Corrupt(e.to_string()))
}

/// A fixed-width value as stored (little-endian) and in an Arrow buffer.
trait Word: Copy + Default + Send + arrow::datatypes::ArrowNativeType {
    const SIZE: usize;
    fn from_le(bytes: &[u8]) -> Self;
}

impl Word for u32 {
    const SIZE: usize = 4;
    fn from_le(bytes: &[u8]) -> u32 {
        u32::from_le_bytes(bytes.try_into().unwrap_or_default())
    }
}

impl Word for u64 {
    const SIZE: usize = 8;
    fn from_le(bytes: &[u8]) -> u64 {
        u64::from_le_bytes(bytes.try_into().unwrap_or_default())
    }
}

/// Appends `count` plain values from `bytes[*pos..]` to `out`.
fn plain_words<T: Word>(
    bytes: &[u8],
    pos: &mut usize,
    count: usize,
    out: &mut Vec<T>,
) -> Result<(), Failure> {
    let len = count * T::SIZE;
    let values = bytes
        .get(*pos..*pos + len)
        .ok_or_else(|| Failure::Corrupt("values past the page's end".into()))?;
    out.extend(values.chunks_exact(T::SIZE).map(T::from_le));
    *pos += len;
    Ok(())
}

/// Spreads the `valid` values at the end of `out` over the last `levels.len()` places
/// (where `levels` is 1), filling the others with `fill`.
fn spread<T: Copy>(out: &mut Vec<T>, levels: &[u8], valid: usize, fill: T) {
    let start = out.len() - valid;
    out.resize(start + levels.len(), fill);
    let mut next = start + valid;
    for (i, &level) in levels.iter().enumerate().rev() {
        if level != 0 {
            next -= 1;
            out[start + i] = out[next];
        } else {
            out[start + i] = fill;
        }
    }
}

/// The validity of a batch from its levels, or `None` when every row is valid.
fn nulls(levels: &[u8], valid: usize) -> Option<NullBuffer> {
    (valid < levels.len()).then(|| {
        NullBuffer::new(BooleanBuffer::collect_bool(levels.len(), |i| {
            levels[i] != 0
        }))
    })
}

/// A column of 4- or 8-byte values.
struct Words<T: Word> {
    pages: Pages,
    target: DataType,
    dict: Vec<T>,
    levels: Vec<u8>,
}

impl<T: Word> Words<T> {
    fn new(pages: Pages, target: &DataType) -> Words<T> {
        Words {
            pages,
            target: target.clone(),
            dict: vec![],
            levels: vec![],
        }
    }

    /// Appends the current page's next `count` values to `out`.
    fn values(&mut self, count: usize, out: &mut Vec<T>) -> Result<(), Failure> {
        let (bytes, _, values) = self.pages.parts();
        match values {
            Values::Plain(pos) => plain_words(bytes, pos, count, out),
            Values::Dict(rle) => Ok(rle.gather(bytes, count, &self.dict, out)?),
            Values::Empty if count == 0 => Ok(()),
            Values::Empty => Err(Failure::Corrupt(
                "a page with fewer values than rows".into(),
            )),
        }
    }
}

impl<T: Word> ColumnDecoder for Words<T> {
    fn read(&mut self, n: usize) -> Result<ArrayRef, Failure> {
        let mut out: Vec<T> = Vec::with_capacity(n);
        self.levels.clear();
        let mut valid = 0;
        while let Some(step) = self.pages.step(n - out.len())? {
            let k = match step {
                Step::Dictionary { data, count } => {
                    self.dictionary(data, count)?;
                    continue;
                }
                Step::Rows { k, .. } => k,
            };
            let from = self.levels.len();
            let v = self.pages.validity(k, &mut self.levels)?;
            self.values(v, &mut out)?;
            if v < k {
                spread(&mut out, &self.levels[from..], v, T::default());
            }
            valid += v;
        }
        let nulls = if self.pages.nullable {
            nulls(&self.levels, valid)
        } else {
            None
        };
        self.array(out, nulls)
    }

    fn read_selected(
        &mut self,
        n: usize,
        selected: &[usize],
        mask: &BooleanArray,
    ) -> Result<ArrayRef, Failure> {
        if self.pages.nullable {
            return filtered(self.read(n)?, mask);
        }
        let mut out: Vec<T> = Vec::with_capacity(selected.len());
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let k = match step {
                Step::Dictionary { data, count } => {
                    self.dictionary(data, count)?;
                    continue;
                }
                Step::Rows { k, .. } => k,
            };
            let end = s + selected[s..].partition_point(|&i| i < done + k);
            let part = &selected[s..end];
            let (bytes, _, values) = self.pages.parts();
            match values {
                Values::Plain(pos) => {
                    let page = bytes
                        .get(*pos..*pos + k * T::SIZE)
                        .ok_or_else(|| Failure::Corrupt("values past the page's end".into()))?;
                    out.extend(part.iter().map(|&i| {
                        let at = (i - done) * T::SIZE;
                        T::from_le(&page[at..at + T::SIZE])
                    }));
                    *pos += k * T::SIZE;
                }
                Values::Dict(rle) => {
                    rle.gather_selected(bytes, k, done, part, &self.dict, &mut out)?
                }
                Values::Empty => {
                    return Err(Failure::Corrupt(
                        "a page with fewer values than rows".into(),
                    ))
                }
            }
            s = end;
            done += k;
        }
        self.array(out, None)
    }
}

impl<T: Word> Words<T> {
    /// Reads a dictionary of `count` plain values.
    fn dictionary(&mut self, data: Buffer, count: usize) -> Result<(), Failure> {
        self.dict.clear();
        plain_words(data.as_slice(), &mut 0, count, &mut self.dict)
    }

    /// The column of `values` (each row's, 0 where NULL) and `nulls`.
    fn array(&self, values: Vec<T>, nulls: Option<NullBuffer>) -> Result<ArrayRef, Failure> {
        let data = arrow::array::ArrayData::builder(self.target.clone())
            .len(values.len())
            .add_buffer(Buffer::from_vec(values))
            .nulls(nulls)
            .build()
            .map_err(|e| Failure::Corrupt(e.to_string()))?;
        Ok(make_array(data))
    }
}

/// A `BYTE_ARRAY` column read as string or binary views.
struct Views {
    pages: Pages,
    utf8: bool,
    /// The dictionary's bytes and a view of each entry into them (buffer 0 of every batch).
    dict: Option<(Buffer, Vec<u128>)>,
    levels: Vec<u8>,
    /// The data buffers of the batch being built, and the index among them of the current
    /// plain page's bytes.
    buffers: Vec<Buffer>,
    page_buffer: Option<u32>,
    /// Each dictionary entry's number, and whether it meets the condition a prefilter checks
    /// on this column (computed once per dictionary, on first use).
    ids: Vec<u32>,
    met: Option<Vec<bool>>,
}

impl Views {
    fn new(mut pages: Pages, utf8: bool) -> Views {
        pages.share_plain = true;
        Views {
            pages,
            utf8,
            dict: None,
            levels: vec![],
            buffers: vec![],
            page_buffer: None,
            ids: vec![],
            met: None,
        }
    }

    /// Reads a dictionary of `count` plain byte arrays.
    fn dictionary(&mut self, data: Buffer, count: usize) -> Result<(), Failure> {
        let mut views = Vec::with_capacity(count);
        let mut pos = 0;
        plain_views(data.as_slice(), &mut pos, count, 0, self.utf8, &mut views)?;
        if !self.buffers.is_empty() {
            return Err(Failure::Corrupt(
                "a dictionary page after data pages".into(),
            ));
        }
        self.buffers.push(data.clone());
        self.ids = (0..views.len() as u32).collect();
        self.met = None;
        self.dict = Some((data, views));
        Ok(())
    }

    /// Appends the current page's next `count` values to `out`.
    fn values(&mut self, count: usize, out: &mut Vec<u128>) -> Result<(), Failure> {
        if let (Values::Plain(_), None) = (&self.pages.values, self.page_buffer) {
            let shared = self
                .pages
                .shared
                .clone()
                .ok_or_else(|| Failure::Corrupt("a plain page without its bytes".into()))?;
            self.page_buffer = Some(self.buffers.len() as u32);
            self.buffers.push(shared);
        }
        let (bytes, _, values) = self.pages.parts();
        match values {
            Values::Plain(pos) => {
                let block = self.page_buffer.unwrap_or_default();
                plain_views(bytes, pos, count, block, self.utf8, out)
            }
            Values::Dict(rle) => {
                let dict = self.dict.as_ref().map(|(_, v)| v.as_slice()).unwrap_or(&[]);
                Ok(rle.gather(bytes, count, dict, out)?)
            }
            Values::Empty if count == 0 => Ok(()),
            Values::Empty => Err(Failure::Corrupt(
                "a page with fewer values than rows".into(),
            )),
        }
    }
}

/// Appends views of `count` plain byte arrays in `bytes[*pos..]` (data buffer `block`).
fn plain_views(
    bytes: &[u8],
    pos: &mut usize,
    count: usize,
    block: u32,
    utf8: bool,
    out: &mut Vec<u128>,
) -> Result<(), Failure> {
    let past_end = || Failure::Corrupt("a string past the page's end".into());
    if u32::try_from(bytes.len()).is_err() {
        return Err(Failure::Corrupt("a page of more than 4 GiB".into()));
    }
    out.reserve(count);
    let first = *pos;
    let mut p = first;
    // Whether every value starts and ends on what is a character boundary if the values and
    // their length prefixes together are UTF-8 (a byte that is not a continuation byte).
    let mut boundaries = true;
    let boundary = |at: usize| bytes.get(at).is_none_or(|&b| (b as i8) >= -0x40);
    for _ in 0..count {
        let header = bytes.get(p..p + 4).ok_or_else(past_end)?;
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let start = p + 4;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(past_end)?;
        out.push(make_view(&bytes[start..end], block, start as u32));
        boundaries &= boundary(start) & boundary(end);
        p = end;
    }
    *pos = p;
    if !utf8 {
        return Ok(());
    }
    // The values and their prefixes checked as one text (UTF-8 whenever every length is below
    // 128): with every value on character boundaries, each value is UTF-8 too. Otherwise each
    // value is checked alone.
    if boundaries && std::str::from_utf8(&bytes[first..p]).is_ok() {
        return Ok(());
    }
    let mut p = first;
    for _ in 0..count {
        let len = u32::from_le_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]) as usize;
        if std::str::from_utf8(&bytes[p + 4..p + 4 + len]).is_err() {
            return Err(Failure::NotUtf8);
        }
        p += 4 + len;
    }
    Ok(())
}

impl ColumnDecoder for Views {
    fn read(&mut self, n: usize) -> Result<ArrayRef, Failure> {
        let mut out: Vec<u128> = Vec::with_capacity(n);
        self.start_batch();
        let mut valid = 0;
        while let Some(step) = self.pages.step(n - out.len())? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let from = self.levels.len();
            let v = self.pages.validity(k, &mut self.levels)?;
            self.values(v, &mut out)?;
            if v < k {
                spread(&mut out, &self.levels[from..], v, 0);
            }
            valid += v;
        }
        let nulls = if self.pages.nullable {
            nulls(&self.levels, valid)
        } else {
            None
        };
        Ok(self.array(out, nulls))
    }

    fn read_selected(
        &mut self,
        n: usize,
        selected: &[usize],
        mask: &BooleanArray,
    ) -> Result<ArrayRef, Failure> {
        if self.pages.nullable {
            return filtered(self.read(n)?, mask);
        }
        let mut out: Vec<u128> = Vec::with_capacity(selected.len());
        let mut page = vec![];
        self.start_batch();
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let end = s + selected[s..].partition_point(|&i| i < done + k);
            let part = &selected[s..end];
            if let Values::Dict(_) = self.pages.values {
                let dict = self.dict.as_ref().map(|(_, v)| v.as_slice()).unwrap_or(&[]);
                let (bytes, _, values) = self.pages.parts();
                if let Values::Dict(rle) = values {
                    rle.gather_selected(bytes, k, done, part, dict, &mut out)?;
                }
            } else {
                // Plain values are parsed one after another: all of them, keeping some.
                page.clear();
                self.values(k, &mut page)?;
                out.extend(part.iter().map(|&i| page[i - done]));
            }
            s = end;
            done += k;
        }
        Ok(self.array(out, None))
    }

    /// Dictionary-encoded pages check the condition once per dictionary entry and then look
    /// each row's entry up; plain pages check the rows' values.
    fn read_meeting(
        &mut self,
        n: usize,
        selected: Option<&(Vec<usize>, BooleanArray)>,
        condition: &Condition,
    ) -> Result<(ArrayRef, BooleanBuffer), Failure> {
        if self.pages.nullable || !self.utf8 {
            let whole = match selected {
                Some((rows, mask)) => self.read_selected(n, rows, mask)?,
                None => self.read(n)?,
            };
            return meeting(whole, condition);
        }
        let mut out: Vec<u128> = vec![];
        let mut met = BooleanBufferBuilder::new(selected.map_or(n, |(rows, _)| rows.len()));
        let mut indices: Vec<u32> = vec![];
        let mut page = vec![];
        self.start_batch();
        let mut done = 0;
        let mut s = 0;
        while let Some(step) = self.pages.step(n - done)? {
            let Some(k) = self.rows(step)? else {
                continue;
            };
            let part = selected.map(|(rows, _)| {
                let end = s + rows[s..].partition_point(|&i| i < done + k);
                let part = &rows[s..end];
                s = end;
                part
            });
            if let Values::Dict(_) = self.pages.values {
                let Some((data, views)) = &self.dict else {
                    return Err(Failure::Corrupt(
                        "dictionary indices without a dictionary".into(),
                    ));
                };
                if self.met.is_none() {
                    let buffers: Arc<[Buffer]> = Arc::new([data.clone()]);
                    // SAFETY: the dictionary's views were made by `make_view` from its bytes
                    // (buffer 0), checked to be UTF-8 (string conditions are only on text).
                    let entries = unsafe {
                        StringViewArray::new_unchecked(views.clone().into(), buffers, None)
                    };
                    let entries_met = condition
                        .mask(&entries)
                        .map_err(|e| Failure::Corrupt(e.to_string()))?;
                    self.met = Some(entries_met.iter().collect());
                }
                let entries_met = self.met.as_deref().unwrap_or(&[]);
                indices.clear();
                let (bytes, _, values) = self.pages.parts();
                if let Values::Dict(rle) = values {
                    match part {
                        Some(part) => {
                            rle.gather_selected(bytes, k, done, part, &self.ids, &mut indices)?
                        }
                        None => rle.gather(bytes, k, &self.ids, &mut indices)?,
                    }
                }
                // 64 rows to a word: which met the condition, then the views of those.
                for chunk in indices.chunks(64) {
                    let word = chunk.iter().enumerate().fold(0u64, |word, (j, &i)| {
                        word | (u64::from(entries_met[i as usize]) << j)
                    });
                    met.append_packed_range(0..chunk.len(), &word.to_le_bytes());
                    let mut rest = word;
                    while rest != 0 {
                        out.push(views[chunk[rest.trailing_zeros() as usize] as usize]);
                        rest &= rest - 1;
                    }
                }
            } else {
                page.clear();
                self.values(k, &mut page)?;
                let rows: Vec<u128> = match part {
                    Some(part) => part.iter().map(|&i| page[i - done]).collect(),
                    None => page.clone(),
                };
                let buffers: Arc<[Buffer]> = self.buffers.clone().into();
                // SAFETY: the views were made by `make_view` from this batch's buffers (the
                // plain page's was added by `values`), checked to be UTF-8.
                let checked =
                    unsafe { StringViewArray::new_unchecked(rows.clone().into(), buffers, None) };
                let rows_met = condition
                    .mask(&checked)
                    .map_err(|e| Failure::Corrupt(e.to_string()))?;
                met.append_buffer(&rows_met);
                out.extend(rows_met.set_indices().map(|j| rows[j]));
            }
            done += k;
        }
        Ok((self.array(out, None), met.finish()))
    }
}

impl Views {
    /// Takes a dictionary page, or returns the number of rows to read of a data page (whose
    /// plain bytes, on its first rows, are not among this batch's buffers yet).
    fn rows(&mut self, step: Step) -> Result<Option<usize>, Failure> {
        match step {
            Step::Dictionary { data, count } => {
                self.dictionary(data, count)?;
                Ok(None)
            }
            Step::Rows { k, new_page } => {
                if new_page {
                    self.page_buffer = None;
                }
                Ok(Some(k))
            }
        }
    }

    /// Starts the data buffers of a new batch: the dictionary's (if any) at index 0.
    fn start_batch(&mut self) {
        self.levels.clear();
        self.buffers.clear();
        self.page_buffer = None;
        if let Some((data, _)) = &self.dict {
            self.buffers.push(data.clone());
        }
    }

    /// The array of `out`, views into this batch's data buffers, and `nulls`.
    fn array(&mut self, out: Vec<u128>, nulls: Option<NullBuffer>) -> ArrayRef {
        let views = ScalarBuffer::from(out);
        let buffers: Arc<[Buffer]> = std::mem::take(&mut self.buffers).into();
        // SAFETY: every view was made by `make_view` from bytes of the buffer it names (the
        // dictionary's at index 0, each plain page's at the index it was given), and those
        // bytes were checked to be UTF-8 when `utf8`.
        if self.utf8 {
            Arc::new(unsafe { StringViewArray::new_unchecked(views, buffers, nulls) })
        } else {
            Arc::new(unsafe { BinaryViewArray::new_unchecked(views, buffers, nulls) })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Array, BinaryViewArray, BooleanArray, Date32Array, Decimal128Array, Float32Array,
        Float64Array, Int16Array, Int32Array, Int64Array, RecordBatch, StringArray,
        StringViewArray,
    };
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::{ArrowWriter, ProjectionMask};
    use parquet::basic::{Compression, GzipLevel, ZstdLevel};
    use parquet::file::properties::{WriterProperties, WriterVersion};

    use super::RowGroupBatches;
    use crate::exec::predicate::Condition;
    use crate::exec::source::{open_parquet, BATCH_SIZE};

    /// A small deterministic generator.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// `rows` rows of every type the decoder reads and two it leaves to arrow-rs (`Int16`,
    /// `Utf8`): optional columns with about `nulls` in 8 NULL, values from domains of
    /// `distinct` values (small: dictionaries; large: dictionaries that overflow into plain
    /// pages), strings short and long, ASCII and not.
    fn table(rows: usize, nulls: u64, distinct: u64, seed: u64) -> RecordBatch {
        let mut rng = Rng(seed | 1);
        let maybe = |rng: &mut Rng| rng.below(8) >= nulls;
        let words = [
            "",
            "a",
            "MAIL",
            "DELIVER IN PERSON",
            "exactly12byt",
            "über straße ✓",
        ];
        let mut i32s = vec![];
        let mut dates = vec![];
        let mut i64s = vec![];
        let mut decimals = vec![];
        let mut f32s = vec![];
        let mut f64s = vec![];
        let mut strings = vec![];
        let mut binaries = vec![];
        let mut i16s = vec![];
        let mut utf8 = vec![];
        let mut required = vec![];
        for _ in 0..rows {
            let v = rng.below(distinct);
            i32s.push(maybe(&mut rng).then_some(v as i32 - 7));
            dates.push(Some(9_000 + (v % 2_500) as i32));
            i64s.push(Some((v as i64) * 1_000_003 - 5));
            decimals.push(maybe(&mut rng).then_some(v as i128 * 101));
            f32s.push(maybe(&mut rng).then_some(v as f32 / 3.0));
            f64s.push(Some(if v == 3 { f64::NAN } else { -(v as f64) / 7.0 }));
            let word = words[(v % words.len() as u64) as usize];
            let text = if v.is_multiple_of(3) {
                format!("{word}{v}")
            } else {
                word.to_string()
            };
            strings.push(maybe(&mut rng).then_some(text.clone()));
            binaries.push(Some(text.clone().into_bytes()));
            i16s.push(maybe(&mut rng).then_some(v as i16));
            required.push(text.clone());
            utf8.push(Some(text));
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("i32", DataType::Int32, true),
            Field::new("date", DataType::Date32, false),
            Field::new("i64", DataType::Int64, false),
            Field::new("dec", DataType::Decimal128(15, 2), true),
            Field::new("f32", DataType::Float32, true),
            Field::new("f64", DataType::Float64, false),
            Field::new("s", DataType::Utf8View, true),
            Field::new("b", DataType::BinaryView, false),
            Field::new("i16", DataType::Int16, true),
            Field::new("utf8", DataType::Utf8, false),
            Field::new("sv", DataType::Utf8View, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(i32s)),
                Arc::new(Date32Array::from(dates)),
                Arc::new(Int64Array::from(i64s)),
                Arc::new(
                    Decimal128Array::from(decimals)
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
                Arc::new(Float32Array::from(f32s)),
                Arc::new(Float64Array::from(f64s)),
                Arc::new(StringViewArray::from_iter(strings)),
                Arc::new(BinaryViewArray::from_iter(binaries)),
                Arc::new(Int16Array::from(i16s)),
                Arc::new(StringArray::from_iter(utf8)),
                Arc::new(StringViewArray::from_iter_values(required)),
            ],
        )
        .unwrap()
    }

    /// Writes `batch` to the Parquet file `path` with `properties`.
    fn write(path: &std::path::Path, batch: &RecordBatch, properties: WriterProperties) {
        let file = std::fs::File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
        writer.write(batch).unwrap();
        writer.close().unwrap();
    }

    /// Writes `batch` with `properties` and checks that every row group, projected to each of
    /// `projections`, decodes here to exactly the batches the arrow-rs reader returns; returns
    /// how many (projection, row group) pairs were decoded here.
    fn same_as_arrow(
        batch: &RecordBatch,
        properties: WriterProperties,
        projections: &[&[usize]],
    ) -> usize {
        let mut decoded = 0;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path, batch, properties);
        let (file, metadata) = open_parquet(&path).unwrap();
        let descr = metadata.metadata().file_metadata().schema_descr_ptr();
        for columns in projections {
            for group in 0..metadata.metadata().num_row_groups() {
                let arrow = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    file.clone(),
                    metadata.clone(),
                )
                .with_row_groups(vec![group])
                .with_projection(ProjectionMask::roots(&descr, columns.iter().copied()))
                .with_batch_size(BATCH_SIZE)
                .build()
                .unwrap();
                let schema = arrow::record_batch::RecordBatchReader::schema(&arrow);
                let expected: Vec<RecordBatch> = arrow.map(Result::unwrap).collect();
                // Chunks in encodings it does not read (a version 2 writer's fallback from
                // dictionaries to DELTA_*) are left to arrow-rs.
                let Some(ours) = RowGroupBatches::try_new(
                    &file, &path, &metadata, group, columns, &schema, None,
                )
                .unwrap() else {
                    continue;
                };
                decoded += 1;
                let ours: Vec<RecordBatch> = ours.map(Result::unwrap).collect();
                assert_eq!(ours.len(), expected.len(), "{columns:?}, group {group}");
                for (ours, expected) in ours.iter().zip(&expected) {
                    assert_eq!(ours.schema(), expected.schema());
                    for (c, (a, b)) in ours.columns().iter().zip(expected.columns()).enumerate() {
                        assert_eq!(a.data_type(), b.data_type(), "column {c}");
                        assert_eq!(a.to_data(), b.to_data(), "{columns:?}, column {c}");
                    }
                }
                // Some rows of each batch: none, a few, runs, nearly all; with the others
                // decoded as they are skipped.
                let mut batches = RowGroupBatches::try_new(
                    &file, &path, &metadata, group, columns, &schema, None,
                )
                .unwrap()
                .unwrap();
                for (b, expected) in expected.iter().enumerate() {
                    let n = expected.num_rows();
                    let rows: Vec<usize> = (0..n)
                        .filter(|i| match b % 4 {
                            0 => false,
                            1 => (i * 7 + b) % 23 == 0,
                            2 => i / 300 % 2 == 1,
                            _ => i % 11 != 3,
                        })
                        .collect();
                    let mut mask = vec![false; n];
                    for &r in &rows {
                        mask[r] = true;
                    }
                    let selected = (rows, BooleanArray::from(mask));
                    let others = batches.others.as_mut().map(|r| r.next().unwrap().unwrap());
                    for (c, slot) in batches.columns.iter_mut().enumerate() {
                        let ours = super::read(slot, n, Some(&selected), &others, "t").unwrap();
                        let theirs =
                            arrow::compute::filter(expected.column(c), &selected.1).unwrap();
                        assert_eq!(
                            ours.to_data(),
                            theirs.to_data(),
                            "{columns:?}, column {c}, batch {b}"
                        );
                    }
                }
                // The values that meet a condition, of every row or of the selected ones, and
                // which rows met it (for a string column: from its dictionary or plain pages).
                let mut batches = RowGroupBatches::try_new(
                    &file, &path, &metadata, group, columns, &schema, None,
                )
                .unwrap()
                .unwrap();
                for (b, expected) in expected.iter().enumerate() {
                    let n = expected.num_rows();
                    let mask: Vec<bool> = (0..n).map(|i| (i + b) % 3 != 0).collect();
                    let rows: Vec<usize> = (0..n).filter(|&i| mask[i]).collect();
                    let selected = (rows, BooleanArray::from(mask));
                    let selected = (b % 2 == 1).then_some(&selected);
                    let others = batches.others.as_mut().map(|r| r.next().unwrap().unwrap());
                    for (c, slot) in batches.columns.iter_mut().enumerate() {
                        let column = expected.column(c);
                        let condition = match column.data_type() {
                            DataType::Utf8View | DataType::Utf8 => Condition::Strings(
                                ["MAIL", "DELIVER IN PERSON", "a", "über straße ✓", "a3"]
                                    .iter()
                                    .map(|s| s.to_string())
                                    .collect(),
                            ),
                            DataType::Int32
                            | DataType::Int64
                            | DataType::Date32
                            | DataType::Decimal64(..) => Condition::Range(-3, 9_500),
                            _ => {
                                super::read(slot, n, selected, &others, "t").unwrap();
                                continue;
                            }
                        };
                        let (kept, met) =
                            super::read_meeting(slot, n, selected, &condition, &others, "t")
                                .unwrap();
                        let rows = match selected {
                            Some((_, mask)) => arrow::compute::filter(column, mask).unwrap(),
                            None => column.clone(),
                        };
                        let expected_met = condition.mask(rows.as_ref()).unwrap();
                        let expected_kept = arrow::compute::filter(
                            &rows,
                            &BooleanArray::new(expected_met.clone(), None),
                        )
                        .unwrap();
                        assert_eq!(met, expected_met, "{columns:?}, column {c}, batch {b}");
                        assert_eq!(kept.to_data(), expected_kept.to_data(), "column {c}");
                    }
                }
            }
        }
        decoded
    }

    const ALL: &[usize] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    #[test]
    fn every_type_encoding_page_version_and_codec_decodes_as_arrow_does() {
        let projections: &[&[usize]] = &[ALL, &[0, 2, 6], &[3], &[7, 8], &[5, 9], &[6, 10]];
        for (seed, (nulls, distinct)) in
            [(0, 40), (3, 40), (8, 40), (2, 100_000)].iter().enumerate()
        {
            let batch = table(30_000, *nulls, *distinct, seed as u64 + 11);
            for version in [WriterVersion::PARQUET_1_0, WriterVersion::PARQUET_2_0] {
                for compression in [
                    Compression::UNCOMPRESSED,
                    Compression::SNAPPY,
                    Compression::ZSTD(ZstdLevel::default()),
                ] {
                    let properties = WriterProperties::builder()
                        .set_writer_version(version)
                        .set_compression(compression)
                        .set_max_row_group_row_count(Some(12_345))
                        .set_data_page_row_count_limit(3_000)
                        .set_dictionary_page_size_limit(2_048)
                        .build();
                    let decoded = same_as_arrow(&batch, properties, projections);
                    // Version 1 pages fall back from dictionaries to PLAIN: all decoded here.
                    let all = projections.len() * 30_000usize.div_ceil(12_345);
                    match version {
                        WriterVersion::PARQUET_1_0 => assert_eq!(decoded, all),
                        _ => assert!(decoded > 0),
                    }
                }
            }
            let plain = WriterProperties::builder()
                .set_dictionary_enabled(false)
                .set_max_row_group_row_count(Some(20_000))
                .build();
            assert_eq!(
                same_as_arrow(&batch, plain, projections),
                2 * projections.len()
            );
        }
    }

    #[test]
    fn columns_it_cannot_read_are_left_to_arrow() {
        // Gzip: every column is read by arrow-rs, so the decoder declines the row group.
        let batch = table(1_000, 1, 10, 5);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let properties = WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
            .build();
        write(&path, &batch, properties);
        let (file, metadata) = open_parquet(&path).unwrap();
        let schema = Arc::new(metadata.schema().project(&[0, 2]).unwrap());
        assert!(
            RowGroupBatches::try_new(&file, &path, &metadata, 0, &[0, 2], &schema, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn corrupt_pages_are_errors_not_panics() {
        let batch = table(20_000, 2, 300, 9);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        for compression in [Compression::UNCOMPRESSED, Compression::SNAPPY] {
            let properties = WriterProperties::builder()
                .set_compression(compression)
                .set_data_page_row_count_limit(2_000)
                .build();
            write(&path, &batch, properties);
            let good = std::fs::read(&path).unwrap();
            let (_, metadata) = open_parquet(&path).unwrap();
            let group = metadata.metadata().row_group(0);
            let mut rng = Rng(77);
            let mut failures = 0;
            for c in 0..8 {
                let (start, len) = group.column(c).byte_range();
                for _ in 0..12 {
                    let mut bad = good.clone();
                    let at = (start + rng.below(len)) as usize;
                    bad[at] ^= 1 << rng.below(8);
                    std::fs::write(&path, &bad).unwrap();
                    let (file, metadata) = open_parquet(&path).unwrap();
                    let schema = Arc::new(metadata.schema().project(&[c]).unwrap());
                    // A flipped bit may go unnoticed (a value changes); it must never panic.
                    let read =
                        RowGroupBatches::try_new(&file, &path, &metadata, 0, &[c], &schema, None)
                            .and_then(|b| b.expect("decoded here").collect::<Result<Vec<_>, _>>());
                    if let Err(e) = read {
                        failures += 1;
                        assert!(e.to_string().contains("t.parquet"), "{e}");
                    }
                }
            }
            assert!(failures > 0, "no corruption was noticed");
        }
    }

    #[test]
    fn prefiltered_scans_answer_as_unfiltered_ones() {
        use crate::exec::{self, EngineKind, QueryOptions, Source};
        // Columns of every type a range prefilter reads, optional and required, with values
        // at the edges of their types; the in-memory source is never prefiltered.
        let rows = 40_000i64;
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("d", DataType::Date32, false),
            Field::new("x", DataType::Int64, false),
            Field::new("m", DataType::Decimal64(12, 2), false),
            Field::new("s", DataType::Utf8View, false),
        ]));
        let x = |i: i64| match i % 1000 {
            0 => i64::MIN,
            1 => i64::MAX,
            _ => i * 7919 % 100_003,
        };
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from_iter((0..rows).map(|i| {
                    (i % 13 != 0).then_some(((i * 31) % 2001 - 1000) as i32)
                }))),
                Arc::new(Date32Array::from_iter_values(
                    (0..rows).map(|i| (i % 3000) as i32),
                )),
                Arc::new(Int64Array::from_iter_values((0..rows).map(x))),
                Arc::new(
                    arrow::array::Decimal64Array::from_iter_values((0..rows).map(|i| i % 977))
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
                Arc::new(StringViewArray::from_iter_values((0..rows).map(
                    |i| match i % 3 {
                        0 => format!("row {i}"),
                        1 => format!("a longer row, number {}", i % 50),
                        _ => ["", "AIR", "exactly12byt"][(i % 7 % 3) as usize].to_string(),
                    },
                ))),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(15_000))
            .build();
        write(&path, &batch, properties);
        let parquet = Source::Parquet {
            name: "t".into(),
            path: path.clone(),
        };
        let memory = Source::batches("t", schema, vec![batch]);
        let queries = [
            "SELECT count(*) AS n, sum(x) AS s FROM t WHERE d >= DATE '1970-01-10' AND d < DATE '1970-01-12'",
            "SELECT k, s FROM t WHERE k = 7 OR k = 8",
            "SELECT s, k FROM t WHERE k >= -3 AND 3 >= k AND d <= DATE '1975-01-01'",
            "SELECT count(*) AS n FROM t WHERE x > 9223372036854775806",
            "SELECT count(*) AS n FROM t WHERE x < -9223372036854775807 AND k IS NULL",
            "SELECT count(*) AS n FROM t WHERE x > 9223372036854775807",
            "SELECT count(*) AS n, min(s) AS lo FROM t WHERE m BETWEEN 1.00 AND 1.05",
            "SELECT count(*) AS n FROM t WHERE m > 0.5 AND x > 10",
            "SELECT sum(k) AS s FROM t WHERE d > DATE '1970-01-01' AND d < DATE '1970-01-01'",
            "SELECT s FROM t WHERE x = 5 AND s LIKE 'row 1%' ORDER BY s",
            "SELECT count(*) AS n FROM t WHERE 500 < x AND x <= 501 + 0",
            "SELECT count(*) AS n, min(x) AS lo FROM t WHERE s IN ('AIR', 'exactly12byt', 'a longer row, number 7')",
            "SELECT count(*) AS n FROM t WHERE s = '' OR s = 'a longer row, number 49'",
            "SELECT count(*) AS n FROM t WHERE s = 'a longer row, number 4' AND s = 'AIR'",
            "SELECT k, x FROM t WHERE (s = 'AIR' AND k <= 11) OR (s IN ('row 30', 'AIR') AND k >= 990) ORDER BY k, x",
            "SELECT count(*) AS n FROM t WHERE (k BETWEEN 1 AND 5 OR k BETWEEN 100 AND 105) AND d < DATE '1970-02-01'",
            "SELECT count(*) AS n FROM t WHERE k IN (3, 4, 900) AND s <> 'AIR'",
            "SELECT count(*) AS n FROM t WHERE NOT (k > 5) AND x >= 0",
        ];
        for sql in queries {
            for engine in [EngineKind::Interp, EngineKind::Auto] {
                let run = |source: &Source, threads: usize| {
                    let options = QueryOptions {
                        engine,
                        threads: Some(threads),
                        ..Default::default()
                    };
                    match exec::run(source, sql, &options) {
                        Ok(r) => arrow::util::pretty::pretty_format_batches(&r.batches)
                            .unwrap()
                            .to_string(),
                        Err(e) => format!("error: {e}"),
                    }
                };
                let expected = run(&memory, 1);
                assert!(!expected.starts_with("error"), "{sql}: {expected}");
                for threads in [1, 3] {
                    assert_eq!(
                        run(&parquet, threads),
                        expected,
                        "{sql} on {threads} threads"
                    );
                }
            }
        }
    }

    #[test]
    fn where_clauses_give_the_conditions_their_rows_need() {
        use crate::exec::predicate::{Condition, Necessary};
        use crate::exec::{plan, Source};
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, true),
            Field::new("d", DataType::Date32, false),
            Field::new("s", DataType::Utf8View, false),
            Field::new("f", DataType::Float64, false),
        ]));
        let source = Source::batches("t", schema, vec![]);
        let of = |sql: &str| {
            let plan = plan(&source, &format!("SELECT count(*) FROM t WHERE {sql}")).unwrap();
            Necessary::of(plan.filter.as_ref().unwrap(), &plan.projection)
                .map(|n| n.columns.into_iter().zip(n.conditions).collect::<Vec<_>>())
        };
        let strings = |s: &[&str]| Condition::Strings(s.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            of("k >= 3 AND 10 > k AND d = DATE '1970-01-05'"),
            Some(vec![
                (0, Condition::Range(3, 9)),
                (1, Condition::Range(4, 4))
            ])
        );
        assert_eq!(
            of("(s = 'AIR' AND k < 5) OR (s IN ('MAIL', 'AIR') AND k > 20 AND f > 1)"),
            Some(vec![(2, strings(&["AIR", "MAIL"]))])
        );
        assert_eq!(
            of("(k BETWEEN 1 AND 11 OR k BETWEEN 20 AND 30) AND s = 'x'"),
            Some(vec![(0, Condition::Range(1, 30)), (2, strings(&["x"]))])
        );
        // Nothing that one column's values decide: no conditions.
        assert_eq!(of("k < 3 OR s = 'AIR'"), None);
        assert_eq!(of("NOT (k < 3)"), None);
        assert_eq!(of("k <> 3 AND f < 2"), None);
        assert_eq!(of("k IN (1, 2) OR k IS NULL"), None);
        assert_eq!(
            of("k IN (7, 2, 5)"),
            Some(vec![(0, Condition::Range(2, 7))])
        );
    }

    #[test]
    fn plain_strings_are_checked_to_be_utf8_one_by_one() {
        let plain = |values: &[&[u8]]| {
            let mut out = vec![];
            for v in values {
                out.extend((v.len() as u32).to_le_bytes());
                out.extend(*v);
            }
            out
        };
        let all_utf8 = |page: Vec<u8>, count: usize| {
            super::plain_views(&page, &mut 0, count, 0, true, &mut vec![]).is_ok()
        };
        let long = "ü".repeat(100);
        assert!(all_utf8(
            plain(&[b"", "straße".as_bytes(), long.as_bytes()]),
            3
        ));
        assert!(all_utf8(plain(&["straße".as_bytes(), "✓".as_bytes()]), 2));
        // A value ending in the first byte of "é" (0xC3) whose next length (169 = 0xA9)
        // completes it in the text of the whole page: the value alone is not UTF-8.
        let cut = [b'a', 0xC3];
        let next = vec![b'x'; 169];
        assert!(!all_utf8(plain(&[&cut, &next]), 2));
        assert!(!all_utf8(plain(&[b"ok", &[0xFF]]), 2));
        let mut lone = vec![b'y'; 200];
        lone[199] = 0xE2;
        assert!(!all_utf8(plain(&[&lone, b"z"]), 2));
    }
}
