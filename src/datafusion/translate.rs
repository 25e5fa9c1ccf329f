//! DataFusion physical expressions → qjit's typed plan.
//!
//! In: a DataFusion [`PhysicalExpr`] and the schema of the batches it is evaluated on. Out: an
//! [`ir::Expr`](crate::ir::Expr) over a list of *inputs* (DataFusion expressions whose values the
//! kernel reads as its columns), or `None` when qjit would not reproduce the expression exactly.
//!
//! An input is a column of the batch, or a subtree qjit does not take (a function it does not
//! have, a cast it does not do alike, …): DataFusion evaluates it and the kernel reads its
//! values. A node is translated only where qjit's semantics are DataFusion's, checked node by
//! node:
//!
//! - the result type is DataFusion's (decimal precision and scale included), or the node is an
//!   input;
//! - decimal `+ - *` only where it cannot overflow: every exact result has at most 38 digits.
//!   (DataFusion's decimal arithmetic, arrow's, fails only where the stored `i128` overflows and
//!   never checks the type's precision, where qjit's fails beyond the precision; the two differ
//!   for results from 10^38 to 2^127.) No float arithmetic, since LLVM does not keep a NaN's
//!   sign and DataFusion's order tells them apart;
//!   integer `+ - *` as qjit's wrapping operators (`+% -% *%`) in DataFusion's default mode,
//!   as its checked ones in DataFusion's checked mode (both fail on overflow);
//! - integer `/` (both fail on a zero divisor and on `MIN / -1`); no float `/` or `%` (qjit fails
//!   on a zero divisor, DataFusion gives infinity or NaN) and no integer `%` (`MIN % -1` is 0 in
//!   qjit and an overflow in DataFusion);
//! - casts only where they are exact and cannot fail (integers to wider integers or to
//!   floats, decimals to decimals that keep every digit), since the two engines round and report
//!   errors differently;
//! - `AND` and `OR` only over operands that cannot fail (DataFusion may evaluate the right
//!   operand for rows whose left one already decided, where qjit does not);
//! - comparisons of equal types, except floats (arrow's total order puts a NaN whose sign bit is
//!   set below every number, qjit puts every NaN above);
//! - `IN` lists of literals, except of floats; `LIKE` with a literal pattern, case-sensitive,
//!   that matches a prefix, a suffix or the whole string (arrow's search for `'%text%'` is
//!   faster than qjit's kernels yet);
//!   searched and simple `CASE`; `NOT`, `IS [NOT] NULL`, negation of decimals, and of signed
//!   integers as `0 -% x` (DataFusion's wraps);
//! - the functions `upper`, `lower`, `character_length`, `abs` and `substr`, where qjit's
//!   agree with DataFusion's ([`Translator::function`] says where).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CaseExpr, CastExpr, Column, InListExpr, IsNotNullExpr, IsNullExpr, LikeExpr,
    Literal as DfLiteral, NegativeExpr, NotExpr,
};
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};

use super::expr::QjitExpr;
use crate::interp::fallible::can_fail;
use crate::ir::{
    decimal_result, BinaryOp, ColumnRef, Expr, Func, Literal, Scalar, SqlType, UnaryOp,
};

/// An expression translated for a kernel: the plan and the inputs its columns are.
#[derive(Debug)]
pub(crate) struct Translation {
    pub expr: Expr,
    pub inputs: Vec<Arc<dyn PhysicalExpr>>,
}

