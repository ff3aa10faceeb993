//! `docker inspect` of a container.

use shoal_api::models::ContainerInspectResponse;

use super::super::summary::{self, Paths};
use super::super::{Engine, EngineResult};

impl Engine {
    /// `GET /containers/{id}/json`.
    pub async fn inspect(&self, key: &str, size: bool) -> EngineResult<ContainerInspectResponse> {
        let c = self.lookup(key)?;
        let rec = c.snapshot();
        let dir = self.container_dir(&rec.id);
        let paths = Paths {
            resolv_conf: dir.join("resolv.conf").display().to_string(),
            hostname: dir.join("hostname").display().to_string(),
            hosts: dir.join("hosts").display().to_string(),
            // dockerd shows LogPath for json-file only.
            log: match self.log_config(&rec) {
                Ok(cfg) if cfg.driver == "json-file" => {
                    self.log_path(&rec.id).display().to_string()
                }
                _ => String::new(),
            },
        };
        let sizes = if size { self.sizes(&rec).await } else { None };
        Ok(summary::inspect(&rec, paths, sizes))
    }

    /// (SizeRw, SizeRootFs) of a container.
    pub(crate) async fn sizes(
        &self,
        rec: &super::super::record::ContainerRecord,
    ) -> Option<(i64, i64)> {
        let rw = self.runtime().snapshot_usage(&rec.id).await.unwrap_or(0);
        let image = self
            .images()
            .get(&rec.image_id)
            .await
            .map(|e| e.size())
            .unwrap_or(0);
        Some((rw, rw + image))
    }
}
