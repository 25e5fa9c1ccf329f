//! `VARCHAR` in the row function. A string value is an LLVM `{ ptr, i64 }`: its first byte
//! and its length in bytes. Where a value is NULL the pair still points at readable memory (or
//! has length 0), so that every operation can run on every row without branching on validity.
//!
//! This module reads strings (column reads in every layout, literals); the operations are in
//! its submodules:
//!
//! - `compare`: byte-wise comparisons, as the interpreter's arrow kernels compare (unsigned
//!   bytes, then the shorter string first), and the byte search;
//! - `like`: `LIKE` and `ILIKE` with a constant pattern;
//! - `build`: the strings a kernel builds in the row's scratch area (`UPPER`, `LOWER`, `TRIM`,
//!   `||`, `REPLACE`, `LPAD`/`RPAD`) and the scratch bound of an expression;
//! - `chars`: counting characters (`LENGTH`, `SUBSTRING`).
//!
//! Their loops are internal `alwaysinline` helper functions of the module (`qjit_bytes_eq`,
//! `qjit_str_cmp`, …), built on first use by [`Lowerer::helper`] with the one loop builder
//! `super::helpers::ByteLoop`; nothing calls out of the module.

mod build;
mod chars;
mod compare;
mod like;

use inkwell::module::Linkage;
use inkwell::types::StructType;
use inkwell::values::{BasicValueEnum, IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::{Lowerer, R};
use crate::codegen::StringLayout;
use crate::error::Error;

/// Views: strings of up to this many bytes are stored inside the view.
const VIEW_INLINE_MAX: u64 = 12;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// `{ ptr, i64 }`: a string's bytes and length.
    pub(in crate::internals::codegen::lower) fn string_type(&self) -> StructType<'ctx> {
        let ptr = self.ctx.ptr_type(AddressSpace::default());
        self.ctx
            .struct_type(&[ptr.into(), self.ctx.i64_type().into()], false)
    }

    pub(in crate::internals::codegen::lower) fn make_string(
        &self,
        ptr: PointerValue<'ctx>,
        len: IntValue<'ctx>,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = self.b;
        let s = b.build_insert_value(self.string_type().get_undef(), ptr, 0, "str")?;
        let s = b.build_insert_value(s, len, 1, "str")?;
        Ok(s.into_struct_value().into())
    }

    pub(in crate::internals::codegen::lower) fn string_parts(
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
    pub(in crate::internals::codegen::lower) fn string_literal(
        &self,
        s: &str,
    ) -> R<BasicValueEnum<'ctx>> {
        let (ptr, len) = self.literal_bytes(s);
        Ok(self
            .string_type()
            .const_named_struct(&[ptr.into(), len.into()])
            .into())
    }

    /// The bytes of `s` in a private global, and their count.
    pub(in crate::internals::codegen::lower) fn literal_bytes(
        &self,
        s: &str,
    ) -> (PointerValue<'ctx>, IntValue<'ctx>) {
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
    pub(in crate::internals::codegen::lower) fn read_string(
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
}
