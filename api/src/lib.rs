//! The Docker Engine API over axum.
//!
//! This crate knows HTTP and Docker's types and nothing else: no containerd,
//! no raft, no scheduler. Each resource has a router module with its own
//! narrow backend trait (`routers::containers::ContainersBackend`, ...);
//! `shoal-node` implements those traits and hands them to [`router`], then
//! serves the result with [`server::serve`].
//!
//! ```text
//! client ─> server (unix/tcp, hyper http1 + upgrades)
//!            └─> middleware: span, /vX.Y strip + range check, panic → 500,
//!                 {"message"} for every error, Api-Version/Server/Ostype
//!                 └─> routers::<resource>::handlers ─> dyn <Resource>Backend
//!                 └─> routers::unsupported (501 / swarm 503), 404 fallback
//! errors: backend ApiError ─> error::ApiError::into_response ─> {"message": ...}
//! streams: OutputStream ─> stream::output (stdcopy / raw, timestamps)
//!          AttachIo ─> stream::upgrade::hijack (101 UPGRADED, both ways)
//! ```
//!
//! Handlers only parse, call the backend and encode; the request's API
//! version is available to them as a [`version::ApiVersion`] extractor.

pub mod error;
pub mod extract;
mod middleware;
pub use middleware::RequestMetrics;
pub mod routers;
pub mod server;
pub mod stream;
pub mod tls;
pub mod version;

#[cfg(test)]
mod tests;

/// Docker API models generated from moby's swagger (bollard-stubs).
pub use bollard_stubs::models;

use std::sync::Arc;

use routers::archive::ArchiveBackend;
use routers::build::BuildBackend;
use routers::configs::ConfigsBackend;
use routers::containers::ContainersBackend;
use routers::distribution::DistributionBackend;
use routers::exec::ExecBackend;
use routers::images::ImagesBackend;
use routers::networks::NetworksBackend;
use routers::nodes::NodesBackend;
use routers::secrets::SecretsBackend;
use routers::services::ServicesBackend;
use routers::swarm::SwarmBackend;
use routers::system::SystemBackend;
use routers::tasks::TasksBackend;
use routers::volumes::VolumesBackend;

/// Every backend the API serves, as trait objects.
#[derive(Clone)]
pub struct Backends {
    /// `/containers/...`
    pub containers: Arc<dyn ContainersBackend>,
    /// `/containers/{id}/archive` and `/containers/{id}/changes`
    pub archive: Arc<dyn ArchiveBackend>,
    /// `/exec/...` and `/containers/{id}/exec`
    pub exec: Arc<dyn ExecBackend>,
    /// `/images/...`
    pub images: Arc<dyn ImagesBackend>,
    /// `/build`, `/build/prune`
    pub build: Arc<dyn BuildBackend>,
    /// `/auth` and `/distribution/...`
    pub distribution: Arc<dyn DistributionBackend>,
    /// `/_ping`, `/version`, `/info`, `/events`, `/system/df`
    pub system: Arc<dyn SystemBackend>,
    /// `/swarm/...`
    pub swarm: Arc<dyn SwarmBackend>,
    /// `/nodes/...`
    pub nodes: Arc<dyn NodesBackend>,
    /// `/networks/...`
    pub networks: Arc<dyn NetworksBackend>,
    /// `/volumes/...`
    pub volumes: Arc<dyn VolumesBackend>,
    /// `/services/...`
    pub services: Arc<dyn ServicesBackend>,
    /// `/tasks/...`
    pub tasks: Arc<dyn TasksBackend>,
    /// `/secrets/...`
    pub secrets: Arc<SecretsBackend>,
    /// `/configs/...`
    pub configs: Arc<ConfigsBackend>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").finish_non_exhaustive()
    }
}

/// The full Engine API router, answering both `/vX.Y/...` and unversioned paths.
///
/// The middleware wraps the routes from outside because the version prefix
/// has to be stripped before routing.
pub fn router(backends: Backends) -> axum::Router {
    router_observed(backends, None)
}

/// [`router`], reporting every request's latency to `metrics`.
pub fn router_observed(
    backends: Backends,
    metrics: Option<Arc<dyn RequestMetrics>>,
) -> axum::Router {
    axum::Router::new()
        .fallback_service(routers::build(backends))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            middleware::handle,
        ))
}
