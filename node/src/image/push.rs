//! `docker push`: an image's blobs and manifest to its registry.
//!
//! Each blob is skipped when the registry has it, mounted from another
//! repository of the same registry when containerd's distribution-source
//! label says one holds it, and otherwise streamed from the content store
//! (never whole in memory). The manifest goes up byte for byte as stored,
//! so the digest the registry reports is the one RepoDigests shows.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::Semaphore;

use super::progress::{Progress, short_digest};
use super::pull::LABEL_SOURCE_PREFIX;
use super::store::ImageEntry;
use super::{ImageError, ImageService, Reference};
use crate::registry::{Action, BlobBody, Credentials, Session};
use crate::runtime::Descriptor;

/// Manifests larger than this are refused as corrupt.
const MAX_MANIFEST: usize = 8 << 20;

/// A push whose images are known, ready to run.
#[derive(Debug)]
pub struct PreparedPush {
    repo: Reference,
    tags: Vec<(Reference, ImageEntry)>,
    credentials: Option<Credentials>,
}

impl ImageService {
    /// Finds what `docker push name[:tag]` sends: that tag, or every tag of
    /// the repository when none is given. NotFound (dockerd's wording) when
    /// there is none.
    pub async fn prepare_push(
        &self,
        name: &str,
        tag: Option<&str>,
        credentials: Option<Credentials>,
    ) -> Result<PreparedPush, ImageError> {
        let mut repo = Reference::parse(name)?;
        if let Some(t) = tag {
            repo.tag = Some(t.to_owned());
        }
        let entries = self.entries().await?;
        let mut tags = Vec::new();
        for e in entries {
            for t in e.tags() {
                let wanted = match &repo.tag {
                    Some(_) => t == repo,
                    None => t.name() == repo.name(),
                };
                if wanted {
                    tags.push((t, e.clone()));
                }
            }
        }
        if tags.is_empty() {
            return Err(ImageError::Absent(format!(
                "An image does not exist locally with the tag: {}",
                repo.familiar_name()
            )));
        }
        tags.sort_by_key(|(t, _)| t.to_string());
        Ok(PreparedPush {
            repo,
            tags,
            credentials,
        })
    }

    /// Pushes a prepared push, reporting as dockerd does (`Preparing`,
    /// `Pushing`, `Pushed`, `Layer already exists`, `Mounted from`, then
    /// `<tag>: digest: ... size: ...` and an `aux` message per tag).
    #[tracing::instrument(skip_all, fields(image.ref = %p.repo))]
    pub async fn run_push(&self, p: PreparedPush, progress: &Progress) -> Result<(), ImageError> {
        progress
            .status(format!("The push refers to repository [{}]", p.repo.name()))
            .await;
        let host = p.repo.domain.clone();
        let source_label = format!("{LABEL_SOURCE_PREFIX}{host}");
        // Repositories on this registry that hold some of our blobs: the
        // session asks for pull rights on them so blobs can be mounted.
        let mut sources: HashMap<String, Vec<String>> = HashMap::new();
        for (_, e) in &p.tags {
            for l in e.layers.iter().chain(std::iter::once(&e.config_desc)) {
                if let Some(info) = self.runtime().content_info(&l.digest).await?
                    && let Some(repos) = info.labels.get(&source_label)
                {
                    sources.insert(
                        l.digest.clone(),
                        repos
                            .split(',')
                            .filter(|r| !r.is_empty() && *r != p.repo.path)
                            .map(str::to_owned)
                            .collect(),
                    );
                }
            }
        }
        let mut extra: Vec<String> = sources.values().flatten().cloned().collect();
        extra.sort();
        extra.dedup();
        extra.truncate(8);
        let session = Arc::new(
            self.registries()
                .open(
                    &host,
                    &p.repo.path,
                    p.credentials.as_ref(),
                    &[Action::Pull, Action::Push],
                    &extra,
                )
                .await?,
        );
        let sources = Arc::new(sources);
        for (tag, entry) in &p.tags {
            self.push_one(&session, &sources, tag, entry, progress)
                .await?;
        }
        Ok(())
    }