/// Translates `expr`, evaluated over batches of `schema`: `None` if it is not worth a kernel
/// (see [`operations`]; the rule then tries its children) or qjit cannot read its type.
pub(crate) fn translate(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Translation> {
    let mut t = Translator {
        schema,
        inputs: vec![],
        conditional: 0,
        lets: 0,
    };
    let plan = t.node(expr)?;
    if operations(&plan) < 2 {
        return None;
    }
    Some(Translation {
        expr: plan,
        inputs: t.inputs,
    })
}

/// `expr` translated whole over the columns of `schema`: every input must be a column of the
/// batch, and the plan's columns are the batch's (for a kernel that reads the batch itself, as
/// a fused aggregation does). `None` where qjit would not compute all of it exactly.
#[cfg_attr(not(feature = "jit"), allow(dead_code))]
pub(crate) fn translate_over_columns(
    expr: &Arc<dyn PhysicalExpr>,
    schema: &Schema,
) -> Option<Expr> {
    let mut t = Translator {
        schema,
        inputs: vec![],
        conditional: 0,
        lets: 0,
    };
    let plan = t.node(expr)?;
    let columns = t
        .inputs
        .iter()
        .map(|i| i.downcast_ref::<Column>().map(Column::index))
        .collect::<Option<Vec<usize>>>()?;
    Some(plan.map_columns(&mut |c| {
        let index = columns[c.index];
        let field = schema.field(index);
        ColumnRef {
            index,
            name: field.name().clone(),
            nullable: field.is_nullable(),
            ..c
        }
    }))
}

struct Translator<'a> {
    schema: &'a Schema,
    inputs: Vec<Arc<dyn PhysicalExpr>>,
    /// How many operands that DataFusion evaluates only for some rows enclose the node (a
    /// `CASE` branch, a `WHEN` after the first, the right side of `AND`/`OR`).
    conditional: usize,
    /// The last [`Expr::Let`] id handed out.
    lets: u32,
}

