//! The helper functions of a kernel module: internal `alwaysinline` functions built on first
//! use ([`Lowerer::helper`]) with the row function's target attributes, called from row code
//! ([`Lowerer::call`]); and [`ByteLoop`], the one loop builder of their byte loops.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::basic_block::BasicBlock;
use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Linkage;
use inkwell::types::BasicMetadataTypeEnum;
use inkwell::values::{FunctionValue, IntValue, PhiValue, PointerValue};
use inkwell::IntPredicate;

use super::{Lowerer, R};
use crate::error::Error;

impl<'ctx> Lowerer<'_, 'ctx> {
    pub(in crate::internals::codegen::lower) fn call(
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
    pub(in crate::internals::codegen::lower) fn helper(
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
    pub(in crate::internals::codegen::lower) fn new_helper(
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

    pub(in crate::internals::codegen::lower) fn param_int(
        f: FunctionValue<'ctx>,
        n: u32,
    ) -> R<IntValue<'ctx>> {
        Ok(f.get_nth_param(n)
            .ok_or_else(|| Error::internal(format!("helper has no parameter {n}")))?
            .into_int_value())
    }

    pub(in crate::internals::codegen::lower) fn param_ptr(
        f: FunctionValue<'ctx>,
        n: u32,
    ) -> R<PointerValue<'ctx>> {
        Ok(f.get_nth_param(n)
            .ok_or_else(|| Error::internal(format!("helper has no parameter {n}")))?
            .into_pointer_value())
    }
}

/// A loop over the positions `from..to` of a helper function, ascending by one, with values
/// carried from one position to the next: the one shape of the helpers' byte loops.
///
/// ```text
/// head: i, carried… = phi [from, init…] [i + 1, next…]
///       if i < to goto body else exit
/// body: … the caller's code; ByteLoop::leave_if(cond, out) leaves for `out` …
///       ByteLoop::next(next…): goto head
/// exit: the positions ran out: i == to, the carried values are the last ones
/// ```
///
/// `i` and the carried values are defined in the head, so they hold in the exit and in every
/// block a [`ByteLoop::leave_if`] goes to. The caller guarantees that every position `i` it
/// reads with [`ByteLoop::byte`] is inside the bytes.
pub(in crate::internals::codegen::lower) struct ByteLoop<'a, 'ctx> {
    ctx: &'ctx Context,
    b: &'a Builder<'ctx>,
    f: FunctionValue<'ctx>,
    /// The position.
    pub i: IntValue<'ctx>,
    /// The carried values, as the position sees them.
    pub carried: Vec<IntValue<'ctx>>,
    /// Where the loop goes when the positions run out.
    pub exit: BasicBlock<'ctx>,
    head: BasicBlock<'ctx>,
    phis: Vec<PhiValue<'ctx>>,
}

impl<'a, 'ctx> ByteLoop<'a, 'ctx> {
    /// Emits the loop's head from the current block of `f` and leaves the builder in its body.
    /// `carried`: each value's name and value at the first position (any integer type).
    pub fn new(
        ctx: &'ctx Context,
        b: &'a Builder<'ctx>,
        f: FunctionValue<'ctx>,
        (from, to): (IntValue<'ctx>, IntValue<'ctx>),
        carried: &[(&str, IntValue<'ctx>)],
    ) -> R<ByteLoop<'a, 'ctx>> {
        let entry = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("a byte loop begun outside a block"))?;
        let head = ctx.append_basic_block(f, "loop_head");
        let body = ctx.append_basic_block(f, "loop_body");
        let exit = ctx.append_basic_block(f, "loop_exit");
        b.build_unconditional_branch(head)?;
        b.position_at_end(head);
        let i = b.build_phi(from.get_type(), "i")?;
        i.add_incoming(&[(&from, entry)]);
        let mut phis = vec![i];
        for (name, init) in carried {
            let phi = b.build_phi(init.get_type(), name)?;
            phi.add_incoming(&[(init, entry)]);
            phis.push(phi);
        }
        let iv = i.as_basic_value().into_int_value();
        let more = b.build_int_compare(IntPredicate::ULT, iv, to, "more")?;
        b.build_conditional_branch(more, body, exit)?;
        b.position_at_end(body);
        Ok(ByteLoop {
            ctx,
            b,
            f,
            i: iv,
            carried: phis[1..]
                .iter()
                .map(|p| p.as_basic_value().into_int_value())
                .collect(),
            exit,
            head,
            phis,
        })
    }

    /// The address of byte `i` of `p`.
    pub fn at(&self, p: PointerValue<'ctx>) -> R<PointerValue<'ctx>> {
        // SAFETY (of the generated code): the caller guarantees that `i` is inside `p`'s bytes.
        Ok(unsafe {
            self.b
                .build_in_bounds_gep(self.ctx.i8_type(), p, &[self.i], "at")?
        })
    }

    /// Byte `i` of `p` (an `i8`).
    pub fn byte(&self, p: PointerValue<'ctx>) -> R<IntValue<'ctx>> {
        let at = self.at(p)?;
        Ok(self
            .b
            .build_load(self.ctx.i8_type(), at, "byte")?
            .into_int_value())
    }

    /// Leaves the loop for `out` where `cond` holds; the body goes on in a new block.
    pub fn leave_if(&self, cond: IntValue<'ctx>, out: BasicBlock<'ctx>) -> R<()> {
        let on = self.ctx.append_basic_block(self.f, "loop_on");
        self.b.build_conditional_branch(cond, out, on)?;
        self.b.position_at_end(on);
        Ok(())
    }

    /// Ends the body: the next position, with `next` as the carried values (one per carried
    /// value). Leaves the builder at [`ByteLoop::exit`].
    pub fn next(self, next: &[IntValue<'ctx>]) -> R<()> {
        let latch = self
            .b
            .get_insert_block()
            .ok_or_else(|| Error::internal("a byte loop lost its block"))?;
        if next.len() + 1 != self.phis.len() {
            return Err(Error::internal("a byte loop carries another number of values").into());
        }
        let one = self.i.get_type().const_int(1, false);
        let i2 = self.b.build_int_add(self.i, one, "i_next")?;
        self.b.build_unconditional_branch(self.head)?;
        self.phis[0].add_incoming(&[(&i2, latch)]);
        for (phi, value) in self.phis[1..].iter().zip(next) {
            phi.add_incoming(&[(value, latch)]);
        }
        self.b.position_at_end(self.exit);
        Ok(())
    }
}
