//! TPC-H data generation: `qjit gen-tpch`.
//!
//! Input: a scale factor, an output directory and table names. Output: one Parquet file per table,
//! `<out>/<table>.parquet`, holding exactly the rows of the TPC-H specification's `dbgen` as
//! produced by the [`tpchgen`] and [`tpchgen_arrow`] crates (the Arrow schema of
//! [`tpchgen_arrow`]: `Int64` keys, `Decimal128(15,2)` money, `Date32` dates, `Utf8View` text).
//!
//! A table is generated in parts (contiguous slices of its rows, the unit of the progress bar) on
//! one thread while another thread encodes the Parquet file, so both of a small machine's cores
//! are busy. The file is written under a temporary name and renamed into place when complete, so
//! an interrupted run never leaves a truncated `<table>.parquet` behind.
//!
//! ```no_run
//! # fn main() -> qjit::Result<()> {
//! let written = qjit::internals::tpch::generate(0.01, "data".as_ref(), &["lineitem"], false, true)?;
//! assert_eq!(written, vec![std::path::PathBuf::from("data/lineitem.parquet")]);
//! # Ok(())
//! # }
//! ```

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use indicatif::{HumanCount, ProgressBar, ProgressStyle};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

use crate::{Cancel, Error, Result};

/// Tables qjit can generate, in the order of the TPC-H specification's size (largest first).
pub const TABLES: &[&str] = &[
    "lineitem", "orders", "partsupp", "part", "customer", "supplier", "nation", "region",
];

/// Rows per Parquet row group: DuckDB's default, a multiple of 1024-row morsels.
pub const ROW_GROUP_ROWS: usize = 122_880;

/// Target rows per generated part. A part is the unit of progress reporting: SF 1 `lineitem`
/// comes in 13 parts, so the bar moves steadily, and a part is large enough that starting one
/// (seeding the generator at the part's first row) costs nothing measurable.
const ROWS_PER_PART: f64 = 500_000.0;

/// How often the writing thread looks at the cancel flag while it waits for a batch.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Batches that may wait between the generating thread and the writing thread (each 8,000 rows).
const CHANNEL_BATCHES: usize = 16;

/// Writes `<out>/<table>.parquet` for each table at scale factor `sf` and returns the paths written.
///
/// Files are Snappy-compressed, with row groups of [`ROW_GROUP_ROWS`] rows and page-level
/// statistics (so the Parquet page index is written). `out` is created if missing. An existing
/// file is an error unless `force`, and is checked for every table before anything is generated.
/// Each file is written to a temporary name in `out` and renamed into place when complete; on
/// error the temporary file is removed. With `progress`, a progress bar per table is drawn on
/// stderr (when stderr is a terminal). Tables listed twice are generated once; an empty list
/// generates nothing.
///
/// # Errors
///
/// [`Error::Usage`] for a scale factor that is not a finite positive number or an unknown table
/// name; [`Error::File`] when a file exists (without `force`) or cannot be written.
pub fn generate(
    sf: f64,
    out: &Path,
    tables: &[&str],
    force: bool,
    progress: bool,
) -> Result<Vec<PathBuf>> {
    generate_with(sf, out, tables, force, progress, &Cancel::new())
}

/// [`generate`], stopping with [`Error::Cancelled`] once `cancel` is raised (it is checked
/// between batches of about 8,000 rows): the table being written is not left behind, neither
/// under its name nor under its temporary one; tables finished before stay.
pub fn generate_with(
    sf: f64,
    out: &Path,
    tables: &[&str],
    force: bool,
    progress: bool,
    cancel: &Cancel,
) -> Result<Vec<PathBuf>> {
    if !(sf.is_finite() && sf > 0.0) {
        return Err(Error::Usage(format!(
            "invalid scale factor {sf}: it must be a positive number such as 0.01, 1 or 10"
        )));
    }
    let mut selected: Vec<Table> = Vec::with_capacity(tables.len());
    for name in tables {
        let table = Table::from_name(name).ok_or_else(|| {
            Error::Usage(format!(
                "unknown TPC-H table '{name}': choose from {}",
                TABLES.join(", ")
            ))
        })?;
        if !selected.contains(&table) {
            selected.push(table);
        }
    }
    let targets: Vec<PathBuf> = selected
        .iter()
        .map(|t| out.join(format!("{}.parquet", t.name())))
        .collect();
    if !force {
        if let Some(existing) = targets.iter().find(|p| p.exists()) {
            return Err(Error::File {
                path: existing.display().to_string(),
                reason: "already exists; pass --force to overwrite it".into(),
            });
        }
    }
    fs::create_dir_all(out).map_err(|e| Error::File {
        path: out.display().to_string(),
        reason: format!("cannot create the output directory: {e}"),
    })?;
    for (table, target) in selected.iter().zip(&targets) {
        let bar = if progress {
            progress_bar(*table)
        } else {
            ProgressBar::hidden()
        };
        let result = write_table(*table, sf, table.part_count(sf), target, &bar, cancel);
        bar.finish_and_clear();
        result?;
    }
    Ok(targets)
}

