//! The casts that depend on a float's decimal digits: `REAL`/`DOUBLE` to and from `VARCHAR`,
//! to `DECIMAL`, and from `DECIMAL`. Each converts in IR the rows where a few instructions give
//! the interpreter's exact answer, and calls a runtime function ([`crate::codegen::runtime`],
//! the interpreter's own routine) for the other valid rows, in a block those rows alone enter.
//!
//! | cast | in IR (fast path) | runtime call |
//! |---|---|---|
//! | float → `VARCHAR` | integral values below 2^53 (`REAL`: 2^24), whose shortest digits are the integer's: `-0`, `12` | every other value: `1.5`, `1e-7` as `0.0000001`, `NaN`, `inf` |
//! | `VARCHAR` → float | `[+-]digits[.digits]` after ASCII white space, at most 18 significant digits, whose digits are at most 2^53 (`REAL`: 2^24) with at most 22 (10) after the point: one correctly rounded division | everything else, including invalid text |
//! | float → `DECIMAL(p,s)` | integral values below 2^53 (`REAL`: 2^24), exact: `x * 10^s`, checked against `p` | every other value, including NaN and ±inf |
//! | `DECIMAL(p,s)` → float | values at most 2^53 (`REAL`: 2^24) in magnitude with `s` at most 22 (10): one correctly rounded division | every other value |
//!
//! Errors: text that is not a number is [`ErrorKind::InvalidCast`], a float without a decimal of
//! the precision (NaN, ±inf, too many digits) [`ErrorKind::Overflow`]; the executor asks the
//! interpreter for the exact message. Float → `VARCHAR` writes into the row's scratch area, so it
//! compiles in filter and projection kernels only (a row whose text does not fit hands the batch
//! back); the other three compile in every kernel.

