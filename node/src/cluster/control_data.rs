//! Control operations for secrets and configs (`docker secret/config ...`): swarmkit's
//! controlapi checks and texts, then a write through the leader.
//!
//! Names are unique per kind (checked here for dockerd's text, and again by apply so two
//! racing creates cannot both win); data is immutable, so an update may change labels only.

use shoal_scheduler::model::validate::{validate_config_spec, validate_secret_spec};
use shoal_scheduler::model::{
    ClusterCommand, Config, ConfigId, ConfigSpec, Meta, ObjectRef, Secret, SecretId, SecretSpec,
    StoreObject,
};
use tonic::Code;

use super::ca::random_id;
use super::lookup::{find, rpc_error};
use super::manager::{ManagerCtx, now};
use super::{ClusterError, store_err};

impl ManagerCtx {
    /// Every secret.
    pub fn secrets(&self) -> Vec<Secret> {
        self.store().read(|s| s.secrets().iter().cloned().collect())
    }

    /// Every config.
    pub fn configs(&self) -> Vec<Config> {
        self.store().read(|s| s.configs().iter().cloned().collect())
    }

    /// Finds a secret by ID, name or unique ID prefix.
    pub fn find_secret(&self, key: &str) -> Result<Secret, ClusterError> {
        let all = self.secrets();
        find(
            "secret",
            key,
            all.iter().map(|s| (s.id.as_str(), s.spec.name.as_str(), s)),
        )
    }

    /// Finds a config by ID, name or unique ID prefix.
    pub fn find_config(&self, key: &str) -> Result<Config, ClusterError> {
        let all = self.configs();
        find(
            "config",
            key,
            all.iter().map(|c| (c.id.as_str(), c.spec.name.as_str(), c)),
        )
    }

    /// `docker secret create`. Returns the new ID.
    ///
    /// Errors: InvalidArgument for a bad name or size; AlreadyExists (409) for a taken name.
    pub async fn create_secret(&self, spec: SecretSpec) -> Result<String, ClusterError> {
        validate_secret_spec(&spec).map_err(|e| rpc_error(Code::InvalidArgument, e.to_string()))?;
        if self.secrets().iter().any(|s| s.spec.name == spec.name) {
            return Err(rpc_error(
                Code::AlreadyExists,
                format!("secret {} already exists", spec.name),
            ));
        }
        let id = random_id();
        let secret = Secret {
            id: SecretId::new(id.as_str()),
            meta: Meta::new(now()),
            spec,
        };
        self.propose_data(
            ClusterCommand::Create(StoreObject::Secret(secret)),
            "secret",
        )
        .await?;
        Ok(id)
    }

    /// `docker config create`. Returns the new ID.
    ///
    /// Errors: as [`Self::create_secret`].
    pub async fn create_config(&self, spec: ConfigSpec) -> Result<String, ClusterError> {
        validate_config_spec(&spec).map_err(|e| rpc_error(Code::InvalidArgument, e.to_string()))?;
        if self.configs().iter().any(|c| c.spec.name == spec.name) {
            return Err(rpc_error(
                Code::AlreadyExists,
                format!("config {} already exists", spec.name),
            ));
        }
        let id = random_id();
        let config = Config {
            id: ConfigId::new(id.as_str()),
            meta: Meta::new(now()),
            spec,
        };
        self.propose_data(
            ClusterCommand::Create(StoreObject::Config(config)),
            "config",
        )
        .await?;
        Ok(id)
    }

    /// `POST /secrets/{id}/update`: labels only, as swarmkit.
    ///
    /// Errors: InvalidArgument "only updates to Labels are allowed"; OutOfSequence.
    pub async fn update_secret(
        &self,
        key: &str,
        version: u64,
        spec: SecretSpec,
    ) -> Result<(), ClusterError> {
        let mut s = self.find_secret(key)?;
        if spec.name != s.spec.name || (!spec.data.is_empty() && spec.data != s.spec.data) {
            return Err(rpc_error(
                Code::InvalidArgument,
                "only updates to Labels are allowed",
            ));
        }
        s.spec.labels = spec.labels;
        s.meta.version.index = version;
        s.meta.updated_at = now();
        self.propose_data(ClusterCommand::Update(StoreObject::Secret(s)), "secret")
            .await
    }

