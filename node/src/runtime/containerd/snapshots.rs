//! containerd snapshots service calls (always the overlayfs snapshotter).

use std::collections::HashMap;

use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::snapshots::{
    CommitSnapshotRequest, Kind, MountsRequest, PrepareSnapshotRequest, RemoveSnapshotRequest,
    StatSnapshotRequest, UsageRequest,
};

use super::{Runtime, SNAPSHOTTER, status_to_error};
use crate::runtime::{Mount, RuntimeResult};

/// A snapshot as `Stat` reports it.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// Key (active) or name (committed).
    pub name: String,
    /// Parent's name, empty for a base layer.
    pub parent: String,
    /// True once committed (image layers); false for active rootfs.
    pub committed: bool,
    /// Labels.
    pub labels: HashMap<String, String>,
}

impl Runtime {
    fn snapshots_client(&self) -> SnapshotsClient<containerd_client::tonic::transport::Channel> {
        SnapshotsClient::new(self.channel())
    }

    /// The snapshot `key`, or None.
    pub async fn stat_snapshot(&self, key: &str) -> RuntimeResult<Option<SnapshotInfo>> {
        let req = self.request(StatSnapshotRequest {
            snapshotter: SNAPSHOTTER.to_owned(),
            key: key.to_owned(),
        });
        match self.snapshots_client().stat(req).await {
            Ok(resp) => Ok(resp.into_inner().info.map(|i| SnapshotInfo {
                committed: i.kind == Kind::Committed as i32,
                name: i.name,
                parent: i.parent,
                labels: i.labels,
            })),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(None),
            Err(s) => Err(status_to_error("snapshot stat", s)),
        }
    }

    /// Prepares an active snapshot `key` on top of `parent` (None for an
    /// empty base) under `lease`, returning its mounts.
    pub async fn prepare_snapshot(
        &self,
        lease: &str,
        key: &str,
        parent: Option<&str>,
        labels: HashMap<String, String>,
    ) -> RuntimeResult<Vec<Mount>> {
        let req = self.request_leased(
            PrepareSnapshotRequest {
                snapshotter: SNAPSHOTTER.to_owned(),
                key: key.to_owned(),
                parent: parent.unwrap_or_default().to_owned(),
                labels,
            },
            lease,
        );
        let resp = self
            .snapshots_client()
            .prepare(req)
            .await
            .map_err(|s| status_to_error("snapshot prepare", s))?;
        Ok(resp
            .into_inner()
            .mounts
            .into_iter()
            .map(from_proto_mount)
            .collect())
    }

    /// Mounts of an existing snapshot (active or view).
    pub async fn snapshot_mounts(&self, key: &str) -> RuntimeResult<Vec<Mount>> {
        let req = self.request(MountsRequest {
            snapshotter: SNAPSHOTTER.to_owned(),
            key: key.to_owned(),
        });
        let resp = self
            .snapshots_client()
            .mounts(req)
            .await
            .map_err(|s| status_to_error("snapshot mounts", s))?;
        Ok(resp
            .into_inner()
            .mounts
            .into_iter()
            .map(from_proto_mount)
            .collect())
    }

    /// Commits active snapshot `key` as `name` under `lease`.
    pub async fn commit_snapshot(
        &self,
        lease: &str,
        name: &str,
        key: &str,
        labels: HashMap<String, String>,
    ) -> RuntimeResult<()> {
        let req = self.request_leased(
            CommitSnapshotRequest {
                snapshotter: SNAPSHOTTER.to_owned(),
                name: name.to_owned(),
                key: key.to_owned(),
                labels,
            },
            lease,
        );
        self.snapshots_client()
            .commit(req)
            .await
            .map_err(|s| status_to_error("snapshot commit", s))?;
        Ok(())
    }

    /// Removes a snapshot; a missing one is not an error.
    pub async fn remove_snapshot(&self, key: &str) -> RuntimeResult<()> {
        let req = self.request(RemoveSnapshotRequest {
            snapshotter: SNAPSHOTTER.to_owned(),
            key: key.to_owned(),
        });
        match self.snapshots_client().remove(req).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == containerd_client::tonic::Code::NotFound => Ok(()),
            Err(s) => Err(status_to_error("snapshot remove", s)),
        }
    }

    /// Disk bytes used by the snapshot itself (not its parents).
    pub async fn snapshot_usage(&self, key: &str) -> RuntimeResult<i64> {
        let req = self.request(UsageRequest {
            snapshotter: SNAPSHOTTER.to_owned(),
            key: key.to_owned(),
        });
        let resp = self
            .snapshots_client()
            .usage(req)
            .await
            .map_err(|s| status_to_error("snapshot usage", s))?;
        Ok(resp.into_inner().size)
    }
}

pub(super) fn from_proto_mount(m: containerd_client::types::Mount) -> Mount {
    Mount {
        kind: m.r#type,
        source: m.source,
        target: m.target,
        options: m.options,
    }
}

pub(super) fn to_proto_mount(m: &Mount) -> containerd_client::types::Mount {
    containerd_client::types::Mount {
        r#type: m.kind.clone(),
        source: m.source.clone(),
        target: m.target.clone(),
        options: m.options.clone(),
    }
}
