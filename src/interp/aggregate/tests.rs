use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, DictionaryArray,
    Float32Array, Float64Array, Int32Array, Int64Array, LargeStringArray, StringArray,
    StringViewArray, UInt8Array,
};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int32Type, Int64Type,
    UInt64Type,
};
use arrow::record_batch::RecordBatch;

use super::super::testutil::{bools, columns, strings};
use super::*;
use crate::ir::{AggFunc, BinaryOp, Scalar};

fn call(func: AggFunc, arg: Option<&Expr>) -> AggregateCall {
    AggregateCall::new(func, arg.cloned()).unwrap()
}

fn run(keys: &[Expr], aggs: &[AggregateCall], batches: &[RecordBatch]) -> RecordBatch {
    let mut agg = Aggregator::new(keys, aggs).unwrap();
    for b in batches {
        agg.update(b).unwrap();
    }
    agg.finish().unwrap()
}

fn i64s(a: &ArrayRef) -> Vec<Option<i64>> {
    a.as_primitive::<Int64Type>().iter().collect()
}

fn f64s(a: &ArrayRef) -> Vec<Option<f64>> {
    a.as_primitive::<Float64Type>().iter().collect()
}

#[test]
fn aggregator_is_send() {
    fn send<T: Send>() {}
    send::<Aggregator>();
}

#[test]
fn no_keys_gives_one_row_even_for_no_input() {
    let (cols, batch) = columns(vec![Arc::new(Int32Array::from(vec![
        Some(1),
        None,
        Some(3),
    ]))]);
    let x = &cols[0];
    let aggs = [
        call(AggFunc::CountStar, None),
        call(AggFunc::Count, Some(x)),
        call(AggFunc::Sum, Some(x)),
        call(AggFunc::Avg, Some(x)),
        call(AggFunc::Min, Some(x)),
        call(AggFunc::Max, Some(x)),
    ];
    let out = run(&[], &aggs, std::slice::from_ref(&batch));
    assert_eq!(out.num_rows(), 1);
    assert_eq!(i64s(out.column(0)), vec![Some(3)]);
    assert_eq!(i64s(out.column(1)), vec![Some(2)]);
    assert_eq!(i64s(out.column(2)), vec![Some(4)]);
    assert_eq!(f64s(out.column(3)), vec![Some(2.0)]);
    assert_eq!(out.column(4).as_primitive::<Int32Type>().value(0), 1);
    assert_eq!(out.column(5).as_primitive::<Int32Type>().value(0), 3);
    assert_eq!(out.schema().field(2).data_type(), &DataType::Int64);

    let empty = run(&[], &aggs, &[batch.slice(0, 0)]);
    assert_eq!(empty.num_rows(), 1);
    assert_eq!(i64s(empty.column(0)), vec![Some(0)]);
    assert_eq!(i64s(empty.column(1)), vec![Some(0)]);
    for c in 2..6 {
        assert_eq!(empty.column(c).null_count(), 1, "column {c}");
    }
    let none = run(&[], &aggs, &[]);
    assert_eq!(none.num_rows(), 1);
    // All-NULL input: SUM is NULL, COUNT(x) 0.
    let nulls = run(&[], &aggs, &[batch.slice(1, 1)]);
    assert_eq!(i64s(nulls.column(0)), vec![Some(1)]);
    assert_eq!(i64s(nulls.column(1)), vec![Some(0)]);
    assert_eq!(nulls.column(2).null_count(), 1);
}

#[test]
fn keys_with_no_input_give_no_rows() {
    let (cols, batch) = columns(vec![Arc::new(Int32Array::from(vec![1]))]);
    let out = run(
        &cols,
        &[call(AggFunc::CountStar, None)],
        &[batch.slice(0, 0)],
    );
    assert_eq!(out.num_rows(), 0);
    assert_eq!(out.num_columns(), 2);
    assert_eq!(out.schema().field(0).name(), "key0");
    assert_eq!(out.schema().field(1).name(), "agg0");
}

#[test]
fn null_keys_group_together_in_first_seen_order() {
    let (cols, batch) = columns(vec![
        Arc::new(StringArray::from(vec![
            Some("b"),
            None,
            Some("a"),
            None,
            Some("b"),
        ])),
        Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
    ]);
    let out = run(&cols[..1], &[call(AggFunc::Sum, Some(&cols[1]))], &[batch]);
    assert_eq!(
        strings(out.column(0)),
        vec![Some("b".into()), None, Some("a".into())]
    );
    assert_eq!(i64s(out.column(1)), vec![Some(6), Some(6), Some(3)]);
}

