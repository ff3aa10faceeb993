//! Images as groups of containerd records, lookup by name or ID, tagging
//! with dangling-record bookkeeping, and blob writes under a lease.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::oci::{self, ImageConfigFile, Manifest};
use super::reference::{self, Reference};
use super::{ImageError, ImageService};
use crate::runtime::{Descriptor, ImageRecord, Runtime};

/// Record name prefix for an image that lost its last tag (moby's name).
pub const DANGLING_PREFIX: &str = "moby-dangling@";
/// Manifests and configs larger than this are refused as corrupt.
const MAX_JSON_BLOB: usize = 8 << 20;

/// One image: every record whose manifest has the same config digest.
#[derive(Debug, Clone)]
pub struct ImageEntry {
    /// `sha256:<config digest>` (the image ID).
    pub id: String,
    /// The manifest the first record points to.
    pub manifest: Descriptor,
    /// Its layer descriptors, base first.
    pub layers: Vec<Descriptor>,
    /// The parsed config.
    pub config: ImageConfigFile,
    /// The config descriptor.
    pub config_desc: Descriptor,
    /// Records naming this image (tags and dangling records).
    pub records: Vec<ImageRecord>,
}

impl ImageEntry {
    /// Tag references, sorted by full name.
    pub fn tags(&self) -> Vec<Reference> {
        let mut tags: Vec<Reference> = self
            .records
            .iter()
            .filter(|r| !r.name.starts_with(DANGLING_PREFIX))
            .filter_map(|r| Reference::parse(&r.name).ok())
            .filter(|r| r.tag.is_some() && r.digest.is_none())
            .collect();
        tags.sort_by_key(|r| r.to_string());
        tags
    }

    /// `RepoTags` in familiar form (`busybox:latest`).
    pub fn repo_tags(&self) -> Vec<String> {
        self.tags().iter().map(Reference::familiar).collect()
    }

