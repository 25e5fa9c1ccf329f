//! `CAST` among integers, floats, decimals and booleans (as the interpreter's `cast` module
//! converts them), and the functions `ABS`, `date + n days`, `date - date`.
//!
//! Not compiled: float → decimal (the interpreter goes through the float's shortest round-trip
//! digits) and decimal → float (correctly rounded through decimal text), and casts from or to
//! `VARCHAR` (they need output buffers or parsing).

use inkwell::types::{BasicTypeEnum, FloatType, IntType};
use inkwell::values::{BasicValueEnum, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::not_compiled;
use crate::error::Error;
use crate::ir::{Expr, Func, SqlType};

impl<'ctx> Lowerer<'_, 'ctx> {
    pub(super) fn int_type_of(&self, ty: SqlType) -> R<IntType<'ctx>> {
        match self.llvm_type(ty)? {
            BasicTypeEnum::IntType(t) => Ok(t),
            _ => Err(Error::internal(format!("{ty} is not an integer type")).into()),
        }
    }

    pub(super) fn float_type_of(&self, ty: SqlType) -> R<FloatType<'ctx>> {
        match self.llvm_type(ty)? {
            BasicTypeEnum::FloatType(t) => Ok(t),
            _ => Err(Error::internal(format!("{ty} is not a float type")).into()),
        }
    }

    /// An integer widened to `i256` (sign- or zero-extended as its type says).
    pub(super) fn widen(&self, x: IntValue<'ctx>, ty: SqlType) -> R<IntValue<'ctx>> {
        Ok(if ty.is_unsigned_integer() {
            self.b.build_int_z_extend(x, self.i256(), "wide")?
        } else {
            self.b.build_int_s_extend(x, self.i256(), "wide")?
        })
    }

    pub(super) fn integer_range(ty: SqlType) -> Option<(i128, i128)> {
        let bits = ty.integer_bits()?;
        Some(if ty.is_signed_integer() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        })
    }

    pub(super) fn cast(
        &mut self,
        e: &Expr,
        a: Lowered<'ctx>,
        from: SqlType,
        to: SqlType,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        if from == to {
            return Ok(a);
        }
        if from == SqlType::Null {
            return Ok(Lowered {
                value: self.zero_of(to)?,
                valid: self.bool_const(false),
                err: a.err,
            });
        }
        if to == SqlType::Utf8 {
            return not_compiled(format!("CAST from {from} to VARCHAR is not compiled yet"));
        }
        if from == SqlType::Utf8 {
            return not_compiled(format!("CAST from VARCHAR to {to} is not compiled yet"));
        }
        let (value, fail): (BasicValueEnum, Option<IntValue>) = if from.is_integer() {
            let x = a.value.into_int_value();
            if let Some((lo, hi)) = Self::integer_range(to) {
                let w = self.widen(x, from)?;
                let ge = b.build_int_compare(IntPredicate::SGE, w, self.const_i256(lo), "ge")?;
                let le = b.build_int_compare(IntPredicate::SLE, w, self.const_i256(hi), "le")?;
                let ok = b.build_and(ge, le, "in_range")?;
                let v = b.build_int_truncate(w, self.int_type_of(to)?, "narrow")?;
                (v.into(), Some(b.build_not(ok, "fail")?))
            } else if to.is_float() {
                let t = self.float_type_of(to)?;
                let v = if from.is_unsigned_integer() {
                    b.build_unsigned_int_to_float(x, t, "itof")?
                } else {
                    b.build_signed_int_to_float(x, t, "itof")?
                };
                (v.into(), None)
            } else if let SqlType::Decimal { precision, scale } = to {
                let w = self.widen(x, from)?;
                let v = self.scale_up(w, scale as u32)?;
                let fits = self.fits_precision(v, precision)?;
                let d = b.build_int_truncate(v, self.ctx.i128_type(), "dec")?;
                (d.into(), Some(b.build_not(fits, "fail")?))
            } else if to == SqlType::Boolean {
                let v = b.build_int_compare(IntPredicate::NE, x, x.get_type().const_zero(), "b")?;
                (v.into(), None)
            } else {
                return not_compiled(format!("CAST from {from} to {to} is not compiled yet"));
            }
        } else if from == SqlType::Boolean && to.is_integer() {
            let v =
                b.build_int_z_extend(a.value.into_int_value(), self.int_type_of(to)?, "btoi")?;
            (v.into(), None)
        } else if from.is_float() && to.is_float() {
            let x = a.value.into_float_value();
            let t = self.float_type_of(to)?;
            let v = if to == SqlType::Float64 {
                b.build_float_ext(x, t, "fext")?
            } else {
                b.build_float_trunc(x, t, "ftrunc")?
            };
            (v.into(), None)
        } else if from.is_float() && to.is_integer() {
            // As the interpreter: round half to even in f64, then a range check that NaN fails.
            let (lo, hi) = Self::integer_range(to)
                .ok_or_else(|| Error::internal(format!("{to} has no range")))?;
            let f64t = self.ctx.f64_type();
            let mut x = a.value.into_float_value();
            if from == SqlType::Float32 {
                x = b.build_float_ext(x, f64t, "x64")?;
            }
            let r = self.unary_intrinsic("llvm.roundeven", x)?;
            let ge =
                b.build_float_compare(FloatPredicate::OGE, r, f64t.const_float(lo as f64), "ge")?;
            let lt = b.build_float_compare(
                FloatPredicate::OLT,
                r,
                f64t.const_float((hi + 1) as f64),
                "lt",
            )?;
            let ok = b.build_and(ge, lt, "in_range")?;
            let safe = b
                .build_select(ok, r, f64t.const_zero(), "safe")?
                .into_float_value();
            let t = self.int_type_of(to)?;
            let v = if to.is_unsigned_integer() {
                b.build_float_to_unsigned_int(safe, t, "ftoi")?
            } else {
                b.build_float_to_signed_int(safe, t, "ftoi")?
            };
            (v.into(), Some(b.build_not(ok, "fail")?))
        } else if let (Some((_, s1)), Some((p2, s2))) = (from.decimal_parts(), to.decimal_parts()) {
            let x = a.value.into_int_value();
            if s2 < s1 {
                // Rounded half away from zero; the result only ever shrinks.
                let v = self.div_pow10_round(x, (s1 - s2) as u32)?;
                let fits = self.fits_precision_i128(v, p2)?;
                (v.into(), Some(b.build_not(fits, "fail")?))
            } else {
                let v = self.scale_up(x, (s2 - s1) as u32)?;
                let fits = self.fits_precision(v, p2)?;
                let d = b.build_int_truncate(v, self.ctx.i128_type(), "dec")?;
                (d.into(), Some(b.build_not(fits, "fail")?))
            }
        } else if let (Some((_, s1)), Some((lo, hi))) =
            (from.decimal_parts(), Self::integer_range(to))
        {
            // Rounded half away from zero to an integer, then range-checked.
            let v = self.div_pow10_round(a.value.into_int_value(), s1 as u32)?;
            let ge = b.build_int_compare(IntPredicate::SGE, v, self.const_i128(lo), "ge")?;
            let le = b.build_int_compare(IntPredicate::SLE, v, self.const_i128(hi), "le")?;
            let ok = b.build_and(ge, le, "in_range")?;
            let n = b.build_int_truncate(v, self.int_type_of(to)?, "narrow")?;
            (n.into(), Some(b.build_not(ok, "fail")?))
        } else {
            return not_compiled(format!("CAST from {from} to {to} is not compiled yet"));
        };
        let fail = fail.map(|f| (f, Self::overflow(to)));
        self.unary_result(e, value, &a, fail)
    }

    pub(super) fn func(&mut self, e: &Expr, func: Func, args: &[Expr]) -> R<Lowered<'ctx>> {
        let b = self.b;
        match (func, args) {
            (Func::Abs, [x]) => {
                let ty = x.ty();
                let a = self.lower(x)?;
                if ty.is_float() {
                    let v = self.unary_intrinsic("llvm.fabs", a.value.into_float_value())?;
                    return self.unary_result(e, v.into(), &a, None);
                }
                if ty.is_unsigned_integer() {
                    return Ok(a);
                }
                let v = a.value.into_int_value();
                let t = v.get_type();
                let negative = b.build_int_compare(IntPredicate::SLT, v, t.const_zero(), "neg")?;
                let negated = b.build_int_sub(t.const_zero(), v, "negated")?;
                let abs = b.build_select(negative, negated, v, "abs")?;
                let min = if ty.is_decimal() {
                    self.const_i128(i128::MIN)
                } else {
                    t.const_int(1u64 << (t.get_bit_width() - 1), false)
                };
                let fail = b.build_int_compare(IntPredicate::EQ, v, min, "abs_fail")?;
                self.unary_result(e, abs, &a, Some((fail, Self::overflow(ty))))
            }
            (Func::DateAddDays, [d, n]) => {
                let l = self.lower(d)?;
                let r = self.lower(n)?;
                let (v, o) =
                    self.with_overflow("sadd", l.value.into_int_value(), r.value.into_int_value())?;
                self.combine(
                    e,
                    v.into(),
                    &l,
                    &r,
                    Some((o, Self::overflow(SqlType::Date))),
                )
            }
            (Func::DateDiffDays, [x, y]) => {
                let l = self.lower(x)?;
                let r = self.lower(y)?;
                let (v, o) =
                    self.with_overflow("ssub", l.value.into_int_value(), r.value.into_int_value())?;
                self.combine(
                    e,
                    v.into(),
                    &l,
                    &r,
                    Some((o, Self::overflow(SqlType::Int32))),
                )
            }
            (other, _) => not_compiled(format!("{} is not compiled yet", func_name(other))),
        }
    }
}

/// A function as SQL spells it, for "not compiled" reasons.
fn func_name(func: Func) -> String {
    match func {
        Func::Abs => "ABS".into(),
        Func::Round { .. } => "ROUND".into(),
        Func::Length => "LENGTH".into(),
        Func::Upper => "UPPER".into(),
        Func::Lower => "LOWER".into(),
        Func::Substring => "SUBSTRING".into(),
        Func::Extract(part) => format!("EXTRACT({})", format!("{part:?}").to_uppercase()),
        Func::DateAddDays => "date + INTERVAL … DAY".into(),
        Func::DateAddMonths => "date + INTERVAL … MONTH".into(),
        Func::DateDiffDays => "date - date".into(),
    }
}
