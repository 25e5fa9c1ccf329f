//! `VARCHAR` in the row function: column reads in every layout, literals, byte-wise comparisons,
//! `LIKE` and `ILIKE` with a constant pattern, and the strings a filter kernel builds: `UPPER`,
//! `LOWER` and `||`.
//!
//! A string value is an LLVM `{ ptr, i64 }`: its first byte and its length in bytes. Where a
//! value is NULL the pair still points at readable memory (or has length 0), so that every
//! operation can run on every row without branching on validity.
//!
//! Strings compare as the interpreter's arrow kernels do: byte-wise as unsigned bytes, then the
//! shorter string first. The loops are internal `alwaysinline` helper functions of the module
//! (`qjit_bytes_eq`, `qjit_str_cmp`, `qjit_str_find`), built on first use; nothing calls out of the
//! module. `LIKE` patterns are specialized when compiled, as the interpreter does: no wildcard →
//! equality, `abc%` → prefix, `%abc` → suffix, `%abc%` → byte search, `%` → any non-NULL string.
//! Other patterns (with `_`, or more than one literal segment) run a matcher function generated
//! for the pattern (`qjit_like_<n>`).
//!
//! `ILIKE` (filter kernels only) compiles when its lowercased pattern is ASCII: the same
//! matchers then fold the value's bytes `A`–`Z` to `a`–`z` as they compare them. That is exactly
//! the interpreter's Unicode `to_lowercase` matching on every string without U+0130 (`İ`, which
//! lowercases to `i` and a combining dot) or U+212A (KELVIN SIGN, which lowercases to `k`): every
//! other non-ASCII character lowercases to one non-ASCII character, which an ASCII pattern
//! character never matches and `_` matches either way. A row whose string holds one of the two
//! reports [`crate::codegen::STATUS_FALLBACK`].
//!
//! `UPPER` and `LOWER` (filter kernels only) map ASCII letters into the row's scratch area, as
//! the interpreter does for ASCII strings; a row with a non-ASCII byte falls back. `||` copies
//! both strings into the scratch area (NULL if either side is). The copies are explicit byte
//! loops (the kernel's functions forbid the optimizer to turn them into `memcpy` calls).

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::Builder;
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, StructType};
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::abi::ScratchNeed;
use crate::codegen::{not_compiled, StringLayout};
use crate::error::Error;
use crate::ir::like::{LikePattern, LikePiece as Piece, LikeShape};
use crate::ir::{BinaryOp, Expr, Func, Literal, Scalar, SqlType};

/// Where a [`Lowerer::first_difference`] loop ends.
struct FirstDifference<'ctx> {
    /// Reached when every compared byte is equal.
    equal: inkwell::basic_block::BasicBlock<'ctx>,
    /// Reached at the first differing byte.
    differ: inkwell::basic_block::BasicBlock<'ctx>,
    /// The differing byte of `p`, valid in `differ`.
    x: IntValue<'ctx>,
    /// The differing byte of `q`, valid in `differ`.
    y: IntValue<'ctx>,
}

/// Views: strings of up to this many bytes are stored inside the view.
const VIEW_INLINE_MAX: u64 = 12;

