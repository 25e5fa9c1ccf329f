//! The strings a kernel builds, in the row's scratch area (see `crate::codegen::ScratchNeed`):
//! `UPPER` and `LOWER` map ASCII letters, as the interpreter does for ASCII strings (a row with
//! a non-ASCII byte falls back); `TRIM` and its kin cut a view of the string (no copy); `||`
//! copies both strings (NULL if either side is); `REPLACE` and `LPAD`/`RPAD` with constant
//! arguments call the runtime, which runs the interpreter's code into the scratch area. The
//! copies are explicit byte loops (the kernel's functions forbid the optimizer to turn them into
//! `memcpy` calls). [`string_bound`] is the scratch an expression's strings need.

use inkwell::values::FunctionValue;
use inkwell::{AddressSpace, IntPredicate};

use crate::codegen::abi::ScratchNeed;
use crate::codegen::lower::helpers::ByteLoop;
use crate::codegen::lower::{Lowered, Lowerer, R};
use crate::codegen::not_compiled;
use crate::ir::{BinaryOp, Expr, Func, Literal, Scalar, SqlType};

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `a`, with the fallback code where it is a valid string with a byte outside ASCII.
    pub(super) fn fall_back_on_non_ascii(&mut self, a: Lowered<'ctx>) -> R<Lowered<'ctx>> {
        let ctx = self.ctx;
        let (p, len) = self.string_parts(a.value)?;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i8t = ctx.i8_type();
        let i64t = ctx.i64_type();
        let bool_t = ctx.bool_type();
        let f = self.helper(
            "qjit_has_non_ascii",
            bool_t,
            &[ptr.into(), i64t.into()],
            |b, f| {
                let (p, n) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                let yes = ctx.append_basic_block(f, "yes");
                let bytes = ByteLoop::new(ctx, b, f, (i64t.const_zero(), n), &[])?;
                let byte = bytes.byte(p)?;
                let high =
                    b.build_int_compare(IntPredicate::SLT, byte, i8t.const_zero(), "high")?;
                bytes.leave_if(high, yes)?;
                bytes.next(&[])?;
                b.build_return(Some(&bool_t.const_zero()))?;
                b.position_at_end(yes);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                Ok(())
            },
        )?;
        let special = self.call(f, &[p.into(), len.into()], "has_non_ascii")?;
        let cond = self.b.build_and(a.valid, special, "ilike_fallback")?;
        let fallback = self.fallback_where(cond)?;
        Ok(Lowered {
            err: self.first_error(a.err, fallback)?,
            ..a
        })
    }

    /// `UPPER(arg)` or `LOWER(arg)`: the ASCII case mapping of the string into the scratch area;
    /// a valid string with a non-ASCII byte falls back (the interpreter maps it with Unicode's
    /// rules).
    pub(in crate::internals::codegen::lower) fn change_case(
        &mut self,
        arg: &Expr,
        upper: bool,
    ) -> R<Lowered<'ctx>> {
        self.require_fallback(if upper { "UPPER" } else { "LOWER" })?;
        let a = self.lower(arg)?;
        let b = self.b;
        let (p, len) = self.string_parts(a.value)?;
        let (dst, fits) = self.scratch_alloc(len, string_bound(arg))?;
        let n = b
            .build_select(fits, len, self.ctx.i64_type().const_zero(), "case_n")?
            .into_int_value();
        let f = self.byte_map_fn(Some(upper))?;
        let ascii = self.call(f, &[p.into(), dst.into(), n.into()], "ascii")?;
        let ok = b.build_and(fits, ascii, "case_ok")?;
        let cond = b.build_and(a.valid, b.build_not(ok, "case_bad")?, "case_fallback")?;
        let err = self.first_error(a.err, self.fallback_where(cond)?)?;
        // Without room the value is the empty string: later operations read it on every row.
        Ok(Lowered {
            value: self.make_string(dst, n)?,
            valid: a.valid,
            err,
        })
    }

    /// `TRIM`: the part of the string between its leading and trailing characters of the set
    /// (a constant of ASCII characters), as a slice of the same bytes (nothing is copied).
    pub(in crate::internals::codegen::lower) fn trim(
        &mut self,
        arg: &Expr,
        chars: &Expr,
        leading: bool,
        trailing: bool,
    ) -> R<Lowered<'ctx>> {
        let set = match chars {
            Expr::Literal(Literal {
                value: Scalar::Utf8(set),
                ..
            }) if set.is_ascii() => set.clone(),
            _ => {
                return not_compiled(
                    "TRIM with characters that are not a constant of ASCII characters",
                )
            }
        };
        // Bit `c` of the mask: byte `c` (below 128) is in the set.
        let mask = set.bytes().fold(0u128, |m, c| m | (1u128 << c));
        let a = self.lower(arg)?;
        let b = self.b;
        let (p, len) = self.string_parts(a.value)?;
        let i64t = self.ctx.i64_type();
        let (mut start, mut n) = (i64t.const_zero(), len);
        if leading {
            let f = self.trim_fn(mask, true)?;
            start = self.call(f, &[p.into(), len.into()], "lead")?;
            n = b.build_int_sub(len, start, "rest")?;
        }
        // SAFETY (of the generated code): `start <= len`.
        let from = unsafe { b.build_gep(self.ctx.i8_type(), p, &[start], "trimmed")? };
        if trailing {
            let f = self.trim_fn(mask, false)?;
            let tail = self.call(f, &[from.into(), n.into()], "trail")?;
            n = b.build_int_sub(n, tail, "kept")?;
        }
        Ok(Lowered {
            value: self.make_string(from, n)?,
            ..a
        })
    }

    /// `i64 (ptr, len)`: how many of the first (`leading`) or last bytes of a string are in the
    /// ASCII set `mask` (bit `c` for byte `c`).
    fn trim_fn(&self, mask: u128, leading: bool) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i8t = ctx.i8_type();
        let i128t = ctx.i128_type();
        let name = format!(
            "qjit_trim_{}_{mask:032x}",
            if leading { "lead" } else { "trail" }
        );
        self.helper(&name, i64t, &[ptr.into(), i64t.into()], |b, f| {
            let (p, n) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
            b.position_at_end(ctx.append_basic_block(f, "entry"));
            // The k-th byte from the front, or from the back: the string reversed.
            let bytes = ByteLoop::new(ctx, b, f, (i64t.const_zero(), n), &[])?;
            let kv = bytes.i;
            let byte = if leading {
                bytes.byte(p)?
            } else {
                let at = b.build_int_sub(
                    b.build_int_sub(n, kv, "from_end")?,
                    i64t.const_int(1, false),
                    "at",
                )?;
                // SAFETY (of the generated code): `at < n`.
                let byte_ptr = unsafe { b.build_in_bounds_gep(i8t, p, &[at], "byte_at")? };
                b.build_load(i8t, byte_ptr, "byte")?.into_int_value()
            };
            let wide = b.build_int_z_extend(byte, i128t, "wide")?;
            let mask = i128t.const_int_arbitrary_precision(&[mask as u64, (mask >> 64) as u64]);
            // A byte of 128 or more shifts by too much: `lshr` would be poison, so clamp it to
            // bit 127, which no ASCII set has.
            let ascii =
                b.build_int_compare(IntPredicate::ULT, byte, i8t.const_int(128, false), "ascii")?;
            let shift = b
                .build_select(ascii, wide, i128t.const_int(127, false), "shift")?
                .into_int_value();
            let bit = b.build_right_shift(mask, shift, false, "bit")?;
            let bit = b.build_int_truncate(bit, ctx.bool_type(), "in_set")?;
            let in_set = b.build_and(ascii, bit, "remove")?;
            let kept = b.build_not(in_set, "kept")?;
            bytes.leave_if(kept, bytes.exit)?;
            bytes.next(&[])?;
            b.build_return(Some(&kv))?;
            Ok(())
        })
    }

    /// `REPLACE(s, from, to)` with constant `from` and `to`, or `LPAD`/`RPAD(s, n, fill)` with
    /// constant `n` (at most [`PAD_COMPILED`]) and `fill`: the runtime function (the
    /// interpreter's code) writes the result into the row's scratch area, which has room for
    /// the longest one; a row where it does not fit falls back.
    pub(in crate::internals::codegen::lower) fn build_by_runtime(
        &mut self,
        func: Func,
        args: &[Expr],
    ) -> R<Lowered<'ctx>> {
        use crate::codegen::runtime::RuntimeFn;
        let Some(built) = built_by_runtime(args) else {
            return not_compiled(format!(
                "{} with arguments that are not constants (or an LPAD/RPAD longer than {PAD_COMPILED})",
                func.name()
            ));
        };
        self.require_fallback(&func.name())?;
        let a = self.lower(&args[0])?;
        let b = self.b;
        let (i32t, i64t) = (self.ctx.i32_type(), self.ctx.i64_type());
        let (p, len) = self.string_parts(a.value)?;
        let (room, bound) = match &built {
            Built::Replace { times, .. } => (
                b.build_int_mul(len, i64t.const_int(*times, false), "room")?,
                ScratchNeed {
                    per_max_len: *times,
                    constant: 0,
                },
            ),
            Built::Pad { extra, .. } => (
                b.build_int_add(len, i64t.const_int(*extra, false), "room")?,
                ScratchNeed {
                    per_max_len: 1,
                    constant: *extra,
                },
            ),
        };
        let (dst, fits) = self.scratch_alloc(room, bound)?;
        let (f, mut call_args): (
            RuntimeFn,
            Vec<inkwell::values::BasicMetadataValueEnum<'ctx>>,
        ) = match &built {
            Built::Replace { from, to, .. } => {
                let (fp, fl) = self.literal_bytes(from);
                let (tp, tl) = self.literal_bytes(to);
                (
                    RuntimeFn::Replace,
                    vec![
                        p.into(),
                        len.into(),
                        fp.into(),
                        fl.into(),
                        tp.into(),
                        tl.into(),
                    ],
                )
            }
            Built::Pad { n, fill, .. } => {
                let (fp, fl) = self.literal_bytes(fill);
                let left = matches!(func, Func::Pad { left: true });
                (
                    RuntimeFn::Pad,
                    vec![
                        p.into(),
                        len.into(),
                        i64t.const_int(*n as u64, true).into(),
                        fp.into(),
                        fl.into(),
                        i32t.const_int(u64::from(left), false).into(),
                    ],
                )
            }
        };
        call_args.push(dst.into());
        call_args.push(room.into());
        self.runtime_string(&a, fits, dst, f, &call_args)
    }

    /// `left || right`: both strings copied into the scratch area; NULL if either is NULL.
    pub(in crate::internals::codegen::lower) fn concat(
        &mut self,
        e: &Expr,
        left: &Expr,
        right: &Expr,
    ) -> R<Lowered<'ctx>> {
        self.require_fallback("|| (string concatenation)")?;
        let l = self.lower(left)?;
        let r = self.lower(right)?;
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let (lp, ll) = self.string_parts(l.value)?;
        let (rp, rl) = self.string_parts(r.value)?;
        let total = b.build_int_add(ll, rl, "concat_len")?;
        let (dst, fits) = self.scratch_alloc(total, string_bound(e))?;
        let n1 = b
            .build_select(fits, ll, i64t.const_zero(), "concat_n1")?
            .into_int_value();
        let n2 = b
            .build_select(fits, rl, i64t.const_zero(), "concat_n2")?
            .into_int_value();
        let copy = self.byte_map_fn(None)?;
        self.call(copy, &[lp.into(), dst.into(), n1.into()], "copy_left")?;
        // SAFETY (of the generated code): n1 + n2 bytes were handed out at `dst` (or none, and
        // both are 0).
        let dst2 = unsafe { b.build_gep(self.ctx.i8_type(), dst, &[n1], "concat_right")? };
        self.call(copy, &[rp.into(), dst2.into(), n2.into()], "copy_right")?;
        let valid = b.build_and(l.valid, r.valid, "valid")?;
        let cond = b.build_and(
            valid,
            b.build_not(fits, "concat_no_room")?,
            "concat_fallback",
        )?;
        let err = self.first_error(l.err, r.err)?;
        let err = self.first_error(err, self.fallback_where(cond)?)?;
        // Without room the value is the empty string: later operations read it on every row.
        let len = b.build_int_add(n1, n2, "concat_len")?;
        Ok(Lowered {
            value: self.make_string(dst, len)?,
            valid,
            err,
        })
    }

    /// `i1 qjit_copy(ptr src, ptr dst, i64 n)` (`upper` = `None`), `qjit_ascii_upper`
    /// (`Some(true)`) or `qjit_ascii_lower` (`Some(false)`): writes the `n` bytes of `src` to
    /// `dst`, with ASCII letters mapped to the case, and returns whether they are all ASCII. One
    /// pass without early exit, so that it vectorizes.
    fn byte_map_fn(&self, upper: Option<bool>) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i8t = ctx.i8_type();
        let bool_t = ctx.bool_type();
        let name = match upper {
            None => "qjit_copy",
            Some(true) => "qjit_ascii_upper",
            Some(false) => "qjit_ascii_lower",
        };
        self.helper(
            name,
            bool_t,
            &[ptr.into(), ptr.into(), i64t.into()],
            |b, f| {
                let (src, dst, n) = (
                    Self::param_ptr(f, 0)?,
                    Self::param_ptr(f, 1)?,
                    Self::param_int(f, 2)?,
                );
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                // The caller has n bytes at both.
                let bytes = ByteLoop::new(
                    ctx,
                    b,
                    f,
                    (i64t.const_zero(), n),
                    &[("seen", i8t.const_zero())],
                )?;
                let sv = bytes.carried[0];
                let x = bytes.byte(src)?;
                let y = match upper {
                    None => x,
                    Some(false) => Self::ascii_fold(b, x)?,
                    Some(true) => {
                        let from_a =
                            b.build_int_sub(x, i8t.const_int(b'a' as u64, false), "from_a")?;
                        let lower = b.build_int_compare(
                            IntPredicate::ULT,
                            from_a,
                            i8t.const_int(26, false),
                            "is_lower",
                        )?;
                        let bit = b
                            .build_select(
                                lower,
                                i8t.const_int(0x20, false),
                                i8t.const_zero(),
                                "case_bit",
                            )?
                            .into_int_value();
                        b.build_xor(x, bit, "upper")?
                    }
                };
                b.build_store(bytes.at(dst)?, y)?;
                let seen2 = b.build_or(sv, x, "seen2")?;
                bytes.next(&[seen2])?;
                // All ASCII: no byte had its top bit set.
                let ascii =
                    b.build_int_compare(IntPredicate::SGE, sv, i8t.const_zero(), "all_ascii")?;
                b.build_return(Some(&ascii))?;
                Ok(())
            },
        )
    }
}

