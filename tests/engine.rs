//! The embedding API (`qjit::Engine`, `Filter`, `Projection`) on every engine: against the
//! interpreter's answer, from several threads, on sliced arrays, NULLs and empty batches, with
//! batches that do not match the compiled schema, and pushed into a Parquet reader.

mod common;

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use qjit::{Engine, EngineKind, Error, PartEngine};

fn engines() -> Vec<Engine> {
    let mut engines = vec![Engine::builder()
        .engine(EngineKind::Interp)
        .build()
        .unwrap()];
    if cfg!(feature = "jit") {
        engines.push(Engine::new());
        engines.push(Engine::builder().engine(EngineKind::Jit).build().unwrap());
    }
    engines
}

/// Four columns; predicates below read only some of them, in any order.
fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Int32, true),
    ]))
}

fn batch(rows: usize) -> RecordBatch {
    let id: Int64Array = (0..rows as i64).collect();
    let name: StringArray = (0..rows)
        .map(|i| (i % 5 != 0).then(|| format!("n{}", i % 7)))
        .collect();
    let a: Int32Array = (0..rows)
        .map(|i| (i % 3 != 0).then_some(i as i32 % 11 - 5))
        .collect();
    let b: Int32Array = (0..rows)
        .map(|i| (i % 4 != 1).then_some(i as i32 % 13))
        .collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(id), Arc::new(name), Arc::new(a), Arc::new(b)];
    RecordBatch::try_new(schema(), columns).unwrap()
}

const PREDICATES: &[&str] = &[
    "b > a",
    "a IS NULL OR name = 'n3'",
    "b + a > 4 AND id % 2 = 0",
    "NULL",
    "name LIKE 'n%' AND b BETWEEN 2 AND 9",
    "upper(name) = 'N1'",
];

/// The interpreter's answer: the mask, as booleans.
fn reference(predicate: &str, batch: &RecordBatch) -> Vec<bool> {
    let engine = Engine::builder()
        .engine(EngineKind::Interp)
        .build()
        .unwrap();
    let mask = engine
        .compile_filter(&batch.schema(), predicate)
        .unwrap()
        .evaluate(batch)
        .unwrap();
    mask.values().iter().collect()
}

#[test]
fn filters_agree_with_the_interpreter_on_sliced_batches_with_nulls() {
    let whole = batch(300);
    for engine in engines() {
        for p in PREDICATES {
            let filter = engine.compile_filter(&schema(), p).unwrap();
            for (offset, len) in [(0, 300), (7, 150), (63, 65), (299, 1), (5, 0)] {
                let sliced = whole.slice(offset, len);
                let mask = filter.evaluate(&sliced).unwrap();
                assert_eq!(mask.len(), len);
                assert_eq!(mask.null_count(), 0, "{p}");
                assert_eq!(
                    mask.values().iter().collect::<Vec<_>>(),
                    reference(p, &sliced)
                );
                let kept = filter.apply(&sliced).unwrap();
                assert_eq!(kept.num_rows(), mask.true_count());
                assert_eq!(kept.schema(), sliced.schema());
            }
        }
    }
}

