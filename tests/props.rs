//! The JIT against the interpreter on the kit's random tables and queries (`tests/kit`):
//!
//! * random predicates compiled alone into a filter kernel at every optimization level, each
//!   batch of the table through the kernel and through the interpreter (`qjit::internals`):
//!   the same selection, or errors of the same kind;
//! * random projections and aggregations through `qjit::exec::run` on both engines: the same
//!   outcome (`kit::check`), as the fuzz target `engines_agree` requires on fuzz input.
//!
//! Failures shrink to a small table and a short query. The aggregation property with its
//! counts of compiled queries, and fixed regression cases, are in `tests/aggregate_props.rs`.
//!
//! Only with the JIT (the `jit` feature): without it both engines are the interpreter.
#![cfg(feature = "jit")]

mod kit;

use proptest::prelude::*;
use qjit::exec::QueryOptions;
use qjit::internals::jit::{CodegenError, FilterKernel, MAX_OPT_LEVEL};
use qjit::internals::{interp, sql};

/// Binds `predicate` as the `WHERE` clause of a query over the kit's table: the typed
/// predicate over the scan batch, and which of the table's columns that batch has (`None` where
/// the binder folded the clause away).
fn bind_predicate(
    table: &kit::TableSpec,
    predicate: &str,
) -> Result<Option<(qjit::ir::Expr, Vec<usize>)>, qjit::Error> {
    let query = format!(
        "SELECT COUNT(*) FROM {} WHERE {predicate}",
        kit::table::TABLE
    );
    let plan = sql::plan_query(&query, kit::table::TABLE, &table.schema())?;
    Ok(plan.filter.map(|e| (e, plan.projection)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn random_predicates_agree_with_the_interpreter(
        table in kit::table_spec(),
        predicate in kit::expr(kit::Kind::Bool, 3),
        level in 0..=MAX_OPT_LEVEL,
    ) {
        let Ok(Some((e, projection))) = bind_predicate(&table, &predicate) else {
            // The binder refused it (a constant that does not fit, say) or folded it away.
            return Ok(());
        };
        let kernel = match FilterKernel::compile(&e, level) {
            Ok(kernel) => kernel,
            Err(CodegenError::NotCompiled(_)) => return Ok(()),
            Err(other) => panic!("{e}: {other:?}"),
        };
        for batch in table.batches() {
            let scan = batch.project(&projection).expect("the plan's columns");
            let expected = interp::evaluate_predicate(&e, &scan);
            let got = match kernel.filter(&scan) {
                // Handed back to the interpreter.
                Ok(None) => continue,
                Ok(Some(mask)) => Ok(mask),
                Err(err) => Err(err),
            };
            match (&expected, &got) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{} on {} rows", e, scan.num_rows()),
                (Err(a), Err(b)) => prop_assert_eq!(
                    std::mem::discriminant(a),
                    std::mem::discriminant(b),
                    "{}: interpreter {}, JIT {}", e, a, b
                ),
                _ => prop_assert!(
                    false,
                    "{} on {} rows: interpreter {:?}, JIT {:?}", e, scan.num_rows(), expected, got
                ),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_queries_agree_with_the_interpreter(
        table in kit::table_spec(),
        query in kit::query(),
    ) {
        let options = QueryOptions { threads: Some(1), ..QueryOptions::default() };
        if let Err(e) = kit::check(&table.source(), &query.sql(), &options) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// The fuzz target's mapping from bytes to a kit case: the same bytes give the same case, and
/// short inputs (the fuzzer's first ones) give one too instead of hanging.
#[test]
fn fuzz_bytes_map_to_one_kit_case() {
    let strategy = (kit::query(), kit::table_spec());
    for bytes in [&[][..], &[0; 3], &[0xff; 40], b"SELECT 1"] {
        let (query, table) = kit::from_bytes(&strategy, bytes).expect("a case");
        let (again, same_table) = kit::from_bytes(&strategy, bytes).expect("a case");
        assert_eq!(query, again);
        assert_eq!(format!("{table:?}"), format!("{same_table:?}"));
    }
}

/// A NaN that a float computation gives is the one canonical NaN in both engines, whatever the
/// sign and payload of the NaNs it came from: LLVM rewrites `-(f * 0.5)` as `f * -0.5`, which
/// keeps the operand's sign where the interpreter's negation flips it (found by the fuzz target
/// `engines_agree`). Columns and constants that pass through keep their bits.
#[test]
fn computed_nans_are_the_canonical_nan_in_both_engines() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float32Array, Float64Array, RecordBatch};
    use arrow::datatypes::{Field, Schema};

    let quiet = f64::from_bits(0x7ff8_0000_0000_0000);
    let f: ArrayRef = Arc::new(Float64Array::from(vec![
        quiet,
        -quiet,
        f64::from_bits(0x7ff8_0000_0000_0123),
        1.5,
        -0.0,
        f64::INFINITY,
    ]));
    let r: ArrayRef = Arc::new(Float32Array::from(vec![
        f32::from_bits(0x7fc0_0000),
        -f32::from_bits(0x7fc0_0000),
        f32::from_bits(0xffc0_0042),
        2.5,
        -0.0,
        f32::NEG_INFINITY,
    ]));
    let schema = Arc::new(Schema::new(vec![
        Field::new("f", f.data_type().clone(), true),
        Field::new("r", r.data_type().clone(), true),
    ]));
    let batch = RecordBatch::try_new(schema.clone(), vec![f, r]).unwrap();
    let source = qjit::exec::Source::batches("t", schema, vec![batch]);
    for sql in [
        "SELECT -(f * 0.5), f * -1.0, -f, f + f, f - f, f * 0.0, -(r * CAST(0.1 AS REAL)) FROM t",
        "SELECT -(r * r), r / CAST(2 AS REAL), CAST(r AS DOUBLE), -CAST(r AS DOUBLE) FROM t",
        "SELECT f FROM t WHERE -(f * 0.5) IS NOT NULL",
    ] {
        let agreed =
            kit::check(&source, sql, &QueryOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let computed = !sql.starts_with("SELECT f FROM");
        for row in agreed.outcome.rows() {
            for v in row.iter().filter(|v| v.starts_with("NaN")) {
                if computed {
                    assert!(
                        v == "NaN#7ff8000000000000" || v == "NaN#7fc00000",
                        "{sql}: {v}"
                    );
                }
            }
        }
    }
}
