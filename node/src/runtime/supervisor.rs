//! The embedded containerd: config, start, health, restart with back-off.
