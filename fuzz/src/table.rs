//! Random tables: fuzz bytes → a [`Source`] of in-memory record batches.
//!
//! Every table has the columns of [`COLUMNS`] (one of each type the generator's expressions
//! use). Each column is nullable or NOT NULL, tame (values that cannot overflow or divide by
//! zero) or wild (edge values: integer minimum and maximum, zero, negative decimals, 38-digit
//! decimals, NaN and infinities, empty and non-ASCII strings, arbitrary bytes as text), and is
//! built inside a longer array and sliced, so that kernels see non-zero array offsets. A table
//! has one to three batches of 0 to 130 rows and is cut into morsels of a random size.

use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, LargeStringArray, RecordBatch,
    StringArray, StringViewBuilder, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use qjit::exec::Source;

/// The table's name in `FROM`.
pub const TABLE: &str = "t";

/// The columns: name and Arrow type.
pub const COLUMNS: &[(&str, DataType)] = &[
    ("a", DataType::Int8),
    ("k", DataType::Int16),
    ("i", DataType::Int32),
    ("l", DataType::Int64),
    ("w", DataType::UInt32),
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
];

/// The dictionary-encoded string column (its type is not `const`-constructible).
pub const DICT_COLUMN: &str = "ds";

// Value pools: the first `*_TAME` entries of each are the tame values.
const A: &[i8] = &[0, 1, -1, 3, 7, -7, i8::MAX, i8::MIN];
const A_TAME: usize = 6;
const K: &[i16] = &[1, 2, 3, -1, 0, i16::MAX, i16::MIN];
const K_TAME: usize = 4;
const I: &[i32] = &[1, -1, 7, -7, 100, 3, 0, i32::MAX, i32::MIN];
const I_TAME: usize = 6;
const L: &[i64] = &[1, -2, 1_000_000, 42, -42, 0, i64::MAX, i64::MIN];
const L_TAME: usize = 5;
const W: &[u32] = &[1, 5, 9, 0, u32::MAX];
const W_TAME: usize = 3;
const U: &[u64] = &[1, 5, 7, 0, u64::MAX, 1 << 63];
const U_TAME: usize = 3;
const F: &[f64] = &[
    0.0,
    -0.0,
    1.5,
    -2.25,
    0.1,
    3.0,
    f64::NAN,
    -f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    1e300,
    f64::MIN_POSITIVE,
    -1e-310,
];
const F_TAME: usize = 6;
const R: &[f32] = &[0.0, -0.0, 1.5, -0.5, 0.1, f32::NAN, f32::INFINITY, 3e38];
const R_TAME: usize = 5;
const D: &[i128] = &[1234, -567, -1, 5, 100, 0, 9_999_999_999, -9_999_999_999];
const D_TAME: usize = 5;
const DD: &[i128] = &[
    1,
    -1,
    -7,
    12,
    0,
    10i128.pow(37),
    10i128.pow(38) - 1,
    -(10i128.pow(38) - 1),
    5 * 10i128.pow(37),
];
const DD_TAME: usize = 4;
/// 1970-01-01, 2000-01-01, 1969-12-31, 2024-01-30, 1994-01-01, 2000-02-29, 0001-01-01,
/// 9999-12-31.
const DT: &[i32] = &[0, 10957, -1, 19752, 8766, 11016, -719162, 2932896];
const DT_TAME: usize = 6;
/// Lengths 0 to 40; non-ASCII; long strings that share a length and a prefix; LIKE's own
/// characters.
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
    "İ",
    "ﬀ",
    "a%b_c",
    "A\\B",
    "12",
    "-3.5",
    "1999-12-31",
    "true",
];

/// The schema, with column `c` NOT NULL where bit `c` of `not_null` is set.
pub fn schema(not_null: u32) -> Arc<Schema> {
    let mut fields: Vec<Field> = COLUMNS
        .iter()
        .enumerate()
        .map(|(c, (name, dt))| Field::new(*name, dt.clone(), not_null >> c & 1 == 0))
        .collect();
    fields.push(Field::new(
        DICT_COLUMN,
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        not_null >> COLUMNS.len() & 1 == 0,
    ));
    Arc::new(Schema::new(fields))
}

/// A random table named [`TABLE`], and the morsel size it is cut into.
pub fn table(u: &mut Unstructured) -> Result<Source> {
    let not_null: u32 = u.arbitrary()?;
    let null_one_in = *u.choose(&[0usize, 2, 3, 8])?;
    let schema = schema(not_null);
    let batches = u.int_in_range(1..=3u8)?;
    let mut out = vec![];
    for _ in 0..batches {
        // Exhausted input picks the first choice: rows, not an empty batch.
        let len = match u.int_in_range(0..=7u8)? {
            0 => 20,
            1 => 64,
            2 => 65,
            3 => 130,
            4 => 0,
            _ => u.int_in_range(1..=20usize)?,
        };
        let columns = schema
            .fields()
            .iter()
            .map(|f| column(u, f, len, null_one_in))
            .collect::<Result<Vec<_>>>()?;
        out.push(
            RecordBatch::try_new(schema.clone(), columns)
                .map_err(|_| arbitrary::Error::IncorrectFormat)?,
        );
    }
    let morsel_rows = *u.choose(&[1usize, 7, 64, 1000])?;
    Ok(Source::batches(TABLE, schema, out).with_morsel_rows(morsel_rows))
}

