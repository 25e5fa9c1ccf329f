//! Random tables: a [`TableSpec`] (from the [`table_spec`] strategy) in, a [`Source`] out.
//!
//! The table is `t` ([`TABLE`]) with the columns of [`columns`], one of every type the engines
//! support: integers of every width, signed and unsigned, `DOUBLE` and `REAL`, decimals of 10
//! and 38 digits (the short one stored as `Decimal64` on request, as qjit reads Parquet
//! decimals), dates, booleans, and `VARCHAR` in every layout (`Utf8`, `LargeUtf8`, `Utf8View`
//! with small data blocks, dictionaries with `Int32` and `UInt16` keys). The spec says what
//! shrinks: batches and their sizes (0 to 200 rows: 63/64/65/130 cross the bitmap words), the
//! NOT NULL columns (which then have no NULLs), the wild columns, the NULL rate and the morsel
//! size. The values come from the spec's seed: each column takes its values from a pool whose
//! first entries are tame (no overflow, no zero divisor) and, when wild, from the whole pool
//! (integer minimum and maximum, zero, 38-digit decimals, NaN of both signs, infinities,
//! subnormals, the first and last dates) and, for strings, arbitrary characters. Every column
//! is built inside a longer array and sliced, so that kernels see non-zero offsets.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Decimal64Array, DictionaryArray,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeStringArray,
    RecordBatch, StringArray, StringViewBuilder, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, UInt16Type};
use proptest::prelude::*;
use qjit::exec::Source;

/// The table's name in `FROM`.
pub const TABLE: &str = "t";

/// The table's columns, name and type; bit `c` of [`TableSpec::not_null`] and
/// [`TableSpec::wild`] is about column `c`.
pub fn columns() -> Vec<(&'static str, DataType)> {
    let dict =
        |key: DataType, value: DataType| DataType::Dictionary(Box::new(key), Box::new(value));
    vec![
        ("a", DataType::Int8),
        ("y", DataType::UInt8),
        ("k", DataType::Int16),
        ("z", DataType::UInt16),
        ("i", DataType::Int32),
        ("w", DataType::UInt32),
        ("l", DataType::Int64),
        ("u", DataType::UInt64),
        ("f", DataType::Float64),
        ("r", DataType::Float32),
        ("d", DataType::Decimal128(10, 2)),
        ("dd", DataType::Decimal128(38, 0)),
        ("dt", DataType::Date32),
        ("b", DataType::Boolean),
        ("s", DataType::Utf8),
        ("ls", DataType::LargeUtf8),
        ("vs", DataType::Utf8View),
        ("ds", dict(DataType::Int32, DataType::Utf8)),
        ("dl", dict(DataType::UInt16, DataType::LargeUtf8)),
    ]
}

/// How a random table is made.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Where the values come from.
    pub seed: u64,
    /// Rows per batch.
    pub sizes: Vec<usize>,
    /// Bit `c`: column `c` is NOT NULL (and has no NULLs).
    pub not_null: u32,
    /// Bit `c`: column `c` takes edge values too.
    pub wild: u32,
    /// 1 in `null_one_in` values of a nullable column is NULL (0: none).
    pub null_one_in: usize,
    /// `d` is stored as `Decimal64` instead of `Decimal128`.
    pub decimal64: bool,
    /// Rows per morsel (`None`: the engine's default).
    pub morsel_rows: Option<usize>,
}

