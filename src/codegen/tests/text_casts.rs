//! Casts from and to text: what the kernel parses and writes itself, and what it hands back.

use super::*;

/// Texts for `CAST(VARCHAR AS …)`: well-formed, padded, signed, with Unicode white space
/// (which the interpreter trims and the kernel hands back), overlong, out of range, not values.
const CAST_TEXTS: [&str; 72] = [
    "0",
    "42",
    " 42 ",
    "\t-7\n",
    "\u{b}8\u{c}\r",
    "+3",
    "-0",
    "007",
    "000000000000000000000001",
    "123456789012345678",
    "-123456789012345678",
    "1234567890123456789",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "255",
    "256",
    "-1",
    "32767",
    "-32769",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "1.5",
    "1.",
    ".5",
    "-.5",
    "-0.05",
    "1.25",
    "1.255",
    "1.250",
    "0.001",
    "999.99",
    "-999.99",
    "1000",
    "0.000000000000000000000000000000000000001",
    "1e3",
    "",
    " ",
    "-",
    "+",
    ".",
    "1-2",
    "abc",
    "1 2",
    "+-1",
    "\u{a0}5\u{a0}",
    "\u{3000}12\u{3000}",
    "\u{663}",
    "1998-12-01",
    " 1998-1-5 ",
    "2000-02-29",
    "1900-02-29",
    "1998-02-30",
    "0-1-1",
    "999999-12-31",
    "1000000-01-01",
    "1998-13-01",
    "1998-00-10",
    "1998-12-00",
    "1998-12-001",
    "1998--12",
    "-1998-12-01",
    "1998-12-01-",
    "\u{3000}1998-12-01",
    "t",
    " TRUE ",
    "yEs",
    "Off",
    "maybe",
    "\u{a0}no",
];

/// Checks `CAST(text AS to)` on a one-row batch against the interpreter's value, as a column of
/// its own. Returns whether the kernel handed the row to the interpreter.
fn cast_from_text_falls_back(kernel: &FilterKernel, e: &Expr, text: &str, to: SqlType) -> bool {
    let s: ArrayRef = Arc::new(StringArray::from(vec![Some(text), None]));
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let b = RecordBatch::try_new(schema, vec![s.clone()]).unwrap();
    let cast = Expr::cast(text_column(), to).unwrap();
    let expected = interp::evaluate(&cast, &b)
        .unwrap_or_else(|_| arrow::array::new_null_array(&to.to_arrow(), 2));
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("v", to.to_arrow(), true),
    ]));
    let b = RecordBatch::try_new(schema, vec![s, expected]).unwrap();
    agree_on(e, kernel, &b)
}

fn text_column() -> Expr {
    Expr::column(ColumnRef {
        index: 0,
        name: "s".into(),
        ty: SqlType::Utf8,
        data_type: DataType::Utf8,
        nullable: true,
    })
}

