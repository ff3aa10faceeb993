//! A client for OCI Distribution / Docker Registry v2 registries: what
//! `docker pull`, `push`, `login` and `GET /distribution` need.
//!
//! It knows HTTP and registries only; the image service
//! (`image::pull`, `image::push`) streams what it fetches into containerd.
//!
//! ```text
//! config.rs   daemon.json/flags: insecure-registries, registry-mirrors,
//!             max-concurrent-downloads/uploads, certs.d directories
//! auth.rs     X-Registry-Auth credentials, WWW-Authenticate challenges,
//!             basic and bearer (token server) authorisation
//! tls.rs      per-host HTTP clients: loopback/insecure plain HTTP, TLS with
//!             certs.d CAs and client certificates
//! session.rs  one repository on one registry: manifests, blobs, uploads
//! ```
//!
//! Why not oci-client: it cannot present client certificates (certs.d
//! `client.cert`/`client.key`), and its reqwest 0.13 line brings a second
//! TLS provider (aws-lc) next to the workspace's ring-based rustls. The
//! protocol subset needed here is small; reqwest over the workspace rustls
//! carries it, with blobs streamed both ways.

mod auth;
mod config;
mod session;
mod tls;

pub use auth::Credentials;
pub use config::{RegistryConfig, RegistryFlags};
pub use session::{Action, BlobBody, Manifest, Session};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The registry host Docker Hub names resolve to.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API actually lives.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Registry errors, with dockerd's wording where the CLI shows it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Manifest or blob unknown (`manifest unknown`), repository missing.
    #[error("{0}")]
    NotFound(String),
    /// Credentials missing or refused.
    #[error("{0}")]
    Unauthorized(String),
    /// The registry refused the request (`denied`, bad manifest...).
    #[error("{0}")]
    Refused(String),
    /// A blob or manifest did not match its digest or size.
    #[error("{0}")]
    Integrity(String),
    /// The registry could not be reached or answered nonsense.
    #[error("{0}")]
    Transport(String),
    /// Bad configuration (certificates, mirrors).
    #[error("{0}")]
    Config(String),
}

/// Result alias.
pub type RegistryResult<T> = Result<T, RegistryError>;

/// Opens sessions on registries; holds the configuration and one HTTP
/// client per host (so connections and TLS settings are reused). Cheap to
/// clone; a SIGHUP replaces the configuration with [`Self::set_config`].
#[derive(Debug, Clone)]
pub struct Registries {
    state: Arc<Mutex<State>>,
}

/// The configuration and the clients built from it, swapped together so a
/// client never outlives the settings (insecure or TLS) it was built with.
#[derive(Debug)]
struct State {
    config: Arc<RegistryConfig>,
    clients: HashMap<String, tls::HostClient>,
}

impl Registries {
    /// Registries configured by `config`.
    pub fn new(config: RegistryConfig) -> Self {
        Registries {
            state: Arc::new(Mutex::new(State {
                config: Arc::new(config),
                clients: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is replaced whole, never left half-written: a poisoned lock still holds
        // a consistent value.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration in force now (a pull or push reads it once, at its start).
    pub fn config(&self) -> Arc<RegistryConfig> {
        self.lock().config.clone()
    }

    /// Replaces the configuration (reload): the next pull or push uses it, and the
    /// per-host clients are rebuilt from it. Transfers under way finish as they began.
    pub fn set_config(&self, config: RegistryConfig) {
        let mut state = self.lock();
        if *state.config != config {
            state.config = Arc::new(config);
            state.clients.clear();
        }
    }

    /// The HTTP client for `host` (`host[:port]`, Docker Hub as docker.io).
    fn client(&self, host: &str) -> RegistryResult<tls::HostClient> {
        let mut state = self.lock();
        if let Some(c) = state.clients.get(host) {
            return Ok(c.clone());
        }
        let c = tls::HostClient::build(host, &state.config)?;
        state.clients.insert(host.to_owned(), c.clone());
        Ok(c)
    }

    /// Opens a session on `repo` (e.g. `library/busybox`) at `host`,
    /// authorised for `actions`. For Docker Hub names, pulls go through the
    /// configured mirrors first (each tried in turn when it cannot be
    /// reached or lacks the repository), then Docker Hub itself.
    pub async fn open(
        &self,
        host: &str,
        repo: &str,
        creds: Option<&Credentials>,
        actions: &[Action],
        extra_pull_repos: &[String],
    ) -> RegistryResult<Session> {
        let mut endpoints: Vec<(String, Option<&Credentials>)> = Vec::new();
        if host == DOCKER_HUB {
            if actions == [Action::Pull] {
                for m in &self.config().registry_mirrors {
                    // Mirrors get no credentials meant for Docker Hub.
                    endpoints.push((m.clone(), None));
                }
            }
            endpoints.push((DOCKER_HUB_API.to_owned(), creds));
        } else {
            endpoints.push((host.to_owned(), creds));
        }
        let mut last = None;
        let n = endpoints.len();
        for (i, (endpoint, creds)) in endpoints.into_iter().enumerate() {
            let client = self.client(&endpoint)?;
            match Session::open(client, host, repo, creds, actions, extra_pull_repos).await {
                Ok(s) => return Ok(s),
                Err(e) if i + 1 < n => {
                    tracing::warn!(mirror = %endpoint, error = %e, "registry mirror failed, trying the next");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Config("no registry endpoint".to_owned())))
    }

    /// `docker login`: checks `creds` against `host`'s `/v2/` (basic, or a
    /// token from its token server). Returns the identity token the token
    /// server issued, if any.
    pub async fn login(&self, host: &str, creds: &Credentials) -> RegistryResult<Option<String>> {
        let endpoint = if host == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            host
        };
        let client = self.client(endpoint)?;
        session::login(client, creds).await
    }
}

/// True for hosts Docker talks to over plain HTTP without configuration:
/// `localhost` and loopback addresses, with or without a port.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    if name == "localhost" {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }
}
