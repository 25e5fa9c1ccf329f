//! The test kit: random tables, random well-typed queries and the comparison of the engines'
//! outcomes, shared by the property tests (`tests/aggregate_props.rs`, `tests/props.rs`) and
//! the fuzz targets (`fuzz/src/lib.rs` includes this folder with `#[path]`).
//!
//! Everything random is a proptest [`Strategy`](proptest::strategy::Strategy). What goes in is
//! proptest's random source: a seeded generator in a property test, whose failures then shrink
//! (fewer and smaller batches, tame values, no NULLs, leaves instead of operators), or the fuzz
//! input in a fuzz target, read through `RngAlgorithm::PassThrough` ([`from_bytes`]), so that
//! a fuzz input is one kit case. What comes out:
//!
//! * [`table`]: a [`TableSpec`] (seed, batch sizes, NOT NULL and wild columns, NULL rate,
//!   morsel size) and the [`Source`](qjit::exec::Source) it makes: table `t` of
//!   [`table::columns`], one of every type the engines support.
//! * [`query`]: expressions of a [`Kind`] ([`expr`]) and whole queries ([`Query`]): projections
//!   ([`projection`]) and aggregations ([`aggregation`]) over that table, as SQL text.
//! * [`outcome`]: a query's [`Outcome`] (result types and every value as text, floats with
//!   their bits, or the error) and [`check`], which runs a query on the interpreter and on the
//!   JIT and requires the same outcome.
#![allow(dead_code, unused_imports)]

#[macro_use]
pub mod one_of;
pub mod outcome;
pub mod query;
pub mod table;

pub use outcome::{check, run, Agreement, Outcome};
pub use query::{aggregation, expr, projection, query, Kind, Query};
pub use table::{table_spec, TableSpec};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// How far the random stream of [`from_bytes`] goes past its input: a fixed pseudo-random
/// tail, longer than any kit case reads (a query and a table take a few hundred bytes).
const TAIL_BYTES: usize = 1 << 16;

/// One value of `strategy` drawn from `bytes` (proptest's pass-through generator: the bytes are
/// the random stream), or `None` where the strategy gave up (a filter that rejected every value
/// it tried). The same bytes always give the same value.
///
/// Past its input, the pass-through generator reads zeros, and a uniform draw from a range whose
/// size is not a power of two rejects a zero forever (rand samples ranges by rejection): a
/// short input would hang. So the input goes on with a fixed pseudo-random tail.
pub fn from_bytes<S: Strategy>(strategy: &S, bytes: &[u8]) -> Option<S::Value> {
    let mut stream = Vec::with_capacity(bytes.len() + TAIL_BYTES);
    stream.extend_from_slice(bytes);
    let mut tail = table::Rng(0);
    while stream.len() < bytes.len() + TAIL_BYTES {
        stream.extend_from_slice(&tail.next_u64().to_le_bytes());
    }
    let config = Config {
        rng_algorithm: RngAlgorithm::PassThrough,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::PassThrough, &stream);
    let mut runner = TestRunner::new_with_rng(config, rng);
    strategy
        .new_tree(&mut runner)
        .ok()
        .map(|tree| tree.current())
}
