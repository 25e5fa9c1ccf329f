//! The code generator against the interpreter: every construct it compiles, on batches with
//! NULLs, edge values, slices at odd offsets, lengths that are not multiples of 64, and empty
//! batches. Every kernel is verified (compiling fails otherwise) before it runs. The batch has a
//! `VARCHAR` column in every layout (see [`string_types`]). Each kernel also runs on an
//! ASCII-only version of the batch, where it must never hand a batch back to the interpreter,
//! and on one of strings whose Unicode case mappings are special, where it may.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, DictionaryArray, Float32Array,
    Float64Array, Int16Array, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    StringViewBuilder, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use proptest::prelude::*;

use super::CodegenError;
use crate::error::Error;
use crate::interp;
use crate::ir::{BinaryOp, ColumnRef, Expr, Func, Scalar, SqlType, UnaryOp};
use crate::jit::FilterKernel;

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

#[test]
fn comparisons_of_every_type() {
    use BinaryOp::*;
    for op in [Eq, NotEq, Lt, LtEq, Gt, GtEq] {
        for i in 0..TYPES.len() {
            check(&cmp(op, col(i), col(i)));
        }
        check(&cmp(op, col(0), i32_(0)));
        check(&cmp(op, col(3), lit(Scalar::Float(0.0), SqlType::Float64)));
        check(&cmp(
            op,
            col(3),
            lit(Scalar::Float(f64::NAN), SqlType::Float64),
        ));
        check(&cmp(op, col(8), lit(Scalar::Float(-0.0), SqlType::Float32)));
        check(&cmp(op, col(4), lit(Scalar::Decimal(-5), dec(15, 2))));
        check(&cmp(op, col(5), lit(Scalar::Date(9000), SqlType::Date)));
        check(&cmp(op, col(6), Expr::boolean(true)));
        check(&cmp(op, col(9), lit(Scalar::UInt(5), SqlType::UInt64)));
        check(&cmp(op, col(0), Expr::null(SqlType::Int32)));
        check(&cmp(op, col(3), bin(Add, col(3), col(3))));
    }
}

#[test]
fn integer_arithmetic_is_checked() {
    use BinaryOp::*;
    // The wrapping operators (DataFusion's integer arithmetic) agree with the interpreter's on
    // the same edge values, where they wrap instead of failing.
    for op in [
        Add,
        Sub,
        Mul,
        Div,
        Mod,
        WrappingAdd,
        WrappingSub,
        WrappingMul,
    ] {
        for (c, one) in [
            (0, i32_(1)),
            (1, lit(Scalar::Int(1), SqlType::Int64)),
            (2, lit(Scalar::UInt(1), SqlType::UInt8)),
            (7, lit(Scalar::Int(1), SqlType::Int16)),
            (9, lit(Scalar::UInt(1), SqlType::UInt64)),
        ] {
            let ty = TYPES[c];
            let zero = Expr::cast(i32_(0), ty).unwrap();
            let minus = if ty.is_signed_integer() {
                Expr::cast(i32_(-1), ty).unwrap()
            } else {
                one.clone()
            };
            for r in [col(c), one.clone(), zero.clone(), minus, Expr::null(ty)] {
                let e = bin(op, col(c), r.clone());
                check(&cmp(Gt, e.clone(), zero.clone()));
                check(&Expr::is_null(e, false));
                check(&Expr::is_null(bin(op, r, col(c)), true));
            }
        }
    }
    // Guarded by AND / OR / CASE: no error where the value is not needed.
    let x = col(0);
    let safe_div = bin(
        And,
        cmp(NotEq, x.clone(), i32_(0)),
        cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
    );
    check(&safe_div);
    let or_div = bin(
        Or,
        cmp(Eq, x.clone(), i32_(0)),
        cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
    );
    check(&or_div);
    let unguarded = bin(
        Or,
        cmp(NotEq, x.clone(), i32_(0)),
        cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
    );
    check(&unguarded);
    for v in [i32::MIN, -1, 0, 1, i32::MAX] {
        check(&cmp(
            Eq,
            Expr::unary(UnaryOp::Neg, i32_(v)).unwrap(),
            x.clone(),
        ));
    }
    check(&cmp(
        Lt,
        Expr::unary(UnaryOp::Neg, x.clone()).unwrap(),
        i32_(0),
    ));
    check(&cmp(
        Lt,
        Expr::unary(UnaryOp::Neg, col(2)).unwrap(),
        lit(Scalar::UInt(1), SqlType::UInt8),
    ));
}

#[test]
fn float_arithmetic() {
    use BinaryOp::*;
    for op in [Add, Sub, Mul, Div, Mod] {
        for r in [
            col(3),
            lit(Scalar::Float(2.0), SqlType::Float64),
            lit(Scalar::Float(-0.0), SqlType::Float64),
            Expr::null(SqlType::Float64),
        ] {
            check(&cmp(Lt, bin(op, col(3), r.clone()), col(3)));
            check(&cmp(Eq, bin(op, r, col(3)), col(3)));
        }
        check(&cmp(GtEq, bin(op, col(8), col(8)), col(8)));
    }
    check(&cmp(
        Gt,
        Expr::unary(UnaryOp::Neg, col(3)).unwrap(),
        lit(Scalar::Float(0.0), SqlType::Float64),
    ));
}

#[test]
fn decimal_arithmetic_and_precision() {
    use BinaryOp::*;
    let d = col(4);
    let big = col(10);
    for (l, r) in [
        (d.clone(), d.clone()),
        (d.clone(), lit(Scalar::Decimal(-250), dec(5, 3))),
        (lit(Scalar::Decimal(7), dec(3, 0)), d.clone()),
        (big.clone(), big.clone()),
        (big.clone(), lit(Scalar::Decimal(1), dec(1, 0))),
        (d.clone(), big.clone()),
        (d.clone(), Expr::null(dec(15, 2))),
    ] {
        for op in [Add, Sub, Mul] {
            let e = bin(op, l.clone(), r.clone());
            check(&Expr::is_null(e.clone(), true));
            check(&cmp(Gt, e.clone(), e));
        }
    }
    check(&cmp(
        Lt,
        Expr::unary(UnaryOp::Neg, d.clone()).unwrap(),
        lit(Scalar::Decimal(0), dec(15, 2)),
    ));
    check(&cmp(
        Lt,
        Expr::func(Func::Abs, vec![d.clone()]).unwrap(),
        lit(Scalar::Decimal(100), dec(15, 2)),
    ));
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

#[test]
fn decimal_division_and_modulo() {
    use BinaryOp::*;
    let d = col(4);
    let big = col(10);
    let nonzero = |x: &Expr| cmp(NotEq, x.clone(), Expr::cast(i32_(0), x.ty()).unwrap());
    let operands = [
        (d.clone(), d.clone()),
        (d.clone(), lit(Scalar::Decimal(-250), dec(5, 3))),
        (d.clone(), lit(Scalar::Decimal(3), dec(1, 0))),
        (d.clone(), lit(Scalar::Decimal(7), dec(3, 2))),
        (lit(Scalar::Decimal(7), dec(3, 0)), d.clone()),
        (lit(Scalar::Decimal(-1), dec(1, 0)), d.clone()),
        (big.clone(), big.clone()),
        (big.clone(), lit(Scalar::Decimal(3), dec(1, 0))),
        (big.clone(), lit(Scalar::Decimal(-1), dec(1, 0))),
        (
            big.clone(),
            lit(Scalar::Decimal(10i128.pow(20) + 7), dec(38, 0)),
        ),
        (d.clone(), big.clone()),
        (big.clone(), d.clone()),
        (d.clone(), Expr::null(dec(15, 2))),
        (Expr::null(dec(15, 2)), d.clone()),
        (d.clone(), lit(Scalar::Decimal(0), dec(15, 2))),
        // The numerator's factor 10^76 leaves i128: only a zero numerator divides.
        (big.clone(), lit(Scalar::Decimal(5), dec(38, 38))),
        (
            lit(Scalar::Decimal(0), dec(1, 0)),
            lit(Scalar::Decimal(5), dec(38, 38)),
        ),
    ];
    for (l, r) in operands {
        for op in [Div, Mod] {
            let e = bin(op, l.clone(), r.clone());
            let zero = Expr::cast(i32_(0), e.ty()).unwrap();
            check(&Expr::is_null(e.clone(), true));
            check(&cmp(Gt, e.clone(), zero.clone()));
            // Guarded: no division by zero where the divisor is zero.
            check(&bin(And, nonzero(&r), cmp(LtEq, e.clone(), zero.clone())));
            let case = Expr::case(
                vec![(nonzero(&r), cmp(Lt, e.clone(), zero))],
                None,
                SqlType::Boolean,
            )
            .unwrap();
            check(&case);
        }
    }
    // Halves round away from zero: 0.05 / 2 = 0.025000 but -0.05 / 0.03 = -1.666667.
    for (a, b) in [(5, 2), (-5, 2), (5, -3), (-5, -3), (1, 8), (-1, 8), (2, 3)] {
        let quotient = bin(
            Div,
            lit(Scalar::Decimal(a), dec(3, 2)),
            lit(Scalar::Decimal(b), dec(3, 2)),
        );
        let (n, q) = (a * 1_000_000, a * 1_000_000 / b);
        let half = 2 * (n % b).abs() >= b.abs();
        let expected = if half { q + n.signum() * b.signum() } else { q };
        let ty = quotient.ty();
        check(&cmp(Eq, quotient, lit(Scalar::Decimal(expected), ty)));
    }
    let positive = |e: Expr| {
        let zero = Expr::cast(i32_(0), e.ty()).unwrap();
        cmp(Gt, e, zero)
    };
    assert_no_calls(&positive(bin(Div, big.clone(), d.clone())));
    assert_no_calls(&positive(bin(Mod, d.clone(), big.clone())));
    assert_no_calls(&positive(bin(Div, big, lit(Scalar::Decimal(3), dec(1, 0)))));
}

#[test]
fn logic_in_case_and_null_tests() {
    use BinaryOp::*;
    let b = col(6);
    let x = col(0);
    for op in [And, Or] {
        check(&bin(op, b.clone(), b.clone()));
        check(&bin(op, b.clone(), cmp(Gt, x.clone(), i32_(0))));
        check(&bin(op, Expr::null(SqlType::Boolean), b.clone()));
        check(&bin(
            op,
            b.clone(),
            cmp(Gt, bin(Add, x.clone(), i32_(1)), i32_(0)),
        ));
    }
    check(&Expr::unary(UnaryOp::Not, b.clone()).unwrap());
    check(&Expr::is_null(x.clone(), false));
    check(&Expr::is_null(Expr::null(SqlType::Null), false));
    check(&Expr::null(SqlType::Boolean));
    check(&Expr::null(SqlType::Null));
    // A NULL-typed predicate is not evaluated at all (no division by zero), as in the
    // interpreter.
    let null_case = Expr::case(
        vec![(
            cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
            Expr::null(SqlType::Null),
        )],
        None,
        SqlType::Null,
    )
    .unwrap();
    check(&null_case);
    check(&Expr::boolean(true));
    for negated in [false, true] {
        check(&Expr::in_list(x.clone(), vec![i32_(1), i32_(-7), i32_(i32::MIN)], negated).unwrap());
        check(
            &Expr::in_list(
                x.clone(),
                vec![i32_(1), Expr::null(SqlType::Int32)],
                negated,
            )
            .unwrap(),
        );
        check(
            &Expr::in_list(
                col(3),
                vec![
                    lit(Scalar::Float(f64::NAN), SqlType::Float64),
                    lit(Scalar::Float(0.0), SqlType::Float64),
                ],
                negated,
            )
            .unwrap(),
        );
        check(&Expr::in_list(b.clone(), vec![Expr::boolean(false)], negated).unwrap());
    }
    // CASE WHEN x <> 0 THEN 10 / x > 1 WHEN x IS NULL THEN NULL ELSE 100 / x = 0 END: the
    // branches fail only where taken.
    let case = Expr::case(
        vec![
            (
                cmp(NotEq, x.clone(), i32_(0)),
                cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)),
            ),
            (
                Expr::is_null(x.clone(), false),
                Expr::null(SqlType::Boolean),
            ),
        ],
        Some(cmp(
            Eq,
            bin(Mod, i32_(100), bin(Add, x.clone(), i32_(1))),
            i32_(0),
        )),
        SqlType::Boolean,
    )
    .unwrap();
    check(&case);
    let failing = Expr::case(
        vec![(b.clone(), cmp(Gt, bin(Div, i32_(10), x.clone()), i32_(1)))],
        None,
        SqlType::Boolean,
    )
    .unwrap();
    check(&failing);
    let valued = Expr::case(
        vec![(cmp(Gt, x.clone(), i32_(0)), bin(Mul, x.clone(), i32_(2)))],
        Some(x.clone()),
        SqlType::Int32,
    )
    .unwrap();
    check(&cmp(Gt, valued, i32_(10)));
}

