//! `GET /distribution/{name}/json`: what the registry says an image is,
//! without pulling it.

use shoal_api::models::{DistributionInspect, OciDescriptor, OciPlatform};

use super::oci::{self, ImageConfigFile};
use super::{ImageError, ImageService, Reference};
use crate::registry::{Action, Credentials, RegistryError};

impl ImageService {
    /// The registry's descriptor for `reference` (tag or digest) and the
    /// platforms it offers: an index's entries, or a lone manifest's
    /// config os/arch.
    #[tracing::instrument(skip_all, fields(image.ref = %reference))]
    pub async fn distribution_inspect(
        &self,
        reference: Reference,
        credentials: Option<Credentials>,
    ) -> Result<DistributionInspect, ImageError> {
        let reference = if reference.digest.is_some() {
            reference
        } else {
            reference.with_default_tag()
        };
        let denied = |e: RegistryError| match e {
            RegistryError::Unauthorized(m) | RegistryError::NotFound(m) => {
                ImageError::Absent(format!("{}: {m}", reference.familiar()))
            }
            other => ImageError::Registry(other),
        };
        let session = self
            .registries()
            .open(
                &reference.domain,
                &reference.path,
                credentials.as_ref(),
                &[Action::Pull],
                &[],
            )
            .await
            .map_err(denied)?;
        let wanted = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_default();
        let m = session.manifest(&wanted).await.map_err(denied)?;
        let platforms = if oci::is_index(&m.media_type) {
            let idx: oci::Index = serde_json::from_slice(&m.raw)
                .map_err(|e| ImageError::Invalid(format!("invalid index {}: {e}", m.digest)))?;
            idx.manifests
                .iter()
                .filter_map(|e| e.platform.as_ref())
                .map(|p| OciPlatform {
                    architecture: Some(p.architecture.clone()),
                    os: Some(p.os.clone()),
                    variant: p.variant.clone(),
                    ..Default::default()
                })
                .collect()
        } else {
            let manifest: oci::Manifest = serde_json::from_slice(&m.raw)
                .map_err(|e| ImageError::Invalid(format!("invalid manifest {}: {e}", m.digest)))?;
            let raw = session
                .blob_bytes(&manifest.config.digest, manifest.config.size, 8 << 20)
                .await?;
            let c: ImageConfigFile = serde_json::from_slice(&raw)
                .map_err(|e| ImageError::Invalid(format!("invalid image config: {e}")))?;
            vec![OciPlatform {
                architecture: Some(c.architecture),
                os: Some(c.os),
                variant: c.variant,
                ..Default::default()
            }]
        };
        Ok(DistributionInspect {
            descriptor: OciDescriptor {
                media_type: Some(m.media_type),
                digest: Some(m.digest),
                size: Some(m.raw.len() as i64),
                ..Default::default()
            },
            platforms,
        })
    }
}
