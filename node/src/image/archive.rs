//! Reading image archives from disk: spooling the request body, extracting
//! the tar safely, and finding images in docker-save (`manifest.json`,
//! old `<id>/layer.tar` or newer `blobs/sha256/…`) or OCI-layout
//! (`index.json`) form.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shoal_api::stream::ByteStream;
use tokio::io::AsyncWriteExt;

use super::ImageError;
use super::oci::{self, Index, Manifest};
use super::reference::Reference;
use super::store::pick_platform;
use crate::runtime::Descriptor;

/// A scratch directory removed when dropped.
#[derive(Debug)]
pub(super) struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// Creates `parent/<prefix>-<random>`.
    pub async fn new(parent: &Path, prefix: &str) -> Result<ScratchDir, ImageError> {
        let path = parent.join(format!("{prefix}-{:016x}", rand::random::<u64>()));
        tokio::fs::create_dir_all(&path)
            .await
            .map_err(|e| io_err(format!("create {}", path.display()), e))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(path = %self.0.display(), error = %e, "scratch dir not removed");
        }
    }
}

pub(super) fn io_err(context: String, source: std::io::Error) -> ImageError {
    ImageError::Io { context, source }
}

/// Writes the request body to `path`, so huge archives never sit in memory.
pub(super) async fn spool(mut body: ByteStream, path: &Path) -> Result<(), ImageError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| io_err(format!("create {}", path.display()), e))?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| io_err("read request body".to_owned(), e))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| io_err(format!("write {}", path.display()), e))?;
    }
    file.flush()
        .await
        .map_err(|e| io_err(format!("write {}", path.display()), e))?;
    Ok(())
}

/// True when the file starts with the gzip magic.
pub(super) fn is_gzip(path: &Path) -> Result<bool, ImageError> {
    let mut f = File::open(path).map_err(|e| io_err(format!("open {}", path.display()), e))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match f.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(io_err(format!("read {}", path.display()), e)),
        }
    }
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// Extracts a (possibly gzip-compressed) tar into `dest`; only files,
/// directories and links, never outside `dest`. Blocking.
pub(super) fn extract(tar_path: &Path, dest: &Path) -> Result<(), ImageError> {
    let file =
        File::open(tar_path).map_err(|e| io_err(format!("open {}", tar_path.display()), e))?;
    let reader: Box<dyn Read> = if is_gzip(tar_path)? {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    let entries = archive.entries().map_err(bad_tar)?;
    let mut count = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(bad_tar)?;
        use tar::EntryType::*;
        match entry.header().entry_type() {
            Regular | Directory | Symlink | Link | Continuous => {}
            _ => continue,
        }
        entry.unpack_in(dest).map_err(bad_tar)?;
        count += 1;
    }
    if count == 0 {
        return Err(ImageError::Invalid(
            "invalid archive: empty or not a tar file".to_owned(),
        ));
    }
    Ok(())
}

fn bad_tar(e: std::io::Error) -> ImageError {
    ImageError::Invalid(format!("invalid archive: {e}"))
}

/// A layer file found in an archive.
#[derive(Debug, Clone)]
pub(super) struct LayerFile {
    pub path: PathBuf,
    pub desc: Descriptor,
}

