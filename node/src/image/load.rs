//! `docker load`: docker-save and OCI-layout archives into the store.

use std::collections::HashMap;

use shoal_api::stream::ByteStream;

use super::archive::{self, ArchiveImage, ScratchDir, io_err};
use super::store::Lease;
use super::{ImageError, ImageService};
use crate::runtime::Descriptor;

/// The lines `docker load` prints (each `{"stream": line}` on the wire).
pub type LoadOutput = Vec<String>;

/// An image whose blobs are written and unpacked, waiting for its names.
struct Written {
    id: String,
    manifest: Descriptor,
    names: Vec<super::Reference>,
}

impl ImageService {
    /// Loads every image in a docker-save or OCI-layout tar (optionally
    /// gzip-compressed). Nothing is named until every image's content is
    /// written and unpacked; on failure the lease is dropped with a
    /// synchronous GC so no partial content stays behind. Errors: Invalid
    /// for a malformed archive, Runtime/Io otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn load(&self, body: ByteStream) -> Result<LoadOutput, ImageError> {
        let tmp = self.tmp_dir();
        tokio::fs::create_dir_all(&tmp)
            .await
            .map_err(|e| io_err(format!("create {}", tmp.display()), e))?;
        let scratch = ScratchDir::new(&tmp, "load").await?;
        let tar = scratch.0.join("archive.tar");
        archive::spool(body, &tar).await?;
        let root = scratch.0.join("root");
        let images = tokio::task::spawn_blocking(move || {
            std::fs::create_dir(&root)
                .map_err(|e| io_err(format!("create {}", root.display()), e))?;
            archive::extract(&tar, &root)?;
            // The extracted copy is all we need now; halve the disk use.
            let _ = std::fs::remove_file(&tar);
            archive::parse(&root)
        })
        .await
        .map_err(|e| io_err("load worker".to_owned(), std::io::Error::other(e)))??;
        if images.is_empty() {
            return Err(ImageError::Invalid(
                "invalid archive: it contains no images".to_owned(),
            ));
        }

        let _guard = self.inner.write_lock.lock().await;
        let lease = self.lease("load").await?;
        let mut written = Vec::new();
        for img in images {
            match self.write_archive_image(&lease, img).await {
                Ok(w) => written.push(w),
                Err(e) => {
                    lease.release(true).await;
                    return Err(e);
                }
            }
        }
        let result = self.name_loaded(written).await;
        lease.release(result.is_err()).await;
        drop(scratch);
        result
    }

    async fn write_archive_image(
        &self,
        lease: &Lease,
        img: ArchiveImage,
    ) -> Result<Written, ImageError> {
        let mut layers = Vec::with_capacity(img.layers.len());
        for l in img.layers {
            let file = tokio::fs::File::open(&l.path)
                .await
                .map_err(|e| io_err(format!("open {}", l.path.display()), e))?;
            self.runtime()
                .write_blob(&lease.id, &l.desc.digest, l.desc.size, HashMap::new(), file)
                .await
                .map_err(|e| {
                    ImageError::Invalid(format!("invalid archive: layer {}: {e}", l.desc.digest))
                })?;
            layers.push(l.desc);
        }
        let (config_desc, config) = self.write_config(lease, img.config_raw).await?;
        let manifest = self.write_manifest(lease, &config_desc, &layers).await?;
        self.unpack(lease, &layers, &config).await?;
        Ok(Written {
            id: config_desc.digest,
            manifest,
            names: img.names,
        })
    }

    async fn name_loaded(&self, written: Vec<Written>) -> Result<LoadOutput, ImageError> {
        let mut lines = Vec::new();
        for w in written {
            if w.names.is_empty() {
                self.ensure_named(&w.manifest).await?;
                lines.push(format!("Loaded image ID: {}\n", w.id));
            }
            for name in &w.names {
                if let Some(old) = self.set_tag(name, &w.manifest).await?
                    && old != w.id
                {
                    {
                        // dockerd's wording when a load takes a tag over.
                        lines.push(format!(
                            "The image {} already exists, renaming the old one with ID {old} to empty string\n",
                            name.familiar()
                        ));
                    }
                }
                lines.push(format!("Loaded image: {}\n", name.familiar()));
            }
            self.event("load", &w.id, &w.id);
        }
        Ok(lines)
    }
}