    async fn push_one(
        &self,
        session: &Arc<Session>,
        sources: &Arc<HashMap<String, Vec<String>>>,
        tag: &Reference,
        entry: &ImageEntry,
        progress: &Progress,
    ) -> Result<(), ImageError> {
        // dockerd lists layers top first.
        for l in entry.layers.iter().rev() {
            progress.layer(&short_digest(&l.digest), "Preparing").await;
        }
        let sem = Arc::new(Semaphore::new(
            self.registries().config().max_concurrent_uploads,
        ));
        let mut tasks = Vec::new();
        for l in entry.layers.iter().rev() {
            let svc = self.clone();
            let session = session.clone();
            let sources = sources.clone();
            let progress = progress.clone();
            let layer = l.clone();
            let sem = sem.clone();
            tasks.push(tokio::spawn(async move {
                if sem.available_permits() == 0 {
                    progress
                        .layer(&short_digest(&layer.digest), "Waiting")
                        .await;
                }
                let _permit = sem
                    .acquire_owned()
                    .await
                    .map_err(|_| ImageError::Invalid("push cancelled".to_owned()))?;
                svc.push_blob(&session, &sources, &layer, Some(&progress))
                    .await
            }));
        }
        let mut first_err = None;
        for t in tasks {
            let r = match t.await {
                Ok(r) => r,
                Err(e) => Err(ImageError::Invalid(format!("layer upload task: {e}"))),
            };
            if let Err(e) = r
                && first_err.is_none()
            {
                first_err = Some(e);
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        self.push_blob(session, sources, &entry.config_desc, None)
            .await?;
        let raw = self
            .runtime()
            .read_blob(&entry.manifest.digest, MAX_MANIFEST)
            .await?;
        let media_type = serde_json::from_slice::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| {
                v.get("mediaType")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| entry.manifest.media_type.clone());
        let size = raw.len();
        let tag_text = tag.tag.clone().unwrap_or_else(|| "latest".to_owned());
        let digest = session
            .put_manifest(&tag_text, &media_type, Bytes::from(raw))
            .await?;
        // RepoDigests: the registry now names this image by that digest.
        let digest_ref = Reference {
            tag: None,
            digest: Some(digest.clone()),
            ..tag.clone()
        };
        self.runtime()
            .put_image(&digest_ref.to_string(), &entry.manifest, HashMap::new())
            .await?;
        progress
            .status(format!("{tag_text}: digest: {digest} size: {size}"))
            .await;
        progress
            .send(serde_json::json!({
                "progressDetail": {},
                "aux": { "Tag": tag_text, "Digest": digest, "Size": size },
            }))
            .await;
        self.event("push", &tag.to_string(), &tag.to_string());
        Ok(())
    }

    /// Makes sure the registry has blob `desc`: skipped when present,
    /// mounted when a sibling repository has it, uploaded otherwise.
    /// `progress` is None for the config blob (dockerd shows no line).
    async fn push_blob(
        &self,
        session: &Session,
        sources: &HashMap<String, Vec<String>>,
        desc: &Descriptor,
        progress: Option<&Progress>,
    ) -> Result<(), ImageError> {
        let id = short_digest(&desc.digest);
        let say = |s: String| async move {
            if let Some(p) = progress {
                p.layer(&id, &s).await;
            }
        };
        if session.blob_exists(&desc.digest).await? {
            say("Layer already exists".to_owned()).await;
            return Ok(());
        }
        for from in sources.get(&desc.digest).into_iter().flatten() {
            if session.mount(&desc.digest, from).await? {
                say(format!("Mounted from {from}")).await;
                return Ok(());
            }
        }
        let stream = self.runtime().read_stream(&desc.digest).await?;
        let meter = progress.map(|p| p.meter(&short_digest(&desc.digest), "Pushing", desc.size));
        let mut sent = 0u64;
        let body = stream.map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            sent += chunk.len() as u64;
            if let Some(m) = &meter {
                m.update(sent);
            }
            Ok::<_, std::io::Error>(chunk)
        });
        session
            .upload(&desc.digest, desc.size, BlobBody::wrap_stream(body))
            .await?;
        say("Pushed".to_owned()).await;
        Ok(())
    }
}
