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
use crate::kernel_cache::KernelCache;

/// A cached kernel.
#[derive(Clone)]
enum Kernel {
    Filter(Arc<FilterKernel>),
    Aggregate(Arc<AggregateKernel>),
    Project(Arc<ProjectKernel>),
}

/// How many kernels the cache keeps; past it, the least recently used one is dropped (a
/// long-running embedder that compiles many distinct queries stays bounded). A dropped kernel
/// still in use lives on until its last handle goes.
pub const CACHE_CAPACITY: usize = 256;

#[derive(Default)]
struct Entries {
    kernels: HashMap<String, (Kernel, u64)>,
    /// A counter that orders uses.
    clock: u64,
}

type Cache = Mutex<Entries>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Entries::default()))
}

/// A compiled filter for `expr` over batches of `schema`, from the cache or freshly compiled;
/// the flag says whether it came from the cache.
pub fn filter_kernel(
    expr: &Expr,
    schema: &Schema,
    optimize: Optimize,
    disk: Option<&KernelCache>,
) -> Result<(Arc<FilterKernel>, bool), CodegenError> {
    let key = format!("filter {expr}\n{}", signature(schema, optimize));
    let (kernel, hit) = cached(key, || {
        Ok(Kernel::Filter(Arc::new(FilterKernel::compile_in(
            expr, optimize, disk,
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
    disk: Option<&KernelCache>,
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
        Ok(Kernel::Aggregate(Arc::new(AggregateKernel::compile_in(
            filter, keys, aggregates, optimize, disk,
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
    disk: Option<&KernelCache>,
) -> Result<(Arc<ProjectKernel>, bool), CodegenError> {
    let list: Vec<String> = exprs.iter().map(|e| e.to_string()).collect();
    let key = format!(
        "project {}\nexprs [{}]\n{}",
        filter.map_or("-".to_string(), |f| f.to_string()),
        list.join(", "),
        signature(schema, optimize)
    );
    let (kernel, hit) = cached(key, || {
        Ok(Kernel::Project(Arc::new(ProjectKernel::compile_in(
            filter, exprs, optimize, disk,
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
        .kernels
        .clear();
}

/// The number of kernels in the cache.
pub fn cached_kernels() -> usize {
    cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .kernels
        .len()
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
    {
        let mut entries = lock();
        entries.clock += 1;
        let now = entries.clock;
        if let Some((kernel, used)) = entries.kernels.get_mut(&key) {
            *used = now;
            return Ok((kernel.clone(), true));
        }
    }
    // Compile without holding the lock; if two threads race, the first insert wins.
    let kernel = compile()?;
    let mut entries = lock();
    entries.clock += 1;
    let now = entries.clock;
    if !entries.kernels.contains_key(&key) && entries.kernels.len() >= CACHE_CAPACITY {
        let oldest = entries
            .kernels
            .iter()
            .min_by_key(|(_, (_, used))| *used)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            entries.kernels.remove(&oldest);
        }
    }
    let (kernel, used) = entries.kernels.entry(key).or_insert((kernel, now));
    *used = now;
    Ok((kernel.clone(), false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{BinaryOp, ColumnRef, Scalar, SqlType};
    use arrow::datatypes::{DataType, Field};

    #[test]
    fn the_cache_is_bounded_and_keeps_recent_kernels() {
        let schema = Schema::new(vec![Field::new("x", DataType::Int32, true)]);
        let x = Expr::column(ColumnRef {
            index: 0,
            name: "x".into(),
            ty: SqlType::Int32,
            data_type: DataType::Int32,
            nullable: true,
        });
        let predicate = |n: i64| {
            Expr::binary(
                BinaryOp::Gt,
                x.clone(),
                Expr::literal(Scalar::Int(n), SqlType::Int32).unwrap(),
            )
            .unwrap()
        };
        let optimize = Optimize {
            level: Some(0),
            keep_ir: false,
        };
        let (_, hit) = filter_kernel(&predicate(-1), &schema, optimize, None).unwrap();
        assert!(!hit);
        for n in 0..CACHE_CAPACITY as i64 + 8 {
            // Touch the first one now and then: it stays.
            let (_, hit) = filter_kernel(&predicate(-1), &schema, optimize, None).unwrap();
            assert!(hit);
            filter_kernel(&predicate(n), &schema, optimize, None).unwrap();
            assert!(cached_kernels() <= CACHE_CAPACITY);
        }
        assert!(
            filter_kernel(&predicate(-1), &schema, optimize, None)
                .unwrap()
                .1
        );
        // The oldest untouched ones went.
        assert!(
            !filter_kernel(&predicate(0), &schema, optimize, None)
                .unwrap()
                .1
        );
    }
}
