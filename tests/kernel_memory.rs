//! Compiled kernels never read outside the Arrow buffers they are given.
//!
//! Every buffer of every input array (values, validity bitmaps, string offsets and bytes,
//! `Utf8View` views and data buffers, dictionary keys and values) is copied into memory of its
//! own that ends exactly at a page boundary followed by an inaccessible guard page
//! ([`Placement::End`]), or that starts right after one ([`Placement::Start`]), and the bytes of
//! the buffer itself are read-only. A kernel that reads a byte past either end of a buffer (or
//! writes into its input) then faults, and the test binary dies with SIGSEGV instead of passing.
//! JIT-generated code is not instrumented by AddressSanitizer, so this is what checks the
//! kernels themselves; the guards also catch reads that stay inside another live allocation.
//!
//! The filter, projection and aggregation kernels run through [`qjit::Engine`] with the JIT
//! engine (so that nothing silently runs interpreted) on batches that are empty, one row,
//! sliced at offsets that are not multiples of 8 or 64, and 2^20 rows; every answer is compared
//! with the interpreter's on the same guarded batch.

#![cfg(all(feature = "jit", target_os = "linux"))]

use std::ptr::NonNull;
use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayData, ArrayRef, BooleanArray, Date32Array, Decimal128Array,
    DictionaryArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array,
    LargeStringArray, RecordBatch, StringArray, StringViewBuilder, UInt16Array, UInt32Array,
    UInt64Array, UInt8Array,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer};
use arrow::datatypes::{DataType, Field, Int32Type, Int8Type, Schema, SchemaRef};
use qjit::exec::Source;
use qjit::{Engine, EngineKind, PartEngine};

/// Where a guarded buffer sits against its guard page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// The buffer's last byte is the last byte before the guard page.
    End,
    /// The buffer's first byte is the first byte after the guard page.
    Start,
}

const PLACEMENTS: [Placement; 2] = [Placement::End, Placement::Start];