/// One image found in an archive.
#[derive(Debug, Clone)]
pub(super) struct ArchiveImage {
    pub config_raw: Vec<u8>,
    pub layers: Vec<LayerFile>,
    pub names: Vec<Reference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// Finds the images in an extracted archive. Blocking (hashes layers).
pub(super) fn parse(root: &Path) -> Result<Vec<ArchiveImage>, ImageError> {
    if root.join("manifest.json").exists() {
        parse_docker_save(root)
    } else if root.join("index.json").exists() {
        parse_oci(root)
    } else {
        Err(ImageError::Invalid(
            "invalid archive: no manifest.json (docker save) or index.json (OCI layout) found"
                .to_owned(),
        ))
    }
}

fn parse_docker_save(root: &Path) -> Result<Vec<ArchiveImage>, ImageError> {
    let raw = read_small(root, "manifest.json")?;
    let entries: Vec<SaveManifestEntry> = serde_json::from_slice(&raw)
        .map_err(|e| ImageError::Invalid(format!("invalid archive: manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let config_raw = read_small(root, &e.config)?;
        let mut layers = Vec::new();
        for l in &e.layers {
            let path = safe_path(root, l)?;
            layers.push(LayerFile {
                desc: describe_layer(&path)?,
                path,
            });
        }
        let names = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| {
                Reference::parse(t)
                    .map(Reference::with_default_tag)
                    .map_err(|err| ImageError::Invalid(format!("invalid tag {t:?}: {err}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(ArchiveImage {
            config_raw,
            layers,
            names,
        });
    }
    Ok(out)
}

fn parse_oci(root: &Path) -> Result<Vec<ArchiveImage>, ImageError> {
    let index: Index = json(&read_small(root, "index.json")?, "index.json")?;
    // Several index entries may name one manifest (one per tag).
    let mut by_manifest: Vec<(String, ArchiveImage)> = Vec::new();
    for entry in &index.manifests {
        let names = entry_names(&entry.descriptor.annotations);
        let mut desc = entry.descriptor.clone();
        // Nested indexes: pick this platform's manifest.
        for _ in 0..4 {
            if !oci::is_index(&desc.media_type) {
                break;
            }
            let nested: Index = json(&read_blob(root, &desc.digest)?, &desc.digest)?;
            desc = pick_platform(&nested)
                .ok_or_else(|| {
                    ImageError::Invalid(format!(
                        "invalid archive: no manifest for this platform in {}",
                        desc.digest
                    ))
                })?
                .descriptor
                .clone();
        }
        if let Some((_, img)) = by_manifest.iter_mut().find(|(d, _)| *d == desc.digest) {
            img.names.extend(names);
            continue;
        }
        let manifest: Manifest = json(&read_blob(root, &desc.digest)?, &desc.digest)?;
        let config_raw = read_blob(root, &manifest.config.digest)?;
        let layers = manifest
            .layers
            .iter()
            .map(|l| {
                Ok(LayerFile {
                    path: blob_path(root, &l.digest)?,
                    desc: Descriptor {
                        annotations: HashMap::new(),
                        ..l.clone()
                    },
                })
            })
            .collect::<Result<Vec<_>, ImageError>>()?;
        by_manifest.push((
            desc.digest.clone(),
            ArchiveImage {
                config_raw,
                layers,
                names,
            },
        ));
    }
    Ok(by_manifest.into_iter().map(|(_, i)| i).collect())
}

/// Names an OCI index entry carries: containerd's full-name annotation,
/// else a `ref.name` that is a full reference (a bare tag names nothing).
fn entry_names(ann: &HashMap<String, String>) -> Vec<Reference> {
    let candidate = ann.get(oci::ANN_CONTAINERD_NAME).or_else(|| {
        ann.get(oci::ANN_REF_NAME)
            .filter(|r| r.contains('/') || r.contains(':'))
    });
    candidate
        .and_then(|n| Reference::parse(n).ok())
        .filter(|r| r.digest.is_none())
        .map(|r| vec![r.with_default_tag()])
        .unwrap_or_default()
}

fn json<T: serde::de::DeserializeOwned>(raw: &[u8], what: &str) -> Result<T, ImageError> {
    serde_json::from_slice(raw)
        .map_err(|e| ImageError::Invalid(format!("invalid archive: {what}: {e}")))
}

fn blob_path(root: &Path, digest: &str) -> Result<PathBuf, ImageError> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| ImageError::Invalid(format!("invalid archive: bad digest {digest:?}")))?;
    safe_path(root, &format!("blobs/{alg}/{hex}"))
}

fn read_blob(root: &Path, digest: &str) -> Result<Vec<u8>, ImageError> {
    let path = blob_path(root, digest)?;
    read_limited(&path)
}

fn read_small(root: &Path, rel: &str) -> Result<Vec<u8>, ImageError> {
    read_limited(&safe_path(root, rel)?)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, ImageError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        ImageError::Invalid(format!("invalid archive: {}: {e}", display_tail(path)))
    })?;
    if meta.len() > 16 << 20 {
        return Err(ImageError::Invalid(format!(
            "invalid archive: {} is too large for a JSON file",
            display_tail(path)
        )));
    }
    std::fs::read(path).map_err(|e| io_err(format!("read {}", path.display()), e))
}

fn display_tail(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Joins an archive-relative path under `root`, refusing anything (links
/// included) that resolves outside it.
pub(super) fn safe_path(root: &Path, rel: &str) -> Result<PathBuf, ImageError> {
    let bad = || ImageError::Invalid(format!("invalid archive: bad path {rel:?}"));
    let rel_path = Path::new(rel);
    if rel_path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(bad());
    }
    let joined = root.join(rel_path);
    let canon = joined
        .canonicalize()
        .map_err(|e| ImageError::Invalid(format!("invalid archive: {rel}: {e}")))?;
    let root_canon = root
        .canonicalize()
        .map_err(|e| io_err(format!("resolve {}", root.display()), e))?;
    if !canon.starts_with(&root_canon) {
        return Err(bad());
    }
    Ok(canon)
}

/// Digest, size and media type of a docker-save layer file.
fn describe_layer(path: &Path) -> Result<Descriptor, ImageError> {
    let gz = is_gzip(path)?;
    let mut f = File::open(path).map_err(|e| io_err(format!("open {}", path.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size: i64 = 0;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| io_err(format!("read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as i64;
    }
    Ok(Descriptor {
        media_type: if gz {
            oci::MT_OCI_LAYER_GZIP
        } else {
            oci::MT_OCI_LAYER
        }
        .to_owned(),
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        size,
        annotations: HashMap::new(),
    })
}
