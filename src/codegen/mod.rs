//! Code generation: lowers the row loop of a typed plan to an LLVM module holding one kernel.
//!
//! ```text
//! WHERE                      ─compile_filter────▶ FilterModule    ─▶ FilterFn    (selection bitmap)
//! WHERE + SELECT expressions ─compile_project───▶ ProjectModule   ─▶ ProjectFn   (output buffers)
//! WHERE + GROUP BY + aggs    ─compile_aggregate─▶ AggregateModule ─▶ AggregateFn (accumulators)
//!                                  └─▶ jit (verify, optimize, machine code)
//! ```
//!
//! Every kernel reads the columns it uses through [`ColumnArg`]s and works a word of 64 rows at a
//! time: the filter's row function computes the selection bits of the word branch-free (so that
//! the loop vectorizes), then the projection or aggregation row function runs for each selected
//! row (count trailing zeros). Row functions are `alwaysinline` internal functions, inlined into
//! the entry. Values and validity are computed separately for every node (SQL three-valued
//! logic); errors (overflow, division by zero) are per-row error codes that count only where the
//! interpreter would raise them: for valid operands whose value is needed (see
//! `crate::ir::expr`), for rows the `WHERE` keeps. The filter kernel reports the first error's
//! code and row ([`ErrorSite`]); the projection and aggregation kernels stop at a failing row,
//! and the executor asks the interpreter for the exact error of that batch.
//!
//! `VARCHAR` values are `{ ptr, i64 }` pairs (the bytes and their length) in every column layout
//! ([`StringLayout`]); comparisons, `IN`, `LIKE`, `ILIKE`, `LENGTH` and `SUBSTRING` (a pointer and
//! length into the input, no copy) run byte loops defined as internal `alwaysinline` functions of
//! the same module (see `lower::strings`). `UPPER`, `LOWER`, `||` and casts to `VARCHAR` write
//! their result into a per-row scratch area ([`FilterFn`]'s `scratch`, sized by the caller from
//! [`ScratchNeed`]).
//!
//! Some rows are cheaper to hand back than to compile for: a filter or projection kernel reports
//! the reserved code [`STATUS_FALLBACK`] when a row needs the interpreter (`ILIKE` on a string
//! holding one of the two characters whose Unicode lowercase is ASCII, `UPPER`/`LOWER` of a
//! non-ASCII string, a cast from text that is not plainly well-formed (see `lower::text`), a
//! decimal not exact as a float, a scratch area too small), and the caller then evaluates the
//! whole batch with the interpreter. An aggregation kernel hands back at a row of its group keys
//! or aggregate arguments: it stops there with its state as the interpreter's would be after
//! the rows before it, and the interpreter carries on from that state (see `aggregate`). Its
//! fused `WHERE` clause does not hand back (the executor filters first instead).
//!
//! A kernel calls no function but the runtime ones (module `runtime`: Rust functions), and those
//! only in the casts that depend on a float's decimal digits (to and from `VARCHAR` and
//! `DECIMAL`, which need shortest round-trip digits or correctly rounded parsing), for the rows
//! their IR fast paths do not convert (see `lower::float_cast`), and in the group lookup of
//! string keys, for the rows whose key is not among the batch's recent ones (see `lower::group`).
//!
//! Constructs that do not compile are [`CodegenError::NotCompiled`] with a reason: the executor
//! runs that part in the interpreter and `--explain` says why.
//!
//! Modules, in the order a kernel is built: `abi` (what a kernel is called with and reports:
//! [`ColumnArg`], the entry-point types, [`KernelStatus`], [`ScratchNeed`]), `attributes` (what
//! every kernel function carries), `lower` (expressions → IR inside a row function),
//! `skeleton` (the row function's parameters, the entry's column loading, the word and
//! selected-row loops every kernel shares), then one module per kernel: `filter`, `project`,
//! `aggregate`; `runtime` holds the Rust functions a kernel may call.

mod abi;
mod aggregate;
mod attributes;
mod filter;
mod lower;
mod project;
pub(crate) mod runtime;
mod skeleton;

use crate::error::Error;

pub use crate::ir::AccKind;
pub(crate) use abi::value_alignment;
pub use abi::{
    AggArgs, AggregateFn, ColumnArg, ColumnSlot, FilterFn, KernelStatus, OutArg, ProjectFn,
    ScratchNeed, StringLayout, PARAMS_SLOT, STATUS_FALLBACK, STATUS_LOST_ERROR, STATUS_NEED_ROOM,
};
pub use aggregate::{
    aggregate_inputs, compile_aggregate, layout, AggregateLayout, AggregateModule, KeyKind,
    KeyLayout, SlotKind, StateSlot, VectorType, AGGREGATE_ENTRY_NAME, DIRECT_KEY_WORDS,
};
pub use filter::{compile_filter, FilterModule, ENTRY_NAME};
pub use lower::Params;
pub use project::{compile_project, lowers, writable, ProjectModule, PROJECT_ENTRY_NAME};

