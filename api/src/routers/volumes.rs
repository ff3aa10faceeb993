//! `/volumes`: named and anonymous volumes (moby `api/server/router/volume`).

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{Volume, VolumeCreateOptions, VolumeListResponse, VolumePruneResponse};

/// What the volumes router needs from the engine.
#[async_trait]
pub trait VolumesBackend: Send + Sync + 'static {
    /// `GET /volumes` with `dangling`, `driver`, `label`, `name` filters.
    async fn list(&self, filters: Filters) -> ApiResult<VolumeListResponse>;
    /// `POST /volumes/create`: creates it, or returns the existing one.
    async fn create(&self, opts: VolumeCreateOptions) -> ApiResult<Volume>;
    /// `GET /volumes/{name}`.
    async fn inspect(&self, name: &str) -> ApiResult<Volume>;
    /// `DELETE /volumes/{name}`; 409 while a container uses it.
    async fn remove(&self, name: &str, force: bool) -> ApiResult<()>;
    /// `POST /volumes/prune` with `label` and `all` filters.
    async fn prune(&self, filters: Filters) -> ApiResult<VolumePruneResponse>;
}

mod handlers;

pub(crate) use handlers::routes;
