//! Which expressions can raise an error on some input.
//!
//! In: an [`Expr`]. Out: `true` if evaluating it may fail for some row. The answer is
//! conservative (a `true` may be wrong, a `false` never is): it decides whether `AND`, `OR` and
//! `CASE` must restrict an operand to the rows that need it, or may evaluate it eagerly.

use crate::ir::{BinaryOp, Expr, SqlType, UnaryOp};

/// Whether evaluating `expr` can fail for some row.
pub(crate) fn can_fail(expr: &Expr) -> bool {
    expr.any(&mut node_can_fail)
}

/// Whether this node itself (not its children) can fail.
fn node_can_fail(expr: &Expr) -> bool {
    match expr {
        Expr::Column(_)
        | Expr::Literal(_)
        | Expr::IsNull { .. }
        | Expr::InList { .. }
        | Expr::Like { .. }
        | Expr::Case { .. }
        | Expr::Let { .. }
        | Expr::Var { .. } => false,
        Expr::Unary { op, arg } => match op {
            UnaryOp::Not => false,
            UnaryOp::Neg => arg.ty().is_integer(),
        },
        Expr::Binary { op, ty, .. } => match op {
            BinaryOp::Div | BinaryOp::Mod => true,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => !ty.is_float(),
            BinaryOp::WrappingAdd | BinaryOp::WrappingSub | BinaryOp::WrappingMul => false,
            _ => false,
        },
        Expr::Cast { arg, ty } => cast_can_fail(arg.ty(), *ty),
        Expr::Func { func, args, .. } => {
            func.can_fail(&args.iter().map(Expr::ty).collect::<Vec<_>>())
        }
    }
}

/// Whether `CAST(from AS to)` can fail.
fn cast_can_fail(from: SqlType, to: SqlType) -> bool {
    use SqlType::*;
    if from == to || from == Null || to == Utf8 {
        return false;
    }
    match (from, to) {
        (Boolean, t) if t.is_integer() => false,
        (f, Boolean) if f.is_integer() => false,
        (f, t) if f.is_integer() && t.is_float() => false,
        (Float32, Float64) | (Float64, Float32) => false,
        (f, t) if f.is_decimal() && t.is_float() => false,
        (f, t) if f.is_integer() && t.is_integer() => !integer_widens(f, t),
        _ => true,
    }
}

/// Whether every value of integer type `from` fits integer type `to`.
fn integer_widens(from: SqlType, to: SqlType) -> bool {
    let (Some(fb), Some(tb)) = (from.integer_bits(), to.integer_bits()) else {
        return false;
    };
    match (from.is_signed_integer(), to.is_signed_integer()) {
        (true, true) | (false, false) => fb <= tb,
        (false, true) => fb < tb,
        (true, false) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn classification() {
        let x = col(0, SqlType::Int32);
        let f = col(1, SqlType::Float64);
        assert!(!can_fail(&bin(BinaryOp::Lt, x.clone(), lit_i32(3))));
        assert!(can_fail(&bin(BinaryOp::Add, x.clone(), lit_i32(3))));
        assert!(!can_fail(&bin(BinaryOp::Add, f.clone(), lit_f64(3.0))));
        assert!(can_fail(&bin(BinaryOp::Div, f.clone(), lit_f64(3.0))));
        assert!(!can_fail(&Expr::cast(x.clone(), SqlType::Int64).unwrap()));
        assert!(can_fail(&Expr::cast(x.clone(), SqlType::Int16).unwrap()));
        assert!(can_fail(&Expr::cast(x.clone(), SqlType::UInt64).unwrap()));
        assert!(!can_fail(&Expr::cast(x.clone(), SqlType::Utf8).unwrap()));
        assert!(can_fail(&Expr::cast(lit_str("x"), SqlType::Int32).unwrap()));
        let nested = bin(
            BinaryOp::And,
            Expr::boolean(true),
            bin(BinaryOp::Gt, bin(BinaryOp::Mod, x, lit_i32(2)), lit_i32(0)),
        );
        assert!(can_fail(&nested));
    }
}
