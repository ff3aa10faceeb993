//! containerd diff service calls: apply a layer blob onto snapshot mounts.

use containerd_client::services::v1::ApplyRequest;
use containerd_client::services::v1::diff_client::DiffClient;

use super::images::{from_proto_descriptor, to_proto_descriptor};
use super::snapshots::to_proto_mount;
use super::{Runtime, status_to_error};
use crate::runtime::{Descriptor, Mount, RuntimeError, RuntimeResult};

impl Runtime {
    /// Unpacks layer `layer` (a blob in the content store, tar or
    /// tar+gzip) onto `mounts`; returns the descriptor of what was applied,
    /// whose digest is the layer's uncompressed digest (its diff ID).
    pub async fn apply_diff(
        &self,
        layer: &Descriptor,
        mounts: &[Mount],
    ) -> RuntimeResult<Descriptor> {
        let req = self.request(ApplyRequest {
            diff: Some(to_proto_descriptor(layer)),
            mounts: mounts.iter().map(to_proto_mount).collect(),
            payloads: Default::default(),
            sync_fs: false,
        });
        let resp = DiffClient::new(self.channel())
            .apply(req)
            .await
            .map_err(|s| status_to_error("diff apply", s))?;
        resp.into_inner()
            .applied
            .map(from_proto_descriptor)
            .ok_or_else(|| RuntimeError::Internal("diff apply returned no descriptor".to_owned()))
    }
}
