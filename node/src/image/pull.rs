//! `docker pull`: manifests and blobs from a registry, streamed into
//! containerd's content store, verified, unpacked and tagged.
//!
//! A pull is prepared first (authorise, fetch the manifest, pick the
//! platform) so that "not found" and "access denied" are plain HTTP errors
//! as dockerd gives them; then it runs with a progress stream. Layers are
//! downloaded `max-concurrent-downloads` at a time and unpacked in order as
//! soon as each one and its parents are in (so unpack overlaps download).
//! Everything is written under one lease: if anything fails the lease is
//! dropped with a synchronous GC and nothing of the pull remains.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::TryStreamExt;
use tokio::sync::Semaphore;

use super::oci::{self, ImageConfigFile, Manifest};
use super::platform::{parse_platform, platform_text, select};
use super::progress::{Progress, short_digest};
use super::store::Lease;
use super::verify::Verifying;
use super::{ImageError, ImageService, Reference};
use crate::registry::{Action, Credentials, RegistryError, Session};
use crate::runtime::Descriptor;

/// Label containerd puts on blobs naming the repositories they came from
/// (`containerd.io/distribution.source.<host>=repo,...`); push uses it to
/// offer cross-repository mounts.
pub(super) const LABEL_SOURCE_PREFIX: &str = "containerd.io/distribution.source.";
/// Configs larger than this are refused as corrupt.
const MAX_CONFIG: usize = 8 << 20;

/// What to pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// The image, with a tag or a digest (no tag means `latest`).
    pub reference: Reference,
    /// `os/arch[/variant]`; None picks linux on this host's architecture.
    pub platform: Option<String>,
    /// Registry credentials (from `X-Registry-Auth` or a service's spec).
    pub credentials: Option<Credentials>,
}

/// What a finished pull did.
#[derive(Debug, Clone)]
pub struct PullOutcome {
    /// `sha256:` of the image config (the image ID).
    pub id: String,
    /// The digest the registry named the image by (index or manifest).
    pub digest: String,
    /// False when the image was already present under that name.
    pub downloaded: bool,
}

/// A pull whose manifest is known, ready to run.
#[derive(Debug)]
pub struct PreparedPull {
    reference: Reference,
    session: Arc<Session>,
    /// The index, when the reference named one.
    index: Option<(Descriptor, Bytes)>,
    manifest_desc: Descriptor,
    manifest_raw: Bytes,
    manifest: Manifest,
    wanted: oci::Platform,
}

impl PreparedPull {
    /// The digest the reference resolved to (index or manifest).
    pub fn digest(&self) -> &str {
        match &self.index {
            Some((d, _)) => &d.digest,
            None => &self.manifest_desc.digest,
        }
    }
}

impl ImageService {
    /// Registry errors of a pull, worded as dockerd words them.
    fn pull_error(r: &Reference, e: RegistryError) -> ImageError {
        match e {
            RegistryError::Unauthorized(m) => ImageError::Absent(format!(
                "pull access denied for {}, repository does not exist or may require 'docker login': {m}",
                r.familiar_name()
            )),
            RegistryError::NotFound(m) => {
                ImageError::Absent(format!("manifest for {} not found: {m}", r.familiar()))
            }
            other => ImageError::Registry(other),
        }
    }

