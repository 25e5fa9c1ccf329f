//! Speculative `i64` evaluation of exact decimal arithmetic.
//!
//! Decimals are `i128` values, and the general lowering ([`super::arith`]) checks every
//! operation the way the interpreter does: operands that fit `i64`, rescaling, the result's
//! precision, each with its own error code. Real data rarely needs any of that: TPC-H's prices
//! and discounts have at most ten digits. A *narrow form* evaluates a whole decimal expression in
//! `i64` with the overflow intrinsics and folds every check into one `ok` flag:
//!
//! ```text
//! ok ⇒ value is exactly what the general lowering computes, and it reports no error
//! ```
//!
//! An aggregation kernel evaluates the narrow forms of its arguments and hands a row whose `ok`
//! is false back to the interpreter (one branch that real data always takes the same way), so a
//! row costs a few machine instructions per operation instead of `i128` checks and an error code
//! per node, and the kernel has no general code to compile.
//!
//! In: an expression with a narrow form ([`has_narrow_form`]). Out: a [`NarrowLowered`] for the
//! current row. No error sites are registered and no ranks handed out, so the lowering of what
//! follows numbers its errors as if the narrow form were not there.

use inkwell::values::IntValue;
use inkwell::IntPredicate;

use super::{Lowerer, R};
use crate::error::Error;
use crate::ir::scalar::pow10;
use crate::ir::{BinaryOp, Expr, Literal, Scalar, SqlType, UnaryOp};

/// Decimal digits of `10^k` that still fit `i64`.
const MAX_SHIFT: u32 = 18;

/// A decimal node evaluated in `i64` for the current row.
#[derive(Clone, Copy)]
pub(in crate::internals::codegen) struct NarrowLowered<'ctx> {
    /// `i64`: the value at the node's scale; garbage where invalid or not `ok`.
    pub value: IntValue<'ctx>,
    /// `i1`: the value is not NULL (as the general lowering's validity).
    pub valid: IntValue<'ctx>,
    /// `i1`: `value` is exact and no node of the subtree fails on this row.
    pub ok: IntValue<'ctx>,
}

/// Whether `e` is decimal arithmetic (`+ - *`, unary `-`, casts that keep or raise the scale)
/// over decimal and integer columns and literals: an expression [`Lowerer::lower_narrow`]
/// lowers. A bare column or literal has a narrow form too, but gains nothing from it.
pub(in crate::internals::codegen) fn has_narrow_form(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => narrow_leaf(c.ty),
        Expr::Literal(l) => literal_i64(l).is_some(),
        Expr::Binary {
            op: BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul,
            left,
            right,
            ty,
        } => {
            let scales = (left.ty().decimal_parts(), right.ty().decimal_parts());
            let shifts_fit = match (scales, ty.decimal_parts()) {
                ((Some((_, s1)), Some((_, s2))), Some((_, s))) => {
                    s >= s1
                        && s >= s2
                        && (s - s1) as u32 <= MAX_SHIFT
                        && (s - s2) as u32 <= MAX_SHIFT
                }
                _ => false,
            };
            shifts_fit && has_narrow_form(left) && has_narrow_form(right)
        }
        Expr::Unary {
            op: UnaryOp::Neg,
            arg,
        } => arg.ty().is_decimal() && has_narrow_form(arg),
        Expr::Cast { arg, ty } => {
            let from = arg.ty();
            let shift = match (from.decimal_parts(), ty.decimal_parts()) {
                (_, None) => None,
                (Some((_, s1)), Some((_, s2))) => s2.checked_sub(s1),
                (None, Some((_, s2))) => narrow_leaf(from).then_some(s2),
            };
            (from == *ty || shift.is_some_and(|k| k as u32 <= MAX_SHIFT)) && has_narrow_form(arg)
        }
        _ => false,
    }
}