use inkwell::values::{FloatValue, IntValue};
use inkwell::{AddressSpace, FloatPredicate, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::abi::ScratchNeed;
use crate::codegen::runtime::{RuntimeFn, NO_ROOM};
use crate::codegen::ErrorKind;
use crate::ir::{Expr, SqlType};

/// The longest text of a `DOUBLE`: a sign, `0.`, 323 zeros and a digit (`-5e-324`), or a sign,
/// `0.`, 307 zeros and 17 digits (`-2.2250738585072014e-308`). Checked in the tests.
pub(super) const F64_TEXT_MAX: u64 = 327;
/// The longest text of a `REAL`: a sign, `0.`, 44 zeros and a digit (`-1e-45`), or a sign,
/// `0.`, 37 zeros and 8 digits (`-1.1754944e-38`).
pub(super) const F32_TEXT_MAX: u64 = 48;

/// For a float type: the bits of its mantissa (every integer up to `2^bits` is exact, and its
/// shortest digits are its own) and the largest `k` with `10^k` exact.
fn exact_limits(ty: SqlType) -> (u32, u8) {
    if ty == SqlType::Float32 {
        (24, 10)
    } else {
        (53, 22)
    }
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `i1`: `x` is an integer of magnitude below `2^bits` (false for NaN and ±inf).
    fn small_integral(&self, x: FloatValue<'ctx>, bits: u32) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = x.get_type();
        let whole = self.unary_intrinsic("llvm.trunc", x)?;
        let integral = b.build_float_compare(FloatPredicate::OEQ, whole, x, "integral")?;
        let magnitude = self.unary_intrinsic("llvm.fabs", x)?;
        let small = b.build_float_compare(
            FloatPredicate::OLT,
            magnitude,
            t.const_float(2f64.powi(bits as i32)),
            "small",
        )?;
        Ok(b.build_and(integral, small, "small_integral")?)
    }

    /// `CAST(a AS VARCHAR)` for a float `a` of type `from` (see the module docs).
    pub(super) fn float_to_text(&mut self, a: Lowered<'ctx>, from: SqlType) -> R<Lowered<'ctx>> {
        self.require_fallback(&format!("CAST from {from} to VARCHAR"))?;
        let b = self.b;
        let (i8t, i64t) = (self.ctx.i8_type(), self.ctx.i64_type());
        let c = |v: u64| i64t.const_int(v, false);
        let (bits, _) = exact_limits(from);
        let (bound, f) = if from == SqlType::Float32 {
            (F32_TEXT_MAX, RuntimeFn::F32ToText)
        } else {
            (F64_TEXT_MAX, RuntimeFn::F64ToText)
        };
        let x = a.value.into_float_value();
        // Room for the longest text, whatever this row's is.
        let (dst, fits) = self.scratch_alloc(
            c(bound),
            ScratchNeed {
                per_max_len: 0,
                constant: bound,
            },
        )?;

        // Fast: the sign (of -0 too), then the integer's digits.
        let fast = self.small_integral(x, bits)?;
        let int = b.build_float_to_signed_int(x, i64t, "whole")?;
        let int = b
            .build_select(fast, int, c(0), "whole_safe")?
            .into_int_value();
        let int_t = if from == SqlType::Float32 {
            self.ctx.i32_type()
        } else {
            i64t
        };
        let x_bits = b.build_bit_cast(x, int_t, "x_bits")?.into_int_value();
        let neg = b.build_int_compare(IntPredicate::SLT, x_bits, int_t.const_zero(), "sign_bit")?;
        let mag = b
            .build_select(
                b.build_int_compare(IntPredicate::SLT, int, c(0), "int_neg")?,
                b.build_int_sub(c(0), int, "minus")?,
                int,
                "mag",
            )?
            .into_int_value();
        let digits = self.digits_of(mag, c(0))?;
        let sign = b.build_int_z_extend(neg, i64t, "sign")?;
        let fast_len = b.build_int_add(sign, digits, "fast_len")?;
        let write = b.build_and(fits, fast, "fast_write")?;
        let put_byte = self.put_byte_fn()?;
        let put_number = self.put_number_fn()?;
        let sign_when = b.build_and(write, neg, "sign_when")?;
        let minus = i8t.const_int(b'-' as u64, false);
        self.call(
            put_byte,
            &[dst.into(), minus.into(), sign_when.into()],
            "put_sign",
        )?;
        // SAFETY (of the generated code): within the bytes handed out, or unused.
        let body = unsafe { b.build_gep(i8t, dst, &[sign], "digits_at")? };
        let n = b.build_select(write, digits, c(0), "digits_n")?;
        self.call(
            put_number,
            &[body.into(), n.into(), mag.into(), c(0).into(), c(0).into()],
            "put_digits",
        )?;

        // Slow: the runtime writes the text.
        let not_fast = b.build_not(fast, "not_fast")?;
        let call = b.build_and(b.build_and(a.valid, not_fast, "slow")?, fits, "call")?;
        let slow_len = self.call_runtime_where(
            call,
            f,
            &[x.into(), dst.into(), c(bound).into()],
            |_, r| Ok(vec![r]),
            &[c(NO_ROOM).into()],
        )?[0]
            .into_int_value();
        let written = b.build_int_compare(IntPredicate::NE, slow_len, c(NO_ROOM), "written")?;
        let ok = b.build_or(write, written, "text_ok")?;
        let len = b
            .build_select(fast, fast_len, slow_len, "text_len")?
            .into_int_value();
        let len = b.build_select(ok, len, c(0), "text_n")?.into_int_value();
        let cond = b.build_and(a.valid, b.build_not(ok, "text_no_room")?, "text_fallback")?;
        let err = self.first_error(a.err, self.fallback_where(cond)?)?;
        // Without room the value is the empty string: later operations read it on every row.
        Ok(Lowered {
            value: self.make_string(dst, len)?,
            valid: a.valid,
            err,
        })
    }

    /// `CAST(a AS to)` for a `VARCHAR` `a` and a float type `to` (see the module docs).
    pub(super) fn text_to_float(
        &mut self,
        e: &Expr,
        a: Lowered<'ctx>,
        to: SqlType,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let (i8t, i64t, i128t) = (
            self.ctx.i8_type(),
            self.ctx.i64_type(),
            self.ctx.i128_type(),
        );
        let ft = self.float_type_of(to)?;
        let (bits, max_frac) = exact_limits(to);
        let (p, len) = self.string_parts(a.value)?;
        let (tp, tn) = self.ascii_trimmed(p, len)?;
        let f = self.parse_number_fn()?;
        let packed = self.call(f, &[tp.into(), tn.into()], "number")?;
        let field =
            |shift: u64, t: inkwell::types::IntType<'ctx>, name: &str| -> R<IntValue<'ctx>> {
                let s = b.build_right_shift(packed, i128t.const_int(shift, false), false, name)?;
                Ok(b.build_int_truncate(s, t, name)?)
            };
        let v = field(0, i64t, "number_value")?;
        let frac = field(64, i8t, "number_frac")?;
        let read = field(73, self.ctx.bool_type(), "number_ok")?;
        let neg = field(74, self.ctx.bool_type(), "number_neg")?;

        // Fast: |v| and 10^frac are exact in the float type, so one division rounds correctly.
        let is_neg = b.build_int_compare(IntPredicate::SLT, v, i64t.const_zero(), "v_neg")?;
        let mag = b
            .build_select(
                is_neg,
                b.build_int_sub(i64t.const_zero(), v, "minus")?,
                v,
                "mag",
            )?
            .into_int_value();
        let exact = b.build_int_compare(
            IntPredicate::ULE,
            mag,
            i64t.const_int(1 << bits, false),
            "exact_digits",
        )?;
        let few = b.build_int_compare(
            IntPredicate::ULE,
            frac,
            i8t.const_int(max_frac as u64, false),
            "exact_scale",
        )?;
        let fast = b.build_and(read, b.build_and(exact, few, "exact")?, "fast")?;
        let scale = self.pow10_float(ft, frac, max_frac)?;
        let q = b.build_float_div(
            b.build_unsigned_int_to_float(mag, ft, "digits")?,
            scale,
            "quotient",
        )?;
        // The sign of the text, `-0` included.
        let q = b
            .build_select(neg, b.build_float_neg(q, "negated")?, q, "fast_value")?
            .into_float_value();

        // Slow: the runtime parses the whole text, as the interpreter does.
        let runtime = if to == SqlType::Float32 {
            RuntimeFn::TextToF32
        } else {
            RuntimeFn::TextToF64
        };
        let slot = self.entry_slot(ft.into(), "parsed")?;
        let call = b.build_and(a.valid, b.build_not(fast, "not_fast")?, "slow")?;
        let joined = self.call_runtime_where(
            call,
            runtime,
            &[p.into(), len.into(), slot.into()],
            |me, status| {
                let ok = me.b.build_int_compare(
                    IntPredicate::NE,
                    status.into_int_value(),
                    me.ctx.i32_type().const_zero(),
                    "parsed_ok",
                )?;
                // The slot is written only on success: 0 otherwise, never an undefined value.
                let parsed = me.b.build_load(ft, slot, "parsed")?;
                let parsed =
                    me.b.build_select(ok, parsed, ft.const_zero().into(), "parsed")?;
                Ok(vec![parsed, ok.into()])
            },
            &[ft.const_zero().into(), self.bool_const(true).into()],
        )?;
        let value = b.build_select(fast, q, joined[0].into_float_value(), "float")?;
        let invalid = b.build_not(joined[1].into_int_value(), "invalid")?;
        let kind = ErrorKind::InvalidCast { ty: to.to_string() };
        self.unary_result(e, value, &a, Some((invalid, kind)))
    }

    /// `CAST(a AS DECIMAL(precision, scale))` for a float `a` of type `from` (see the module
    /// docs).
    pub(super) fn float_to_decimal(
        &mut self,
        e: &Expr,
        a: Lowered<'ctx>,
        from: SqlType,
        (precision, scale): (u8, u8),
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let (i32t, i64t, i128t) = (
            self.ctx.i32_type(),
            self.ctx.i64_type(),
            self.ctx.i128_type(),
        );
        let (bits, _) = exact_limits(from);
        let x = a.value.into_float_value();

        // Fast: an integer's digits are its own.
        let fast = self.small_integral(x, bits)?;
        let int = b.build_float_to_signed_int(x, i64t, "whole")?;
        let int = b
            .build_select(fast, int, i64t.const_zero(), "whole_safe")?
            .into_int_value();
        let scaled = self.scale_up(int, scale as u32)?;
        let fits = self.fits_precision(scaled, precision)?;
        let fast_value = b.build_int_truncate(scaled, i128t, "fast_decimal")?;

        // Slow: the runtime reads the shortest digits and rounds.
        let runtime = if from == SqlType::Float32 {
            RuntimeFn::F32ToDecimal
        } else {
            RuntimeFn::F64ToDecimal
        };
        let slot = self.entry_slot(i128t.into(), "decimal")?;
        let call = b.build_and(a.valid, b.build_not(fast, "not_fast")?, "slow")?;
        let joined = self.call_runtime_where(
            call,
            runtime,
            &[
                x.into(),
                i32t.const_int(precision as u64, false).into(),
                i32t.const_int(scale as u64, false).into(),
                slot.into(),
            ],
            |me, status| {
                let ok = me.b.build_int_compare(
                    IntPredicate::NE,
                    status.into_int_value(),
                    i32t.const_zero(),
                    "decimal_ok",
                )?;
                // The slot is written only on success: 0 otherwise, never an undefined value.
                let v = me.b.build_load(i128t, slot, "decimal")?;
                let v =
                    me.b.build_select(ok, v, i128t.const_zero().into(), "decimal")?;
                Ok(vec![v, ok.into()])
            },
            &[i128t.const_zero().into(), self.bool_const(true).into()],
        )?;
        let value = b.build_select(fast, fast_value, joined[0].into_int_value(), "decimal")?;
        let ok = b
            .build_select(fast, fits, joined[1].into_int_value(), "decimal_fits")?
            .into_int_value();
        let fail = b.build_not(ok, "decimal_fail")?;
        // A failing row's value is 0 (later operations see a decimal of the precision).
        let value = b.build_select(ok, value, i128t.const_zero().into(), "decimal_or_zero")?;
        let to = SqlType::Decimal { precision, scale };
        self.unary_result(e, value, &a, Some((fail, Self::overflow(to))))
    }

    /// `CAST(a AS to)` for a `DECIMAL` `a` of scale `scale` and a float type `to` (see the
    /// module docs).
    pub(super) fn decimal_to_float(
        &mut self,
        a: Lowered<'ctx>,
        scale: u8,
        to: SqlType,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let (i32t, i64t, i128t) = (
            self.ctx.i32_type(),
            self.ctx.i64_type(),
            self.ctx.i128_type(),
        );
        let ft = self.float_type_of(to)?;
        let (bits, max_scale) = exact_limits(to);
        let v = a.value.into_int_value();

        // Fast: |v| and 10^scale are exact in the float type.
        let fast = if scale <= max_scale {
            let limit = 1i128 << bits;
            let shifted = b.build_int_add(v, self.const_i128(limit), "exact_off")?;
            b.build_int_compare(
                IntPredicate::ULE,
                shifted,
                self.const_i128(2 * limit),
                "exact",
            )?
        } else {
            self.bool_const(false)
        };
        let f = b.build_signed_int_to_float(v, ft, "dec_float")?;
        let q = b.build_float_div(
            f,
            ft.const_float(10f64.powi(scale.min(max_scale) as i32)),
            "dec_scaled",
        )?;

        // Slow: the runtime rounds the exact decimal.
        let runtime = if to == SqlType::Float32 {
            RuntimeFn::DecimalToF32
        } else {
            RuntimeFn::DecimalToF64
        };
        let lo = b.build_int_truncate(v, i64t, "dec_lo")?;
        let hi = b.build_int_truncate(
            b.build_right_shift(v, i128t.const_int(64, false), false, "dec_hi")?,
            i64t,
            "dec_hi",
        )?;
        let call = b.build_and(a.valid, b.build_not(fast, "not_fast")?, "slow")?;
        let joined = self.call_runtime_where(
            call,
            runtime,
            &[
                lo.into(),
                hi.into(),
                i32t.const_int(scale as u64, false).into(),
            ],
            |_, r| Ok(vec![r]),
            &[ft.const_zero().into()],
        )?;
        let value = b.build_select(fast, q, joined[0].into_float_value(), "float")?;
        Ok(Lowered { value, ..a })
    }

    /// `10^k` in the float type `ft` for `k` (`i8`) in `0..=max` (exact), read from a constant
    /// table; `k` beyond `max` reads 1 (the caller does not use that value).
    fn pow10_float(
        &self,
        ft: inkwell::types::FloatType<'ctx>,
        k: IntValue<'ctx>,
        max: u8,
    ) -> R<FloatValue<'ctx>> {
        let b = self.b;
        let name = format!("qjit_pow10_{}", ft.print_to_string().to_string());
        let len = max as u32 + 1;
        let table_ty = ft.array_type(len);
        let global = match self.module.get_global(&name) {
            Some(g) => g,
            None => {
                let values: Vec<FloatValue<'ctx>> = (0..len)
                    .map(|i| ft.const_float(10f64.powi(i as i32)))
                    .collect();
                let g = self
                    .module
                    .add_global(table_ty, Some(AddressSpace::default()), &name);
                g.set_initializer(&ft.const_array(&values));
                g.set_constant(true);
                g.set_linkage(inkwell::module::Linkage::Private);
                g
            }
        };
        let i8t = self.ctx.i8_type();
        let in_table = b.build_int_compare(
            IntPredicate::ULE,
            k,
            i8t.const_int(max as u64, false),
            "in_table",
        )?;
        let k = b
            .build_select(in_table, k, i8t.const_zero(), "k")?
            .into_int_value();
        let k = b.build_int_z_extend(k, self.ctx.i64_type(), "k64")?;
        // SAFETY (of the generated code): `k <= max`, within the table.
        let at = unsafe {
            b.build_in_bounds_gep(
                table_ty,
                global.as_pointer_value(),
                &[self.ctx.i64_type().const_zero(), k],
                "pow10_at",
            )?
        };
        Ok(b.build_load(ft, at, "pow10")?.into_float_value())
    }

    /// The trimmed bytes of a string (ASCII white space off both ends): address and length.
    pub(super) fn ascii_trimmed(
        &self,
        p: inkwell::values::PointerValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> R<(inkwell::values::PointerValue<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let (i64t, i128t) = (self.ctx.i64_type(), self.ctx.i128_type());
        let trim = self.ascii_trim_fn()?;
        let span = self.call(trim, &[p.into(), len.into()], "trim")?;
        let start = b.build_int_truncate(span, i64t, "trim_start")?;
        let end = b.build_int_truncate(
            b.build_right_shift(span, i128t.const_int(64, false), false, "trim_hi")?,
            i64t,
            "trim_end",
        )?;
        // SAFETY (of the generated code): start <= end <= len.
        let tp = unsafe { b.build_gep(self.ctx.i8_type(), p, &[start], "trimmed")? };
        let tn = b.build_int_sub(end, start, "trimmed_len")?;
        Ok((tp, tn))
    }
}

#[cfg(test)]
mod tests {
    use super::{F32_TEXT_MAX, F64_TEXT_MAX};

    /// The text bounds hold over bit patterns spread across every exponent (subnormals
    /// included), with their neighbours, and are reached.
    #[test]
    fn float_text_bounds() {
        let mut longest64 = 0;
        let mut bits = 1u64;
        while bits < f64::INFINITY.to_bits() {
            let x = f64::from_bits(bits);
            for y in [x, -x, x.next_up(), -x.next_down()] {
                longest64 = longest64.max(format!("{y}").len());
            }
            bits += bits / 64 + 1;
        }
        assert!(longest64 as u64 <= F64_TEXT_MAX, "{longest64}");
        assert_eq!(format!("{}", -5e-324).len() as u64, F64_TEXT_MAX);
        let mut longest32 = 0;
        let mut bits = 1u32;
        while bits < f32::INFINITY.to_bits() {
            let x = f32::from_bits(bits);
            for y in [x, -x, x.next_up(), -x.next_down()] {
                longest32 = longest32.max(format!("{y}").len());
            }
            bits += bits / 64 + 1;
        }
        assert!(longest32 as u64 <= F32_TEXT_MAX, "{longest32}");
        assert_eq!(format!("{}", -1e-45f32).len() as u64, F32_TEXT_MAX);
    }
}
