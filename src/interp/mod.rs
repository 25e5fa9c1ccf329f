//! The interpreter: evaluates the typed plan's expressions with arrow-rs compute kernels.
//!
//! ```text
//! ir::Expr + RecordBatch ─evaluate───────────▶ ArrayRef (one value per row)
//! ir::Expr + RecordBatch ─evaluate_predicate─▶ BooleanArray (NULL → false, no nulls)
//! keys + AggregateCalls  ─Aggregator::update*─▶ Aggregator::finish ─▶ aggregate batch
//! ```
//!
//! It is the reference answer that the JIT is tested against, and the fallback for whatever the
//! JIT does not compile. Evaluation is vectorized: every node turns its children's arrays into one
//! array for the whole batch, one operator at a time.
//!
//! The semantic contract is the one [`crate::ir`] documents (PostgreSQL's). Three rules shape the
//! code:
//!
//! * **NULL in, NULL out.** Operations that cannot fail run on every slot and combine the null
//!   masks separately; operations that can fail report an error only for a slot where every
//!   operand is valid (module `kernel`).
//! * **Errors only where a value is needed.** The right side of `AND`/`OR` and the branches of
//!   `CASE` are evaluated only on the rows that need them when they can fail (module `fallible`
//!   decides, conservatively); rows are picked with `take` and the results scattered back.
//! * **No coercion.** Operand types are the ones the `ir` constructors admit; anything else is an
//!   [`Error::Internal`].
//!
//! A `VARCHAR` result may come back in any of Arrow's string layouts (`Utf8`, `LargeUtf8`,
//! `Utf8View`), never as a dictionary: dictionary-encoded input columns are unpacked when read.
//!
//! Modules, one per concern: `arith` (integers, floats) and `decimal`, `compare` (comparisons,
//! `IN`), `logic` (`AND OR NOT IS NULL`), `like`, `case`, `cast` (with the value conversions of
//! `crate::ir::convert`), `strings`, `funcs`; `aggregate` ([`Aggregator`]); `input` (the rows
//! being evaluated, take/scatter), `constant` (literals), `kernel` (fallible element-wise
//! loops), `fallible`, `hash`.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Array, Int32Array};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use arrow::record_batch::RecordBatch;
//! use qjit::internals::interp::evaluate;
//! use qjit::ir::{BinaryOp, ColumnRef, Expr, Scalar, SqlType};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
//! let batch = RecordBatch::try_new(
//!     schema,
//!     vec![Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]))],
//! )?;
//! let x = Expr::column(ColumnRef {
//!     index: 0,
//!     name: "x".into(),
//!     ty: SqlType::Int32,
//!     data_type: DataType::Int32,
//!     nullable: true,
//! });
//! let two = Expr::literal(Scalar::Int(2), SqlType::Int32)?;
//! let doubled = evaluate(&Expr::binary(BinaryOp::Mul, x, two)?, &batch)?;
//! assert_eq!(
//!     doubled.as_ref(),
//!     &Int32Array::from(vec![Some(2), None, Some(6)]) as &dyn Array
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aggregate;
mod arith;
mod case;
mod cast;
mod compare;
mod constant;
mod decimal;
pub(crate) mod fallible;
mod funcs;
pub(crate) mod hash;
mod input;
mod kernel;
mod like;
mod logic;
mod strings;
pub(crate) mod time;

#[cfg(test)]
mod testutil;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::prep_null_mask_filter;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::ir::{BinaryOp, Expr, SqlType, UnaryOp};

pub use aggregate::{finish_raw, Aggregator, Charge, RawState};
pub(crate) use constant::literal_like;
pub(crate) use input::widen_decimal64;
use input::Input;

/// Evaluates `expr` over every row of `batch` (columns are indexed by
/// [`ColumnRef::index`](crate::ir::ColumnRef::index)).
///
/// Returns an array of `batch.num_rows()` values whose type is `expr.ty().to_arrow()`, except that
/// a `VARCHAR` result may come back in any string layout (`Utf8`, `LargeUtf8` or `Utf8View`;
/// never a dictionary).
///
/// Errors are the data's ([`Error::DivisionByZero`], [`Error::Overflow`],
/// [`Error::InvalidCast`], [`Error::InvalidArgument`]) and are raised only for rows whose value
/// is needed; an operand type the `ir` constructors exclude is an [`Error::Internal`].
pub fn evaluate(expr: &Expr, batch: &RecordBatch) -> Result<ArrayRef> {
    let input = Input::from_batch(batch, &[expr])?;
    let result = eval(expr, &input)?;
    if result.len() != batch.num_rows() {
        return Err(Error::internal(format!(
            "the interpreter produced {} values for {} rows evaluating {expr}",
            result.len(),
            batch.num_rows()
        )));
    }
    Ok(result)
}

