//! Swarm mode of one node: joining a cluster, its certificates, and the manager-side
//! membership and dispatcher loops, on top of `shoal_raft::ClusterStore`.
//!
//! ```text
//!  backends::{swarm,nodes,system} ──▶ ClusterService (service.rs: init/join/leave, state)
//!                                        │ owns one Running per swarm membership
//!                                        ├─ ca.rs        root CA, node certs, join tokens
//!                                        ├─ local.rs     <data-root>/swarm/: ids, role, certs
//!                                        ├─ rpc.rs       gRPC: Join (no cert) / Heartbeat / Renew / Membership
//!                                        ├─ join.rs      dial a manager, pin its CA by token digest
//!                                        ├─ agent.rs     heartbeat session with the leader
//!                                        ├─ manager.rs   leader loops: node liveness, raft membership
//!                                        ├─ reissue.rs   certificate renewal and role changes
//!                                        ├─ recover.rs   --force-new-cluster
//!                                        ├─ autolock.rs  sealed node key, lock/unlock
//!                                        ├─ dek.rs       Raft data encryption key at rest
//!                                        ├─ control.rs   node and swarm updates (docker node/swarm ...)
//!                                        └─ convert.rs   model <-> Docker API types
//! ```
//!
//! One TLS listener (default port 2377) serves both Raft (cluster certificate required)
//! and the cluster service (Join without a certificate, the rest with one).

pub mod agent;
pub mod autolock;
pub mod ca;
pub mod control;
mod control_data;
mod control_service;
pub mod convert;
pub mod convert_data;
pub mod convert_service;
mod dek;
pub mod dispatcher;
mod init_join;
pub mod join;
mod leave;
pub mod local;
pub mod logs;
pub mod lookup;
pub mod manager;
mod metrics;
mod recover;
mod reissue;
pub mod rpc;
pub mod runners;
pub mod service;

pub use service::{ClusterService, Executor, HostDescription, InitParams, JoinParams, SwarmStatus};

/// Generated protobuf/gRPC code for `proto/cluster.proto`.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod pb {
    tonic::include_proto!("shoal.cluster.v1");
}

/// dockerd's message for cluster calls on a node that is not a manager.
pub const NOT_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's message for cluster calls on a worker.
pub const NOT_MANAGER_WORKER: &str = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
/// dockerd's message for swarm calls on a node outside any swarm.
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";
/// dockerd's message for init/join on a node already in a swarm.
pub const ALREADY_IN_SWARM: &str = "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one.";
/// dockerd's message when the managers have no leader (quorum lost).
pub const NO_LEADER: &str = "The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
/// dockerd's message for a locked manager.
pub const LOCKED: &str = "Swarm is encrypted and needs to be unlocked before it can be used. Please use \"docker swarm unlock\" to unlock it.";

/// Why a swarm operation failed. The API maps each variant to a status in
/// `backends::swarm::cluster_error`.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The node is not in a swarm (503).
    #[error("{NOT_IN_SWARM}")]
    NotInSwarm,
    /// init/join on a node that already is in one (503).
    #[error("{ALREADY_IN_SWARM}")]
    AlreadyInSwarm,
    /// A manager-only call on a worker (503).
    #[error("{NOT_MANAGER}")]
    NotManager,
    /// A manager-only call on a worker (503).
    #[error("{NOT_MANAGER_WORKER}")]
    NotManagerWorker,
    /// The manager is locked (503).
    #[error("{LOCKED}")]
    Locked,
    /// No leader, no quorum, or a manager could not be reached (503).
    #[error("{0}")]
    Unavailable(String),
    /// Bad input (400). The text is the user-visible message.
    #[error("{0}")]
    InvalidArgument(String),
    /// A request that is not allowed in the current state (400, dockerd's FailedPrecondition).
    #[error("{0}")]
    FailedPrecondition(String),
    /// No such node (404).
    #[error("{0}")]
    NotFound(String),
    /// Stale version (409? dockerd: "update out of sequence").
    #[error("update out of sequence")]
    OutOfSequence,
    /// The replicated store failed (boxed: openraft's errors are large).
    #[error(transparent)]
    Store(Box<shoal_raft::StoreError>),
    /// Certificate creation or parsing failed (500).
    #[error("certificate error: {0}")]
    Certificate(String),
    /// Local swarm state on disk could not be read or written (500).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A remote manager answered with an error status: dockerd shows these as
    /// `rpc error: code = ... desc = ...`.
    #[error("rpc error: code = {code} desc = {message}", code = code_name(*.code))]
    Remote {
        /// The gRPC code.
        code: tonic::Code,
        /// The remote message.
        message: String,
    },
}

/// Go gRPC's names for status codes, as dockerd prints them.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

impl ClusterError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| ClusterError::Io { context, source }
    }

    /// The gRPC status a manager answers with for this error.
    pub fn to_status(&self) -> tonic::Status {
        use tonic::Status;
        match self {
            ClusterError::InvalidArgument(m) => Status::invalid_argument(m.clone()),
            ClusterError::FailedPrecondition(m) => Status::failed_precondition(m.clone()),
            ClusterError::NotFound(m) => Status::not_found(m.clone()),
            ClusterError::OutOfSequence => Status::aborted("update out of sequence"),
            ClusterError::Remote { code, message } => Status::new(*code, message.clone()),
            ClusterError::Certificate(m) => Status::internal(m.clone()),
            ClusterError::Io { .. } => Status::internal(self.to_string()),
            ClusterError::NotInSwarm
            | ClusterError::AlreadyInSwarm
            | ClusterError::NotManager
            | ClusterError::NotManagerWorker
            | ClusterError::Locked
            | ClusterError::Unavailable(_)
            | ClusterError::Store(_) => Status::unavailable(self.to_string()),
        }
    }

    /// A status received from a remote manager.
    pub fn from_status(s: tonic::Status) -> Self {
        ClusterError::Remote {
            code: s.code(),
            message: s.message().to_owned(),
        }
    }
}

/// Maps store errors that are about the request (not the store) onto cluster errors.
pub(crate) fn store_err(e: shoal_raft::StoreError) -> ClusterError {
    use shoal_raft::StoreError as S;
    match e {
        S::OutOfSequence(_) => ClusterError::OutOfSequence,
        S::NotFound(a) => ClusterError::NotFound(a.to_string()),
        S::InvalidArgument(a) | S::Conflict(a) => ClusterError::InvalidArgument(a.to_string()),
        S::NotLeader { leader: None } => ClusterError::Unavailable(NO_LEADER.into()),
        S::Unavailable(m) => ClusterError::Unavailable(m),
        other => ClusterError::Store(Box::new(other)),
    }
}
