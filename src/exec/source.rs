//! Sources of record batches: a Parquet, CSV or Arrow IPC file streamed batch by batch, or
//! batches in memory.
//!
//! A source has a table name (the `FROM` name), an Arrow schema, and yields the batches of a
//! projection of its columns. Files are opened read-only and decoded lazily: only the
//! projected columns, one batch at a time, so memory is bounded by the batch size (an Arrow IPC
//! stream, which has no index, is read whole when the query opens it; module `files`).
//!
//! For parallel execution a scan is split into morsels ([`Scan`]): a Parquet file's row groups
//! (a large one in parts, [`split_row_group`]),
//! a CSV file's byte ranges, an Arrow IPC file's record batches, or runs of in-memory batches
//! (sliced into [`BATCH_SIZE`] rows) of about [`MORSEL_ROWS`] rows.
//! Morsels are read independently, and their order depends only on the data, never on the
//! number of threads.

use std::fs::File;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use std::sync::{Arc, Mutex};

use arrow::array::BooleanArray;
use arrow::datatypes::{DataType, FieldRef, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::{RecordBatch, RecordBatchReader};
use parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions,
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowFilter, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::basic::Type as PhysicalType;
use parquet::errors::ParquetError;
use parquet::file::metadata::PageIndexPolicy;
use parquet::schema::types::SchemaDescriptor;

use super::decode::RowGroupBatches;
use super::files::{self, CsvInput, CsvOptions, FileKind, IpcInput};
use super::predicate::Necessary;
use super::prune::prune;
use super::shared_file::SharedFile;
use super::topn::Threshold;
use crate::error::{Error, Result};
use crate::ir::{Expr, DECIMAL64_PRECISION};

/// Rows per batch decoded from Parquet.
pub const BATCH_SIZE: usize = 8192;

/// Rows per morsel of in-memory batches (about one row group of the Parquet files `gen-tpch`
/// writes).
pub const MORSEL_ROWS: usize = 16 * BATCH_SIZE;

/// A Parquet row group of at least twice this many rows is read as parts of at least this
/// many ([`split_row_group`]).
pub const PART_ROWS: usize = 4 * MORSEL_ROWS;

/// Where a table's rows come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A Parquet file, named after its file stem unless given a name.
    Parquet { name: String, path: PathBuf },
    /// A CSV file (module `files`), read with `options`.
    Csv {
        name: String,
        path: PathBuf,
        options: CsvOptions,
    },
    /// An Arrow IPC file, or a stream if `stream` (module `files`).
    Ipc {
        name: String,
        path: PathBuf,
        stream: bool,
    },
    /// Record batches held in memory, all with `schema`, in morsels of about `morsel_rows`
    /// rows.
    Batches {
        name: String,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        morsel_rows: usize,
    },
}

impl Source {
    /// A Parquet file whose table name is its file stem (`data/lineitem.parquet` → `lineitem`).
    pub fn parquet(path: impl AsRef<Path>) -> Source {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Source::Parquet { name, path }
    }

    /// The file at `path`, of the kind its extension or its first bytes say
    /// ([`files::detect`]), named after its file stem; a CSV file is read with `csv`.
    pub fn file(path: impl AsRef<Path>, csv: &CsvOptions) -> Result<Source> {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(match files::detect(&path)? {
            FileKind::Parquet => Source::Parquet { name, path },
            FileKind::Csv => Source::Csv {
                name,
                path,
                options: *csv,
            },
            FileKind::ArrowFile => Source::Ipc {
                name,
                path,
                stream: false,
            },
            FileKind::ArrowStream => Source::Ipc {
                name,
                path,
                stream: true,
            },
        })
    }

    /// The same source as table `name`.
    pub fn with_name(mut self, name: &str) -> Source {
        match &mut self {
            Source::Parquet { name: n, .. }
            | Source::Csv { name: n, .. }
            | Source::Ipc { name: n, .. }
            | Source::Batches { name: n, .. } => *n = name.to_string(),
        }
        self
    }

