//! Column inputs: `Null` columns and the alignment column loads assume.

use super::*;

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