#[test]
fn string_keys_in_every_layout_come_out_as_utf8() {
    let values = vec![Some("R"), Some("A"), Some("R"), None];
    let layouts: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(values.clone())),
        Arc::new(LargeStringArray::from(values.clone())),
        Arc::new(StringViewArray::from(values.clone())),
        Arc::new(
            values
                .iter()
                .copied()
                .collect::<DictionaryArray<Int32Type>>(),
        ),
    ];
    for layout in layouts {
        let (cols, batch) = columns(vec![layout.clone()]);
        let aggs = [
            call(AggFunc::CountStar, None),
            call(AggFunc::Max, Some(&cols[0])),
        ];
        let out = run(&cols, &aggs, &[batch.clone(), batch.slice(1, 2)]);
        assert_eq!(
            out.column(0).data_type(),
            &DataType::Utf8,
            "{}",
            layout.data_type()
        );
        assert_eq!(
            strings(out.column(0)),
            vec![Some("R".into()), Some("A".into()), None]
        );
        assert_eq!(i64s(out.column(1)), vec![Some(3), Some(2), Some(1)]);
        assert_eq!(out.column(2).data_type(), &DataType::Utf8);
        assert_eq!(
            strings(out.column(2)),
            vec![Some("R".into()), Some("A".into()), None]
        );
    }
}

#[test]
fn merge_appends_new_groups_in_the_other_order() {
    let (cols, b1) = columns(vec![
        Arc::new(Int32Array::from(vec![1, 2, 1])),
        Arc::new(Int64Array::from(vec![10, 20, 30])),
    ]);
    let b2 = RecordBatch::try_new(
        b1.schema(),
        vec![
            Arc::new(Int32Array::from(vec![3, 2, 4])),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
        ],
    )
    .unwrap();
    let aggs = [
        call(AggFunc::Sum, Some(&cols[1])),
        call(AggFunc::Min, Some(&cols[1])),
        call(AggFunc::Avg, Some(&cols[1])),
        call(AggFunc::CountStar, None),
    ];
    let mut a = Aggregator::new(&cols[..1], &aggs).unwrap();
    a.update(&b1).unwrap();
    let mut b = Aggregator::new(&cols[..1], &aggs).unwrap();
    b.update(&b2).unwrap();
    a.merge(b).unwrap();
    let out = a.finish().unwrap();
    let keys: Vec<Option<i32>> = out.column(0).as_primitive::<Int32Type>().iter().collect();
    assert_eq!(keys, vec![Some(1), Some(2), Some(3), Some(4)]);
    assert_eq!(
        i64s(out.column(1)),
        vec![Some(40), Some(22), Some(1), Some(3)]
    );
    assert_eq!(
        i64s(out.column(2)),
        vec![Some(10), Some(2), Some(1), Some(3)]
    );
    assert_eq!(
        f64s(out.column(3)),
        vec![Some(20.0), Some(11.0), Some(1.0), Some(3.0)]
    );
    assert_eq!(
        i64s(out.column(4)),
        vec![Some(2), Some(2), Some(1), Some(1)]
    );

    // Without keys, and with an empty side.
    let aggs = [
        call(AggFunc::Sum, Some(&cols[1])),
        call(AggFunc::Max, Some(&cols[0])),
    ];
    let mut a = Aggregator::new(&[], &aggs).unwrap();
    a.update(&b1).unwrap();
    let mut b = Aggregator::new(&[], &aggs).unwrap();
    b.update(&b2).unwrap();
    a.merge(b).unwrap();
    a.merge(Aggregator::new(&[], &aggs).unwrap()).unwrap();
    let out = a.finish().unwrap();
    assert_eq!(i64s(out.column(0)), vec![Some(66)]);
    assert_eq!(out.column(1).as_primitive::<Int32Type>().value(0), 4);

    let other = Aggregator::new(&cols[..1], &aggs).unwrap();
    let mut unkeyed = Aggregator::new(&[], &aggs).unwrap();
    assert!(matches!(unkeyed.merge(other), Err(Error::Internal(_))));
}

fn decimals(values: Vec<Option<i128>>, p: u8, s: u8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(p, s as i8)
            .unwrap(),
    )
}