/// Kernels compare a decimal column with a constant that fits `i64` in `i64` operations, and
/// treat values past the `i64` range apart: every operator, the constant on either side, values
/// at and past both ends of `i64` and far beyond, NULLs, in `WHERE` and in `SELECT`.
/// Every representation of strings (Polars' categoricals are dictionaries of string views)
/// gives the answers of plain `Utf8`, in every engine.
#[test]
fn every_string_representation_filters_and_projects_alike() {
    use arrow::array::{DictionaryArray, LargeStringArray, StringViewArray, UInt32Array};
    let whole = batch(300).slice(7, 250);
    let names = whole
        .column(1)
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap();
    let values: Vec<Option<&str>> = names.iter().collect();
    let keys: UInt32Array = (0..values.len() as u32)
        .map(|i| values[i as usize].map(|_| i))
        .collect();
    let plain: Vec<&str> = values.iter().map(|v| v.unwrap_or("")).collect();
    let representations: Vec<ArrayRef> = vec![
        Arc::new(LargeStringArray::from(values.clone())),
        Arc::new(StringViewArray::from(values.clone())),
        Arc::new(DictionaryArray::new(
            keys.clone(),
            Arc::new(StringArray::from(plain.clone())),
        )),
        Arc::new(DictionaryArray::new(
            keys,
            Arc::new(StringViewArray::from(plain)),
        )),
    ];
    let predicate = "name LIKE 'n%' AND b > 3 OR upper(name) = 'N2'";
    let expected = reference(predicate, &whole);
    for column in representations {
        let mut fields: Vec<Field> = schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields[1] = Field::new("name", column.data_type().clone(), true);
        let schema = Arc::new(Schema::new(fields));
        let mut columns = whole.columns().to_vec();
        columns[1] = column;
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        for engine in engines() {
            let filter = engine.compile_filter(&schema, predicate).unwrap();
            let mask = filter.evaluate(&batch).unwrap();
            let got: Vec<bool> = mask.values().iter().collect();
            assert_eq!(
                got,
                expected,
                "{} with {:?}",
                schema.field(1),
                engine.options().engine
            );
            let projection = engine
                .compile_projection(&schema, &["name || '!'"])
                .unwrap();
            let out = projection.evaluate(&batch).unwrap();
            let out = out
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            let want: Vec<Option<String>> =
                values.iter().map(|v| v.map(|s| format!("{s}!"))).collect();
            let got: Vec<Option<String>> = out.iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(got, want, "{}", schema.field(1));
        }
    }
}

#[test]
fn decimal_comparisons_with_constants_at_and_past_the_i64_range() {
    let (min, max) = (i64::MIN as i128, i64::MAX as i128);
    let values = [
        Some(min - 1),
        Some(min),
        Some(-1),
        Some(0),
        None,
        Some(1),
        Some(max),
        Some(max + 1),
        Some(10i128.pow(30)),
        Some(-(10i128.pow(30))),
        Some(max - 1),
        Some(min + 1),
    ];
    let x = arrow::array::Decimal128Array::from(values.to_vec())
        .with_precision_and_scale(38, 0)
        .unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new(
        "x",
        DataType::Decimal128(38, 0),
        true,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(x)]).unwrap();
    let interp = Engine::builder()
        .engine(EngineKind::Interp)
        .build()
        .unwrap();
    let constants = [
        i64::MIN.to_string(),
        "-1".to_string(),
        "0".to_string(),
        "1".to_string(),
        i64::MAX.to_string(),
        (max + 1).to_string(),
    ];
    let mut exprs = vec![];
    for c in &constants {
        for op in ["=", "<>", "<", "<=", ">", ">="] {
            exprs.push(format!("x {op} CAST({c} AS DECIMAL(38,0))"));
            exprs.push(format!("CAST({c} AS DECIMAL(38,0)) {op} x"));
        }
    }
    let exprs: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let reference = interp.compile_projection(&schema, &exprs).unwrap();
    for engine in engines() {
        for (offset, len) in [(0, values.len()), (1, 9), (7, 5)] {
            let sliced = batch.slice(offset, len);
            let projection = engine.compile_projection(&schema, &exprs).unwrap();
            assert_eq!(
                projection.evaluate(&sliced).unwrap(),
                reference.evaluate(&sliced).unwrap()
            );
            for e in exprs.iter().copied() {
                let mask = engine.compile_filter(&schema, e).unwrap().evaluate(&sliced);
                let expected = interp.compile_filter(&schema, e).unwrap().evaluate(&sliced);
                assert_eq!(mask.unwrap(), expected.unwrap(), "{e}");
            }
        }
    }
}

