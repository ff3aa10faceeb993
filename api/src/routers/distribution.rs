//! Registry-facing endpoints that are not about one local image:
//! `POST /auth` (`docker login`) and `GET /distribution/{name}/json`
//! (what `docker service create` uses to pin a digest).

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::models::{DistributionInspect, SystemAuthResponse};

/// `POST /auth` body: the CLI's credentials for one registry.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoginRequest {
    /// User name.
    #[serde(default)]
    pub username: String,
    /// Password (or a personal access token).
    #[serde(default)]
    pub password: String,
    /// The registry (`https://index.docker.io/v1/` for Docker Hub).
    #[serde(default)]
    pub serveraddress: String,
    /// A refresh token from an earlier login, instead of a password.
    #[serde(default)]
    pub identitytoken: String,
}

/// What these endpoints need from the image service.
#[async_trait]
pub trait DistributionBackend: Send + Sync + 'static {
    /// `POST /auth`: checks credentials against the registry; 401 with the
    /// registry's refusal when they are wrong.
    async fn login(&self, req: LoginRequest) -> ApiResult<SystemAuthResponse>;
    /// `GET /distribution/{name}/json`: the registry's descriptor and
    /// platforms for `name`, using `X-Registry-Auth` credentials.
    async fn inspect(
        &self,
        name: &str,
        registry_auth: Option<String>,
    ) -> ApiResult<DistributionInspect>;
}

type Backend = State<Arc<dyn DistributionBackend>>;

/// The routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn DistributionBackend>) -> Router {
    Router::new()
        .route("/auth", post(login))
        .route("/distribution/{*rest}", get(inspect))
        .with_state(backend)
}

async fn login(State(b): Backend, JsonBody(req): JsonBody<LoginRequest>) -> ApiResult<Response> {
    Ok(Json(b.login(req).await?).into_response())
}

async fn inspect(State(b): Backend, Path(rest): Path<String>, req: Request) -> ApiResult<Response> {
    let Some(name) = rest
        .trim_start_matches('/')
        .strip_suffix("/json")
        .filter(|n| !n.is_empty())
    else {
        return Err(ApiError::not_found("page not found"));
    };
    let auth = registry_auth(req.headers());
    Ok(Json(b.inspect(name, auth).await?).into_response())
}

/// `X-Registry-Auth`, passed on untouched (the backend decodes it).
pub(crate) fn registry_auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
