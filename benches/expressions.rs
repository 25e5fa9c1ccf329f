//! Single expressions over one million rows in memory, three ways: the JIT's projection kernel,
//! the interpreter, and the plain arrow-rs compute kernel for the same operation.
//! `cargo bench --bench expressions`.
//!
//! | group | SQL | arrow-rs |
//! |---|---|---|
//! | `compare` | `a < 500000` (BIGINT) | `cmp::lt` with a scalar |
//! | `add` | `a + b` (BIGINT, overflow checked) | `numeric::add` (checked) |
//! | `decimal_mul` | `price * disc` (DECIMAL(15,2)) | `numeric::mul` on Decimal128 |
//! | `like` | `s LIKE '%green%'` | `comparison::like` with a scalar pattern |
//! | `case` | `CASE WHEN a < 500000 THEN b ELSE 0 END` | `cmp::lt`, then `zip` with a scalar |
//!
//! Every column has 1% NULLs. The rows come in batches of [`BATCH_SIZE`], as a scan hands them
//! to the engines, and every function computes the whole column for every batch: no filter,
//! no copy of the result. The kernel is compiled once, outside the timing.

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, Int64Array, RecordBatch, Scalar, StringArray,
};
use arrow::compute::kernels::{cmp, comparison, numeric, zip};
use arrow::datatypes::{Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use qjit::exec::{self, Source, BATCH_SIZE};
use qjit::internals::jit::{self, Optimize, Output, ProjectKernel};
use qjit::ir::{Body, Expr};

const ROWS: usize = 1 << 20;

/// Words the strings are made of; one in eight contains `green`.
const WORDS: &[&str] = &[
    "almond",
    "antique",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "forest green",
];

/// A deterministic pseudo-random sequence (a 64-bit LCG's high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// `None` for one row in a hundred.
    fn maybe(&mut self, value: impl FnOnce(&mut Lcg) -> i64) -> Option<i64> {
        (!self.next().is_multiple_of(100)).then(|| value(self))
    }
}

