//! `ImagesBackend` over [`ImageService`], and the one place image errors
//! become API errors.

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::json;
use shoal_api::error::{ApiError, ApiResult};
use shoal_api::extract::Filters;
use shoal_api::models::{
    HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImagePruneResponse, ImageSummary,
};
use shoal_api::routers::images::{ImagesBackend, ImportOptions, ProgressStream};
use shoal_api::stream::ByteStream;

use shoal_api::models::{DistributionInspect, SystemAuthResponse};
use shoal_api::routers::distribution::{DistributionBackend, LoginRequest};

use super::errors::{image_error, registry_error};
use crate::image::{
    DeleteItem, ImageError, ImageService, ImportRequest, Progress, PullRequest, Reference,
};
use crate::registry::Credentials;

/// The images router's backend.
#[derive(Debug, Clone)]
pub struct ImagesApi {
    service: ImageService,
}

impl ImagesApi {
    /// Serves the API from `service`.
    pub fn new(service: ImageService) -> Self {
        ImagesApi { service }
    }
}

fn delete_items(items: Vec<DeleteItem>) -> Vec<ImageDeleteResponseItem> {
    items
        .into_iter()
        .map(|i| match i {
            DeleteItem::Untagged(t) => ImageDeleteResponseItem {
                untagged: Some(t),
                deleted: None,
            },
            DeleteItem::Deleted(d) => ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(d),
            },
        })
        .collect()
}

#[async_trait]
impl ImagesBackend for ImagesApi {
    async fn list(&self, all: bool, filters: Filters) -> ApiResult<Vec<ImageSummary>> {
        let entries = self
            .service
            .list_images(&filters.0, all)
            .await
            .map_err(image_error)?;
        Ok(entries.iter().map(|e| e.summary()).collect())
    }

    async fn inspect(&self, name: &str) -> ApiResult<ImageInspect> {
        Ok(self.service.get(name).await.map_err(image_error)?.inspect())
    }

    async fn history(&self, name: &str) -> ApiResult<Vec<HistoryResponseItem>> {
        Ok(self.service.get(name).await.map_err(image_error)?.history())
    }

    async fn tag(&self, name: &str, repo: &str, tag: Option<&str>) -> ApiResult<()> {
        self.service.tag(name, repo, tag).await.map_err(image_error)
    }

    async fn remove(
        &self,
        name: &str,
        force: bool,
        _noprune: bool,
    ) -> ApiResult<Vec<ImageDeleteResponseItem>> {
        // `noprune` keeps untagged parents; images here have no parents.
        let items = self
            .service
            .remove(name, force)
            .await
            .map_err(image_error)?;
        Ok(delete_items(items))
    }

    async fn prune(&self, filters: Filters) -> ApiResult<ImagePruneResponse> {
        let report = self.service.prune(&filters.0).await.map_err(image_error)?;
        Ok(ImagePruneResponse {
            images_deleted: Some(delete_items(report.deleted)),
            space_reclaimed: Some(report.space_reclaimed),
        })
    }

    async fn load(&self, body: ByteStream, _quiet: bool) -> ApiResult<ProgressStream> {
        // The CLI asks for quiet output when not on a terminal; dockerd then
        // prints only the "Loaded image" lines, which is all Shoal prints.
        let lines = self.service.load(body).await.map_err(image_error)?;
        Ok(futures::stream::iter(lines.into_iter().map(|l| json!({ "stream": l }))).boxed())
    }

    async fn save(&self, names: Vec<String>) -> ApiResult<ByteStream> {
        self.service.save(&names).await.map_err(image_error)
    }

    async fn import(&self, body: ByteStream, opts: ImportOptions) -> ApiResult<ProgressStream> {
        let id = self
            .service
            .import(
                body,
                ImportRequest {
                    repo: opts.repo,
                    tag: opts.tag,
                    message: opts.message,
                    changes: opts.changes,
                    platform: opts.platform,
                },
            )
            .await
            .map_err(image_error)?;
        Ok(futures::stream::iter([json!({ "status": id })]).boxed())
    }

