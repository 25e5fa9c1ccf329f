//! `CAST` among integers, floats, decimals and booleans (as the interpreter's `cast` module
//! converts them), and the functions `ABS`, `ROUND`, `EXTRACT(YEAR|MONTH|DAY)` (the civil
//! calendar of `ir::scalar::civil_from_days`, in `i64` arithmetic), `date + n days`,
//! `date + n months` (the day clamped to the month's end) and `date - date`.
//!
//! Float → decimal and decimal → float (through decimal digits) are in `float_cast`; casts from
//! and to `VARCHAR` in `text` (floats: `float_cast`).

use inkwell::intrinsics::Intrinsic;
use inkwell::types::{BasicTypeEnum, FloatType, IntType};
use inkwell::values::{BasicValueEnum, FloatValue, IntValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::not_compiled;
use crate::error::Error;
use crate::ir::{DatePart, Expr, Func, SqlType};

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
        if to == SqlType::Utf8 && (from.is_timestamp() || from == SqlType::Interval) {
            return self.time_to_text(a, from);
        }
        if from == SqlType::Utf8 && to.is_timestamp() {
            return self.text_to_timestamp(a, to);
        }
        if to == SqlType::Utf8 && from.is_float() {
            return self.float_to_text(a, from);
        }
        if to == SqlType::Utf8 {
            return self.cast_to_text(a, from);
        }
        if from == SqlType::Utf8 && to.is_float() {
            return self.text_to_float(e, a, to);
        }
        if from == SqlType::Utf8 {
            return self.cast_from_text(a, to);
        }
        if let Some(done) = self.time_cast(e, &a, from, to)? {
            return Ok(done);
        }
        if let (true, Some(parts)) = (from.is_float(), to.decimal_parts()) {
            return self.float_to_decimal(e, a, from, parts);
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
        } else if let (Some((_, s1)), true) = (from.decimal_parts(), to.is_float()) {
            return self.decimal_to_float(a, s1, to);
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
            (Func::Round { digits }, [x]) => {
                let a = self.lower(x)?;
                self.round(e, x.ty(), digits, a)
            }
            (Func::Extract(_), [x]) if x.ty().is_timestamp() => self.timestamp_func(e, func, args),
            (
                Func::ToLocal(z)
                | Func::FromLocal(z)
                | Func::ZonedText(z)
                | Func::ParseZoned(z, _)
                | Func::DateTruncIn(_, z)
                | Func::FormatIn(_, z),
                _,
            ) => not_compiled(format!(
                "{} depends on the session time zone ({z}): zone rules run in the interpreter",
                func.name()
            )),
            (
                Func::DateTrunc(_) | Func::AddInterval(_) | Func::TimestampDiff | Func::Format(_),
                _,
            ) => self.timestamp_func(e, func, args),
            (Func::Extract(part), [d]) => {
                let a = self.lower(d)?;
                let days =
                    b.build_int_s_extend(a.value.into_int_value(), self.ctx.i64_type(), "days")?;
                let v = self.date_part(part, days)?;
                let v = b.build_int_truncate(v, self.ctx.i32_type(), "part")?;
                self.unary_result(e, v.into(), &a, None)
            }
            (Func::DateAddMonths, [d, n]) => {
                let l = self.lower(d)?;
                let r = self.lower(n)?;
                let i64t = self.ctx.i64_type();
                let days = b.build_int_s_extend(l.value.into_int_value(), i64t, "days")?;
                let months = b.build_int_s_extend(r.value.into_int_value(), i64t, "months")?;
                let v = self.add_months_to_days(days, months)?;
                let fail = self.outside_i32(v)?;
                let v = b.build_int_truncate(v, self.ctx.i32_type(), "date")?;
                self.combine(
                    e,
                    v.into(),
                    &l,
                    &r,
                    Some((fail, Self::overflow(SqlType::Date))),
                )
            }
            (Func::Length, [x]) => {
                let a = self.lower(x)?;
                let (v, fail) = self.char_length(a.value)?;
                self.unary_result(
                    e,
                    v.into(),
                    &a,
                    Some((fail, Self::overflow(SqlType::Int32))),
                )
            }
            (Func::Substring, [text, start, rest @ ..]) if rest.len() <= 1 => {
                let t = self.lower(text)?;
                let s = self.lower(start)?;
                let count = match rest.first() {
                    Some(c) => Some(self.lower(c)?),
                    None => None,
                };
                self.substring(e, t, s, count)
            }
            (Func::Sign | Func::Floor | Func::Ceil, [x]) => {
                let ty = x.ty();
                let a = self.lower(x)?;
                let v = if ty.is_float() {
                    let x = a.value.into_float_value();
                    match func {
                        Func::Floor => self.unary_intrinsic("llvm.floor", x)?,
                        Func::Ceil => self.unary_intrinsic("llvm.ceil", x)?,
                        _ => {
                            // C's comparisons: NaN and -0.0 have sign 0, as in PostgreSQL.
                            let t = x.get_type();
                            let zero = t.const_zero();
                            let pos = b.build_float_compare(FloatPredicate::OGT, x, zero, "pos")?;
                            let neg = b.build_float_compare(FloatPredicate::OLT, x, zero, "neg")?;
                            let minus = b.build_select(neg, t.const_float(-1.0), zero, "m")?;
                            b.build_select(pos, t.const_float(1.0).into(), minus, "sign")?
                                .into_float_value()
                        }
                    }
                    .into()
                } else {
                    let Some((_, scale)) = ty.decimal_parts() else {
                        return not_compiled(format!("{} of {ty}", func.name()));
                    };
                    let v = a.value.into_int_value();
                    let t = v.get_type();
                    let zero = t.const_zero();
                    match func {
                        Func::Sign => {
                            let pos = b.build_int_compare(IntPredicate::SGT, v, zero, "pos")?;
                            let neg = b.build_int_compare(IntPredicate::SLT, v, zero, "neg")?;
                            let p = b.build_int_z_extend(pos, t, "p")?;
                            let n = b.build_int_z_extend(neg, t, "n")?;
                            b.build_int_sub(p, n, "sign")?.into()
                        }
                        _ => {
                            // Truncate, then step toward -inf (FLOOR) or +inf (CEIL) where a
                            // remainder of that sign is left.
                            let unit = self.const_i128(crate::ir::scalar::pow10(u32::from(scale)));
                            let q = b.build_int_signed_div(v, unit, "q")?;
                            let r = b.build_int_signed_rem(v, unit, "r")?;
                            let (pred, step) = if func == Func::Floor {
                                (IntPredicate::SLT, t.const_all_ones())
                            } else {
                                (IntPredicate::SGT, t.const_int(1, false))
                            };
                            let off = b.build_int_compare(pred, r, zero, "off")?;
                            let stepped = b.build_int_add(q, step, "stepped")?;
                            b.build_select(off, stepped, q, "rounded")?
                        }
                    }
                };
                self.unary_result(e, v, &a, None)
            }
            (Func::Sqrt | Func::Ln | Func::Exp | Func::Power, _) => self.math(e, func, args),
            (Func::Replace | Func::Pad { .. }, _) => self.build_by_runtime(func, args),
            (Func::StrPos, [x, sub]) => {
                let a = self.lower(x)?;
                let n = self.lower(sub)?;
                let (hp, hl) = self.string_parts(a.value)?;
                let (np, nl) = self.string_parts(n.value)?;
                let valid = b.build_and(a.valid, n.valid, "valid")?;
                let i32t = self.ctx.i32_type();
                // Only rows where both are valid call the search.
                let found = self.call_runtime_where(
                    valid,
                    crate::codegen::runtime::RuntimeFn::StrPos,
                    &[hp.into(), hl.into(), np.into(), nl.into()],
                    |l, at| {
                        let at =
                            l.b.build_int_truncate(at.into_int_value(), i32t, "strpos")?;
                        Ok(vec![at.into()])
                    },
                    &[i32t.const_zero().into()],
                )?;
                self.combine(e, found[0], &a, &n, None)
            }
            (Func::Trim { leading, trailing }, [x, chars]) => {
                self.trim(x, chars, leading, trailing)
            }
            (Func::Upper, [x]) => self.change_case(x, true),
            (Func::Lower, [x]) => self.change_case(x, false),
            (other, _) => not_compiled(format!("{} is not compiled yet", other.name())),
        }
    }

    /// `ROUND(x, digits)` as `interp::funcs::round`: integers and decimals half away from zero
    /// (checked), floats half to even through `f64` with the interpreter's `round_float` steps.
    fn round(&mut self, e: &Expr, ty: SqlType, digits: i32, a: Lowered<'ctx>) -> R<Lowered<'ctx>> {
        let b = self.b;
        if ty.is_integer() {
            if digits >= 0 {
                return Ok(a);
            }
            let (lo, hi) = Self::integer_range(ty)
                .ok_or_else(|| Error::internal(format!("{ty} has no range")))?;
            let shift = digits.unsigned_abs();
            if shift > 38 {
                let t = self.int_type_of(ty)?;
                return self.unary_result(e, t.const_zero().into(), &a, None);
            }
            let x = a.value.into_int_value();
            let w = if ty.is_unsigned_integer() {
                b.build_int_z_extend(x, self.ctx.i128_type(), "w")?
            } else {
                b.build_int_s_extend(x, self.ctx.i128_type(), "w")?
            };
            let q = self.div_pow10_round(w, shift)?;
            let r = self.scale_up(q, shift)?;
            let ge = b.build_int_compare(IntPredicate::SGE, r, self.const_i256(lo), "ge")?;
            let le = b.build_int_compare(IntPredicate::SLE, r, self.const_i256(hi), "le")?;
            let fail = b.build_not(b.build_and(ge, le, "in_range")?, "fail")?;
            let v = b.build_int_truncate(r, self.int_type_of(ty)?, "rounded")?;
            let rty = e.ty();
            return self.unary_result(e, v.into(), &a, Some((fail, Self::overflow(rty))));
        }
        if ty.is_float() {
            let f64t = self.ctx.f64_type();
            let mut x = a.value.into_float_value();
            if ty == SqlType::Float32 {
                x = b.build_float_ext(x, f64t, "x64")?;
            }
            let y = if digits >= 0 {
                let p = 10f64.powi(digits);
                if !p.is_finite() {
                    x
                } else {
                    let pc = f64t.const_float(p);
                    let scaled = b.build_float_mul(x, pc, "scaled")?;
                    let r = self.unary_intrinsic("llvm.roundeven", scaled)?;
                    let y = b.build_float_div(r, pc, "unscaled")?;
                    // A result that is not finite gives back x.
                    let finite = b.build_float_compare(
                        FloatPredicate::OLT,
                        self.unary_intrinsic("llvm.fabs", y)?,
                        f64t.const_float(f64::INFINITY),
                        "finite",
                    )?;
                    b.build_select(finite, y, x, "round")?.into_float_value()
                }
            } else {
                let p = 10f64.powi(-digits);
                if !p.is_finite() {
                    // NaN stays NaN; anything else becomes a zero of its sign.
                    let nan = b.build_float_compare(FloatPredicate::UNO, x, x, "nan")?;
                    let neg = b.build_float_compare(
                        FloatPredicate::OLT,
                        self.copysign_one(x)?,
                        f64t.const_zero(),
                        "neg",
                    )?;
                    let zero = b
                        .build_select(neg, f64t.const_float(-0.0), f64t.const_zero(), "zero")?
                        .into_float_value();
                    b.build_select(nan, x, zero, "round")?.into_float_value()
                } else {
                    let pc = f64t.const_float(p);
                    let scaled = b.build_float_div(x, pc, "scaled")?;
                    let r = self.unary_intrinsic("llvm.roundeven", scaled)?;
                    b.build_float_mul(r, pc, "round")?
                }
            };
            let v = if ty == SqlType::Float32 {
                b.build_float_trunc(y, self.float_type_of(ty)?, "round32")?
            } else {
                y
            };
            return self.unary_result(e, v.into(), &a, None);
        }
        let (Some((_, scale)), Some((precision, _))) = (ty.decimal_parts(), e.ty().decimal_parts())
        else {
            return Err(Error::internal(format!("ROUND of {ty}")).into());
        };
        if digits >= scale as i32 {
            return Ok(a);
        }
        let drop = (scale as i64 - digits as i64).min(u32::MAX as i64) as u32;
        let up = (-(digits as i64)).max(0);
        let q = self.div_pow10_round(a.value.into_int_value(), drop)?;
        let (v, fail) = if up == 0 {
            (
                q,
                b.build_not(self.fits_precision_i128(q, precision)?, "fail")?,
            )
        } else if up > 38 {
            let nonzero =
                b.build_int_compare(IntPredicate::NE, q, q.get_type().const_zero(), "nonzero")?;
            (q.get_type().const_zero(), nonzero)
        } else {
            let r = self.scale_up(q, up as u32)?;
            let fits = self.fits_precision(r, precision)?;
            let v = b.build_int_truncate(r, self.ctx.i128_type(), "rounded")?;
            (v, b.build_not(fits, "fail")?)
        };
        let rty = e.ty();
        self.unary_result(e, v.into(), &a, Some((fail, Self::overflow(rty))))
    }

    /// `copysign(1.0, x)`.
    fn copysign_one(&self, x: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let f = Intrinsic::find("llvm.copysign")
            .and_then(|i| i.get_declaration(self.module, &[x.get_type().into()]))
            .ok_or_else(|| Error::internal("no intrinsic llvm.copysign"))?;
        let one = x.get_type().const_float(1.0);
        Ok(self
            .b
            .build_call(f, &[one.into(), x.into()], "sign")?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal("llvm.copysign returned nothing"))?
            .into_float_value())
    }

    /// `x.div_euclid(c)` for an `i64` and a positive constant.
    pub(super) fn floor_div(&self, x: IntValue<'ctx>, c: u64) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = x.get_type();
        let cv = t.const_int(c, false);
        let q = b.build_int_signed_div(x, cv, "q")?;
        let r = b.build_int_sub(x, b.build_int_mul(q, cv, "qc")?, "r")?;
        let neg = b.build_int_compare(IntPredicate::SLT, r, t.const_zero(), "r_neg")?;
        let down = b.build_int_sub(q, t.const_int(1, false), "q_down")?;
        Ok(b.build_select(neg, down, q, "floor")?.into_int_value())
    }

    /// `(year, month, day)` of a day number, all `i64`, as `ir::scalar::civil_from_days`.
    /// `SQRT`, `LN`, `EXP` or `POWER` of `DOUBLE`s: `SQRT` is the instruction, the others call
    /// the runtime functions the interpreter's `f64` methods are. Each domain error of
    /// [`Func::domain_errors`] has a rank of its own, in their order.
    fn math(&mut self, e: &Expr, func: Func, args: &[Expr]) -> R<Lowered<'ctx>> {
        use crate::codegen::runtime::RuntimeFn;
        let b = self.b;
        let lowered = args
            .iter()
            .map(|a| self.lower(a))
            .collect::<R<Vec<Lowered<'ctx>>>>()?;
        let (Some(x), y) = (lowered.first(), lowered.get(1)) else {
            return Err(Error::internal("a math function without arguments").into());
        };
        let xv = x.value.into_float_value();
        let yv = y.map(|y| y.value.into_float_value());
        let f64t = self.ctx.f64_type();
        let zero = f64t.const_zero();
        let mut valid = x.valid;
        let mut err = x.err;
        if let Some(y) = y {
            valid = b.build_and(valid, y.valid, "valid")?;
            err = self.first_error(err, y.err)?;
        }
        let value = match (func, yv) {
            (Func::Sqrt, _) => self.unary_intrinsic("llvm.sqrt", xv)?,
            (Func::Ln | Func::Exp, _) => {
                let f = if func == Func::Ln {
                    RuntimeFn::Ln
                } else {
                    RuntimeFn::Exp
                };
                self.call_float(f, &[xv])?
            }
            (_, Some(yv)) => self.call_float(RuntimeFn::Pow, &[xv, yv])?,
            _ => return Err(Error::internal("POWER without its exponent").into()),
        };
        let lt = |v, w, name| b.build_float_compare(FloatPredicate::OLT, v, w, name);
        let eq = |v, w, name| b.build_float_compare(FloatPredicate::OEQ, v, w, name);
        for (kind, message) in func.domain_errors().iter().enumerate() {
            let outside = match (func, kind, yv) {
                (Func::Sqrt, _, _) => lt(xv, zero, "negative")?,
                (Func::Ln, 0, _) => eq(xv, zero, "zero")?,
                (Func::Ln, _, _) => lt(xv, zero, "negative")?,
                (Func::Power, 0, Some(yv)) => {
                    b.build_and(eq(xv, zero, "zero")?, lt(yv, zero, "neg_exp")?, "zero_neg")?
                }
                (Func::Power, _, Some(yv)) => {
                    let fl = self.unary_intrinsic("llvm.floor", yv)?;
                    // `one` (ordered and unequal) is false for a NaN `y`, as the interpreter's
                    // `!is_nan()` is, and for an infinite one (its own floor).
                    let fraction =
                        b.build_float_compare(FloatPredicate::ONE, fl, yv, "fraction")?;
                    b.build_and(lt(xv, zero, "negative")?, fraction, "complex")?
                }
                _ => return Err(Error::internal("an unknown domain error").into()),
            };
            let fail = b.build_and(outside, valid, "fail")?;
            let node = self.new_node();
            let kind = crate::codegen::ErrorKind::InvalidArgument {
                message: (*message).into(),
            };
            let own = self.own_error(fail, kind, e, node)?;
            err = self.first_error(err, own)?;
        }
        Ok(Lowered {
            value: value.into(),
            valid,
            err,
        })
    }

    /// Calls the `double` runtime function `f` on `args`.
    fn call_float(
        &self,
        f: crate::codegen::runtime::RuntimeFn,
        args: &[FloatValue<'ctx>],
    ) -> R<FloatValue<'ctx>> {
        let args: Vec<_> = args.iter().map(|a| (*a).into()).collect();
        Ok(self
            .b
            .build_call(self.runtime_fn(f), &args, f.symbol())?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal(format!("{} returns nothing", f.symbol())))?
            .into_float_value())
    }

    /// `part` of the date `days` (`i64` days since 1970-01-01), as [`DatePart::of_days`]
    /// computes it.
    pub(super) fn date_part(&self, part: DatePart, days: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = days.get_type();
        let c = |v: u64| t.const_int(v, false);
        // `x mod 7` in 0..7.
        let mod7 = |x: IntValue<'ctx>| -> R<IntValue<'ctx>> {
            let q = self.floor_div(x, 7)?;
            Ok(b.build_int_sub(x, b.build_int_mul(q, c(7), "q7")?, "mod7")?)
        };
        let (y, m, day) = self.civil_from_days(days)?;
        Ok(match part {
            DatePart::Year => y,
            DatePart::Month => m,
            DatePart::Day => day,
            DatePart::Quarter => {
                let m0 = b.build_int_sub(m, c(1), "m0")?;
                let q0 = b.build_int_unsigned_div(m0, c(3), "q0")?;
                b.build_int_add(q0, c(1), "quarter")?
            }
            DatePart::DayOfWeek => mod7(b.build_int_add(days, c(4), "d4")?)?,
            DatePart::DayOfYear => {
                let jan1 = self.days_from_civil(y, c(1), c(1))?;
                let before = b.build_int_sub(days, jan1, "before")?;
                b.build_int_add(before, c(1), "doy")?
            }
            DatePart::Week => {
                let iso_dow =
                    b.build_int_add(mod7(b.build_int_add(days, c(3), "d3")?)?, c(1), "iso")?;
                let thursday =
                    b.build_int_add(b.build_int_sub(days, iso_dow, "mon0")?, c(4), "thu")?;
                let (ty, _, _) = self.civil_from_days(thursday)?;
                let jan1 = self.days_from_civil(ty, c(1), c(1))?;
                let since = b.build_int_sub(thursday, jan1, "since")?;
                // `since` is 0..=365: unsigned division is floor division.
                let weeks = b.build_int_unsigned_div(since, c(7), "weeks")?;
                b.build_int_add(weeks, c(1), "week")?
            }
            DatePart::Hour
            | DatePart::Minute
            | DatePart::Second
            | DatePart::Millisecond
            | DatePart::Microsecond
            | DatePart::Epoch => {
                return Err(Error::internal(format!(
                    "EXTRACT({}) of a DATE reached the code generator",
                    part.sql_name()
                ))
                .into())
            }
        })
    }

    pub(super) fn civil_from_days(
        &self,
        days: IntValue<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let t = days.get_type();
        let c = |v: i64| t.const_int(v as u64, true);
        // Below, every dividend is not negative: unsigned division by constants.
        let udiv = |x: IntValue<'ctx>, d: i64, name: &str| b.build_int_unsigned_div(x, c(d), name);
        let z = b.build_int_add(days, c(719468), "z")?;
        let era = self.floor_div(z, 146097)?;
        let doe = b.build_int_sub(z, b.build_int_mul(era, c(146097), "era_days")?, "doe")?;
        let yoe = {
            let x = b.build_int_sub(doe, udiv(doe, 1460, "d1460")?, "y1")?;
            let x = b.build_int_add(x, udiv(doe, 36524, "d36524")?, "y2")?;
            let x = b.build_int_sub(x, udiv(doe, 146096, "d146096")?, "y3")?;
            udiv(x, 365, "yoe")?
        };
        let year_days = b.build_int_add(
            b.build_int_mul(yoe, c(365), "y365")?,
            b.build_int_sub(udiv(yoe, 4, "y4")?, udiv(yoe, 100, "y100")?, "leaps")?,
            "year_days",
        )?;
        let doy = b.build_int_sub(doe, year_days, "doy")?;
        let mp = udiv(
            b.build_int_add(b.build_int_mul(doy, c(5), "doy5")?, c(2), "doy52")?,
            153,
            "mp",
        )?;
        let month_start = udiv(
            b.build_int_add(b.build_int_mul(mp, c(153), "mp153")?, c(2), "mp2")?,
            5,
            "month_start",
        )?;
        let day = b.build_int_add(b.build_int_sub(doy, month_start, "d0")?, c(1), "day")?;
        let early = b.build_int_compare(IntPredicate::SLT, mp, c(10), "early")?;
        let month = b
            .build_select(
                early,
                b.build_int_add(mp, c(3), "m_hi")?,
                b.build_int_sub(mp, c(9), "m_lo")?,
                "month",
            )?
            .into_int_value();
        let jan_feb = b.build_int_compare(IntPredicate::SLE, month, c(2), "jan_feb")?;
        let year = b.build_int_add(
            b.build_int_add(yoe, b.build_int_mul(era, c(400), "era400")?, "y")?,
            b.build_int_z_extend(jan_feb, t, "next_year")?,
            "year",
        )?;
        Ok((year, month, day))
    }

    /// The day number of a civil date (`i64`s), as `ir::scalar::days_from_civil`.
    pub(super) fn days_from_civil(
        &self,
        year: IntValue<'ctx>,
        month: IntValue<'ctx>,
        day: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = year.get_type();
        let c = |v: i64| t.const_int(v as u64, true);
        let jan_feb = b.build_int_compare(IntPredicate::SLE, month, c(2), "jan_feb")?;
        let y = b
            .build_select(jan_feb, b.build_int_sub(year, c(1), "y_prev")?, year, "y")?
            .into_int_value();
        let era = self.floor_div(y, 400)?;
        let yoe = b.build_int_sub(y, b.build_int_mul(era, c(400), "era400")?, "yoe")?;
        // (month + 9) % 12 for month in 1..=12.
        let mp = b
            .build_select(
                jan_feb,
                b.build_int_add(month, c(9), "mp_hi")?,
                b.build_int_sub(month, c(3), "mp_lo")?,
                "mp",
            )?
            .into_int_value();
        let doy = b.build_int_add(
            b.build_int_unsigned_div(
                b.build_int_add(b.build_int_mul(mp, c(153), "mp153")?, c(2), "mp2")?,
                c(5),
                "month_start",
            )?,
            b.build_int_sub(day, c(1), "d0")?,
            "doy",
        )?;
        let doe = b.build_int_add(
            b.build_int_add(
                b.build_int_mul(yoe, c(365), "y365")?,
                b.build_int_sub(
                    b.build_int_unsigned_div(yoe, c(4), "y4")?,
                    b.build_int_unsigned_div(yoe, c(100), "y100")?,
                    "leaps",
                )?,
                "year_days",
            )?,
            doy,
            "doe",
        )?;
        let days = b.build_int_add(b.build_int_mul(era, c(146097), "era_days")?, doe, "days")?;
        Ok(b.build_int_sub(days, c(719468), "epoch")?)
    }

    /// The number of days of `month` (1–12) in `year` (`i64`s).
    pub(super) fn days_in_month(
        &self,
        year: IntValue<'ctx>,
        month: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = year.get_type();
        let c = |v: i64| t.const_int(v as u64, true);
        let divisible = |d: i64, name: &str| -> R<IntValue<'ctx>> {
            let r = b.build_int_signed_rem(year, c(d), name)?;
            Ok(b.build_int_compare(IntPredicate::EQ, r, c(0), name)?)
        };
        let leap = b.build_or(
            b.build_and(
                divisible(4, "by4")?,
                b.build_not(divisible(100, "by100")?, "not_by100")?,
                "leap4",
            )?,
            divisible(400, "by400")?,
            "leap",
        )?;
        // 30 for April, June, September, November; 31 for the other months but February.
        let is = |m: i64, name: &str| b.build_int_compare(IntPredicate::EQ, month, c(m), name);
        let thirty = b.build_or(
            b.build_or(is(4, "apr")?, is(6, "jun")?, "thirty1")?,
            b.build_or(is(9, "sep")?, is(11, "nov")?, "thirty2")?,
            "thirty",
        )?;
        let feb = b.build_select(leap, c(29), c(28), "feb")?.into_int_value();
        let other = b
            .build_select(thirty, c(30), c(31), "other")?
            .into_int_value();
        Ok(b.build_select(is(2, "is_feb")?, feb, other, "month_days")?
            .into_int_value())
    }
}
