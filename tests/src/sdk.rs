//! bollard (the Rust Docker SDK) connected to a daemon's socket, version negotiated as SDKs do.

use crate::daemon::Daemon;

/// A bollard client for `d`, after `negotiate_version` (dockerd 20.10 speaks only API 1.41).
pub async fn connect(d: &Daemon) -> bollard::Docker {
    let sock = d.sock().display().to_string();
    let client = bollard::Docker::connect_with_unix(&sock, 120, bollard::API_DEFAULT_VERSION)
        .unwrap_or_else(|e| panic!("bollard connect {sock}: {e}"));
    client
        .negotiate_version()
        .await
        .unwrap_or_else(|e| panic!("bollard negotiate_version: {e}"))
}
