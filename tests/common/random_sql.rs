//! Random SQL over a random table, for the property tests that compare two ways of evaluating
//! the same expressions (DataFusion's own and qjit's kernels: `in_datafusion.rs`; a plan before
//! and after qjit's codec: `ballista.rs`).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use proptest::prelude::*;

/// A table of random values (NULLs and extremes included), the same for the same `seed`.
pub fn random_table(seed: u64, rows: usize) -> RecordBatch {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut pick = |n: u64| next() % n;
    let mut ints = vec![];
    let mut bigs = vec![];
    let mut floats = vec![];
    let mut decs = vec![];
    let mut wides = vec![];
    let mut huges = vec![];
    let mut strs = vec![];
    let mut bools = vec![];
    let mut dates = vec![];
    for _ in 0..rows {
        let null = pick(8) == 0;
        ints.push((!null).then(|| match pick(6) {
            0 => i32::MAX,
            1 => i32::MIN,
            _ => pick(200) as i32 - 100,
        }));
        let null = pick(8) == 0;
        bigs.push((!null).then(|| match pick(6) {
            0 => i64::MAX,
            1 => i64::MIN,
            _ => pick(2000) as i64 - 1000,
        }));
        let null = pick(8) == 0;
        floats.push((!null).then(|| match pick(10) {
            0 => f64::NAN,
            1 => -0.0,
            2 => 0.0,
            3 => f64::INFINITY,
            _ => (pick(20000) as f64 - 10000.0) / 7.0,
        }));
        let null = pick(8) == 0;
        decs.push((!null).then(|| match pick(6) {
            0 => 9_999_999_999,
            1 => -9_999_999_999,
            _ => pick(200_000) as i128 - 100_000,
        }));
        let null = pick(8) == 0;
        wides.push((!null).then(|| match pick(6) {
            0 => 999_999_999_999_999,
            1 => -999_999_999_999_999,
            _ => pick(2_000_000) as i128 - 1_000_000,
        }));
        let null = pick(8) == 0;
        huges.push((!null).then(|| match pick(4) {
            0 => 10i128.pow(23) - 1,
            1 => 1 - 10i128.pow(23),
            _ => pick(2_000_000) as i128 - 1_000_000,
        }));
        let null = pick(8) == 0;
        strs.push((!null).then(|| {
            [
                "",
                "a",
                "ab",
                "abc",
                "MAIL",
                "SHIP",
                "Brand#12",
                "héllo",
                "%_x",
                "long string here!",
                "Straße",
                "ÉCOLE",
                "ΟΔΟΣ ΣΑΣ",
            ][pick(13) as usize]
                .to_string()
        }));
        let null = pick(8) == 0;
        bools.push((!null).then(|| pick(2) == 0));
        let null = pick(8) == 0;
        dates.push((!null).then(|| pick(20000) as i32 - 5000));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int32, true),
        Field::new("b", DataType::Int64, true),
        Field::new("f", DataType::Float64, true),
        Field::new("d", DataType::Decimal128(10, 2), true),
        Field::new("w", DataType::Decimal128(15, 2), true),
        Field::new("g", DataType::Decimal128(23, 2), true),
        Field::new("s", DataType::Utf8, true),
        Field::new("t", DataType::Boolean, true),
        Field::new("dt", DataType::Date32, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(ints)),
        Arc::new(Int64Array::from(bigs)),
        Arc::new(Float64Array::from(floats)),
        Arc::new(
            Decimal128Array::from(decs)
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(
            Decimal128Array::from(wides)
                .with_precision_and_scale(15, 2)
                .unwrap(),
        ),
        Arc::new(
            Decimal128Array::from(huges)
                .with_precision_and_scale(23, 2)
                .unwrap(),
        ),
        Arc::new(StringArray::from(strs)),
        Arc::new(BooleanArray::from(bools)),
        Arc::new(Date32Array::from(dates)),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Random SQL expressions over the random table, of every kind the translation takes and some
/// it must leave to DataFusion.
pub fn expression() -> impl Strategy<Value = String> {
    let numeric = prop_oneof![
        Just("i".to_string()),
        Just("b".to_string()),
        Just("f".to_string()),
        Just("d".to_string()),
        Just("w".to_string()),
        Just("(w * g)".to_string()),
        Just("(w * (1 - d))".to_string()),
        Just("CAST(i AS BIGINT)".to_string()),
        Just("CAST(i AS DOUBLE)".to_string()),
        Just("CAST(d AS DECIMAL(20, 4))".to_string()),
        Just("abs(i)".to_string()),
        Just("abs(d)".to_string()),
        Just("length(s)".to_string()),
        Just("length(substr(s, 2, 3))".to_string()),
        (-5i64..5).prop_map(|v| v.to_string()),
        Just("2.50".to_string()),
        Just("0".to_string()),
    ];
    let numeric = numeric.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop_oneof![Just("+"), Just("-"), Just("*"), Just("/"), Just("%")],
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("CASE WHEN {c} > 0 THEN {a} ELSE {b} END")),
        ]
    });
    let boolean = prop_oneof![
        (
            numeric.clone(),
            prop_oneof![
                Just("="),
                Just("<>"),
                Just("<"),
                Just("<="),
                Just(">"),
                Just(">=")
            ],
            numeric.clone()
        )
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        numeric.clone().prop_map(|a| format!("({a} IS NULL)")),
        Just("t".to_string()),
        Just("(s LIKE '%a%')".to_string()),
        Just("(s LIKE 'ab%')".to_string()),
        Just("(s NOT LIKE '%c')".to_string()),
        Just("(s NOT LIKE 'a_')".to_string()),
        Just("(s IN ('MAIL', 'SHIP', NULL))".to_string()),
        Just("(s = 'abc')".to_string()),
        Just("(i IN (1, 2, -3))".to_string()),
        Just("(i NOT IN (1, 2))".to_string()),
        Just("(dt < DATE '1995-01-01')".to_string()),
        Just("(upper(s) = 'AB')".to_string()),
        Just("(lower(s) IN ('ab', 'mail'))".to_string()),
        Just("(substr(s, -1, 3) = 'a')".to_string()),
        Just("(substr(s, 2) LIKE 'b%')".to_string()),
    ];
    let boolean = boolean.prop_recursive(2, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            inner.clone().prop_map(|a| format!("(NOT {a})")),
        ]
    });
    prop_oneof![numeric, boolean]
}
