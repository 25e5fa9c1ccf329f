//! Turns a cluster job that the scheduler can no longer finish into one clear error.
//!
//! When an executor is lost, Ballista's scheduler runs its tasks again elsewhere; where the lost
//! executor held the shuffle output of a stage that had already finished, that stage runs again
//! too. Ballista 55's adaptive planner (the one qjit's scheduler uses: its static planner counts
//! the rerun stage's output twice) forgets a finished stage's output once the next stage has
//! it, so when the rerun's tasks report back, it fails to record them (`Can't find active stage
//! to update stage outputs`), logs that, and the job never finishes: no task is left to run, no
//! stage is left to start, and the client waits for ever.
//!
//! Where the rerun stage had tasks left to run, the scheduler (which offers an executor's free
//! slots again only after a task status it could record) may also leave them waiting while
//! every executor is idle.
//!
//! [`watch`] looks at the scheduler's running jobs once a second. A job that has stayed in
//! either state (running, with no task of it running and no stage ready to start, and no task
//! waiting to run, or some waiting on a cluster where nothing runs at all) for [`PATIENCE`] is
//! failed with a message that starts with [`STALLED`], which the client reports as one error
//! and then runs the query once more ([`retry_note`]). A healthy job is never in either state
//! for more than the moment between one stage's end and the next's start, or between a free
//! slot and the task it takes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ballista_core::serde::protobuf::job_status::Status;
use ballista_scheduler::scheduler_server::SchedulerServer;
use ballista_scheduler::state::execution_graph::ExecutionGraph;
use ballista_scheduler::state::execution_stage::ExecutionStage;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

/// How long a job may stay without any task to run before it is failed.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The start of the message a stalled job fails with; the client recognizes it.
const STALLED: &str = "the cluster stopped making progress on this query";

/// How long a failed job's state stays on the scheduler, so that its client reads the message,
/// before the job is cancelled (which frees what the executors keep of it).
const KEEP_FAILED: Duration = Duration::from_secs(30);

/// Fails the jobs of `server` that stay stalled for `patience` (see the module's docs). Runs
/// until the scheduler's runtime stops.
pub async fn watch(server: SchedulerServer<LogicalPlanNode, PhysicalPlanNode>, patience: Duration) {
    // When each stalled job was first seen stalled.
    let mut since: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let jobs = server.state.task_manager.get_running_job_cache();
        let mut running = 0;
        for info in jobs.values() {
            running += info.execution_graph.read().await.running_tasks().len();
        }
        // Tasks wait with no executor to run them only while the cluster is busy with others'
        // (or has no executor: Ballista fails such jobs itself, after its grace period).
        let idle = running == 0
            && server
                .state
                .executor_manager
                .get_executors_state()
                .await
                .is_ok_and(|executors| !executors.is_empty());
        let mut waiting = HashMap::new();
        for (job_id, info) in jobs.iter() {
            let key = job_id.to_string();
            if !is_stalled(info.execution_graph.read().await.as_ref(), idle) {
                continue;
            }
            let first = since.get(&key).copied().unwrap_or_else(Instant::now);
            if first.elapsed() < patience {
                waiting.insert(key, first);
                continue;
            }
            // Checked again under the write lock: a task status may have come in since.
            let mut graph = info.execution_graph.write().await;
            if !is_stalled(graph.as_ref(), idle) {
                continue;
            }
            let message = stalled_message(&key, patience);
            log::error!("qjit: {message}");
            graph.abort_running(message);
            drop(graph);
            let (server, job_id) = (server.clone(), job_id.clone());
            tokio::spawn(async move {
                tokio::time::sleep(KEEP_FAILED).await;
                let _ = server.cancel_job(job_id).await;
            });
        }
        since = waiting;
    }
}

/// The error a job `job` stalled for `patience` fails with.
fn stalled_message(job: &str, patience: Duration) -> String {
    format!(
        "{STALLED}: job {job} has had no task to run for {} s and has not finished (Ballista's \
         scheduler loses track of a finished stage it runs again after an executor is lost); \
         run the query again, which the cluster now runs without that executor",
        patience.as_secs()
    )
}

/// What a client prints before it runs a query again whose job failed with `error`, if the
/// watchdog failed it (see [`watch`]); `None` for any other error.
pub fn retry_note(error: &datafusion::error::DataFusionError) -> Option<String> {
    let text = error.to_string();
    let at = text.find(STALLED)?;
    let job = text[at..]
        .split_whitespace()
        .skip_while(|word| *word != "job")
        .nth(1)
        .unwrap_or("?");
    Some(format!(
        "{STALLED} (job {job}: Ballista's scheduler lost track of it after an executor was \
         lost); running the query once more, on the executors that are left"
    ))
}

/// True if `graph`'s job is running but cannot move: no task of it running, no stage ready to
/// start, and no task waiting to run, or some waiting while the cluster is `idle` (no task of
/// any job running, and an executor to run them).
fn is_stalled(graph: &dyn ExecutionGraph, idle: bool) -> bool {
    matches!(graph.status().status, Some(Status::Running(_)))
        && !graph.is_successful()
        && graph.running_tasks().is_empty()
        && (graph.available_tasks() == 0 || idle)
        && !graph
            .stages()
            .values()
            .any(|stage| matches!(stage, ExecutionStage::Resolved(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;

    #[test]
    fn the_client_runs_again_only_the_jobs_the_watchdog_failed() {
        // As Ballista's client reports a failed job.
        let failed = DataFusionError::Execution(format!(
            "Job 038JK failed: {}",
            stalled_message("038JK", PATIENCE)
        ));
        let note = retry_note(&failed).unwrap();
        assert!(note.contains("job 038JK:"), "{note}");
        assert!(note.contains("running the query once more"), "{note}");
        let other = DataFusionError::Execution("Job 038JK failed: division by zero".into());
        assert_eq!(retry_note(&other), None);
    }
}