impl Translator<'_> {
    /// The plan of `e`: translated where qjit's semantics are DataFusion's, else an input.
    /// `None` when `e` is neither (its type is one qjit does not read).
    fn node(&mut self, e: &Arc<dyn PhysicalExpr>) -> Option<Expr> {
        let ty = e.data_type(self.schema).ok()?;
        let inputs = self.inputs.len();
        if let Some(plan) = self.translated(e) {
            if plan.ty().to_arrow() == ty || same_string_type(plan.ty(), &ty) {
                return Some(plan);
            }
        }
        // The inputs of an attempt that failed are not the kernel's.
        self.inputs.truncate(inputs);
        self.input(e, &ty)
    }

    /// `e` as a column of the kernel's input (the same expression is one input). An input is
    /// evaluated for every row, so only a column may be one where DataFusion evaluates an
    /// operand for some rows: elsewhere, a subtree that fails on a row DataFusion would not
    /// have evaluated it for would fail the whole expression.
    fn input(&mut self, e: &Arc<dyn PhysicalExpr>, ty: &DataType) -> Option<Expr> {
        if self.conditional > 0 && !e.is::<Column>() {
            return None;
        }
        let sql = SqlType::from_arrow(ty)?;
        if sql == SqlType::Null || matches!(ty, DataType::Dictionary(..)) {
            return None;
        }
        let index = match self.inputs.iter().position(|i| i.as_ref() == e.as_ref()) {
            Some(i) => i,
            None => {
                self.inputs.push(e.clone());
                self.inputs.len() - 1
            }
        };
        Some(Expr::Column(ColumnRef {
            index,
            name: e.to_string(),
            ty: sql,
            data_type: ty.clone(),
            nullable: true,
        }))
    }

    /// The plan of `e`'s own operation over its translated children, if qjit has it.
    fn translated(&mut self, e: &Arc<dyn PhysicalExpr>) -> Option<Expr> {
        let any: &dyn PhysicalExpr = e.as_ref();
        if any.is::<Column>() || any.is::<QjitExpr>() {
            return None;
        }
        if let Some(lit) = any.downcast_ref::<DfLiteral>() {
            return literal(lit.value()).map(Expr::Literal);
        }
        if let Some(b) = any.downcast_ref::<BinaryExpr>() {
            return self.binary(b);
        }
        if let Some(n) = any.downcast_ref::<NotExpr>() {
            let arg = self.node(n.arg())?;
            return (arg.ty() == SqlType::Boolean).then(|| Expr::Unary {
                op: UnaryOp::Not,
                arg: Box::new(arg),
            });
        }
        if let Some(n) = any.downcast_ref::<NegativeExpr>() {
            let arg = self.node(n.arg())?;
            let ty = arg.ty();
            // DataFusion's integer negation wraps: `0 -% x`. A float's would not keep a NaN's
            // sign (see `arithmetic`).
            if ty.is_signed_integer() {
                let zero = Expr::Literal(Literal {
                    value: Scalar::Int(0),
                    ty,
                });
                return Expr::binary(BinaryOp::WrappingSub, zero, arg).ok();
            }
            return ty.is_decimal().then(|| Expr::Unary {
                op: UnaryOp::Neg,
                arg: Box::new(arg),
            });
        }
        if let Some(f) = any.downcast_ref::<ScalarFunctionExpr>() {
            return self.function(f);
        }
        if let Some(n) = any.downcast_ref::<IsNullExpr>() {
            return Some(Expr::IsNull {
                arg: Box::new(self.node(n.arg())?),
                negated: false,
            });
        }
        if let Some(n) = any.downcast_ref::<IsNotNullExpr>() {
            return Some(Expr::IsNull {
                arg: Box::new(self.node(n.arg())?),
                negated: true,
            });
        }
        if let Some(l) = any.downcast_ref::<InListExpr>() {
            return self.in_list(l);
        }
        if let Some(l) = any.downcast_ref::<LikeExpr>() {
            return self.like(l);
        }
        if let Some(c) = any.downcast_ref::<CaseExpr>() {
            return self.case(c);
        }
        if let Some(c) = any.downcast_ref::<CastExpr>() {
            let arg = self.node(c.expr())?;
            let to = SqlType::from_arrow(c.cast_type())?;
            return exact_cast(arg.ty(), to).then(|| Expr::Cast {
                arg: Box::new(arg),
                ty: to,
            });
        }
        None
    }

    /// `f` on this translator, inside an operand DataFusion evaluates for some rows only if
    /// `conditional`.
    fn within<T>(&mut self, conditional: bool, f: impl FnOnce(&mut Self) -> T) -> T {
        self.conditional += usize::from(conditional);
        let out = f(self);
        self.conditional -= usize::from(conditional);
        out
    }

    fn binary(&mut self, b: &BinaryExpr) -> Option<Expr> {
        let mut op = match b.op() {
            Operator::Eq => BinaryOp::Eq,
            Operator::NotEq => BinaryOp::NotEq,
            Operator::Lt => BinaryOp::Lt,
            Operator::LtEq => BinaryOp::LtEq,
            Operator::Gt => BinaryOp::Gt,
            Operator::GtEq => BinaryOp::GtEq,
            Operator::And => BinaryOp::And,
            Operator::Or => BinaryOp::Or,
            Operator::Plus => BinaryOp::Add,
            Operator::Minus => BinaryOp::Sub,
            Operator::Multiply => BinaryOp::Mul,
            Operator::Divide => BinaryOp::Div,
            _ => return None,
        };
        let left = self.node(b.left())?;
        let logical = matches!(op, BinaryOp::And | BinaryOp::Or);
        let right = self.within(logical, |t| t.node(b.right()))?;
        // Arrow compares decimals of one scale and different precisions by value (DataFusion
        // leaves `c_acctbal > 0.00` so): qjit compares them widened to the wider, exactly.
        let (left, right) = match (op.is_comparison(), left.ty(), right.ty()) {
            (
                true,
                l @ SqlType::Decimal {
                    precision: p1,
                    scale: s1,
                },
                r @ SqlType::Decimal {
                    precision: p2,
                    scale: s2,
                },
            ) if s1 == s2 && p1 != p2 => {
                let (wide, narrow_left) = if p1 > p2 { (l, false) } else { (r, true) };
                let widen = |e: Expr| Expr::Cast {
                    arg: Box::new(e),
                    ty: wide,
                };
                match narrow_left {
                    true => (widen(left), right),
                    false => (left, widen(right)),
                }
            }
            _ => (left, right),
        };
        let (lt, rt) = (left.ty(), right.ty());
        let ty = if op.is_comparison() {
            // Arrow orders floats by `total_cmp` (a NaN with its sign bit set is the smallest
            // value); qjit orders every NaN above all numbers, as PostgreSQL does.
            // Arrow orders intervals by their parts (months, then days, then nanoseconds);
            // qjit by their length, as PostgreSQL does.
            if lt != rt || lt.is_float() || lt == SqlType::Interval {
                return None;
            }
            SqlType::Boolean
        } else if matches!(op, BinaryOp::And | BinaryOp::Or) {
            if lt != SqlType::Boolean
                || rt != SqlType::Boolean
                || can_fail(&left)
                || can_fail(&right)
            {
                return None;
            }
            SqlType::Boolean
        } else {
            let (arithmetic, ty) = self.arithmetic(b, op, lt, rt)?;
            op = arithmetic;
            ty
        };
        Some(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty,
        })
    }

    /// The operator and result type of arithmetic `op` that qjit computes as DataFusion does.
    fn arithmetic(
        &self,
        b: &BinaryExpr,
        op: BinaryOp,
        lt: SqlType,
        rt: SqlType,
    ) -> Option<(BinaryOp, SqlType)> {
        match (lt, rt) {
            (
                SqlType::Decimal {
                    precision: p1,
                    scale: s1,
                },
                SqlType::Decimal {
                    precision: p2,
                    scale: s2,
                },
            ) => {
                if op == BinaryOp::Div {
                    return None;
                }
                // Only where every exact result fits 38 digits: then neither engine can
                // overflow (a product of numbers below 10^p1 and 10^p2 is below 10^(p1 + p2),
                // even where the type's precision, p1 + p2 + 1, is capped at 38).
                let (p1, s1, p2, s2) = (p1 as u32, s1 as u32, p2 as u32, s2 as u32);
                let digits = match op {
                    BinaryOp::Mul => p1 + p2,
                    _ => (p1 - s1).max(p2 - s2) + s1.max(s2) + 1,
                };
                (digits <= 38).then(|| {
                    let ty = decimal_result(op, (p1 as u8, s1 as u8), (p2 as u8, s2 as u8));
                    (op, ty)
                })
            }
            // No float arithmetic: LLVM keeps neither the sign nor the payload of a NaN (it may
            // rewrite `a - (-b)` as `a + b`), and DataFusion's total order tells a NaN whose
            // sign bit is set from one whose is not.
            // `/` fails alike in both; `+ - *` fail on overflow in DataFusion's checked mode
            // and wrap around in its default, qjit's wrapping operators.
            (l, r) if l == r && l.is_integer() => match op == BinaryOp::Div || checked(b) {
                true => Some((op, l)),
                false => Some((op.wrapping(), l)),
            },
            _ => None,
        }
    }

    /// The DataFusion functions whose results qjit's compute exactly: `upper`, `lower`,
    /// `character_length` (`length`; of `LargeUtf8` it is a `BIGINT` in DataFusion, which the
    /// type check in [`Translator::node`] turns away), `abs` of integers (both fail on
    /// `abs(MIN)`) and decimals (not of floats: a NaN's sign), and `substr` with a constant start
    /// (DataFusion fails on a start of `i64::MIN`, qjit takes it as any start before the first
    /// character; a negative count fails in both).
    fn function(&mut self, f: &ScalarFunctionExpr) -> Option<Expr> {
        let func = match f.fun().name() {
            "upper" => Func::Upper,
            "lower" => Func::Lower,
            "character_length" => Func::Length,
            "abs" => Func::Abs,
            "substr" => Func::Substring,
            _ => return None,
        };
        if func == Func::Substring {
            let start = f.args().get(1)?.downcast_ref::<DfLiteral>()?;
            if matches!(start.value(), ScalarValue::Int64(Some(i64::MIN))) {
                return None;
            }
        }
        let args = f
            .args()
            .iter()
            .map(|a| self.node(a))
            .collect::<Option<Vec<Expr>>>()?;
        if func == Func::Abs
            && !(args.first()?.ty().is_integer() || args.first()?.ty().is_decimal())
        {
            return None;
        }
        Expr::func(func, args).ok()
    }

    fn in_list(&mut self, l: &InListExpr) -> Option<Expr> {
        let arg = self.node(l.expr())?;
        // Arrow orders intervals by their parts, qjit by their length (PostgreSQL's).
        if arg.ty().is_float() || arg.ty() == SqlType::Interval {
            return None;
        }
        let mut list = Vec::with_capacity(l.list().len());
        for item in l.list() {
            let lit = literal(item.downcast_ref::<DfLiteral>()?.value())?;
            if lit.ty != arg.ty() && lit.value != Scalar::Null {
                return None;
            }
            list.push(Expr::Literal(Literal {
                value: lit.value,
                ty: arg.ty(),
            }));
        }
        Some(Expr::InList {
            arg: Box::new(arg),
            list,
            negated: l.negated(),
        })
    }

    fn like(&mut self, l: &LikeExpr) -> Option<Expr> {
        if l.case_insensitive() {
            return None;
        }
        let pattern = match l.pattern().downcast_ref::<DfLiteral>()?.value() {
            ScalarValue::Utf8(Some(p))
            | ScalarValue::Utf8View(Some(p))
            | ScalarValue::LargeUtf8(Some(p)) => p.clone(),
            _ => return None,
        };
        // qjit's kernels search for a fixed prefix or suffix as fast as arrow does, but not
        // yet for text inside the string (arrow's `LIKE '%a%b%'` uses a vectorized substring
        // search): those patterns stay DataFusion's.
        let inner = pattern.trim_start_matches('%').trim_end_matches('%');
        if inner.contains(['%', '_', '\\']) || (pattern.starts_with('%') && pattern.ends_with('%'))
        {
            return None;
        }
        let arg = self.node(l.expr())?;
        (arg.ty() == SqlType::Utf8).then(|| Expr::Like {
            arg: Box::new(arg),
            pattern,
            escape: None,
            case_insensitive: false,
            negated: l.negated(),
        })
    }

    fn case(&mut self, c: &CaseExpr) -> Option<Expr> {
        let ty = SqlType::from_arrow(&c.data_type(self.schema).ok()?)?;
        let Some(base) = c.expr() else {
            return self.case_branches(c, None, ty);
        };
        // `CASE x WHEN v …` evaluates `x` once: `LET $1 = x IN CASE WHEN $1 = v …`.
        let base = self.node(base)?;
        if matches!(base, Expr::Column(_) | Expr::Literal(_)) {
            return self.case_branches(c, Some(&base), ty);
        }
        self.lets += 1;
        let id = self.lets;
        let var = Expr::Var {
            id,
            ty: base.ty(),
            nullable: base.nullable(),
        };
        let body = self.case_branches(c, Some(&var), ty)?;
        Some(Expr::Let {
            id,
            value: Box::new(base),
            body: Box::new(body),
        })
    }

    /// The searched `CASE` of `c`, each `WHEN` value compared with `base` if there is one.
    fn case_branches(&mut self, c: &CaseExpr, base: Option<&Expr>, ty: SqlType) -> Option<Expr> {
        let mut branches = Vec::with_capacity(c.when_then_expr().len());
        for (k, (when, then)) in c.when_then_expr().iter().enumerate() {
            let when = self.within(k > 0, |t| t.node(when))?;
            let condition = match base {
                Some(b) if b.ty() == when.ty() => Expr::Binary {
                    op: BinaryOp::Eq,
                    left: Box::new(b.clone()),
                    right: Box::new(when),
                    ty: SqlType::Boolean,
                },
                Some(_) => return None,
                None if when.ty() == SqlType::Boolean => when,
                None => return None,
            };
            let then = self.within(true, |t| t.node(then))?;
            if then.ty() != ty && then.ty() != SqlType::Null {
                return None;
            }
            branches.push((condition, then));
        }
        let else_ = match c.else_expr() {
            Some(e) => {
                let e = self.within(true, |t| t.node(e))?;
                if e.ty() != ty && e.ty() != SqlType::Null {
                    return None;
                }
                Some(Box::new(e))
            }
            None => None,
        };
        Some(Expr::Case {
            branches,
            else_,
            ty,
        })
    }
}

