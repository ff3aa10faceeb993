//! The Raft transport over tonic gRPC with mutual TLS.
//!
//! - [`client`]: openraft's `RaftNetworkFactory`, one cached lazy `Channel` per peer address,
//!   plus forwarding of proposals to the leader.
//! - [`server`]: the `Raft` gRPC service handing vote/append/snapshot to the local Raft and
//!   accepting forwarded proposals.
//!
//! openraft messages travel as JSON inside protobuf envelopes (see `proto/raft.proto`).

pub mod authz;
pub mod client;
pub mod server;

/// Generated protobuf/gRPC code for `proto/raft.proto`.
#[allow(missing_docs, missing_debug_implementations, clippy::all)]
pub mod pb {
    tonic::include_proto!("shoal.raft.v1");
}

pub use authz::{PeerAuth, PeerCheck, RaftIdOf};
#[cfg(feature = "testing")]
pub use client::LinkFault;
pub use client::Network;
pub use server::{RaftGrpc, serve};
