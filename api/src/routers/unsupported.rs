//! Endpoints Shoal does not serve yet, answering so `docker` fails cleanly.
//!
//! Listing resources that do not exist as empty would be a lie, so local
//! features answer 501 naming the feature. Swarm resources answer exactly
//! what dockerd says on a node outside a swarm (503).

use axum::Router;
use axum::routing::{MethodRouter, any, post};

use crate::error::ApiError;

/// dockerd's message for cluster endpoints on a node that is not a manager.
pub const NOT_A_SWARM_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" \
     or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's message for leaving when not in a swarm.
pub const NOT_IN_SWARM: &str = "This node is not part of a swarm";

fn not_implemented(feature: &'static str) -> MethodRouter {
    any(move || async move {
        ApiError::not_implemented(format!("Shoal does not support {feature} yet"))
    })
}

fn no_swarm() -> MethodRouter {
    any(|| async { ApiError::unavailable(NOT_A_SWARM_MANAGER) })
}

/// Adds `path` and everything below it.
fn tree(r: Router, path: &str, handler: MethodRouter) -> Router {
    r.route(path, handler.clone())
        .route(&format!("{path}/{{*rest}}"), handler)
}

/// The placeholder routes.
pub(crate) fn routes() -> Router {
    let mut r = Router::new()
        .route(
            "/containers/{id}/changes",
            not_implemented("container filesystem changes"),
        )
        .route("/containers/{id}/stats", not_implemented("container stats"))
        .route(
            "/containers/{id}/update",
            not_implemented("container update"),
        )
        .route(
            "/containers/{id}/archive",
            not_implemented("copying files to or from containers"),
        )
        .route(
            "/containers/{id}/attach/ws",
            not_implemented("websocket attach"),
        )
        .route("/commit", not_implemented("container commit"))
        .route("/build", not_implemented("image build"))
        .route("/build/prune", not_implemented("build cache"))
        .route("/session", not_implemented("build sessions"))
        .route("/images/search", not_implemented("image search"))
        .route("/auth", not_implemented("registry login"))
        .route("/swarm/init", post(swarm_mode_missing))
        .route("/swarm/join", post(swarm_mode_missing))
        .route(
            "/swarm/leave",
            post(|| async { ApiError::unavailable(NOT_IN_SWARM) }),
        );
    r = tree(r, "/distribution", not_implemented("registry distribution"));
    r = tree(r, "/volumes", not_implemented("volumes"));
    r = tree(r, "/networks", not_implemented("networks"));
    r = tree(r, "/plugins", not_implemented("plugins"));
    for path in [
        "/swarm",
        "/nodes",
        "/services",
        "/tasks",
        "/secrets",
        "/configs",
    ] {
        r = tree(r, path, no_swarm());
    }
    r
}

async fn swarm_mode_missing() -> ApiError {
    ApiError::not_implemented("Shoal does not support swarm mode yet")
}