#[test]
fn casts_and_functions() {
    use BinaryOp::*;
    let targets = [
        SqlType::Int8,
        SqlType::Int16,
        SqlType::Int32,
        SqlType::Int64,
        SqlType::UInt8,
        SqlType::UInt16,
        SqlType::UInt32,
        SqlType::UInt64,
        SqlType::Float32,
        SqlType::Float64,
        SqlType::Boolean,
        dec(5, 2),
        dec(38, 10),
    ];
    for source in [0, 1, 2, 3, 6, 7, 8, 9, 4] {
        for to in targets {
            let from = TYPES[source];
            if !crate::ir::can_cast(from, to) || from == to {
                continue;
            }
            let e = Expr::is_null(Expr::cast(col(source), to).unwrap(), false);
            // Every numeric cast compiles and converts every row itself (the float and
            // decimal ones call the runtime for some).
            assert!(!check(&e).batch, "{e} fell back");
        }
    }
    let d = col(5);
    check(&cmp(
        Lt,
        Expr::func(Func::DateAddDays, vec![d.clone(), col(0)]).unwrap(),
        d.clone(),
    ));
    check(&cmp(
        Gt,
        Expr::func(
            Func::DateDiffDays,
            vec![d.clone(), lit(Scalar::Date(-2_000_000_000), SqlType::Date)],
        )
        .unwrap(),
        i32_(0),
    ));
    for c in [0, 1, 2, 3, 7, 8] {
        let a = Expr::func(Func::Abs, vec![col(c)]).unwrap();
        check(&cmp(Eq, a, col(c)));
    }
}

#[test]
fn round_every_numeric_type() {
    use BinaryOp::*;
    for c in [0, 1, 2, 3, 4, 7, 8, 9, 10] {
        for digits in [-400, -40, -38, -19, -10, -3, -1, 0, 1, 2, 3, 20, 400] {
            let Ok(r) = Expr::func(Func::Round { digits }, vec![col(c)]) else {
                continue;
            };
            let zero = Expr::cast(i32_(0), r.ty()).unwrap();
            check(&cmp(Gt, r.clone(), zero.clone()));
            check(&Expr::is_null(r.clone(), false));
            if r.ty().is_float() {
                // NaN, -0 and infinities come back as the interpreter computes them.
                check(&cmp(Eq, r.clone(), col(c)));
            }
        }
    }
    // Halves, both signs, for floats (to even) and decimals (away from zero).
    for v in [
        0.5, 1.5, 2.5, -2.5, -0.5, 0.125, 0.375, 1234.5, 25.0, 35.0, 1e300, -1e-300,
    ] {
        for digits in [-1, 0, 2, 400, -400] {
            let x = lit(Scalar::Float(v), SqlType::Float64);
            let r = Expr::func(Func::Round { digits }, vec![bin(Mul, x, col(3))]).unwrap();
            check(&cmp(Lt, r, col(3)));
        }
    }
    for v in [5, -5, 15, -15, 25, 44, -45, 99_999] {
        for digits in [-2, -1, 0, 1] {
            let x = bin(Mul, lit(Scalar::Decimal(v), dec(5, 1)), col(4));
            let r = Expr::func(Func::Round { digits }, vec![x]).unwrap();
            let zero = Expr::cast(i32_(0), r.ty()).unwrap();
            check(&cmp(GtEq, r, zero));
        }
    }
}

#[test]
fn extract_and_months_follow_the_civil_calendar() {
    use crate::ir::DatePart;
    use BinaryOp::*;
    let days = [
        i32::MIN,
        i32::MAX,
        -719_468,
        -719_469,
        -1,
        0,
        59,
        60,
        11_016,
        19_753,
        19_782,
        -25_508,
        2_932_896,
    ];
    let dates: Vec<Expr> = days
        .iter()
        .map(|&d| lit(Scalar::Date(d), SqlType::Date))
        .chain([
            col(5),
            Expr::func(Func::DateAddDays, vec![col(5), col(0)]).unwrap(),
        ])
        .collect();
    for d in &dates {
        for part in [DatePart::Year, DatePart::Month, DatePart::Day] {
            let x = Expr::func(Func::Extract(part), vec![d.clone()]).unwrap();
            check(&cmp(Gt, x.clone(), col(0)));
            check(&cmp(Eq, x, i32_(2)));
        }
        for months in [
            col(0),
            i32_(1),
            i32_(-1),
            i32_(13),
            i32_(-25),
            i32_(1_200),
            i32_(70_000_000),
            i32_(-70_000_000),
            Expr::null(SqlType::Int32),
        ] {
            let m = Expr::func(Func::DateAddMonths, vec![d.clone(), months]).unwrap();
            check(&cmp(Lt, m.clone(), col(5)));
            check(&Expr::is_null(m, true));
        }
    }
    // Every day of four years around a leap day, plus a month: the clamped ends of months.
    let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
    let all: Vec<Option<i32>> = (10_900..12_400).map(Some).chain([None]).collect();
    let b = RecordBatch::try_new(schema, vec![Arc::new(Date32Array::from(all))]).unwrap();
    let d = Expr::column(ColumnRef {
        index: 0,
        name: "d".into(),
        ty: SqlType::Date,
        data_type: DataType::Date32,
        nullable: true,
    });
    for months in [1, -1, 12, -12, 11, 25] {
        let m = Expr::func(Func::DateAddMonths, vec![d.clone(), i32_(months)]).unwrap();
        for part in [DatePart::Year, DatePart::Month, DatePart::Day] {
            let x = Expr::func(Func::Extract(part), vec![m.clone()]).unwrap();
            for v in [1, 2, 28, 29, 30, 31, 2000] {
                let e = cmp(Eq, x.clone(), i32_(v));
                let kernel = FilterKernel::compile(&e, 2).unwrap();
                agree_on(&e, &kernel, &b);
            }
        }
    }
}

#[test]
fn casts_that_lower_a_decimal_scale_round_half_away_from_zero() {
    use BinaryOp::*;
    let targets = [
        dec(15, 1),
        dec(14, 0),
        dec(5, 1),
        dec(3, 0),
        dec(38, 1),
        dec(1, 0),
        SqlType::Int8,
        SqlType::Int32,
        SqlType::Int64,
        SqlType::UInt8,
        SqlType::UInt64,
    ];
    for to in targets {
        for source in [
            col(4),
            col(10),
            bin(Mul, col(4), lit(Scalar::Decimal(3), dec(1, 1))),
            lit(Scalar::Decimal(-5), dec(3, 1)),
            lit(Scalar::Decimal(15), dec(3, 1)),
            lit(Scalar::Decimal(-10i128.pow(37) * 5), dec(38, 38)),
        ] {
            let c = Expr::cast(source, to).unwrap();
            check(&Expr::is_null(c.clone(), false));
            let zero = Expr::cast(i32_(0), to).unwrap();
            check(&cmp(Gt, c.clone(), zero.clone()));
            check(&cmp(Eq, c, zero));
        }
    }
}

#[test]
fn schema_mismatch_is_an_error_not_ub() {
    let e = cmp(BinaryOp::Gt, col(0), i32_(0));
    let kernel = FilterKernel::compile(&e, 1).unwrap();
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("c0", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1i64]))],
    )
    .unwrap();
    assert!(matches!(kernel.filter(&other), Err(Error::Internal(_))));
    let empty = RecordBatch::new_empty(Arc::new(Schema::empty()));
    assert!(matches!(kernel.filter(&empty), Err(Error::Internal(_))));
}

#[test]
fn string_comparisons_in_every_layout() {
    use BinaryOp::*;
    let literals = [
        "",
        "abc",
        "ab",
        "日本",
        "ÿ",
        "exactly12byt",
        "exactly13byte",
        "a long string over twelve bytes",
    ];
    for op in [Eq, NotEq, Lt, LtEq, Gt, GtEq] {
        for i in string_columns() {
            // Each layout against itself and against the next one.
            let next = TYPES.len() + (i + 1 - TYPES.len()) % string_types().len();
            check(&cmp(op, col(i), col(i)));
            check(&cmp(op, col(i), col(next)));
            for s in literals {
                check(&cmp(op, col(i), str_(s)));
            }
            for s in &literals[..3] {
                check(&cmp(op, str_(s), col(i)));
            }
            check(&cmp(op, col(i), Expr::null(SqlType::Utf8)));
        }
        check(&cmp(op, str_("abc"), str_("abd")));
    }
}