    /// In-memory batches registered as table `name`.
    pub fn batches(
        name: impl Into<String>,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Source {
        Source::Batches {
            name: name.into(),
            schema,
            batches,
            morsel_rows: MORSEL_ROWS,
        }
    }

    /// In-memory batches split into morsels of about `rows` rows (at least one) instead of
    /// [`MORSEL_ROWS`]; a Parquet source is unchanged (its morsels are its row groups, or
    /// parts of them).
    pub fn with_morsel_rows(self, rows: usize) -> Source {
        match self {
            Source::Batches {
                name,
                schema,
                batches,
                ..
            } => Source::Batches {
                name,
                schema,
                batches,
                morsel_rows: rows.max(1),
            },
            parquet => parquet,
        }
    }

    /// The table name queries use in `FROM`.
    pub fn name(&self) -> &str {
        match self {
            Source::Parquet { name, .. }
            | Source::Csv { name, .. }
            | Source::Ipc { name, .. }
            | Source::Batches { name, .. } => name,
        }
    }

    /// The table's schema (reads a Parquet file's footer, infers a CSV file's).
    pub fn schema(&self) -> Result<SchemaRef> {
        match self {
            Source::Parquet { path, .. } => Ok(open_parquet(path)?.1.schema().clone()),
            Source::Batches { schema, .. } => Ok(schema.clone()),
            // A stream's first message, not its batches.
            Source::Ipc {
                path, stream: true, ..
            } => files::stream_schema(path),
            Source::Csv { .. } | Source::Ipc { .. } => Ok(self.open()?.schema),
        }
    }

    /// The source opened for a query: a Parquet file's footer read, once for every scan of
    /// [`OpenSource`].
    pub fn open(&self) -> Result<OpenSource> {
        let (mut parquet, mut other) = (None, None);
        let schema = match self {
            Source::Parquet { path, .. } => {
                let (file, metadata) = open_parquet(path)?;
                let schema = metadata.schema().clone();
                parquet = Some((file, metadata));
                schema
            }
            Source::Csv { path, options, .. } => {
                let csv = CsvInput::open(path, options)?;
                let schema = csv.schema().clone();
                other = Some(Opened::Csv(Arc::new(csv)));
                schema
            }
            Source::Ipc {
                path,
                stream: false,
                ..
            } => {
                let ipc = IpcInput::open(path)?;
                let schema = ipc.schema().clone();
                other = Some(Opened::Ipc(Arc::new(ipc)));
                schema
            }
            Source::Ipc {
                path, stream: true, ..
            } => {
                let (schema, batches) = files::read_stream(path)?;
                other = Some(Opened::Stream(batches));
                schema
            }
            Source::Batches { schema, .. } => schema.clone(),
        };
        Ok(OpenSource {
            source: self.clone(),
            schema,
            parquet,
            other,
        })
    }

    /// The batches of the columns `projection` (indices into the schema), streamed: every
    /// morsel of [`Source::morsels`], in order.
    pub fn scan(
        &self,
        projection: &[usize],
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send + '_>> {
        let scan = self.morsels(projection)?;
        let mut next = 0;
        let mut current: Box<dyn Iterator<Item = Result<RecordBatch>> + Send> =
            Box::new(std::iter::empty());
        Ok(Box::new(std::iter::from_fn(move || loop {
            if let Some(b) = current.next() {
                return Some(b);
            }
            if next == scan.len() {
                return None;
            }
            next += 1;
            match scan.read(next - 1) {
                Ok(batches) => current = batches,
                Err(e) => return Some(Err(e)),
            }
        })))
    }

    /// The columns `projection` (indices into the schema), split into morsels.
    pub fn morsels(&self, projection: &[usize]) -> Result<Scan> {
        self.pruned_morsels(projection, None)
    }

    /// [`Source::pruned_morsels`], and in a Parquet file `late` (if any) runs on its own columns
    /// first: the other columns are decoded only for the rows it keeps (late materialization
    /// with the parquet crate's `RowFilter`). An in-memory source ignores `late`.
    pub fn filtered_morsels(
        &self,
        projection: &[usize],
        filter: Option<&Expr>,
        late: Option<ScanFilter>,
    ) -> Result<Scan> {
        self.open()?.filtered_morsels(projection, filter, late)
    }

    /// The columns `projection` of the rows that may satisfy `filter` (a predicate over the
    /// projected batch), split into morsels: row groups and pages of a Parquet file whose
    /// statistics prove `filter` is never TRUE on them are skipped (module `prune`). The other
    /// rows are all returned: the caller still applies `filter`.
    pub fn pruned_morsels(&self, projection: &[usize], filter: Option<&Expr>) -> Result<Scan> {
        self.open()?.pruned_morsels(projection, filter)
    }
}

/// A [`Source`] opened for one query ([`Source::open`]): a Parquet file opened and its footer
/// (its metadata and page index) read once, shared by binding and every scan of the query (each
/// morsel reads its row group at its own offsets: [`SharedFile`]), or the batches in memory as
/// they are.
#[derive(Debug)]
pub struct OpenSource {
    source: Source,
    schema: SchemaRef,
    /// A Parquet file's handle and metadata; `None` for other sources.
    parquet: Option<(SharedFile, ArrowReaderMetadata)>,
    /// A CSV or Arrow IPC file opened (module `files`).
    other: Option<Opened>,
}

/// A CSV or Arrow IPC file opened for a query.
#[derive(Debug)]
enum Opened {
    Csv(Arc<CsvInput>),
    Ipc(Arc<IpcInput>),
    /// An IPC stream, read whole.
    Stream(Vec<RecordBatch>),
}

impl OpenSource {
    /// The source it opened.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The table name queries use in `FROM`.
    pub fn name(&self) -> &str {
        self.source.name()
    }

