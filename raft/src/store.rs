//! [`ClusterStore`]: the handle the rest of Shoal uses to read, write and watch the
//! replicated cluster state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use shoal_scheduler::model::{ClusterCommand, ClusterState, RaftConfig, StoreEvent, Timestamp};
use tokio::sync::watch;

use crate::batch::Batcher;
use crate::cipher::ValueCipher;
use crate::error::{LeaderInfo, StoreError, from_raft};
use crate::network::{Network, PeerAuth};
use crate::state_machine::Shared;
use crate::stats::{ProposalObserver, WriteStats};
use crate::storage::{StorageOptions, open_storage_encrypted};
use crate::tls::TlsConfig;
use crate::types::{RaftId, RaftNode, Request, Response, typ};
use crate::watch::{Watch, view_and_watch};

/// How to run one member of the replicated store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// This member's Raft id (stable across restarts).
    pub id: RaftId,
    /// The address peers reach this member at (`host:port`).
    pub addr: String,
    /// Directory for the sled database and snapshots.
    pub data_dir: PathBuf,
    /// Docker's swarm Raft settings (ticks, snapshot interval, ...).
    pub raft: RaftConfig,
    /// Length of one Raft tick. Docker's swarm uses 1 s (about 10 s failover with the
    /// default ElectionTick 10); Shoal defaults to 100 ms so failover stays under 2 s.
    pub tick: Duration,
    /// Storage options.
    pub storage: StorageOptions,
    /// How long a proposal may wait to be committed before the caller gets Unavailable.
    pub propose_timeout: Duration,
    /// Encryption at rest of the stored values (log entries, state, snapshot files) with
    /// the node's data encryption key; `None` keeps the plaintext format. A store created
    /// with a key must always be opened with that key.
    pub cipher: Option<Arc<ValueCipher>>,
    /// How Raft RPC callers are authorized beyond their certificate (see
    /// [`crate::network::authz`]); the node side binds certificates to Raft ids here.
    pub peer_auth: PeerAuth,
    /// Told the latency of every proposal this member writes as leader.
    pub observer: ProposalObserver,
}

impl StoreConfig {
    /// A config with Docker's Raft defaults and a 100 ms tick.
    pub fn new(id: RaftId, addr: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            id,
            addr: addr.into(),
            data_dir: data_dir.into(),
            raft: RaftConfig::default(),
            tick: Duration::from_millis(100),
            storage: StorageOptions::default(),
            propose_timeout: Duration::from_secs(10),
            cipher: None,
            peer_auth: PeerAuth::default(),
            observer: ProposalObserver::default(),
        }
    }

    /// The openraft configuration derived from the swarm settings.
    ///
    /// Errors: [`StoreError::InvalidConfig`] if the values are inconsistent (e.g. election
    /// timeout not above the heartbeat).
    pub fn openraft_config(&self) -> Result<openraft::Config, StoreError> {
        if self.raft.heartbeat_tick == 0 || self.raft.election_tick <= self.raft.heartbeat_tick {
            return Err(StoreError::InvalidConfig(
                "election tick must be greater than heartbeat tick, which must be greater than 0"
                    .into(),
            ));
        }
        let tick_ms = u64::try_from(self.tick.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let heartbeat = tick_ms.saturating_mul(u64::from(self.raft.heartbeat_tick));
        // openraft 0.9 starts an election only after the leader lease (= election_timeout_max)
        // plus this node's randomized election timeout have passed without a heartbeat. To
        // detect a dead leader after about ElectionTick ticks, as etcd/swarmkit do, split the
        // window: min = ElectionTick/2, max = 1.2 * min, i.e. 1.1-1.2 ElectionTick in total.
        let election = tick_ms.saturating_mul(u64::from(self.raft.election_tick));
        let election_min = (election / 2).max(heartbeat.saturating_mul(2));
        let election_max = election_min
            .saturating_add(election_min / 5)
            .max(election_min + 1);
        let config = openraft::Config {
            cluster_name: "shoal".into(),
            heartbeat_interval: heartbeat,
            election_timeout_min: election_min,
            election_timeout_max: election_max,
            install_snapshot_timeout: 10_000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(
                self.raft.snapshot_interval.max(1),
            ),
            max_in_snapshot_log_to_keep: self.raft.log_entries_for_slow_followers,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| StoreError::InvalidConfig(e.to_string()))
    }
}

