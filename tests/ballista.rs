//! qjit on a Ballista cluster: the 22 TPC-H queries (SF 0.01) on a cluster inside the test
//! process, with qjit's kernels compiled on the executors and without; plans with qjit
//! expressions through DataFusion's protobuf and back; corrupt and foreign messages as clear
//! errors.
#![cfg(feature = "ballista")]

use std::sync::{Arc, Mutex, OnceLock};

use datafusion::execution::TaskContext;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::physical_plan::{AsExecutionPlan, PhysicalExtensionCodec};
use datafusion_proto::protobuf::PhysicalPlanNode;
use qjit::exec::{Collect, EngineKind, QueryOptions};
use qjit::internals::bench::Answer;

mod common;

use common::{tpch_query_and_answer, tpch_query_names as query_names, tpch_tables as tables};

/// The kernels the executors compiled (their log records), for the whole process.
fn compiled() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LOG.get_or_init(|| Mutex::new(vec![]))
}

struct Recorder;

impl log::Log for Recorder {
    fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
        meta.target() == "qjit"
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target() == "qjit" {
            compiled().lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// A scheduler and two executors inside this process, started once, on a runtime of their own.
fn cluster() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        static RECORDER: Recorder = Recorder;
        log::set_logger(&RECORDER).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        let runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ));
        let options = QueryOptions {
            engine: EngineKind::Jit,
            threads: Some(2),
            ..Default::default()
        };
        runtime
            .block_on(qjit::ballista::standalone(&options))
            .unwrap()
    })
}

fn run_on_cluster(sql: &str, engine: EngineKind) -> qjit::Result<Answer> {
    let options = QueryOptions {
        engine,
        threads: Some(2),
        ..Default::default()
    };
    let mut sink = Collect::default();
    qjit::ballista::plan_query(cluster(), tables(), sql, &options)?.run_into(&mut sink)?;
    let schema = sink.schema.clone().unwrap();
    Ok(Answer::from_batches(&schema, &sink.batches).unwrap())
}

fn check(name: &str, engine: EngineKind) {
    let (sql, expected) = tpch_query_and_answer(name);
    let got = run_on_cluster(&sql, engine).unwrap_or_else(|e| panic!("{name} on {engine:?}: {e}"));
    let (same, why) = got.matches(&expected);
    assert!(same, "{name} on {engine:?} on the cluster: {why}");
}

#[test]
fn the_22_tpch_queries_on_a_cluster_match_the_reference_with_and_without_kernels() {
    let names = query_names();
    assert_eq!(names.len(), 22);
    for name in &names {
        check(name, EngineKind::Interp);
    }
    let before = compiled().lock().unwrap().len();
    for name in &names {
        check(name, EngineKind::Jit);
    }
    let log = compiled().lock().unwrap()[before..].to_vec();
    assert!(
        log.iter()
            .filter(|l| l.starts_with("compiled qjit("))
            .count()
            >= 22,
        "the executors compiled too few kernels: {log:?}"
    );
}

#[test]
fn the_scheduler_plans_with_kernels_unless_the_client_asks_for_interp() {
    let engine = qjit::Engine::new();
    for (asked, kernels) in [
        (EngineKind::Interp, false),
        (EngineKind::Auto, true),
        (EngineKind::Jit, true),
    ] {
        let qjit_config = qjit::ballista::QjitConfig::for_engine(asked);
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_option_extension(qjit_config);
        let state = qjit::ballista::scheduler_session(config, &engine).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let plan = runtime.block_on(async {
            let ctx = SessionContext::new_with_state(state);
            qjit::datafusion::register_tables(&ctx, tables())
                .await
                .unwrap();
            ctx.sql(Q)
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap()
        });
        assert_eq!(
            !qjit::datafusion::kernels(&plan).is_empty(),
            kernels,
            "{asked:?}"
        );
    }
}

#[test]
fn a_scheduler_that_is_not_there_is_one_clear_error() {
    // Port 1 on the loopback: nothing listens there.
    let options = QueryOptions::default();
    let started = std::time::Instant::now();
    let err = qjit::ballista::plan_query("df://127.0.0.1:1", tables(), "SELECT 1", &options)
        .err()
        .expect("no scheduler, yet the query planned");
    let text = err.to_string();
    assert!(
        text.contains("cannot reach a Ballista scheduler at 127.0.0.1:1")
            && text.contains("qjit scheduler --bind"),
        "{text}"
    );
    assert!(started.elapsed().as_secs() < 10);
    let err = qjit::ballista::plan_query("http://x:1", tables(), "SELECT 1", &options)
        .err()
        .unwrap();
    assert!(err.to_string().contains("df://HOST:PORT"), "{err}");
}

