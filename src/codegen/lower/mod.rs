//! Lowering of one row of an [`Expr`] to LLVM IR inside the row function.
//!
//! In: an expression and the row function's parameters (row index, column buffers). Out: for
//! every node a [`Lowered`] triple: the value (garbage where NULL), the validity (`i1`), and an
//! error code (`i32`, 0 = none).
//!
//! Error codes follow the interpreter's rules ([`crate::interp`]): a node's own failure counts only
//! where all its operands are valid; the codes of a row combine to the one the interpreter would
//! meet first (the smallest, see [`ErrorSite`]), except that the right side of `AND` (`OR`)
//! counts only where the left is not FALSE (not TRUE) and a `CASE` part counts only on the rows
//! that evaluate it. Every value is computed branch-free; no instruction has undefined behaviour
//! on a row whose result is not used (divisors are made safe first). No helper is a call: wide
//! arithmetic uses `i256` so that LLVM expands it inline. The one exception are the runtime
//! functions of the float casts (`float_cast`, `runtime`), called in a block that only the rows
//! needing them enter.
//!
//! A lowerer may also give up on a row ([`Lowerer::allow_fallback`]; every kernel's but that of
//! the `WHERE` clause fused into an aggregation): the row's code is then [`STATUS_FALLBACK`],
//! the lowest code, which every combination of codes keeps (it wins over every error) unless the
//! row does not need the value (the right side of a decided `AND`/`OR`, a `CASE` part not
//! taken), as for errors. Strings built by the kernel live in the row's scratch area
//! ([`Lowerer::scratch_alloc`]).
//!
//! Here: leaves, comparisons, logic, `CASE`; in `in_list`: `IN`; in `arith`: arithmetic; in `cast`: casts and
//! functions; in `strings`: `VARCHAR` columns and literals, string comparisons, `[I]LIKE`,
//! `UPPER`, `LOWER` and `||`; in `text`: casts from and to `VARCHAR`; in `float_cast`: the casts
//! that depend on a float's decimal digits, with `runtime` for their calls.

mod arith;
mod cast;
mod float_cast;
mod group;
mod helpers;
mod in_list;
mod narrow;
mod output;
mod runtime;
mod strings;
mod text;
mod time;

pub(super) use group::{wrap_sign, TableParams, RECENT_KEYS};
pub(super) use narrow::{has_narrow_form, NarrowLowered};

use std::collections::HashMap;

use inkwell::builder::Builder;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::types::{BasicTypeEnum, IntType};
use inkwell::values::{BasicValue, BasicValueEnum, FloatValue, IntValue, PointerValue};
use inkwell::{FloatPredicate, IntPredicate};

use super::abi::ScratchNeed;
use super::{
    not_compiled, value_alignment, CodegenError, ColumnSlot, ErrorKind, ErrorSite, STATUS_FALLBACK,
};
use crate::error::Error;
use crate::ir::{BinaryOp, Expr, Literal, Scalar, SqlType, UnaryOp};

type R<T> = Result<T, CodegenError>;

/// The row function's view of one column.
pub(super) struct ColumnParams<'ctx> {
    pub values: PointerValue<'ctx>,
    /// The validity bitmap, or a one-byte all-valid stand-in (then `validity_mask` is 0).
    pub validity: PointerValue<'ctx>,
    /// ANDed with the validity byte index: all ones, or 0 for the stand-in.
    pub validity_mask: IntValue<'ctx>,
    pub validity_offset: IntValue<'ctx>,
    pub offset: IntValue<'ctx>,
    /// String offsets (see [`crate::codegen::ColumnArg`]).
    pub offsets: PointerValue<'ctx>,
    /// String bytes, or the data buffers of views.
    pub data: PointerValue<'ctx>,
}

/// The constants a kernel takes as parameters instead of baking them into its code, so that
/// queries that differ only in them (`l_quantity < 24`, `l_quantity < 25`) share machine code
/// in the kernel cache on disk: a numeric or date constant compared with a column of its type
/// ([`parameter`]). The kernel reads them from the values buffer of one more column slot
/// ([`super::PARAMS_SLOT`]), once per batch (the loads are loop-invariant). Constants the code
/// specializes on (string equality, `IN` tables, `LIKE` patterns, arithmetic operands) stay in
/// the code. A decision the code generator takes from a parameter's value (an `i64` fast path
/// for a decimal that fits) shows in the IR, which the disk cache's key hashes, so code shared
/// across constants was generated for the same decisions.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// The words of every parameter, in order (a decimal takes two: low, high).
    pub words: Vec<u64>,
    /// The first word of each distinct constant, by [`param_key`].
    at: HashMap<String, usize>,
}

impl Params {
    /// The parameters of a kernel that lowers `exprs`, in the order the walk meets them. A
    /// column compared with constants more than twice keeps them in the code: LLVM merges such
    /// ranges (TPC-H Q19's three `l_quantity` ranges ORed together become one test), which
    /// parameters would prevent (Q19 ran 10% slower with them); one range (`>=` and `<`) runs as
    /// fast either way.
    pub fn of(exprs: &[&Expr]) -> Params {
        let mut comparisons: HashMap<usize, usize> = HashMap::new();
        let mut found: Vec<(usize, Literal)> = vec![];
        let mut visit = |e: &Expr| {
            if let Expr::Binary {
                op, left, right, ..
            } = e
            {
                if let Some((column, lit)) = parameter(*op, left, right) {
                    *comparisons.entry(column).or_default() += 1;
                    found.push((column, lit.clone()));
                }
            }
        };
        for e in exprs {
            e.walk(&mut visit);
        }
        let mut params = Params::default();
        for (column, lit) in found {
            if comparisons.get(&column).is_some_and(|&n| n > 2) {
                continue;
            }
            let Some(words) = param_words(&lit) else {
                continue;
            };
            let key = param_key(column, &lit, &words);
            if !params.at.contains_key(&key) {
                params.at.insert(key, params.words.len());
                params.words.extend(words);
            }
        }
        params
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// The constant of `left op right` that a kernel may take as a parameter, and the column it
/// is compared with: a non-NULL numeric or date literal compared with a column of its type.
pub(super) fn parameter<'e>(
    op: BinaryOp,
    left: &'e Expr,
    right: &'e Expr,
) -> Option<(usize, &'e Literal)> {
    if !op.is_comparison() {
        return None;
    }
    let (column, lit) = match (left, right) {
        (Expr::Column(c), Expr::Literal(l)) | (Expr::Literal(l), Expr::Column(c)) => (c, l),
        _ => return None,
    };
    (column.ty == lit.ty && param_words(lit).is_some()).then_some((column.index, lit))
}

/// The words a parameter's value is passed in: its bits, little-endian, sign-extended to 64.
fn param_words(lit: &Literal) -> Option<Vec<u64>> {
    Some(match (&lit.value, lit.ty) {
        (Scalar::Int(v), SqlType::Int8 | SqlType::Int16 | SqlType::Int32 | SqlType::Int64) => {
            vec![*v as u64]
        }
        (Scalar::UInt(v), SqlType::UInt8 | SqlType::UInt16 | SqlType::UInt32 | SqlType::UInt64) => {
            vec![*v]
        }
        (Scalar::Float(v), SqlType::Float64) => vec![v.to_bits()],
        (Scalar::Float(v), SqlType::Float32) => vec![u64::from((*v as f32).to_bits())],
        (Scalar::Date(v), SqlType::Date) => vec![i64::from(*v) as u64],
        (Scalar::Timestamp(v), SqlType::Timestamp { .. }) => vec![*v as u64],
        (Scalar::Decimal(v), SqlType::Decimal { .. }) => vec![*v as u64, (*v >> 64) as u64],
        _ => return None,
    })
}

/// Tells parameters apart by column, type and bits (so `-0.0` and `0.0` are two).
fn param_key(column: usize, lit: &Literal, words: &[u64]) -> String {
    format!("{column}:{}:{words:?}", lit.ty)
}

/// One lowered node for the current row.
#[derive(Clone, Copy)]
pub(super) struct Lowered<'ctx> {
    /// The value in the node's LLVM type (`i1` for `BOOLEAN` and `NULL`); garbage where invalid.
    pub value: BasicValueEnum<'ctx>,
    /// `i1`: the value is not NULL.
    pub valid: IntValue<'ctx>,
    /// `i32`: the first error code of this row in this subtree, or 0.
    pub err: IntValue<'ctx>,
}

