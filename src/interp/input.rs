//! The rows an expression is evaluated over: a batch's columns, or a subset of its rows.
//!
//! In: a [`RecordBatch`] (or an [`Input`] and a list of row indices). Out: an [`Input`], the
//! columns that the expression reads, dictionaries unpacked. Lazy evaluation (`CASE` branches,
//! the right side of `AND`/`OR`) takes the rows that need a value with [`Input::take`], evaluates
//! there, and puts the values back in place.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, UInt32Array};
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Decimal64Type};
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::ir::{ColumnRef, Expr, SqlType};

/// The columns an expression reads, for some rows. Columns the expression does not read may be
/// absent (`None`); reading one is an internal error.
#[derive(Clone, Debug)]
pub(crate) struct Input {
    columns: Vec<Option<ArrayRef>>,
    num_rows: usize,
    /// Values of expressions already evaluated over these rows, reused when the expression
    /// appears again (the aggregate arguments of one batch share subexpressions).
    known: Arc<Vec<(Expr, ArrayRef)>>,
    /// The values of the enclosing [`Expr::Let`]s over these rows, innermost last.
    vars: Vec<(u32, ArrayRef)>,
}

impl Input {
    /// The columns of `batch` that `exprs` read, dictionary columns unpacked to their value type.
    pub fn from_batch(batch: &RecordBatch, exprs: &[&Expr]) -> Result<Input> {
        let used = used_columns(exprs, batch.num_columns());
        let columns = batch
            .columns()
            .iter()
            .zip(used)
            .map(|(column, used)| used.then(|| unpack(column)).transpose())
            .collect::<Result<_>>()?;
        Ok(Input {
            columns,
            num_rows: batch.num_rows(),
            known: Arc::default(),
            vars: vec![],
        })
    }

    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Records the values of `expr` over these rows for [`Input::recall`].
    pub fn remember(&mut self, expr: &Expr, values: ArrayRef) {
        if !matches!(expr, Expr::Column(_) | Expr::Literal(_)) {
            Arc::make_mut(&mut self.known).push((expr.clone(), values));
        }
    }

    /// These rows with `values` (one per row) bound to [`Expr::Var`] `id`.
    pub fn with_var(&self, id: u32, values: ArrayRef) -> Input {
        let mut input = self.clone();
        input.vars.push((id, values));
        input
    }

    /// The values bound to [`Expr::Var`] `id` by the innermost enclosing [`Expr::Let`].
    pub fn var(&self, id: u32) -> Result<ArrayRef> {
        self.vars
            .iter()
            .rev()
            .find(|(v, _)| *v == id)
            .map(|(_, values)| values.clone())
            .ok_or_else(|| Error::internal(format!("${id} is read outside its LET")))
    }

    /// The values of `expr` if they were remembered.
    #[inline]
    pub fn recall(&self, expr: &Expr) -> Option<ArrayRef> {
        if self.known.is_empty() {
            return None;
        }
        self.known
            .iter()
            .find(|(e, _)| e == expr)
            .map(|(_, v)| v.clone())
    }

