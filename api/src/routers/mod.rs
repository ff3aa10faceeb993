//! One module per Docker API resource, each with its own backend trait.
//!
//! Each resource module declares its narrow `*Backend` trait at the top and
//! keeps its handlers in a `handlers` submodule; `unsupported` answers the
//! endpoints Shoal does not serve yet.

pub mod archive;
pub mod build;
pub mod configs;
pub mod containers;
pub mod distribution;
pub mod exec;
pub mod images;
pub mod networks;
pub mod nodes;
pub mod plugins;
pub mod secrets;
pub mod services;
pub mod swarm;
pub mod swarm_objects;
pub mod system;
pub mod tasks;
pub mod unsupported;
pub mod volumes;

use axum::Router;
use axum::http::StatusCode;

use crate::Backends;
use crate::error::ApiError;

/// Assembles every resource router, with dockerd's 404 for unknown paths.
pub(crate) fn build(backends: Backends) -> Router {
    Router::new()
        .merge(containers::routes(backends.containers))
        .merge(archive::routes(backends.archive))
        .merge(exec::routes(backends.exec))
        .merge(images::routes(backends.images))
        .merge(build::routes(backends.build))
        .merge(distribution::routes(backends.distribution))
        .merge(system::routes(backends.system))
        .merge(swarm::routes(backends.swarm))
        .merge(nodes::routes(backends.nodes))
        .merge(volumes::routes(backends.volumes))
        .merge(services::routes(backends.services))
        .merge(tasks::routes(backends.tasks))
        .merge(secrets::routes(backends.secrets))
        .merge(configs::routes(backends.configs))
        .merge(plugins::routes())
        .merge(networks::routes(backends.networks))
        .merge(unsupported::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(crate::middleware::tag_route))
}

/// dockerd's answer for unknown paths.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("page not found")
}

async fn method_not_allowed() -> (StatusCode, axum::Json<serde_json::Value>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(serde_json::json!({ "message": "method not allowed" })),
    )
}