pub(super) struct Lowerer<'a, 'ctx> {
    ctx: &'ctx Context,
    module: &'a Module<'ctx>,
    b: &'a Builder<'ctx>,
    row: IntValue<'ctx>,
    cols: Vec<ColumnParams<'ctx>>,
    slots: &'a [ColumnSlot],
    slot_of: HashMap<usize, usize>,
    errors: Vec<ErrorSite>,
    /// The last error rank handed out.
    nodes: u64,
    i256: IntType<'ctx>,
    /// The row's scratch area, when constructs may fall back to the interpreter (see
    /// [`Lowerer::allow_fallback`]).
    scratch: Option<Scratch<'ctx>>,
    /// Whether a construct lowered so far may report [`STATUS_FALLBACK`].
    falls_back: bool,
    /// The scratch bytes the strings built so far need per row.
    scratch_need: ScratchNeed,
    /// The kernel's parameters and the pointer to their words, if it has any
    /// ([`Lowerer::use_params`]).
    params: Option<(Params, PointerValue<'ctx>)>,
    /// Narrow forms are lowered for vector lanes ([`Lowerer::narrow_in_lanes`]).
    lanes: bool,
    /// Nodes lowered so far in straight-line code, by their printed form: a subexpression that
    /// occurs twice (Q1's `price * (1 - discount)` in two aggregates) is computed once.
    memo: HashMap<String, Lowered<'ctx>>,
    /// The same for narrow forms ([`Lowerer::lower_narrow`]).
    narrow_memo: HashMap<String, NarrowLowered<'ctx>>,
    /// The values of the enclosing [`Expr::Let`]s, by id.
    vars: HashMap<u32, Lowered<'ctx>>,
    /// The keys added to `memo` and `narrow_memo`, in order, so that leaving a `Let` forgets the
    /// entries made inside it (they may read its variable).
    memo_log: Vec<(bool, String)>,
}

/// Subexpressions up to this many nodes are looked up in the lowerer's memo. Printing a key costs
/// its size, so bounding it keeps lowering linear in the plan's size; the sharing that matters
/// (`price * (1 - discount)` in two aggregates) is between small subexpressions, and the binder
/// shares repeated operands of any size through [`Expr::Let`].
const MEMO_MAX_NODES: usize = 64;

/// The memo key of `e`: its printed form, if `e` is small enough and not a leaf.
pub(super) fn memo_key(e: &Expr) -> Option<String> {
    match e {
        Expr::Column(_) | Expr::Literal(_) | Expr::Var { .. } => None,
        e if e.count_nodes_up_to(MEMO_MAX_NODES) <= MEMO_MAX_NODES => Some(e.to_string()),
        _ => None,
    }
}

/// A filter row's scratch area: a bump allocator that starts empty on every row.
struct Scratch<'ctx> {
    base: PointerValue<'ctx>,
    /// Its size in bytes (`i64`).
    capacity: IntValue<'ctx>,
    /// The bytes handed out so far in this row (`i64`, at most `capacity`).
    used: IntValue<'ctx>,
}

impl<'a, 'ctx> Lowerer<'a, 'ctx> {
    pub fn new(
        ctx: &'ctx Context,
        module: &'a Module<'ctx>,
        b: &'a Builder<'ctx>,
        row: IntValue<'ctx>,
        cols: Vec<ColumnParams<'ctx>>,
        slots: &'a [ColumnSlot],
        slot_of: HashMap<usize, usize>,
    ) -> R<Self> {
        let i256 = std::num::NonZeroU32::new(256)
            .and_then(|bits| ctx.custom_width_int_type(bits).ok())
            .ok_or_else(|| Error::internal("LLVM has no i256 type"))?;
        Ok(Lowerer {
            ctx,
            module,
            b,
            row,
            cols,
            slots,
            slot_of,
            errors: vec![],
            nodes: 0,
            i256,
            scratch: None,
            falls_back: false,
            scratch_need: ScratchNeed::default(),
            memo: HashMap::new(),
            narrow_memo: HashMap::new(),
            vars: HashMap::new(),
            memo_log: vec![],
            params: None,
            lanes: false,
        })
    }

    /// Reads the constants of `params` from the kernel's parameter slot ([`super::PARAMS_SLOT`],
    /// which the slots must then have) instead of baking them into the code.
    pub fn use_params(&mut self, params: &Params) -> R<()> {
        if params.is_empty() {
            return Ok(());
        }
        let slot = self
            .slots
            .iter()
            .position(|s| s.index == super::PARAMS_SLOT)
            .ok_or_else(|| Error::internal("a kernel with parameters has no parameter slot"))?;
        let words = self.cols[slot].values;
        self.params = Some((params.clone(), words));
        Ok(())
    }