#[test]
fn decimal_sums_and_averages_are_exact() {
    // The Q1 shape: sum(price * (1 - discount)), avg(price).
    let (cols, batch) = columns(vec![
        Arc::new(StringViewArray::from(vec!["A", "N", "A", "A"])),
        decimals(vec![Some(1000), Some(2000), Some(3000), None], 15, 2),
        decimals(vec![Some(5), Some(10), Some(0), Some(1)], 15, 2),
    ]);
    let one = Expr::literal(Scalar::Decimal(1), SqlType::decimal(1, 0)).unwrap();
    let disc = Expr::binary(
        BinaryOp::Mul,
        cols[1].clone(),
        Expr::binary(BinaryOp::Sub, one, cols[2].clone()).unwrap(),
    )
    .unwrap();
    let aggs = [
        call(AggFunc::Sum, Some(&disc)),
        call(AggFunc::Avg, Some(&cols[1])),
        call(AggFunc::Sum, Some(&cols[1])),
        call(AggFunc::Min, Some(&cols[1])),
    ];
    let out = run(&cols[..1], &aggs, &[batch]);
    assert_eq!(out.column(1).data_type(), &DataType::Decimal128(38, 4));
    let sums: Vec<Option<i128>> = out
        .column(1)
        .as_primitive::<Decimal128Type>()
        .iter()
        .collect();
    // 10.00 * 0.95 + 30.00 * 1.00 = 39.5000; 20.00 * 0.90 = 18.0000
    assert_eq!(sums, vec![Some(395_000), Some(180_000)]);
    assert_eq!(f64s(out.column(2)), vec![Some(20.0), Some(20.0)]);
    assert_eq!(out.column(3).data_type(), &DataType::Decimal128(38, 2));
    assert_eq!(out.column(4).data_type(), &DataType::Decimal128(15, 2));
    let mins: Vec<Option<i128>> = out
        .column(4)
        .as_primitive::<Decimal128Type>()
        .iter()
        .collect();
    assert_eq!(mins, vec![Some(1000), Some(2000)]);
}

#[test]
fn sum_overflow_is_an_error() {
    let (cols, batch) = columns(vec![Arc::new(Int64Array::from(vec![i64::MAX, 1]))]);
    let mut agg = Aggregator::new(&[], &[call(AggFunc::Sum, Some(&cols[0]))]).unwrap();
    agg.update(&batch).unwrap();
    let e = agg.finish().unwrap_err();
    assert_eq!(
        e.to_string(),
        "BIGINT out of range: the sum of sum(c0) exceeds BIGINT; cast the argument to \
         DECIMAL(38,0) to sum it exactly"
    );
    // The exact sum may pass through a BIGINT overflow and come back.
    let (cols, batch) = columns(vec![Arc::new(Int64Array::from(vec![i64::MAX, 1, -1]))]);
    let out = run(&[], &[call(AggFunc::Sum, Some(&cols[0]))], &[batch]);
    assert_eq!(i64s(out.column(0)), vec![Some(i64::MAX)]);

    // 3 * 6e37 overflows i128 while adding; 2 * 6e37 fits i128 but not 38 digits.
    let big = 6 * 10i128.pow(37);
    let (cols, batch) = columns(vec![decimals(vec![Some(big); 3], 38, 0)]);
    let mut agg = Aggregator::new(&[], &[call(AggFunc::Sum, Some(&cols[0]))]).unwrap();
    let e = agg.update(&batch).and_then(|_| agg.finish().map(|_| ()));
    assert_eq!(
        e.unwrap_err().to_string(),
        "DECIMAL(38,0) out of range: the sum of sum(c0) exceeds 38 digits; cast the argument \
         to DOUBLE to sum it approximately"
    );
    let (cols, batch) = columns(vec![decimals(vec![Some(big), Some(big)], 38, 0)]);
    let mut agg = Aggregator::new(&[], &[call(AggFunc::Sum, Some(&cols[0]))]).unwrap();
    agg.update(&batch).unwrap();
    let e = agg.finish().unwrap_err();
    assert!(
        e.to_string()
            .starts_with("DECIMAL(38,0) out of range: the sum of sum(c0) exceeds 38 digits"),
        "{e}"
    );

    let (cols, batch) = columns(vec![Arc::new(UInt8Array::from(vec![200, 100]))]);
    let out = run(&[], &[call(AggFunc::Sum, Some(&cols[0]))], &[batch]);
    assert_eq!(out.column(0).as_primitive::<UInt64Type>().value(0), 300);
}