/// The longest constant a string equality compares without a loop (two 8-byte loads).
const SHORT_CONSTANT: u64 = 16;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `{ ptr, i64 }`: a string's bytes and length.
    pub(super) fn string_type(&self) -> StructType<'ctx> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        self.ctx
            .struct_type(&[ptr.into(), self.ctx.i64_type().into()], false)
    }

    pub(super) fn make_string(
        &self,
        ptr: PointerValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = self.b;
        let s = b.build_insert_value(self.string_type().get_undef(), ptr, 0, "str")?;
        let s = b.build_insert_value(s, len, 1, "str")?;
        Ok(s.into_struct_value().into())
    }

    pub(super) fn string_parts(
        &self,
        v: BasicValueEnum<'ctx>,
    ) -> R<(PointerValue<'ctx>, IntValue<'ctx>)> {
        let BasicValueEnum::StructValue(s) = v else {
            return Err(Error::internal("a VARCHAR value is not a { ptr, i64 } pair").into());
        };
        let p = self.b.build_extract_value(s, 0, "str_ptr")?;
        let l = self.b.build_extract_value(s, 1, "str_len")?;
        Ok((p.into_pointer_value(), l.into_int_value()))
    }

    /// A constant string: a private global holding the bytes.
    pub(super) fn string_literal(&self, s: &str) -> R<BasicValueEnum<'ctx>> {
        let (ptr, len) = self.literal_bytes(s);
        Ok(self
            .string_type()
            .const_named_struct(&[ptr.into(), len.into()])
            .into())
    }

    /// The bytes of `s` in a private global, and their count.
    fn literal_bytes(&self, s: &str) -> (PointerValue<'ctx>, IntValue<'ctx>) {
        let bytes = self.ctx.const_string(s.as_bytes(), false);
        let global = self.module.add_global(bytes.get_type(), None, "qjit_str");
        global.set_initializer(&bytes);
        global.set_constant(true);
        global.set_linkage(Linkage::Private);
        global.set_unnamed_addr(true);
        let len = self.ctx.i64_type().const_int(s.len() as u64, false);
        (global.as_pointer_value(), len)
    }

    /// The string of row `idx` (array offset included) of column `slot`; `valid` is the row's
    /// validity (a NULL view may hold anything, so it reads as the empty string).
    pub(super) fn read_string(
        &self,
        slot: usize,
        idx: IntValue<'ctx>,
        valid: IntValue<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = self.b;
        let i8t = self.ctx.i8_type();
        let i32t = self.ctx.i32_type();
        let i64t = self.ctx.i64_type();
        let ptr_t = self.ctx.ptr_type(AddressSpace::default());
        let data_type = &self
            .slots
            .get(slot)
            .ok_or_else(|| Error::internal("column slot out of range"))?
            .data_type;
        let layout = StringLayout::of(data_type).ok_or_else(|| {
            Error::internal(format!(
                "{data_type} is not a string layout the kernel reads"
            ))
        })?;
        let p = &self.cols[slot];
        match layout {
            StringLayout::Offsets32 | StringLayout::Offsets64 => {
                let t = if layout == StringLayout::Offsets32 {
                    i32t
                } else {
                    i64t
                };
                let next = b.build_int_add(idx, i64t.const_int(1, false), "next_idx")?;
                // SAFETY (of the generated code): offsets has len + 1 entries from the offset.
                let (p0, p1) = unsafe {
                    (
                        b.build_in_bounds_gep(t, p.offsets, &[idx], "start_ptr")?,
                        b.build_in_bounds_gep(t, p.offsets, &[next], "end_ptr")?,
                    )
                };
                let start = b.build_load(t, p0, "start")?.into_int_value();
                let end = b.build_load(t, p1, "end")?.into_int_value();
                let start = b.build_int_s_extend_or_bit_cast(start, i64t, "start64")?;
                let end = b.build_int_s_extend_or_bit_cast(end, i64t, "end64")?;
                let len = b.build_int_sub(end, start, "len")?;
                // SAFETY (of the generated code): offsets point into the data buffer.
                let bytes = unsafe { b.build_in_bounds_gep(i8t, p.data, &[start], "bytes")? };
                self.make_string(bytes, len)
            }
            StringLayout::Views => {
                // SAFETY (of the generated code): every row has a 16-byte view (indexed as
                // `i128`s, so that LLVM moves `values + offset` out of the row loop).
                let i128t = self.ctx.i128_type();
                let view = unsafe { b.build_in_bounds_gep(i128t, p.values, &[idx], "view")? };
                let field = |n: u64, name: &str| -> R<IntValue<'ctx>> {
                    // SAFETY (of the generated code): bytes 0..16 of the view.
                    let fp = unsafe {
                        b.build_in_bounds_gep(i8t, view, &[i64t.const_int(n, false)], name)?
                    };
                    let v = b.build_load(i32t, fp, name)?.into_int_value();
                    Ok(b.build_int_z_extend(v, i64t, name)?)
                };
                let len = field(0, "view_len")?;
                let len = b
                    .build_select(valid, len, i64t.const_zero(), "len")?
                    .into_int_value();
                let long = b.build_int_compare(
                    IntPredicate::UGT,
                    len,
                    i64t.const_int(VIEW_INLINE_MAX, false),
                    "out_of_line",
                )?;
                let buffer = field(8, "view_buffer")?;
                let offset = field(12, "view_offset")?;
                // Inline strings read buffer 0 (which always exists) and ignore it.
                let buffer = b
                    .build_select(long, buffer, i64t.const_zero(), "buffer")?
                    .into_int_value();
                // SAFETY (of the generated code): `data` has an entry for every buffer index of a
                // valid out-of-line view, and at least one.
                let bp = unsafe { b.build_in_bounds_gep(ptr_t, p.data, &[buffer], "buffer_ptr")? };
                let base = b.build_load(ptr_t, bp, "buffer_base")?.into_pointer_value();
                // Not `inbounds`: for inline strings `base` may be anything; the select drops it.
                // SAFETY (of the generated code): only used where the view is out of line.
                let outside = unsafe { b.build_gep(i8t, base, &[offset], "outside")? };
                // SAFETY (of the generated code): bytes 4..16 of the view.
                let inside = unsafe {
                    b.build_in_bounds_gep(i8t, view, &[i64t.const_int(4, false)], "inline")?
                };
                let bytes = b
                    .build_select(long, outside, inside, "bytes")?
                    .into_pointer_value();
                self.make_string(bytes, len)
            }
        }
    }

    /// `l op r` for strings: byte-wise, then by length.
    pub(super) fn string_compare(
        &self,
        op: BinaryOp,
        l: BasicValueEnum<'ctx>,
        r: BasicValueEnum<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let (lp, ll) = self.string_parts(l)?;
        let (rp, rl) = self.string_parts(r)?;
        if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) {
            let eq = self.string_eq(lp, ll, rp, rl)?;
            return Ok(if op == BinaryOp::Eq {
                eq
            } else {
                b.build_not(eq, "str_ne")?
            });
        }
        let pred = super::int_predicate(op, true)?;
        let f = self.str_cmp_fn()?;
        let c = self.call(f, &[lp.into(), ll.into(), rp.into(), rl.into()], "str_cmp")?;
        Ok(b.build_int_compare(pred, c, self.ctx.i32_type().const_zero(), "str_order")?)
    }

    /// `column = s` where `column` (a column reference) is read as views (`Utf8View`), from
    /// the row's view: its first word holds the length and the first four bytes, and a string
    /// of up to [`VIEW_INLINE_MAX`] bytes lies in the view itself. So a row whose length or
    /// prefix differs costs one comparison of a word, and a short constant two (masked to the
    /// bytes that hold the string: what a producer writes after it does not matter); only a row
    /// whose length and prefix match a long constant compares the bytes out of line. `None`
    /// when `column` is not read as views. The value is garbage where the column is NULL (the
    /// caller's validity covers it); such a row reads no bytes out of line.
    pub(super) fn view_eq_constant(&self, column: &Expr, s: &str) -> R<Option<IntValue<'ctx>>> {
        let Expr::Column(c) = column else {
            return Ok(None);
        };
        let Some(&slot) = self.slot_of.get(&c.index) else {
            return Ok(None);
        };
        let views = self
            .slots
            .get(slot)
            .and_then(|s| StringLayout::of(&s.data_type))
            == Some(StringLayout::Views);
        let Ok(n) = u32::try_from(s.len()) else {
            return Ok(None);
        };
        if !views {
            return Ok(None);
        }
        let (b, ctx) = (self.b, self.ctx);
        let (i8t, i64t) = (ctx.i8_type(), ctx.i64_type());
        let ptr_t = ctx.ptr_type(AddressSpace::default());
        // The view's words as they are (NULL rows too: the caller's validity covers them).
        let (w0, w1) = self.view_raw(column, self.bool_const(true))?;
        // The view the constant would have, and the bytes of it that hold the string: the
        // length, then the string inline, or its first four bytes.
        let bytes = s.as_bytes();
        let inline = n as u64 <= VIEW_INLINE_MAX;
        let mut expected = [0u8; 16];
        expected[..4].copy_from_slice(&n.to_le_bytes());
        let kept = if inline { bytes.len() } else { 4 };
        expected[4..4 + kept].copy_from_slice(&bytes[..kept]);
        let significant = 4 + kept;
        let masked_eq = |w: IntValue<'ctx>, at: usize, name: &str| -> R<IntValue<'ctx>> {
            let mut want = [0u8; 8];
            want.copy_from_slice(&expected[at..at + 8]);
            let k = significant.saturating_sub(at).min(8);
            let mask = if k == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * k)) - 1
            };
            let diff = b.build_xor(w, i64t.const_int(u64::from_le_bytes(want), false), name)?;
            let diff = b.build_and(diff, i64t.const_int(mask, false), name)?;
            Ok(b.build_int_compare(IntPredicate::EQ, diff, i64t.const_zero(), name)?)
        };
        let head = masked_eq(w0, 0, "view_head_eq")?;
        if inline {
            if significant <= 8 {
                return Ok(Some(head));
            }
            let tail = masked_eq(w1, 8, "view_tail_eq")?;
            return Ok(Some(b.build_and(head, tail, "view_eq")?));
        }
        // Out of line: word 1 holds the buffer index (low half) and the offset in it (high
        // half). The bytes are compared where the length and prefix match in a valid row;
        // elsewhere buffer 0, which always exists, is read and no byte at all.
        let go = b.build_and(head, self.column_valid(column)?, "view_go")?;
        let buffer = b.build_and(w1, i64t.const_int(u32::MAX as u64, false), "view_buffer")?;
        let buffer = b
            .build_select(go, buffer, i64t.const_zero(), "buffer")?
            .into_int_value();
        let offset = b.build_right_shift(w1, i64t.const_int(32, false), false, "view_offset")?;
        // SAFETY (of the generated code): `data` has an entry for every buffer index of a valid
        // out-of-line view, and at least one.
        let bp =
            unsafe { b.build_in_bounds_gep(ptr_t, self.cols[slot].data, &[buffer], "buffer_ptr")? };
        let base = b.build_load(ptr_t, bp, "buffer_base")?.into_pointer_value();
        // Not `inbounds`: where `go` is false the offset is anything, and no byte is read.
        // SAFETY (of the generated code): dereferenced only where `go` holds.
        let outside = unsafe { b.build_gep(i8t, base, &[offset], "outside")? };
        let (lit, _) = self.literal_bytes(s);
        let after_prefix = |p: PointerValue<'ctx>, name: &str| -> R<PointerValue<'ctx>> {
            // SAFETY (of the generated code): both strings have `n` > 12 bytes.
            Ok(unsafe { b.build_gep(i8t, p, &[i64t.const_int(4, false)], name)? })
        };
        let rest = if n as u64 - 4 <= SHORT_CONSTANT {
            // The bytes after the prefix in at most two loads a side; a row that does not go
            // compares the constant with itself.
            let lit_rest = after_prefix(lit, "lit_rest")?;
            let p = b
                .build_select(go, after_prefix(outside, "view_rest")?, lit_rest, "rest_p")?
                .into_pointer_value();
            self.short_bytes_eq(p, lit_rest, n as u64 - 4)?
        } else {
            let count = b
                .build_select(
                    go,
                    i64t.const_int(n as u64, false),
                    i64t.const_zero(),
                    "eq_n",
                )?
                .into_int_value();
            self.bytes_eq(outside, lit, count)?
        };
        Ok(Some(b.build_and(head, rest, "view_eq")?))
    }

    /// Equal lengths and equal bytes.
    fn string_eq(
        &self,
        lp: PointerValue<'ctx>,
        ll: IntValue<'ctx>,
        rp: PointerValue<'ctx>,
        rl: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        // A side of known length (a constant) is on the right.
        let (lp, ll, rp, rl) = match ll.get_zero_extended_constant() {
            Some(_) if rl.get_zero_extended_constant().is_none() => (rp, rl, lp, ll),
            _ => (lp, ll, rp, rl),
        };
        let same_len = b.build_int_compare(IntPredicate::EQ, ll, rl, "same_len")?;
        if let Some(n) = rl
            .get_zero_extended_constant()
            .filter(|&n| n <= SHORT_CONSTANT)
        {
            // At most two loads a side, no loop. Where the lengths differ, the left side reads
            // the right one's bytes instead: a string shorter than `n` bytes may end its buffer.
            let p = b
                .build_select(same_len, lp, rp, "eq_p")?
                .into_pointer_value();
            let bytes = self.short_bytes_eq(p, rp, n)?;
            return Ok(b.build_and(same_len, bytes, "str_eq")?);
        }
        let n = b
            .build_select(same_len, ll, self.ctx.i64_type().const_zero(), "eq_n")?
            .into_int_value();
        let bytes = self.bytes_eq(lp, rp, n)?;
        Ok(b.build_and(same_len, bytes, "str_eq")?)
    }

    /// The first `n` (at most [`SHORT_CONSTANT`]) bytes of `p` equal those of `q`, both at
    /// least `n` bytes long: one or two loads of a width that fits `n` from each, the second
    /// ending at byte `n` (they may overlap). Constant bytes fold into the comparisons.
    fn short_bytes_eq(
        &self,
        p: PointerValue<'ctx>,
        q: PointerValue<'ctx>,
        n: u64,
    ) -> R<IntValue<'ctx>> {
        let (b, ctx) = (self.b, self.ctx);
        let width = match n {
            0 => return Ok(self.bool_const(true)),
            1 => 1,
            2..=3 => 2,
            4..=7 => 4,
            _ => 8,
        };
        let t = match width {
            1 => ctx.i8_type(),
            2 => ctx.i16_type(),
            4 => ctx.i32_type(),
            _ => ctx.i64_type(),
        };
        let i8t = ctx.i8_type();
        let i64t = ctx.i64_type();
        let load = |base: PointerValue<'ctx>, at: u64| -> R<IntValue<'ctx>> {
            // SAFETY (of the generated code): `at + width <= n`, and both sides have `n` bytes.
            let ptr =
                unsafe { b.build_in_bounds_gep(i8t, base, &[i64t.const_int(at, false)], "at")? };
            Ok(self
                .load_aligned(t.into(), ptr, 1, "chunk")?
                .into_int_value())
        };
        let mut eq = self.bool_const(true);
        for at in [0, n - width] {
            let same =
                b.build_int_compare(IntPredicate::EQ, load(p, at)?, load(q, at)?, "chunk_eq")?;
            eq = b.build_and(eq, same, "chunks_eq")?;
        }
        Ok(eq)
    }

    pub(super) fn bytes_eq(
        &self,
        p: PointerValue<'ctx>,
        q: PointerValue<'ctx>,
        n: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        self.bytes_eq_folding(p, q, n, false)
    }

    /// The first `n` bytes of `p` (folded to ASCII lowercase if `fold`) equal those of `q`.
    fn bytes_eq_folding(
        &self,
        p: PointerValue<'ctx>,
        q: PointerValue<'ctx>,
        n: IntValue<'ctx>,
        fold: bool,
    ) -> R<IntValue<'ctx>> {
        let f = self.bytes_eq_fn(fold)?;
        self.call(f, &[p.into(), q.into(), n.into()], "bytes_eq")
    }

    /// `a`, with the fallback code where it is a valid string that holds U+0130 or U+212A (the
    /// characters whose Unicode lowercase is not ASCII folding, see the module docs).
    fn fall_back_on_ascii_lowercase(&mut self, a: Lowered<'ctx>) -> R<Lowered<'ctx>> {
        let (p, len) = self.string_parts(a.value)?;
        let f = self.lowercases_to_ascii_fn()?;
        let special = self.call(f, &[p.into(), len.into()], "lowercases_to_ascii")?;
        let cond = self.b.build_and(a.valid, special, "ilike_fallback")?;
        let fallback = self.fallback_where(cond)?;
        Ok(Lowered {
            err: self.first_error(a.err, fallback)?,
            ..a
        })
    }

    /// `a`, with the fallback code where it is a valid string with a byte outside ASCII.
    fn fall_back_on_non_ascii(&mut self, a: Lowered<'ctx>) -> R<Lowered<'ctx>> {
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
                let entry = ctx.append_basic_block(f, "entry");
                let body = ctx.append_basic_block(f, "body");
                let next = ctx.append_basic_block(f, "next");
                let yes = ctx.append_basic_block(f, "yes");
                let no = ctx.append_basic_block(f, "no");
                b.position_at_end(entry);
                let any = b.build_int_compare(IntPredicate::NE, n, i64t.const_zero(), "any")?;
                b.build_conditional_branch(any, body, no)?;
                b.position_at_end(body);
                let i = b.build_phi(i64t, "i")?;
                let iv = i.as_basic_value().into_int_value();
                // SAFETY (of the generated code): `i < n`.
                let q = unsafe { b.build_in_bounds_gep(i8t, p, &[iv], "q")? };
                let byte = b.build_load(i8t, q, "byte")?.into_int_value();
                let high =
                    b.build_int_compare(IntPredicate::SLT, byte, i8t.const_zero(), "high")?;
                b.build_conditional_branch(high, yes, next)?;
                b.position_at_end(next);
                let i2 = b.build_int_add(iv, i64t.const_int(1, false), "i2")?;
                let more = b.build_int_compare(IntPredicate::ULT, i2, n, "more")?;
                b.build_conditional_branch(more, body, no)?;
                i.add_incoming(&[(&i64t.const_zero(), entry), (&i2, next)]);
                b.position_at_end(yes);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                b.position_at_end(no);
                b.build_return(Some(&bool_t.const_zero()))?;
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
    pub(super) fn change_case(&mut self, arg: &Expr, upper: bool) -> R<Lowered<'ctx>> {
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
    pub(super) fn trim(
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
            let entry = ctx.append_basic_block(f, "entry");
            let head = ctx.append_basic_block(f, "head");
            let body = ctx.append_basic_block(f, "body");
            let next = ctx.append_basic_block(f, "next");
            let done = ctx.append_basic_block(f, "done");
            b.position_at_end(entry);
            b.build_unconditional_branch(head)?;
            b.position_at_end(head);
            let k = b.build_phi(i64t, "k")?;
            let kv = k.as_basic_value().into_int_value();
            let more = b.build_int_compare(IntPredicate::ULT, kv, n, "more")?;
            b.build_conditional_branch(more, body, done)?;
            b.position_at_end(body);
            // The k-th byte from the front, or from the back.
            let at = if leading {
                kv
            } else {
                b.build_int_sub(
                    b.build_int_sub(n, kv, "from_end")?,
                    i64t.const_int(1, false),
                    "at",
                )?
            };
            // SAFETY (of the generated code): `at < n`.
            let byte_ptr = unsafe { b.build_gep(i8t, p, &[at], "byte_at")? };
            let byte = b.build_load(i8t, byte_ptr, "byte")?.into_int_value();
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
            b.build_conditional_branch(in_set, next, done)?;
            b.position_at_end(next);
            let k2 = b.build_int_add(kv, i64t.const_int(1, false), "k2")?;
            b.build_unconditional_branch(head)?;
            k.add_incoming(&[(&i64t.const_zero(), entry), (&k2, next)]);
            b.position_at_end(done);
            b.build_return(Some(&kv))?;
            Ok(())
        })
    }

    /// `REPLACE(s, from, to)` with constant `from` and `to`, or `LPAD`/`RPAD(s, n, fill)` with
    /// constant `n` (at most [`PAD_COMPILED`]) and `fill`: the runtime function (the
    /// interpreter's code) writes the result into the row's scratch area, which has room for
    /// the longest one; a row where it does not fit falls back.
    pub(super) fn build_by_runtime(&mut self, func: Func, args: &[Expr]) -> R<Lowered<'ctx>> {
        use crate::codegen::runtime::{RuntimeFn, NO_ROOM};
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
        let call = b.build_and(a.valid, fits, "build")?;
        let written = self.call_runtime_where(
            call,
            f,
            &call_args,
            |_, r| Ok(vec![r]),
            &[i64t.const_int(NO_ROOM, false).into()],
        )?[0]
            .into_int_value();
        let ok = b.build_int_compare(
            IntPredicate::NE,
            written,
            i64t.const_int(NO_ROOM, false),
            "built",
        )?;
        let n = b
            .build_select(ok, written, i64t.const_zero(), "built_len")?
            .into_int_value();
        let cond = b.build_and(a.valid, b.build_not(ok, "no_room")?, "build_fallback")?;
        let err = self.first_error(a.err, self.fallback_where(cond)?)?;
        // Without room the value is the empty string: later operations read it on every row.
        Ok(Lowered {
            value: self.make_string(dst, n)?,
            valid: a.valid,
            err,
        })
    }

    /// `left || right`: both strings copied into the scratch area; NULL if either is NULL.
    pub(super) fn concat(&mut self, e: &Expr, left: &Expr, right: &Expr) -> R<Lowered<'ctx>> {
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

    /// `arg [NOT] LIKE pattern [ESCAPE escape]`, for the pattern shapes that specialize.
    pub(super) fn like(
        &mut self,
        arg: &Expr,
        pattern: &str,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    ) -> R<Lowered<'ctx>> {
        let mut parsed = LikePattern::parse(pattern, escape);
        let mut non_ascii_pattern = false;
        if case_insensitive {
            self.require_fallback("ILIKE")?;
            parsed = parsed.lowercased();
            let ascii = parsed.segments.iter().flatten().all(|p| match p {
                Piece::Text(t) => t.is_ascii(),
                Piece::One => true,
            });
            non_ascii_pattern = !ascii;
        }
        let fold = case_insensitive;
        let shape = parsed.shape();
        let segments = parsed.segments;
        let a = self.lower(arg)?;
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let (p, len) = self.string_parts(a.value)?;
        // ASCII folding is Unicode lowercasing on every value but those holding U+0130 or
        // U+212A; against a non-ASCII pattern, on ASCII values only.
        let a = match (case_insensitive, non_ascii_pattern) {
            (false, _) => a,
            (true, false) => self.fall_back_on_ascii_lowercase(a)?,
            (true, true) => self.fall_back_on_non_ascii(a)?,
        };
        let Some(shape) = shape else {
            let f = self.like_matcher_fn(&segments, fold)?;
            let matched = self.call(f, &[p.into(), len.into()], "like")?;
            return self.like_result(matched, a, negated);
        };
        let matched = match &shape {
            LikeShape::Any => self.bool_const(true),
            LikeShape::Equals(s) => {
                let (q, n) = self.string_parts(self.string_literal(s)?)?;
                let same_len = b.build_int_compare(IntPredicate::EQ, len, n, "same_len")?;
                let count = b
                    .build_select(same_len, n, i64t.const_zero(), "eq_n")?
                    .into_int_value();
                let bytes = self.bytes_eq_folding(p, q, count, fold)?;
                b.build_and(same_len, bytes, "str_eq")?
            }
            LikeShape::StartsWith(s) | LikeShape::EndsWith(s) => {
                let (q, n) = self.string_parts(self.string_literal(s)?)?;
                let fits = b.build_int_compare(IntPredicate::UGE, len, n, "fits")?;
                let count = b
                    .build_select(fits, n, i64t.const_zero(), "count")?
                    .into_int_value();
                let start = if matches!(shape, LikeShape::EndsWith(_)) {
                    let at = b.build_int_sub(len, count, "suffix_at")?;
                    let at = b
                        .build_select(fits, at, i64t.const_zero(), "suffix_at")?
                        .into_int_value();
                    // SAFETY (of the generated code): `at + count <= len`.
                    unsafe { b.build_in_bounds_gep(self.ctx.i8_type(), p, &[at], "suffix")? }
                } else {
                    p
                };
                let bytes = self.bytes_eq_folding(start, q, count, fold)?;
                b.build_and(fits, bytes, "affix")?
            }
            LikeShape::Contains(s) => {
                let (q, n) = self.string_parts(self.string_literal(s)?)?;
                let f = self.str_find_fn(fold)?;
                self.call(f, &[p.into(), len.into(), q.into(), n.into()], "contains")?
            }
        };
        self.like_result(matched, a, negated)
    }

    fn like_result(
        &self,
        matched: IntValue<'ctx>,
        a: Lowered<'ctx>,
        negated: bool,
    ) -> R<Lowered<'ctx>> {
        let value = if negated {
            self.b.build_not(matched, "not_like")?
        } else {
            matched
        };
        Ok(Lowered {
            value: value.into(),
            valid: a.valid,
            err: a.err,
        })
    }

    /// `LENGTH(s)` in characters (UTF-8 bytes that do not continue a character), as `i32`, and
    /// whether it exceeds `INTEGER`.
    pub(super) fn char_length(
        &self,
        v: BasicValueEnum<'ctx>,
    ) -> R<(IntValue<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let (p, len) = self.string_parts(v)?;
        let f = self.utf8_offset_fn()?;
        // Counting up to the end: the offset helper counts characters when it runs out.
        let all = self.ctx.i64_type().const_all_ones();
        let chars = self.call(f, &[p.into(), len.into(), all.into()], "chars")?;
        let chars = b.build_int_sub(self.ctx.i64_type().const_zero(), chars, "chars")?;
        let chars = b.build_int_sub(chars, self.ctx.i64_type().const_int(1, false), "chars")?;
        let too_long = b.build_int_compare(
            IntPredicate::SGT,
            chars,
            self.ctx.i64_type().const_int(i32::MAX as u64, false),
            "too_long",
        )?;
        let v = b.build_int_truncate(chars, self.ctx.i32_type(), "length")?;
        Ok((v, too_long))
    }

    /// `SUBSTRING(s, start[, count])` as `interp::strings::substring`: the characters at 1-based
    /// positions `[start, start + count)` clipped to the string, as a pointer and length into
    /// `s`. NULL if any argument is; a negative `count` is an invalid argument.
    pub(super) fn substring(
        &mut self,
        e: &Expr,
        text: Lowered<'ctx>,
        start: Lowered<'ctx>,
        count: Option<Lowered<'ctx>>,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let one = i64t.const_int(1, false);
        let (p, len) = self.string_parts(text.value)?;
        let from = start.value.into_int_value();
        let first = {
            let below = b.build_int_compare(IntPredicate::SLT, from, one, "before_start")?;
            b.build_select(below, one, from, "first")?.into_int_value()
        };
        let max = i64t.const_int(i64::MAX as u64, false);
        let mut valid = b.build_and(text.valid, start.valid, "valid")?;
        let mut err = self.first_error(text.err, start.err)?;
        let (last, negative) = match &count {
            Some(c) => {
                let n = c.value.into_int_value();
                let (sum, o) = self.with_overflow("sadd", from, n)?;
                // saturating_add: an overflow goes to the side of n's sign.
                let n_neg =
                    b.build_int_compare(IntPredicate::SLT, n, i64t.const_zero(), "n_neg")?;
                let sat = b
                    .build_select(n_neg, i64t.const_int(i64::MIN as u64, true), max, "sat")?
                    .into_int_value();
                let end = b.build_select(o, sat, sum, "end")?.into_int_value();
                valid = b.build_and(valid, c.valid, "valid")?;
                err = self.first_error(err, c.err)?;
                (end, Some(n_neg))
            }
            None => (max, None),
        };
        let f = self.utf8_offset_fn()?;
        let offset = |position: IntValue<'ctx>, name: &str| -> R<IntValue<'ctx>> {
            let skip = b.build_int_sub(position, one, "skip")?;
            let at = self.call(f, &[p.into(), len.into(), skip.into()], name)?;
            // The helper answers -1 - chars when the string is shorter: then the end.
            let short = b.build_int_compare(IntPredicate::SLT, at, i64t.const_zero(), "short")?;
            Ok(b.build_select(short, len, at, name)?.into_int_value())
        };
        let begin = offset(first, "begin")?;
        let finish = offset(last, "finish")?;
        let empty = b.build_int_compare(IntPredicate::SLE, last, first, "empty")?;
        let after = b.build_int_compare(IntPredicate::UGT, finish, begin, "after")?;
        let n = b.build_int_sub(finish, begin, "sub_len")?;
        let n = b
            .build_select(after, n, i64t.const_zero(), "sub_len")?
            .into_int_value();
        let n = b
            .build_select(empty, i64t.const_zero(), n, "sub_len")?
            .into_int_value();
        let begin = b
            .build_select(empty, i64t.const_zero(), begin, "begin")?
            .into_int_value();
        // SAFETY (of the generated code): begin <= len.
        let ptr = unsafe { b.build_in_bounds_gep(self.ctx.i8_type(), p, &[begin], "sub")? };
        let value = self.make_string(ptr, n)?;
        if let Some(n_neg) = negative {
            let fail = b.build_and(n_neg, valid, "fail")?;
            let node = self.new_node();
            let kind = crate::codegen::ErrorKind::InvalidArgument {
                message: "negative substring length not allowed".into(),
            };
            let own = self.own_error(fail, kind, e, node)?;
            err = self.first_error(err, own)?;
        }
        Ok(Lowered { value, valid, err })
    }

    // ---- helper functions ----

    /// `i64 qjit_utf8_offset(ptr p, i64 len, i64 skip)`: the byte offset of character `skip`
    /// (0-based; a byte that is not `10xxxxxx` starts a character), or `-1 - chars` when the
    /// string has only `chars <= skip` characters.
    fn utf8_offset_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i8t = ctx.i8_type();
        self.helper(
            "qjit_utf8_offset",
            i64t,
            &[ptr.into(), i64t.into(), i64t.into()],
            |b, f| {
                let (p, len, skip) = (
                    Self::param_ptr(f, 0)?,
                    Self::param_int(f, 1)?,
                    Self::param_int(f, 2)?,
                );
                let entry = ctx.append_basic_block(f, "entry");
                let head = ctx.append_basic_block(f, "head");
                let body = ctx.append_basic_block(f, "body");
                let next_bb = ctx.append_basic_block(f, "next");
                let found = ctx.append_basic_block(f, "found");
                let end = ctx.append_basic_block(f, "end");
                b.position_at_end(entry);
                b.build_unconditional_branch(head)?;
                b.position_at_end(head);
                let pos = b.build_phi(i64t, "pos")?;
                let chars = b.build_phi(i64t, "chars")?;
                let (posv, charsv) = (
                    pos.as_basic_value().into_int_value(),
                    chars.as_basic_value().into_int_value(),
                );
                let more = b.build_int_compare(IntPredicate::ULT, posv, len, "more")?;
                b.build_conditional_branch(more, body, end)?;
                b.position_at_end(body);
                // SAFETY (of the generated code): pos < len.
                let at = unsafe { b.build_in_bounds_gep(i8t, p, &[posv], "at")? };
                let byte = b.build_load(i8t, at, "byte")?.into_int_value();
                let top = b.build_and(byte, i8t.const_int(0xC0, false), "top")?;
                let starts = b.build_int_compare(
                    IntPredicate::NE,
                    top,
                    i8t.const_int(0x80, false),
                    "starts",
                )?;
                let hit = b.build_int_compare(IntPredicate::EQ, charsv, skip, "hit")?;
                let here = b.build_and(starts, hit, "here")?;
                b.build_conditional_branch(here, found, next_bb)?;
                b.position_at_end(next_bb);
                let chars2 = b.build_int_add(
                    charsv,
                    b.build_int_z_extend(starts, i64t, "starts64")?,
                    "chars2",
                )?;
                let pos2 = b.build_int_add(posv, i64t.const_int(1, false), "pos2")?;
                b.build_unconditional_branch(head)?;
                pos.add_incoming(&[(&i64t.const_zero(), entry), (&pos2, next_bb)]);
                chars.add_incoming(&[(&i64t.const_zero(), entry), (&chars2, next_bb)]);
                b.position_at_end(found);
                b.build_return(Some(&posv))?;
                b.position_at_end(end);
                let minus = b.build_int_sub(i64t.const_all_ones(), charsv, "minus_chars")?;
                b.build_return(Some(&minus))?;
                Ok(())
            },
        )
    }

    pub(super) fn call(
        &self,
        f: FunctionValue<'ctx>,
        args: &[inkwell::values::BasicMetadataValueEnum<'ctx>],
        name: &str,
    ) -> R<IntValue<'ctx>> {
        Ok(self
            .b
            .build_call(f, args, name)?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal(format!("{name} returns nothing")))?
            .into_int_value())
    }

    /// The helper `name`, built by `build` on first use: internal, `alwaysinline`, with the row
    /// function's target attributes.
    pub(super) fn helper(
        &self,
        name: &str,
        ret: inkwell::types::IntType<'ctx>,
        params: &[BasicMetadataTypeEnum<'ctx>],
        build: impl FnOnce(&Builder<'ctx>, FunctionValue<'ctx>) -> R<()>,
    ) -> R<FunctionValue<'ctx>> {
        if let Some(f) = self.module.get_function(name) {
            return Ok(f);
        }
        let f = self.new_helper(name, ret, params)?;
        let builder = self.ctx.create_builder();
        build(&builder, f)?;
        if !f.verify(false) {
            return Err(Error::internal(format!("LLVM rejected the helper {name}")).into());
        }
        Ok(f)
    }

    /// A new internal `alwaysinline` function with the row function's target attributes.
    fn new_helper(
        &self,
        name: &str,
        ret: inkwell::types::IntType<'ctx>,
        params: &[BasicMetadataTypeEnum<'ctx>],
    ) -> R<FunctionValue<'ctx>> {
        let f = self
            .module
            .add_function(name, ret.fn_type(params, false), Some(Linkage::Internal));
        let row_fn = self
            .b
            .get_insert_block()
            .and_then(|bb| bb.get_parent())
            .ok_or_else(|| Error::internal("the builder is outside the row function"))?;
        let keys = ["target-cpu", "target-features"]
            .into_iter()
            .chain(crate::codegen::attributes::NO_LIBRARY_CALLS);
        for key in keys {
            if let Some(a) = row_fn.get_string_attribute(AttributeLoc::Function, key) {
                f.add_attribute(AttributeLoc::Function, a);
            }
        }
        for attr in ["alwaysinline", "nounwind"] {
            let kind = Attribute::get_named_enum_kind_id(attr);
            f.add_attribute(
                AttributeLoc::Function,
                self.ctx.create_enum_attribute(kind, 0),
            );
        }
        Ok(f)
    }

    pub(super) fn param_int(f: FunctionValue<'ctx>, n: u32) -> R<IntValue<'ctx>> {
        Ok(f.get_nth_param(n)
            .ok_or_else(|| Error::internal(format!("helper has no parameter {n}")))?
            .into_int_value())
    }

    pub(super) fn param_ptr(f: FunctionValue<'ctx>, n: u32) -> R<PointerValue<'ctx>> {
        Ok(f.get_nth_param(n)
            .ok_or_else(|| Error::internal(format!("helper has no parameter {n}")))?
            .into_pointer_value())
    }

    /// Emits, from the current block of `f`, a loop over the first `n` bytes of `p` and `q` that
    /// stops at the first byte where they differ. Returns the block reached when all `n` bytes
    /// are equal and the block reached at the first difference, with the two differing bytes.
    fn first_difference(
        &self,
        b: &Builder<'ctx>,
        f: FunctionValue<'ctx>,
        (p, q, n): (PointerValue<'ctx>, PointerValue<'ctx>, IntValue<'ctx>),
        fold: bool,
    ) -> R<FirstDifference<'ctx>> {
        let ctx = self.ctx;
        let (i8t, i64t) = (ctx.i8_type(), ctx.i64_type());
        let from = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("byte loop emitted outside a block"))?;
        let head = ctx.append_basic_block(f, "head");
        let body = ctx.append_basic_block(f, "body");
        let equal = ctx.append_basic_block(f, "equal");
        let differ = ctx.append_basic_block(f, "differ");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let i = b.build_phi(i64t, "i")?;
        let iv = i.as_basic_value().into_int_value();
        let done = b.build_int_compare(IntPredicate::UGE, iv, n, "done")?;
        b.build_conditional_branch(done, equal, body)?;
        b.position_at_end(body);
        // SAFETY (of the generated code): i < n, and the caller guarantees n bytes at p and q.
        let (pa, qa) = unsafe {
            (
                b.build_in_bounds_gep(i8t, p, &[iv], "pa")?,
                b.build_in_bounds_gep(i8t, q, &[iv], "qa")?,
            )
        };
        let x = b.build_load(i8t, pa, "x")?.into_int_value();
        let x = if fold { Self::ascii_fold(b, x)? } else { x };
        let y = b.build_load(i8t, qa, "y")?.into_int_value();
        let ne = b.build_int_compare(IntPredicate::NE, x, y, "ne")?;
        let next = b.build_int_add(iv, i64t.const_int(1, false), "next")?;
        b.build_conditional_branch(ne, differ, head)?;
        i.add_incoming(&[(&i64t.const_zero(), from), (&next, body)]);
        Ok(FirstDifference {
            equal,
            differ,
            x,
            y,
        })
    }

    /// The byte `x` with `A`–`Z` mapped to `a`–`z` (branch-free).
    pub(super) fn ascii_fold(b: &Builder<'ctx>, x: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let t = x.get_type();
        let from_a = b.build_int_sub(x, t.const_int(b'A' as u64, false), "from_a")?;
        let upper = b.build_int_compare(
            IntPredicate::ULT,
            from_a,
            t.const_int(26, false),
            "is_upper",
        )?;
        let bit = b
            .build_select(upper, t.const_int(0x20, false), t.const_zero(), "case_bit")?
            .into_int_value();
        Ok(b.build_or(x, bit, "folded")?)
    }

    /// `i1 qjit_bytes_eq(ptr p, ptr q, i64 n)`: the first `n` bytes are equal; with `fold`,
    /// `qjit_bytes_eq_fold`: the bytes of `p` folded to ASCII lowercase equal those of `q`.
    fn bytes_eq_fn(&self, fold: bool) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let bool_t = ctx.bool_type();
        self.helper(
            if fold {
                "qjit_bytes_eq_fold"
            } else {
                "qjit_bytes_eq"
            },
            bool_t,
            &[ptr.into(), ptr.into(), ctx.i64_type().into()],
            |b, f| {
                let (p, q, n) = (
                    Self::param_ptr(f, 0)?,
                    Self::param_ptr(f, 1)?,
                    Self::param_int(f, 2)?,
                );
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                let scan = self.first_difference(b, f, (p, q, n), fold)?;
                b.position_at_end(scan.equal);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                b.position_at_end(scan.differ);
                b.build_return(Some(&bool_t.const_zero()))?;
                Ok(())
            },
        )
    }

    /// `i32 qjit_str_cmp(ptr p, i64 pl, ptr q, i64 ql)`: -1, 0 or 1, byte-wise (unsigned), then
    /// the shorter first.
    fn str_cmp_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i32t = ctx.i32_type();
        self.helper(
            "qjit_str_cmp",
            i32t,
            &[ptr.into(), i64t.into(), ptr.into(), i64t.into()],
            |b, f| {
                let (p, pl, q, ql) = (
                    Self::param_ptr(f, 0)?,
                    Self::param_int(f, 1)?,
                    Self::param_ptr(f, 2)?,
                    Self::param_int(f, 3)?,
                );
                let minus = i32t.const_all_ones();
                let one = i32t.const_int(1, false);
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                let shorter = b.build_int_compare(IntPredicate::ULT, pl, ql, "shorter")?;
                let n = b.build_select(shorter, pl, ql, "n")?.into_int_value();
                let scan = self.first_difference(b, f, (p, q, n), false)?;
                b.position_at_end(scan.differ);
                let lt = b.build_int_compare(IntPredicate::ULT, scan.x, scan.y, "byte_lt")?;
                let r = b.build_select(lt, minus, one, "byte_order")?;
                b.build_return(Some(&r))?;
                // The common prefix is equal: the shorter string comes first.
                b.position_at_end(scan.equal);
                let longer = b.build_int_compare(IntPredicate::UGT, pl, ql, "longer")?;
                let r = b
                    .build_select(longer, one, i32t.const_zero(), "len_gt")?
                    .into_int_value();
                let r = b.build_select(shorter, minus, r, "len_order")?;
                b.build_return(Some(&r))?;
                Ok(())
            },
        )
    }

    /// `i1 qjit_str_find(ptr p, i64 pl, ptr q, i64 ql)`: `q` occurs in `p` (byte search); with
    /// `fold`, `qjit_str_find_fold`: in `p` folded to ASCII lowercase.
    fn str_find_fn(&self, fold: bool) -> R<FunctionValue<'ctx>> {
        let eq = self.bytes_eq_fn(fold)?;
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i8t = ctx.i8_type();
        let bool_t = ctx.bool_type();
        self.helper(
            if fold {
                "qjit_str_find_fold"
            } else {
                "qjit_str_find"
            },
            bool_t,
            &[ptr.into(), i64t.into(), ptr.into(), i64t.into()],
            |b, f| {
                let (p, pl, q, ql) = (
                    Self::param_ptr(f, 0)?,
                    Self::param_int(f, 1)?,
                    Self::param_ptr(f, 2)?,
                    Self::param_int(f, 3)?,
                );
                let entry = ctx.append_basic_block(f, "entry");
                let pre = ctx.append_basic_block(f, "pre");
                let head = ctx.append_basic_block(f, "head");
                let next_bb = ctx.append_basic_block(f, "next");
                let found = ctx.append_basic_block(f, "found");
                let missing = ctx.append_basic_block(f, "missing");
                b.position_at_end(entry);
                let fits = b.build_int_compare(IntPredicate::ULE, ql, pl, "fits")?;
                b.build_conditional_branch(fits, pre, missing)?;
                b.position_at_end(pre);
                let last = b.build_int_sub(pl, ql, "last")?;
                b.build_unconditional_branch(head)?;
                b.position_at_end(head);
                let s = b.build_phi(i64t, "s")?;
                let sv = s.as_basic_value().into_int_value();
                // SAFETY (of the generated code): s + ql <= pl.
                let at = unsafe { b.build_in_bounds_gep(i8t, p, &[sv], "at")? };
                let hit = b
                    .build_call(eq, &[at.into(), q.into(), ql.into()], "hit")?
                    .try_as_basic_value()
                    .basic()
                    .ok_or_else(|| Error::internal("qjit_bytes_eq returns nothing"))?
                    .into_int_value();
                b.build_conditional_branch(hit, found, next_bb)?;
                b.position_at_end(next_bb);
                let s2 = b.build_int_add(sv, i64t.const_int(1, false), "s2")?;
                let more = b.build_int_compare(IntPredicate::ULE, s2, last, "more")?;
                b.build_conditional_branch(more, head, missing)?;
                s.add_incoming(&[(&i64t.const_zero(), pre), (&s2, next_bb)]);
                b.position_at_end(found);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                b.position_at_end(missing);
                b.build_return(Some(&bool_t.const_zero()))?;
                Ok(())
            },
        )
    }
}

