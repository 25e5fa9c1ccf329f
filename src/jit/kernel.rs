//! Compiled filter kernels: verify → optimize → machine code, and the handle that runs them.

use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::buffer::{BooleanBuffer, Buffer};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{CodeModel, FileType, RelocMode, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;

use super::initialize;
use super::orc::LoadedObject;
use super::plan_entry::{Lowered, PlanEntry};
use crate::codegen::{
    self, CodegenError, ColumnArg, ColumnSlot, ErrorSite, FilterFn, KernelStatus, ScratchNeed,
    STATUS_FALLBACK, STATUS_LOST_ERROR,
};
use crate::error::{Error, Result};
use crate::ir::Expr;
use crate::kernel_cache::{CacheKey, KernelCache};

/// The highest optimization level (`default<O3>`).
pub const MAX_OPT_LEVEL: u8 = 3;

/// qjit's own pass pipeline for kernels: the row functions are `alwaysinline`, so inlining
/// needs no call-graph walk; then promotion of the accumulators to registers, common
/// subexpressions (arguments share parts), loop-invariant column parameters, and the
/// vectorizer for the 64-row selection loops (not interleaved: see `codegen::kernel`). Chosen by
/// measurement: a third to a half of the compile time of `default<O3>` for kernels that run as
/// fast (`qjit bench`). The code generator's options are [`super::CODEGEN_OPTIONS`].
pub const KERNEL_PIPELINE: &str = "always-inline,function(sroa,early-cse,\
instcombine<no-verify-fixpoint>,simplifycfg,gvn,loop-mssa(licm),loop-vectorize,\
instcombine<no-verify-fixpoint>,simplifycfg)";

/// How a kernel is optimized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Optimize {
    /// `None`: [`KERNEL_PIPELINE`] and full machine-code optimization; `Some(n)`: LLVM's
    /// `default<On>` pipeline and machine-code level `n` (0–3), to compare.
    pub level: Option<u8>,
    /// Keep the IR before and after optimization (for `--explain`; printing costs time).
    pub keep_ir: bool,
}

impl Optimize {
    /// LLVM's `default<On>`, IR kept.
    pub fn level(n: u8) -> Optimize {
        Optimize {
            level: Some(n),
            keep_ir: true,
        }
    }

    /// A short form for cache keys and messages: `kernel` or `O<n>`, `+ir`.
    pub fn describe(&self) -> String {
        let level = self.level.map_or("kernel".to_string(), |n| format!("O{n}"));
        if self.keep_ir {
            format!("{level}+ir")
        } else {
            level
        }
    }
}

/// Time spent compiling one kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompileTiming {
    /// Lowering the expression to LLVM IR and verifying it.
    pub codegen: Duration,
    /// The pass pipeline (zero on a disk-cache hit).
    pub optimize: Duration,
    /// Generating the object code and linking it into the process; on a disk-cache hit,
    /// reading the entry and linking it.
    pub machine_code: Duration,
    /// Whether the machine code came from the kernel cache on disk.
    pub disk: DiskUse,
}

/// A kernel's use of the kernel cache on disk ([`crate::kernel_cache`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiskUse {
    /// No disk cache (none given, or the IR is kept for `--explain`).
    #[default]
    Off,
    /// Compiled, and stored for the next process.
    Miss,
    /// Loaded from the cache by its plan: no code generation, no optimizer, no code generator.
    Hit,
    /// The machine code loaded from the cache by the IR generated for it (a plan seen before
    /// only with other parameters): no optimizer, no code generator.
    CodeHit,
}

/// A compiled `WHERE` predicate: [`FilterKernel::filter`] turns a batch into a selection mask,
/// or tells the caller to evaluate the batch with the interpreter.
///
/// The handle owns the linked object code, and frees it when dropped.
pub struct FilterKernel {
    entry: FilterFn,
    columns: Vec<ColumnSlot>,
    /// The words of the constants it takes as parameters (`codegen::Params`).
    params: Vec<u64>,
    errors: Vec<ErrorSite>,
    scratch: ScratchNeed,
    jit: Jitted,
}

