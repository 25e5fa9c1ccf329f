//! The process-wide kernel cache: a predicate compiles once per process.
//!
//! The key is the predicate's printed IR (fully typed, see `Expr`'s `Display`), the Arrow types
//! of the scan batch, and the optimization level.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::datatypes::Schema;

use super::kernel::FilterKernel;
use crate::codegen::CodegenError;
use crate::ir::Expr;

type Cache = Mutex<HashMap<String, Arc<FilterKernel>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A compiled filter for `expr` over batches of `schema`, from the cache or freshly compiled;
/// the flag says whether it came from the cache.
pub fn filter_kernel(
    expr: &Expr,
    schema: &Schema,
    opt_level: u8,
) -> Result<(Arc<FilterKernel>, bool), CodegenError> {
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    let key = format!("{expr}\n[{}]\nO{opt_level}", types.join(", "));
    let lock = || {
        cache()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some(kernel) = lock().get(&key) {
        return Ok((kernel.clone(), true));
    }
    // Compile without holding the lock; if two threads race, the first insert wins.
    let kernel = Arc::new(FilterKernel::compile(expr, opt_level)?);
    Ok((lock().entry(key).or_insert(kernel).clone(), false))
}