/// Table `t`: `a`, `b` BIGINT in [0, 1e6); `price` DECIMAL(15,2) up to 100,000.00; `disc`
/// DECIMAL(15,2) in [0, 0.10]; `s` two or three words.
fn table() -> Source {
    let mut r = Lcg(42);
    let a: Int64Array = (0..ROWS)
        .map(|_| r.maybe(|r| (r.next() % 1_000_000) as i64))
        .collect();
    let b: Int64Array = (0..ROWS)
        .map(|_| r.maybe(|r| (r.next() % 1_000_000) as i64))
        .collect();
    let price = Decimal128Array::from(
        (0..ROWS)
            .map(|_| r.maybe(|r| (r.next() % 10_000_000) as i64).map(i128::from))
            .collect::<Vec<_>>(),
    )
    .with_precision_and_scale(15, 2)
    .expect("DECIMAL(15,2)");
    let disc = Decimal128Array::from(
        (0..ROWS)
            .map(|_| r.maybe(|r| (r.next() % 11) as i64).map(i128::from))
            .collect::<Vec<_>>(),
    )
    .with_precision_and_scale(15, 2)
    .expect("DECIMAL(15,2)");
    let s: StringArray = (0..ROWS)
        .map(|_| {
            let n = 2 + r.next() as usize % 2;
            r.maybe(|r| r.next() as i64).map(|_| {
                (0..n)
                    .map(|_| WORDS[r.next() as usize % WORDS.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        })
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(a),
        Arc::new(b),
        Arc::new(price),
        Arc::new(disc),
        Arc::new(s),
    ];
    let schema = Arc::new(Schema::new(
        ["a", "b", "price", "disc", "s"]
            .iter()
            .zip(&columns)
            .map(|(name, c)| Field::new(*name, c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let whole = RecordBatch::try_new(schema.clone(), columns).expect("table t");
    let batches = (0..ROWS)
        .step_by(BATCH_SIZE)
        .map(|start| whole.slice(start, BATCH_SIZE.min(ROWS - start)))
        .collect();
    Source::batches("t", schema, batches)
}

/// One expression, ready for each engine: the scan batches, the bound expression, its kernel.
struct Prepared {
    batches: Vec<RecordBatch>,
    expr: Expr,
    kernel: Arc<ProjectKernel>,
}

/// Binds `SELECT <sql> FROM t` and compiles its expression.
fn prepare(source: &Source, sql: &str) -> Prepared {
    let plan = exec::plan(source, &format!("SELECT {sql} FROM t")).expect("the query binds");
    let Body::Project { exprs } = &plan.body else {
        panic!("{sql}: not a projection");
    };
    let (kernel, _) =
        jit::project_kernel(None, exprs, &plan.scan_schema, Optimize::default(), None)
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    assert!(
        matches!(kernel.outputs()[0], Output::Compiled(_)),
        "{sql} does not compile: {:?}",
        kernel.outputs()
    );
    let batches = source
        .scan(&plan.projection)
        .expect("scan")
        .collect::<Result<_, _>>()
        .expect("in-memory batches");
    Prepared {
        batches,
        expr: exprs[0].clone(),
        kernel,
    }
}

/// A column of a scan batch by name.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a ArrayRef {
    batch.column_by_name(name).expect("the column is scanned")
}

/// Every value of an array as text.
fn text(array: &ArrayRef) -> Vec<String> {
    let format =
        ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()).expect("formatter");
    (0..array.len())
        .map(|i| format.value(i).to_string())
        .collect()
}

fn bigint(v: i64) -> Scalar<Int64Array> {
    Scalar::new(Int64Array::from(vec![v]))
}

/// The arrow-rs version of each benchmarked expression, over one scan batch.
fn arrow_kernel(group: &str, batch: &RecordBatch) -> ArrayRef {
    let result: ArrayRef = match group {
        "compare" => Arc::new(cmp::lt(column(batch, "a"), &bigint(500_000)).expect("lt")),
        "add" => numeric::add(column(batch, "a"), column(batch, "b")).expect("add"),
        "decimal_mul" => numeric::mul(column(batch, "price"), column(batch, "disc")).expect("mul"),
        "like" => {
            let pattern = Scalar::new(StringArray::from(vec!["%green%"]));
            Arc::new(comparison::like(column(batch, "s"), &pattern).expect("like"))
        }
        "case" => {
            let when: BooleanArray = cmp::lt(column(batch, "a"), &bigint(500_000)).expect("lt");
            zip::zip(&when, column(batch, "b"), &bigint(0)).expect("zip")
        }
        other => unreachable!("no arrow-rs kernel for {other}"),
    };
    result
}

fn expressions(c: &mut Criterion) {
    let source = table();
    let cases = [
        ("compare", "a < 500000"),
        ("add", "a + b"),
        ("decimal_mul", "price * disc"),
        ("like", "s LIKE '%green%'"),
        ("case", "CASE WHEN a < 500000 THEN b ELSE 0 END"),
    ];
    for (name, sql) in cases {
        let p = prepare(&source, sql);
        // The engines compute the same values (arrow-rs's decimal product may have another
        // precision: the values are compared as text).
        let interp = qjit::internals::interp::evaluate(&p.expr, &p.batches[0]).expect("evaluates");
        let arrow = arrow_kernel(name, &p.batches[0]);
        assert_eq!(
            text(&interp),
            text(&arrow),
            "{name}: interpreter and arrow-rs differ"
        );

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(ROWS as u64));
        group.bench_function("jit", |b| {
            b.iter(|| {
                for batch in &p.batches {
                    black_box(p.kernel.project(batch).expect("kernel runs"));
                }
            })
        });
        group.bench_function("interp", |b| {
            b.iter(|| {
                for batch in &p.batches {
                    black_box(
                        qjit::internals::interp::evaluate(&p.expr, batch).expect("evaluates"),
                    );
                }
            })
        });
        group.bench_function("arrow", |b| {
            b.iter(|| {
                for batch in &p.batches {
                    black_box(arrow_kernel(name, batch));
                }
            })
        });
        group.finish();
    }
}

criterion_group!(benches, expressions);
criterion_main!(benches);
