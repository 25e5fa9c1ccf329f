//! Counting UTF-8 characters: `LENGTH` (characters, not bytes) and `SUBSTRING` (a pointer and
//! length into the input, no copy), over `qjit_utf8_offset`, which finds the byte offset of a
//! character.

use inkwell::values::{BasicValueEnum, FunctionValue, IntValue};
use inkwell::{AddressSpace, IntPredicate};

use crate::codegen::lower::helpers::ByteLoop;
use crate::codegen::lower::{Lowered, Lowerer, R};
use crate::ir::Expr;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `LENGTH(s)` in characters (UTF-8 bytes that do not continue a character), as `i32`, and
    /// whether it exceeds `INTEGER`.
    pub(in crate::internals::codegen::lower) fn char_length(
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
    pub(in crate::internals::codegen::lower) fn substring(
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
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                let found = ctx.append_basic_block(f, "found");
                let bytes = ByteLoop::new(
                    ctx,
                    b,
                    f,
                    (i64t.const_zero(), len),
                    &[("chars", i64t.const_zero())],
                )?;
                let (posv, charsv) = (bytes.i, bytes.carried[0]);
                let byte = bytes.byte(p)?;
                let top = b.build_and(byte, i8t.const_int(0xC0, false), "top")?;
                let starts = b.build_int_compare(
                    IntPredicate::NE,
                    top,
                    i8t.const_int(0x80, false),
                    "starts",
                )?;
                let hit = b.build_int_compare(IntPredicate::EQ, charsv, skip, "hit")?;
                let here = b.build_and(starts, hit, "here")?;
                bytes.leave_if(here, found)?;
                let chars2 = b.build_int_add(
                    charsv,
                    b.build_int_z_extend(starts, i64t, "starts64")?,
                    "chars2",
                )?;
                bytes.next(&[chars2])?;
                let minus = b.build_int_sub(i64t.const_all_ones(), charsv, "minus_chars")?;
                b.build_return(Some(&minus))?;
                b.position_at_end(found);
                b.build_return(Some(&posv))?;
                Ok(())
            },
        )
    }
}
