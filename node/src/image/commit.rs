//! `docker commit`: a container's rootfs changes as a new layer on its
//! image, computed by containerd's diff service.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::oci::{self, ImageConfigFile};
use super::store::Lease;
use super::tag::target_reference;
use super::{ImageError, ImageService, changes};

/// What to commit (the engine fills it from the container record).
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// Full container ID (also its rootfs snapshot key).
    pub container_id: String,
    /// The image the container was created from (`sha256:...`).
    pub image_id: String,
    /// The container's `Config`, Docker's JSON shape; it becomes the new
    /// image's defaults, as dockerd does.
    pub container_config: Value,
    /// Repository (may include the tag) to name the result; None leaves it
    /// dangling.
    pub repo: Option<String>,
    /// Tag when not in `repo`.
    pub tag: Option<String>,
    /// History comment.
    pub comment: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Dockerfile instructions applied over the container's config.
    pub changes: Vec<String>,
}

impl ImageService {
    /// The changes in container `container_id`'s rootfs snapshot over the
    /// chain `parent` as a gzip layer in the content store (under `lease`):
    /// its descriptor and diff ID.
    pub(super) async fn diff_container(
        &self,
        lease: &Lease,
        container_id: &str,
        parent: Option<&str>,
    ) -> Result<(crate::runtime::Descriptor, String), ImageError> {
        let rt = self.runtime();
        let lower_key = format!("diff-{:016x}", rand::random::<u64>());
        let lower = rt
            .prepare_snapshot(&lease.id, &lower_key, parent, HashMap::new())
            .await?;
        let diff = match rt.snapshot_mounts(container_id).await {
            Ok(upper) => {
                rt.create_diff(&lease.id, &lower, &upper, oci::MT_OCI_LAYER_GZIP)
                    .await
            }
            Err(e) => Err(e),
        };
        let _ = rt.remove_snapshot(&lower_key).await;
        Ok(diff?)
    }

    /// Diffs the container's snapshot against its image's top chain,
    /// stores the layer (gzip) and a new config/manifest, unpacks it, and
    /// tags it. Returns the new image ID. Nothing stays behind on failure.
    #[tracing::instrument(skip_all, fields(container.id = %req.container_id))]
    pub async fn commit(&self, req: CommitRequest) -> Result<String, ImageError> {
        let target = match req.repo.as_deref().filter(|r| !r.is_empty()) {
            Some(repo) => Some(target_reference(repo, req.tag.as_deref())?),
            None => None,
        };
        // Container config keys that describe the container, not an image.
        let mut config = match req.container_config {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        for k in [
            "Hostname",
            "Domainname",
            "Image",
            "AttachStdin",
            "AttachStdout",
            "AttachStderr",
            "Tty",
            "OpenStdin",
            "StdinOnce",
        ] {
            config.remove(k);
        }
        // History names what the container ran, before any change.
        let created_by = config
            .get("Cmd")
            .and_then(|c| c.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        changes::apply(&mut config, &req.changes)?;
        let base = self.find(&req.image_id).await?.entry;
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);

        let _guard = self.inner.write_lock.lock().await;
        let lease = self.lease("commit").await?;
        let result = async {
            let parent = base.chain_ids().last().cloned();
            let (layer, diff_id) = self
                .diff_container(&lease, &req.container_id, parent.as_deref())
                .await?;

            let mut cfg: ImageConfigFile = base.config.clone();
            cfg.created = Some(created.clone());
            cfg.author = req.author.clone().filter(|a| !a.is_empty());
            cfg.comment = req.comment.clone().filter(|c| !c.is_empty());
            cfg.config = Some(Value::Object(config.clone()));
            cfg.rootfs.diff_ids.push(diff_id);
            cfg.history.push(oci::History {
                created: Some(created.clone()),
                created_by: Some(created_by.clone()),
                author: cfg.author.clone(),
                comment: cfg.comment.clone(),
                empty_layer: false,
            });
            let mut raw = serde_json::to_value(&cfg)
                .map_err(|e| ImageError::Invalid(format!("image config: {e}")))?;
            if let Some(obj) = raw.as_object_mut() {
                // dockerd records where the image came from.
                obj.insert("container".to_owned(), json!(req.container_id));
            }
            let raw = serde_json::to_vec(&raw)
                .map_err(|e| ImageError::Invalid(format!("image config: {e}")))?;
            let mut layers = base.layers.clone();
            layers.push(layer);
            let (config_desc, config_file) = self.write_config(&lease, raw).await?;
            let manifest = self.write_manifest(&lease, &config_desc, &layers).await?;
            self.unpack(&lease, &layers, &config_file).await?;
            match &target {
                Some(t) => {
                    self.set_tag(t, &manifest).await?;
                }
                None => self.ensure_named(&manifest).await?,
            }
            Ok::<_, ImageError>(config_desc.digest)
        }
        .await;
        lease.release(result.is_err()).await;
        let id = result?;
        self.event("commit", &id, &id);
        Ok(id)
    }
}
