//! The persisted shape of a container: what survives a daemon restart.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shoal_api::models::{ContainerConfig, HostConfig};

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started (or start failed).
    #[default]
    Created,
    /// Task running.
    Running,
    /// Task frozen.
    Paused,
    /// Waiting to be restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Task exited.
    Exited,
    /// Removal failed half way.
    Dead,
}

impl Status {
    /// The lower-case name Docker uses in `State.Status` and filters.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Whether a task is alive (running or frozen).
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// The mutable run state (`State` in inspect).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Current status.
    pub status: Status,
    /// Host PID of the init process while live.
    pub pid: u32,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Error text of the last failed start.
    pub error: String,
    /// When the last run started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the last run ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Killed by the OOM killer.
    pub oom_killed: bool,
    /// Set by `docker stop`/`kill` so restart policies don't revive it.
    pub manually_stopped: bool,
    /// The health check's state while the container has one (`State.Health`).
    #[serde(default)]
    pub health: Option<HealthState>,
}

/// `State.Health`: the outcome of the container's health probes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthState {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failed probes.
    pub failing_streak: i64,
    /// The last probes, oldest first (at most five, as dockerd keeps).
    pub log: Vec<ProbeResult>,
}

/// One health probe (`State.Health.Log[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// When the probe started.
    pub start: DateTime<Utc>,
    /// When it ended.
    pub end: DateTime<Utc>,
    /// Its exit code; -1 when it timed out or could not run.
    pub exit_code: i64,
    /// The first 4 KiB of its output.
    pub output: String,
}

/// Everything Shoal stores for one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex characters.
    pub id: String,
    /// Name without the leading slash.
    pub name: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// The merged config (image defaults applied), as inspect shows it.
    pub config: ContainerConfig,
    /// Host config as given.
    pub host_config: HostConfig,
    /// `sha256:` image ID.
    pub image_id: String,
    /// Entrypoint + cmd head (`Path` in inspect).
    pub path: String,
    /// The rest (`Args` in inspect).
    pub args: Vec<String>,
    /// Run state.
    pub state: RunState,
    /// Times restarted by its policy.
    pub restart_count: i64,
    /// Resolved user for the init process.
    pub uid: u32,
    /// Resolved primary group.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Exec IDs created on this container and not yet cleaned.
    #[serde(default)]
    pub exec_ids: Vec<String>,
    /// Network mode as given (`default` when empty).
    pub network_mode: String,
    /// Endpoints by network name (addresses set while running).
    #[serde(default)]
    pub networks: std::collections::BTreeMap<String, crate::network::model::EndpointRecord>,
    /// Published ports while running.
    #[serde(default)]
    pub ports: Vec<crate::network::model::PortMapping>,
    /// Extra labels kept out of Config (none yet).
    #[serde(default)]
    pub extra: HashMap<String, String>,
    /// The volumes (and inherited binds) it mounts, resolved at create.
    #[serde(default)]
    pub volumes: Vec<super::containers::VolumeMount>,
}

impl ContainerRecord {
    /// Whether the container was created with a TTY.
    pub fn tty(&self) -> bool {
        self.config.tty.unwrap_or(false)
    }

    /// Whether stdin stays open for attach.
    pub fn open_stdin(&self) -> bool {
        self.config.open_stdin.unwrap_or(false)
    }

    /// Short (12-char) ID.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
}
