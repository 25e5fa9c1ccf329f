//! Arithmetic: checked integer `+ - * / %` and unary `-`, float arithmetic, exact decimal
//! `+ - *` (in `i256`, so that the checks need no library call), and the overflow intrinsics.

use inkwell::intrinsics::Intrinsic;
use inkwell::values::{FloatValue, IntValue};
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

    /// `|v| < 10^precision` for an `i128` value (`precision` ≤ 38).
    fn fits_precision_i128(&self, v: IntValue<'ctx>, precision: u8) -> R<IntValue<'ctx>> {
        let limit = pow10(precision as u32);
        let b = self.b;
        let above =
            b.build_int_compare(IntPredicate::SGT, v, self.const_i128(-limit), "above_min")?;
        let below =
            b.build_int_compare(IntPredicate::SLT, v, self.const_i128(limit), "below_max")?;
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
            BinaryOp::Div => return not_compiled("DECIMAL / is not compiled yet"),
            BinaryOp::Mod => return not_compiled("DECIMAL % is not compiled yet"),
            _ => return Err(Error::internal(format!("{} is not arithmetic", op.symbol())).into()),
        };
        let ty = SqlType::Decimal {
            precision: p,
            scale: s,
        };
        self.combine(e, v.into(), &l, &r, Some((fail, Self::overflow(ty))))
    }
}
