//! `/tasks/...`: list, inspect, logs.

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::Task;
use crate::routers::services::ServiceLogsOptions;
use crate::stream::OutputStream;

/// What the tasks router needs from the cluster (managers only).
#[async_trait]
pub trait TasksBackend: Send + Sync + 'static {
    /// `GET /tasks` (filters desired-state, id, label, name, node, service).
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Task>>;
    /// `GET /tasks/{id}` by ID or unique ID prefix; 404 "task X not found".
    async fn inspect(&self, id: &str) -> ApiResult<Task>;
    /// `GET /tasks/{id}/logs`: the task's container output from its node.
    async fn logs(&self, id: &str, opts: ServiceLogsOptions) -> ApiResult<OutputStream>;
}

mod handlers {
    use std::sync::Arc;

    use axum::Json;
    use axum::Router;
    use axum::extract::{Path, State};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;

    use super::TasksBackend;
    use crate::error::ApiResult;
    use crate::extract::QueryParams;
    use crate::routers::services::{logs_options, logs_response};
    use crate::version::ApiVersion;

    type Backend = State<Arc<dyn TasksBackend>>;

    /// The `/tasks` routes over `backend`.
    pub(crate) fn routes(backend: Arc<dyn TasksBackend>) -> Router {
        Router::new()
            .route("/tasks", get(list))
            .route("/tasks/{id}", get(inspect))
            .route("/tasks/{id}/logs", get(logs))
            .with_state(backend)
    }

    async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
        Ok(Json(b.list(q.filters()?).await?).into_response())
    }

    async fn inspect(State(b): Backend, Path(id): Path<String>) -> ApiResult<Response> {
        Ok(Json(b.inspect(&id).await?).into_response())
    }

    async fn logs(
        State(b): Backend,
        Path(id): Path<String>,
        q: QueryParams,
        version: ApiVersion,
    ) -> ApiResult<Response> {
        let opts = logs_options(&q)?;
        let timestamps = opts.logs.timestamps;
        let output = b.logs(&id, opts).await?;
        Ok(logs_response(output, timestamps, version))
    }
}

pub(crate) use handlers::routes;
