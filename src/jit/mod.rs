//! The LLVM JIT: target machine, optimization pipeline, object code, and kernel handles.
//!
//! ```text
//! plan parts ─┬─ disk cache: plan entry hit (plan_entry.rs) ──────────────────────────────┐
//!             └─codegen::compile_*─▶ LLVM module (verified) ─┬─ disk cache: object hit ────┤
//!   ─KERNEL_PIPELINE (or default<On>)─▶ optimized module ─▶ object code ─(disk cache miss:
//!   stored, with its plan entry)─┴─▶ ORC LLJIT links it (orc.rs) ─▶ machine code, owned by a
//!   FilterKernel / ProjectKernel / AggregateKernel (Send + Sync) ─▶ in-process cache (LRU)
//! ```
//!
//! LLVM is initialized once per process. Each kernel is compiled in its own context and module
//! for the host (triple, CPU name and features: the kernel functions carry `target-cpu` and
//! `target-features` attributes too), as position-independent object code that ORC's LLJIT
//! links, resolving qjit's runtime functions and the C library's by name. Compiled kernels are
//! cached per process ([`filter_kernel`], [`project_kernel`], [`aggregate_kernel`]) by their
//! printed IR, input types and nullability, and optimization; and, when the caller gives one,
//! in the kernel cache on disk ([`crate::kernel_cache`]): the object code by a digest of the
//! unoptimized IR and everything else that decides the machine code, and a plan entry by a
//! digest of the typed plan, so that a plan met before loads without code generation.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Array, Int32Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use qjit::ir::{BinaryOp, ColumnRef, Expr, Scalar, SqlType};
//! use qjit::internals::jit::FilterKernel;
//!
//! let x = Expr::column(ColumnRef {
//!     index: 0,
//!     name: "x".into(),
//!     ty: SqlType::Int32,
//!     data_type: DataType::Int32,
//!     nullable: true,
//! });
//! let predicate = Expr::binary(BinaryOp::Gt, x, Expr::literal(Scalar::Int(1), SqlType::Int32)?)?;
//! let kernel = FilterKernel::compile(&predicate, 3).map_err(|e| format!("{e:?}"))?;
//! let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
//! let batch = RecordBatch::try_new(
//!     schema,
//!     vec![Arc::new(Int32Array::from(vec![Some(1), None, Some(3)]))],
//! )?;
//! // `None` would mean: evaluate this batch with the interpreter (`qjit::internals::interp`).
//! let mask = kernel.filter(&batch)?.ok_or("needs the interpreter")?;
//! assert_eq!(mask.iter().collect::<Vec<_>>(), vec![Some(false), Some(false), Some(true)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aggregate;
mod cache;
mod direct;
mod group_find;
mod kernel;
mod orc;
mod plan_entry;
mod project;
mod runtime;

pub use crate::codegen::CodegenError;
#[cfg(test)]
pub(crate) use aggregate::assert_compiled_as_interpreted;
pub use aggregate::{AggregateKernel, AggregateState, StateHint};
pub use cache::{
    aggregate_kernel, cached_kernels, clear_cache, filter_kernel, project_kernel, CACHE_CAPACITY,
};
pub use kernel::{CompileTiming, DiskUse, FilterKernel, Optimize, KERNEL_PIPELINE, MAX_OPT_LEVEL};
pub use project::{Output, ProjectKernel};

use inkwell::context::Context;
use inkwell::execution_engine::JitFunction;
use inkwell::targets::{InitializationConfig, Target, TargetMachine};
use inkwell::OptimizationLevel;

use crate::error::{Error, Result};

/// Signature of the probe kernel: `a + b` on 64-bit integers.
///
/// # Safety
/// The function takes and returns plain integers; calling it has no preconditions beyond the
/// execution engine that owns it being alive.
type AddFn = unsafe extern "C" fn(i64, i64) -> i64;

/// LLVM code-generator options qjit sets, once per process, before its first compile. Each
/// cut the cold compile of TPC-H Q1 by 5–7% (instructions counted by `callgrind`) for no
/// measurable change in execution time:
/// - `-enable-misched=false`: no machine-instruction scheduling before register allocation;
///   the out-of-order cores qjit runs on reorder instructions themselves.
/// - `-disable-lsr`: no loop strength reduction. Q1's kernel executes 1% fewer instructions
///   without it and Q6's 3% more (its three `DECIMAL` columns are 16-byte elements, which x86
///   addressing cannot scale), within the noise of their timings.
///
/// The options are LLVM's process-wide command line: a program that embeds qjit and uses LLVM
/// itself gets them too.
pub const CODEGEN_OPTIONS: [&str; 2] = ["-enable-misched=false", "-disable-lsr"];

