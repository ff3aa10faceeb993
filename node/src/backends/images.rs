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

use super::errors::image_error;
use crate::image::{DeleteItem, ImageService, ImportRequest, Reference};

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
    async fn list(&self, _all: bool, filters: Filters) -> ApiResult<Vec<ImageSummary>> {
        // `all` adds intermediate build images; Shoal has none.
        let entries = self.service.list(&filters.0).await.map_err(image_error)?;
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
        _registry_auth: Option<String>,
    ) -> ApiResult<ProgressStream> {
        let text = match tag.filter(|t| !t.is_empty()) {
            Some(t) if !t.starts_with("sha256:") => format!("{image}:{t}"),
            Some(d) => format!("{image}@{d}"),
            None => image.to_owned(),
        };
        let r = Reference::parse(&text).map_err(|e| ApiError::invalid(e.to_string()))?;
        // Registries are not reachable from Shoal yet; answer as dockerd
        // does for a repository it cannot pull, so `docker run missing`
        // fails the same way.
        Err(ApiError::not_found(format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
            r.familiar_name()
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::image::ImageError;
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
}
