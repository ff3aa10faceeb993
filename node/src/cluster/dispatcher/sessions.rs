//! Agent sessions: heartbeats register and renew a node's session; the leader marks nodes
//! whose heartbeats stopped as down (swarmkit's grace period of three periods).

use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_scheduler::model::node::{NodeState, NodeStatus, Reachability};
use shoal_scheduler::model::{ClusterCommand, Node, NodeId, StoreObject};
use tokio_util::sync::CancellationToken;

use super::Dispatcher;
use crate::cluster::ca::NodeIdentity;
use crate::cluster::manager::{ManagerCtx, host_of, now};
use crate::cluster::rpc::{HeartbeatRequest, HeartbeatResponse};
use crate::cluster::{ClusterError, store_err};

/// Missed heartbeat periods before a node is marked down (swarmkit's grace multiplier).
const GRACE_PERIODS: u32 = 3;
/// How often the leader checks heartbeats.
const LIVENESS_PERIOD: Duration = Duration::from_millis(500);

impl Dispatcher {
    /// Records an agent heartbeat (leader only; others redirect to the leader).
    pub async fn heartbeat(
        &self,
        who: &NodeIdentity,
        hb: HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ClusterError> {
        let ctx = &self.ctx;
        let store = ctx.store();
        if !ctx.is_leader() {
            let leader = store
                .leader()
                .filter(|l| l.id != store.id())
                .and_then(|l| l.node)
                .map(|n| n.addr);
            return Ok(HeartbeatResponse::NotLeader {
                leader,
                manager_ids: ctx.manager_ids(),
            });
        }
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(who.node_id.clone(), Instant::now());
        let Some(node) = store.read(|s| s.nodes().get(&NodeId::new(who.node_id.as_str())).cloned())
        else {
            return Ok(HeartbeatResponse::Removed);
        };
        let addr = host_of(&hb.advertise_addr);
        if node.status.state != NodeState::Ready
            || node.description.as_ref() != Some(&hb.description)
            || node.status.addr != addr
        {
            let mut n = node.clone();
            n.status = NodeStatus {
                state: NodeState::Ready,
                message: String::new(),
                addr,
            };
            n.description = Some(hb.description);
            n.meta.updated_at = now();
            // A conflicting write (e.g. a concurrent node update) is retried by the next
            // heartbeat, so it is not an error for the agent.
            if let Err(e) = store
                .propose(ClusterCommand::Update(StoreObject::Node(n)))
                .await
            {
                tracing::debug!(node.id = %who.node_id, error = %e, "node status update deferred");
            }
        }
        Ok(HeartbeatResponse::Ok {
            period_ms: u64::try_from(ctx.heartbeat_period().as_millis()).unwrap_or(5000),
            managers: ctx.manager_addrs(),
            desired_role: ManagerCtx::desired_role(&node),
            manager_ids: ctx.manager_ids(),
            root: ctx.root_info().ok(),
        })
    }

    /// Marks nodes down whose heartbeats stopped, and keeps managers' reachability, until
    /// `stop`. Idles on followers.
    pub(super) async fn liveness(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(LIVENESS_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if !self.ctx.is_leader() {
                *self.leader_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
                continue;
            }
            let since = *self
                .leader_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(Instant::now);
            tokio::select! {
                _ = stop.cancelled() => return,
                r = self.update_statuses(since) => if let Err(e) = r {
                    tracing::debug!(error = %e, "node status update failed");
                },
            }
        }
    }

    async fn update_statuses(&self, leader_since: Instant) -> Result<(), ClusterError> {
        let grace = self.ctx.heartbeat_period() * GRACE_PERIODS;
        let sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let store = self.ctx.store();
        let my_raft_id = store.id();
        let nodes: Vec<Node> = store.read(|s| s.nodes().iter().cloned().collect());
        let mut updates = Vec::new();
        for node in nodes {
            let last = sessions
                .get(node.id.as_str())
                .copied()
                .unwrap_or(leader_since);
            let alive = last.elapsed() < grace;
            let mut n = node.clone();
            if n.status.state == NodeState::Ready && !alive {
                n.status.state = NodeState::Down;
                n.status.message = "heartbeat failure".into();
            }
            if let Some(ms) = n.manager_status.as_mut() {
                ms.leader = ms.raft_id == my_raft_id;
                ms.reachability = if ms.leader || (alive && n.status.state == NodeState::Ready) {
                    Reachability::Reachable
                } else {
                    Reachability::Unreachable
                };
            }
            if n != node {
                n.meta.updated_at = now();
                updates.push(ClusterCommand::Update(StoreObject::Node(n)));
            }
        }
        if !updates.is_empty() {
            store
                .propose(ClusterCommand::Batch(updates))
                .await
                .map_err(store_err)?;
        }
        Ok(())
    }
}
