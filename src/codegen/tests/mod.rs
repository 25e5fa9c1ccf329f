//! The code generator against the interpreter: every construct it compiles, on batches with
//! NULLs, edge values, slices at odd offsets, lengths that are not multiples of 64, and empty
//! batches. Every kernel is verified (compiling fails otherwise) before it runs. The batch has a
//! `VARCHAR` column in every layout (see [`string_types`]). Each kernel also runs on an
//! ASCII-only version of the batch, where it must never hand a batch back to the interpreter,
//! and on one of strings whose Unicode case mappings are special, where it may.
//!
//! This module holds the test batches and the comparison with the interpreter; the tests are
//! by topic: `numbers`, `strings`, `text_casts`, `float_casts`, `columns`, and `opt_levels`.
//! Random predicates are a property test over the shared test kit (`tests/props.rs`). Cases
//! with fixed values and no kernel specifics belong in the `.slt` corpus (`tests/sql`), which
//! runs them on both engines.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    StringViewBuilder, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};

use super::CodegenError;
use crate::error::Error;
use crate::interp;
use crate::ir::{BinaryOp, ColumnRef, Expr, Func, Scalar, SqlType, UnaryOp};
use crate::jit::FilterKernel;

mod columns;
mod float_casts;
mod numbers;
mod opt_levels;
mod strings;
mod text_casts;

const ROWS: usize = 150;

const fn dec(p: u8, s: u8) -> SqlType {
    SqlType::Decimal {
        precision: p,
        scale: s,
    }
}

/// The test batch: one column per type, NULLs and edge values cycling at different periods.
fn batch() -> RecordBatch {
    batch_of(&STRINGS)
}

/// The test batch with [`STRINGS`] made ASCII (each other character becomes `?`) and a few
/// mixed-case strings.
fn ascii_batch() -> RecordBatch {
    let owned: Vec<Option<String>> = STRINGS
        .iter()
        .map(|s| {
            s.map(|s| {
                s.chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect()
            })
        })
        .chain(["Mail", "mAIL", "Promo Brass", "aIr", "ABC"].map(|s| Some(s.to_string())))
        .collect();
    let strings: Vec<Option<&str>> = owned.iter().map(|s| s.as_deref()).collect();
    batch_of(&strings)
}

/// The test batch with [`CASE_STRINGS`].
fn unicode_batch() -> RecordBatch {
    batch_of(&CASE_STRINGS)
}

