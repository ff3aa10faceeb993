//! Endpoints Shoal does not serve yet, answering so `docker` fails cleanly.
//!
//! Listing resources that do not exist as empty would be a lie, so local
//! features answer 501 naming the feature.

use axum::Router;
use axum::routing::{get, post};

use crate::error::ApiError;

/// dockerd's message for cluster endpoints on a node that is not a manager.
pub const NOT_A_SWARM_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" \
     or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's message for leaving when not in a swarm.
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";

/// 501 naming `feature`.
async fn refuse(feature: &'static str) -> ApiError {
    ApiError::not_implemented(format!("Shoal does not support {feature} yet"))
}

/// The placeholder routes.
pub(crate) fn routes() -> Router {
    // Each on the one method dockerd serves it with: another method is the router's 405, as
    // from dockerd, not a 501.
    Router::new()
        .route(
            "/containers/{id}/attach/ws",
            get(|| refuse("websocket attach")),
        )
        .route("/session", post(|| refuse("build sessions")))
        // BuildKit's gRPC endpoint (docker buildx), not in the swagger file.
        .route("/grpc", post(|| refuse("image build")))
        .route("/images/search", get(|| refuse("image search")))
}
