//! The leader's runners: they carry out the scheduler crate's pure decisions (swarmkit's
//! orchestrators, allocator, scheduler and task reaper), each pass on the state as the watch
//! stream delivers it, with no polling loop.
//!
//! ```text
//! wait: a store event | the orchestrator's next wakeup | leadership change
//!   orchestrator::reconcile_with_wakeup ─ propose ─ wait until applied locally
//!   allocator::allocate                 ─ propose ─ wait
//!   placement::schedule                 ─ propose ─ wait
//!   reaper::reap                        ─ propose ─ wait
//! repeat while any of them had something to do
//! ```
//!
//! Every command carries the version it was decided on, so a decision made on a stale copy
//! fails with "update out of sequence" and is recomputed on the next pass; decisions derive
//! only from the store, so a new leader picks up where the old one stopped.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use shoal_raft::WatchItem;
use shoal_scheduler::model::{ClusterCommand, ClusterState, StoreEvent, TaskId, Timestamp};
use shoal_scheduler::{IdGen, allocator, orchestrator, placement, reaper};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::ca::random_id;
use super::manager::{ManagerCtx, now};

/// Operations per proposal at most (a scale-up to thousands of tasks goes in several).
const MAX_OPS: usize = 2000;
/// Pause after a failed proposal before the next pass.
const RETRY: Duration = Duration::from_millis(100);

/// Docker-style random task IDs.
#[derive(Debug, Default)]
struct RandomIds;

impl IdGen for RandomIds {
    fn task_id(&mut self) -> TaskId {
        TaskId::new(random_id())
    }
}

/// The leader's copy of the state and how far it has applied.
struct View {
    state: ClusterState,
    applied: u64,
    watch: shoal_raft::Watch,
}

impl View {
    fn apply(&mut self, item: WatchItem) {
        match item {
            WatchItem::Resync { state, index } => {
                self.state = *state;
                self.applied = index;
            }
            WatchItem::Event(StoreEvent::Commit { index }) => self.applied = index,
            WatchItem::Event(StoreEvent::Created(o)) => {
                self.state.put(o);
            }
            WatchItem::Event(StoreEvent::Updated { new, .. }) => {
                self.state.put(new);
            }
            WatchItem::Event(StoreEvent::Deleted(o)) => {
                self.state.remove(&o.object_ref());
            }
        }
    }

    /// Takes every event already queued.
    fn drain(&mut self) {
        while let Some(Some(item)) = self.watch.next().now_or_never() {
            self.apply(item);
        }
    }

    /// Waits until the copy reflects log index `index`. False when the store went away.
    async fn catch_up(&mut self, index: u64) -> bool {
        while self.applied < index {
            match self.watch.next().await {
                Some(item) => self.apply(item),
                None => return false,
            }
        }
        true
    }
}

/// Drives the scheduler crate's entry points while this manager leads.
#[derive(Debug)]
pub struct LeaderRunner {
    ctx: Arc<ManagerCtx>,
}

fn timestamp_to_instant(at: Timestamp, now: Timestamp) -> tokio::time::Instant {
    let ns = u64::try_from(at.0.saturating_sub(now.0)).unwrap_or(0);
    tokio::time::Instant::now() + Duration::from_nanos(ns)
}

impl LeaderRunner {
    /// A runner for the manager `ctx`.
    pub fn new(ctx: Arc<ManagerCtx>) -> Self {
        Self { ctx }
    }

    /// Runs until `stop`: idles while this manager follows, runs passes while it leads.
    pub async fn run(self, stop: CancellationToken) {
        let mut metrics = self.ctx.store().metrics();
        loop {
            if self.ctx.is_leader() {
                tracing::info!("leader runners started");
                self.lead(&stop).await;
                tracing::info!("leader runners stopped");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                r = metrics.changed() => if r.is_err() { return },
            }
        }
    }

    /// Proposes `cmds` in chunks; returns the last applied index, or None on failure.
    async fn propose(&self, what: &str, cmds: Vec<ClusterCommand>) -> Option<u64> {
        let mut last = None;
        let mut cmds = cmds;
        while !cmds.is_empty() {
            let rest = cmds.split_off(cmds.len().min(MAX_OPS));
            let n = cmds.len();
            match self
                .ctx
                .store()
                .propose(ClusterCommand::Batch(std::mem::take(&mut cmds)))
                .await
            {
                Ok(a) => {
                    tracing::debug!(runner = what, ops = n, index = a.index, "proposed");
                    last = Some(a.index);
                }
                Err(e) => {
                    tracing::debug!(runner = what, ops = n, error = %e, "proposal rejected; recomputing");
                    return None;
                }
            }
            cmds = rest;
        }
        last
    }

