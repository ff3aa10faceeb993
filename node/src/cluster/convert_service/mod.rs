//! Services and tasks: Docker's `ServiceSpec`/`Service`/`Task` shapes to the replicated
//! model ([`from_api`]) and back ([`to_api`]).

mod from_api;
#[cfg(test)]
mod roundtrip_tests;
mod to_api;

pub use from_api::{service_spec_from_api, task_spec_from_api};
pub use to_api::{ServiceCounts, service_to_api, task_to_api};

use shoal_scheduler::model::{ConfigId, SecretId, TaskSpec};

/// The secrets a task spec grants.
pub fn secret_refs(spec: &TaskSpec) -> Vec<SecretId> {
    spec.container
        .secrets
        .iter()
        .map(|r| r.secret_id.clone())
        .collect()
}

/// The configs a task spec grants.
pub fn config_refs(spec: &TaskSpec) -> Vec<ConfigId> {
    spec.container
        .configs
        .iter()
        .map(|r| r.config_id.clone())
        .collect()
}