/// Machine code and what it came from: the linked object that owns the code, the IR before
/// and after optimization, and the time each step took.
pub(crate) struct Jitted {
    ir_before: String,
    ir_after: String,
    timing: CompileTiming,
    /// Owns the machine code; the entry points are valid while it lives.
    _code: LoadedObject,
}

impl std::fmt::Debug for FilterKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterKernel")
            .field("columns", &self.columns)
            .field("errors", &self.errors)
            .field("scratch", &self.scratch)
            .field("timing", &self.jit.timing)
            .finish_non_exhaustive()
    }
}

fn llvm_level(opt_level: u8) -> OptimizationLevel {
    match opt_level {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    }
}

pub(crate) fn failed(what: &str, e: impl std::fmt::Display) -> CodegenError {
    CodegenError::Failed(Error::internal(format!("{what}: {e}")))
}

impl Jitted {
    /// Builds a module with `build` (given the context, the host CPU name and its features),
    /// optimizes it as `optimize` says for the host, generates object code and links it into
    /// the process ([`LoadedObject`]). Returns the handle, the address of the function `entry`
    /// and what lowering found ([`Lowered`]).
    ///
    /// With a `cache`, two entries are looked up first (see [`super::plan_entry`]): the plan
    /// entry, by a digest of `plan` (the kernel's typed plan, as `Debug` prints it) and of
    /// everything else that decides the machine code; a hit there runs no code generation at
    /// all. Otherwise the module is built, and the object entry looked up by a digest of its
    /// unoptimized IR ([`disk_key`]): a hit (another plan that lowers to the same IR, such as a
    /// query that differs only in its parameters) skips the optimizer and the code generator.
    /// A miss stores both entries.
    pub(crate) fn compile(
        optimize: Optimize,
        entry: &str,
        cache: Option<&KernelCache>,
        plan: impl FnOnce() -> String,
        build: impl FnOnce(
            &'static Context,
            &str,
            &str,
        ) -> std::result::Result<(Module<'static>, Lowered), CodegenError>,
    ) -> std::result::Result<(Jitted, usize, Lowered), CodegenError> {
        initialize()?;
        if let Some(n) = optimize.level.filter(|&n| n > MAX_OPT_LEVEL) {
            return Err(CodegenError::Failed(Error::Usage(format!(
                "optimization level {n} does not exist; use 0, 1, 2 or 3"
            ))));
        }
        let opt_level = optimize.level.unwrap_or(MAX_OPT_LEVEL);
        let passes = match optimize.level {
            None => KERNEL_PIPELINE.to_string(),
            Some(n) => format!("default<O{n}>"),
        };
        // `--explain` shows the optimized IR, which a cache hit does not have.
        let cache = cache.filter(|_| !optimize.keep_ir);
        let start = Instant::now();
        let host = host()?;
        let header = key_header(entry, &passes, opt_level, host);
        let plan_key = cache.map(|_| {
            let mut material = format!("{header}plan\n").into_bytes();
            material.extend_from_slice(plan().as_bytes());
            CacheKey::of(&material)
        });
        if let (Some(cache), Some(plan_key)) = (cache, plan_key) {
            let keyed = start.elapsed();
            let start = Instant::now();
            // An entry whose object is gone (evicted) or does not link is a miss: the kernel
            // is compiled, and both entries rewritten.
            let loaded = cache
                .get(plan_key)
                .and_then(|bytes| PlanEntry::decode(&bytes))
                .and_then(|planned| {
                    let object = cache.get(planned.object)?;
                    let (code, address) = link(&object, entry).ok()?;
                    Some((code, address, planned.lowered))
                });
            if let Some((code, address, lowered)) = loaded {
                let jit = Jitted::from_disk(code, DiskUse::Hit, keyed, start.elapsed());
                return Ok((jit, address, lowered));
            }
        }

        // The context lives on the heap at a fixed address until this function returns.
        // Everything created from it below (module, builder) borrows it as `'static` and is
        // dropped before it: locals drop in reverse order, and `context` is declared first.
        let context = Box::new(Context::create());
        // SAFETY: see above: no value borrowing `ctx` outlives `context`.
        let ctx: &'static Context = unsafe { &*(context.as_ref() as *const Context) };
        if !optimize.keep_ir {
            // Names are for reading the IR; without them LLVM builds it 1.5% faster.
            // SAFETY: `ctx` is a live context, and the setting only drops value names.
            unsafe { inkwell::llvm_sys::core::LLVMContextSetDiscardValueNames(ctx.raw(), 1) };
        }
        let triple = TargetTriple::create(&host.triple);
        // Position-independent, small code model: the object is linked at whatever address
        // the loader picks, in this process or a later one. Made only when needed: a cache
        // hit runs neither the optimizer nor the code generator.
        let machine = || {
            host.target
                .create_target_machine(
                    &triple,
                    &host.cpu,
                    &host.features,
                    llvm_level(opt_level),
                    RelocMode::PIC,
                    CodeModel::Small,
                )
                .ok_or_else(|| failed("LLVM target machine", &host.cpu))
        };
        let (module, lowered) = build(ctx, &host.cpu, &host.features)?;
        module.set_triple(&triple);
        let print = |m: &Module| {
            if optimize.keep_ir {
                m.print_to_string().to_string()
            } else {
                String::new()
            }
        };
        // The module gets its data layout from the target machine, which a cache hit never
        // makes: the key hashes the module without it, and the triple, CPU name and features,
        // which decide it.
        let key = cache.map(|_| {
            // The bitcode holds what the printed IR does, and is written several times faster.
            let ir = module.write_bitcode_to_memory();
            disk_key(&header, ir.as_slice())
        });
        let codegen = start.elapsed();
        // Where the object is, for the next process that meets this plan.
        let remember = |cache: &KernelCache, object: CacheKey| {
            if let Some(plan_key) = plan_key {
                let entry = PlanEntry {
                    object,
                    lowered: lowered.clone(),
                };
                // A failure is kept by the cache for `--timing`; the kernel is fine.
                let _ = cache.put(plan_key, &entry.encode());
            }
        };

        if let (Some(cache), Some(key)) = (cache, key) {
            let start = Instant::now();
            // An entry that does not link (it cannot be corrupt: its checksum held) is a miss
            // too, and is overwritten below.
            let loaded = cache.get(key).and_then(|object| link(&object, entry).ok());
            if let Some((code, address)) = loaded {
                remember(cache, key);
                let jit = Jitted::from_disk(code, DiskUse::CodeHit, codegen, start.elapsed());
                return Ok((jit, address, lowered));
            }
        }

        let start = Instant::now();
        let machine = machine()?;
        module.set_data_layout(&machine.get_target_data().get_data_layout());
        let ir_before = print(&module);
        module
            .run_passes(&passes, &machine, PassBuilderOptions::create())
            .map_err(|e| failed("LLVM optimizer", e))?;
        module
            .verify()
            .map_err(|e| failed("LLVM rejected the optimized kernel", e))?;
        let ir_after = print(&module);
        let optimize = start.elapsed();

        let start = Instant::now();
        let object = machine
            .write_to_memory_buffer(&module, FileType::Object)
            .map_err(|e| failed("LLVM code generator", e))?;
        let (code, address) = link(object.as_slice(), entry)?;
        let machine_code = start.elapsed();
        let disk = match (cache, key) {
            (Some(cache), Some(key)) => {
                // A failure is kept by the cache for `--timing`; the kernel is fine.
                if cache.put(key, object.as_slice()).is_ok() {
                    remember(cache, key);
                }
                DiskUse::Miss
            }
            _ => DiskUse::Off,
        };
        let timing = CompileTiming {
            codegen,
            optimize,
            machine_code,
            disk,
        };
        Ok((
            Jitted::new(ir_before, ir_after, timing, code),
            address,
            lowered,
        ))
    }

    /// Machine code loaded from the disk cache (`disk`) after `codegen` spent on the keys (and
    /// the IR), in `load` (reading and linking): no IR to show.
    fn from_disk(code: LoadedObject, disk: DiskUse, codegen: Duration, load: Duration) -> Self {
        let timing = CompileTiming {
            codegen,
            optimize: Duration::ZERO,
            machine_code: load,
            disk,
        };
        Jitted::new(String::new(), String::new(), timing, code)
    }

    fn new(ir_before: String, ir_after: String, timing: CompileTiming, code: LoadedObject) -> Self {
        Jitted {
            ir_before,
            ir_after,
            timing,
            _code: code,
        }
    }

    /// The LLVM IR as generated (verified, not optimized); empty unless kept.
    pub(crate) fn ir_before(&self) -> &str {
        &self.ir_before
    }

    /// The LLVM IR after the optimization pipeline.
    pub(crate) fn ir_after(&self) -> &str {
        &self.ir_after
    }

    pub(crate) fn timing(&self) -> CompileTiming {
        self.timing
    }
}

/// The machine kernels are compiled for: this one.
struct Host {
    target: Target,
    triple: String,
    cpu: String,
    features: String,
}

// SAFETY: `Target` is a pointer to one of LLVM's static, immutable target descriptions.
unsafe impl Send for Host {}
// SAFETY: see `Send`.
unsafe impl Sync for Host {}

/// The host, found once per process (asking LLVM for the CPU's features each time costs a
/// tenth of a millisecond per kernel).
fn host() -> std::result::Result<&'static Host, CodegenError> {
    static HOST: std::sync::OnceLock<std::result::Result<Host, String>> =
        std::sync::OnceLock::new();
    let found = HOST.get_or_init(|| {
        let triple = TargetMachine::get_default_triple();
        let target = Target::from_triple(&triple).map_err(|e| e.to_string())?;
        Ok(Host {
            target,
            triple: triple.as_str().to_string_lossy().into_owned(),
            cpu: TargetMachine::get_host_cpu_name().to_string(),
            features: TargetMachine::get_host_cpu_features().to_string(),
        })
    });
    found.as_ref().map_err(|e| failed("LLVM target", e))
}

