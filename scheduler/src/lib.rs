//! Shoal's pure cluster brain: no tokio, no I/O, no clocks. Time (`now`) and IDs
//! ([`IdGen`]) are parameters; every decision is a list of [`model::ClusterCommand`]s.
//!
//! - [`model`]: the replicated object model (cluster, nodes, services, tasks, networks,
//!   secrets, configs), the one Raft log payload and its deterministic `ClusterState::apply`.
//! - [`orchestrator`]: desired vs actual (replicated, global, replicated-job, global-job,
//!   restart policy, rolling update and rollback, node down / drain, constraint enforcement,
//!   deleted services).
//! - [`allocator`]: NEW → PENDING (published ports, network attachments).
//! - [`placement`]: PENDING → ASSIGNED (filters, spread preferences, least loaded).
//! - [`reaper`]: deletes removed tasks and history beyond the retention limit.
//! - [`status`]: `ServiceStatus` counts for `GET /services?status=true`.
//! - [`template`]: `{{.Service.Name}}`-style placeholders for the agent.
//! - `testing` (feature `testing`): an in-memory cluster with simulated agents.
//!
//! Helpers for the node side: [`model::validate`] (swarmkit's texts, map to 400),
//! [`model::Service::new`] / [`model::Service::with_new_spec`] / [`model::Service::rolled_back`]
//! (what the control API proposes for create, update and `rollback=previous`; they keep
//! `spec_version`, `previous_spec`, `update_status` and `job_status` as the orchestrator
//! expects), [`model::ServiceSpec::with_defaults`] (`insertDefaults=true`), [`model::Task::name`]
//! (`service.slot.id`), [`template::Context::new`] + [`template::expand`] (placeholders in
//! hostname, env, mounts and templated secrets/configs), [`status::service_status`].
//! Referential checks that need the store at request time (a referenced secret, config or
//! network exists; a published port is not taken by another service) are the control API's;
//! the invariants that must hold whoever proposes (unique names, immutable secret/config data, a
//! secret or config in use cannot be deleted) are enforced by `apply`.
//!
//! # The task model (swarmkit `design/task_model.md`)
//!
//! A task's observed state (`status.state`) only moves forward (see [`model::task_state`];
//! apply refuses a backward move); each step has one writer:
//!
//! ```text
//!  orchestrator      allocator        scheduler          agent (via the dispatcher)
//!  creates NEW ───▶ PENDING ────────▶ ASSIGNED ───▶ ACCEPTED … STARTING ─▶ RUNNING ─▶ COMPLETE
//!  desired_state     networks,        node_id,                                    │    FAILED
//!  spec, slot,       endpoint         status.err while                           │    REJECTED
//!  restart info                       unplaceable                                 ▼    SHUTDOWN
//!                                                       reaper deletes finished REMOVE / history
//! ```
//!
//! | field | written by |
//! | --- | --- |
//! | `Task.{spec, slot, spec_version, job_iteration, restart}`, creation | orchestrator |
//! | `Task.desired_state` (READY, RUNNING, COMPLETE for jobs, SHUTDOWN, REMOVE) | orchestrator |
//! | `Task.status` NEW → PENDING, `networks`, `endpoint` | allocator |
//! | `Task.status` PENDING → ASSIGNED, `node_id`, `status.err` "no suitable node (…)" | scheduler |
//! | `Task.status` from ACCEPTED on, `status.container_status`, `port_status` | agent |
//! | `Task.status` REJECTED by the constraint enforcer | orchestrator |
//! | `Service.{spec, previous_spec, spec_version, previous_spec_version}` | control API ([`model::Service::with_new_spec`], [`model::Service::rolled_back`]) |
//! | `Service.update_status` (cleared by the control API on update) | orchestrator |
//! | `Service.job_status` (iteration bumped on update) | control API |
//! | `Service.endpoint` | allocator |
//!
//! Desired state READY means "prepare, do not start yet": a restart replacement waiting for
//! its delay, or a stop-first update waiting for the old task to stop. The agent runs tasks
//! whose desired state is RUNNING or COMPLETE (a job: run to completion, never restart), and
//! stops tasks whose desired state is above COMPLETE.
//!
//! # Driving the entry points (the leader's runner, in `node`)
//!
//! ```text
//! loop {
//!     wait for a store event, or for the orchestrator's wakeup time
//!     let state = the applied state;  let now = the wall clock
//!     let r = orchestrator::reconcile_with_wakeup(&state, now, &mut ids)
//!     propose r.commands, allocator::allocate(&state, now), placement::schedule(&state, now),
//!             reaper::reap(&state)  (each its own proposal or batches of them)
//!     wait until those proposals are applied (or rejected), then loop
//! }
//! ```
//!
//! Every command is a `Create`, a `Delete`, or an `Update` carrying the version the object was
//! read at, so a decision made on a stale state fails with "update out of sequence" and is
//! simply recomputed on the next pass. Each entry point emits at most one command per object;
//! two entry points may touch the same task in one round, in which case the second proposal is
//! rejected and recomputed. Run passes one at a time and wait for a pass's proposals before the
//! next: a pass that does not see the tasks its predecessor created would create them again
//! (the orchestrator repairs such duplicates, shutting the extra task of a slot down, but it
//! costs a container start). Decisions depend only on the store, so a new leader continues
//! where the old one stopped: slot numbers, restart counts and delays, and update progress are
//! all read from the replicated objects. When nothing changed, every entry point returns no
//! commands after one O(tasks) scan.

// Tests may unwrap: a panic there is a test failure with a clear location.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod allocator;
pub mod fasthash;
pub mod ids;
pub mod model;
pub mod orchestrator;
pub mod placement;
pub mod reaper;
pub mod status;
pub mod template;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use ids::{IdGen, SequentialIds};
