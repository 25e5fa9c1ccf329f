//! qjit's Parquet decoder inside DataFusion's scans.
//!
//! In: a DataFusion `DataSourceExec` reading Parquet files ([`ParquetSource`]). Out: the same
//! scan whose file source is a [`QjitParquetSource`]: DataFusion still plans it (file groups,
//! byte ranges, statistics, projection, filter and sort pushdown, all delegated to the
//! `ParquetSource` inside), and each local file whose columns the table reads as the file
//! stores them is decoded by qjit's own decoder (`exec::decode`: one read per column chunk,
//! pages decompressed into a reused buffer, dictionary indices gathered straight into the
//! output column), one morsel per row group. Every other file goes to DataFusion's own reader.
//!
//! What a file read here keeps of DataFusion's reader, so that its answers are the same:
//! - the row groups of the file's byte range (DataFusion splits large files between
//!   partitions by row-group midpoints; [`RowGroupAccessPlanFilter::prune_by_range`]);
//! - pruning by row-group statistics and by the page index with the scan's predicate,
//!   checked as each row group starts, so that a dynamic filter (a hash join's build side, a
//!   top-N's threshold) prunes with its value at that moment, as DataFusion's reader does
//!   between row groups; of a row group whose first or last pages the page index rules out,
//!   only the rows between are read (pages before them unread). The rows pruning leaves out
//!   are rows that the operators above drop anyway (the predicate's `FilterExec`, the join or
//!   top-N whose dynamic filter it is), so reading a few more of them changes no answer;
//! - its output: the projected table schema, column for column (the decoder's batches equal
//!   the arrow-rs reader's; the shared decoder tests compare them), with the expressions
//!   DataFusion pushed into the scan's projection evaluated over each batch
//!   (`input_file_name()` as the file's name).
//!
//! A file goes to DataFusion's reader when qjit's decoder would not give exactly DataFusion's
//! batches or would skip work DataFusion's does: a remote object store, filters pushed into
//! the scan as a row filter (`pushdown_filters`), partition or virtual columns, a projection
//! that reads no column (`count(*)`), a file schema that differs from the
//! table's after DataFusion's own coercions (strings as views), access plans or schemas given
//! per file, and a file whose footer cannot be read (DataFusion then reports it). A scan whose
//! sort order DataFusion pushes into the source becomes DataFusion's own again.
//!
//! A Ballista scheduler leaves scans alone (see [`super::QjitRule::without_scans`]): the plan
//! travels in DataFusion's protobuf encoding, which knows DataFusion's sources only.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::config::ConfigOptions;
use datafusion::datasource::physical_plan::parquet::{
    apply_file_schema_type_coercions, PagePruningAccessPlanFilter, ParquetAccessPlan,
    RowGroupAccess, RowGroupAccessPlanFilter,
};
use datafusion::datasource::physical_plan::{
    FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource, ParquetFileMetrics,
    ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::ObjectStore;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_expr_adapter::rewrite::rewrite_input_file_name_in_projection;
use datafusion::physical_expr_common::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use datafusion::physical_plan::filter_pushdown::FilterPushdownPropagation;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use datafusion::physical_plan::sort_pushdown::SortOrderPushdownResult;
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use datafusion_datasource::morsel::{Morsel, MorselPlan, MorselPlanner, Morselizer};
use datafusion_datasource::PartitionedFile;
use futures::stream::{BoxStream, StreamExt};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;

use crate::exec::decode::RowGroupBatches;
use crate::exec::shared_file::SharedFile;
use crate::exec::source::BATCH_SIZE;

/// A Parquet scan whose local files qjit decodes; everything else is its `ParquetSource`'s.
pub struct QjitParquetSource {
    /// A `ParquetSource`.
    inner: Arc<dyn FileSource>,
}

impl QjitParquetSource {
    /// `plan` (a node of a physical plan) with qjit's decoder in its Parquet scan, or `None`
    /// if it is not a `DataSourceExec` reading Parquet with DataFusion's source.
    pub fn replace(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        let exec = plan.downcast_ref::<DataSourceExec>()?;
        let (config, _) = exec.downcast_to_file_source::<ParquetSource>()?;
        let source = QjitParquetSource::wrap(config.file_source().clone());
        let config = FileScanConfigBuilder::from(config.clone())
            .with_source(source)
            .build();
        Some(Arc::new(exec.clone().with_data_source(Arc::new(config))))
    }

    fn wrap(inner: Arc<dyn FileSource>) -> Arc<dyn FileSource> {
        if inner.is::<QjitParquetSource>() {
            return inner;
        }
        Arc::new(QjitParquetSource { inner })
    }

    fn parquet(&self) -> Result<&ParquetSource> {
        self.inner.downcast_ref::<ParquetSource>().ok_or_else(|| {
            DataFusionError::Internal("qjit's Parquet scan without a ParquetSource".into())
        })
    }
}

impl FileSource for QjitParquetSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        self.inner
            .create_file_opener(object_store, base_config, partition)
    }

    fn create_morselizer(
        &self,
        object_store: Arc<dyn ObjectStore>,
        base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Box<dyn Morselizer>> {
        // Files are read by path only from the local file system at the root (the store
        // DataFusion registers for `file://`).
        let local = object_store.to_string() == LocalFileSystem::new().to_string();
        let inner = self
            .inner
            .create_morselizer(object_store, base_config, partition)?;
        let options = self.parquet()?.table_parquet_options();
        Ok(Box::new(QjitMorselizer {
            inner,
            local,
            partition,
            table: self.inner.table_schema().clone(),
            projection: self.inner.projection().cloned(),
            predicate: self.inner.filter(),
            prune: options.global.pruning,
            page_index: options.global.enable_page_index,
            row_filter: options.global.pushdown_filters,
            metrics: self.inner.metrics().clone(),
            decoded: MetricBuilder::new(self.inner.metrics())
                .counter(DECODED_ROW_GROUPS, partition),
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        self.inner.table_schema()
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        QjitParquetSource::wrap(self.inner.with_batch_size(batch_size))
    }

    fn filter(&self) -> Option<Arc<dyn PhysicalExpr>> {
        self.inner.filter()
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        self.inner.projection()
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        self.inner.metrics()
    }

    fn file_type(&self) -> &str {
        self.inner.file_type()
    }

    fn fmt_extra(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.fmt_extra(t, f)?;
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, ", decoder=qjit")
            }
            DisplayFormatType::TreeRender => Ok(()),
        }
    }

    fn supports_repartitioning(&self) -> bool {
        self.inner.supports_repartitioning()
    }

    fn repartitioned(
        &self,
        target_partitions: usize,
        repartition_file_min_size: usize,
        output_ordering: Option<LexOrdering>,
        config: &FileScanConfig,
    ) -> Result<Option<FileScanConfig>> {
        let repartitioned = self.inner.repartitioned(
            target_partitions,
            repartition_file_min_size,
            output_ordering,
            config,
        )?;
        Ok(repartitioned.map(|mut c| {
            c.file_source = QjitParquetSource::wrap(c.file_source.clone());
            c
        }))
    }

    fn try_pushdown_filters(
        &self,
        filters: Vec<Arc<dyn PhysicalExpr>>,
        config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn FileSource>>> {
        let mut pushed = self.inner.try_pushdown_filters(filters, config)?;
        pushed.updated_node = pushed.updated_node.map(QjitParquetSource::wrap);
        Ok(pushed)
    }

    /// DataFusion's own source: a sort pushed into the scan can reverse the order of row
    /// groups, which only DataFusion's reader knows of.
    fn try_pushdown_sort(
        &self,
        order: &[PhysicalSortExpr],
        eq_properties: &datafusion::physical_expr::EquivalenceProperties,
    ) -> Result<SortOrderPushdownResult<Arc<dyn FileSource>>> {
        self.inner.try_pushdown_sort(order, eq_properties)
    }

    fn reorder_files(&self, files: Vec<PartitionedFile>) -> Vec<PartitionedFile> {
        self.inner.reorder_files(files)
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        Ok(self
            .inner
            .try_pushdown_projection(projection)?
            .map(QjitParquetSource::wrap))
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }
}

/// Plans each file of a partition: its row groups as qjit morsels, or DataFusion's.
struct QjitMorselizer {
    /// DataFusion's planner, for the files qjit does not read.
    inner: Box<dyn Morselizer>,
    /// Whether the files are on the local file system.
    local: bool,
    partition: usize,
    table: TableSchema,
    projection: Option<ProjectionExprs>,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    /// Whether row groups are pruned by their statistics.
    prune: bool,
    /// Whether pages are pruned by the page index (where the file has one).
    page_index: bool,
    /// Whether DataFusion filters rows in the scan (then it reads every file).
    row_filter: bool,
    metrics: ExecutionPlanMetricsSet,
    decoded: Count,
}

/// The metric that counts the row groups qjit's decoder read (`EXPLAIN ANALYZE` shows it).
pub const DECODED_ROW_GROUPS: &str = "qjit_row_groups";

impl fmt::Debug for QjitMorselizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QjitMorselizer")
            .field("inner", &self.inner)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl Morselizer for QjitMorselizer {
    fn plan_file(&self, file: PartitionedFile) -> Result<Box<dyn MorselPlanner>> {
        match self.open(&file) {
            Some(planned) => Ok(Box::new(planned)),
            None => self.inner.plan_file(file),
        }
    }
}

impl QjitMorselizer {
    /// `file`'s row groups to read with qjit's decoder, or `None` if DataFusion reads it.
    fn open(&self, file: &PartitionedFile) -> Option<RowGroups> {
        if !self.local
            || self.row_filter
            || !file.extensions.is_empty()
            || file.arrow_schema.is_some()
            || !self.table.table_partition_cols().is_empty()
            || !self.table.virtual_columns().is_empty()
        {
            return None;
        }
        let file_schema = self.table.file_schema();
        let fields = file_schema.fields().len();
        // The output columns: file columns, or expressions of them that DataFusion pushed
        // into the scan (evaluated over each batch, as DataFusion's reader does).
        let projection = match &self.projection {
            Some(p) => p.clone(),
            None => ProjectionExprs::from_indices(&(0..fields).collect::<Vec<_>>(), file_schema),
        };
        let name = file.object_meta.location.to_string();
        let projection = rewrite_input_file_name_in_projection(projection, &name).ok()?;
        let mut columns = projection.column_indices();
        columns.sort_unstable();
        columns.dedup();
        if columns.is_empty() || columns.iter().any(|&c| c >= fields) {
            return None;
        }
        let output = Arc::new(projection.project_schema(self.table.table_schema()).ok()?);
        // Each expression over the columns read, in their order.
        let exprs = projection
            .iter()
            .map(|item| {
                item.expr
                    .clone()
                    .transform(|node| {
                        let Some(column) = node.downcast_ref::<Column>() else {
                            return Ok(Transformed::no(node));
                        };
                        let at = columns.binary_search(&column.index()).map_err(|_| {
                            DataFusionError::Internal("a column the scan does not read".into())
                        })?;
                        Ok(Transformed::yes(
                            Arc::new(Column::new(column.name(), at)) as Arc<dyn PhysicalExpr>
                        ))
                    })
                    .map(|t| t.data)
            })
            .collect::<Result<Vec<_>>>()
            .ok()?;
        let path = LocalFileSystem::new()
            .path_to_filesystem(&file.object_meta.location)
            .ok()?;
        let handle = std::fs::File::open(&path).ok()?;
        let len = handle.metadata().ok()?.len();
        let shared = SharedFile::new(handle, len);
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Skip);
        let mut metadata = ArrowReaderMetadata::load(&shared, options.clone()).ok()?;
        // DataFusion's coercions of the file's types to the table's (strings as views).
        let mut options = options;
        if let Some(merged) = apply_file_schema_type_coercions(file_schema, metadata.schema()) {
            options = options.with_schema(Arc::new(merged));
            metadata =
                ArrowReaderMetadata::try_new(metadata.metadata().clone(), options.clone()).ok()?;
        }
        // The page index, where the predicate can prune pages with it, as DataFusion loads it.
        let pages = self.page_index
            && self.predicate.as_ref().is_some_and(|p| {
                PagePruningAccessPlanFilter::new(p, metadata.schema().clone()).filter_number() > 0
            })
            && metadata.metadata().row_groups().iter().any(|g| {
                g.columns()
                    .iter()
                    .any(|c| c.column_index_offset().is_some() && c.offset_index_offset().is_some())
            });
        if pages {
            let options = options.with_page_index_policy(PageIndexPolicy::Optional);
            metadata = ArrowReaderMetadata::load(&shared, options).ok()?;
        }
        let same = metadata.schema().fields().len() == file_schema.fields().len()
            && metadata
                .schema()
                .fields()
                .iter()
                .zip(file_schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return None;
        }
        let read = Arc::new(Schema::new(
            columns
                .iter()
                .map(|&c| metadata.schema().field(c).clone())
                .collect::<Vec<_>>(),
        ));
        let groups = metadata.metadata().row_groups();
        let mut plan = RowGroupAccessPlanFilter::new(ParquetAccessPlan::new_all(groups.len()));
        if let Some(range) = &file.range {
            plan.prune_by_range(groups, range);
        }
        let groups = plan.build().row_group_indexes();
        let file = Arc::new(OpenFile {
            metrics: ParquetFileMetrics::new(self.partition, &name, &self.metrics),
            shared,
            path,
            metadata,
            columns,
            read,
            exprs,
            output,
            predicate: self.predicate.clone(),
            prune: self.prune,
            pages,
            decoded: self.decoded.clone(),
        });
        Some(RowGroups { file, groups })
    }
}

