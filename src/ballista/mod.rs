//! qjit on a Ballista cluster: its compiled expressions travel with DataFusion's plans and
//! compile on each executor.
//!
//! qjit grows no cluster of its own. Apache Ballista distributes DataFusion plans: a scheduler
//! plans each query and splits it into stages, executors run the stages' tasks and exchange
//! Arrow data over Arrow Flight. qjit adds, on each side:
//!
//! - the scheduler: qjit's [`QjitRule`] in the query planner of the session it plans with
//!   ([`scheduler_session`]), so its physical plans carry `QjitExpr`s, and [`QjitCodec`] to
//!   send them;
//! - the executors: [`QjitCodec`] to receive them; each `QjitExpr` compiles on first use, on
//!   the executor, with the executor's engine (so the scheduler compiles nothing);
//! - the client ([`client_session`]): a DataFusion session whose queries go to the scheduler,
//!   carrying the engine the user asked for (`qjit.engine`, see [`QjitConfig`]).
//!
//! ```text
//! qjit query --cluster df://HOST:PORT ──SQL plan──▶ qjit scheduler (QjitRule, QjitCodec)
//!        ▲                                             │ stages with QjitExprs (typed plans)
//!        └────────── Arrow Flight ◀── qjit executor ◀──┘ (QjitCodec; kernels compiled here)
//! ```
//!
//! A partial aggregation fused into a `QjitAggregateExec` (with `--engine jit`, as in a local
//! query) travels too, as its typed plans and the DataFusion operators it replaces; its kernel
//! also compiles on the executor that runs it.

mod codec;
mod watchdog;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::{BallistaCodec, BallistaPhysicalExtensionCodec};
use ballista_core::utils::{default_config_producer, default_session_builder};
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

pub use codec::{QjitCodec, WIRE_FORMAT};

use crate::datafusion::QjitRule;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exec::{EngineKind, QueryOptions};

/// How often a `qjit executor` tells the scheduler it is alive.
const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long `qjit scheduler` waits by default for an executor's heartbeat before it takes the
/// executor for dead and runs its tasks elsewhere (Ballista's default, 180 s, would hold a
/// query that long).
pub const EXECUTOR_TIMEOUT: Duration = Duration::from_secs(20);
/// The shortest executor timeout `qjit scheduler` takes: a few heartbeats, so that a live
/// executor whose beat is late is not taken for dead.
pub const MIN_EXECUTOR_TIMEOUT: Duration = Duration::from_secs(5);

/// The scheduler's default address.
pub const DEFAULT_SCHEDULER: &str = "127.0.0.1:50050";

/// qjit's settings in a DataFusion session config (`qjit.*`), sent with every query from
/// the client to the scheduler.
///
/// Written out rather than with DataFusion's `extensions_options!`, whose entries leave out
/// the `qjit.` prefix: Ballista sends a session's settings as its entries, and the
/// scheduler, setting `engine` instead of `qjit.engine`, kept its default (every client got
/// `auto`, `interp` included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QjitConfig {
    /// The engine the client asked for: `interp` (DataFusion's own expressions), `auto` or
    /// `jit` (qjit's kernels; with `jit` partial aggregations are fused too).
    pub engine: String,
}

impl Default for QjitConfig {
    fn default() -> QjitConfig {
        QjitConfig::for_engine(EngineKind::Auto)
    }
}

impl QjitConfig {
    /// The settings of a client that asked for `engine`.
    pub fn for_engine(engine: EngineKind) -> QjitConfig {
        let engine = match engine {
            EngineKind::Interp => "interp",
            EngineKind::Auto => "auto",
            EngineKind::Jit => "jit",
        };
        QjitConfig {
            engine: engine.to_string(),
        }
    }
}

impl ExtensionOptions for QjitConfig {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::common::Result<()> {
        match (key, value) {
            ("engine", "interp" | "auto" | "jit") => {
                self.engine = value.to_string();
                Ok(())
            }
            ("engine", _) => Err(datafusion::error::DataFusionError::Configuration(format!(
                "qjit.engine is interp, auto or jit, not '{value}'"
            ))),
            _ => Err(datafusion::error::DataFusionError::Configuration(format!(
                "qjit has no setting '{key}'; it has qjit.engine"
            ))),
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: format!("{}.engine", QjitConfig::PREFIX),
            value: Some(self.engine.clone()),
            description: "the engine the client asked for: interp, auto or jit",
        }]
    }
}

