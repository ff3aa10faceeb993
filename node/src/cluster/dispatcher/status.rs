//! Task status reports from every agent, folded into one Raft proposal per batch (swarmkit's
//! dispatcher batches the same way): a report waits at most [`BATCH_WINDOW`] or until
//! [`MAX_BATCH`] updates are queued.
//!
//! Each update is checked against the stored task: it must be assigned to the reporting node
//! and move the state forward (the agent's reports are the only writer of ACCEPTED and
//! later, but a retried report may repeat itself). A batch that loses a race with another
//! writer ("update out of sequence") is rebuilt from the fresh state and proposed again.

use std::sync::Arc;
use std::time::Duration;

use shoal_scheduler::model::{
    ClusterCommand, ClusterState, NodeId, StoreObject, TaskState, Timestamp,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::wire::StatusUpdate;
use crate::cluster::manager::{ManagerCtx, now};
use crate::cluster::{ClusterError, store_err};

/// How long the first report of a batch waits for company.
const BATCH_WINDOW: Duration = Duration::from_millis(20);
/// Updates per proposal at most.
const MAX_BATCH: usize = 2048;
/// Attempts of one batch against concurrent writers.
const ATTEMPTS: usize = 5;

/// One agent's report waiting for the next proposal.
#[derive(Debug)]
pub(super) struct Pending {
    pub node: NodeId,
    pub updates: Vec<StatusUpdate>,
    pub done: oneshot::Sender<Result<(), ClusterError>>,
}

/// Folds queued reports into proposals.
#[derive(Debug)]
pub struct StatusBatcher {
    ctx: Arc<ManagerCtx>,
    rx: mpsc::Receiver<Pending>,
}

/// The task updates `updates` from `node` make to `state` (stale or foreign ones dropped).
pub(crate) fn status_commands(
    state: &ClusterState,
    node: &NodeId,
    updates: &[StatusUpdate],
) -> Vec<ClusterCommand> {
    let mut out: std::collections::BTreeMap<String, shoal_scheduler::model::Task> =
        Default::default();
    for u in updates {
        let current = match out.get(u.task_id.as_str()) {
            Some(t) => t.clone(),
            None => match state.tasks().get(&u.task_id) {
                Some(t) => t.clone(),
                None => continue,
            },
        };
        if current.node_id.as_ref() != Some(node) || u.status.state < current.status.state {
            continue;
        }
        if current.status == u.status {
            continue;
        }
        let mut t = current;
        t.status = u.status.clone();
        t.meta.updated_at = now();
        out.insert(t.id.0.clone(), t);
    }
    out.into_values()
        .map(|t| ClusterCommand::Update(StoreObject::Task(t)))
        .collect()
}

/// For each task `cmds` move to RUNNING for the first time, the time since it was created:
/// swarmkit's `swarm_dispatcher_scheduling_delay_seconds` (NEW to RUNNING, measured on the
/// leader when the report arrives, so it includes the agent's network delay but no clock
/// skew between the node and the leader).
pub(crate) fn scheduling_delays(
    state: &ClusterState,
    cmds: &[ClusterCommand],
    now: Timestamp,
) -> Vec<Duration> {
    cmds.iter()
        .filter_map(|c| match c {
            ClusterCommand::Update(StoreObject::Task(t))
                if t.status.state == TaskState::Running =>
            {
                let before = state.tasks().get(&t.id)?;
                (before.status.state < TaskState::Running).then(|| {
                    let ns = now.0.saturating_sub(t.meta.created_at.0).max(0);
                    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
                })
            }
            _ => None,
        })
        .collect()
}

impl StatusBatcher {
    pub(super) fn new(ctx: Arc<ManagerCtx>, rx: mpsc::Receiver<Pending>) -> Self {
        Self { ctx, rx }
    }

    /// Proposes batches until `stop`.
    pub(super) async fn run(mut self, stop: CancellationToken) {
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => return,
                p = self.rx.recv() => match p { Some(p) => p, None => return },
            };
            let mut batch = vec![first];
            let mut count = batch[0].updates.len();
            let deadline = tokio::time::sleep(BATCH_WINDOW);
            tokio::pin!(deadline);
            while count < MAX_BATCH {
                tokio::select! {
                    _ = &mut deadline => break,
                    p = self.rx.recv() => match p {
                        Some(p) => { count += p.updates.len(); batch.push(p); }
                        None => break,
                    },
                }
            }
            let result = self.propose(&batch).await;
            for p in batch {
                let _ = p.done.send(match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(ClusterError::Unavailable(e.to_string())),
                });
            }
        }
    }

    #[tracing::instrument(skip_all, fields(reports = batch.len()))]
    async fn propose(&self, batch: &[Pending]) -> Result<(), ClusterError> {
        let mut last = Ok(());
        for _ in 0..ATTEMPTS {
            let (cmds, delays) = self.ctx.store().read(|s| {
                let cmds = batch
                    .iter()
                    .flat_map(|p| status_commands(s, &p.node, &p.updates))
                    .collect::<Vec<_>>();
                let delays = scheduling_delays(s, &cmds, now());
                (cmds, delays)
            });
            if cmds.is_empty() {
                return Ok(());
            }
            match self.ctx.store().propose(ClusterCommand::Batch(cmds)).await {
                Ok(_) => {
                    for d in delays {
                        crate::metrics::METRICS.scheduling_delay(d);
                    }
                    return Ok(());
                }
                Err(shoal_raft::StoreError::OutOfSequence(_)) => {
                    last = Err(ClusterError::OutOfSequence);
                }
                Err(e) => return Err(store_err(e)),
            }
        }
        last
    }
}

impl super::Dispatcher {
    /// Queues `updates` from `node` for the next batch and waits until it is committed.
    ///
    /// Errors: Unavailable when this manager is not the leader or the proposal failed (the
    /// agent keeps the report and sends it again).
    pub async fn update_task_status(
        &self,
        node: NodeId,
        updates: Vec<StatusUpdate>,
    ) -> Result<(), ClusterError> {
        if !self.ctx.is_leader() {
            return Err(ClusterError::Unavailable("not the leader".into()));
        }
        let (done, wait) = oneshot::channel();
        self.status_tx
            .send(Pending {
                node,
                updates,
                done,
            })
            .await
            .map_err(|_| ClusterError::Unavailable("dispatcher stopped".into()))?;
        wait.await
            .map_err(|_| ClusterError::Unavailable("dispatcher stopped".into()))?
    }
}
