//! SIGHUP: re-read daemon.json and apply what can change without a restart.
//!
//! ```text
//! SIGHUP ─> DaemonConfig::load(flags) (blocking thread)
//!   error ─> log it, keep the running configuration
//!   ok    ─> config::reload::plan ─> restart-only changes logged
//!          ─> LiveConfig (info, new containers' log defaults) + log level
//!             + registry settings (next pull/push)
//!             + swarm engine labels ─> `reload` event (type daemon)
//! ```

use std::sync::{Arc, Mutex};

use shoal_api::models::EventMessageTypeEnum;
use tokio_util::sync::CancellationToken;

use crate::cluster::ClusterService;
use crate::config::{DaemonConfig, DaemonFlags, labels, reload};
use crate::events::EventsBus;
use crate::live::{LiveConfig, LiveValues};
use crate::registry::Registries;

/// Changes the process's log filter (`debug`, `log-level`); set up by `main`.
pub type LogLevelHook = Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Everything a reload touches.
pub struct Reloader {
    /// The command line, re-merged with the re-read file.
    pub flags: DaemonFlags,
    /// The configuration in force.
    pub running: Mutex<DaemonConfig>,
    /// Shared reloadable values.
    pub live: LiveConfig,
    /// Swarm engine labels.
    pub cluster: ClusterService,
    /// Registry settings for the next pulls and pushes.
    pub registries: Registries,
    /// Where the `reload` event goes.
    pub events: Arc<EventsBus>,
    /// Log filter changes.
    pub set_log_level: LogLevelHook,
    /// Daemon ID (the event's actor).
    pub daemon_id: String,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

/// The filter level for a configuration (`debug` wins over `log-level`).
pub fn effective_level(debug: bool, log_level: &str) -> &str {
    match (debug, log_level) {
        (true, _) => "debug",
        (false, "fatal" | "panic") => "error",
        (false, other) => other,
    }
}

impl Reloader {
    /// Reloads on every SIGHUP until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot install the SIGHUP handler: reload is off");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                got = hup.recv() => {
                    if got.is_none() {
                        return;
                    }
                    tracing::info!("SIGHUP received: reloading the daemon configuration");
                    self.clone().reload().await;
                }
            }
        }
    }

    /// One reload; errors are logged and leave everything as it was.
    pub async fn reload(self: Arc<Self>) {
        let flags = self.flags.clone();
        let loaded = tokio::task::spawn_blocking(move || DaemonConfig::load(&flags)).await;
        let new = match loaded {
            Ok(Ok(cfg)) => cfg,
            Ok(Err(e)) => {
                tracing::error!(
                    error = %e,
                    "configuration reload failed; the running configuration is unchanged"
                );
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed");
                return;
            }
        };
        let plan = {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            let plan = reload::plan(&running, &new);
            *running = plan.config.clone();
            plan
        };
        for key in &plan.needs_restart {
            tracing::warn!(
                key = *key,
                "daemon.json: {key} changed but only takes effect after a restart"
            );
        }
        let cfg = &plan.config;
        if let Err(e) = (self.set_log_level)(effective_level(cfg.debug, &cfg.log_level)) {
            tracing::error!(error = %e, "could not change the log level");
        }
        self.live.set(LiveValues::from_config(cfg));
        self.registries.set_config(cfg.registry.clone());
        self.cluster.set_engine_labels(labels::to_map(&cfg.labels));
        let hostname = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.events.publish(
            EventMessageTypeEnum::DAEMON,
            "reload",
            &self.daemon_id,
            reload::event_attributes(cfg, &hostname),
        );
        tracing::info!(
            debug = cfg.debug,
            log_level = %cfg.log_level,
            labels = ?cfg.labels,
            "daemon configuration reloaded"
        );
    }
}
