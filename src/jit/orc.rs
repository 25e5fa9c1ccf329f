//! Loading a kernel's object code with LLVM's ORC LLJIT: the small unsafe layer over llvm-sys's
//! `orc2` C API that inkwell 0.11 does not wrap.
//!
//! ```text
//! object file (bytes: fresh from the code generator, or read from the disk cache)
//!   ─▶ LLJIT: the runtime functions defined by name as absolute symbols, libc/libm symbols
//!      from the process, the object linked into executable memory (JITLink)
//!   ─▶ the entry point's address, valid while the [`LoadedObject`] lives
//! ```
//!
//! Fresh compiles and disk-cache hits run this same loader, so a cached kernel runs exactly
//! the machine code a fresh one would. The object holds no address of the process that wrote
//! it: calls to the runtime functions and to the C library are relocations against symbol
//! names, resolved here, in the process that loads it.
//!
//! Invariants the `unsafe` blocks rely on:
//! - every LLVM object created here is owned by exactly one Rust value, and disposed once: the
//!   LLJIT by [`LoadedObject`]'s `Drop` (a spare one, [`prepare`], by whoever takes it, or
//!   never, when the process ends first); the memory buffer, the materialization unit and the
//!   interned names are handed to LLJIT (which takes ownership, as the C API documents) or
//!   disposed on the error path that keeps them;
//! - an `LLVMErrorRef` is consumed exactly once ([`take_error`]);
//! - strings passed to LLVM are NUL-terminated and outlive the call.

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use inkwell::llvm_sys::core::{LLVMCreateMemoryBufferWithMemoryRangeCopy, LLVMDisposeMessage};
use inkwell::llvm_sys::error::{LLVMDisposeErrorMessage, LLVMErrorRef, LLVMGetErrorMessage};
use inkwell::llvm_sys::orc2::lljit::{
    LLVMOrcCreateLLJIT, LLVMOrcCreateLLJITBuilder, LLVMOrcDisposeLLJIT, LLVMOrcLLJITAddObjectFile,
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder, LLVMOrcLLJITGetMainJITDylib, LLVMOrcLLJITLookup,
    LLVMOrcLLJITMangleAndIntern, LLVMOrcLLJITRef,
};
use inkwell::llvm_sys::orc2::{
    LLVMJITEvaluatedSymbol, LLVMJITSymbolFlags, LLVMJITSymbolGenericFlags, LLVMOrcAbsoluteSymbols,
    LLVMOrcCSymbolMapPair, LLVMOrcDisposeMaterializationUnit, LLVMOrcJITDylibDefine,
    LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine, LLVMOrcJITTargetMachineBuilderRef,
};
use inkwell::llvm_sys::target_machine::{
    LLVMCodeGenOptLevel, LLVMCodeModel, LLVMCreateTargetMachine, LLVMGetDefaultTargetTriple,
    LLVMGetTargetFromTriple, LLVMRelocMode, LLVMTargetRef,
};

/// An LLJIT made ahead of need by [`prepare`], for the next [`LoadedObject::load`].
struct Spare(LLVMOrcLLJITRef);

// SAFETY: a spare LLJIT is used by one thread at a time: the one that made it, then the one
// that takes it out of `SPARE`.
unsafe impl Send for Spare {}

static SPARE: Mutex<Option<Spare>> = Mutex::new(None);
static PREPARING: AtomicBool = AtomicBool::new(false);

/// Makes an LLJIT on a background thread for the next kernel to load, and returns at once.
/// Making one detects the host and builds a target machine (about half a millisecond); a
/// process that knows it will load a kernel (`qjit query --engine jit`) overlaps that with
/// parsing the query and reading the file's metadata. A load that comes first makes its own.
pub(crate) fn prepare() {
    let spare_ready = SPARE.lock().map(|s| s.is_some()).unwrap_or(true);
    if spare_ready || PREPARING.swap(true, Ordering::SeqCst) {
        return;
    }
    let made = std::thread::Builder::new()
        .name("qjit-llvm-prepare".into())
        .spawn(|| {
            if super::initialize().is_ok() {
                // What every kernel's cache key needs first.
                super::kernel::detect_host();
                if let Ok(jit) = create() {
                    match SPARE.lock() {
                        Ok(mut spare) if spare.is_none() => *spare = Some(Spare(jit)),
                        _ => dispose(jit),
                    }
                }
            }
            PREPARING.store(false, Ordering::SeqCst);
        });
    if made.is_err() {
        PREPARING.store(false, Ordering::SeqCst);
    }
}

