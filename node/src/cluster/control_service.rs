//! Control operations for services and tasks (`docker service ...`, `docker service ps`):
//! swarmkit's controlapi checks and texts, then a write through the leader.
//!
//! The control API writes only `spec`, `previous_spec`, `spec_version` and the job iteration;
//! tasks are the orchestrator's (the leader's runners), so a create or update here returns as
//! soon as the service object is committed, as with dockerd.

use shoal_scheduler::model::validate::validate_service_spec;
use shoal_scheduler::model::{
    ClusterCommand, ObjectRef, Service, ServiceId, ServiceSpec, StoreObject, Task,
};
use tonic::Code;

use super::ca::random_id;
use super::lookup::{find, rpc_error};
use super::manager::{ManagerCtx, now};
use super::{ClusterError, store_err};

impl ManagerCtx {
    /// Every service.
    pub fn services(&self) -> Vec<Service> {
        self.store()
            .read(|s| s.services().iter().cloned().collect())
    }

    /// Every task.
    pub fn tasks(&self) -> Vec<Task> {
        self.store().read(|s| s.tasks().iter().cloned().collect())
    }

    /// Finds a service by ID, name or unique ID prefix.
    pub fn find_service(&self, key: &str) -> Result<Service, ClusterError> {
        let all = self.services();
        find(
            "service",
            key,
            all.iter().map(|s| (s.id.as_str(), s.spec.name.as_str(), s)),
        )
    }

    /// Finds a task by ID or unique ID prefix.
    pub fn find_task(&self, key: &str) -> Result<Task, ClusterError> {
        let all = self.tasks();
        find("task", key, all.iter().map(|t| (t.id.as_str(), "", t)))
    }

    /// Checks the spec as swarmkit does: validation, and every referenced secret and config
    /// exists (the names are filled in from the store).
    fn check_service_spec(&self, spec: &mut ServiceSpec) -> Result<(), ClusterError> {
        validate_service_spec(spec).map_err(|e| rpc_error(Code::InvalidArgument, e.to_string()))?;
        let (secrets, configs) = self.store().read(|s| {
            (
                s.secrets().iter().cloned().collect::<Vec<_>>(),
                s.configs().iter().cloned().collect::<Vec<_>>(),
            )
        });
        let c = &mut spec.task_template.container;
        for r in &mut c.secrets {
            let s = secrets
                .iter()
                .find(|s| s.id == r.secret_id)
                .ok_or_else(|| {
                    rpc_error(
                        Code::InvalidArgument,
                        format!("secret not found: {}", r.secret_id),
                    )
                })?;
            r.secret_name = s.spec.name.clone();
        }
        for r in &mut c.configs {
            let s = configs
                .iter()
                .find(|s| s.id == r.config_id)
                .ok_or_else(|| {
                    rpc_error(
                        Code::InvalidArgument,
                        format!("config not found: {}", r.config_id),
                    )
                })?;
            r.config_name = s.spec.name.clone();
        }
        Ok(())
    }

    /// `docker service create`. Returns the new service's ID.
    ///
    /// Errors: InvalidArgument for a bad spec; AlreadyExists (409) for a taken name.
    pub async fn create_service(&self, mut spec: ServiceSpec) -> Result<String, ClusterError> {
        self.check_service_spec(&mut spec)?;
        if self.services().iter().any(|s| s.spec.name == spec.name) {
            return Err(rpc_error(
                Code::AlreadyExists,
                format!("service {} already exists", spec.name),
            ));
        }
        let id = random_id();
        let service = Service::new(ServiceId::new(id.as_str()), spec, now());
        self.propose_service(ClusterCommand::Create(StoreObject::Service(service)))
            .await?;
        Ok(id)
    }

    /// `docker service update` (and `rollback=previous`).
    ///
    /// Errors: OutOfSequence for a stale `version`; InvalidArgument for a bad spec, a rename
    /// (swarmkit: "renaming services is not supported") or a rollback without a previous spec
    /// ("service X does not have a previous spec"); NotFound.
    pub async fn update_service(
        &self,
        key: &str,
        version: u64,
        spec: ServiceSpec,
        rollback: bool,
    ) -> Result<(), ClusterError> {
        let current = self.find_service(key)?;
        let mut spec = if rollback {
            current.previous_spec.clone().ok_or_else(|| {
                rpc_error(
                    Code::FailedPrecondition,
                    format!("service {} does not have a previous spec", current.id),
                )
            })?
        } else {
            spec
        };
        // The names in the rollback target were checked when it was current.
        if spec.name != current.spec.name {
            return Err(rpc_error(
                Code::Unimplemented,
                "renaming services is not supported",
            ));
        }
        if spec.mode.is_global() != current.spec.mode.is_global()
            || spec.mode.is_job() != current.spec.mode.is_job()
        {
            return Err(rpc_error(
                Code::InvalidArgument,
                "service mode change is not allowed",
            ));
        }
        self.check_service_spec(&mut spec)?;
        let mut s = if rollback {
            current
                .rolled_back(now())
                .map_err(|e| rpc_error(Code::FailedPrecondition, e.to_string()))?
        } else if spec != current.spec {
            current.with_new_spec(spec, now())
        } else {
            // dockerd accepts an unchanged spec (e.g. `--force` bumps ForceUpdate, which is
            // a change; a true no-op rewrites nothing but the timestamp).
            let mut s = current.clone();
            s.meta.updated_at = now();
            s
        };
        s.meta.version.index = version;
        self.propose_service(ClusterCommand::Update(StoreObject::Service(s)))
            .await
    }

    /// `docker service rm`: the orchestrator then shuts its tasks down and the agents remove
    /// their containers.
    pub async fn remove_service(&self, key: &str) -> Result<(), ClusterError> {
        let s = self.find_service(key)?;
        self.propose_service(ClusterCommand::Delete(ObjectRef::Service(s.id)))
            .await
    }

    async fn propose_service(&self, cmd: ClusterCommand) -> Result<(), ClusterError> {
        match self.store().propose_or_forward(cmd).await {
            Ok(_) => Ok(()),
            Err(shoal_raft::StoreError::Conflict(e)) => {
                Err(rpc_error(Code::AlreadyExists, e.to_string()))
            }
            Err(e) => Err(store_err(e)),
        }
    }
}
