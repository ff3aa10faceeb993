//! `docker image prune`.

use std::collections::BTreeMap;

use super::filters::ImageFilter;
use super::remove::DeleteItem;
use super::{ImageError, ImageService};

/// What a prune removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Untagged and Deleted lines.
    pub deleted: Vec<DeleteItem>,
    /// Bytes freed (disk use of the snapshots that went).
    pub space_reclaimed: i64,
}

impl ImageService {
    /// Removes dangling images not used by any container; with
    /// `dangling=false`, every unused image. Filters: dangling, until,
    /// label, label!. Errors: Invalid for a bad filter.
    #[tracing::instrument(skip_all)]
    pub async fn prune(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<PruneReport, ImageError> {
        let now = chrono::Utc::now().timestamp();
        let f = ImageFilter::parse(filters, &["dangling", "until", "label", "label!"], now)?;
        let dangling_only = f.dangling.unwrap_or(true);
        let _guard = self.inner.write_lock.lock().await;
        let mut report = PruneReport::default();
        for entry in self.entries().await? {
            if dangling_only && !entry.is_dangling() {
                continue;
            }
            if f.until.is_some_and(|u| entry.created() >= u) || !f.labels_match(&entry.labels()) {
                continue;
            }
            let used = self
                .usage()
                .is_some_and(|u| !u.containers_using(&entry.id).is_empty());
            if used {
                continue;
            }
            for t in entry.tags() {
                self.event("untag", &entry.id, &entry.id);
                report.deleted.push(DeleteItem::Untagged(t.familiar()));
            }
            let (items, reclaimed) = self.delete_entry(&entry).await?;
            report.deleted.extend(items);
            report.space_reclaimed += reclaimed;
        }
        // dockerd logs one prune event carrying the bytes reclaimed.
        let mut attrs = std::collections::HashMap::new();
        attrs.insert("reclaimed".to_owned(), report.space_reclaimed.to_string());
        self.inner.events.publish(
            shoal_api::models::EventMessageTypeEnum::IMAGE,
            "prune",
            "",
            attrs,
        );
        Ok(report)
    }
}
