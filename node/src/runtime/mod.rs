//! The containerd adapter: the only code in Shoal that imports
//! `containerd_client`.
//!
//! containerd-client is raw gRPC bindings, so everything Go's containerd
//! client would give us lives here: content writes and reads, image records,
//! snapshots and layer unpack (diff apply), containers and tasks with FIFO
//! IO, exit waits, and the OCI runtime spec. Higher layers (engine, image
//! service) see only the plain types below and [`RuntimeError`].
//!
//! ```text
//! engine ──┐                        ┌─ containers.rs / tasks.rs (life cycle, exec, wait)
//!          ├─> Runtime (client.rs) ─┼─ content.rs / images.rs  (blobs, image records)
//! image ───┘                        └─ snapshots.rs / diff.rs  (rootfs, layer unpack)
//! supervisor.rs: the embedded containerd child process
//! oci_spec.rs:   pure OCI spec builder from Docker container config
//! io.rs:         FIFOs between containerd shims and the engine
//! mount.rs:      temporary host mounts of snapshot mounts
//! ```

pub mod cgroups;
pub mod containerd;
pub mod io;
pub mod mount;
pub mod oci_spec;
pub mod seccomp;
pub mod supervisor;

pub use containerd::Runtime;

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// Errors from containerd, classified so higher layers can map them without
/// seeing tonic types.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The object does not exist in containerd.
    #[error("{0}")]
    NotFound(String),
    /// The object exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// Wrong state for the call (e.g. task not running).
    #[error("{0}")]
    FailedPrecondition(String),
    /// containerd rejected the arguments.
    #[error("{0}")]
    InvalidArgument(String),
    /// containerd is not reachable.
    #[error("containerd unavailable: {0}")]
    Unavailable(String),
    /// Local I/O (FIFOs, files, mounts).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Anything else containerd said.
    #[error("containerd: {0}")]
    Internal(String),
}

/// Result alias for the adapter.
pub type RuntimeResult<T> = Result<T, RuntimeError>;

/// An OCI content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Descriptor {
    /// e.g. `application/vnd.oci.image.manifest.v1+json`.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: i64,
    /// OCI annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// A mount as containerd describes it (snapshot mounts, task rootfs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// `overlay`, `bind`, ...
    pub kind: String,
    /// Source path or device.
    pub source: String,
    /// Target inside the container (empty for rootfs mounts).
    pub target: String,
    /// Mount options.
    pub options: Vec<String>,
}

/// An image record in containerd's image store (name -> target).
#[derive(Debug, Clone)]
pub struct ImageRecord {
    /// Full reference, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    /// Manifest (or index) descriptor.
    pub target: Descriptor,
    /// Record labels.
    pub labels: HashMap<String, String>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When it was last updated.
    pub updated_at: Option<DateTime<Utc>>,
}

/// FIFO paths handed to the shim for a task or exec.
#[derive(Debug, Clone, Default)]
pub struct IoPaths {
    /// stdin FIFO, when stdin is open.
    pub stdin: Option<PathBuf>,
    /// stdout FIFO.
    pub stdout: Option<PathBuf>,
    /// stderr FIFO (absent with a TTY).
    pub stderr: Option<PathBuf>,
    /// Allocate a pseudo-terminal.
    pub terminal: bool,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code (128+signal when killed by a signal).
    pub code: u32,
    /// When it exited.
    pub exited_at: Option<DateTime<Utc>>,
}

/// Task status as containerd reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited.
    Stopped,
    /// Frozen.
    Paused,
    /// Being frozen.
    Pausing,
    /// Unknown to containerd.
    Unknown,
}

/// A task (the container's init process) as containerd sees it.
#[derive(Debug, Clone, Copy)]
pub struct TaskInfo {
    /// Host PID of the init process.
    pub pid: u32,
    /// Status.
    pub status: TaskStatus,
    /// Exit status once stopped.
    pub exit: Option<ExitStatus>,
}
