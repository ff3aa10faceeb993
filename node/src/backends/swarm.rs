//! `SwarmBackend` over [`ClusterService`], and the one mapping of [`ClusterError`] to
//! Docker's error classes.

use async_trait::async_trait;
use shoal_api::error::{ApiError, ApiResult, ErrorKind};
use shoal_api::models::{
    NodeSpecAvailabilityEnum, Swarm, SwarmInitRequest, SwarmJoinRequest, SwarmSpec,
    SwarmUnlockRequest, UnlockKeyResponse,
};
use shoal_api::routers::swarm::{SwarmBackend, SwarmUpdateFlags};
use shoal_scheduler::model::ClusterSpec;
use shoal_scheduler::model::node::NodeAvailability;

use crate::cluster::control::Rotate;
use crate::cluster::{ClusterError, ClusterService, InitParams, JoinParams, code_name, convert};

/// Cluster errors as the API reports them. dockerd talks to its swarm manager over gRPC,
/// so manager-side refusals reach the CLI as `rpc error: code = X desc = ...`; the same
/// prefix is kept here.
pub fn cluster_error(e: ClusterError) -> ApiError {
    let rpc =
        |code: tonic::Code, m: &str| format!("rpc error: code = {} desc = {m}", code_name(code));
    match e {
        ClusterError::NotInSwarm
        | ClusterError::AlreadyInSwarm
        | ClusterError::NotManager
        | ClusterError::NotManagerWorker
        | ClusterError::Locked
        | ClusterError::Unavailable(_) => ApiError::unavailable(e.to_string()),
        ClusterError::InvalidArgument(m) => ApiError::invalid(m),
        ClusterError::FailedPrecondition(m) => {
            ApiError::invalid(rpc(tonic::Code::FailedPrecondition, &m))
        }
        ClusterError::NotFound(m) => ApiError::not_found(m),
        ClusterError::OutOfSequence => {
            ApiError::invalid(rpc(tonic::Code::Unknown, "update out of sequence"))
        }
        ClusterError::Remote { code, ref message } => {
            let kind = match code {
                tonic::Code::InvalidArgument
                | tonic::Code::FailedPrecondition
                | tonic::Code::OutOfRange => ErrorKind::InvalidParameter,
                tonic::Code::NotFound => ErrorKind::NotFound,
                tonic::Code::AlreadyExists => ErrorKind::Conflict,
                tonic::Code::PermissionDenied => ErrorKind::Forbidden,
                tonic::Code::Unauthenticated => ErrorKind::Unauthorized,
                tonic::Code::Unimplemented => ErrorKind::NotImplemented,
                tonic::Code::Unavailable => ErrorKind::Unavailable,
                _ => ErrorKind::Internal,
            };
            ApiError::new(kind, rpc(code, message))
        }
        ClusterError::Store(ref s) => {
            use shoal_raft::StoreError as S;
            let kind = match s.as_ref() {
                S::NotLeader { .. } | S::Unavailable(_) | S::Membership(_) => {
                    ErrorKind::Unavailable
                }
                S::OutOfSequence(_) | S::InvalidArgument(_) => ErrorKind::InvalidParameter,
                S::NotFound(_) => ErrorKind::NotFound,
                S::Conflict(_) => ErrorKind::Conflict,
                S::Storage(_)
                | S::Db(_)
                | S::Io(_)
                | S::InvalidConfig(_)
                | S::Transport(_)
                | S::Encryption(_) => ErrorKind::Internal,
            };
            ApiError::new(kind, e.to_string())
        }
        ClusterError::Certificate(_) | ClusterError::Io { .. } => ApiError::internal(e.to_string()),
    }
}

/// The swarm router's backend.
#[derive(Debug, Clone)]
pub struct SwarmApi {
    /// This node's membership.
    pub cluster: ClusterService,
}

fn availability(a: Option<NodeSpecAvailabilityEnum>) -> Option<NodeAvailability> {
    match a? {
        NodeSpecAvailabilityEnum::ACTIVE => Some(NodeAvailability::Active),
        NodeSpecAvailabilityEnum::PAUSE => Some(NodeAvailability::Pause),
        NodeSpecAvailabilityEnum::DRAIN => Some(NodeAvailability::Drain),
        NodeSpecAvailabilityEnum::EMPTY => None,
    }
}

