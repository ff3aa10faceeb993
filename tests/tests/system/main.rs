//! System endpoints and error behaviour (issue #2): _ping, version, info, events, API version
//! negotiation, Docker's error statuses and messages.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_ping_version_info;
mod t20_events;
mod t30_errors;
mod t40_plugins;
mod t50_fuzz;
mod t60_load;

/// Unix time in seconds with nanoseconds, the form `docker events --since/--until` accepts.
pub fn now_ts() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}
