//! `ServicesBackend` and `TasksBackend` over the manager's control operations.

use std::sync::Arc;

use async_trait::async_trait;
use shoal_api::error::{ApiError, ApiResult};
use shoal_api::extract::Filters;
use shoal_api::models::{Service, ServiceCreateResponse, ServiceSpec, ServiceUpdateResponse, Task};
use shoal_api::routers::services::{
    RegistryAuthFrom, ServiceLogsOptions, ServiceUpdateOptions, ServicesBackend,
};
use shoal_api::routers::tasks::TasksBackend;
use shoal_api::stream::OutputStream;
use shoal_scheduler::model::container::PullOptions;
use shoal_scheduler::model::{ClusterState, TaskState};

use super::swarm::cluster_error;
use crate::cluster::ClusterService;
use crate::cluster::convert_service::{self, ServiceCounts};
use crate::cluster::manager::ManagerCtx;

/// The services and tasks routers' backend.
#[derive(Debug, Clone)]
pub struct ServicesApi {
    /// This node's membership.
    pub cluster: ClusterService,
}

impl ServicesApi {
    async fn manager(&self) -> ApiResult<Arc<ManagerCtx>> {
        let m = self
            .cluster
            .available_manager()
            .await
            .map_err(cluster_error)?;
        Ok(m)
    }
}

/// `X-Registry-Auth` as the spec's pull options (None when absent or empty).
fn pull_options(header: Option<String>) -> Option<PullOptions> {
    header
        .filter(|h| !h.is_empty())
        .map(|registry_auth| PullOptions { registry_auth })
}

fn label_match(labels: &std::collections::BTreeMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

/// `ServiceStatus` as dockerd computes it (the scheduler crate's counts).
pub fn service_counts(state: &ClusterState, s: &shoal_scheduler::model::Service) -> ServiceCounts {
    let c = shoal_scheduler::status::service_status(state, &s.id);
    ServiceCounts {
        running: c.running,
        desired: c.desired,
        completed: c.completed,
    }
}

#[async_trait]
impl ServicesBackend for ServicesApi {
    #[tracing::instrument(skip_all)]
    async fn list(&self, filters: Filters, status: bool) -> ApiResult<Vec<Service>> {
        let m = self.manager().await?;
        filters.validate(&["id", "label", "mode", "name"])?;
        for mode in filters.get("mode") {
            if mode != "replicated" && mode != "global" {
                return Err(ApiError::invalid(format!(
                    "Invalid filter: 'mode'='{mode}'"
                )));
            }
        }
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let v = filters.get(key);
            v.is_empty() || v.iter().any(|x| pred(x))
        };
        let out = m.store().read(|state| {
            let mut all: Vec<_> = state
                .services()
                .iter()
                .filter(|s| {
                    any("id", &|x| s.id.as_str().starts_with(x))
                        && any("name", &|x| s.spec.name.starts_with(x))
                        && any("mode", &|x| (x == "global") == s.spec.mode.is_global())
                        && filters
                            .get("label")
                            .iter()
                            .all(|l| label_match(&s.spec.labels, l))
                })
                .collect();
            all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
            all.iter()
                .map(|s| {
                    convert_service::service_to_api(
                        s,
                        false,
                        status.then(|| service_counts(state, s)),
                    )
                })
                .collect()
        });
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(service = %id))]
    async fn inspect(&self, id: &str, insert_defaults: bool) -> ApiResult<Service> {
        let m = self.manager().await?;
        let s = m.find_service(id).map_err(cluster_error)?;
        Ok(convert_service::service_to_api(&s, insert_defaults, None))
    }

    #[tracing::instrument(skip_all)]
    async fn create(
        &self,
        spec: ServiceSpec,
        registry_auth: Option<String>,
    ) -> ApiResult<ServiceCreateResponse> {
        let m = self.manager().await?;
        let mut spec = convert_service::service_spec_from_api(&spec).map_err(cluster_error)?;
        // moby's ServiceCreate: the header goes with the tasks to the agents' pulls.
        spec.task_template.container.pull_options = pull_options(registry_auth);
        let id = m.create_service(spec).await.map_err(cluster_error)?;
        Ok(ServiceCreateResponse {
            id: Some(id),
            warnings: None,
        })
    }

    #[tracing::instrument(skip_all, fields(service = %id))]
    async fn update(
        &self,
        id: &str,
        version: u64,
        spec: ServiceSpec,
        opts: ServiceUpdateOptions,
    ) -> ApiResult<ServiceUpdateResponse> {
        let m = self.manager().await?;
        let spec = if opts.rollback {
            Default::default()
        } else {
            let mut new = convert_service::service_spec_from_api(&spec).map_err(cluster_error)?;
            new.task_template.container.pull_options = match pull_options(opts.registry_auth) {
                Some(p) => Some(p),
                // moby's ServiceUpdate: without a new header the credentials are kept, from
                // the current spec or (registryAuthFrom=previous-spec) the previous one.
                None => {
                    let current = m.find_service(id).map_err(cluster_error)?;
                    match opts.registry_auth_from {
                        RegistryAuthFrom::Spec => current.spec.task_template.container.pull_options,
                        RegistryAuthFrom::PreviousSpec => {
                            current
                                .previous_spec
                                .ok_or_else(|| {
                                    ApiError::invalid(format!(
                                        "service {} does not have a previous spec",
                                        current.id
                                    ))
                                })?
                                .task_template
                                .container
                                .pull_options
                        }
                    }
                }
            };
            new
        };
        m.update_service(id, version, spec, opts.rollback)
            .await
            .map_err(cluster_error)?;
        Ok(ServiceUpdateResponse { warnings: None })
    }

    #[tracing::instrument(skip_all, fields(service = %id))]
    async fn remove(&self, id: &str) -> ApiResult<()> {
        let m = self.manager().await?;
        m.remove_service(id).await.map_err(cluster_error)
    }

    #[tracing::instrument(skip_all, fields(service = %id))]
    async fn logs(&self, id: &str, opts: ServiceLogsOptions) -> ApiResult<OutputStream> {
        let m = self.manager().await?;
        let s = m.find_service(id).map_err(cluster_error)?;
        let tasks = m.store().read(|state| {
            state
                .tasks()
                .iter()
                .filter(|t| t.service_id == s.id)
                .cloned()
                .collect()
        });
        super::service_logs::task_logs(&m, tasks, Some(s.id.clone()), &opts).await
    }
}

