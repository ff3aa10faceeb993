//! `docker images`.

use std::collections::BTreeMap;

use super::filters::ImageFilter;
use super::store::ImageEntry;
use super::{ImageError, ImageService};

impl ImageService {
    /// Images matching `filters` (dangling, reference, label, before,
    /// since), newest first. Errors: Invalid for an unknown or malformed
    /// filter, NotFound when `before`/`since` names no image.
    pub async fn list(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
    ) -> Result<Vec<ImageEntry>, ImageError> {
        self.list_images(filters, true).await
    }

    /// [`ImageService::list`]; without `all`, untagged images that are
    /// another image's build parent (intermediate build steps) are left
    /// out, as `docker images` without `-a` does.
    pub async fn list_images(
        &self,
        filters: &BTreeMap<String, Vec<String>>,
        all: bool,
    ) -> Result<Vec<ImageEntry>, ImageError> {
        let now = chrono::Utc::now().timestamp();
        let f = ImageFilter::parse(
            filters,
            &["dangling", "reference", "label", "before", "since", "until"],
            now,
        )?;
        let before = match &f.before {
            Some(r) => Some(self.find(r).await?.entry.created()),
            None => None,
        };
        let since = match &f.since {
            Some(r) => Some(self.find(r).await?.entry.created()),
            None => None,
        };
        let entries = self.entries().await?;
        let parents = Self::build_parents(&entries);
        let mut out: Vec<ImageEntry> = entries
            .into_iter()
            .filter(|e| all || !(e.is_dangling() && parents.contains_key(&e.id)))
            .filter(|e| f.dangling.is_none_or(|d| d == e.is_dangling()))
            .filter(|e| f.reference_match(&e.repo_tags()))
            .filter(|e| f.labels_match(&e.labels()))
            .filter(|e| before.is_none_or(|b| e.created() < b))
            .filter(|e| since.is_none_or(|s| e.created() > s))
            .filter(|e| f.until.is_none_or(|u| e.created() < u))
            .collect();
        out.sort_by(|a, b| b.created().cmp(&a.created()).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The image `name` refers to (for inspect, history, save).
    pub async fn get(&self, name: &str) -> Result<ImageEntry, ImageError> {
        Ok(self.find(name).await?.entry)
    }
}
