//! Compiled projection: [`ProjectKernel`] filters a scan batch and computes the `SELECT`
//! expressions of the selected rows in one pass.
//!
//! Each final expression of the plan is one of:
//! - **compiled**: the kernel writes its values into buffers that become the output array;
//! - **copied**: a plain column reference, taken from the batch with the selection;
//! - **interpreted**: what does not compile (a `VARCHAR` result of a function, say), evaluated
//!   by the interpreter on the filtered batch; the reason is kept for `--explain`.

use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayData, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, MutableBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::compute;
use arrow::datatypes::DataType;

use super::kernel::{CompileTiming, Jitted, KernelInputs, Optimize};
use super::plan_entry::Lowered;
use crate::codegen::{
    self, CodegenError, ColumnSlot, KernelStatus, OutArg, ProjectFn, ScratchNeed, STATUS_NEED_ROOM,
};
use crate::error::{Error, Result};
use crate::interp;
use crate::ir::{Expr, SqlType};
use crate::kernel_cache::KernelCache;

/// How one final expression is produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// By the kernel: output `k` of the kernel.
    Compiled(usize),
    /// A column of the scan batch, taken with the selection.
    Copied(usize),
    /// By the interpreter, and why.
    Interpreted(String),
}

/// A compiled `WHERE` + `SELECT` (see the module docs).
pub struct ProjectKernel {
    entry: ProjectFn,
    columns: Vec<ColumnSlot>,
    /// The words of the constants it takes as parameters (`codegen::Params`).
    params: Vec<u64>,
    scratch: ScratchNeed,
    filter: Option<Expr>,
    exprs: Vec<Expr>,
    outputs: Vec<Output>,
    jit: Jitted,
}

impl std::fmt::Debug for ProjectKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectKernel")
            .field("columns", &self.columns)
            .field("outputs", &self.outputs)
            .field("timing", &self.jit.timing())
            .finish_non_exhaustive()
    }
}

impl ProjectKernel {
    /// Compiles `filter` and every expression of `exprs` (over the scan batch) that compiles;
    /// [`ProjectKernel::outputs`] says how each is produced. A filter that does not compile is
    /// [`CodegenError::NotCompiled`].
    pub fn compile(
        filter: Option<&Expr>,
        exprs: &[Expr],
        optimize: Optimize,
    ) -> std::result::Result<ProjectKernel, CodegenError> {
        ProjectKernel::compile_in(filter, exprs, optimize, None)
    }

    /// [`ProjectKernel::compile`], with the machine code from (or stored into) `cache`.
    pub fn compile_in(
        filter: Option<&Expr>,
        exprs: &[Expr],
        optimize: Optimize,
        cache: Option<&KernelCache>,
    ) -> std::result::Result<ProjectKernel, CodegenError> {
        let all: Vec<&Expr> = filter.into_iter().chain(exprs).collect();
        codegen::check_size(&all)?;
        let (jit, address, lowered) = Jitted::compile(
            optimize,
            codegen::PROJECT_ENTRY_NAME,
            cache,
            || format!("project {filter:?} {exprs:?}"),
            |ctx, cpu, features| {
                let mut outputs = vec![];
                let mut compiled: Vec<Expr> = vec![];
                for e in exprs {
                    let output = match e {
                        Expr::Column(c) => Output::Copied(c.index),
                        e => {
                            match codegen::writable(e.ty()).and_then(|_| codegen::lowers(ctx, e)) {
                                Ok(()) => {
                                    compiled.push(e.clone());
                                    Output::Compiled(compiled.len() - 1)
                                }
                                Err(CodegenError::NotCompiled(why)) => Output::Interpreted(why),
                                Err(e) => return Err(e),
                            }
                        }
                    };
                    outputs.push(output);
                }
                let m = codegen::compile_project(ctx, filter, &compiled, cpu, features)?;
                let lowered = Lowered {
                    errors: m.errors,
                    scratch: m.scratch,
                    outputs,
                };
                Ok((m.module, lowered))
            },
        )?;
        // The expressions the kernel computes, as lowering chose them (by the plan entry on a
        // disk-cache hit), and what the code generator decided before lowering them.
        if lowered.outputs.len() != exprs.len() {
            return Err(super::kernel::failed(
                "the kernel cache's plan entry",
                format!(
                    "{} outputs for {} expressions",
                    lowered.outputs.len(),
                    exprs.len()
                ),
            ));
        }
        let compiled: Vec<&Expr> = lowered
            .outputs
            .iter()
            .zip(exprs)
            .filter(|(o, _)| matches!(o, Output::Compiled(_)))
            .map(|(_, e)| e)
            .collect();
        let all: Vec<&Expr> = filter.into_iter().chain(compiled).collect();
        let (params, columns) = codegen::kernel_inputs(&all);
        // SAFETY: the entry function was built with exactly the `ProjectFn` signature
        // (`i64 (ptr, i64, ptr, ptr, ptr)`, C calling convention), and `address` is its code.
        let entry: ProjectFn = unsafe { std::mem::transmute::<usize, ProjectFn>(address) };
        Ok(ProjectKernel {
            entry,
            columns,
            params: params.words,
            scratch: lowered.scratch,
            filter: filter.cloned(),
            exprs: exprs.to_vec(),
            outputs: lowered.outputs,
            jit,
        })
    }

