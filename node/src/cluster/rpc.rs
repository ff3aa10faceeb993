//! The cluster gRPC service (`proto/cluster.proto`): wire messages and the server side.
//!
//! Join is the one call a caller without a cluster certificate may make; every other call
//! reads the caller's node ID and role from its verified certificate, never from the payload.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shoal_scheduler::model::node::{NodeDescription, NodeRole};
use tonic::{Request, Response, Status};

use super::ca::{NodeIdentity, identity_from_der};
use super::dispatcher::Dispatcher;
use super::dispatcher::wire::StatusReport;
use super::manager::ManagerCtx;
use super::pb;
use super::pb::cluster_server::Cluster;

/// A node's request to join (`docker swarm join`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The full join token.
    pub token: String,
    /// The node's public key (SubjectPublicKeyInfo DER).
    pub public_key_der: Vec<u8>,
    /// `host:port` the node is reachable at.
    pub advertise_addr: String,
    /// The node's hostname (shown before its first heartbeat).
    pub hostname: String,
    /// `docker swarm join --availability` (default active).
    #[serde(default)]
    pub availability: Option<shoal_scheduler::model::node::NodeAvailability>,
}

/// What a joined node receives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinResponse {
    /// Its new node ID.
    pub node_id: String,
    /// The cluster ID.
    pub cluster_id: String,
    /// The role the token granted.
    pub role: NodeRole,
    /// Its Raft id (used if it is or becomes a manager).
    pub raft_id: u64,
    /// Its signed certificate (PEM).
    pub cert_pem: String,
    /// The root CA certificate (PEM).
    pub ca_pem: String,
    /// Current manager addresses.
    pub managers: Vec<String>,
    /// Node IDs of the current managers.
    #[serde(default)]
    pub manager_ids: Vec<String>,
}

/// An agent heartbeat (the first one registers the session).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatRequest {
    /// What the node reports about itself.
    pub description: NodeDescription,
    /// `host:port` the node advertises.
    pub advertise_addr: String,
}

/// The dispatcher's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum HeartbeatResponse {
    /// Session alive; send the next heartbeat within `period_ms`.
    Ok {
        /// Heartbeat period.
        period_ms: u64,
        /// Current manager addresses (the agent fails over to these).
        managers: Vec<String>,
        /// The role the operator wants this node to have (promote/demote).
        desired_role: NodeRole,
        /// Node IDs of the current managers: the agent accepts only these as managers.
        #[serde(default)]
        manager_ids: Vec<String>,
        /// The cluster's root and the key that signs certificates now: a node renews when
        /// its certificate is from another issuer and moves its trust when the root changed.
        #[serde(default)]
        root: Option<RootInfo>,
    },
    /// This manager is not the leader; talk to `leader` instead.
    NotLeader {
        /// The leader's address, if known.
        leader: Option<String>,
        /// Node IDs of the managers as this manager's replicated store knows them: an
        /// agent whose saved list is stale (it slept through a promotion) would otherwise
        /// refuse the very leader it is sent to.
        #[serde(default)]
        manager_ids: Vec<String>,
    },
    /// The node was removed from the cluster (`docker node rm`).
    Removed,
}

/// The trust a node should hold, as its heartbeat tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootInfo {
    /// PEM of the cluster root CA certificate.
    pub trust_root: String,
    /// SubjectPublicKeyInfo (DER) of the CA that signs certificates now (the new root
    /// while a rotation is in progress).
    pub signer_public_key: Vec<u8>,
}

/// A request for a fresh certificate (renewal or role change) for the caller's node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenewRequest {
    /// The new public key.
    pub public_key_der: Vec<u8>,
    /// `host:port` the node advertises (recorded as its manager address on promotion).
    pub advertise_addr: String,
}

/// A renewed certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenewResponse {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// The role it carries.
    pub role: NodeRole,
    /// The node's Raft id.
    pub raft_id: u64,
    /// The root the node should trust (the cluster's current root).
    #[serde(default)]
    pub ca_pem: String,
}

/// Membership requests a manager sends the leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum MembershipRequest {
    /// Remove the calling manager from Raft (`docker swarm leave --force` on a manager).
    Leave,
}

/// Decodes a JSON payload.
pub fn decode<T: DeserializeOwned>(msg: &pb::Msg) -> Result<T, Status> {
    serde_json::from_slice(&msg.data)
        .map_err(|e| Status::invalid_argument(format!("bad payload: {e}")))
}

/// Encodes a JSON payload.
pub fn encode<T: Serialize>(v: &T) -> Result<pb::Msg, Status> {
    serde_json::to_vec(v)
        .map(|data| pb::Msg { data })
        .map_err(|e| Status::internal(e.to_string()))
}

/// The caller's identity from its verified certificate.
fn caller<T>(req: &Request<T>) -> Result<NodeIdentity, Status> {
    let certs = req
        .peer_certs()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Status::unauthenticated("a cluster node certificate is required"))?;
    identity_from_der(certs[0].as_ref()).map_err(|e| Status::unauthenticated(e.to_string()))
}

/// The cluster service. On a worker `manager` is `None` and every call is refused with
/// dockerd's "not a swarm manager" text.
#[derive(Debug, Clone)]
pub struct ClusterRpc {
    dispatcher: Option<Arc<Dispatcher>>,
    stop: tokio_util::sync::CancellationToken,
}

