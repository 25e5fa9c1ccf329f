//! Numbers, logic and dates: comparisons of every type, checked integer arithmetic, floats,
//! decimals (precision, division, rounding), `CASE` and NULL tests, functions, `EXTRACT`.

use super::*;

#[test]
fn comparisons_of_every_type() {
    use BinaryOp::*;
    for op in [Eq, NotEq, Lt, LtEq, Gt, GtEq] {
        for i in 0..TYPES.len() {
            check(&cmp(op, col(i), col(i)));
        }
        check(&cmp(op, col(0), i32_(0)));
        check(&cmp(op, col(3), lit(Scalar::Float(0.0), SqlType::Float64)));
        check(&cmp(
            op,
            col(3),
            lit(Scalar::Float(f64::NAN), SqlType::Float64),
        ));
        check(&cmp(op, col(8), lit(Scalar::Float(-0.0), SqlType::Float32)));
        check(&cmp(op, col(4), lit(Scalar::Decimal(-5), dec(15, 2))));
        check(&cmp(op, col(5), lit(Scalar::Date(9000), SqlType::Date)));
        check(&cmp(op, col(6), Expr::boolean(true)));
        check(&cmp(op, col(9), lit(Scalar::UInt(5), SqlType::UInt64)));
        check(&cmp(op, col(0), Expr::null(SqlType::Int32)));
        check(&cmp(op, col(3), bin(Add, col(3), col(3))));
    }
}

#[test]
fn integer_arithmetic_is_checked() {
    use BinaryOp::*;
    // The wrapping operators (DataFusion's integer arithmetic) agree with the interpreter's on
    // the same edge values, where they wrap instead of failing.
    for op in [
        Add,
        Sub,
        Mul,
        Div,
        Mod,
        WrappingAdd,
        WrappingSub,
        WrappingMul,
    ] {
        for (c, one) in [
            (0, i32_(1)),
            (1, lit(Scalar::Int(1), SqlType::Int64)),
            (2, lit(Scalar::UInt(1), SqlType::UInt8)),
            (7, lit(Scalar::Int(1), SqlType::Int16)),
            (9, lit(Scalar::UInt(1), SqlType::UInt64)),
        ] {
            let ty = TYPES[c];
            let zero = Expr::cast(i32_(0), ty).unwrap();
            let minus = if ty.is_signed_integer() {
                Expr::cast(i32_(-1), ty).unwrap()
            } else {
                one.clone()
            };
            for r in [col(c), one.clone(), zero.clone(), minus, Expr::null(ty)] {
                let e = bin(op, col(c), r.clone());
                check(&cmp(Gt, e.clone(), zero.clone()));
                check(&Expr::is_null(e, false));
                check(&Expr::is_null(bin(op, r, col(c)), true));
            }
        }
    }
    // Guarded by AND / OR / CASE: no error where the value is not needed.
    let x = col(0);
    let safe_div = bin(
        And,
        cmp(NotEq, x.clone(), i32_(0)),
        cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
    );
    check(&safe_div);
    let or_div = bin(
        Or,
        cmp(Eq, x.clone(), i32_(0)),
        cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
    );
    check(&or_div);
    let unguarded = bin(
        Or,
        cmp(NotEq, x.clone(), i32_(0)),
        cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
    );
    check(&unguarded);
    for v in [i32::MIN, -1, 0, 1, i32::MAX] {
        check(&cmp(
            Eq,
            Expr::unary(UnaryOp::Neg, i32_(v)).unwrap(),
            x.clone(),
        ));
    }
    check(&cmp(
        Lt,
        Expr::unary(UnaryOp::Neg, x.clone()).unwrap(),
        i32_(0),
    ));
    check(&cmp(
        Lt,
        Expr::unary(UnaryOp::Neg, col(2)).unwrap(),
        lit(Scalar::UInt(1), SqlType::UInt8),
    ));
}

