//! `docker container prune`.

use shoal_api::extract::Filters;
use shoal_api::models::ContainerPruneResponse;

use super::super::{Engine, EngineError, EngineResult};
use super::list::{label_matches, parse_time_filter};

impl Engine {
    /// Removes every stopped container matching `until` and `label` filters.
    pub async fn prune(&self, filters: Filters) -> EngineResult<ContainerPruneResponse> {
        filters
            .validate(&["until", "label", "label!"])
            .map_err(|e| EngineError::Invalid(e.message))?;
        let until = match filters.get("until").first() {
            Some(u) => Some(parse_time_filter(u)?),
            None => None,
        };
        let mut deleted = Vec::new();
        let mut reclaimed = 0i64;
        for c in self.all() {
            let rec = c.snapshot();
            if rec.state.status.is_live() {
                continue;
            }
            if until.is_some_and(|u| rec.created.timestamp() as f64 >= u) {
                continue;
            }
            let labels = rec.config.labels.clone().unwrap_or_default();
            if !filters
                .get("label")
                .iter()
                .all(|l| label_matches(&labels, l))
            {
                continue;
            }
            if filters
                .get("label!")
                .iter()
                .any(|l| label_matches(&labels, l))
            {
                continue;
            }
            let size = self.runtime().snapshot_usage(&rec.id).await.unwrap_or(0);
            match self.remove_container(&c, false).await {
                Ok(()) => {
                    deleted.push(rec.id);
                    reclaimed += size;
                }
                Err(e) => tracing::warn!(container.id = %rec.id, error = %e, "prune"),
            }
        }
        Ok(ContainerPruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: Some(reclaimed),
        })
    }
}
