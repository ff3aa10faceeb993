//! One module per Docker API resource, each with its own backend trait.
//!
//! Each resource module declares its narrow `*Backend` trait at the top and
//! keeps its handlers in a `handlers` submodule; `unsupported` answers the
//! endpoints Shoal does not serve yet.

pub mod containers;
pub mod exec;
pub mod images;
pub mod nodes;
pub mod swarm;
pub mod system;
pub mod unsupported;

use axum::Router;
use axum::http::StatusCode;

use crate::Backends;
use crate::error::ApiError;

/// Assembles every resource router, with dockerd's 404 for unknown paths.
pub(crate) fn build(backends: Backends) -> Router {
    Router::new()
        .merge(containers::routes(backends.containers))
        .merge(exec::routes(backends.exec))
        .merge(images::routes(backends.images))
        .merge(system::routes(backends.system))
        .merge(swarm::routes(backends.swarm))
        .merge(nodes::routes(backends.nodes))
        .merge(unsupported::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
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
