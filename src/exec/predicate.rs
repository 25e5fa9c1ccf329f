//! A predicate over some of a table's columns, compiled or interpreted: what a Parquet scan
//! evaluates before it decodes the other columns ([`ScanFilter`]), and what
//! [`crate::Filter`] evaluates.
//!
//! ```text
//! Expr over the batch of `columns` ─compile_filter─▶ FilterKernel (or the interpreter)
//! batch of `columns` (in table order) ─mask─▶ BooleanArray (TRUE rows; NULL counts as FALSE)
//! ```

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::{compile_filter, predicate_mask, PartEngine, QueryOptions, ScanFilter};
use crate::error::{Error, Result};
use crate::ir::Expr;
use crate::jit::FilterKernel;

/// A predicate over the batch of some columns of a table.
#[derive(Debug)]
pub struct Predicate {
    /// The table's columns the predicate reads (indices into its schema, ascending).
    pub columns: Vec<usize>,
    /// The schema of the batch of `columns`.
    pub schema: SchemaRef,
    /// The predicate, over the batch of `columns`.
    pub expr: Expr,
    /// How it runs.
    pub engine: PartEngine,
    kernel: Option<Arc<FilterKernel>>,
}

impl Predicate {
    /// Compiles `expr` (over batches of `schema`, the table's `columns`) with the engine of
    /// `options`: with [`super::EngineKind::Auto`] a predicate that does not compile runs
    /// interpreted, with [`super::EngineKind::Jit`] it is an error naming the construct.
    pub fn compile(
        expr: Expr,
        columns: Vec<usize>,
        schema: SchemaRef,
        options: &QueryOptions,
    ) -> Result<Predicate> {
        let (engine, kernel) = compile_filter(&expr, &schema, options, false)?;
        Ok(Predicate {
            columns,
            schema,
            expr,
            engine,
            kernel: kernel.map(|(k, _)| k),
        })
    }

    /// The rows of `batch` (of the predicate's columns, in order) where the predicate is TRUE:
    /// a mask with no nulls. The batch's columns must have the types of [`Predicate::schema`]
    /// (an error naming the column otherwise).
    pub fn mask(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        check_columns(&self.schema, batch)?;
        if batch.num_rows() == 0 {
            return Ok(BooleanArray::from(Vec::<bool>::new()));
        }
        predicate_mask(&self.expr, self.kernel.as_deref(), batch)
    }

    /// The predicate as a [`ScanFilter`] for a Parquet scan of the table.
    pub fn scan_filter(self: Arc<Self>) -> ScanFilter {
        ScanFilter {
            columns: self.columns.clone(),
            keep: Arc::new(move |batch: &RecordBatch| self.mask(batch)),
        }
    }
}

/// Checks that `batch` has the columns of `schema`: as many, each of the same type, and no
/// NULL in a column declared NOT NULL (compiled code may not look at its validity).
pub(crate) fn check_columns(schema: &SchemaRef, batch: &RecordBatch) -> Result<()> {
    let fields = schema.fields();
    if batch.num_columns() != fields.len() {
        let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
        return Err(Error::Schema(format!(
            "the batch has {} columns, expected {} ({})",
            batch.num_columns(),
            fields.len(),
            names.join(", ")
        )));
    }
    for (field, column) in fields.iter().zip(batch.columns()) {
        if column.data_type() != field.data_type() {
            return Err(Error::Schema(format!(
                "column '{}' has type {}, expected {}",
                field.name(),
                column.data_type(),
                field.data_type()
            )));
        }
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(Error::Schema(format!(
                "column '{}' has NULLs, but it was declared NOT NULL when compiled",
                field.name()
            )));
        }
    }
    Ok(())
}
