//! Timestamps and intervals in kernels, as `ir::time` computes them: `EXTRACT` of a timestamp,
//! `DATE_TRUNC`, `ts + INTERVAL`, `ts - ts`, the casts between dates and timestamps of any unit,
//! and interval comparisons.
//!
//! In: lowered `i64` timestamps (a count of the type's unit) and `i128` intervals (see
//! [`pack_interval`]). Out: the same types; every step that can leave the `i64` range is an
//! overflow-checked intrinsic, failing with the result type's overflow as the interpreter does.

use inkwell::values::{BasicValueEnum, IntValue};
use inkwell::IntPredicate;

use super::{Lowered, Lowerer, R};
use crate::codegen::not_compiled;
use crate::error::Error;
use crate::ir::time::{second_scale, TruncField, NANOS_PER_DAY};
use crate::ir::{DatePart, Expr, Func, Interval, SqlType, TimeUnit};

/// The most bytes of a timestamp's text (`-292277026596-12-04 15:30:08.123456789+00`, the
/// first second of `Timestamp(Second)`, is 43).
pub(super) const TIMESTAMP_TEXT_MAX: u64 = 48;

/// The most bytes of an interval's text (each part at its widest, with its sign and unit).
pub(super) const INTERVAL_TEXT_MAX: u64 = 96;

/// The most bytes `TO_CHAR`/`STRFTIME` with `pattern` writes: no code of either language
/// writes more than 12 bytes per byte of the pattern (`%F`: 2 bytes, up to 19 written). A row
/// past the bound falls back.
pub(super) fn format_bound(pattern: &str) -> u64 {
    12 * pattern.len() as u64 + 8
}

