//! Manager-side cluster logic: the join CA endpoint, certificate renewal, and the leader's
//! loop that keeps Raft membership in line with the node objects (swarmkit's role manager).
//! Agent sessions, node liveness and task assignments are the dispatcher's
//! (`super::dispatcher`).
//!
//! Single writer per field: `status`/`description` are written by the leader's dispatcher,
//! `role` by the leader's membership loop (and by renew on promotion), `spec` by the control
//! API.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::ChangeMembers;
use sha2::{Digest, Sha256};
use shoal_raft::{ClusterStore, RaftNode};
use shoal_scheduler::model::node::{
    ManagerStatus, NodeRole, NodeSpec, NodeState, NodeStatus, Reachability,
};
use shoal_scheduler::model::{Cluster, ClusterCommand, Meta, Node, NodeId, StoreObject, Timestamp};
use tokio_util::sync::CancellationToken;

use super::ca::{NodeIdentity, parse_join_token, sign_node_cert};
use super::rpc::{JoinRequest, JoinResponse, MembershipRequest, RenewRequest, RenewResponse};
use super::{ClusterError, store_err};

/// How often the leader loop runs.
const LOOP_PERIOD: Duration = Duration::from_millis(500);
/// How long one add-learner attempt may wait for a new manager to catch up.
const ADD_LEARNER_TIMEOUT: Duration = Duration::from_secs(10);

/// The Raft id a node uses as a manager: derived from its node ID so every manager agrees
/// on it without another round trip.
pub fn raft_id_for(node_id: &str) -> u64 {
    let d = Sha256::digest(node_id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    // Raft id 0 is valid in openraft but confusing in logs; keep ids non-zero.
    u64::from_be_bytes(b) | 1
}

/// Raft RPC authorization for this node's store: a manager certificate may only act as
/// the Raft id derived from its node ID, so a removed or demoted manager (on the store's
/// removed-member list) is refused even with a certificate that has not expired.
pub fn raft_peer_auth() -> shoal_raft::network::PeerAuth {
    shoal_raft::network::PeerAuth {
        raft_id_of: Some(std::sync::Arc::new(raft_id_for)),
        check: None,
    }
}

/// Test-only hook: a node certificate lifetime in seconds that overrides the swarm's
/// `--cert-expiry` (which Docker keeps at 1h or more), so tests see renewal without
/// waiting hours. Read from the managers' environment; never set outside tests.
pub const TEST_CERT_EXPIRY_ENV: &str = "SHOAL_TEST_NODE_CERT_EXPIRY_SECS";

/// How long node certificates issued under `spec` are valid.
pub fn node_cert_expiry(spec: &shoal_scheduler::model::ClusterSpec) -> Duration {
    if let Some(secs) = std::env::var(TEST_CERT_EXPIRY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|s| *s > 0)
    {
        return Duration::from_secs(secs);
    }
    Duration::from_nanos(
        u64::try_from(spec.ca_config.node_cert_expiry_ns)
            .unwrap_or(0)
            .max(3_600_000_000_000),
    )
}

/// The proposer's clock as a model timestamp.
pub fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

/// The IP part of `host:port` (Docker's `Status.Addr`).
pub fn host_of(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
        None => addr.to_owned(),
    }
}

/// State shared by a manager's RPC handlers and its leader loop.
#[derive(Debug)]
pub struct ManagerCtx {
    store: ClusterStore,
    node_id: String,
    /// Applied index at the last spec-driven snapshot trigger (one build at a time).
    last_snapshot_trigger: Mutex<u64>,
    /// The log broker (serves `docker service logs` while this manager leads).
    logs: Arc<super::logs::broker::LogBroker>,
}

