//! containerd containers service calls.
//!
//! A containerd "container" is only metadata: the OCI spec, the runtime
//! name, the snapshot holding its rootfs and labels. Nothing runs until a
//! task is created from it (see `tasks.rs`).

use std::collections::HashMap;

use containerd_client::services::v1::container::Runtime as ContainerRuntime;
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::{
    Container, CreateContainerRequest, DeleteContainerRequest, GetContainerRequest,
    ListContainersRequest, UpdateContainerRequest,
};
use prost_types::{Any, FieldMask};
use tracing::instrument;

use super::{RUNTIME_NAME, Runtime, SNAPSHOTTER, status_to_error};
use crate::runtime::{RuntimeError, RuntimeResult};

/// `Any` type URL containerd 1.6 registers for an OCI runtime spec.
pub(crate) const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/// A container record as containerd stores it.
#[derive(Debug, Clone)]
pub struct ContainerRecord {
    /// Container ID.
    pub id: String,
    /// Image reference it was created from (informational).
    pub image: String,
    /// Record labels.
    pub labels: HashMap<String, String>,
    /// The OCI runtime spec (JSON), when one is attached.
    pub spec: Option<serde_json::Value>,
    /// Snapshot key of the rootfs, if the container has one.
    pub snapshot_key: Option<String>,
}

impl Runtime {
    /// Creates the container record: `spec` is the full OCI runtime spec,
    /// `snapshot_key` the prepared rootfs snapshot (in [`SNAPSHOTTER`]) or
    /// `None` when the task gets its rootfs mounts explicitly.
    ///
    /// Errors: `AlreadyExists` when the ID is taken, `InvalidArgument` for a
    /// spec containerd rejects.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn container_create(
        &self,
        id: &str,
        spec: &serde_json::Value,
        snapshot_key: Option<&str>,
        image: &str,
        labels: HashMap<String, String>,
    ) -> RuntimeResult<()> {
        let value = serde_json::to_vec(spec)
            .map_err(|e| RuntimeError::InvalidArgument(format!("encode OCI spec: {e}")))?;
        let container = Container {
            id: id.to_owned(),
            labels,
            image: image.to_owned(),
            runtime: Some(ContainerRuntime {
                name: RUNTIME_NAME.to_owned(),
                options: None,
            }),
            // containerd 1.6 decodes the spec by this type URL as JSON, not protobuf.
            spec: Some(Any {
                type_url: SPEC_TYPE_URL.to_owned(),
                value,
            }),
            snapshotter: if snapshot_key.is_some() {
                SNAPSHOTTER.to_owned()
            } else {
                String::new()
            },
            snapshot_key: snapshot_key.unwrap_or_default().to_owned(),
            ..Default::default()
        };
        let mut client = ContainersClient::new(self.channel());
        client
            .create(self.request(CreateContainerRequest {
                container: Some(container),
            }))
            .await
            .map_err(|s| status_to_error("create container", s))?;
        Ok(())
    }

    /// Replaces the OCI spec of an existing container record, so the next
    /// task runs with the container's current settings (`docker update`
    /// changes limits that a restart must keep).
    ///
    /// Errors: `NotFound` when no such container exists.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn container_update_spec(
        &self,
        id: &str,
        spec: &serde_json::Value,
    ) -> RuntimeResult<()> {
        let value = serde_json::to_vec(spec)
            .map_err(|e| RuntimeError::InvalidArgument(format!("encode OCI spec: {e}")))?;
        let container = Container {
            id: id.to_owned(),
            spec: Some(Any {
                type_url: SPEC_TYPE_URL.to_owned(),
                value,
            }),
            ..Default::default()
        };
        let mut client = ContainersClient::new(self.channel());
        client
            .update(self.request(UpdateContainerRequest {
                container: Some(container),
                update_mask: Some(FieldMask {
                    paths: vec!["spec".to_owned()],
                }),
            }))
            .await
            .map_err(|s| status_to_error("update container", s))?;
        Ok(())
    }

    /// Deletes the container record (not its snapshot, not its task).
    ///
    /// Errors: `NotFound` when no such container exists; `FailedPrecondition`
    /// while a task still exists for it.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn container_delete(&self, id: &str) -> RuntimeResult<()> {
        let mut client = ContainersClient::new(self.channel());
        client
            .delete(self.request(DeleteContainerRequest { id: id.to_owned() }))
            .await
            .map_err(|s| status_to_error("delete container", s))?;
        Ok(())
    }

    /// IDs of every container in the namespace, sorted.
    #[instrument(skip_all)]
    pub async fn container_list_ids(&self) -> RuntimeResult<Vec<String>> {
        let mut client = ContainersClient::new(self.channel());
        let resp = client
            .list(self.request(ListContainersRequest { filters: vec![] }))
            .await
            .map_err(|s| status_to_error("list containers", s))?;
        let mut ids: Vec<String> = resp
            .into_inner()
            .containers
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Reads one container record, with its spec decoded.
    ///
    /// Errors: `NotFound` when absent, `Internal` when the stored spec is not
    /// JSON.
    #[instrument(skip_all, fields(container.id = %id))]
    pub async fn container_get(&self, id: &str) -> RuntimeResult<ContainerRecord> {
        let mut client = ContainersClient::new(self.channel());
        let resp = client
            .get(self.request(GetContainerRequest { id: id.to_owned() }))
            .await
            .map_err(|s| status_to_error("get container", s))?;
        let c = resp
            .into_inner()
            .container
            .ok_or_else(|| RuntimeError::NotFound(format!("get container: {id}")))?;
        let spec = match c.spec {
            Some(any) if !any.value.is_empty() => {
                Some(serde_json::from_slice(&any.value).map_err(|e| {
                    RuntimeError::Internal(format!("container {id}: stored spec is not JSON: {e}"))
                })?)
            }
            _ => None,
        };
        Ok(ContainerRecord {
            id: c.id,
            image: c.image,
            labels: c.labels,
            spec,
            snapshot_key: (!c.snapshot_key.is_empty()).then_some(c.snapshot_key),
        })
    }
}