/// Equality with a constant of up to 16 bytes compares in one or two loads a side instead of a
/// loop, and with a `Utf8View` column from the row's view (length and prefix first, the bytes
/// out of line only where they match): constants of every length 0..=17, equal to strings of
/// the batch, or differing from one only in its first, middle or last byte (with the same
/// length and prefix), or a prefix of one; on either side, negated, and in `IN` lists.
#[test]
fn string_equality_with_constants_of_every_short_length() {
    use BinaryOp::*;
    let long = "a long string over twelve bytes";
    let mut literals: Vec<String> = (0..=17).map(|n| long[..n].to_string()).collect();
    literals.extend(
        [
            "abc",
            "abe",
            "PROMO",
            "PROMO BRASS",
            "PROMO BRASZ",
            "AIR REG",
            "exactly12byt",
            "exactly12byz",
            "exactly13byte",
            "exactly13bytz",
            "日本",
            "日本語",
            "\u{0}",
            "%_\\",
            "Mail",
            "exactly13bytE",
            "exactlY13byte",
            "Exactly13byte",
            "a long string over twelve bytex",
            "a lonG string over twelve bytes",
            "long prefix 日本語 and more texT",
            "long prefix 日本語 and more text",
        ]
        .map(String::from),
    );
    for i in string_columns() {
        for s in &literals {
            check(&cmp(Eq, col(i), str_(s)));
            check(&cmp(NotEq, str_(s), col(i)));
        }
        for negated in [false, true] {
            let items = [
                "AIR",
                "abc",
                "",
                "exactly12byt",
                "PROMO BRASS",
                "exactly13byte",
                "a long string over twelve bytes",
            ]
            .map(str_)
            .to_vec();
            check(&Expr::in_list(col(i), items, negated).unwrap());
        }
    }
}

/// `IN` with items that are not constants: columns, expressions that are NULL on some rows or
/// fail on some, in every type.
#[test]
fn in_lists_with_items_that_are_not_constants() {
    use BinaryOp::*;
    let x = col(0);
    // x where x > 0, else NULL.
    let positive = Expr::case(
        vec![(cmp(Gt, x.clone(), i32_(0)), x.clone())],
        None,
        SqlType::Int32,
    )
    .unwrap();
    let float = |v: f64| lit(Scalar::Float(v), SqlType::Float64);
    for negated in [false, true] {
        let in_ = |arg: Expr, items: Vec<Expr>| Expr::in_list(arg, items, negated).unwrap();
        check(&in_(x.clone(), vec![i32_(1), x.clone()]));
        check(&in_(x.clone(), vec![bin(Mul, x.clone(), i32_(0)), i32_(7)]));
        check(&in_(x.clone(), vec![positive.clone(), i32_(-7)]));
        check(&in_(
            x.clone(),
            vec![positive.clone(), Expr::null(SqlType::Int32)],
        ));
        check(&in_(i32_(7), vec![positive.clone(), x.clone()]));
        check(&in_(Expr::null(SqlType::Int32), vec![x.clone(), i32_(1)]));
        check(&in_(
            Expr::cast(col(7), SqlType::Int32).unwrap(),
            vec![x.clone(), i32_(300)],
        ));
        // NaN equals NaN, -0 equals 0.
        check(&in_(
            col(3),
            vec![bin(Mul, col(3), float(-1.0)), float(f64::NAN)],
        ));
        check(&in_(
            col(4),
            vec![col(4), lit(Scalar::Decimal(5), dec(15, 2))],
        ));
        check(&in_(
            col(5),
            vec![Expr::func(Func::DateAddDays, vec![col(5), i32_(0)]).unwrap()],
        ));
        check(&in_(
            col(6),
            vec![Expr::unary(UnaryOp::Not, col(6)).unwrap()],
        ));
        for i in string_columns() {
            check(&in_(col(i), vec![col(TYPES.len()), str_("abc")]));
        }
        // Items fail where their operands are valid, whatever the argument (the interpreter
        // evaluates every item over the batch): 0 - i32::MIN overflows.
        check(&in_(i32_(1), vec![bin(Sub, i32_(0), x.clone())]));
        check(&in_(
            Expr::null(SqlType::Int32),
            vec![bin(Sub, i32_(0), x.clone())],
        ));
        // Guarded: only where needed.
        check(&bin(
            And,
            cmp(NotEq, x.clone(), i32_(0)),
            in_(i32_(5), vec![bin(Div, i32_(10), x.clone())]),
        ));
    }
}

#[test]
fn string_in_lists_null_tests_and_case() {
    use BinaryOp::*;
    for i in string_columns() {
        check(&Expr::is_null(col(i), false));
        check(&Expr::is_null(col(i), true));
        for negated in [false, true] {
            let items = vec![
                str_("abc"),
                str_(""),
                str_("日本語"),
                str_("a long string over twelve bytez"),
                str_("exactly12byt"),
            ];
            check(&Expr::in_list(col(i), items.clone(), negated).unwrap());
            let mut with_null = items;
            with_null.push(Expr::null(SqlType::Utf8));
            check(&Expr::in_list(col(i), with_null, negated).unwrap());
            check(&Expr::in_list(col(i), vec![str_("AIR"), str_("AIR REG")], negated).unwrap());
        }
        // A string-valued CASE, mixed with numbers.
        let pick = Expr::case(
            vec![(cmp(Gt, col(0), i32_(0)), col(i))],
            Some(col(TYPES.len() + 2)),
            SqlType::Utf8,
        )
        .unwrap();
        check(&cmp(Eq, pick.clone(), str_("abc")));
        check(&cmp(Lt, pick, col(TYPES.len())));
        let no_else = Expr::case(
            vec![(cmp(Lt, col(0), i32_(0)), col(i))],
            None,
            SqlType::Utf8,
        )
        .unwrap();
        check(&Expr::is_null(no_else.clone(), false));
        check(&cmp(GtEq, no_else, str_("a")));
        check(&bin(
            And,
            cmp(Gt, col(i), str_("a")),
            cmp(Lt, col(1), lit(Scalar::Int(5), SqlType::Int64)),
        ));
    }
}

fn like(arg: Expr, pattern: &str, escape: Option<char>, negated: bool) -> Expr {
    Expr::like(arg, pattern.into(), escape, false, negated).unwrap()
}

#[test]
fn like_patterns_that_specialize() {
    let patterns = [
        "",
        "%",
        "%%",
        "abc",
        "ab%",
        "a%",
        "%bc",
        "%b%",
        "PROMO%",
        "%BRASS",
        "%本%",
        "日本%",
        "%語",
        "exactly12%",
        "%twelve bytez",
        "%over twelve%",
        "a long string over twelve bytes",
        "\\%%",
        "%\\",
        "x\\%y",
        "%\\_%",
        "ÿ",
    ];
    for i in string_columns() {
        for p in patterns {
            for negated in [false, true] {
                check(&like(col(i), p, Some('\\'), negated));
            }
        }
        check(&like(col(i), "x#%y", Some('#'), false));
        check(&like(col(i), "%#_%", Some('#'), false));
        check(&like(col(i), "%\\", None, false));
        check(&like(str_("abc"), "a%", None, false));
        check(&like(Expr::null(SqlType::Utf8), "a%", None, false));
    }
}

#[test]
fn like_patterns_with_underscores_and_segments() {
    let patterns = [
        "a_c",
        "_",
        "__",
        "___",
        "日_語",
        "%本_",
        "_本%",
        "_%_",
        "%a%b%",
        "a%b%c",
        "%1%2_3%",
        "%_x_%",
        "ab%ba",
        "%e%e%",
        "%o%e%",
        "a%s",
        "%long%twelve%",
        "____________",
        "_____________",
        "exactly1_b%",
        "%o_g%s_r%z",
        "\\%\\_%",
        "%_\\%_%",
    ];
    for i in string_columns() {
        for p in patterns {
            for negated in [false, true] {
                check(&like(col(i), p, Some('\\'), negated));
            }
        }
    }
}

/// Every pattern of up to three characters over `a`, `é`, `%`, `_` against every string of up
/// to four characters over `a`, `é` (as the interpreter's own exhaustive test).
#[test]
fn like_agrees_on_all_small_cases() {
    fn all(alphabet: &[&str], max: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..max {
            frontier = frontier
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            out.extend(frontier.iter().cloned());
        }
        out
    }
    let texts = all(&["a", "é"], 4);
    let mut values: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
    values.push(None);
    let array: ArrayRef = Arc::new(StringArray::from(values));
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let b = RecordBatch::try_new(schema, vec![array]).unwrap();
    let s = Expr::column(ColumnRef {
        index: 0,
        name: "s".into(),
        ty: SqlType::Utf8,
        data_type: DataType::Utf8,
        nullable: true,
    });
    for p in all(&["a", "é", "%", "_"], 3) {
        let e = like(s.clone(), &p, None, false);
        let kernel = FilterKernel::compile(&e, 1).unwrap();
        agree_on(&e, &kernel, &b);
    }
}

#[test]
fn length_and_substring_count_characters() {
    use BinaryOp::*;
    let i64_ = |v: i64| lit(Scalar::Int(v), SqlType::Int64);
    for i in string_columns() {
        let len = Expr::func(Func::Length, vec![col(i)]).unwrap();
        for n in [0, 1, 2, 3, 12, 13] {
            check(&cmp(Eq, len.clone(), i32_(n)));
        }
        check(&cmp(Gt, len.clone(), col(0)));
        let starts = [
            i64_(i64::MIN),
            i64_(-3),
            i64_(0),
            i64_(1),
            i64_(2),
            i64_(4),
            i64_(13),
            i64_(i64::MAX),
            col(1),
            Expr::null(SqlType::Int64),
        ];
        for start in &starts {
            let sub = Expr::func(Func::Substring, vec![col(i), start.clone()]).unwrap();
            check(&cmp(Eq, sub.clone(), str_("bc")));
            check(&Expr::is_null(sub.clone(), false));
            for count in [
                i64_(0),
                i64_(1),
                i64_(2),
                i64_(5),
                i64_(i64::MAX),
                Expr::null(SqlType::Int64),
            ] {
                let sub = Expr::func(Func::Substring, vec![col(i), start.clone(), count]).unwrap();
                for s in ["", "a", "ab", "日本", "本", "ong", "é"] {
                    check(&cmp(Eq, sub.clone(), str_(s)));
                }
                check(&cmp(Lt, sub.clone(), col(i)));
                let n = Expr::func(Func::Length, vec![sub]).unwrap();
                check(&cmp(Eq, n, i32_(1)));
            }
        }
        // A negative length fails where every argument is valid, and only there.
        let neg = Expr::func(Func::Substring, vec![col(i), i64_(1), col(1)]).unwrap();
        check(&cmp(Eq, neg.clone(), str_("a")));
        let guarded = bin(
            And,
            cmp(GtEq, col(1), i64_(0)),
            cmp(Eq, neg.clone(), str_("a")),
        );
        check(&guarded);
        let null_text = Expr::func(
            Func::Substring,
            vec![Expr::null(SqlType::Utf8), i64_(1), i64_(-1)],
        )
        .unwrap();
        check(&Expr::is_null(null_text, false));
    }
}