#[test]
fn avg_overflow_names_the_call() {
    // The exact sum of AVG over DECIMAL(38,2): three times 6e35 (unscaled 6e37) is past
    // i128.
    let big = 6 * 10i128.pow(37);
    let (cols, batch) = columns(vec![decimals(vec![Some(big); 3], 38, 2)]);
    let mut agg = Aggregator::new(&[], &[call(AggFunc::Avg, Some(&cols[0]))]).unwrap();
    agg.update(&batch).unwrap();
    let e = agg.finish().unwrap_err();
    assert_eq!(
        e.to_string(),
        "DECIMAL(38,2) out of range: the sum of the values of avg(c0) exceeds 38 digits; cast \
         the argument to DOUBLE to average it approximately"
    );
    // The same when partial states are merged; and none when the sum comes back.
    let (cols, batch) = columns(vec![decimals(vec![Some(big); 2], 38, 2)]);
    let (_, down) = columns(vec![decimals(vec![Some(-big); 3], 38, 2)]);
    let aggs = [call(AggFunc::Avg, Some(&cols[0]))];
    let merged = |batches: [&RecordBatch; 2]| {
        let mut a = Aggregator::new(&[], &aggs).unwrap();
        let mut b = Aggregator::new(&[], &aggs).unwrap();
        a.update(batches[0]).unwrap();
        b.update(batches[1]).unwrap();
        a.merge(b).unwrap();
        a.finish()
    };
    let e = merged([&batch, &batch]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("DECIMAL(38,2) out of range: the sum of the values of avg(c0)"),
        "{e}"
    );
    let out = merged([&batch, &down]).unwrap();
    let avg = out.column(0).as_primitive::<Float64Type>().value(0);
    assert_eq!(avg, -6e35 / 5.0);
}

#[test]
fn avg_converts_the_exact_sum_correctly_rounded() {
    // 0.1 at scale 30: the sum converted as (v as f64) / 10^30 would be 0.09999999999999999.
    let tenth = 10i128.pow(29);
    let (cols, batch) = columns(vec![
        decimals(vec![Some(tenth), Some(tenth), None], 38, 30),
        Arc::new(Int64Array::from(vec![Some(i64::MAX), Some(i64::MAX), None])),
    ]);
    let aggs = [
        call(AggFunc::Avg, Some(&cols[0])),
        call(AggFunc::Avg, Some(&cols[1])),
    ];
    let out = run(&[], &aggs, &[batch]);
    assert_eq!(f64s(out.column(0)), vec![Some(0.1)]);
    assert_eq!(f64s(out.column(1)), vec![Some(i64::MAX as f64)]);
}

#[test]
fn min_max_of_every_type() {
    let (cols, batch) = columns(vec![
        Arc::new(Float64Array::from(vec![
            Some(1.0),
            Some(f64::NAN),
            None,
            Some(-1.0),
        ])),
        Arc::new(Float32Array::from(vec![
            Some(1.5f32),
            None,
            Some(-2.5),
            Some(0.0),
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
        ])),
        Arc::new(Date32Array::from(vec![Some(10), Some(-5), None, Some(7)])),
        Arc::new(LargeStringArray::from(vec![
            Some("b"),
            Some("B"),
            None,
            Some("ab"),
        ])),
    ]);
    let mut aggs = vec![];
    for c in &cols {
        aggs.push(call(AggFunc::Min, Some(c)));
        aggs.push(call(AggFunc::Max, Some(c)));
    }
    let out = run(&[], &aggs, std::slice::from_ref(&batch));
    assert_eq!(f64s(out.column(0)), vec![Some(-1.0)]);
    assert!(out
        .column(1)
        .as_primitive::<Float64Type>()
        .value(0)
        .is_nan());
    assert_eq!(out.column(2).as_primitive::<Float32Type>().value(0), -2.5);
    assert_eq!(out.column(3).as_primitive::<Float32Type>().value(0), 1.5);
    assert_eq!(bools(out.column(4)), vec![Some(false)]);
    assert_eq!(bools(out.column(5)), vec![Some(true)]);
    assert_eq!(out.column(6).as_primitive::<Date32Type>().value(0), -5);
    assert_eq!(out.column(7).as_primitive::<Date32Type>().value(0), 10);
    assert_eq!(strings(out.column(8)), vec![Some("B".into())]);
    assert_eq!(strings(out.column(9)), vec![Some("b".into())]);
    // Float sums and averages.
    let aggs = [
        call(AggFunc::Sum, Some(&cols[1])),
        call(AggFunc::Avg, Some(&cols[1])),
    ];
    let out = run(&[], &aggs, &[batch.slice(1, 3)]);
    assert_eq!(f64s(out.column(0)), vec![Some(-2.5)]);
    assert_eq!(f64s(out.column(1)), vec![Some(-1.25)]);
}