/// An anonymous mapping, unmapped when the last buffer that points into it is dropped.
struct Mapping {
    base: usize,
    len: usize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base..base + len` is a mapping this value owns, and no buffer points into it
        // any more (arrow drops the owner with the last buffer).
        let r = unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
        assert_eq!(r, 0, "munmap failed");
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).expect("a page size")
}

/// `bytes` copied into a read-only mapping of their own, against a guard page as `placement`
/// says. `align` (a power of two, at most a page) is the alignment arrow requires of the
/// buffer's elements: with [`Placement::End`] the buffer starts at `guard - len` rounded down to
/// it, so that only as many bytes as alignment forces (`(guard - len) % align`) separate the
/// buffer from the guard page. Every buffer this test builds has a length that is a multiple of
/// its alignment (bytes and bitmaps have alignment 1), so in fact none is padded.
fn guarded(bytes: &[u8], align: usize, placement: Placement) -> Buffer {
    let page = page_size();
    assert!(align.is_power_of_two() && align <= page);
    let data_pages = bytes.len().div_ceil(page) * page;
    let total = data_pages + page;
    // SAFETY: an anonymous private mapping at an address the kernel chooses.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED, "mmap of {total} bytes failed");
    let base = base as usize;
    let owner = Arc::new(Mapping { base, len: total });
    let (guard, data_region, start) = match placement {
        Placement::End => {
            let guard = base + data_pages;
            (guard, base, (guard - bytes.len()) & !(align - 1))
        }
        Placement::Start => (base, base + page, base + page),
    };
    // SAFETY: `start..start + len` lies inside the mapping's data pages, which are writable and
    // do not overlap `bytes`; the guard page is one page of the mapping.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, bytes.len());
        assert_eq!(
            libc::mprotect(guard as *mut libc::c_void, page, libc::PROT_NONE),
            0
        );
        if data_pages > 0 {
            assert_eq!(
                libc::mprotect(
                    data_region as *mut libc::c_void,
                    data_pages,
                    libc::PROT_READ
                ),
                0
            );
        }
    }
    let ptr = NonNull::new(start as *mut u8).expect("a mapping is not at address 0");
    // SAFETY: `ptr` is valid for reads of `bytes.len()` bytes for as long as `owner` lives, and
    // the buffer keeps `owner` alive.
    unsafe { Buffer::from_custom_allocation(ptr, bytes.len(), owner) }
}

/// The first `bytes` bytes of `buffer`, guarded.
fn guarded_prefix(buffer: &Buffer, bytes: usize, align: usize, placement: Placement) -> Buffer {
    guarded(&buffer.as_slice()[..bytes], align, placement)
}

/// A copy of `data` whose every buffer is guarded and holds only the bytes that the array's
/// rows reach (the bytes before its offset stay, so that offsets keep their meaning; the bytes
/// past its last row go, so that reading past the last row faults).
fn rehome(data: &ArrayData, placement: Placement) -> ArrayData {
    let (offset, len) = (data.offset(), data.len());
    let end = offset + len;
    let nulls = data.nulls().map(|n| {
        let bits = n.inner();
        let bytes = (bits.offset() + bits.len()).div_ceil(8);
        let buffer = guarded_prefix(bits.inner(), bytes, 1, placement);
        NullBuffer::new(BooleanBuffer::new(buffer, bits.offset(), bits.len()))
    });
    let buffers = data.buffers();
    let mut children = vec![];
    let new_buffers = match data.data_type() {
        DataType::Boolean => vec![guarded_prefix(&buffers[0], end.div_ceil(8), 1, placement)],
        DataType::Utf8 => {
            let last = buffers[0].typed_data::<i32>()[end] as usize;
            vec![
                guarded_prefix(&buffers[0], (end + 1) * 4, 4, placement),
                guarded_prefix(&buffers[1], last, 1, placement),
            ]
        }
        DataType::LargeUtf8 => {
            let last = buffers[0].typed_data::<i64>()[end] as usize;
            vec![
                guarded_prefix(&buffers[0], (end + 1) * 8, 8, placement),
                guarded_prefix(&buffers[1], last, 1, placement),
            ]
        }
        DataType::Utf8View => {
            // A view: length (bits 0..32), then for strings over 12 bytes the buffer index
            // (bits 64..96) and the offset in it (bits 96..128).
            let mut used = vec![0usize; buffers.len() - 1];
            for &view in &buffers[0].typed_data::<u128>()[offset..end] {
                let length = view as u32 as usize;
                if length > 12 {
                    let index = (view >> 64) as u32 as usize;
                    let start = (view >> 96) as u32 as usize;
                    used[index] = used[index].max(start + length);
                }
            }
            let mut out = vec![guarded_prefix(&buffers[0], end * 16, 16, placement)];
            for (b, &n) in buffers[1..].iter().zip(&used) {
                out.push(guarded_prefix(b, n, 1, placement));
            }
            out
        }
        DataType::Dictionary(key, _) => {
            let width = key
                .primitive_width()
                .expect("a dictionary key is an integer");
            children.push(rehome(&data.child_data()[0], placement));
            vec![guarded_prefix(&buffers[0], end * width, width, placement)]
        }
        other => {
            let width = other
                .primitive_width()
                .unwrap_or_else(|| panic!("{other} is not a type this test guards"));
            vec![guarded_prefix(&buffers[0], end * width, width, placement)]
        }
    };
    ArrayData::builder(data.data_type().clone())
        .len(len)
        .offset(offset)
        .nulls(nulls)
        .buffers(new_buffers)
        .child_data(children)
        .build()
        .expect("a guarded copy is a valid array")
}

/// `array[offset..offset + len]` with every buffer guarded.
fn guarded_slice(array: &ArrayRef, offset: usize, len: usize, placement: Placement) -> ArrayRef {
    make_array(rehome(&array.slice(offset, len).to_data(), placement))
}

/// A well-mixed hash of a row and a column number (splitmix64).
fn mix(row: usize, column: u64) -> u64 {
    let mut z = (row as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(column.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Strings for every layout's edges: empty, inline views (up to 12 bytes, exactly 12),
/// out-of-line ones (13 bytes and longer), non-ASCII, `%` and `_`.
const STRINGS: [&str; 14] = [
    "",
    "a",
    "apple",
    "Banana",
    "exactly12byt",
    "exactly13byte",
    "a string well over twelve bytes",
    "a string well over twelve bytez",
    "héllo wörld",
    "日本語のテキスト",
    "a%b_c",
    "PROMO BRASS",
    "bc",
    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
];

/// [`STRINGS`] without the non-ASCII ones: `UPPER` and `LOWER` compile for ASCII strings and
/// hand a batch with other strings back to the interpreter, so the columns they read use these.
fn ascii_strings() -> Vec<&'static str> {
    STRINGS.into_iter().filter(|s| s.is_ascii()).collect()
}

/// Numbers as text, for `CAST` from strings.
const NUMBERS: [&str; 8] = ["0", "7", "-12", "123456", "42", "-1", "99", "3"];

/// One row in six of every nullable column is NULL, a different one per column.
fn value<T>(row: usize, column: u64, f: impl Fn(u64) -> T) -> Option<T> {
    let h = mix(row, column);
    (!h.is_multiple_of(6)).then(|| f(h >> 3))
}

fn strings(rows: usize, column: u64, pool: &[&'static str]) -> Vec<Option<&'static str>> {
    (0..rows)
        .map(|i| value(i, column, |h| pool[h as usize % pool.len()]))
        .collect()
}

fn schema() -> SchemaRef {
    let f = |name: &str, dt: DataType| Field::new(name, dt, name != "id");
    let dict = |k: DataType, v: DataType| DataType::Dictionary(Box::new(k), Box::new(v));
    Arc::new(Schema::new(vec![
        f("id", DataType::Int64),
        f("i8", DataType::Int8),
        f("i16", DataType::Int16),
        f("i32", DataType::Int32),
        f("i64", DataType::Int64),
        f("u8", DataType::UInt8),
        f("u16", DataType::UInt16),
        f("u32", DataType::UInt32),
        f("u64", DataType::UInt64),
        f("f32", DataType::Float32),
        f("f64", DataType::Float64),
        f("dec", DataType::Decimal128(12, 2)),
        f("wide", DataType::Decimal128(38, 4)),
        f("dt", DataType::Date32),
        f("b", DataType::Boolean),
        f("s", DataType::Utf8),
        f("ls", DataType::LargeUtf8),
        f("vs", DataType::Utf8View),
        f("ds", dict(DataType::Int32, DataType::Utf8)),
        f("dls", dict(DataType::Int8, DataType::LargeUtf8)),
        f("ns", DataType::Utf8),
        f("d64", DataType::Decimal64(12, 2)),
    ]))
}

/// The columns of [`schema`] for `rows` rows, in ordinary memory. `view_block` is the size of
/// the `Utf8View` data buffers (small ones spread the strings over many buffers).
fn columns(rows: usize, view_block: u32) -> Vec<ArrayRef> {
    let small = |range: u64| move |h: u64| (h % range) as i64 - (range / 2) as i64;
    let id: Int64Array = (0..rows as i64).collect();
    let i8: Int8Array = (0..rows)
        .map(|i| value(i, 1, |h| small(200)(h) as i8))
        .collect();
    let i16: Int16Array = (0..rows)
        .map(|i| value(i, 2, |h| small(20_000)(h) as i16))
        .collect();
    let i32: Int32Array = (0..rows)
        .map(|i| value(i, 3, |h| small(2_000_000)(h) as i32))
        .collect();
    let i64: Int64Array = (0..rows)
        .map(|i| value(i, 4, |h| small(2_000_000_000)(h)))
        .collect();
    let u8: UInt8Array = (0..rows)
        .map(|i| value(i, 5, |h| (h % 200) as u8))
        .collect();
    let u16: UInt16Array = (0..rows)
        .map(|i| value(i, 6, |h| (h % 60_000) as u16))
        .collect();
    let u32: UInt32Array = (0..rows)
        .map(|i| value(i, 7, |h| (h % 4_000_000) as u32))
        .collect();
    let u64: UInt64Array = (0..rows).map(|i| value(i, 8, |h| h % (1 << 40))).collect();
    let f32: Float32Array = (0..rows)
        .map(|i| value(i, 9, |h| small(4000)(h) as f32 / 8.0))
        .collect();
    let f64: Float64Array = (0..rows)
        .map(|i| value(i, 10, |h| small(40_000)(h) as f64 / 16.0))
        .collect();
    let dec = (0..rows)
        .map(|i| value(i, 11, |h| small(2_000_000)(h) as i128))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(12, 2)
        .expect("DECIMAL(12,2)");
    let wide = (0..rows)
        .map(|i| value(i, 12, |h| (h as i128 - (1 << 60)) * 1_000_000_007))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(38, 4)
        .expect("DECIMAL(38,4)");
    // 1990-01-01 to about 2017.
    let dt: Date32Array = (0..rows)
        .map(|i| value(i, 13, |h| 7305 + (h % 10_000) as i32))
        .collect();
    let b: BooleanArray = (0..rows).map(|i| value(i, 14, |h| h % 2 == 0)).collect();
    let s = StringArray::from(strings(rows, 15, &ascii_strings()));
    let ls = LargeStringArray::from(strings(rows, 16, &STRINGS));
    let mut vs = StringViewBuilder::new().with_fixed_block_size(view_block);
    for v in strings(rows, 17, &ascii_strings()) {
        vs.append_option(v);
    }
    let ds: DictionaryArray<Int32Type> = strings(rows, 18, &ascii_strings()).into_iter().collect();
    let dls: DictionaryArray<Int8Type> = strings(rows, 19, &STRINGS).into_iter().collect();
    let dls = arrow::compute::cast(
        &dls,
        &DataType::Dictionary(Box::new(DataType::Int8), Box::new(DataType::LargeUtf8)),
    )
    .expect("a dictionary of large strings");
    let ns = StringArray::from(strings(rows, 20, &NUMBERS));
    let d64 = (0..rows)
        .map(|i| value(i, 21, |h| small(2_000_000)(h)))
        .collect::<arrow::array::Decimal64Array>()
        .with_precision_and_scale(12, 2)
        .expect("DECIMAL(12,2)");
    vec![
        Arc::new(id),
        Arc::new(i8),
        Arc::new(i16),
        Arc::new(i32),
        Arc::new(i64),
        Arc::new(u8),
        Arc::new(u16),
        Arc::new(u32),
        Arc::new(u64),
        Arc::new(f32),
        Arc::new(f64),
        Arc::new(dec),
        Arc::new(wide),
        Arc::new(dt),
        Arc::new(b),
        Arc::new(s),
        Arc::new(ls),
        Arc::new(vs.finish()),
        Arc::new(ds),
        dls,
        Arc::new(ns),
        Arc::new(d64),
    ]
}

/// Rows `offset..offset + len` of `columns` as a batch whose every buffer is guarded.
fn guarded_batch(
    columns: &[ArrayRef],
    offset: usize,
    len: usize,
    placement: Placement,
) -> RecordBatch {
    let columns = columns
        .iter()
        .map(|c| guarded_slice(c, offset, len, placement))
        .collect();
    RecordBatch::try_new(schema(), columns).expect("a batch of the schema")
}

/// Predicates over every type and string layout: comparisons, arithmetic, `LIKE`, `ILIKE`,
/// `SUBSTRING`, `UPPER`, `LOWER`, `||`, `CAST` from strings, three-valued logic.
const FILTERS: &[&str] = &[
    "i8 < 0 AND i16 > i8",
    "i32 % 7 = 3 OR i64 > 100",
    "u8 > 100 AND u16 < 30000",
    "u32 + u64 > 500000 OR u8 IS NULL",
    "i8 + i16 + i32 + i64 > 0",
    "f32 > 0.5 AND f64 < 100",
    "f64 * 2 < f32",
    "dec > 1.50",
    "d64 < -2.50 OR d64 * dec > 40.0",
    "dec * 2 > wide OR wide IS NULL",
    "dt BETWEEN DATE '1995-01-01' AND DATE '1999-12-31'",
    "EXTRACT(YEAR FROM dt) = 2001 OR dt + INTERVAL '1' MONTH > DATE '2015-01-01'",
    "b",
    "NOT b OR b IS NULL",
    "s < ls",
    "vs = s OR vs > 'm'",
    "vs < ls AND ds <> vs",
    "ds = 'apple' OR dls >= 'exactly12byt'",
    "s LIKE 'a%'",
    "vs LIKE '%twelve%'",
    "ls LIKE '_x%t' OR dls LIKE '%e'",
    "vs LIKE 'a_s%z'",
    "s ILIKE '%BYT%'",
    "substring(vs, 2, 3) = 'xac' OR substring(s, 3) = 'ple'",
    "upper(s) = 'APPLE' OR lower(vs) LIKE 'promo%'",
    "upper(ds) LIKE '%BYTE'",
    "s || vs = 'appleexactly12byt' OR ls || 'x' = 'ax'",
    "char_length(vs) > 12",
    "CAST(ns AS INTEGER) > 10",
    "CAST(ns AS DECIMAL(10,2)) < i8",
    "CAST(ns AS DOUBLE) = f64 OR CAST(ns AS BIGINT) IS NULL",
    "id % 64 = 63",
];

/// Projections of every result type, with string results built per row.
const PROJECTIONS: &[&[&str]] = &[
    &["i8 + i16", "i32 * 2", "i64 - i32", "u8 + u16", "u32 + u64"],
    &[
        "f32 + 1",
        "f64 * f32",
        "dec * 3",
        "wide + dec",
        "d64 - dec",
        "dt + INTERVAL '3' DAY",
    ],
    &["b AND i32 > 0", "s < vs", "ls IS NULL", "ds = dls"],
    &["upper(s)", "lower(vs)", "s || ls", "vs || ds"],
    &[
        "substring(vs, 2, 20)",
        "substring(ls, 5)",
        "CAST(ns AS BIGINT)",
    ],
    &[
        "CASE WHEN vs LIKE 'a%' THEN ls ELSE s END",
        "char_length(dls)",
    ],
    &["s", "vs", "ds", "id"],
];

/// Aggregations, grouped by every string layout.
const AGGREGATES: &[&str] = &[
    "SELECT count(*), count(i8), sum(i16), sum(i64), sum(u64), min(f32), max(f64), sum(dec), \
     max(wide), min(dt), max(dt) FROM t",
    "SELECT count(*), sum(i32), max(dec) FROM t WHERE vs LIKE '%e%' AND b",
    "SELECT count(*), sum(d64 * 2), min(d64), max(wide) FROM t WHERE dt > DATE '2016-06-01'",
    "SELECT s, count(*), sum(i32), min(f64), max(dec) FROM t GROUP BY s ORDER BY s",
    "SELECT ls, count(u8), sum(dec) FROM t WHERE i8 > -50 GROUP BY ls ORDER BY ls",
    "SELECT vs, count(*), min(dt), max(i16) FROM t GROUP BY vs ORDER BY vs",
    "SELECT ds, dls, count(*), sum(u32) FROM t GROUP BY ds, dls ORDER BY ds, dls",
    "SELECT b, vs, count(*) FROM t WHERE s IS NOT NULL GROUP BY b, vs ORDER BY b, vs",
];

fn engine(kind: EngineKind) -> Engine {
    Engine::builder()
        .engine(kind)
        .threads(2)
        .build()
        .expect("an engine")
}

/// A result, or its error as text: both engines must give the same either way.
fn text<T>(r: qjit::Result<T>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// The compiled filters, projections and their interpreted twins, compiled once.
struct Kernels {
    filters: Vec<(qjit::Filter, qjit::Filter)>,
    projections: Vec<(qjit::Projection, qjit::Projection)>,
}

impl Kernels {
    fn new() -> Kernels {
        let (jit, interp) = (engine(EngineKind::Jit), engine(EngineKind::Interp));
        let schema = schema();
        let filters = FILTERS
            .iter()
            .map(|p| {
                let compiled = jit
                    .compile_filter(&schema, p)
                    .unwrap_or_else(|e| panic!("{p}: {e}"));
                assert_eq!(compiled.engine(), &PartEngine::Compiled, "{p}");
                (compiled, interp.compile_filter(&schema, p).expect(p))
            })
            .collect();
        let projections = PROJECTIONS
            .iter()
            .map(|exprs| {
                let compiled = jit
                    .compile_projection(&schema, exprs)
                    .unwrap_or_else(|e| panic!("{exprs:?}: {e}"));
                assert_eq!(compiled.engine(), &PartEngine::Compiled, "{exprs:?}");
                let reference = interp
                    .compile_projection(&schema, exprs)
                    .unwrap_or_else(|e| panic!("{exprs:?}: {e}"));
                (compiled, reference)
            })
            .collect();
        Kernels {
            filters,
            projections,
        }
    }

    /// The interpreter's answers on `batch`: every filter's mask, projection's batch and
    /// aggregation's rows (or error).
    fn answers(&self, batch: &RecordBatch) -> Answers {
        let source = Source::batches("t", schema(), vec![batch.clone()]);
        let interp = engine(EngineKind::Interp);
        Answers {
            filters: (self.filters.iter())
                .map(|(_, reference)| text(reference.evaluate(batch)))
                .collect(),
            projections: (self.projections.iter())
                .map(|(_, reference)| text(reference.evaluate(batch)))
                .collect(),
            aggregates: (AGGREGATES.iter())
                .map(|sql| text(interp.query_source(&source, sql)))
                .collect(),
        }
    }

    /// Runs every filter, projection and aggregation compiled on `batch` and compares with
    /// `want` (the interpreter's answers on the same rows). `what` names the batch in failures.
    fn check_against(&self, batch: &RecordBatch, want: &Answers, what: &str) {
        for (((compiled, _), want), p) in self.filters.iter().zip(&want.filters).zip(FILTERS) {
            assert_eq!(&text(compiled.evaluate(batch)), want, "{what}: WHERE {p}");
        }
        let projections = self.projections.iter().zip(&want.projections);
        for (((compiled, _), want), exprs) in projections.zip(PROJECTIONS) {
            let got = text(compiled.evaluate(batch));
            assert_eq!(&got, want, "{what}: SELECT {exprs:?}");
        }
        let source = Source::batches("t", schema(), vec![batch.clone()]);
        let jit = engine(EngineKind::Jit);
        for (sql, want) in AGGREGATES.iter().zip(&want.aggregates) {
            assert_eq!(&text(jit.query_source(&source, sql)), want, "{what}: {sql}");
        }
    }

    /// [`Kernels::check_against`] the interpreter's answers on `batch` itself.
    fn check(&self, batch: &RecordBatch, what: &str) {
        self.check_against(batch, &self.answers(batch), what);
    }
}

/// What the interpreter answers on one batch, in the order of [`FILTERS`], [`PROJECTIONS`] and
/// [`AGGREGATES`].
struct Answers {
    filters: Vec<Result<BooleanArray, String>>,
    projections: Vec<Result<RecordBatch, String>>,
    aggregates: Vec<Result<Vec<RecordBatch>, String>>,
}

#[test]
fn every_query_compiles_and_aggregates_run_compiled() {
    let source = Source::batches("t", schema(), vec![]);
    let options = qjit::QueryOptions {
        engine: EngineKind::Jit,
        ..Default::default()
    };
    for sql in AGGREGATES {
        let result =
            qjit::exec::run(&source, sql, &options).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(result.compiled.aggregate, PartEngine::Compiled, "{sql}");
    }
    Kernels::new();
}

#[test]
fn kernels_stay_inside_guarded_buffers_of_small_and_sliced_batches() {
    let kernels = Kernels::new();
    // Two sets of base arrays: view strings spread over many small data buffers, and in few.
    for view_block in [64, 8192] {
        let base = columns(700, view_block);
        for placement in PLACEMENTS {
            // (offset, rows): empty at 0 and inside, one row, and slices that start and end
            // off every multiple of 8 and 64, with lengths around a word of 64 rows.
            for (offset, rows) in [
                (0, 0),
                (37, 0),
                (0, 1),
                (13, 1),
                (699, 1),
                (0, 64),
                (3, 61),
                (5, 63),
                (64, 64),
                (67, 65),
                (100, 129),
                (1, 699),
                (0, 700),
            ] {
                let batch = guarded_batch(&base, offset, rows, placement);
                kernels.check(
                    &batch,
                    &format!("{placement:?}, block {view_block}, rows {offset}..+{rows}"),
                );
            }
        }
    }
}

/// One batch of 2^20 rows (the in-memory source runs aggregations over it in slices of
/// `qjit::exec::BATCH_SIZE` rows, in parallel), against both guard pages. The interpreter runs
/// once (in a debug build it takes most of the time): the rows are the same in both copies.
#[test]
fn kernels_stay_inside_guarded_buffers_of_a_batch_of_2_pow_20_rows() {
    const ROWS: usize = 1 << 20;
    let kernels = Kernels::new();
    let base = columns(ROWS, 1 << 16);
    let mut want = None;
    for placement in PLACEMENTS {
        let batch = guarded_batch(&base, 0, ROWS, placement);
        let want = want.get_or_insert_with(|| kernels.answers(&batch));
        kernels.check_against(&batch, want, &format!("{placement:?}, {ROWS} rows"));
    }
}

/// The variable that makes [`a_read_past_a_guarded_buffer_faults`] read outside a buffer.
const PROBE: &str = "QJIT_GUARD_PROBE";

/// The guards work: a read one byte past the end of an [`Placement::End`] buffer, or one byte
/// before a [`Placement::Start`] buffer, kills the process (run as a child of this test).
#[test]
fn a_read_past_a_guarded_buffer_faults() {
    if let Ok(which) = std::env::var(PROBE) {
        let placement = match which.as_str() {
            "end" => Placement::End,
            _ => Placement::Start,
        };
        let buffer = guarded(b"abc", 1, placement);
        let outside = match placement {
            Placement::End => buffer.as_ptr().wrapping_add(buffer.len()),
            Placement::Start => buffer.as_ptr().wrapping_sub(1),
        };
        // SAFETY: none; this is the out-of-bounds read the guard page must stop.
        let byte = unsafe { std::ptr::read_volatile(outside) };
        println!("read {byte} outside the buffer");
        return;
    }
    for which in ["end", "start"] {
        let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "a_read_past_a_guarded_buffer_faults",
                "--exact",
                "--nocapture",
            ])
            .env(PROBE, which)
            .output()
            .expect("the test binary runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && !stdout.contains("outside the buffer"),
            "{which}: the read did not fault ({:?}): {stdout}",
            out.status
        );
        // Only the guard page stops it: under AddressSanitizer the process reports SEGV.
        use std::os::unix::process::ExitStatusExt;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.signal() == Some(libc::SIGSEGV) || stderr.contains("SEGV"),
            "{which}: {:?}: {stderr}",
            out.status
        );
    }
}

/// The guarded copy keeps every value: the test compares kernels on the arrays it means to.
#[test]
fn guarded_copies_equal_their_originals() {
    let base = columns(300, 64);
    for placement in PLACEMENTS {
        for (offset, rows) in [(0, 0), (11, 1), (3, 200), (0, 300)] {
            for c in &base {
                let copy = guarded_slice(c, offset, rows, placement);
                assert_eq!(
                    &copy,
                    &c.slice(offset, rows),
                    "{placement:?} {offset}..+{rows}"
                );
            }
        }
    }
}
