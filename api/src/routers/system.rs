//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{EventMessage, SystemDataUsageResponse, SystemInfo, SystemVersion};

/// What the system router needs from the daemon.
#[async_trait]
pub trait SystemBackend: Send + Sync + 'static {
    /// `/version`, with containerd and runc in Components.
    async fn version(&self) -> ApiResult<SystemVersion>;
    /// `/info`.
    async fn info(&self) -> ApiResult<SystemInfo>;
    /// The `Swarm` header of `/_ping`: `inactive`, `pending`, `error`,
    /// `locked`, `active/worker` or `active/manager`.
    async fn swarm_ping_status(&self) -> String;
    /// `/events`: history since `since` (unix seconds), then live events
    /// until `until`; the stream ends at `until`.
    async fn events(
        &self,
        since: Option<f64>,
        until: Option<f64>,
        filters: Filters,
    ) -> ApiResult<BoxStream<'static, EventMessage>>;
    /// `/system/df`.
    async fn df(&self) -> ApiResult<SystemDataUsageResponse>;
}

mod handlers;

pub(crate) use handlers::routes;
