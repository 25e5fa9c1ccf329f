//! Searched `CASE WHEN c1 THEN v1 … [ELSE e] END`.
//!
//! In: the branches, the optional `ELSE`, and the result type. Out: an array of that type: for
//! each row the value of the first branch whose condition is TRUE (NULL and FALSE do not take a
//! branch), else the `ELSE` value, else NULL.
//!
//! Evaluation is lazy whenever some part can fail ([`can_fail`]): a condition is evaluated only
//! on the rows no earlier branch took, a value only on the rows that take its branch, the `ELSE`
//! only on the rows left over. Each part runs on its rows (taken with `take`) and the pieces are
//! put back in row order with `interleave`. When nothing can fail every part is evaluated on all
//! rows and the results are combined with `zip`, which is cheaper.

use arrow::array::{new_null_array, Array, ArrayRef, UInt32Array};
use arrow::compute::interleave;
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::DataType;

use super::fallible::can_fail;
use super::input::{compose, not_true_positions, row_index, true_positions, Input};
use super::strings::unify_strings;
use super::{as_boolean, eval};
use crate::error::{Error, Result};
use crate::ir::{Expr, SqlType};

/// Evaluates a searched `CASE` of result type `ty`.
pub(crate) fn case(
    branches: &[(Expr, Expr)],
    else_: Option<&Expr>,
    ty: SqlType,
    input: &Input,
) -> Result<ArrayRef> {
    let fallible =
        branches.iter().any(|(c, v)| can_fail(c) || can_fail(v)) || else_.is_some_and(can_fail);
    if fallible {
        lazy(branches, else_, ty, input)
    } else {
        eager(branches, else_, ty, input)
    }
}

fn eager(
    branches: &[(Expr, Expr)],
    else_: Option<&Expr>,
    ty: SqlType,
    input: &Input,
) -> Result<ArrayRef> {
    let n = input.num_rows();
    if ty == SqlType::Null {
        return Ok(new_null_array(&DataType::Null, n));
    }
    let mut result = match else_ {
        Some(e) => eval(e, input)?,
        None => new_null_array(&ty.to_arrow(), n),
    };
    for (condition, value) in branches.iter().rev() {
        let mask = eval(condition, input)?;
        let value = eval(value, input)?;
        let unified = unify_strings(&[value, result])?;
        let [value, otherwise] = unified.as_slice() else {
            return Err(Error::internal(
                "string unification changed the operand count",
            ));
        };
        result = zip(as_boolean(&mask)?, value, otherwise)?;
    }
    Ok(result)
}

fn lazy(
    branches: &[(Expr, Expr)],
    else_: Option<&Expr>,
    ty: SqlType,
    input: &Input,
) -> Result<ArrayRef> {
    let n = input.num_rows();
    row_index(n)?;
    // Positions (in `input`) of the rows that no branch has taken yet.
    let mut remaining = UInt32Array::from_iter_values(0..n as u32);
    // Evaluated values and the positions they belong to.
    let mut pieces: Vec<(ArrayRef, UInt32Array)> = vec![];
    for (condition, value) in branches {
        if remaining.is_empty() {
            break;
        }
        let mask = eval(condition, &input.take(&remaining, &[condition])?)?;
        let mask = as_boolean(&mask)?;
        let taken = compose(&remaining, &true_positions(mask)?)?;
        if !taken.is_empty() {
            let values = eval(value, &input.take(&taken, &[value])?)?;
            pieces.push((values, taken));
        }
        remaining = compose(&remaining, &not_true_positions(mask)?)?;
    }
    if let Some(e) = else_ {
        if !remaining.is_empty() {
            let values = eval(e, &input.take(&remaining, &[e])?)?;
            pieces.push((values, remaining));
        }
    }
    assemble(pieces, ty, n)
}

