//! The joining side of `docker swarm join`: pin the manager's CA by the token's digest,
//! then ask for a node certificate over TLS that trusts only that CA.
//!
//! A node that joins has no way to verify the manager yet. As in swarmkit, it reads the CA
//! certificate without trusting it (here: from the TLS handshake, where managers present
//! their certificate followed by the CA's), and accepts it only if its sha256 digest equals
//! the one in the token. Everything after that is verified TLS against that CA.

use std::sync::Arc;
use std::time::Duration;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use super::ClusterError;
use super::ca::digest_der_base36;
use super::pb::cluster_client::ClusterClient;
use super::rpc::{JoinRequest, JoinResponse, decode, encode};

/// How long to wait for a manager's TCP + TLS handshake.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts any server certificate: used only to read the chain, which is then checked
/// against the token's digest before anything is trusted.
#[derive(Debug)]
struct ReadChainOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for ReadChainOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn unreachable(addr: &str, e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Unavailable(format!("could not connect to the manager at {addr}: {e}"))
}

/// Reads the CA certificate from the manager at `addr` and returns it as PEM if its digest
/// is `digest` (the token's).
///
/// Errors: Unavailable if the manager cannot be reached; InvalidArgument if no certificate
/// in its chain matches the token (a token from another cluster, or a man in the middle).
pub async fn fetch_pinned_ca(addr: &str, digest: &str) -> Result<String, ClusterError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterError::Certificate(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadChainOnly(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(shoal_raft::tls::MANAGER_SERVER_NAME)
        .map_err(|e| ClusterError::Certificate(e.to_string()))?;
    let tls = tokio::time::timeout(DIAL_TIMEOUT, async {
        let tcp = TcpStream::connect(addr).await?;
        connector.connect(name, tcp).await
    })
    .await
    .map_err(|_| unreachable(addr, "timed out"))?
    .map_err(|e| unreachable(addr, e))?;
    let chain = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(<[CertificateDer<'_>]>::to_vec)
        .unwrap_or_default();
    chain
        .iter()
        .find(|c| digest_der_base36(c.as_ref()) == digest)
        .map(|c| der_to_pem(c.as_ref()))
        .ok_or_else(|| {
            ClusterError::InvalidArgument(format!(
                "remote CA does not match fingerprint. Expected: {digest}"
            ))
        })
}

/// A channel to `addr` that trusts only `ca_pem`, with `identity` (cert chain, key) as the
/// client certificate when the node has one.
pub fn channel(
    addr: &str,
    ca_pem: &str,
    identity: Option<(&str, &str)>,
) -> Result<Channel, ClusterError> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_pem))
        .domain_name(shoal_raft::tls::MANAGER_SERVER_NAME);
    if let Some((cert, key)) = identity {
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    let endpoint = Endpoint::from_shared(format!("https://{addr}"))
        .map_err(|e| ClusterError::InvalidArgument(format!("invalid manager address {addr}: {e}")))?
        .tls_config(tls)
        .map_err(|e| ClusterError::Certificate(e.to_string()))?
        .connect_timeout(DIAL_TIMEOUT)
        .timeout(Duration::from_secs(15))
        .tcp_nodelay(true);
    Ok(endpoint.connect_lazy())
}

/// Node IDs this node accepts as managers (from its dispatcher session); empty until the
/// first session answer, when any manager certificate of the cluster CA is accepted.
pub type ManagerIds = Arc<std::sync::RwLock<Vec<String>>>;

/// Verifies a manager as the cluster CA does, then that its certificate names a current
/// manager: every manager shares the `swarm-manager` name, and a demoted or removed one
/// keeps a valid certificate until it expires.
#[derive(Debug)]
struct CurrentManager {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    allowed: ManagerIds,
}

impl ServerCertVerifier for CurrentManager {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let who = super::ca::identity_from_der(end_entity.as_ref())
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let allowed = self.allowed.read().unwrap_or_else(|e| e.into_inner());
        if who.role != shoal_scheduler::model::node::NodeRole::Manager
            || (!allowed.is_empty() && !allowed.contains(&who.node_id))
        {
            tracing::warn!(peer = %who.node_id, "refusing a peer that is not a current manager");
            return Err(rustls::Error::General(format!(
                "node {} is not a current manager",
                who.node_id
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A channel to the manager at `addr` for this node's session (heartbeats, renewal) that
/// accepts the peer only if its certificate chains to `ca_pem` and names a manager in
/// `allowed`; `chain_pem`/`key_pem` are the client certificate.
pub fn manager_channel(
    addr: &str,
    ca_pem: &str,
    chain_pem: &str,
    key_pem: &str,
    allowed: ManagerIds,
) -> Result<Channel, ClusterError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let cert_err = |e: &dyn std::fmt::Display| ClusterError::Certificate(e.to_string());
    let mut roots = rustls::RootCertStore::empty();
    for der in super::ca::all_der(ca_pem) {
        roots
            .add(CertificateDer::from(der))
            .map_err(|e| cert_err(&e))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| cert_err(&e))?;
    let chain: Vec<CertificateDer<'static>> = super::ca::all_der(chain_pem)
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| cert_err(&e))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CurrentManager { inner, allowed }))
        .with_client_auth_cert(chain, key)
        .map_err(|e| cert_err(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    // A resumed session skips certificate verification: every handshake must check the
    // peer against the current manager list.
    config.resumption = rustls::client::Resumption::disabled();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let target = addr.to_owned();
    let connect = tower::service_fn(move |_: tonic::transport::Uri| {
        let connector = connector.clone();
        let target = target.clone();
        async move {
            let name = ServerName::try_from(shoal_raft::tls::MANAGER_SERVER_NAME)
                .map_err(std::io::Error::other)?;
            let tls = tokio::time::timeout(DIAL_TIMEOUT, async {
                let tcp = TcpStream::connect(&target).await?;
                tcp.set_nodelay(true)?;
                connector.connect(name, tcp).await
            })
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| ClusterError::InvalidArgument(format!("invalid manager address {addr}: {e}")))?
        .timeout(Duration::from_secs(15));
    Ok(endpoint.connect_with_connector_lazy(connect))
}

/// Sends the join request to `addr`, whose CA is `ca_pem`.
pub async fn request_join(
    addr: &str,
    ca_pem: &str,
    req: &JoinRequest,
) -> Result<JoinResponse, ClusterError> {
    let mut client = ClusterClient::new(channel(addr, ca_pem, None)?);
    let reply = client
        .join(encode(req).map_err(ClusterError::from_status)?)
        .await
        .map_err(ClusterError::from_status)?;
    decode(reply.get_ref()).map_err(ClusterError::from_status)
}

/// PEM-encodes a DER certificate.
pub fn der_to_pem(der: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= n {
                b64.push(TABLE[((v >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_accept_only_current_managers() {
        use super::super::ca::{self, NodeIdentity};
        use shoal_scheduler::model::node::NodeRole;
        let root = ca::RootCa::generate().unwrap();
        let cluster_id = ca::random_id();
        let cert = |role: NodeRole| {
            let node_id = ca::random_id();
            let (_key, public) = ca::generate_node_key().unwrap();
            let pem = ca::sign_node_cert(
                &root.cert_pem,
                &root.key_pem,
                &public,
                &NodeIdentity {
                    node_id: node_id.clone(),
                    role,
                    cluster_id: cluster_id.clone(),
                },
                Duration::from_secs(3600),
            )
            .unwrap();
            (node_id, ca::all_der(&pem).remove(0))
        };
        let (current, current_der) = cert(NodeRole::Manager);
        let (_demoted, demoted_der) = cert(NodeRole::Manager);
        let (_worker, worker_der) = cert(NodeRole::Worker);
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(ca::all_der(&root.cert_pem).remove(0)))
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let allowed: ManagerIds = Arc::new(std::sync::RwLock::new(vec![current]));
        let v = CurrentManager {
            inner: rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap(),
            allowed: allowed.clone(),
        };
        let name = ServerName::try_from(shoal_raft::tls::MANAGER_SERVER_NAME).unwrap();
        let check = |der: &Vec<u8>| {
            v.verify_server_cert(
                &CertificateDer::from(der.clone()),
                &[],
                &name,
                &[],
                UnixTime::now(),
            )
            .is_ok()
        };
        assert!(check(&current_der), "a current manager is accepted");
        assert!(
            !check(&demoted_der),
            "a manager certificate of a node no longer a manager is refused"
        );
        assert!(!check(&worker_der), "a worker cannot pose as a manager");
        allowed.write().unwrap().clear();
        assert!(
            check(&demoted_der),
            "before the first session any manager is"
        );
    }

    #[test]
    fn pem_round_trips_through_x509_parser() {
        let ca = super::super::ca::RootCa::generate().unwrap();
        let (_, parsed) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes()).unwrap();
        let again = der_to_pem(&parsed.contents);
        let (_, reparsed) = x509_parser::pem::parse_x509_pem(again.as_bytes()).unwrap();
        assert_eq!(reparsed.contents, parsed.contents);
    }
}
