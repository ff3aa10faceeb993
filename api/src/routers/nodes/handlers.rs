//! HTTP handlers for `/nodes/...`, parsed as moby's `cluster_routes.go`
//! does. Filter names are checked by the backend, after its "not a swarm
//! manager" check, so a worker answers 503 before any 400 as dockerd does.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::NodesBackend;
use crate::error::ApiResult;
use crate::extract::{OptionalJsonBody, QueryParams};
use crate::models::NodeSpec;

type Backend = State<Arc<dyn NodesBackend>>;

/// The `/nodes` routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn NodesBackend>) -> Router {
    Router::new()
        .route("/nodes", get(list))
        .route("/nodes/{id}", get(inspect).delete(remove))
        .route("/nodes/{id}/update", post(update))
        .with_state(backend)
}

async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.list(q.filters()?).await?).into_response())
}

async fn inspect(State(b): Backend, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(b.inspect(&id).await?).into_response())
}

/// `docker node update`, `promote` and `demote` first read the node, then
/// post its edited Spec with `version=<Version.Index>`; a stale version is
/// the backend's 409 "update out of sequence".
async fn update(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
    OptionalJsonBody(spec): OptionalJsonBody<NodeSpec>,
) -> ApiResult<StatusCode> {
    let version = q.object_version("node")?;
    b.update(&id, version, spec).await?;
    Ok(StatusCode::OK)
}

async fn remove(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    b.remove(&id, q.bool("force")).await?;
    Ok(StatusCode::OK)
}