/// Decimal columns stored in 8 bytes (`Decimal64`, as qjit reads Parquet's `INT64` decimals) give
/// the answers, errors and output types of the same values stored as `Decimal128`: on every
/// engine, as projections, filters and aggregations, on slices. The values include the ends of
/// `i64` and values past their precision (which Arrow allows).
#[test]
fn decimal64_columns_give_the_answers_of_decimal128_columns() {
    use arrow::array::{Decimal128Array, Decimal64Array};
    let xs = [
        Some(i64::MIN),
        Some(-1),
        Some(0),
        None,
        Some(1),
        Some(12_345),
        Some(i64::MAX),
        Some(-99_999),
        Some(i64::MAX - 1),
        Some(i64::MIN + 1),
        Some(10i64.pow(17)),
        Some(-(10i64.pow(17))),
        Some(700),
    ];
    let ys = [
        Some(5),
        None,
        Some(-1_250),
        Some(7),
        Some(0),
        Some(999_999_999),
        Some(2),
        Some(-3),
        None,
        Some(1),
        Some(40),
        Some(-40),
        Some(5),
    ];
    let table = |wide: bool| -> (SchemaRef, RecordBatch) {
        let (x, y): (ArrayRef, ArrayRef) = match wide {
            true => (
                Arc::new(
                    Decimal128Array::from(xs.map(|v| v.map(i128::from)).to_vec())
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
                Arc::new(
                    Decimal128Array::from(ys.map(|v| v.map(i128::from)).to_vec())
                        .with_precision_and_scale(9, 3)
                        .unwrap(),
                ),
            ),
            false => (
                Arc::new(
                    Decimal64Array::from(xs.to_vec())
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
                Arc::new(
                    Decimal64Array::from(ys.to_vec())
                        .with_precision_and_scale(9, 3)
                        .unwrap(),
                ),
            ),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", x.data_type().clone(), true),
            Field::new("y", y.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![x, y]).unwrap();
        (schema, batch)
    };
    let (wide_schema, wide) = table(true);
    let (narrow_schema, narrow) = table(false);
    assert_eq!(
        narrow_schema.field(0).data_type(),
        &DataType::Decimal64(18, 2)
    );
    let interp = Engine::builder()
        .engine(EngineKind::Interp)
        .build()
        .unwrap();
    let exprs = [
        "x",
        "y",
        "x + y",
        "x - y",
        "x * y",
        "y * y * y",
        "-x",
        "x * 2",
        "x / y",
        "x % y",
        "CAST(x AS DOUBLE)",
        "CAST(x AS VARCHAR)",
        "CAST(y AS DECIMAL(12,5))",
        "CAST(x AS BIGINT)",
        "abs(y)",
        "coalesce(y, x)",
        "CASE WHEN y > 0 THEN x ELSE y END",
        "x < 1.00",
        "x >= -123.45",
        "0.5 < x",
        "x = 123.45",
        "x <> 7.00",
        "x > y",
        "y BETWEEN -1.3 AND 1",
        "x IN (1.00, 7.00, -0.01)",
        "x IS NULL",
        "x < 92233720368547758.07",
        "x >= -92233720368547758.08",
        "x < 100000000000000000000",
    ];
    // Every expression on its own: some fail (overflow, division by zero) on some rows.
    let show = |r: Result<RecordBatch, Error>| match r {
        Ok(b) => format!("{b:?}"),
        Err(e) => format!("error: {e}"),
    };
    for engine in engines() {
        for (offset, len) in [(0, xs.len()), (1, 9), (6, 4), (3, 1)] {
            let (w, n) = (wide.slice(offset, len), narrow.slice(offset, len));
            for e in exprs {
                let reference = interp.compile_projection(&wide_schema, &[e]).unwrap();
                let projection = engine.compile_projection(&narrow_schema, &[e]).unwrap();
                assert_eq!(
                    show(projection.evaluate(&n)),
                    show(reference.evaluate(&w)),
                    "{e} on rows {offset}..{}",
                    offset + len
                );
                if projection.schema().field(0).data_type() == &DataType::Boolean {
                    let filter = engine.compile_filter(&narrow_schema, e).unwrap();
                    let expected = interp.compile_filter(&wide_schema, e).unwrap();
                    assert_eq!(
                        filter.evaluate(&n).map_err(|e| e.to_string()),
                        expected.evaluate(&w).map_err(|e| e.to_string()),
                        "WHERE {e}"
                    );
                }
            }
        }
        let queries = [
            "SELECT sum(x) AS s, min(x) AS lo, max(x) AS hi, count(x) AS n, avg(y) AS m FROM t",
            "SELECT sum(x * y) AS s FROM t WHERE x > 0",
            "SELECT sum(y * 2) AS s, min(y - x) AS d FROM t WHERE x < 1000.00",
            "SELECT y, count(*) AS n, sum(x) AS s FROM t GROUP BY y ORDER BY y",
            "SELECT x, y FROM t WHERE y > 0 ORDER BY x DESC",
            "SELECT DISTINCT y FROM t ORDER BY y",
        ];
        for sql in queries {
            let run = |engine: &Engine, schema: &SchemaRef, batch: &RecordBatch| {
                let mut engine = engine.clone();
                engine
                    .register_batches(
                        "t",
                        schema.clone(),
                        vec![batch.slice(0, 7), batch.slice(7, 6)],
                    )
                    .unwrap();
                engine.query(sql).map_err(|e| e.to_string())
            };
            assert_eq!(
                run(&engine, &narrow_schema, &narrow),
                run(&interp, &wide_schema, &wide),
                "{sql}"
            );
        }
    }
}

#[test]
fn a_filter_reads_only_its_columns() {
    let filter = Engine::new()
        .compile_filter(&schema(), "b > 1 AND a < 3")
        .unwrap();
    assert_eq!(filter.columns(), &[2, 3]);
    if cfg!(feature = "jit") {
        assert_eq!(filter.engine(), &PartEngine::Compiled);
    }
}

#[test]
fn projections_agree_with_the_interpreter() {
    let whole = batch(200);
    let exprs = [
        "b * 2 + a AS x",
        "coalesce(name, 'none')",
        "id",
        "a IS NULL AS missing",
    ];
    let reference = Engine::builder()
        .engine(EngineKind::Interp)
        .build()
        .unwrap()
        .compile_projection(&schema(), &exprs)
        .unwrap();
    for engine in engines() {
        let projection = engine.compile_projection(&schema(), &exprs).unwrap();
        assert_eq!(projection.schema().field(0).name(), "x");
        assert_eq!(projection.schema().field(3).name(), "missing");
        for (offset, len) in [(0, 200), (9, 100), (199, 1), (3, 0)] {
            let sliced = whole.slice(offset, len);
            let out = projection.evaluate(&sliced).unwrap();
            assert_eq!(out.num_rows(), len);
            assert_eq!(out.schema(), *projection.schema());
            assert_eq!(out, reference.evaluate(&sliced).unwrap());
        }
    }
}

#[test]
fn filters_and_projections_work_from_several_threads_at_once() {
    let whole = batch(4000);
    for engine in engines() {
        let filter = engine.compile_filter(&schema(), "b > a").unwrap();
        let projection = engine.compile_projection(&schema(), &["a + b"]).unwrap();
        let expected = filter.apply(&whole).unwrap().num_rows();
        std::thread::scope(|s| {
            for t in 0..4 {
                let filter = filter.clone();
                let projection = projection.clone();
                let whole = &whole;
                s.spawn(move || {
                    for i in 0..20 {
                        assert_eq!(filter.apply(whole).unwrap().num_rows(), expected);
                        let part = whole.slice((t * 20 + i) * 10, 500);
                        assert_eq!(projection.evaluate(&part).unwrap().num_rows(), 500);
                    }
                });
            }
        });
    }
}

fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

#[test]
fn handles_are_send_sync_and_clone() {
    assert_send_sync_clone::<qjit::Filter>();
    assert_send_sync_clone::<qjit::Projection>();
    assert_send_sync_clone::<Engine>();
}

#[test]
fn a_batch_of_another_schema_is_an_error_naming_the_column() {
    let filter = Engine::new().compile_filter(&schema(), "a > 1").unwrap();
    let projection = Engine::new().compile_projection(&schema(), &["a"]).unwrap();
    let mut columns = batch(3).columns().to_vec();
    columns[2] = Arc::new(Int64Array::from(vec![1, 2, 3]));
    let other =
        RecordBatch::try_from_iter(["id", "name", "a", "b"].into_iter().zip(columns)).unwrap();
    for e in [
        filter.evaluate(&other).unwrap_err(),
        projection.evaluate(&other).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Schema(_)), "{e}");
        assert!(
            e.to_string()
                .contains("column 'a' has type Int64, expected Int32"),
            "{e}"
        );
    }
    let narrow = batch(3).project(&[0, 1]).unwrap();
    let e = filter.evaluate(&narrow).unwrap_err();
    assert!(e.to_string().contains("has 2 columns, expected 4"), "{e}");
    // NULLs in a column compiled as NOT NULL.
    let mut columns = batch(3).columns().to_vec();
    columns[0] = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
    let nulls =
        RecordBatch::try_from_iter(["id", "name", "a", "b"].into_iter().zip(columns)).unwrap();
    let e = Engine::new()
        .compile_filter(&schema(), "id > 1")
        .unwrap()
        .evaluate(&nulls)
        .unwrap_err();
    assert!(e.to_string().contains("column 'id' has NULLs"), "{e}");
    // Columns of the right types under other names (`a` and `b` swapped): an error, never the
    // answer for the other column.
    let columns = batch(3).columns().to_vec();
    let swapped =
        RecordBatch::try_from_iter(["id", "name", "b", "a"].into_iter().zip(columns)).unwrap();
    for e in [
        filter.evaluate(&swapped).unwrap_err(),
        filter.apply(&swapped).unwrap_err(),
        projection.evaluate(&swapped).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Schema(_)), "{e}");
        assert!(
            e.to_string()
                .contains("column 3 of the batch is named 'b', expected 'a'"),
            "{e}"
        );
    }
}