/// The test batch with string columns of `strings` (each column in an order of its own).
fn batch_of(strings: &[Option<&str>]) -> RecordBatch {
    let pick = |i: usize, period: usize| i % period;
    let i32s: Vec<Option<i32>> = (0..ROWS)
        .map(|i| {
            [
                Some(i32::MIN),
                Some(-1),
                Some(0),
                Some(1),
                Some(i32::MAX),
                None,
                Some(7),
                Some(-7),
                Some(100),
            ][pick(i, 9)]
        })
        .collect();
    let i64s: Vec<Option<i64>> = (0..ROWS)
        .map(|i| {
            [
                Some(3),
                None,
                Some(i64::MAX),
                Some(-2),
                Some(0),
                Some(i64::MIN),
                Some(1_000_000),
            ][pick(i, 7)]
        })
        .collect();
    let u8s: Vec<Option<u8>> = (0..ROWS)
        .map(|i| [Some(0), Some(255), Some(3), None, Some(128)][pick(i, 5)])
        .collect();
    let f64s: Vec<Option<f64>> = (0..ROWS)
        .map(|i| {
            [
                Some(1.5),
                Some(f64::NAN),
                Some(-0.0),
                Some(0.0),
                None,
                Some(f64::INFINITY),
                Some(-2.5),
                Some(3e9),
                Some(-f64::NAN),
                Some(2.5),
                Some(0.5),
            ][pick(i, 11)]
        })
        .collect();
    let decs: Vec<Option<i128>> = (0..ROWS)
        .map(|i| {
            [
                Some(-12345),
                Some(0),
                None,
                Some(999_999_999_999_999),
                Some(-999_999_999_999_999),
                Some(5),
                Some(-5),
                Some(100),
            ][pick(i, 8)]
        })
        .collect();
    let dates: Vec<Option<i32>> = (0..ROWS)
        .map(|i| {
            [
                Some(8766),
                Some(9131),
                None,
                Some(i32::MAX),
                Some(-1),
                Some(9000),
            ][pick(i, 6)]
        })
        .collect();
    let bools: Vec<Option<bool>> = (0..ROWS)
        .map(|i| [Some(true), None, Some(false), Some(true), Some(false)][pick(i, 5)])
        .collect();
    let i16s: Vec<Option<i16>> = (0..ROWS)
        .map(|i| [Some(i16::MIN), Some(300), None, Some(-1), Some(i16::MAX)][pick(i, 5)])
        .collect();
    let f32s: Vec<Option<f32>> = (0..ROWS)
        .map(|i| [Some(0.5f32), None, Some(f32::NAN), Some(-0.0), Some(1e10)][pick(i, 5)])
        .collect();
    let u64s: Vec<Option<u64>> = (0..ROWS)
        .map(|i| [Some(0u64), Some(u64::MAX), Some(5), None][pick(i, 4)])
        .collect();
    let big: Vec<Option<i128>> = (0..ROWS)
        .map(|i| {
            [
                Some(10i128.pow(37) - 1),
                Some(-(10i128.pow(37))),
                None,
                Some(3),
            ][pick(i, 4)]
        })
        .collect();
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(i32s)),
        Arc::new(Int64Array::from(i64s)),
        Arc::new(UInt8Array::from(u8s)),
        Arc::new(Float64Array::from(f64s)),
        Arc::new(
            Decimal128Array::from(decs)
                .with_precision_and_scale(15, 2)
                .unwrap(),
        ),
        Arc::new(Date32Array::from(dates)),
        Arc::new(BooleanArray::from(bools)),
        Arc::new(Int16Array::from(i16s)),
        Arc::new(Float32Array::from(f32s)),
        Arc::new(UInt64Array::from(u64s)),
        Arc::new(
            Decimal128Array::from(big)
                .with_precision_and_scale(38, 0)
                .unwrap(),
        ),
    ];
    let mut arrays = arrays;
    for (k, dt) in string_types().iter().enumerate() {
        arrays.push(string_column(k, dt, strings));
    }
    let fields: Vec<Field> = arrays
        .iter()
        .enumerate()
        .map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

const TYPES: [SqlType; 11] = [
    SqlType::Int32,
    SqlType::Int64,
    SqlType::UInt8,
    SqlType::Float64,
    SqlType::Decimal {
        precision: 15,
        scale: 2,
    },
    SqlType::Date,
    SqlType::Boolean,
    SqlType::Int16,
    SqlType::Float32,
    SqlType::UInt64,
    SqlType::Decimal {
        precision: 38,
        scale: 0,
    },
];

/// The layouts of the `VARCHAR` columns, which follow the [`TYPES`] columns in the batch.
fn string_types() -> [DataType; 5] {
    [
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Utf8View,
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::LargeUtf8)),
    ]
}

/// Strings with the edges of every layout: empty, NULL, ASCII and multi-byte, prefixes of each
/// other, exactly 12 bytes (the longest inline view) and 13, longer ones that differ at the end,
/// bytes above 0x7f (byte-wise order differs from signed order), `%`, `_` and `\`.
const STRINGS: [Option<&str>; 24] = [
    Some(""),
    None,
    Some("a"),
    Some("abc"),
    Some("abd"),
    Some("ab"),
    Some("PROMO BRASS"),
    Some("PROMO"),
    Some("日本語"),
    Some("日本"),
    Some("é"),
    Some("e"),
    Some("a long string over twelve bytes"),
    Some("a long string over twelve bytez"),
    Some("exactly12byt"),
    Some("exactly13byte"),
    Some("\u{0}"),
    Some("ÿ"),
    Some("AIR REG"),
    None,
    Some("AIR"),
    Some("%_\\"),
    Some("x%y"),
    Some("long prefix 日本語 and more text"),
];