#[test]
fn float_arithmetic() {
    use BinaryOp::*;
    for op in [Add, Sub, Mul, Div, Mod] {
        for r in [
            col(3),
            lit(Scalar::Float(2.0), SqlType::Float64),
            lit(Scalar::Float(-0.0), SqlType::Float64),
            Expr::null(SqlType::Float64),
        ] {
            check(&cmp(Lt, bin(op, col(3), r.clone()), col(3)));
            check(&cmp(Eq, bin(op, r, col(3)), col(3)));
        }
        check(&cmp(GtEq, bin(op, col(8), col(8)), col(8)));
    }
    check(&cmp(
        Gt,
        Expr::unary(UnaryOp::Neg, col(3)).unwrap(),
        lit(Scalar::Float(0.0), SqlType::Float64),
    ));
}

#[test]
fn decimal_arithmetic_and_precision() {
    use BinaryOp::*;
    let d = col(4);
    let big = col(10);
    for (l, r) in [
        (d.clone(), d.clone()),
        (d.clone(), lit(Scalar::Decimal(-250), dec(5, 3))),
        (lit(Scalar::Decimal(7), dec(3, 0)), d.clone()),
        (big.clone(), big.clone()),
        (big.clone(), lit(Scalar::Decimal(1), dec(1, 0))),
        (d.clone(), big.clone()),
        (d.clone(), Expr::null(dec(15, 2))),
    ] {
        for op in [Add, Sub, Mul] {
            let e = bin(op, l.clone(), r.clone());
            check(&Expr::is_null(e.clone(), true));
            check(&cmp(Gt, e.clone(), e));
        }
    }
    check(&cmp(
        Lt,
        Expr::unary(UnaryOp::Neg, d.clone()).unwrap(),
        lit(Scalar::Decimal(0), dec(15, 2)),
    ));
    check(&cmp(
        Lt,
        Expr::func(Func::Abs, vec![d.clone()]).unwrap(),
        lit(Scalar::Decimal(100), dec(15, 2)),
    ));
}

#[test]
fn decimal_division_and_modulo() {
    use BinaryOp::*;
    let d = col(4);
    let big = col(10);
    let nonzero = |x: &Expr| cmp(NotEq, x.clone(), Expr::cast(i32_(0), x.ty()).unwrap());
    let operands = [
        (d.clone(), d.clone()),
        (d.clone(), lit(Scalar::Decimal(-250), dec(5, 3))),
        (d.clone(), lit(Scalar::Decimal(3), dec(1, 0))),
        (d.clone(), lit(Scalar::Decimal(7), dec(3, 2))),
        (lit(Scalar::Decimal(7), dec(3, 0)), d.clone()),
        (lit(Scalar::Decimal(-1), dec(1, 0)), d.clone()),
        (big.clone(), big.clone()),
        (big.clone(), lit(Scalar::Decimal(3), dec(1, 0))),
        (big.clone(), lit(Scalar::Decimal(-1), dec(1, 0))),
        (
            big.clone(),
            lit(Scalar::Decimal(10i128.pow(20) + 7), dec(38, 0)),
        ),
        (d.clone(), big.clone()),
        (big.clone(), d.clone()),
        (d.clone(), Expr::null(dec(15, 2))),
        (Expr::null(dec(15, 2)), d.clone()),
        (d.clone(), lit(Scalar::Decimal(0), dec(15, 2))),
        // The numerator's factor 10^76 leaves i128: only a zero numerator divides.
        (big.clone(), lit(Scalar::Decimal(5), dec(38, 38))),
        (
            lit(Scalar::Decimal(0), dec(1, 0)),
            lit(Scalar::Decimal(5), dec(38, 38)),
        ),
    ];
    for (l, r) in operands {
        for op in [Div, Mod] {
            let e = bin(op, l.clone(), r.clone());
            let zero = Expr::cast(i32_(0), e.ty()).unwrap();
            check(&Expr::is_null(e.clone(), true));
            check(&cmp(Gt, e.clone(), zero.clone()));
            // Guarded: no division by zero where the divisor is zero.
            check(&bin(And, nonzero(&r), cmp(LtEq, e.clone(), zero.clone())));
            let case = Expr::case(
                vec![(nonzero(&r), cmp(Lt, e.clone(), zero))],
                None,
                SqlType::Boolean,
            )
            .unwrap();
            check(&case);
        }
    }
    // Halves round away from zero: 0.05 / 2 = 0.025000 but -0.05 / 0.03 = -1.666667.
    for (a, b) in [(5, 2), (-5, 2), (5, -3), (-5, -3), (1, 8), (-1, 8), (2, 3)] {
        let quotient = bin(
            Div,
            lit(Scalar::Decimal(a), dec(3, 2)),
            lit(Scalar::Decimal(b), dec(3, 2)),
        );
        let (n, q) = (a * 1_000_000, a * 1_000_000 / b);
        let half = 2 * (n % b).abs() >= b.abs();
        let expected = if half { q + n.signum() * b.signum() } else { q };
        let ty = quotient.ty();
        check(&cmp(Eq, quotient, lit(Scalar::Decimal(expected), ty)));
    }
    let positive = |e: Expr| {
        let zero = Expr::cast(i32_(0), e.ty()).unwrap();
        cmp(Gt, e, zero)
    };
    assert_no_calls(&positive(bin(Div, big.clone(), d.clone())));
    assert_no_calls(&positive(bin(Mod, d.clone(), big.clone())));
    assert_no_calls(&positive(bin(Div, big, lit(Scalar::Decimal(3), dec(1, 0)))));
}