    async fn pull(
        &self,
        image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        registry_auth: Option<String>,
    ) -> ApiResult<ProgressStream> {
        let text = match tag.filter(|t| !t.is_empty()) {
            Some(t) if !t.starts_with("sha256:") => format!("{image}:{t}"),
            Some(d) => format!("{image}@{d}"),
            None => image.to_owned(),
        };
        let reference = Reference::parse(&text).map_err(|e| ApiError::invalid(e.to_string()))?;
        let credentials = decode_auth(registry_auth)?;
        let prepared = self
            .service
            .prepare_pull(PullRequest {
                reference,
                platform: platform.map(str::to_owned),
                credentials,
            })
            .await
            .map_err(image_error)?;
        let service = self.service.clone();
        Ok(streamed(move |progress| async move {
            service.run_pull(prepared, &progress).await.map(|_| ())
        }))
    }

    async fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        registry_auth: Option<String>,
    ) -> ApiResult<ProgressStream> {
        let credentials = decode_auth(registry_auth)?;
        let prepared = self
            .service
            .prepare_push(name, tag, credentials)
            .await
            .map_err(image_error)?;
        let service = self.service.clone();
        Ok(streamed(move |progress| async move {
            service.run_push(prepared, &progress).await
        }))
    }
}

/// Decodes `X-Registry-Auth`; a malformed header is a 400.
fn decode_auth(header: Option<String>) -> ApiResult<Option<Credentials>> {
    match header {
        None => Ok(None),
        Some(h) => Credentials::from_header(&h).map_err(registry_error),
    }
}

/// Runs `op` in its own task, streaming its progress; an error after the
/// stream started goes in-band, as dockerd writes it once the status line
/// is out. The operation goes on if the client disconnects.
fn streamed<F, Fut>(op: F) -> ProgressStream
where
    F: FnOnce(Progress) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), ImageError>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    tokio::spawn(async move {
        let progress = Progress::to(tx.clone());
        if let Err(e) = op(progress).await {
            let msg = image_error(e).message;
            let _ = tx
                .send(json!({ "errorDetail": { "message": msg }, "error": msg }))
                .await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

#[async_trait]
impl DistributionBackend for ImagesApi {
    async fn login(&self, req: LoginRequest) -> ApiResult<SystemAuthResponse> {
        let host = registry_host(&req.serveraddress);
        let creds = Credentials {
            username: req.username,
            password: req.password,
            server_address: req.serveraddress,
            identity_token: req.identitytoken,
            ..Default::default()
        };
        creds.check_supported().map_err(registry_error)?;
        // A refresh token from the token server is not handed to the CLI:
        // it would then send only that, which Shoal cannot exchange yet, so
        // the CLI keeps the password instead.
        let _refresh = self
            .service
            .registries()
            .login(&host, &creds)
            .await
            .map_err(registry_error)?;
        Ok(SystemAuthResponse {
            status: "Login Succeeded".to_owned(),
            identity_token: None,
        })
    }

    async fn inspect(
        &self,
        name: &str,
        registry_auth: Option<String>,
    ) -> ApiResult<DistributionInspect> {
        let reference = Reference::parse(name).map_err(|e| ApiError::invalid(e.to_string()))?;
        let credentials = decode_auth(registry_auth)?;
        self.service
            .distribution_inspect(reference, credentials)
            .await
            .map_err(image_error)
    }
}

/// The registry host a `docker login` server address names: Docker Hub's
/// `https://index.docker.io/v1/` is docker.io; others lose scheme and path.
fn registry_host(address: &str) -> String {
    let a = address
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = a.split('/').next().unwrap_or(a);
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => {
            crate::registry::DOCKER_HUB.to_owned()
        }
        h => h.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::runtime::RuntimeError;
    use shoal_api::error::ErrorKind;

    #[test]
    fn errors_map_to_docker_statuses() {
        assert_eq!(
            image_error(ImageError::NotFound("x".into())).message,
            "No such image: x"
        );
        assert_eq!(
            image_error(ImageError::NotFound("x".into())).kind,
            ErrorKind::NotFound
        );
        assert_eq!(
            image_error(ImageError::Invalid("invalid reference format".into())).kind,
            ErrorKind::InvalidParameter
        );
        assert_eq!(
            image_error(ImageError::Conflict("c".into())).kind,
            ErrorKind::Conflict
        );
        assert_eq!(
            image_error(ImageError::Runtime(RuntimeError::Internal("x".into()))).kind,
            ErrorKind::Internal
        );
    }

    #[test]
    fn login_addresses_name_hosts() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host(""), "docker.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            registry_host("http://reg.example:5000/v2/"),
            "reg.example:5000"
        );
    }
}
