//! Statistics pruning: the row groups of a Parquet file, and the pages within them, that may
//! hold a row where the `WHERE` predicate is TRUE.
//!
//! In: the plan's predicate (over the scan batch), the projection (scan column → file column) and
//! the file's metadata with its statistics (row groups) and page index (pages). Out: the row
//! groups to read and, for each, the rows to decode ([`RowSelection`] of whole pages).
//!
//! The predicate becomes a [`Test`]: `AND`/`OR` of atoms on one column each (`column op
//! constant`, `IN` a list of constants, `IS [NOT] NULL`); anything else is unknown and keeps
//! everything. An atom is false for a unit (row group or page) only when its minimum, maximum and
//! null count prove that no row of the unit satisfies it; a statistic that is missing keeps the
//! unit. Floating-point and boolean columns are not pruned (NaN and the order of `-0.0` are not
//! settled by Parquet statistics).
//!
//! Pruning only removes rows on which the predicate is not TRUE, so the result is unchanged; the
//! predicate still runs on every row that is read. Errors the predicate could raise on a skipped
//! row are not raised, as with any filter that skips work.

use arrow::array::{Array, ArrayRef, BooleanArray, UInt64Array};
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Schema};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, RowSelection, RowSelector};
use parquet::file::metadata::ParquetMetaData;
use parquet::file::metadata::{ParquetColumnIndex, ParquetOffsetIndex};
use parquet::schema::types::SchemaDescriptor;

use crate::error::Result;
use crate::interp::literal_like;
use crate::ir::{BinaryOp, Expr, SqlType, UnaryOp};

/// What to read of a file: row groups in order, each with the rows to decode (`None`: all).
#[derive(Debug)]
pub(crate) struct Pruned {
    pub row_groups: Vec<(usize, Option<RowSelection>)>,
}

/// The row groups (and pages) of `metadata` that may hold rows where `filter` is TRUE.
/// `projection` maps the scan batch's columns (the predicate's column indices) to the file's.
pub(crate) fn prune(
    filter: Option<&Expr>,
    projection: &[usize],
    metadata: &ArrowReaderMetadata,
) -> Result<Pruned> {
    let all = metadata.metadata().num_row_groups();
    let test = match filter {
        Some(f) => Test::of(f, projection),
        None => Test::Unknown,
    };
    if matches!(test, Test::Unknown) {
        return Ok(Pruned {
            row_groups: (0..all).map(|g| (g, None)).collect(),
        });
    }
    let stats = Stats {
        schema: metadata.schema(),
        parquet: metadata.parquet_schema(),
        meta: metadata.metadata(),
    };
    let groups: Vec<usize> = (0..all).collect();
    let keep = test.eval(&stats, &Unit::RowGroups(&groups))?;
    let mut row_groups = vec![];
    for (g, keep) in keep.into_iter().enumerate() {
        if !keep {
            continue;
        }
        let rows = usize::try_from(stats.meta.row_group(g).num_rows()).unwrap_or(0);
        match test.pages(&stats, g)? {
            Some(sel) if !sel.selects_any() => {}
            // Every page may hold a row: the whole row group, with nothing to skip.
            Some(sel) if sel.row_count() == rows => row_groups.push((g, None)),
            sel => row_groups.push((g, sel)),
        }
    }
    Ok(Pruned { row_groups })
}

/// A predicate as far as statistics can decide it.
#[derive(Debug)]
enum Test {
    /// Statistics cannot tell: keep.
    Unknown,
    /// `column op value` (the column's file index; `value` of the column's SQL type).
    Compare {
        column: usize,
        op: BinaryOp,
        value: crate::ir::Literal,
    },
    /// `column IN (values)`.
    In {
        column: usize,
        values: Vec<crate::ir::Literal>,
    },
    /// `column IS NULL` (`IS NOT NULL` when `negated`).
    IsNull {
        column: usize,
        negated: bool,
    },
    And(Vec<Test>),
    Or(Vec<Test>),
}