/// Finds the host ahead of the first kernel (on [`super::prepare_loader`]'s thread).
pub(crate) fn detect_host() {
    let _ = host();
}

/// Links `object` into the process with the runtime functions defined: the code and the
/// address of `entry`.
fn link(object: &[u8], entry: &str) -> std::result::Result<(LoadedObject, usize), CodegenError> {
    LoadedObject::load(object, &super::runtime::symbols(), entry)
        .map_err(|e| failed("cannot link the kernel", e))
}

/// What every kernel cache key of a kernel digests besides the kernel itself: how it becomes
/// machine code (the entry function, the pass pipeline and code-generator options), the target
/// (triple, CPU name and features), LLVM's version, and the build of qjit (`QJIT_BUILD_ID`, a
/// digest of its sources: kernels of older code generation, or with other runtime functions,
/// never load).
fn key_header(entry: &str, passes: &str, opt_level: u8, host: &Host) -> String {
    let (mut major, mut minor, mut patch) = (0u32, 0u32, 0u32);
    // SAFETY: the three pointers are to live `u32`s that the call writes.
    unsafe { inkwell::llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!(
        "qjit kernel\nbuild {}\nllvm {major}.{minor}.{patch}\ntarget {} {} {}\n\
         passes {passes} O{opt_level} {:?}\nentry {entry}\n",
        env!("QJIT_BUILD_ID"),
        host.triple,
        host.cpu,
        host.features,
        super::CODEGEN_OPTIONS,
    )
}

/// The object key of a kernel: a digest of its unoptimized IR, which spells out the kernel's
/// computation and every input type and nullability it assumes (each column's layout is
/// lowered into it), and of the `header` ([`key_header`]).
fn disk_key(header: &str, ir: &[u8]) -> CacheKey {
    let mut material = header.as_bytes().to_vec();
    material.extend_from_slice(ir);
    CacheKey::of(&material)
}

impl FilterKernel {
    /// Compiles a `BOOLEAN` predicate for the host CPU with the `default<O{opt_level}>`
    /// pipeline (`opt_level` 0–3). A construct the code generator does not handle is
    /// [`CodegenError::NotCompiled`].
    pub fn compile(expr: &Expr, opt_level: u8) -> std::result::Result<FilterKernel, CodegenError> {
        FilterKernel::compile_with(expr, Optimize::level(opt_level))
    }

    /// Compiles a `BOOLEAN` predicate as `optimize` says.
    pub fn compile_with(
        expr: &Expr,
        optimize: Optimize,
    ) -> std::result::Result<FilterKernel, CodegenError> {
        FilterKernel::compile_in(expr, optimize, None)
    }

    /// [`FilterKernel::compile_with`], with the machine code from (or stored into) `cache`.
    pub fn compile_in(
        expr: &Expr,
        optimize: Optimize,
        cache: Option<&KernelCache>,
    ) -> std::result::Result<FilterKernel, CodegenError> {
        codegen::check_size(&[expr])?;
        let (params, columns) = codegen::kernel_inputs(&[expr]);
        let (jit, address, lowered) = Jitted::compile(
            optimize,
            codegen::ENTRY_NAME,
            cache,
            || format!("filter {expr:?}"),
            |ctx, cpu, features| {
                let f = codegen::compile_filter(ctx, expr, cpu, features)?;
                debug_assert_eq!(f.columns, columns);
                let lowered = Lowered {
                    errors: f.errors,
                    scratch: f.scratch,
                    outputs: vec![],
                };
                Ok((f.module, lowered))
            },
        )?;
        // SAFETY: the entry function was built with exactly the `FilterFn` signature
        // (`void (ptr, i64, ptr, ptr, ptr, i64)`, C calling convention), and `address` is its
        // machine code.
        let entry: FilterFn = unsafe { std::mem::transmute::<usize, FilterFn>(address) };
        Ok(FilterKernel {
            entry,
            columns,
            params: params.words,
            errors: lowered.errors,
            scratch: lowered.scratch,
            jit,
        })
    }

    /// Evaluates the predicate over `batch`: `Some` mask with no nulls, TRUE where the predicate
    /// is TRUE, or `None` when the kernel does not evaluate this batch exactly (some row needs
    /// the interpreter, see [`STATUS_FALLBACK`]): the caller must then evaluate the predicate on
    /// the batch with the interpreter, which gives the right mask or error by construction.
    /// A row that fails (overflow, division by zero) is an error, as in the interpreter.
    /// A batch whose columns do not have the types the kernel was compiled for is an
    /// [`Error::Internal`], never undefined behaviour.
    ///
    /// A kernel that builds strings gets a scratch area of [`ScratchNeed::bytes`] for the
    /// batch's longest string. A batch whose built strings could add up to more than the
    /// interpreter's limit for one batch (`i32::MAX` bytes, an error there) goes to the
    /// interpreter whole.
    pub fn filter(&self, batch: &RecordBatch) -> Result<Option<BooleanArray>> {
        self.run(batch, None)
    }

    /// [`FilterKernel::filter`] with a scratch area of `bytes` bytes, whatever the kernel needs.
    #[cfg(test)]
    pub(crate) fn filter_with_scratch(
        &self,
        batch: &RecordBatch,
        bytes: usize,
    ) -> Result<Option<BooleanArray>> {
        self.run(batch, Some(bytes))
    }

    /// Runs the kernel with a scratch area of `scratch_bytes`, or of what it needs.
    fn run(
        &self,
        batch: &RecordBatch,
        scratch_bytes: Option<usize>,
    ) -> Result<Option<BooleanArray>> {
        let n = batch.num_rows();
        let inputs = KernelInputs::new(&self.columns, &self.params, batch, "filter")?;
        let mut scratch: Vec<u8> = vec![];
        if let Some(bytes) = scratch_bytes {
            scratch = vec![0; bytes];
        } else if !self.scratch.is_zero() {
            match self.scratch.bytes(inputs.max_string_len()) {
                Some(bytes) if bytes.saturating_mul(n as u64) <= i32::MAX as u64 => {
                    scratch = vec![0; bytes as usize];
                }
                _ => return Ok(None),
            }
        }
        let mut out = vec![0u64; n.div_ceil(64)];
        let mut status = KernelStatus::default();
        // SAFETY: `inputs.args` has one entry per slot, each describing a live array of the
        // slot's type with `n` rows (checked by `KernelInputs::new`; `inputs` owns the arrays);
        // `out` has n.div_ceil(64) zeroed words; `status` is zeroed; `scratch` is
        // `scratch.len()` bytes of our own; `self` owns the object that holds the code.
        unsafe {
            (self.entry)(
                inputs.args.as_ptr(),
                n as u64,
                out.as_mut_ptr(),
                &mut status,
                scratch.as_mut_ptr(),
                scratch.len() as u64,
            )
        };
        if status.code == STATUS_FALLBACK {
            return Ok(None);
        }
        if status.code != 0 {
            return Err(self.error(status));
        }
        let bits = BooleanBuffer::new(Buffer::from_vec(out), 0, n);
        Ok(Some(BooleanArray::new(bits, None)))
    }

    /// The scratch bytes a row of this kernel needs.
    pub fn scratch_need(&self) -> ScratchNeed {
        self.scratch
    }

    /// The error a kernel status stands for.
    fn error(&self, status: KernelStatus) -> Error {
        if status.code == STATUS_LOST_ERROR {
            return Error::internal("the compiled filter lost the row of an error");
        }
        match self.errors.iter().find(|site| site.code == status.code) {
            Some(site) => site.to_error(status.row),
            None => Error::internal(format!(
                "the compiled filter reported unknown error code {}",
                status.code
            )),
        }
    }

    /// The columns the kernel reads (index in the scan batch, Arrow type).
    pub fn columns(&self) -> &[ColumnSlot] {
        super::kernel::batch_columns(&self.columns)
    }

    /// The LLVM IR as generated (verified, not optimized).
    pub fn ir_before(&self) -> &str {
        self.jit.ir_before()
    }

    /// The LLVM IR after the optimization pipeline.
    pub fn ir_after(&self) -> &str {
        self.jit.ir_after()
    }

    pub fn timing(&self) -> CompileTiming {
        self.jit.timing()
    }
}

/// The slots of `slots` that are columns of the batch: all but the parameter slot
/// ([`codegen::PARAMS_SLOT`]), which comes last.
pub(crate) fn batch_columns(slots: &[ColumnSlot]) -> &[ColumnSlot] {
    match slots.split_last() {
        Some((last, rest)) if last.index == codegen::PARAMS_SLOT => rest,
        _ => slots,
    }
}

/// The kernel's view of a batch: one [`ColumnArg`] per column slot, and the arrays and
/// buffer tables they point into (kept alive as long as this value).
pub(crate) struct KernelInputs {
    pub args: Vec<ColumnArg>,
    arrays: Vec<ArrayRef>,
    _tables: Vec<Vec<*const u8>>,
}

impl KernelInputs {
    /// Checks that `batch` has the columns of `slots`, of their types, and prepares them
    /// (dictionaries unpacked); the parameter slot ([`codegen::PARAMS_SLOT`]) gets `params`,
    /// which must outlive the call. A mismatch is an [`Error::Internal`], never undefined
    /// behaviour.
    pub(crate) fn new(
        slots: &[ColumnSlot],
        params: &[u64],
        batch: &RecordBatch,
        what: &str,
    ) -> Result<Self> {
        let n = batch.num_rows();
        let mut arrays: Vec<Option<ArrayRef>> = Vec::with_capacity(slots.len());
        for slot in slots {
            if slot.index == codegen::PARAMS_SLOT {
                if params.is_empty() {
                    return Err(Error::internal(format!(
                        "the compiled {what} has a parameter slot and no parameters"
                    )));
                }
                arrays.push(None);
                continue;
            }
            let column = batch.columns().get(slot.index).ok_or_else(|| {
                Error::internal(format!(
                    "the compiled {what} reads column {} of a batch of {} columns",
                    slot.index,
                    batch.num_columns()
                ))
            })?;
            if column.data_type() != &slot.data_type || column.len() != n {
                return Err(Error::internal(format!(
                    "the compiled {what} expects column {} as {} ({n} rows), the batch has {} ({} rows)",
                    slot.index,
                    slot.data_type,
                    column.data_type(),
                    column.len()
                )));
            }
            if !slot.nullable && column.null_count() > 0 {
                return Err(Error::internal(format!(
                    "the compiled {what} reads column {} as NOT NULL, the batch has NULLs in it",
                    slot.index
                )));
            }
            arrays.push(Some(match column.data_type() {
                DataType::Dictionary(_, value) => cast(column.as_ref(), value)?,
                _ => column.clone(),
            }));
        }
        let mut tables: Vec<Vec<*const u8>> = vec![];
        let args = arrays
            .iter()
            .map(|a| match a {
                Some(a) => column_arg(a.as_ref(), &mut tables),
                None => Ok(ColumnArg {
                    values: params.as_ptr().cast(),
                    validity: std::ptr::null(),
                    offset: 0,
                    validity_offset: 0,
                    offsets: std::ptr::null(),
                    data: std::ptr::null(),
                }),
            })
            .collect::<Result<Vec<ColumnArg>>>()?;
        Ok(KernelInputs {
            args,
            arrays: arrays.into_iter().flatten().collect(),
            _tables: tables,
        })
    }

    /// The length in bytes of the longest string of the string columns (0 without any), NULL
    /// rows included: what the kernel may read.
    pub(crate) fn max_string_len(&self) -> u64 {
        let longest = |a: &ArrayRef| -> usize {
            match a.data_type() {
                DataType::Utf8 => a.as_string::<i32>().offsets().lengths().max(),
                DataType::LargeUtf8 => a.as_string::<i64>().offsets().lengths().max(),
                DataType::Utf8View => a
                    .as_string_view()
                    .views()
                    .iter()
                    .map(|v| *v as u32 as usize)
                    .max(),
                _ => None,
            }
            .unwrap_or(0)
        };
        self.arrays.iter().map(longest).max().unwrap_or(0) as u64
    }
}

/// The kernel's view of one array (see [`ColumnArg`] for the string layouts). The data-buffer
/// table of a view array is pushed to `tables`, which must outlive the call.
fn column_arg(array: &dyn Array, tables: &mut Vec<Vec<*const u8>>) -> Result<ColumnArg> {
    let (validity, validity_offset) = match array.nulls() {
        Some(n) => (n.inner().values().as_ptr(), n.inner().offset() as u64),
        None => (std::ptr::null(), 0),
    };
    let string = |offsets: *const u8, data: *const u8| ColumnArg {
        values: std::ptr::null(),
        validity,
        offset: 0,
        validity_offset,
        offsets,
        data,
    };
    match array.data_type() {
        // The typed arrays' offsets and views are already sliced: row 0 is entry 0.
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            return Ok(string(
                a.offsets().inner().inner().as_ptr(),
                a.values().as_ptr(),
            ));
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            return Ok(string(
                a.offsets().inner().inner().as_ptr(),
                a.values().as_ptr(),
            ));
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            let mut table: Vec<*const u8> = a.data_buffers().iter().map(|b| b.as_ptr()).collect();
            // The kernel reads entry 0 for inline strings: there must be one.
            table.push(std::ptr::null());
            let data = table.as_ptr().cast::<u8>();
            tables.push(table);
            return Ok(ColumnArg {
                values: a.views().inner().as_ptr(),
                ..string(std::ptr::null(), data)
            });
        }
        _ => {}
    }
    if crate::ir::SqlType::passthrough(array.data_type()).is_some() {
        // A type passed through: the kernel reads its validity alone.
        return Ok(ColumnArg {
            values: std::ptr::null(),
            validity,
            offset: array.offset() as u64,
            validity_offset,
            offsets: std::ptr::null(),
            data: std::ptr::null(),
        });
    }
    let (values, offset) = if array.data_type() == &DataType::Boolean {
        let bits = array.as_boolean().values();
        (bits.values().as_ptr(), bits.offset() as u64)
    } else {
        let data = array.to_data();
        let buffer = data.buffers().first().ok_or_else(|| {
            Error::internal(format!("{} array without values", array.data_type()))
        })?;
        (buffer.as_ptr(), data.offset() as u64)
    };
    Ok(ColumnArg {
        values,
        validity,
        offset,
        validity_offset,
        offsets: std::ptr::null(),
        data: std::ptr::null(),
    })
}