/// Whether a [`prepare`] thread is still making its LLJIT: a process exiting now should not
/// run LLVM's global teardown under it.
pub(crate) fn preparing() -> bool {
    PREPARING.load(Ordering::SeqCst)
}

/// A new LLJIT instance, owned by the caller.
///
/// It only ever links object files, so it is made for a generic CPU of the host's triple: by
/// default LLJIT detects the host's CPU and features and makes two target machines for them,
/// and LLVM's subtarget set-up for a modern x86 CPU's hundred-odd features took three
/// quarters of the instance's making (1.9 ms of CPU per `qjit query` process). The objects it
/// links were generated for the host by the kernel compiler (`super::kernel`); linking reads
/// only their triple.
fn create() -> Result<LLVMOrcLLJITRef, String> {
    // SAFETY: the builder is ours until `LLVMOrcCreateLLJIT` consumes it (whatever it
    // returns); the target machine builder, when there is one, is handed to it.
    unsafe {
        let builder = LLVMOrcCreateLLJITBuilder();
        if let Some(machine) = generic_machine_builder() {
            LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, machine);
        }
        let mut jit: LLVMOrcLLJITRef = std::ptr::null_mut();
        // `jit` is written on success only.
        take_error(LLVMOrcCreateLLJIT(&mut jit, builder))?;
        Ok(jit)
    }
}

/// A target machine builder for the generic CPU of the host's triple, owned by the caller; or
/// `None` (LLJIT then detects the host itself) if LLVM has no target for the triple.
fn generic_machine_builder() -> Option<LLVMOrcJITTargetMachineBuilderRef> {
    // SAFETY: the triple is a string LLVM allocates for us, disposed once below after its last
    // use; the error message likewise. The target is one of LLVM's static descriptions. The
    // target machine is handed to `LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine`,
    // which takes it over (and disposes of it).
    unsafe {
        let triple = LLVMGetDefaultTargetTriple();
        let mut target: LLVMTargetRef = std::ptr::null_mut();
        let mut message: *mut std::os::raw::c_char = std::ptr::null_mut();
        let machine = if LLVMGetTargetFromTriple(triple, &mut target, &mut message) == 0 {
            LLVMCreateTargetMachine(
                target,
                triple,
                c"generic".as_ptr(),
                c"".as_ptr(),
                LLVMCodeGenOptLevel::LLVMCodeGenLevelNone,
                LLVMRelocMode::LLVMRelocPIC,
                LLVMCodeModel::LLVMCodeModelSmall,
            )
        } else {
            std::ptr::null_mut()
        };
        if !message.is_null() {
            LLVMDisposeMessage(message);
        }
        LLVMDisposeMessage(triple);
        (!machine.is_null()).then(|| LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(machine))
    }
}

/// Disposes of an LLJIT instance and the code it holds.
fn dispose(jit: LLVMOrcLLJITRef) {
    // SAFETY: `jit` came from `create` and is disposed once, here; the error it returns (if
    // any) is consumed.
    let error = unsafe { LLVMOrcDisposeLLJIT(jit) };
    let _ = take_error(error);
}

/// Machine code linked into this process by its own LLJIT instance, freed when dropped.
pub(crate) struct LoadedObject {
    jit: LLVMOrcLLJITRef,
}

// SAFETY: after `load` returns, the LLJIT instance is only disposed (once, in `Drop`); what
// threads share is the entry point's address, immutable machine code.
unsafe impl Send for LoadedObject {}
// SAFETY: see `Send`: `&LoadedObject` exposes nothing.
unsafe impl Sync for LoadedObject {}

impl Drop for LoadedObject {
    fn drop(&mut self) {
        dispose(self.jit);
    }
}