#[test]
fn computed_keys_and_arguments_over_sliced_batches() {
    let (cols, batch) = columns(vec![
        Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5, 6])),
        Arc::new(Int64Array::from(vec![
            Some(1),
            None,
            Some(3),
            Some(4),
            None,
            Some(6),
        ])),
    ]);
    let parity = Expr::binary(
        BinaryOp::Mod,
        cols[0].clone(),
        Expr::literal(Scalar::Int(2), SqlType::Int32).unwrap(),
    )
    .unwrap();
    let aggs = [
        call(AggFunc::Count, Some(&cols[1])),
        call(AggFunc::Sum, Some(&cols[1])),
    ];
    let out = run(&[parity], &aggs, &[batch.slice(1, 5)]);
    // Rows 2..=6: parities 0,1,0,1,0; values NULL,3,4,NULL,6.
    let keys: Vec<Option<i32>> = out.column(0).as_primitive::<Int32Type>().iter().collect();
    assert_eq!(keys, vec![Some(0), Some(1)]);
    assert_eq!(i64s(out.column(1)), vec![Some(2), Some(1)]);
    assert_eq!(i64s(out.column(2)), vec![Some(10), Some(3)]);
}

#[test]
fn null_typed_and_boolean_keys() {
    let (cols, batch) = columns(vec![
        Arc::new(BooleanArray::from(vec![
            Some(true),
            None,
            Some(true),
            Some(false),
        ])),
        Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
    ]);
    let null_key = Expr::null(SqlType::Null);
    let aggs = [
        call(AggFunc::CountStar, None),
        call(AggFunc::Count, Some(&Expr::null(SqlType::Int32))),
    ];
    let out = run(
        &[null_key, cols[0].clone()],
        &aggs,
        std::slice::from_ref(&batch),
    );
    assert_eq!(out.num_rows(), 3);
    assert_eq!(out.column(0).data_type(), &DataType::Null);
    assert_eq!(bools(out.column(1)), vec![Some(true), None, Some(false)]);
    assert_eq!(i64s(out.column(2)), vec![Some(2), Some(1), Some(1)]);
    assert_eq!(i64s(out.column(3)), vec![Some(0), Some(0), Some(0)]);
}

#[test]
fn merge_rejects_different_aggregates() {
    let (cols, _) = columns(vec![Arc::new(Int64Array::from(vec![1]))]);
    let mut a = Aggregator::new(&[], &[call(AggFunc::Sum, Some(&cols[0]))]).unwrap();
    let b = Aggregator::new(&[], &[call(AggFunc::Max, Some(&cols[0]))]).unwrap();
    assert!(matches!(a.merge(b), Err(Error::Internal(_))));
}

#[test]
fn finishing_distinct_calls_charges_what_it_builds() {
    let (cols, batch) = columns(vec![
        Arc::new(Int32Array::from(vec![1, 1, 2, 2, 3, 1])),
        Arc::new(Int64Array::from(vec![10, 11, 10, 10, 12, 10])),
        Arc::new(Int64Array::from(vec![5, 6, 7, 8, 9, 5])),
    ]);
    let (k, a, b) = (&cols[0], &cols[1], &cols[2]);
    let distinct = |x: &Expr| AggregateCall::new_distinct(AggFunc::Count, x.clone()).unwrap();
    let aggs = [distinct(a), distinct(b), call(AggFunc::Sum, Some(a))];
    let aggregator = || {
        let mut agg = Aggregator::new(std::slice::from_ref(k), &aggs).unwrap();
        agg.update(&batch).unwrap();
        agg
    };
    // The bytes grow with each step and the answer is that of the plain finish.
    let mut charged = vec![];
    let out = aggregator()
        .finish_within(&mut |bytes| {
            charged.push(bytes);
            Ok(())
        })
        .unwrap();
    assert_eq!(out, aggregator().finish().unwrap());
    assert!(charged.len() >= 4, "{charged:?}");
    assert!(
        charged[0] > 0 && charged.windows(2).all(|w| w[0] <= w[1]),
        "{charged:?}"
    );
    assert_eq!(i64s(out.column(1)), [Some(2), Some(1), Some(1)]);
    assert_eq!(i64s(out.column(2)), [Some(2), Some(2), Some(1)]);
    // A refusal stops the finish with its error.
    let err = aggregator()
        .finish_within(&mut |bytes| {
            if bytes > 0 {
                return Err(Error::MemoryLimit {
                    what: crate::error::MemoryUse::GroupBy,
                    limit: 1,
                });
            }
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { .. }), "{err}");
}
