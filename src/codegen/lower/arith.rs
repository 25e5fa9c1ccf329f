//! Arithmetic: checked integer `+ - * / %` and unary `-`, float arithmetic, exact decimal
//! `+ - * / %` (rescaling in `i256`, so that the checks need no library call), and the overflow
//! intrinsics.
//!
//! Decimal `/` and `%` divide `i128` values: `sdiv i128` would be a call to `__divti3`, so they go
//! through the helper `qjit_sdiv_i128` (see [`Lowerer::sdiv_i128`]), which divides in `i64` when
//! both operands fit and otherwise in `i256`, which LLVM expands inline (`ExpandLargeDivRem`)
//! instead of calling a library.

use inkwell::intrinsics::Intrinsic;
use inkwell::values::{FloatValue, FunctionValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::{not_compiled, ErrorKind};
use crate::error::Error;
use crate::ir::scalar::pow10;
use crate::ir::{BinaryOp, Expr, SqlType};

impl<'ctx> Lowerer<'_, 'ctx> {
    /// Calls `llvm.<name>.with.overflow.iN`; returns (result, overflowed).
    pub(super) fn with_overflow(
        &self,
        name: &str,
        a: IntValue<'ctx>,
        b: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let full = format!("llvm.{name}.with.overflow");
        let f = Intrinsic::find(&full)
            .and_then(|i| i.get_declaration(self.module, &[a.get_type().into()]))
            .ok_or_else(|| Error::internal(format!("no intrinsic {full}")))?;
        let r = self
            .b
            .build_call(f, &[a.into(), b.into()], name)?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal(format!("{full} returned nothing")))?
            .into_struct_value();
        let v = self.b.build_extract_value(r, 0, "v")?.into_int_value();
        let o = self.b.build_extract_value(r, 1, "o")?.into_int_value();
        Ok((v, o))
    }

    /// `llvm.expect(c, false)`: tells LLVM that the `i1` `c` is seldom true, so that the
    /// block it branches to is laid out of the hot path.
    pub(super) fn unlikely(&self, c: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let f = Intrinsic::find("llvm.expect")
            .and_then(|i| i.get_declaration(self.module, &[c.get_type().into()]))
            .ok_or_else(|| Error::internal("no intrinsic llvm.expect"))?;
        Ok(self
            .b
            .build_call(f, &[c.into(), c.get_type().const_zero().into()], "unlikely")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("llvm.expect returned nothing"))?
            .into_int_value())
    }

    pub(super) fn unary_intrinsic(&self, name: &str, x: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let f = Intrinsic::find(name)
            .and_then(|i| i.get_declaration(self.module, &[x.get_type().into()]))
            .ok_or_else(|| Error::internal(format!("no intrinsic {name}")))?;
        Ok(self
            .b
            .build_call(f, &[x.into()], name)?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal(format!("{name} returned nothing")))?
            .into_float_value())
    }

    pub(super) fn negate(&mut self, e: &Expr, ty: SqlType, a: Lowered<'ctx>) -> R<Lowered<'ctx>> {
        let b = self.b;
        if ty.is_float() {
            let v = b.build_float_neg(a.value.into_float_value(), "neg")?;
            return self.unary_result(e, v.into(), &a, None);
        }
        let x = a.value.into_int_value();
        let t = x.get_type();
        let v = b.build_int_sub(t.const_zero(), x, "neg")?;
        let fail = if ty.is_unsigned_integer() {
            // -x fits an unsigned type only for x = 0.
            b.build_int_compare(IntPredicate::NE, x, t.const_zero(), "neg_fail")?
        } else if ty.is_signed_integer() || ty.is_decimal() {
            let min = if ty.is_decimal() {
                self.const_i128(i128::MIN)
            } else {
                t.const_int(1u64 << (t.get_bit_width() - 1), false)
            };
            b.build_int_compare(IntPredicate::EQ, x, min, "neg_fail")?
        } else {
            return not_compiled(format!("unary - on {ty} is not compiled yet"));
        };
        self.unary_result(e, v.into(), &a, Some((fail, Self::overflow(ty))))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn arithmetic(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        lt: SqlType,
        rt: SqlType,
        ty: SqlType,
        l: Lowered<'ctx>,
        r: Lowered<'ctx>,
    ) -> R<Lowered<'ctx>> {
        if ty.is_integer() {
            self.integer_arithmetic(e, op, ty, l, r)
        } else if ty.is_float() {
            self.float_arithmetic(e, op, l, r)
        } else if let (Some(a), Some(b), Some(c)) =
            (lt.decimal_parts(), rt.decimal_parts(), ty.decimal_parts())
        {
            self.decimal_arithmetic(e, op, a, b, c, l, r)
        } else {
            Err(Error::internal(format!("arithmetic on ({lt}, {rt}) -> {ty}")).into())
        }
    }

    pub(super) fn integer_arithmetic(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        ty: SqlType,
        l: Lowered<'ctx>,
        r: Lowered<'ctx>,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let signed = ty.is_signed_integer();
        let (x, y) = (l.value.into_int_value(), r.value.into_int_value());
        let t = x.get_type();
        let prefix = if signed { "s" } else { "u" };
        let checked = |name: &str| self.with_overflow(&format!("{prefix}{name}"), x, y);
        match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                let name = match op {
                    BinaryOp::Add => "add",
                    BinaryOp::Sub => "sub",
                    _ => "mul",
                };
                let (v, o) = checked(name)?;
                self.combine(e, v.into(), &l, &r, Some((o, Self::overflow(ty))))
            }
            BinaryOp::WrappingAdd | BinaryOp::WrappingSub | BinaryOp::WrappingMul => {
                let v = match op {
                    BinaryOp::WrappingAdd => b.build_int_add(x, y, "wrapping_add")?,
                    BinaryOp::WrappingSub => b.build_int_sub(x, y, "wrapping_sub")?,
                    _ => b.build_int_mul(x, y, "wrapping_mul")?,
                };
                self.combine(e, v.into(), &l, &r, None)
            }
            BinaryOp::Div | BinaryOp::Mod => {
                let zero = b.build_int_compare(IntPredicate::EQ, y, t.const_zero(), "by_zero")?;
                let minus_one =
                    b.build_int_compare(IntPredicate::EQ, y, t.const_all_ones(), "by_minus_one")?;
                let min = t.const_int(1u64 << (t.get_bit_width() - 1), false);
                let at_min = b.build_int_compare(IntPredicate::EQ, x, min, "at_min")?;
                // Signed: MIN / -1 overflows, and any x % -1 is 0 (as x % 1): divide by 1 instead
                // of -1 for %, and avoid the trapping MIN / -1 for /.
                let wraps = if signed {
                    if op == BinaryOp::Div {
                        b.build_and(at_min, minus_one, "wraps")?
                    } else {
                        minus_one
                    }
                } else {
                    self.bool_const(false)
                };
                let unsafe_divisor = b.build_or(zero, wraps, "unsafe_divisor")?;
                let d = b
                    .build_select(unsafe_divisor, t.const_int(1, false), y, "divisor")?
                    .into_int_value();
                let v = match (op, signed) {
                    (BinaryOp::Div, true) => b.build_int_signed_div(x, d, "div")?,
                    (BinaryOp::Div, false) => b.build_int_unsigned_div(x, d, "div")?,
                    (_, true) => b.build_int_signed_rem(x, d, "rem")?,
                    (_, false) => b.build_int_unsigned_rem(x, d, "rem")?,
                };
                let mut out =
                    self.combine(e, v.into(), &l, &r, Some((zero, ErrorKind::DivisionByZero)))?;
                if signed && op == BinaryOp::Div {
                    // The same node as the division by zero: one rank, two kinds.
                    let fail = b.build_and(wraps, out.valid, "fail")?;
                    let own = self.own_error(fail, Self::overflow(ty), e, self.nodes)?;
                    out.err = self.first_error(out.err, own)?;
                }
                Ok(out)
            }
            _ => Err(Error::internal(format!("{} is not arithmetic", op.symbol())).into()),
        }
    }

    pub(super) fn float_arithmetic(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        l: Lowered<'ctx>,
        r: Lowered<'ctx>,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let (x, y) = (l.value.into_float_value(), r.value.into_float_value());
        let (v, fail) = match op {
            BinaryOp::Add => (b.build_float_add(x, y, "fadd")?, None),
            BinaryOp::Sub => (b.build_float_sub(x, y, "fsub")?, None),
            BinaryOp::Mul => (b.build_float_mul(x, y, "fmul")?, None),
            BinaryOp::Div | BinaryOp::Mod => {
                let zero = b.build_float_compare(
                    FloatPredicate::OEQ,
                    y,
                    y.get_type().const_zero(),
                    "by_zero",
                )?;
                let v = if op == BinaryOp::Div {
                    b.build_float_div(x, y, "fdiv")?
                } else {
                    b.build_float_rem(x, y, "frem")?
                };
                (v, Some((zero, ErrorKind::DivisionByZero)))
            }
            _ => return Err(Error::internal(format!("{} is not arithmetic", op.symbol())).into()),
        };
        self.combine(e, v.into(), &l, &r, fail)
    }

    /// `|v| < 10^precision` for an `i256` value.
    pub(super) fn fits_precision(&self, v: IntValue<'ctx>, precision: u8) -> R<IntValue<'ctx>> {
        let limit = pow10(precision as u32);
        let b = self.b;
        let above =
            b.build_int_compare(IntPredicate::SGT, v, self.const_i256(-limit), "above_min")?;
        let below =
            b.build_int_compare(IntPredicate::SLT, v, self.const_i256(limit), "below_max")?;
        Ok(b.build_and(above, below, "fits")?)
    }

    /// An `i128` that fits `i64`, rebuilt as a sign extension so that LLVM knows it does.
    fn as_i64_in_i128(&self, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let t = self.b.build_int_truncate(x, self.ctx.i64_type(), "lo64")?;
        Ok(self.b.build_int_s_extend(t, self.ctx.i128_type(), "sx64")?)
    }

    /// `x * 10^shift` in `i128` for an `x` that fits `i64` and `shift` ≤ 18 (exact).
    fn scale_up_i128(&self, x: IntValue<'ctx>, shift: u32) -> R<IntValue<'ctx>> {
        if shift == 0 {
            return Ok(x);
        }
        Ok(self
            .b
            .build_int_nsw_mul(x, self.const_i128(pow10(shift)), "scaled")?)
    }

    /// Emits `fast` where both `i128` operands fit `i64` and `slow` elsewhere (a branch that
    /// real data always takes the same way), and joins their (value, ok) results. Decimal
    /// columns hold values of at most 18 digits in practice, so `slow` (`i256`) is there for
    /// correctness only.
    fn narrow_or_wide(
        &self,
        x: IntValue<'ctx>,
        y: IntValue<'ctx>,
        fast: impl FnOnce(&Self) -> R<(IntValue<'ctx>, IntValue<'ctx>)>,
        slow: impl FnOnce(&Self) -> R<(IntValue<'ctx>, IntValue<'ctx>)>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let (b, ctx) = (self.b, self.ctx);
        let i64t = ctx.i64_type();
        let i128t = ctx.i128_type();
        let fits64 = |v: IntValue<'ctx>, name: &str| -> R<IntValue<'ctx>> {
            let t = b.build_int_truncate(v, i64t, "narrow")?;
            let back = b.build_int_s_extend(t, i128t, "back")?;
            Ok(b.build_int_compare(IntPredicate::EQ, back, v, name)?)
        };
        let both = b.build_and(fits64(x, "x64")?, fits64(y, "y64")?, "narrow_ok")?;
        let f = self
            .b
            .get_insert_block()
            .and_then(|bb| bb.get_parent())
            .ok_or_else(|| Error::internal("the builder lost its function"))?;
        let fast_bb = ctx.append_basic_block(f, "dec_fast");
        let slow_bb = ctx.append_basic_block(f, "dec_slow");
        let join = ctx.append_basic_block(f, "dec_join");
        b.build_conditional_branch(both, fast_bb, slow_bb)?;
        b.position_at_end(fast_bb);
        let (fv, fok) = fast(self)?;
        let fast_end = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("the builder lost its block"))?;
        b.build_unconditional_branch(join)?;
        b.position_at_end(slow_bb);
        let (sv, sok) = slow(self)?;
        let slow_end = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("the builder lost its block"))?;
        b.build_unconditional_branch(join)?;
        b.position_at_end(join);
        let v = b.build_phi(i128t, "dec")?;
        v.add_incoming(&[(&fv, fast_end), (&sv, slow_end)]);
        let ok = b.build_phi(ctx.bool_type(), "dec_ok")?;
        ok.add_incoming(&[(&fok, fast_end), (&sok, slow_end)]);
        Ok((
            v.as_basic_value().into_int_value(),
            ok.as_basic_value().into_int_value(),
        ))
    }

    /// Whether an `i256` value fits `i128`.
    pub(super) fn fits_i128(&self, v: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let above = b.build_int_compare(
            IntPredicate::SGE,
            v,
            self.const_i256(i128::MIN),
            "ge_i128_min",
        )?;
        let below = b.build_int_compare(
            IntPredicate::SLE,
            v,
            self.const_i256(i128::MAX),
            "le_i128_max",
        )?;
        Ok(b.build_and(above, below, "fits_i128")?)
    }

    /// `x * 10^shift` exactly, as `i256`.
    pub(super) fn scale_up(&self, x: IntValue<'ctx>, shift: u32) -> R<IntValue<'ctx>> {
        let wide = if x.get_type().get_bit_width() == 256 {
            x
        } else {
            self.b.build_int_s_extend(x, self.i256(), "wide")?
        };
        if shift == 0 {
            return Ok(wide);
        }
        Ok(self
            .b
            .build_int_mul(wide, self.const_i256(pow10(shift)), "scaled")?)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn decimal_arithmetic(
        &mut self,
        e: &Expr,
        op: BinaryOp,
        (_, s1): (u8, u8),
        (_, s2): (u8, u8),
        (p, s): (u8, u8),
        l: Lowered<'ctx>,
        r: Lowered<'ctx>,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let (x, y) = (l.value.into_int_value(), r.value.into_int_value());
        let (v, fail) = match op {
            BinaryOp::Add | BinaryOp::Sub => {
                if s < s1 || s < s2 {
                    return Err(Error::internal(format!("decimal {e} lowers a scale")).into());
                }
                let (k1, k2) = ((s - s1) as u32, (s - s2) as u32);
                let add = op == BinaryOp::Add;
                // As the interpreter: each operand is rescaled in i128 (checked), then added
                // (checked) and held to the result precision. Where both operands fit i64 and
                // the shifts are at most 18 digits, nothing can leave i128: one i128 add.
                let fast = |this: &Self| -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
                    let xs = this.scale_up_i128(this.as_i64_in_i128(x)?, k1)?;
                    let ys = this.scale_up_i128(this.as_i64_in_i128(y)?, k2)?;
                    let v = if add {
                        b.build_int_add(xs, ys, "dadd")?
                    } else {
                        b.build_int_sub(xs, ys, "dsub")?
                    };
                    Ok((v, this.fits_precision_i128(v, p)?))
                };
                let slow = |this: &Self| -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
                    let xs = this.scale_up(x, k1)?;
                    let ys = this.scale_up(y, k2)?;
                    let ok_x = this.fits_i128(xs)?;
                    let ok_y = this.fits_i128(ys)?;
                    let v = if add {
                        b.build_int_add(xs, ys, "dadd")?
                    } else {
                        b.build_int_sub(xs, ys, "dsub")?
                    };
                    let fits = this.fits_precision(v, p)?;
                    let ok = b.build_and(b.build_and(ok_x, ok_y, "ok_xy")?, fits, "ok")?;
                    let v = b.build_int_truncate(v, this.ctx.i128_type(), "dec")?;
                    Ok((v, ok))
                };
                let (v, ok) = if k1 <= 18 && k2 <= 18 {
                    self.narrow_or_wide(x, y, fast, slow)?
                } else {
                    slow(self)?
                };
                (v, b.build_not(ok, "fail")?)
            }
            BinaryOp::Mul => {
                // Operands that fit i64 multiply into i128 exactly (one machine multiply);
                // others in i256.
                let fast = |this: &Self| -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
                    let (x, y) = (this.as_i64_in_i128(x)?, this.as_i64_in_i128(y)?);
                    let v = b.build_int_nsw_mul(x, y, "dmul")?;
                    Ok((v, this.fits_precision_i128(v, p)?))
                };
                let slow = |this: &Self| -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
                    let v = b.build_int_mul(this.scale_up(x, 0)?, this.scale_up(y, 0)?, "dmul")?;
                    let fits = this.fits_precision(v, p)?;
                    let v = b.build_int_truncate(v, this.ctx.i128_type(), "dec")?;
                    Ok((v, fits))
                };
                let (v, ok) = self.narrow_or_wide(x, y, fast, slow)?;
                (v, b.build_not(ok, "fail")?)
            }
            BinaryOp::Div => return self.decimal_divide(e, (s1, s2), (p, s), l, r),
            BinaryOp::Mod => return self.decimal_modulo(e, (s1, s2), (p, s), l, r),
            _ => return Err(Error::internal(format!("{} is not arithmetic", op.symbol())).into()),
        };
        let ty = SqlType::Decimal {
            precision: p,
            scale: s,
        };
        self.combine(e, v.into(), &l, &r, Some((fail, Self::overflow(ty))))
    }

    /// `DECIMAL / DECIMAL` as the interpreter's `decimal::divide`: `a * 10^(s - s1 + s2) / b`,
    /// rounded half away from zero. Fails with division by zero where `b = 0`, and otherwise with
    /// an overflow where the scaled numerator leaves `i128` or the quotient needs more than `p`
    /// digits (both kinds belong to the one node, as for integer `/`).
    fn decimal_divide(
        &mut self,
        e: &Expr,
        (s1, s2): (u8, u8),
        (p, s): (u8, u8),
        l: Lowered<'ctx>,
        r: Lowered<'ctx>,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let i128t = self.ctx.i128_type();
        let (x, y) = (l.value.into_int_value(), r.value.into_int_value());
        let shift = (s as u32 + s2 as u32).saturating_sub(s1 as u32);
        let (num, num_overflow) = if shift <= 38 {
            let wide = self.scale_up(x, shift)?;
            let fits = self.fits_i128(wide)?;
            (
                b.build_int_truncate(wide, i128t, "num")?,
                b.build_not(fits, "num_overflow")?,
            )
        } else {
            // 10^shift itself leaves i128: only a zero numerator fits.
            let nonzero = b.build_int_compare(IntPredicate::NE, x, i128t.const_zero(), "nz")?;
            (i128t.const_zero(), nonzero)
        };
        let zero = b.build_int_compare(IntPredicate::EQ, y, i128t.const_zero(), "by_zero")?;
        let d = b
            .build_select(zero, i128t.const_int(1, false), y, "divisor")?
            .into_int_value();
        let q = self.sdiv_i128(num, d)?;
        let rem = b.build_int_sub(num, b.build_int_mul(q, d, "qd")?, "rem")?;
        // Round half away from zero: |r| >= |d| - |r| (no overflow: |r| < |d| <= 2^127).
        let ra = self.abs_i128(rem)?;
        let da = self.abs_i128(d)?;
        let half = b.build_int_compare(
            IntPredicate::UGE,
            ra,
            b.build_int_sub(da, ra, "d_minus_r")?,
            "half",
        )?;
        let num_neg = b.build_int_compare(IntPredicate::SLT, num, i128t.const_zero(), "num_neg")?;
        let d_neg = b.build_int_compare(IntPredicate::SLT, d, i128t.const_zero(), "d_neg")?;
        let negative = b.build_xor(num_neg, d_neg, "negative")?;
        let step = b
            .build_select(
                negative,
                i128t.const_all_ones(),
                i128t.const_int(1, false),
                "step",
            )?
            .into_int_value();
        let rounded = b.build_int_add(q, step, "rounded")?;
        let q = b
            .build_select(half, rounded, q, "quotient")?
            .into_int_value();
        let at_min =
            b.build_int_compare(IntPredicate::EQ, num, self.const_i128(i128::MIN), "num_min")?;
        let by_minus_one =
            b.build_int_compare(IntPredicate::EQ, d, i128t.const_all_ones(), "by_minus_one")?;
        let wrapped = b.build_and(at_min, by_minus_one, "wrapped")?;
        let fits = self.fits_precision_i128(q, p)?;
        let overflow = b.build_or(
            b.build_or(num_overflow, wrapped, "overflow")?,
            b.build_not(fits, "too_long")?,
            "overflow",
        )?;
        let ty = SqlType::Decimal {
            precision: p,
            scale: s,
        };
        let mut out = self.combine(e, q.into(), &l, &r, Some((zero, ErrorKind::DivisionByZero)))?;
        let fail = b.build_and(overflow, out.valid, "fail")?;
        let own = self.own_error(fail, Self::overflow(ty), e, self.nodes)?;
        out.err = self.first_error(out.err, own)?;
        Ok(out)
    }

    /// `DECIMAL % DECIMAL` as the interpreter: both operands rescaled to the result scale
    /// (checked), then the remainder (the sign of the dividend), held to `p` digits. Division by
    /// zero where `b = 0`; otherwise an overflow.
    fn decimal_modulo(
        &mut self,
        e: &Expr,
        (s1, s2): (u8, u8),
        (p, s): (u8, u8),
        l: Lowered<'ctx>,
        r: Lowered<'ctx>,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let i128t = self.ctx.i128_type();
        if s < s1 || s < s2 {
            return Err(Error::internal(format!("decimal {e} lowers a scale")).into());
        }
        let (x, y) = (l.value.into_int_value(), r.value.into_int_value());
        let xs = self.scale_up(x, (s - s1) as u32)?;
        let ys = self.scale_up(y, (s - s2) as u32)?;
        let ok = b.build_and(self.fits_i128(xs)?, self.fits_i128(ys)?, "scaled_fit")?;
        let xs = b.build_int_truncate(xs, i128t, "xs")?;
        let ys = b.build_int_truncate(ys, i128t, "ys")?;
        let zero = b.build_int_compare(IntPredicate::EQ, y, i128t.const_zero(), "by_zero")?;
        let ys_zero = b.build_int_compare(IntPredicate::EQ, ys, i128t.const_zero(), "ys_zero")?;
        let d = b
            .build_select(ys_zero, i128t.const_int(1, false), ys, "divisor")?
            .into_int_value();
        // MIN % -1: the quotient wraps to MIN, and MIN - MIN * -1 wraps to 0, as `wrapping_rem`.
        let q = self.sdiv_i128(xs, d)?;
        let rem = b.build_int_sub(xs, b.build_int_mul(q, d, "qd")?, "rem")?;
        let fits = self.fits_precision_i128(rem, p)?;
        let overflow = b.build_not(b.build_and(ok, fits, "ok")?, "overflow")?;
        let ty = SqlType::Decimal {
            precision: p,
            scale: s,
        };
        let mut out = self.combine(
            e,
            rem.into(),
            &l,
            &r,
            Some((zero, ErrorKind::DivisionByZero)),
        )?;
        let fail = b.build_and(overflow, out.valid, "fail")?;
        let own = self.own_error(fail, Self::overflow(ty), e, self.nodes)?;
        out.err = self.first_error(out.err, own)?;
        Ok(out)
    }

    /// `|v|` of an `i128`, read as unsigned (`|MIN|` is `2^127`).
    pub(super) fn abs_i128(&self, v: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = v.get_type();
        let neg = b.build_int_compare(IntPredicate::SLT, v, t.const_zero(), "neg")?;
        let minus = b.build_int_sub(t.const_zero(), v, "minus")?;
        Ok(b.build_select(neg, minus, v, "abs")?.into_int_value())
    }

    /// `|v| < 10^precision` for an `i128` value.
    pub(super) fn fits_precision_i128(
        &self,
        v: IntValue<'ctx>,
        precision: u8,
    ) -> R<IntValue<'ctx>> {
        let limit = pow10(precision.min(38) as u32);
        let b = self.b;
        let above =
            b.build_int_compare(IntPredicate::SGT, v, self.const_i128(-limit), "above_min")?;
        let below =
            b.build_int_compare(IntPredicate::SLT, v, self.const_i128(limit), "below_max")?;
        Ok(b.build_and(above, below, "fits")?)
    }

    /// `n / d` truncated toward zero, for `d != 0` (`MIN / -1` wraps to `MIN`), without a library
    /// call.
    pub(super) fn sdiv_i128(&self, n: IntValue<'ctx>, d: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let f = self.sdiv_i128_fn()?;
        self.call(f, &[n.into(), d.into()], "quot")
    }

    /// `v / 10^shift` rounded half away from zero, for an `i128` (as `div_pow10_round`).
    pub(super) fn div_pow10_round(&self, v: IntValue<'ctx>, shift: u32) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = v.get_type();
        if shift == 0 {
            return Ok(v);
        }
        if shift > 38 {
            return Ok(t.const_zero());
        }
        let d = self.const_i128(pow10(shift));
        let q = self.sdiv_i128(v, d)?;
        let rem = b.build_int_sub(v, b.build_int_mul(q, d, "qd")?, "rem")?;
        let ra = self.abs_i128(rem)?;
        let half = b.build_int_compare(
            IntPredicate::UGE,
            ra,
            b.build_int_sub(d, ra, "d_minus_r")?,
            "half",
        )?;
        let neg = b.build_int_compare(IntPredicate::SLT, v, t.const_zero(), "neg")?;
        let step = b
            .build_select(neg, t.const_all_ones(), t.const_int(1, false), "step")?
            .into_int_value();
        let rounded = b.build_int_add(q, step, "rounded")?;
        Ok(b.build_select(half, rounded, q, "div_round")?
            .into_int_value())
    }

    /// `i128 qjit_sdiv_i128(i128 n, i128 d)`: one `i64` division where both operands fit `i64`
    /// (and `d != -1`, whose `i64::MIN / -1` would trap); otherwise binary long division of the
    /// magnitudes, one quotient bit per iteration (at most 128). Not `sdiv i128` (a call to
    /// `__divti3`), nor `sdiv i256` (which LLVM narrows back to `i128` when it can).
    fn sdiv_i128_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let i128t = ctx.i128_type();
        let i64t = ctx.i64_type();
        let bool_t = ctx.bool_type();
        let ctlz = Intrinsic::find("llvm.ctlz")
            .and_then(|i| i.get_declaration(self.module, &[i128t.into()]))
            .ok_or_else(|| Error::internal("no intrinsic llvm.ctlz"))?;
        self.helper(
            "qjit_sdiv_i128",
            i128t,
            &[i128t.into(), i128t.into()],
            |b, f| {
                let n = Self::param_int(f, 0)?;
                let d = Self::param_int(f, 1)?;
                let entry = ctx.append_basic_block(f, "entry");
                let fast = ctx.append_basic_block(f, "fast");
                let slow = ctx.append_basic_block(f, "slow");
                let long = ctx.append_basic_block(f, "long");
                let step = ctx.append_basic_block(f, "step");
                let done = ctx.append_basic_block(f, "done");
                b.position_at_end(entry);
                let fits = |v: IntValue<'ctx>, name: &str| -> R<IntValue<'ctx>> {
                    let short = b.build_int_truncate(v, i64t, name)?;
                    let back = b.build_int_s_extend(short, i128t, name)?;
                    Ok(b.build_int_compare(IntPredicate::EQ, back, v, name)?)
                };
                let small = b.build_and(fits(n, "n_fits")?, fits(d, "d_fits")?, "small")?;
                let not_minus_one =
                    b.build_int_compare(IntPredicate::NE, d, i128t.const_all_ones(), "not_m1")?;
                let fast_ok = b.build_and(small, not_minus_one, "fast_ok")?;
                b.build_conditional_branch(fast_ok, fast, slow)?;

                b.position_at_end(fast);
                let n64 = b.build_int_truncate(n, i64t, "n64")?;
                let d64 = b.build_int_truncate(d, i64t, "d64")?;
                let q64 = b.build_int_signed_div(n64, d64, "q64")?;
                b.build_return(Some(&b.build_int_s_extend(q64, i128t, "q")?))?;

                // Magnitudes (|MIN| = 2^127 as unsigned); no quotient bits if |d| > |n|.
                b.position_at_end(slow);
                let zero = i128t.const_zero();
                let one = i128t.const_int(1, false);
                let n_neg = b.build_int_compare(IntPredicate::SLT, n, zero, "n_neg")?;
                let d_neg = b.build_int_compare(IntPredicate::SLT, d, zero, "d_neg")?;
                let un = b
                    .build_select(n_neg, b.build_int_sub(zero, n, "n_minus")?, n, "un")?
                    .into_int_value();
                let ud = b
                    .build_select(d_neg, b.build_int_sub(zero, d, "d_minus")?, d, "ud")?
                    .into_int_value();
                let bigger = b.build_int_compare(IntPredicate::UGT, ud, un, "d_bigger")?;
                b.build_conditional_branch(bigger, done, long)?;

                // Align |d|'s top bit with |n|'s, then one bit per step.
                b.position_at_end(long);
                let lz = |v: IntValue<'ctx>, name: &str| -> R<IntValue<'ctx>> {
                    Ok(
                        b.build_call(ctlz, &[v.into(), bool_t.const_zero().into()], name)?
                            .try_as_basic_value()
                            .basic()
                            .ok_or_else(|| Error::internal("llvm.ctlz returned nothing"))?
                            .into_int_value(),
                    )
                };
                let shift = b.build_int_sub(lz(ud, "lz_d")?, lz(un, "lz_n")?, "shift")?;
                let aligned = b.build_left_shift(ud, shift, "aligned")?;
                b.build_unconditional_branch(step)?;
                b.position_at_end(step);
                let k = b.build_phi(i128t, "k")?;
                let rest = b.build_phi(i128t, "rest")?;
                let dd = b.build_phi(i128t, "dd")?;
                let q = b.build_phi(i128t, "q")?;
                let (kv, restv, ddv, qv) = (
                    k.as_basic_value().into_int_value(),
                    rest.as_basic_value().into_int_value(),
                    dd.as_basic_value().into_int_value(),
                    q.as_basic_value().into_int_value(),
                );
                let take = b.build_int_compare(IntPredicate::UGE, restv, ddv, "take")?;
                let rest2 = b
                    .build_select(take, b.build_int_sub(restv, ddv, "less")?, restv, "rest2")?
                    .into_int_value();
                let bit = b.build_int_z_extend(take, i128t, "bit")?;
                let q2 = b.build_or(b.build_left_shift(qv, one, "q_shl")?, bit, "q2")?;
                let dd2 = b.build_right_shift(ddv, one, false, "dd2")?;
                let k2 = b.build_int_sub(kv, one, "k2")?;
                let more = b.build_int_compare(IntPredicate::NE, kv, zero, "more")?;
                b.build_conditional_branch(more, step, done)?;
                k.add_incoming(&[(&shift, long), (&k2, step)]);
                rest.add_incoming(&[(&un, long), (&rest2, step)]);
                dd.add_incoming(&[(&aligned, long), (&dd2, step)]);
                q.add_incoming(&[(&zero, long), (&q2, step)]);

                b.position_at_end(done);
                let uq = b.build_phi(i128t, "uq")?;
                uq.add_incoming(&[(&zero, slow), (&q2, step)]);
                let uqv = uq.as_basic_value().into_int_value();
                let negative = b.build_xor(n_neg, d_neg, "negative")?;
                let minus = b.build_int_sub(zero, uqv, "q_minus")?;
                b.build_return(Some(&b.build_select(negative, minus, uqv, "q")?))?;
                Ok(())
            },
        )
    }
}