impl LoadedObject {
    /// Links `object` (a relocatable object file for this host) into this process, with
    /// `symbols` (name, address) defined for its undefined references (the C library's come
    /// from the process), and returns the handle and the address of `entry`. Fails, never
    /// crashes, on bytes that are not such an object or that leave a reference undefined.
    pub(crate) fn load(
        object: &[u8],
        symbols: &[(&str, usize)],
        entry: &str,
    ) -> Result<(LoadedObject, usize), String> {
        super::initialize().map_err(|e| e.to_string())?;
        let entry = CString::new(entry).map_err(|e| e.to_string())?;
        let names: Vec<CString> = symbols
            .iter()
            .map(|(name, _)| CString::new(*name).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let spare = SPARE.lock().ok().and_then(|mut s| s.take());
        let jit = match spare {
            Some(Spare(jit)) => jit,
            None => create()?,
        };
        // From here on `loaded` owns `jit` and disposes it on every early return.
        let loaded = LoadedObject { jit };
        // SAFETY: `jit` is live; its main JITDylib lives as long as it does.
        let dylib = unsafe { LLVMOrcLLJITGetMainJITDylib(jit) };
        if !symbols.is_empty() {
            let flags = || LLVMJITSymbolFlags {
                GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported as u8
                    | LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsCallable as u8,
                TargetFlags: 0,
            };
            let mut pairs: Vec<LLVMOrcCSymbolMapPair> = names
                .iter()
                .zip(symbols)
                .map(|(name, (_, address))| LLVMOrcCSymbolMapPair {
                    // SAFETY: `jit` is live and `name` NUL-terminated; the interned name is
                    // retained for us, and `LLVMOrcAbsoluteSymbols` takes it over.
                    Name: unsafe { LLVMOrcLLJITMangleAndIntern(jit, name.as_ptr()) },
                    Sym: LLVMJITEvaluatedSymbol {
                        Address: *address as u64,
                        Flags: flags(),
                    },
                })
                .collect();
            // SAFETY: `pairs` holds `pairs.len()` initialized pairs; the unit takes over the
            // names, and the array stays ours (dropped below).
            let unit = unsafe { LLVMOrcAbsoluteSymbols(pairs.as_mut_ptr(), pairs.len()) };
            // SAFETY: `dylib` and `unit` are live; on success the dylib owns the unit, on
            // failure we still do and dispose it.
            let defined = take_error(unsafe { LLVMOrcJITDylibDefine(dylib, unit) });
            if let Err(e) = defined {
                // SAFETY: the definition failed, so the unit is still ours, disposed once.
                unsafe { LLVMOrcDisposeMaterializationUnit(unit) };
                return Err(e);
            }
        }
        // SAFETY: the range is `object`, readable for its length during the call, which
        // copies it; the name is NUL-terminated.
        let buffer = unsafe {
            LLVMCreateMemoryBufferWithMemoryRangeCopy(
                object.as_ptr().cast(),
                object.len(),
                c"qjit kernel".as_ptr(),
            )
        };
        // SAFETY: `jit`, `dylib` and `buffer` are live; LLJIT takes the buffer over whatever
        // it returns.
        take_error(unsafe { LLVMOrcLLJITAddObjectFile(jit, dylib, buffer) })?;
        let mut address: u64 = 0;
        // SAFETY: `jit` is live, `entry` NUL-terminated, `address` written on success. The
        // lookup links the object (resolving its relocations) before it returns.
        take_error(unsafe { LLVMOrcLLJITLookup(jit, &mut address, entry.as_ptr()) })?;
        let address = usize::try_from(address).map_err(|e| e.to_string())?;
        if address == 0 {
            return Err("the kernel's entry point has a null address".into());
        }
        Ok((loaded, address))
    }
}

/// `Ok` for no error, else the error's message (the error consumed).
fn take_error(error: LLVMErrorRef) -> Result<(), String> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: `error` is a live error, consumed here by `LLVMGetErrorMessage`; the message is
    // a NUL-terminated string we own until `LLVMDisposeErrorMessage`.
    unsafe {
        let message = LLVMGetErrorMessage(error);
        let text = CStr::from_ptr(message).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(message);
        Err(text)
    }
}
