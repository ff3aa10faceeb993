//! Shoal's replicated cluster store: openraft 0.9 on sled, with a tonic + mutual-TLS
//! transport, storing `shoal_scheduler::model`.
//!
//! ```text
//!  callers (manager control API, orchestrator, dispatcher)
//!        │ propose(cmd) / read(f) / view_and_watch()
//!        ▼
//!  ClusterStore ──client_write──▶ openraft::Raft ──RaftNetwork──▶ network::client ══gRPC+mTLS══▶ peers
//!        ▲                          │        ▲                                         │
//!        │ read lock / broadcast    │ apply  │ vote/append/snapshot ◀── network::server ◀┘
//!        │                          ▼        │
//!  state_machine (ClusterState in memory)               log_store (sled trees "raft_log", "raft_meta")
//!        │ build / install
//!        ▼
//!  snapshot (versioned encoding, <dir>/snapshots, KeepOldSnapshots)
//! ```
//!
//! - [`types`]: the openraft type config (`Request` = `ClusterCommand` + proposer metadata).
//! - [`log_store`], [`state_machine`], [`snapshot`], [`storage`]: durable state; they pass
//!   openraft's storage conformance suite (`tests/storage_suite.rs`).
//! - [`store`]: [`ClusterStore`], the handle everything else uses; `batch` (private)
//!   coalesces concurrent proposals into one log entry each caller still gets its own result
//!   from; [`stats`]: write-path counters ([`ClusterStore::write_stats`]).
//! - [`watch`]: consistent snapshot-then-events subscriptions.
//! - [`network`] and [`tls`]: the transport; there is no plaintext path.
//!   [`network::authz`] decides which certificate may act as which Raft member and refuses
//!   removed members.
//! - [`cipher`]: encryption at rest of stored values ([`StoreConfig::cipher`]).
//! - [`error`]: the [`StoreError`] type.
//!
//! Writes: [`ClusterStore::propose`] on the leader; on a follower it returns NotLeader naming
//! the leader, and [`ClusterStore::propose_or_forward`] sends it there over the `Propose`
//! RPC. Reads: [`ClusterStore::read`] is local; [`ClusterStore::read_linearizable`] first
//! gets a read index from the leader (quorum-confirmed) and waits until it is applied here. A leader that has lost its quorum refuses writes ("no quorum: ...") instead of
//! queueing them, and every proposal is bounded by `StoreConfig::propose_timeout`.
//!
//! The `testing` feature adds fault injection (`Network::block`/`unblock`) for tests; it is
//! never enabled in production builds.

// openraft's storage and RPC error types are large by design and fixed by its trait
// signatures; boxing them locally would only move the allocation.
#![allow(clippy::result_large_err)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod batch;
pub mod cipher;
pub(crate) mod codec;
pub mod error;
pub mod log_store;
pub mod network;
pub mod snapshot;
pub mod state_machine;
pub mod stats;
pub mod storage;
pub mod store;
pub mod tls;
pub mod types;
pub mod watch;

pub use cipher::{CipherError, ValueCipher};
pub use error::{LeaderInfo, StoreError};
pub use stats::{ProposalObserver, WriteStats};
pub use store::{Applied, ClusterStore, MemberInfo, StoreConfig};
pub use tls::TlsConfig;
pub use types::{RaftId, RaftNode};
pub use watch::{Watch, WatchItem};
