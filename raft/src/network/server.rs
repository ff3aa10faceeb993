//! Server side of the transport: the `Raft` gRPC service.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};

use super::pb;
use super::pb::raft_server::{Raft as RaftService, RaftServer};
use crate::error::{StoreError, WireError};
use crate::store::{AppliedResponse, ClusterStore};
use crate::tls::TlsConfig;
use crate::types::{Request, typ};

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
    serde_json::from_slice(data).map_err(|e| Status::invalid_argument(format!("bad payload: {e}")))
}

fn reply<T: Serialize>(v: &T) -> Result<GrpcResponse<pb::Json>, Status> {
    let data = serde_json::to_vec(v).map_err(|e| Status::internal(e.to_string()))?;
    Ok(GrpcResponse::new(pb::Json { data }))
}

/// Refuses a caller that did not present a cluster certificate. The TLS layer has
/// already verified any certificate it was given against the cluster CA; a listener that
/// allows certificate-less joins (`TlsConfig::server_config_join_allowed`) must still
/// keep such callers away from Raft.
///
/// Only managers take part in Raft: a worker's certificate (same CA, OU
/// `swarm-worker`) is refused too, as swarmkit's authorizer does.
fn authorize<T>(req: &GrpcRequest<T>) -> Result<(), Status> {
    let certs = req
        .peer_certs()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Status::unauthenticated("a cluster node certificate is required"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs[0].as_ref())
        .map_err(|_| Status::unauthenticated("unreadable node certificate"))?;
    let manager = cert
        .subject()
        .iter_organizational_unit()
        .any(|ou| ou.as_str().ok() == Some(crate::tls::MANAGER_SERVER_NAME));
    if manager {
        Ok(())
    } else {
        Err(Status::permission_denied(
            "only swarm managers may take part in Raft",
        ))
    }
}

#[tonic::async_trait]
impl RaftService for RaftGrpc {
    async fn vote(&self, req: GrpcRequest<pb::Json>) -> Result<GrpcResponse<pb::Json>, Status> {
        authorize(&req)?;
        let rpc: typ::VoteRequest = decode(&req.into_inner().data)?;
        tracing::trace!(raft.term = rpc.vote.leader_id.term, "vote request");
        reply(&self.store.raft().vote(rpc).await)
    }

    async fn append(&self, req: GrpcRequest<pb::Json>) -> Result<GrpcResponse<pb::Json>, Status> {
        authorize(&req)?;
        let rpc: typ::AppendEntriesRequest = decode(&req.into_inner().data)?;
        reply(&self.store.raft().append_entries(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: GrpcRequest<pb::SnapshotChunk>,
    ) -> Result<GrpcResponse<pb::Json>, Status> {
        authorize(&req)?;
        let chunk = req.into_inner();
        let rpc = typ::InstallSnapshotRequest {
            vote: decode(&chunk.vote)?,
            meta: decode(&chunk.meta)?,
            offset: chunk.offset,
            data: chunk.data,
            done: chunk.done,
        };
        reply(&self.store.raft().install_snapshot(rpc).await)
    }

    async fn propose(&self, req: GrpcRequest<pb::Json>) -> Result<GrpcResponse<pb::Json>, Status> {
        authorize(&req)?;
        let request: Request = decode(&req.into_inner().data)?;
        let res: Result<AppliedResponse, WireError> = self
            .store
            .propose_request(request)
            .await
            .map_err(WireError::from);
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