/// A plan of `sql` as the scheduler makes it (qjit's rule, expressions only), over the
/// TPC-H tables.
fn scheduler_plan(sql: &str) -> (SessionContext, Arc<dyn ExecutionPlan>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine = qjit::Engine::builder()
            .options(QueryOptions {
                engine: EngineKind::Jit,
                ..Default::default()
            })
            .build()
            .unwrap();
        let config = SessionConfig::new().with_target_partitions(2);
        let state = qjit::ballista::scheduler_session(config, &engine).unwrap();
        let ctx = SessionContext::new_with_state(state);
        qjit::datafusion::register_tables(&ctx, tables())
            .await
            .unwrap();
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        (ctx, plan)
    })
}

fn codec() -> Arc<dyn PhysicalExtensionCodec> {
    qjit::ballista::codec(qjit::Engine::new())
}

const Q: &str = "SELECT l_orderkey, l_extendedprice * (1 - l_discount) AS net \
                 FROM lineitem WHERE l_shipmode IN ('MAIL', 'SHIP') AND l_quantity < 24 \
                 ORDER BY l_orderkey, net LIMIT 20";

fn rows(ctx: &SessionContext, plan: Arc<dyn ExecutionPlan>) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let batches = runtime.block_on(collect(plan, ctx.task_ctx())).unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    text.lines().map(str::to_string).collect()
}

#[test]
fn plans_with_qjit_expressions_travel_as_protobuf_and_keep_their_kernels() {
    // The second query's simple CASE shares its operand through a LET.
    let shared = "SELECT l_orderkey, l_extendedprice * (1 - l_discount) AS net \
                  FROM lineitem WHERE CASE l_quantity * 2 WHEN 2 THEN 'a' WHEN 4 THEN 'b' \
                  ELSE 'c' END <> 'c' AND l_discount < 0.05 ORDER BY l_orderkey, net LIMIT 20";
    for (sql, has_let) in [(Q, false), (shared, true)] {
        let (ctx, plan) = scheduler_plan(sql);
        let kernels = qjit::datafusion::kernels(&plan);
        assert!(
            !kernels.is_empty(),
            "no qjit expression in the plan of {sql}"
        );
        let printed: Vec<String> = kernels.iter().map(|k| k.plan().to_string()).collect();
        assert_eq!(
            printed.iter().any(|p| p.contains("(LET $")),
            has_let,
            "{printed:?}"
        );
        let codec = codec();
        let proto = PhysicalPlanNode::try_from_physical_plan(plan.clone(), codec.as_ref()).unwrap();
        let task: Arc<TaskContext> = ctx.task_ctx();
        let decoded = proto.try_into_physical_plan(&task, codec.as_ref()).unwrap();
        let again = qjit::datafusion::kernels(&decoded);
        assert_eq!(again.len(), kernels.len());
        for (a, b) in kernels.iter().zip(&again) {
            assert_eq!(a.plan(), b.plan());
            assert_eq!(a.to_string(), b.to_string());
        }
        assert_eq!(rows(&ctx, plan), rows(&ctx, decoded.clone()));
        // The decoded kernels compiled (the answer did not come from DataFusion's fallback).
        assert!(again.iter().all(|k| k.kernel().is_ok()));
    }
}

/// The protobuf bytes of the scheduler's plan of [`Q`], and where the first qjit message starts.
fn encoded() -> (SessionContext, Vec<u8>, usize) {
    let (ctx, plan) = scheduler_plan(Q);
    let proto = PhysicalPlanNode::try_from_physical_plan(plan, codec().as_ref()).unwrap();
    let bytes = prost::Message::encode_to_vec(&proto);
    let at = bytes
        .windows(4)
        .position(|w| w == b"QJIT")
        .expect("no qjit message in the plan");
    (ctx, bytes, at)
}

fn decode(ctx: &SessionContext, bytes: &[u8]) -> String {
    let proto: PhysicalPlanNode = prost::Message::decode(bytes).unwrap();
    match proto.try_into_physical_plan(&ctx.task_ctx(), codec().as_ref()) {
        Ok(_) => panic!("a damaged message decoded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_corrupt_message_is_a_clear_error() {
    let (ctx, mut bytes, at) = encoded();
    // A byte of the payload (after "QJIT", format, kind, version, checksum).
    let version = bytes[at + 6] as usize;
    let payload = at + 7 + version + 8;
    bytes[payload + 3] ^= 0x55;
    let text = decode(&ctx, &bytes);
    assert!(
        text.contains("cannot decode a qjit expression") && text.contains("checksum"),
        "{text}"
    );
}

#[test]
fn a_message_of_another_wire_format_names_both_versions() {
    let (ctx, mut bytes, at) = encoded();
    bytes[at + 4] = qjit::ballista::WIRE_FORMAT + 1;
    let text = decode(&ctx, &bytes);
    assert!(
        text.contains("wire format")
            && text.contains(env!("CARGO_PKG_VERSION"))
            && text.contains("same qjit version"),
        "{text}"
    );
}
