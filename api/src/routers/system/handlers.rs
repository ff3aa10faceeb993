//! HTTP handlers for `/_ping`, `/version`, `/info`, `/events`, `/system/df`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;

use super::SystemBackend;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::stream::output::json_lines;
use crate::version::{MAX_API_VERSION, MIN_API_VERSION};

type Backend = State<Arc<dyn SystemBackend>>;

/// The system routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn SystemBackend>) -> Router {
    Router::new()
        .route("/_ping", get(ping).head(ping))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/events", get(events))
        .route("/system/df", get(df))
        .with_state(backend)
}

/// The CLI reads `API-Version`, `OSType` and `Swarm` from here to
/// negotiate; dockerd forbids caching the answer.
async fn ping(State(b): Backend, method: Method) -> Response {
    let swarm = b.swarm_ping_status().await;
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from("OK")
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert("api-version", HeaderValue::from_static(MAX_API_VERSION));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    if let Ok(v) = HeaderValue::from_str(&swarm) {
        h.insert("swarm", v);
    }
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

async fn version(State(b): Backend) -> ApiResult<Response> {
    let mut v = b.version().await?;
    v.api_version = Some(MAX_API_VERSION.to_owned());
    v.min_api_version = Some(MIN_API_VERSION.to_owned());
    Ok(Json(v).into_response())
}

async fn info(State(b): Backend) -> ApiResult<Response> {
    Ok(Json(b.info().await?).into_response())
}

/// One JSON document per event, each sent as soon as it happens (every
/// stream item becomes its own chunk, which hyper writes out at once).
async fn events(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    let since = q.number::<f64>("since")?;
    let until = q.number::<f64>("until")?;
    let stream = b.events(since, until, q.filters()?).await?;
    let body = json_lines(stream, "\n").map(Ok::<_, Infallible>);
    Ok((
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

async fn df(State(b): Backend) -> ApiResult<Response> {
    Ok(Json(b.df().await?).into_response())
}
