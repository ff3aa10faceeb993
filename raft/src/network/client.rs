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
    #[cfg(feature = "testing")]
    faults: Arc<Mutex<HashMap<String, LinkFault>>>,
}

/// Faults injected on the Raft messages from one member to a peer (feature `testing`).
#[cfg(feature = "testing")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFault {
    /// Per mille of requests dropped before they are sent.
    pub drop_request: u32,
    /// Per mille of requests delivered whose reply is then dropped (the peer acted on it;
    /// the sender sees a network error).
    pub drop_reply: u32,
    /// Extra delay before each request is sent.
    pub delay: Duration,
}

impl Network {
    /// A network whose every channel uses mutual TLS from `tls`.
    pub fn new(tls: &TlsConfig) -> Self {
        Self {
            tls: tls.client_config(),
            channels: Arc::new(Mutex::new(HashMap::new())),
            #[cfg(feature = "testing")]
            blocked: Arc::default(),
            #[cfg(feature = "testing")]
            faults: Arc::default(),
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
        let data = crate::codec::encode(req).map_err(|e| StoreError::Transport(e.to_string()))?;
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
            crate::codec::decode(&reply.into_inner().data)
                .map_err(|e| StoreError::Unavailable(format!("bad reply from leader: {e}")))?;
        res.map_err(StoreError::from)
    }
}

impl Network {
    /// Asks the leader at `leader` for a read index: the log index a linearizable read
    /// must see applied, after it confirmed its leadership with a quorum.
    ///
    /// Errors: [`StoreError::NotLeader`] if it is no longer the leader,
    /// [`StoreError::Unavailable`] if it cannot be reached or has no quorum.
    #[tracing::instrument(level = "debug", skip_all, fields(leader = %leader.addr))]
    pub(crate) async fn read_index(&self, leader: &RaftNode) -> Result<u64, StoreError> {
        let mut client = RaftClient::new(self.channel(&leader.addr)?);
        let reply = tokio::time::timeout(
            FORWARD_TIMEOUT,
            client.read_index(pb::Json { data: Vec::new() }),
        )
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!("read index from leader {} timed out", leader.addr))
        })?
        .map_err(|s| {
            StoreError::Unavailable(format!(
                "read index from leader {}: {}",
                leader.addr,
                s.message()
            ))
        })?;
        let res: Result<u64, WireError> = crate::codec::decode(&reply.into_inner().data)
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

    /// Sets (or, with the default value, clears) message loss and delay towards `addr`.
    pub fn set_fault(&self, addr: &str, fault: LinkFault) {
        let mut f = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        if fault == LinkFault::default() {
            f.remove(addr);
        } else {
            f.insert(addr.to_owned(), fault);
        }
    }

    /// Clears every block and fault of this member.
    pub fn heal_all(&self) {
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn fault(&self, addr: &str) -> LinkFault {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(addr)
            .copied()
            .unwrap_or_default()
    }
}

/// A cheap shared pseudo-random source for fault decisions (tests only).
#[cfg(feature = "testing")]
fn chance(per_mille: u32) -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    if per_mille == 0 {
        return false;
    }
    let mut z = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z % 1000 < u64::from(per_mille)
}

impl Connection {
    /// Applies injected loss and delay before a request (feature `testing`); without the
    /// feature it does nothing. Returns whether to drop the reply.
    async fn before_send<E: std::error::Error>(
        &self,
    ) -> Result<bool, openraft::error::RPCError<RaftId, RaftNode, E>> {
        #[cfg(feature = "testing")]
        {
            let f = self.network.fault(&self.node.addr);
            if !f.delay.is_zero() {
                tokio::time::sleep(f.delay).await;
            }
            if chance(f.drop_request) {
                return Err(openraft::error::RPCError::Unreachable(Unreachable::new(
                    &std::io::Error::other("request dropped by fault injection"),
                )));
            }
            Ok(chance(f.drop_reply))
        }
        #[cfg(not(feature = "testing"))]
        Ok(false)
    }
}

fn reply_dropped<E: std::error::Error>() -> openraft::error::RPCError<RaftId, RaftNode, E> {
    openraft::error::RPCError::Network(NetworkError::new(&std::io::Error::other(
        "reply dropped by fault injection",
    )))
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
        let res: Result<T, E> = crate::codec::decode(data)
            .map_err(|e| openraft::error::RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RemoteError::new_with_node(self.target, self.node.clone(), e).into())
    }
}

fn encode<T: Serialize, E: std::error::Error>(
    v: &T,
) -> Result<Vec<u8>, openraft::error::RPCError<RaftId, RaftNode, E>> {
    crate::codec::encode(v).map_err(|e| openraft::error::RPCError::Network(NetworkError::new(&e)))
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
        let drop_reply = self.before_send().await?;
        let mut client = self.client()?;
        let data = encode(&rpc)?;
        let reply = with_ttl(&option, client.append(pb::Json { data })).await?;
        if drop_reply {
            return Err(reply_dropped());
        }
        self.decode(&reply.data)
    }

    async fn install_snapshot(
        &mut self,
        rpc: typ::InstallSnapshotRequest,
        option: RPCOption,
    ) -> Result<typ::InstallSnapshotResponse, typ::RpcError<InstallSnapshotError>> {
        let drop_reply = self.before_send().await?;
        let mut client = self.client()?;
        let chunk = pb::SnapshotChunk {
            vote: encode(&rpc.vote)?,
            meta: encode(&rpc.meta)?,
            offset: rpc.offset,
            data: rpc.data,
            done: rpc.done,
        };
        let reply = with_ttl(&option, client.install_snapshot(chunk)).await?;
        if drop_reply {
            return Err(reply_dropped());
        }
        self.decode(&reply.data)
    }

    async fn vote(
        &mut self,
        rpc: typ::VoteRequest,
        option: RPCOption,
    ) -> Result<typ::VoteResponse, typ::RpcError> {
        let drop_reply = self.before_send().await?;
        let mut client = self.client()?;
        let data = encode(&rpc)?;
        let reply = with_ttl(&option, client.vote(pb::Json { data })).await?;
        if drop_reply {
            return Err(reply_dropped());
        }
        self.decode(&reply.data)
    }
}
