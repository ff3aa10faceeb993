//! Server side of the transport: the `Raft` gRPC service.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};

use super::authz::{Caller, MembershipView, verified_manager};
use super::pb;
use super::pb::raft_server::{Raft as RaftService, RaftServer};
use crate::error::{StoreError, WireError};
use crate::store::{AppliedResponse, ClusterStore};
use crate::tls::TlsConfig;
use crate::types::{RaftId, Request, typ};

/// The gRPC service backed by a local [`ClusterStore`].
#[derive(Debug, Clone)]
pub struct RaftGrpc {
    store: ClusterStore,
}

impl RaftGrpc {
    /// A service for `store`, ready to add to a tonic router (possibly beside other
    /// manager services on the same TLS listener).
    pub fn new(store: ClusterStore) -> RaftServer<Self> {
        // Snapshot chunks are up to openraft's 3 MiB default plus envelope; allow headroom.
        RaftServer::new(Self { store })
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20)
    }
}

fn decode<T: DeserializeOwned>(data: &[u8]) -> Result<T, Status> {
    crate::codec::decode(data).map_err(|e| Status::invalid_argument(format!("bad payload: {e}")))
}

fn reply<T: Serialize>(v: &T) -> Result<GrpcResponse<pb::Json>, Status> {
    let data = crate::codec::encode(v).map_err(|e| Status::internal(e.to_string()))?;
    Ok(GrpcResponse::new(pb::Json { data }))
}

impl RaftGrpc {
    /// Authorizes `caller` (whose certificate [`verified_manager`] checked before anything
    /// in the request was decoded; see [`super::authz`]); `claimed` is the Raft id the
    /// request says it comes from.
    fn authorize(
        &self,
        caller: &Caller,
        claimed: Option<RaftId>,
        member_only: bool,
    ) -> Result<(), Status> {
        let members: Vec<RaftId> = self
            .store
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        let removed = self.store.removed_members();
        let view = MembershipView {
            members: &members,
            removed: &removed,
        };
        let res = self
            .store
            .peer_auth()
            .authorize(caller, claimed, member_only, &view);
        if let Err(status) = &res {
            tracing::warn!(peer = %caller.node_id, reason = status.message(), "raft rpc refused");
        }
        res
    }
}

#[tonic::async_trait]
impl RaftService for RaftGrpc {
    async fn vote(&self, req: GrpcRequest<pb::Json>) -> Result<GrpcResponse<pb::Json>, Status> {
        let caller = verified_manager(&req)?;
        let rpc: typ::VoteRequest = decode(&req.get_ref().data)?;
        self.authorize(&caller, Some(rpc.vote.leader_id.node_id), false)?;
        tracing::trace!(raft.term = rpc.vote.leader_id.term, "vote request");
        reply(&self.store.raft().vote(rpc).await)
    }

    async fn append(&self, req: GrpcRequest<pb::Json>) -> Result<GrpcResponse<pb::Json>, Status> {
        let caller = verified_manager(&req)?;
        let rpc: typ::AppendEntriesRequest = decode(&req.get_ref().data)?;
        self.authorize(&caller, Some(rpc.vote.leader_id.node_id), false)?;
        reply(&self.store.raft().append_entries(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: GrpcRequest<pb::SnapshotChunk>,
    ) -> Result<GrpcResponse<pb::Json>, Status> {
        let caller = verified_manager(&req)?;
        let vote: typ::Vote = decode(&req.get_ref().vote)?;
        self.authorize(&caller, Some(vote.leader_id.node_id), false)?;
        let chunk = req.into_inner();
        let rpc = typ::InstallSnapshotRequest {
            vote,
            meta: decode(&chunk.meta)?,
            offset: chunk.offset,
            data: chunk.data,
            done: chunk.done,
        };
        reply(&self.store.raft().install_snapshot(rpc).await)
    }

    async fn propose(&self, req: GrpcRequest<pb::Json>) -> Result<GrpcResponse<pb::Json>, Status> {
        let caller = verified_manager(&req)?;
        let request: Request = decode(&req.get_ref().data)?;
        if !request.batched.is_empty() {
            return Err(Status::invalid_argument(
                "a forwarded proposal carries exactly one command",
            ));
        }
        self.authorize(&caller, Some(request.proposer), true)?;
        let res: Result<AppliedResponse, WireError> = self
            .store
            .propose_request(request)
            .await
            .map_err(WireError::from);
        reply(&res)
    }

    async fn read_index(
        &self,
        req: GrpcRequest<pb::Json>,
    ) -> Result<GrpcResponse<pb::Json>, Status> {
        let caller = verified_manager(&req)?;
        self.authorize(&caller, None, true)?;
        let res: Result<u64, WireError> =
            self.store.read_index_local().await.map_err(WireError::from);
        reply(&res)
    }
}

/// Serves the Raft service with mutual TLS on `listener` until `shutdown` resolves.
///
/// Errors: [`StoreError::Transport`] for bad TLS material or a failed server.
pub async fn serve(
    listener: TcpListener,
    tls: &TlsConfig,
    store: ClusterStore,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StoreError> {
    tonic::transport::Server::builder()
        .tls_config(tls.server_config())
        .map_err(|e| StoreError::Transport(format!("tls: {e}")))?
        .add_service(RaftGrpc::new(store))
        // Builder::tcp_nodelay only applies to listeners tonic binds itself; without nodelay
        // on accepted sockets, replies wait out delayed ACKs (~40 ms per forwarded write).
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .map_err(|e| StoreError::Transport(e.to_string()))
}