#[test]
fn casts_from_text_read_common_text_and_hand_the_rest_to_the_interpreter() {
    let targets = [
        SqlType::Int8,
        SqlType::Int16,
        SqlType::Int32,
        SqlType::Int64,
        SqlType::UInt8,
        SqlType::UInt32,
        SqlType::UInt64,
        dec(5, 2),
        dec(3, 3),
        dec(18, 0),
        dec(38, 10),
        dec(38, 38),
        SqlType::Date,
        SqlType::Boolean,
    ];
    let mut read = std::collections::BTreeSet::new();
    for to in targets {
        let v = Expr::column(ColumnRef {
            index: 1,
            name: "v".into(),
            ty: to,
            data_type: to.to_arrow(),
            nullable: true,
        });
        let e = cmp(BinaryOp::Eq, Expr::cast(text_column(), to).unwrap(), v);
        let kernel = FilterKernel::compile(&e, 3).unwrap();
        for text in CAST_TEXTS {
            if !cast_from_text_falls_back(&kernel, &e, text, to) {
                read.insert((to.to_string(), text));
            }
        }
    }
    let kernel_reads = |to: SqlType, text: &str| read.contains(&(to.to_string(), text));
    for text in [
        " 42 ",
        "\t-7\n",
        "\u{b}8\u{c}\r",
        "+3",
        "-0",
        "000000000000000000000001",
    ] {
        assert!(kernel_reads(SqlType::Int32, text), "{text:?}");
    }
    assert!(kernel_reads(SqlType::Int64, "-123456789012345678"));
    assert!(kernel_reads(SqlType::UInt8, "255"));
    for text in [
        "1234567890123456789",
        "256",
        "-1",
        "1.5",
        "1e3",
        "\u{a0}5\u{a0}",
        "\u{3000}12\u{3000}",
        "",
        "abc",
    ] {
        assert!(!kernel_reads(SqlType::UInt8, text), "{text:?}");
    }
    assert!(!kernel_reads(SqlType::Int32, "2147483648"));
    assert!(kernel_reads(SqlType::Int32, "-2147483648"));
    for text in [
        "1.5", "1.", ".5", "-.5", "-0.05", "1.25", "999.99", "-999.99", "42",
    ] {
        assert!(kernel_reads(dec(5, 2), text), "{text:?}");
    }
    for text in ["1.255", "1.250", "1000", "1e3", "\u{a0}5\u{a0}"] {
        assert!(!kernel_reads(dec(5, 2), text), "{text:?}");
    }
    // 39 digits after the point: more than any scale.
    assert!(!kernel_reads(
        dec(38, 38),
        "0.000000000000000000000000000000000000001"
    ));
    assert!(kernel_reads(dec(38, 38), "-.5"));
    assert!(kernel_reads(dec(38, 10), "-123456789012345678"));
    for text in [
        "1998-12-01",
        " 1998-1-5 ",
        "2000-02-29",
        "0-1-1",
        "999999-12-31",
    ] {
        assert!(kernel_reads(SqlType::Date, text), "{text:?}");
    }
    for text in [
        "1900-02-29",
        "1998-13-01",
        "1000000-01-01",
        "\u{3000}1998-12-01",
        "1998-12-00",
    ] {
        assert!(!kernel_reads(SqlType::Date, text), "{text:?}");
    }
    for text in ["t", " TRUE ", "yEs", "Off", "0", "\t-7\n"] {
        let expected = text != "\t-7\n";
        assert_eq!(kernel_reads(SqlType::Boolean, text), expected, "{text:?}");
    }
    assert!(!kernel_reads(SqlType::Boolean, "\u{a0}no"));
}

#[test]
fn casts_from_text_in_every_layout() {
    use BinaryOp::*;
    for i in string_columns() {
        for to in [
            SqlType::Int32,
            SqlType::UInt8,
            dec(5, 2),
            SqlType::Date,
            SqlType::Boolean,
        ] {
            check_everywhere(&Expr::is_null(Expr::cast(col(i), to).unwrap(), false));
        }
        // Only where needed: no text of the batch is a number.
        check(&bin(
            And,
            cmp(Eq, col(i), str_("not a number")),
            cmp(Eq, Expr::cast(col(i), SqlType::Int32).unwrap(), i32_(1)),
        ));
        let pick = Expr::case(
            vec![(Expr::is_null(col(i), false), str_(" 17 "))],
            Some(str_("-3")),
            SqlType::Utf8,
        )
        .unwrap();
        check(&cmp(Gt, Expr::cast(pick, SqlType::Int16).unwrap(), col(7)));
    }
    assert_no_calls(&cmp(
        Eq,
        Expr::cast(col(TYPES.len()), SqlType::Int64).unwrap(),
        col(1),
    ));
    assert_no_calls(&cmp(
        Eq,
        Expr::cast(col(TYPES.len() + 2), dec(15, 2)).unwrap(),
        col(4),
    ));
    assert_no_calls(&cmp(
        Eq,
        Expr::cast(col(TYPES.len() + 1), SqlType::Date).unwrap(),
        col(5),
    ));
    assert_no_calls(&Expr::cast(col(TYPES.len() + 3), SqlType::Boolean).unwrap());
}