    /// The words of parameter `lit` compared with column `column`, if it is one: the first
    /// word's index, and the pointer.
    fn param_at(&self, column: usize, lit: &Literal) -> Option<(u64, PointerValue<'ctx>)> {
        let (params, words) = self.params.as_ref()?;
        let key = param_key(column, lit, &param_words(lit)?);
        params.at.get(&key).map(|&at| (at as u64, *words))
    }

    /// Loads word `at` (and the next, for `i128`) of the parameters at `words` as `t`. The
    /// loads are marked invariant: the words do not change while the kernel runs, so they are
    /// hoisted out of the row loop.
    fn load_param(
        &self,
        t: BasicTypeEnum<'ctx>,
        words: PointerValue<'ctx>,
        at: u64,
    ) -> R<BasicValueEnum<'ctx>> {
        let b = self.b;
        let i64t = self.ctx.i64_type();
        // SAFETY (of the generated code): the parameter buffer holds every word the kernel's
        // parameters take (`Params::words`).
        let ptr = unsafe {
            b.build_in_bounds_gep(i64t, words, &[i64t.const_int(at, false)], "param_ptr")?
        };
        let wide = matches!(t, BasicTypeEnum::IntType(i) if i.get_bit_width() == 128);
        let loaded = match wide {
            true => self.load_aligned(t, ptr, 8, "param")?,
            false => self.load_aligned(i64t.into(), ptr, 8, "param_word")?,
        };
        if let Some(inst) = loaded.as_instruction_value() {
            let kind = self.ctx.get_kind_id("invariant.load");
            inst.set_metadata(self.ctx.metadata_node(&[]), kind)
                .map_err(|e| Error::internal(format!("parameter load: {e}")))?;
        }
        if wide {
            return Ok(loaded);
        }
        let word = loaded.into_int_value();
        Ok(match t {
            BasicTypeEnum::IntType(i) if i.get_bit_width() == 64 => word.into(),
            BasicTypeEnum::IntType(i) => b.build_int_truncate(word, i, "param_int")?.into(),
            BasicTypeEnum::FloatType(f) if f == self.ctx.f64_type() => {
                b.build_bit_cast(word, f, "param_f64")?
            }
            BasicTypeEnum::FloatType(f) => {
                let bits = b.build_int_truncate(word, self.ctx.i32_type(), "param_bits")?;
                b.build_bit_cast(bits, f, "param_f32")?
            }
            _ => return Err(Error::internal("a parameter of an unexpected type").into()),
        })
    }

    /// Lowers an operand of a comparison: from the parameters if it is `param`, else as
    /// [`Lowerer::lower`] does.
    fn lower_operand(&mut self, e: &Expr, param: Option<(usize, &Literal)>) -> R<Lowered<'ctx>> {
        if let (Expr::Literal(lit), Some((column, p))) = (e, param) {
            if std::ptr::eq(lit, p) {
                if let Some((at, words)) = self.param_at(column, lit) {
                    let t = self.llvm_type(lit.ty)?;
                    return Ok(Lowered {
                        value: self.load_param(t, words, at)?,
                        valid: self.bool_const(true),
                        err: self.no_error(),
                    });
                }
            }
        }
        self.lower(e)
    }

    /// Lets constructs report [`STATUS_FALLBACK`] for rows they do not evaluate, and build
    /// strings in the row's scratch area: `capacity` (`i64`) bytes at `base`. Only a kernel whose
    /// caller hands such a row to the interpreter may allow it; without it those constructs are
    /// not compiled.
    pub fn allow_fallback(&mut self, base: PointerValue<'ctx>, capacity: IntValue<'ctx>) {
        self.scratch = Some(Scratch {
            base,
            capacity,
            used: self.ctx.i64_type().const_zero(),
        });
    }

    /// The scratch bytes a row needs for the strings lowered so far.
    pub fn scratch_need(&self) -> ScratchNeed {
        self.scratch_need
    }

    /// Whether a construct lowered so far may report [`STATUS_FALLBACK`] for a row.
    pub fn may_fall_back(&self) -> bool {
        self.falls_back
    }

    /// Notes that the construct `what` may report [`STATUS_FALLBACK`], or, unless the fallback
    /// is allowed, fails with "`what` is not compiled in an aggregation's WHERE clause yet" (the
    /// one lowerer that does not allow it).
    pub(in crate::internals::codegen) fn require_fallback(&mut self, what: &str) -> R<()> {
        if self.scratch.is_none() {
            return not_compiled(format!(
                "{what} is not compiled in an aggregation's WHERE clause yet"
            ));
        }
        self.falls_back = true;
        Ok(())
    }

    /// `i32`: `cond ? STATUS_FALLBACK : 0`.
    fn fallback_where(&self, cond: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let code = self.ctx.i32_type().const_int(STATUS_FALLBACK, false);
        Ok(self
            .b
            .build_select(cond, code, self.no_error(), "fallback")?
            .into_int_value())
    }

    /// Hands out `len` (`i64`) bytes of the row's scratch area for a string of at most `bound`
    /// bytes per row. Returns where they start and an `i1` that is false when they do not fit
    /// (then nothing is handed out: the caller must write nothing, make its value a string it
    /// may read, such as the empty one, and fall back where the value is valid).
    fn scratch_alloc(
        &mut self,
        len: IntValue<'ctx>,
        bound: ScratchNeed,
    ) -> R<(PointerValue<'ctx>, IntValue<'ctx>)> {
        let b = self.b;
        let Some(s) = &self.scratch else {
            return Err(Error::internal("scratch memory where no construct may fall back").into());
        };
        let (base, capacity, used) = (s.base, s.capacity, s.used);
        // `used <= capacity`, so `capacity - used` does not wrap; `len` may be anything.
        let room = b.build_int_sub(capacity, used, "scratch_room")?;
        let fits = b.build_int_compare(IntPredicate::ULE, len, room, "scratch_fits")?;
        // SAFETY (of the generated code): `used <= capacity`; not `inbounds` because a dangling
        // base with capacity 0 is allowed.
        let at = unsafe { b.build_gep(self.ctx.i8_type(), base, &[used], "scratch_at")? };
        let end = b.build_int_add(used, len, "scratch_end")?;
        let used = b
            .build_select(fits, end, used, "scratch_used")?
            .into_int_value();
        if let Some(s) = &mut self.scratch {
            s.used = used;
        }
        self.scratch_need = self.scratch_need.plus(bound);
        Ok((at, fits))
    }

    /// The error sites registered while lowering.
    pub fn into_errors(self) -> Vec<ErrorSite> {
        self.errors
    }

    /// The last error rank handed out; a lowerer for a later part of the same kernel starts
    /// after it ([`Lowerer::start_after`]), so that ranks follow the interpreter's order.
    pub fn last_rank(&self) -> u64 {
        self.nodes
    }

    pub fn start_after(&mut self, rank: u64) {
        self.nodes = rank;
    }

    /// The first error of two codes of one row (see [`ErrorSite`]).
    pub fn first_of(&self, a: IntValue<'ctx>, b: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        self.first_error(a, b)
    }

    /// `i1`: the lowered boolean is TRUE (valid and true).
    pub fn is_true(&self, l: &Lowered<'ctx>) -> R<IntValue<'ctx>> {
        Ok(self
            .b
            .build_and(l.valid, l.value.into_int_value(), "is_true")?)
    }

    /// Lowers `e` for the current row, reusing an equal subexpression lowered before.
    pub fn lower(&mut self, e: &Expr) -> R<Lowered<'ctx>> {
        let key = memo_key(e);
        if let Some(l) = key.as_ref().and_then(|k| self.memo.get(k)) {
            return Ok(*l);
        }
        let mut l = crate::stack::guard(|| self.lower_node(e))?;
        if let (true, BasicValueEnum::FloatValue(x)) = (crate::interp::computes_floats(e), l.value)
        {
            l.value = self.canonical_nan(x)?.into();
        }
        if let Some(k) = key {
            if !self.vars.is_empty() {
                self.memo_log.push((false, k.clone()));
            }
            self.memo.insert(k, l);
        }
        Ok(l)
    }

    /// `x`, or the canonical NaN where `x` is a NaN: what a float computation gives, in both
    /// engines (see [`crate::interp::computed_nans`]). LLVM leaves the sign and payload of an
    /// operation's NaN open and rewrites operations that only differ there (`-(x * 2)` as
    /// `x * -2`); the choice of one constant here is exact.
    fn canonical_nan(&self, x: FloatValue<'ctx>) -> R<FloatValue<'ctx>> {
        let b = self.b;
        let t = x.get_type();
        let nan = if t == self.ctx.f32_type() {
            f64::from(f32::from_bits(crate::interp::CANONICAL_NAN_32))
        } else {
            f64::from_bits(crate::interp::CANONICAL_NAN_64)
        };
        let is_nan = b.build_float_compare(FloatPredicate::UNO, x, x, "is_nan")?;
        Ok(
            b.build_select(is_nan, t.const_float(nan), x, "canonical_nan")?
                .into_float_value(),
        )
    }

    /// `LET $id = value IN body`: `value` once, its error first, `body` reading it.
    fn lower_let(&mut self, id: u32, value: &Expr, body: &Expr) -> R<Lowered<'ctx>> {
        let v = self.lower(value)?;
        let read = Lowered {
            err: self.no_error(),
            ..v
        };
        let outer = self.vars.insert(id, read);
        let mark = self.memo_log.len();
        let result = self.lower(body);
        for (narrow, key) in self.memo_log.drain(mark..) {
            if narrow {
                self.narrow_memo.remove(&key);
            } else {
                self.memo.remove(&key);
            }
        }
        match outer {
            Some(o) => self.vars.insert(id, o),
            None => self.vars.remove(&id),
        };
        let body = result?;
        Ok(Lowered {
            err: self.first_error(v.err, body.err)?,
            ..body
        })
    }

    fn lower_node(&mut self, e: &Expr) -> R<Lowered<'ctx>> {
        match e {
            Expr::Column(c) => {
                if let Some(reason) = crate::codegen::abi::unreadable_column(c) {
                    return not_compiled(reason);
                }
                if c.ty == SqlType::Null {
                    // Every row is NULL; the column has no slot.
                    return self.literal(&Literal {
                        value: Scalar::Null,
                        ty: SqlType::Null,
                    });
                }
                let slot = *self
                    .slot_of
                    .get(&c.index)
                    .ok_or_else(|| Error::internal(format!("column {} has no slot", c.index)))?;
                self.read_column(slot, c.ty)
            }
            Expr::Literal(l) => self.literal(l),
            Expr::Unary { op, arg } => {
                let a = self.lower(arg)?;
                match op {
                    UnaryOp::Not => {
                        let value = self.b.build_not(a.value.into_int_value(), "not")?;
                        Ok(Lowered {
                            value: value.into(),
                            ..a
                        })
                    }
                    UnaryOp::Neg => self.negate(e, arg.ty(), a),
                }
            }
            Expr::Binary {
                op,
                left,
                right,
                ty,
            } => match op {
                BinaryOp::And | BinaryOp::Or => self.kleene(*op, left, right),
                BinaryOp::Concat => self.concat(e, left, right),
                _ => {
                    let param = parameter(*op, left, right);
                    let l = self.lower_operand(left, param)?;
                    let r = self.lower_operand(right, param)?;
                    if op.is_comparison() {
                        let value = match (left.as_ref(), right.as_ref()) {
                            (Expr::Column(x), Expr::Literal(c)) if x.ty.is_decimal() => {
                                self.compare_decimal(*op, x, c, param.is_some())?
                            }
                            (Expr::Literal(c), Expr::Column(x)) if x.ty.is_decimal() => {
                                self.compare_decimal(op.swap(), x, c, param.is_some())?
                            }
                            (column @ Expr::Column(_), Expr::Literal(c))
                            | (Expr::Literal(c), column @ Expr::Column(_))
                                if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) =>
                            {
                                match &c.value {
                                    Scalar::Utf8(s) => match self.view_eq_constant(column, s)? {
                                        Some(eq) if *op == BinaryOp::NotEq => {
                                            Some(self.b.build_not(eq, "view_ne")?)
                                        }
                                        eq => eq,
                                    },
                                    _ => None,
                                }
                            }
                            _ => None,
                        };
                        let value = match value {
                            Some(v) => v,
                            None => self.compare(*op, left.ty(), l.value, r.value)?,
                        };
                        self.combine(e, value.into(), &l, &r, None)
                    } else {
                        self.arithmetic(e, *op, left.ty(), right.ty(), *ty, l, r)
                    }
                }
            },
            Expr::IsNull { arg, negated } => {
                let a = self.lower(arg)?;
                let value = if *negated {
                    a.valid
                } else {
                    self.b.build_not(a.valid, "is_null")?
                };
                Ok(Lowered {
                    value: value.into(),
                    valid: self.bool_const(true),
                    err: a.err,
                })
            }
            Expr::InList { arg, list, negated } => self.in_list(arg, list, *negated),
            Expr::Like {
                arg,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => self.like(arg, pattern, *escape, *case_insensitive, *negated),
            Expr::Case {
                branches,
                else_,
                ty,
            } => self.case(branches, else_.as_deref(), *ty),
            Expr::Cast { arg, ty } => {
                let a = self.lower(arg)?;
                self.cast(e, a, arg.ty(), *ty)
            }
            Expr::Func { func, args, .. } => self.func(e, *func, args),
            Expr::Let { id, value, body } => self.lower_let(*id, value, body),
            Expr::Var { id, .. } => self
                .vars
                .get(id)
                .copied()
                .ok_or_else(|| Error::internal(format!("${id} is read outside its LET")).into()),
        }
    }

    // ---- types and constants ----

    fn llvm_type(&self, ty: SqlType) -> R<BasicTypeEnum<'ctx>> {
        let c = self.ctx;
        Ok(match ty {
            SqlType::Null | SqlType::Boolean => c.bool_type().into(),
            SqlType::Int8 | SqlType::UInt8 => c.i8_type().into(),
            SqlType::Int16 | SqlType::UInt16 => c.i16_type().into(),
            SqlType::Int32 | SqlType::UInt32 | SqlType::Date => c.i32_type().into(),
            SqlType::Int64 | SqlType::UInt64 | SqlType::Timestamp { .. } => c.i64_type().into(),
            // Months in bits 0..32, days in 32..64, nanoseconds in 64..128: Arrow's
            // `IntervalMonthDayNano` as one little-endian `i128`.
            SqlType::Interval => c.i128_type().into(),
            SqlType::Float32 => c.f32_type().into(),
            SqlType::Float64 => c.f64_type().into(),
            SqlType::Decimal { .. } => c.i128_type().into(),
            SqlType::Utf8 => self.string_type().into(),
            // Never read (see `read_column`).
            SqlType::Other(_) => c.bool_type().into(),
        })
    }

    fn bool_const(&self, v: bool) -> IntValue<'ctx> {
        self.ctx.bool_type().const_int(v as u64, false)
    }

    fn no_error(&self) -> IntValue<'ctx> {
        self.ctx.i32_type().const_zero()
    }

    fn i256(&self) -> IntType<'ctx> {
        self.i256
    }

    /// An `i256` constant.
    fn const_i256(&self, v: i128) -> IntValue<'ctx> {
        let hi = if v < 0 { u64::MAX } else { 0 };
        self.i256()
            .const_int_arbitrary_precision(&[v as u64, (v >> 64) as u64, hi, hi])
    }

    fn const_i128(&self, v: i128) -> IntValue<'ctx> {
        self.ctx
            .i128_type()
            .const_int_arbitrary_precision(&[v as u64, (v >> 64) as u64])
    }

    fn zero_of(&self, ty: SqlType) -> R<BasicValueEnum<'ctx>> {
        Ok(self.llvm_type(ty)?.const_zero())
    }

    // ---- errors ----

    /// A new error rank for a node. Ranks grow in the interpreter's evaluation order (children
    /// before parents, left before right, `CASE` parts in order), because nodes are lowered in
    /// that order.
    fn new_node(&mut self) -> u64 {
        self.nodes += 1;
        self.nodes
    }

    /// `i32`: `fail ? code : 0`, registering an error site of node `node`. The code is
    /// `node << 1 | kind`, so that comparing codes compares evaluation order first.
    fn own_error(
        &mut self,
        fail: IntValue<'ctx>,
        kind: ErrorKind,
        what: &Expr,
        node: u64,
    ) -> R<IntValue<'ctx>> {
        let code = node << 1 | matches!(kind, ErrorKind::Overflow { .. }) as u64;
        if code >= 1 << 30 {
            return not_compiled("a predicate with this many operations is not compiled");
        }
        self.errors.push(ErrorSite {
            code,
            kind,
            what: what.to_string(),
        });
        let code = self.ctx.i32_type().const_int(code, false);
        Ok(self
            .b
            .build_select(fail, code, self.no_error(), "err")?
            .into_int_value())
    }

    /// Of two error codes of one row, the one the interpreter raises first: the smaller
    /// non-zero one (0 = none). Computed as `umin(a - 1, b - 1) + 1` in wrapping arithmetic.
    fn first_error(&self, a: IntValue<'ctx>, b: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        let one = self.ctx.i32_type().const_int(1, false);
        let a1 = self.b.build_int_sub(a, one, "a1")?;
        let b1 = self.b.build_int_sub(b, one, "b1")?;
        let a_first = self
            .b
            .build_int_compare(IntPredicate::ULT, a1, b1, "a_first")?;
        let m = self
            .b
            .build_select(a_first, a1, b1, "min1")?
            .into_int_value();
        Ok(self.b.build_int_add(m, one, "err")?)
    }

    /// `mask ? err : 0`.
    fn mask_error(&self, mask: IntValue<'ctx>, err: IntValue<'ctx>) -> R<IntValue<'ctx>> {
        Ok(self
            .b
            .build_select(mask, err, self.no_error(), "masked_err")?
            .into_int_value())
    }

    fn overflow(ty: SqlType) -> ErrorKind {
        ErrorKind::Overflow { ty: ty.to_string() }
    }

    /// A binary node: valid where both operands are; errors of the operands, then the node's own
    /// (`fail`, counted only where valid).
    fn combine(
        &mut self,
        e: &Expr,
        value: BasicValueEnum<'ctx>,
        l: &Lowered<'ctx>,
        r: &Lowered<'ctx>,
        fail: Option<(IntValue<'ctx>, ErrorKind)>,
    ) -> R<Lowered<'ctx>> {
        let valid = self.b.build_and(l.valid, r.valid, "valid")?;
        let mut err = self.first_error(l.err, r.err)?;
        if let Some((fail, kind)) = fail {
            let fail = self.b.build_and(fail, valid, "fail")?;
            let node = self.new_node();
            let own = self.own_error(fail, kind, e, node)?;
            err = self.first_error(err, own)?;
        }
        Ok(Lowered { value, valid, err })
    }

    /// A unary node with an optional own failure.
    fn unary_result(
        &mut self,
        e: &Expr,
        value: BasicValueEnum<'ctx>,
        a: &Lowered<'ctx>,
        fail: Option<(IntValue<'ctx>, ErrorKind)>,
    ) -> R<Lowered<'ctx>> {
        let mut err = a.err;
        if let Some((fail, kind)) = fail {
            let fail = self.b.build_and(fail, a.valid, "fail")?;
            let node = self.new_node();
            let own = self.own_error(fail, kind, e, node)?;
            err = self.first_error(err, own)?;
        }
        Ok(Lowered {
            value,
            valid: a.valid,
            err,
        })
    }

    // ---- leaves ----

    /// Bit `idx` of a bitmap; `mask` (if any) is ANDed with the byte index.
    fn read_bit(
        &self,
        base: PointerValue<'ctx>,
        idx: IntValue<'ctx>,
        mask: Option<IntValue<'ctx>>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        let i8t = self.ctx.i8_type();
        let i64t = self.ctx.i64_type();
        let mut byte_idx = b.build_right_shift(idx, i64t.const_int(3, false), false, "byte_idx")?;
        if let Some(m) = mask {
            byte_idx = b.build_and(byte_idx, m, "byte_idx_masked")?;
        }
        // SAFETY (of the generated code): the bitmap covers every row of the batch.
        let p = unsafe { b.build_in_bounds_gep(i8t, base, &[byte_idx], "byte_ptr")? };
        let byte = b.build_load(i8t, p, "byte")?.into_int_value();
        let shift = b.build_and(idx, i64t.const_int(7, false), "bit_idx")?;
        let shift = b.build_int_truncate(shift, i8t, "bit_idx8")?;
        let shifted = b.build_right_shift(byte, shift, false, "shifted")?;
        Ok(b.build_int_truncate(shifted, self.ctx.bool_type(), "bit")?)
    }

    fn read_column(&mut self, slot: usize, ty: SqlType) -> R<Lowered<'ctx>> {
        let b = self.b;
        let p = &self.cols[slot];
        let (values, offset, validity, vmask, voff) = (
            p.values,
            p.offset,
            p.validity,
            p.validity_mask,
            p.validity_offset,
        );
        if self.slots.get(slot).is_none() {
            return Err(Error::internal("column slot out of range").into());
        }
        let idx = b.build_int_add(offset, self.row, "idx")?;
        let valid = if self.slots[slot].nullable {
            let vidx = b.build_int_add(voff, self.row, "vidx")?;
            self.read_bit(validity, vidx, Some(vmask))?
        } else {
            self.bool_const(true)
        };
        let value: BasicValueEnum = if ty == SqlType::Utf8 {
            self.read_string(slot, idx, valid)?
        } else if ty == SqlType::Boolean {
            self.read_bit(values, idx, None)?.into()
        } else if ty.is_other() {
            // Only its validity is read (`IS NULL`, `COUNT`): the binder lets nothing else
            // see a value of a type qjit passes through.
            self.bool_const(false).into()
        } else if self.slots[slot].stores_decimal64() {
            // An 8-byte decimal: computed with as the `i128` it is.
            let i64t = self.ctx.i64_type();
            // SAFETY (of the generated code): the values buffer covers every row of the batch.
            let ptr = unsafe { b.build_in_bounds_gep(i64t, values, &[idx], "value_ptr")? };
            let v = self.load_aligned(i64t.into(), ptr, 8, "value64")?;
            b.build_int_s_extend(v.into_int_value(), self.ctx.i128_type(), "value")?
                .into()
        } else {
            let t = self.llvm_type(ty)?;
            // SAFETY (of the generated code): the values buffer covers every row of the batch.
            let ptr = unsafe { b.build_in_bounds_gep(t, values, &[idx], "value_ptr")? };
            self.load_aligned(t, ptr, value_alignment(ty), "value")?
        };
        Ok(Lowered {
            value,
            valid,
            err: self.no_error(),
        })
    }

    /// A load of a `t` from `ptr`, aligned to `align` bytes.
    fn load_aligned(
        &self,
        t: BasicTypeEnum<'ctx>,
        ptr: PointerValue<'ctx>,
        align: u32,
        name: &str,
    ) -> R<BasicValueEnum<'ctx>> {
        let v = self.b.build_load(t, ptr, name)?;
        if let Some(inst) = v.as_instruction_value() {
            inst.set_alignment(align)
                .map_err(|e| Error::internal(format!("load alignment: {e}")))?;
        }
        Ok(v)
    }

    fn literal(&self, l: &Literal) -> R<Lowered<'ctx>> {
        let valid = self.bool_const(!l.value.is_null());
        let t = self.llvm_type(l.ty)?;
        let value: BasicValueEnum = match (&l.value, l.ty) {
            (Scalar::Null, _) => t.const_zero(),
            (Scalar::Boolean(v), _) => self.bool_const(*v).into(),
            (Scalar::Int(v), _) => t.into_int_type().const_int(*v as u64, true).into(),
            (Scalar::UInt(v), _) => t.into_int_type().const_int(*v, false).into(),
            (Scalar::Float(v), _) => t.into_float_type().const_float(*v).into(),
            (Scalar::Decimal(v), _) => self.const_i128(*v).into(),
            (Scalar::Date(v), _) => t.into_int_type().const_int(*v as i64 as u64, true).into(),
            (Scalar::Utf8(s), _) => self.string_literal(s)?,
            (Scalar::Timestamp(v), _) => t.into_int_type().const_int(*v as u64, true).into(),
            (Scalar::Interval(iv), _) => self.const_i128(time::pack_interval(*iv)).into(),
        };
        Ok(Lowered {
            value,
            valid,
            err: self.no_error(),
        })
    }

    // ---- comparisons and logic ----

    /// `x op c` for a decimal column `x` and a constant `c` of the same type, in `i64`
    /// operations, which vectorize (an `i128` comparison does not): where `x` fits `i64` its
    /// low half is its value; elsewhere `x` lies beyond every `i64`, below them if negative.
    /// The halves are read as two `i64`s, which keeps LLVM from folding the test back into
    /// `i128` arithmetic. `None` if `c` does not fit `i64` (or is NULL).
    fn compare_decimal(
        &mut self,
        op: BinaryOp,
        x: &crate::ir::ColumnRef,
        lit: &Literal,
        is_param: bool,
    ) -> R<Option<IntValue<'ctx>>> {
        let Scalar::Decimal(c) = lit.value else {
            return Ok(None);
        };
        let Ok(c) = i64::try_from(c) else {
            return Ok(None);
        };
        let slot = *self
            .slot_of
            .get(&x.index)
            .ok_or_else(|| Error::internal(format!("column {} has no slot", x.index)))?;
        let b = self.b;
        let i64t = self.ctx.i64_type();
        let p = &self.cols[slot];
        let idx = b.build_int_add(p.offset, self.row, "idx")?;
        let pred = int_predicate(op, true)?;
        // A parameter that fits `i64` (the decision this code embodies): its low word.
        let c = match self.param_at(x.index, lit).filter(|_| is_param) {
            Some((at, words)) => self.load_param(i64t.into(), words, at)?.into_int_value(),
            None => i64t.const_int(c as u64, true),
        };
        if self.slots[slot].stores_decimal64() {
            // SAFETY (of the generated code): the values buffer covers every row of the batch.
            let at = unsafe { b.build_in_bounds_gep(i64t, p.values, &[idx], "x_ptr")? };
            let x = self.load_aligned(i64t.into(), at, 8, "x64")?;
            return Ok(Some(b.build_int_compare(
                pred,
                x.into_int_value(),
                c,
                "cmp_dec",
            )?));
        }
        // SAFETY (of the generated code): the values buffer covers every row of the batch; the
        // low half of a little-endian `i128` comes first.
        let at = unsafe { b.build_in_bounds_gep(self.ctx.i128_type(), p.values, &[idx], "x_ptr")? };
        // SAFETY (of the generated code): the high half of the same value.
        let at_hi =
            unsafe { b.build_in_bounds_gep(i64t, at, &[i64t.const_int(1, false)], "x_hi_ptr")? };
        let lo = b.build_load(i64t, at, "x_lo")?.into_int_value();
        let hi = b.build_load(i64t, at_hi, "x_hi")?.into_int_value();
        let sign = b.build_right_shift(lo, i64t.const_int(63, false), true, "lo_sign")?;
        let fits = b.build_int_compare(IntPredicate::EQ, hi, sign, "x_fits")?;
        let near = b.build_int_compare(pred, lo, c, "near")?;
        let zero = i64t.const_zero();
        let far = match op {
            BinaryOp::Eq => self.bool_const(false),
            BinaryOp::NotEq => self.bool_const(true),
            BinaryOp::Lt | BinaryOp::LtEq => {
                b.build_int_compare(IntPredicate::SLT, hi, zero, "far_below")?
            }
            _ => b.build_int_compare(IntPredicate::SGE, hi, zero, "far_above")?,
        };
        Ok(Some(
            b.build_select(fits, near, far, "cmp_dec")?.into_int_value(),
        ))
    }

    fn compare(
        &self,
        op: BinaryOp,
        ty: SqlType,
        l: BasicValueEnum<'ctx>,
        r: BasicValueEnum<'ctx>,
    ) -> R<IntValue<'ctx>> {
        let b = self.b;
        if ty == SqlType::Utf8 {
            return self.string_compare(op, l, r);
        }
        if ty == SqlType::Interval {
            let (x, y) = (
                self.interval_span(l.into_int_value())?,
                self.interval_span(r.into_int_value())?,
            );
            return Ok(b.build_int_compare(int_predicate(op, true)?, x, y, "cmp")?);
        }
        if ty.is_float() {
            let (x, y) = (l.into_float_value(), r.into_float_value());
            return match op {
                BinaryOp::Eq => self.float_eq(x, y),
                BinaryOp::NotEq => Ok(b.build_not(self.float_eq(x, y)?, "ne")?),
                BinaryOp::Lt => self.float_lt(x, y),
                BinaryOp::Gt => self.float_lt(y, x),
                BinaryOp::LtEq => Ok(b.build_not(self.float_lt(y, x)?, "le")?),
                BinaryOp::GtEq => Ok(b.build_not(self.float_lt(x, y)?, "ge")?),
                _ => Err(Error::internal(format!("{} is not a comparison", op.symbol())).into()),
            };
        }
        let signed =
            ty.is_signed_integer() || ty.is_decimal() || ty == SqlType::Date || ty.is_timestamp();
        if !(signed || ty.is_unsigned_integer() || ty == SqlType::Boolean) {
            return not_compiled(format!("comparing {ty} values is not compiled yet"));
        }
        let pred = int_predicate(op, signed)?;
        Ok(b.build_int_compare(pred, l.into_int_value(), r.into_int_value(), "cmp")?)
    }

    /// SQL float equality: `-0 = 0`, NaN = NaN.
    fn float_eq(&self, x: FloatValue<'ctx>, y: FloatValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let eq = b.build_float_compare(FloatPredicate::OEQ, x, y, "feq")?;
        let both_nan = b.build_float_compare(FloatPredicate::UNO, x, x, "x_nan")?;
        let y_nan = b.build_float_compare(FloatPredicate::UNO, y, y, "y_nan")?;
        let nans = b.build_and(both_nan, y_nan, "both_nan")?;
        Ok(b.build_or(eq, nans, "eq")?)
    }

    /// SQL float `<`: NaN is greater than every number.
    fn float_lt(&self, x: FloatValue<'ctx>, y: FloatValue<'ctx>) -> R<IntValue<'ctx>> {
        let b = self.b;
        let lt = b.build_float_compare(FloatPredicate::OLT, x, y, "flt")?;
        let x_num = b.build_float_compare(FloatPredicate::ORD, x, x, "x_num")?;
        let y_nan = b.build_float_compare(FloatPredicate::UNO, y, y, "y_nan")?;
        let below_nan = b.build_and(x_num, y_nan, "below_nan")?;
        Ok(b.build_or(lt, below_nan, "lt")?)
    }

    /// Kleene `AND`/`OR`; the right side's errors count only where the left does not decide.
    /// A costly right side ([`costly`]) is computed only for the rows the left does not decide
    /// (a branch), as the interpreter computes it only for the rows that remain; a cheap one is
    /// computed for every row, branch-free, so that the row loop stays vectorizable.
    fn kleene(&mut self, op: BinaryOp, left: &Expr, right: &Expr) -> R<Lowered<'ctx>> {
        let b = self.b;
        let l = self.lower(left)?;
        let lv = l.value.into_int_value();
        let l_true = b.build_and(l.valid, lv, "l_true")?;
        let l_false = b.build_and(l.valid, b.build_not(lv, "l_not")?, "l_false")?;
        let r = match costly(right) {
            true => {
                let decides = if op == BinaryOp::And { l_false } else { l_true };
                self.lower_unless(decides, right)?
            }
            false => self.lower(right)?,
        };
        let rv = r.value.into_int_value();
        let r_true = b.build_and(r.valid, rv, "r_true")?;
        let r_false = b.build_and(r.valid, b.build_not(rv, "r_not")?, "r_false")?;
        let (is_true, is_false, decided) = if op == BinaryOp::And {
            (
                b.build_and(l_true, r_true, "and_true")?,
                b.build_or(l_false, r_false, "and_false")?,
                l_false,
            )
        } else {
            (
                b.build_or(l_true, r_true, "or_true")?,
                b.build_and(l_false, r_false, "or_false")?,
                l_true,
            )
        };
        let needed = b.build_not(decided, "right_needed")?;
        let r_err = self.mask_error(needed, r.err)?;
        Ok(Lowered {
            value: is_true.into(),
            valid: b.build_or(is_true, is_false, "valid")?,
            err: self.first_error(l.err, r_err)?,
        })
    }

    /// Lowers the boolean `e` in a branch taken only where `skip` is false; where it is true the
    /// result is a NULL without error (which the caller's `skip` decides anyway). Subexpressions
    /// lowered inside the branch do not dominate the code after it, so they leave the memo.
    fn lower_unless(&mut self, skip: IntValue<'ctx>, e: &Expr) -> R<Lowered<'ctx>> {
        let (ctx, b) = (self.ctx, self.b);
        let from = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("the builder lost its block"))?;
        let f = from
            .get_parent()
            .ok_or_else(|| Error::internal("the builder lost its function"))?;
        let needed = ctx.append_basic_block(f, "costly");
        let join = ctx.append_basic_block(f, "costly_join");
        b.build_conditional_branch(skip, join, needed)?;
        b.position_at_end(needed);
        let (memo, narrow_memo, mark) = (
            self.memo.clone(),
            self.narrow_memo.clone(),
            self.memo_log.len(),
        );
        let used_before = self.scratch.as_ref().map(|s| s.used);
        let lowered = self.lower(e);
        self.memo = memo;
        self.narrow_memo = narrow_memo;
        self.memo_log.truncate(mark);
        let r = lowered?;
        let end = b
            .get_insert_block()
            .ok_or_else(|| Error::internal("the builder lost its block"))?;
        b.build_unconditional_branch(join)?;
        b.position_at_end(join);
        // Strings built in the branch moved the scratch cursor there: after it, the cursor is
        // the branch's where it ran.
        if let (Some(before), Some(s)) = (used_before, self.scratch.as_mut()) {
            if s.used != before {
                let used = b.build_phi(ctx.i64_type(), "scratch_used")?;
                used.add_incoming(&[(&s.used, end), (&before, from)]);
                s.used = used.as_basic_value().into_int_value();
            }
        }
        let bool_t = ctx.bool_type();
        let value = b.build_phi(r.value.get_type(), "costly_value")?;
        value.add_incoming(&[(&r.value, end), (&r.value.get_type().const_zero(), from)]);
        let valid = b.build_phi(bool_t, "costly_valid")?;
        valid.add_incoming(&[(&r.valid, end), (&bool_t.const_zero(), from)]);
        let err = b.build_phi(r.err.get_type(), "costly_err")?;
        err.add_incoming(&[(&r.err, end), (&self.no_error(), from)]);
        Ok(Lowered {
            value: value.as_basic_value(),
            valid: valid.as_basic_value().into_int_value(),
            err: err.as_basic_value().into_int_value(),
        })
    }

    fn case(
        &mut self,
        branches: &[(Expr, Expr)],
        else_: Option<&Expr>,
        ty: SqlType,
    ) -> R<Lowered<'ctx>> {
        let b = self.b;
        let mut remaining = self.bool_const(true);
        let mut err = self.no_error();
        let mut taken_values = vec![];
        for (condition, value) in branches {
            let c = self.lower(condition)?;
            err = self.first_error(err, self.mask_error(remaining, c.err)?)?;
            let c_true = self.is_true(&c)?;
            let taken = b.build_and(remaining, c_true, "taken")?;
            let v = self.lower(value)?;
            err = self.first_error(err, self.mask_error(taken, v.err)?)?;
            remaining = b.build_and(remaining, b.build_not(taken, "not_taken")?, "remaining")?;
            taken_values.push((taken, v));
        }
        let (mut value, mut valid) = match else_ {
            Some(e) => {
                let v = self.lower(e)?;
                err = self.first_error(err, self.mask_error(remaining, v.err)?)?;
                (v.value, v.valid)
            }
            None => (self.zero_of(ty)?, self.bool_const(false)),
        };
        for (taken, v) in taken_values.into_iter().rev() {
            value = b.build_select(taken, v.value, value, "case_value")?;
            valid = b
                .build_select(taken, v.valid, valid, "case_valid")?
                .into_int_value();
        }
        Ok(Lowered { value, valid, err })
    }
}