/// The operations a kernel for `plan` would fuse: one alone (`x < 10`, `a * b`) is no faster
/// compiled than as arrow's vectorized kernel, which DataFusion already runs, and a kernel
/// pays for its compile and its call; a bare column, literal or cast is not worth one either.
pub(crate) fn operations(plan: &Expr) -> usize {
    let mut n = 0;
    plan.walk(&mut |e| {
        n += usize::from(!matches!(
            e,
            Expr::Column(_)
                | Expr::Literal(_)
                | Expr::Cast { .. }
                | Expr::Var { .. }
                | Expr::Let { .. }
        ));
    });
    n
}

/// Whether a DataFusion `+ - *` fails on overflow (its default wraps). `BinaryExpr` does not
/// say, but its equality covers the mode: compare with the default.
fn checked(b: &BinaryExpr) -> bool {
    let wrapping = BinaryExpr::new(b.left().clone(), *b.op(), b.right().clone());
    *b != wrapping
}

/// Whether qjit's plan type `plan` stands for DataFusion's string type `df`: qjit reads every
/// string layout, and [`QjitExpr`] hands its `Utf8` results over in DataFusion's.
fn same_string_type(plan: SqlType, df: &DataType) -> bool {
    plan == SqlType::Utf8
        && matches!(
            df,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
        )
}