#[test]
fn logic_in_case_and_null_tests() {
    use BinaryOp::*;
    let b = col(6);
    let x = col(0);
    for op in [And, Or] {
        check(&bin(op, b.clone(), b.clone()));
        check(&bin(op, b.clone(), cmp(Gt, x.clone(), i32_(0))));
        check(&bin(op, Expr::null(SqlType::Boolean), b.clone()));
        check(&bin(
            op,
            b.clone(),
            cmp(Gt, bin(Add, x.clone(), i32_(1)), i32_(0)),
        ));
    }
    check(&Expr::unary(UnaryOp::Not, b.clone()).unwrap());
    check(&Expr::is_null(x.clone(), false));
    check(&Expr::is_null(Expr::null(SqlType::Null), false));
    check(&Expr::null(SqlType::Boolean));
    check(&Expr::null(SqlType::Null));
    // A NULL-typed predicate is not evaluated at all (no division by zero), as in the
    // interpreter.
    let null_case = Expr::case(
        vec![(
            cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
            Expr::null(SqlType::Null),
        )],
        None,
        SqlType::Null,
    )
    .unwrap();
    check(&null_case);
    check(&Expr::boolean(true));
    for negated in [false, true] {
        check(&Expr::in_list(x.clone(), vec![i32_(1), i32_(-7), i32_(i32::MIN)], negated).unwrap());
        check(
            &Expr::in_list(
                x.clone(),
                vec![i32_(1), Expr::null(SqlType::Int32)],
                negated,
            )
            .unwrap(),
        );
        check(
            &Expr::in_list(
                col(3),
                vec![
                    lit(Scalar::Float(f64::NAN), SqlType::Float64),
                    lit(Scalar::Float(0.0), SqlType::Float64),
                ],
                negated,
            )
            .unwrap(),
        );
        check(&Expr::in_list(b.clone(), vec![Expr::boolean(false)], negated).unwrap());
    }
    // CASE WHEN x <> 0 THEN 10 / x > 1 WHEN x IS NULL THEN NULL ELSE 100 / x = 0 END: the
    // branches fail only where taken.
    let case = Expr::case(
        vec![
            (
                cmp(NotEq, x.clone(), i32_(0)),
                cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
            ),
            (
                Expr::is_null(x.clone(), false),
                Expr::null(SqlType::Boolean),
            ),
        ],
        Some(cmp(
            Eq,
            bin(Mod, i32_(100), bin(Add, x.clone(), i32_(1))),
            i32_(0),
        )),
        SqlType::Boolean,
    )
    .unwrap();
    check(&case);
    let failing = Expr::case(
        vec![(b.clone(), cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)))],
        None,
        SqlType::Boolean,
    )
    .unwrap();
    check(&failing);
    let valued = Expr::case(
        vec![(cmp(Gt, x.clone(), i32_(0)), bin(Mul, x.clone(), i32_(2)))],
        Some(x.clone()),
        SqlType::Int32,
    )
    .unwrap();
    check(&cmp(Gt, valued, i32_(10)));
}

