//! `CAST` between `VARCHAR` and integers, decimals, dates and booleans, as `interp::cast` converts
//! them, in filter and projection kernels only (the kernels that can hand a batch back to the
//! interpreter; elsewhere these casts are not compiled).
//!
//! From text. In: a lowered string and the target type. Out: the value where the kernel reads the
//! text itself, [`crate::codegen::STATUS_FALLBACK`] on every other valid row (the interpreter then
//! gives the exact value or error). The kernel reads, after removing ASCII white space
//! (`\t \n \v \f \r` and space, all of which `str::trim` removes too) on both sides:
//! - integers: `[+-]digits` with at most 18 significant digits, in range of the type;
//! - decimals `DECIMAL(p,s)`: `[+-]digits[.digits]` (`.5` and `5.` too) with at most 18
//!   significant digits and at most `s` digits after the point (rescaled up exactly), fitting `p`;
//! - dates: `Y-M-D` with 1–6, 1–2 and 1–2 digits, a valid calendar date (as `parse_date`);
//! - booleans: `t true yes y on 1` / `f false no n off 0` in any ASCII case.
//!
//! Everything else falls back: non-ASCII bytes (Unicode white space), exponents, more digits,
//! fractions that need rounding, values out of range, text that is not a value at all.
//!
//! To text (never fails). In: a lowered value. Out: its text in the row's scratch area, as
//! `to_text` writes it: integers in decimal; decimals with exactly `s` digits after the point
//! (`-0.05`, `1.50`), as `format_decimal`; dates `YYYY-MM-DD`, years outside 0–9999 unpadded
//! with their sign (`-5-01-01`, `10000-01-01`), as `format_date`; booleans `true`/`false`
//! (constants, no scratch). A row whose text does not fit the scratch area falls back.
//!
//! Floats, either way, are in `float_cast` (shortest round-trip digits, correctly rounded
//! parsing: IR for common values, the interpreter's routine for the rest).
//!
//! The byte loops are internal `alwaysinline` helpers (`qjit_ascii_trim`, `qjit_parse_number`,
//! `qjit_parse_date`, `qjit_bool_word`, `qjit_put_number`, `qjit_put_byte`) whose state lives in
//! `alloca`s that the optimizer promotes to registers.

use inkwell::builder::Builder;
use inkwell::types::IntType;
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::helpers::ByteLoop;
use super::{Lowered, Lowerer, R};
use crate::codegen::abi::ScratchNeed;
use crate::codegen::not_compiled;
use crate::ir::scalar::pow10;
use crate::ir::SqlType;

/// Significant digits the kernel reads itself (their value fits `i64`).
const MAX_DIGITS: u64 = 18;

/// The boolean words, as `qjit_bool_word` packs them: the folded bytes, most significant first,
/// with the length in bits 48 and up.
fn pack_word(word: &str) -> u64 {
    let bytes = word
        .bytes()
        .fold(0u64, |acc, c| (acc << 8) | c.to_ascii_lowercase() as u64);
    bytes | (word.len() as u64) << 48
}

const TRUE_WORDS: [&str; 6] = ["t", "true", "yes", "y", "on", "1"];
const FALSE_WORDS: [&str; 6] = ["f", "false", "no", "n", "off", "0"];

