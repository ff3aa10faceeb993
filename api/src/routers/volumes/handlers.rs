//! HTTP handlers for `/volumes`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use super::VolumesBackend;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams, fold_field_case};
use crate::models::VolumeCreateOptions;

type Backend = State<Arc<dyn VolumesBackend>>;

/// The volume routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn VolumesBackend>) -> Router {
    Router::new()
        .route("/volumes", get(list))
        .route("/volumes/create", post(create))
        .route("/volumes/prune", post(prune))
        .route("/volumes/{name}", get(inspect).put(update))
        .route("/volumes/{name}", delete(remove))
        .with_state(backend)
}

async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    let filters = q.filters()?;
    filters.validate(&["dangling", "driver", "label", "name"])?;
    Ok(Json(b.list(filters).await?).into_response())
}

async fn create(
    State(b): Backend,
    JsonBody(mut body): JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    fold_field_case(
        &mut body,
        &[
            "Name",
            "Driver",
            "DriverOpts",
            "Labels",
            "ClusterVolumeSpec",
        ],
    );
    let opts: VolumeCreateOptions = serde_json::from_value(body)
        .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
    if opts.cluster_volume_spec.is_some() {
        return Err(ApiError::invalid(
            "ClusterVolumeSpec: cluster volumes are not supported by this engine",
        ));
    }
    Ok((StatusCode::CREATED, Json(b.create(opts).await?)).into_response())
}

async fn inspect(State(b): Backend, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(b.inspect(&name).await?).into_response())
}

/// Only cluster volumes can be updated (dockerd answers the same).
async fn update(State(b): Backend, Path(name): Path<String>) -> ApiResult<Response> {
    b.inspect(&name).await?;
    Err(ApiError::invalid(
        "volume update only works for cluster volumes",
    ))
}

async fn remove(
    State(b): Backend,
    Path(name): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    b.remove(&name, q.bool("force")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn prune(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    let filters = q.filters()?;
    filters.validate(&["label", "label!", "all"])?;
    Ok(Json(b.prune(filters).await?).into_response())
}
