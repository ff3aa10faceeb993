//! gRPC calls to containerd, one file per containerd service.
//!
//! [`Runtime`] is a cheap clone (a tonic `Channel` and the namespace); each
//! service file adds `impl Runtime` blocks for its calls.

mod containers;
mod content;
mod diff;
mod errors;
mod images;
mod leases;
mod snapshots;
mod tasks;

pub use containers::ContainerRecord;
pub use content::ContentInfo;
pub use errors::status_to_error;
pub use snapshots::SnapshotInfo;

use std::path::{Path, PathBuf};
use std::time::Duration;

use containerd_client::tonic::transport::Channel;
use containerd_client::tonic::{Request, metadata::MetadataValue};

use super::{RuntimeError, RuntimeResult};

/// Snapshotter used for every image and container rootfs.
pub const SNAPSHOTTER: &str = "overlayfs";
/// Runtime (shim) used for every task.
pub const RUNTIME_NAME: &str = "io.containerd.runc.v2";

/// A connection to containerd scoped to one namespace.
#[derive(Clone, Debug)]
pub struct Runtime {
    channel: Channel,
    namespace: String,
    socket: PathBuf,
}

impl Runtime {
    /// Connects to containerd's socket, retrying until `timeout` passes, and
    /// makes sure `namespace` exists.
    pub async fn connect(
        socket: &Path,
        namespace: &str,
        timeout: Duration,
    ) -> RuntimeResult<Runtime> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match containerd_client::connect(socket).await {
                Ok(channel) => {
                    let rt = Runtime {
                        channel,
                        namespace: namespace.to_owned(),
                        socket: socket.to_owned(),
                    };
                    // A fresh channel connects lazily; a version call proves the socket answers.
                    match rt.version().await {
                        Ok(_) => return Ok(rt),
                        Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                        Err(_) => {}
                    }
                }
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(RuntimeError::Unavailable(format!(
                        "cannot connect to {}: {e}",
                        socket.display()
                    )));
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The containerd socket this runtime talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The containerd namespace every call is made in.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// containerd's version string (for `/version` Components).
    pub async fn version(&self) -> RuntimeResult<String> {
        let mut client = containerd_client::services::v1::version_client::VersionClient::new(
            self.channel.clone(),
        );
        let resp = client
            .version(Request::new(()))
            .await
            .map_err(|s| status_to_error("version", s))?;
        Ok(resp.into_inner().version)
    }

    /// Wraps `msg` in a request carrying the namespace header.
    pub(crate) fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        if let Ok(v) = MetadataValue::try_from(self.namespace.as_str()) {
            req.metadata_mut().insert("containerd-namespace", v);
        }
        req
    }

    /// Like [`Runtime::request`], also binding the call to a lease so that
    /// content and snapshots it creates survive garbage collection until the
    /// lease is deleted.
    pub(crate) fn request_leased<T>(&self, msg: T, lease: &str) -> Request<T> {
        let mut req = self.request(msg);
        if let Ok(v) = MetadataValue::try_from(lease) {
            req.metadata_mut().insert("containerd-lease", v);
        }
        req
    }

    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }
}
