//! Casts through a float's decimal digits: floats to text and decimals, text and decimals to
//! floats.

use super::*;

/// Checks `CAST(x AS to)` of each value of `values` against the interpreter, one row at a time
/// (so that a row's error is its own): the kernel compares its cast with the interpreter's
/// result, given as a column, both as text (which tells `-0` from `0` and shows `NaN`), and
/// must find them equal on every non-NULL row, or fail where the interpreter fails, without
/// handing a row back.
fn casts_agree(values: ArrayRef, to: SqlType) {
    let dt = values.data_type().clone();
    let from = SqlType::from_arrow(&dt).unwrap();
    let cast = Expr::cast(typed_column(0, from, dt.clone()), to).unwrap();
    let as_text = |e: Expr| {
        if e.ty() == SqlType::Utf8 {
            e
        } else {
            Expr::cast(e, SqlType::Utf8).unwrap()
        }
    };
    let e = cmp(
        BinaryOp::Eq,
        as_text(cast.clone()),
        as_text(typed_column(1, to, to.to_arrow())),
    );
    let kernel = FilterKernel::compile(&e, 3).unwrap();
    let one = Arc::new(Schema::new(vec![Field::new("c0", dt.clone(), true)]));
    let two = Arc::new(Schema::new(vec![
        Field::new("c0", dt.clone(), true),
        Field::new("c1", to.to_arrow(), true),
    ]));
    for i in 0..values.len() {
        let v = values.slice(i, 1);
        let b = RecordBatch::try_new(one.clone(), vec![v.clone()]).unwrap();
        let expected = interp::evaluate(&cast, &b);
        let column = match &expected {
            Ok(a) => a.clone(),
            Err(_) => arrow::array::new_null_array(&to.to_arrow(), 1),
        };
        let b = RecordBatch::try_new(two.clone(), vec![v.clone(), column]).unwrap();
        match (&expected, kernel.filter(&b)) {
            (Ok(_), Ok(Some(mask))) => assert_eq!(
                mask.value(0),
                v.is_valid(0),
                "{e} on row {i}: interpreter {expected:?}"
            ),
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(&b),
                "{e} on row {i}: interpreter {a}, JIT {b}"
            ),
            (_, got) => panic!("{e} on row {i}: interpreter {expected:?}, JIT {got:?}"),
        }
    }
}

fn f64_values() -> ArrayRef {
    let p53 = 2f64.powi(53);
    Arc::new(Float64Array::from(vec![
        Some(0.0),
        Some(-0.0),
        Some(1.0),
        Some(-1.0),
        Some(1.5),
        Some(0.1),
        Some(-0.1),
        Some(2.5),
        Some(1.005),
        Some(99.995),
        Some(12345678.9),
        Some(123456789.0),
        Some(1e20),
        Some(1e21),
        Some(1e-7),
        Some(p53 - 1.0),
        Some(p53),
        Some(p53 + 2.0),
        Some(-(p53 - 1.0)),
        Some(4503599627370495.5),
        Some(0.30000000000000004),
        Some(f64::NAN),
        Some(-f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(f64::MAX),
        Some(f64::MIN),
        Some(f64::MIN_POSITIVE),
        Some(5e-324),
        Some(-5e-324),
        Some(1e300),
        Some(1e-300),
        None,
    ]))
}

fn f32_values() -> ArrayRef {
    Arc::new(Float32Array::from(vec![
        Some(0.0f32),
        Some(-0.0),
        Some(1.5),
        Some(-2.5),
        Some(0.1),
        Some(0.3),
        Some(16777215.0),
        Some(16777216.0),
        Some(16777218.0),
        Some(-16777218.0),
        Some(1e10),
        Some(f32::MAX),
        Some(f32::MIN_POSITIVE),
        Some(1e-45),
        Some(f32::NAN),
        Some(f32::INFINITY),
        Some(f32::NEG_INFINITY),
        None,
    ]))
}

/// The decimal targets of float casts: rounding, small and large precisions, scales that leave
/// no integer digits.
const FLOAT_DECIMAL_TARGETS: [SqlType; 7] = [
    dec(5, 2),
    dec(3, 0),
    dec(12, 2),
    dec(38, 0),
    dec(38, 10),
    dec(18, 18),
    dec(38, 38),
];

#[test]
fn floats_to_text_write_what_the_interpreter_writes() {
    for values in [f64_values(), f32_values()] {
        casts_agree(values, SqlType::Utf8);
    }
}

#[test]
fn floats_to_decimals_read_the_shortest_digits() {
    for values in [f64_values(), f32_values()] {
        for to in FLOAT_DECIMAL_TARGETS {
            casts_agree(values.clone(), to);
        }
    }
}

/// Texts for `CAST(VARCHAR AS REAL|DOUBLE)`: what the kernel reads itself (short decimals, `-0`,
/// at most 2^53 or 2^24 and 22 or 10 digits after the point), what it leaves to the runtime
/// (exponents, words, long digits, Unicode white space), and text that is not a number.
const FLOAT_TEXTS: [&str; 52] = [
    "0",
    "-0",
    "+0.0",
    "-0.000",
    "1.5",
    " 2.5 ",
    "\t-7\n",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "0.1",
    "0.3",
    "123456789012345678",
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "16777216",
    "16777217",
    "0.0000000001",
    "0.00000000001",
    "0.0000000000000000000001",
    "0.00000000000000000000001",
    "1234567890.123",
    "3.4028235e38",
    "3.4028236e38",
    "1e3",
    "1E-7",
    "1e400",
    "4.9e-324",
    "1.7976931348623157e308",
    "inf",
    "-Infinity",
    "NaN",
    "nan",
    "\u{3000}1.25\u{a0}",
    "1234567890123456789012345",
    "",
    " ",
    ".",
    "-",
    "+",
    "abc",
    "1,5",
    "0x10",
    "1e",
    "--1",
    "1_000",
    "1.2.3",
    "\u{663}",
    "1 2",
    "infinity and beyond",
];

#[test]
fn text_to_floats_parses_as_the_interpreter_parses() {
    let texts: ArrayRef = Arc::new(StringArray::from(
        FLOAT_TEXTS
            .iter()
            .map(|t| Some(*t))
            .chain([None])
            .collect::<Vec<_>>(),
    ));
    for to in [SqlType::Float64, SqlType::Float32] {
        casts_agree(texts.clone(), to);
    }
}

#[test]
fn decimals_to_floats_round_correctly() {
    let decimals = [
        (38, 30, vec![10i128.pow(29), -(10i128.pow(29)), 1, -5, 0]),
        (
            38,
            0,
            vec![
                10i128.pow(38) - 1,
                (1 << 53) + 1,
                (1 << 24) + 1,
                1 << 53,
                -(1 << 53) - 3,
                7,
            ],
        ),
        (15, 2, vec![-12345, 5, 999_999_999_999_999, 0]),
        (38, 10, vec![10i128.pow(37) + 1, -1, 12_345_678_901]),
        (12, 11, vec![1, 10i128.pow(11) - 1, 33_333_333_333]),
    ];
    for (p, s, v) in decimals {
        let values: ArrayRef = Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s)
                .unwrap(),
        );
        for to in [SqlType::Float64, SqlType::Float32] {
            casts_agree(values.clone(), to);
        }
    }
}

