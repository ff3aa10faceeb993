//! Daemon flags and daemon.json.
