//! Comparisons (`= <> < <= > >=`) and `IN` lists.
//!
//! In: operands of one SQL type (strings in any layout). Out: a `BOOLEAN` array, NULL where an
//! operand is NULL.
//!
//! Comparisons use arrow-ord's `cmp` kernels: strings compare byte-wise, floats by IEEE total
//! order (NaN is the largest value and equals itself, as in PostgreSQL; `-0.0 < 0.0`), booleans
//! `false < true`. A literal operand is passed as an [`arrow::array::Scalar`] instead of being
//! repeated. An `IN` list of literals becomes a hash set built once per call.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Datum, PrimitiveArray, Scalar};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::compute::{not, or_kleene};
use arrow::datatypes::{
    ArrowPrimitiveType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use super::constant::literal_like;
use super::eval;
use super::hash::FxBuildHasher;
use super::input::Input;
use super::strings::{unify_strings, StrArray};
use super::{arith::operand_error, as_boolean};
use crate::error::{Error, Result};
use crate::ir::{BinaryOp, Expr, Literal, Scalar as Value, SqlType};

/// `left op right` for a comparison `op`.
pub(crate) fn comparison(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    input: &Input,
) -> Result<ArrayRef> {
    if left.ty() != right.ty() {
        return Err(operand_error(op.symbol(), &[left.ty(), right.ty()]));
    }
    let n = input.num_rows();
    let result = match (left, right) {
        (Expr::Literal(l), Expr::Literal(r)) if l.value.is_null() || r.value.is_null() => {
            null_booleans(n)
        }
        (_, Expr::Literal(lit)) if !matches!(left, Expr::Literal(_)) => {
            compare_with_literal(op, &eval(left, input)?, lit)?
        }
        (Expr::Literal(lit), _) => compare_with_literal(op.swap(), &eval(right, input)?, lit)?,
        _ => {
            let l = eval(left, input)?;
            let r = eval(right, input)?;
            compare_arrays(op, &l, &r)?
        }
    };
    Ok(Arc::new(result))
}

/// Compares two arrays of one SQL type, unifying string layouts first.
pub(crate) fn compare_arrays(op: BinaryOp, l: &ArrayRef, r: &ArrayRef) -> Result<BooleanArray> {
    if is_interval(l) {
        // Intervals order by their length, a month as 30 days (PostgreSQL's).
        return kernel(op, &super::time::spans(l)?, &super::time::spans(r)?);
    }
    if l.data_type() == r.data_type() {
        return kernel(op, &super::canonical_floats(l), &super::canonical_floats(r));
    }
    let unified = unify_strings(&[l.clone(), r.clone()])?;
    match unified.as_slice() {
        [l, r] => kernel(op, l, r),
        _ => Err(Error::internal(
            "string unification changed the operand count",
        )),
    }
}

/// Compares an array with a literal (`array op literal`).
fn compare_with_literal(op: BinaryOp, array: &ArrayRef, lit: &Literal) -> Result<BooleanArray> {
    if lit.value.is_null() {
        return Ok(null_booleans(array.len()));
    }
    let scalar = super::canonical_floats(&literal_like(lit, array.data_type())?);
    if is_interval(array) {
        let spans = super::time::spans(&scalar)?;
        return kernel(op, &super::time::spans(array)?, &Scalar::new(spans));
    }
    kernel(op, &super::canonical_floats(array), &Scalar::new(scalar))
}

fn is_interval(a: &ArrayRef) -> bool {
    matches!(a.data_type(), arrow::datatypes::DataType::Interval(_))
}

fn kernel(op: BinaryOp, l: &dyn Datum, r: &dyn Datum) -> Result<BooleanArray> {
    Ok(match op {
        BinaryOp::Eq => cmp::eq(l, r)?,
        BinaryOp::NotEq => cmp::neq(l, r)?,
        BinaryOp::Lt => cmp::lt(l, r)?,
        BinaryOp::LtEq => cmp::lt_eq(l, r)?,
        BinaryOp::Gt => cmp::gt(l, r)?,
        BinaryOp::GtEq => cmp::gt_eq(l, r)?,
        other => {
            return Err(Error::internal(format!(
                "{} is not a comparison",
                other.symbol()
            )))
        }
    })
}

/// `n` NULL booleans.
pub(crate) fn null_booleans(n: usize) -> BooleanArray {
    BooleanArray::new_null(n)
}

/// `arg [NOT] IN (list)`: NULL if `arg` is NULL; TRUE if an item equals it; otherwise NULL if an
/// item is NULL, else FALSE. `NOT IN` is the Kleene negation of that.
pub(crate) fn in_list(arg: &Expr, list: &[Expr], negated: bool, input: &Input) -> Result<ArrayRef> {
    let t = arg.ty();
    if let Some(e) = list.iter().find(|e| e.ty() != t) {
        return Err(operand_error("IN", &[t, e.ty()]));
    }
    let values = eval(arg, input)?;
    let literals: Option<Vec<&Literal>> = list
        .iter()
        .map(|e| match e {
            Expr::Literal(l) => Some(l),
            _ => None,
        })
        .collect();
    let found = match literals {
        Some(items) if t != SqlType::Interval => in_literals(&values, t, &items)?,
        _ => {
            // Kleene OR of the equalities has exactly the IN semantics.
            let mut acc: Option<BooleanArray> = None;
            for item in list {
                let eq = match item {
                    Expr::Literal(lit) => compare_with_literal(BinaryOp::Eq, &values, lit)?,
                    _ => compare_arrays(BinaryOp::Eq, &values, &eval(item, input)?)?,
                };
                acc = Some(match acc {
                    None => eq,
                    Some(a) => or_kleene(&a, &eq)?,
                });
            }
            acc.ok_or_else(|| Error::internal("IN with an empty list"))?
        }
    };
    Ok(Arc::new(if negated { not(&found)? } else { found }))
}

fn canon64(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else {
        x + 0.0
    }
}

fn canon32(x: f32) -> f32 {
    if x.is_nan() {
        f32::NAN
    } else {
        x + 0.0
    }
}

/// `IN` against a list of literals, through a hash set of the non-NULL items.
fn in_literals(values: &ArrayRef, t: SqlType, items: &[&Literal]) -> Result<BooleanArray> {
    let has_null = items.iter().any(|l| l.value.is_null());
    let items: Vec<&Value> = items
        .iter()
        .map(|l| &l.value)
        .filter(|v| !v.is_null())
        .collect();
    let bad = |v: &Value| Error::internal(format!("IN list item {v} is not a {t}"));
    // Timestamps of any unit are looked up as their `i64` values.
    let as_i64;
    let values = if t.is_timestamp() {
        as_i64 = super::time::retype(values, &arrow::datatypes::DataType::Int64)?;
        &as_i64
    } else {
        values
    };
    macro_rules! primitive {
        ($T:ty, $key:expr, $item:expr) => {{
            let set = items
                .iter()
                .map(|v| $item(*v).ok_or_else(|| bad(v)))
                .collect::<Result<HashSet<_, FxBuildHasher>>>()?;
            let array = values
                .as_primitive_opt::<$T>()
                .ok_or_else(|| Error::internal(format!("IN on {} values", values.data_type())))?;
            probe_primitive(array, &set, $key, has_null)
        }};
    }
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i as i128),
        Value::UInt(u) => Some(*u as i128),
        Value::Decimal(d) => Some(*d),
        Value::Date(d) => Some(*d as i128),
        _ => None,
    };
    let float = |v: &Value| match v {
        Value::Float(f) => Some(*f),
        _ => None,
    };
    Ok(match t {
        SqlType::Int8 => primitive!(Int8Type, |x: i8| x as i128, int),
        SqlType::Int16 => primitive!(Int16Type, |x: i16| x as i128, int),
        SqlType::Int32 => primitive!(Int32Type, |x: i32| x as i128, int),
        SqlType::Int64 => primitive!(Int64Type, |x: i64| x as i128, int),
        SqlType::UInt8 => primitive!(UInt8Type, |x: u8| x as i128, int),
        SqlType::UInt16 => primitive!(UInt16Type, |x: u16| x as i128, int),
        SqlType::UInt32 => primitive!(UInt32Type, |x: u32| x as i128, int),
        SqlType::UInt64 => primitive!(UInt64Type, |x: u64| x as i128, int),
        SqlType::Decimal { .. } => primitive!(Decimal128Type, |x: i128| x, int),
        SqlType::Date => primitive!(Date32Type, |x: i32| x as i128, int),
        SqlType::Timestamp { .. } => {
            let int = |v: &Value| match v {
                Value::Timestamp(t) => Some(*t as i128),
                _ => None,
            };
            primitive!(Int64Type, |x: i64| x as i128, int)
        }
        SqlType::Interval => return Err(Error::internal("IN over intervals compares their spans")),
        SqlType::Other(_) => return Err(Error::internal(format!("IN over {t}"))),
        // Bit patterns of canonical values: -0 equals 0 and NaN equals NaN, as in comparisons.
        SqlType::Float32 => primitive!(Float32Type, |x: f32| canon32(x).to_bits() as u64, |v| {
            float(v).map(|f| canon32(f as f32).to_bits() as u64)
        }),
        SqlType::Float64 => primitive!(Float64Type, |x: f64| canon64(x).to_bits(), |v| float(v)
            .map(|f| canon64(f).to_bits())),
        SqlType::Boolean => {
            let set = items
                .iter()
                .map(|v| match v {
                    Value::Boolean(b) => Ok(*b),
                    other => Err(bad(other)),
                })
                .collect::<Result<Vec<bool>>>()?;
            let array = as_boolean(values)?;
            let (has_true, has_false) = (set.contains(&true), set.contains(&false));
            membership(array.len(), array.nulls(), has_null, |i| {
                if array.value(i) {
                    has_true
                } else {
                    has_false
                }
            })
        }
        SqlType::Utf8 => {
            let set = items
                .iter()
                .map(|v| match v {
                    Value::Utf8(s) => Ok(s.as_bytes()),
                    other => Err(bad(other)),
                })
                .collect::<Result<HashSet<&[u8], FxBuildHasher>>>()?;
            let strings = StrArray::new(values.as_ref())?;
            membership(strings.len(), strings.nulls(), has_null, |i| {
                set.contains(strings.value(i).as_bytes())
            })
        }
        SqlType::Null => null_booleans(values.len()),
    })
}

