//! The cluster object: the swarm-wide spec, the root CA, join tokens and unlock keys.
//!
//! There is exactly one, created by `swarm init` and named "default" as in swarmkit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::ClusterId;
use super::meta::Meta;

/// The name of the one cluster object (swarmkit `store.DefaultClusterName`).
pub const DEFAULT_CLUSTER_NAME: &str = "default";

/// The cluster object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// The cluster's ID.
    pub id: ClusterId,
    /// Version and timestamps.
    pub meta: Meta,
    /// Operator-controlled settings (`docker swarm update`).
    pub spec: ClusterSpec,
    /// The cluster root CA and its material.
    pub root_ca: RootCa,
    /// Keys that unlock managers' encrypted state when autolock is on.
    pub unlock_keys: Vec<EncryptionKey>,
}

/// Swarm-wide settings, Docker's `SwarmSpec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Always "default".
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Orchestration settings.
    pub orchestration: OrchestrationConfig,
    /// Raft settings.
    pub raft: RaftConfig,
    /// Dispatcher (agent session) settings.
    pub dispatcher: DispatcherConfig,
    /// Certificate authority settings.
    pub ca_config: CaConfig,
    /// Encryption-at-rest settings.
    pub encryption: EncryptionConfig,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            name: DEFAULT_CLUSTER_NAME.to_owned(),
            labels: BTreeMap::new(),
            orchestration: OrchestrationConfig::default(),
            raft: RaftConfig::default(),
            dispatcher: DispatcherConfig::default(),
            ca_config: CaConfig::default(),
            encryption: EncryptionConfig::default(),
        }
    }
}

/// Docker's `Orchestration` spec section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrchestrationConfig {
    /// How many old tasks to keep per slot (`--task-history-limit`, default 5).
    pub task_history_retention_limit: i64,
}

impl Default for OrchestrationConfig {
    fn default() -> Self {
        Self {
            task_history_retention_limit: 5,
        }
    }
}

/// Docker's `Raft` spec section; defaults match `docker swarm init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftConfig {
    /// Log entries between snapshots (`--snapshot-interval`, default 10000).
    pub snapshot_interval: u64,
    /// Snapshots kept besides the current one (default 0).
    pub keep_old_snapshots: u64,
    /// Entries kept after a snapshot for slow followers (default 500).
    pub log_entries_for_slow_followers: u64,
    /// Ticks without a leader before an election (default 10).
    pub election_tick: u32,
    /// Ticks between leader heartbeats (default 1).
    pub heartbeat_tick: u32,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            snapshot_interval: 10_000,
            keep_old_snapshots: 0,
            log_entries_for_slow_followers: 500,
            election_tick: 10,
            heartbeat_tick: 1,
        }
    }
}

/// Docker's `Dispatcher` spec section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatcherConfig {
    /// Agent heartbeat period in nanoseconds (default 5 s).
    pub heartbeat_period_ns: i64,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            heartbeat_period_ns: 5_000_000_000,
        }
    }
}

/// Docker's `CAConfig` spec section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaConfig {
    /// Validity of issued node certificates in nanoseconds (`--cert-expiry`, default 90 days).
    pub node_cert_expiry_ns: i64,
    /// Incremented to force every node to renew its certificate.
    pub force_rotate: u64,
}

impl Default for CaConfig {
    fn default() -> Self {
        Self {
            node_cert_expiry_ns: 90 * 24 * 3600 * 1_000_000_000,
            force_rotate: 0,
        }
    }
}

/// Docker's `EncryptionConfig` spec section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EncryptionConfig {
    /// `--autolock`: managers keep their Raft data encrypted with the unlock key.
    pub auto_lock_managers: bool,
}

/// The cluster root CA as stored in Raft. `Debug` leaves the key and the
/// tokens out, and the key is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RootCa {
    /// PEM of the root CA certificate.
    pub ca_cert_pem: String,
    /// PEM of the root CA key; encrypted at rest when autolock is on.
    pub ca_key_pem: String,
    /// Digest of the CA certificate as it appears in join tokens (`sha256:<hex>`).
    pub ca_cert_digest: String,
    /// The current join tokens.
    pub join_tokens: JoinTokens,
    /// A root rotation in progress (`docker swarm ca --rotate`): nodes renew onto its root,
    /// then it replaces this one.
    #[serde(default)]
    pub root_rotation: Option<RootRotation>,
}

/// The new root of a rotation in progress, as swarmkit's `RootRotation`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RootRotation {
    /// PEM of the new root CA certificate.
    pub ca_cert_pem: String,
    /// PEM of the new root CA key.
    pub ca_key_pem: String,
    /// The new root's certificate signed by the current root: nodes that still trust only
    /// the current root verify certificates of the new one through it.
    pub cross_signed_ca_cert_pem: String,
}

impl std::fmt::Debug for RootRotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootRotation").finish_non_exhaustive()
    }
}

impl Drop for RootRotation {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.ca_key_pem);
    }
}

impl std::fmt::Debug for RootCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCa")
            .field("ca_cert_digest", &self.ca_cert_digest)
            .field("root_rotation", &self.root_rotation.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for RootCa {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.ca_key_pem);
    }
}

/// Join tokens in Docker's format `SWMTKN-1-<CA digest>-<secret>`. `Debug`
/// prints neither; they are wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JoinTokens {
    /// Token a worker presents to join.
    pub worker: String,
    /// Token a manager presents to join.
    pub manager: String,
}

impl std::fmt::Debug for JoinTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinTokens").finish_non_exhaustive()
    }
}

impl Drop for JoinTokens {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.worker);
        zeroize::Zeroize::zeroize(&mut self.manager);
    }
}

/// An unlock key, as swarmkit's `EncryptionKey`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EncryptionKey {
    /// What the key is for, e.g. "manager".
    pub subsystem: String,
    /// The key material.
    pub key: Vec<u8>,
    /// Orders rotations: the highest wins.
    pub lamport_time: u64,
}