impl ConfigExtension for QjitConfig {
    const PREFIX: &'static str = "qjit";
}

/// The codec of qjit's cluster processes: [`QjitCodec`] over Ballista's.
pub fn codec(engine: Engine) -> Arc<dyn PhysicalExtensionCodec> {
    Arc::new(QjitCodec::new(
        engine,
        Arc::new(BallistaPhysicalExtensionCodec::default()),
    ))
}

/// Ballista's session config with qjit's settings ([`QjitConfig`]).
fn config_producer() -> ConfigProducer {
    Arc::new(|| default_config_producer().with_option_extension(QjitConfig::default()))
}

/// The scheduler's session for a client's `config`: Ballista's, whose query planner applies
/// qjit's rule to each physical plan unless the client asked for `interp`, as a local query
/// would: with `jit`, partial aggregations fused into `QjitAggregateExec`s, then expressions;
/// with `auto`, expressions. The rule plans with `engine`'s other options.
///
/// The rule comes in through the query planner rather than the list of physical optimizer
/// rules: Ballista's adaptive planner (on by default, and the one whose recovery from a lost
/// executor gave right answers here) replaces that list with its own, but keeps the session's
/// query planner. It plans each query with a few rules of its own, then optimizes the plan
/// (with DataFusion's rules) again as stages finish: qjit's expressions are in place from the
/// first plan on, and DataFusion's rules carry them as they carry any expression.
pub fn scheduler_session(config: SessionConfig, engine: &Engine) -> Result<SessionState> {
    let asked = config
        .options()
        .extensions
        .get::<QjitConfig>()
        .map(|c| c.engine.clone());
    let state = default_session_builder(config).map_err(crate::datafusion::query::error)?;
    let kind = match asked.as_deref() {
        Some("interp") => return Ok(state),
        Some("jit") => EngineKind::Jit,
        _ => EngineKind::Auto,
    };
    // The client's engine kind decides what the rule does (with `jit`, partial aggregations
    // are fused, as in a local query); the rest of the options are the scheduler's.
    let options = QueryOptions {
        engine: kind,
        ..engine.options().clone()
    };
    let engine = Engine::builder().options(options).build()?;
    let planner = QjitQueryPlanner {
        // Scans stay DataFusion's: the plan travels in DataFusion's encoding of its sources.
        rule: QjitRule::new(engine).without_scans(),
    };
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(planner))
        .build())
}

/// DataFusion's physical planner, then qjit's rule.
#[derive(Debug)]
struct QjitQueryPlanner {
    rule: QjitRule,
}

#[async_trait::async_trait]
impl QueryPlanner for QjitQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn datafusion::catalog::Session,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let plan = DefaultPhysicalPlanner::default()
            .create_physical_plan(logical_plan, session_state)
            .await?;
        self.rule.optimize(plan, session_state.config_options())
    }
}

/// The engine of a cluster process: `options`, with `interp` taken as `auto` (the client
/// decides whether the plan has kernels; a kernel an executor receives is compiled).
fn cluster_engine(options: &QueryOptions) -> Result<Engine> {
    let mut options = options.clone();
    if options.engine == EngineKind::Interp {
        options.engine = EngineKind::Auto;
    }
    Engine::builder().options(options).build()
}

/// `HOST:PORT` as a socket address (the first the name resolves to).
pub fn socket_address(text: &str, what: &str) -> Result<SocketAddr> {
    let bad = |reason: String| {
        Error::Usage(format!(
            "{what} '{text}' is not an address: {reason}; write HOST:PORT, such as {DEFAULT_SCHEDULER}"
        ))
    };
    text.to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("the name resolves to no address".into()))
}

