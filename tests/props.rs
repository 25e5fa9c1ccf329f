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
