//! HTTP handlers for `/swarm/...`.
//!
//! Parsing follows moby's `cluster_routes.go`: bodies are read before the
//! query (so bad JSON wins over a bad `version`), an empty body decodes as
//! the zero value, and calls with nothing to return answer a bare 200.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{SwarmBackend, SwarmUpdateFlags};
use crate::error::ApiResult;
use crate::extract::{OptionalJsonBody, QueryParams};
use crate::models::{SwarmInitRequest, SwarmJoinRequest, SwarmSpec, SwarmUnlockRequest};
use crate::version::ApiVersion;

type Backend = State<Arc<dyn SwarmBackend>>;

/// The `/swarm` routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn SwarmBackend>) -> Router {
    Router::new()
        .route("/swarm", get(inspect))
        .route("/swarm/init", post(init))
        .route("/swarm/join", post(join))
        .route("/swarm/leave", post(leave))
        .route("/swarm/update", post(update))
        .route("/swarm/unlockkey", get(unlock_key))
        .route("/swarm/unlock", post(unlock))
        .with_state(backend)
}

/// Answers the new node's ID as a JSON string, which `docker swarm init`
/// prints in "Swarm initialized: current node (ID) is now a manager."
async fn init(
    State(b): Backend,
    version: ApiVersion,
    OptionalJsonBody(mut req): OptionalJsonBody<SwarmInitRequest>,
) -> ApiResult<Response> {
    // dockerd drops fields older clients could not have meant: address
    // pools came with API 1.39, the data path port with 1.40.
    if !version.at_least(1, 39) {
        req.default_addr_pool = None;
        req.subnet_size = None;
    }
    if !version.at_least(1, 40) {
        req.data_path_port = None;
    }
    let node_id = b.init(req).await?;
    Ok(Json(node_id).into_response())
}

async fn join(
    State(b): Backend,
    OptionalJsonBody(req): OptionalJsonBody<SwarmJoinRequest>,
) -> ApiResult<StatusCode> {
    b.join(req).await?;
    Ok(StatusCode::OK)
}

async fn leave(State(b): Backend, q: QueryParams) -> ApiResult<StatusCode> {
    b.leave(q.bool("force")).await?;
    Ok(StatusCode::OK)
}

async fn inspect(State(b): Backend) -> ApiResult<Response> {
    Ok(Json(b.inspect().await?).into_response())
}

/// `docker swarm update`, `join-token --rotate`, `unlock-key --rotate` and
/// `ca --rotate` all land here with the spec they just read from `GET
/// /swarm` and its `Version.Index`.
async fn update(
    State(b): Backend,
    q: QueryParams,
    OptionalJsonBody(spec): OptionalJsonBody<SwarmSpec>,
) -> ApiResult<StatusCode> {
    let version = q.object_version("swarm")?;
    let flags = SwarmUpdateFlags {
        rotate_worker_token: q.strict_bool("rotateWorkerToken")?,
        rotate_manager_token: q.strict_bool("rotateManagerToken")?,
        rotate_manager_unlock_key: q.strict_bool("rotateManagerUnlockKey")?,
    };
    b.update(version, spec, flags).await?;
    Ok(StatusCode::OK)
}

async fn unlock_key(State(b): Backend) -> ApiResult<Response> {
    Ok(Json(b.unlock_key().await?).into_response())
}

async fn unlock(
    State(b): Backend,
    OptionalJsonBody(req): OptionalJsonBody<SwarmUnlockRequest>,
) -> ApiResult<StatusCode> {
    b.unlock(req).await?;
    Ok(StatusCode::OK)
}