    /// The table's schema (a Parquet file's, from the footer already read).
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// [`Source::morsels`] of the opened source.
    pub fn morsels(&self, projection: &[usize]) -> Result<Scan> {
        self.pruned_morsels(projection, None)
    }

    /// [`Source::filtered_morsels`] of the opened source.
    pub fn filtered_morsels(
        &self,
        projection: &[usize],
        filter: Option<&Expr>,
        late: Option<ScanFilter>,
    ) -> Result<Scan> {
        let mut scan = self.pruned_morsels(projection, filter)?;
        if let Input::Parquet { .. } = scan.input {
            scan.late = late;
        }
        Ok(scan)
    }

    /// [`Source::pruned_morsels`] of the opened source.
    pub fn pruned_morsels(&self, projection: &[usize], filter: Option<&Expr>) -> Result<Scan> {
        match (&self.source, &self.parquet) {
            (Source::Parquet { path, .. }, Some((file, metadata))) => {
                let mask = ProjectionMask::roots(
                    metadata.metadata().file_metadata().schema_descr(),
                    projection.iter().copied(),
                );
                let mut columns = projection.to_vec();
                columns.sort_unstable();
                columns.dedup();
                // The reader of no row groups reads nothing: it only says what the projection's
                // batches look like.
                let schema = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    file.clone(),
                    metadata.clone(),
                )
                .with_projection(mask.clone())
                .with_row_groups(vec![])
                .build()
                .map_err(|e| parquet_error(path, e))?
                .schema();
                let parquet = metadata.metadata();
                let morsels = prune(filter, projection, metadata)?
                    .row_groups
                    .into_iter()
                    .flat_map(|(group, rows)| match rows {
                        Some(rows) => vec![Morsel::RowGroup(group, Some(rows))],
                        None => {
                            let n = parquet.row_group(group).num_rows();
                            split_row_group(group, usize::try_from(n).unwrap_or(0))
                        }
                    })
                    .collect();
                Ok(Scan {
                    morsels,
                    input: Input::Parquet {
                        path: path.clone(),
                        file: file.clone(),
                        metadata: metadata.clone(),
                        mask,
                        columns,
                        schema,
                    },
                    late: None,
                    prefilter: None,
                    threshold: None,
                    bests: vec![],
                    early: Mutex::default(),
                })
            }
            (Source::Parquet { .. }, None) => Err(Error::internal(
                "a Parquet source opened without its footer",
            )),
            (Source::Csv { .. } | Source::Ipc { .. }, _) => {
                let (count, input) = match &self.other {
                    Some(Opened::Csv(csv)) => (csv.morsels(), Input::Csv(csv.clone())),
                    Some(Opened::Ipc(ipc)) => (ipc.morsels(), Input::Ipc(ipc.clone())),
                    Some(Opened::Stream(batches)) => {
                        return memory_scan(batches, MORSEL_ROWS, projection)
                    }
                    None => return Err(Error::internal("a file source opened without its file")),
                };
                Ok(Scan {
                    morsels: (0..count)
                        .map(|i| Morsel::Part(i, projection.to_vec()))
                        .collect(),
                    input,
                    late: None,
                    prefilter: None,
                    threshold: None,
                    bests: vec![],
                    early: Mutex::default(),
                })
            }
            (
                Source::Batches {
                    batches,
                    morsel_rows,
                    ..
                },
                _,
            ) => memory_scan(batches, *morsel_rows, projection),
        }
    }
}

/// A scan of the columns `projection` of batches in memory, in morsels of about `morsel_rows`
/// rows, sliced into [`BATCH_SIZE`] rows.
fn memory_scan(batches: &[RecordBatch], morsel_rows: usize, projection: &[usize]) -> Result<Scan> {
    let mut morsels = vec![];
    let mut slices = vec![];
    let mut rows = 0;
    for batch in batches {
        let batch = batch.project(projection)?;
        let mut offset = 0;
        while offset < batch.num_rows() {
            let len = BATCH_SIZE
                .min(morsel_rows - rows)
                .min(batch.num_rows() - offset);
            slices.push(batch.slice(offset, len));
            offset += len;
            rows += len;
            if rows >= morsel_rows {
                morsels.push(Morsel::Batches(std::mem::take(&mut slices)));
                rows = 0;
            }
        }
    }
    if !slices.is_empty() {
        morsels.push(Morsel::Batches(slices));
    }
    Ok(Scan {
        morsels,
        input: Input::Memory,
        late: None,
        prefilter: None,
        threshold: None,
        bests: vec![],
        early: Mutex::default(),
    })
}

