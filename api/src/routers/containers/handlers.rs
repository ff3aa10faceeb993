//! HTTP handlers for `/containers/...`: parse, call the backend, encode.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::StreamExt;

use super::{
    AttachOptions, CommitOptions, ContainersBackend, ListOptions, LogsOptions, WaitCondition,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::models::{ContainerCreateBody, ContainerWaitResponse};
use crate::stream::output::{encode_output, output_content_type};
use crate::stream::upgrade::hijack;
use crate::version::ApiVersion;

pub(super) type Backend = State<Arc<dyn ContainersBackend>>;

/// The `/containers` routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn ContainersBackend>) -> Router {
    Router::new()
        .route("/containers/json", get(list))
        .route("/commit", post(commit))
        .route("/containers/create", post(create))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}", axum::routing::delete(remove))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/top", get(top))
        .route("/containers/{id}/logs", get(logs))
        .route("/containers/{id}/export", get(export))
        .route("/containers/{id}/resize", post(resize))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/attach", post(attach))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/stats", get(super::resources::stats))
        .route("/containers/{id}/update", post(super::resources::update))
        .with_state(backend)
}

async fn create(
    State(b): Backend,
    q: QueryParams,
    version: ApiVersion,
    JsonBody(mut body): JsonBody<ContainerCreateBody>,
) -> ApiResult<Response> {
    // StartInterval came with API 1.44; dockerd drops it from older clients' requests.
    if !version.at_least(1, 44)
        && let Some(hc) = body.healthcheck.as_mut()
    {
        hc.start_interval = None;
    }
    // `platform` is accepted but not forwarded: the backend trait has no
    // parameter for it yet, and Shoal only runs native images.
    let created = b.create(q.string("name"), body).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    let opts = ListOptions {
        all: q.bool("all"),
        // dockerd ignores a limit that is not positive.
        limit: q
            .number::<i64>("limit")?
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0),
        size: q.bool("size"),
        filters: q.filters()?,
    };
    Ok(Json(b.list(opts).await?).into_response())
}

async fn inspect(State(b): Backend, Path(id): Path<String>, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.inspect(&id, q.bool("size")).await?).into_response())
}

