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
