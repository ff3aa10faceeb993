//! `/swarm/...`: init, join, leave, inspect, update, unlock.

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::models::{
    Swarm, SwarmInitRequest, SwarmJoinRequest, SwarmSpec, SwarmUnlockRequest, UnlockKeyResponse,
};

/// `POST /swarm/update` query flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmUpdateFlags {
    /// `rotateWorkerToken`.
    pub rotate_worker_token: bool,
    /// `rotateManagerToken`.
    pub rotate_manager_token: bool,
    /// `rotateManagerUnlockKey`.
    pub rotate_manager_unlock_key: bool,
}

/// What the swarm router needs from the cluster.
///
/// Errors follow dockerd: 503 "This node is not part of a swarm" /
/// "This node is already part of a swarm..." / "This node is not a swarm
/// manager...", 400 for a bad spec or token, 409 "update out of sequence".
#[async_trait]
pub trait SwarmBackend: Send + Sync + 'static {
    /// `POST /swarm/init`; returns the new node's ID.
    async fn init(&self, req: SwarmInitRequest) -> ApiResult<String>;
    /// `POST /swarm/join`.
    async fn join(&self, req: SwarmJoinRequest) -> ApiResult<()>;
    /// `POST /swarm/leave?force=`.
    async fn leave(&self, force: bool) -> ApiResult<()>;
    /// `GET /swarm` (managers only; JoinTokens included).
    async fn inspect(&self) -> ApiResult<Swarm>;
    /// `POST /swarm/update?version=&rotate...`.
    async fn update(&self, version: u64, spec: SwarmSpec, flags: SwarmUpdateFlags)
    -> ApiResult<()>;
    /// `GET /swarm/unlockkey`.
    async fn unlock_key(&self) -> ApiResult<UnlockKeyResponse>;
    /// `POST /swarm/unlock`.
    async fn unlock(&self, req: SwarmUnlockRequest) -> ApiResult<()>;
}
