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
    fn pem_round_trips_through_x509_parser() {
        let ca = super::super::ca::RootCa::generate().unwrap();
        let (_, parsed) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes()).unwrap();
        let again = der_to_pem(&parsed.contents);
        let (_, reparsed) = x509_parser::pem::parse_x509_pem(again.as_bytes()).unwrap();
        assert_eq!(reparsed.contents, parsed.contents);
    }
}