    /// How each final expression is produced.
    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    /// The final columns of the selected rows of `batch` (a scan batch), one per expression, or
    /// `None` when no row is selected.
    pub fn project(&self, batch: &RecordBatch) -> Result<Option<Vec<ArrayRef>>> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(None);
        }
        let inputs = KernelInputs::new(&self.columns, &self.params, batch, "projection")?;
        // Scratch for the strings built per row; a batch whose strings could add up past the
        // interpreter's limit goes to the interpreter whole.
        let mut scratch: Vec<u8> = vec![];
        if !self.scratch.is_zero() {
            match self.scratch.bytes(inputs.max_string_len()) {
                Some(bytes) if bytes.saturating_mul(n as u64) <= i32::MAX as u64 => {
                    scratch = vec![0; bytes as usize];
                }
                _ => return self.interpret(batch),
            }
        }
        let types: Vec<SqlType> = self
            .outputs
            .iter()
            .zip(&self.exprs)
            .filter(|(o, _)| matches!(o, Output::Compiled(_)))
            .map(|(_, e)| e.ty())
            .collect();
        let words = n.div_ceil(64);
        // Room for the strings of VARCHAR outputs: as many bytes as the batch's strings at
        // first, doubled while a batch does not fit.
        let mut capacity = string_bytes(batch).max(4096);
        let (rows, sel, buffers) = loop {
            let mut buffers: Vec<OutputBuffers> = types
                .iter()
                .map(|t| OutputBuffers::new(*t, n, capacity))
                .collect();
            let outs: Vec<OutArg> = buffers.iter_mut().map(OutputBuffers::arg).collect();
            let mut sel = vec![0u64; words];
            let mut status = KernelStatus::default();
            // SAFETY: `inputs.args` describes live arrays of the slots' types with `n` rows
            // (checked by `KernelInputs::new`); `outs` has one entry per compiled output, each
            // with zeroed buffers of the sizes `OutArg` documents (64-byte aligned); `sel` has
            // n.div_ceil(64) words; `status` is zeroed; `self` owns the code.
            let rows = unsafe {
                (self.entry)(
                    inputs.args.as_ptr(),
                    n as u64,
                    outs.as_ptr(),
                    sel.as_mut_ptr(),
                    &mut status,
                    scratch.as_mut_ptr(),
                    scratch.len() as u64,
                )
            } as usize;
            if status.code == STATUS_NEED_ROOM {
                capacity = capacity.saturating_mul(2);
                if capacity > i32::MAX as usize {
                    return Err(Error::unsupported(
                        "VARCHAR results of more than 2 GiB in one batch",
                    ));
                }
                continue;
            }
            if status.code != 0 {
                // A row the kernel does not evaluate (STATUS_FALLBACK) or an error: the
                // interpreter evaluates the batch, and raises the error if there is one.
                return self.interpret(batch);
            }
            break (rows, sel, buffers);
        };
        drop(inputs);
        if rows == 0 {
            return Ok(None);
        }
        if rows > n {
            return Err(Error::internal("the projection kernel wrote too many rows"));
        }
        let mask = BooleanArray::new(BooleanBuffer::new(Buffer::from_vec(sel), 0, n), None);
        let all = rows == n;
        let mut compiled: Vec<Option<ArrayRef>> = buffers
            .into_iter()
            .zip(&types)
            .map(|(out, t)| out.finish(*t, rows).map(Some))
            .collect::<Result<_>>()?;
        let mut filtered: Option<RecordBatch> = None;
        let mut columns = Vec::with_capacity(self.exprs.len());
        for (e, output) in self.exprs.iter().zip(&self.outputs) {
            columns.push(match output {
                Output::Compiled(k) => compiled[*k]
                    .take()
                    .ok_or_else(|| Error::internal("a compiled output used twice"))?,
                Output::Copied(i) => {
                    let column = batch
                        .columns()
                        .get(*i)
                        .ok_or_else(|| Error::internal("a copied column is missing"))?;
                    if all {
                        column.clone()
                    } else {
                        compute::filter(column.as_ref(), &mask)?
                    }
                }
                Output::Interpreted(_) => {
                    if filtered.is_none() {
                        filtered = Some(if all {
                            batch.clone()
                        } else {
                            compute::filter_record_batch(batch, &mask)?
                        });
                    }
                    let f = filtered
                        .as_ref()
                        .ok_or_else(|| Error::internal("no filtered batch"))?;
                    interp::evaluate(e, f)?
                }
            });
        }
        Ok(Some(columns))
    }

    /// The batch evaluated by the interpreter (filter, then each expression): for a batch the
    /// kernel hands back ([`codegen::STATUS_FALLBACK`]) or fails on, so that results and errors
    /// are the interpreter's.
    fn interpret(&self, batch: &RecordBatch) -> Result<Option<Vec<ArrayRef>>> {
        let filtered = match &self.filter {
            Some(f) => {
                let mask = interp::evaluate_predicate(f, batch)?;
                compute::filter_record_batch(batch, &mask)?
            }
            None => batch.clone(),
        };
        if filtered.num_rows() == 0 {
            return Ok(None);
        }
        let columns = self
            .exprs
            .iter()
            .map(|e| interp::evaluate(e, &filtered))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(columns))
    }

    /// The columns the kernel reads.
    pub fn columns(&self) -> &[ColumnSlot] {
        super::kernel::batch_columns(&self.columns)
    }

    pub fn ir_before(&self) -> &str {
        self.jit.ir_before()
    }

    pub fn ir_after(&self) -> &str {
        self.jit.ir_after()
    }

    pub fn timing(&self) -> CompileTiming {
        self.jit.timing()
    }
}