/// Random [`TableSpec`]s.
pub fn table_spec() -> impl Strategy<Value = TableSpec> {
    let size = one_of![
        Just(0usize),
        Just(1),
        Just(3),
        Just(63),
        Just(64),
        Just(65),
        Just(130),
        Just(200),
        1usize..20,
    ];
    // About one column in five is wild.
    let wild = one_of![
        1 => Just(0u32),
        3 => (any::<u32>(), any::<u32>()).prop_map(|(a, b)| a & b),
    ];
    let morsel_rows = one_of![
        4 => Just(None),
        1 => proptest::sample::select(vec![1usize, 7, 64, 1000]).prop_map(Some),
    ];
    (
        any::<u64>(),
        proptest::collection::vec(size, 0..=4),
        one_of![Just(0u32), Just(u32::MAX), any::<u32>()],
        wild,
        proptest::sample::select(vec![0usize, 2, 3, 5, 12]),
        any::<bool>(),
        morsel_rows,
    )
        .prop_map(
            |(seed, sizes, not_null, wild, null_one_in, decimal64, morsel_rows)| TableSpec {
                seed,
                sizes,
                not_null,
                wild,
                null_one_in,
                decimal64,
                morsel_rows,
            },
        )
}

impl TableSpec {
    /// The table's schema.
    pub fn schema(&self) -> Arc<Schema> {
        Arc::new(Schema::new(
            columns()
                .into_iter()
                .enumerate()
                .map(|(c, (name, dt))| {
                    let dt = match dt {
                        DataType::Decimal128(p, s) if self.decimal64 && p <= 18 => {
                            DataType::Decimal64(p, s)
                        }
                        dt => dt,
                    };
                    Field::new(name, dt, self.not_null >> c & 1 == 0)
                })
                .collect::<Vec<_>>(),
        ))
    }

    /// The table's batches.
    pub fn batches(&self) -> Vec<RecordBatch> {
        let mut rng = Rng(self.seed);
        let schema = self.schema();
        self.sizes
            .iter()
            .map(|&len| {
                let arrays: Vec<ArrayRef> = schema
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(c, f)| {
                        let column = Column {
                            len,
                            nullable: f.is_nullable() && self.null_one_in > 0,
                            null_one_in: self.null_one_in,
                            wild: self.wild >> c & 1 == 1,
                        };
                        column.build(f.data_type(), &mut rng)
                    })
                    .collect();
                RecordBatch::try_new(schema.clone(), arrays)
                    .expect("the kit's columns match its schema")
            })
            .collect()
    }

    /// The table as a [`Source`] named [`TABLE`].
    pub fn source(&self) -> Source {
        let source = Source::batches(TABLE, self.schema(), self.batches());
        match self.morsel_rows {
            Some(rows) => source.with_morsel_rows(rows),
            None => source,
        }
    }
}

/// A small deterministic generator (splitmix64): a table is a function of its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<T: Copy>(&mut self, pool: &[T]) -> T {
        pool[self.below(pool.len())]
    }
}