    /// `POST /configs/{id}/update`: labels only.
    ///
    /// Errors: as [`Self::update_secret`].
    pub async fn update_config(
        &self,
        key: &str,
        version: u64,
        spec: ConfigSpec,
    ) -> Result<(), ClusterError> {
        let mut c = self.find_config(key)?;
        if spec.name != c.spec.name || (!spec.data.is_empty() && spec.data != c.spec.data) {
            return Err(rpc_error(
                Code::InvalidArgument,
                "only updates to Labels are allowed",
            ));
        }
        c.spec.labels = spec.labels;
        c.meta.version.index = version;
        c.meta.updated_at = now();
        self.propose_data(ClusterCommand::Update(StoreObject::Config(c)), "config")
            .await
    }

    /// `docker secret rm`.
    ///
    /// Errors: NotFound; InvalidArgument when a service still uses it (swarmkit's text).
    pub async fn remove_secret(&self, key: &str) -> Result<(), ClusterError> {
        let s = self.find_secret(key)?;
        let users = self.services_using(|refs| refs.secret_ids.contains(&s.id.0));
        if !users.is_empty() {
            return Err(rpc_error(
                Code::InvalidArgument,
                format!(
                    "secret '{}' is in use by the following service{}: {}",
                    s.spec.name,
                    if users.len() > 1 { "s" } else { "" },
                    users.join(", ")
                ),
            ));
        }
        self.propose_data(ClusterCommand::Delete(ObjectRef::Secret(s.id)), "secret")
            .await
    }

    /// `docker config rm`.
    ///
    /// Errors: NotFound; InvalidArgument when a service still uses it.
    pub async fn remove_config(&self, key: &str) -> Result<(), ClusterError> {
        let c = self.find_config(key)?;
        let users = self.services_using(|refs| refs.config_ids.contains(&c.id.0));
        if !users.is_empty() {
            return Err(rpc_error(
                Code::InvalidArgument,
                format!(
                    "config '{}' is in use by the following service{}: {}",
                    c.spec.name,
                    if users.len() > 1 { "s" } else { "" },
                    users.join(", ")
                ),
            ));
        }
        self.propose_data(ClusterCommand::Delete(ObjectRef::Config(c.id)), "config")
            .await
    }

    async fn propose_data(&self, cmd: ClusterCommand, kind: &str) -> Result<(), ClusterError> {
        match self.store().propose_or_forward(cmd).await {
            Ok(_) => Ok(()),
            // A create that raced another with the same name.
            Err(shoal_raft::StoreError::Conflict(e)) => {
                Err(rpc_error(Code::AlreadyExists, format!("{kind}: {e}")))
            }
            Err(e) => Err(store_err(e)),
        }
    }
}

/// The secrets and configs one service references.
#[derive(Debug, Default)]
pub(crate) struct DataRefs {
    pub secret_ids: Vec<String>,
    pub config_ids: Vec<String>,
}

impl ManagerCtx {
    /// Names of the services whose references satisfy `pred`.
    fn services_using(&self, pred: impl Fn(&DataRefs) -> bool) -> Vec<String> {
        let services = self
            .store()
            .read(|s| s.services().iter().cloned().collect::<Vec<_>>());
        let mut names: Vec<String> = services
            .iter()
            .filter(|svc| {
                let spec = &svc.spec.task_template;
                let refs = DataRefs {
                    secret_ids: super::convert_service::secret_refs(spec)
                        .into_iter()
                        .map(|i| i.0)
                        .collect(),
                    config_ids: super::convert_service::config_refs(spec)
                        .into_iter()
                        .map(|i| i.0)
                        .collect(),
                };
                pred(&refs)
            })
            .map(|svc| svc.spec.name.clone())
            .collect();
        names.sort();
        names
    }
}