/// The longest `LPAD`/`RPAD` a kernel builds, in characters; longer ones run interpreted.
const PAD_COMPILED: i64 = 4096;

/// The constants of a `REPLACE(s, from, to)` or `LPAD`/`RPAD(s, n, fill)` that a kernel builds.
enum Built {
    /// The result is at most `times` × the string's bytes.
    Replace {
        from: String,
        to: String,
        times: u64,
    },
    /// The result is at most the string's bytes + `extra`.
    Pad { n: i64, fill: String, extra: u64 },
}

/// The constants of a call's arguments after the string, if the kernel can build it.
fn built_by_runtime(args: &[Expr]) -> Option<Built> {
    let text = |e: &Expr| match e {
        Expr::Literal(Literal {
            value: Scalar::Utf8(s),
            ..
        }) => Some(s.clone()),
        _ => None,
    };
    match args {
        [_, from, to] if from.ty() == SqlType::Utf8 && to.ty() == SqlType::Utf8 => {
            let (from, to) = (text(from)?, text(to)?);
            let times = if from.is_empty() {
                1
            } else {
                (to.len() as u64).div_ceil(from.len() as u64).max(1)
            };
            Some(Built::Replace { from, to, times })
        }
        [_, n, fill] => {
            let n = match n {
                Expr::Literal(Literal {
                    value: Scalar::Int(n),
                    ..
                }) if *n <= PAD_COMPILED => *n,
                _ => return None,
            };
            let fill = text(fill)?;
            let widest = fill.chars().map(char::len_utf8).max().unwrap_or(0) as u64;
            let extra = (n.max(0) as u64) * widest;
            Some(Built::Pad { n, fill, extra })
        }
        _ => None,
    }
}

