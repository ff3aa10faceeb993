//! The container part of a task spec: Docker's `ContainerSpec` as `docker service create`
//! sends it (swarmkit `api/specs.proto` `ContainerSpec`).
//!
//! Durations are nanoseconds (`_ns`), as in the Engine API. Every field added after the first
//! stored format carries `#[serde(default)]`, so records written before it still decode.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::{ConfigId, SecretId};

/// swarmkit's `ContainerSpec.PullOptions`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PullOptions {
    /// The registry credentials in `X-Registry-Auth` form (base64url JSON).
    pub registry_auth: String,
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials stay out of logs.
        f.debug_struct("PullOptions").finish_non_exhaustive()
    }
}

/// What a task's container runs. Written by the control API from the service spec; read by the
/// agent's executor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// Image reference (the control API may pin it to a digest).
    pub image: String,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// Entrypoint override (`Command`).
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Hostname; may hold templates such as `{{.Task.Slot}}` (see [`crate::template`]).
    pub hostname: String,
    /// `KEY=value` environment entries; may hold templates.
    pub env: Vec<String>,
    /// Working directory.
    pub dir: String,
    /// `user[:group]`.
    pub user: String,
    /// Supplementary groups.
    pub groups: Vec<String>,
    /// Allocate a pseudo-TTY.
    pub tty: bool,
    /// Keep stdin open.
    pub open_stdin: bool,
    /// Mount the root filesystem read-only.
    pub read_only: bool,
    /// Mounts; source and target may hold templates.
    pub mounts: Vec<Mount>,
    /// Signal to stop the container (empty: the image's or SIGTERM).
    pub stop_signal: String,
    /// Time to wait before killing after the stop signal (`None`: Docker's default, 10 s).
    pub stop_grace_period_ns: Option<i64>,
    /// Health check overriding the image's.
    pub healthcheck: Option<HealthConfig>,
    /// Extra `/etc/hosts` entries, `IP hostname [alias...]` as swarmkit stores them.
    pub hosts: Vec<String>,
    /// DNS settings for the container's resolv.conf.
    pub dns_config: Option<DnsConfig>,
    /// Secrets granted to the task.
    pub secrets: Vec<SecretReference>,
    /// Configs granted to the task.
    pub configs: Vec<ConfigReference>,
    /// Run an init process (`None`: the daemon's default).
    pub init: Option<bool>,
    /// How agents pull the image (swarmkit's `PullOptions`): the `X-Registry-Auth` that
    /// `docker service create --with-registry-auth` sent. Never shown by inspect, as on
    /// Docker, whose API types have no such field.
    pub pull_options: Option<PullOptions>,
    /// Namespaced kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// Capabilities to add.
    pub capability_add: Vec<String>,
    /// Capabilities to drop.
    pub capability_drop: Vec<String>,
    /// Resource limits (`--ulimit`).
    pub ulimits: Vec<Ulimit>,
    /// Isolation technology (`default`, `process`, `hyperv`; only `default` means anything on
    /// Linux).
    pub isolation: String,
}

/// The kind of a mount (Docker's `Mount.Type`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host path.
    Bind,
    /// A named or anonymous volume.
    #[default]
    Volume,
    /// An in-memory filesystem.
    Tmpfs,
    /// A Windows named pipe (refused on Linux by the node).
    Npipe,
    /// A cluster volume (CSI; refused by the node).
    Cluster,
}

/// One mount of a task's container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Mount {
    /// Bind, volume or tmpfs.
    pub kind: MountType,
    /// Host path (bind) or volume name (volume); empty for tmpfs and anonymous volumes.
    pub source: String,
    /// Path in the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// `consistent`, `cached`, `delegated` (no effect on Linux).
    pub consistency: String,
    /// Bind options.
    pub bind_options: Option<BindOptions>,
    /// Volume options.
    pub volume_options: Option<VolumeOptions>,
    /// Tmpfs options.
    pub tmpfs_options: Option<TmpfsOptions>,
}

/// Options of a bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BindOptions {
    /// `rprivate`, `private`, `rshared`, `shared`, `rslave`, `slave`.
    pub propagation: String,
    /// Do not bind submounts recursively.
    pub non_recursive: bool,
}

/// Options of a volume mount.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeOptions {
    /// Do not populate the volume from the image.
    pub no_copy: bool,
    /// Labels for a volume created on first use.
    pub labels: BTreeMap<String, String>,
    /// Driver for a volume created on first use.
    pub driver_config: Option<Driver>,
    /// Mount only this subpath of the volume.
    pub subpath: String,
}

/// Options of a tmpfs mount.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TmpfsOptions {
    /// Size in bytes (0: unlimited).
    pub size_bytes: i64,
    /// Permission bits (0: the kernel's default, 1777).
    pub mode: u32,
}

/// A named driver with options (volume drivers, log drivers).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Driver {
    /// Driver name.
    pub name: String,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// Docker's `HealthConfig`; durations in nanoseconds, 0 meaning "inherit / default".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", "..."]`; empty inherits the image's.
    pub test: Vec<String>,
    /// Time between checks.
    pub interval_ns: i64,
    /// Time before a check is considered hung.
    pub timeout_ns: i64,
    /// Grace period before failures count.
    pub start_period_ns: i64,
    /// Time between checks during the start period.
    pub start_interval_ns: i64,
    /// Consecutive failures that make the container unhealthy (0: inherit).
    pub retries: u64,
}

/// resolv.conf settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    /// Name server IPs.
    pub nameservers: Vec<String>,
    /// Search domains.
    pub search: Vec<String>,
    /// resolver options (`ndots:2`).
    pub options: Vec<String>,
}

/// Where a secret or config appears in the container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FileTarget {
    /// File name: relative to `/run/secrets/` for secrets, an absolute path or relative to `/`
    /// for configs.
    pub name: String,
    /// Owner uid, as a string (Docker's wire form; default "0").
    pub uid: String,
    /// Owner gid, as a string (default "0").
    pub gid: String,
    /// Permission bits (Docker's CLI default 0444).
    pub mode: u32,
}

/// A secret granted to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretReference {
    /// The secret's ID (resolved from the name by the control API).
    pub secret_id: SecretId,
    /// The secret's name as the user gave it.
    pub secret_name: String,
    /// The file it is mounted as.
    pub file: Option<FileTarget>,
}

/// A config granted to a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigReference {
    /// The config's ID (resolved from the name by the control API).
    pub config_id: ConfigId,
    /// The config's name as the user gave it.
    pub config_name: String,
    /// The file it is mounted as (`None` with `runtime`: used by the runtime, e.g. a
    /// credential spec, not mounted).
    pub file: Option<FileTarget>,
    /// The config is consumed by the runtime rather than mounted.
    pub runtime: bool,
}

/// One `--ulimit name=soft:hard`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Ulimit {
    /// e.g. `nofile`.
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}
