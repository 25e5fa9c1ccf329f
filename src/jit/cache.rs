//! The process-wide kernel cache: a predicate or an aggregation compiles once per process.
//!
//! The key is the kind of kernel, the printed IR of what it computes (fully typed, see `Expr`'s
//! `Display`), the Arrow types of the scan batch, and the optimization level.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::datatypes::Schema;

use super::aggregate::AggregateKernel;
use super::kernel::{FilterKernel, Optimize};
use super::project::ProjectKernel;
use crate::codegen::CodegenError;
use crate::ir::{AggregateCall, Expr};

/// A cached kernel.
#[derive(Clone)]
enum Kernel {
    Filter(Arc<FilterKernel>),
    Aggregate(Arc<AggregateKernel>),
    Project(Arc<ProjectKernel>),
}

type Cache = Mutex<HashMap<String, Kernel>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A compiled filter for `expr` over batches of `schema`, from the cache or freshly compiled;
/// the flag says whether it came from the cache.
pub fn filter_kernel(
    expr: &Expr,
    schema: &Schema,
    optimize: Optimize,
) -> Result<(Arc<FilterKernel>, bool), CodegenError> {
    let key = format!("filter {expr}\n{}", signature(schema, optimize));
    let (kernel, hit) = cached(key, || {
        Ok(Kernel::Filter(Arc::new(FilterKernel::compile_with(
            expr, optimize,
        )?)))
    })?;
    match kernel {
        Kernel::Filter(k) => Ok((k, hit)),
        _ => Err(mixed_up()),
    }
}

/// A compiled aggregation (filter, keys, aggregates over batches of `schema`), from the cache or
/// freshly compiled; the flag says whether it came from the cache.
pub fn aggregate_kernel(
    filter: Option<&Expr>,
    keys: &[Expr],
    aggregates: &[AggregateCall],
    schema: &Schema,
    optimize: Optimize,
) -> Result<(Arc<AggregateKernel>, bool), CodegenError> {
    let list = |es: Vec<String>| es.join(", ");
    let key = format!(
        "aggregate {}\nkeys [{}]\naggregates [{}]\n{}",
        filter.map_or("-".to_string(), |f| f.to_string()),
        list(keys.iter().map(|k| k.to_string()).collect()),
        list(
            aggregates
                .iter()
                .map(|a| format!("{a}: {}", a.ty))
                .collect()
        ),
        signature(schema, optimize)
    );
    let (kernel, hit) = cached(key, || {
        Ok(Kernel::Aggregate(Arc::new(AggregateKernel::compile(
            filter, keys, aggregates, optimize,
        )?)))
    })?;
    match kernel {
        Kernel::Aggregate(k) => Ok((k, hit)),
        _ => Err(mixed_up()),
    }
}

/// A compiled projection (filter and final expressions over batches of `schema`), from the
/// cache or freshly compiled; the flag says whether it came from the cache.
pub fn project_kernel(
    filter: Option<&Expr>,
    exprs: &[Expr],
    schema: &Schema,
    optimize: Optimize,
) -> Result<(Arc<ProjectKernel>, bool), CodegenError> {
    let list: Vec<String> = exprs.iter().map(|e| e.to_string()).collect();
    let key = format!(
        "project {}\nexprs [{}]\n{}",
        filter.map_or("-".to_string(), |f| f.to_string()),
        list.join(", "),
        signature(schema, optimize)
    );
    let (kernel, hit) = cached(key, || {
        Ok(Kernel::Project(Arc::new(ProjectKernel::compile(
            filter, exprs, optimize,
        )?)))
    })?;
    match kernel {
        Kernel::Project(k) => Ok((k, hit)),
        _ => Err(mixed_up()),
    }
}

fn mixed_up() -> CodegenError {
    CodegenError::Failed(crate::error::Error::internal(
        "the kernel cache mixed up kernels",
    ))
}

/// Empties the cache (for measuring cold compiles). Kernels in use stay alive until dropped.
pub fn clear_cache() {
    cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clear();
}

fn signature(schema: &Schema, optimize: Optimize) -> String {
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let null = if f.is_nullable() { "" } else { " NOT NULL" };
            format!("{}{null}", f.data_type())
        })
        .collect();
    format!("[{}]\n{}", types.join(", "), optimize.describe())
}

fn cached(
    key: String,
    compile: impl FnOnce() -> Result<Kernel, CodegenError>,
) -> Result<(Kernel, bool), CodegenError> {
    let lock = || {
        cache()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some(kernel) = lock().get(&key) {
        return Ok((kernel.clone(), true));
    }
    // Compile without holding the lock; if two threads race, the first insert wins.
    let kernel = compile()?;
    Ok((lock().entry(key).or_insert(kernel).clone(), false))
}
