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

impl Runtime {
    /// Computes the changes from `lower` to `upper` as a layer blob of
    /// `media_type` in the content store (under `lease`); returns its
    /// descriptor and its uncompressed digest (the diff ID), which
    /// containerd's differ records in the `containerd.io/uncompressed` label.
    pub async fn create_diff(
        &self,
        lease: &str,
        lower: &[Mount],
        upper: &[Mount],
        media_type: &str,
    ) -> RuntimeResult<(Descriptor, String)> {
        let req = self.request_leased(
            containerd_client::services::v1::DiffRequest {
                left: lower.iter().map(to_proto_mount).collect(),
                right: upper.iter().map(to_proto_mount).collect(),
                media_type: media_type.to_owned(),
                r#ref: format!("shoal-diff-{:016x}", rand::random::<u64>()),
                labels: Default::default(),
                source_date_epoch: None,
            },
            lease,
        );
        let resp = DiffClient::new(self.channel())
            .diff(req)
            .await
            .map_err(|s| status_to_error("diff create", s))?;
        let desc = resp
            .into_inner()
            .diff
            .map(from_proto_descriptor)
            .ok_or_else(|| {
                RuntimeError::Internal("diff create returned no descriptor".to_owned())
            })?;
        let diff_id = self
            .content_info(&desc.digest)
            .await?
            .and_then(|i| i.labels.get("containerd.io/uncompressed").cloned())
            .ok_or_else(|| {
                RuntimeError::Internal(format!(
                    "diff {} has no containerd.io/uncompressed label",
                    desc.digest
                ))
            })?;
        Ok((desc, diff_id))
    }
}
