//! Shoal's pure cluster brain: no tokio, no I/O, no clocks.
//!
//! Today this crate holds [`model`], the replicated object model: typed objects (cluster,
//! nodes, services, tasks, networks, secrets, configs), the one Raft log payload
//! ([`model::ClusterCommand`]) and its deterministic application to [`model::ClusterState`].
//! Placement and orchestration will live beside it as pure functions from a state view to
//! commands.
//!
//! # The task model (swarmkit `design/task_model.md`)
//!
//! A task's observed state only moves forward (see [`model::task_state`]); each transition has
//! one writer:
//!
//! | state | written by |
//! | --- | --- |
//! | NEW | orchestrator (creates the task, sets desired state) |
//! | PENDING | allocator (network addresses) |
//! | ASSIGNED | scheduler (picks `node_id`) |
//! | ACCEPTED .. RUNNING, COMPLETE/FAILED/REJECTED | agent, through the dispatcher |
//! | SHUTDOWN (desired) / REMOVE / ORPHANED | orchestrator, reaper |
//!
//! Components never call each other: they propose commands and react to store events.

// Tests may unwrap: a panic there is a test failure with a clear location.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod model;