#[test]
fn string_kernels_check_the_layout() {
    let e = cmp(BinaryOp::Eq, col(TYPES.len()), str_("abc"));
    let kernel = FilterKernel::compile(&e, 1).unwrap();
    let field = |dt: DataType| Arc::new(Schema::new(vec![Field::new("c11", dt, true)]));
    let mut columns: Vec<ArrayRef> = batch().columns()[..TYPES.len()].to_vec();
    let mut fields: Vec<Field> = batch().schema().fields()[..TYPES.len()]
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    columns.push(Arc::new(LargeStringArray::from(vec![Some("abc"); ROWS])));
    fields.push(field(DataType::LargeUtf8).field(0).clone());
    let other = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    assert!(matches!(kernel.filter(&other), Err(Error::Internal(_))));
}

/// `ILIKE` with a non-ASCII pattern (İ lowercases to "i̇", which is not ASCII) evaluates ASCII
/// values and hands the others back; `CAST` from a decimal to a float divides exact operands
/// and calls the runtime for the others.
#[test]
fn non_ascii_ilike_patterns_and_decimal_to_float() {
    for s in string_columns() {
        for pattern in ["é%", "%\u{0130}", "%B_", "ÀBC", "%a%é%"] {
            check(&Expr::like(col(s), pattern.into(), None, true, false).unwrap());
            check(&Expr::like(col(s), pattern.into(), None, true, true).unwrap());
        }
    }
    for (c, ty) in [
        (4, SqlType::Float64),
        (4, SqlType::Float32),
        (10, SqlType::Float64),
    ] {
        // Values past 2^24 (REAL) or 2^53 (DOUBLE) call the runtime.
        let zero = lit(Scalar::Float(0.0), ty);
        check(&cmp(
            BinaryOp::Gt,
            Expr::cast(col(c), ty).unwrap(),
            zero.clone(),
        ));
        check(&cmp(
            BinaryOp::Lt,
            bin(BinaryOp::Mul, Expr::cast(col(c), ty).unwrap(), zero.clone()),
            lit(Scalar::Float(1.5), ty),
        ));
    }
}

/// Constructs that may hand a row back to the interpreter compile in every kernel but the
/// `WHERE` clause fused into an aggregation (the executor then filters first).
#[test]
fn fallback_constructs_compile_in_aggregations_but_not_in_their_where_clause() {
    use crate::ir::{AggFunc, AggregateCall};
    use crate::jit::AggregateKernel;
    let s = col(TYPES.len());
    let count = [AggregateCall::new(AggFunc::CountStar, None).unwrap()];
    let upper = Expr::func(Func::Upper, vec![s.clone()]).unwrap();
    let lower = Expr::func(Func::Lower, vec![s.clone()]).unwrap();
    let cases = [
        (
            Expr::like(s.clone(), "a%".into(), None, true, false).unwrap(),
            "ILIKE is not compiled in an aggregation's WHERE clause yet",
        ),
        (
            cmp(BinaryOp::Eq, upper.clone(), str_("A")),
            "UPPER is not compiled in an aggregation's WHERE clause yet",
        ),
        (
            cmp(BinaryOp::Eq, lower, str_("a")),
            "LOWER is not compiled in an aggregation's WHERE clause yet",
        ),
        (
            cmp(
                BinaryOp::Eq,
                bin(BinaryOp::Concat, s.clone(), s),
                str_("aa"),
            ),
            "|| (string concatenation) is not compiled in an aggregation's WHERE clause yet",
        ),
    ];
    let casts = [
        (
            cmp(
                BinaryOp::Eq,
                Expr::cast(col(TYPES.len()), SqlType::Int32).unwrap(),
                i32_(1),
            ),
            "CAST from VARCHAR to INTEGER is not compiled in an aggregation's WHERE clause yet",
        ),
        (
            cmp(
                BinaryOp::Eq,
                Expr::cast(col(0), SqlType::Utf8).unwrap(),
                str_("1"),
            ),
            "CAST from INTEGER to VARCHAR is not compiled in an aggregation's WHERE clause yet",
        ),
        (
            cmp(
                BinaryOp::Eq,
                Expr::cast(col(6), SqlType::Utf8).unwrap(),
                str_("true"),
            ),
            "CAST from BOOLEAN to VARCHAR is not compiled in an aggregation's WHERE clause yet",
        ),
        (
            cmp(
                BinaryOp::Eq,
                Expr::cast(col(3), SqlType::Utf8).unwrap(),
                str_("1.5"),
            ),
            "CAST from DOUBLE to VARCHAR is not compiled in an aggregation's WHERE clause yet",
        ),
    ];
    for (e, reason) in cases.into_iter().chain(casts) {
        match AggregateKernel::compile(Some(&e), &[], &count, crate::jit::Optimize::level(0)) {
            Err(CodegenError::NotCompiled(r)) => assert_eq!(r, reason),
            other => panic!("{e} in an aggregation: {other:?}"),
        }
        // As a group key it compiles.
        let key = Expr::is_null(e.clone(), false);
        if let Err(other) =
            AggregateKernel::compile(None, &[key], &count, crate::jit::Optimize::level(0))
        {
            panic!("{e} as a key: {other:?}");
        }
        check_everywhere(&e);
    }
}

fn ilike(arg: Expr, pattern: &str, negated: bool) -> Expr {
    Expr::like(arg, pattern.into(), Some('\\'), true, negated).unwrap()
}

#[test]
fn ilike_folds_ascii_and_hands_two_characters_to_the_interpreter() {
    let patterns = [
        "",
        "%",
        "mail",
        "MAIL",
        "Ma%",
        "%IL",
        "%ai%",
        "air reg",
        "AIR%",
        "%Reg",
        "%o b%",
        "promo%",
        "k",
        "K",
        "i",
        "_",
        "__",
        "_ail",
        "%k%",
        "%i%",
        "ki",
        "k_",
        "%_I",
        "a%r%G",
        "%S%S%",
        "ss",
        "%E",
        "exactly12BYT",
        "%Twelve Bytez",
        "%\\%%",
        "X%Y",
        // The KELVIN SIGN lowercases to ASCII `k`: an ASCII pattern.
        "\u{212A}%",
    ];
    for i in string_columns() {
        for p in patterns {
            for negated in [false, true] {
                // The test batch has non-ASCII strings but neither special character.
                assert!(!check(&ilike(col(i), p, negated)).batch, "{p} fell back");
            }
        }
        // The Unicode batch has both special characters in every slice.
        assert!(check(&ilike(col(i), "%k%", false)).unicode);
        check(&ilike(str_("MaIl"), "mail", false));
        assert!(check_everywhere(&ilike(str_("\u{212A}"), "k", false)).ascii);
        check(&ilike(Expr::null(SqlType::Utf8), "a%", false));
        // Needed only where the left side does not decide.
        check(&bin(
            BinaryOp::And,
            cmp(BinaryOp::Gt, col(0), i32_(0)),
            ilike(col(i), "%K%", true),
        ));
    }
    assert_no_calls(&ilike(col(TYPES.len()), "%ai%", false));
    assert_no_calls(&ilike(col(TYPES.len() + 2), "a%b_c%", false));
    assert_no_calls(&ilike(col(TYPES.len() + 1), "AIR", false));
}

#[test]
fn upper_and_lower_map_ascii_and_hand_the_rest_to_the_interpreter() {
    use BinaryOp::*;
    let upper = |e: Expr| Expr::func(Func::Upper, vec![e]).unwrap();
    let lower = |e: Expr| Expr::func(Func::Lower, vec![e]).unwrap();
    for i in string_columns() {
        let next = TYPES.len() + (i + 1 - TYPES.len()) % string_types().len();
        for s in [
            "",
            "MAIL",
            "mail",
            "AIR REG",
            "PROMO BRASS",
            "ABC",
            "abc",
            "?",
        ] {
            check(&cmp(Eq, upper(col(i)), str_(s)));
            check(&cmp(Eq, lower(col(i)), str_(s)));
        }
        let fell_back = check(&cmp(Eq, upper(col(i)), str_("MAIL")));
        assert!(fell_back.batch, "the test batch has non-ASCII strings");
        check(&like(lower(col(i)), "a%", None, false));
        check(&like(upper(col(i)), "%O_B%", None, true));
        check(&ilike(upper(col(i)), "%mo%", false));
        check(&cmp(Lt, upper(col(i)), col(i)));
        check(&cmp(Eq, lower(upper(col(i))), lower(col(next))));
        check(&cmp(GtEq, upper(lower(col(i))), upper(col(i))));
        check(&Expr::is_null(upper(col(i)), false));
        check(&cmp(
            Eq,
            Expr::func(Func::Length, vec![lower(col(i))]).unwrap(),
            i32_(3),
        ));
        let sub = Expr::func(
            Func::Substring,
            vec![upper(col(i)), lit(Scalar::Int(2), SqlType::Int64)],
        )
        .unwrap();
        check(&cmp(Eq, sub, str_("BC")));
        let pick = Expr::case(
            vec![(cmp(Gt, col(0), i32_(0)), upper(col(i)))],
            Some(lower(col(next))),
            SqlType::Utf8,
        )
        .unwrap();
        check(&cmp(Eq, pick, str_("abc")));
        // Only where needed.
        check(&bin(
            Or,
            Expr::is_null(col(i), false),
            cmp(Eq, upper(col(i)), str_("ABC")),
        ));
    }
    check(&cmp(Eq, upper(str_("abc")), str_("ABC")));
    assert!(check_everywhere(&cmp(Eq, lower(str_("ÀB")), str_("àb"))).ascii);
    check(&Expr::is_null(upper(Expr::null(SqlType::Utf8)), true));
    assert_no_calls(&cmp(Eq, upper(col(TYPES.len())), str_("MAIL")));
    assert_no_calls(&like(lower(col(TYPES.len() + 2)), "a%", None, false));
}

