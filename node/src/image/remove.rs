//! `docker rmi`: untag, and delete once the last name is gone, with
//! dockerd's conflict rules.

use super::store::{Found, ImageEntry};
use super::{ImageError, ImageService};

/// One line of `docker rmi` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteItem {
    /// `Untagged: busybox:latest`.
    Untagged(String),
    /// `Deleted: sha256:…` (the image, then the layers that went with it).
    Deleted(String),
}

/// `sha256:abcdef…` → `abcdef123456` (Docker's short ID).
pub(super) fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

impl ImageService {
    /// Removes `name` as dockerd's `ImageDelete` does. By name: untags it,
    /// and deletes the image when it was the last name. By ID: deletes the
    /// image with all its tags. Errors: NotFound; Conflict when a
    /// container uses it (running: even with `force`) or an ID has several
    /// tags and `force` is false.
    #[tracing::instrument(skip_all, fields(image.ref = %name))]
    pub async fn remove(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>, ImageError> {
        let _guard = self.inner.write_lock.lock().await;
        let Found { entry, reference } = self.find(name).await?;
        let using = self
            .usage()
            .map(|u| u.containers_using(&entry.id))
            .unwrap_or_default();
        let running = self
            .usage()
            .map(|u| u.running_containers_using(&entry.id))
            .unwrap_or_default();
        let tags = entry.tags();
        let mut items = Vec::new();

        if let Some(r) = reference {
            if !force
                && tags.len() <= 1
                && let Some(c) = using.first()
            {
                return Err(ImageError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    short_id(c),
                    short_id(&entry.id)
                )));
            }
            let removed: Vec<_> = match &r.digest {
                None => tags.iter().filter(|t| **t == r).cloned().collect(),
                // name@digest: every tag of that repository on this image.
                Some(_) => tags
                    .iter()
                    .filter(|t| t.name() == r.name())
                    .cloned()
                    .collect(),
            };
            // Last name gone while a container still needs the image: it
            // stays, dangling, as dockerd leaves it. A lease holds its
            // content from the moment the last tag goes until the dangling
            // record exists, or a concurrent GC could collect it between.
            let last_name_goes = tags.len() <= removed.len();
            let stays = last_name_goes && (!running.is_empty() || (!force && !using.is_empty()));
            let hold = if stays {
                let lease = self.lease("rmi").await?;
                if let Err(e) = self
                    .runtime()
                    .add_lease_resource(&lease.id, &entry.manifest.digest, "content")
                    .await
                {
                    lease.release(false).await;
                    return Err(e.into());
                }
                Some(lease)
            } else {
                None
            };
            let untagged = self.untag_all(&entry.id, &removed, &mut items).await;
            if let Err(e) = untagged {
                if let Some(l) = hold {
                    l.release(false).await;
                }
                return Err(e);
            }
            if !last_name_goes {
                return Ok(items);
            }
            for d in entry.digest_refs() {
                items.push(DeleteItem::Untagged(format!(
                    "{}@{}",
                    d.familiar_name(),
                    d.digest.clone().unwrap_or_default()
                )));
            }
            if let Some(lease) = hold {
                let named = self.ensure_named(&entry.manifest).await;
                lease.release(false).await;
                named?;
                return Ok(items);
            }
        } else {
            if let Some(c) = running.first() {
                return Err(conflict(
                    &entry.id,
                    true,
                    &format!("image is being used by running container {}", short_id(c)),
                ));
            }
            if !force {
                if tags.len() > 1 {
                    return Err(conflict(
                        &entry.id,
                        false,
                        "image is referenced in multiple repositories",
                    ));
                }
                if let Some(c) = using.first() {
                    return Err(conflict(
                        &entry.id,
                        false,
                        &format!("image is being used by stopped container {}", short_id(c)),
                    ));
                }
            }
            for t in &tags {
                self.event("untag", &entry.id, &entry.id);
                items.push(DeleteItem::Untagged(t.familiar()));
            }
            for d in entry.digest_refs() {
                items.push(DeleteItem::Untagged(format!(
                    "{}@{}",
                    d.familiar_name(),
                    d.digest.clone().unwrap_or_default()
                )));
            }
        }
        let (deleted, _) = self.delete_entry(&entry).await?;
        items.extend(deleted);
        Ok(items)
    }

    /// Deletes the records of `removed` (tags of image `id`), noting each
    /// in `items`.
    async fn untag_all(
        &self,
        id: &str,
        removed: &[super::reference::Reference],
        items: &mut Vec<DeleteItem>,
    ) -> Result<(), ImageError> {
        for t in removed {
            self.runtime().delete_image(&t.to_string(), false).await?;
            self.event("untag", id, id);
            items.push(DeleteItem::Untagged(t.familiar()));
        }
        Ok(())
    }

    /// Deletes every record of `entry` with a synchronous GC; returns the
    /// `Deleted` items (image, then the chains that disappeared, top
    /// first) and the bytes those chains used. Caller holds the lock.
    pub(super) async fn delete_entry(
        &self,
        entry: &ImageEntry,
    ) -> Result<(Vec<DeleteItem>, i64), ImageError> {
        let chains = entry.chain_ids();
        let mut usage = Vec::with_capacity(chains.len());
        for c in &chains {
            usage.push(self.runtime().snapshot_usage(c).await.unwrap_or(0));
        }
        let names = entry.record_names();
        for (i, n) in names.iter().enumerate() {
            self.runtime().delete_image(n, i + 1 == names.len()).await?;
        }
        let mut items = vec![DeleteItem::Deleted(entry.id.clone())];
        let mut reclaimed = 0;
        for (c, used) in chains.iter().zip(usage).rev() {
            if self.runtime().stat_snapshot(c).await?.is_none() {
                items.push(DeleteItem::Deleted(c.clone()));
                reclaimed += used;
            }
        }
        self.event("delete", &entry.id, &entry.id);
        Ok((items, reclaimed))
    }
}

fn conflict(id: &str, hard: bool, why: &str) -> ImageError {
    let force = if hard {
        "cannot be forced"
    } else {
        "must be forced"
    };
    ImageError::Conflict(format!(
        "conflict: unable to delete {} ({force}) - {why}",
        short_id(id)
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn conflict_wording_matches_dockerd() {
        let id = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            conflict(&id, false, "image is referenced in multiple repositories").to_string(),
            "conflict: unable to delete abababababab (must be forced) - image is referenced in multiple repositories"
        );
        assert!(
            conflict(&id, true, "x")
                .to_string()
                .contains("(cannot be forced)")
        );
    }
}
