//! `docker import`: a rootfs tar as a one-layer image.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use shoal_api::stream::ByteStream;

use super::archive::{self, ScratchDir, io_err};
use super::oci;
use super::store::host_arch;
use super::tag::target_reference;
use super::{ImageError, ImageService, changes};
use crate::runtime::Descriptor;

/// What `docker import` asked for.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// Repository to tag the result with (may include a tag).
    pub repo: Option<String>,
    /// Tag, when not part of `repo`.
    pub tag: Option<String>,
    /// Commit message (history comment); dockerd defaults it.
    pub message: Option<String>,
    /// Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// `os[/arch[/variant]]`; default this host.
    pub platform: Option<String>,
}

impl ImageService {
    /// Imports a (possibly gzip-compressed) rootfs tar, applying
    /// `changes`; returns the new image ID. Errors: Invalid for a bad
    /// reference, change or tar.
    #[tracing::instrument(skip_all)]
    pub async fn import(&self, body: ByteStream, req: ImportRequest) -> Result<String, ImageError> {
        let target = match req.repo.as_deref().filter(|r| !r.is_empty()) {
            Some(repo) => Some(target_reference(repo, req.tag.as_deref())?),
            None => None,
        };
        let mut config = Map::new();
        changes::apply(&mut config, &req.changes)?;
        let (os, arch, variant) = parse_platform(req.platform.as_deref())?;

        let tmp = self.tmp_dir();
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|e| io_err(format!("create {}", tmp.display()), e))?;
        let scratch = ScratchDir::new(&tmp, "import").await?;
        let raw = scratch.0.join("body");
        archive::spool(body, &raw).await?;
        let layer_path = scratch.0.join("layer.tar");
        let lp = layer_path.clone();
        let (diff_id, size) = tokio::task::spawn_blocking(move || prepare_layer(&raw, &lp))
            .await
            .map_err(|e| io_err("import worker".to_owned(), std::io::Error::other(e)))??;

        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        // dockerd's default comment for `docker import` from stdin.
        let message = req
            .message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "Imported from -".to_owned());
        let mut cfg = json!({
            "architecture": arch,
            "os": os,
            "created": created,
            "comment": message,
            "config": Value::Object(config),
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created, "comment": message}],
        });
        if let (Some(v), Some(obj)) = (variant, cfg.as_object_mut()) {
            obj.insert("variant".to_owned(), json!(v));
        }
        let config_raw = serde_json::to_vec(&cfg)
            .map_err(|e| ImageError::Invalid(format!("image config: {e}")))?;
        let layer = Descriptor {
            media_type: oci::MT_OCI_LAYER.to_owned(),
            digest: diff_id.clone(),
            size,
            annotations: HashMap::new(),
        };

        let _guard = self.inner.write_lock.lock().await;
        let lease = self.lease("import").await?;
        let result = async {
            let file = tokio::fs::File::open(&layer_path)
                .await
                .map_err(|e| io_err(format!("open {}", layer_path.display()), e))?;
            self.runtime()
                .write_blob(&lease.id, &layer.digest, layer.size, HashMap::new(), file)
                .await?;
            let (config_desc, config) = self.write_config(&lease, config_raw).await?;
            let manifest = self
                .write_manifest(&lease, &config_desc, std::slice::from_ref(&layer))
                .await?;
            self.unpack(&lease, std::slice::from_ref(&layer), &config)
                .await?;
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
        drop(scratch);
        let id = result?;
        self.event("import", &id, &id);
        Ok(id)
    }
}

/// `os/arch/variant` with this host's defaults.
fn parse_platform(p: Option<&str>) -> Result<(String, String, Option<String>), ImageError> {
    let p = p.map(str::trim).filter(|p| !p.is_empty());
    let Some(p) = p else {
        return Ok(("linux".to_owned(), host_arch().to_owned(), None));
    };
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        ["linux"] => Ok(("linux".to_owned(), host_arch().to_owned(), None)),
        ["linux", arch] => Ok(("linux".to_owned(), (*arch).to_owned(), None)),
        ["linux", arch, variant] => Ok((
            "linux".to_owned(),
            (*arch).to_owned(),
            Some((*variant).to_owned()),
        )),
        _ => Err(ImageError::Invalid(format!(
            "\"{p}\": unsupported platform (only linux images are supported)"
        ))),
    }
}

/// Writes the uncompressed layer to `out` (decompressing gzip), checks it
/// is a tar, and returns its digest and size. Blocking.
fn prepare_layer(raw: &Path, out: &Path) -> Result<(String, i64), ImageError> {
    let layer: PathBuf = if archive::is_gzip(raw)? {
        let src = File::open(raw).map_err(|e| io_err(format!("open {}", raw.display()), e))?;
        let mut gz = flate2::read::GzDecoder::new(BufReader::new(src));
        let mut dst =
            File::create(out).map_err(|e| io_err(format!("create {}", out.display()), e))?;
        std::io::copy(&mut gz, &mut dst)
            .map_err(|e| ImageError::Invalid(format!("invalid gzip stream: {e}")))?;
        dst.flush()
            .map_err(|e| io_err(format!("write {}", out.display()), e))?;
        let _ = std::fs::remove_file(raw);
        out.to_owned()
    } else {
        std::fs::rename(raw, out).map_err(|e| io_err(format!("move {}", raw.display()), e))?;
        out.to_owned()
    };
    // Walk the tar once: a clear 400 now beats a diff-apply failure later.
    let f = File::open(&layer).map_err(|e| io_err(format!("open {}", layer.display()), e))?;
    let mut ar = tar::Archive::new(BufReader::new(f));
    let entries = ar
        .entries()
        .map_err(|e| ImageError::Invalid(format!("invalid tar file: {e}")))?;
    for entry in entries {
        entry.map_err(|e| ImageError::Invalid(format!("invalid tar file: {e}")))?;
    }
    let mut f = File::open(&layer).map_err(|e| io_err(format!("open {}", layer.display()), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0i64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| io_err(format!("read {}", layer.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as i64;
    }
    if size == 0 {
        return Err(ImageError::Invalid(
            "invalid tar file: empty input".to_owned(),
        ));
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}