    /// Authorises and resolves `req` to one platform's manifest; errors
    /// before anything is written (NotFound for unknown or refused
    /// repositories, Invalid for a bad platform).
    #[tracing::instrument(skip_all, fields(image.ref = %req.reference))]
    pub async fn prepare_pull(&self, req: PullRequest) -> Result<PreparedPull, ImageError> {
        let reference = if req.reference.digest.is_some() {
            req.reference.clone()
        } else {
            req.reference.clone().with_default_tag()
        };
        let wanted = match &req.platform {
            Some(p) if !p.is_empty() => parse_platform(p)?,
            _ => oci::Platform {
                os: "linux".to_owned(),
                architecture: super::store::host_arch().to_owned(),
                variant: None,
            },
        };
        let session = self
            .registries()
            .open(
                &reference.domain,
                &reference.path,
                req.credentials.as_ref(),
                &[Action::Pull],
                &[],
            )
            .await
            .map_err(|e| Self::pull_error(&reference, e))?;
        let tag_or_digest = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| super::reference::DEFAULT_TAG.to_owned());
        let top = session
            .manifest(&tag_or_digest)
            .await
            .map_err(|e| Self::pull_error(&reference, e))?;
        let top_desc = Descriptor {
            media_type: top.media_type.clone(),
            digest: top.digest.clone(),
            size: top.raw.len() as i64,
            annotations: HashMap::new(),
        };
        let (index, manifest_desc, manifest_raw) = if oci::is_index(&top.media_type) {
            let idx: oci::Index = serde_json::from_slice(&top.raw)
                .map_err(|e| ImageError::Invalid(format!("invalid index {}: {e}", top.digest)))?;
            let Some(desc) = select(&idx, &wanted) else {
                return Err(ImageError::Absent(format!(
                    "no matching manifest for {} in the manifest list entries",
                    platform_text(&wanted)
                )));
            };
            let m = session
                .manifest(&desc.digest)
                .await
                .map_err(|e| Self::pull_error(&reference, e))?;
            (Some((top_desc, top.raw)), desc, m.raw)
        } else if oci::is_manifest(&top.media_type) {
            (None, top_desc, top.raw)
        } else {
            return Err(ImageError::Invalid(format!(
                "unsupported manifest media type {} for {} (schema 1 and other formats are not supported)",
                top.media_type,
                reference.familiar()
            )));
        };
        let manifest: Manifest = serde_json::from_slice(&manifest_raw).map_err(|e| {
            ImageError::Invalid(format!("invalid manifest {}: {e}", manifest_desc.digest))
        })?;
        Ok(PreparedPull {
            reference,
            session: Arc::new(session),
            index,
            manifest_desc,
            manifest_raw,
            manifest,
            wanted,
        })
    }

    /// Pulls `req` to the end: the engine operation behind `docker pull`,
    /// `docker run` of an absent image and the swarm agent's image fetch.
    /// `credentials` in `req` are the registry auth (a service's
    /// `X-Registry-Auth`, decoded with [`Credentials::from_header`]);
    /// `progress` may be [`Progress::none`]. On error nothing of this pull
    /// is left in containerd; a later call simply retries.
    pub async fn pull(
        &self,
        req: PullRequest,
        progress: &Progress,
    ) -> Result<PullOutcome, ImageError> {
        let prepared = self.prepare_pull(req).await?;
        self.run_pull(prepared, progress).await
    }

    /// Downloads, verifies, unpacks and tags a prepared pull, reporting on
    /// `progress`. Ends with dockerd's `Digest:` and `Status:` lines.
    #[tracing::instrument(skip_all, fields(image.ref = %p.reference))]
    pub async fn run_pull(
        &self,
        p: PreparedPull,
        progress: &Progress,
    ) -> Result<PullOutcome, ImageError> {
        let id_text = p
            .reference
            .digest
            .clone()
            .or_else(|| p.reference.tag.clone())
            .unwrap_or_default();
        progress
            .send(serde_json::json!({
                "status": format!("Pulling from {}", p.reference.familiar_name()),
                "id": id_text,
            }))
            .await;
        let lease = self.lease("pull").await?;
        match self.fetch_all(&p, &lease, progress).await {
            Ok(outcome) => {
                lease.release(false).await;
                progress.status(format!("Digest: {}", outcome.digest)).await;
                let shown = match &p.reference.digest {
                    Some(d) => format!("{}@{d}", p.reference.familiar_name()),
                    None => p.reference.familiar(),
                };
                if outcome.downloaded {
                    progress
                        .status(format!("Status: Downloaded newer image for {shown}"))
                        .await;
                } else {
                    progress
                        .status(format!("Status: Image is up to date for {shown}"))
                        .await;
                }
                self.event("pull", &p.reference.to_string(), &p.reference.to_string());
                Ok(outcome)
            }
            Err(e) => {
                lease.release(true).await;
                Err(e)
            }
        }
    }

    async fn fetch_all(
        &self,
        p: &PreparedPull,
        lease: &Lease,
        progress: &Progress,
    ) -> Result<PullOutcome, ImageError> {
        let session = &p.session;
        let cfg_desc = &p.manifest.config;
        if cfg_desc.size < 0 || cfg_desc.size as usize > MAX_CONFIG {
            return Err(ImageError::Invalid(format!(
                "image config {} is too large ({} bytes)",
                cfg_desc.digest, cfg_desc.size
            )));
        }
        let config_raw = session
            .blob_bytes(&cfg_desc.digest, cfg_desc.size, MAX_CONFIG)
            .await
            .map_err(ImageError::Registry)?;
        let config: ImageConfigFile = serde_json::from_slice(&config_raw)
            .map_err(|e| ImageError::Invalid(format!("invalid image config: {e}")))?;
        if p.index.is_none()
            && !config.architecture.is_empty()
            && (config.os != p.wanted.os || config.architecture != p.wanted.architecture)
        {
            return Err(ImageError::Absent(format!(
                "image with reference {} was found but does not match the specified platform: wanted {}, actual: {}/{}",
                p.reference.familiar(),
                platform_text(&p.wanted),
                config.os,
                config.architecture
            )));
        }
        let layers = &p.manifest.layers;
        let diff_ids = &config.rootfs.diff_ids;
        if layers.len() != diff_ids.len() {
            return Err(ImageError::Invalid(format!(
                "image has {} layers but its config lists {} diff IDs",
                layers.len(),
                diff_ids.len()
            )));
        }
        let chains = oci::chain_ids(diff_ids);
        let source_label = format!("{LABEL_SOURCE_PREFIX}{}", p.reference.domain);

        // Which layers must come over the wire.
        let mut need = Vec::with_capacity(layers.len());
        for l in layers {
            let have = self.runtime().content_info(&l.digest).await?.is_some();
            let id = short_digest(&l.digest);
            if have {
                progress.layer(&id, "Already exists").await;
            } else {
                progress.layer(&id, "Pulling fs layer").await;
            }
            need.push(!have);
        }
        let mut downloaded = false;
        let sem = Arc::new(Semaphore::new(
            self.registries().config().max_concurrent_downloads,
        ));
        let mut tasks = Vec::with_capacity(layers.len());
        for (l, needed) in layers.iter().zip(&need) {
            let labels = HashMap::from([(source_label.clone(), p.reference.path.clone())]);
            if !*needed {
                // Present already: hold it and record where it also lives.
                self.runtime()
                    .add_lease_resource(&lease.id, &l.digest, "content")
                    .await?;
                let _ = self
                    .runtime()
                    .update_content_labels(&l.digest, labels)
                    .await;
                tasks.push(None);
                continue;
            }
            downloaded = true;
            let svc = self.clone();
            let session = p.session.clone();
            let sem = sem.clone();
            let layer = l.clone();
            let lease_id = lease.id.clone();
            let progress = progress.clone();
            tasks.push(Some(tokio::spawn(async move {
                let id = short_digest(&layer.digest);
                if sem.available_permits() == 0 {
                    progress.layer(&id, "Waiting").await;
                }
                let _permit = sem
                    .acquire_owned()
                    .await
                    .map_err(|_| ImageError::Invalid("pull cancelled".to_owned()))?;
                svc.download_layer(&session, &lease_id, &layer, labels, &progress)
                    .await
            })));
        }
        let abort_all =
            |tasks: &mut Vec<Option<tokio::task::JoinHandle<Result<(), ImageError>>>>| {
                for t in tasks.iter().flatten() {
                    t.abort();
                }
            };
        for i in 0..layers.len() {
            if let Some(task) = tasks[i].take() {
                let result = match task.await {
                    Ok(r) => r,
                    Err(e) => Err(ImageError::Invalid(format!("layer download task: {e}"))),
                };
                if let Err(e) = result {
                    abort_all(&mut tasks);
                    return Err(e);
                }
            }
            let id = short_digest(&layers[i].digest);
            let parent = i.checked_sub(1).map(|x| chains[x].as_str());
            let exists = self
                .runtime()
                .stat_snapshot(&chains[i])
                .await?
                .is_some_and(|s| s.committed);
            if need[i] && !exists {
                progress
                    .send(serde_json::json!({
                        "status": "Extracting",
                        "progressDetail": { "current": 0, "total": layers[i].size },
                        "id": id,
                    }))
                    .await;
            }
            if let Err(e) = self
                .unpack_layer(lease, i, &layers[i], &chains[i], parent, &diff_ids[i])
                .await
            {
                abort_all(&mut tasks);
                return Err(e);
            }
            if need[i] {
                progress.layer(&id, "Pull complete").await;
            }
        }

        // Config, manifest and index, as the registry sent them, so the
        // local digests are the registry's.
        let (config_desc, _) = self.write_config(lease, config_raw.to_vec()).await?;
        let mut labels = HashMap::new();
        labels.insert(oci::LABEL_REF_CONFIG.to_owned(), config_desc.digest.clone());
        for (i, l) in layers.iter().enumerate() {
            labels.insert(format!("{}{i}", oci::LABEL_REF_LAYER), l.digest.clone());
        }
        self.runtime()
            .write_blob(
                &lease.id,
                &p.manifest_desc.digest,
                p.manifest_desc.size,
                labels,
                std::io::Cursor::new(p.manifest_raw.to_vec()),
            )
            .await?;
        let root = match &p.index {
            Some((desc, raw)) => {
                let labels = HashMap::from([(
                    format!("{}m.0", oci::LABEL_REF_CONTENT_PREFIX),
                    p.manifest_desc.digest.clone(),
                )]);
                self.runtime()
                    .write_blob(
                        &lease.id,
                        &desc.digest,
                        desc.size,
                        labels,
                        std::io::Cursor::new(raw.to_vec()),
                    )
                    .await?;
                desc.digest.clone()
            }
            None => p.manifest_desc.digest.clone(),
        };

        let _guard = self.inner.write_lock.lock().await;
        let mut target = p.manifest_desc.clone();
        target.media_type = p
            .manifest
            .media_type
            .clone()
            .unwrap_or_else(|| target.media_type.clone());
        let digest_ref = Reference {
            digest: Some(root.clone()),
            tag: None,
            ..p.reference.clone()
        };
        let mut changed = false;
        if p.reference.digest.is_none() {
            let before = self.runtime().get_image(&p.reference.to_string()).await?;
            changed = before.is_none_or(|b| b.target.digest != target.digest);
            self.set_tag(&p.reference, &target).await?;
        }
        if self
            .runtime()
            .get_image(&digest_ref.to_string())
            .await?
            .is_none()
        {
            changed = true;
        }
        self.runtime()
            .put_image(&digest_ref.to_string(), &target, HashMap::new())
            .await?;
        self.runtime()
            .delete_image(&super::store::dangling_name(&target.digest), false)
            .await?;
        Ok(PullOutcome {
            id: config_desc.digest,
            digest: root,
            downloaded: downloaded || changed,
        })
    }

    /// Streams one layer from the registry into the content store,
    /// checking its size and digest as the bytes pass.
    async fn download_layer(
        &self,
        session: &Session,
        lease: &str,
        layer: &Descriptor,
        labels: HashMap<String, String>,
        progress: &Progress,
    ) -> Result<(), ImageError> {
        let id = short_digest(&layer.digest);
        let resp = session
            .blob(&layer.digest)
            .await
            .map_err(ImageError::Registry)?;
        let meter = progress.meter(&id, "Downloading", layer.size);
        let digest = layer.digest.clone();
        let body = resp
            .bytes_stream()
            .map_err(move |e| std::io::Error::other(format!("reading layer {digest}: {e}")));
        let failure = Arc::new(Mutex::new(None));
        let reader = Verifying::new(
            tokio_util::io::StreamReader::new(body),
            layer,
            meter,
            failure.clone(),
        );
        let written = self
            .runtime()
            .write_blob(lease, &layer.digest, layer.size, labels, reader)
            .await;
        if let Some(why) = failure.lock().ok().and_then(|mut f| f.take()) {
            return Err(ImageError::Registry(RegistryError::Integrity(why)));
        }
        written?;
        progress.layer(&id, "Verifying Checksum").await;
        progress.layer(&id, "Download complete").await;
        Ok(())
    }
}
