//! The settings a SIGHUP can change at run time, shared by the parts that read them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::DaemonConfig;

/// The reloadable values, as they are now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveValues {
    /// `debug`.
    pub debug: bool,
    /// `log-level`.
    pub log_level: String,
    /// Engine labels (`key=value`).
    pub labels: Vec<String>,
    /// Default log driver for new containers.
    pub log_driver: String,
    /// Default log options for new containers.
    pub log_opts: HashMap<String, String>,
}

impl LiveValues {
    /// The reloadable part of a daemon configuration.
    pub fn from_config(cfg: &DaemonConfig) -> Self {
        LiveValues {
            debug: cfg.debug,
            log_level: cfg.log_level.clone(),
            labels: cfg.labels.clone(),
            log_driver: cfg.log_driver.clone(),
            log_opts: cfg.log_opts.clone(),
        }
    }
}

/// A cheap-to-clone handle on the live values.
#[derive(Debug, Clone, Default)]
pub struct LiveConfig {
    inner: Arc<RwLock<LiveValues>>,
}

impl LiveConfig {
    /// Starts with `values`.
    pub fn new(values: LiveValues) -> Self {
        LiveConfig {
            inner: Arc::new(RwLock::new(values)),
        }
    }

    /// A copy of the current values.
    pub fn get(&self) -> LiveValues {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces every value at once, so readers never see half a reload.
    pub fn set(&self, values: LiveValues) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = values;
    }

    /// The default log driver and options for a new container.
    pub fn log_defaults(&self) -> (String, HashMap<String, String>) {
        let v = self.inner.read().unwrap_or_else(|e| e.into_inner());
        (v.log_driver.clone(), v.log_opts.clone())
    }
}