#[test]
fn bad_expressions_are_clear_errors() {
    let engine = Engine::new();
    let e = engine.compile_filter(&schema(), "a +").unwrap_err();
    assert!(matches!(e, Error::Syntax { .. }), "{e}");
    let e = engine.compile_filter(&schema(), "a + 1").unwrap_err();
    assert!(e.to_string().contains("WHERE"), "{e}");
    let e = engine.compile_filter(&schema(), "zz > 1").unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown column 'zz' at line 1, column 1"),
        "{e}"
    );
    let e = engine
        .compile_filter(&schema(), "a > 1 LIMIT 1")
        .unwrap_err();
    assert!(e.to_string().contains("not one predicate"), "{e}");
    let e = engine
        .compile_projection(&schema(), &["sum(a)"])
        .unwrap_err();
    assert!(e.to_string().contains("aggregates"), "{e}");
    let e = engine.compile_projection(&schema(), &["a, b"]).unwrap_err();
    assert!(e.to_string().contains("one expression"), "{e}");
    // An incomplete expression is a syntax error on its own line, not one about the `FROM`
    // that follows it in the query the expressions are bound in.
    let e = engine
        .compile_projection(&schema(), &["a", "b +", "a"])
        .unwrap_err();
    assert!(matches!(e, Error::Syntax { .. }), "{e}");
    assert!(e.to_string().contains("line 2, column 4"), "{e}");
    assert!(!e.to_string().contains("qjit_input"), "{e}");
    // Text that would change the query around the expressions.
    assert!(engine
        .compile_projection(&schema(), &["a FROM qjit_input WHERE a > 1 --"])
        .is_err());
    assert!(engine
        .compile_projection(&schema(), &["a FROM qjit_input WHERE a > 1 ORDER BY a"])
        .is_err());
}