/// Bytes per element of a fixed-width output.
fn element_width(t: SqlType) -> usize {
    match t {
        SqlType::Int8 | SqlType::UInt8 => 1,
        SqlType::Int16 | SqlType::UInt16 => 2,
        SqlType::Int32 | SqlType::UInt32 | SqlType::Float32 | SqlType::Date => 4,
        SqlType::Decimal { .. } | SqlType::Interval => 16,
        SqlType::Null => 0,
        _ => 8,
    }
}

/// The buffers one compiled output is written into.
struct OutputBuffers {
    values: MutableBuffer,
    validity: MutableBuffer,
    /// `VARCHAR` only.
    offsets: Option<MutableBuffer>,
    capacity: usize,
}

impl OutputBuffers {
    /// Zeroed buffers for `n` rows of type `t`, with `capacity` bytes for strings.
    fn new(t: SqlType, n: usize, capacity: usize) -> OutputBuffers {
        let words = n.div_ceil(64);
        let (bytes, offsets) = match t {
            SqlType::Boolean => (words * 8, None),
            SqlType::Utf8 => (capacity, Some(MutableBuffer::from_len_zeroed((n + 1) * 4))),
            t => (n * element_width(t), None),
        };
        OutputBuffers {
            values: MutableBuffer::from_len_zeroed(bytes),
            validity: MutableBuffer::from_len_zeroed(words * 8),
            offsets,
            capacity,
        }
    }