/// Whether computing `e` costs many instructions per row that do not vectorize: string work
/// (`LIKE`, string functions, text casts, `||`), calendar arithmetic on timestamps and dates
/// (divisions of 64-bit integers), integer and decimal division, and runtime calls. A side of
/// `AND`/`OR` that is costly runs only where the other side leaves the answer open.
pub(super) fn costly(e: &Expr) -> bool {
    use crate::ir::Func;
    e.any(&mut |n| match n {
        Expr::Like { .. } => true,
        Expr::Cast { arg, ty } => *ty == SqlType::Utf8 || arg.ty() == SqlType::Utf8,
        Expr::Binary { op, ty, .. } => match op {
            BinaryOp::Concat => true,
            BinaryOp::Div | BinaryOp::Mod => !matches!(ty, SqlType::Float32 | SqlType::Float64),
            _ => false,
        },
        Expr::Func { func, .. } => !matches!(
            func,
            Func::Abs | Func::Sign | Func::Floor | Func::Ceil | Func::Sqrt | Func::Round { .. }
        ),
        _ => false,
    })
}

/// The integer predicate of the comparison `op`, signed or unsigned.
fn int_predicate(op: BinaryOp, signed: bool) -> R<IntPredicate> {
    Ok(match (op, signed) {
        (BinaryOp::Eq, _) => IntPredicate::EQ,
        (BinaryOp::NotEq, _) => IntPredicate::NE,
        (BinaryOp::Lt, true) => IntPredicate::SLT,
        (BinaryOp::Lt, false) => IntPredicate::ULT,
        (BinaryOp::LtEq, true) => IntPredicate::SLE,
        (BinaryOp::LtEq, false) => IntPredicate::ULE,
        (BinaryOp::Gt, true) => IntPredicate::SGT,
        (BinaryOp::Gt, false) => IntPredicate::UGT,
        (BinaryOp::GtEq, true) => IntPredicate::SGE,
        (BinaryOp::GtEq, false) => IntPredicate::UGE,
        _ => return Err(Error::internal(format!("{} is not a comparison", op.symbol())).into()),
    })
}