#[test]
fn casts_to_text_write_what_the_interpreter_writes() {
    use BinaryOp::*;
    let text = |c: usize| Expr::cast(col(c), SqlType::Utf8).unwrap();
    for c in [0, 1, 2, 4, 5, 6, 7, 9, 10] {
        let ty = TYPES[c];
        check(&Expr::is_null(text(c), false));
        // Back from the text: exact where the kernel reads it (19-digit integers and 7-digit
        // years fall back).
        let back = cmp(Eq, Expr::cast(text(c), ty).unwrap(), col(c));
        if [0, 2, 4, 6, 7].contains(&c) {
            check(&back);
        } else {
            check_everywhere(&back);
        }
        check(&like(text(c), "%0%", None, false));
        check(&cmp(Lt, text(c), col(TYPES.len())));
    }
    for c in [3, 8] {
        check(&Expr::is_null(text(c), false));
        check(&cmp(Eq, Expr::cast(text(c), TYPES[c]).unwrap(), col(c)));
    }
    // Every value against the interpreter's text, as a column of its own.
    let values: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![
            Some(i64::MIN),
            Some(i64::MAX),
            Some(0),
            Some(-1),
            None,
            Some(9),
            Some(10),
            Some(-10),
            Some(999_999_999_999_999_999),
            Some(1_000_000_000_000_000_000),
            Some(-1_000_000_000_000_000_000),
        ])),
        Arc::new(UInt64Array::from(vec![
            u64::MAX,
            0,
            10_000_000_000_000_000_000,
            9_999_999_999_999_999_999,
            1,
        ])),
        Arc::new(UInt8Array::from(vec![0, 9, 10, 99, 100, 255])),
        Arc::new(Int16Array::from(vec![i16::MIN, -9, i16::MAX])),
        Arc::new(Date32Array::from(vec![
            Some(i32::MIN),
            Some(i32::MAX),
            Some(0),
            Some(-1),
            Some(10_561),
            Some(-719_528),
            Some(-719_529),
            Some(-719_162),
            Some(-723_180),
            Some(2_932_896),
            Some(2_932_897),
            None,
            Some(-1_000_000),
        ])),
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
    ];
    let decimals = [
        (5, 2, vec![0i128, 5, -5, 100, -12345, 99999, -99999, 10, -1]),
        (3, 3, vec![0, -5, 5, 999, -999, -50]),
        (
            38,
            10,
            vec![
                10i128.pow(38) - 1,
                -(10i128.pow(38) - 1),
                10i128.pow(19),
                10i128.pow(19) - 1,
                -10i128.pow(19),
                10i128.pow(20) + 7,
                -1,
                0,
            ],
        ),
        (38, 0, vec![10i128.pow(38) - 1, -(10i128.pow(37)), 3, 0]),
        (38, 38, vec![10i128.pow(38) - 1, -1, 0, 10i128.pow(37)]),
        (19, 1, vec![-(10i128.pow(19) - 1), 10i128.pow(18), 1]),
    ];
    let mut values = values;
    for (p, s, v) in decimals {
        values.push(Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s as i8)
                .unwrap(),
        ));
    }
    for array in values {
        let dt = array.data_type().clone();
        let ty = SqlType::from_arrow(&dt).unwrap();
        let x = typed_column(0, ty, dt.clone());
        let cast = Expr::cast(x.clone(), SqlType::Utf8).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("c0", dt.clone(), true)]));
        let b = RecordBatch::try_new(schema, vec![array.clone()]).unwrap();
        let expected = interp::evaluate(&cast, &b).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("c0", dt.clone(), true),
            Field::new("c1", DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(schema, vec![array.clone(), expected]).unwrap();
        let e = cmp(Eq, cast, typed_column(1, SqlType::Utf8, DataType::Utf8));
        let kernel = FilterKernel::compile(&e, 3).unwrap();
        assert!(!agree_on(&e, &kernel, &b), "{e} fell back on {dt}");
        let all = kernel.filter(&b).unwrap().unwrap();
        assert_eq!(all.true_count(), array.len() - array.null_count(), "{dt}");
    }
    assert_no_calls(&cmp(Eq, text(1), col(TYPES.len())));
    assert_no_calls(&cmp(Eq, text(4), col(TYPES.len())));
    assert_no_calls(&cmp(Eq, text(5), col(TYPES.len())));
    assert_no_calls(&cmp(Eq, text(10), col(TYPES.len())));
}
