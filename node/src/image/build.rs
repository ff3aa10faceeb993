//! What `docker build` (the classic builder) needs from the image store:
//! one image per step, linked to the image it started from (`parent`)
//! and keyed by the step (`container_config.Cmd`), so a later build finds
//! it again; tagging the result; pruning the cache-only images.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::oci::{self, History, ImageConfigFile, RootFs};
use super::prune::PruneReport;
use super::store::host_arch;
use super::tag::target_reference;
use super::{ImageError, ImageService};

/// One build step's image.
#[derive(Debug, Clone)]
pub struct BuildCommit {
    /// The image the step started from; None for the first step after
    /// `FROM scratch`.
    pub base: Option<String>,
    /// The container whose rootfs changes become the step's layer; None
    /// for a step that only changes the config (no layer, as dockerd).
    pub container_id: Option<String>,
    /// The image's container defaults (Docker's `Config`).
    pub config: Value,
    /// The history text, which is also the cache key
    /// (`/bin/sh -c #(nop)  CMD ["sh"]`, `|1 A=b /bin/sh -c make`).
    pub created_by: String,
}

/// A step image found in the store: what the cache matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The image the step started from.
    pub parent: Option<String>,
    /// The step's key (its history text).
    pub key: String,
    /// The step's image ID.
    pub id: String,
}

impl ImageService {
    /// Stores a step's image: the base's config and layers plus, with a
    /// container, the layer of its changes. The image gets an untagged
    /// record (`<none>`, hidden from `docker images` while it has
    /// children). Returns its ID. Nothing stays behind on failure.
    #[tracing::instrument(skip_all, fields(image.ref = req.base.as_deref().unwrap_or("scratch")))]
    pub async fn build_commit(&self, req: BuildCommit) -> Result<String, ImageError> {
        let base = match &req.base {
            Some(id) => Some(self.find(id).await?.entry),
            None => None,
        };
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let _guard = self.inner.write_lock.lock().await;
        let lease = self.lease("build").await?;
        let result = async {
            let (mut cfg, mut layers) = match &base {
                Some(b) => (b.config.clone(), b.layers.clone()),
                None => (
                    ImageConfigFile {
                        architecture: host_arch().to_owned(),
                        os: "linux".to_owned(),
                        rootfs: RootFs {
                            typ: "layers".to_owned(),
                            diff_ids: Vec::new(),
                        },
                        ..ImageConfigFile::default()
                    },
                    Vec::new(),
                ),
            };
            if let Some(cid) = &req.container_id {
                let parent = oci::chain_ids(&cfg.rootfs.diff_ids).last().cloned();
                let (layer, diff_id) = self.diff_container(&lease, cid, parent.as_deref()).await?;
                cfg.rootfs.diff_ids.push(diff_id);
                layers.push(layer);
            }
            cfg.author = None;
            cfg.comment = None;
            cfg.config = Some(req.config.clone());
            // An empty key makes the empty base of `FROM scratch`: no
            // time, history or key, so its ID is the same in every build.
            if !req.created_by.is_empty() {
                cfg.created = Some(created.clone());
                cfg.parent = req.base.clone();
                cfg.container_config = Some(json!({ "Cmd": [req.created_by] }));
                cfg.history.push(History {
                    created: Some(created.clone()),
                    created_by: Some(req.created_by.clone()),
                    author: None,
                    comment: None,
                    empty_layer: req.container_id.is_none(),
                });
            }
            let raw = serde_json::to_vec(&cfg)
                .map_err(|e| ImageError::Invalid(format!("image config: {e}")))?;
            let (config_desc, config_file) = self.write_config(&lease, raw).await?;
            let manifest = self.write_manifest(&lease, &config_desc, &layers).await?;
            self.unpack(&lease, &layers, &config_file).await?;
            self.ensure_named(&manifest).await?;
            Ok::<_, ImageError>(config_desc.digest)
        }
        .await;
        lease.release(result.is_err()).await;
        result
    }

    /// Every step image in the store (those with a cache key).
    pub async fn build_cache(&self) -> Result<Vec<CacheEntry>, ImageError> {
        Ok(self
            .entries()
            .await?
            .into_iter()
            .filter_map(|e| {
                let key = e
                    .config
                    .container_config
                    .as_ref()?
                    .get("Cmd")?
                    .get(0)?
                    .as_str()?
                    .to_owned();
                Some(CacheEntry {
                    parent: e.config.parent.clone(),
                    key,
                    id: e.id.clone(),
                })
            })
            .collect())
    }

    /// Points tag `name` (`repo[:tag]`) at image `id` (`docker build -t`).
    pub async fn tag_built(&self, id: &str, name: &str) -> Result<(), ImageError> {
        let target = target_reference(name, None)?.with_default_tag();
        let entry = self.find(id).await?.entry;
        let _guard = self.inner.write_lock.lock().await;
        self.set_tag(&target, &entry.manifest).await?;
        self.event("tag", &entry.id, &target.familiar());
        Ok(())
    }

    /// `docker builder prune`: removes the untagged step images no
    /// container uses. Returns what went and the bytes freed.
    #[tracing::instrument(skip_all)]
    pub async fn build_prune(&self) -> Result<PruneReport, ImageError> {
        let _guard = self.inner.write_lock.lock().await;
        let mut report = PruneReport::default();
        for entry in self.entries().await? {
            if entry.config.container_config.is_none() || !entry.is_dangling() {
                continue;
            }
            let used = self
                .usage()
                .is_some_and(|u| !u.containers_using(&entry.id).is_empty());
            if used {
                continue;
            }
            let (items, reclaimed) = self.delete_entry(&entry).await?;
            report.deleted.extend(items);
            report.space_reclaimed += reclaimed;
        }
        Ok(report)
    }

    /// IDs of images that are some image's build parent: `docker images`
    /// hides them while untagged, as dockerd hides intermediate images.
    pub(super) fn build_parents(entries: &[super::ImageEntry]) -> HashMap<String, ()> {
        entries
            .iter()
            .filter_map(|e| e.config.parent.clone())
            .map(|p| (p, ()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Configs written before the build fields existed still decode.
    #[test]
    fn old_configs_decode() {
        let raw = br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created_by":"x"}]}"#;
        let cfg: ImageConfigFile = serde_json::from_slice(raw).unwrap();
        assert!(cfg.parent.is_none());
        assert!(cfg.container_config.is_none());
        let back = serde_json::to_value(&cfg).unwrap();
        assert!(
            back.get("parent").is_none(),
            "absent fields are not written"
        );
    }
}
