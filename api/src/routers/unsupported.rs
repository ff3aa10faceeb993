//! Endpoints Shoal does not serve yet, answering so `docker` fails cleanly.
//!
//! Listing resources that do not exist as empty would be a lie, so local
//! features answer 501 naming the feature. Cluster objects not served yet
//! (services, tasks, secrets, configs) answer exactly
//! what dockerd says on a node outside a swarm (503).

use axum::Router;
use axum::http::{Method, Uri};
use axum::routing::{MethodRouter, any};

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
        // BuildKit's gRPC endpoint (docker buildx), not in the swagger file.
        .route("/grpc", not_implemented("image build"))
        .route("/images/search", not_implemented("image search"))
        .route("/auth", not_implemented("registry login"));
    r = tree(r, "/distribution", not_implemented("registry distribution"));
    r = tree(r, "/volumes", local_objects(Kind::Volume));
    r = tree(r, "/networks", local_objects(Kind::Network));
    r = tree(r, "/plugins", local_objects(Kind::Plugin));
    // `/swarm` and `/nodes` have their own routers; these cluster objects
    // are not served yet, so they answer as on a node outside a swarm.
    for path in ["/services", "/tasks", "/secrets", "/configs"] {
        r = tree(r, path, no_swarm());
    }
    r
}

/// Local object kinds Shoal has none of yet.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Network,
    Volume,
    Plugin,
}

/// Lists and changes are 501, but inspecting one object is dockerd's 404:
/// there truly is no such object, and `docker inspect NAME` walks every
/// object kind and only moves on past a "not found".
fn local_objects(kind: Kind) -> MethodRouter {
    any(move |method: Method, uri: Uri| async move {
        let rest = uri.path().splitn(3, '/').nth(2).unwrap_or("");
        let single = match kind {
            Kind::Plugin => rest.strip_suffix("/json").filter(|n| !n.contains('/')),
            Kind::Network | Kind::Volume => Some(rest).filter(|n| !n.contains('/')),
        };
        match single.filter(|n| !n.is_empty() && method == Method::GET) {
            Some(name) => ApiError::not_found(match kind {
                Kind::Network => format!("network {name} not found"),
                Kind::Volume => format!("get {name}: no such volume"),
                Kind::Plugin => format!("plugin \"{name}\" not found"),
            }),
            None => ApiError::not_implemented(match kind {
                Kind::Network => "Shoal does not support networks yet",
                Kind::Volume => "Shoal does not support volumes yet",
                Kind::Plugin => "Shoal does not support plugins yet",
            }),
        }
    })
}