/// A scan of some columns of a source, split into morsels that are read independently (by
/// parallel workers) and combined in their order.
pub struct Scan {
    morsels: Vec<Morsel>,
    input: Input,
    late: Option<ScanFilter>,
    /// Conditions qjit's own Parquet decoder checks before it decodes the other columns
    /// ([`Scan::with_prefilter`]).
    prefilter: Option<Arc<Necessary>>,
    /// The bound of a top-N that `late` evaluates (see [`Scan::with_top_threshold`]).
    threshold: Option<Arc<Threshold>>,
    /// For each morsel, the best sort key of the top-N its rows can have, if known: a morsel
    /// whose best the bound beats is not read.
    bests: Vec<Option<arrow::row::OwnedRow>>,
    /// Morsels decoded ahead by [`Scan::decode_ahead`], by morsel number.
    early: Mutex<Vec<Early>>,
}

/// The batches of a morsel, streamed.
pub type Batches = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'static>;

/// A morsel's state in [`Scan::decode_ahead`].
#[derive(Default)]
enum Early {
    /// Not claimed by a decoding worker: [`Scan::read`] decodes it.
    #[default]
    Unclaimed,
    /// Being decoded by a worker.
    Decoding,
    /// Decoded up to an error, the end, or a stop: the batches so far, and the rest of the
    /// morsel's stream if it stopped early.
    Decoded(Vec<Result<RecordBatch>>, Option<Batches>),
}

/// The rows of a batch a [`ScanFilter`] keeps.
pub type KeepFn = dyn Fn(&RecordBatch) -> Result<BooleanArray> + Send + Sync;

/// A predicate a Parquet scan evaluates on some columns before it decodes the others.
#[derive(Clone)]
pub struct ScanFilter {
    /// The file's columns the predicate reads (indices into the schema, ascending).
    pub columns: Vec<usize>,
    /// The rows to keep (TRUE) of a batch of `columns`, in that order.
    pub keep: Arc<KeepFn>,
}

impl ScanFilter {
    /// The filter as the parquet crate's `ArrowPredicate` for a file with schema `schema`: it
    /// decodes the filter's columns (in file order) and keeps the rows `keep` says. Its errors
    /// travel through the reader as `ArrowError::ExternalError` holding the qjit [`Error`].
    pub fn arrow_predicate(&self, schema: &SchemaDescriptor) -> Box<dyn ArrowPredicate> {
        let columns = ProjectionMask::roots(schema, self.columns.iter().copied());
        let keep = self.keep.clone();
        Box::new(ArrowPredicateFn::new(columns, move |batch| {
            keep(&batch).map_err(ArrowError::from)
        }))
    }
}

impl std::fmt::Debug for ScanFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanFilter")
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

enum Morsel {
    /// A row group of the Parquet file, and the rows of it to read (`None`: all).
    RowGroup(usize, Option<RowSelection>),
    /// Consecutive rows of a large row group of the Parquet file ([`split_row_group`]).
    Rows(usize, Range<usize>),
    /// In-memory batches (already projected).
    Batches(Vec<RecordBatch>),
    /// Part `i` of a CSV or Arrow IPC file (module `files`), and the columns to read.
    Part(usize, Vec<usize>),
}

enum Input {
    Parquet {
        path: PathBuf,
        /// The file, opened once for the query: every morsel reads it at its own offsets.
        file: SharedFile,
        metadata: ArrowReaderMetadata,
        mask: ProjectionMask,
        /// The projected file columns, ascending, and their Arrow schema as the arrow-rs
        /// reader returns them.
        columns: Vec<usize>,
        schema: SchemaRef,
    },
    Memory,
    Csv(Arc<CsvInput>),
    Ipc(Arc<IpcInput>),
}

impl Scan {
    /// A Parquet scan that decodes the sort keys of a top-N first and the other columns only
    /// for the rows that reach `threshold` (which the pipeline's top-N raises as it fills),
    /// unless the scan already has a filter of its own. `columns` are the file columns the
    /// threshold reads, `projection` those the scan reads (when they are the same, the scan
    /// only skips row groups by the threshold). Other scans are returned as they are.
    pub(crate) fn with_top_threshold(
        mut self,
        threshold: Arc<Threshold>,
        columns: Vec<usize>,
        projection: &[usize],
    ) -> Scan {
        if self.late.is_some() || !matches!(self.input, Input::Parquet { .. }) {
            return self;
        }
        if let Input::Parquet { metadata, .. } = &self.input {
            let groups: Vec<usize> = self
                .morsels
                .iter()
                .map(|m| match m {
                    Morsel::RowGroup(group, _) | Morsel::Rows(group, _) => *group,
                    Morsel::Batches(_) | Morsel::Part(..) => 0,
                })
                .collect();
            self.bests = threshold.row_group_bests(metadata, &groups);
        }
        // Reading the keys first pays only when the scan reads other columns too.
        if projection.iter().any(|c| columns.binary_search(c).is_err()) {
            let keep = threshold.clone();
            self.late = Some(ScanFilter {
                columns,
                keep: Arc::new(move |batch| keep.keep(batch)),
            });
        }
        self.threshold = Some(threshold);
        self
    }