/// A qjit literal of a DataFusion constant, if qjit has its type.
fn literal(v: &ScalarValue) -> Option<Literal> {
    let ty = SqlType::from_arrow(&v.data_type())?;
    if v.is_null() {
        return Some(Literal::null(ty));
    }
    let value = match v {
        ScalarValue::Boolean(Some(b)) => Scalar::Boolean(*b),
        ScalarValue::Int8(Some(x)) => Scalar::Int(*x as i64),
        ScalarValue::Int16(Some(x)) => Scalar::Int(*x as i64),
        ScalarValue::Int32(Some(x)) => Scalar::Int(*x as i64),
        ScalarValue::Int64(Some(x)) => Scalar::Int(*x),
        ScalarValue::UInt8(Some(x)) => Scalar::UInt(*x as u64),
        ScalarValue::UInt16(Some(x)) => Scalar::UInt(*x as u64),
        ScalarValue::UInt32(Some(x)) => Scalar::UInt(*x as u64),
        ScalarValue::UInt64(Some(x)) => Scalar::UInt(*x),
        ScalarValue::Float32(Some(x)) => Scalar::Float(*x as f64),
        ScalarValue::Float64(Some(x)) => Scalar::Float(*x),
        ScalarValue::Decimal128(Some(x), ..) => Scalar::Decimal(*x),
        ScalarValue::Date32(Some(d)) => Scalar::Date(*d),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Scalar::Utf8(s.clone()),
        _ => return None,
    };
    Literal::new(value, ty).ok()
}

