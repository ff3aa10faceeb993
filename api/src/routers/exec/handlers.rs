//! HTTP handlers for `/containers/{id}/exec` and `/exec/{id}/...`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::ExecBackend;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, decode_json, fold_field_case};
use crate::models::{ExecConfig, ExecStartConfig};
use crate::routers::containers::parse_size;
use crate::stream::upgrade::hijack;
use crate::version::ApiVersion;

type Backend = State<Arc<dyn ExecBackend>>;

/// Largest exec-start body read; it is a tiny JSON object.
const START_BODY_LIMIT: usize = 64 * 1024;

/// The fields of an exec config, as dockerd spells them.
const EXEC_CONFIG_FIELDS: &[&str] = &[
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ConsoleSize",
    "DetachKeys",
    "Tty",
    "Env",
    "Cmd",
    "Privileged",
    "User",
    "WorkingDir",
];

/// The exec routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn ExecBackend>) -> Router {
    Router::new()
        .route("/containers/{id}/exec", post(create))
        .route("/exec/{id}/start", post(start))
        .route("/exec/{id}/resize", post(resize))
        .route("/exec/{id}/json", get(inspect))
        .with_state(backend)
}

async fn create(
    State(b): Backend,
    Path(id): Path<String>,
    crate::extract::JsonBody(mut config): crate::extract::JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    fold_field_case(&mut config, EXEC_CONFIG_FIELDS);
    let config: ExecConfig = serde_json::from_value(config)
        .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
    let created = b.create(&id, config).await?;
    // bollard's IdResponse serialises as `id`; dockerd writes `Id`, and
    // case-sensitive SDKs (docker-py) read only that.
    let body = serde_json::json!({ "Id": created.id });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Detached: start and answer 200 with no body. Otherwise hijack the
/// connection like attach; the body must be read before that, so the
/// request is taken whole.
async fn start(
    State(b): Backend,
    Path(id): Path<String>,
    version: ApiVersion,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, START_BODY_LIMIT)
        .await
        .map_err(|e| ApiError::invalid(format!("reading request body: {e}")))?;
    let config: ExecStartConfig = if bytes.iter().all(u8::is_ascii_whitespace) {
        ExecStartConfig::default()
    } else {
        decode_json(&parts.headers, &bytes)?
    };
    let detach = config.detach.unwrap_or(false);
    let io = b.start(&id, detach, config.tty).await?;
    if detach {
        return Ok(StatusCode::OK.into_response());
    }
    let req = Request::from_parts(parts, axum::body::Body::empty());
    Ok(hijack(req, io, version))
}

async fn resize(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    let (h, w) = parse_size(&q)?;
    b.resize(&id, h, w).await?;
    Ok(StatusCode::OK)
}

async fn inspect(State(b): Backend, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(b.inspect(&id).await?).into_response())
}