/// An interval as the kernel holds it: Arrow's `IntervalMonthDayNano` read as one little-endian
/// `i128` (months in bits 0..32, days in 32..64, nanoseconds in 64..128).
pub(super) fn pack_interval(iv: Interval) -> i128 {
    i128::from(iv.months as u32) | (i128::from(iv.days as u32) << 32) | (i128::from(iv.nanos) << 64)
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// The timestamp functions of [`Func`]: `EXTRACT` of a timestamp, `DATE_TRUNC`,
    /// `AddInterval`, `TimestampDiff`.
    pub(super) fn timestamp_func(
        &mut self,
        e: &Expr,
        func: Func,
        args: &[Expr],
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let i128t = self.ctx.i128_type();
        let unit_of = |x: &Expr| {
            x.ty()
                .time_unit()
                .ok_or_else(|| Error::internal(format!("{} of {}", func.name(), x.ty())))
        };
        match (func, args) {
            (Func::Extract(part), [x]) => {
                let unit = unit_of(x)?;
                let a = self.lower(x)?;
                let v = a.value.into_int_value();
                let (days, time) = self.ts_split(v, unit)?;
                let ps = unit.per_second() as u64;
                let c = |n: u64| i64t.const_int(n, false);
                let to_scale = 10u64.pow(second_scale(unit) - unit.digits());
                let mut year_fail = None;
                let value: BasicValueEnum = match part {
                    DatePart::Hour => {
                        let h = b.build_int_unsigned_div(time, c(3600 * ps), "hour")?;
                        b.build_int_truncate(h, self.ctx.i32_type(), "part")?.into()
                    }
                    DatePart::Minute => {
                        let m = b.build_int_unsigned_div(time, c(60 * ps), "minutes")?;
                        let m = b.build_int_unsigned_rem(m, c(60), "minute")?;
                        b.build_int_truncate(m, self.ctx.i32_type(), "part")?.into()
                    }
                    DatePart::Second | DatePart::Millisecond | DatePart::Microsecond => {
                        let of_minute = b.build_int_unsigned_rem(time, c(60 * ps), "of_minute")?;
                        if part == DatePart::Microsecond {
                            let us = if unit == TimeUnit::Nanosecond {
                                b.build_int_unsigned_div(of_minute, c(1000), "us")?
                            } else {
                                b.build_int_mul(of_minute, c(to_scale), "us")?
                            };
                            b.build_int_truncate(us, self.ctx.i32_type(), "part")?
                                .into()
                        } else {
                            let w = b.build_int_z_extend(of_minute, i128t, "wide")?;
                            b.build_int_mul(w, i128t.const_int(to_scale, false), "part")?
                                .into()
                        }
                    }
                    DatePart::Epoch => {
                        let w = b.build_int_s_extend(v, i128t, "wide")?;
                        b.build_int_mul(w, i128t.const_int(to_scale, false), "epoch")?
                            .into()
                    }
                    calendar => {
                        let p = self.date_part(calendar, days)?;
                        if calendar == DatePart::Year && unit <= TimeUnit::Millisecond {
                            // Years of seconds and milliseconds reach past an INTEGER.
                            year_fail = Some(self.outside_i32(p)?);
                        }
                        b.build_int_truncate(p, self.ctx.i32_type(), "part")?.into()
                    }
                };
                let fail = year_fail.map(|f| (f, Self::overflow(SqlType::Int32)));
                self.unary_result(e, value, &a, fail)
            }
            (Func::DateTrunc(field), [x]) => {
                let unit = unit_of(x)?;
                let a = self.lower(x)?;
                let v = a.value.into_int_value();
                let (value, fail) = match field.units(unit) {
                    Some(n) => {
                        let q = self.floor_div(v, n as u64)?;
                        let r = b.build_int_sub(
                            v,
                            b.build_int_mul(q, i64t.const_int(n as u64, false), "qn")?,
                            "r",
                        )?;
                        self.with_overflow("ssub", v, r)?
                    }
                    None => {
                        let (days, _) = self.ts_split(v, unit)?;
                        let start = self.period_start(field, days)?;
                        self.with_overflow(
                            "smul",
                            start,
                            i64t.const_int(unit.per_day() as u64, false),
                        )?
                    }
                };
                let ty = x.ty();
                self.unary_result(e, value.into(), &a, Some((fail, Self::overflow(ty))))
            }
            (Func::AddInterval(iv), [x]) => {
                let unit = unit_of(x)?;
                let ty = x.ty();
                let a = self.lower(x)?;
                let mut v = a.value.into_int_value();
                let mut fail = self.bool_const(false);
                if iv.months != 0 {
                    let (days, time) = self.ts_split(v, unit)?;
                    let months = i64t.const_int(iv.months as i64 as u64, true);
                    let moved = self.add_months_to_days(days, months)?;
                    let (m, o1) = self.with_overflow(
                        "smul",
                        moved,
                        i64t.const_int(unit.per_day() as u64, false),
                    )?;
                    let (m, o2) = self.with_overflow("sadd", m, time)?;
                    v = m;
                    fail = b.build_or(fail, b.build_or(o1, o2, "o")?, "fail")?;
                }
                let mut add = |v: IntValue<'ctx>, n: Option<i64>| -> R<IntValue<'ctx>> {
                    match n {
                        Some(0) => Ok(v),
                        Some(n) => {
                            let (s, o) =
                                self.with_overflow("sadd", v, i64t.const_int(n as u64, true))?;
                            fail = b.build_or(fail, o, "fail")?;
                            Ok(s)
                        }
                        // The days alone leave the range of the unit.
                        None => {
                            fail = self.bool_const(true);
                            Ok(v)
                        }
                    }
                };
                v = add(v, i64::from(iv.days).checked_mul(unit.per_day()))?;
                v = add(v, Some(iv.nanos / unit.nanos()))?;
                self.unary_result(e, v.into(), &a, Some((fail, Self::overflow(ty))))
            }
            (Func::TimestampDiff, [x, y]) => {
                let unit = unit_of(x)?;
                let l = self.lower(x)?;
                let r = self.lower(y)?;
                let xl = b.build_int_s_extend(l.value.into_int_value(), i128t, "x")?;
                let yl = b.build_int_s_extend(r.value.into_int_value(), i128t, "y")?;
                let d = b.build_int_sub(xl, yl, "d")?;
                let per_day = i128t.const_int(unit.per_day() as u64, false);
                let days = b.build_int_signed_div(d, per_day, "days")?;
                let rest = b.build_int_signed_rem(d, per_day, "rest")?;
                let nanos =
                    b.build_int_mul(rest, i128t.const_int(unit.nanos() as u64, false), "nanos")?;
                let days32 = b.build_int_truncate(days, self.ctx.i32_type(), "days32")?;
                let days_bits = b.build_int_z_extend(days32, i128t, "days_bits")?;
                let days_bits =
                    b.build_left_shift(days_bits, i128t.const_int(32, false), "days_at")?;
                let nanos_bits =
                    b.build_left_shift(nanos, i128t.const_int(64, false), "nanos_at")?;
                let v = b.build_or(days_bits, nanos_bits, "interval")?;
                // The days must fit an interval's `i32`.
                let wide = b.build_int_s_extend(days32, i128t, "days_back")?;
                let fail = b.build_int_compare(IntPredicate::NE, wide, days, "days_overflow")?;
                self.combine(
                    e,
                    v.into(),
                    &l,
                    &r,
                    Some((fail, Self::overflow(SqlType::Interval))),
                )
            }
            (Func::Format(style), [x, pattern]) => {
                let Expr::Literal(crate::ir::Literal {
                    value: crate::ir::Scalar::Utf8(pattern),
                    ..
                }) = pattern
                else {
                    return not_compiled(format!(
                        "{} with a format that is not a constant",
                        func.name()
                    ));
                };
                let SqlType::Timestamp { unit, zoned } = x.ty() else {
                    return Err(Error::internal(format!("{} of {}", func.name(), x.ty())).into());
                };
                let pattern = pattern.clone();
                self.require_fallback(&func.name())?;
                let a = self.lower(x)?;
                let bound = format_bound(&pattern);
                let (dst, fits) = self.scratch_alloc(
                    i64t.const_int(bound, false),
                    crate::codegen::abi::ScratchNeed {
                        per_max_len: 0,
                        constant: bound,
                    },
                )?;
                let (fp, fl) = self.literal_bytes(&pattern);
                let i32t = self.ctx.i32_type();
                let flags = u64::from(zoned)
                    | u64::from(style == crate::ir::time::FormatStyle::Strftime) << 1;
                use crate::codegen::runtime::{unit_code, RuntimeFn};
                self.runtime_string(
                    &a,
                    fits,
                    dst,
                    RuntimeFn::FormatTimestamp,
                    &[
                        a.value.into_int_value().into(),
                        i32t.const_int(unit_code(unit), false).into(),
                        i32t.const_int(flags, false).into(),
                        fp.into(),
                        fl.into(),
                        dst.into(),
                        i64t.const_int(bound, false).into(),
                    ],
                )
            }
            (other, _) => not_compiled(format!("{} is not compiled yet", other.name())),
        }
    }

    /// `(days, time)` of an `i64` timestamp: the day number and the units since its midnight.
    fn ts_split(&self, v: IntValue<'ctx>, unit: TimeUnit) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let per_day = unit.per_day() as u64;
        let days = self.floor_div(v, per_day)?;
        let back = b.build_int_mul(days, v.get_type().const_int(per_day, false), "back")?;
        Ok((days, b.build_int_sub(v, back, "time")?))
    }

    /// The first day of `field`'s calendar period holding `days` (as
    /// [`TruncField::start_day`]).
    fn period_start(&self, field: TruncField, days: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let t = days.get_type();
        let c = |v: u64| t.const_int(v, false);
        if field == TruncField::Week {
            let d3 = b.build_int_add(days, c(3), "d3")?;
            let q = self.floor_div(d3, 7)?;
            let since_monday = b.build_int_sub(d3, b.build_int_mul(q, c(7), "q7")?, "since")?;
            return Ok(b.build_int_sub(days, since_monday, "monday")?);
        }
        let (y, m, _) = self.civil_from_days(days)?;
        let one = c(1);
        let (y, m) = match field {
            TruncField::Month => (y, m),
            TruncField::Quarter => {
                let m0 = b.build_int_sub(m, one, "m0")?;
                let q = b.build_int_unsigned_div(m0, c(3), "q")?;
                let m = b.build_int_add(b.build_int_mul(q, c(3), "q3")?, one, "qm")?;
                (y, m)
            }
            TruncField::Year => (y, one),
            TruncField::Decade => (
                b.build_int_mul(self.floor_div(y, 10)?, c(10), "decade")?,
                one,
            ),
            TruncField::Century | TruncField::Millennium => {
                let n = if field == TruncField::Century {
                    100
                } else {
                    1000
                };
                let y1 = b.build_int_sub(y, one, "y1")?;
                let start = b.build_int_mul(self.floor_div(y1, n)?, c(n), "start")?;
                (b.build_int_add(start, one, "first")?, one)
            }
            other => {
                return Err(Error::internal(format!(
                    "DATE_TRUNC('{}') is not a calendar field",
                    other.sql_name()
                ))
                .into())
            }
        };
        self.days_from_civil(y, m, one)
    }

    /// `i1`: whether the `i64` `v` lies outside `i32` (a `DATE`, an `INTEGER` part).
    pub(super) fn outside_i32(&self, v: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let lo = b.build_int_compare(
            IntPredicate::SGE,
            v,
            i64t.const_int(i32::MIN as i64 as u64, true),
            "ge_min",
        )?;
        let hi = b.build_int_compare(
            IntPredicate::SLE,
            v,
            i64t.const_int(i32::MAX as u64, false),
            "le_max",
        )?;
        Ok(b.build_not(b.build_and(lo, hi, "in_range")?, "outside")?)
    }

    /// The day `months` (`i64`) months after day `days` (the day of the month clamped to its
    /// end), as `ir::scalar::add_months` and `ir::time::add_interval` move it; `i64` in and out.
    pub(super) fn add_months_to_days(
        &self,
        days: IntValue<'ctx>,
        months: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let (y, m, day) = self.civil_from_days(days)?;
        let total = b.build_int_add(
            b.build_int_add(
                b.build_int_mul(y, i64t.const_int(12, false), "y12")?,
                b.build_int_sub(m, i64t.const_int(1, false), "m0")?,
                "ym",
            )?,
            months,
            "total",
        )?;
        let ny = self.floor_div(total, 12)?;
        let nm0 = b.build_int_sub(
            total,
            b.build_int_mul(ny, i64t.const_int(12, false), "ny12")?,
            "nm0",
        )?;
        let nm = b.build_int_add(nm0, i64t.const_int(1, false), "nm")?;
        let last = self.days_in_month(ny, nm)?;
        let shorter = b.build_int_compare(IntPredicate::ULT, last, day, "clamp")?;
        let nd = b.build_select(shorter, last, day, "nd")?.into_int_value();
        self.days_from_civil(ny, nm, nd)
    }

    /// `CAST` between `DATE` and timestamps, and between timestamps of other units or zones.
    /// `None` for other casts.
    pub(super) fn time_cast(
        &mut self,
        e: &Expr,
        a: &Lowered<'ctx>,
        from: SqlType,
        to: SqlType,
    ) -> R<Option<Lowered<'ctx>>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let (value, fail): (IntValue<'ctx>, Option<IntValue<'ctx>>) = match (from, to) {
            (SqlType::Date, SqlType::Timestamp { unit, .. }) => {
                let days = b.build_int_s_extend(a.value.into_int_value(), i64t, "days")?;
                let (v, o) =
                    self.with_overflow("smul", days, i64t.const_int(unit.per_day() as u64, false))?;
                (v, Some(o))
            }
            (SqlType::Timestamp { unit, .. }, SqlType::Date) => {
                let (days, _) = self.ts_split(a.value.into_int_value(), unit)?;
                let fail = self.outside_i32(days)?;
                (
                    b.build_int_truncate(days, self.ctx.i32_type(), "date")?,
                    Some(fail),
                )
            }
            (SqlType::Timestamp { unit: u1, .. }, SqlType::Timestamp { unit: u2, .. }) => {
                let v = a.value.into_int_value();
                if u2 > u1 {
                    let k = (u2.per_second() / u1.per_second()) as u64;
                    let (v, o) = self.with_overflow("smul", v, i64t.const_int(k, false))?;
                    (v, Some(o))
                } else if u2 < u1 {
                    (
                        self.floor_div(v, (u1.per_second() / u2.per_second()) as u64)?,
                        None,
                    )
                } else {
                    (v, None)
                }
            }
            _ => return Ok(None),
        };
        let fail = fail.map(|f| (f, Self::overflow(to)));
        Ok(Some(self.unary_result(e, value.into(), a, fail)?))
    }

    /// `CAST(x AS VARCHAR)` of a timestamp or an interval: the runtime writes the text in the
    /// row's scratch area (as the interpreter's `ir::time` formats it); a row whose text does
    /// not fit falls back.
    pub(super) fn time_to_text(&mut self, a: Lowered<'ctx>, from: SqlType) -> R<Lowered<'ctx>> {
        use crate::codegen::abi::ScratchNeed;
        use crate::codegen::runtime::{unit_code, RuntimeFn};
        self.require_fallback(&format!("CAST from {from} to VARCHAR"))?;
        let b = self.b;
        let (i32t, i64t) = (self.ctx.i32_type(), self.ctx.i64_type());
        // `-292277-01-01 00:00:00.123456789+00`; an interval's longest parts.
        let bound = if from == SqlType::Interval {
            INTERVAL_TEXT_MAX
        } else {
            TIMESTAMP_TEXT_MAX
        };
        let (dst, fits) = self.scratch_alloc(
            i64t.const_int(bound, false),
            ScratchNeed {
                per_max_len: 0,
                constant: bound,
            },
        )?;
        let cap = i64t.const_int(bound, false);
        let v = a.value.into_int_value();
        let (f, args): (
            RuntimeFn,
            Vec<inkwell::values::BasicMetadataValueEnum<'ctx>>,
        ) = match from {
            SqlType::Timestamp { unit, zoned } => (
                RuntimeFn::TimestampToText,
                vec![
                    v.into(),
                    i32t.const_int(unit_code(unit), false).into(),
                    i32t.const_int(u64::from(zoned), false).into(),
                    dst.into(),
                    cap.into(),
                ],
            ),
            _ => {
                let i128t = self.ctx.i128_type();
                let lo = b.build_int_truncate(v, i64t, "lo")?;
                let hi = b.build_int_truncate(
                    b.build_right_shift(v, i128t.const_int(64, false), false, "hi_at")?,
                    i64t,
                    "hi",
                )?;
                (
                    RuntimeFn::IntervalToText,
                    vec![lo.into(), hi.into(), dst.into(), cap.into()],
                )
            }
        };
        self.runtime_string(&a, fits, dst, f, &args)
    }

    /// `CAST(text AS TIMESTAMP…)`: the runtime parses (as `ir::time::parse`); text that is not
    /// a timestamp falls back, and the interpreter raises its error.
    pub(super) fn text_to_timestamp(&mut self, a: Lowered<'ctx>, to: SqlType) -> R<Lowered<'ctx>> {
        use crate::codegen::runtime::{unit_code, RuntimeFn};
        let SqlType::Timestamp { unit, zoned } = to else {
            return Err(Error::internal(format!("text to {to} as a timestamp")).into());
        };
        self.require_fallback(&format!("CAST from VARCHAR to {to}"))?;
        let b = self.b;
        let (i32t, i64t) = (self.ctx.i32_type(), self.ctx.i64_type());
        let (p, len) = self.string_parts(a.value)?;
        let slot = self.entry_slot(i64t.into(), "timestamp_out")?;
        let parsed = self.call_runtime_where(
            a.valid,
            RuntimeFn::TextToTimestamp,
            &[
                p.into(),
                len.into(),
                i32t.const_int(unit_code(unit), false).into(),
                i32t.const_int(u64::from(zoned), false).into(),
                slot.into(),
            ],
            |l, status| {
                let ok = l.b.build_int_compare(
                    IntPredicate::NE,
                    status.into_int_value(),
                    i32t.const_zero(),
                    "parsed",
                )?;
                let v = l.b.build_load(i64t, slot, "timestamp")?;
                let v = l.b.build_select(ok, v, i64t.const_zero().into(), "ts")?;
                Ok(vec![ok.into(), v])
            },
            &[self.bool_const(false).into(), i64t.const_zero().into()],
        )?;
        let ok = parsed[0].into_int_value();
        let cond = b.build_and(a.valid, b.build_not(ok, "unparsed")?, "cast_fallback")?;
        let err = self.first_error(a.err, self.fallback_where(cond)?)?;
        Ok(Lowered {
            value: parsed[1],
            valid: a.valid,
            err,
        })
    }

    /// An interval's length for comparisons (`ir::time::interval_span`): an `i128` of
    /// nanoseconds, a month 30 days.
    pub(super) fn interval_span(&self, v: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i32t = self.ctx.i32_type();
        let i128t = self.ctx.i128_type();
        let months = b.build_int_truncate(v, i32t, "months")?;
        let days = b.build_int_truncate(
            b.build_right_shift(v, i128t.const_int(32, false), false, "days_at")?,
            i32t,
            "days",
        )?;
        let nanos = b.build_right_shift(v, i128t.const_int(64, false), true, "nanos")?;
        let months = b.build_int_s_extend(months, i128t, "m")?;
        let days = b.build_int_s_extend(days, i128t, "d")?;
        let all_days = b.build_int_add(
            b.build_int_mul(months, i128t.const_int(30, false), "m30")?,
            days,
            "all_days",
        )?;
        let span = b.build_int_mul(
            all_days,
            i128t.const_int(NANOS_PER_DAY as u64, false),
            "span",
        )?;
        Ok(b.build_int_add(span, nanos, "span_nanos")?)
    }
}
