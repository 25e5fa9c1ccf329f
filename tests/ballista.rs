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

/// The kernels the executors compiled (their log records).
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
        // Only the cluster's: its runtime's and the executors' task threads (other tests
        // compile kernels on their own threads).
        let thread = std::thread::current();
        let on_cluster = matches!(thread.name(), Some(CLUSTER_THREADS | "task_runner"));
        if record.target() == "qjit" && on_cluster {
            compiled().lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// The name of the threads of the cluster's runtime.
const CLUSTER_THREADS: &str = "test-cluster";

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
                .thread_name(CLUSTER_THREADS)
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
    cluster();
    let start = compiled().lock().unwrap().len();
    for name in &names {
        check(name, EngineKind::Interp);
    }
    // With `interp` the scheduler plans no kernels, so the executors compile none.
    let before = compiled().lock().unwrap().len();
    let log = compiled().lock().unwrap()[start..before].to_vec();
    assert!(log.is_empty(), "kernels with --engine interp: {log:?}");
    for name in &names {
        check(name, EngineKind::Jit);
    }
    let log = compiled().lock().unwrap()[before..].to_vec();
    // Expressions and fused aggregations (Q6's, Q14's, Q15's, …) travel, and their kernels
    // compile there: 25 at this writing, 7 of them fused aggregations.
    let count = |start: &str| log.iter().filter(|l| l.starts_with(start)).count();
    let fused = count("compiled QjitAggregateExec: mode=Partial");
    assert!(
        count("compiled qjit(") >= 15 && fused >= 5,
        "the executors compiled too few kernels: {log:?}"
    );
    assert!(
        log.iter().all(|l| l.starts_with("compiled ")),
        "a kernel did not compile on the executors: {log:?}"
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
fn the_clients_engine_reaches_the_scheduler_through_ballistas_settings() {
    use ballista_core::extension::{SessionConfigExt, SessionConfigHelperExt};
    use qjit::ballista::QjitConfig;

    for asked in [EngineKind::Interp, EngineKind::Auto, EngineKind::Jit] {
        let client =
            SessionConfig::new_with_ballista().with_option_extension(QjitConfig::for_engine(asked));
        // What the client sends, set on the scheduler's own config.
        let pairs = client.to_key_value_pairs();
        let scheduler = SessionConfig::new_with_ballista()
            .with_option_extension(QjitConfig::default())
            .update_from_key_value_pair(&pairs);
        let got = scheduler.options().extensions.get::<QjitConfig>().cloned();
        assert_eq!(got, Some(QjitConfig::for_engine(asked)), "{asked:?}");
    }
    let mut config = SessionConfig::new().with_option_extension(QjitConfig::default());
    let err = config
        .options_mut()
        .set("qjit.engine", "fast")
        .unwrap_err()
        .to_string();
    assert!(err.contains("interp, auto or jit"), "{err}");
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

/// A plan of `sql` as the scheduler makes it for a client that asked for `jit` (qjit's rule:
/// fused aggregations, then expressions), over the TPC-H tables.
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
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_option_extension(qjit::ballista::QjitConfig::for_engine(EngineKind::Jit));
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

/// The fused aggregations of `plan`, as `EXPLAIN` shows them.
fn fused(plan: &Arc<dyn ExecutionPlan>) -> Vec<Arc<dyn ExecutionPlan>> {
    let mut out = vec![];
    let mut stack = vec![plan.clone()];
    while let Some(node) = stack.pop() {
        if node.name() == "QjitAggregateExec" {
            out.push(node.clone());
        }
        stack.extend(node.children().into_iter().cloned());
    }
    out
}

fn shown(plan: &Arc<dyn ExecutionPlan>) -> String {
    datafusion::physical_plan::displayable(plan.as_ref())
        .one_line()
        .to_string()
}

/// Q6, and a grouping by a key of a small range with a filter, averages, a count and a
/// minimum of dates: both fused by the scheduler's rule.
const FUSED: [&str; 2] = [
    "SELECT sum(l_extendedprice * l_discount) AS revenue FROM lineitem \
     WHERE l_shipdate >= DATE '1994-01-01' AND l_shipdate < DATE '1995-01-01' \
     AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24",
    "SELECT l_linenumber, sum(l_extendedprice * (1 - l_discount)) AS net, avg(l_quantity) AS q, \
     count(*) AS n, min(l_shipdate) AS first FROM lineitem WHERE l_quantity < 24 \
     GROUP BY l_linenumber ORDER BY l_linenumber",
];

#[test]
fn fused_aggregations_travel_as_protobuf_and_keep_their_kernels() {
    for sql in FUSED {
        let (ctx, plan) = scheduler_plan(sql);
        let before = fused(&plan);
        assert_eq!(before.len(), 1, "{sql} is not fused once");
        let codec = codec();
        let proto = PhysicalPlanNode::try_from_physical_plan(plan.clone(), codec.as_ref()).unwrap();
        let task: Arc<TaskContext> = ctx.task_ctx();
        let decoded = proto.try_into_physical_plan(&task, codec.as_ref()).unwrap();
        let after = fused(&decoded);
        assert_eq!(after.len(), 1, "{sql} lost its fused aggregation");
        assert_eq!(shown(&before[0]), shown(&after[0]));
        assert_eq!(before[0].schema(), after[0].schema());
        assert_eq!(rows(&ctx, plan), rows(&ctx, decoded.clone()));
        // The decoded kernel compiled (the answer did not come from DataFusion's operators).
        let any: &dyn ExecutionPlan = after[0].as_ref();
        let agg = any
            .downcast_ref::<qjit::datafusion::QjitAggregateExec>()
            .unwrap();
        assert!(agg.kernel().is_ok(), "{:?}", agg.kernel().err());
    }
}

#[test]
fn a_fused_aggregation_over_an_input_it_does_not_read_is_a_clear_error() {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion_proto::physical_plan::DefaultPhysicalProtoConverter;

    let (ctx, plan) = scheduler_plan(FUSED[1]);
    let node = fused(&plan).pop().unwrap();
    let codec = codec();
    let converter = DefaultPhysicalProtoConverter {};
    let mut buf = vec![];
    codec
        .try_encode(node.clone(), &mut buf, &converter)
        .unwrap();
    let task = ctx.task_ctx();
    let decode =
        |input: Arc<dyn ExecutionPlan>| codec.try_decode(&buf, &[input], &task, &converter);
    // Over its own input it decodes.
    let again = decode(node.children()[0].clone()).unwrap();
    assert_eq!(shown(&node), shown(&again));
    // One column instead of the base's.
    let one = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    let text = decode(Arc::new(EmptyExec::new(one)))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("cannot decode a qjit expression: a fused aggregation: its operators read"),
        "{text}"
    );
    // The base's columns, each of another type.
    let base = node.children()[0].schema();
    let other: Vec<Field> = base
        .fields()
        .iter()
        .map(|f| {
            let ty = match f.data_type() {
                DataType::Int64 => DataType::Int32,
                _ => DataType::Int64,
            };
            Field::new(f.name(), ty, true)
        })
        .collect();
    let input = Arc::new(EmptyExec::new(Arc::new(Schema::new(other))));
    let text = decode(input).unwrap_err().to_string();
    assert!(text.contains("its input's is"), "{text}");
    // Damaged: a flipped byte of the payload, and a message of another kind.
    let version = buf[6] as usize;
    let mut damaged = buf.clone();
    damaged[7 + version + 8 + 5] ^= 0x55;
    let err = codec
        .try_decode(&damaged, &[node.children()[0].clone()], &task, &converter)
        .unwrap_err()
        .to_string();
    assert!(err.contains("checksum"), "{err}");
    let mut other_kind = buf.clone();
    other_kind[5] = 1;
    let err = codec
        .try_decode(
            &other_kind,
            &[node.children()[0].clone()],
            &task,
            &converter,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("a message of kind 1"), "{err}");
}

/// A plan's kernels (typed plan and display) and its answer (each row's value, or the error).
type Trip = (Vec<String>, Result<Vec<String>, String>);

/// `SELECT expr AS v FROM t` over `table` planned with qjit's rule (`jit`), then through
/// protobuf with qjit's codec and back: the plan before and after, or `None` if the SQL does
/// not plan (a random expression may not: `--5` starts a comment); an error if the codec fails.
fn round_trip(
    table: &arrow::array::RecordBatch,
    expr: &str,
) -> Result<Option<(Trip, Trip)>, String> {
    let options = QueryOptions {
        engine: EngineKind::Jit,
        threads: Some(1),
        ..Default::default()
    };
    let ctx = qjit::datafusion::session(&options).unwrap();
    ctx.register_batch("t", table.clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sql = format!("SELECT {expr} AS v FROM t");
        let plan = match ctx.sql(&sql).await {
            Ok(frame) => match frame.create_physical_plan().await {
                Ok(plan) => plan,
                Err(_) => return Ok(None),
            },
            Err(_) => return Ok(None),
        };
        let codec = codec();
        let proto = PhysicalPlanNode::try_from_physical_plan(plan.clone(), codec.as_ref())
            .map_err(|e| format!("encode: {e}"))?;
        let bytes = prost::Message::encode_to_vec(&proto);
        let proto: PhysicalPlanNode = prost::Message::decode(bytes.as_slice()).unwrap();
        let decoded = proto
            .try_into_physical_plan(&ctx.task_ctx(), codec.as_ref())
            .map_err(|e| format!("decode: {e}"))?;
        let plans = |p: &Arc<dyn ExecutionPlan>| -> Vec<String> {
            qjit::datafusion::kernels(p)
                .iter()
                .map(|k| format!("{} | {}", k.plan(), k))
                .collect()
        };
        let answer = |p: Arc<dyn ExecutionPlan>| {
            let task = ctx.task_ctx();
            async move {
                let batches = collect(p, task).await.map_err(|e| e.to_string())?;
                Ok::<_, String>(
                    batches
                        .iter()
                        .flat_map(|b| {
                            let column = b.column(0);
                            (0..b.num_rows()).map(move |i| format!("{:?}", column.slice(i, 1)))
                        })
                        .collect::<Vec<_>>(),
                )
            }
        };
        let before = plans(&plan);
        let after = plans(&decoded);
        let a = answer(plan).await;
        let b = answer(decoded).await;
        Ok(Some(((before, a), (after, b))))
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 48,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// The codec's round trip keeps random qjit expressions: the same typed plans, the same
    /// answers (errors included), with the kernels compiled from the decoded plans.
    #[test]
    fn random_qjit_expressions_round_trip_through_the_codec(
        expr in common::random_sql::expression(),
        seed in proptest::prelude::any::<u64>(),
    ) {
        let table = common::random_sql::random_table(seed, 64);
        let trip = round_trip(&table, &expr).map_err(|e| {
            proptest::test_runner::TestCaseError::fail(format!("{expr}: {e}"))
        })?;
        let Some(((before, a), (after, b))) = trip else {
            return Ok(());
        };
        proptest::prop_assert_eq!(&before, &after, "{}", expr);
        match (&a, &b) {
            (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b, "{}", expr),
            (Err(_), Err(_)) => {}
            _ => proptest::prop_assert!(false, "{}: before {:?}, after {:?}", expr, a, b),
        }
    }
}

#[test]
fn the_round_trip_test_reaches_qjit_kernels() {
    // Its expressions do become kernels, and they travel (else it would prove nothing).
    let table = common::random_sql::random_table(3, 16);
    for expr in [
        "(d * w) > 0 AND t",
        "CASE WHEN i > 0 THEN f ELSE CAST(i AS DOUBLE) END",
    ] {
        let ((before, a), (after, b)) = round_trip(&table, expr).unwrap().unwrap();
        assert!(!before.is_empty(), "{expr}");
        assert_eq!(before, after);
        assert_eq!(a.unwrap(), b.unwrap());
    }
}
