//! `/services/...`: create, list, inspect, update, remove, logs.

use async_trait::async_trait;

use crate::error::ApiResult;
use crate::extract::Filters;
use crate::models::{Service, ServiceCreateResponse, ServiceSpec, ServiceUpdateResponse};
use crate::routers::containers::LogsOptions;
use crate::stream::OutputStream;

/// `POST /services/{id}/update` options besides the spec and version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceUpdateOptions {
    /// `rollback=previous`: revert to the service's previous spec (the body
    /// is then ignored, as dockerd does).
    pub rollback: bool,
    /// `registryAuthFrom`: `spec` (default) or `previous-spec`: whose stored
    /// registry credentials the update keeps when no `X-Registry-Auth` is sent.
    pub registry_auth_from: RegistryAuthFrom,
    /// `X-Registry-Auth`, passed on untouched (base64url JSON).
    pub registry_auth: Option<String>,
}

/// moby's `registryAuthFrom` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RegistryAuthFrom {
    /// The credentials stored with the current spec.
    #[default]
    Spec,
    /// The credentials stored with the previous spec.
    PreviousSpec,
}

/// `GET /services/{id}/logs` and `GET /tasks/{id}/logs` options.
#[derive(Debug, Clone, Default)]
pub struct ServiceLogsOptions {
    /// The container-logs options (follow, streams, since, tail, timestamps).
    pub logs: LogsOptions,
    /// `details`: prefix each line with the task's `key=value,...` attributes
    /// (the docker CLI always asks, and prints `name.slot.id@node |` from them).
    pub details: bool,
}

/// What the services router needs from the cluster (managers only: others
/// answer 503 "This node is not a swarm manager...").
#[async_trait]
pub trait ServicesBackend: Send + Sync + 'static {
    /// `GET /services` (filters id, label, mode, name); `status` fills
    /// `ServiceStatus` with running/desired/completed task counts.
    async fn list(&self, filters: Filters, status: bool) -> ApiResult<Vec<Service>>;
    /// `GET /services/{id}` by ID, ID prefix or name; `insert_defaults`
    /// fills the spec's unset fields with Docker's defaults.
    async fn inspect(&self, id: &str, insert_defaults: bool) -> ApiResult<Service>;
    /// `POST /services/create`; `registry_auth` is `X-Registry-Auth`.
    async fn create(
        &self,
        spec: ServiceSpec,
        registry_auth: Option<String>,
    ) -> ApiResult<ServiceCreateResponse>;
    /// `POST /services/{id}/update?version=`; 409 "update out of sequence"
    /// for a stale version.
    async fn update(
        &self,
        id: &str,
        version: u64,
        spec: ServiceSpec,
        opts: ServiceUpdateOptions,
    ) -> ApiResult<ServiceUpdateResponse>;
    /// `DELETE /services/{id}`.
    async fn remove(&self, id: &str) -> ApiResult<()>;
    /// `GET /services/{id}/logs`: the output of every task of the service on
    /// every node, stdcopy-framed by the router.
    async fn logs(&self, id: &str, opts: ServiceLogsOptions) -> ApiResult<OutputStream>;
}

mod handlers;

pub(crate) use handlers::{logs_options, logs_response, routes};