    /// Digest references (`name@sha256:...`) from pulls and pushes, in
    /// familiar form: `RepoDigests`.
    pub fn repo_digests(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .records
            .iter()
            .filter(|r| !r.name.starts_with(DANGLING_PREFIX))
            .filter_map(|r| Reference::parse(&r.name).ok())
            .filter_map(|r| {
                r.digest
                    .as_ref()
                    .map(|d| format!("{}@{d}", r.familiar_name()))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Digest records (`name@sha256:...`).
    pub fn digest_refs(&self) -> Vec<Reference> {
        self.records
            .iter()
            .filter(|r| !r.name.starts_with(DANGLING_PREFIX))
            .filter_map(|r| Reference::parse(&r.name).ok())
            .filter(|r| r.digest.is_some())
            .collect()
    }

    /// No tag left: listed as `<none>:<none>`.
    pub fn is_dangling(&self) -> bool {
        self.tags().is_empty()
    }

    /// Sum of layer blob sizes.
    pub fn size(&self) -> i64 {
        self.layers.iter().map(|l| l.size).sum()
    }

    /// Creation time from the config, seconds since the epoch.
    pub fn created(&self) -> i64 {
        oci::unix_seconds(self.config.created.as_deref())
    }

    /// Labels from the config's `Config.Labels`.
    pub fn labels(&self) -> HashMap<String, String> {
        self.config
            .config
            .as_ref()
            .and_then(|c| c.get("Labels"))
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default()
    }

    /// Chain IDs of the layers, base first.
    pub fn chain_ids(&self) -> Vec<String> {
        oci::chain_ids(&self.config.rootfs.diff_ids)
    }

    /// When a tag last moved onto this image (record update time).
    pub fn last_tag_time(&self) -> Option<DateTime<Utc>> {
        self.records
            .iter()
            .filter(|r| !r.name.starts_with(DANGLING_PREFIX))
            .filter_map(|r| r.updated_at.or(r.created_at))
            .max()
    }

    /// Every record name of this image.
    pub fn record_names(&self) -> Vec<String> {
        self.records.iter().map(|r| r.name.clone()).collect()
    }
}

/// What a lookup found: the image and, when found by name, the reference.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub entry: ImageEntry,
    pub reference: Option<Reference>,
}

/// A containerd lease held for the length of a write operation.
#[derive(Debug)]
pub(super) struct Lease {
    pub id: String,
    runtime: Runtime,
}

impl Lease {
    /// Drops the lease. On failure paths `collect` asks containerd to
    /// garbage-collect now, so half-written content disappears at once.
    pub async fn release(self, collect: bool) {
        if let Err(e) = self.runtime.delete_lease(&self.id, collect).await {
            tracing::warn!(error = %e, lease = %self.id, "lease delete failed");
        }
    }
}

/// Name of the dangling record for manifest `digest`.
pub(super) fn dangling_name(digest: &str) -> String {
    format!("{DANGLING_PREFIX}{digest}")
}

impl ImageService {
    /// Takes a lease that expires by itself within the hour.
    pub(super) async fn lease(&self, op: &str) -> Result<Lease, ImageError> {
        let id = format!("shoal-{op}-{:016x}", rand::random::<u64>());
        self.runtime()
            .create_lease(&id, Duration::from_secs(3600))
            .await?;
        Ok(Lease {
            id,
            runtime: self.runtime().clone(),
        })
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<T, ImageError> {
        let raw = self.runtime().read_blob(digest, MAX_JSON_BLOB).await?;
        serde_json::from_slice(&raw)
            .map_err(|e| ImageError::Invalid(format!("malformed blob {digest}: {e}")))
    }

    /// Reads what a record points to; an index resolves to the manifest
    /// for this host's platform.
    pub(super) async fn read_target(
        &self,
        target: &Descriptor,
    ) -> Result<(Descriptor, Manifest, ImageConfigFile), ImageError> {
        let mut desc = target.clone();
        if oci::is_index(&desc.media_type) {
            let index: oci::Index = self.read_json(&desc.digest).await?;
            desc = pick_platform(&index)
                .ok_or_else(|| {
                    ImageError::Invalid(format!(
                        "no manifest for linux/{} in {}",
                        host_arch(),
                        target.digest
                    ))
                })?
                .descriptor
                .clone();
        }
        let manifest: Manifest = self.read_json(&desc.digest).await?;
        let config: ImageConfigFile = self.read_json(&manifest.config.digest).await?;
        Ok((desc, manifest, config))
    }

    /// Every image, grouped by ID; records whose blobs are unreadable are
    /// skipped with a warning (they cannot be used anyway).
    pub(super) async fn entries(&self) -> Result<Vec<ImageEntry>, ImageError> {
        let records = self.runtime().list_images().await?;
        let mut by_manifest: HashMap<String, Option<(Descriptor, Manifest, ImageConfigFile)>> =
            HashMap::new();
        let mut by_id: BTreeMap<String, ImageEntry> = BTreeMap::new();
        for rec in records {
            let key = rec.target.digest.clone();
            if !by_manifest.contains_key(&key) {
                let read = match self.read_target(&rec.target).await {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::warn!(image.ref = %rec.name, error = %e, "skipping unreadable image");
                        None
                    }
                };
                by_manifest.insert(key.clone(), read);
            }
            let Some(Some((desc, manifest, config))) = by_manifest.get(&key) else {
                continue;
            };
            let id = manifest.config.digest.clone();
            by_id
                .entry(id.clone())
                .or_insert_with(|| ImageEntry {
                    id,
                    manifest: desc.clone(),
                    layers: manifest.layers.clone(),
                    config: config.clone(),
                    config_desc: manifest.config.clone(),
                    records: Vec::new(),
                })
                .records
                .push(rec);
        }
        Ok(by_id.into_values().collect())
    }

    /// Finds an image the way dockerd's `GetImage` does: full ID, then
    /// name[:tag] or name@digest, then a unique ID prefix.
    pub(super) async fn find(&self, s: &str) -> Result<Found, ImageError> {
        let entries = self.entries().await?;
        let not_found = || ImageError::NotFound(s.to_owned());
        let id_like = s.strip_prefix("sha256:").unwrap_or(s);
        if reference::is_full_hex(id_like) {
            let id = format!("sha256:{id_like}");
            return entries
                .into_iter()
                .find(|e| e.id == id)
                .map(|entry| Found {
                    entry,
                    reference: None,
                })
                .ok_or_else(not_found);
        }
        let parsed = if s.starts_with("sha256:") {
            None
        } else {
            Some(Reference::parse(s))
        };
        if let Some(Ok(r)) = &parsed {
            let r = r.clone().with_default_tag();
            let hit = entries.iter().find(|e| match &r.digest {
                None => e.records.iter().any(|rec| rec.name == r.to_string()),
                Some(d) => {
                    e.records.iter().any(|rec| rec.name == r.to_string())
                        || (e.id == *d || e.records.iter().any(|rec| rec.target.digest == *d))
                            && e.records.iter().any(|rec| {
                                Reference::parse(&rec.name).is_ok_and(|x| x.name() == r.name())
                            })
                }
            });
            if let Some(entry) = hit {
                return Ok(Found {
                    entry: entry.clone(),
                    reference: Some(r),
                });
            }
        }
        if reference::is_hex(id_like) {
            let mut hits = entries
                .into_iter()
                .filter(|e| e.id["sha256:".len()..].starts_with(id_like));
            if let (Some(entry), None) = (hits.next(), hits.next()) {
                return Ok(Found {
                    entry,
                    reference: None,
                });
            }
            return Err(not_found());
        }
        match parsed {
            Some(Err(e)) => Err(e.into()),
            _ => Err(not_found()),
        }
    }

    /// Points tag `r` at `target`. Returns the ID of the image the tag was
    /// taken from, if it moved; that image keeps a dangling record when
    /// this was its last name. Caller holds the write lock.
    pub(super) async fn set_tag(
        &self,
        r: &Reference,
        target: &Descriptor,
    ) -> Result<Option<String>, ImageError> {
        let name = r.to_string();
        let old = self.runtime().get_image(&name).await?;
        self.runtime()
            .put_image(&name, target, HashMap::new())
            .await?;
        self.runtime()
            .delete_image(&dangling_name(&target.digest), false)
            .await?;
        let Some(old) = old else { return Ok(None) };
        if old.target.digest == target.digest {
            return Ok(None);
        }
        let old_id = self
            .read_target(&old.target)
            .await
            .ok()
            .map(|(_, m, _)| m.config.digest);
        let still_named = self
            .runtime()
            .list_images()
            .await?
            .iter()
            .any(|rec| rec.target.digest == old.target.digest);
        if !still_named {
            self.runtime()
                .put_image(
                    &dangling_name(&old.target.digest),
                    &old.target,
                    HashMap::new(),
                )
                .await?;
        }
        Ok(old_id)
    }

    /// Gives an image with no record at all a dangling one, so it lists
    /// as `<none>:<none>` (loads and imports of untagged images).
    pub(super) async fn ensure_named(&self, target: &Descriptor) -> Result<(), ImageError> {
        let named = self
            .runtime()
            .list_images()
            .await?
            .iter()
            .any(|rec| rec.target.digest == target.digest);
        if !named {
            self.runtime()
                .put_image(&dangling_name(&target.digest), target, HashMap::new())
                .await?;
        }
        Ok(())
    }

    /// Writes an OCI manifest for `config` and `layers` with the GC labels
    /// that keep them alive, and returns its descriptor.
    pub(super) async fn write_manifest(
        &self,
        lease: &Lease,
        config: &Descriptor,
        layers: &[Descriptor],
    ) -> Result<Descriptor, ImageError> {
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MT_OCI_MANIFEST.to_owned()),
            config: config.clone(),
            layers: layers.to_vec(),
            annotations: HashMap::new(),
        };
        let raw = serde_json::to_vec(&manifest)
            .map_err(|e| ImageError::Invalid(format!("manifest: {e}")))?;
        let desc = Descriptor {
            media_type: oci::MT_OCI_MANIFEST.to_owned(),
            digest: oci::sha256_digest(&raw),
            size: raw.len() as i64,
            annotations: HashMap::new(),
        };
        let mut labels = HashMap::new();
        labels.insert(oci::LABEL_REF_CONFIG.to_owned(), config.digest.clone());
        for (i, l) in layers.iter().enumerate() {
            labels.insert(format!("{}{i}", oci::LABEL_REF_LAYER), l.digest.clone());
        }
        self.runtime()
            .write_blob(
                &lease.id,
                &desc.digest,
                desc.size,
                labels,
                std::io::Cursor::new(raw),
            )
            .await?;
        Ok(desc)
    }

