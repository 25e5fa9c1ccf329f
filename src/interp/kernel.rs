//! Element-wise kernels that can fail, and the numeric traits they are generic over.
//!
//! In: operands (an array, a constant, or NULL) and a per-element operation. Out: a
//! [`PrimitiveArray`] whose null mask is the union of the operands' masks.
//!
//! Two shapes, following arrow-rs's rule that operations that cannot fail run on every slot:
//!
//! * [`binary_flagged`] / [`unary_flagged`]: the operation returns `(value, failed)` and runs on
//!   every slot, branch-free, so the loop vectorizes. Only if some slot failed is the failure
//!   looked up again, and it is an error only if that slot is valid (a NULL row's garbage value
//!   overflowing is not an error). Used for checked arithmetic and range checks.
//! * [`binary_try`]: the operation returns a `Result` and runs only on valid slots. Used for
//!   operations that are costly or would misbehave on garbage (calendar arithmetic).

use std::fmt::{Debug, Display, LowerExp};
use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowNativeType, ArrowPrimitiveType};

use super::constant::literal_array;
use super::eval;
use super::input::Input;
use crate::error::{Error, Result};
use crate::ir::convert::{decimal_to_f32, decimal_to_f64};
use crate::ir::Expr;

/// One operand of an element-wise kernel. A literal stays a constant instead of being
/// materialized as an array.
pub(crate) enum Operand<T: ArrowPrimitiveType> {
    Array(PrimitiveArray<T>),
    Const(T::Native),
    /// A NULL literal: every result is NULL.
    Null,
}

impl<T: ArrowPrimitiveType> Operand<T> {
    /// Evaluates `e` as an operand of native type `T::Native`.
    pub fn eval(e: &Expr, input: &Input) -> Result<Operand<T>> {
        match e {
            Expr::Literal(lit) if lit.value.is_null() => Ok(Operand::Null),
            Expr::Literal(lit) => Ok(Operand::Const(
                downcast::<T>(&literal_array(lit, 1)?)?.value(0),
            )),
            _ => Ok(Operand::Array(downcast::<T>(&eval(e, input)?)?.clone())),
        }
    }

    fn nulls(&self) -> Option<&NullBuffer> {
        match self {
            Operand::Array(a) => a.nulls(),
            _ => None,
        }
    }

    fn check_len(&self, len: usize) -> Result<()> {
        match self {
            Operand::Array(a) if a.len() != len => Err(Error::internal(format!(
                "operand of {} values for {len} rows",
                a.len()
            ))),
            _ => Ok(()),
        }
    }

    /// The value at row `i` (a constant's value, or the default for NULL).
    #[inline]
    fn get(&self, i: usize) -> T::Native {
        match self {
            Operand::Array(a) => a.values()[i],
            Operand::Const(v) => *v,
            Operand::Null => T::Native::default(),
        }
    }
}

/// Downcasts an evaluated array to the primitive type `T`.
pub(crate) fn downcast<T: ArrowPrimitiveType>(array: &ArrayRef) -> Result<&PrimitiveArray<T>> {
    array.as_primitive_opt::<T>().ok_or_else(|| {
        Error::internal(format!(
            "expected {} values, got {}",
            T::DATA_TYPE,
            array.data_type()
        ))
    })
}

/// `len` NULLs of type `O`.
pub(crate) fn all_null<O: ArrowPrimitiveType>(len: usize) -> PrimitiveArray<O> {
    PrimitiveArray::new(
        ScalarBuffer::from(vec![O::Native::default(); len]),
        Some(NullBuffer::new_null(len)),
    )
}