/// What the code generator decides about a kernel over `exprs` before it lowers them: the
/// constants the kernel takes as parameters, and the columns it reads (the parameter slot
/// last). A kernel loaded from the disk cache without code generation gets them from this same
/// function, so they agree with the machine code by construction.
pub fn kernel_inputs(exprs: &[&crate::ir::Expr]) -> (Params, Vec<ColumnSlot>) {
    let params = Params::of(exprs);
    let columns = skeleton::column_slots(exprs, &params);
    (params, columns)
}

/// What kind of error an error code stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorKind {
    DivisionByZero,
    /// A result that does not fit the named SQL type.
    Overflow {
        ty: String,
    },
    /// An argument a function rejects (`SUBSTRING` with a negative length).
    InvalidArgument {
        message: String,
    },
    /// Text that is not a value of the named SQL type.
    InvalidCast {
        ty: String,
    },
}

/// One way an operation of a kernel can fail, and the code the kernel reports for it.
///
/// Codes order failures as the interpreter meets them: `code >> 1` is the operation's rank in
/// the interpreter's evaluation order (post-order), `code & 1` the kind. A kernel reports the
/// failure of the lowest rank anywhere in the batch, at its first row — the error the
/// interpreter, which evaluates one operation at a time over the whole batch, raises.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorSite {
    pub code: u64,
    pub kind: ErrorKind,
    /// The operation, as the plan prints it.
    pub what: String,
}

impl ErrorSite {
    /// The user-facing error for a failure of this operation at `row` of a batch.
    pub fn to_error(&self, row: u64) -> Error {
        match &self.kind {
            ErrorKind::DivisionByZero => Error::DivisionByZero,
            ErrorKind::Overflow { ty } => {
                Error::overflow(ty, format!("{} (batch row {row})", self.what))
            }
            ErrorKind::InvalidArgument { message } => Error::InvalidArgument {
                message: message.clone(),
            },
            // The kernel does not keep the text; the executor asks the interpreter, which
            // quotes it.
            ErrorKind::InvalidCast { ty } => Error::InvalidCast {
                value: format!("the text of {} (batch row {row})", self.what),
                ty: ty.clone(),
            },
        }
    }
}

/// Why a predicate did not become a kernel.
#[derive(Debug)]
pub enum CodegenError {
    /// A construct this JIT does not compile yet; the reason names it ("LIKE is not compiled yet").
    NotCompiled(String),
    /// A bug: the builder or the verifier failed.
    Failed(Error),
}

impl From<inkwell::builder::BuilderError> for CodegenError {
    fn from(e: inkwell::builder::BuilderError) -> CodegenError {
        CodegenError::Failed(Error::internal(format!("LLVM IR builder: {e}")))
    }
}

impl From<Error> for CodegenError {
    fn from(e: Error) -> CodegenError {
        CodegenError::Failed(e)
    }
}

/// A [`CodegenError::NotCompiled`] with `reason`.
pub(crate) fn not_compiled<T>(reason: impl Into<String>) -> Result<T, CodegenError> {
    Err(CodegenError::NotCompiled(reason.into()))
}

/// The most expression nodes one kernel compiles (an `IN` list's constants not counted: they
/// become one table). LLVM's compile time grows faster than a kernel's size: a sum of 250, 500
/// and 1,000 terms (about 500, 1,000 and 2,000 nodes) compiles in 0.25, 0.55 and 2.0 s, in
/// LLVM's loop vectorizer and x86 domain reassignment mostly, while the interpreter evaluates
/// the 1,000-term sum over 60,000 rows in 0.05 s. A larger kernel is not compiled: `auto`
/// interprets it (its compile budget, `exec::COMPILE_BUDGET`, is lower still), `jit` says why.
pub const MAX_KERNEL_NODES: usize = 2_500;

/// Refuses kernels of more than [`MAX_KERNEL_NODES`] nodes over `exprs`.
pub fn check_size(exprs: &[&crate::ir::Expr]) -> Result<(), CodegenError> {
    use crate::ir::Expr;
    let (mut all, mut constants) = (0usize, 0usize);
    for e in exprs {
        e.walk(&mut |x| {
            all += 1;
            if let Expr::InList { list, .. } = x {
                constants += list
                    .iter()
                    .filter(|i| matches!(i, Expr::Literal(_)))
                    .count();
            }
        });
    }
    let nodes = all - constants;
    if nodes > MAX_KERNEL_NODES {
        return not_compiled(format!(
            "expressions of {nodes} nodes (more than {MAX_KERNEL_NODES}) are not compiled: LLVM's compile time grows faster than their size"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