/// Whether statistics of a column of this type order its values as the engine does
/// (timestamps: as their `i64` values; not those stored as `INT96`, see [`Stats::column`]).
fn prunable(ty: SqlType) -> bool {
    ty.is_integer()
        || ty.is_decimal()
        || ty.is_timestamp()
        || matches!(ty, SqlType::Date | SqlType::Utf8)
}

impl Test {
    fn of(e: &Expr, projection: &[usize]) -> Test {
        let column = |e: &Expr| match e {
            Expr::Column(c) if prunable(c.ty) => projection.get(c.index).copied(),
            _ => None,
        };
        match e {
            Expr::Binary {
                op: BinaryOp::And,
                left,
                right,
                ..
            } => match (Test::of(left, projection), Test::of(right, projection)) {
                (Test::Unknown, t) | (t, Test::Unknown) => t,
                (a, b) => Test::And(vec![a, b]),
            },
            Expr::Binary {
                op: BinaryOp::Or,
                left,
                right,
                ..
            } => match (Test::of(left, projection), Test::of(right, projection)) {
                (Test::Unknown, _) | (_, Test::Unknown) => Test::Unknown,
                (a, b) => Test::Or(vec![a, b]),
            },
            Expr::Binary {
                op, left, right, ..
            } if op.is_comparison() => {
                let (col, lit, op) = match (left.as_ref(), right.as_ref()) {
                    (c, Expr::Literal(l)) => (c, l, *op),
                    (Expr::Literal(l), c) => (c, l, op.swap()),
                    _ => return Test::Unknown,
                };
                match column(col) {
                    Some(column) if !lit.value.is_null() && lit.ty == col.ty() => Test::Compare {
                        column,
                        op,
                        value: lit.clone(),
                    },
                    _ => Test::Unknown,
                }
            }
            Expr::InList {
                arg,
                list,
                negated: false,
            } => {
                let Some(column) = column(arg) else {
                    return Test::Unknown;
                };
                let mut values = vec![];
                for item in list {
                    match item {
                        Expr::Literal(l) if l.ty == arg.ty() => {
                            // A NULL item never makes the predicate TRUE.
                            if !l.value.is_null() {
                                values.push(l.clone());
                            }
                        }
                        _ => return Test::Unknown,
                    }
                }
                Test::In { column, values }
            }
            Expr::IsNull { arg, negated } => match arg.as_ref() {
                Expr::Column(c) => match projection.get(c.index) {
                    Some(&column) => Test::IsNull {
                        column,
                        negated: *negated,
                    },
                    None => Test::Unknown,
                },
                _ => Test::Unknown,
            },
            Expr::Unary {
                op: UnaryOp::Not, ..
            } => Test::Unknown,
            _ => Test::Unknown,
        }
    }

    /// For each unit: whether it may hold a row where the test is TRUE.
    fn eval(&self, stats: &Stats, unit: &Unit) -> Result<Vec<bool>> {
        let n = unit.len(stats)?;
        Ok(match self {
            Test::Unknown => vec![true; n],
            Test::And(parts) => {
                let mut keep = vec![true; n];
                for p in parts {
                    for (k, v) in keep.iter_mut().zip(p.eval(stats, unit)?) {
                        *k &= v;
                    }
                }
                keep
            }
            Test::Or(parts) => {
                let mut keep = vec![false; n];
                for p in parts {
                    for (k, v) in keep.iter_mut().zip(p.eval(stats, unit)?) {
                        *k |= v;
                    }
                }
                keep
            }
            Test::Compare { column, op, value } => {
                let Some(s) = stats.column(*column, unit)? else {
                    return Ok(vec![true; n]);
                };
                s.compare(*op, value)?
            }
            Test::In { column, values } => {
                let Some(s) = stats.column(*column, unit)? else {
                    return Ok(vec![true; n]);
                };
                let mut keep = vec![false; n];
                for v in values {
                    for (k, m) in keep.iter_mut().zip(s.compare(BinaryOp::Eq, v)?) {
                        *k |= m;
                    }
                }
                keep
            }
            Test::IsNull { column, negated } => {
                let Some(s) = stats.column(*column, unit)? else {
                    return Ok(vec![true; n]);
                };
                (0..n)
                    .map(|i| match (s.nulls(i), s.rows(i)) {
                        (Some(nulls), _) if !negated => nulls > 0,
                        (Some(nulls), Some(rows)) if *negated => nulls < rows,
                        _ => true,
                    })
                    .collect()
            }
        })
    }