#[test]
fn data_errors_are_worded_as_the_interpreter_words_them() {
    let batch =
        RecordBatch::try_from_iter([("a", Arc::new(Int32Array::from(vec![1, 0])) as ArrayRef)])
            .unwrap();
    for engine in engines() {
        let filter = engine
            .compile_filter(&batch.schema(), "10 / a > 1")
            .unwrap();
        assert!(matches!(
            filter.evaluate(&batch),
            Err(Error::DivisionByZero)
        ));
        let projection = engine
            .compile_projection(&batch.schema(), &["a * 2147483647"])
            .unwrap();
        let e = projection.evaluate(&batch.slice(0, 1)).unwrap();
        assert_eq!(e.num_rows(), 1);
        let e = engine
            .compile_projection(&batch.schema(), &["(a + 1) * 2147483647"])
            .unwrap()
            .evaluate(&batch)
            .unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
    }
}

#[test]
fn a_filter_is_a_parquet_row_filter() {
    let whole = batch(1000);
    let file = tempfile::tempfile().unwrap();
    let mut writer = ArrowWriter::try_new(file.try_clone().unwrap(), schema(), None).unwrap();
    writer.write(&whole).unwrap();
    writer.close().unwrap();
    for engine in engines() {
        for p in PREDICATES {
            let filter = engine.compile_filter(&schema(), p).unwrap();
            let builder = ParquetRecordBatchReaderBuilder::try_new(file.try_clone().unwrap())
                .unwrap()
                .with_batch_size(128);
            let row_filter = filter.row_filter(builder.parquet_schema()).unwrap();
            let read: Vec<RecordBatch> = builder
                .with_row_filter(row_filter)
                .build()
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let read = arrow::compute::concat_batches(&schema(), &read).unwrap();
            assert_eq!(read, filter.apply(&whole).unwrap(), "{p}");
        }
    }
}

