//! The replicated object model, shared by `shoal-raft` (which stores it) and `shoal-node`
//! (which converts Docker API types to and from it).
//!
//! ```text
//! proposer ── ClusterCommand (ids, timestamps fixed) ──▶ Raft log ──▶ ClusterState::apply(index, cmd)
//!                                                                       │
//!                                                     Vec<StoreEvent> ◀─┘ (watchers)
//! ```

pub mod apply;
pub mod cluster;
pub mod command;
pub mod config;
pub mod container;
pub mod event;
pub mod ids;
pub mod meta;
pub mod network;
pub mod node;
pub mod object;
pub mod secret;
pub mod service;
pub mod state;
pub mod task;
pub mod task_spec;
pub mod task_state;
pub mod validate;

pub use apply::ApplyError;
pub use cluster::{Cluster, ClusterSpec, RaftConfig};
pub use command::ClusterCommand;
pub use config::{Config, ConfigSpec};
pub use container::ContainerSpec;
pub use event::StoreEvent;
pub use ids::{ClusterId, ConfigId, NetworkId, NodeId, SecretId, ServiceId, TaskId};
pub use meta::{Meta, Timestamp, Version};
pub use network::{Network, NetworkSpec};
pub use node::{Node, NodeSpec};
pub use object::{Object, ObjectKind, ObjectRef, StoreObject};
pub use secret::{Secret, SecretSpec};
pub use service::{
    EndpointSpec, FailureAction, JobStatus, PortConfig, PublishMode, Service, ServiceMode,
    ServiceSpec, UpdateConfig, UpdateOrder, UpdateState, UpdateStatus,
};
pub use state::{ClusterState, Table};
pub use task::{ContainerStatus, RestartInfo, Task, TaskStatus};
pub use task_spec::{Placement, RestartCondition, RestartPolicy, TaskSpec};
pub use task_state::TaskState;
pub use validate::ValidationError;