    /// The scan with `conditions` (that every row the query keeps meets) checked by qjit's
    /// own Parquet decoder on their columns first: a batch holds only the rows that meet them
    /// while fewer than half of its rows do ([`super::decode`]). Unlike a scan filter of
    /// [`Source::filtered_morsels`], row groups the decoder declines are read whole, and a
    /// scan that filters by a top-N bound ignores them.
    pub(crate) fn with_prefilter(mut self, conditions: Option<Necessary>) -> Scan {
        if matches!(self.input, Input::Parquet { .. }) {
            self.prefilter = conditions.map(Arc::new);
        }
        self
    }

    /// The row group morsel `i` reads and its first row there, if it reads consecutive rows of
    /// one (a whole row group, or a part of one).
    pub(crate) fn row_group(&self, i: usize) -> Option<(usize, u64)> {
        match self.morsels.get(i) {
            Some(Morsel::RowGroup(group, None)) => Some((*group, 0)),
            Some(Morsel::Rows(group, rows)) => Some((*group, rows.start as u64)),
            _ => None,
        }
    }

    /// The scan cut to the rows `positions` (row group, row within it; any order, repeats
    /// allowed): a morsel for each of those row groups, in file order, that decodes only the
    /// pages holding those rows. What a top-N whose rows are known reads
    /// ([`super::topn::Candidates`]). A scan of batches in memory, or of row groups already cut
    /// to some of their rows by statistics, is returned as it is.
    pub(crate) fn select_rows(mut self, positions: &[(usize, u64)]) -> Scan {
        let whole = |m: &Morsel| matches!(m, Morsel::RowGroup(_, None) | Morsel::Rows(..));
        if !matches!(self.input, Input::Parquet { .. }) || !self.morsels.iter().all(whole) {
            return self;
        }
        let mut rows: std::collections::BTreeMap<usize, Vec<u64>> = Default::default();
        for &(group, row) in positions {
            rows.entry(group).or_default().push(row);
        }
        self.morsels = rows
            .into_iter()
            .map(|(group, mut rows)| {
                rows.sort_unstable();
                rows.dedup();
                let mut selectors = vec![];
                let mut next = 0u64;
                for row in rows {
                    if row > next {
                        selectors.push(RowSelector::skip((row - next) as usize));
                    }
                    selectors.push(RowSelector::select(1));
                    next = row + 1;
                }
                Morsel::RowGroup(group, Some(RowSelection::from(selectors)))
            })
            .collect();
        // Each morsel holds a few chosen rows: nothing left to filter or skip.
        self.late = None;
        self.prefilter = None;
        self.bests = vec![];
        self.early = Mutex::new(vec![]);
        self
    }

    /// The top-N bound the scan filters by, which the pipeline's top-N raises.
    pub(crate) fn threshold(&self) -> Option<&Threshold> {
        self.threshold.as_deref()
    }

    /// The number of morsels.
    pub fn len(&self) -> usize {
        self.morsels.len()
    }

    /// The rows the scan reads at most, from the Parquet metadata (the rows of the row groups
    /// and pages not pruned) or the batches in memory, before reading anything.
    pub fn rows(&self) -> usize {
        self.morsels
            .iter()
            .map(|m| match (m, &self.input) {
                (Morsel::RowGroup(_, Some(selection)), _) => selection.row_count(),
                (Morsel::RowGroup(group, None), Input::Parquet { metadata, .. }) => {
                    usize::try_from(metadata.metadata().row_group(*group).num_rows()).unwrap_or(0)
                }
                (Morsel::Rows(_, rows), Input::Parquet { .. }) => rows.len(),
                (Morsel::RowGroup(..) | Morsel::Rows(..), _) => 0,
                (Morsel::Batches(batches), _) => batches.iter().map(|b| b.num_rows()).sum(),
                (Morsel::Part(..), Input::Csv(csv)) => csv.rows(),
                (Morsel::Part(..), Input::Ipc(ipc)) => ipc.rows(),
                (Morsel::Part(..), _) => 0,
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.morsels.is_empty()
    }

    /// Whether reading a morsel does work worth overlapping with other work: decoding a
    /// Parquet file (an in-memory morsel is its batches already).
    pub fn decodes(&self) -> bool {
        matches!(self.input, Input::Parquet { .. })
    }

    /// Decodes whole morsels, in morsel order from the first, until `stop()` says so (it is
    /// asked before each batch) or `limit` morsels are decoded; several workers may run this at
    /// once, each takes the next morsel no other has. It runs while something else keeps the
    /// pipeline from starting (the kernels compiling): [`Scan::read`] later hands out what it
    /// decoded. A morsel being decoded when it stops is kept as its batches so far and the rest
    /// of its stream, so a worker stops within one batch.
    ///
    /// Errors are not returned here: they are kept in their place among the batches, and
    /// [`Scan::read`] returns them where the morsel's stream would have.
    pub fn decode_ahead(&self, limit: usize, stop: &(dyn Fn() -> bool + Sync)) {
        let limit = limit.min(self.morsels.len());
        while !stop() {
            let Some(i) = self.claim_early(limit) else {
                return;
            };
            let mut batches = vec![];
            let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| match self.decode(i) {
                Ok(mut stream) => loop {
                    if stop() {
                        break Some(stream);
                    }
                    match stream.next() {
                        Some(batch) => {
                            let failed = batch.is_err();
                            batches.push(batch);
                            if failed {
                                break None;
                            }
                        }
                        None => break None,
                    }
                },
                Err(e) => {
                    batches.push(Err(e));
                    None
                }
            }));
            let rest = decoded.unwrap_or_else(|panic| {
                batches.push(Err(Error::from_panic(&panic)));
                None
            });
            if let Ok(mut early) = self.early.lock() {
                early[i] = Early::Decoded(batches, rest);
            }
        }
    }