/// A file qjit reads, as its row groups' morsels need it.
struct OpenFile {
    shared: SharedFile,
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    /// The file columns read (ascending) and their schema.
    columns: Vec<usize>,
    read: SchemaRef,
    /// Each output column's expression over the columns read.
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    output: SchemaRef,
    /// The scan's predicate, and whether it prunes row groups by their statistics and pages
    /// by the page index (then loaded with the metadata).
    predicate: Option<Arc<dyn PhysicalExpr>>,
    prune: bool,
    pages: bool,
    metrics: ParquetFileMetrics,
    decoded: Count,
}

impl OpenFile {
    /// Which rows of row group `group` DataFusion's reader would read, by the predicate as it
    /// is now (a dynamic filter's value changes while the query runs): none when its
    /// statistics show that no row meets the predicate, the rows of the pages the page index
    /// does not rule out, or all.
    fn access(&self, group: usize) -> RowGroupAccess {
        let Some(predicate) = &self.predicate else {
            return RowGroupAccess::Scan;
        };
        let schema = self.metadata.schema();
        let parquet = self.metadata.metadata();
        let descr = parquet.file_metadata().schema_descr();
        if self.prune {
            if let Some(pruning) = PruningPredicateBuilder::new()
                .with_file_schema(schema.clone())
                .build(predicate.clone())
            {
                let mut plan = RowGroupAccessPlanFilter::new(ParquetAccessPlan::new_all(1));
                plan.prune_by_statistics(
                    schema,
                    descr,
                    &parquet.row_groups()[group..=group],
                    &pruning,
                    &self.metrics,
                );
                if plan.remaining_row_group_count() == 0 {
                    return RowGroupAccess::Skip;
                }
                // Every row meets the predicate: no page to rule out.
                if plan.is_fully_matched()[0] {
                    return RowGroupAccess::Scan;
                }
            }
        }
        if !self.pages {
            return RowGroupAccess::Scan;
        }
        let mut plan = ParquetAccessPlan::new_none(parquet.num_row_groups());
        plan.scan(group);
        let plan = PagePruningAccessPlanFilter::new(predicate, schema.clone())
            .prune_plan_with_page_index(plan, schema, descr, parquet, &self.metrics);
        plan.inner()
            .get(group)
            .cloned()
            .unwrap_or(RowGroupAccess::Scan)
    }

