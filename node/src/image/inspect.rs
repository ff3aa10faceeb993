//! `docker image inspect` and `docker images` rows in Docker's API shapes.

use shoal_api::models::{
    ImageConfig, ImageInspect, ImageInspectMetadata, ImageInspectRootFs, ImageSummary,
};

use super::store::ImageEntry;

impl ImageEntry {
    /// The `GET /images/json` row. Containers and SharedSize are -1 as
    /// dockerd reports them when not computed.
    pub fn summary(&self) -> ImageSummary {
        ImageSummary {
            id: self.id.clone(),
            parent_id: String::new(),
            repo_tags: self.repo_tags(),
            repo_digests: self.repo_digests(),
            created: self.created(),
            size: self.size(),
            shared_size: -1,
            virtual_size: Some(self.size()),
            labels: self.labels(),
            containers: -1,
            manifests: None,
            descriptor: None,
        }
    }

    /// The `GET /images/{name}/json` document (classic-store shape).
    pub fn inspect(&self) -> ImageInspect {
        let config: Option<ImageConfig> = self.config.config.as_ref().map(|c| {
            serde_json::from_value(c.clone()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "image config unreadable");
                ImageConfig::default()
            })
        });
        ImageInspect {
            id: Some(self.id.clone()),
            repo_tags: Some(self.repo_tags()),
            repo_digests: Some(self.repo_digests()),
            parent: Some(String::new()),
            comment: Some(self.config.comment.clone().unwrap_or_default()),
            created: self.config.created.clone(),
            docker_version: Some(self.config.docker_version.clone().unwrap_or_default()),
            author: Some(self.config.author.clone().unwrap_or_default()),
            config,
            architecture: Some(self.config.architecture.clone()),
            variant: self.config.variant.clone(),
            os: Some(self.config.os.clone()),
            size: Some(self.size()),
            virtual_size: Some(self.size()),
            graph_driver: Some(shoal_api::models::DriverData {
                name: "overlayfs".to_owned(),
                data: std::collections::HashMap::new(),
            }),
            root_fs: Some(ImageInspectRootFs {
                typ: "layers".to_owned(),
                layers: Some(self.config.rootfs.diff_ids.clone()),
            }),
            metadata: Some(ImageInspectMetadata {
                last_tag_time: Some(
                    self.last_tag_time()
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                        // dockerd's zero time for an image never tagged.
                        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned()),
                ),
            }),
            ..Default::default()
        }
    }
}