#[test]
fn concatenation_builds_strings_in_the_scratch_area() {
    use BinaryOp::*;
    let cat = |l: Expr, r: Expr| bin(Concat, l, r);
    for i in string_columns() {
        let next = TYPES.len() + (i + 1 - TYPES.len()) % string_types().len();
        for s in ["", "aa", "abcabc", "ab", "PROMOPROMO", "日本日本"] {
            check(&cmp(Eq, cat(col(i), col(i)), str_(s)));
        }
        check(&cmp(Eq, cat(col(i), str_("x")), str_("abcx")));
        check(&cmp(Eq, cat(str_("pre "), col(i)), str_("pre abc")));
        check(&like(cat(col(i), str_("!")), "%c!", None, false));
        check(&cmp(Lt, cat(col(i), col(next)), col(i)));
        check(&Expr::is_null(
            cat(col(i), Expr::null(SqlType::Utf8)),
            false,
        ));
        check(&Expr::is_null(cat(col(i), col(next)), true));
        let four = cat(cat(col(i), str_("-")), cat(col(next), col(i)));
        check(&cmp(GtEq, four.clone(), str_("a")));
        check(&cmp(
            Eq,
            Expr::func(Func::Length, vec![four]).unwrap(),
            i32_(5),
        ));
        check(&cmp(
            Eq,
            Expr::func(Func::Upper, vec![cat(col(i), col(next))]).unwrap(),
            str_("ABCAB"),
        ));
        check(&ilike(cat(col(i), col(next)), "%C%", false));
        let pick = Expr::case(
            vec![(cmp(Gt, col(0), i32_(0)), cat(col(i), str_("+")))],
            Some(cat(str_("long literal over twelve bytes "), col(next))),
            SqlType::Utf8,
        )
        .unwrap();
        check(&cmp(NotEq, pick, str_("abc+")));
        let sub = Expr::func(
            Func::Substring,
            vec![
                cat(col(i), col(i)),
                lit(Scalar::Int(2), SqlType::Int64),
                lit(Scalar::Int(3), SqlType::Int64),
            ],
        )
        .unwrap();
        check(&cmp(Eq, sub, str_("bca")));
    }
    check(&cmp(Eq, cat(str_("a"), str_("b")), str_("ab")));
    assert_no_calls(&cmp(
        Eq,
        cat(col(TYPES.len()), col(TYPES.len() + 2)),
        str_("ab"),
    ));
}

/// A scratch area too small for some rows (a bug in its sizing) makes them fall back; rows
/// whose strings are NULL or fit do not, and nothing is read or written past the area.
#[test]
fn a_short_scratch_area_falls_back() {
    use BinaryOp::*;
    let cat = |l: Expr, r: Expr| bin(Concat, l, r);
    let s = col(TYPES.len());
    let upper = |e: Expr| Expr::func(Func::Upper, vec![e]).unwrap();
    // Each predicate, whether it writes bytes for an empty string, and whether it is NULL on
    // every row.
    let exprs = [
        (
            cmp(Eq, cat(s.clone(), s.clone()), str_("abcabc")),
            false,
            false,
        ),
        (
            Expr::is_null(cat(s.clone(), Expr::null(SqlType::Utf8)), false),
            false,
            true,
        ),
        (
            like(cat(s.clone(), str_("x")), "%cx", None, false),
            true,
            false,
        ),
        (
            cmp(Lt, upper(cat(s.clone(), s.clone())), str_("B")),
            false,
            false,
        ),
    ];
    let b = ascii_batch();
    // A NULL and an empty string.
    let empty = b.slice(0, 2);
    for (e, writes_for_empty, all_null) in &exprs {
        let kernel = FilterKernel::compile(e, 2).unwrap();
        for bytes in [0, 1, 3, 7, 40] {
            for slice in [b.clone(), b.slice(5, 70)] {
                match kernel.filter_with_scratch(&slice, bytes).unwrap() {
                    None => assert!(bytes < 60, "{e}: {bytes} bytes fall back"),
                    Some(mask) => {
                        assert_eq!(mask, interp::evaluate_predicate(e, &slice).unwrap(), "{e}")
                    }
                }
            }
            if !writes_for_empty {
                let mask = kernel.filter_with_scratch(&empty, bytes).unwrap();
                assert_eq!(mask, Some(interp::evaluate_predicate(e, &empty).unwrap()));
            }
        }
        let fell_back = kernel.filter_with_scratch(&b, 0).unwrap().is_none();
        assert_eq!(fell_back, !all_null, "{e}");
    }
}

#[test]
fn scratch_needs_follow_the_strings_built() {
    let s = col(TYPES.len());
    let need = |e: &Expr| FilterKernel::compile(e, 0).unwrap().scratch_need();
    let cat = |l: Expr, r: Expr| bin(BinaryOp::Concat, l, r);
    let upper = |e: Expr| Expr::func(Func::Upper, vec![e]).unwrap();
    assert!(need(&cmp(BinaryOp::Eq, s.clone(), str_("a"))).is_zero());
    assert!(need(&ilike(s.clone(), "a%", false)).is_zero());
    let e = cmp(
        BinaryOp::Eq,
        upper(cat(s.clone(), cat(str_("xyz"), s.clone()))),
        str_("a"),
    );
    // Each string built counts: xyz || s: 3 + M; s || that: 3 + 2M; UPPER of it: 3 + 2M.
    let n = need(&e);
    assert_eq!((n.per_max_len, n.constant), (5, 9));
    assert_eq!(n.bytes(10), Some(59));
    assert_eq!(n.bytes(u64::MAX), None);
}

#[test]
fn every_opt_level_agrees_and_ir_is_kept() {
    let e = bin(
        BinaryOp::And,
        cmp(BinaryOp::Gt, col(4), lit(Scalar::Decimal(0), dec(15, 2))),
        cmp(BinaryOp::Lt, col(5), lit(Scalar::Date(9131), SqlType::Date)),
    );
    for level in 0..=3 {
        let kernel = FilterKernel::compile(&e, level).unwrap();
        assert!(kernel.ir_before().contains("define void @qjit_filter"));
        assert!(kernel.ir_after().contains("define void @qjit_filter"));
        assert!(kernel.ir_before().contains("target-cpu"));
        agree_on(&e, &kernel, &batch());
    }
    assert!(FilterKernel::compile(&e, 4).is_err());
}

// ---- random predicates ----

/// A tiny deterministic generator of well-typed expressions over the test batch.
struct Gen {
    state: u64,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.state >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn literal(&mut self, ty: SqlType) -> Expr {
        if self.below(8) == 0 {
            return Expr::null(ty);
        }
        let v = match ty {
            SqlType::Boolean => Scalar::Boolean(self.below(2) == 0),
            SqlType::Int32 => Scalar::Int(
                [0, 1, -1, 2, 7, i32::MIN as i64, i32::MAX as i64, 100][self.below(8) as usize],
            ),
            SqlType::Int64 => {
                Scalar::Int([0, 1, -1, 3, i64::MIN, i64::MAX][self.below(6) as usize])
            }
            SqlType::Int16 => Scalar::Int([0, 1, -1, 300, i16::MIN as i64][self.below(5) as usize]),
            SqlType::UInt8 => Scalar::UInt([0, 1, 3, 255][self.below(4) as usize]),
            SqlType::UInt64 => Scalar::UInt([0, 1, 5, u64::MAX][self.below(4) as usize]),
            SqlType::Float64 => Scalar::Float(
                [0.0, -0.0, 1.5, f64::NAN, -2.5, f64::INFINITY][self.below(6) as usize],
            ),
            SqlType::Float32 => Scalar::Float([0.0, -0.0, 0.5, f64::NAN][self.below(4) as usize]),
            SqlType::Date => Scalar::Date([8766, 9131, -1, i32::MAX][self.below(4) as usize]),
            SqlType::Decimal { precision, .. } => {
                let max = 10i128.pow(precision as u32) - 1;
                Scalar::Decimal([0, 5, -5, max, -max, 100][self.below(6) as usize])
            }
            SqlType::Utf8 => {
                let i = self.below((STRINGS.len() + CASE_STRINGS.len()) as u64) as usize;
                let s = STRINGS
                    .iter()
                    .chain(&CASE_STRINGS)
                    .nth(i)
                    .copied()
                    .flatten();
                Scalar::Utf8(s.unwrap_or("abc").into())
            }
            _ => Scalar::Null,
        };
        lit(v, ty)
    }

    /// A column type, `VARCHAR` included.
    fn any_type(&mut self) -> SqlType {
        match TYPES.get(self.below(TYPES.len() as u64 + 2) as usize) {
            Some(&t) => t,
            None => SqlType::Utf8,
        }
    }