/// Applies `op` to every pair of values; `op` returns the value and whether it failed. The first
/// failing row whose operands are both valid becomes `err(a, b)`; failures on NULL rows are
/// ignored.
pub(crate) fn binary_flagged<A, B, O>(
    l: &Operand<A>,
    r: &Operand<B>,
    len: usize,
    op: impl Fn(A::Native, B::Native) -> (O::Native, bool),
    err: impl Fn(A::Native, B::Native) -> Error,
) -> Result<PrimitiveArray<O>>
where
    A: ArrowPrimitiveType,
    B: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
{
    l.check_len(len)?;
    r.check_len(len)?;
    let mut failed = false;
    let mut apply = |x, y| {
        let (v, f) = op(x, y);
        failed |= f;
        v
    };
    let values: Vec<O::Native> = match (l, r) {
        (Operand::Null, _) | (_, Operand::Null) => return Ok(all_null(len)),
        (Operand::Array(a), Operand::Array(b)) => a
            .values()
            .iter()
            .zip(b.values().iter())
            .map(|(&x, &y)| apply(x, y))
            .collect(),
        (Operand::Array(a), Operand::Const(y)) => {
            a.values().iter().map(|&x| apply(x, *y)).collect()
        }
        (Operand::Const(x), Operand::Array(b)) => {
            b.values().iter().map(|&y| apply(*x, y)).collect()
        }
        (Operand::Const(x), Operand::Const(y)) => vec![apply(*x, *y); len],
    };
    let nulls = NullBuffer::union(l.nulls(), r.nulls());
    if failed {
        for i in 0..len {
            let (x, y) = (l.get(i), r.get(i));
            if op(x, y).1 && nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                return Err(err(x, y));
            }
        }
    }
    Ok(PrimitiveArray::new(ScalarBuffer::from(values), nulls))
}

/// [`binary_flagged`] for one operand.
pub(crate) fn unary_flagged<A, O>(
    a: &PrimitiveArray<A>,
    op: impl Fn(A::Native) -> (O::Native, bool),
    err: impl Fn(A::Native) -> Error,
) -> Result<PrimitiveArray<O>>
where
    A: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
{
    let mut failed = false;
    let values: Vec<O::Native> = a
        .values()
        .iter()
        .map(|&x| {
            let (v, f) = op(x);
            failed |= f;
            v
        })
        .collect();
    if failed {
        for (i, &x) in a.values().iter().enumerate() {
            if op(x).1 && a.is_valid(i) {
                return Err(err(x));
            }
        }
    }
    Ok(PrimitiveArray::new(
        ScalarBuffer::from(values),
        a.nulls().cloned(),
    ))
}

/// Applies a fallible `op` to the rows where both operands are valid; NULL elsewhere.
pub(crate) fn binary_try<A, B, O>(
    l: &Operand<A>,
    r: &Operand<B>,
    len: usize,
    op: impl Fn(A::Native, B::Native) -> Result<O::Native>,
) -> Result<PrimitiveArray<O>>
where
    A: ArrowPrimitiveType,
    B: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
{
    l.check_len(len)?;
    r.check_len(len)?;
    if matches!(l, Operand::Null) || matches!(r, Operand::Null) {
        return Ok(all_null(len));
    }
    let nulls = NullBuffer::union(l.nulls(), r.nulls());
    let mut values = vec![O::Native::default(); len];
    match &nulls {
        Some(n) => {
            for i in n.valid_indices() {
                values[i] = op(l.get(i), r.get(i))?;
            }
        }
        None => {
            for (i, v) in values.iter_mut().enumerate() {
                *v = op(l.get(i), r.get(i))?;
            }
        }
    }
    Ok(PrimitiveArray::new(ScalarBuffer::from(values), nulls))
}

/// The native integer types, with the operations checked arithmetic needs.
pub(crate) trait IntNative:
    ArrowNativeType + Copy + Eq + Ord + Display + Debug + Send + Sync
{
    const ZERO: Self;
    const ONE: Self;
    fn to_i128(self) -> i128;
    fn from_i128(v: i128) -> Option<Self>;
    fn overflowing_add(self, o: Self) -> (Self, bool);
    fn overflowing_sub(self, o: Self) -> (Self, bool);
    fn overflowing_mul(self, o: Self) -> (Self, bool);
    fn overflowing_div(self, o: Self) -> (Self, bool);
    fn wrapping_rem(self, o: Self) -> Self;
    #[inline]
    fn is_negative(self) -> bool {
        self.to_i128() < 0
    }
}

