//! The JIT's stand-in in a build without the `jit` cargo feature (no LLVM): the kernel types
//! exist but have no values, and every kernel compile answers [`WITHOUT_JIT`], so every query
//! runs in the interpreter (`--engine jit` is an error saying so). The rest of the crate uses
//! the same names either way.

use std::time::Duration;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::datatypes::Schema;

use crate::error::{Error, Result};
use crate::interp::Aggregator;
use crate::ir::{AggregateCall, Expr};

/// Why nothing compiles in this build.
pub const WITHOUT_JIT: &str = "qjit was built without the JIT (the `jit` cargo feature)";

/// The version of the LLVM library kernels compile with: none in this build.
pub fn llvm_version() -> Option<String> {
    None
}

/// The highest optimization level (the option is accepted and ignored).
pub const MAX_OPT_LEVEL: u8 = 3;

/// qjit's kernel pipeline (none in this build).
pub const KERNEL_PIPELINE: &str = "";

/// The kernel cache's capacity (nothing is cached in this build).
pub const CACHE_CAPACITY: usize = 0;

/// Why a part did not become a kernel.
#[derive(Debug)]
pub enum CodegenError {
    /// A construct this build does not compile: all of them.
    NotCompiled(String),
    /// A bug.
    Failed(Error),
}

/// How a kernel is optimized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Optimize {
    pub level: Option<u8>,
    pub keep_ir: bool,
}

/// Time spent compiling one kernel (always zero in this build).
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileTiming {
    pub codegen: Duration,
    pub optimize: Duration,
    pub machine_code: Duration,
    pub disk: DiskUse,
}

/// A kernel's use of the kernel cache on disk (none in this build).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiskUse {
    #[default]
    Off,
    Miss,
    Hit,
    CodeHit,
}

/// How one final expression of a projection kernel is produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Compiled(usize),
    Copied(usize),
    Interpreted(String),
}

/// A compiled `WHERE` predicate: none exists in this build.
#[derive(Debug)]
pub enum FilterKernel {}

/// A compiled projection: none exists in this build.
#[derive(Debug)]
pub enum ProjectKernel {}

/// A compiled aggregation: none exists in this build.
#[derive(Debug)]
pub enum AggregateKernel {}

/// An aggregation kernel's state (never made in this build: no kernel makes one).
#[derive(Debug)]
pub struct AggregateState(());

/// What a new state starts from (nothing in this build).
#[derive(Clone, Debug, Default)]
pub struct StateHint(());

impl StateHint {
    pub fn absorb(&mut self, _: StateHint) {}
}

impl AggregateState {
    pub fn in_kernel(&self) -> bool {
        false
    }
    pub fn hint(&self) -> StateHint {
        StateHint::default()
    }
    pub fn groups(&self) -> usize {
        0
    }
    pub fn memory_bytes(&self) -> usize {
        0
    }
}

impl FilterKernel {
    pub fn filter(&self, _: &RecordBatch) -> Result<Option<BooleanArray>> {
        match *self {}
    }
    pub fn timing(&self) -> CompileTiming {
        match *self {}
    }
    pub fn ir_before(&self) -> &str {
        match *self {}
    }
    pub fn ir_after(&self) -> &str {
        match *self {}
    }
}

impl ProjectKernel {
    pub fn project(&self, _: &RecordBatch) -> Result<Option<Vec<ArrayRef>>> {
        match *self {}
    }
    pub fn outputs(&self) -> &[Output] {
        match *self {}
    }
    pub fn timing(&self) -> CompileTiming {
        match *self {}
    }
    pub fn ir_before(&self) -> &str {
        match *self {}
    }
    pub fn ir_after(&self) -> &str {
        match *self {}
    }
}

impl AggregateKernel {
    pub fn filters(&self) -> bool {
        match *self {}
    }
    pub fn new_state(&self) -> AggregateState {
        match *self {}
    }
    pub fn new_state_for(&self, _: &StateHint) -> AggregateState {
        match *self {}
    }
    pub fn update(&self, _: &RecordBatch, _: &mut AggregateState) -> Result<()> {
        match *self {}
    }
    pub fn new_aggregator(&self) -> Result<Aggregator> {
        match *self {}
    }
    pub fn merge_into(&self, _: AggregateState, _: &mut Aggregator) -> Result<Vec<u32>> {
        match *self {}
    }
    pub fn merges_in_kernel(&self) -> bool {
        match *self {}
    }
    pub fn order_free(&self) -> bool {
        match *self {}
    }
    pub fn merge_state(&self, _: AggregateState, _: &mut AggregateState) -> Result<Vec<usize>> {
        match *self {}
    }
    pub fn finish(&self, _: AggregateState, _: crate::interp::Charge<'_>) -> Result<RecordBatch> {
        match *self {}
    }
    pub fn timing(&self) -> CompileTiming {
        match *self {}
    }
    pub fn ir_before(&self) -> &str {
        match *self {}
    }
    pub fn ir_after(&self) -> &str {
        match *self {}
    }
}

fn without_jit<T>() -> Result<T, CodegenError> {
    Err(CodegenError::NotCompiled(WITHOUT_JIT.into()))
}

/// Always [`WITHOUT_JIT`].
pub fn filter_kernel(
    _: &Expr,
    _: &Schema,
    _: Optimize,
    _: Option<&crate::kernel_cache::KernelCache>,
) -> Result<(std::sync::Arc<FilterKernel>, bool), CodegenError> {
    without_jit()
}

/// Always [`WITHOUT_JIT`].
pub fn project_kernel(
    _: Option<&Expr>,
    _: &[Expr],
    _: &Schema,
    _: Optimize,
    _: Option<&crate::kernel_cache::KernelCache>,
) -> Result<(std::sync::Arc<ProjectKernel>, bool), CodegenError> {
    without_jit()
}

/// Always [`WITHOUT_JIT`].
pub fn aggregate_kernel(
    _: Option<&Expr>,
    _: &[Expr],
    _: &[AggregateCall],
    _: &Schema,
    _: Optimize,
    _: Option<&crate::kernel_cache::KernelCache>,
) -> Result<(std::sync::Arc<AggregateKernel>, bool), CodegenError> {
    without_jit()
}

/// Nothing to ready.
pub fn prepare_loader() {}

/// Always `false`.
pub fn loader_preparing() -> bool {
    false
}

/// Nothing to clear.
pub fn clear_cache() {}

/// Always 0.
pub fn cached_kernels() -> usize {
    0
}
