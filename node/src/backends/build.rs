//! `BuildBackend` over [`BuildService`], and where build errors become
//! API errors.

use async_trait::async_trait;
use shoal_api::error::{ApiError, ApiResult};
use shoal_api::routers::build::{BuildBackend, BuildOptions, BuildPruneReport};
use shoal_api::routers::images::ProgressStream;
use shoal_api::stream::ByteStream;

use super::errors::{engine_error, image_error};
use crate::build::{BuildError, BuildService};
use crate::image::DeleteItem;

/// The build router's backend.
#[derive(Debug, Clone)]
pub struct BuildApi {
    /// The builder.
    pub service: BuildService,
}

/// Build errors as the API reports them (before the stream started).
pub fn build_error(e: BuildError) -> ApiError {
    match e {
        BuildError::Invalid(m) => ApiError::invalid(m),
        BuildError::Run { .. } => ApiError::invalid(e.to_string()),
        BuildError::Engine(e) => engine_error(e),
        BuildError::Image(e) => image_error(e),
        BuildError::Io { .. } => ApiError::internal(e.to_string()),
    }
}

#[async_trait]
impl BuildBackend for BuildApi {
    async fn build(&self, opts: BuildOptions, context: ByteStream) -> ApiResult<ProgressStream> {
        self.service.build(opts, context).await.map_err(build_error)
    }

    async fn prune(&self) -> ApiResult<BuildPruneReport> {
        let report = self.service.prune().await.map_err(build_error)?;
        Ok(BuildPruneReport {
            caches_deleted: report
                .deleted
                .into_iter()
                .filter_map(|d| match d {
                    DeleteItem::Deleted(id) => Some(id),
                    DeleteItem::Untagged(_) => None,
                })
                .collect(),
            space_reclaimed: report.space_reclaimed,
        })
    }
}