/// Strings whose Unicode case mappings are not ASCII's: `İ` (U+0130) and the KELVIN SIGN
/// (U+212A) lowercase to ASCII (`İ` to two characters), `ß` uppercases to `SS`, final sigma, and
/// letters with accents; with their ASCII look-alikes.
const CASE_STRINGS: [Option<&str>; 24] = [
    Some(""),
    None,
    Some("MAIL"),
    Some("mail"),
    Some("Mail"),
    Some("É"),
    Some("é"),
    Some("ß"),
    Some("SS"),
    Some("\u{212A}"),
    Some("k"),
    Some("K"),
    Some("\u{0130}"),
    Some("i"),
    Some("\u{0130}stanbul"),
    Some("kelvin \u{212A} over twelve bytes"),
    Some("straße"),
    Some("STRASSE"),
    Some("ΣΑΣ"),
    None,
    Some("AIR REG"),
    Some("air reg"),
    Some("Ki"),
    Some("日本語"),
];

/// String column `k` of the batch: `strings` in an order of its own, in layout `dt`.
fn string_column(k: usize, dt: &DataType, strings: &[Option<&str>]) -> ArrayRef {
    let values: Vec<Option<&str>> = (0..ROWS)
        .map(|i| strings[(i * (2 * k + 1) + 3 * k) % strings.len()])
        .collect();
    match dt {
        DataType::Utf8 => Arc::new(StringArray::from(values)),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(values)),
        DataType::Utf8View => {
            // Small blocks: out-of-line strings spread over many data buffers.
            let mut b = StringViewBuilder::new().with_fixed_block_size(64);
            for v in values {
                b.append_option(v);
            }
            Arc::new(b.finish())
        }
        DataType::Dictionary(_, _) => {
            let d: DictionaryArray<Int32Type> = values.into_iter().collect();
            arrow::compute::cast(&d, dt).unwrap()
        }
        other => panic!("not a string layout: {other}"),
    }
}

fn col(index: usize) -> Expr {
    if index >= TYPES.len() {
        return Expr::column(ColumnRef {
            index,
            name: format!("c{index}"),
            ty: SqlType::Utf8,
            data_type: string_types()[index - TYPES.len()].clone(),
            nullable: true,
        });
    }
    let ty = TYPES[index];
    Expr::column(ColumnRef {
        index,
        name: format!("c{index}"),
        ty,
        data_type: ty.to_arrow(),
        nullable: true,
    })
}

/// The indices of the `VARCHAR` columns.
fn string_columns() -> std::ops::Range<usize> {
    TYPES.len()..TYPES.len() + string_types().len()
}

fn str_(s: &str) -> Expr {
    lit(Scalar::Utf8(s.into()), SqlType::Utf8)
}

fn lit(value: Scalar, ty: SqlType) -> Expr {
    Expr::literal(value, ty).unwrap()
}

fn i32_(v: i32) -> Expr {
    lit(Scalar::Int(v as i64), SqlType::Int32)
}

fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    Expr::binary(op, l, r).unwrap()
}

fn cmp(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    bin(op, l, r)
}