#[test]
fn a_row_filter_for_another_file_is_an_error() {
    let filter = Engine::new().compile_filter(&schema(), "a > 1").unwrap();
    let other = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)]));
    let file = tempfile::tempfile().unwrap();
    let mut writer = ArrowWriter::try_new(file.try_clone().unwrap(), other.clone(), None).unwrap();
    writer
        .write(&RecordBatch::try_new(other, vec![Arc::new(Int32Array::from(vec![1]))]).unwrap())
        .unwrap();
    writer.close().unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let e = filter.row_filter(builder.parquet_schema()).unwrap_err();
    assert!(e.to_string().contains("has 1 columns"), "{e}");
}

#[test]
fn queries_run_over_registered_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.parquet");
    let whole = batch(500);
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema(), None).unwrap();
    writer.write(&whole).unwrap();
    writer.close().unwrap();
    let sql = "SELECT count(*) AS n FROM items WHERE b > a";
    let expected = Engine::new()
        .compile_filter(&schema(), "b > a")
        .unwrap()
        .apply(&whole)
        .unwrap()
        .num_rows() as i64;
    for mut engine in engines() {
        engine.register_parquet("items", &path).unwrap();
        let from_file = engine.query(sql).unwrap();
        engine
            .register_batches(
                "items",
                schema(),
                vec![whole.slice(0, 250), whole.slice(250, 250)],
            )
            .unwrap();
        let from_memory = engine.query(sql).unwrap();
        let reader = arrow::array::RecordBatchIterator::new(vec![Ok(whole.clone())], schema());
        engine.register_reader("items", reader).unwrap();
        let from_reader = engine.query(sql).unwrap();
        for result in [from_file, from_memory, from_reader] {
            let n = result[0]
                .column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(n.value(0), expected);
        }
        let e = engine.query("SELECT 1 FROM nowhere").unwrap_err();
        assert!(e.to_string().contains("no table 'nowhere'"), "{e}");
    }
    let e = Engine::new()
        .register_parquet("x", dir.path().join("missing.parquet"))
        .unwrap_err();
    assert!(matches!(e, Error::File { .. }), "{e}");
}