    /// The values of a column reference, checked against its SQL type.
    pub fn column(&self, c: &ColumnRef) -> Result<ArrayRef> {
        let array = self
            .columns
            .get(c.index)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                Error::internal(format!(
                    "column {}@{} is not in the interpreter's input",
                    c.name, c.index
                ))
            })?;
        let ty = SqlType::from_arrow(array.data_type())
            .or_else(|| SqlType::passthrough(array.data_type()));
        if ty != Some(c.ty) {
            return Err(Error::internal(format!(
                "column {}@{} has Arrow type {} but the plan expects {}",
                c.name,
                c.index,
                array.data_type(),
                c.ty
            )));
        }
        if c.ty.is_timestamp() {
            // Any zone's instants are the same UTC values: one label for every source.
            return super::time::retype(array, &c.ty.to_arrow());
        }
        Ok(array.clone())
    }

    /// The rows at `indices` (positions in this input, each valid), keeping only the columns that
    /// `exprs` read.
    pub fn take(&self, indices: &UInt32Array, exprs: &[&Expr]) -> Result<Input> {
        if indices.len() == self.num_rows && is_identity(indices) {
            return Ok(self.clone());
        }
        let used = used_columns(exprs, self.columns.len());
        let columns = self
            .columns
            .iter()
            .zip(used)
            .map(|(column, used)| match column {
                Some(c) if used => Ok(Some(take(c.as_ref(), indices, None)?)),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        let vars = self
            .vars
            .iter()
            .map(|(id, values)| Ok((*id, take(values.as_ref(), indices, None)?)))
            .collect::<Result<_>>()?;
        Ok(Input {
            columns,
            num_rows: indices.len(),
            known: Arc::default(),
            vars,
        })
    }
}

/// Which of `num_columns` columns the expressions read.
fn used_columns(exprs: &[&Expr], num_columns: usize) -> Vec<bool> {
    let mut used = vec![false; num_columns];
    for e in exprs {
        e.walk(&mut |node| {
            if let Expr::Column(c) = node {
                if let Some(u) = used.get_mut(c.index) {
                    *u = true;
                }
            }
        });
    }
    used
}

/// A column in the types the interpreter computes with: a dictionary-encoded string column as a
/// plain string array of its value type, a `Decimal64` column as `Decimal128`.
fn unpack(column: &ArrayRef) -> Result<ArrayRef> {
    match column.data_type() {
        DataType::Dictionary(_, value) => Ok(cast(column.as_ref(), value)?),
        DataType::Decimal64(..) => widen_decimal64(column),
        _ => Ok(column.clone()),
    }
}

/// A `Decimal64` array as the `Decimal128` array of the same values, precision and scale (any
/// other array unchanged). Each value is widened as it is, like a kernel's load: values need not
/// be within the precision (Arrow does not require it).
pub(crate) fn widen_decimal64(array: &ArrayRef) -> Result<ArrayRef> {
    let DataType::Decimal64(p, s) = array.data_type() else {
        return Ok(array.clone());
    };
    let wide: Decimal128Array = array
        .as_primitive::<Decimal64Type>()
        .unary(i128::from)
        .with_precision_and_scale(*p, *s)?;
    Ok(Arc::new(wide))
}

fn is_identity(indices: &UInt32Array) -> bool {
    indices.null_count() == 0
        && indices
            .values()
            .iter()
            .enumerate()
            .all(|(i, &v)| v as usize == i)
}

/// Row positions as `u32`: the interpreter takes and scatters with `UInt32` indices.
pub(crate) fn row_index(i: usize) -> Result<u32> {
    u32::try_from(i).map_err(|_| Error::internal(format!("batch of more than {} rows", u32::MAX)))
}

/// The positions of the TRUE values of `mask` (NULL and FALSE are left out).
pub(crate) fn true_positions(mask: &BooleanArray) -> Result<UInt32Array> {
    row_index(mask.len())?;
    let selected = match mask.nulls() {
        Some(nulls) => mask.values() & nulls.inner(),
        None => mask.values().clone(),
    };
    Ok(UInt32Array::from_iter_values(selected.set_indices_u32()))
}

/// The positions of the values of `mask` that are not TRUE (FALSE or NULL).
pub(crate) fn not_true_positions(mask: &BooleanArray) -> Result<UInt32Array> {
    row_index(mask.len())?;
    let selected = match mask.nulls() {
        Some(nulls) => !&(mask.values() & nulls.inner()),
        None => !mask.values(),
    };
    Ok(UInt32Array::from_iter_values(selected.set_indices_u32()))
}

/// Composes two index selections: `outer[inner[k]]` for each `k`.
pub(crate) fn compose(outer: &UInt32Array, inner: &UInt32Array) -> Result<UInt32Array> {
    let outer = outer.values();
    inner
        .values()
        .iter()
        .map(|&i| {
            outer
                .get(i as usize)
                .copied()
                .ok_or_else(|| Error::internal("row index out of range"))
        })
        .collect::<Result<Vec<u32>>>()
        .map(UInt32Array::from)
}
