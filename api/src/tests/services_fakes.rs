//! Fake services, tasks, secrets and configs backends on the shared
//! [`Fake`]: service "web" at version 5, task "t1", secret and config
//! "s1" at version 2; "missing" is 404, a stale version 409, a secret
//! named "taken" 409 on create, as swarmkit answers.

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use super::fakes::Fake;
use crate::error::{ApiError, ApiResult};
use crate::extract::Filters;
use crate::models::*;
use crate::routers::services::{ServiceLogsOptions, ServiceUpdateOptions, ServicesBackend};
use crate::routers::swarm_objects::SwarmObjects;
use crate::routers::tasks::TasksBackend;
use crate::stream::{OutputChunk, OutputStream, StdStream};

pub(crate) const SERVICE_VERSION: u64 = 5;
pub(crate) const SECRET_VERSION: u64 = 2;

fn missing(kind: &str, id: &str) -> ApiResult<()> {
    if id == "missing" {
        Err(ApiError::not_found(format!("{kind} {id} not found")))
    } else {
        Ok(())
    }
}

fn version(want: u64, got: u64) -> ApiResult<()> {
    if want == got {
        Ok(())
    } else {
        Err(ApiError::conflict("update out of sequence"))
    }
}

fn two_lines(opts: &ServiceLogsOptions) -> OutputStream {
    let prefix = if opts.details {
        "com.docker.swarm.task.id=t1 "
    } else {
        ""
    };
    futures::stream::iter([
        OutputChunk {
            stream: StdStream::Stdout,
            data: Bytes::from(format!("{prefix}out\n")),
            timestamp: None,
        },
        OutputChunk {
            stream: StdStream::Stderr,
            data: Bytes::from(format!("{prefix}err\n")),
            timestamp: None,
        },
    ])
    .boxed()
}

#[async_trait]
impl ServicesBackend for Fake {
    async fn list(&self, filters: Filters, status: bool) -> ApiResult<Vec<Service>> {
        self.manager_only()?;
        self.record(format!("service-ls {:?} status={status}", filters.0));
        Ok(vec![Service {
            id: Some("web".into()),
            ..Default::default()
        }])
    }
    async fn inspect(&self, id: &str, insert_defaults: bool) -> ApiResult<Service> {
        self.manager_only()?;
        missing("service", id)?;
        self.record(format!("service-inspect {id} defaults={insert_defaults}"));
        Ok(Service {
            id: Some(id.into()),
            version: Some(ObjectVersion {
                index: Some(SERVICE_VERSION),
            }),
            ..Default::default()
        })
    }
    async fn create(
        &self,
        spec: ServiceSpec,
        registry_auth: Option<String>,
    ) -> ApiResult<ServiceCreateResponse> {
        self.manager_only()?;
        self.record(format!(
            "service-create name={:?} auth={registry_auth:?}",
            spec.name
        ));
        Ok(ServiceCreateResponse {
            id: Some("newid".into()),
            warnings: None,
        })
    }
    async fn update(
        &self,
        id: &str,
        v: u64,
        spec: ServiceSpec,
        opts: ServiceUpdateOptions,
    ) -> ApiResult<ServiceUpdateResponse> {
        self.manager_only()?;
        missing("service", id)?;
        version(SERVICE_VERSION, v)?;
        self.record(format!(
            "service-update {id} v={v} name={:?} rollback={} from={:?} auth={:?}",
            spec.name, opts.rollback, opts.registry_auth_from, opts.registry_auth
        ));
        Ok(ServiceUpdateResponse { warnings: None })
    }
    async fn remove(&self, id: &str) -> ApiResult<()> {
        self.manager_only()?;
        missing("service", id)?;
        self.record(format!("service-rm {id}"));
        Ok(())
    }
    async fn logs(&self, id: &str, opts: ServiceLogsOptions) -> ApiResult<OutputStream> {
        self.manager_only()?;
        missing("service", id)?;
        self.record(format!(
            "service-logs {id} follow={} tail={:?} details={}",
            opts.logs.follow, opts.logs.tail, opts.details
        ));
        Ok(two_lines(&opts))
    }
}

#[async_trait]
impl TasksBackend for Fake {
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Task>> {
        self.manager_only()?;
        self.record(format!("task-ls {:?}", filters.0));
        Ok(vec![Task {
            id: Some("t1".into()),
            ..Default::default()
        }])
    }
    async fn inspect(&self, id: &str) -> ApiResult<Task> {
        self.manager_only()?;
        missing("task", id)?;
        self.record(format!("task-inspect {id}"));
        Ok(Task {
            id: Some(id.into()),
            ..Default::default()
        })
    }
    async fn logs(&self, id: &str, opts: ServiceLogsOptions) -> ApiResult<OutputStream> {
        self.manager_only()?;
        missing("task", id)?;
        self.record(format!("task-logs {id}"));
        Ok(two_lines(&opts))
    }
}

#[async_trait]
impl SwarmObjects<SecretSpec, Secret> for Fake {
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Secret>> {
        self.manager_only()?;
        self.record(format!("secret-ls {:?}", filters.0));
        Ok(vec![])
    }
    async fn create(&self, spec: SecretSpec) -> ApiResult<String> {
        self.manager_only()?;
        if spec.name.as_deref() == Some("taken") {
            return Err(ApiError::conflict("secret taken already exists"));
        }
        self.record(format!(
            "secret-create name={:?} data={:?}",
            spec.name, spec.data
        ));
        Ok("s1".into())
    }
    async fn inspect(&self, id: &str) -> ApiResult<Secret> {
        self.manager_only()?;
        missing("secret", id)?;
        self.record(format!("secret-inspect {id}"));
        Ok(Secret {
            id: Some(id.into()),
            ..Default::default()
        })
    }
    async fn update(&self, id: &str, v: u64, spec: SecretSpec) -> ApiResult<()> {
        self.manager_only()?;
        missing("secret", id)?;
        version(SECRET_VERSION, v)?;
        self.record(format!("secret-update {id} labels={:?}", spec.labels));
        Ok(())
    }
    async fn remove(&self, id: &str) -> ApiResult<()> {
        self.manager_only()?;
        missing("secret", id)?;
        self.record(format!("secret-rm {id}"));
        Ok(())
    }
}

#[async_trait]
impl SwarmObjects<ConfigSpec, Config> for Fake {
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Config>> {
        self.manager_only()?;
        self.record(format!("config-ls {:?}", filters.0));
        Ok(vec![])
    }
    async fn create(&self, spec: ConfigSpec) -> ApiResult<String> {
        self.manager_only()?;
        self.record(format!("config-create name={:?}", spec.name));
        Ok("c1".into())
    }
    async fn inspect(&self, id: &str) -> ApiResult<Config> {
        self.manager_only()?;
        missing("config", id)?;
        self.record(format!("config-inspect {id}"));
        Ok(Config {
            id: Some(id.into()),
            ..Default::default()
        })
    }
    async fn update(&self, id: &str, v: u64, spec: ConfigSpec) -> ApiResult<()> {
        self.manager_only()?;
        missing("config", id)?;
        version(SECRET_VERSION, v)?;
        self.record(format!("config-update {id} labels={:?}", spec.labels));
        Ok(())
    }
    async fn remove(&self, id: &str) -> ApiResult<()> {
        self.manager_only()?;
        missing("config", id)?;
        self.record(format!("config-rm {id}"));
        Ok(())
    }
}
