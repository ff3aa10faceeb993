//! One HTTP client per registry host, with the transport Docker would use:
//! plain HTTP for loopback and `insecure-registries`, otherwise TLS
//! verified against the system roots plus the host's certs.d CAs
//! (`*.crt`), presenting its client certificate (`*.cert` + `*.key`).
//!
//! A host that has a certs.d directory is always spoken to over TLS, even
//! on loopback: its CA is only meaningful if it is checked.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{RegistryConfig, RegistryError, RegistryResult, is_loopback};

/// An HTTP client bound to one registry host.
#[derive(Debug, Clone)]
pub(super) struct HostClient {
    pub http: reqwest::Client,
    /// `http://host:port` or `https://host:port`.
    pub base: String,
}

fn cfg_err(host: &str, what: impl std::fmt::Display) -> RegistryError {
    RegistryError::Config(format!("registry {host}: {what}"))
}

impl HostClient {
    pub fn build(host: &str, config: &RegistryConfig) -> RegistryResult<HostClient> {
        let certs_dir = config.certs_dir(host);
        let plain = certs_dir.is_none() && (is_loopback(host) || config.is_insecure(host));
        let tls = tls_config(host, certs_dir.as_deref())?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(30))
            // A registry that stops sending mid-blob must not hang a pull forever.
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("shoal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| cfg_err(host, e))?;
        let scheme = if plain { "http" } else { "https" };
        Ok(HostClient {
            http,
            base: format!("{scheme}://{host}"),
        })
    }
}

fn tls_config(host: &str, certs_dir: Option<&Path>) -> RegistryResult<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        // A system certificate rustls cannot parse is skipped, as Go's
        // x509 pool skips it.
        let _ = roots.add(c);
    }
    let mut client_pair = None;
    if let Some(dir) = certs_dir {
        let entries = std::fs::read_dir(dir).map_err(|e| cfg_err(host, e))?;
        let mut names: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        names.sort();
        for path in &names {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext {
                "crt" => {
                    for cert in CertificateDer::pem_file_iter(path)
                        .map_err(|e| cfg_err(host, format!("{}: {e}", path.display())))?
                    {
                        let cert =
                            cert.map_err(|e| cfg_err(host, format!("{}: {e}", path.display())))?;
                        roots
                            .add(cert)
                            .map_err(|e| cfg_err(host, format!("{}: {e}", path.display())))?;
                    }
                }
                "cert" => {
                    // dockerd's rule: client.cert pairs with client.key.
                    let key_path = path.with_extension("key");
                    if !key_path.exists() {
                        return Err(cfg_err(
                            host,
                            format!(
                                "missing key {} for client certificate {}",
                                key_path.display(),
                                path.display()
                            ),
                        ));
                    }
                    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                        .map_err(|e| cfg_err(host, format!("{}: {e}", path.display())))?
                        .collect::<Result<_, _>>()
                        .map_err(|e| cfg_err(host, format!("{}: {e}", path.display())))?;
                    let key = PrivateKeyDer::from_pem_file(&key_path)
                        .map_err(|e| cfg_err(host, format!("{}: {e}", key_path.display())))?;
                    client_pair = Some((certs, key));
                }
                "key" if !path.with_extension("cert").exists() => {
                    return Err(cfg_err(
                        host,
                        format!("missing client certificate for key {}", path.display()),
                    ));
                }
                _ => {}
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg_err(host, e))?
        .with_root_certificates(roots);
    let mut cfg = match client_pair {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| cfg_err(host, e))?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
