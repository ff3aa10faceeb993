//! `/containers/{id}/archive` (`docker cp`) and `/containers/{id}/changes`
//! (`docker diff`): files in a container's filesystem.

use async_trait::async_trait;
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::models::FilesystemChange;
use crate::stream::ByteStream;

/// `X-Docker-Container-Path-Stat`: what `docker cp` learns about a path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (permissions, plus the directory/symlink flags).
    pub mode: u32,
    /// Modification time, RFC 3339 with nanoseconds.
    pub mtime: String,
    /// For a symlink, the container path it resolves to.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Options of an archive upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Refuse to replace a directory with a non-directory and vice versa.
    pub no_overwrite_dir_non_dir: bool,
    /// Keep the archive's owners (else files belong to root).
    pub copy_uid_gid: bool,
}

/// What the archive router needs from the engine.
#[async_trait]
pub trait ArchiveBackend: Send + Sync + 'static {
    /// Stats `path` in the container (404 when missing).
    async fn stat(&self, id: &str, path: &str) -> ApiResult<PathStat>;
    /// A tar of `path` (named by its base name) and its stat.
    async fn get(&self, id: &str, path: &str) -> ApiResult<(PathStat, ByteStream)>;
    /// Extracts the tar `body` into the directory `path`.
    async fn put(&self, id: &str, path: &str, body: ByteStream, opts: PutOptions) -> ApiResult<()>;
    /// Files changed against the image (`docker diff`).
    async fn changes(&self, id: &str) -> ApiResult<Vec<FilesystemChange>>;
}

type Backend = State<Arc<dyn ArchiveBackend>>;

/// The archive routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn ArchiveBackend>) -> Router {
    Router::new()
        .route(
            "/containers/{id}/archive",
            get(get_archive).head(head_archive).put(put_archive),
        )
        .route("/containers/{id}/changes", get(changes))
        .with_state(backend)
}

fn path_param(q: &QueryParams) -> ApiResult<String> {
    q.string("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid("bad parameter: path cannot be empty"))
}

fn stat_header(stat: &PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(stat).map_err(|e| ApiError::internal(e.to_string()))?;
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(&json))
        .map_err(|e| ApiError::internal(e.to_string()))
}

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

async fn head_archive(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Response> {
    let stat = b.stat(&id, &path_param(&q)?).await?;
    let mut h = HeaderMap::new();
    h.insert(STAT_HEADER, stat_header(&stat)?);
    Ok((StatusCode::OK, h).into_response())
}

async fn get_archive(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Response> {
    let (stat, tar) = b.get(&id, &path_param(&q)?).await?;
    let mut h = HeaderMap::new();
    h.insert(STAT_HEADER, stat_header(&stat)?);
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-tar"));
    Ok((h, Body::from_stream(tar)).into_response())
}

async fn put_archive(
    State(b): Backend,
    Path(id): Path<String>,
    q: QueryParams,
    body: Body,
) -> ApiResult<StatusCode> {
    let path = path_param(&q)?;
    let opts = PutOptions {
        no_overwrite_dir_non_dir: q.bool("noOverwriteDirNonDir"),
        copy_uid_gid: q.bool("copyUIDGID"),
    };
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other))
        .boxed();
    b.put(&id, &path, stream, opts).await?;
    Ok(StatusCode::OK)
}

async fn changes(State(b): Backend, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(b.changes(&id).await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_serialises_like_dockerd() {
        let s = PathStat {
            name: "f".into(),
            size: 3,
            mode: 0o644,
            mtime: "2026-01-01T00:00:00Z".into(),
            link_target: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"name":"f","size":3,"mode":420,"mtime":"2026-01-01T00:00:00Z","linkTarget":""}"#
        );
    }
}