/// The float casts over the test batch, in every position: filters, `CASE` parts, `AND`'s right
/// side; they compile without handing batches back.
#[test]
fn float_casts_in_predicates() {
    use BinaryOp::*;
    for c in [3, 8] {
        let text = Expr::cast(col(c), SqlType::Utf8).unwrap();
        check(&like(text.clone(), "%.%", None, false));
        check(&cmp(Lt, text.clone(), col(TYPES.len())));
        // Back from the text: the same value (NaN included), for both float types.
        for to in [SqlType::Float64, SqlType::Float32] {
            check(&cmp(
                Eq,
                Expr::cast(text.clone(), to).unwrap(),
                Expr::cast(col(c), to).unwrap(),
            ));
        }
        for to in FLOAT_DECIMAL_TARGETS {
            // NaN and ±inf fail, as do values with too many digits.
            check(&Expr::is_null(Expr::cast(col(c), to).unwrap(), false));
            // Only where needed.
            let small = cmp(
                Lt,
                Expr::func(Func::Abs, vec![col(c)]).unwrap(),
                lit(Scalar::Float(10.0), TYPES[c]),
            );
            check(&bin(
                And,
                small,
                cmp(
                    Gt,
                    Expr::cast(col(c), to).unwrap(),
                    Expr::cast(i32_(0), to).unwrap(),
                ),
            ));
        }
    }
    for s in string_columns() {
        // No text of the batch is a number: the cast fails wherever it is evaluated.
        let parsed = Expr::cast(col(s), SqlType::Float64).unwrap();
        check(&Expr::is_null(parsed.clone(), false));
        check(
            &Expr::case(
                vec![(
                    cmp(Eq, col(s), str_("1.5")),
                    cmp(Eq, parsed, lit(Scalar::Float(1.5), SqlType::Float64)),
                )],
                Some(Expr::boolean(true)),
                SqlType::Boolean,
            )
            .unwrap(),
        );
    }
}

/// The float casts that need no scratch compile inside an aggregation kernel too, where the
/// runtime's answer (or error) stands.
#[test]
fn float_casts_compile_inside_an_aggregation() {
    use crate::ir::{AggFunc, AggregateCall};
    use crate::jit::AggregateKernel;
    let count = [AggregateCall::new(AggFunc::CountStar, None).unwrap()];
    let casts = [
        Expr::cast(col(TYPES.len()), SqlType::Float64).unwrap(),
        Expr::cast(col(TYPES.len() + 2), SqlType::Float32).unwrap(),
        Expr::cast(col(3), dec(12, 2)).unwrap(),
        Expr::cast(col(8), dec(5, 1)).unwrap(),
        Expr::cast(col(10), SqlType::Float64).unwrap(),
        Expr::cast(col(4), SqlType::Float32).unwrap(),
    ];
    for e in casts {
        let predicate = Expr::is_null(e.clone(), false);
        let o = crate::jit::Optimize::level(0);
        AggregateKernel::compile(Some(&predicate), &[], &count, o)
            .unwrap_or_else(|err| panic!("{e} in WHERE: {err:?}"));
        AggregateKernel::compile(None, std::slice::from_ref(&e), &count, o)
            .unwrap_or_else(|err| panic!("{e} as a key: {err:?}"));
    }
}
