//! Nodes: every machine in the swarm, manager or worker.
//!
//! Writers (swarmkit's rule of one writer per field): `spec` by the control API (`docker node
//! update`), `description` and `status` by the dispatcher from the node's session, and
//! `manager_status` by the membership code from Raft.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::NodeId;
use super::meta::Meta;

/// A node object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The node's ID (also the subject of its certificate).
    pub id: NodeId,
    /// Version and timestamps.
    pub meta: Meta,
    /// What the operator asked for.
    pub spec: NodeSpec,
    /// The role the node actually holds (spec.role is the desired one).
    pub role: NodeRole,
    /// What the node reports about itself, once it has connected.
    pub description: Option<NodeDescription>,
    /// Liveness as seen by the dispatcher.
    pub status: NodeStatus,
    /// Present only for managers.
    pub manager_status: Option<ManagerStatus>,
}

/// Operator-controlled settings of a node (`docker node update`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeSpec {
    /// Optional operator-given name (Docker shows the hostname when empty).
    pub name: String,
    /// `node.labels.*` used by placement constraints.
    pub labels: BTreeMap<String, String>,
    /// Desired role; a change is carried out as a Raft membership change.
    pub role: NodeRole,
    /// Whether the scheduler may place tasks here.
    pub availability: NodeAvailability,
}

/// Manager or worker.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs tasks only; holds no Raft state.
    #[default]
    Worker,
    /// A Raft voter that also runs tasks unless drained.
    Manager,
}

/// Scheduling availability (`--availability active|pause|drain`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NodeAvailability {
    /// New tasks may be placed.
    #[default]
    Active,
    /// No new tasks; existing ones keep running.
    Pause,
    /// No tasks; existing ones are moved away.
    Drain,
}

/// What a node reports about itself when it opens a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeDescription {
    /// The machine's hostname.
    pub hostname: String,
    /// OS and architecture.
    pub platform: Platform,
    /// Total CPU and memory.
    pub resources: Resources,
    /// Engine version and `engine.labels.*`.
    pub engine: EngineDescription,
    /// The trust root and certificate issuer the node runs with (Docker's `TLSInfo`).
    #[serde(default)]
    pub tls_info: Option<NodeTlsInfo>,
}

/// What a node reports about its certificates: the root it trusts and who issued its
/// certificate. A CA rotation is complete once every node reports the new root's issuer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeTlsInfo {
    /// PEM of the root CA certificate the node trusts.
    pub trust_root: String,
    /// DER of the subject of its certificate's issuer.
    pub cert_issuer_subject: Vec<u8>,
    /// DER (SubjectPublicKeyInfo) of its certificate's issuer's public key.
    pub cert_issuer_public_key: Vec<u8>,
}

/// OS and CPU architecture, as Docker reports them (`linux`, `x86_64`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Platform {
    /// e.g. `x86_64`.
    pub architecture: String,
    /// e.g. `linux`.
    pub os: String,
}

/// CPU and memory amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in units of 1e-9 CPUs.
    pub nano_cpus: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
}

/// The container engine on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EngineDescription {
    /// The engine's version string.
    pub engine_version: String,
    /// `engine.labels.*` (daemon labels).
    pub labels: BTreeMap<String, String>,
}

/// Liveness of a node as seen by the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Ready, down or unknown.
    pub state: NodeState,
    /// Human-readable reason, e.g. "heartbeat failure".
    pub message: String,
    /// The address the node was last seen at.
    pub addr: String,
}

/// `docker node ls` STATUS column.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Not heard from since the leader started.
    #[default]
    Unknown,
    /// Missed heartbeats.
    Down,
    /// Heartbeating.
    Ready,
    /// The session was closed (e.g. during shutdown).
    Disconnected,
}

/// Raft-side status of a manager node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ManagerStatus {
    /// The node's Raft member id.
    pub raft_id: u64,
    /// Whether this manager currently leads.
    pub leader: bool,
    /// Whether the leader can reach it.
    pub reachability: Reachability,
    /// The manager's Raft listen address (`host:port`).
    pub addr: String,
}

/// `docker node ls` MANAGER STATUS column, apart from Leader.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Reachability {
    /// Not yet known.
    #[default]
    Unknown,
    /// The leader cannot reach it.
    Unreachable,
    /// The leader reaches it.
    Reachable,
}
