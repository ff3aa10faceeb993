//! Mutual TLS for the Raft transport. There is no plaintext path: both the server and every
//! client channel are built from a [`TlsConfig`], and the server requires a client
//! certificate signed by the cluster CA, so a peer without one gets nothing.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::error::StoreError;

/// The name managers' certificates carry as a DNS SAN, as in Docker's swarm certificates.
pub const MANAGER_SERVER_NAME: &str = "swarm-manager";

/// This node's certificate and key plus the cluster root CA, all PEM.
#[derive(Clone)]
pub struct TlsConfig {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    ca_pem: Vec<u8>,
    server_name: String,
}

// The key never goes to logs.
impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Builds a config from PEM bytes. Peers are verified against `ca_pem` and must present
    /// `server_name` ([`MANAGER_SERVER_NAME`] by default, see [`Self::with_server_name`]).
    ///
    /// The PEM is parsed when the server or a channel is built; bad material surfaces there as
    /// [`StoreError::Transport`].
    pub fn from_pem(
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
        ca_pem: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            ca_pem: ca_pem.into(),
            server_name: MANAGER_SERVER_NAME.to_owned(),
        }
    }

    /// Reads the three PEM files. Errors: [`StoreError::Io`].
    pub fn from_files(cert: &Path, key: &Path, ca: &Path) -> Result<Self, StoreError> {
        Ok(Self::from_pem(
            std::fs::read(cert)?,
            std::fs::read(key)?,
            std::fs::read(ca)?,
        ))
    }

    /// Overrides the name expected in peers' server certificates.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = name.into();
        self
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, &self.key_pem)
    }

    fn ca(&self) -> Certificate {
        Certificate::from_pem(&self.ca_pem)
    }

    /// Server side: present our certificate, require a client certificate from the CA.
    pub fn server_config(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(self.ca())
            .client_auth_optional(false)
    }

    /// Server side for a listener that also serves the swarm join RPC: a client
    /// certificate is optional at the handshake (a joining node has none yet), but one that
    /// is presented must chain to the cluster CA. The Raft service still refuses callers
    /// without a certificate (see [`crate::network::server`]), so they get nothing from Raft.
    pub fn server_config_join_allowed(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(self.ca())
            .client_auth_optional(true)
    }

    /// Client side: present our certificate, trust only the cluster CA.
    pub fn client_config(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca())
            .identity(self.identity())
            .domain_name(self.server_name.clone())
    }
}