/// Both engines on one batch: same mask, or both errors of the same kind. Returns whether the
/// kernel handed the batch back to the interpreter (then they agree by construction).
fn agree_on(e: &Expr, kernel: &FilterKernel, batch: &RecordBatch) -> bool {
    let expected = interp::evaluate_predicate(e, batch);
    let got = match kernel.filter(batch) {
        Ok(None) => return true,
        Ok(Some(mask)) => Ok(mask),
        Err(err) => Err(err),
    };
    match (&expected, &got) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{e} on {} rows", batch.num_rows()),
        (Err(a), Err(b)) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "{e}: interpreter {a}, JIT {b}"
        ),
        _ => panic!(
            "{e} on {} rows: interpreter {expected:?}, JIT {got:?}",
            batch.num_rows()
        ),
    }
    false
}

/// The slices every kernel runs on.
const SLICES: [(usize, usize); 6] = [(0, ROWS), (3, 130), (64, 64), (5, 0), (1, 63), (67, 70)];

/// Where a kernel handed batches back to the interpreter.
#[derive(Debug, Default)]
struct FellBack {
    batch: bool,
    ascii: bool,
    unicode: bool,
}

/// Compiles `e` (it must compile) and checks it on the batches, slices and an empty batch.
fn check_everywhere(e: &Expr) -> FellBack {
    let kernel = match FilterKernel::compile(e, 3) {
        Ok(k) => k,
        Err(err) => panic!("{e} did not compile: {err:?}"),
    };
    let mut fell_back = FellBack::default();
    for (offset, len) in SLICES {
        fell_back.batch |= agree_on(e, &kernel, &batch().slice(offset, len));
        fell_back.ascii |= agree_on(e, &kernel, &ascii_batch().slice(offset, len));
    }
    for (offset, len) in [(0, ROWS), (1, 63), (67, 70)] {
        fell_back.unicode |= agree_on(e, &kernel, &unicode_batch().slice(offset, len));
    }
    fell_back
}

/// [`check_everywhere`], and the kernel must not fall back on ASCII strings.
fn check(e: &Expr) -> FellBack {
    let fell_back = check_everywhere(e);
    assert!(!fell_back.ascii, "{e} fell back on ASCII strings");
    fell_back
}

/// The machine code of a kernel (its optimized IR compiled again for the host) calls nothing:
/// no library division, no helper left out of line.
fn assert_no_calls(e: &Expr) {
    use inkwell::targets::{CodeModel, FileType, RelocMode, Target, TargetMachine};
    let kernel = FilterKernel::compile(e, 3).unwrap();
    let ctx = inkwell::context::Context::create();
    let buffer = inkwell::memory_buffer::MemoryBuffer::create_from_memory_range_copy(
        kernel.ir_after().as_bytes(),
        "kernel",
    );
    let module = ctx.create_module_from_ir(buffer).unwrap();
    let triple = TargetMachine::get_default_triple();
    let machine = Target::from_triple(&triple)
        .unwrap()
        .create_target_machine(
            &triple,
            &TargetMachine::get_host_cpu_name().to_string(),
            &TargetMachine::get_host_cpu_features().to_string(),
            inkwell::OptimizationLevel::Aggressive,
            RelocMode::Default,
            CodeModel::JITDefault,
        )
        .unwrap();
    let asm = machine
        .write_to_memory_buffer(&module, FileType::Assembly)
        .unwrap();
    let asm = String::from_utf8_lossy(asm.as_slice()).to_string();
    let calls: Vec<&str> = asm
        .lines()
        .filter(|l| l.trim_start().starts_with("call") || l.contains("jmp\t__"))
        .collect();
    assert!(calls.is_empty(), "{e}: the kernel calls {calls:?}");
}

fn like(arg: Expr, pattern: &str, escape: Option<char>, negated: bool) -> Expr {
    Expr::like(arg, pattern.into(), escape, false, negated).unwrap()
}

/// Column `index`, named `c{index}`, of SQL type `ty` stored as `data_type`.
fn typed_column(index: usize, ty: SqlType, data_type: DataType) -> Expr {
    Expr::column(ColumnRef {
        index,
        name: format!("c{index}"),
        ty,
        data_type,
        nullable: true,
    })
}