/// Evaluates a `BOOLEAN` predicate and returns a selection mask in which NULL counts as false
/// (the result has no nulls), ready for `arrow::compute::filter_record_batch`.
///
/// A predicate of type `NULL` (a bare `NULL`) selects nothing.
pub fn evaluate_predicate(expr: &Expr, batch: &RecordBatch) -> Result<BooleanArray> {
    match expr.ty() {
        SqlType::Boolean => {}
        SqlType::Null => return Ok(BooleanArray::from(vec![false; batch.num_rows()])),
        other => {
            return Err(Error::internal(format!(
                "a predicate of type {other} reached the interpreter: {expr}"
            )))
        }
    }
    let result = evaluate(expr, batch)?;
    let mask = as_boolean(&result)?;
    Ok(if mask.null_count() > 0 {
        prep_null_mask_filter(mask)
    } else {
        mask.clone()
    })
}

/// Evaluates `expr` over the rows of `input`; the recursive core of [`evaluate`].
pub(crate) fn eval(expr: &Expr, input: &Input) -> Result<ArrayRef> {
    crate::stack::guard(|| eval_node(expr, input))
}

fn eval_node(expr: &Expr, input: &Input) -> Result<ArrayRef> {
    if let Some(values) = input.recall(expr) {
        return Ok(values);
    }
    let values = eval_uncanonical(expr, input)?;
    Ok(if computes_floats(expr) {
        computed_nans(&values)
    } else {
        values
    })
}

/// Whether `expr` computes float values (rather than passing them on: a column, a constant,
/// `CASE`, `COALESCE`): its NaNs are made the one canonical NaN ([`computed_nans`]).
pub(crate) fn computes_floats(expr: &Expr) -> bool {
    expr.ty().is_float()
        && matches!(
            expr,
            Expr::Unary {
                op: UnaryOp::Neg,
                ..
            } | Expr::Binary { .. }
                | Expr::Cast { .. }
                | Expr::Func { .. }
        )
}

/// The positive quiet NaN with no payload, the one NaN a float computation gives.
pub const CANONICAL_NAN_64: u64 = 0x7ff8_0000_0000_0000;
/// [`CANONICAL_NAN_64`] for `REAL`.
pub const CANONICAL_NAN_32: u32 = 0x7fc0_0000;

/// The float values of a computation with every NaN the canonical one: SQL has one NaN
/// (PostgreSQL's), and the sign and payload of a NaN an operation returns are not defined
/// (IEEE 754 leaves them open, LLVM's optimizer rewrites `-(x * 2)` as `x * -2`, the hardware
/// returns one operand's NaN, in an order the compiler may swap), so without this the
/// interpreter and a kernel could give NaNs with different bits. Other values and types are
/// returned unchanged (`-0.0` stays).
pub fn computed_nans(array: &ArrayRef) -> ArrayRef {
    use arrow::datatypes::{Float32Type, Float64Type};
    match array.data_type() {
        arrow::datatypes::DataType::Float64 => {
            let a = array.as_primitive::<Float64Type>();
            if !a.values().iter().any(|x| x.is_nan()) {
                return array.clone();
            }
            let nan = f64::from_bits(CANONICAL_NAN_64);
            std::sync::Arc::new(a.unary::<_, Float64Type>(|x| if x.is_nan() { nan } else { x }))
        }
        arrow::datatypes::DataType::Float32 => {
            let a = array.as_primitive::<Float32Type>();
            if !a.values().iter().any(|x| x.is_nan()) {
                return array.clone();
            }
            let nan = f32::from_bits(CANONICAL_NAN_32);
            std::sync::Arc::new(a.unary::<_, Float32Type>(|x| if x.is_nan() { nan } else { x }))
        }
        _ => array.clone(),
    }
}

/// [`eval_node`] before NaNs are made canonical.
fn eval_uncanonical(expr: &Expr, input: &Input) -> Result<ArrayRef> {
    match expr {
        Expr::Column(c) => input.column(c),
        Expr::Literal(lit) => constant::literal_array(lit, input.num_rows()),
        Expr::Unary { op, arg } => match op {
            UnaryOp::Neg => arith::negate(arg, input),
            UnaryOp::Not => logic::not(arg, input),
        },
        Expr::Binary {
            op,
            left,
            right,
            ty,
        } => match op {
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::WrappingAdd
            | BinaryOp::WrappingSub
            | BinaryOp::WrappingMul
            | BinaryOp::Div
            | BinaryOp::Mod => arith::binary(*op, left, right, *ty, input),
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => compare::comparison(*op, left, right, input),
            BinaryOp::And | BinaryOp::Or => logic::and_or(*op, left, right, input),
            BinaryOp::Concat => strings::concat(left, right, input),
        },
        Expr::IsNull { arg, negated } => logic::is_null(arg, *negated, input),
        Expr::InList { arg, list, negated } => compare::in_list(arg, list, *negated, input),
        Expr::Like {
            arg,
            pattern,
            escape,
            case_insensitive,
            negated,
        } => like::like(arg, pattern, *escape, *case_insensitive, *negated, input),
        Expr::Case {
            branches,
            else_,
            ty,
        } => case::case(branches, else_.as_deref(), *ty, input),
        Expr::Cast { arg, ty } => cast::cast(arg, *ty, input),
        Expr::Func { func, args, ty } => funcs::func(*func, args, *ty, input),
        Expr::Let { id, value, body } => {
            let values = eval(value, input)?;
            eval(body, &input.with_var(*id, values))
        }
        Expr::Var { id, .. } => input.var(*id),
    }
}

