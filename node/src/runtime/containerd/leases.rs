//! containerd leases service calls: protect what an operation writes from
//! garbage collection until it is referenced by an image.

use std::collections::HashMap;

use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::{AddResourceRequest, CreateRequest, DeleteRequest, Resource};

use super::{Runtime, status_to_error};
use crate::runtime::RuntimeResult;

impl Runtime {
    fn leases_client(&self) -> LeasesClient<containerd_client::tonic::transport::Channel> {
        LeasesClient::new(self.channel())
    }

    /// Creates lease `id` that containerd drops by itself after `expire`
    /// (so a crash mid-operation leaks nothing for long).
    pub async fn create_lease(&self, id: &str, expire: std::time::Duration) -> RuntimeResult<()> {
        let until = chrono::Utc::now()
            + chrono::Duration::from_std(expire).unwrap_or(chrono::Duration::hours(24));
        let mut labels = HashMap::new();
        labels.insert(
            "containerd.io/gc.expire".to_owned(),
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        let req = self.request(CreateRequest {
            id: id.to_owned(),
            labels,
        });
        self.leases_client()
            .create(req)
            .await
            .map_err(|s| status_to_error("lease create", s))?;
        Ok(())
    }

    /// Deletes a lease; with `sync` containerd collects garbage first.
    /// A missing lease is not an error.
    pub async fn delete_lease(&self, id: &str, sync: bool) -> RuntimeResult<()> {
        let req = self.request(DeleteRequest {
            id: id.to_owned(),
            sync,
        });
        match self.leases_client().delete(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(()),
            Err(s) => Err(status_to_error("lease delete", s)),
        }
    }

    /// Adds an existing resource (`kind` is `content`, or
    /// `snapshots/<snapshotter>`) to a lease.
    pub async fn add_lease_resource(&self, lease: &str, id: &str, kind: &str) -> RuntimeResult<()> {
        let req = self.request(AddResourceRequest {
            id: lease.to_owned(),
            resource: Some(Resource {
                id: id.to_owned(),
                r#type: kind.to_owned(),
            }),
        });
        self.leases_client()
            .add_resource(req)
            .await
            .map_err(|s| status_to_error("lease add resource", s))?;
        Ok(())
    }
}