/// One column of `len` rows for `field`, built inside a longer array and sliced.
fn column(u: &mut Unstructured, field: &Field, len: usize, null_one_in: usize) -> Result<ArrayRef> {
    let offset = *u.choose(&[0usize, 1, 3, 63, 64, 65])?;
    let total = offset + len + u.int_in_range(0..=2usize)?;
    let nullable = field.is_nullable() && null_one_in > 0;
    let mut valid = Vec::with_capacity(total);
    for _ in 0..total {
        valid.push(!nullable || u.int_in_range(0..=null_one_in - 1)? != 0);
    }
    let wild: bool = u.ratio(1, 3)?;
    macro_rules! prim {
        ($array:ty, $pool:expr, $tame:expr) => {{
            let pool = if wild { $pool } else { &$pool[..$tame] };
            let mut values = Vec::with_capacity(total);
            for &v in &valid {
                let x = *u.choose(pool)?;
                values.push(v.then_some(x));
            }
            Arc::new(values.into_iter().collect::<$array>()) as ArrayRef
        }};
    }
    let full: ArrayRef = match field.data_type() {
        DataType::Int8 => prim!(Int8Array, A, A_TAME),
        DataType::Int16 => prim!(Int16Array, K, K_TAME),
        DataType::Int32 => prim!(Int32Array, I, I_TAME),
        DataType::Int64 => prim!(Int64Array, L, L_TAME),
        DataType::UInt32 => prim!(UInt32Array, W, W_TAME),
        DataType::UInt64 => prim!(UInt64Array, U, U_TAME),
        DataType::Float64 => prim!(Float64Array, F, F_TAME),
        DataType::Float32 => prim!(Float32Array, R, R_TAME),
        DataType::Date32 => prim!(Date32Array, DT, DT_TAME),
        DataType::Boolean => prim!(BooleanArray, &[true, false, true], 3),
        DataType::Decimal128(p, s) => {
            let array = if *p == 38 {
                prim!(Decimal128Array, DD, DD_TAME)
            } else {
                prim!(Decimal128Array, D, D_TAME)
            };
            let array = array
                .as_any()
                .downcast_ref::<Decimal128Array>()
                .ok_or(arbitrary::Error::IncorrectFormat)?
                .clone()
                .with_precision_and_scale(*p, *s)
                .map_err(|_| arbitrary::Error::IncorrectFormat)?;
            Arc::new(array)
        }
        DataType::Utf8 => Arc::new(strings(u, &valid)?.into_iter().collect::<StringArray>()),
        DataType::LargeUtf8 => Arc::new(
            strings(u, &valid)?
                .into_iter()
                .collect::<LargeStringArray>(),
        ),
        DataType::Utf8View => {
            // Small data blocks, so that long strings land in several buffers.
            let mut builder = StringViewBuilder::new().with_fixed_block_size(64);
            for s in strings(u, &valid)? {
                builder.append_option(s);
            }
            Arc::new(builder.finish())
        }
        DataType::Dictionary(_, _) => {
            // Duplicate values, values no key uses, sometimes a NULL value.
            let dict_len = 1 + u.int_in_range(0..=6usize)?;
            let words = strings(u, &vec![true; dict_len])?;
            let words: Vec<Option<String>> = words
                .into_iter()
                .map(|w| Ok(if nullable && u.ratio(1, 5)? { None } else { w }))
                .collect::<Result<_>>()?;
            let mut keys = Vec::with_capacity(total);
            for &v in &valid {
                let k = u.choose_index(words.len())? as i32;
                keys.push(v.then_some(k));
            }
            let array = DictionaryArray::<Int32Type>::try_new(
                keys.into_iter().collect(),
                Arc::new(words.into_iter().collect::<StringArray>()),
            )
            .map_err(|_| arbitrary::Error::IncorrectFormat)?;
            Arc::new(array)
        }
        _ => return Err(arbitrary::Error::IncorrectFormat),
    };
    Ok(full.slice(offset, len))
}

/// One string per entry of `valid` (NULL where it is false): from the pool, or arbitrary text
/// when the column is wild.
fn strings(u: &mut Unstructured, valid: &[bool]) -> Result<Vec<Option<String>>> {
    let wild: bool = u.ratio(1, 4)?;
    valid
        .iter()
        .map(|&v| {
            let s = if wild && u.ratio(1, 4)? {
                let len = u.int_in_range(0..=20usize)?;
                let mut s = String::new();
                for _ in 0..len {
                    s.push(u.arbitrary::<char>()?);
                }
                s
            } else {
                (*u.choose(S)?).to_string()
            };
            Ok(v.then_some(s))
        })
        .collect()
}