/// Types whose values a narrow form reads: decimals (checked to fit `i64` row by row) and the
/// integers that always fit.
fn narrow_leaf(ty: SqlType) -> bool {
    ty.is_decimal() || (ty.is_integer() && ty != SqlType::UInt64)
}

/// A non-NULL integer or decimal literal that fits `i64`.
fn literal_i64(l: &Literal) -> Option<i64> {
    if !narrow_leaf(l.ty) {
        return None;
    }
    match l.value {
        Scalar::Int(v) => Some(v),
        Scalar::UInt(v) => i64::try_from(v).ok(),
        Scalar::Decimal(v) => i64::try_from(v).ok(),
        _ => None,
    }
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// Lowers narrow forms from now on for a loop that LLVM vectorizes (`aggregate::lanes`):
    /// a product's operands must fit 32 bits (else it is not `ok`) and multiply as such, and a
    /// rescale checks its operand's range first, instead of the overflow intrinsics, which
    /// have no vector instruction below AVX-512. Where a value is `ok`, it is the same.
    pub fn narrow_in_lanes(&mut self) {
        self.lanes = true;
    }

    /// Lowers `e`, which has a narrow form ([`has_narrow_form`]), in `i64` for the current row,
    /// reusing an equal subexpression lowered before.
    pub fn lower_narrow(&mut self, e: &Expr) -> R<NarrowLowered<'ctx>> {
        let key = super::memo_key(e);
        if let Some(n) = key.as_ref().and_then(|k| self.narrow_memo.get(k)) {
            return Ok(*n);
        }
        let n = self.lower_narrow_node(e)?;
        if let Some(k) = key {
            if !self.vars.is_empty() {
                self.memo_log.push((true, k.clone()));
            }
            self.narrow_memo.insert(k, n);
        }
        Ok(n)
    }

    fn lower_narrow_node(&mut self, e: &Expr) -> R<NarrowLowered<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let yes = self.bool_const(true);
        match e {
            Expr::Column(c) => {
                // The general read: no error, no rank, and the same load as the general code.
                let l = self.lower(e)?;
                let x = l.value.into_int_value();
                let (value, fits) = match x.get_type().get_bit_width() {
                    64 => (x, yes),
                    w if w < 64 => {
                        let v = if c.ty.is_unsigned_integer() {
                            b.build_int_z_extend(x, i64t, "nz")?
                        } else {
                            b.build_int_s_extend(x, i64t, "ns")?
                        };
                        (v, yes)
                    }
                    _ => {
                        let v = b.build_int_truncate(x, i64t, "n64")?;
                        let back = b.build_int_s_extend(v, x.get_type(), "n128")?;
                        let fits = b.build_int_compare(IntPredicate::EQ, back, x, "n_fits")?;
                        (v, fits)
                    }
                };
                // A NULL's garbage value need not fit: the general code reads no value there.
                let null = b.build_not(l.valid, "n_null")?;
                Ok(NarrowLowered {
                    value,
                    valid: l.valid,
                    ok: b.build_or(null, fits, "n_ok")?,
                })
            }
            Expr::Literal(l) => {
                let v = literal_i64(l).ok_or_else(|| {
                    Error::internal(format!("the literal {e} has no narrow form"))
                })?;
                Ok(NarrowLowered {
                    value: i64t.const_int(v as u64, true),
                    valid: yes,
                    ok: yes,
                })
            }
            Expr::Binary {
                op,
                left,
                right,
                ty,
            } => {
                let (l, r) = (self.lower_narrow(left)?, self.lower_narrow(right)?);
                let (Some((_, s1)), Some((_, s2)), Some((p, s))) = (
                    left.ty().decimal_parts(),
                    right.ty().decimal_parts(),
                    ty.decimal_parts(),
                ) else {
                    return Err(Error::internal(format!("{e} has no narrow form")).into());
                };
                let (v, own) = match op {
                    BinaryOp::Add | BinaryOp::Sub => {
                        // As the general code: both operands at the result's scale, then the sum.
                        let (x, ox) = self.narrow_scale_up(l.value, (s - s1) as u32)?;
                        let (y, oy) = self.narrow_scale_up(r.value, (s - s2) as u32)?;
                        let name = if *op == BinaryOp::Add { "sadd" } else { "ssub" };
                        let (v, o) = self.narrow_add(name, x, y)?;
                        let o = b.build_or(b.build_or(ox, oy, "o_xy")?, o, "o")?;
                        (v, b.build_not(o, "no_overflow")?)
                    }
                    BinaryOp::Mul if self.lanes => {
                        // Operands of 32 bits: their product is exact in 64.
                        let (x, fx) = self.narrow_i32(l.value)?;
                        let (y, fy) = self.narrow_i32(r.value)?;
                        let v = b.build_int_nsw_mul(x, y, "lane_mul")?;
                        (v, b.build_and(fx, fy, "lane_mul_ok")?)
                    }
                    BinaryOp::Mul => {
                        let (v, o) = self.with_overflow("smul", l.value, r.value)?;
                        (v, b.build_not(o, "no_overflow")?)
                    }
                    _ => return Err(Error::internal(format!("{e} has no narrow form")).into()),
                };
                let own = b.build_and(own, self.narrow_fits_precision(v, p)?, "own_ok")?;
                let valid = b.build_and(l.valid, r.valid, "valid")?;
                self.narrow_node(v, valid, b.build_and(l.ok, r.ok, "ok_lr")?, own)
            }
            Expr::Unary {
                op: UnaryOp::Neg,
                arg,
            } => {
                let a = self.lower_narrow(arg)?;
                let (v, o) = self.narrow_add("ssub", i64t.const_zero(), a.value)?;
                let own = b.build_not(o, "no_overflow")?;
                self.narrow_node(v, a.valid, a.ok, own)
            }
            Expr::Cast { arg, ty } => {
                let a = self.lower_narrow(arg)?;
                if arg.ty() == *ty {
                    return Ok(a);
                }
                let (Some((p2, s2)), from) = (ty.decimal_parts(), arg.ty()) else {
                    return Err(Error::internal(format!("{e} has no narrow form")).into());
                };
                let s1 = from.decimal_parts().map_or(0, |(_, s)| s);
                let (v, o) = self.narrow_scale_up(a.value, (s2 - s1) as u32)?;
                let own = b.build_and(
                    b.build_not(o, "no_overflow")?,
                    self.narrow_fits_precision(v, p2)?,
                    "own_ok",
                )?;
                self.narrow_node(v, a.valid, a.ok, own)
            }
            _ => Err(Error::internal(format!("{e} has no narrow form")).into()),
        }
    }

    /// A node whose own checks (`own`) count only where it is valid, as its error would.
    fn narrow_node(
        &self,
        value: IntValue<'ctx>,
        valid: IntValue<'ctx>,
        operands_ok: IntValue<'ctx>,
        own: IntValue<'ctx>,
    ) -> R<NarrowLowered<'ctx>> {
        let b = self.b;
        let own = b.build_or(b.build_not(valid, "null")?, own, "own_or_null")?;
        Ok(NarrowLowered {
            value,
            valid,
            ok: b.build_and(operands_ok, own, "ok")?,
        })
    }

    /// `x * 10^shift` (`shift` ≤ 18) and whether it overflowed `i64`.
    fn narrow_scale_up(
        &self,
        x: IntValue<'ctx>,
        shift: u32,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        if shift == 0 {
            return Ok((x, self.bool_const(false)));
        }
        if shift > MAX_SHIFT {
            return Err(Error::internal("a narrow rescale by more than 18 digits").into());
        }
        let t = self.ctx.i64_type();
        let k = t.const_int(pow10(shift) as u64, false);
        if !self.lanes {
            return self.with_overflow("smul", x, k);
        }
        // In lanes: no overflow where |x| < 2^bits <= i64::MAX / 10^shift (a value between
        // them only takes the row path), a range check, then a plain product.
        let limit = i64::MAX as u64 / pow10(shift) as u64;
        let fits = self.lane_range(x, limit.ilog2())?;
        let v = self.b.build_int_mul(x, k, "lane_scale")?;
        Ok((v, self.b.build_not(fits, "lane_scale_over")?))
    }

    /// `x + y` (`name` "sadd") or `x - y` ("ssub") and whether it overflowed `i64`: in lanes
    /// from the signs (the overflow intrinsics return a pair, which LLVM does not vectorize).
    fn narrow_add(
        &self,
        name: &str,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        if !self.lanes {
            return self.with_overflow(name, x, y);
        }
        let b = self.b;
        let zero = self.ctx.i64_type().const_zero();
        // Overflow: the result's sign differs from both operands' (a sum) or from the minuend's
        // where the operands' signs differ (a difference).
        let (v, signs) = if name == "sadd" {
            let v = b.build_int_add(x, y, "lane_add")?;
            let s = b.build_and(
                b.build_xor(x, v, "lane_xv")?,
                b.build_xor(y, v, "lane_yv")?,
                "lane_add_signs",
            )?;
            (v, s)
        } else {
            let v = b.build_int_sub(x, y, "lane_sub")?;
            let s = b.build_and(
                b.build_xor(x, y, "lane_xy")?,
                b.build_xor(x, v, "lane_xv")?,
                "lane_sub_signs",
            )?;
            (v, s)
        };
        let o = b.build_int_compare(IntPredicate::SLT, signs, zero, "lane_over")?;
        Ok((v, o))
    }

    /// `x` (`i64`) sign-extended from its low 32 bits, and whether that is `x`.
    fn narrow_i32(&self, x: IntValue<'ctx>) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let low = b.build_int_truncate(x, self.ctx.i32_type(), "lane_low")?;
        let v = b.build_int_s_extend(low, i64t, "lane_i32")?;
        Ok((v, self.lane_range(x, 31)?))
    }

    /// `i1`: `-2^bits <= x < 2^bits`, as `x + 2^bits < 2^(bits + 1)` (unsigned): one addition,
    /// and LLVM ors the sums of checks with the same `bits` into one compare (a vector compare
    /// of `sext(trunc x) == x` takes five instructions without AVX-512).
    fn lane_range(&self, x: IntValue<'ctx>, bits: u32) -> R<IntValue<'ctx>> {
        let t = self.ctx.i64_type();
        let biased = self
            .b
            .build_int_add(x, t.const_int(1 << bits, false), "lane_biased")?;
        Ok(self.b.build_int_compare(
            IntPredicate::ULT,
            biased,
            t.const_int(1 << (bits + 1), false),
            "lane_in_range",
        )?)
    }

    /// `i1`: `|v| < 10^precision` for an `i64` (always true from 19 digits on).
    fn narrow_fits_precision(&self, v: IntValue<'ctx>, precision: u8) -> R<IntValue<'ctx>> {
        if precision > MAX_SHIFT as u8 {
            return Ok(self.bool_const(true));
        }
        let limit = pow10(precision as u32) as u64;
        if self.lanes {
            // In lanes, the largest power of two below 10^precision (a value between them
            // only takes the row path): a range check that LLVM merges with others.
            return self.lane_range(v, limit.ilog2());
        }
        let t = self.ctx.i64_type();
        // -limit < v < limit  ⇔  v + (limit - 1) < 2 * limit - 1 (unsigned).
        let shifted = self
            .b
            .build_int_add(v, t.const_int(limit - 1, false), "p_shift")?;
        Ok(self.b.build_int_compare(
            IntPredicate::ULT,
            shifted,
            t.const_int(2 * limit - 1, false),
            "p_fits",
        )?)
    }
}