/// Runs a Ballista scheduler listening on `bind` until the process is stopped: it plans
/// queries with qjit's rule and sends their kernels' plans to the executors. An executor that
/// sends no heartbeat for `executor_timeout` is taken for dead and its tasks run elsewhere.
pub async fn run_scheduler(
    bind: SocketAddr,
    executor_timeout: Duration,
    options: &QueryOptions,
) -> Result<()> {
    if executor_timeout < MIN_EXECUTOR_TIMEOUT {
        return Err(Error::Usage(format!(
            "--executor-timeout {} s is too short: executors send a heartbeat every {} s; \
             give at least {}",
            executor_timeout.as_secs(),
            HEARTBEAT.as_secs(),
            MIN_EXECUTOR_TIMEOUT.as_secs()
        )));
    }
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|io| {
        Error::Usage(format!(
            "the scheduler cannot listen on {bind}: {io}; pass another --bind HOST:PORT"
        ))
    })?;
    let config = scheduler_config(bind, executor_timeout, options)?;
    eprintln!("qjit scheduler listening on {bind}");
    start_scheduler(listener, config).await
}

/// The configuration of a scheduler reachable at `address` with qjit's session, codec and
/// `executor_timeout` (see [`run_scheduler`]).
fn scheduler_config(
    address: SocketAddr,
    executor_timeout: Duration,
    options: &QueryOptions,
) -> Result<SchedulerConfig> {
    let engine = cluster_engine(options)?;
    let session_engine = engine.clone();
    Ok(SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: address.ip().to_string(),
        override_config_producer: Some(config_producer()),
        override_session_builder: Some(Arc::new(move |config| {
            scheduler_session(config, &session_engine)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
        })),
        override_physical_codec: Some(codec(engine)),
        // An executor that stops answering (killed, its machine gone) is found within
        // `executor_timeout` (checked every second) and its tasks run again elsewhere.
        executor_timeout_seconds: executor_timeout.as_secs(),
        expire_dead_executor_interval_seconds: 1,
        no_executors_grace_period_seconds: executor_timeout.as_secs(),
        ..SchedulerConfig::default()
    })
}

/// Serves a scheduler with `config` on `listener` until the runtime stops, with the watchdog
/// that fails the jobs Ballista can no longer finish ([`watchdog`]).
async fn start_scheduler(listener: tokio::net::TcpListener, config: SchedulerConfig) -> Result<()> {
    config.validate().map_err(ballista_error)?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista_error)?;
    let server = ballista_scheduler::scheduler_process::create_scheduler::<
        LogicalPlanNode,
        PhysicalPlanNode,
    >(cluster, Arc::new(config))
    .await
    .map_err(ballista_error)?;
    tokio::spawn(watchdog::watch(server.clone(), watchdog::PATIENCE));
    ballista_scheduler::scheduler_process::start_grpc_service_with_listener(listener, server)
        .await
        .map_err(ballista_error)
}

/// How `qjit executor` runs.
#[derive(Clone, Debug)]
pub struct ExecutorArgs {
    /// The scheduler's `HOST:PORT`.
    pub scheduler: String,
    /// The Arrow Flight address it listens on.
    pub bind: SocketAddr,
    /// Its gRPC port (default: the Flight port + 1).
    pub grpc_port: Option<u16>,
    /// The host other machines reach it by (default: the bind address).
    pub advertise: Option<String>,
    /// Tasks it runs at once (default: its cores).
    pub concurrency: Option<usize>,
}

/// Runs a Ballista executor until the process is stopped: it registers with the scheduler,
/// runs its tasks, and compiles the qjit expressions they carry.
pub async fn run_executor(args: &ExecutorArgs, options: &QueryOptions) -> Result<()> {
    let scheduler = socket_address(&args.scheduler, "--scheduler")?;
    reachable(scheduler, "executor").await?;
    let engine = cluster_engine(options)?;
    let grpc_port = match args.grpc_port {
        Some(p) => p,
        None => args.bind.port().checked_add(1).ok_or_else(|| {
            Error::Usage(
                "--bind's port is 65535: pass --grpc-port for the executor's gRPC port".into(),
            )
        })?,
    };
    let config = ExecutorProcessConfig {
        bind_host: args.bind.ip().to_string(),
        port: args.bind.port(),
        grpc_port,
        external_host: args.advertise.clone(),
        scheduler_host: scheduler.ip().to_string(),
        scheduler_port: scheduler.port(),
        vcores: args.concurrency.unwrap_or(0),
        override_config_producer: Some(config_producer()),
        override_physical_codec: Some(codec(engine)),
        executor_heartbeat_interval_seconds: HEARTBEAT.as_secs(),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista_error)
}