    /// The reader of row group `group` (of its `rows` only, if given; pages before them are
    /// not read): qjit's decoder, or arrow-rs's when qjit decodes none of its columns.
    fn reader(&self, group: usize, rows: Option<Range<usize>>) -> crate::error::Result<Reader> {
        let own = RowGroupBatches::try_new(
            &self.shared,
            &self.path,
            &self.metadata,
            group,
            rows.clone(),
            &self.columns,
            &self.read,
            None,
        )?;
        if let Some(own) = own {
            self.decoded.add(1);
            return Ok(Reader::Own(own));
        }
        let descr = self.metadata.metadata().file_metadata().schema_descr();
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.shared.clone(),
            self.metadata.clone(),
        )
        .with_row_groups(vec![group])
        .with_projection(ProjectionMask::roots(descr, self.columns.iter().copied()))
        .with_batch_size(BATCH_SIZE);
        if let Some(rows) = rows {
            builder = builder.with_row_selection(RowSelection::from(vec![
                RowSelector::skip(rows.start),
                RowSelector::select(rows.len()),
            ]));
        }
        let reader = builder
            .build()
            .map_err(|e| crate::exec::source::parquet_error(&self.path, e))?;
        Ok(Reader::Arrow(reader))
    }

    /// `batch` (of `columns`) as the scan's output.
    fn output(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let columns = self
            .exprs
            .iter()
            .map(|e| e.evaluate(&batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            self.output.clone(),
            columns,
            &options,
        )?)
    }
}

