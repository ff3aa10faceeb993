//! `NodesBackend` over the manager's control operations.

use async_trait::async_trait;
use shoal_api::error::{ApiError, ApiResult};
use shoal_api::extract::Filters;
use shoal_api::models::{Node, NodeSpec};
use shoal_api::routers::nodes::NodesBackend;
use shoal_scheduler::model::node::NodeRole;

use super::swarm::cluster_error;
use crate::cluster::{ClusterService, convert};

/// The nodes router's backend.
#[derive(Debug, Clone)]
pub struct NodesApi {
    /// This node's membership.
    pub cluster: ClusterService,
}

fn matches(n: &shoal_scheduler::model::Node, f: &Filters) -> bool {
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        let v = f.get(key);
        v.is_empty() || v.iter().any(|x| pred(x))
    };
    let label_match = |labels: &std::collections::BTreeMap<String, String>, want: &str| match want
        .split_once('=')
    {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    };
    let hostname = n
        .description
        .as_ref()
        .map(|d| d.hostname.as_str())
        .unwrap_or("");
    let engine_labels = n
        .description
        .as_ref()
        .map(|d| d.engine.labels.clone())
        .unwrap_or_default();
    any("id", &|x| n.id.as_str().starts_with(x))
        && any("name", &|x| n.spec.name == x || hostname == x)
        && any("role", &|x| match x {
            "manager" => n.spec.role == NodeRole::Manager,
            "worker" => n.spec.role == NodeRole::Worker,
            _ => false,
        })
        && any("membership", &|x| x == "accepted")
        && any("label", &|x| label_match(&engine_labels, x))
        && any("node.label", &|x| label_match(&n.spec.labels, x))
}

#[async_trait]
impl NodesBackend for NodesApi {
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Node>> {
        filters.validate(&["id", "label", "membership", "name", "node.label", "role"])?;
        for r in filters.get("role") {
            if r != "manager" && r != "worker" {
                return Err(ApiError::invalid(format!("Invalid role filter: '{r}'")));
            }
        }
        let m = self
            .cluster
            .available_manager()
            .await
            .map_err(cluster_error)?;
        let mut nodes: Vec<_> = m
            .nodes()
            .into_iter()
            .filter(|n| matches(n, &filters))
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(nodes.iter().map(convert::node_to_api).collect())
    }

    async fn inspect(&self, id: &str) -> ApiResult<Node> {
        let m = self
            .cluster
            .available_manager()
            .await
            .map_err(cluster_error)?;
        let n = m.find_node(id).map_err(cluster_error)?;
        Ok(convert::node_to_api(&n))
    }

    async fn update(&self, id: &str, version: u64, spec: NodeSpec) -> ApiResult<()> {
        let m = self
            .cluster
            .manager_settled()
            .await
            .map_err(cluster_error)?;
        let spec = convert::node_spec_from_api(&spec).map_err(cluster_error)?;
        m.update_node(id, version, spec)
            .await
            .map_err(cluster_error)
    }

    async fn remove(&self, id: &str, force: bool) -> ApiResult<()> {
        let m = self
            .cluster
            .manager_settled()
            .await
            .map_err(cluster_error)?;
        m.remove_node(id, force).await.map_err(cluster_error)
    }
}