    /// One pass of every entry point. Returns whether anything was proposed, whether a
    /// proposal failed, and the orchestrator's next wakeup.
    async fn pass(&self, view: &mut View, ids: &mut RandomIds) -> (bool, bool, Option<Timestamp>) {
        let mut acted = false;
        let mut failed = false;
        let t = now();
        let r = orchestrator::reconcile_with_wakeup(&view.state, t, ids);
        let wakeup = r.next_wakeup;
        type Step = fn(&ClusterState, Timestamp) -> Vec<ClusterCommand>;
        let steps: [(&str, Option<Step>); 4] = [
            ("orchestrator", None),
            ("allocator", Some(allocator::allocate)),
            ("scheduler", Some(placement::schedule)),
            ("reaper", Some(|s, _| reaper::reap(s))),
        ];
        let mut first = Some(r.commands);
        for (name, step) in steps {
            let cmds = match step {
                None => first.take().unwrap_or_default(),
                Some(f) => f(&view.state, now()),
            };
            if cmds.is_empty() {
                continue;
            }
            let span = tracing::debug_span!("reconcile", runner = name, ops = cmds.len());
            match self.propose(name, cmds).instrument(span).await {
                Some(index) => {
                    acted = true;
                    if !view.catch_up(index).await {
                        return (acted, true, wakeup);
                    }
                }
                None => failed = true,
            }
            view.drain();
        }
        (acted, failed, wakeup)
    }

    async fn lead(&self, stop: &CancellationToken) {
        let (state, applied, watch) = self.ctx.store().view_and_watch();
        let mut view = View {
            state,
            applied,
            watch,
        };
        let mut metrics = self.ctx.store().metrics();
        let mut ids = RandomIds;
        loop {
            if stop.is_cancelled() || !self.ctx.is_leader() {
                return;
            }
            view.drain();
            let (acted, failed, wakeup) = self.pass(&mut view, &mut ids).await;
            if acted && !failed {
                continue;
            }
            let t = now();
            let deadline = match (failed, wakeup) {
                (true, _) => tokio::time::Instant::now() + RETRY,
                (false, Some(at)) => timestamp_to_instant(at, t),
                // Nothing time-driven pending: only an event wakes us (an hour is "never").
                (false, None) => tokio::time::Instant::now() + Duration::from_secs(3600),
            };
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep_until(deadline) => break,
                    item = view.watch.next() => match item {
                        Some(i) => { view.apply(i); break; }
                        None => return,
                    },
                    // Raft metrics change often; only a lost leadership matters here.
                    r = metrics.changed() => {
                        if r.is_err() || !self.ctx.is_leader() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use shoal_scheduler::model::TaskState;
    use shoal_scheduler::testing::Sim;

    /// What `docker service create --name web --replicas 6 busybox sleep 3600` posts (CLI 28).
    const CLI_BODY: &str = r#"{"Name":"web","Labels":{},"TaskTemplate":{"ContainerSpec":
        {"Image":"busybox:latest","Args":["sleep","3600"],"Init":false,"StopGracePeriod":10000000000,
        "DNSConfig":{},"Isolation":"default"},"Resources":{"Limits":{},"Reservations":{}},
        "RestartPolicy":{"Condition":"any","Delay":5000000000,"MaxAttempts":0},"Placement":{},
        "ForceUpdate":0,"Runtime":"container"},"Mode":{"Replicated":{"Replicas":6}},
        "UpdateConfig":{"Parallelism":1,"FailureAction":"pause","Monitor":5000000000,
        "MaxFailureRatio":0,"Order":"stop-first"},"RollbackConfig":{"Parallelism":1,
        "FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},
        "EndpointSpec":{"Mode":"vip"}}"#;

    #[test]
    fn a_cli_created_service_converges_through_the_entry_points() {
        let body: shoal_api::models::ServiceSpec = serde_json::from_str(CLI_BODY).unwrap();
        let spec = crate::cluster::convert_service::service_spec_from_api(&body).unwrap();
        shoal_scheduler::model::validate::validate_service_spec(&spec).unwrap();
        let mut sim = Sim::new();
        for n in ["n1", "n2", "n3", "n4", "n5"] {
            sim.add_node(n, &[]);
        }
        sim.create_service("web", spec);
        sim.converge(50);
        let running = sim
            .state
            .tasks()
            .iter()
            .filter(|t| t.status.state == TaskState::Running)
            .count();
        assert_eq!(running, 6, "{:#?}", sim.state.tasks());
    }
}
