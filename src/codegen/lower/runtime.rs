//! Calls of the runtime functions ([`crate::codegen::runtime`]) from a row: their declarations,
//! a call made only on the rows that need it (in a block of its own, so that the rows a fast
//! path converts, and NULL rows, skip it), and the stack slots calls write results to.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Linkage;
use inkwell::types::{BasicMetadataTypeEnum, BasicTypeEnum};
use inkwell::values::{BasicMetadataValueEnum, BasicValueEnum, FunctionValue, PointerValue};
use inkwell::AddressSpace;

use super::{Lowerer, R};
use crate::codegen::runtime::RuntimeFn;
use crate::error::Error;

/// The `memory` attribute's value for `memory(argmem: readwrite, inaccessiblemem: readwrite)`:
/// two bits (read, write) per location, argument memory first, then inaccessible memory (the
/// allocator's, which a slow path may use). The functions touch nothing else.
const ARGMEM_AND_INACCESSIBLE: u64 = 0b11 | 0b11 << 2;

/// `memory(read, argmem: readwrite)`: the group lookup writes the table through its pointer
/// arguments and reads the key strings the probe record points to (read bits of inaccessible
/// and other memory).
const ARGMEM_AND_READ: u64 = 0b11 | 0b01 << 2 | 0b01 << 4;