    /// The rows of row group `g` in pages that may hold a row where the test is TRUE (`None`:
    /// every row, or no page index).
    fn pages(&self, stats: &Stats, g: usize) -> Result<Option<RowSelection>> {
        let rows = stats.meta.row_group(g).num_rows() as usize;
        Ok(match self {
            Test::Unknown => None,
            Test::And(parts) => {
                let mut out: Option<RowSelection> = None;
                for p in parts {
                    if let Some(sel) = p.pages(stats, g)? {
                        out = Some(match out {
                            Some(o) => o.intersection(&sel),
                            None => sel,
                        });
                    }
                }
                out
            }
            Test::Or(parts) => {
                let mut out: Option<RowSelection> = None;
                for p in parts {
                    let Some(sel) = p.pages(stats, g)? else {
                        return Ok(None);
                    };
                    out = Some(match out {
                        Some(o) => o.union(&sel),
                        None => sel,
                    });
                }
                out
            }
            Test::Compare { column, .. }
            | Test::In { column, .. }
            | Test::IsNull { column, .. } => {
                let unit = Unit::Pages {
                    group: g,
                    column: *column,
                };
                let Some(counts) = stats.page_rows(*column, g)? else {
                    return Ok(None);
                };
                let keep = self.eval(stats, &unit)?;
                if keep.len() != counts.len() || counts.iter().sum::<usize>() != rows {
                    return Ok(None);
                }
                let selectors: Vec<RowSelector> = keep
                    .iter()
                    .zip(&counts)
                    .map(|(&k, &n)| match k {
                        true => RowSelector::select(n),
                        false => RowSelector::skip(n),
                    })
                    .collect();
                Some(RowSelection::from(selectors))
            }
        })
    }
}

/// The units statistics are read for.
enum Unit<'a> {
    RowGroups(&'a [usize]),
    /// The pages of one column chunk.
    Pages {
        group: usize,
        column: usize,
    },
}

impl Unit<'_> {
    fn len(&self, stats: &Stats) -> Result<usize> {
        Ok(match self {
            Unit::RowGroups(g) => g.len(),
            Unit::Pages { group, column } => stats
                .page_rows(*column, *group)?
                .map_or(0, |counts| counts.len()),
        })
    }
}

/// The file's statistics.
struct Stats<'a> {
    schema: &'a Schema,
    parquet: &'a SchemaDescriptor,
    meta: &'a ParquetMetaData,
}

/// One column's minimums, maximums, null counts and row counts over some units.
struct ColumnStats {
    mins: ArrayRef,
    maxes: ArrayRef,
    nulls: UInt64Array,
    rows: Option<UInt64Array>,
}