    /// An expression of type `ty`.
    fn expr(&mut self, ty: SqlType, depth: u32) -> Expr {
        let columns: Vec<usize> = if ty == SqlType::Utf8 {
            string_columns().collect()
        } else {
            (0..TYPES.len()).filter(|&i| TYPES[i] == ty).collect()
        };
        if depth == 0 || self.below(4) == 0 {
            return if !columns.is_empty() && self.below(3) != 0 {
                col(columns[self.below(columns.len() as u64) as usize])
            } else {
                self.literal(ty)
            };
        }
        let d = depth - 1;
        match ty {
            SqlType::Boolean => self.boolean(d),
            SqlType::Date => match self.below(3) {
                0 => {
                    let n = self.expr(SqlType::Int32, d);
                    Expr::func(Func::DateAddDays, vec![self.expr(SqlType::Date, d), n]).unwrap()
                }
                1 => {
                    let n = self.expr(SqlType::Int32, d);
                    Expr::func(Func::DateAddMonths, vec![self.expr(SqlType::Date, d), n]).unwrap()
                }
                _ => col(5),
            },
            SqlType::Decimal { .. } => self.decimal(ty, d),
            t if t.is_integer() || t.is_float() => self.number(t, d),
            SqlType::Utf8 => match self.below(5) {
                0 => {
                    let c = self.boolean(d);
                    let v = self.expr(ty, d);
                    Expr::case(vec![(c, v)], Some(self.expr(ty, d)), ty).unwrap()
                }
                1 => {
                    let f = [Func::Upper, Func::Lower][self.below(2) as usize];
                    Expr::func(f, vec![self.expr(ty, d)]).unwrap()
                }
                2 => bin(BinaryOp::Concat, self.expr(ty, d), self.expr(ty, d)),
                3 => {
                    let from = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10][self.below(11) as usize];
                    Expr::cast(self.expr(TYPES[from], d), SqlType::Utf8).unwrap()
                }
                _ => self.expr(ty, 0),
            },
            _ => self.literal(ty),
        }
    }

    fn number(&mut self, ty: SqlType, d: u32) -> Expr {
        use BinaryOp::*;
        match self.below(7) {
            0 | 1 => {
                let op = [Add, Sub, Mul, Div, Mod][self.below(5) as usize];
                bin(op, self.expr(ty, d), self.expr(ty, d))
            }
            2 => Expr::unary(UnaryOp::Neg, self.expr(ty, d)).unwrap(),
            3 if self.below(2) == 0 => {
                let digits = [-2, -1, 0, 1, 3][self.below(5) as usize];
                Expr::func(Func::Round { digits }, vec![self.expr(ty, d)]).unwrap()
            }
            3 => Expr::func(Func::Abs, vec![self.expr(ty, d)]).unwrap(),
            4 => {
                let from = [
                    SqlType::Int32,
                    SqlType::Int64,
                    SqlType::UInt8,
                    SqlType::Int16,
                    SqlType::Float64,
                    SqlType::Float32,
                    SqlType::Boolean,
                    dec(15, 2),
                    SqlType::Utf8,
                ][self.below(9) as usize];
                let skip = from == SqlType::Boolean && !ty.is_integer();
                if from == ty || skip {
                    return self.expr(ty, d);
                }
                Expr::cast(self.expr(from, d), ty).unwrap()
            }
            5 => {
                let c = self.boolean(d);
                let else_ = if self.below(2) == 0 {
                    Some(self.expr(ty, d))
                } else {
                    None
                };
                Expr::case(vec![(c, self.expr(ty, d))], else_, ty).unwrap()
            }
            _ if ty == SqlType::Int32 && self.below(2) == 0 => Expr::func(
                Func::DateDiffDays,
                vec![self.expr(SqlType::Date, d), self.expr(SqlType::Date, d)],
            )
            .unwrap(),
            _ if ty == SqlType::Int32 => {
                use crate::ir::DatePart::*;
                let part = [Year, Month, Day][self.below(3) as usize];
                Expr::func(Func::Extract(part), vec![self.expr(SqlType::Date, d)]).unwrap()
            }
            _ => self.expr(ty, d),
        }
    }

    fn decimal(&mut self, ty: SqlType, d: u32) -> Expr {
        use BinaryOp::*;
        let Some((p, s)) = ty.decimal_parts() else {
            return self.literal(ty);
        };
        let source = [dec(15, 2), dec(38, 0), dec(5, 3)][self.below(3) as usize];
        let e = match self.below(4) {
            0 => {
                let op = [Add, Sub, Mul, Div, Mod][self.below(5) as usize];
                let l = self.expr(source, d);
                let rt = [dec(15, 2), dec(3, 0)][self.below(2) as usize];
                let r = self.expr(rt, d);
                if op == Mul
                    && !crate::ir::decimal_product_fits(
                        l.ty().decimal_parts().unwrap(),
                        r.ty().decimal_parts().unwrap(),
                    )
                {
                    return self.literal(ty);
                }
                bin(op, l, r)
            }
            1 => Expr::unary(UnaryOp::Neg, self.expr(source, d)).unwrap(),
            2 if self.below(2) == 0 => {
                let from = [SqlType::Float64, SqlType::Float32][self.below(2) as usize];
                Expr::cast(self.expr(from, d), dec(12, 2)).unwrap()
            }
            2 => Expr::cast(self.expr(SqlType::Int32, d), dec(12, 2)).unwrap(),
            _ => self.expr(source, 0),
        };
        // Bring it to `ty`, through the widest type of the scale or directly (rounding).
        if self.below(2) == 0 {
            return Expr::cast(e, ty).unwrap_or_else(|_| self.literal(ty));
        }
        match e.ty().decimal_parts() {
            Some((_, es)) if es <= s => Expr::cast(e, dec(p.max(38), s))
                .and_then(|e| Expr::cast(e, ty))
                .unwrap_or_else(|_| self.literal(ty)),
            _ => self.literal(ty),
        }
    }

    fn boolean(&mut self, d: u32) -> Expr {
        use BinaryOp::*;
        match self.below(7) {
            0 | 1 => {
                let ty = self.any_type();
                let op = [Eq, NotEq, Lt, LtEq, Gt, GtEq][self.below(6) as usize];
                cmp(op, self.expr(ty, d), self.expr(ty, d))
            }
            2 => {
                let op = [And, Or][self.below(2) as usize];
                bin(
                    op,
                    self.expr(SqlType::Boolean, d),
                    self.expr(SqlType::Boolean, d),
                )
            }
            3 => Expr::unary(UnaryOp::Not, self.expr(SqlType::Boolean, d)).unwrap(),
            4 => {
                let ty = self.any_type();
                if self.below(2) == 0 {
                    Expr::is_null(self.expr(ty, d), self.below(2) == 0)
                } else {
                    let items = (0..1 + self.below(3))
                        .map(|_| {
                            if self.below(3) == 0 {
                                self.expr(ty, d)
                            } else {
                                self.literal(ty)
                            }
                        })
                        .collect();
                    Expr::in_list(self.expr(ty, d), items, self.below(2) == 0).unwrap()
                }
            }
            5 => {
                let c = self.expr(SqlType::Boolean, d);
                let v = self.expr(SqlType::Boolean, d);
                let e = self.expr(SqlType::Boolean, d);
                Expr::case(vec![(c, v)], Some(e), SqlType::Boolean).unwrap()
            }
            _ => {
                let patterns = [
                    "%",
                    "abc",
                    "ab%",
                    "%bc",
                    "%b%",
                    "日本%",
                    "%本%",
                    "%語",
                    "exactly12%",
                    "%bytez",
                    "%\\%%",
                    "",
                    "a_c",
                    "%_本%",
                    "_",
                    "a%b%",
                    "%e",
                    "AIR%",
                    "%Mail",
                    "_K%",
                ];
                let p = patterns[self.below(patterns.len() as u64) as usize];
                let s = self.expr(SqlType::Utf8, d);
                let ilike = self.below(3) == 0;
                Expr::like(s, p.into(), Some('\\'), ilike, self.below(2) == 0).unwrap()
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_predicates_agree_with_the_interpreter(seed in any::<u64>(), level in 0u8..=3) {
        let mut g = Gen { state: seed };
        let e = g.boolean(3);
        match FilterKernel::compile(&e, level) {
            Ok(kernel) => {
                for b in [batch(), ascii_batch(), unicode_batch()] {
                    for (offset, len) in [(0, ROWS), (3, 130), (70, 9)] {
                        agree_on(&e, &kernel, &b.slice(offset, len));
                    }
                }
            }
            Err(CodegenError::NotCompiled(_)) => {}
            Err(other) => panic!("{e}: {other:?}"),
        }
    }
}

/// Texts for `CAST(VARCHAR AS …)`: well-formed, padded, signed, with Unicode white space
/// (which the interpreter trims and the kernel hands back), overlong, out of range, not values.
const CAST_TEXTS: [&str; 72] = [
    "0",
    "42",
    " 42 ",
    "\t-7\n",
    "\u{b}8\u{c}\r",
    "+3",
    "-0",
    "007",
    "000000000000000000000001",
    "123456789012345678",
    "-123456789012345678",
    "1234567890123456789",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "255",
    "256",
    "-1",
    "32767",
    "-32769",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "1.5",
    "1.",
    ".5",
    "-.5",
    "-0.05",
    "1.25",
    "1.255",
    "1.250",
    "0.001",
    "999.99",
    "-999.99",
    "1000",
    "0.000000000000000000000000000000000000001",
    "1e3",
    "",
    " ",
    "-",
    "+",
    ".",
    "1-2",
    "abc",
    "1 2",
    "+-1",
    "\u{a0}5\u{a0}",
    "\u{3000}12\u{3000}",
    "\u{663}",
    "1998-12-01",
    " 1998-1-5 ",
    "2000-02-29",
    "1900-02-29",
    "1998-02-30",
    "0-1-1",
    "999999-12-31",
    "1000000-01-01",
    "1998-13-01",
    "1998-00-10",
    "1998-12-00",
    "1998-12-001",
    "1998--12",
    "-1998-12-01",
    "1998-12-01-",
    "\u{3000}1998-12-01",
    "t",
    " TRUE ",
    "yEs",
    "Off",
    "maybe",
    "\u{a0}no",
];

/// Checks `CAST(text AS to)` on a one-row batch against the interpreter's value, as a column of
/// its own. Returns whether the kernel handed the row to the interpreter.
fn cast_from_text_falls_back(kernel: &FilterKernel, e: &Expr, text: &str, to: SqlType) -> bool {
    let s: ArrayRef = Arc::new(StringArray::from(vec![Some(text), None]));
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let b = RecordBatch::try_new(schema, vec![s.clone()]).unwrap();
    let cast = Expr::cast(text_column(), to).unwrap();
    let expected = interp::evaluate(&cast, &b)
        .unwrap_or_else(|_| arrow::array::new_null_array(&to.to_arrow(), 2));
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("v", to.to_arrow(), true),
    ]));
    let b = RecordBatch::try_new(schema, vec![s, expected]).unwrap();
    agree_on(e, kernel, &b)
}

fn text_column() -> Expr {
    Expr::column(ColumnRef {
        index: 0,
        name: "s".into(),
        ty: SqlType::Utf8,
        data_type: DataType::Utf8,
        nullable: true,
    })
}

#[test]
fn casts_from_text_read_common_text_and_hand_the_rest_to_the_interpreter() {
    let targets = [
        SqlType::Int8,
        SqlType::Int16,
        SqlType::Int32,
        SqlType::Int64,
        SqlType::UInt8,
        SqlType::UInt32,
        SqlType::UInt64,
        dec(5, 2),
        dec(3, 3),
        dec(18, 0),
        dec(38, 10),
        dec(38, 38),
        SqlType::Date,
        SqlType::Boolean,
    ];
    let mut read = std::collections::BTreeSet::new();
    for to in targets {
        let v = Expr::column(ColumnRef {
            index: 1,
            name: "v".into(),
            ty: to,
            data_type: to.to_arrow(),
            nullable: true,
        });
        let e = cmp(BinaryOp::Eq, Expr::cast(text_column(), to).unwrap(), v);
        let kernel = FilterKernel::compile(&e, 3).unwrap();
        for text in CAST_TEXTS {
            if !cast_from_text_falls_back(&kernel, &e, text, to) {
                read.insert((to.to_string(), text));
            }
        }
    }
    let kernel_reads = |to: SqlType, text: &str| read.contains(&(to.to_string(), text));
    for text in [
        " 42 ",
        "\t-7\n",
        "\u{b}8\u{c}\r",
        "+3",
        "-0",
        "000000000000000000000001",
    ] {
        assert!(kernel_reads(SqlType::Int32, text), "{text:?}");
    }
    assert!(kernel_reads(SqlType::Int64, "-123456789012345678"));
    assert!(kernel_reads(SqlType::UInt8, "255"));
    for text in [
        "1234567890123456789",
        "256",
        "-1",
        "1.5",
        "1e3",
        "\u{a0}5\u{a0}",
        "\u{3000}12\u{3000}",
        "",
        "abc",
    ] {
        assert!(!kernel_reads(SqlType::UInt8, text), "{text:?}");
    }
    assert!(!kernel_reads(SqlType::Int32, "2147483648"));
    assert!(kernel_reads(SqlType::Int32, "-2147483648"));
    for text in [
        "1.5", "1.", ".5", "-.5", "-0.05", "1.25", "999.99", "-999.99", "42",
    ] {
        assert!(kernel_reads(dec(5, 2), text), "{text:?}");
    }
    for text in ["1.255", "1.250", "1000", "1e3", "\u{a0}5\u{a0}"] {
        assert!(!kernel_reads(dec(5, 2), text), "{text:?}");
    }
    // 39 digits after the point: more than any scale.
    assert!(!kernel_reads(
        dec(38, 38),
        "0.000000000000000000000000000000000000001"
    ));
    assert!(kernel_reads(dec(38, 38), "-.5"));
    assert!(kernel_reads(dec(38, 10), "-123456789012345678"));
    for text in [
        "1998-12-01",
        " 1998-1-5 ",
        "2000-02-29",
        "0-1-1",
        "999999-12-31",
    ] {
        assert!(kernel_reads(SqlType::Date, text), "{text:?}");
    }
    for text in [
        "1900-02-29",
        "1998-13-01",
        "1000000-01-01",
        "\u{3000}1998-12-01",
        "1998-12-00",
    ] {
        assert!(!kernel_reads(SqlType::Date, text), "{text:?}");
    }
    for text in ["t", " TRUE ", "yEs", "Off", "0", "\t-7\n"] {
        let expected = text != "\t-7\n";
        assert_eq!(kernel_reads(SqlType::Boolean, text), expected, "{text:?}");
    }
    assert!(!kernel_reads(SqlType::Boolean, "\u{a0}no"));
}

