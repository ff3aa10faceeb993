//! HTTP handlers for `/services/...`, parsed as moby's `cluster_routes.go`
//! does: the body is decoded before the query, `version` is required on
//! update, and the backend checks filters after its "not a swarm manager"
//! check so a worker answers 503 first.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;

use super::{RegistryAuthFrom, ServiceLogsOptions, ServiceUpdateOptions, ServicesBackend};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, OptionalJsonBody, QueryParams, fold_field_case};
use crate::models::ServiceSpec;
use crate::routers::containers::{LogsOptions, parse_tail, parse_unix_time};
use crate::stream::output::{encode_output, output_content_type};
use crate::version::ApiVersion;

type Backend = State<Arc<dyn ServicesBackend>>;

/// The `/services` routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn ServicesBackend>) -> Router {
    Router::new()
        .route("/services", get(list))
        .route("/services/create", post(create))
        .route("/services/{id}", get(inspect).delete(remove))
        .route("/services/{id}/update", post(update))
        .route("/services/{id}/logs", get(logs))
        .with_state(backend)
}

/// `X-Registry-Auth`: base64url JSON credentials, passed on untouched.
fn registry_auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    let status = q.bool("status");
    Ok(Json(b.list(q.filters()?, status).await?).into_response())
}

async fn inspect(State(b): Backend, Path(id): Path<String>, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.inspect(&id, q.bool("insertDefaults")).await?).into_response())
}

/// A service spec from its JSON. The CLI (Go's `swarm.ContainerSpec`) spells the healthcheck
/// `Healthcheck` where moby's swagger, and so the generated model, says `HealthCheck`; Go's
/// decoder matches either, so both must reach the model or `--health-cmd` would be lost.
fn service_spec(mut body: serde_json::Value) -> ApiResult<ServiceSpec> {
    if body.is_null() {
        return Ok(ServiceSpec::default());
    }
    if let Some(c) = body
        .get_mut("TaskTemplate")
        .and_then(|t| t.get_mut("ContainerSpec"))
    {
        fold_field_case(c, &["HealthCheck"]);
    }
    serde_json::from_value(body).map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))
}

async fn create(
    State(b): Backend,
    headers: HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    let spec = service_spec(body)?;
    let created = b.create(spec, registry_auth(&headers)).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn update(
    State(b): Backend,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: QueryParams,
    OptionalJsonBody(body): OptionalJsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    let spec = service_spec(body)?;
    let version = q.object_version("service")?;
    // moby: any value but "previous" is a plain update.
    let rollback = q.get("rollback") == Some("previous");
    let registry_auth_from = match q.get("registryAuthFrom").unwrap_or("") {
        "" | "spec" => RegistryAuthFrom::Spec,
        "previous-spec" => RegistryAuthFrom::PreviousSpec,
        other => {
            return Err(ApiError::invalid(format!(
                "invalid registryAuthFrom value: {other}"
            )));
        }
    };
    let opts = ServiceUpdateOptions {
        rollback,
        registry_auth_from,
        registry_auth: registry_auth(&headers),
    };
    Ok(Json(b.update(&id, version, spec, opts).await?).into_response())
}

async fn remove(State(b): Backend, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.remove(&id).await?;
    Ok(StatusCode::OK)
}

/// The logs query shared by `/services/{id}/logs` and `/tasks/{id}/logs`.
pub(crate) fn logs_options(q: &QueryParams) -> ApiResult<ServiceLogsOptions> {
    let logs = LogsOptions {
        follow: q.bool("follow"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        since: parse_unix_time(q, "since")?,
        until: parse_unix_time(q, "until")?,
        timestamps: q.bool("timestamps"),
        tail: parse_tail(q.get("tail")),
    };
    if !logs.stdout && !logs.stderr {
        return Err(ApiError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    Ok(ServiceLogsOptions {
        logs,
        details: q.bool("details"),
    })
}

/// Service logs are always multiplexed: tasks with a TTY are framed as
/// stdout, as dockerd does for swarm logs.
pub(crate) fn logs_response(
    output: crate::stream::OutputStream,
    timestamps: bool,
    version: ApiVersion,
) -> Response {
    let body = encode_output(output, false, timestamps).map(Ok::<_, Infallible>);
    (
        [(CONTENT_TYPE, output_content_type(false, version))],
        Body::from_stream(body),
    )
        .into_response()
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

#[cfg(test)]
mod tests {
    use super::service_spec;

    #[test]
    fn the_clis_healthcheck_spelling_reaches_the_model() {
        let body = serde_json::json!({
            "Name": "web",
            "TaskTemplate": {"ContainerSpec": {
                "Image": "busybox",
                "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64}
            }}
        });
        let spec = service_spec(body).unwrap();
        let hc = spec
            .task_template
            .and_then(|t| t.container_spec)
            .and_then(|c| c.health_check)
            .expect("healthcheck kept");
        assert_eq!(hc.test, Some(vec!["CMD-SHELL".into(), "true".into()]));
        assert_eq!(hc.interval, Some(5_000_000_000));
        assert_eq!(
            service_spec(serde_json::Value::Null).unwrap(),
            Default::default()
        );
    }
}
