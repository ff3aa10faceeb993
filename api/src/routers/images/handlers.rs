//! HTTP handlers for `/images/...`.
//!
//! Image names contain slashes (`registry:5000/team/app:tag`), so, like
//! dockerd's `{name:.*}` routes, every per-image endpoint goes through one
//! catch-all route and is told apart by its last segment.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures::StreamExt;

use super::{ImagesBackend, ImportOptions, ProgressStream};
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::routers::distribution::registry_auth;
use crate::routers::not_found;
use crate::stream::ByteStream;
use crate::stream::output::json_lines;

type Backend = State<Arc<dyn ImagesBackend>>;

/// The `/images` routes over `backend` (`/images/search` is in
/// `unsupported`).
pub(crate) fn routes(backend: Arc<dyn ImagesBackend>) -> Router {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/create", post(create))
        .route("/images/load", post(load))
        .route("/images/get", get(save_many))
        .route("/images/prune", post(prune))
        .route("/images/{*rest}", any(by_name))
        .with_state(backend)
}

async fn list(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.list(q.bool("all"), q.filters()?).await?).into_response())
}

async fn prune(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(Json(b.prune(q.filters()?).await?).into_response())
}

/// A request body as the backends' byte stream.
fn body_stream(body: Body) -> ByteStream {
    body.into_data_stream()
        .map(|r| r.map_err(std::io::Error::other))
        .boxed()
}

/// dockerd's JSON progress stream (`\r\n` after each message).
fn progress_response(progress: ProgressStream) -> Response {
    let body = json_lines(progress, "\r\n").map(Ok::<_, Infallible>);
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

fn tar_response(tar: ByteStream) -> Response {
    (
        [(CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(tar),
    )
        .into_response()
}

async fn load(State(b): Backend, q: QueryParams, req: Request) -> ApiResult<Response> {
    let progress = b
        .load(body_stream(req.into_body()), q.bool("quiet"))
        .await?;
    Ok(progress_response(progress))
}

async fn save_many(State(b): Backend, q: QueryParams) -> ApiResult<Response> {
    Ok(tar_response(b.save(q.all("names")).await?))
}

/// `docker import` (`fromSrc=-`, the body is the rootfs tar) or
/// `docker pull` (`fromImage`).
async fn create(State(b): Backend, q: QueryParams, req: Request) -> ApiResult<Response> {
    if let Some(src) = q.string("fromSrc") {
        if src != "-" {
            return Err(ApiError::not_implemented(
                "Shoal does not support importing images from a URL; use fromSrc=-",
            ));
        }
        let opts = ImportOptions {
            repo: q.string("repo"),
            tag: q.string("tag"),
            message: q.string("message"),
            changes: q.all("changes"),
            platform: q.string("platform"),
        };
        let progress = b.import(body_stream(req.into_body()), opts).await?;
        return Ok(progress_response(progress));
    }
    let Some(image) = q.string("fromImage") else {
        return Err(ApiError::invalid("either fromImage or fromSrc is required"));
    };
    for import_only in ["changes", "message", "repo"] {
        if q.get(import_only).is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::invalid(format!(
                "{import_only} applies to imports (fromSrc), not to pulls (fromImage)"
            )));
        }
    }
    let auth = registry_auth(req.headers());
    let progress = b
        .pull(
            &image,
            q.get("tag").filter(|t| !t.is_empty()),
            q.get("platform").filter(|p| !p.is_empty()),
            auth,
        )
        .await?;
    Ok(progress_response(progress))
}

/// Which per-image endpoint a catch-all path names.
#[derive(Debug, PartialEq, Eq)]
enum ImageAction<'a> {
    Inspect(&'a str),
    History(&'a str),
    Save(&'a str),
    Tag(&'a str),
    Push(&'a str),
    Remove(&'a str),
    Unknown,
}

fn classify<'a>(method: &Method, rest: &'a str) -> ImageAction<'a> {
    let rest = rest.trim_start_matches('/');
    let suffix = |s: &str| rest.strip_suffix(s).filter(|n| !n.is_empty());
    match *method {
        Method::GET | Method::HEAD => {
            if let Some(n) = suffix("/json") {
                ImageAction::Inspect(n)
            } else if let Some(n) = suffix("/history") {
                ImageAction::History(n)
            } else if let Some(n) = suffix("/get") {
                ImageAction::Save(n)
            } else {
                ImageAction::Unknown
            }
        }
        Method::POST => {
            if let Some(n) = suffix("/tag") {
                ImageAction::Tag(n)
            } else if let Some(n) = suffix("/push") {
                ImageAction::Push(n)
            } else {
                ImageAction::Unknown
            }
        }
        Method::DELETE if !rest.is_empty() => ImageAction::Remove(rest),
        _ => ImageAction::Unknown,
    }
}

async fn by_name(
    State(b): Backend,
    Path(rest): Path<String>,
    method: Method,
    headers: HeaderMap,
    q: QueryParams,
) -> ApiResult<Response> {
    match classify(&method, &rest) {
        ImageAction::Inspect(name) => Ok(Json(b.inspect(name).await?).into_response()),
        ImageAction::History(name) => Ok(Json(b.history(name).await?).into_response()),
        ImageAction::Save(name) => Ok(tar_response(b.save(vec![name.to_owned()]).await?)),
        ImageAction::Tag(name) => {
            let repo = q.get("repo").unwrap_or("");
            let tag = q.get("tag").filter(|t| !t.is_empty());
            b.tag(name, repo, tag).await?;
            Ok(StatusCode::CREATED.into_response())
        }
        ImageAction::Push(name) => {
            let tag = q.get("tag").filter(|t| !t.is_empty());
            let platform = q.get("platform").filter(|p| !p.is_empty());
            if platform.is_some() {
                return Err(ApiError::invalid(
                    "Shoal does not support the platform parameter of push: images hold one platform",
                ));
            }
            let auth = registry_auth(&headers);
            Ok(progress_response(b.push(name, tag, auth).await?))
        }
        ImageAction::Remove(name) => {
            let deleted = b.remove(name, q.bool("force"), q.bool("noprune")).await?;
            Ok(Json(deleted).into_response())
        }
        ImageAction::Unknown => Ok(not_found().await.into_response()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_all_paths_keep_slashes_in_names() {
        assert_eq!(
            classify(&Method::GET, "localhost:5000/team/app:1/json"),
            ImageAction::Inspect("localhost:5000/team/app:1")
        );
        assert_eq!(
            classify(&Method::GET, "/busybox/history"),
            ImageAction::History("busybox")
        );
        assert_eq!(classify(&Method::GET, "a/b/get"), ImageAction::Save("a/b"));
        assert_eq!(
            classify(&Method::POST, "busybox/tag"),
            ImageAction::Tag("busybox")
        );
        assert_eq!(
            classify(&Method::DELETE, "team/json"),
            ImageAction::Remove("team/json")
        );
        assert_eq!(classify(&Method::GET, "busybox"), ImageAction::Unknown);
        assert_eq!(classify(&Method::GET, "/json"), ImageAction::Unknown);
    }
}