/// A TPC-H table and its generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    LineItem,
    Orders,
    PartSupp,
    Part,
    Customer,
    Supplier,
    Nation,
    Region,
}

/// A stream of generated batches.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>;

impl Table {
    /// Every table, in the order of [`TABLES`].
    const ALL: [Table; 8] = [
        Table::LineItem,
        Table::Orders,
        Table::PartSupp,
        Table::Part,
        Table::Customer,
        Table::Supplier,
        Table::Nation,
        Table::Region,
    ];

    /// The table's name, which is also its file's stem.
    fn name(self) -> &'static str {
        match self {
            Table::LineItem => "lineitem",
            Table::Orders => "orders",
            Table::PartSupp => "partsupp",
            Table::Part => "part",
            Table::Customer => "customer",
            Table::Supplier => "supplier",
            Table::Nation => "nation",
            Table::Region => "region",
        }
    }

    /// The table called `name` (case-insensitive).
    fn from_name(name: &str) -> Option<Table> {
        Table::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The Arrow schema of the generated batches.
    fn schema(self) -> SchemaRef {
        match self {
            Table::LineItem => LineItemArrow::schema_ref(),
            Table::Orders => OrderArrow::schema_ref(),
            Table::PartSupp => PartSuppArrow::schema_ref(),
            Table::Part => PartArrow::schema_ref(),
            Table::Customer => CustomerArrow::schema_ref(),
            Table::Supplier => SupplierArrow::schema_ref(),
            Table::Nation => NationArrow::schema_ref(),
            Table::Region => RegionArrow::schema_ref(),
        }
    }

    /// Approximate rows at scale factor 1 (the specification's cardinalities; `nation` and
    /// `region` do not scale).
    fn rows_at_sf1(self) -> f64 {
        match self {
            Table::LineItem => 6_001_215.0,
            Table::Orders => 1_500_000.0,
            Table::PartSupp => 800_000.0,
            Table::Part => 200_000.0,
            Table::Customer => 150_000.0,
            Table::Supplier => 10_000.0,
            Table::Nation | Table::Region => 0.0,
        }
    }

    /// How many parts to generate the table in at scale factor `sf` (at least one).
    fn part_count(self, sf: f64) -> i32 {
        let parts = (self.rows_at_sf1() * sf / ROWS_PER_PART).ceil();
        // `as` saturates; the clamp keeps the count in 1..=i32::MAX for any finite `sf`.
        (parts as i32).max(1)
    }

    /// The batches of part `part` (1-based) of `parts`. Parts 1..=parts, in order, are exactly
    /// the rows of the whole table.
    fn batches(self, sf: f64, part: i32, parts: i32) -> Batches {
        match self {
            Table::LineItem => {
                Box::new(LineItemArrow::new(LineItemGenerator::new(sf, part, parts)))
            }
            Table::Orders => Box::new(OrderArrow::new(OrderGenerator::new(sf, part, parts))),
            Table::PartSupp => {
                Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, part, parts)))
            }
            Table::Part => Box::new(PartArrow::new(PartGenerator::new(sf, part, parts))),
            Table::Customer => {
                Box::new(CustomerArrow::new(CustomerGenerator::new(sf, part, parts)))
            }
            Table::Supplier => {
                Box::new(SupplierArrow::new(SupplierGenerator::new(sf, part, parts)))
            }
            Table::Nation => Box::new(NationArrow::new(NationGenerator::new(sf, part, parts))),
            Table::Region => Box::new(RegionArrow::new(RegionGenerator::new(sf, part, parts))),
        }
    }
}

