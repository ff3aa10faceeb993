//! `docker save`: a streamed tar that both docker-save loaders
//! (`manifest.json`, `repositories`) and OCI-layout loaders (`index.json`,
//! `oci-layout`) accept, as Docker ≥ 25 writes it.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::json;
use shoal_api::stream::ByteStream;
use tokio::sync::mpsc;

use super::oci;
use super::reference::Reference;
use super::store::ImageEntry;
use super::{ImageError, ImageService};
use crate::runtime::Descriptor;

/// One image to save and the tags to record for it.
#[derive(Debug)]
struct SaveItem {
    entry: ImageEntry,
    tags: Vec<Reference>,
}

impl ImageService {
    /// Streams a tar of the named images. Every name is resolved before
    /// the first byte, so a missing image is a NotFound error, not a
    /// truncated archive; a failure later ends the stream with an error.
    /// A name without tag saves every tag of that repository; an ID saves
    /// the image untagged (as dockerd does).
    #[tracing::instrument(skip_all)]
    pub async fn save(&self, names: &[String]) -> Result<ByteStream, ImageError> {
        let mut items: Vec<SaveItem> = Vec::new();
        for name in names {
            let found = self.find(name).await?;
            let tags: Vec<Reference> = match &found.reference {
                None => Vec::new(),
                Some(r) => {
                    let given = Reference::parse(name).ok();
                    let name_only = given
                        .as_ref()
                        .is_some_and(|g| g.tag.is_none() && g.digest.is_none());
                    found
                        .entry
                        .tags()
                        .into_iter()
                        .filter(|t| {
                            if name_only {
                                t.name() == r.name()
                            } else {
                                t == r
                            }
                        })
                        .collect()
                }
            };
            match items.iter_mut().find(|i| i.entry.id == found.entry.id) {
                Some(item) => {
                    for t in tags {
                        if !item.tags.contains(&t) {
                            item.tags.push(t);
                        }
                    }
                }
                None => items.push(SaveItem {
                    entry: found.entry,
                    tags,
                }),
            }
        }
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
        let svc = self.clone();
        tokio::spawn(async move {
            if let Err(e) = svc.write_save_tar(&items, &tx).await {
                tracing::warn!(error = %e, "docker save stream failed");
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx).boxed())
    }

    async fn write_save_tar(
        &self,
        items: &[SaveItem],
        tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> Result<(), ImageError> {
        let send = |b: Bytes| async move {
            tx.send(Ok(b))
                .await
                .map_err(|_| ImageError::Invalid("client went away".to_owned()))
        };
        send(dir_header("blobs/")).await?;
        send(dir_header("blobs/sha256/")).await?;
        let mut written: Vec<String> = Vec::new();
        let mut manifest_json = Vec::new();
        let mut index_entries = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for item in items {
            let e = &item.entry;
            let mut blobs: Vec<&Descriptor> = e.layers.iter().collect();
            blobs.push(&e.config_desc);
            blobs.push(&e.manifest);
            for d in blobs {
                if written.contains(&d.digest) {
                    continue;
                }
                self.send_blob(d, tx).await?;
                written.push(d.digest.clone());
            }
            let layer_paths: Vec<String> = e.layers.iter().map(|l| blob_path(&l.digest)).collect();
            manifest_json.push(json!({
                "Config": blob_path(&e.config_desc.digest),
                "RepoTags": if item.tags.is_empty() {
                    serde_json::Value::Null
                } else {
                    json!(item.tags.iter().map(Reference::familiar).collect::<Vec<_>>())
                },
                "Layers": layer_paths,
            }));
            let top_layer = e
                .layers
                .last()
                .map(|l| l.digest.trim_start_matches("sha256:").to_owned())
                .unwrap_or_default();
            let mut entry_desc = |ann: HashMap<String, String>| {
                index_entries.push(json!({
                    "mediaType": e.manifest.media_type,
                    "digest": e.manifest.digest,
                    "size": e.manifest.size,
                    "annotations": ann,
                }));
            };
            if item.tags.is_empty() {
                entry_desc(HashMap::new());
            }
            for t in &item.tags {
                let mut ann = HashMap::new();
                ann.insert(oci::ANN_CONTAINERD_NAME.to_owned(), t.to_string());
                ann.insert(
                    oci::ANN_REF_NAME.to_owned(),
                    t.tag.clone().unwrap_or_default(),
                );
                entry_desc(ann);
                repositories
                    .entry(t.familiar_name())
                    .or_default()
                    .insert(t.tag.clone().unwrap_or_default(), top_layer.clone());
            }
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": oci::MT_OCI_INDEX,
            "manifests": index_entries,
        });
        let files: Vec<(&str, Vec<u8>)> = vec![
            ("index.json", to_json(&index)?),
            (
                "manifest.json",
                to_json(&serde_json::Value::Array(manifest_json))?,
            ),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            ("repositories", to_json(&repositories)?),
        ];
        for (name, data) in files {
            if name == "repositories" && repositories.is_empty() {
                continue;
            }
            send(file_header(name, data.len() as u64)).await?;
            let pad = padding(data.len() as u64);
            send(Bytes::from(data)).await?;
            send(pad).await?;
        }
        // End of archive: two zero blocks.
        send(Bytes::from(vec![0u8; 1024])).await?;
        Ok(())
    }

    async fn send_blob(
        &self,
        d: &Descriptor,
        tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> Result<(), ImageError> {
        let size = u64::try_from(d.size)
            .map_err(|_| ImageError::Invalid(format!("blob {} has a negative size", d.digest)))?;
        let gone = || ImageError::Invalid("client went away".to_owned());
        tx.send(Ok(file_header(&blob_path(&d.digest), size)))
            .await
            .map_err(|_| gone())?;
        let mut stream = Box::pin(self.runtime().read_stream(&d.digest).await?);
        let mut sent: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            sent += chunk.len() as u64;
            if sent > size {
                break;
            }
            tx.send(Ok(chunk)).await.map_err(|_| gone())?;
        }
        if sent != size {
            return Err(ImageError::Invalid(format!(
                "blob {} is {sent} bytes, expected {size}",
                d.digest
            )));
        }
        tx.send(Ok(padding(size))).await.map_err(|_| gone())?;
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(v).map_err(|e| ImageError::Invalid(format!("encode: {e}")))
}

/// `blobs/sha256/<hex>` for a digest.
fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

fn file_header(path: &str, size: u64) -> Bytes {
    header(path, size, tar::EntryType::Regular, 0o644)
}

fn dir_header(path: &str) -> Bytes {
    header(path, 0, tar::EntryType::Directory, 0o755)
}

fn header(path: &str, size: u64, kind: tar::EntryType, mode: u32) -> Bytes {
    let mut h = tar::Header::new_ustar();
    // Paths here are ASCII and under 100 bytes (blobs/sha256/<64 hex>).
    if let Err(e) = h.set_path(path) {
        tracing::error!(path, error = %e, "tar path rejected");
    }
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    Bytes::copy_from_slice(h.as_bytes())
}

/// Zero bytes that pad `size` up to the next 512-byte block.
fn padding(size: u64) -> Bytes {
    let rem = (size % 512) as usize;
    Bytes::from(vec![0u8; if rem == 0 { 0 } else { 512 - rem }])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_blocks() {
        assert_eq!(file_header("manifest.json", 10).len(), 512);
        assert_eq!(padding(10).len(), 502);
        assert_eq!(padding(512).len(), 0);
        assert_eq!(blob_path("sha256:ab"), "blobs/sha256/ab");
    }
}
