//! Writing `VARCHAR` results into a projection kernel's output buffers.
//!
//! In: a lowered string (address and length) and the output's bytes, offsets, bytes-used
//! counter and capacity. Out: the bytes appended with a byte loop (no call), the end offset at
//! row `n + 1`, or the [`STATUS_NEED_ROOM`] code returned from the row function when the bytes
//! do not fit.

use inkwell::values::{IntValue, PointerValue};
use inkwell::{AddressSpace, IntPredicate};

use super::{Lowered, Lowerer, R};
use crate::codegen::STATUS_NEED_ROOM;
use crate::error::Error;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// Appends the string `v` (nothing where NULL) as output row `n`.
    pub(in crate::internals::codegen) fn write_string(
        &mut self,
        v: &Lowered<'ctx>,
        data: PointerValue<'ctx>,
        offsets: PointerValue<'ctx>,
        used_ptr: PointerValue<'ctx>,
        capacity: IntValue<'ctx>,
        n: IntValue<'ctx>,
    ) -> R<()> {
        let (b, ctx) = (self.b, self.ctx);
        let i8t = ctx.i8_type();
        let i32t = ctx.i32_type();
        let i64t = ctx.i64_type();
        let (p, len) = self.string_parts(v.value)?;
        let len = b
            .build_select(v.valid, len, i64t.const_zero(), "out_len")?
            .into_int_value();
        let used = b.build_load(i64t, used_ptr, "used")?.into_int_value();
        let end = b.build_int_add(used, len, "out_end")?;
        let fits = b.build_int_compare(IntPredicate::ULE, end, capacity, "fits")?;
        let f = self
            .b
            .get_insert_block()
            .and_then(|bb| bb.get_parent())
            .ok_or_else(|| Error::internal("the builder lost its function"))?;
        let copy = ctx.append_basic_block(f, "out_copy");
        let full = ctx.append_basic_block(f, "out_full");
        b.build_conditional_branch(fits, copy, full)?;
        b.position_at_end(full);
        b.build_return(Some(&i32t.const_int(STATUS_NEED_ROOM, false)))?;
        b.position_at_end(copy);
        // SAFETY (of the generated code): `used + len <= capacity`.
        let dst = unsafe { b.build_in_bounds_gep(i8t, data, &[used], "out_dst")? };
        let helper = self.copy_bytes_fn()?;
        b.build_call(helper, &[dst.into(), p.into(), len.into()], "")?;
        let next = b.build_int_add(n, i64t.const_int(1, false), "n1")?;
        // SAFETY (of the generated code): offsets has one more entry than rows.
        let op = unsafe { b.build_in_bounds_gep(i32t, offsets, &[next], "out_offset")? };
        b.build_store(op, b.build_int_truncate(end, i32t, "end32")?)?;
        b.build_store(used_ptr, end)?;
        Ok(())
    }

    /// `void qjit_copy_bytes(ptr dst, ptr src, i64 n)`: a byte loop.
    fn copy_bytes_fn(&self) -> R<inkwell::values::FunctionValue<'ctx>> {
        let name = "qjit_copy_bytes";
        if let Some(f) = self.module.get_function(name) {
            return Ok(f);
        }
        let ctx = self.ctx;
        let ptr = ctx.ptr_type(AddressSpace::default());
        let i8t = ctx.i8_type();
        let i64t = ctx.i64_type();
        let f = self.helper(
            name,
            ctx.bool_type(),
            &[ptr.into(), ptr.into(), i64t.into()],
            |b, f| {
                let (dst, src, n) = (
                    Self::param_ptr(f, 0)?,
                    Self::param_ptr(f, 1)?,
                    Self::param_int(f, 2)?,
                );
                let entry = ctx.append_basic_block(f, "entry");
                let body = ctx.append_basic_block(f, "body");
                let done = ctx.append_basic_block(f, "done");
                b.position_at_end(entry);
                let any = b.build_int_compare(IntPredicate::NE, n, i64t.const_zero(), "any")?;
                b.build_conditional_branch(any, body, done)?;
                b.position_at_end(body);
                let i = b.build_phi(i64t, "i")?;
                let iv = i.as_basic_value().into_int_value();
                // SAFETY (of the generated code): `i < n` for both buffers.
                let (s, d) = unsafe {
                    (
                        b.build_in_bounds_gep(i8t, src, &[iv], "s")?,
                        b.build_in_bounds_gep(i8t, dst, &[iv], "d")?,
                    )
                };
                let byte = b.build_load(i8t, s, "byte")?;
                b.build_store(d, byte)?;
                let i2 = b.build_int_add(iv, i64t.const_int(1, false), "i2")?;
                let more = b.build_int_compare(IntPredicate::ULT, i2, n, "more")?;
                b.build_conditional_branch(more, body, done)?;
                i.add_incoming(&[(&i64t.const_zero(), entry), (&i2, body)]);
                b.position_at_end(done);
                b.build_return(Some(&ctx.bool_type().const_int(1, false)))?;
                Ok(())
            },
        )?;
        Ok(f)
    }
}