#[async_trait]
impl TasksBackend for ServicesApi {
    #[tracing::instrument(skip_all)]
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Task>> {
        let m = self.manager().await?;
        filters.validate(&[
            "desired-state",
            "id",
            "label",
            "name",
            "node",
            "service",
            "_up-to-date",
        ])?;
        for d in filters.get("desired-state") {
            if !matches!(d.as_str(), "running" | "shutdown" | "accepted") {
                return Err(ApiError::invalid(format!(
                    "Invalid desired-state filter: '{d}'"
                )));
            }
        }
        // dockerd resolves service and node filters by name or ID prefix ("self" is this
        // node).
        let mut services = Vec::new();
        for key in filters.get("service") {
            match m.find_service(key) {
                Ok(s) => services.push(s.id),
                Err(crate::cluster::ClusterError::NotFound(_)) => {}
                Err(e) => return Err(cluster_error(e)),
            }
        }
        let mut nodes = Vec::new();
        for key in filters.get("node") {
            let key = if key == "self" {
                m.node_id()
            } else {
                key.as_str()
            };
            match m.find_node(key) {
                Ok(n) => nodes.push(n.id),
                Err(crate::cluster::ClusterError::NotFound(_)) => {}
                Err(e) => return Err(cluster_error(e)),
            }
        }
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let v = filters.get(key);
            v.is_empty() || v.iter().any(|x| pred(x))
        };
        // moby's internal `_up-to-date` (the CLI's convergence monitor): only tasks made from
        // the service's current spec.
        let up_to_date = !filters.get("_up-to-date").is_empty();
        let out = m.store().read(|state| {
            state
                .tasks()
                .iter()
                .filter(|t| {
                    !up_to_date
                        || state
                            .services()
                            .get(&t.service_id)
                            .is_some_and(|s| s.spec_version == t.spec_version)
                })
                .filter(|t| {
                    let name = state
                        .services()
                        .get(&t.service_id)
                        .map(|s| format!("{}.{}", s.spec.name, t.slot))
                        .unwrap_or_default();
                    any("id", &|x| t.id.as_str().starts_with(x))
                        && any("name", &|x| name.starts_with(x))
                        && (filters.get("service").is_empty() || services.contains(&t.service_id))
                        && (filters.get("node").is_empty()
                            || t.node_id.as_ref().is_some_and(|n| nodes.contains(n)))
                        && any("desired-state", &|x| match x {
                            "running" => t.desired_state == TaskState::Running,
                            "shutdown" => t.desired_state == TaskState::Shutdown,
                            "accepted" => t.desired_state == TaskState::Accepted,
                            _ => false,
                        })
                        && filters
                            .get("label")
                            .iter()
                            .all(|l| label_match(&t.spec.container.labels, l))
                })
                .map(convert_service::task_to_api)
                .collect()
        });
        Ok(out)
    }

    #[tracing::instrument(skip_all, fields(task = %id))]
    async fn inspect(&self, id: &str) -> ApiResult<Task> {
        let m = self.manager().await?;
        let t = m.find_task(id).map_err(cluster_error)?;
        Ok(convert_service::task_to_api(&t))
    }

    #[tracing::instrument(skip_all, fields(task = %id))]
    async fn logs(&self, id: &str, opts: ServiceLogsOptions) -> ApiResult<OutputStream> {
        let m = self.manager().await?;
        let t = m.find_task(id).map_err(cluster_error)?;
        super::service_logs::task_logs(&m, vec![t], None, &opts).await
    }
}