/// Puts evaluated pieces back in row order; rows no piece covers are NULL.
fn assemble(pieces: Vec<(ArrayRef, UInt32Array)>, ty: SqlType, n: usize) -> Result<ArrayRef> {
    if ty == SqlType::Null {
        return Ok(new_null_array(&DataType::Null, n));
    }
    if let [(values, positions)] = pieces.as_slice() {
        if positions.len() == n {
            return Ok(values.clone());
        }
    }
    let mut arrays: Vec<ArrayRef> = pieces.iter().map(|(a, _)| a.clone()).collect();
    arrays.push(new_null_array(&ty.to_arrow(), 1));
    let arrays = unify_strings(&arrays)?;
    let null_piece = arrays.len() - 1;
    let mut indices = vec![(null_piece, 0usize); n];
    for (p, (values, positions)) in pieces.iter().enumerate() {
        if values.len() != positions.len() {
            return Err(Error::internal("CASE piece of a wrong length"));
        }
        for (k, &row) in positions.values().iter().enumerate() {
            let slot = indices
                .get_mut(row as usize)
                .ok_or_else(|| Error::internal("CASE row out of range"))?;
            *slot = (p, k);
        }
    }
    let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
    Ok(interleave(&refs, &indices)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, StringArray, StringViewArray};

    use super::super::testutil::*;
    use super::*;
    use crate::ir::BinaryOp;

    #[test]
    fn branches_are_lazy() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![
            Some(0),
            Some(5),
            None,
            Some(-2),
        ])));
        // CASE WHEN x <> 0 THEN 10 / x END
        let e = Expr::case(
            vec![(
                bin(BinaryOp::NotEq, x.clone(), lit_i32(0)),
                bin(BinaryOp::Div, lit_i32(10), x.clone()),
            )],
            None,
            SqlType::Int32,
        )
        .unwrap();
        assert_int32(
            &eval_on(&e, &batch).unwrap(),
            &[None, Some(2), None, Some(-5)],
        );
        // CASE WHEN x = 0 THEN 0 WHEN 10 / x > 1 THEN 1 ELSE 100 / x END: the second condition
        // never sees x = 0, the ELSE sees only x = -2 (and NULL).
        let e = Expr::case(
            vec![
                (bin(BinaryOp::Eq, x.clone(), lit_i32(0)), lit_i32(0)),
                (
                    bin(
                        BinaryOp::Gt,
                        bin(BinaryOp::Div, lit_i32(10), x.clone()),
                        lit_i32(1),
                    ),
                    lit_i32(1),
                ),
            ],
            Some(bin(BinaryOp::Div, lit_i32(100), x.clone())),
            SqlType::Int32,
        )
        .unwrap();
        assert_int32(
            &eval_on(&e, &batch).unwrap(),
            &[Some(0), Some(1), None, Some(-50)],
        );
        // A failing branch that some row takes still fails.
        let e = Expr::case(
            vec![(Expr::boolean(true), bin(BinaryOp::Div, lit_i32(10), x))],
            None,
            SqlType::Int32,
        )
        .unwrap();
        assert!(matches!(eval_on(&e, &batch), Err(Error::DivisionByZero)));
    }

    #[test]
    fn eager_case_with_strings_of_mixed_layouts() {
        let (s, batch) = one_column(Arc::new(StringViewArray::from(vec![
            Some("a"),
            Some("b"),
            None,
        ])));
        let e = Expr::case(
            vec![(bin(BinaryOp::Eq, s.clone(), lit_str("a")), lit_str("first"))],
            Some(s.clone()),
            SqlType::Utf8,
        )
        .unwrap();
        assert_eq!(
            strings(&eval_on(&e, &batch).unwrap()),
            vec![Some("first".into()), Some("b".into()), None]
        );
        let no_else = Expr::case(
            vec![(bin(BinaryOp::Eq, s, lit_str("b")), lit_str("second"))],
            None,
            SqlType::Utf8,
        )
        .unwrap();
        assert_eq!(
            strings(&eval_on(&no_else, &batch).unwrap()),
            vec![None, Some("second".into()), None]
        );
    }

    #[test]
    fn lazy_case_with_strings() {
        let (x, y, batch) = two_columns(
            Arc::new(Int32Array::from(vec![Some(0), Some(5), Some(7)])),
            Arc::new(StringArray::from(vec![Some("12"), Some("x"), None])),
        );
        // CASE WHEN x = 0 THEN CAST(y AS INTEGER) ... ELSE 'other' — the cast of 'x' is not
        // evaluated.
        let e = Expr::case(
            vec![(
                bin(BinaryOp::Eq, x, lit_i32(0)),
                Expr::cast(
                    Expr::cast(y.clone(), SqlType::Int32).unwrap(),
                    SqlType::Utf8,
                )
                .unwrap(),
            )],
            Some(y),
            SqlType::Utf8,
        )
        .unwrap();
        assert_eq!(
            strings(&eval_on(&e, &batch).unwrap()),
            vec![Some("12".into()), Some("x".into()), None]
        );
    }

    #[test]
    fn sliced_input_and_null_conditions() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![
            Some(9),
            Some(0),
            None,
            Some(4),
        ])));
        let batch = batch.slice(1, 3);
        // CASE WHEN 8 / x > 1 THEN 'big' WHEN x IS NULL THEN 'null' ELSE 'small' END, lazily
        // because of the division; the NULL condition does not take the first branch.
        let e = Expr::case(
            vec![
                (
                    bin(
                        BinaryOp::Gt,
                        bin(BinaryOp::Div, lit_i32(8), x.clone()),
                        lit_i32(1),
                    ),
                    lit_str("big"),
                ),
                (Expr::is_null(x.clone(), false), lit_str("null")),
            ],
            Some(lit_str("small")),
            SqlType::Utf8,
        )
        .unwrap();
        // x = 0 makes the first condition fail: it is needed, so the error is raised.
        assert!(matches!(eval_on(&e, &batch), Err(Error::DivisionByZero)));
        assert_eq!(
            strings(&eval_on(&e, &batch.slice(1, 2)).unwrap()),
            vec![Some("null".into()), Some("big".into())]
        );
    }

    #[test]
    fn lazy_and_eager_paths_agree() {
        use arrow::array::{AsArray, Float64Array};
        let values: Vec<Option<f64>> = (0..300)
            .map(|i| (i % 7 != 0).then_some(((i * 37) % 11) as f64 - 5.0))
            .collect();
        let (x, batch) = one_column(Arc::new(Float64Array::from(values)));
        let two = lit_f64(2.0);
        let build = |lazy: bool| {
            let doubled = bin(BinaryOp::Mul, x.clone(), two.clone());
            let value = if lazy {
                bin(BinaryOp::Div, doubled, lit_f64(1.0))
            } else {
                doubled
            };
            Expr::case(
                vec![
                    (bin(BinaryOp::Gt, x.clone(), lit_f64(0.0)), value),
                    (Expr::is_null(x.clone(), false), lit_f64(-1.0)),
                    (
                        bin(BinaryOp::Lt, x.clone(), lit_f64(-3.0)),
                        Expr::null(SqlType::Float64),
                    ),
                ],
                Some(x.clone()),
                SqlType::Float64,
            )
            .unwrap()
        };
        let lazy = eval_on(&build(true), &batch).unwrap();
        let eager = eval_on(&build(false), &batch).unwrap();
        assert_eq!(lazy.as_ref(), eager.as_ref());
        let got: Vec<Option<f64>> = lazy
            .as_primitive::<arrow::datatypes::Float64Type>()
            .iter()
            .collect();
        let source = batch
            .column(0)
            .as_primitive::<arrow::datatypes::Float64Type>();
        for (i, v) in got.iter().enumerate() {
            let expected = match source.is_valid(i).then(|| source.value(i)) {
                Some(x) if x > 0.0 => Some(x * 2.0),
                None => Some(-1.0),
                Some(x) if x < -3.0 => None,
                Some(x) => Some(x),
            };
            assert_eq!(*v, expected, "row {i}");
        }
    }
}