/// The most bytes `CAST(x AS VARCHAR)` writes for an `x` of type `from`.
pub(super) fn text_bound(from: SqlType) -> ScratchNeed {
    let constant = match from {
        SqlType::Int8 | SqlType::UInt8 => 4,
        SqlType::Int16 | SqlType::UInt16 => 6,
        SqlType::Int32 | SqlType::UInt32 => 11,
        SqlType::Int64 | SqlType::UInt64 => 20,
        // `-5877641-06-23`, the first day of `Date32`.
        SqlType::Date => 14,
        // As `lower::time` allots them.
        SqlType::Timestamp { .. } => super::time::TIMESTAMP_TEXT_MAX,
        SqlType::Interval => super::time::INTERVAL_TEXT_MAX,
        SqlType::Decimal { precision, scale } => {
            let digits = (precision as u64).max(scale as u64 + 1);
            1 + digits + u64::from(scale > 0)
        }
        _ => 0,
    };
    ScratchNeed {
        per_max_len: 0,
        constant,
    }
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `CAST(a AS to)` for a `VARCHAR` `a` (see the module docs).
    pub(super) fn cast_from_text(&mut self, a: Lowered<'ctx>, to: SqlType) -> R<Lowered<'ctx>> {
        if !(to.is_integer() || to.is_decimal() || to == SqlType::Date || to == SqlType::Boolean) {
            return not_compiled(format!("CAST from VARCHAR to {to} is not compiled yet"));
        }
        self.require_fallback(&format!("CAST from VARCHAR to {to}"))?;
        let b = self.b;
        let (p, len) = self.string_parts(a.value)?;
        let (tp, tn) = self.ascii_trimmed(p, len)?;
        let (value, ok): (BasicValueEnum, IntValue) = if to == SqlType::Date {
            self.text_to_date(tp, tn)?
        } else if to == SqlType::Boolean {
            self.text_to_bool(tp, tn)?
        } else {
            self.text_to_number(tp, tn, to)?
        };
        let cond = b.build_and(a.valid, b.build_not(ok, "cast_unsure")?, "cast_fallback")?;
        let err = self.first_error(a.err, self.fallback_where(cond)?)?;
        Ok(Lowered {
            value,
            valid: a.valid,
            err,
        })
    }

    /// An integer or decimal from trimmed text, and whether the kernel read it.
    fn text_to_number(
        &self,
        p: PointerValue<'ctx>,
        n: IntValue<'ctx>,
        to: SqlType,
    ) -> R<(BasicValueEnum<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let (i8t, i64t, i128t) = (
            self.ctx.i8_type(),
            self.ctx.i64_type(),
            self.ctx.i128_type(),
        );
        let f = self.parse_number_fn()?;
        let packed = self.call(f, &[p.into(), n.into()], "number")?;
        let field = |shift: u64, t: IntType<'ctx>, name: &str| -> R<IntValue<'ctx>> {
            let s = b.build_right_shift(packed, i128t.const_int(shift, false), false, name)?;
            Ok(b.build_int_truncate(s, t, name)?)
        };
        let v = field(0, i64t, "number_value")?;
        let frac = field(64, i8t, "number_frac")?;
        let point = field(72, self.ctx.bool_type(), "number_point")?;
        let read = field(73, self.ctx.bool_type(), "number_ok")?;
        if let SqlType::Decimal { precision, scale } = to {
            let few = b.build_int_compare(
                IntPredicate::ULE,
                frac,
                i8t.const_int(scale as u64, false),
                "frac_fits",
            )?;
            // 10^(scale - frac) for frac in 0..=scale.
            let mut factor = self.const_i256(1);
            for k in 0..scale {
                let is = b.build_int_compare(
                    IntPredicate::EQ,
                    frac,
                    i8t.const_int(k as u64, false),
                    "frac_is",
                )?;
                factor = b
                    .build_select(
                        is,
                        self.const_i256(pow10((scale - k) as u32)),
                        factor,
                        "factor",
                    )?
                    .into_int_value();
            }
            let wide = b.build_int_s_extend(v, self.i256(), "wide")?;
            let scaled = b.build_int_mul(wide, factor, "rescaled")?;
            let fits = self.fits_precision(scaled, precision)?;
            let ok = b.build_and(b.build_and(read, few, "dec_read")?, fits, "dec_ok")?;
            let d = b.build_int_truncate(scaled, i128t, "dec")?;
            return Ok((d.into(), ok));
        }
        let (lo, hi) = Self::integer_range(to)
            .ok_or_else(|| crate::error::Error::internal(format!("{to} has no range")))?;
        let (lo, hi) = (lo.max(i64::MIN as i128), hi.min(i64::MAX as i128));
        let ge = b.build_int_compare(
            IntPredicate::SGE,
            v,
            i64t.const_int(lo as i64 as u64, true),
            "ge",
        )?;
        let le = b.build_int_compare(
            IntPredicate::SLE,
            v,
            i64t.const_int(hi as i64 as u64, true),
            "le",
        )?;
        let integral = b.build_not(point, "integral")?;
        let ok = b.build_and(
            b.build_and(read, integral, "int_read")?,
            b.build_and(ge, le, "in_range")?,
            "int_ok",
        )?;
        let t = self.int_type_of(to)?;
        let x = if t.get_bit_width() < 64 {
            b.build_int_truncate(v, t, "int")?
        } else {
            v
        };
        Ok((x.into(), ok))
    }

    /// A date from trimmed text, and whether the kernel read it.
    fn text_to_date(
        &self,
        p: PointerValue<'ctx>,
        n: IntValue<'ctx>,
    ) -> R<(BasicValueEnum<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let f = self.parse_date_fn()?;
        let packed = self.call(f, &[p.into(), n.into()], "date")?;
        let field = |shift: u64, mask: u64, name: &str| -> R<IntValue<'ctx>> {
            let s = b.build_right_shift(packed, i64t.const_int(shift, false), false, name)?;
            Ok(b.build_and(s, i64t.const_int(mask, false), name)?)
        };
        let year = field(0, 0xff_ffff, "year")?;
        let month = field(32, 0xff, "month")?;
        let day = field(40, 0xff, "day")?;
        let read = b.build_int_compare(
            IntPredicate::NE,
            field(48, 1, "date_read")?,
            i64t.const_zero(),
            "date_read",
        )?;
        let c = |v: u64| i64t.const_int(v, false);
        let month_ok = b.build_int_compare(
            IntPredicate::ULT,
            b.build_int_sub(month, c(1), "m0")?,
            c(12),
            "month_ok",
        )?;
        let last = self.days_in_month(year, month)?;
        let day_ok = b.build_and(
            b.build_int_compare(IntPredicate::UGE, day, c(1), "day_pos")?,
            b.build_int_compare(IntPredicate::ULE, day, last, "day_in_month")?,
            "day_ok",
        )?;
        let ok = b.build_and(read, b.build_and(month_ok, day_ok, "ymd_ok")?, "date_ok")?;
        // A month out of 1..=12 gives garbage here, which `ok` discards.
        let days = self.days_from_civil(year, month, day)?;
        let v = b.build_int_truncate(days, self.ctx.i32_type(), "days")?;
        Ok((v.into(), ok))
    }

    /// A boolean from trimmed text, and whether the kernel read it.
    fn text_to_bool(
        &self,
        p: PointerValue<'ctx>,
        n: IntValue<'ctx>,
    ) -> R<(BasicValueEnum<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let f = self.bool_word_fn()?;
        let word = self.call(f, &[p.into(), n.into()], "word")?;
        let any_of = |words: [&str; 6], name: &str| -> R<IntValue<'ctx>> {
            let mut hit = self.bool_const(false);
            for w in words {
                let is = b.build_int_compare(
                    IntPredicate::EQ,
                    word,
                    i64t.const_int(pack_word(w), false),
                    name,
                )?;
                hit = b.build_or(hit, is, name)?;
            }
            Ok(hit)
        };
        let t = any_of(TRUE_WORDS, "is_true_word")?;
        let f = any_of(FALSE_WORDS, "is_false_word")?;
        Ok((t.into(), b.build_or(t, f, "bool_ok")?))
    }

    /// `CAST(a AS VARCHAR)` for an `a` of type `from` (see the module docs).
    pub(super) fn cast_to_text(&mut self, a: Lowered<'ctx>, from: SqlType) -> R<Lowered<'ctx>> {
        if !(from.is_integer()
            || from.is_decimal()
            || from == SqlType::Date
            || from == SqlType::Boolean)
        {
            return not_compiled(format!("CAST from {from} to VARCHAR is not compiled yet"));
        }
        self.require_fallback(&format!("CAST from {from} to VARCHAR"))?;
        let b = self.b;
        if from == SqlType::Boolean {
            let value = b.build_select(
                a.value.into_int_value(),
                self.string_literal("true")?,
                self.string_literal("false")?,
                "bool_text",
            )?;
            return Ok(Lowered { value, ..a });
        }
        let (i8t, i64t) = (self.ctx.i8_type(), self.ctx.i64_type());
        let c = |v: u64| i64t.const_int(v, false);
        let zero = c(0);
        let put_number = self.put_number_fn()?;
        let put_byte = self.put_byte_fn()?;
        // The parts written: an optional '-', then `n` characters of a number (`lo`, `hi`, `s`
        // as `qjit_put_number` takes them), then for dates "-MM-DD".
        let (neg, n, lo, hi, s, date) = if let Some((_, scale)) = from.decimal_parts() {
            let v = a.value.into_int_value();
            let t = v.get_type();
            let neg = b.build_int_compare(IntPredicate::SLT, v, t.const_zero(), "neg")?;
            let mag = b
                .build_select(neg, b.build_int_sub(t.const_zero(), v, "minus")?, v, "mag")?
                .into_int_value();
            let split = self.const_i128(pow10(19));
            let hi = self.sdiv_i128(mag, split)?;
            let lo = b.build_int_sub(mag, b.build_int_mul(hi, split, "hi_part")?, "lo")?;
            let (hi, lo) = (
                b.build_int_truncate(hi, i64t, "hi64")?,
                b.build_int_truncate(lo, i64t, "lo64")?,
            );
            let digits = self.digits_of(lo, hi)?;
            let n = if scale == 0 {
                digits
            } else {
                let min = c(scale as u64 + 1);
                let short = b.build_int_compare(IntPredicate::ULT, digits, min, "short")?;
                let d = b
                    .build_select(short, min, digits, "padded")?
                    .into_int_value();
                b.build_int_add(d, c(1), "with_point")?
            };
            (neg, n, lo, hi, c(scale as u64), None)
        } else if from == SqlType::Date {
            let days = b.build_int_s_extend(a.value.into_int_value(), i64t, "days")?;
            let (y, m, d) = self.civil_from_days(days)?;
            let neg = b.build_int_compare(IntPredicate::SLT, y, zero, "neg")?;
            let mag = b
                .build_select(neg, b.build_int_sub(zero, y, "minus")?, y, "mag")?
                .into_int_value();
            let padded = b.build_int_compare(IntPredicate::ULE, y, c(9999), "four_digits")?;
            let digits = self.digits_of(mag, zero)?;
            let n = b
                .build_select(padded, c(4), digits, "year_width")?
                .into_int_value();
            (neg, n, mag, zero, zero, Some((m, d)))
        } else {
            let x = a.value.into_int_value();
            let w = if from.is_unsigned_integer() {
                b.build_int_z_extend_or_bit_cast(x, i64t, "w")?
            } else {
                b.build_int_s_extend_or_bit_cast(x, i64t, "w")?
            };
            let neg = if from.is_unsigned_integer() {
                self.bool_const(false)
            } else {
                b.build_int_compare(IntPredicate::SLT, w, zero, "neg")?
            };
            // The magnitude as unsigned (`i64::MIN` wraps to 2^63).
            let mag = b
                .build_select(neg, b.build_int_sub(zero, w, "minus")?, w, "mag")?
                .into_int_value();
            let split = c(10_000_000_000_000_000_000);
            let hi = b.build_int_unsigned_div(mag, split, "hi")?;
            let lo = b.build_int_unsigned_rem(mag, split, "lo")?;
            let digits = self.digits_of(lo, hi)?;
            (neg, digits, lo, hi, zero, None)
        };
        let sign = b.build_int_z_extend(neg, i64t, "sign")?;
        let mut len = b.build_int_add(sign, n, "text_len")?;
        if date.is_some() {
            len = b.build_int_add(len, c(6), "date_len")?;
        }
        let (dst, fits) = self.scratch_alloc(len, text_bound(from))?;
        let when = |x: IntValue<'ctx>, name: &str| -> R<IntValue<'ctx>> {
            Ok(b.build_select(fits, x, zero, name)?.into_int_value())
        };
        let at = |off: IntValue<'ctx>, name: &str| -> R<PointerValue<'ctx>> {
            // SAFETY (of the generated code): within the `len` bytes handed out, or unused.
            Ok(unsafe { b.build_gep(i8t, dst, &[off], name)? })
        };
        let byte = |v: u8| i8t.const_int(v as u64, false);
        let sign_when = b.build_and(fits, neg, "sign_when")?;
        self.call(
            put_byte,
            &[dst.into(), byte(b'-').into(), sign_when.into()],
            "put_sign",
        )?;
        let body = at(sign, "number_at")?;
        self.call(
            put_number,
            &[
                body.into(),
                when(n, "number_n")?.into(),
                lo.into(),
                hi.into(),
                s.into(),
            ],
            "put_number",
        )?;
        if let Some((m, d)) = date {
            let mut off = b.build_int_add(sign, n, "month_dash")?;
            for (part, name) in [(m, "month"), (d, "day")] {
                self.call(
                    put_byte,
                    &[at(off, "dash_at")?.into(), byte(b'-').into(), fits.into()],
                    "put_dash",
                )?;
                off = b.build_int_add(off, c(1), "part_at")?;
                self.call(
                    put_number,
                    &[
                        at(off, name)?.into(),
                        when(c(2), name)?.into(),
                        part.into(),
                        zero.into(),
                        zero.into(),
                    ],
                    name,
                )?;
                off = b.build_int_add(off, c(2), "after_part")?;
            }
        }
        let cond = b.build_and(a.valid, b.build_not(fits, "text_no_room")?, "text_fallback")?;
        let err = self.first_error(a.err, self.fallback_where(cond)?)?;
        // Without room the value is the empty string: later operations read it on every row.
        Ok(Lowered {
            value: self.make_string(dst, when(len, "text_n")?)?,
            valid: a.valid,
            err,
        })
    }

    /// `i64`: the decimal digits of `hi * 10^19 + lo` (`lo < 10^19`, both unsigned), at least 1.
    pub(super) fn digits_of(&self, lo: IntValue<'ctx>, hi: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let digits64 = |x: IntValue<'ctx>| -> R<IntValue<'ctx>> {
            let mut d = i64t.const_int(1, false);
            for k in 1..=19u32 {
                let ge = b.build_int_compare(
                    IntPredicate::UGE,
                    x,
                    i64t.const_int(10u64.pow(k), false),
                    "ge_pow10",
                )?;
                d = b.build_int_add(d, b.build_int_z_extend(ge, i64t, "more")?, "digits")?;
            }
            Ok(d)
        };
        let high = b.build_int_compare(IntPredicate::NE, hi, i64t.const_zero(), "has_hi")?;
        let with_hi = b.build_int_add(digits64(hi)?, i64t.const_int(19, false), "hi_digits")?;
        Ok(b.build_select(high, with_hi, digits64(lo)?, "digits")?
            .into_int_value())
    }

    // ---- helpers ----

    /// `i128 qjit_ascii_trim(ptr p, i64 n)`: `start | end << 64`, the bytes of `p` without the
    /// ASCII white space at either end (`start <= end <= n`).
    pub(super) fn ascii_trim_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let (i8t, i64t, i128t) = (ctx.i8_type(), ctx.i64_type(), ctx.i128_type());
        let ptr = ctx.ptr_type(AddressSpace::default());
        self.helper(
            "qjit_ascii_trim",
            i128t,
            &[ptr.into(), i64t.into()],
            |b, f| {
                let (p, n) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                let one = i64t.const_int(1, false);
                let is_ws = |b: &Builder<'ctx>, at: IntValue<'ctx>| -> R<IntValue<'ctx>> {
                    // SAFETY (of the generated code): at < n.
                    let q = unsafe { b.build_in_bounds_gep(i8t, p, &[at], "at")? };
                    let c = b.build_load(i8t, q, "c")?.into_int_value();
                    let space =
                        b.build_int_compare(IntPredicate::EQ, c, i8t.const_int(32, false), "sp")?;
                    let ctl = b.build_int_compare(
                        IntPredicate::ULT,
                        b.build_int_sub(c, i8t.const_int(9, false), "c9")?,
                        i8t.const_int(5, false),
                        "ctl",
                    )?;
                    Ok(b.build_or(space, ctl, "ws")?)
                };
                // The white space at the front: `start` is the first byte that is not.
                let front_done = ctx.append_basic_block(f, "front_done");
                let front = ByteLoop::new(ctx, b, f, (i64t.const_zero(), n), &[])?;
                let start = front.i;
                front.leave_if(b.build_not(is_ws(b, start)?, "kept")?, front_done)?;
                front.next(&[])?;
                b.build_unconditional_branch(front_done)?;
                b.position_at_end(front_done);
                // At the back of the rest: `k` bytes of white space before `n`.
                let rest = b.build_int_sub(n, start, "rest")?;
                let back = ByteLoop::new(ctx, b, f, (i64t.const_zero(), rest), &[])?;
                let k = back.i;
                let e1 = b.build_int_sub(b.build_int_sub(n, k, "from_end")?, one, "e1")?;
                back.leave_if(b.build_not(is_ws(b, e1)?, "kept")?, back.exit)?;
                back.next(&[])?;
                let s = b.build_int_z_extend(start, i128t, "s128")?;
                let e = b.build_int_sub(n, k, "end")?;
                let e = b.build_int_z_extend(e, i128t, "e128")?;
                let e = b.build_left_shift(e, i128t.const_int(64, false), "e_hi")?;
                b.build_return(Some(&b.build_or(s, e, "span")?))?;
                Ok(())
            },
        )
    }

    /// `i128 qjit_parse_number(ptr p, i64 n)`: reads `[+-]digits[.digits]` (at least one
    /// digit, at most 18 significant ones, at most 38 after the point). Returns the signed value
    /// of all digits (`i64`, bits 0–63), the digits after the point (bits 64–71), whether there
    /// is a point (bit 72), whether the text was read (bit 73; 0 for anything else) and whether
    /// it has a minus sign (bit 74; `-0` has one).
    pub(super) fn parse_number_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let (i8t, i64t, i128t, bool_t) = (
            ctx.i8_type(),
            ctx.i64_type(),
            ctx.i128_type(),
            ctx.bool_type(),
        );
        let ptr = ctx.ptr_type(AddressSpace::default());
        self.helper(
            "qjit_parse_number",
            i128t,
            &[ptr.into(), i64t.into()],
            |b, f| {
                let (p, n) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
                let block = |name: &str| ctx.append_basic_block(f, name);
                let (entry, sign, dot, set_point, not_dot, digit, next, fail) = (
                    block("entry"),
                    block("sign"),
                    block("dot"),
                    block("set_point"),
                    block("not_dot"),
                    block("digit"),
                    block("next"),
                    block("fail"),
                );
                let c = |v: u64| i64t.const_int(v, false);
                b.position_at_end(entry);
                let v = b.build_alloca(i64t, "v")?;
                let sig = b.build_alloca(i64t, "sig")?;
                let frac = b.build_alloca(i64t, "frac")?;
                let count = b.build_alloca(i64t, "count")?;
                let point = b.build_alloca(bool_t, "point")?;
                let neg = b.build_alloca(bool_t, "neg")?;
                for x in [v, sig, frac, count] {
                    b.build_store(x, c(0))?;
                }
                b.build_store(point, bool_t.const_zero())?;
                b.build_store(neg, bool_t.const_zero())?;
                let empty = b.build_int_compare(IntPredicate::EQ, n, c(0), "empty")?;
                b.build_conditional_branch(empty, fail, sign)?;

                b.position_at_end(sign);
                let c0 = b.build_load(i8t, p, "c0")?.into_int_value();
                let minus = b.build_int_compare(
                    IntPredicate::EQ,
                    c0,
                    i8t.const_int(b'-' as u64, false),
                    "minus",
                )?;
                let plus = b.build_int_compare(
                    IntPredicate::EQ,
                    c0,
                    i8t.const_int(b'+' as u64, false),
                    "plus",
                )?;
                b.build_store(neg, minus)?;
                let signed = b.build_or(minus, plus, "signed")?;
                let skip = b.build_int_z_extend(signed, i64t, "skip")?;
                // The characters after the sign.
                let chars = ByteLoop::new(ctx, b, f, (skip, n), &[])?;
                let ch = chars.byte(p)?;
                let is_dot = b.build_int_compare(
                    IntPredicate::EQ,
                    ch,
                    i8t.const_int(b'.' as u64, false),
                    "is_dot",
                )?;
                b.build_conditional_branch(is_dot, dot, not_dot)?;

                b.position_at_end(dot);
                let seen = b.build_load(bool_t, point, "seen")?.into_int_value();
                b.build_conditional_branch(seen, fail, set_point)?;
                b.position_at_end(set_point);
                b.build_store(point, bool_t.const_int(1, false))?;
                b.build_unconditional_branch(next)?;

                b.position_at_end(not_dot);
                let d8 = b.build_int_sub(ch, i8t.const_int(b'0' as u64, false), "d8")?;
                let is_digit =
                    b.build_int_compare(IntPredicate::ULT, d8, i8t.const_int(10, false), "dig")?;
                b.build_conditional_branch(is_digit, digit, fail)?;

                b.position_at_end(digit);
                let d = b.build_int_z_extend(d8, i64t, "d")?;
                let old = b.build_load(i64t, v, "old")?.into_int_value();
                let nonzero = b.build_int_compare(
                    IntPredicate::NE,
                    b.build_or(old, d, "old_or_d")?,
                    c(0),
                    "significant",
                )?;
                let sig2 = b.build_int_add(
                    b.build_load(i64t, sig, "sig")?.into_int_value(),
                    b.build_int_z_extend(nonzero, i64t, "sig_step")?,
                    "sig2",
                )?;
                b.build_store(sig, sig2)?;
                let in_frac = b.build_load(bool_t, point, "in_frac")?.into_int_value();
                let frac2 = b.build_int_add(
                    b.build_load(i64t, frac, "frac")?.into_int_value(),
                    b.build_int_z_extend(in_frac, i64t, "frac_step")?,
                    "frac2",
                )?;
                b.build_store(frac, frac2)?;
                let count2 = b.build_int_add(
                    b.build_load(i64t, count, "count")?.into_int_value(),
                    c(1),
                    "count2",
                )?;
                b.build_store(count, count2)?;
                let v2 = b.build_int_add(b.build_int_mul(old, c(10), "v10")?, d, "v2")?;
                b.build_store(v, v2)?;
                let too_long = b.build_or(
                    b.build_int_compare(IntPredicate::UGT, sig2, c(MAX_DIGITS), "too_many")?,
                    b.build_int_compare(IntPredicate::UGT, frac2, c(38), "too_small")?,
                    "too_long",
                )?;
                b.build_conditional_branch(too_long, fail, next)?;

                b.position_at_end(next);
                chars.next(&[])?;
                let count = b.build_load(i64t, count, "count")?.into_int_value();
                let any = b.build_int_compare(IntPredicate::NE, count, c(0), "any")?;
                let mag = b.build_load(i64t, v, "mag")?.into_int_value();
                let negv = b.build_load(bool_t, neg, "negv")?.into_int_value();
                let value = b
                    .build_select(negv, b.build_int_sub(c(0), mag, "minus")?, mag, "value")?
                    .into_int_value();
                let field = |x: IntValue<'ctx>, shift: u64, name: &str| -> R<IntValue<'ctx>> {
                    let w = b.build_int_z_extend(x, i128t, name)?;
                    Ok(b.build_left_shift(w, i128t.const_int(shift, false), name)?)
                };
                let frac_v = b.build_load(i64t, frac, "frac")?.into_int_value();
                let point_v = b.build_load(bool_t, point, "point")?.into_int_value();
                let mut packed = field(value, 0, "p_value")?;
                packed = b.build_or(packed, field(frac_v, 64, "p_frac")?, "packed")?;
                packed = b.build_or(packed, field(point_v, 72, "p_point")?, "packed")?;
                packed = b.build_or(packed, field(any, 73, "p_ok")?, "packed")?;
                packed = b.build_or(packed, field(negv, 74, "p_neg")?, "packed")?;
                b.build_return(Some(&packed))?;

                b.position_at_end(fail);
                b.build_return(Some(&i128t.const_zero()))?;
                Ok(())
            },
        )
    }

    /// `i64 qjit_parse_date(ptr p, i64 n)`: reads `Y-M-D` with 1–6, 1–2 and 1–2 ASCII digits.
    /// Returns `year | month << 32 | day << 40 | 1 << 48`, or 0 for anything else.
    fn parse_date_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let (i8t, i64t) = (ctx.i8_type(), ctx.i64_type());
        let ptr = ctx.ptr_type(AddressSpace::default());
        self.helper(
            "qjit_parse_date",
            i64t,
            &[ptr.into(), i64t.into()],
            |b, f| {
                let (p, n) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
                let block = |name: &str| ctx.append_basic_block(f, name);
                let (entry, dash, not_dash, digit, next, fail) = (
                    block("entry"),
                    block("dash"),
                    block("not_dash"),
                    block("digit"),
                    block("next"),
                    block("fail"),
                );
                let c = |v: u64| i64t.const_int(v, false);
                b.position_at_end(entry);
                let acc = b.build_alloca(i64t, "acc")?;
                let cnt = b.build_alloca(i64t, "cnt")?;
                let part = b.build_alloca(i64t, "part")?;
                let year = b.build_alloca(i64t, "year")?;
                let month = b.build_alloca(i64t, "month")?;
                for x in [acc, cnt, part, year, month] {
                    b.build_store(x, c(0))?;
                }
                let chars = ByteLoop::new(ctx, b, f, (c(0), n), &[])?;
                let ch = chars.byte(p)?;
                let is_dash = b.build_int_compare(
                    IntPredicate::EQ,
                    ch,
                    i8t.const_int(b'-' as u64, false),
                    "is_dash",
                )?;
                let pv = b.build_load(i64t, part, "pv")?.into_int_value();
                let cv = b.build_load(i64t, cnt, "cv")?.into_int_value();
                let av = b.build_load(i64t, acc, "av")?.into_int_value();
                // The most digits of the current part: 6 for the year, 2 after.
                let first = b.build_int_compare(IntPredicate::EQ, pv, c(0), "first")?;
                let max = b.build_select(first, c(6), c(2), "max")?.into_int_value();
                b.build_conditional_branch(is_dash, dash, not_dash)?;

                b.position_at_end(dash);
                // A dash ends a non-empty year or month.
                let bad = b.build_or(
                    b.build_int_compare(IntPredicate::EQ, cv, c(0), "no_digits")?,
                    b.build_int_compare(IntPredicate::UGE, pv, c(2), "third_dash")?,
                    "bad_dash",
                )?;
                let store_part = block("store_part");
                b.build_conditional_branch(bad, fail, store_part)?;
                b.position_at_end(store_part);
                let yv = b.build_load(i64t, year, "yv")?.into_int_value();
                let mv = b.build_load(i64t, month, "mv")?.into_int_value();
                b.build_store(year, b.build_select(first, av, yv, "year2")?)?;
                b.build_store(month, b.build_select(first, mv, av, "month2")?)?;
                b.build_store(part, b.build_int_add(pv, c(1), "part2")?)?;
                b.build_store(acc, c(0))?;
                b.build_store(cnt, c(0))?;
                b.build_unconditional_branch(next)?;

                b.position_at_end(not_dash);
                let d8 = b.build_int_sub(ch, i8t.const_int(b'0' as u64, false), "d8")?;
                let is_digit =
                    b.build_int_compare(IntPredicate::ULT, d8, i8t.const_int(10, false), "dig")?;
                b.build_conditional_branch(is_digit, digit, fail)?;

                b.position_at_end(digit);
                let cnt2 = b.build_int_add(cv, c(1), "cnt2")?;
                b.build_store(cnt, cnt2)?;
                let d = b.build_int_z_extend(d8, i64t, "d")?;
                b.build_store(
                    acc,
                    b.build_int_add(b.build_int_mul(av, c(10), "acc10")?, d, "acc2")?,
                )?;
                let long = b.build_int_compare(IntPredicate::UGT, cnt2, max, "long")?;
                b.build_conditional_branch(long, fail, next)?;

                b.position_at_end(next);
                chars.next(&[])?;
                let pv = b.build_load(i64t, part, "pv")?.into_int_value();
                let cv = b.build_load(i64t, cnt, "cv")?.into_int_value();
                let complete = b.build_and(
                    b.build_int_compare(IntPredicate::EQ, pv, c(2), "two_dashes")?,
                    b.build_int_compare(IntPredicate::NE, cv, c(0), "has_day")?,
                    "complete",
                )?;
                let yv = b.build_load(i64t, year, "yv")?.into_int_value();
                let mv = b.build_load(i64t, month, "mv")?.into_int_value();
                let dv = b.build_load(i64t, acc, "dv")?.into_int_value();
                let packed = b.build_or(
                    b.build_or(yv, b.build_left_shift(mv, c(32), "m_at")?, "ym")?,
                    b.build_or(b.build_left_shift(dv, c(40), "d_at")?, c(1 << 48), "d_ok")?,
                    "packed",
                )?;
                let r = b
                    .build_select(complete, packed, c(0), "date")?
                    .into_int_value();
                b.build_return(Some(&r))?;

                b.position_at_end(fail);
                b.build_return(Some(&c(0)))?;
                Ok(())
            },
        )
    }

    /// `i64 qjit_bool_word(ptr p, i64 n)`: for 1–5 bytes, the bytes with ASCII letters folded
    /// to lowercase, most significant first, ORed with `n << 48`; 0 for other lengths.
    fn bool_word_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let i64t = ctx.i64_type();
        let ptr = ctx.ptr_type(AddressSpace::default());
        self.helper(
            "qjit_bool_word",
            i64t,
            &[ptr.into(), i64t.into()],
            |b, f| {
                let (p, n) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
                let (entry, start, fail) = (
                    ctx.append_basic_block(f, "entry"),
                    ctx.append_basic_block(f, "start"),
                    ctx.append_basic_block(f, "fail"),
                );
                let c = |v: u64| i64t.const_int(v, false);
                b.position_at_end(entry);
                let bad = b.build_int_compare(
                    IntPredicate::UGT,
                    b.build_int_sub(n, c(1), "n1")?,
                    c(4),
                    "bad_len",
                )?;
                b.build_conditional_branch(bad, fail, start)?;

                b.position_at_end(start);
                let bytes = ByteLoop::new(ctx, b, f, (c(0), n), &[("w", c(0))])?;
                let wv = bytes.carried[0];
                let folded = Self::ascii_fold(b, bytes.byte(p)?)?;
                let w2 = b.build_or(
                    b.build_left_shift(wv, c(8), "w8")?,
                    b.build_int_z_extend(folded, i64t, "byte")?,
                    "w2",
                )?;
                bytes.next(&[w2])?;
                let r = b.build_or(wv, b.build_left_shift(n, c(48), "len_at")?, "word")?;
                b.build_return(Some(&r))?;

                b.position_at_end(fail);
                b.build_return(Some(&c(0)))?;
                Ok(())
            },
        )
    }

    /// `i1 qjit_put_number(ptr dst, i64 n, i64 lo, i64 hi, i64 s)`: writes the last `n`
    /// characters of `hi * 10^19 + lo` (`lo < 10^19`) in decimal at `dst`, zero-padded, with a
    /// point before the last `s` digits if `s > 0`. Nothing if `n` is 0. Returns true.
    pub(super) fn put_number_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let (i8t, i64t, bool_t) = (ctx.i8_type(), ctx.i64_type(), ctx.bool_type());
        let ptr = ctx.ptr_type(AddressSpace::default());
        self.helper(
            "qjit_put_number",
            bool_t,
            &[
                ptr.into(),
                i64t.into(),
                i64t.into(),
                i64t.into(),
                i64t.into(),
            ],
            |b, f| {
                let dst = Self::param_ptr(f, 0)?;
                let (n, lo, hi, s) = (
                    Self::param_int(f, 1)?,
                    Self::param_int(f, 2)?,
                    Self::param_int(f, 3)?,
                    Self::param_int(f, 4)?,
                );
                let block = |name: &str| ctx.append_basic_block(f, name);
                let (entry, point_bb, digit_bb, next) = (
                    block("entry"),
                    block("point"),
                    block("digit"),
                    block("next"),
                );
                let c = |v: u64| i64t.const_int(v, false);
                b.position_at_end(entry);
                let k = b.build_alloca(i64t, "k")?;
                let lo_a = b.build_alloca(i64t, "lo")?;
                let hi_a = b.build_alloca(i64t, "hi")?;
                let pdone = b.build_alloca(bool_t, "pdone")?;
                b.build_store(k, c(0))?;
                b.build_store(lo_a, lo)?;
                b.build_store(hi_a, hi)?;
                b.build_store(pdone, bool_t.const_zero())?;
                // The characters from the last: position n - 1 - j.
                let chars = ByteLoop::new(ctx, b, f, (c(0), n), &[])?;
                let p1 = b.build_int_sub(b.build_int_sub(n, chars.i, "from_end")?, c(1), "p1")?;
                // SAFETY (of the generated code): p1 < n, and the caller has n bytes at dst.
                let at = unsafe { b.build_in_bounds_gep(i8t, dst, &[p1], "at")? };
                let kv = b.build_load(i64t, k, "kv")?.into_int_value();
                let written = b.build_load(bool_t, pdone, "written")?.into_int_value();
                let here = b.build_and(
                    b.build_and(
                        b.build_int_compare(IntPredicate::NE, s, c(0), "has_point")?,
                        b.build_int_compare(IntPredicate::EQ, kv, s, "at_point")?,
                        "point_here",
                    )?,
                    b.build_not(written, "not_written")?,
                    "point_now",
                )?;
                b.build_conditional_branch(here, point_bb, digit_bb)?;

                b.position_at_end(point_bb);
                b.build_store(at, i8t.const_int(b'.' as u64, false))?;
                b.build_store(pdone, bool_t.const_int(1, false))?;
                b.build_unconditional_branch(next)?;

                b.position_at_end(digit_bb);
                let use_lo = b.build_int_compare(IntPredicate::ULT, kv, c(19), "use_lo")?;
                let lv = b.build_load(i64t, lo_a, "lv")?.into_int_value();
                let hv = b.build_load(i64t, hi_a, "hv")?.into_int_value();
                let w = b.build_select(use_lo, lv, hv, "w")?.into_int_value();
                let q = b.build_int_unsigned_div(w, c(10), "q")?;
                let d = b.build_int_sub(w, b.build_int_mul(q, c(10), "q10")?, "d")?;
                b.build_store(lo_a, b.build_select(use_lo, q, lv, "lo2")?)?;
                b.build_store(hi_a, b.build_select(use_lo, hv, q, "hi2")?)?;
                let ch = b.build_int_add(
                    b.build_int_truncate(d, i8t, "d8")?,
                    i8t.const_int(b'0' as u64, false),
                    "ch",
                )?;
                b.build_store(at, ch)?;
                b.build_store(k, b.build_int_add(kv, c(1), "k1")?)?;
                b.build_unconditional_branch(next)?;

                b.position_at_end(next);
                chars.next(&[])?;
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                Ok(())
            },
        )
    }

    /// `i1 qjit_put_byte(ptr dst, i8 c, i1 when)`: stores `c` at `dst` if `when`. Returns
    /// `when`.
    pub(super) fn put_byte_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let (i8t, bool_t) = (ctx.i8_type(), ctx.bool_type());
        let ptr = ctx.ptr_type(AddressSpace::default());
        self.helper(
            "qjit_put_byte",
            bool_t,
            &[ptr.into(), i8t.into(), bool_t.into()],
            |b, f| {
                let dst = Self::param_ptr(f, 0)?;
                let (ch, when) = (Self::param_int(f, 1)?, Self::param_int(f, 2)?);
                let entry = ctx.append_basic_block(f, "entry");
                let store = ctx.append_basic_block(f, "store");
                let done = ctx.append_basic_block(f, "done");
                b.position_at_end(entry);
                b.build_conditional_branch(when, store, done)?;
                b.position_at_end(store);
                b.build_store(dst, ch)?;
                b.build_unconditional_branch(done)?;
                b.position_at_end(done);
                b.build_return(Some(&when))?;
                Ok(())
            },
        )
    }
}