#[test]
fn casts_and_functions() {
    use BinaryOp::*;
    let targets = [
        SqlType::Int8,
        SqlType::Int16,
        SqlType::Int32,
        SqlType::Int64,
        SqlType::UInt8,
        SqlType::UInt16,
        SqlType::UInt32,
        SqlType::UInt64,
        SqlType::Float32,
        SqlType::Float64,
        SqlType::Boolean,
        dec(5, 2),
        dec(38, 10),
    ];
    for source in [0, 1, 2, 3, 6, 7, 8, 9, 4] {
        for to in targets {
            let from = TYPES[source];
            if !crate::ir::can_cast(from, to) || from == to {
                continue;
            }
            let e = Expr::is_null(Expr::cast(col(source), to).unwrap(), false);
            // Every numeric cast compiles and converts every row itself (the float and
            // decimal ones call the runtime for some).
            assert!(!check(&e).batch, "{e} fell back");
        }
    }
    let d = col(5);
    check(&cmp(
        Lt,
        Expr::func(Func::DateAddDays, vec![d.clone(), col(0)]).unwrap(),
        d.clone(),
    ));
    check(&cmp(
        Gt,
        Expr::func(
            Func::DateDiffDays,
            vec![d.clone(), lit(Scalar::Date(-2_000_000_000), SqlType::Date)],
        )
        .unwrap(),
        i32_(0),
    ));
    for c in [0, 1, 2, 3, 7, 8] {
        let a = Expr::func(Func::Abs, vec![col(c)]).unwrap();
        check(&cmp(Eq, a, col(c)));
    }
}

#[test]
fn round_every_numeric_type() {
    use BinaryOp::*;
    for c in [0, 1, 2, 3, 4, 7, 8, 9, 10] {
        for digits in [-400, -40, -38, -19, -10, -3, -1, 0, 1, 2, 3, 20, 400] {
            let Ok(r) = Expr::func(Func::Round { digits }, vec![col(c)]) else {
                continue;
            };
            let zero = Expr::cast(i32_(0), r.ty()).unwrap();
            check(&cmp(Gt, r.clone(), zero.clone()));
            check(&Expr::is_null(r.clone(), false));
            if r.ty().is_float() {
                // NaN, -0 and infinities come back as the interpreter computes them.
                check(&cmp(Eq, r.clone(), col(c)));
            }
        }
    }
    // Halves, both signs, for floats (to even) and decimals (away from zero).
    for v in [
        0.5, 1.5, 2.5, -2.5, -0.5, 0.125, 0.375, 1234.5, 25.0, 35.0, 1e300, -1e-300,
    ] {
        for digits in [-1, 0, 2, 400, -400] {
            let x = lit(Scalar::Float(v), SqlType::Float64);
            let r = Expr::func(Func::Round { digits }, vec![bin(Mul, x, col(3))]).unwrap();
            check(&cmp(Lt, r, col(3)));
        }
    }
    for v in [5, -5, 15, -15, 25, 44, -45, 99_999] {
        for digits in [-2, -1, 0, 1] {
            let x = bin(Mul, lit(Scalar::Decimal(v), dec(5, 1)), col(4));
            let r = Expr::func(Func::Round { digits }, vec![x]).unwrap();
            let zero = Expr::cast(i32_(0), r.ty()).unwrap();
            check(&cmp(GtEq, r, zero));
        }
    }
}

