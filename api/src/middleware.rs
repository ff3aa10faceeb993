//! The one request middleware: span, version prefix, panics, error bodies,
//! common headers, and logging by status.
//!
//! It wraps the whole router from outside (see [`crate::router`]) because
//! the `/vX.Y` prefix must be stripped before routing.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, SERVER};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use tracing::Instrument;

use crate::error::ApiError;
use crate::version::{self, ApiVersion, MAX_API_VERSION, SERVER_HEADER};

/// Largest request body read in full before its handler runs.
const DRAIN_LIMIT: usize = 256 * 1024;

/// Largest plain-text error body (axum rejections) rewritten into JSON.
const PLAIN_ERROR_LIMIT: usize = 64 * 1024;

/// Records each request's latency, by route template and status; the daemon
/// implements it over its metrics registry.
pub trait RequestMetrics: Send + Sync + 'static {
    /// One answered request: `route` is the matched template
    /// (`/containers/{id}/start`, or `unmatched`), `elapsed` runs to the
    /// response head (streams such as `logs -f` go on after it).
    fn observe(&self, method: &str, route: &str, status: u16, elapsed: std::time::Duration);
}

/// The observer the outer middleware reports to, if any.
pub(crate) type Observer = Option<std::sync::Arc<dyn RequestMetrics>>;

/// The route template a request matched, passed out on the response.
#[derive(Debug, Clone)]
pub(crate) struct RouteTemplate(pub(crate) String);

/// Inner layer (after routing, where the template is known): tags the response.
pub(crate) async fn tag_route(
    path: Option<axum::extract::MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let route = path.map(|p| p.as_str().to_owned());
    let mut resp = next.run(req).await;
    if let Some(route) = route {
        resp.extensions_mut().insert(RouteTemplate(route));
    }
    resp
}

/// Runs one request through version handling and the router.
pub(crate) async fn handle(
    axum::extract::State(observer): axum::extract::State<Observer>,
    req: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let span = tracing::info_span!(
        "api",
        api.method = %req.method(),
        api.path = %req.uri().path(),
        api.version = tracing::field::Empty,
        http.status = tracing::field::Empty,
    );
    async move {
        let resp = match apply_version(req) {
            Err(e) => e.into_response(),
            Ok(req) => match read_small_body(req).await {
                Err(resp) => resp,
                Ok(req) => match AssertUnwindSafe(next.run(req)).catch_unwind().await {
                    Ok(resp) => resp,
                    Err(panic) => panic_response(panic.as_ref()),
                },
            },
        };
        let mut resp = json_error_body(resp).await;
        add_common_headers(&mut resp);
        log_outcome(&resp);
        if let Some(o) = &observer {
            let route = resp
                .extensions()
                .get::<RouteTemplate>()
                .map_or("unmatched", |r| r.0.as_str());
            o.observe(
                method.as_str(),
                route,
                resp.status().as_u16(),
                started.elapsed(),
            );
        }
        resp
    }
    .instrument(span)
    .await
}

/// Reads a small request body (declared length up to [`DRAIN_LIMIT`]) in
/// full before the handler runs.
///
/// Handlers that ignore their body (`POST /containers/{id}/start`) would
/// otherwise answer and, with `Connection: close`, close the socket while
/// the client is still writing: its write fails with EPIPE and it never
/// reads the answer. Go's net/http drains up to 256 KiB for the same reason.
/// Larger and chunked bodies stream to the handler as before.
async fn read_small_body(req: Request) -> Result<Request, Response> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(len) = declared.filter(|n| (1..=DRAIN_LIMIT).contains(n)) else {
        return Ok(req);
    };
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, len).await {
        Ok(bytes) => Ok(Request::from_parts(parts, axum::body::Body::from(bytes))),
        Err(e) => Err(ApiError::invalid(format!("reading request body: {e}")).into_response()),
    }
}

/// Strips `/vX.Y`, enforces the supported range and records the version.
fn apply_version(mut req: Request) -> Result<Request, ApiError> {
    let path = req.uri().path();
    let version = match version::split_version_prefix(path) {
        None => ApiVersion::MAX,
        Some((raw, tail)) => {
            // The prefix only has digits and dots, so it always parses.
            let v = ApiVersion::parse(raw)
                .ok_or_else(|| ApiError::invalid(format!("invalid API version {raw}")))?;
            ApiVersion::check_supported(raw, v)?;
            let tail = match req.uri().query() {
                Some(q) => format!("{tail}?{q}"),
                None => tail.to_owned(),
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(
                tail.parse()
                    .map_err(|_| ApiError::invalid("invalid request path"))?,
            );
            *req.uri_mut() =
                Uri::from_parts(parts).map_err(|_| ApiError::invalid("invalid request path"))?;
            v
        }
    };
    tracing::Span::current().record("api.version", tracing::field::display(version));
    req.extensions_mut().insert(version);
    Ok(req)
}

/// A handler panicked: that is a bug, but the client still gets Docker's
/// error shape and the daemon keeps serving.
fn panic_response(panic: &(dyn Any + Send)) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    tracing::error!(panic = %what, "handler panicked");
    ApiError::internal(format!("internal server error: {what}")).into_response()
}

/// Turns error responses not built from [`ApiError`] (axum's rejections,
/// 405s) into `{"message": ...}`, since Docker clients only read that.
async fn json_error_body(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json || resp.extensions().get::<ApiError>().is_some() {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), PLAIN_ERROR_LIMIT)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut out = (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response();
    out.extensions_mut()
        .insert(ApiError::new(kind_for(status), message));
    out
}

fn kind_for(status: StatusCode) -> crate::error::ErrorKind {
    use crate::error::ErrorKind::*;
    match status.as_u16() {
        400 | 405 | 411 | 413 | 415 | 422 => InvalidParameter,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        409 => Conflict,
        501 => NotImplemented,
        503 => Unavailable,
        _ => Internal,
    }
}

/// dockerd sets these on every response.
fn add_common_headers(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_static(MAX_API_VERSION),
    );
    h.insert(
        HeaderName::from_static("ostype"),
        HeaderValue::from_static("linux"),
    );
    h.insert(SERVER, HeaderValue::from_static(SERVER_HEADER));
}

/// moby logs server errors at error and client errors at debug.
fn log_outcome(resp: &Response) {
    let status = resp.status();
    tracing::Span::current().record("http.status", status.as_u16());
    let message = resp
        .extensions()
        .get::<ApiError>()
        .map(|e| e.message.as_str())
        .unwrap_or("");
    if status.is_server_error() {
        tracing::error!(
            http.status = status.as_u16(),
            error = message,
            "request failed"
        );
    } else if status.is_client_error() {
        tracing::debug!(
            http.status = status.as_u16(),
            error = message,
            "request rejected"
        );
    } else {
        tracing::debug!(http.status = status.as_u16(), "request served");
    }
}
