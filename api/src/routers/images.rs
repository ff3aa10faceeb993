//! `/images/...`: local image store (load, save, import, list, inspect,
//! tag, remove, history, prune).

use async_trait::async_trait;
use futures::stream::BoxStream;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{
    HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImagePruneResponse, ImageSummary,
};
use crate::stream::ByteStream;

/// One line of a JSON progress stream (`docker load`, `import`, `pull`):
/// serialised as `{"status":...}`, `{"stream":...}` or `{"errorDetail":...,"error":...}`.
pub type ProgressStream = BoxStream<'static, serde_json::Value>;

/// `POST /images/create?fromSrc=-` (docker import) options.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Repository to tag the result with (may contain a tag).
    pub repo: Option<String>,
    /// Tag, when not part of `repo`.
    pub tag: Option<String>,
    /// Commit message recorded in history.
    pub message: Option<String>,
    /// Dockerfile instructions (`CMD`, `ENV`, ...) applied to the config.
    pub changes: Vec<String>,
    /// `os/arch` of the result.
    pub platform: Option<String>,
}

/// What the images router needs from the image service.
#[async_trait]
pub trait ImagesBackend: Send + Sync + 'static {
    /// `GET /images/json`: filters dangling, reference, label, before, since.
    async fn list(&self, all: bool, filters: Filters) -> ApiResult<Vec<ImageSummary>>;
    /// `GET /images/{name}/json`; 404 "No such image: X".
    async fn inspect(&self, name: &str) -> ApiResult<ImageInspect>;
    /// `GET /images/{name}/history`.
    async fn history(&self, name: &str) -> ApiResult<Vec<HistoryResponseItem>>;
    /// `POST /images/{name}/tag?repo=&tag=`; 400 on a bad reference.
    async fn tag(&self, name: &str, repo: &str, tag: Option<&str>) -> ApiResult<()>;
    /// `DELETE /images/{name}`: untag, or delete when the last reference goes;
    /// 409 when a container uses it and `force` is false.
    async fn remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>>;
    /// `POST /images/prune` (filters dangling, until, label).
    async fn prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse>;
    /// `POST /images/load`: a docker-save or OCI-layout tar.
    async fn load(&self, body: ByteStream, quiet: bool) -> ApiResult<ProgressStream>;
    /// `GET /images/get` and `/images/{name}/get`: a docker-save tar
    /// (with OCI index.json) of the named images.
    async fn save(&self, names: Vec<String>) -> ApiResult<ByteStream>;
    /// `POST /images/create?fromSrc=-`: a rootfs tar as a one-layer image.
    async fn import(&self, body: ByteStream, opts: ImportOptions) -> ApiResult<ProgressStream>;
    /// `POST /images/create?fromImage=&tag=&platform=`: pull from a
    /// registry. Errors before the first message are HTTP errors (404 for an
    /// unknown or refused repository); later ones travel in the stream.
    async fn pull(
        &self,
        image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        registry_auth: Option<String>,
    ) -> ApiResult<ProgressStream>;
    /// `POST /images/{name}/push?tag=`: push one tag (or, without a tag,
    /// every tag of the repository) to its registry.
    async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        registry_auth: Option<String>,
    ) -> ApiResult<ProgressStream>;
}

mod handlers;

pub(crate) use handlers::routes;