impl Stats<'_> {
    fn converter(&self, column: usize) -> Option<StatisticsConverter<'_>> {
        let name = self.schema.fields().get(column)?.name();
        StatisticsConverter::try_new(name, self.schema, self.parquet).ok()
    }

    /// The statistics of `column` over `unit`; `None` where the file has none, or they cannot
    /// be read (then nothing is pruned on them).
    fn column(&self, column: usize, unit: &Unit) -> Result<Option<ColumnStats>> {
        let Some(c) = self.converter(column) else {
            return Ok(None);
        };
        // Writers order `INT96` timestamps' statistics as bytes, not as times (the format
        // leaves their order undefined): nothing is pruned on them.
        let int96 = c.parquet_column_index().is_some_and(|i| {
            i < self.parquet.num_columns()
                && self.parquet.column(i).physical_type() == parquet::basic::Type::INT96
        });
        if int96 {
            return Ok(None);
        }
        let read = || -> parquet::errors::Result<Option<ColumnStats>> {
            Ok(Some(match unit {
                Unit::RowGroups(groups) => {
                    let metas = || groups.iter().map(|&g| self.meta.row_group(g));
                    ColumnStats {
                        mins: widen(c.row_group_mins(metas())?)?,
                        maxes: widen(c.row_group_maxes(metas())?)?,
                        nulls: c.row_group_null_counts(metas())?,
                        rows: c.row_group_row_counts(metas())?,
                    }
                }
                Unit::Pages { group, .. } => {
                    let Some(pages) = self.pages() else {
                        return Ok(None);
                    };
                    let groups = [*group];
                    ColumnStats {
                        mins: widen(c.data_page_mins(pages.columns, pages.offsets, &groups)?)?,
                        maxes: widen(c.data_page_maxes(pages.columns, pages.offsets, &groups)?)?,
                        nulls: c.data_page_null_counts(pages.columns, pages.offsets, &groups)?,
                        rows: c.data_page_row_counts(
                            pages.offsets,
                            self.meta.row_groups(),
                            &groups,
                        )?,
                    }
                }
            }))
        };
        Ok(read().unwrap_or(None))
    }

    /// The page index, when the file has both its parts (column and offset indexes).
    fn pages(&self) -> Option<PageIndex<'_>> {
        Some(PageIndex {
            columns: self.meta.column_index()?,
            offsets: self.meta.offset_index()?,
        })
    }

    /// The row count of each page of `column` in row group `group` (`None` without an offset
    /// index).
    fn page_rows(&self, column: usize, group: usize) -> Result<Option<Vec<usize>>> {
        let (Some(pages), Some(c)) = (self.pages(), self.converter(column)) else {
            return Ok(None);
        };
        let Ok(Some(counts)) =
            c.data_page_row_counts(pages.offsets, self.meta.row_groups(), &[group])
        else {
            return Ok(None);
        };
        if counts.null_count() > 0 {
            return Ok(None);
        }
        Ok(Some(counts.values().iter().map(|&n| n as usize).collect()))
    }
}

/// A file's page index: per row group and column, the pages' statistics and locations.
#[derive(Clone, Copy)]
struct PageIndex<'a> {
    columns: &'a ParquetColumnIndex,
    offsets: &'a ParquetOffsetIndex,
}

impl ColumnStats {
    fn nulls(&self, i: usize) -> Option<u64> {
        self.nulls.is_valid(i).then(|| self.nulls.value(i))
    }

    fn rows(&self, i: usize) -> Option<u64> {
        self.rows
            .as_ref()
            .and_then(|r| r.is_valid(i).then(|| r.value(i)))
    }

    /// For each unit: whether some row may satisfy `column op value`.
    fn compare(&self, op: BinaryOp, value: &crate::ir::Literal) -> Result<Vec<bool>> {
        let n = self.mins.len();
        let bound =
            |stats: &ArrayRef| -> Result<ArrayRef> { literal_like(value, stats.data_type()) };
        if matches!(self.mins.data_type(), DataType::Null) {
            return Ok(vec![true; n]);
        }
        let v = bound(&self.mins)?;
        let v = arrow::array::Scalar::new(v);
        // `min op' v` / `max op' v`, unknown (NULL) as "may".
        let may = |b: BooleanArray| -> Vec<bool> {
            (0..b.len()).map(|i| b.is_null(i) || b.value(i)).collect()
        };
        let and = |a: Vec<bool>, b: Vec<bool>| -> Vec<bool> {
            a.into_iter().zip(b).map(|(x, y)| x && y).collect()
        };
        let mut keep = match op {
            BinaryOp::Eq => and(
                may(cmp::lt_eq(&self.mins, &v)?),
                may(cmp::gt_eq(&self.maxes, &v)?),
            ),
            // Some row differs from `v` unless every value equals it.
            BinaryOp::NotEq => {
                let lo = cmp::eq(&self.mins, &v)?;
                let hi = cmp::eq(&self.maxes, &v)?;
                (0..n)
                    .map(|i| !(lo.is_valid(i) && hi.is_valid(i) && lo.value(i) && hi.value(i)))
                    .collect()
            }
            BinaryOp::Lt => may(cmp::lt(&self.mins, &v)?),
            BinaryOp::LtEq => may(cmp::lt_eq(&self.mins, &v)?),
            BinaryOp::Gt => may(cmp::gt(&self.maxes, &v)?),
            BinaryOp::GtEq => may(cmp::gt_eq(&self.maxes, &v)?),
            _ => vec![true; n],
        };
        // A unit of NULLs only makes every comparison NULL.
        for (i, k) in keep.iter_mut().enumerate() {
            if let (Some(nulls), Some(rows)) = (self.nulls(i), self.rows(i)) {
                if nulls == rows {
                    *k = false;
                }
            }
        }
        Ok(keep)
    }
}