// Value pools: the first `*_TAME` entries of each are the tame values (repeated values make
// groups); a wild column draws from the whole pool.
const A: &[i8] = &[0, 1, -1, 3, 7, -7, i8::MAX, i8::MIN];
const A_TAME: usize = 6;
const Y: &[u8] = &[0, 1, 3, 200, 3, u8::MAX];
const Y_TAME: usize = 5;
/// No zero among the tame values: `k` is the divisor of the aggregation queries.
const K: &[i16] = &[1, 2, 3, -1, 2, 1, 0, i16::MAX, i16::MIN];
const K_TAME: usize = 6;
const Z: &[u16] = &[1, 2, 9, 1, 0, u16::MAX];
const Z_TAME: usize = 4;
const I: &[i32] = &[0, 1, -1, 7, -7, 100, 3, 3, i32::MAX, i32::MIN];
const I_TAME: usize = 8;
const W: &[u32] = &[1, 5, 9, 5, 0, u32::MAX];
const W_TAME: usize = 4;
const L: &[i64] = &[0, 1, -2, 1_000_000, 42, -42, i64::MAX, i64::MIN];
const L_TAME: usize = 6;
const U: &[u64] = &[0, 1, 5, 5, 7, u64::MAX, 1 << 63];
const U_TAME: usize = 5;
const F: &[f64] = &[
    0.0,
    -0.0,
    1.5,
    -2.25,
    0.1,
    3.0,
    0.3,
    f64::NAN,
    -f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
    f64::MIN_POSITIVE,
    -1e-310,
];
const F_TAME: usize = 7;
const R: &[f32] = &[0.0, -0.0, 1.5, -0.5, 0.1, f32::NAN, f32::INFINITY, 3e38];
const R_TAME: usize = 5;
const D: &[i128] = &[0, 1234, -567, -1, 5, 1234, 9_999_999_999, -9_999_999_999];
const D_TAME: usize = 6;
const DD: &[i128] = &[
    0,
    1,
    -1,
    -7,
    12,
    10i128.pow(37),
    10i128.pow(38) - 1,
    -(10i128.pow(38) - 1),
    5 * 10i128.pow(37),
];
const DD_TAME: usize = 5;
/// 1970-01-01, 2000-01-01, 1969-12-31, 2024-01-31, 1994-01-01, 2000-02-29; wild: 0001-01-01,
/// 9999-12-31.
const DT: &[i32] = &[0, 10957, -1, 19753, 8766, 10957, 11016, -719162, 2932896];
const DT_TAME: usize = 7;
const BOOLS: &[bool] = &[true, false, true];
/// Lengths 0, 1, 4, 5, 11, 12, 13, 40 (a view's prefix, the longest inline, the shortest in a
/// buffer); non-ASCII and special case mappings; long strings that share a length and a 4-byte
/// prefix; LIKE's own characters; text that casts to numbers, dates and booleans.
const S: &[&str] = &[
    "",
    "a",
    "abcd",
    "abcde",
    "hello world",
    "héllo wörld",
    "abcdefghijkl",
    "abcdefghijklm",
    "abcdXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "abcdYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY",
    "日本語のテキスト",
    "ß",
    "a",
    "abcd",
    "İ",
    "ﬀ",
    "a%b_c",
    "A\\B",
    "12",
    "-3.5",
    "1999-12-31",
    "true",
];

/// How one column of a batch is made.
struct Column {
    len: usize,
    nullable: bool,
    null_one_in: usize,
    wild: bool,
}