/// One Raft member as listed by [`ClusterStore::members`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    /// Raft id.
    pub id: RaftId,
    /// Its address.
    pub node: RaftNode,
    /// Voter (manager) or learner (catching up).
    pub voter: bool,
}

/// A command's applied result on the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The log index the command was applied at (the new `Version.index` of what it wrote).
    pub index: u64,
    /// The object events it produced.
    pub events: Vec<StoreEvent>,
}

/// A handle to this member's replicated store. Cheap to clone.
#[derive(Clone)]
pub struct ClusterStore {
    inner: Arc<Inner>,
}

struct Inner {
    id: RaftId,
    node: RaftNode,
    raft: typ::Raft,
    sm: Arc<Shared>,
    network: Network,
    /// A leader that has not heard from a quorum for longer than this refuses writes.
    quorum_lease: Duration,
    propose_timeout: Duration,
    batcher: Batcher,
    peer_auth: PeerAuth,
    observer: ProposalObserver,
}

impl std::fmt::Debug for ClusterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStore")
            .field("id", &self.inner.id)
            .field("addr", &self.inner.node.addr)
            .finish()
    }
}

fn now() -> Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix(
        i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        d.subsec_nanos(),
    )
}

impl ClusterStore {
    /// Opens the on-disk state under `config.data_dir` and starts the Raft member. Serve
    /// its RPCs with [`crate::network::serve`] (or add [`crate::network::RaftGrpc`] to a
    /// router).
    ///
    /// A fresh member is uninitialized: call [`Self::initialize`] on the first manager, or
    /// add it from the leader with [`Self::add_learner`]. A restarted member resumes from
    /// disk.
    pub async fn open(config: StoreConfig, tls: &TlsConfig) -> Result<Self, StoreError> {
        let raft_config = Arc::new(config.openraft_config()?);
        let quorum_lease = Duration::from_millis(raft_config.election_timeout_max);
        let (log, sm) =
            open_storage_encrypted(&config.data_dir, config.storage, config.cipher.clone())?;
        log.check_owner(config.id)?;
        let shared = sm.shared.clone();
        let network = Network::new(tls);
        let raft = openraft::Raft::new(config.id, raft_config, network.clone(), log, sm)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let batcher = Batcher::start(raft.clone(), shared.stats.clone());
        tracing::info!(raft.id = config.id, addr = %config.addr, "raft member started");
        Ok(Self {
            inner: Arc::new(Inner {
                id: config.id,
                node: RaftNode::new(config.addr),
                raft,
                sm: shared,
                network,
                quorum_lease,
                propose_timeout: config.propose_timeout,
                batcher,
                peer_auth: config.peer_auth,
                observer: config.observer,
            }),
        })
    }

    /// This member's Raft id.
    pub fn id(&self) -> RaftId {
        self.inner.id
    }

    /// This member's advertised address.
    pub fn node(&self) -> &RaftNode {
        &self.inner.node
    }

    /// The underlying openraft handle, for membership code.
    pub fn raft(&self) -> &typ::Raft {
        &self.inner.raft
    }

    /// The transport (channel cache; forwarding).
    pub fn network(&self) -> &Network {
        &self.inner.network
    }

    /// Creates a new cluster with `members` as voters (`swarm init`: just this member).
    ///
    /// Errors: [`StoreError::Membership`] if this member already has state.
    pub async fn initialize(&self, members: BTreeMap<RaftId, RaftNode>) -> Result<(), StoreError> {
        self.inner.raft.initialize(members).await.map_err(from_raft)
    }

