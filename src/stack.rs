//! Stack growth for the recursive passes (binding, folding, interpreting).
//!
//! Expressions nest up to [`crate::sql::MAX_EXPR_DEPTH`] levels, and a long `a OR b OR …` chain
//! nests as deep as it is long. The passes over them recurse; rather than require callers (an
//! embedding program's threads, test harnesses) to run qjit on a large stack, each recursive step
//! goes through [`guard`], which moves to a fresh stack segment when the current one runs low.

/// Room that must be left on the stack before a recursive step runs on the current segment.
const RED_ZONE: usize = 128 * 1024;

/// Size of each new stack segment.
const SEGMENT: usize = 4 * 1024 * 1024;

/// Runs `f`, first growing the stack if fewer than [`RED_ZONE`] bytes remain.
pub(crate) fn guard<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Runs `f`, a recursion that does not check the stack itself (such as sqlparser's span
/// computation), with at least [`DEEP`] bytes of stack available.
pub(crate) fn guard_deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(DEEP, 4 * DEEP, f)
}

/// Stack a foreign recursion over an expression nested to the parser's limit may need.
const DEEP: usize = 4 * 1024 * 1024;