/// The rows from the first to the last that `selection` selects, or `None` if it selects none.
fn covering(selection: &RowSelection) -> Option<Range<usize>> {
    let mut at = 0;
    let mut first = None;
    let mut end = 0;
    for selector in selection.iter() {
        if !selector.skip && selector.row_count > 0 {
            first.get_or_insert(at);
            end = at + selector.row_count;
        }
        at += selector.row_count;
    }
    first.map(|first| first..end)
}

enum Reader {
    Own(RowGroupBatches),
    Arrow(ParquetRecordBatchReader),
}

/// The row groups of a file qjit reads, each a morsel.
struct RowGroups {
    file: Arc<OpenFile>,
    groups: Vec<usize>,
}

impl fmt::Debug for RowGroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowGroups")
            .field("path", &self.file.path)
            .field("groups", &self.groups)
            .finish()
    }
}

impl MorselPlanner for RowGroups {
    fn plan(self: Box<Self>) -> Result<Option<MorselPlan>> {
        // A file with no row group in its range is done (DataFusion's stream expects no plan
        // rather than a plan of no morsels).
        if self.groups.is_empty() {
            return Ok(None);
        }
        let morsels = self
            .groups
            .iter()
            .map(|&group| {
                Box::new(RowGroup {
                    file: self.file.clone(),
                    group,
                }) as Box<dyn Morsel>
            })
            .collect();
        Ok(Some(MorselPlan::new().with_morsels(morsels)))
    }
}

