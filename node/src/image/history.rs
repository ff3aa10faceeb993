//! `docker history`.

use shoal_api::models::HistoryResponseItem;

use super::oci;
use super::store::ImageEntry;

impl ImageEntry {
    /// History rows, newest first: one per config history entry, sized by
    /// the layer it made; only the newest row carries the image ID and tags
    /// (older ones are `<missing>`, as for images dockerd did not build).
    pub fn history(&self) -> Vec<HistoryResponseItem> {
        let mut rows = Vec::new();
        let mut layers = self.layers.iter();
        if self.config.history.is_empty() {
            // No history recorded: one row per layer.
            for l in self.layers.iter() {
                rows.push(HistoryResponseItem {
                    id: "<missing>".to_owned(),
                    created: self.created(),
                    created_by: String::new(),
                    tags: Vec::new(),
                    size: l.size,
                    comment: String::new(),
                });
            }
        }
        for h in &self.config.history {
            let size = if h.empty_layer {
                0
            } else {
                layers.next().map(|l| l.size).unwrap_or(0)
            };
            rows.push(HistoryResponseItem {
                id: "<missing>".to_owned(),
                created: oci::unix_seconds(h.created.as_deref()),
                created_by: h.created_by.clone().unwrap_or_default(),
                tags: Vec::new(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
            });
        }
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top.id = self.id.clone();
            top.tags = self.repo_tags();
        }
        rows
    }
}