impl Column {
    /// The column of type `dt`: built `offset` rows into a longer array and sliced.
    fn build(&self, dt: &DataType, rng: &mut Rng) -> ArrayRef {
        let offset = if rng.below(2) == 0 {
            rng.pick(&[0, 1, 3, 63, 64, 65])
        } else {
            rng.below(70)
        };
        let total = self.len + offset + rng.below(3);
        let valid: Vec<bool> = (0..total)
            .map(|_| !(self.nullable && rng.below(self.null_one_in) == 0))
            .collect();
        let wild = self.wild;
        fn pool<T>(wild: bool, all: &'static [T], tame: usize) -> &'static [T] {
            if wild {
                all
            } else {
                &all[..tame]
            }
        }
        macro_rules! prim {
            ($array:ty, $all:expr, $tame:expr) => {{
                let pool = pool(wild, $all, $tame);
                let values: $array = valid
                    .iter()
                    .map(|&v| {
                        let x = rng.pick(pool);
                        v.then_some(x)
                    })
                    .collect();
                Arc::new(values) as ArrayRef
            }};
        }
        let full: ArrayRef = match dt {
            DataType::Int8 => prim!(Int8Array, A, A_TAME),
            DataType::UInt8 => prim!(UInt8Array, Y, Y_TAME),
            DataType::Int16 => prim!(Int16Array, K, K_TAME),
            DataType::UInt16 => prim!(UInt16Array, Z, Z_TAME),
            DataType::Int32 => prim!(Int32Array, I, I_TAME),
            DataType::UInt32 => prim!(UInt32Array, W, W_TAME),
            DataType::Int64 => prim!(Int64Array, L, L_TAME),
            DataType::UInt64 => prim!(UInt64Array, U, U_TAME),
            DataType::Float64 => prim!(Float64Array, F, F_TAME),
            DataType::Float32 => prim!(Float32Array, R, R_TAME),
            DataType::Date32 => prim!(Date32Array, DT, DT_TAME),
            DataType::Boolean => prim!(BooleanArray, BOOLS, BOOLS.len()),
            DataType::Decimal64(p, s) => {
                // The values of a short decimal in 8 bytes.
                let pool = pool(wild, D, D_TAME);
                let values: Decimal64Array = valid
                    .iter()
                    .map(|&v| {
                        let x = rng.pick(pool) as i64;
                        v.then_some(x)
                    })
                    .collect();
                Arc::new(
                    values
                        .with_precision_and_scale(*p, *s)
                        .expect("the pool's decimals fit their type"),
                )
            }
            DataType::Decimal128(p, s) => {
                let pool = if *p == 38 {
                    pool(wild, DD, DD_TAME)
                } else {
                    pool(wild, D, D_TAME)
                };
                let values: Decimal128Array = valid
                    .iter()
                    .map(|&v| {
                        let x = rng.pick(pool);
                        v.then_some(x)
                    })
                    .collect();
                Arc::new(
                    values
                        .with_precision_and_scale(*p, *s)
                        .expect("the pool's decimals fit their type"),
                )
            }
            DataType::Utf8 => Arc::new(StringArray::from(self.strings(&valid, rng))),
            DataType::LargeUtf8 => Arc::new(LargeStringArray::from(self.strings(&valid, rng))),
            DataType::Utf8View => {
                // Small data blocks, so that long strings land in several buffers; equal
                // strings are written again each time (other buffers and offsets).
                let mut builder = StringViewBuilder::new().with_fixed_block_size(64);
                for s in self.strings(&valid, rng) {
                    builder.append_option(s);
                }
                Arc::new(builder.finish())
            }
            DataType::Dictionary(key, _) => {
                // Duplicate values, values no key uses, sometimes a NULL value that valid keys
                // point at.
                let dict_len = 1 + rng.below(S.len());
                let null_value = self.nullable && rng.below(3) == 0;
                let words: Vec<Option<String>> = self
                    .strings(&vec![true; dict_len], rng)
                    .into_iter()
                    .map(|w| w.filter(|_| !null_value || rng.below(4) != 0))
                    .collect();
                let keys: Vec<Option<usize>> = valid
                    .iter()
                    .map(|&v| {
                        let x = rng.below(dict_len);
                        v.then_some(x)
                    })
                    .collect();
                if **key == DataType::Int32 {
                    let keys: Int32Array = keys.iter().map(|k| k.map(|k| k as i32)).collect();
                    let values = StringArray::from(words);
                    Arc::new(
                        DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))
                            .expect("keys within the dictionary"),
                    )
                } else {
                    let keys: UInt16Array = keys.iter().map(|k| k.map(|k| k as u16)).collect();
                    let values = LargeStringArray::from(words);
                    Arc::new(
                        DictionaryArray::<UInt16Type>::try_new(keys, Arc::new(values))
                            .expect("keys within the dictionary"),
                    )
                }
            }
            other => unreachable!("the kit has no column of type {other}"),
        };
        full.slice(offset, self.len)
    }

    /// One string per entry of `valid` (NULL where it is false): from the pool, and in a wild
    /// column one in four arbitrary text of up to 20 characters.
    fn strings(&self, valid: &[bool], rng: &mut Rng) -> Vec<Option<String>> {
        valid
            .iter()
            .map(|&v| {
                let s = if self.wild && rng.below(4) == 0 {
                    let len = rng.below(21);
                    (0..len).map(|_| arbitrary_char(rng)).collect()
                } else {
                    rng.pick(S).to_string()
                };
                v.then_some(s)
            })
            .collect()
    }
}

/// A character: half the time printable ASCII, otherwise any scalar value.
fn arbitrary_char(rng: &mut Rng) -> char {
    if rng.below(2) == 0 {
        char::from(b' ' + rng.below(95) as u8)
    } else {
        char::from_u32(rng.below(0x11_0000) as u32).unwrap_or('\u{fffd}')
    }
}
