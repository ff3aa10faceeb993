//! The secrets and configs backends (`SwarmObjects`) over the manager's control operations.

use async_trait::async_trait;
use shoal_api::error::ApiResult;
use shoal_api::extract::Filters;
use shoal_api::models::{Config, ConfigSpec, Secret, SecretSpec};
use shoal_api::routers::swarm_objects::SwarmObjects;

use super::swarm::cluster_error;
use crate::cluster::manager::ManagerCtx;
use crate::cluster::{ClusterService, convert_data};

/// The secrets and configs routers' backend.
#[derive(Debug, Clone)]
pub struct SecretsApi {
    /// This node's membership.
    pub cluster: ClusterService,
}

/// Filters dockerd accepts on `GET /secrets` and `GET /configs`.
const FILTERS: &[&str] = &["id", "label", "name", "names"];

impl SecretsApi {
    async fn manager(&self) -> ApiResult<std::sync::Arc<ManagerCtx>> {
        let m = self
            .cluster
            .available_manager()
            .await
            .map_err(cluster_error)?;
        Ok(m)
    }
}

/// Docker's secret/config filters: `id` and `name` by prefix, `names` exact, `label` as
/// `key` or `key=value`.
fn matches(
    id: &str,
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
    f: &Filters,
) -> bool {
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        let v = f.get(key);
        v.is_empty() || v.iter().any(|x| pred(x))
    };
    any("id", &|x| id.starts_with(x))
        && any("name", &|x| name.starts_with(x))
        && any("names", &|x| name == x)
        && f.get("label")
            .iter()
            .all(|want| match want.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                None => labels.contains_key(want.as_str()),
            })
}

#[async_trait]
impl SwarmObjects<SecretSpec, Secret> for SecretsApi {
    #[tracing::instrument(skip_all)]
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Secret>> {
        let m = self.manager().await?;
        filters.validate(FILTERS)?;
        let mut all: Vec<_> = m
            .secrets()
            .into_iter()
            .filter(|s| matches(s.id.as_str(), &s.spec.name, &s.spec.labels, &filters))
            .collect();
        all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(all.iter().map(convert_data::secret_to_api).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn create(&self, spec: SecretSpec) -> ApiResult<String> {
        let m = self.manager().await?;
        let spec = convert_data::secret_spec_from_api(&spec).map_err(cluster_error)?;
        m.create_secret(spec).await.map_err(cluster_error)
    }

    #[tracing::instrument(skip_all, fields(secret = %id))]
    async fn inspect(&self, id: &str) -> ApiResult<Secret> {
        let m = self.manager().await?;
        let s = m.find_secret(id).map_err(cluster_error)?;
        Ok(convert_data::secret_to_api(&s))
    }

    #[tracing::instrument(skip_all, fields(secret = %id))]
    async fn update(&self, id: &str, version: u64, spec: SecretSpec) -> ApiResult<()> {
        let m = self.manager().await?;
        let spec = convert_data::secret_spec_from_api(&spec).map_err(cluster_error)?;
        m.update_secret(id, version, spec)
            .await
            .map_err(cluster_error)
    }

    #[tracing::instrument(skip_all, fields(secret = %id))]
    async fn remove(&self, id: &str) -> ApiResult<()> {
        let m = self.manager().await?;
        m.remove_secret(id).await.map_err(cluster_error)
    }
}

#[async_trait]
impl SwarmObjects<ConfigSpec, Config> for SecretsApi {
    #[tracing::instrument(skip_all)]
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Config>> {
        let m = self.manager().await?;
        filters.validate(FILTERS)?;
        let mut all: Vec<_> = m
            .configs()
            .into_iter()
            .filter(|c| matches(c.id.as_str(), &c.spec.name, &c.spec.labels, &filters))
            .collect();
        all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(all.iter().map(convert_data::config_to_api).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn create(&self, spec: ConfigSpec) -> ApiResult<String> {
        let m = self.manager().await?;
        let spec = convert_data::config_spec_from_api(&spec).map_err(cluster_error)?;
        m.create_config(spec).await.map_err(cluster_error)
    }

    #[tracing::instrument(skip_all, fields(config = %id))]
    async fn inspect(&self, id: &str) -> ApiResult<Config> {
        let m = self.manager().await?;
        let c = m.find_config(id).map_err(cluster_error)?;
        Ok(convert_data::config_to_api(&c))
    }

    #[tracing::instrument(skip_all, fields(config = %id))]
    async fn update(&self, id: &str, version: u64, spec: ConfigSpec) -> ApiResult<()> {
        let m = self.manager().await?;
        let spec = convert_data::config_spec_from_api(&spec).map_err(cluster_error)?;
        m.update_config(id, version, spec)
            .await
            .map_err(cluster_error)
    }

    #[tracing::instrument(skip_all, fields(config = %id))]
    async fn remove(&self, id: &str) -> ApiResult<()> {
        let m = self.manager().await?;
        m.remove_config(id).await.map_err(cluster_error)
    }
}