    /// The first morsel below `limit` that no worker has claimed, now claimed.
    fn claim_early(&self, limit: usize) -> Option<usize> {
        let mut early = self.early.lock().ok()?;
        if early.len() < limit {
            early.resize_with(limit, Early::default);
        }
        let i = early[..limit]
            .iter()
            .position(|e| matches!(e, Early::Unclaimed))?;
        early[i] = Early::Decoding;
        Some(i)
    }

    /// The batches of morsel `i`, streamed: those [`Scan::decode_ahead`] decoded, if it did.
    pub fn read(&self, i: usize) -> Result<Batches> {
        let early = {
            let mut early = self
                .early
                .lock()
                .map_err(|_| Error::internal("the decoded morsels are poisoned"))?;
            match early.get_mut(i) {
                Some(e @ Early::Decoded(..)) => std::mem::take(e),
                Some(Early::Decoding) => {
                    return Err(Error::internal(format!("morsel {i} read while decoded")))
                }
                _ => Early::Unclaimed,
            }
        };
        match early {
            Early::Decoded(batches, Some(rest)) => Ok(Box::new(batches.into_iter().chain(rest))),
            Early::Decoded(batches, None) => Ok(Box::new(batches.into_iter())),
            _ => self.decode(i),
        }
    }

    /// The batches of morsel `i`, decoded as they are read (none when its statistics prove
    /// that no row of it can enter the top-N being built).
    fn decode(&self, i: usize) -> Result<Batches> {
        if let (Some(threshold), Some(Some(best))) = (&self.threshold, self.bests.get(i)) {
            if threshold.excludes(best) {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let morsel = self
            .morsels
            .get(i)
            .ok_or_else(|| Error::internal(format!("no morsel {i}")))?;
        match (morsel, &self.input) {
            (Morsel::Batches(batches), _) => Ok(Box::new(batches.clone().into_iter().map(Ok))),
            (
                Morsel::RowGroup(group, _) | Morsel::Rows(group, _),
                Input::Parquet {
                    path,
                    file,
                    metadata,
                    mask,
                    columns,
                    schema,
                },
            ) => {
                // The rows of a part of a row group, or those statistics left of one.
                let (part, rows) = match morsel {
                    Morsel::Rows(_, part) => (Some(part.clone()), None),
                    Morsel::RowGroup(_, rows) => (None, rows.clone()),
                    _ => (None, None),
                };
                // Consecutive rows without a scan filter: qjit's own decoder, for the columns
                // it reads.
                if rows.is_none() && self.late.is_none() {
                    let prefilter = match self.threshold {
                        None => self.prefilter.as_ref(),
                        Some(_) => None,
                    };
                    if let Some(batches) = RowGroupBatches::try_new(
                        file,
                        path,
                        metadata,
                        *group,
                        part.clone(),
                        columns,
                        schema,
                        prefilter,
                    )? {
                        return Ok(Box::new(batches));
                    }
                }
                let rows = rows.or_else(|| {
                    part.map(|part| {
                        RowSelection::from(vec![
                            RowSelector::skip(part.start),
                            RowSelector::select(part.len()),
                        ])
                    })
                });
                let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
                    file.clone(),
                    metadata.clone(),
                )
                .with_row_groups(vec![*group])
                .with_projection(mask.clone())
                .with_batch_size(BATCH_SIZE);
                if let Some(rows) = rows {
                    builder = builder.with_row_selection(rows);
                }
                if let Some(late) = &self.late {
                    let predicate =
                        late.arrow_predicate(metadata.metadata().file_metadata().schema_descr());
                    builder = builder.with_row_filter(RowFilter::new(vec![predicate]));
                }
                // The scan filter runs while the reader is built: its errors come back wrapped.
                let reader: ParquetRecordBatchReader = builder.build().map_err(|e| match e {
                    ParquetError::External(inner) => match inner.downcast::<ArrowError>() {
                        Ok(arrow) => arrow_error(path, *arrow),
                        Err(other) => parquet_error(path, ParquetError::External(other)),
                    },
                    e => parquet_error(path, e),
                })?;
                let path = path.clone();
                Ok(Box::new(
                    reader.map(move |b| b.map_err(|e| arrow_error(&path, e))),
                ))
            }
            (Morsel::Part(i, projection), Input::Csv(csv)) => csv.read(*i, projection),
            (Morsel::Part(i, projection), Input::Ipc(ipc)) => ipc.read(*i, projection),
            (Morsel::RowGroup(..) | Morsel::Rows(..), _) => {
                Err(Error::internal("a row group of a source not Parquet"))
            }
            (Morsel::Part(..), _) => Err(Error::internal("a file part of a source not a file")),
        }
    }
}

/// Opens a Parquet file for reading and reads its metadata (with the page index when the file
/// has one), with a clear error for every way it can be unusable.
pub(crate) fn open_parquet(path: &Path) -> Result<(SharedFile, ArrowReaderMetadata)> {
    let shown = path.display().to_string();
    let fail = |reason: String| Error::File {
        path: shown.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => fail("no such file; check the path".into()),
        std::io::ErrorKind::PermissionDenied => fail("permission denied".into()),
        _ => fail(format!("cannot read the file: {e}")),
    })?;
    if meta.is_dir() {
        return Err(fail("is a directory, not a Parquet file".into()));
    }
    if meta.len() == 0 {
        return Err(fail(
            "the file is empty (0 bytes), not a Parquet file".into(),
        ));
    }
    let file = File::open(path).map_err(|e| fail(format!("cannot open the file: {e}")))?;
    let mut magic = [0u8; 4];
    {
        use std::io::Read;
        let mut f = &file;
        if f.read_exact(&mut magic).is_err() || &magic != b"PAR1" {
            return Err(fail(
                "not a Parquet file (it does not start with the PAR1 magic bytes)".into(),
            ));
        }
    }
    let file = SharedFile::new(file, meta.len());
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let metadata =
        ArrowReaderMetadata::load(&file, options.clone()).map_err(|e| parquet_error(path, e))?;
    let metadata = match decimal64_schema(&metadata) {
        Some(schema) => {
            ArrowReaderMetadata::try_new(metadata.metadata().clone(), options.with_schema(schema))
                .map_err(|e| parquet_error(path, e))?
        }
        None => metadata,
    };
    Ok((file, metadata))
}