/// Whether `CAST(from AS to)` is exact and cannot fail, so that both engines agree.
fn exact_cast(from: SqlType, to: SqlType) -> bool {
    use SqlType::*;
    let int_digits = |t: SqlType| -> Option<u32> {
        Some(match t {
            Int8 | UInt8 => 3,
            Int16 | UInt16 => 5,
            Int32 | UInt32 => 10,
            Int64 => 19,
            UInt64 => 20,
            _ => return None,
        })
    };
    match (from, to) {
        (f, t) if f == t => true,
        (f, t) if f.is_signed_integer() && t.is_signed_integer() => int_digits(f) <= int_digits(t),
        (f, t) if f.is_unsigned_integer() && t.is_integer() => {
            int_digits(f) < int_digits(t) || (f == t)
        }
        (f, Float64) if f.is_integer() && int_digits(f).is_some_and(|d| d <= 10) => true,
        (Float32, Float64) => true,
        (f, Decimal { precision, scale }) if f.is_integer() => {
            int_digits(f).is_some_and(|d| d <= (precision - scale) as u32)
        }
        (
            Decimal {
                precision: p1,
                scale: s1,
            },
            Decimal {
                precision: p2,
                scale: s2,
            },
        ) => s2 >= s1 && p2 - s2 >= p1 - s1,
        _ => false,
    }
}