/// Readies, on a background thread, what loading the next kernel needs (an ORC LLJIT), so that
/// a process that will load one overlaps it with its other start-up work. Returns at once.
pub fn prepare_loader() {
    orc::prepare();
}

/// Whether [`prepare_loader`]'s thread is still at work in LLVM.
pub fn loader_preparing() -> bool {
    orc::preparing()
}

/// Initializes LLVM's native target and sets [`CODEGEN_OPTIONS`], once per process.
pub fn initialize() -> Result<()> {
    static INIT: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    INIT.get_or_init(|| {
        set_codegen_options();
        Target::initialize_native(&InitializationConfig::default())
    })
    .clone()
    .map_err(|e| Error::internal(format!("cannot initialize LLVM for this CPU: {e}")))
}

/// Passes [`CODEGEN_OPTIONS`] to LLVM's command-line parser (which ignores, silently, an
/// option it has already seen).
fn set_codegen_options() {
    let args: Vec<std::ffi::CString> = std::iter::once("qjit")
        .chain(CODEGEN_OPTIONS)
        .filter_map(|a| std::ffi::CString::new(a).ok())
        .collect();
    let argv: Vec<*const std::os::raw::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    // SAFETY: `argv` holds `argv.len()` pointers to NUL-terminated strings that outlive the
    // call; a null overview is allowed.
    unsafe {
        inkwell::llvm_sys::support::LLVMParseCommandLineOptions(
            argv.len() as i32,
            argv.as_ptr(),
            std::ptr::null(),
        )
    };
}

/// The version of the LLVM library qjit compiles kernels with (`19.1.7`), `None` in a build
/// without the JIT.
pub fn llvm_version() -> Option<String> {
    let (major, minor, patch) = inkwell::support::get_llvm_version();
    Some(format!("{major}.{minor}.{patch}"))
}

/// A description of the host target LLVM compiles for: triple and CPU name.
pub fn host_description() -> Result<String> {
    initialize()?;
    let triple = TargetMachine::get_default_triple();
    let cpu = TargetMachine::get_host_cpu_name();
    Ok(format!(
        "{} ({})",
        triple.as_str().to_string_lossy(),
        cpu.to_string_lossy()
    ))
}

/// Compiles `a + b` with LLVM and calls it: a check that the JIT toolchain works on this machine.
pub fn self_test(a: i64, b: i64) -> Result<i64> {
    initialize()?;
    let context = Context::create();
    let module = context.create_module("qjit_probe");
    let i64t = context.i64_type();
    let function = module.add_function(
        "add",
        i64t.fn_type(&[i64t.into(), i64t.into()], false),
        None,
    );
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let (x, y) = match (function.get_nth_param(0), function.get_nth_param(1)) {
        (Some(x), Some(y)) => (x.into_int_value(), y.into_int_value()),
        _ => return Err(Error::internal("probe function lost its parameters")),
    };
    let sum = builder
        .build_int_add(x, y, "sum")
        .map_err(|e| Error::internal(e.to_string()))?;
    builder
        .build_return(Some(&sum))
        .map_err(|e| Error::internal(e.to_string()))?;
    if !function.verify(false) {
        return Err(Error::internal("probe function failed LLVM verification"));
    }
    let engine = module
        .create_jit_execution_engine(OptimizationLevel::Default)
        .map_err(|e| Error::internal(format!("cannot create the LLVM JIT: {e}")))?;
    // SAFETY: `add` was defined above with exactly the `AddFn` signature.
    let add: JitFunction<AddFn> = unsafe { engine.get_function("add") }
        .map_err(|e| Error::internal(format!("JIT lookup failed: {e}")))?;
    // SAFETY: the engine that owns the code is alive for this call.
    Ok(unsafe { add.call(a, b) })
}

#[cfg(test)]
mod tests {
    #[test]
    fn llvm_compiles_and_runs_code() {
        assert_eq!(super::self_test(40, 2).unwrap(), 42);
        assert!(!super::host_description().unwrap().is_empty());
    }
}