impl ManagerCtx {
    /// A context for the manager `node_id` over `store`.
    pub fn new(
        store: ClusterStore,
        node_id: String,
        logs: Arc<super::logs::broker::LogBroker>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            node_id,
            last_snapshot_trigger: Mutex::default(),
            logs,
        })
    }

    /// The log broker.
    pub fn logs(&self) -> &Arc<super::logs::broker::LogBroker> {
        &self.logs
    }

    /// The replicated store.
    pub fn store(&self) -> &ClusterStore {
        &self.store
    }

    /// This manager's node ID.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The cluster object. Errors: Unavailable before the first one is replicated here.
    pub fn cluster(&self) -> Result<Cluster, ClusterError> {
        self.store
            .read(|s| s.clusters().iter().next().cloned())
            .ok_or_else(|| {
                ClusterError::Unavailable("the cluster object is not replicated yet".into())
            })
    }

    /// Whether this manager can serve cluster state, as dockerd's managers (which read
    /// through the leader) can: there is a leader, and if it is this manager, it still hears
    /// from a quorum.
    ///
    /// Errors: Unavailable with dockerd's "The swarm does not have a leader..." text.
    pub fn check_available(&self) -> Result<(), ClusterError> {
        let m = self.store.metrics();
        let m = m.borrow();
        let no_leader = || ClusterError::Unavailable(super::NO_LEADER.into());
        match m.current_leader {
            None => Err(no_leader()),
            Some(id) if id == m.id => {
                let lease = self.store.raft().config().election_timeout_max;
                if m.millis_since_quorum_ack.is_some_and(|ms| ms > lease) {
                    Err(no_leader())
                } else {
                    Ok(())
                }
            }
            Some(_) => Ok(()),
        }
    }

    /// Whether this manager leads a membership it is still a voter of. A leader that
    /// demoted itself can keep believing it leads until it steps down; it must not act on
    /// its stale view (answer heartbeats, issue certificates, change membership).
    pub fn is_leader(&self) -> bool {
        let m = self.store.metrics();
        let m = m.borrow();
        m.current_leader == Some(m.id)
            && m.membership_config
                .membership()
                .voter_ids()
                .any(|v| v == m.id)
    }

    /// Addresses of every manager.
    pub fn manager_addrs(&self) -> Vec<String> {
        self.store.read(|s| {
            s.nodes()
                .iter()
                .filter(|n| n.role == NodeRole::Manager)
                .filter_map(|n| n.manager_status.as_ref().map(|m| m.addr.clone()))
                .collect()
        })
    }

    /// Node IDs of every manager, sorted (agents compare lists to spot a change).
    pub fn manager_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.store.read(|s| {
            s.nodes()
                .iter()
                .filter(|n| n.role == NodeRole::Manager)
                .map(|n| n.id.to_string())
                .collect()
        });
        ids.sort_unstable();
        ids
    }

    /// The root nodes should trust and the key that signs certificates now.
    pub fn root_info(&self) -> Result<super::rpc::RootInfo, ClusterError> {
        let c = self.cluster()?;
        let signer = match &c.root_ca.root_rotation {
            Some(r) => &r.ca_cert_pem,
            None => &c.root_ca.ca_cert_pem,
        };
        Ok(super::rpc::RootInfo {
            trust_root: c.root_ca.ca_cert_pem.clone(),
            signer_public_key: super::ca::public_key_of(signer)?,
        })
    }

    /// The swarm's dispatcher heartbeat period (at least 100 ms).
    pub(crate) fn heartbeat_period(&self) -> Duration {
        let ns = self
            .cluster()
            .map(|c| c.spec.dispatcher.heartbeat_period_ns)
            .unwrap_or(5_000_000_000);
        Duration::from_nanos(u64::try_from(ns).unwrap_or(5_000_000_000).max(100_000_000))
    }

    /// Signs a certificate for `who` with the key that signs now: the new root while a
    /// rotation is in progress (followed by its cross-signed certificate, so nodes that
    /// still trust only the current root verify it), else the root.
    fn sign_for(
        cluster: &Cluster,
        public_key_der: &[u8],
        who: &NodeIdentity,
    ) -> Result<String, ClusterError> {
        let expiry = node_cert_expiry(&cluster.spec);
        match &cluster.root_ca.root_rotation {
            Some(r) => {
                let leaf =
                    sign_node_cert(&r.ca_cert_pem, &r.ca_key_pem, public_key_der, who, expiry)?;
                Ok(format!(
                    "{}\n{}",
                    leaf.trim_end(),
                    r.cross_signed_ca_cert_pem
                ))
            }
            None => sign_node_cert(
                &cluster.root_ca.ca_cert_pem,
                &cluster.root_ca.ca_key_pem,
                public_key_der,
                who,
                expiry,
            ),
        }
    }

    /// Handles a join: checks the token, signs a certificate, records the node.
    ///
    /// Errors: InvalidArgument "A valid join token is necessary to join this cluster" for a
    /// wrong or rotated token (dockerd's text).
    pub async fn join(&self, req: JoinRequest) -> Result<JoinResponse, ClusterError> {
        let cluster = self.cluster()?;
        let invalid = || {
            ClusterError::InvalidArgument(
                "A valid join token is necessary to join this cluster".into(),
            )
        };
        parse_join_token(&req.token).map_err(|_| invalid())?;
        let tokens = &cluster.root_ca.join_tokens;
        let role = if super::ca::token_matches(&req.token, &tokens.manager) {
            NodeRole::Manager
        } else if super::ca::token_matches(&req.token, &tokens.worker) {
            NodeRole::Worker
        } else {
            return Err(invalid());
        };
        let node_id = super::ca::random_id();
        let raft_id = raft_id_for(&node_id);
        let who = NodeIdentity {
            node_id: node_id.clone(),
            role,
            cluster_id: cluster.id.to_string(),
        };
        let cert_pem = Self::sign_for(&cluster, &req.public_key_der, &who)?;
        let mut node = new_node(&node_id, role, &req.advertise_addr, &req.hostname);
        if let Some(a) = req.availability {
            node.spec.availability = a;
        }
        self.store
            .propose_or_forward(ClusterCommand::Create(StoreObject::Node(node)))
            .await
            .map_err(store_err)?;
        tracing::info!(node.id = %node_id, ?role, addr = %req.advertise_addr, "node joined");
        let mut managers = self.manager_addrs();
        let mut manager_ids = self.manager_ids();
        if role == NodeRole::Manager {
            managers.push(req.advertise_addr.clone());
            manager_ids.push(node_id.clone());
        }
        Ok(JoinResponse {
            node_id,
            cluster_id: cluster.id.to_string(),
            role,
            raft_id,
            cert_pem,
            ca_pem: cluster.root_ca.ca_cert_pem.clone(),
            managers,
            manager_ids,
        })
    }

    /// The role a node should hold now: a promotion takes effect at once (the node renews
    /// and starts Raft), a demotion only once the leader has taken it out of Raft.
    pub(crate) fn desired_role(node: &Node) -> NodeRole {
        if node.spec.role == NodeRole::Manager {
            NodeRole::Manager
        } else {
            node.role
        }
    }

    /// Issues a fresh certificate for the caller with the role it should hold now.
    pub async fn renew(
        &self,
        who: &NodeIdentity,
        req: RenewRequest,
    ) -> Result<RenewResponse, ClusterError> {
        // Only the leader's view of the node's role is authoritative (a manager being
        // demoted may be cut off from the log and still see itself as a manager).
        if !self.is_leader() {
            return Err(ClusterError::Unavailable("not the leader".into()));
        }
        let cluster = self.cluster()?;
        let node = self
            .store
            .read(|s| s.nodes().get(&NodeId::new(who.node_id.as_str())).cloned())
            .ok_or_else(|| {
                ClusterError::FailedPrecondition(format!("node {} was removed", who.node_id))
            })?;
        let role = Self::desired_role(&node);
        let raft_id = raft_id_for(&who.node_id);
        if role == NodeRole::Manager && node.role != NodeRole::Manager {
            let mut n = node.clone();
            n.role = NodeRole::Manager;
            n.manager_status = Some(ManagerStatus {
                raft_id,
                leader: false,
                reachability: Reachability::Unknown,
                addr: req.advertise_addr.clone(),
            });
            n.meta.updated_at = now();
            self.store
                .propose_or_forward(ClusterCommand::Update(StoreObject::Node(n)))
                .await
                .map_err(store_err)?;
            tracing::info!(node.id = %who.node_id, "node promoted to manager");
        }
        let cert_pem = Self::sign_for(
            &cluster,
            &req.public_key_der,
            &NodeIdentity {
                node_id: who.node_id.clone(),
                role,
                cluster_id: cluster.id.to_string(),
            },
        )?;
        Ok(RenewResponse {
            cert_pem,
            role,
            raft_id,
            ca_pem: cluster.root_ca.ca_cert_pem.clone(),
        })
    }

    /// Handles a manager's membership request (leader only).
    pub async fn membership(
        &self,
        who: &NodeIdentity,
        req: MembershipRequest,
    ) -> Result<(), ClusterError> {
        match req {
            MembershipRequest::Leave => {
                if !self.is_leader() {
                    return Err(ClusterError::Unavailable("not the leader".into()));
                }
                let raft_id = raft_id_for(&who.node_id);
                self.remove_member(raft_id).await?;
                if let Some(node) = self
                    .store
                    .read(|s| s.nodes().get(&NodeId::new(who.node_id.as_str())).cloned())
                {
                    let mut n = node;
                    n.spec.role = NodeRole::Worker;
                    n.role = NodeRole::Worker;
                    n.manager_status = None;
                    n.status.state = NodeState::Down;
                    n.status.message = "node left the swarm".into();
                    n.meta.updated_at = now();
                    self.store
                        .propose(ClusterCommand::Update(StoreObject::Node(n)))
                        .await
                        .map_err(store_err)?;
                }
                Ok(())
            }
        }
    }

    /// Takes `raft_id` out of Raft entirely (voter and learner).
    async fn remove_member(&self, raft_id: u64) -> Result<(), ClusterError> {
        let membership = self.store.metrics().borrow().membership_config.clone();
        let voters: BTreeSet<u64> = membership.membership().voter_ids().collect();
        if voters.contains(&raft_id) {
            if voters.len() == 1 {
                return Err(ClusterError::FailedPrecondition(
                    "attempting to demote the last manager of the swarm".into(),
                ));
            }
            self.store
                .raft()
                .change_membership(
                    ChangeMembers::RemoveVoters(BTreeSet::from([raft_id])),
                    false,
                )
                .await
                .map_err(|e| store_err(shoal_raft::StoreError::Membership(e.to_string())))?;
        } else if membership.membership().get_node(&raft_id).is_some() {
            self.store
                .raft()
                .change_membership(ChangeMembers::RemoveNodes(BTreeSet::from([raft_id])), false)
                .await
                .map_err(|e| store_err(shoal_raft::StoreError::Membership(e.to_string())))?;
        }
        Ok(())
    }

    /// Runs the leader's loop until `stop`: node liveness, manager status and Raft
    /// membership. On followers it idles.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(LOOP_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            // A round may wait on Raft (a new manager catching up); shutdown must not.
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.round() => {}
            }
        }
    }

    /// One pass of the loop: snapshots on every manager, the rest on the leader only.
    async fn round(&self) {
        self.snapshot_per_spec().await;
        if !self.is_leader() {
            return;
        }
        if let Err(e) = self.reconcile_membership().await {
            tracing::warn!(error = %e, "raft membership reconcile failed");
        }
        if let Err(e) = self.finish_root_rotation().await {
            tracing::warn!(error = %e, "root rotation step failed");
        }
    }

    /// Ends a root rotation once every node that is not down reports a certificate from
    /// the new root (swarmkit's CA reconciler): the new root replaces the old one, and both
    /// join tokens change, since they embed the root's digest. Nodes then move their trust
    /// to the new root as their heartbeats tell them.
    async fn finish_root_rotation(&self) -> Result<(), ClusterError> {
        let cluster = self.cluster()?;
        let Some(rot) = cluster.root_ca.root_rotation.as_ref() else {
            return Ok(());
        };
        let want = super::ca::public_key_of(&rot.ca_cert_pem)?;
        let pending: Vec<String> = self.store.read(|s| {
            s.nodes()
                .iter()
                .filter(|n| n.status.state != NodeState::Down)
                .filter(|n| {
                    n.description
                        .as_ref()
                        .and_then(|d| d.tls_info.as_ref())
                        .is_none_or(|t| t.cert_issuer_public_key != want)
                })
                .map(|n| n.id.to_string())
                .collect()
        });
        if !pending.is_empty() {
            tracing::debug!(?pending, "root rotation waits for nodes to renew");
            return Ok(());
        }
        let mut c = cluster.clone();
        let digest = super::ca::ca_digest_base36(&rot.ca_cert_pem)?;
        c.root_ca.ca_cert_pem = rot.ca_cert_pem.clone();
        c.root_ca.ca_key_pem = rot.ca_key_pem.clone();
        c.root_ca.ca_cert_digest = format!("sha256:{digest}");
        c.root_ca.join_tokens.worker = super::ca::new_join_token(&digest);
        c.root_ca.join_tokens.manager = super::ca::new_join_token(&digest);
        c.root_ca.root_rotation = None;
        c.meta.updated_at = now();
        self.store
            .propose(ClusterCommand::Update(StoreObject::Cluster(c)))
            .await
            .map_err(store_err)?;
        tracing::info!("root CA rotation complete; join tokens changed");
        Ok(())
    }

    /// Applies the swarm spec's `Raft.SnapshotInterval` live: openraft's own policy is fixed
    /// when the member starts, so every manager also triggers a snapshot once that many
    /// entries were applied since its last one. (`KeepOldSnapshots` is read from the spec
    /// by the state machine itself.)
    async fn snapshot_per_spec(&self) {
        let Ok(cluster) = self.cluster() else { return };
        let interval = cluster.spec.raft.snapshot_interval.max(1);
        let (applied, snap) = {
            let m = self.store.metrics();
            let m = m.borrow();
            (
                m.last_applied.map(|l| l.index).unwrap_or(0),
                m.snapshot.map(|l| l.index).unwrap_or(0),
            )
        };
        {
            let mut last = self
                .last_snapshot_trigger
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Until a triggered build shows up in the metrics, count from the trigger point.
            if applied.saturating_sub(snap.max(*last)) < interval {
                return;
            }
            *last = applied;
        }
        if let Err(e) = self.store.trigger_snapshot().await {
            tracing::debug!(error = %e, "snapshot trigger failed");
        }
    }

    async fn reconcile_membership(&self) -> Result<(), ClusterError> {
        let metrics = self.store.metrics().borrow().clone();
        let membership = metrics.membership_config.membership().clone();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        let nodes: Vec<Node> = self.store.read(|s| s.nodes().iter().cloned().collect());
        let wanted: HashMap<u64, &Node> = nodes
            .iter()
            .filter(|n| n.role == NodeRole::Manager && n.spec.role == NodeRole::Manager)
            .filter_map(|n| n.manager_status.as_ref().map(|m| (m.raft_id, n)))
            .collect();
        // Add new managers as learners, then make caught-up learners voters.
        for (raft_id, node) in &wanted {
            let Some(ms) = node.manager_status.as_ref() else {
                continue;
            };
            if membership.get_node(raft_id).is_none() {
                tracing::info!(node.id = %node.id, raft.id = raft_id, "adding manager to raft");
                match tokio::time::timeout(
                    ADD_LEARNER_TIMEOUT,
                    self.store
                        .add_learner(*raft_id, RaftNode::new(ms.addr.clone())),
                )
                .await
                {
                    Ok(r) => r.map_err(store_err)?,
                    Err(_) => continue,
                }
            }
            let caught_up = metrics
                .replication
                .as_ref()
                .and_then(|r| r.get(raft_id).cloned().flatten())
                .map(|l| l.index + 10 >= metrics.last_log_index.unwrap_or(0))
                .unwrap_or(false);
            if !voters.contains(raft_id) && (caught_up || membership.get_node(raft_id).is_none()) {
                self.store
                    .raft()
                    .change_membership(
                        ChangeMembers::AddVoterIds(BTreeSet::from([*raft_id])),
                        false,
                    )
                    .await
                    .map_err(|e| store_err(shoal_raft::StoreError::Membership(e.to_string())))?;
                tracing::info!(node.id = %node.id, raft.id = raft_id, "manager is a raft voter");
            }
        }
        // Remove members no manager node wants any more (demoted or removed nodes).
        let metrics = self.store.metrics().borrow().clone();
        let members: Vec<u64> = metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        for id in members {
            if !wanted.contains_key(&id) && id != self.store.id() {
                tracing::info!(raft.id = id, "removing member from raft");
                self.remove_member(id).await?;
            }
        }
        // A demoted manager becomes a worker once it is out of Raft.
        let members: BTreeSet<u64> = self
            .store
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        for node in &nodes {
            if node.role == NodeRole::Manager && node.spec.role == NodeRole::Worker {
                let raft_id = node.manager_status.as_ref().map(|m| m.raft_id).unwrap_or(0);
                if raft_id == self.store.id() {
                    // The leader demotes itself: hand leadership over first by leaving the
                    // voters; a new leader finishes the demotion.
                    self.remove_member(raft_id).await?;
                    continue;
                }
                if !members.contains(&raft_id) {
                    let mut n = node.clone();
                    n.role = NodeRole::Worker;
                    n.manager_status = None;
                    n.meta.updated_at = now();
                    self.store
                        .propose(ClusterCommand::Update(StoreObject::Node(n)))
                        .await
                        .map_err(store_err)?;
                    tracing::info!(node.id = %node.id, "node demoted to worker");
                }
            }
        }
        Ok(())
    }
}

