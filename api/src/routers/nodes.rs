//! `/nodes/...`: list, inspect, update, remove.

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{Node, NodeSpec};

/// What the nodes router needs from the cluster (managers only: others
/// answer 503 "This node is not a swarm manager...").
#[async_trait]
pub trait NodesBackend: Send + Sync + 'static {
    /// `GET /nodes` (filters id, label, membership, name, node.label, role).
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Node>>;
    /// `GET /nodes/{id}` by ID, ID prefix or hostname; 404 "node X not found".
    async fn inspect(&self, id: &str) -> ApiResult<Node>;
    /// `POST /nodes/{id}/update?version=`: availability, role (promote and
    /// demote change raft membership), labels, name.
    async fn update(&self, id: &str, version: u64, spec: NodeSpec) -> ApiResult<()>;
    /// `DELETE /nodes/{id}?force=`.
    async fn remove(&self, id: &str, force: bool) -> ApiResult<()>;
}

mod handlers;

pub(crate) use handlers::routes;