#[test]
fn extract_and_months_follow_the_civil_calendar() {
    use crate::ir::DatePart;
    use BinaryOp::*;
    let days = [
        i32::MIN,
        i32::MAX,
        -719_468,
        -719_469,
        -1,
        0,
        59,
        60,
        11_016,
        19_753,
        19_782,
        -25_508,
        2_932_896,
    ];
    let dates: Vec<Expr> = days
        .iter()
        .map(|&d| lit(Scalar::Date(d), SqlType::Date))
        .chain([
            col(5),
            Expr::func(Func::DateAddDays, vec![col(5), col(0)]).unwrap(),
        ])
        .collect();
    for d in &dates {
        for part in [DatePart::Year, DatePart::Month, DatePart::Day] {
            let x = Expr::func(Func::Extract(part), vec![d.clone()]).unwrap();
            check(&cmp(Gt, x.clone(), col(0)));
            check(&cmp(Eq, x, i32_(2)));
        }
        for months in [
            col(0),
            i32_(1),
            i32_(-1),
            i32_(13),
            i32_(-25),
            i32_(1_200),
            i32_(70_000_000),
            i32_(-70_000_000),
            Expr::null(SqlType::Int32),
        ] {
            let m = Expr::func(Func::DateAddMonths, vec![d.clone(), months]).unwrap();
            check(&cmp(Lt, m.clone(), col(5)));
            check(&Expr::is_null(m, true));
        }
    }
    // Every day of four years around a leap day, plus a month: the clamped ends of months.
    let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
    let all: Vec<Option<i32>> = (10_900..12_400).map(Some).chain([None]).collect();
    let b = RecordBatch::try_new(schema, vec![Arc::new(Date32Array::from(all))]).unwrap();
    let d = Expr::column(ColumnRef {
        index: 0,
        name: "d".into(),
        ty: SqlType::Date,
        data_type: DataType::Date32,
        nullable: true,
    });
    for months in [1, -1, 12, -12, 11, 25] {
        let m = Expr::func(Func::DateAddMonths, vec![d.clone(), i32_(months)]).unwrap();
        for part in [DatePart::Year, DatePart::Month, DatePart::Day] {
            let x = Expr::func(Func::Extract(part), vec![m.clone()]).unwrap();
            for v in [1, 2, 28, 29, 30, 31, 2000] {
                let e = cmp(Eq, x.clone(), i32_(v));
                let kernel = FilterKernel::compile(&e, 2).unwrap();
                agree_on(&e, &kernel, &b);
            }
        }
    }
}

#[test]
fn casts_that_lower_a_decimal_scale_round_half_away_from_zero() {
    use BinaryOp::*;
    let targets = [
        dec(15, 1),
        dec(14, 0),
        dec(5, 1),
        dec(3, 0),
        dec(38, 1),
        dec(1, 0),
        SqlType::Int8,
        SqlType::Int32,
        SqlType::Int64,
        SqlType::UInt8,
        SqlType::UInt64,
    ];
    for to in targets {
        for source in [
            col(4),
            col(10),
            bin(Mul, col(4), lit(Scalar::Decimal(3), dec(1, 1))),
            lit(Scalar::Decimal(-5), dec(3, 1)),
            lit(Scalar::Decimal(15), dec(3, 1)),
            lit(Scalar::Decimal(-10i128.pow(37) * 5), dec(38, 38)),
        ] {
            let c = Expr::cast(source, to).unwrap();
            check(&Expr::is_null(c.clone(), false));
            let zero = Expr::cast(i32_(0), to).unwrap();
            check(&cmp(Gt, c.clone(), zero.clone()));
            check(&cmp(Eq, c, zero));
        }
    }
}

#[test]
fn schema_mismatch_is_an_error_not_ub() {
    let e = cmp(BinaryOp::Gt, col(0), i32_(0));
    let kernel = FilterKernel::compile(&e, 1).unwrap();
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("c0", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1i64]))],
    )
    .unwrap();
    assert!(matches!(kernel.filter(&other), Err(Error::Internal(_))));
    let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
    assert!(matches!(kernel.filter(&empty), Err(Error::Internal(_))));
}