    fn arg(&mut self) -> OutArg {
        OutArg {
            values: self.values.as_mut_ptr(),
            validity: self.validity.as_mut_ptr().cast(),
            offsets: self
                .offsets
                .as_mut()
                .map_or(std::ptr::null_mut(), |o| o.as_mut_ptr().cast()),
            capacity: self.capacity as u64,
        }
    }

    /// The array of the first `rows` values.
    fn finish(self, t: SqlType, rows: usize) -> Result<ArrayRef> {
        if t == SqlType::Null {
            return Ok(arrow::array::new_null_array(&DataType::Null, rows));
        }
        let validity = BooleanBuffer::new(self.validity.into(), 0, rows);
        let nulls = NullBuffer::new(validity);
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        if let Some(offsets) = self.offsets {
            let offsets: ScalarBuffer<i32> = Buffer::from(offsets).into();
            let offsets = OffsetBuffer::new(offsets.slice(0, rows + 1));
            let strings = StringArray::try_new(offsets, self.values.into(), nulls)?;
            return Ok(Arc::new(strings));
        }
        build_array(t, self.values, nulls, rows)
    }
}

/// The bytes of the batch's string columns (a first guess at the room string results need).
fn string_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8 => c.as_string::<i32>().values().len(),
            DataType::LargeUtf8 => c.as_string::<i64>().values().len(),
            DataType::Utf8View => {
                let v = c.as_string_view();
                v.data_buffers().iter().map(|b| b.len()).sum::<usize>() + 12 * v.len()
            }
            _ => 0,
        })
        .sum()
}

/// The array of the first `rows` values of a kernel output./// The array of the first `rows` values of a kernel output.
fn build_array(
    t: SqlType,
    values: MutableBuffer,
    nulls: Option<NullBuffer>,
    rows: usize,
) -> Result<ArrayRef> {
    let values: Buffer = values.into();
    let values = match t {
        SqlType::Boolean => values,
        t => values.slice_with_length(0, rows * element_width(t)),
    };
    let data = ArrayData::builder(t.to_arrow())
        .len(rows)
        .add_buffer(values)
        .nulls(nulls)
        .build()?;
    Ok(make_array(data))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Int32Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::exec::{run, EngineKind, PartEngine, QueryOptions, Source};

    fn table(n: i32) -> Source {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, true)]));
        let values: Vec<Option<i32>> = (0..n).map(|i| (i % 7 != 3).then_some(i)).collect();
        let batch =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(values))]).unwrap();
        Source::batches("t", schema, vec![batch.clone(), batch.slice(5, 300)])
    }

    #[test]
    fn null_results_are_compiled() {
        let sql = "SELECT NULL AS n, x FROM t WHERE x > 3";
        let source = table(400);
        let jit = run(
            &source,
            sql,
            &QueryOptions {
                engine: EngineKind::Jit,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(jit.compiled.projection, PartEngine::Compiled);
        let interp = run(
            &source,
            sql,
            &QueryOptions {
                engine: EngineKind::Interp,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(jit.batches, interp.batches);
        let n = jit.batches[0].column(0);
        assert_eq!(n.data_type(), &DataType::Null);
        assert!(n.len() > 100);
    }

    #[test]
    fn string_results_that_outgrow_the_first_guess_are_written_again() {
        // The batch has no strings, so the first room is the minimum (4096 bytes); 40 bytes a row
        // over 1000 rows need more.
        let sql = "SELECT CASE WHEN x % 2 = 0 THEN '0123456789012345678901234567890123456789' \
                   ELSE 'é' END AS s, x FROM t WHERE x > 3";
        let source = table(1000);
        let jit = run(
            &source,
            sql,
            &QueryOptions {
                engine: EngineKind::Jit,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(jit.compiled.projection, PartEngine::Compiled);
        let interp = run(
            &source,
            sql,
            &QueryOptions {
                engine: EngineKind::Interp,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(jit.batches, interp.batches);
        let s = jit.batches[0].column(0).as_string::<i32>();
        assert_eq!(s.null_count(), 0);
        assert!(s.value_data().len() > 4096);
    }
}
