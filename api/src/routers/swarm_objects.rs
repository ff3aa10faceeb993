//! The five routes secrets and configs share: create, list, inspect, update
//! (labels only), remove. Docker gives both resources the same shape and the
//! same rules, so one generic router serves both; each resource module only
//! names its spec and object types.

use std::sync::Arc;

use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiResult;
use crate::extract::{Filters, JsonBody, OptionalJsonBody, QueryParams};

/// What a swarm-object router needs from the cluster (managers only).
///
/// Errors as dockerd: 409 "KIND NAME already exists" on create, 404
/// "KIND X not found", 400 for a bad spec or a change to anything but the
/// labels on update, 409 "update out of sequence".
#[async_trait]
pub trait SwarmObjects<Spec, Object>: Send + Sync + 'static {
    /// `GET /KINDs` (filters id, label, name, names).
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Object>>;
    /// `POST /KINDs/create`: the new ID (answered as 201 `{"ID": ...}`).
    async fn create(&self, spec: Spec) -> ApiResult<String>;
    /// `GET /KINDs/{id}` by ID, ID prefix or name.
    async fn inspect(&self, id: &str) -> ApiResult<Object>;
    /// `POST /KINDs/{id}/update?version=`: only the labels may change.
    async fn update(&self, id: &str, version: u64, spec: Spec) -> ApiResult<()>;
    /// `DELETE /KINDs/{id}` (answers 204).
    async fn remove(&self, id: &str) -> ApiResult<()>;
}

/// The router's state: which kind it serves (for paths and messages) and
/// the backend.
struct Served<Spec, Object> {
    kind: &'static str,
    backend: Arc<dyn SwarmObjects<Spec, Object>>,
}

impl<Spec, Object> Clone for Served<Spec, Object> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            backend: self.backend.clone(),
        }
    }
}

/// The `/{kind}s` routes over `backend`; `kind` is `secret` or `config`.
pub(crate) fn routes<Spec, Object>(
    kind: &'static str,
    backend: Arc<dyn SwarmObjects<Spec, Object>>,
) -> Router
where
    Spec: DeserializeOwned + Default + Send + 'static,
    Object: Serialize + Send + 'static,
{
    Router::new()
        .route(&format!("/{kind}s"), get(list::<Spec, Object>))
        .route(&format!("/{kind}s/create"), post(create::<Spec, Object>))
        .route(
            &format!("/{kind}s/{{id}}"),
            get(inspect::<Spec, Object>).delete(remove::<Spec, Object>),
        )
        .route(
            &format!("/{kind}s/{{id}}/update"),
            post(update::<Spec, Object>),
        )
        .with_state(Served { kind, backend })
}

async fn list<Spec: 'static, Object: Serialize + 'static>(
    State(s): State<Served<Spec, Object>>,
    q: QueryParams,
) -> ApiResult<Response> {
    Ok(Json(s.backend.list(q.filters()?).await?).into_response())
}

async fn create<Spec: Send + 'static, Object: 'static>(
    State(s): State<Served<Spec, Object>>,
    JsonBody(spec): JsonBody<Spec>,
) -> ApiResult<Response> {
    let id = s.backend.create(spec).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "ID": id }))).into_response())
}

async fn inspect<Spec: 'static, Object: Serialize + 'static>(
    State(s): State<Served<Spec, Object>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(Json(s.backend.inspect(&id).await?).into_response())
}

async fn update<Spec: Send + 'static, Object: 'static>(
    State(s): State<Served<Spec, Object>>,
    Path(id): Path<String>,
    q: QueryParams,
    OptionalJsonBody(spec): OptionalJsonBody<Spec>,
) -> ApiResult<StatusCode> {
    let version = q.object_version(s.kind)?;
    s.backend.update(&id, version, spec).await?;
    Ok(StatusCode::OK)
}

async fn remove<Spec: Send + 'static, Object: 'static>(
    State(s): State<Served<Spec, Object>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.backend.remove(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