impl ClusterRpc {
    /// A service for this node's role (`dispatcher` on managers); streams end on `stop`.
    pub fn new(
        dispatcher: Option<Arc<Dispatcher>>,
        stop: tokio_util::sync::CancellationToken,
    ) -> pb::cluster_server::ClusterServer<Self> {
        pb::cluster_server::ClusterServer::new(Self { dispatcher, stop })
    }

    fn dispatcher(&self) -> Result<&Arc<Dispatcher>, Status> {
        self.dispatcher
            .as_ref()
            .ok_or_else(|| Status::unavailable(super::NOT_MANAGER))
    }

    fn manager(&self) -> Result<&Arc<ManagerCtx>, Status> {
        self.dispatcher().map(|d| d.ctx())
    }

    /// The manager, if it is the leader (only the leader's broker holds agents' sessions).
    fn leader(&self) -> Result<&Arc<ManagerCtx>, Status> {
        let m = self.manager()?;
        if !m.is_leader() {
            return Err(Status::unavailable("not the leader"));
        }
        Ok(m)
    }
}

#[tonic::async_trait]
impl Cluster for ClusterRpc {
    type AssignmentsStream = futures::stream::BoxStream<'static, Result<pb::Msg, Status>>;
    type LogSubscriptionsStream = super::logs::serve::MsgStream;
    type PublishLogsStream = super::logs::serve::MsgStream;
    type SubscribeLogsStream = super::logs::serve::MsgStream;

    async fn log_subscriptions(
        &self,
        req: Request<pb::Msg>,
    ) -> Result<Response<Self::LogSubscriptionsStream>, Status> {
        let who = caller(&req)?;
        let m = self.leader()?;
        let ctx = m.clone();
        Ok(Response::new(super::logs::serve::agent_subscriptions(
            m.logs(),
            shoal_scheduler::model::NodeId::new(who.node_id.as_str()),
            Arc::new(move || ctx.is_leader()),
            self.stop.child_token(),
        )))
    }

    async fn publish_logs(
        &self,
        req: Request<tonic::Streaming<pb::Msg>>,
    ) -> Result<Response<Self::PublishLogsStream>, Status> {
        let who = caller(&req)?;
        let m = self.leader()?;
        Ok(Response::new(super::logs::serve::publish(
            m.logs().clone(),
            shoal_scheduler::model::NodeId::new(who.node_id.as_str()),
            req.into_inner(),
        )))
    }

    async fn subscribe_logs(
        &self,
        req: Request<pb::Msg>,
    ) -> Result<Response<Self::SubscribeLogsStream>, Status> {
        let who = caller(&req)?;
        if who.role != NodeRole::Manager {
            return Err(Status::permission_denied(
                "only managers may read task logs",
            ));
        }
        let m = self.leader()?;
        let r: super::logs::wire::LogRequest = decode(req.get_ref())?;
        Ok(Response::new(super::logs::serve::forwarded(m, r)))
    }

    async fn assignments(
        &self,
        req: Request<pb::Msg>,
    ) -> Result<Response<Self::AssignmentsStream>, Status> {
        use futures::StreamExt;
        let who = caller(&req)?;
        let d = self.dispatcher()?;
        if !d.ctx().is_leader() {
            return Err(Status::unavailable("not the leader"));
        }
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(d.clone().assignments(
            shoal_scheduler::model::NodeId::new(who.node_id.as_str()),
            tx,
            self.stop.child_token(),
        ));
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(|b| encode(&b));
        Ok(Response::new(stream.boxed()))
    }

    async fn update_task_status(&self, req: Request<pb::Msg>) -> Result<Response<pb::Msg>, Status> {
        let who = caller(&req)?;
        let d = self.dispatcher()?;
        let report: StatusReport = decode(req.get_ref())?;
        d.update_task_status(
            shoal_scheduler::model::NodeId::new(who.node_id.as_str()),
            report.updates,
        )
        .await
        .map_err(|e| e.to_status())?;
        Ok(Response::new(encode(&())?))
    }

    async fn join(&self, req: Request<pb::Msg>) -> Result<Response<pb::Msg>, Status> {
        let m = self.manager()?;
        let join: JoinRequest = decode(req.get_ref())?;
        let resp = m.join(join).await.map_err(|e| e.to_status())?;
        Ok(Response::new(encode(&resp)?))
    }

    async fn heartbeat(&self, req: Request<pb::Msg>) -> Result<Response<pb::Msg>, Status> {
        let who = caller(&req)?;
        let d = self.dispatcher()?;
        let hb: HeartbeatRequest = decode(req.get_ref())?;
        let resp = d.heartbeat(&who, hb).await.map_err(|e| e.to_status())?;
        Ok(Response::new(encode(&resp)?))
    }

    async fn renew(&self, req: Request<pb::Msg>) -> Result<Response<pb::Msg>, Status> {
        let who = caller(&req)?;
        let m = self.manager()?;
        let r: RenewRequest = decode(req.get_ref())?;
        let resp = m.renew(&who, r).await.map_err(|e| e.to_status())?;
        Ok(Response::new(encode(&resp)?))
    }

    async fn membership(&self, req: Request<pb::Msg>) -> Result<Response<pb::Msg>, Status> {
        let who = caller(&req)?;
        if who.role != NodeRole::Manager {
            return Err(Status::permission_denied(
                "only managers may change membership",
            ));
        }
        let m = self.manager()?;
        let r: MembershipRequest = decode(req.get_ref())?;
        m.membership(&who, r).await.map_err(|e| e.to_status())?;
        Ok(Response::new(encode(&())?))
    }
}