#[test]
fn casts_from_text_in_every_layout() {
    use BinaryOp::*;
    for i in string_columns() {
        for to in [
            SqlType::Int32,
            SqlType::UInt8,
            dec(5, 2),
            SqlType::Date,
            SqlType::Boolean,
        ] {
            check_everywhere(&Expr::is_null(Expr::cast(col(i), to).unwrap(), false));
        }
        // Only where needed: no text of the batch is a number.
        check(&bin(
            And,
            cmp(Eq, col(i), str_("not a number")),
            cmp(Eq, Expr::cast(col(i), SqlType::Int32).unwrap(), i32_(1)),
        ));
        let pick = Expr::case(
            vec![(Expr::is_null(col(i), false), str_(" 17 "))],
            Some(str_("-3")),
            SqlType::Utf8,
        )
        .unwrap();
        check(&cmp(Gt, Expr::cast(pick, SqlType::Int16).unwrap(), col(7)));
    }
    assert_no_calls(&cmp(
        Eq,
        Expr::cast(col(TYPES.len()), SqlType::Int64).unwrap(),
        col(1),
    ));
    assert_no_calls(&cmp(
        Eq,
        Expr::cast(col(TYPES.len() + 2), dec(15, 2)).unwrap(),
        col(4),
    ));
    assert_no_calls(&cmp(
        Eq,
        Expr::cast(col(TYPES.len() + 1), SqlType::Date).unwrap(),
        col(5),
    ));
    assert_no_calls(&Expr::cast(col(TYPES.len() + 3), SqlType::Boolean).unwrap());
}

#[test]
fn casts_to_text_write_what_the_interpreter_writes() {
    use BinaryOp::*;
    let text = |c: usize| Expr::cast(col(c), SqlType::Utf8).unwrap();
    for c in [0, 1, 2, 4, 5, 6, 7, 9, 10] {
        let ty = TYPES[c];
        check(&Expr::is_null(text(c), false));
        // Back from the text: exact where the kernel reads it (19-digit integers and 7-digit
        // years fall back).
        let back = cmp(Eq, Expr::cast(text(c), ty).unwrap(), col(c));
        if [0, 2, 4, 6, 7].contains(&c) {
            check(&back);
        } else {
            check_everywhere(&back);
        }
        check(&like(text(c), "%0%", None, false));
        check(&cmp(Lt, text(c), col(TYPES.len())));
    }
    for c in [3, 8] {
        check(&Expr::is_null(text(c), false));
        check(&cmp(Eq, Expr::cast(text(c), TYPES[c]).unwrap(), col(c)));
    }
    // Every value against the interpreter's text, as a column of its own.
    let values: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![
            Some(i64::MIN),
            Some(i64::MAX),
            Some(0),
            Some(-1),
            None,
            Some(9),
            Some(10),
            Some(-10),
            Some(999_999_999_999_999_999),
            Some(1_000_000_000_000_000_000),
            Some(-1_000_000_000_000_000_000),
        ])),
        Arc::new(UInt64Array::from(vec![
            u64::MAX,
            0,
            10_000_000_000_000_000_000,
            9_999_999_999_999_999_999,
            1,
        ])),
        Arc::new(UInt8Array::from(vec![0, 9, 10, 99, 100, 255])),
        Arc::new(Int16Array::from(vec![i16::MIN, -9, i16::MAX])),
        Arc::new(Date32Array::from(vec![
            Some(i32::MIN),
            Some(i32::MAX),
            Some(0),
            Some(-1),
            Some(10_561),
            Some(-719_528),
            Some(-719_529),
            Some(-719_162),
            Some(-723_180),
            Some(2_932_896),
            Some(2_932_897),
            None,
            Some(-1_000_000),
        ])),
        Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
    ];
    let decimals = [
        (5, 2, vec![0i128, 5, -5, 100, -12345, 99999, -99999, 10, -1]),
        (3, 3, vec![0, -5, 5, 999, -999, -50]),
        (
            38,
            10,
            vec![
                10i128.pow(38) - 1,
                -(10i128.pow(38) - 1),
                10i128.pow(19),
                10i128.pow(19) - 1,
                -10i128.pow(19),
                10i128.pow(20) + 7,
                -1,
                0,
            ],
        ),
        (38, 0, vec![10i128.pow(38) - 1, -(10i128.pow(37)), 3, 0]),
        (38, 38, vec![10i128.pow(38) - 1, -1, 0, 10i128.pow(37)]),
        (19, 1, vec![-(10i128.pow(19) - 1), 10i128.pow(18), 1]),
    ];
    let mut values = values;
    for (p, s, v) in decimals {
        values.push(Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s as i8)
                .unwrap(),
        ));
    }
    for array in values {
        let dt = array.data_type().clone();
        let ty = SqlType::from_arrow(&dt).unwrap();
        let column = |index: usize, ty: SqlType, data_type: DataType| {
            Expr::column(ColumnRef {
                index,
                name: format!("c{index}"),
                ty,
                data_type,
                nullable: true,
            })
        };
        let x = column(0, ty, dt.clone());
        let cast = Expr::cast(x.clone(), SqlType::Utf8).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("c0", dt.clone(), true)]));
        let b = RecordBatch::try_new(schema, vec![array.clone()]).unwrap();
        let expected = interp::evaluate(&cast, &b).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("c0", dt.clone(), true),
            Field::new("c1", DataType::Utf8, true),
        ]));
        let b = RecordBatch::try_new(schema, vec![array.clone(), expected]).unwrap();
        let e = cmp(Eq, cast, column(1, SqlType::Utf8, DataType::Utf8));
        let kernel = FilterKernel::compile(&e, 3).unwrap();
        assert!(!agree_on(&e, &kernel, &b), "{e} fell back on {dt}");
        let all = kernel.filter(&b).unwrap().unwrap();
        assert_eq!(all.true_count(), array.len() - array.null_count(), "{dt}");
    }
    assert_no_calls(&cmp(Eq, text(1), col(TYPES.len())));
    assert_no_calls(&cmp(Eq, text(4), col(TYPES.len())));
    assert_no_calls(&cmp(Eq, text(5), col(TYPES.len())));
    assert_no_calls(&cmp(Eq, text(10), col(TYPES.len())));
}

// ---- casts through a float's decimal digits ----

/// Checks `CAST(x AS to)` of each value of `values` against the interpreter, one row at a time
/// (so that a row's error is its own): the kernel compares its cast with the interpreter's
/// result, given as a column, both as text (which tells `-0` from `0` and shows `NaN`), and
/// must find them equal on every non-NULL row, or fail where the interpreter fails, without
/// handing a row back.
fn casts_agree(values: ArrayRef, to: SqlType) {
    let dt = values.data_type().clone();
    let from = SqlType::from_arrow(&dt).unwrap();
    let column = |index: usize, ty: SqlType, data_type: DataType| {
        Expr::column(ColumnRef {
            index,
            name: format!("c{index}"),
            ty,
            data_type,
            nullable: true,
        })
    };
    let cast = Expr::cast(column(0, from, dt.clone()), to).unwrap();
    let as_text = |e: Expr| {
        if e.ty() == SqlType::Utf8 {
            e
        } else {
            Expr::cast(e, SqlType::Utf8).unwrap()
        }
    };
    let e = cmp(
        BinaryOp::Eq,
        as_text(cast.clone()),
        as_text(column(1, to, to.to_arrow())),
    );
    let kernel = FilterKernel::compile(&e, 3).unwrap();
    let one = Arc::new(Schema::new(vec![Field::new("c0", dt.clone(), true)]));
    let two = Arc::new(Schema::new(vec![
        Field::new("c0", dt.clone(), true),
        Field::new("c1", to.to_arrow(), true),
    ]));
    for i in 0..values.len() {
        let v = values.slice(i, 1);
        let b = RecordBatch::try_new(one.clone(), vec![v.clone()]).unwrap();
        let expected = interp::evaluate(&cast, &b);
        let column = match &expected {
            Ok(a) => a.clone(),
            Err(_) => arrow::array::new_null_array(&to.to_arrow(), 1),
        };
        let b = RecordBatch::try_new(two.clone(), vec![v.clone(), column]).unwrap();
        match (&expected, kernel.filter(&b)) {
            (Ok(_), Ok(Some(mask))) => assert_eq!(
                mask.value(0),
                v.is_valid(0),
                "{e} on row {i}: interpreter {expected:?}"
            ),
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(&b),
                "{e} on row {i}: interpreter {a}, JIT {b}"
            ),
            (_, got) => panic!("{e} on row {i}: interpreter {expected:?}, JIT {got:?}"),
        }
    }
}

fn f64_values() -> ArrayRef {
    let p53 = 2f64.powi(53);
    Arc::new(Float64Array::from(vec![
        Some(0.0),
        Some(-0.0),
        Some(1.0),
        Some(-1.0),
        Some(1.5),
        Some(0.1),
        Some(-0.1),
        Some(2.5),
        Some(1.005),
        Some(99.995),
        Some(12345678.9),
        Some(123456789.0),
        Some(1e20),
        Some(1e21),
        Some(1e-7),
        Some(p53 - 1.0),
        Some(p53),
        Some(p53 + 2.0),
        Some(-(p53 - 1.0)),
        Some(4503599627370495.5),
        Some(0.30000000000000004),
        Some(f64::NAN),
        Some(-f64::NAN),
        Some(f64::INFINITY),
        Some(f64::NEG_INFINITY),
        Some(f64::MAX),
        Some(f64::MIN),
        Some(f64::MIN_POSITIVE),
        Some(5e-324),
        Some(-5e-324),
        Some(1e300),
        Some(1e-300),
        None,
    ]))
}