    /// Whether this member has any Raft state (initialized or joined).
    pub async fn is_initialized(&self) -> Result<bool, StoreError> {
        self.inner
            .raft
            .is_initialized()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Proposes `cmd` and waits until it is committed and applied here (the leader).
    ///
    /// Errors: [`StoreError::NotLeader`] on a follower (forward to the leader it names, see
    /// [`Self::propose_or_forward`]); OutOfSequence / NotFound / Conflict / InvalidArgument
    /// when apply rejected it (deterministically, on every replica); Unavailable when Raft
    /// is shutting down.
    #[tracing::instrument(level = "debug", skip_all, fields(raft.id = self.inner.id))]
    pub async fn propose(&self, cmd: ClusterCommand) -> Result<Applied, StoreError> {
        let req = Request::single(cmd, self.inner.id, now());
        let index_and = self.propose_request(req).await?;
        index_and.into_applied()
    }

    /// Like [`Self::propose`], but on a follower forwards the proposal to the leader over
    /// the transport. With no known leader: [`StoreError::NotLeader`] with `leader: None`
    /// (Docker answers 503 then).
    #[tracing::instrument(level = "debug", skip_all, fields(raft.id = self.inner.id))]
    pub async fn propose_or_forward(&self, cmd: ClusterCommand) -> Result<Applied, StoreError> {
        let req = Request::single(cmd, self.inner.id, now());
        match self.propose_request(req.clone()).await {
            Err(StoreError::NotLeader {
                leader:
                    Some(LeaderInfo {
                        node: Some(node), ..
                    }),
            }) => self
                .inner
                .network
                .forward(&node, &req)
                .await?
                .into_applied(),
            other => other?.into_applied(),
        }
    }

    /// Writes an already-stamped request through local Raft (used by forwarded proposals).
    pub(crate) async fn propose_request(
        &self,
        req: Request,
    ) -> Result<AppliedResponse, StoreError> {
        self.check_quorum().await?;
        let start = std::time::Instant::now();
        let out = tokio::time::timeout(self.inner.propose_timeout, self.inner.batcher.submit(req))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "proposal not committed within {:?}; the managers may have lost quorum",
                    self.inner.propose_timeout
                ))
            });
        // A follower's NotLeader answer wrote nothing here: not a transaction of this member.
        if !matches!(out, Ok(Err(StoreError::NotLeader { .. }))) {
            self.inner.observer.observe(start.elapsed());
        }
        out?
    }

    /// Fails fast on a leader cut off from its quorum: openraft 0.9 keeps such a leader
    /// leading (and would queue the write until the propose timeout); Docker answers with an
    /// error.
    ///
    /// A quorum acknowledgement older than the lease is only a hint (a busy follower can be
    /// slow to answer), so leadership is then confirmed with a real quorum round trip, and
    /// only its failure refuses the write.
    async fn check_quorum(&self) -> Result<(), StoreError> {
        let lease = u64::try_from(self.inner.quorum_lease.as_millis()).unwrap_or(u64::MAX);
        let stale_ms = {
            let metrics = self.inner.raft.metrics();
            let m = metrics.borrow();
            match m.millis_since_quorum_ack {
                Some(ms) if m.state == openraft::ServerState::Leader && ms > lease => ms,
                _ => return Ok(()),
            }
        };
        let no_quorum = |detail: String| {
            StoreError::Unavailable(format!(
                "no quorum: this manager has not heard from a majority of managers for \
                 {stale_ms} ms ({detail})"
            ))
        };
        let confirm = self.inner.quorum_lease.saturating_mul(5);
        match tokio::time::timeout(confirm, self.inner.raft.get_read_log_id()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(no_quorum(e.to_string())),
            Err(_) => Err(no_quorum(format!("no answer within {confirm:?}"))),
        }
    }

    /// Runs `f` on this member's local copy of the state (possibly stale on a follower; call
    /// [`Self::ensure_linearizable`] first to read your own writes).
    pub fn read<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.inner.sm.read().state)
    }

    /// How RPC callers are authorized (for the transport).
    pub(crate) fn peer_auth(&self) -> &PeerAuth {
        &self.inner.peer_auth
    }

    /// Raft ids that were members and were removed since (refused by the transport).
    pub fn removed_members(&self) -> BTreeSet<RaftId> {
        self.inner.sm.read().removed.clone()
    }

    /// Write-path counters: proposals per entry, log flushes and their durations.
    pub fn write_stats(&self) -> WriteStats {
        self.inner.sm.stats.snapshot()
    }

    /// The last log index applied to the local state.
    pub fn applied_index(&self) -> u64 {
        self.inner
            .sm
            .read()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0)
    }

    /// Confirms leadership with a quorum and waits until the local state includes every
    /// write committed before the call.
    ///
    /// Errors: [`StoreError::NotLeader`] on a follower, [`StoreError::Unavailable`] without
    /// a quorum.
    pub async fn ensure_linearizable(&self) -> Result<(), StoreError> {
        self.inner
            .raft
            .ensure_linearizable()
            .await
            .map(|_| ())
            .map_err(from_raft)
    }

    /// Like [`Self::ensure_linearizable`], but on a follower too: it asks the leader for a
    /// read index (the leader confirms its leadership with a quorum, Raft's ReadIndex) and
    /// waits until this member has applied up to it. Afterwards a local [`Self::read`] sees
    /// every write acknowledged before the call, wherever it was made.
    ///
    /// openraft 0.9.25 has no leader-lease reads, so every call costs one quorum round trip
    /// (plus one to the leader on a follower).
    ///
    /// Errors: [`StoreError::NotLeader`] with `leader: None` when no leader is known;
    /// [`StoreError::Unavailable`] without a quorum, or when this member does not catch up
    /// within the propose timeout.
    #[tracing::instrument(level = "debug", skip_all, fields(raft.id = self.inner.id))]
    pub async fn ensure_linearizable_or_forward(&self) -> Result<(), StoreError> {
        match self.ensure_linearizable().await {
            Err(StoreError::NotLeader {
                leader:
                    Some(LeaderInfo {
                        node: Some(node), ..
                    }),
            }) => {
                let index = self.inner.network.read_index(&node).await?;
                self.wait_applied(index).await
            }
            other => other,
        }
    }

    /// Runs `f` on state that includes every write acknowledged before the call (see
    /// [`Self::ensure_linearizable_or_forward`]); use it for reads that follow a write, as
    /// the API's inspect after update.
    ///
    /// Errors: as [`Self::ensure_linearizable_or_forward`].
    pub async fn read_linearizable<R>(
        &self,
        f: impl FnOnce(&ClusterState) -> R,
    ) -> Result<R, StoreError> {
        self.ensure_linearizable_or_forward().await?;
        Ok(self.read(f))
    }

    /// The leader's read index, after confirming leadership with a quorum (served to
    /// followers over the `ReadIndex` RPC).
    pub(crate) async fn read_index_local(&self) -> Result<u64, StoreError> {
        let (read, _) = self.inner.raft.get_read_log_id().await.map_err(from_raft)?;
        Ok(read.map(|l| l.index).unwrap_or(0))
    }

    /// Waits until the local state machine has applied `index`.
    async fn wait_applied(&self, index: u64) -> Result<(), StoreError> {
        if self.applied_index() >= index {
            return Ok(());
        }
        self.inner
            .raft
            .wait(Some(self.inner.propose_timeout))
            .applied_index_at_least(Some(index), "linearizable read")
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "this manager has not caught up with the leader (index {index}): {e}"
                ))
            })
    }

    /// The current leader as this member sees it.
    pub fn leader(&self) -> Option<LeaderInfo> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let node = m.membership_config.membership().get_node(&id).cloned();
        Some(LeaderInfo { id, node })
    }

    /// Whether this member is the leader.
    pub fn is_leader(&self) -> bool {
        self.leader().is_some_and(|l| l.id == self.inner.id)
    }

    /// openraft metrics (state, term, leader, log indexes, membership), updated live.
    pub fn metrics(&self) -> watch::Receiver<typ::RaftMetrics> {
        self.inner.raft.metrics()
    }

    /// A copy of the state, its applied index, and a [`Watch`] of every change after it.
    pub fn view_and_watch(&self) -> (ClusterState, u64, Watch) {
        view_and_watch(&self.inner.sm)
    }

    /// Adds a non-voting member and waits until it has caught up (leader only).
    pub async fn add_learner(&self, id: RaftId, node: RaftNode) -> Result<(), StoreError> {
        self.inner
            .raft
            .add_learner(id, node, true)
            .await
            .map(|_| ())
            .map_err(from_raft)
    }

    /// Makes `voters` the set of voting members (leader only); members left out become
    /// learners.
    pub async fn change_voters(&self, voters: BTreeSet<RaftId>) -> Result<(), StoreError> {
        self.inner
            .raft
            .change_membership(voters, true)
            .await
            .map(|_| ())
            .map_err(from_raft)
    }

    /// Removes a member (voter or learner) from the cluster entirely (leader only).
    pub async fn remove_member(&self, id: RaftId) -> Result<(), StoreError> {
        let change = openraft::ChangeMembers::RemoveVoters(BTreeSet::from([id]));
        // retain = false: a removed voter does not linger as a learner.
        self.inner
            .raft
            .change_membership(change, false)
            .await
            .map_err(from_raft)?;
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        if m.membership().get_node(&id).is_some() {
            let change = openraft::ChangeMembers::RemoveNodes(BTreeSet::from([id]));
            self.inner
                .raft
                .change_membership(change, false)
                .await
                .map_err(from_raft)?;
        }
        Ok(())
    }

    /// The current members as this member sees them: id, address and whether it votes.
    pub fn members(&self) -> Vec<MemberInfo> {
        let m = self.inner.raft.metrics().borrow().membership_config.clone();
        let voters: BTreeSet<RaftId> = m.membership().voter_ids().collect();
        m.membership()
            .nodes()
            .map(|(id, node)| MemberInfo {
                id: *id,
                node: node.clone(),
                voter: voters.contains(id),
            })
            .collect()
    }

    /// Asks Raft to build a snapshot now (it runs in the background).
    pub async fn trigger_snapshot(&self) -> Result<(), StoreError> {
        self.inner
            .raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    /// Number of snapshot files on disk.
    pub fn snapshot_files(&self) -> Result<usize, StoreError> {
        Ok(self.inner.sm.snapshot_files()?)
    }

    /// Stops the Raft member and flushes the database. Other handles then get Unavailable
    /// errors; the sled database closes when the last handle is dropped.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.inner
            .raft
            .shutdown()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.inner.sm.flush().await?;
        Ok(())
    }
}

/// A raw Raft response with its log index.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct AppliedResponse {
    pub(crate) index: u64,
    pub(crate) response: Response,
}

impl AppliedResponse {
    fn into_applied(self) -> Result<Applied, StoreError> {
        let events = self.response.result?;
        Ok(Applied {
            index: self.index,
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_defaults_map_to_openraft_timings() {
        let c = StoreConfig::new(1, "127.0.0.1:1", "/tmp/x")
            .openraft_config()
            .unwrap();
        assert_eq!(c.heartbeat_interval, 100);
        assert_eq!((c.election_timeout_min, c.election_timeout_max), (500, 600));
        assert_eq!(c.max_in_snapshot_log_to_keep, 500);
        assert!(matches!(
            c.snapshot_policy,
            openraft::SnapshotPolicy::LogsSinceLast(10_000)
        ));
    }

    #[test]
    fn election_not_above_heartbeat_is_invalid() {
        let mut sc = StoreConfig::new(1, "127.0.0.1:1", "/tmp/x");
        sc.raft.election_tick = 1;
        sc.raft.heartbeat_tick = 1;
        assert!(matches!(
            sc.openraft_config(),
            Err(StoreError::InvalidConfig(_))
        ));
    }
}
