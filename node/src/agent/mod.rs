//! The agent: runs this node's share of the swarm's tasks as containers of its own engine.
//!
//! ```text
//!  session.rs       Assignments stream from the leader's dispatcher ──▶ worker.rs
//!                   runners' status reports ──▶ UpdateTaskStatus (batched)
//!  worker.rs        the assignment set → one task runner per task; stale containers removed
//!  task_runner.rs   one task's life: accept, prepare, start, wait, stop, remove (forward only)
//!  container_config.rs  task → the engine's create body (name, swarm labels, spec fields)
//!  secrets.rs       secrets/configs on a per-task tmpfs, bind-mounted read-only
//!  exec.rs          TaskController: the narrow engine view a runner uses
//!  controller.rs    TaskController over the Engine
//!  logs.rs          the leader's log subscriptions → this node's containers' lines
//! ```

pub mod container_config;
pub mod controller;
pub mod exec;
pub mod logs;
pub mod secrets;
pub mod session;
pub mod task_runner;
pub mod worker;

use std::sync::{Arc, Mutex};

use shoal_scheduler::model::NodeId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::cluster::local::Certs;

/// Starts the agent for node `node`: the assignments session, the status reporter and the
/// task runners, all tracked by `tracker` and stopped by `stop`.
#[allow(clippy::too_many_arguments)]
pub fn start(
    node: NodeId,
    host: shoal_scheduler::model::node::NodeDescription,
    ctl: Arc<dyn exec::TaskController>,
    files_root: std::path::PathBuf,
    certs: Certs,
    managers: Arc<Mutex<Vec<String>>>,
    manager_ids: crate::cluster::join::ManagerIds,
    tracker: &TaskTracker,
    stop: CancellationToken,
) {
    let (reports_tx, reports_rx) = mpsc::channel(1024);
    let ctx = task_runner::RunnerCtx {
        ctl: ctl.clone(),
        node,
        host,
        files: secrets::TaskFiles::new(files_root),
        reports: reports_tx,
    };
    let dialer = session::Dialer::new(certs, managers, manager_ids);
    let worker = worker::Worker::new(ctx, tracker.clone(), stop.clone());
    let span = tracing::info_span!("agent");
    tracker.spawn(
        session::follow_assignments(dialer.clone(), worker, stop.clone()).instrument(span.clone()),
    );
    tracker.spawn(
        logs::follow_subscriptions(dialer.clone(), ctl, tracker.clone(), stop.clone())
            .instrument(span.clone()),
    );
    tracker.spawn(session::send_reports(dialer, reports_rx, stop).instrument(span));
}
