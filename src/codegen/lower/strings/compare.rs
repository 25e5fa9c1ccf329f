//! Byte-wise string comparisons, as the interpreter's arrow kernels compare: unsigned bytes,
//! then the shorter string first. Equality with a short constant is one or two wide loads; a
//! `Utf8View` column against a constant compares the view's inline words; the rest are loops
//! (`qjit_bytes_eq`, `qjit_str_cmp`, `qjit_str_find`), with `_fold` variants that fold the
//! value's ASCII letters to lowercase for `ILIKE`.

use inkwell::builder::Builder;
use inkwell::values::{BasicValueEnum, FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::VIEW_INLINE_MAX;
use crate::codegen::lower::helpers::ByteLoop;
use crate::codegen::lower::{Lowerer, R};
use crate::codegen::StringLayout;
use crate::error::Error;
use crate::ir::{BinaryOp, Expr};

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

/// The longest constant a string equality compares without a loop (two 8-byte loads).
const SHORT_CONSTANT: u64 = 16;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `l op r` for strings: byte-wise, then by length.
    pub(in crate::internals::codegen::lower) fn string_compare(
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
        let pred = crate::codegen::lower::int_predicate(op, true)?;
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
    pub(in crate::internals::codegen::lower) fn view_eq_constant(
        &self,
        column: &Expr,
        s: &str,
    ) -> R<Option<IntValue<'ctx>>> {
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

    pub(in crate::internals::codegen::lower) fn bytes_eq(
        &self,
        p: PointerValue<'ctx>,
        q: PointerValue<'ctx>,
        n: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
        self.bytes_eq_folding(p, q, n, false)
    }

    /// The first `n` bytes of `p` (folded to ASCII lowercase if `fold`) equal those of `q`.
    pub(super) fn bytes_eq_folding(
        &self,
        p: PointerValue<'ctx>,
        q: PointerValue<'ctx>,
        n: IntValue<'ctx>,
        fold: bool,
    ) -> R<IntValue<'ctx>> {
        let f = self.bytes_eq_fn(fold)?;
        self.call(f, &[p.into(), q.into(), n.into()], "bytes_eq")
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
        let differ = ctx.append_basic_block(f, "differ");
        // The caller guarantees n bytes at p and q.
        let bytes = ByteLoop::new(ctx, b, f, (ctx.i64_type().const_zero(), n), &[])?;
        let x = bytes.byte(p)?;
        let x = if fold { Self::ascii_fold(b, x)? } else { x };
        let y = bytes.byte(q)?;
        bytes.leave_if(b.build_int_compare(IntPredicate::NE, x, y, "ne")?, differ)?;
        let equal = bytes.exit;
        bytes.next(&[])?;
        Ok(FirstDifference {
            equal,
            differ,
            x,
            y,
        })
    }

    /// The byte `x` with `A`–`Z` mapped to `a`–`z` (branch-free).
    pub(in crate::internals::codegen::lower) fn ascii_fold(
        b: &Builder<'ctx>,
        x: IntValue<'ctx>,
    ) -> R<IntValue<'ctx>> {
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
    pub(super) fn bytes_eq_fn(&self, fold: bool) -> R<FunctionValue<'ctx>> {
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
    pub(super) fn str_find_fn(&self, fold: bool) -> R<FunctionValue<'ctx>> {
        let eq = self.bytes_eq_fn(fold)?;
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i64t = ctx.i64_type();
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
                let found = ctx.append_basic_block(f, "found");
                let missing = ctx.append_basic_block(f, "missing");
                b.position_at_end(entry);
                let fits = b.build_int_compare(IntPredicate::ULE, ql, pl, "fits")?;
                b.build_conditional_branch(fits, pre, missing)?;
                b.position_at_end(pre);
                // Every start s with s + ql <= pl.
                let starts = b.build_int_add(
                    b.build_int_sub(pl, ql, "last")?,
                    i64t.const_int(1, false),
                    "starts",
                )?;
                let start = ByteLoop::new(ctx, b, f, (i64t.const_zero(), starts), &[])?;
                let at = start.at(p)?;
                let hit = b
                    .build_call(eq, &[at.into(), q.into(), ql.into()], "hit")?
                    .try_as_basic_value()
                    .basic()
                    .ok_or_else(|| Error::internal("qjit_bytes_eq returns nothing"))?
                    .into_int_value();
                start.leave_if(hit, found)?;
                start.next(&[])?;
                b.build_unconditional_branch(missing)?;
                b.position_at_end(found);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                b.position_at_end(missing);
                b.build_return(Some(&bool_t.const_zero()))?;
                Ok(())
            },
        )
    }
}