/// What `ORDER BY` compares for a column: its floats canonical ([`canonical_floats`]), and
/// intervals as their length (a month is 30 days: PostgreSQL's order), not their parts.
pub fn order_key(array: &ArrayRef) -> ArrayRef {
    if matches!(array.data_type(), arrow::datatypes::DataType::Interval(_)) {
        if let Ok(spans) = time::spans(array) {
            return spans;
        }
    }
    canonical_floats(array)
}

/// Float values as SQL compares them: `-0.0` equals `0.0`, and every NaN is one NaN, equal to
/// itself and greater than every number (PostgreSQL's rules). Arrow's comparison, sort and
/// row kernels use IEEE total order, which separates `-0.0` from `0.0` and NaNs by sign and
/// payload, so float operands pass through here first. Other types are returned unchanged.
pub fn canonical_floats(array: &ArrayRef) -> ArrayRef {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float32Type, Float64Type};
    match array.data_type() {
        arrow::datatypes::DataType::Float64 => std::sync::Arc::new(
            array
                .as_primitive::<Float64Type>()
                .unary::<_, Float64Type>(|x| if x.is_nan() { f64::NAN } else { x + 0.0 }),
        ),
        arrow::datatypes::DataType::Float32 => std::sync::Arc::new(
            array
                .as_primitive::<Float32Type>()
                .unary::<_, Float32Type>(|x| if x.is_nan() { f32::NAN } else { x + 0.0 }),
        ),
        _ => array.clone(),
    }
}

/// Downcasts an evaluated array to a [`BooleanArray`].
pub(crate) fn as_boolean(array: &ArrayRef) -> Result<&BooleanArray> {
    array.as_boolean_opt().ok_or_else(|| {
        Error::internal(format!(
            "expected BOOLEAN values, got {}",
            array.data_type()
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, BooleanArray, Int32Array};

    use super::testutil::*;
    use super::*;

    #[test]
    fn predicates_treat_null_as_false() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![Some(1), None, Some(5)])));
        let p = Expr::binary(BinaryOp::Lt, x, lit_i32(3)).unwrap();
        let mask = evaluate_predicate(&p, &batch).unwrap();
        assert_eq!(mask, BooleanArray::from(vec![true, false, false]));
        assert_eq!(mask.null_count(), 0);
        let none = evaluate_predicate(&Expr::null(SqlType::Null), &batch).unwrap();
        assert_eq!(none, BooleanArray::from(vec![false, false, false]));
        let bad = evaluate_predicate(&lit_i32(1), &batch).unwrap_err();
        assert!(matches!(bad, Error::Internal(_)));
    }

    #[test]
    fn mismatched_columns_are_internal_errors() {
        let (_, batch) = one_column(Arc::new(Int32Array::from(vec![1])));
        let wrong_type = col(0, SqlType::Int64);
        assert!(matches!(
            evaluate(&wrong_type, &batch),
            Err(Error::Internal(_))
        ));
        let missing = col(3, SqlType::Int32);
        assert!(matches!(
            evaluate(&missing, &batch),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn literals_fill_the_batch() {
        let (_, batch) = one_column(Arc::new(Int32Array::from(vec![1, 2])));
        let s = evaluate(&lit_str("x"), &batch).unwrap();
        assert_eq!(strings(&s), vec![Some("x".into()), Some("x".into())]);
        let n = evaluate(&Expr::null(SqlType::Null), &batch).unwrap();
        assert_eq!(n.data_type(), &arrow::datatypes::DataType::Null);
        assert_eq!(n.len(), 2);
        let d = evaluate(&Expr::null(SqlType::decimal(10, 2)), &batch).unwrap();
        assert_eq!(
            d.data_type(),
            &arrow::datatypes::DataType::Decimal128(10, 2)
        );
        assert_eq!(d.null_count(), 2);
    }
}