    /// Writes a config blob, labelled with its unpacked chain so the
    /// snapshots live as long as the config does.
    pub(super) async fn write_config(
        &self,
        lease: &Lease,
        raw: Vec<u8>,
    ) -> Result<(Descriptor, ImageConfigFile), ImageError> {
        let config: ImageConfigFile = serde_json::from_slice(&raw)
            .map_err(|e| ImageError::Invalid(format!("invalid image config: {e}")))?;
        let desc = Descriptor {
            media_type: oci::MT_OCI_CONFIG.to_owned(),
            digest: oci::sha256_digest(&raw),
            size: raw.len() as i64,
            annotations: HashMap::new(),
        };
        let mut labels = HashMap::new();
        if let Some(top) = oci::chain_ids(&config.rootfs.diff_ids).last() {
            labels.insert(oci::LABEL_REF_SNAPSHOT.to_owned(), top.clone());
        }
        self.runtime()
            .write_blob(
                &lease.id,
                &desc.digest,
                desc.size,
                labels,
                std::io::Cursor::new(raw),
            )
            .await?;
        Ok((desc, config))
    }
}

/// This host's architecture in OCI terms.
pub(super) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The index entry for linux on this host's architecture; an entry with
/// no platform matches anything.
pub(super) fn pick_platform(index: &oci::Index) -> Option<&oci::IndexEntry> {
    index
        .manifests
        .iter()
        .filter(|m| {
            oci::is_manifest(&m.descriptor.media_type) || oci::is_index(&m.descriptor.media_type)
        })
        .find(|m| match &m.platform {
            None => true,
            Some(p) => p.os == "linux" && p.architecture == host_arch(),
        })
}
