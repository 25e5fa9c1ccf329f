//! `LIKE` and `ILIKE` with a constant pattern. Patterns are specialized when compiled, as the
//! interpreter does: no wildcard → equality, `abc%` → prefix, `%abc` → suffix, `%abc%` → byte
//! search, `%` → any non-NULL string. Other patterns (with `_`, or more than one literal
//! segment) run a matcher function generated for the pattern (`qjit_like_<n>`).
//!
//! `ILIKE` (filter kernels only) compiles when its lowercased pattern is ASCII: the same
//! matchers then fold the value's bytes `A`–`Z` to `a`–`z` as they compare them. That is exactly
//! the interpreter's Unicode `to_lowercase` matching on every string without U+0130 (`İ`, which
//! lowercases to `i` and a combining dot) or U+212A (KELVIN SIGN, which lowercases to `k`): every
//! other non-ASCII character lowercases to one non-ASCII character, which an ASCII pattern
//! character never matches and `_` matches either way. A row whose string holds one of the two
//! reports [`crate::codegen::STATUS_FALLBACK`].

use inkwell::builder::Builder;
use inkwell::values::{FunctionValue, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use crate::codegen::lower::helpers::ByteLoop;
use crate::codegen::lower::{Lowered, Lowerer, R};
use crate::error::Error;
use crate::ir::like::{LikePattern, LikePiece as Piece, LikeShape};
use crate::ir::Expr;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `arg [NOT] LIKE pattern [ESCAPE escape]`, for the pattern shapes that specialize.
    pub(in crate::internals::codegen::lower) fn like(
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
                b.position_at_end(ctx.append_basic_block(f, "entry"));
                let found = ctx.append_basic_block(f, "found");
                // Carried: the two bytes before `i` (0 before the start).
                let bytes = ByteLoop::new(
                    ctx,
                    b,
                    f,
                    (i64t.const_zero(), len),
                    &[("prev", i8t.const_zero()), ("prev2", i8t.const_zero())],
                )?;
                let (pv, p2v) = (bytes.carried[0], bytes.carried[1]);
                let x = bytes.byte(p)?;
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
                bytes.leave_if(hit, found)?;
                bytes.next(&[x, pv])?;
                b.build_return(Some(&bool_t.const_zero()))?;
                b.position_at_end(found);
                b.build_return(Some(&bool_t.const_int(1, false)))?;
                Ok(())
            },
        )
    }

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
