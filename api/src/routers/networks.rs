//! `/networks/...`: list, inspect, create, connect, disconnect, remove, prune.

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse,
};

/// What the networks router needs from the node's network service.
#[async_trait]
pub trait NetworksBackend: Send + Sync + 'static {
    /// `GET /networks` (filters dangling, driver, id, label, name, scope, type).
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Network>>;
    /// `GET /networks/{id}` by ID, name or ID prefix; 404 "network X not found".
    async fn inspect(&self, id: &str) -> ApiResult<Network>;
    /// `POST /networks/create`; 409 on a name in use, 400 on bad IPAM/options.
    async fn create(&self, req: NetworkCreateRequest) -> ApiResult<NetworkCreateResponse>;
    /// `DELETE /networks/{id}`; 403 for predefined networks and active endpoints.
    async fn remove(&self, id: &str) -> ApiResult<()>;
    /// `POST /networks/{id}/connect` (running or stopped container).
    async fn connect(&self, id: &str, req: NetworkConnectRequest) -> ApiResult<()>;
    /// `POST /networks/{id}/disconnect`.
    async fn disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> ApiResult<()>;
    /// `POST /networks/prune` (filters label, until).
    async fn prune(&self, filters: Filters) -> ApiResult<NetworkPruneResponse>;
}

mod handlers;

pub(crate) use handlers::routes;