/// A node object for a node that just joined (or the first manager).
pub fn new_node(node_id: &str, role: NodeRole, advertise_addr: &str, hostname: &str) -> Node {
    Node {
        id: NodeId::new(node_id),
        meta: Meta::new(now()),
        spec: NodeSpec {
            role,
            ..Default::default()
        },
        role,
        description: Some(shoal_scheduler::model::node::NodeDescription {
            hostname: hostname.to_owned(),
            ..Default::default()
        }),
        status: NodeStatus {
            state: NodeState::Unknown,
            message: String::new(),
            addr: host_of(advertise_addr),
        },
        manager_status: (role == NodeRole::Manager).then(|| ManagerStatus {
            raft_id: raft_id_for(node_id),
            leader: false,
            reachability: Reachability::Unknown,
            addr: advertise_addr.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_ids_are_stable_and_nonzero() {
        assert_eq!(raft_id_for("abc"), raft_id_for("abc"));
        assert_ne!(raft_id_for("abc"), raft_id_for("abd"));
        assert_eq!(raft_id_for("x") & 1, 1);
    }

    #[test]
    fn host_of_strips_ports() {
        assert_eq!(host_of("10.0.0.1:2377"), "10.0.0.1");
        assert_eq!(host_of("[::1]:2377"), "::1");
        assert_eq!(host_of("host"), "host");
    }
}
