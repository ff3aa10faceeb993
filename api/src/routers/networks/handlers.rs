//! HTTP handlers for `/networks/...`, as moby's `network_routes.go`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use super::NetworksBackend;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::models::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};

type Backend = State<Arc<dyn NetworksBackend>>;

/// The `/networks` routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn NetworksBackend>) -> Router {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
        .route("/networks/{id}/", delete(remove))
        .with_state(backend)
}

async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.list(q.filters()?).await?).into_response())
}

async fn inspect(State(b): Backend, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(b.inspect(&id).await?).into_response())
}

async fn create(
    State(b): Backend,
    JsonBody(req): JsonBody<NetworkCreateRequest>,
) -> ApiResult<Response> {
    Ok((StatusCode::CREATED, Json(b.create(req).await?)).into_response())
}

async fn remove(State(b): Backend, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn connect(
    State(b): Backend,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NetworkConnectRequest>,
) -> ApiResult<StatusCode> {
    b.connect(&id, req).await?;
    Ok(StatusCode::OK)
}

async fn disconnect(
    State(b): Backend,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<NetworkDisconnectRequest>,
) -> ApiResult<StatusCode> {
    b.disconnect(&id, req).await?;
    Ok(StatusCode::OK)
}

async fn prune(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.prune(q.filters()?).await?).into_response())
}