/// Statistics of a `Decimal64` column as `Decimal128`, the type constants compare with.
fn widen(stats: ArrayRef) -> parquet::errors::Result<ArrayRef> {
    crate::interp::widen_decimal64(&stats)
        .map_err(|e| parquet::errors::ParquetError::General(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::{EnabledStatistics, WriterProperties};

    use crate::exec::{self, EngineKind, QueryOptions, Source};

    /// 1,000 rows in row groups of 100 and pages of 10: `x` = 0..1000 (sorted), `d` the same as
    /// dates, `s` = "k<x / 100>", `n` NULL except in row group 3, and `ts` = `x` hours after
    /// 1970-01-01 as a zoned timestamp of seconds.
    fn table() -> (tempfile::TempDir, Source, Source) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Int64, false),
            Field::new("d", DataType::Date32, false),
            Field::new("s", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new(
                "ts",
                DataType::Timestamp(arrow::datatypes::TimeUnit::Second, Some("+01:00".into())),
                false,
            ),
        ]));
        let x: Vec<i64> = (0..1000).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(x.clone())),
                Arc::new(Date32Array::from(
                    x.iter().map(|&v| v as i32).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    x.iter()
                        .map(|v| format!("k{}", v / 100))
                        .collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    x.iter()
                        .map(|&v| (v / 100 == 3).then_some(v))
                        .collect::<Vec<_>>(),
                )),
                Arc::new(
                    arrow::array::TimestampSecondArray::from(
                        x.iter().map(|&v| v * 3600).collect::<Vec<_>>(),
                    )
                    .with_timezone("+01:00"),
                ),
            ],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .set_data_page_row_count_limit(10)
            .set_write_batch_size(10)
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            schema.clone(),
            Some(properties),
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let memory = Source::batches("t", schema, vec![batch]);
        (dir, Source::parquet(path), memory)
    }

    /// The row groups read for `WHERE <predicate>` and the rows decoded in them.
    fn pruned(source: &Source, predicate: &str) -> (Vec<usize>, usize) {
        let plan = exec::plan(source, &format!("SELECT x FROM t WHERE {predicate}")).unwrap();
        let Source::Parquet { path, .. } = source else {
            unreachable!()
        };
        let (_, metadata) = super::super::source::open_parquet(path).unwrap();
        let p = super::prune(plan.filter.as_ref(), &plan.projection, &metadata).unwrap();
        let groups = p.row_groups.iter().map(|(g, _)| *g).collect();
        let rows = p
            .row_groups
            .iter()
            .map(|(_, sel)| sel.as_ref().map_or(100, |s| s.row_count()))
            .sum();
        (groups, rows)
    }

    #[test]
    fn row_groups_and_pages_are_skipped_by_statistics() {
        let (_dir, file, _) = table();
        assert_eq!(pruned(&file, "x < 150"), (vec![0, 1], 150));
        assert_eq!(pruned(&file, "x = 555"), (vec![5], 10));
        assert_eq!(pruned(&file, "555 = x"), (vec![5], 10));
        assert_eq!(pruned(&file, "x >= 990"), (vec![9], 10));
        assert_eq!(pruned(&file, "x > 999"), (vec![], 0));
        assert_eq!(pruned(&file, "x <= 0"), (vec![0], 10));
        assert_eq!(pruned(&file, "x BETWEEN 205 AND 214"), (vec![2], 20));
        assert_eq!(pruned(&file, "x IN (5, 905)"), (vec![0, 9], 20));
        assert_eq!(pruned(&file, "x = 5 OR x = 905"), (vec![0, 9], 20));
        assert_eq!(pruned(&file, "x < 10 OR s = 'k4'"), (vec![0, 4], 110));
        assert_eq!(
            pruned(&file, "d >= DATE '1970-01-01' + 700"),
            (vec![7, 8, 9], 300)
        );
        assert_eq!(
            pruned(&file, "ts >= TIMESTAMPTZ '1970-01-30 04:00:00+00'"),
            (vec![7, 8, 9], 300)
        );
        assert_eq!(pruned(&file, "ts = '1970-01-01 05:00:00'"), (vec![0], 10));
        assert_eq!(pruned(&file, "s = 'k7'"), (vec![7], 100));
        assert_eq!(pruned(&file, "s > 'k8'"), (vec![9], 100));
        assert_eq!(pruned(&file, "n IS NOT NULL"), (vec![3], 100));
        assert_eq!(pruned(&file, "n > 0"), (vec![3], 100));
        assert_eq!(pruned(&file, "x IS NULL"), (vec![], 0));
        assert_eq!(pruned(&file, "x <> 5"), ((0..10).collect(), 1000));
        // What statistics cannot decide keeps everything.
        assert_eq!(pruned(&file, "x + 1 < 10"), ((0..10).collect(), 1000));
        assert_eq!(pruned(&file, "NOT (x >= 10)"), ((0..10).collect(), 1000));
        assert_eq!(
            pruned(&file, "x < 10 OR x + 1 < 10"),
            ((0..10).collect(), 1000)
        );
        assert_eq!(pruned(&file, "x < 10 AND x + 1 < 10"), (vec![0], 10));
    }

    #[test]
    fn pruned_scans_give_the_answers_of_full_scans() {
        let (_dir, file, memory) = table();
        for predicate in [
            "x < 150",
            "x = 555",
            "x IN (5, 905, NULL)",
            "x < 10 OR s = 'k4'",
            "n IS NOT NULL AND x % 7 = 0",
            "s >= 'k9' AND x > 995",
            "x > 5000",
            "n IS NULL",
            "s LIKE '%3' AND n IS NOT NULL",
            "NOT (x > 3) OR s IN ('k5', 'k6')",
        ] {
            let sql = format!("SELECT x, s, n FROM t WHERE {predicate} ORDER BY x");
            let agg = format!("SELECT COUNT(*), SUM(x), MIN(s) FROM t WHERE {predicate}");
            for engine in [EngineKind::Interp, EngineKind::Auto] {
                for threads in [1, 2, 7] {
                    let options = QueryOptions {
                        engine,
                        threads: Some(threads),
                        ..Default::default()
                    };
                    for sql in [&sql, &agg] {
                        let a = exec::run(&file, sql, &options).unwrap();
                        let b = exec::run(&memory, sql, &options).unwrap();
                        assert_eq!(
                            a.batches, b.batches,
                            "{sql} on {engine:?}, {threads} threads"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn errors_are_the_same_with_pushdown() {
        let (_dir, file, memory) = table();
        // The predicate can fail (division by zero at x = 0): it is never pushed into the scan, and
        // pruning may not skip the row group where it fails.
        for sql in [
            "SELECT x FROM t WHERE 10 / x > 1 AND s = 'k0'",
            "SELECT COUNT(*) FROM t WHERE x < 5 AND 10 / (x - 3) > 0",
        ] {
            let options = QueryOptions {
                engine: EngineKind::Auto,
                threads: Some(2),
                ..Default::default()
            };
            let a = exec::run(&file, sql, &options).unwrap_err().to_string();
            let b = exec::run(&memory, sql, &options).unwrap_err().to_string();
            assert_eq!(a, b, "{sql}");
        }
    }
}