/// The file's Arrow schema with its decimal columns of up to [`DECIMAL64_PRECISION`] digits
/// that the file stores as `INT32` or `INT64` read as `Decimal64` (the values as they are, in
/// half the memory of `Decimal128` and without a conversion), or `None` if it has none.
fn decimal64_schema(metadata: &ArrowReaderMetadata) -> Option<SchemaRef> {
    let schema = metadata.schema();
    let stored = metadata
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields();
    if stored.len() != schema.fields().len() {
        return None;
    }
    let mut changed = false;
    let fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .zip(stored)
        .map(|(field, stored)| match field.data_type() {
            DataType::Decimal128(p, s)
                if *p <= DECIMAL64_PRECISION
                    && stored.is_primitive()
                    && matches!(
                        stored.get_physical_type(),
                        PhysicalType::INT32 | PhysicalType::INT64
                    ) =>
            {
                changed = true;
                Arc::new(
                    field
                        .as_ref()
                        .clone()
                        .with_data_type(DataType::Decimal64(*p, *s)),
                )
            }
            _ => field.clone(),
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

/// An error of the reader while it decodes batches: the scan filter's own error (passed through
/// the reader), else the file is damaged.
pub(super) fn arrow_error(path: &Path, e: ArrowError) -> Error {
    match e {
        ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
            Ok(e) => *e,
            Err(other) => Error::File {
                path: path.display().to_string(),
                reason: format!("the file is truncated or corrupt: {other}"),
            },
        },
        e => Error::File {
            path: path.display().to_string(),
            reason: format!("the file is truncated or corrupt: {e}"),
        },
    }
}

pub(crate) fn parquet_error(path: &Path, e: ParquetError) -> Error {
    let reason = match &e {
        ParquetError::EOF(_) | ParquetError::General(_) | ParquetError::IndexOutOfBound(..) => {
            format!("the file is truncated or corrupt (its Parquet footer cannot be read): {e}")
        }
        other => format!("cannot read the Parquet file: {other}"),
    };
    Error::File {
        path: path.display().to_string(),
        reason,
    }
}

/// The morsels of row group `group` of `rows` rows: the whole group, or, when it has at least
/// twice [`PART_ROWS`] rows, consecutive parts of about equal size of at least that many
/// (whole batches but the last), so that the workers share a large row group. The parts depend
/// on the file alone, not on the number of workers, so neither does any result. Each part
/// reads the column chunks' dictionaries and skips the pages before its rows unread.
fn split_row_group(group: usize, rows: usize) -> Vec<Morsel> {
    let parts = (rows / PART_ROWS).max(1);
    if parts == 1 {
        return vec![Morsel::RowGroup(group, None)];
    }
    let size = rows.div_ceil(parts).next_multiple_of(BATCH_SIZE);
    (0..rows)
        .step_by(size)
        .map(|start| Morsel::Rows(group, start..(start + size).min(rows)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::{split_row_group, Morsel, Source, BATCH_SIZE, PART_ROWS};
    use crate::exec::{self, EngineKind, QueryOptions};
    use std::ops::Range;

    /// Row groups of 20,000 rows (three batches each) and a last one of 5,000: `k` = row % 7,
    /// `x` = row, `f` = a float whose sum depends on the order of additions.
    fn file() -> (tempfile::TempDir, Source) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("x", DataType::Int64, false),
            Field::new("f", DataType::Float64, false),
        ]));
        let rows = 4 * 20_000 + 5_000;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values((0..rows).map(|i| i % 7))),
                Arc::new(Int64Array::from_iter_values(0..rows)),
                Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|i| 1.0 / (i as f64 + 1.0) * 1e10),
                )),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(20_000))
            .build();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            schema,
            Some(properties),
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        (dir, Source::parquet(path))
    }

    /// Every batch of every morsel of `scan`, read.
    fn read_all(scan: &super::Scan) -> Vec<Vec<RecordBatch>> {
        (0..scan.len())
            .map(|i| scan.read(i).unwrap().map(|b| b.unwrap()).collect())
            .collect()
    }

    /// Stopped before any batch, between batches of a morsel, between morsels, or not at all
    /// (at the limit): every morsel reads the same batches as without decoding ahead.
    /// Row groups of fewer than twice `PART_ROWS` rows stay whole; larger ones are cut into
    /// consecutive parts of whole batches (but the last) that cover them exactly.
    #[test]
    fn large_row_groups_split_into_parts_that_cover_them() {
        for rows in [
            0,
            1,
            PART_ROWS,
            2 * PART_ROWS - 1,
            2 * PART_ROWS,
            2 * PART_ROWS + 1,
            3 * PART_ROWS - 5,
            7 * PART_ROWS + 12_345,
        ] {
            let morsels = split_row_group(4, rows);
            let parts: Vec<Range<usize>> = morsels
                .iter()
                .map(|m| match m {
                    Morsel::RowGroup(4, None) => 0..rows,
                    Morsel::Rows(4, part) => part.clone(),
                    _ => panic!("not a morsel of row group 4"),
                })
                .collect();
            assert_eq!(parts.len(), (rows / PART_ROWS).max(1), "{rows} rows");
            assert_eq!(parts.first().map(|p| p.start), Some(0));
            assert_eq!(parts.last().map(|p| p.end), Some(rows));
            for pair in parts.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(pair[0].len() >= PART_ROWS && pair[0].len() % BATCH_SIZE == 0);
            }
            if parts.len() > 1 {
                assert!(matches!(morsels[0], Morsel::Rows(..)));
            }
        }
    }

    #[test]
    fn morsels_decoded_ahead_read_as_decoded_on_demand() {
        let (_dir, source) = file();
        let expected = read_all(&source.morsels(&[0, 2]).unwrap());
        assert_eq!(expected.len(), 5);
        assert!(20_000 > 2 * BATCH_SIZE && expected[0].len() == 3);
        for checks in 0..12 {
            for limit in [0, 2, 5, 9] {
                let scan = source.morsels(&[0, 2]).unwrap();
                let asked = AtomicUsize::new(0);
                scan.decode_ahead(limit, &|| asked.fetch_add(1, Ordering::Relaxed) >= checks);
                assert_eq!(read_all(&scan), expected, "{checks} checks, limit {limit}");
            }
        }
    }

    /// Queries whose kernels compile while the first row groups decode give the answer of one
    /// thread, which decodes nothing ahead: groups, a float sum, order, a limit, an error.
    #[test]
    fn answers_do_not_depend_on_decoding_ahead() {
        let (_dir, source) = file();
        let queries = [
            "SELECT k, count(*) AS n, sum(f) AS s, min(x) AS lo FROM t GROUP BY k ORDER BY k",
            "SELECT sum(f) AS s FROM t WHERE x % 3 = 1",
            "SELECT x, f FROM t WHERE x % 1000 = 7 ORDER BY f LIMIT 5",
            "SELECT x FROM t WHERE x > 30000 LIMIT 3",
            "SELECT sum(100 / (x - 70000)) AS s FROM t",
        ];
        for sql in queries {
            for engine in [EngineKind::Interp, EngineKind::Auto] {
                let run = |threads: usize| {
                    let options = QueryOptions {
                        engine,
                        threads: Some(threads),
                        ..Default::default()
                    };
                    match exec::run(&source, sql, &options) {
                        Ok(r) => format!("{:?}", r.batches),
                        Err(e) => format!("error: {e}"),
                    }
                };
                let one = run(1);
                for threads in [2, 7] {
                    assert_eq!(run(threads), one, "{sql} on {threads} threads");
                }
            }
        }
    }
}