async fn start(State(b): Backend, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.start(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stop(State(b): Backend, Path(id): Path<String>, q: QueryParams) -> ApiResult<StatusCode> {
    b.stop(&id, q.string("signal"), q.number("t")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    b.restart(&id, q.string("signal"), q.number("t")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn kill(State(b): Backend, Path(id): Path<String>, q: QueryParams) -> ApiResult<StatusCode> {
    b.kill(&id, q.string("signal")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pause(State(b): Backend, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.pause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unpause(State(b): Backend, Path(id): Path<String>) -> ApiResult<StatusCode> {
    b.unpause(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses `condition` like dockerd (empty means not-running).
fn wait_condition(raw: Option<&str>) -> ApiResult<WaitCondition> {
    match raw.unwrap_or("") {
        "" | "not-running" => Ok(WaitCondition::NotRunning),
        "next-exit" => Ok(WaitCondition::NextExit),
        "removed" => Ok(WaitCondition::Removed),
        other => Err(ApiError::invalid(format!("invalid condition: {other:?}"))),
    }
}

/// The JSON body of a finished wait. dockerd always writes `Error` (null
/// when there is none); bollard's model would omit it.
pub(crate) fn wait_body(r: &ContainerWaitResponse) -> Bytes {
    #[derive(serde::Serialize)]
    struct WaitError<'a> {
        #[serde(rename = "Message")]
        message: &'a str,
    }
    #[derive(serde::Serialize)]
    struct WaitBody<'a> {
        #[serde(rename = "StatusCode")]
        status_code: i64,
        #[serde(rename = "Error")]
        error: Option<WaitError<'a>>,
    }
    let body = WaitBody {
        status_code: r.status_code,
        error: r.error.as_ref().map(|e| WaitError {
            message: e.message.as_deref().unwrap_or(""),
        }),
    };
    let mut v = serde_json::to_vec(&body).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// The CLI calls wait before start, so the 200 and headers go out at once
/// and the body follows when the condition holds.
async fn wait(State(b): Backend, Path(id): Path<String>, q: QueryParams) -> ApiResult<Response> {
    let condition = wait_condition(q.get("condition"))?;
    let done = b.wait(&id, condition).await?;
    let body = futures::stream::once(async move { Ok::<_, Infallible>(wait_body(&done.await)) });
    Ok((
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn remove(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    if q.bool("link") {
        // dockerd looks the container up first: a missing one is its 404, not our 501.
        b.inspect(&id, false).await?;
        return Err(ApiError::not_implemented(
            "Shoal does not support legacy container links",
        ));
    }
    b.remove(&id, q.bool("force"), q.bool("v")).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rename(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    let name = q.get("name").unwrap_or("");
    if name.is_empty() {
        return Err(ApiError::invalid("Neither old nor new names may be empty"));
    }
    b.rename(&id, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn top(State(b): Backend, Path(id): Path<String>, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.top(&id, q.string("ps_args")).await?).into_response())
}

/// dockerd's `tail`: a count, or anything else (`all`) for everything.
pub(crate) fn parse_tail(raw: Option<&str>) -> Option<usize> {
    raw.and_then(|t| t.trim().parse::<usize>().ok())
}

/// `since`/`until` are unix seconds with optional fraction; 0 means unset.
pub(crate) fn parse_unix_time(q: &QueryParams, key: &str) -> ApiResult<Option<i128>> {
    let Some(raw) = q.get(key).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let nanos = unix_nanos(raw)
        .ok_or_else(|| ApiError::invalid(format!("invalid value for {key}: {raw}")))?;
    Ok(Some(nanos).filter(|n| *n != 0))
}

/// `secs[.fraction]` to nanoseconds without going through a float.
fn unix_nanos(raw: &str) -> Option<i128> {
    let (secs, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let secs: i128 = secs.parse().ok()?;
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(secs * 1_000_000_000 + if secs < 0 { -frac } else { frac })
}

#[cfg(test)]
mod unix_time_tests {
    use super::unix_nanos;

    #[test]
    fn fractions_are_exact() {
        assert_eq!(
            unix_nanos("1700000000.000000001"),
            Some(1_700_000_000_000_000_001)
        );
        assert_eq!(unix_nanos("1700000000.5"), Some(1_700_000_000_500_000_000));
        assert_eq!(unix_nanos("12"), Some(12_000_000_000));
        assert_eq!(unix_nanos("x"), None);
        assert_eq!(unix_nanos("1.1234567891"), None);
    }
}

async fn logs(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
    version: ApiVersion,
) -> ApiResult<Response> {
    let opts = LogsOptions {
        follow: q.bool("follow"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        since: parse_unix_time(&q, "since")?,
        until: parse_unix_time(&q, "until")?,
        timestamps: q.bool("timestamps"),
        tail: parse_tail(q.get("tail")),
    };
    if !opts.stdout && !opts.stderr {
        return Err(ApiError::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = opts.timestamps;
    let (tty, output) = b.logs(&id, opts).await?;
    let body = encode_output(output, tty, timestamps).map(Ok::<_, Infallible>);
    Ok((
        [(CONTENT_TYPE, output_content_type(tty, version))],
        Body::from_stream(body),
    )
        .into_response())
}

async fn attach(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
    version: ApiVersion,
    req: Request,
) -> ApiResult<Response> {
    let opts = AttachOptions {
        stdin: q.bool("stdin"),
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        stream: q.bool("stream"),
        logs: q.bool("logs"),
        detach_keys: q.string("detachKeys"),
    };
    let io = b.attach(&id, opts).await?;
    Ok(hijack(req, io, version))
}

/// `h`/`w` are required integers, like dockerd's `strconv.Atoi`.
pub(crate) fn parse_size(q: &QueryParams) -> ApiResult<(u16, u16)> {
    let h = q.number::<u16>("h")?;
    let w = q.number::<u16>("w")?;
    match (h, w) {
        (Some(h), Some(w)) => Ok((h, w)),
        _ => Err(ApiError::invalid("resize requires both h and w")),
    }
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

async fn prune(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.prune(q.filters()?).await?).into_response())
}

async fn export(State(b): Backend, Path(id): Path<String>) -> ApiResult<Response> {
    let tar = b.export(&id).await?;
    Ok((
        [(CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(tar),
    )
        .into_response())
}

/// `docker commit`. The body may carry a container config to commit
/// instead of the container's; Shoal takes the container's (plus
/// `changes`), so a body with any field is refused rather than ignored.
async fn commit(State(b): Backend, q: QueryParams, body: Bytes) -> ApiResult<Response> {
    let Some(container) = q.string("container").filter(|c| !c.is_empty()) else {
        return Err(ApiError::invalid("No container name or ID supplied"));
    };
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
        let empty = v.is_null()
            || v.as_object()
                .is_some_and(|o| o.values().all(|x| x.is_null()));
        if !empty {
            return Err(ApiError::invalid(
                "Shoal does not support a container config in the commit body; use changes",
            ));
        }
    }
    let opts = CommitOptions {
        repo: q.string("repo").filter(|r| !r.is_empty()),
        tag: q.string("tag").filter(|t| !t.is_empty()),
        comment: q.string("comment"),
        author: q.string("author"),
        changes: q.all("changes"),
        pause: q.get("pause").is_none() || q.bool("pause"),
    };
    let id = b.commit(&container, opts).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "Id": id }))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_and_tail() {
        assert_eq!(wait_condition(None).unwrap(), WaitCondition::NotRunning);
        assert_eq!(
            wait_condition(Some("next-exit")).unwrap(),
            WaitCondition::NextExit
        );
        assert_eq!(
            wait_condition(Some("removed")).unwrap(),
            WaitCondition::Removed
        );
        assert!(wait_condition(Some("bogus")).is_err());
        assert_eq!(parse_tail(Some("all")), None);
        assert_eq!(parse_tail(Some("10")), Some(10));
    }

    #[test]
    fn wait_body_always_has_error_field() {
        let ok = wait_body(&ContainerWaitResponse {
            status_code: 3,
            error: None,
        });
        assert_eq!(&ok[..], b"{\"StatusCode\":3,\"Error\":null}\n");
    }
}