/// The most bytes the string `e` (of type `VARCHAR`) can have in a row, as a [`ScratchNeed`]:
/// a column counts as the longest string of the batch, a literal as its length. Strings the
/// kernel builds are never longer than this (`UPPER`/`LOWER` of ASCII keep the length; longer
/// Unicode mappings fall back).
fn string_bound(e: &Expr) -> ScratchNeed {
    bound_in(e, &mut vec![])
}

/// [`string_bound`] where the enclosing `LET`s bind `vars` (id, bound of the value).
fn bound_in(e: &Expr, vars: &mut Vec<(u32, ScratchNeed)>) -> ScratchNeed {
    let column = ScratchNeed {
        per_max_len: 1,
        constant: 0,
    };
    match e {
        Expr::Column(_) => column,
        Expr::Literal(l) => match &l.value {
            Scalar::Utf8(s) => ScratchNeed {
                per_max_len: 0,
                constant: s.len() as u64,
            },
            _ => ScratchNeed::default(),
        },
        Expr::Binary {
            op: BinaryOp::Concat,
            left,
            right,
            ..
        } => bound_in(left, vars).plus(bound_in(right, vars)),
        Expr::Func {
            func: Func::Upper | Func::Lower | Func::Substring | Func::Trim { .. },
            args,
            ..
        } => args.first().map_or(column, |a| bound_in(a, vars)),
        Expr::Case {
            branches, else_, ..
        } => branches
            .iter()
            .map(|(_, v)| v)
            .chain(else_.as_deref())
            .fold(ScratchNeed::default(), |acc, v| {
                acc.either(bound_in(v, vars))
            }),
        Expr::Func {
            func: Func::Replace | Func::Pad { .. },
            args,
            ..
        } => match built_by_runtime(args) {
            Some(Built::Replace { times, .. }) => bound_in(&args[0], vars).times(times),
            Some(Built::Pad { extra, .. }) => bound_in(&args[0], vars).plus(ScratchNeed {
                per_max_len: 0,
                constant: extra,
            }),
            None => column,
        },
        Expr::Cast { arg, .. } if arg.ty() == SqlType::Utf8 => bound_in(arg, vars),
        Expr::Let { id, value, body } => {
            let v = if value.ty() == SqlType::Utf8 {
                bound_in(value, vars)
            } else {
                ScratchNeed::default()
            };
            vars.push((*id, v));
            let b = bound_in(body, vars);
            vars.pop();
            b
        }
        Expr::Var { id, .. } => vars
            .iter()
            .rev()
            .find(|(v, _)| v == id)
            .map_or(column, |(_, need)| *need),
        Expr::Cast { arg, .. } => crate::codegen::lower::text::text_bound(arg.ty()),
        // Nothing else of type VARCHAR compiles; the kernel's own check covers a wrong guess.
        _ => column,
    }
}