macro_rules! int_native {
    ($($t:ty),*) => {$(
        impl IntNative for $t {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline]
            fn to_i128(self) -> i128 { self as i128 }
            #[inline]
            fn from_i128(v: i128) -> Option<Self> { <$t>::try_from(v).ok() }
            #[inline]
            fn overflowing_add(self, o: Self) -> (Self, bool) { <$t>::overflowing_add(self, o) }
            #[inline]
            fn overflowing_sub(self, o: Self) -> (Self, bool) { <$t>::overflowing_sub(self, o) }
            #[inline]
            fn overflowing_mul(self, o: Self) -> (Self, bool) { <$t>::overflowing_mul(self, o) }
            #[inline]
            fn overflowing_div(self, o: Self) -> (Self, bool) { <$t>::overflowing_div(self, o) }
            #[inline]
            fn wrapping_rem(self, o: Self) -> Self { <$t>::wrapping_rem(self, o) }
        }
    )*};
}
int_native!(i8, i16, i32, i64, u8, u16, u32, u64);

/// The native float types.
pub(crate) trait FloatNative:
    ArrowNativeType
    + Copy
    + PartialOrd
    + Display
    + LowerExp
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Rem<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    fn to_f64(self) -> f64;
    /// Rounds to the nearest value of `Self` (`f64` → `f32` is Rust's `as`).
    fn from_f64(v: f64) -> Self;
    /// The nearest value of `Self` (one rounding).
    fn from_i128(v: i128) -> Self;
    /// The nearest value of `Self` to the decimal `v / 10^scale` (one rounding).
    fn from_decimal(v: i128, scale: u8) -> Self;
    fn abs(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
}

impl FloatNative for f32 {
    const ZERO: Self = 0.0;
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn from_i128(v: i128) -> Self {
        v as f32
    }
    #[inline]
    fn from_decimal(v: i128, scale: u8) -> Self {
        decimal_to_f32(v, scale)
    }
    #[inline]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline]
    fn floor(self) -> Self {
        f32::floor(self)
    }
    #[inline]
    fn ceil(self) -> Self {
        f32::ceil(self)
    }
}

impl FloatNative for f64 {
    const ZERO: Self = 0.0;
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn from_i128(v: i128) -> Self {
        v as f64
    }
    #[inline]
    fn from_decimal(v: i128, scale: u8) -> Self {
        decimal_to_f64(v, scale)
    }
    #[inline]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline]
    fn floor(self) -> Self {
        f64::floor(self)
    }
    #[inline]
    fn ceil(self) -> Self {
        f64::ceil(self)
    }
}

/// Runs `$body` with `$T` bound to the Arrow primitive type of an integer [`SqlType`]
/// (`crate::ir::SqlType`), or evaluates `$other` for any other type.
macro_rules! with_integer_type {
    ($ty:expr, $T:ident => $body:expr, _ => $other:expr) => {{
        use arrow::datatypes as adt;
        match $ty {
            $crate::ir::SqlType::Int8 => {
                type $T = adt::Int8Type;
                $body
            }
            $crate::ir::SqlType::Int16 => {
                type $T = adt::Int16Type;
                $body
            }
            $crate::ir::SqlType::Int32 => {
                type $T = adt::Int32Type;
                $body
            }
            $crate::ir::SqlType::Int64 => {
                type $T = adt::Int64Type;
                $body
            }
            $crate::ir::SqlType::UInt8 => {
                type $T = adt::UInt8Type;
                $body
            }
            $crate::ir::SqlType::UInt16 => {
                type $T = adt::UInt16Type;
                $body
            }
            $crate::ir::SqlType::UInt32 => {
                type $T = adt::UInt32Type;
                $body
            }
            $crate::ir::SqlType::UInt64 => {
                type $T = adt::UInt64Type;
                $body
            }
            _ => $other,
        }
    }};
}

/// Runs `$body` with `$T` bound to the Arrow primitive type of a float [`SqlType`].
macro_rules! with_float_type {
    ($ty:expr, $T:ident => $body:expr, _ => $other:expr) => {{
        use arrow::datatypes as adt;
        match $ty {
            $crate::ir::SqlType::Float32 => {
                type $T = adt::Float32Type;
                $body
            }
            $crate::ir::SqlType::Float64 => {
                type $T = adt::Float64Type;
                $body
            }
            _ => $other,
        }
    }};
}

pub(crate) use {with_float_type, with_integer_type};