fn probe_primitive<T: ArrowPrimitiveType, K: Hash + Eq>(
    array: &PrimitiveArray<T>,
    set: &HashSet<K, FxBuildHasher>,
    key: impl Fn(T::Native) -> K,
    has_null: bool,
) -> BooleanArray {
    let values = array.values();
    membership(array.len(), array.nulls(), has_null, |i| {
        set.contains(&key(values[i]))
    })
}

/// Builds the IN result from a membership test evaluated on the valid rows.
fn membership(
    len: usize,
    nulls: Option<&arrow::buffer::NullBuffer>,
    has_null_item: bool,
    found: impl Fn(usize) -> bool,
) -> BooleanArray {
    let valid = |i: usize| nulls.is_none_or(|n| n.is_valid(i));
    let hit = BooleanBuffer::collect_bool(len, |i| valid(i) && found(i));
    // Valid where the argument is valid, and, with a NULL item, only where an item matched.
    let validity = match (nulls, has_null_item) {
        (_, true) => Some(hit.clone()),
        (Some(n), false) => Some(n.inner().clone()),
        (None, false) => None,
    };
    BooleanArray::new(hit, validity.map(arrow::buffer::NullBuffer::new))
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        DictionaryArray, Float64Array, Int32Array, LargeStringArray, StringArray, StringViewArray,
    };
    use arrow::datatypes::Int8Type as DictKey;

    use super::super::testutil::*;
    use super::*;

    #[test]
    fn comparisons_with_literals_on_either_side() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![Some(1), Some(5), None])));
        let lt = bin(BinaryOp::Lt, x.clone(), lit_i32(3));
        assert_eq!(
            bools(&eval_on(&lt, &batch).unwrap()),
            vec![Some(true), Some(false), None]
        );
        let gt = bin(BinaryOp::Gt, lit_i32(3), x.clone());
        assert_eq!(
            bools(&eval_on(&gt, &batch).unwrap()),
            vec![Some(true), Some(false), None]
        );
        let null = bin(BinaryOp::Eq, x.clone(), Expr::null(SqlType::Int32));
        assert_eq!(
            bools(&eval_on(&null, &batch).unwrap()),
            vec![None, None, None]
        );
        let both = bin(BinaryOp::NotEq, x.clone(), x);
        assert_eq!(
            bools(&eval_on(&both, &batch).unwrap()),
            vec![Some(false), Some(false), None]
        );
    }

    #[test]
    fn strings_compare_bytewise_in_every_layout() {
        let values = vec![
            Some("apple"),
            Some("Banana"),
            None,
            Some("a very long string value"),
        ];
        let layouts: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
            Arc::new(values.iter().copied().collect::<DictionaryArray<DictKey>>()),
        ];
        for a in &layouts {
            for b in &layouts {
                let (x, y, batch) = two_columns(a.clone(), b.clone());
                let e = bin(BinaryOp::Eq, x.clone(), y);
                assert_eq!(
                    bools(&eval_on(&e, &batch).unwrap()),
                    vec![Some(true), Some(true), None, Some(true)],
                    "{} vs {}",
                    a.data_type(),
                    b.data_type()
                );
                let lt = bin(BinaryOp::Lt, x, lit_str("apple"));
                // 'B' < 'a' byte-wise.
                assert_eq!(
                    bools(&eval_on(&lt, &batch).unwrap()),
                    vec![Some(false), Some(true), None, Some(true)]
                );
            }
        }
    }

    #[test]
    fn float_comparison_follows_postgresql() {
        let (x, batch) = one_column(Arc::new(Float64Array::from(vec![f64::NAN, 1.0, -0.0])));
        // -0 equals 0, and a NaN of either sign is one value, greater than everything.
        let e = bin(BinaryOp::Eq, x.clone(), lit_f64(0.0));
        assert_eq!(
            bools(&eval_on(&e, &batch).unwrap()),
            vec![Some(false), Some(false), Some(true)]
        );
        let e = bin(BinaryOp::Eq, x.clone(), lit_f64(-f64::NAN));
        assert_eq!(
            bools(&eval_on(&e, &batch).unwrap()),
            vec![Some(true), Some(false), Some(false)]
        );
        let e = bin(BinaryOp::Gt, x.clone(), lit_f64(f64::INFINITY));
        assert_eq!(
            bools(&eval_on(&e, &batch).unwrap()),
            vec![Some(true), Some(false), Some(false)]
        );
        let e = bin(BinaryOp::Eq, x.clone(), x);
        assert_eq!(
            bools(&eval_on(&e, &batch).unwrap()),
            vec![Some(true), Some(true), Some(true)]
        );
    }

    #[test]
    fn in_list_null_semantics() {
        let (x, batch) = one_column(Arc::new(Int32Array::from(vec![Some(1), Some(2), None])));
        let items = vec![lit_i32(1), lit_i32(3)];
        let with_null = vec![lit_i32(1), Expr::null(SqlType::Int32)];
        let column_items = vec![x.clone(), Expr::null(SqlType::Int32)];
        let run = |list: &Vec<Expr>, negated| {
            let e = Expr::in_list(x.clone(), list.clone(), negated).unwrap();
            bools(&eval_on(&e, &batch).unwrap())
        };
        assert_eq!(run(&items, false), vec![Some(true), Some(false), None]);
        assert_eq!(run(&items, true), vec![Some(false), Some(true), None]);
        assert_eq!(run(&with_null, false), vec![Some(true), None, None]);
        assert_eq!(run(&with_null, true), vec![Some(false), None, None]);
        assert_eq!(
            run(&column_items, false),
            vec![Some(true), Some(true), None]
        );
        let mixed = vec![lit_i32(2), bin(BinaryOp::Add, x.clone(), lit_i32(0))];
        assert_eq!(run(&mixed, false), vec![Some(true), Some(true), None]);
    }

    #[test]
    fn in_list_of_strings_and_many_items() {
        let (s, batch) = one_column(Arc::new(StringViewArray::from(vec![
            Some("MAIL"),
            Some("SHIP"),
            None,
        ])));
        let e = Expr::in_list(s, vec![lit_str("MAIL"), lit_str("AIR")], false).unwrap();
        assert_eq!(
            bools(&eval_on(&e, &batch).unwrap()),
            vec![Some(true), Some(false), None]
        );
        let (x, batch) = one_column(Arc::new(Int32Array::from((0..20_000).collect::<Vec<_>>())));
        let list: Vec<Expr> = (0..10_000).map(|i| lit_i32(i * 2)).collect();
        let e = Expr::in_list(x, list, false).unwrap();
        let r = bools(&eval_on(&e, &batch).unwrap());
        assert_eq!(r.iter().filter(|v| **v == Some(true)).count(), 10_000);
        assert_eq!(r[4], Some(true));
        assert_eq!(r[5], Some(false));
    }
}
