use std::sync::Arc;

use arrow::array::{
    Array, BinaryViewArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterVersion};

use super::RowGroupBatches;
use crate::exec::predicate::{Condition, Necessary};
use crate::exec::source::{open_parquet, BATCH_SIZE};
use crate::exec::{EngineKind, QueryOptions, Source};

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
/// `projections`, with narrow decimals read as `Decimal64` and as `Decimal128`, decodes here
/// to exactly the batches the arrow-rs reader returns; returns how many (decimal type,
/// projection, row group) triples were decoded here.
fn same_as_arrow(
    batch: &RecordBatch,
    properties: WriterProperties,
    projections: &[&[usize]],
) -> usize {
    let mut decoded = 0;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    write(&path, batch, properties);
    let (file, decimal64) = open_parquet(&path).unwrap();
    // The file as qjit's engine reads it (narrow decimals as `Decimal64`) and as written
    // (`Decimal128`, as DataFusion reads it).
    let as_written = ArrowReaderMetadata::load(&file, Default::default()).unwrap();
    let descr = decimal64.metadata().file_metadata().schema_descr_ptr();
    for (metadata, columns) in [decimal64, as_written]
        .iter()
        .flat_map(|m| projections.iter().map(move |c| (m, c)))
    {
        for group in 0..metadata.metadata().num_row_groups() {
            let arrow =
                ParquetRecordBatchReaderBuilder::new_with_metadata(file.clone(), metadata.clone())
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
                &file, &path, metadata, group, None, columns, &schema, None,
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
            // Parts of the row group: from its start, from within a page (skipping the pages
            // before it unread), across page and batch boundaries, to its end, one row, none.
            let all = arrow::compute::concat_batches(&schema, &expected).unwrap();
            let n = all.num_rows();
            for part in [
                0..n,
                1..n,
                2_999..6_001,
                3_000..9_000,
                n / 2..n,
                BATCH_SIZE + 17..n.saturating_sub(3).max(BATCH_SIZE + 17).min(n),
                n - 1..n,
                n / 3..n / 3,
            ] {
                let part = part.start.min(n)..part.end.min(n);
                let ours = RowGroupBatches::try_new(
                    &file,
                    &path,
                    metadata,
                    group,
                    Some(part.clone()),
                    columns,
                    &schema,
                    None,
                )
                .unwrap()
                .unwrap();
                let ours: Vec<RecordBatch> = ours.map(Result::unwrap).collect();
                let ours = arrow::compute::concat_batches(&schema, &ours).unwrap();
                let theirs = all.slice(part.start, part.len());
                assert_eq!(ours.num_rows(), part.len(), "{columns:?}, rows {part:?}");
                for (c, (a, b)) in ours.columns().iter().zip(theirs.columns()).enumerate() {
                    assert_eq!(
                        a.to_data(),
                        b.to_data(),
                        "{columns:?}, column {c}, {part:?}"
                    );
                }
            }
            // Some rows of each batch: none, a few, runs, nearly all; with the others
            // decoded as they are skipped.
            let mut batches = RowGroupBatches::try_new(
                &file, &path, metadata, group, None, columns, &schema, None,
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
                    let theirs = arrow::compute::filter(expected.column(c), &selected.1).unwrap();
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
                &file, &path, metadata, group, None, columns, &schema, None,
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
                        super::read_meeting(slot, n, selected, &condition, &others, "t").unwrap();
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
    for (seed, (nulls, distinct)) in [(0, 40), (3, 40), (8, 40), (2, 100_000)].iter().enumerate() {
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
                // Version 1 pages fall back from dictionaries to PLAIN: all decoded here (each
                // projection of each row group twice: with decimals as `Decimal64` and as
                // `Decimal128`).
                let all = 2 * projections.len() * 30_000usize.div_ceil(12_345);
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
            2 * 2 * projections.len()
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
        RowGroupBatches::try_new(&file, &path, &metadata, 0, None, &[0, 2], &schema, None)
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
                // Whole, and a part that starts within a page and skips the pages before it.
                for part in [None, Some(4_100..17_000)] {
                    let read = RowGroupBatches::try_new(
                        &file,
                        &path,
                        &metadata,
                        0,
                        part,
                        &[c],
                        &schema,
                        None,
                    )
                    .and_then(|b| b.expect("decoded here").collect::<Result<Vec<_>, _>>());
                    if let Err(e) = read {
                        failures += 1;
                        assert!(e.to_string().contains("t.parquet"), "{e}");
                    }
                }
                // The date and i64 columns again, checked by a range condition (once per
                // dictionary entry, or per plain value) beside a column read for the rows
                // that meet it.
                let range = match c {
                    1 => Condition::Range(9_000, 9_100),
                    2 => Condition::Range(0, 100_000_000),
                    _ => continue,
                };
                let columns = [c, 5];
                let schema = Arc::new(metadata.schema().project(&columns).unwrap());
                let necessary = Arc::new(Necessary {
                    columns: vec![c],
                    conditions: vec![range],
                    declined: Default::default(),
                });
                let read = RowGroupBatches::try_new(
                    &file,
                    &path,
                    &metadata,
                    0,
                    Some(1_999..20_000),
                    &columns,
                    &schema,
                    Some(&necessary),
                )
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

/// The answer to `sql` over `source` with `engine` on `threads` threads, as a table, or its
/// error, so that answers and errors compare alike.
fn answer(source: &Source, sql: &str, engine: EngineKind, threads: usize) -> String {
    let options = QueryOptions {
        engine,
        threads: Some(threads),
        ..Default::default()
    };
    match crate::exec::run(source, sql, &options) {
        Ok(r) => arrow::util::pretty::pretty_format_batches(&r.batches)
            .unwrap()
            .to_string(),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn prefiltered_scans_answer_as_unfiltered_ones() {
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
    // Dictionary-encoded chunks (the conditions are checked once per entry), plain ones
    // (checked per row), and chunks that switch from the one to the other mid-way.
    let layouts = [
        WriterProperties::builder().set_dictionary_enabled(true),
        WriterProperties::builder().set_dictionary_enabled(false),
        WriterProperties::builder()
            .set_dictionary_page_size_limit(4096)
            .set_data_page_row_count_limit(1000)
            .set_write_batch_size(1000),
    ];
    let parquets: Vec<Source> = layouts
        .into_iter()
        .enumerate()
        .map(|(i, properties)| {
            let path = dir.path().join(format!("t{i}.parquet"));
            write(
                &path,
                &batch,
                properties.set_max_row_group_row_count(Some(15_000)).build(),
            );
            Source::Parquet {
                name: "t".into(),
                path,
            }
        })
        .collect();
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
            let run = |source: &Source, threads: usize| answer(source, sql, engine, threads);
            let expected = run(&memory, 1);
            assert!(!expected.starts_with("error"), "{sql}: {expected}");
            for (layout, parquet) in parquets.iter().enumerate() {
                for threads in [1, 3] {
                    assert_eq!(
                        run(parquet, threads),
                        expected,
                        "{sql} on {threads} threads, layout {layout}"
                    );
                }
            }
        }
    }
}

/// A row group of more than twice `PART_ROWS` rows is read as parts, by more than one worker:
/// the answers are those of the table in memory, on 1 and 3 threads, with the range and string
/// prefilters, a top-N found from its keys alone, and the arrow-rs reader for a column qjit's
/// decoder leaves to it; a float sum is the same on every number of threads.
#[test]
fn large_row_groups_are_read_in_parts() {
    use crate::exec::source::PART_ROWS;
    let rows = 2 * PART_ROWS as i64 + 40_001;
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int32, true),
        Field::new("d", DataType::Date32, false),
        Field::new("x", DataType::Int64, false),
        Field::new("s", DataType::Utf8View, false),
        Field::new("f", DataType::Float64, false),
        Field::new("h", DataType::Int16, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from_iter(
                (0..rows).map(|i| (i % 17 != 0).then_some((i % 1000) as i32)),
            )),
            Arc::new(Date32Array::from_iter_values(
                (0..rows).map(|i| (i * 7 % 2500) as i32),
            )),
            Arc::new(Int64Array::from_iter_values(
                (0..rows).map(|i| i * 7919 % 1_000_003),
            )),
            Arc::new(StringViewArray::from_iter_values((0..rows).map(|i| {
                ["MAIL", "AIR", "a longer ship mode"][(i % 3) as usize]
            }))),
            Arc::new(Float64Array::from_iter_values(
                (0..rows).map(|i| (i % 1013) as f64 / 7.0),
            )),
            Arc::new(Int16Array::from_iter_values(
                (0..rows).map(|i| (i % 300) as i16),
            )),
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(rows as usize))
        .build();
    write(&path, &batch, properties);
    let parquet = Source::Parquet {
        name: "t".into(),
        path,
    };
    let scan = parquet.open().unwrap().morsels(&[0, 1, 2]).unwrap();
    assert_eq!(scan.len(), 2, "one row group of {rows} rows in two parts");
    assert_eq!(scan.rows(), rows as usize);
    let memory = Source::batches("t", schema, vec![batch]);
    let run = answer;
    for sql in [
        "SELECT count(*) AS n, sum(x) AS sx, count(k) AS nk, min(s) AS lo, sum(h) AS sh FROM t",
        "SELECT count(*) AS n, sum(x) AS sx FROM t WHERE d >= DATE '1971-01-01' AND d < DATE '1971-02-01'",
        "SELECT k, count(*) AS n, sum(x) AS sx FROM t WHERE s IN ('AIR', 'MAIL') AND k < 5 GROUP BY k ORDER BY k",
        "SELECT x, s, h FROM t ORDER BY x DESC, h LIMIT 7",
        "SELECT x, k FROM t WHERE k = 999 AND d < DATE '1970-01-20' ORDER BY x",
    ] {
        for engine in [EngineKind::Interp, EngineKind::Auto] {
            let expected = run(&memory, sql, engine, 1);
            assert!(!expected.starts_with("error"), "{sql}: {expected}");
            for threads in [1, 3] {
                assert_eq!(
                    run(&parquet, sql, engine, threads),
                    expected,
                    "{sql} on {threads} threads"
                );
            }
        }
    }
    let sum = "SELECT sum(f) AS s FROM t WHERE h < 200";
    let one = run(&parquet, sum, EngineKind::Auto, 1);
    assert!(!one.starts_with("error"), "{one}");
    assert_eq!(run(&parquet, sum, EngineKind::Auto, 3), one);
    assert_eq!(run(&parquet, sum, EngineKind::Interp, 2), one);
}

#[test]
fn where_clauses_give_the_conditions_their_rows_need() {
    use crate::exec::plan;
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
        super::views::plain_views(&page, &mut 0, count, 0, true, &mut vec![]).is_ok()
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
