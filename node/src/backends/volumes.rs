//! `shoal_api` volumes backend over the volume service.

use async_trait::async_trait;
use shoal_api::error::ApiResult;
use shoal_api::extract::Filters;
use shoal_api::models::{Volume, VolumeCreateOptions, VolumeListResponse, VolumePruneResponse};
use shoal_api::routers::volumes::VolumesBackend;

use crate::volume::{CreateVolume, VolumeService};

use super::errors::volume_error;

/// The volumes API.
#[derive(Debug, Clone)]
pub struct VolumesApi {
    /// The daemon's volumes.
    pub volumes: VolumeService,
}

/// Runs blocking volume work (sled flushes, directory walks) off the
/// async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| shoal_api::error::ApiError::internal(format!("volume task: {e}")))?
}

#[async_trait]
impl VolumesBackend for VolumesApi {
    #[tracing::instrument(skip_all)]
    async fn list(&self, filters: Filters) -> ApiResult<VolumeListResponse> {
        let svc = self.volumes.clone();
        blocking(move || {
            let recs = svc.list(&filters).map_err(volume_error)?;
            Ok(VolumeListResponse {
                volumes: Some(recs.iter().map(|r| svc.to_api(r, false)).collect()),
                warnings: None,
            })
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn create(&self, opts: VolumeCreateOptions) -> ApiResult<Volume> {
        let svc = self.volumes.clone();
        blocking(move || {
            let (rec, _) = svc
                .create(CreateVolume {
                    name: opts.name.unwrap_or_default(),
                    driver: opts.driver.unwrap_or_default(),
                    options: opts.driver_opts.unwrap_or_default(),
                    labels: opts.labels.unwrap_or_default(),
                    anonymous: false,
                })
                .map_err(volume_error)?;
            Ok(svc.to_api(&rec, false))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(volume = %name))]
    async fn inspect(&self, name: &str) -> ApiResult<Volume> {
        let rec = self.volumes.get(name).map_err(volume_error)?;
        Ok(self.volumes.to_api(&rec, false))
    }

    #[tracing::instrument(skip_all, fields(volume = %name))]
    async fn remove(&self, name: &str, force: bool) -> ApiResult<()> {
        let svc = self.volumes.clone();
        let name = name.to_owned();
        blocking(move || svc.remove(&name, force).map_err(volume_error)).await
    }

    #[tracing::instrument(skip_all)]
    async fn prune(&self, filters: Filters) -> ApiResult<VolumePruneResponse> {
        let svc = self.volumes.clone();
        blocking(move || {
            let (deleted, reclaimed) = svc.prune(&filters).map_err(volume_error)?;
            Ok(VolumePruneResponse {
                volumes_deleted: Some(deleted),
                space_reclaimed: Some(i64::try_from(reclaimed).unwrap_or(i64::MAX)),
            })
        })
        .await
    }
}
