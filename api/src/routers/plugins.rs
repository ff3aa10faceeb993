//! `/plugins/...`: Shoal has no plugin runtime, so there are never any plugins.
//!
//! Listing answers the truth (an empty list), so `docker plugin ls` works. A
//! named plugin is dockerd's 404 `plugin "X" not found` (enable, disable,
//! inspect, remove, set, push, upgrade all look the plugin up first). Installing
//! and creating answer 501 saying why, as dockerd does on platforms without
//! plugin support.

use axum::body::Body;
use axum::extract::Path;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::StreamExt;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;

/// The message for installing or creating a plugin.
pub const NO_PLUGIN_RUNTIME: &str =
    "Shoal has no plugin runtime: managed plugins cannot be installed or created";

/// The plugin routes (no backend: there is nothing to ask).
pub(crate) fn routes() -> Router {
    Router::new()
        .route("/plugins", get(list))
        .route("/plugins/privileges", get(refuse))
        .route("/plugins/pull", post(refuse))
        .route("/plugins/create", post(refuse_after_body))
        .route("/plugins/{name}/json", get(not_found))
        .route("/plugins/{name}", delete(not_found))
        .route("/plugins/{name}/enable", post(not_found))
        .route("/plugins/{name}/disable", post(not_found))
        .route("/plugins/{name}/upgrade", post(not_found))
        .route("/plugins/{name}/push", post(not_found))
        .route("/plugins/{name}/set", post(not_found))
}

/// `GET /plugins`: filters are checked as dockerd checks them.
async fn list(q: QueryParams) -> ApiResult<Json<Vec<serde_json::Value>>> {
    let filters = q.filters()?;
    filters.validate(&["capability", "enable"])?;
    for v in filters.get("enable") {
        if v != "true" && v != "false" {
            return Err(ApiError::invalid(format!("Invalid filter 'enable={v}'")));
        }
    }
    Ok(Json(Vec::new()))
}

async fn refuse() -> ApiError {
    ApiError::not_implemented(NO_PLUGIN_RUNTIME)
}

/// `docker plugin create` streams a tar of the plugin's rootfs: read it to its
/// end first, so the CLI gets the answer instead of a broken pipe.
async fn refuse_after_body(body: Body) -> ApiError {
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        if chunk.is_err() {
            break;
        }
    }
    ApiError::not_implemented(NO_PLUGIN_RUNTIME)
}

async fn not_found(Path(name): Path<String>) -> ApiError {
    ApiError::not_found(format!("plugin \"{name}\" not found"))
}
