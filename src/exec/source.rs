//! Sources of record batches: a Parquet file streamed batch by batch, or batches in memory.
//!
//! A source has a table name (the `FROM` name), an Arrow schema, and yields the batches of a
//! projection of its columns. Parquet files are opened read-only and decoded lazily: only the
//! projected columns, one batch at a time, so memory is bounded by the batch size.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;

use crate::error::{Error, Result};

/// Rows per batch decoded from Parquet.
pub const BATCH_SIZE: usize = 8192;

/// Where a table's rows come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A Parquet file, named after its file stem unless given a name.
    Parquet { name: String, path: PathBuf },
    /// Record batches held in memory, all with `schema`.
    Batches {
        name: String,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
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
        }
    }

    /// The table name queries use in `FROM`.
    pub fn name(&self) -> &str {
        match self {
            Source::Parquet { name, .. } | Source::Batches { name, .. } => name,
        }
    }

    /// The table's schema (reads a Parquet file's footer).
    pub fn schema(&self) -> Result<SchemaRef> {
        match self {
            Source::Parquet { path, .. } => Ok(open_parquet(path)?.schema().clone()),
            Source::Batches { schema, .. } => Ok(schema.clone()),
        }
    }

    /// The batches of the columns `projection` (indices into the schema), streamed.
    pub fn scan(
        &self,
        projection: &[usize],
    ) -> Result<Box<dyn Iterator<Item = Result<RecordBatch>> + Send + '_>> {
        match self {
            Source::Parquet { path, .. } => {
                let builder = open_parquet(path)?;
                let mask =
                    ProjectionMask::roots(builder.parquet_schema(), projection.iter().copied());
                let reader: ParquetRecordBatchReader = builder
                    .with_projection(mask)
                    .with_batch_size(BATCH_SIZE)
                    .build()
                    .map_err(|e| parquet_error(path, e))?;
                let path = path.clone();
                Ok(Box::new(reader.map(move |b| {
                    b.map_err(|e| Error::File {
                        path: path.display().to_string(),
                        reason: format!("the file is truncated or corrupt: {e}"),
                    })
                })))
            }
            Source::Batches { batches, .. } => {
                let projection = projection.to_vec();
                Ok(Box::new(
                    batches.iter().map(move |b| Ok(b.project(&projection)?)),
                ))
            }
        }
    }
}

/// Opens a Parquet file for reading, with a clear error for every way it can be unusable.
fn open_parquet(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
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
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_error(path, e))
}

fn parquet_error(path: &Path, e: ParquetError) -> Error {
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
