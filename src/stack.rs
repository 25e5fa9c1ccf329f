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

/// Runs `f`, a whole query's planning and compiling, with at least [`ROOM`] bytes of stack:
/// derived `Clone`, `PartialEq` and `Debug` of the SQL syntax tree and of the typed plan
/// recurse along expressions as deep as [`crate::sql::MAX_CHAIN_LENGTH`] without checking the
/// stack, and an embedding program may call from a thread with a small one.
pub(crate) fn with_room<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(ROOM, ROOM, f)
}

/// The stack a query's planning may need (as much as `qjit query` gives its query thread).
const ROOM: usize = 64 << 20;