/// One row group of a file qjit reads. Its column chunks are read when its stream is first
/// polled, so that a partition holds one row group's chunks at a time.
struct RowGroup {
    file: Arc<OpenFile>,
    group: usize,
}

impl fmt::Debug for RowGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowGroup")
            .field("path", &self.file.path)
            .field("group", &self.group)
            .finish()
    }
}

impl Morsel for RowGroup {
    fn into_stream(self: Box<Self>) -> BoxStream<'static, Result<RecordBatch>> {
        let RowGroup { file, group } = *self;
        let mut reader: Option<Reader> = None;
        let mut done = false;
        let batches = std::iter::from_fn(move || {
            if done {
                return None;
            }
            if reader.is_none() {
                let rows = match file.access(group) {
                    RowGroupAccess::Skip => None,
                    RowGroupAccess::Scan => Some(None),
                    RowGroupAccess::Selection(selection) => covering(&selection).map(Some),
                };
                let Some(rows) = rows else {
                    done = true;
                    return None;
                };
                match file.reader(group, rows) {
                    Ok(r) => reader = Some(r),
                    Err(e) => {
                        done = true;
                        return Some(Err(DataFusionError::External(Box::new(e))));
                    }
                }
            }
            let next = match reader.as_mut()? {
                Reader::Own(own) => own
                    .next()?
                    .map_err(|e| DataFusionError::External(Box::new(e))),
                Reader::Arrow(arrow) => arrow.next()?.map_err(DataFusionError::from),
            };
            if next.is_err() {
                done = true;
            }
            Some(next.and_then(|batch| file.output(batch)))
        });
        futures::stream::iter(batches).boxed()
    }
}

impl fmt::Debug for QjitParquetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QjitParquetSource").finish_non_exhaustive()
    }
}