/// Checks within a few seconds that something listens at the scheduler's address, so that a
/// wrong address is one clear error rather than a hang.
async fn reachable(scheduler: SocketAddr, who: &str) -> Result<()> {
    let connect = tokio::net::TcpStream::connect(scheduler);
    let reason = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 s".to_string(),
    };
    Err(Error::Cluster(format!(
        "the {who} cannot reach a Ballista scheduler at {scheduler}: {reason}; start one with \
         `qjit scheduler --bind {scheduler}` or give the address it listens on"
    )))
}

/// A cluster inside this process, for trying qjit on Ballista: a scheduler on a free local port
/// and two executors of `options.threads()` task slots each. Returns the scheduler's URL
/// (`df://localhost:PORT`). It runs on the current tokio runtime, until the runtime stops.
pub async fn standalone(options: &QueryOptions) -> Result<String> {
    let engine = cluster_engine(options)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::Cluster(format!("the standalone scheduler cannot listen: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::Cluster(format!("the standalone scheduler cannot listen: {e}")))?;
    let config = SchedulerConfig {
        // The executors in this process ask for their tasks.
        scheduling_policy: ballista_core::config::TaskSchedulingPolicy::PullStaged,
        ..scheduler_config(address, EXECUTOR_TIMEOUT, options)?
    };
    tokio::spawn(async move {
        if let Err(e) = start_scheduler(listener, config).await {
            log::error!("qjit: the standalone scheduler stopped: {e}");
        }
    });
    let codec = || {
        BallistaCodec::new(
            Arc::new(ballista_core::serde::BallistaLogicalExtensionCodec::default()),
            codec(engine.clone()),
        )
    };
    let url = format!("http://{address}");
    let mut tries = 0;
    let scheduler = loop {
        match SchedulerGrpcClient::connect(url.clone()).await {
            Ok(client) => break client,
            Err(e) if tries == 50 => {
                return Err(Error::Cluster(format!(
                    "the standalone scheduler at {url} did not start: {e}"
                )))
            }
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let state = SessionStateBuilder::new().with_default_features().build();
    let runtime = state.runtime_env().clone();
    let runtime_producer: RuntimeProducer = Arc::new(move |_| Ok(runtime.clone()));
    for _ in 0..2 {
        ballista_executor::new_standalone_executor_from_builder(
            scheduler.clone(),
            options.threads(),
            config_producer(),
            runtime_producer.clone(),
            codec(),
            BallistaFunctionRegistry::from(&state),
        )
        .await
        .map_err(ballista_error)?;
    }
    Ok(format!("df://{address}"))
}

/// A session whose queries run on the cluster at `url` (`df://HOST:PORT`), with `options`'
/// engine ([`QjitConfig`]) and `--threads` partitions.
pub async fn client_session(url: &str, options: &QueryOptions) -> Result<SessionContext> {
    let address = url.strip_prefix("df://").ok_or_else(|| {
        Error::Usage(format!(
            "--cluster '{url}' is not a Ballista scheduler's URL: write df://HOST:PORT, or \
             `standalone` for a cluster inside this process"
        ))
    })?;
    let scheduler = socket_address(address, "--cluster")?;
    reachable(scheduler, "query").await?;
    let qjit = QjitConfig::for_engine(options.engine);
    // Pull mode: the client learns the job's id as the scheduler accepts it (in push mode,
    // only with the status updates that follow), so that Ctrl-C can cancel the job.
    let config = SessionConfig::new_with_ballista()
        .with_target_partitions(options.threads())
        .with_option_extension(qjit)
        .set_bool(ballista_core::config::BALLISTA_CLIENT_PULL, true);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    SessionContext::remote_with_state(url, state)
        .await
        .map_err(crate::datafusion::query::error)
}

fn ballista_error(e: ballista_core::error::BallistaError) -> Error {
    Error::Cluster(e.to_string())
}

/// Plans `sql` over the tables of `path` on `cluster`: a scheduler's `df://HOST:PORT`, or
/// `standalone` (a cluster started inside this process; see [`standalone`]). The tables are
/// read on the executors, at the same paths.
pub fn plan_query(
    cluster: &str,
    path: &std::path::Path,
    sql: &str,
    options: &QueryOptions,
) -> Result<crate::datafusion::Query> {
    let runtime = crate::datafusion::query::runtime(options)?;
    let query = crate::datafusion::Query::plan_in(
        runtime,
        |_| async move {
            let url = match cluster {
                "standalone" => standalone(options).await?,
                url => url.to_string(),
            };
            client_session(&url, options).await
        },
        path,
        sql,
        options,
    )?
    // A job that a lost executor left unfinishable fails with the watchdog's message; the
    // query runs again (once), on the executors that are left.
    .retry_when(watchdog::retry_note);
    let scheduler = match cluster.strip_prefix("df://") {
        Some(address) => format!("http://{address}"),
        // A cluster inside the process stops with it.
        None => return Ok(query),
    };
    Ok(query.on_cancel(Box::new(move |plan| Box::pin(cancel_job(scheduler, plan)))))
}

/// Cancels the job of a cluster query's `plan` on its scheduler (Ballista's client leaves a
/// job it no longer reads running), and says so on stderr.
async fn cancel_job(scheduler: String, plan: Arc<dyn ExecutionPlan>) {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut job = None;
    let _ = plan.apply(|node| {
        if let Some(d) = node.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>() {
            job = d.job_id();
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    let Some(job) = job else { return };
    let job_id = job.to_string();
    let cancelled = async {
        let mut client = SchedulerGrpcClient::connect(scheduler).await.ok()?;
        let params = ballista_core::serde::protobuf::CancelJobParams {
            job_id: job_id.clone(),
        };
        client.cancel_job(params).await.ok()
    };
    if cancelled.await.is_some() {
        eprintln!("cancelled job {job_id} on the cluster");
    }
}

/// Runs a server (`serve(options)`: a scheduler or an executor) on a runtime of its own until
/// it ends or `options.cancel` is raised (Ctrl-C), which stops it.
pub fn serve<F, Fut>(options: &QueryOptions, serve: F) -> Result<()>
where
    F: FnOnce(QueryOptions) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async {
        match crate::datafusion::query::cancellable(serve(options.clone()), options).await {
            Ok(outcome) => outcome,
            Err(Error::Cancelled) => Ok(()),
            Err(e) => Err(e),
        }
    })
}

/// Sends log records to stderr: qjit's (each kernel an executor compiles) and the start-up
/// messages of Ballista's scheduler and executor at `INFO`, everything else from `WARN`.
pub fn log_to_stderr() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, meta: &log::Metadata<'_>) -> bool {
            let target = meta.target();
            meta.level() <= log::Level::Warn
                || (meta.level() <= log::Level::Info
                    && (target.starts_with("qjit")
                        || target.ends_with("executor_process")
                        || target.ends_with("scheduler_process")))
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                eprintln!("{} {}: {}", record.level(), record.target(), record.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The plan of `sql` on `cluster` as its scheduler distributes it, for `--explain`: its stages,
/// with the qjit expressions each carries (the executors compile them on first use).
pub fn explain(
    cluster: &str,
    path: &std::path::Path,
    sql: &str,
    options: &QueryOptions,
) -> Result<String> {
    let mut sink = crate::exec::Collect::default();
    plan_query(cluster, path, &format!("EXPLAIN {sql}"), options)?.run_into(&mut sink)?;
    let mut out = String::from(
        "Ballista distributed plan (qjit kernels appear as qjit(<expression>); each executor \
         compiles them on first use):\n",
    );
    for batch in &sink.batches {
        let (Some(kind), Some(plan)) = (
            batch.column_by_name("plan_type"),
            batch.column_by_name("plan"),
        ) else {
            continue;
        };
        let (kind, plan) = (
            datafusion::arrow::array::AsArray::as_string_opt::<i32>(kind.as_ref()),
            datafusion::arrow::array::AsArray::as_string_opt::<i32>(plan.as_ref()),
        );
        let (Some(kind), Some(plan)) = (kind, plan) else {
            continue;
        };
        for row in 0..batch.num_rows() {
            if kind.value(row) == "distributed_plan" {
                out.push_str(plan.value(row));
            }
        }
    }
    Ok(out)
}