/// A join, a table of many files and SQL qjit's engine hands over run in DataFusion over every
/// registered table; a query of one table stays in qjit's engine.
#[cfg(feature = "datafusion")]
#[test]
fn queries_qjit_does_not_take_run_in_datafusion_over_the_registered_tables() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("parts");
    std::fs::create_dir(&folder).unwrap();
    let whole = batch(600);
    for (i, part) in [whole.slice(0, 200), whole.slice(200, 400)]
        .iter()
        .enumerate()
    {
        let file = std::fs::File::create(folder.join(format!("part-{i}.parquet"))).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema(), None).unwrap();
        writer.write(part).unwrap();
        writer.close().unwrap();
    }
    let count = |result: &[RecordBatch]| -> i64 {
        let n = result[0].column(0).as_any().downcast_ref::<Int64Array>();
        n.expect("a count").value(0)
    };
    let expected = |predicate: &str| -> i64 {
        let mask = reference(predicate, &whole);
        mask.iter().filter(|&&m| m).count() as i64
    };
    for mut engine in engines() {
        engine.register_path("parts", &folder).unwrap();
        engine
            .register_batches(
                "mem",
                schema(),
                vec![whole.slice(0, 300), whole.slice(300, 300)],
            )
            .unwrap();
        // A folder of files: DataFusion reads it.
        let n = engine
            .query("SELECT count(*) FROM parts WHERE b > a")
            .unwrap();
        assert_eq!(count(&n), expected("b > a"));
        // A join of a folder and batches in memory (every row of `whole` is distinct in `id`).
        let n = engine
            .query("SELECT count(*) FROM parts p JOIN mem m ON p.id = m.id WHERE m.b > m.a")
            .unwrap();
        assert_eq!(count(&n), expected("b > a"));
        // `WITH`, which qjit's parser leaves to DataFusion.
        let n = engine
            .query("WITH x AS (SELECT * FROM mem WHERE b > a) SELECT count(*) FROM x")
            .unwrap();
        assert_eq!(count(&n), expected("b > a"));
        // Errors: an unknown table in a join is DataFusion's to name; a wrong column qjit's.
        let e = engine
            .query("SELECT count(*) FROM mem JOIN nowhere ON true")
            .unwrap_err();
        assert!(e.to_string().contains("nowhere"), "{e}");
        let e = engine.query("SELECT nope FROM mem").unwrap_err();
        assert!(e.to_string().contains("unknown column 'nope'"), "{e}");
        // A folder of several tables is not one table.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::copy(folder.join("part-0.parquet"), other.join("part-0.parquet")).unwrap();
        let e = engine.register_path("several", dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("several tables (other, parts)"),
            "{e}"
        );
        // A result of no rows keeps its schema.
        let mut sink = qjit::exec::Collect::default();
        engine
            .query_into(
                "SELECT m.id FROM mem m JOIN parts p ON m.id = p.id WHERE false",
                &mut sink,
            )
            .unwrap();
        let schema = sink.schema.expect("a schema");
        assert_eq!(schema.field(0).name(), "id");
        assert_eq!(sink.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    }
}

#[test]
fn a_mask_of_a_bare_null_predicate_is_all_false() {
    let filter = Engine::new().compile_filter(&schema(), "NULL").unwrap();
    let mask: BooleanArray = filter.evaluate(&batch(10)).unwrap();
    assert_eq!((mask.true_count(), mask.null_count()), (0, 0));
}

#[test]
#[cfg(not(feature = "jit"))]
fn without_the_jit_auto_interprets_and_jit_is_an_error() {
    let filter = Engine::new().compile_filter(&schema(), "a > 1").unwrap();
    assert!(
        matches!(filter.engine(), PartEngine::Interpreted(why) if why.contains("without the JIT"))
    );
    let jit = Engine::builder().engine(EngineKind::Jit).build().unwrap();
    let e = jit.compile_filter(&schema(), "a > 1").unwrap_err();
    assert!(e.to_string().contains("built without the JIT"), "{e}");
    let e = jit.compile_projection(&schema(), &["a"]).unwrap_err();
    assert!(e.to_string().contains("built without the JIT"), "{e}");
}

/// Tiered execution: whatever batch (or aggregation morsel) the switch from the interpreter to
/// the kernels comes before, including never, the answer, its row order, its float sums and
/// its errors are the interpreter's. Tables in morsels of two rows, one and three threads.
#[test]
fn tiered_answers_do_not_depend_on_the_switch_point() {
    use qjit::exec::{EngineKind, QueryOptions, TierSwitch};
    let tables: Vec<qjit::exec::Source> = common::tables()
        .into_iter()
        .map(|t| t.with_morsel_rows(2))
        .collect();
    let queries = [
        "SELECT id, i64 * 2, s || 'x', d + 1 FROM t WHERE f64 > -4 OR s IS NULL",
        "SELECT id, x * y FROM f ORDER BY x DESC, id LIMIT 3",
        "SELECT b, count(*), sum(f64), sum(f32), avg(d), min(s), max(dt) FROM t GROUP BY b ORDER BY b",
        "SELECT sum(x), sum(y), count(x) FROM f",
        "SELECT id, 10 / (i32 - 10) FROM t",
        "SELECT sum(i64) FROM t",
    ];
    for sql in queries {
        let reference = common::run_sql_threads(&tables, sql, EngineKind::Interp, Some(1));
        let reference = match &reference {
            Ok(r) => Ok(common::render_rows(r)),
            Err(e) => Err(e.to_string()),
        };
        let mut switches = vec![TierSwitch::Never];
        switches.extend((0..6).map(TierSwitch::AtBatch));
        for tiers in switches {
            for threads in [1, 3] {
                let options = QueryOptions {
                    engine: EngineKind::Auto,
                    threads: Some(threads),
                    tiers,
                    ..Default::default()
                };
                let got = match common::run_sql_options(&tables, sql, &options) {
                    Ok(r) => Ok(common::render_rows(&r)),
                    Err(e) => Err(e.to_string()),
                };
                assert_eq!(got, reference, "{sql}: {tiers:?}, {threads} threads");
            }
        }
    }
}