impl<'ctx> Lowerer<'_, 'ctx> {
    /// The declaration of `f` in the kernel's module, added on first use: external, `nounwind`
    /// (a runtime function never unwinds), `willreturn`, touching only its pointer arguments
    /// and the allocator's state (the group lookup also reads the strings its probe points to).
    pub(super) fn runtime_fn(&self, f: RuntimeFn) -> FunctionValue<'ctx> {
        if let Some(d) = self.module.get_function(f.symbol()) {
            return d;
        }
        let ctx = self.ctx;
        let (i32t, i64t, f32t, f64t) = (
            ctx.i32_type(),
            ctx.i64_type(),
            ctx.f32_type(),
            ctx.f64_type(),
        );
        let ptr = ctx.ptr_type(AddressSpace::default());
        let p = |ts: &[BasicMetadataTypeEnum<'ctx>]| ts.to_vec();
        let ty = match f {
            RuntimeFn::F64ToText => {
                i64t.fn_type(&p(&[f64t.into(), ptr.into(), i64t.into()]), false)
            }
            RuntimeFn::F32ToText => {
                i64t.fn_type(&p(&[f32t.into(), ptr.into(), i64t.into()]), false)
            }
            RuntimeFn::TextToF64 | RuntimeFn::TextToF32 => {
                i32t.fn_type(&p(&[ptr.into(), i64t.into(), ptr.into()]), false)
            }
            RuntimeFn::F64ToDecimal => i32t.fn_type(
                &p(&[f64t.into(), i32t.into(), i32t.into(), ptr.into()]),
                false,
            ),
            RuntimeFn::F32ToDecimal => i32t.fn_type(
                &p(&[f32t.into(), i32t.into(), i32t.into(), ptr.into()]),
                false,
            ),
            RuntimeFn::DecimalToF64 => {
                f64t.fn_type(&p(&[i64t.into(), i64t.into(), i32t.into()]), false)
            }
            RuntimeFn::DecimalToF32 => {
                f32t.fn_type(&p(&[i64t.into(), i64t.into(), i32t.into()]), false)
            }
            RuntimeFn::Ln | RuntimeFn::Exp => f64t.fn_type(&p(&[f64t.into()]), false),
            RuntimeFn::Pow => f64t.fn_type(&p(&[f64t.into(), f64t.into()]), false),
            RuntimeFn::Replace => i64t.fn_type(
                &p(&[
                    ptr.into(),
                    i64t.into(),
                    ptr.into(),
                    i64t.into(),
                    ptr.into(),
                    i64t.into(),
                    ptr.into(),
                    i64t.into(),
                ]),
                false,
            ),
            RuntimeFn::Pad => i64t.fn_type(
                &p(&[
                    ptr.into(),
                    i64t.into(),
                    i64t.into(),
                    ptr.into(),
                    i64t.into(),
                    i32t.into(),
                    ptr.into(),
                    i64t.into(),
                ]),
                false,
            ),
            RuntimeFn::TimestampToText => i64t.fn_type(
                &p(&[
                    i64t.into(),
                    i32t.into(),
                    i32t.into(),
                    ptr.into(),
                    i64t.into(),
                ]),
                false,
            ),
            RuntimeFn::TextToTimestamp => i32t.fn_type(
                &p(&[
                    ptr.into(),
                    i64t.into(),
                    i32t.into(),
                    i32t.into(),
                    ptr.into(),
                ]),
                false,
            ),
            RuntimeFn::FormatTimestamp => i64t.fn_type(
                &p(&[
                    i64t.into(),
                    i32t.into(),
                    i32t.into(),
                    ptr.into(),
                    i64t.into(),
                    ptr.into(),
                    i64t.into(),
                ]),
                false,
            ),
            RuntimeFn::IntervalToText => i64t.fn_type(
                &p(&[i64t.into(), i64t.into(), ptr.into(), i64t.into()]),
                false,
            ),
            RuntimeFn::StrPos => i64t.fn_type(
                &p(&[ptr.into(), i64t.into(), ptr.into(), i64t.into()]),
                false,
            ),
            RuntimeFn::GroupFind => i64t.fn_type(
                &p(&[
                    ptr.into(),
                    ptr.into(),
                    i64t.into(),
                    ptr.into(),
                    ptr.into(),
                    ptr.into(),
                    ptr.into(),
                    i64t.into(),
                ]),
                false,
            ),
        };
        let d = self
            .module
            .add_function(f.symbol(), ty, Some(Linkage::External));
        let attr = |name: &str, value: u64| {
            ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), value)
        };
        for a in [
            attr("nounwind", 0),
            attr("willreturn", 0),
            attr(
                "memory",
                if f == RuntimeFn::GroupFind {
                    ARGMEM_AND_READ
                } else {
                    ARGMEM_AND_INACCESSIBLE
                },
            ),
        ] {
            d.add_attribute(AttributeLoc::Function, a);
        }
        d
    }

    /// Where `when` (`i1`) holds, calls `f` with `args` in a block of its own and runs `then`
    /// on its result there (reading what the call wrote, say); elsewhere the values are
    /// `otherwise`. Returns the joined values; the builder continues after the join.
    pub(super) fn call_runtime_where(
        &mut self,
        when: inkwell::values::IntValue<'ctx>,
        f: RuntimeFn,
        args: &[BasicMetadataValueEnum<'ctx>],
        then: impl FnOnce(&Self, BasicValueEnum<'ctx>) -> R<Vec<BasicValueEnum<'ctx>>>,
        otherwise: &[BasicValueEnum<'ctx>],
    ) -> R<Vec<BasicValueEnum<'ctx>>> {
        let (b, ctx) = (self.b, self.ctx);
        let lost = || Error::internal("the builder lost its block");
        let function = b
            .get_insert_block()
            .and_then(|bb| bb.get_parent())
            .ok_or_else(lost)?;
        let declaration = self.runtime_fn(f);
        let before = b.get_insert_block().ok_or_else(lost)?;
        let call_bb = ctx.append_basic_block(function, "runtime_call");
        let join = ctx.append_basic_block(function, "runtime_join");
        b.build_conditional_branch(when, call_bb, join)?;
        b.position_at_end(call_bb);
        let result = b
            .build_call(declaration, args, f.symbol())?
            .try_as_basic_value()
            .basic()
            .ok_or_else(|| Error::internal(format!("{} returns nothing", f.symbol())))?;
        let values = then(self, result)?;
        if values.len() != otherwise.len() {
            return Err(Error::internal("runtime call results do not match their defaults").into());
        }
        let call_end = b.get_insert_block().ok_or_else(lost)?;
        b.build_unconditional_branch(join)?;
        b.position_at_end(join);
        let mut joined = Vec::with_capacity(values.len());
        for (v, o) in values.iter().zip(otherwise) {
            let phi = b.build_phi(o.get_type(), "runtime_result")?;
            phi.add_incoming(&[(v, call_end), (o, before)]);
            joined.push(phi.as_basic_value());
        }
        Ok(joined)
    }

    /// The string that runtime function `f` (one returning the length it wrote, or
    /// [`crate::codegen::runtime::NO_ROOM`]) writes at `dst` in the row's scratch area: called
    /// where `a` is valid and the room `fits`. A valid row whose text does not fit falls back
    /// (its value the empty string, which later operations may read).
    pub(super) fn runtime_string(
        &mut self,
        a: &super::Lowered<'ctx>,
        fits: inkwell::values::IntValue<'ctx>,
        dst: PointerValue<'ctx>,
        f: RuntimeFn,
        args: &[BasicMetadataValueEnum<'ctx>],
    ) -> R<super::Lowered<'ctx>> {
        use crate::codegen::runtime::NO_ROOM;
        use inkwell::IntPredicate;
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let call = b.build_and(a.valid, fits, "build")?;
        let written = self.call_runtime_where(
            call,
            f,
            args,
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
        Ok(super::Lowered {
            value: self.make_string(dst, n)?,
            valid: a.valid,
            err,
        })
    }

    /// A stack slot of type `ty` for results a runtime function writes, in the entry block of
    /// the current function: static, so that inlining hoists it out of the row loop.
    pub(super) fn entry_slot(&self, ty: BasicTypeEnum<'ctx>, name: &str) -> R<PointerValue<'ctx>> {
        crate::codegen::skeleton::entry_alloca(self.ctx, self.b, ty, name, None)
    }
}