impl SwarmApi {
    /// `POST /swarm/init` with the node's starting availability (`docker swarm init
    /// --availability drain`, sent by the CLI beside the swagger fields).
    pub async fn init_with(
        &self,
        req: SwarmInitRequest,
        avail: Option<NodeSpecAvailabilityEnum>,
    ) -> ApiResult<String> {
        let spec = match &req.spec {
            Some(s) => convert::spec_from_api(&ClusterSpec::default(), s).map_err(cluster_error)?,
            None => ClusterSpec::default(),
        };
        self.cluster
            .init(InitParams {
                listen_addr: req.listen_addr.unwrap_or_default(),
                advertise_addr: req.advertise_addr.unwrap_or_default(),
                force_new_cluster: req.force_new_cluster.unwrap_or(false),
                spec,
                availability: availability(avail),
            })
            .await
            .map_err(cluster_error)
    }

    /// `POST /swarm/join` with the node's starting availability (`docker swarm join
    /// --availability pause`).
    pub async fn join_with(
        &self,
        req: SwarmJoinRequest,
        avail: Option<NodeSpecAvailabilityEnum>,
    ) -> ApiResult<()> {
        self.cluster
            .join(JoinParams {
                listen_addr: req.listen_addr.unwrap_or_default(),
                advertise_addr: req.advertise_addr.unwrap_or_default(),
                remote_addrs: req.remote_addrs.unwrap_or_default(),
                token: req.join_token.unwrap_or_default(),
                availability: availability(avail),
            })
            .await
            .map_err(cluster_error)
    }
}

#[async_trait]
impl SwarmBackend for SwarmApi {
    async fn init(&self, req: SwarmInitRequest) -> ApiResult<String> {
        self.init_with(req, None).await
    }

    async fn init_with_availability(
        &self,
        req: SwarmInitRequest,
        availability: Option<NodeSpecAvailabilityEnum>,
    ) -> ApiResult<String> {
        self.init_with(req, availability).await
    }

    async fn join(&self, req: SwarmJoinRequest) -> ApiResult<()> {
        self.join_with(req, None).await
    }

    async fn join_with_availability(
        &self,
        req: SwarmJoinRequest,
        availability: Option<NodeSpecAvailabilityEnum>,
    ) -> ApiResult<()> {
        self.join_with(req, availability).await
    }

    async fn leave(&self, force: bool) -> ApiResult<()> {
        self.cluster.leave(force).await.map_err(cluster_error)
    }

    async fn inspect(&self) -> ApiResult<Swarm> {
        let m = self
            .cluster
            .available_manager()
            .await
            .map_err(cluster_error)?;
        let c = m.cluster().map_err(cluster_error)?;
        Ok(convert::swarm_to_api(&c, true))
    }

    async fn update(
        &self,
        version: u64,
        spec: SwarmSpec,
        flags: SwarmUpdateFlags,
    ) -> ApiResult<()> {
        let m = self
            .cluster
            .manager_settled()
            .await
            .map_err(cluster_error)?;
        let current = m.cluster().map_err(cluster_error)?;
        let new = convert::spec_from_api(&current.spec, &spec).map_err(cluster_error)?;
        let signing_ca = convert::signing_ca_from_api(&spec).map_err(cluster_error)?;
        m.update_swarm(
            version,
            new,
            Rotate {
                worker: flags.rotate_worker_token,
                manager: flags.rotate_manager_token,
                unlock_key: flags.rotate_manager_unlock_key,
                signing_ca,
            },
        )
        .await
        .map(|_| ())
        .map_err(cluster_error)
    }

    async fn unlock_key(&self) -> ApiResult<UnlockKeyResponse> {
        let m = self
            .cluster
            .manager_settled()
            .await
            .map_err(cluster_error)?;
        match m.unlock_key().map_err(cluster_error)? {
            Some(k) => Ok(UnlockKeyResponse {
                unlock_key: Some(k),
            }),
            // dockerd's answer when autolock is off.
            None => Err(ApiError::not_found("no unlock key is set")),
        }
    }

    async fn unlock(&self, req: SwarmUnlockRequest) -> ApiResult<()> {
        self.cluster
            .unlock(&req.unlock_key.unwrap_or_default())
            .await
            .map_err(cluster_error)
    }
}