/// The progress bar of one table: parts done, rows written so far.
fn progress_bar(table: Table) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>9} [{bar:30}] {pos}/{len} parts, {msg} rows, {elapsed}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(0)
        .with_style(style)
        .with_prefix(table.name())
        .with_message("0");
    // Drawn from the start, not only when the first part is done (seconds at SF 1).
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

/// What the generating thread hands to the writing thread.
enum Generated {
    Batch(RecordBatch),
    PartDone,
}

/// Writes `table` at scale factor `sf`, generated in `parts` parts, to `target` through a
/// temporary file in the same directory.
fn write_table(
    table: Table,
    sf: f64,
    parts: i32,
    target: &Path,
    bar: &ProgressBar,
    cancel: &Cancel,
) -> Result<()> {
    let temp = TempFile::beside(target);
    let file_error = |reason: String| Error::File {
        path: target.display().to_string(),
        reason,
    };
    let file = File::create(&temp.path)
        .map_err(|e| file_error(format!("cannot create {}: {e}", temp.path.display())))?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut writer = ArrowWriter::try_new(file, table.schema(), Some(properties))
        .map_err(|e| file_error(format!("cannot write Parquet: {e}")))?;
    bar.set_length(u64::try_from(parts).unwrap_or(0));
    let mut rows: u64 = 0;

    // The generating thread is not joined: when the writer stops early (an error, or
    // `cancel`), it ends by itself at its next batch, when it finds the channel closed, and
    // nothing waits for the batch it is generating (the first can take seconds: the generator
    // builds its text pool).
    let (sender, receiver) = mpsc::sync_channel(CHANNEL_BATCHES);
    std::thread::Builder::new()
        .name(format!("qjit-gen-{}", table.name()))
        .spawn(move || {
            for part in 1..=parts {
                for batch in table.batches(sf, part, parts) {
                    let failed = batch.is_err();
                    // A closed channel means the writer gave up; stop generating.
                    if sender.send(batch.map(Generated::Batch)).is_err() || failed {
                        return;
                    }
                }
                if sender.send(Ok(Generated::PartDone)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| Error::internal(format!("cannot start the generating thread: {e}")))?;
    loop {
        cancel.check()?;
        let generated = match receiver.recv_timeout(CANCEL_POLL) {
            Ok(generated) => generated,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            // The generator is done.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match generated.map_err(|e| Error::internal(format!("TPC-H generator: {e}")))? {
            Generated::Batch(batch) => {
                writer
                    .write(&batch)
                    .map_err(|e| file_error(format!("cannot write Parquet: {e}")))?;
                rows += batch.num_rows() as u64;
                bar.set_message(HumanCount(rows).to_string());
            }
            Generated::PartDone => bar.inc(1),
        }
    }

    writer
        .close()
        .map_err(|e| file_error(format!("cannot write Parquet: {e}")))?;
    cancel.check()?;
    temp.persist(target)
        .map_err(|e| file_error(format!("cannot rename the finished temporary file: {e}")))
}

/// A file being written under a temporary name; removed when dropped unless persisted.
struct TempFile {
    path: PathBuf,
    persisted: bool,
}

impl TempFile {
    /// `.<name>.tmp-<pid>` in `target`'s directory, so that the final rename stays on one file
    /// system and a crashed run's leftovers are hidden and never mistaken for a table.
    fn beside(target: &Path) -> TempFile {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        TempFile {
            path,
            persisted: false,
        }
    }

    /// Renames the file to `target`, replacing any file there.
    fn persist(mut self, target: &Path) -> std::io::Result<()> {
        fs::rename(&self.path, target)?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: the file may not have been created.
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::compute::concat_batches;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Reads a Parquet file back: its schema, its batches, and whether it has a page index.
    fn read_back(path: &Path) -> (SchemaRef, Vec<RecordBatch>, bool) {
        let file = File::open(path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let schema = builder.schema().clone();
        let metadata = builder.metadata().clone();
        let mut has_page_index = true;
        for rg in metadata.row_groups() {
            assert!(rg.num_rows() as usize <= ROW_GROUP_ROWS);
            for column in rg.columns() {
                assert_eq!(column.compression(), Compression::SNAPPY);
                has_page_index &= column.column_index_offset().is_some()
                    && column.offset_index_offset().is_some();
            }
        }
        let batches = builder
            .build()
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (schema, batches, has_page_index)
    }

    fn generated_rows(table: Table, sf: f64, parts: i32) -> usize {
        (1..=parts)
            .flat_map(|part| table.batches(sf, part, parts))
            .map(|b| b.unwrap().num_rows())
            .sum()
    }

    #[test]
    fn tables_constant_lists_every_table() {
        let names: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, TABLES);
        assert_eq!(Table::from_name("LineItem"), Some(Table::LineItem));
        assert_eq!(Table::from_name("lineitems"), None);
    }

    #[test]
    fn writes_lineitem_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new").join("dir");
        let written = generate(0.001, &out, &["lineitem"], false, false).unwrap();
        assert_eq!(written, vec![out.join("lineitem.parquet")]);
        let (schema, batches, has_page_index) = read_back(&written[0]);
        assert_eq!(schema, LineItemArrow::schema_ref());
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, generated_rows(Table::LineItem, 0.001, 1));
        assert!(rows > 5_000, "{rows} rows");
        assert!(has_page_index);
        // Nothing but the table is left in the directory.
        let entries: Vec<_> = fs::read_dir(&out).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("region.parquet");
        fs::write(&target, b"not parquet").unwrap();
        let err = generate(0.001, dir.path(), &["region"], false, false).unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{err:?}");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"not parquet");

        generate(0.001, dir.path(), &["region"], true, false).unwrap();
        let (schema, batches, _) = read_back(&target);
        assert_eq!(schema, RegionArrow::schema_ref());
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);
    }

    #[test]
    fn checks_every_target_before_writing_any() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("nation.parquet"), b"x").unwrap();
        let err = generate(0.001, dir.path(), &["region", "nation"], false, false).unwrap_err();
        assert!(err.to_string().contains("nation.parquet"), "{err}");
        assert!(!dir.path().join("region.parquet").exists());
    }

    #[test]
    fn rejects_bad_scale_factors_and_tables() {
        let dir = tempfile::tempdir().unwrap();
        for sf in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = generate(sf, dir.path(), &["lineitem"], false, false).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{sf}: {err:?}");
        }
        let err = generate(0.01, dir.path(), &["lineitems"], false, false).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        assert!(err.to_string().contains("lineitem, orders"), "{err}");
    }

    #[test]
    fn parts_concatenate_to_the_whole_table() {
        let whole: Vec<RecordBatch> = Table::LineItem
            .batches(0.001, 1, 1)
            .collect::<Result<_, _>>()
            .unwrap();
        let parts: Vec<RecordBatch> = (1..=3)
            .flat_map(|part| Table::LineItem.batches(0.001, part, 3))
            .collect::<Result<_, _>>()
            .unwrap();
        let schema = Table::LineItem.schema();
        assert_eq!(
            concat_batches(&schema, &whole).unwrap(),
            concat_batches(&schema, &parts).unwrap()
        );
    }

    #[test]
    fn part_counts_grow_with_the_scale_factor() {
        assert_eq!(Table::LineItem.part_count(0.01), 1);
        assert_eq!(Table::LineItem.part_count(1.0), 13);
        assert_eq!(Table::Nation.part_count(100.0), 1);
        assert_eq!(Table::LineItem.part_count(1e300), i32::MAX);
    }

    #[test]
    fn removes_the_temporary_file_on_error() {
        let temp = TempFile::beside(Path::new("/nonexistent-dir/lineitem.parquet"));
        assert!(temp
            .path
            .to_string_lossy()
            .starts_with("/nonexistent-dir/.lineitem.parquet.tmp-"));
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.parquet");
        let temp = TempFile::beside(&target);
        fs::write(&temp.path, b"partial").unwrap();
        let temp_path = temp.path.clone();
        drop(temp);
        assert!(!temp_path.exists());
        assert!(!target.exists());
    }

    #[test]
    fn a_cancelled_generation_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = Cancel::new();
        cancel.cancel();
        let err = generate_with(0.001, dir.path(), &["lineitem"], false, false, &cancel);
        assert!(matches!(err, Err(Error::Cancelled)), "{err:?}");
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(entries.is_empty(), "{entries:?}");
    }

    /// `data/lineitem.parquet` is `generate(0.01, "data", &["lineitem"], ..)`: TPC-H SF 0.01.
    #[test]
    fn checked_in_data_is_lineitem_at_sf_0_01() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/lineitem.parquet");
        let (schema, batches, has_page_index) = read_back(&path);
        assert_eq!(schema, LineItemArrow::schema_ref());
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 60_175);
        assert!(has_page_index);
    }
}
