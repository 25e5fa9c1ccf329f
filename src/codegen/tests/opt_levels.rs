//! Every optimization level against the interpreter. (Random predicates at every level are a
//! property test over the test kit: `tests/props.rs`.)

use super::*;

#[test]
fn every_opt_level_agrees_and_ir_is_kept() {
    let e = bin(
        BinaryOp::And,
        cmp(BinaryOp::Gt, col(4), lit(Scalar::Decimal(0), dec(15, 2))),
        cmp(BinaryOp::Lt, col(5), lit(Scalar::Date(9131), SqlType::Date)),
    );
    for level in 0..=3 {
        let kernel = FilterKernel::compile(&e, level).unwrap();
        assert!(kernel.ir_before().contains("define void @qjit_filter"));
        assert!(kernel.ir_after().contains("define void @qjit_filter"));
        assert!(kernel.ir_before().contains("target-cpu"));
        agree_on(&e, &kernel, &batch());
    }
    assert!(FilterKernel::compile(&e, 4).is_err());
}

/// A costly side of `AND`/`OR` (here `LIKE`, and an integer division that fails on zero) runs
/// in a branch, only where the other side leaves the answer open; a cheap one stays branch-free.
/// The answers and errors are the interpreter's either way.
#[test]
fn a_costly_side_of_and_or_runs_only_where_the_other_leaves_the_answer_open() {
    let cheap = cmp(BinaryOp::Gt, col(0), i32_(0));
    let costly = like(col(string_columns().start), "%a%", None, false);
    // `100 / c0 > 3`: division by zero where c0 = 0, a row the cheap side `c0 <> 0` rejects.
    let nonzero = cmp(BinaryOp::NotEq, col(0), i32_(0));
    let division = cmp(
        BinaryOp::Gt,
        Expr::Binary {
            op: BinaryOp::Div,
            left: Box::new(i32_(100)),
            right: Box::new(col(0)),
            ty: SqlType::Int32,
        },
        i32_(3),
    );
    for op in [BinaryOp::And, BinaryOp::Or] {
        for (e, branches) in [
            (bin(op, cheap.clone(), costly.clone()), true),
            (bin(op, costly.clone(), cheap.clone()), false),
            (
                bin(op, cheap.clone(), cmp(BinaryOp::Lt, col(0), i32_(7))),
                false,
            ),
        ] {
            check(&e);
            let kernel = FilterKernel::compile(&e, 3).unwrap();
            assert_eq!(kernel.ir_before().contains("costly_join"), branches, "{e}");
        }
    }
    let guarded = bin(BinaryOp::And, nonzero, division);
    check(&guarded);
    assert!(FilterKernel::compile(&guarded, 3)
        .unwrap()
        .ir_before()
        .contains("costly_join"));
}