/// Code generation for a general `LIKE` pattern inside its matcher function: the interpreter's
/// algorithm (`interp::like`), specialized to the pattern. The first segment is anchored at the
/// start, the last at the end (found by counting its characters back from the end), and each
/// middle segment is matched at its leftmost position after the previous one — greedy, without
/// backtracking, which is exact for `%`-separated segments. A failed check branches to `fail`.
struct Matcher<'a, 'ctx> {
    ctx: &'ctx inkwell::context::Context,
    b: &'a Builder<'ctx>,
    f: FunctionValue<'ctx>,
    /// The string's bytes.
    p: PointerValue<'ctx>,
    bytes_eq: FunctionValue<'ctx>,
}

impl<'ctx> Matcher<'_, 'ctx> {
    /// Continues in a new block where `cond` holds; branches to `fail` where it does not.
    fn require(&self, cond: IntValue<'ctx>, fail: inkwell::basic_block::BasicBlock<'ctx>) -> R<()> {
        let ok = self.ctx.append_basic_block(self.f, "ok");
        self.b.build_conditional_branch(cond, ok, fail)?;
        self.b.position_at_end(ok);
        Ok(())
    }

    fn byte_at(&self, pos: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let i8t = self.ctx.i8_type();
        // SAFETY (of the generated code): callers check `pos` against the string's length.
        let at = unsafe { self.b.build_in_bounds_gep(i8t, self.p, &[pos], "at")? };
        Ok(self.b.build_load(i8t, at, "byte")?.into_int_value())
    }

    /// The length in bytes of the UTF-8 character whose first byte is `lead`.
    fn char_len(&self, lead: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i8t = self.ctx.i8_type();
        let i64t = self.ctx.i64_type();
        let mut n = i64t.const_int(1, false);
        for bound in [0xC0u64, 0xE0, 0xF0] {
            let ge = b.build_int_compare(
                IntPredicate::UGE,
                lead,
                i8t.const_int(bound, false),
                "multi",
            )?;
            let ge = b.build_int_z_extend(ge, i64t, "multi64")?;
            n = b.build_int_add(n, ge, "char_len")?;
        }
        Ok(n)
    }

    /// Matches `pieces` at byte `pos` of the first `limit` bytes; the end position.
    fn segment(
        &self,
        lowerer: &Lowerer<'_, 'ctx>,
        pieces: &[Piece],
        mut pos: IntValue<'ctx>,
        limit: IntValue<'ctx>,
        fail: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    let (q, n) = lowerer.literal_bytes(t);
                    let end = b.build_int_add(pos, n, "text_end")?;
                    self.require(
                        b.build_int_compare(IntPredicate::ULE, end, limit, "text_fits")?,
                        fail,
                    )?;
                    // SAFETY (of the generated code): pos + n <= limit <= the length.
                    let at = unsafe {
                        b.build_in_bounds_gep(self.ctx.i8_type(), self.p, &[pos], "text_at")?
                    };
                    let eq = b
                        .build_call(self.bytes_eq, &[at.into(), q.into(), n.into()], "text_eq")?
                        .try_as_basic_value()
                        .basic()
                        .ok_or_else(|| Error::internal("qjit_bytes_eq returns nothing"))?
                        .into_int_value();
                    self.require(eq, fail)?;
                    pos = end;
                }
                Piece::One => {
                    self.require(
                        b.build_int_compare(IntPredicate::ULT, pos, limit, "has_char")?,
                        fail,
                    )?;
                    let n = self.char_len(self.byte_at(pos)?)?;
                    pos = b.build_int_add(pos, n, "after_char")?;
                }
            }
        }
        Ok(pos)
    }

    /// The byte offset `chars` characters before `len`.
    fn chars_before_end(
        &self,
        chars: u64,
        len: IntValue<'ctx>,
        fail: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i8t = self.ctx.i8_type();
        let i64t = self.ctx.i64_type();
        if chars == 0 {
            return Ok(len);
        }
        let pre = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("builder lost its block"))?;
        let head = self.ctx.append_basic_block(self.f, "back_head");
        let step = self.ctx.append_basic_block(self.f, "back_step");
        let done = self.ctx.append_basic_block(self.f, "back_done");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let pos = b.build_phi(i64t, "back_pos")?;
        let left = b.build_phi(i64t, "back_left")?;
        let (posv, leftv) = (
            pos.as_basic_value().into_int_value(),
            left.as_basic_value().into_int_value(),
        );
        let finished = b.build_int_compare(IntPredicate::EQ, leftv, i64t.const_zero(), "found")?;
        b.build_conditional_branch(finished, done, step)?;
        b.position_at_end(step);
        self.require(
            b.build_int_compare(IntPredicate::NE, posv, i64t.const_zero(), "more_text")?,
            fail,
        )?;
        let pos2 = b.build_int_sub(posv, i64t.const_int(1, false), "back_pos2")?;
        let byte = self.byte_at(pos2)?;
        let top = b.build_and(byte, i8t.const_int(0xC0, false), "top_bits")?;
        let starts = b.build_int_compare(
            IntPredicate::NE,
            top,
            i8t.const_int(0x80, false),
            "char_start",
        )?;
        let starts = b.build_int_z_extend(starts, i64t, "char_start64")?;
        let left2 = b.build_int_sub(leftv, starts, "back_left2")?;
        let step_end = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("builder lost its block"))?;
        b.build_unconditional_branch(head)?;
        pos.add_incoming(&[(&len, pre), (&pos2, step_end)]);
        left.add_incoming(&[(&i64t.const_int(chars, false), pre), (&left2, step_end)]);
        b.position_at_end(done);
        Ok(posv)
    }

    /// The leftmost match of `pieces` starting in `from..to` within the first `to` bytes; its
    /// end.
    fn find(
        &self,
        lowerer: &Lowerer<'_, 'ctx>,
        pieces: &[Piece],
        from: IntValue<'ctx>,
        to: IntValue<'ctx>,
        fail: inkwell::basic_block::BasicBlock<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let lost = || Error::internal("builder lost its block");
        let pre = b.get_insert_block().ok_or_else(lost)?;
        let head = self.ctx.append_basic_block(self.f, "find_head");
        let retry = self.ctx.append_basic_block(self.f, "find_retry");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let start = b.build_phi(i64t, "find_start")?;
        let startv = start.as_basic_value().into_int_value();
        let end = self.segment(lowerer, pieces, startv, to, retry)?;
        let found = b.get_insert_block().ok_or_else(lost)?;
        b.position_at_end(retry);
        self.require(
            b.build_int_compare(IntPredicate::ULT, startv, to, "find_more")?,
            fail,
        )?;
        let n = self.char_len(self.byte_at(startv)?)?;
        let next = b.build_int_add(startv, n, "find_next")?;
        let retry_end = b.get_insert_block().ok_or_else(lost)?;
        b.build_unconditional_branch(head)?;
        start.add_incoming(&[(&from, pre), (&next, retry_end)]);
        b.position_at_end(found);
        Ok(end)
    }
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `i1 qjit_like_<n>(ptr p, i64 len)`: the string (folded to ASCII lowercase if `fold`)
    /// matches the pattern of `segments`.
    fn like_matcher_fn(&self, segments: &[Vec<Piece>], fold: bool) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let bytes_eq = self.bytes_eq_fn(fold)?;
        let bool_t = ctx.bool_type();
        let i64t = ctx.i64_type();
        let ptr = ctx.ptr_type(AddressSpace::default());
        let name = format!("qjit_like_{}", self.module.get_functions().count());
        let f = self.new_helper(&name, bool_t, &[ptr.into(), i64t.into()])?;
        let b = ctx.create_builder();
        let entry = ctx.append_basic_block(f, "entry");
        let fail = ctx.append_basic_block(f, "no_match");
        b.position_at_end(fail);
        b.build_return(Some(&bool_t.const_zero()))?;
        b.position_at_end(entry);
        let m = Matcher {
            ctx,
            b: &b,
            f,
            p: Self::param_ptr(f, 0)?,
            bytes_eq,
        };
        let len = Self::param_int(f, 1)?;
        let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
            return Err(Error::internal("a LIKE pattern without segments").into());
        };
        let whole = |end: IntValue<'ctx>| b.build_int_compare(IntPredicate::EQ, end, len, "whole");
        if segments.len() == 1 {
            let end = m.segment(self, first, i64t.const_zero(), len, fail)?;
            b.build_return(Some(&whole(end)?))?;
        } else {
            let mut pos = m.segment(self, first, i64t.const_zero(), len, fail)?;
            let chars: u64 = last
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.chars().count() as u64,
                    Piece::One => 1,
                })
                .sum();
            let tail = m.chars_before_end(chars, len, fail)?;
            m.require(
                b.build_int_compare(IntPredicate::UGE, tail, pos, "tail_after")?,
                fail,
            )?;
            let end = m.segment(self, last, tail, len, fail)?;
            m.require(whole(end)?, fail)?;
            for middle in &segments[1..segments.len() - 1] {
                pos = m.find(self, middle, pos, tail, fail)?;
            }
            b.build_return(Some(&bool_t.const_int(1, false)))?;
        }
        if !f.verify(false) {
            return Err(Error::internal(format!("LLVM rejected the LIKE matcher {name}")).into());
        }
        Ok(f)
    }
}

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `i1 qjit_lowercases_to_ascii(ptr p, i64 len)`: the string holds U+0130 (bytes `C4 B0`)
    /// or U+212A (bytes `E2 84 AA`). In UTF-8 these byte sequences are those characters and
    /// nothing else.
    fn lowercases_to_ascii_fn(&self) -> R<FunctionValue<'ctx>> {
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
        let i8t = ctx.i8_type();
        let bool_t = ctx.bool_type();
        self.helper(
            "qjit_lowercases_to_ascii",
            bool_t,
            &[ptr.into(), i64t.into()],
            |b, f| {
                let (p, len) = (Self::param_ptr(f, 0)?, Self::param_int(f, 1)?);
                let entry = ctx.append_basic_block(f, "entry");
                let head = ctx.append_basic_block(f, "head");
                let body = ctx.append_basic_block(f, "body");
                let next_bb = ctx.append_basic_block(f, "next");
                let found = ctx.append_basic_block(f, "found");
                let missing = ctx.append_basic_block(f, "missing");
                b.position_at_end(entry);
                b.build_unconditional_branch(head)?;
                b.position_at_end(head);
                let i = b.build_phi(i64t, "i")?;
                // The two bytes before `i` (0 before the start).
                let prev = b.build_phi(i8t, "prev")?;
                let prev2 = b.build_phi(i8t, "prev2")?;
                let (iv, pv, p2v) = (
                    i.as_basic_value().into_int_value(),
                    prev.as_basic_value().into_int_value(),
                    prev2.as_basic_value().into_int_value(),
                );
                let more = b.build_int_compare(IntPredicate::ULT, iv, len, "more")?;
                b.build_conditional_branch(more, body, missing)?;
                b.position_at_end(body);
                // SAFETY (of the generated code): i < len.
                let at = unsafe { b.build_in_bounds_gep(i8t, p, &[iv], "at")? };
                let x = b.build_load(i8t, at, "byte")?.into_int_value();
                let is = |v: IntValue<'ctx>, byte: u64, name: &str| {
                    b.build_int_compare(IntPredicate::EQ, v, i8t.const_int(byte, false), name)
                };
                let dotted = b.build_and(is(pv, 0xC4, "c4")?, is(x, 0xB0, "b0")?, "dotted_i")?;
                let kelvin = b.build_and(
                    b.build_and(is(p2v, 0xE2, "e2")?, is(pv, 0x84, "x84")?, "e284")?,
                    is(x, 0xAA, "aa")?,
                    "kelvin",
                )?;
                let hit = b.build_or(dotted, kelvin, "hit")?;
                b.build_conditional_branch(hit, found, next_bb)?;
                b.position_at_end(next_bb);
                let i2 = b.build_int_add(iv, i64t.const_int(1, false), "i2")?;
                b.build_unconditional_branch(head)?;
                i.add_incoming(&[(&i64t.const_zero(), entry), (&i2, next_bb)]);
                prev.add_incoming(&[(&i8t.const_zero(), entry), (&x, next_bb)]);
                prev2.add_incoming(&[(&i8t.const_zero(), entry), (&pv, next_bb)]);
                b.position_at_end(found);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                b.position_at_end(missing);
                b.build_return(Some(&bool_t.const_zero()))?;
                Ok(())
            },
        )
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
                let entry = ctx.append_basic_block(f, "entry");
                let head = ctx.append_basic_block(f, "head");
                let body = ctx.append_basic_block(f, "body");
                let done = ctx.append_basic_block(f, "done");
                b.position_at_end(entry);
                b.build_unconditional_branch(head)?;
                b.position_at_end(head);
                let i = b.build_phi(i64t, "i")?;
                let seen = b.build_phi(i8t, "seen")?;
                let (iv, sv) = (
                    i.as_basic_value().into_int_value(),
                    seen.as_basic_value().into_int_value(),
                );
                let more = b.build_int_compare(IntPredicate::ULT, iv, n, "more")?;
                b.build_conditional_branch(more, body, done)?;
                b.position_at_end(body);
                // SAFETY (of the generated code): i < n, and the caller has n bytes at both.
                let (from, to) = unsafe {
                    (
                        b.build_in_bounds_gep(i8t, src, &[iv], "from")?,
                        b.build_in_bounds_gep(i8t, dst, &[iv], "to")?,
                    )
                };
                let x = b.build_load(i8t, from, "byte")?.into_int_value();
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
                b.build_store(to, y)?;
                let seen2 = b.build_or(sv, x, "seen2")?;
                let i2 = b.build_int_add(iv, i64t.const_int(1, false), "i2")?;
                b.build_unconditional_branch(head)?;
                i.add_incoming(&[(&i64t.const_zero(), entry), (&i2, body)]);
                seen.add_incoming(&[(&i8t.const_zero(), entry), (&seen2, body)]);
                b.position_at_end(done);
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
pub(super) fn string_bound(e: &Expr) -> ScratchNeed {
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
        Expr::Cast { arg, .. } => super::text::text_bound(arg.ty()),
        // Nothing else of type VARCHAR compiles; the kernel's own check covers a wrong guess.
        _ => column,
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::like::{LikePattern, LikeShape};

    fn like_shape_of(p: &str, escape: Option<char>) -> Option<LikeShape> {
        LikePattern::parse(p, escape).shape()
    }

    #[test]
    fn like_patterns_specialize_as_the_interpreter_parses_them() {
        let shape = |p: &str| like_shape_of(p, Some('\\'));
        assert_eq!(shape("abc"), Some(LikeShape::Equals("abc".into())));
        assert_eq!(shape("abc%"), Some(LikeShape::StartsWith("abc".into())));
        assert_eq!(shape("%abc"), Some(LikeShape::EndsWith("abc".into())));
        assert_eq!(shape("%abc%"), Some(LikeShape::Contains("abc".into())));
        assert_eq!(shape("%%abc%%"), Some(LikeShape::Contains("abc".into())));
        assert_eq!(shape("%"), Some(LikeShape::Any));
        assert_eq!(shape("%%%"), Some(LikeShape::Any));
        assert_eq!(shape(""), Some(LikeShape::Equals(String::new())));
        assert_eq!(shape("100\\%"), Some(LikeShape::Equals("100%".into())));
        assert_eq!(shape("a\\_%"), Some(LikeShape::StartsWith("a_".into())));
        assert_eq!(shape("a\\"), Some(LikeShape::Equals("a\\".into())));
        assert_eq!(
            like_shape_of("a\\%", None),
            Some(LikeShape::StartsWith("a\\".into()))
        );
        assert_eq!(shape("a_c"), None);
        assert_eq!(shape("a%b%c"), None);
        assert_eq!(shape("a%b"), None);
    }
}
