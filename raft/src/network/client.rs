//! Client side of the transport: openraft's network factory and forwarded proposals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::pb;
use super::pb::raft_client::RaftClient;
use crate::error::{StoreError, WireError};
use crate::store::AppliedResponse;
use crate::tls::TlsConfig;
use crate::types::{RaftId, RaftNode, Request, TypeConfig, typ};

/// How long to wait for a TCP + TLS connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Upper bound for a forwarded proposal (commit needs a quorum round trip).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The Raft network: builds per-peer connections over one cached channel per address.
///
/// Cloning shares the channel cache.
#[derive(Debug, Clone)]
pub struct Network {
    tls: ClientTlsConfig,
    channels: Arc<Mutex<HashMap<String, Channel>>>,
    #[cfg(feature = "testing")]
    blocked: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl Network {
    /// A network whose every channel uses mutual TLS from `tls`.
    pub fn new(tls: &TlsConfig) -> Self {
        Self {
            tls: tls.client_config(),
            channels: Arc::new(Mutex::new(HashMap::new())),
            #[cfg(feature = "testing")]
            blocked: Arc::default(),
        }
    }

    /// The cached channel to `addr`, created lazily (the first RPC dials; a broken
    /// connection is re-dialled by the channel itself).
    pub fn channel(&self, addr: &str) -> Result<Channel, StoreError> {
        #[cfg(feature = "testing")]
        if self
            .blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(addr)
        {
            return Err(StoreError::Unavailable(format!(
                "{addr} blocked by fault injection"
            )));
        }
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("https://{addr}"))
            .map_err(|e| StoreError::Transport(format!("bad peer address {addr}: {e}")))?
            .tls_config(self.tls.clone())
            .map_err(|e| StoreError::Transport(format!("tls config: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = endpoint.connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Sends a proposal to the leader at `leader` and returns the applied result.
    ///
    /// Errors: [`StoreError::NotLeader`] if that node is no longer the leader (with the new
    /// leader if it knows it), [`StoreError::Unavailable`] if it cannot be reached.
    #[tracing::instrument(level = "debug", skip_all, fields(leader = %leader.addr))]
    pub(crate) async fn forward(
        &self,
        leader: &RaftNode,
        req: &Request,
    ) -> Result<AppliedResponse, StoreError> {
        let mut client = RaftClient::new(self.channel(&leader.addr)?);
        let data = serde_json::to_vec(req).map_err(|e| StoreError::Transport(e.to_string()))?;
        let reply = tokio::time::timeout(FORWARD_TIMEOUT, client.propose(pb::Json { data }))
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!("forwarding to leader {} timed out", leader.addr))
            })?
            .map_err(|s| {
                StoreError::Unavailable(format!(
                    "forwarding to leader {}: {}",
                    leader.addr,
                    s.message()
                ))
            })?;
        let res: Result<AppliedResponse, WireError> =
            serde_json::from_slice(&reply.into_inner().data)
                .map_err(|e| StoreError::Unavailable(format!("bad reply from leader: {e}")))?;
        res.map_err(StoreError::from)
    }
}

/// Fault injection for tests (feature `testing`, never in production builds).
#[cfg(feature = "testing")]
impl Network {
    /// Makes every RPC from this member to `addr` fail as unreachable, until unblocked.
    pub fn block(&self, addr: &str) {
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(addr.to_owned());
    }

    /// Undoes [`Self::block`].
    pub fn unblock(&self, addr: &str) {
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(addr);
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: RaftId, node: &RaftNode) -> Connection {
        Connection {
            target,
            node: node.clone(),
            network: self.clone(),
        }
    }
}

/// A connection to one peer, as openraft's replication and election tasks use it.
#[derive(Debug)]
pub struct Connection {
    target: RaftId,
    node: RaftNode,
    network: Network,
}

fn status_to_rpc<E: std::error::Error>(
    s: tonic::Status,
) -> openraft::error::RPCError<RaftId, RaftNode, E> {
    // Unavailable covers refused connections and failed handshakes: back off before retrying.
    if s.code() == tonic::Code::Unavailable {
        openraft::error::RPCError::Unreachable(Unreachable::new(&s))
    } else {
        openraft::error::RPCError::Network(NetworkError::new(&s))
    }
}

impl Connection {
    fn client<E: std::error::Error>(
        &self,
    ) -> Result<RaftClient<Channel>, openraft::error::RPCError<RaftId, RaftNode, E>> {
        let channel = self
            .network
            .channel(&self.node.addr)
            .map_err(|e| openraft::error::RPCError::Unreachable(Unreachable::new(&e)))?;
        Ok(RaftClient::new(channel))
    }

    fn decode<T: DeserializeOwned, E: std::error::Error + DeserializeOwned>(
        &self,
        data: &[u8],
    ) -> Result<T, openraft::error::RPCError<RaftId, RaftNode, E>> {
        let res: Result<T, E> = serde_json::from_slice(data)
            .map_err(|e| openraft::error::RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RemoteError::new_with_node(self.target, self.node.clone(), e).into())
    }
}

fn encode<T: Serialize, E: std::error::Error>(
    v: &T,
) -> Result<Vec<u8>, openraft::error::RPCError<RaftId, RaftNode, E>> {
    serde_json::to_vec(v).map_err(|e| openraft::error::RPCError::Network(NetworkError::new(&e)))
}

async fn with_ttl<T, E: std::error::Error>(
    option: &RPCOption,
    fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, openraft::error::RPCError<RaftId, RaftNode, E>> {
    match tokio::time::timeout(option.hard_ttl(), fut).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s)) => Err(status_to_rpc(s)),
        Err(elapsed) => Err(openraft::error::RPCError::Network(NetworkError::new(
            &elapsed,
        ))),
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: typ::AppendEntriesRequest,
        option: RPCOption,
    ) -> Result<typ::AppendEntriesResponse, typ::RpcError> {
        let mut client = self.client()?;
        let data = encode(&rpc)?;
        let reply = with_ttl(&option, client.append(pb::Json { data })).await?;
        self.decode(&reply.data)
    }

    async fn install_snapshot(
        &mut self,
        rpc: typ::InstallSnapshotRequest,
        option: RPCOption,
    ) -> Result<typ::InstallSnapshotResponse, typ::RpcError<InstallSnapshotError>> {
        let mut client = self.client()?;
        let chunk = pb::SnapshotChunk {
            vote: encode(&rpc.vote)?,
            meta: encode(&rpc.meta)?,
            offset: rpc.offset,
            data: rpc.data,
            done: rpc.done,
        };
        let reply = with_ttl(&option, client.install_snapshot(chunk)).await?;
        self.decode(&reply.data)
    }

    async fn vote(
        &mut self,
        rpc: typ::VoteRequest,
        option: RPCOption,
    ) -> Result<typ::VoteResponse, typ::RpcError> {
        let mut client = self.client()?;
        let data = encode(&rpc)?;
        let reply = with_ttl(&option, client.vote(pb::Json { data })).await?;
        self.decode(&reply.data)
    }
}