/// Where a single-threaded tiered query switches, the batches before ran interpreted and those
/// after compiled; never switching runs every batch interpreted.
#[cfg(feature = "jit")]
#[test]
fn tiered_queries_switch_where_told() {
    use qjit::exec::{EngineKind, QueryOptions, TierSwitch};
    let tables: Vec<qjit::exec::Source> = common::tables()
        .into_iter()
        .map(|t| t.with_morsel_rows(2))
        .collect();
    let source = tables.iter().find(|t| t.name() == "t").unwrap();
    for (tiers, interpreted) in [
        (TierSwitch::AtBatch(0), 0),
        (TierSwitch::AtBatch(2), 2),
        (TierSwitch::Never, 3),
    ] {
        let options = QueryOptions {
            engine: EngineKind::Auto,
            threads: Some(1),
            tiers,
            ..Default::default()
        };
        let mut sink = qjit::exec::Collect::default();
        let run = qjit::exec::run_into(
            source,
            "SELECT id + 1 FROM t WHERE i32 > -100",
            &options,
            &mut sink,
        )
        .unwrap();
        let report = run.tiers.expect("a tiered query reports its tiers");
        assert_eq!(report.interpreted_batches, interpreted, "{tiers:?}");
        assert_eq!(report.compiled_batches, 3 - interpreted, "{tiers:?}");
    }
}

/// A filter and a projection with the longest chains of binary operators qjit takes bind and
/// run on a thread with a Rust thread's default 2 MiB stack, on every engine (the JIT engine
/// refuses them, as too large to compile, with an error).
#[test]
fn the_longest_operator_chains_run_on_a_small_stack() {
    let n = qjit::internals::sql::MAX_CHAIN_LENGTH;
    let predicate = vec!["a = 3"; n / 2].join(" OR ");
    let sum = vec!["b"; n].join(" + ");
    let input = batch(500);
    let expected = reference("a = 3", &input);
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            // qjit's query runner called directly, as an embedder may.
            let source = qjit::Source::batches("t", schema(), vec![input.clone()]);
            let sql = format!("SELECT count(*), sum({sum}) FROM t WHERE {predicate}");
            let options = qjit::QueryOptions {
                engine: EngineKind::Interp,
                ..Default::default()
            };
            let result = qjit::exec::run(&source, &sql, &options).unwrap();
            let count = result.batches[0].column(0).as_any().downcast_ref::<Int64Array>();
            let trues = expected.iter().filter(|&&t| t).count() as i64;
            assert_eq!(count.map(|c| c.value(0)), Some(trues));
            for engine in engines() {
                let filter = engine.compile_filter(&schema(), &predicate);
                let projection = engine.compile_projection(&schema(), &[&sum]);
                let (filter, projection) = match (filter, projection) {
                    (Ok(f), Ok(p)) => (f, p),
                    (f, p) => {
                        for e in [f.err(), p.err()].into_iter().flatten() {
                            assert!(
                                matches!(&e, Error::NotCompiled { what } if what.contains("are not compiled")),
                                "{e}"
                            );
                        }
                        continue;
                    }
                };
                let mask = filter.evaluate(&input).unwrap();
                assert_eq!(mask.values().iter().collect::<Vec<_>>(), expected);
                let out = projection.evaluate(&input).unwrap();
                let column = out.column(0).as_any().downcast_ref::<Int32Array>();
                let b = input.column(3).as_any().downcast_ref::<Int32Array>().unwrap();
                let column = column.expect("b + b + … is INTEGER");
                for i in 0..input.num_rows() {
                    assert_eq!(column.is_null(i), b.is_null(i));
                    if b.is_valid(i) {
                        assert_eq!(column.value(i), b.value(i) * n as i32);
                    }
                }
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