fn f32_values() -> ArrayRef {
    Arc::new(Float32Array::from(vec![
        Some(0.0f32),
        Some(-0.0),
        Some(1.5),
        Some(-2.5),
        Some(0.1),
        Some(0.3),
        Some(16777215.0),
        Some(16777216.0),
        Some(16777218.0),
        Some(-16777218.0),
        Some(1e10),
        Some(f32::MAX),
        Some(f32::MIN_POSITIVE),
        Some(1e-45),
        Some(f32::NAN),
        Some(f32::INFINITY),
        Some(f32::NEG_INFINITY),
        None,
    ]))
}

/// The decimal targets of float casts: rounding, small and large precisions, scales that leave
/// no integer digits.
const FLOAT_DECIMAL_TARGETS: [SqlType; 7] = [
    dec(5, 2),
    dec(3, 0),
    dec(12, 2),
    dec(38, 0),
    dec(38, 10),
    dec(18, 18),
    dec(38, 38),
];

#[test]
fn floats_to_text_write_what_the_interpreter_writes() {
    for values in [f64_values(), f32_values()] {
        casts_agree(values, SqlType::Utf8);
    }
}

#[test]
fn floats_to_decimals_read_the_shortest_digits() {
    for values in [f64_values(), f32_values()] {
        for to in FLOAT_DECIMAL_TARGETS {
            casts_agree(values.clone(), to);
        }
    }
}

/// Texts for `CAST(VARCHAR AS REAL|DOUBLE)`: what the kernel reads itself (short decimals, `-0`,
/// at most 2^53 or 2^24 and 22 or 10 digits after the point), what it leaves to the runtime
/// (exponents, words, long digits, Unicode white space), and text that is not a number.
const FLOAT_TEXTS: [&str; 52] = [
    "0",
    "-0",
    "+0.0",
    "-0.000",
    "1.5",
    " 2.5 ",
    "\t-7\n",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "0.1",
    "0.3",
    "123456789012345678",
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "16777216",
    "16777217",
    "0.0000000001",
    "0.00000000001",
    "0.0000000000000000000001",
    "0.00000000000000000000001",
    "1234567890.123",
    "3.4028235e38",
    "3.4028236e38",
    "1e3",
    "1E-7",
    "1e400",
    "4.9e-324",
    "1.7976931348623157e308",
    "inf",
    "-Infinity",
    "NaN",
    "nan",
    "\u{3000}1.25\u{a0}",
    "1234567890123456789012345",
    "",
    " ",
    ".",
    "-",
    "+",
    "abc",
    "1,5",
    "0x10",
    "1e",
    "--1",
    "1_000",
    "1.2.3",
    "\u{663}",
    "1 2",
    "infinity and beyond",
];

#[test]
fn text_to_floats_parses_as_the_interpreter_parses() {
    let texts: ArrayRef = Arc::new(StringArray::from(
        FLOAT_TEXTS
            .iter()
            .map(|t| Some(*t))
            .chain([None])
            .collect::<Vec<_>>(),
    ));
    for to in [SqlType::Float64, SqlType::Float32] {
        casts_agree(texts.clone(), to);
    }
}

#[test]
fn decimals_to_floats_round_correctly() {
    let decimals = [
        (38, 30, vec![10i128.pow(29), -(10i128.pow(29)), 1, -5, 0]),
        (
            38,
            0,
            vec![
                10i128.pow(38) - 1,
                (1 << 53) + 1,
                (1 << 24) + 1,
                1 << 53,
                -(1 << 53) - 3,
                7,
            ],
        ),
        (15, 2, vec![-12345, 5, 999_999_999_999_999, 0]),
        (38, 10, vec![10i128.pow(37) + 1, -1, 12_345_678_901]),
        (12, 11, vec![1, 10i128.pow(11) - 1, 33_333_333_333]),
    ];
    for (p, s, v) in decimals {
        let values: ArrayRef = Arc::new(
            Decimal128Array::from(v)
                .with_precision_and_scale(p, s)
                .unwrap(),
        );
        for to in [SqlType::Float64, SqlType::Float32] {
            casts_agree(values.clone(), to);
        }
    }
}

/// The float casts over the test batch, in every position: filters, `CASE` parts, `AND`'s right
/// side; they compile without handing batches back.
#[test]
fn float_casts_in_predicates() {
    use BinaryOp::*;
    for c in [3, 8] {
        let text = Expr::cast(col(c), SqlType::Utf8).unwrap();
        check(&like(text.clone(), "%.%", None, false));
        check(&cmp(Lt, text.clone(), col(TYPES.len())));
        // Back from the text: the same value (NaN included), for both float types.
        for to in [SqlType::Float64, SqlType::Float32] {
            check(&cmp(
                Eq,
                Expr::cast(text.clone(), to).unwrap(),
                Expr::cast(col(c), to).unwrap(),
            ));
        }
        for to in FLOAT_DECIMAL_TARGETS {
            // NaN and ±inf fail, as do values with too many digits.
            check(&Expr::is_null(Expr::cast(col(c), to).unwrap(), false));
            // Only where needed.
            let small = cmp(
                Lt,
                Expr::func(Func::Abs, vec![col(c)]).unwrap(),
                lit(Scalar::Float(10.0), TYPES[c]),
            );
            check(&bin(
                And,
                small,
                cmp(
                    Gt,
                    Expr::cast(col(c), to).unwrap(),
                    Expr::cast(i32_(0), to).unwrap(),
                ),
            ));
        }
    }
    for s in string_columns() {
        // No text of the batch is a number: the cast fails wherever it is evaluated.
        let parsed = Expr::cast(col(s), SqlType::Float64).unwrap();
        check(&Expr::is_null(parsed.clone(), false));
        check(
            &Expr::case(
                vec![(
                    cmp(Eq, col(s), str_("1.5")),
                    cmp(Eq, parsed, lit(Scalar::Float(1.5), SqlType::Float64)),
                )],
                Some(Expr::boolean(true)),
                SqlType::Boolean,
            )
            .unwrap(),
        );
    }
}

/// The float casts that need no scratch compile inside an aggregation kernel too, where the
/// runtime's answer (or error) stands.
#[test]
fn float_casts_compile_inside_an_aggregation() {
    use crate::ir::{AggFunc, AggregateCall};
    use crate::jit::AggregateKernel;
    let count = [AggregateCall::new(AggFunc::CountStar, None).unwrap()];
    let casts = [
        Expr::cast(col(TYPES.len()), SqlType::Float64).unwrap(),
        Expr::cast(col(TYPES.len() + 2), SqlType::Float32).unwrap(),
        Expr::cast(col(3), dec(12, 2)).unwrap(),
        Expr::cast(col(8), dec(5, 1)).unwrap(),
        Expr::cast(col(10), SqlType::Float64).unwrap(),
        Expr::cast(col(4), SqlType::Float32).unwrap(),
    ];
    for e in casts {
        let predicate = Expr::is_null(e.clone(), false);
        let o = crate::jit::Optimize::level(0);
        AggregateKernel::compile(Some(&predicate), &[], &count, o)
            .unwrap_or_else(|err| panic!("{e} in WHERE: {err:?}"));
        AggregateKernel::compile(None, std::slice::from_ref(&e), &count, o)
            .unwrap_or_else(|err| panic!("{e} as a key: {err:?}"));
    }
}

/// A column of Arrow type `Null` (every row NULL) compiles without being read: in predicates,
/// casts, `IN` lists and `CASE`.
#[test]
fn null_columns_are_null_on_every_row() {
    use BinaryOp::*;
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Int32, true),
        Field::new("n", DataType::Null, true),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from(vec![Some(1), None, Some(-3), Some(7)])),
            Arc::new(arrow::array::NullArray::new(4)),
        ],
    )
    .unwrap();
    let x = Expr::column(ColumnRef {
        index: 0,
        name: "x".into(),
        ty: SqlType::Int32,
        data_type: DataType::Int32,
        nullable: true,
    });
    let n = Expr::column(ColumnRef {
        index: 1,
        name: "n".into(),
        ty: SqlType::Null,
        data_type: DataType::Null,
        nullable: true,
    });
    let as_int = Expr::cast(n.clone(), SqlType::Int32).unwrap();
    let predicates = [
        Expr::is_null(n.clone(), false),
        Expr::is_null(n.clone(), true),
        cmp(Eq, as_int.clone(), x.clone()),
        Expr::in_list(x.clone(), vec![as_int.clone(), i32_(7)], false).unwrap(),
        Expr::in_list(x.clone(), vec![as_int.clone(), i32_(7)], true).unwrap(),
        Expr::is_null(
            Expr::case(
                vec![(cmp(Gt, x.clone(), i32_(0)), as_int.clone())],
                Some(x.clone()),
                SqlType::Int32,
            )
            .unwrap(),
            false,
        ),
    ];
    for e in predicates {
        let kernel = FilterKernel::compile(&e, 3).unwrap_or_else(|err| panic!("{e}: {err:?}"));
        // The kernel never reads `n`.
        assert!(kernel.columns().iter().all(|c| c.index == 0), "{e}");
        assert!(!agree_on(&e, &kernel, &b), "{e} fell back");
    }
}

/// Regression (found by `tests/kernel_memory.rs`): every column load promised `align 8`, as the
/// element size it was computed from was a constant expression, not an integer. A sliced
/// `TINYINT` column starts at any byte, and LLVM widened a vectorized load of four `i8` values,
/// which that promise makes safe, to eight bytes: four past the end of the values buffer. A load
/// promises only its element's alignment.
#[test]
fn column_loads_promise_only_their_elements_alignment() {
    let types = [
        (SqlType::Int8, 1),
        (SqlType::UInt8, 1),
        (SqlType::Int16, 2),
        (SqlType::UInt16, 2),
        (SqlType::Int32, 4),
        (SqlType::UInt32, 4),
        (SqlType::Date, 4),
        (SqlType::Float32, 4),
        (SqlType::Int64, 8),
        (SqlType::Float64, 8),
        (dec(12, 2), 8),
    ];
    for (ty, align) in types {
        let c = Expr::column(ColumnRef {
            index: 0,
            name: "c".into(),
            ty,
            data_type: ty.to_arrow(),
            nullable: true,
        });
        let kernel = FilterKernel::compile(&cmp(BinaryOp::Eq, c.clone(), c), 0).unwrap();
        let loads: Vec<&str> = kernel
            .ir_before()
            .lines()
            .filter(|l| l.contains("= load") && l.contains("%value_ptr"))
            .collect();
        assert!(!loads.is_empty(), "{ty}: no column load in the IR");
        for load in loads {
            assert!(load.ends_with(&format!(", align {align}")), "{ty}: {load}");
        }
    }
}
