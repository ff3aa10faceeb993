//! The cluster root CA, node certificates and join tokens.
//!
//! As in swarmkit: the root CA is created by `swarm init` and stored in the replicated
//! cluster object, so any manager can sign. A node certificate's subject carries the node ID
//! (CN), its role (OU `swarm-manager`/`swarm-worker`) and the cluster ID (O). Join tokens are
//! `SWMTKN-1-<base36 sha256 of the CA cert, 50 chars>-<25-char secret>`: the digest pins the
//! CA for a node that cannot verify the manager yet, the secret authorizes it.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SubjectPublicKeyInfo,
};
use sha2::{Digest, Sha256};
use shoal_scheduler::model::node::NodeRole;

use super::ClusterError;

/// OU of a manager's certificate (swarmkit `ca.ManagerRole`).
pub const MANAGER_OU: &str = "swarm-manager";
/// OU of a worker's certificate (swarmkit `ca.WorkerRole`).
pub const WORKER_OU: &str = "swarm-worker";
/// CN of the root CA, as swarmkit names it.
const ROOT_CN: &str = "swarm-ca";
/// Length of a base36 sha256 digest in a token.
const DIGEST_LEN: usize = 50;
/// Length of a token secret and of node IDs.
const SECRET_LEN: usize = 25;
/// Root CA validity (swarmkit: 20 years).
const ROOT_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// A freshly created root CA.
#[derive(Clone)]
pub struct RootCa {
    /// PEM of the CA certificate.
    pub cert_pem: String,
    /// PEM of the CA private key.
    pub key_pem: String,
}

impl std::fmt::Debug for RootCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCa").finish_non_exhaustive()
    }
}

fn ca_err(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Certificate(e.to_string())
}

impl RootCa {
    /// Creates a new self-signed root CA.
    pub fn generate() -> Result<Self, ClusterError> {
        let key = KeyPair::generate().map_err(ca_err)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, ROOT_CN);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(3600)).into();
        params.not_after = (now + ROOT_VALIDITY).into();
        let cert = params.self_signed(&key).map_err(ca_err)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A node's new key pair, as PEM, and its public key (SubjectPublicKeyInfo DER) to send in a
/// join or renewal request.
pub fn generate_node_key() -> Result<(String, Vec<u8>), ClusterError> {
    let key = KeyPair::generate().map_err(ca_err)?;
    Ok((key.serialize_pem(), key.subject_public_key_info()))
}

/// What a node certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// CN: the node ID.
    pub node_id: String,
    /// OU: the role.
    pub role: NodeRole,
    /// O: the cluster ID.
    pub cluster_id: String,
}

/// Signs a certificate for `who` over `public_key_der` (SubjectPublicKeyInfo DER) with the
/// root CA, valid for `expiry`. Managers also get the `swarm-manager` DNS name peers verify.
pub fn sign_node_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    public_key_der: &[u8],
    who: &NodeIdentity,
    expiry: Duration,
) -> Result<String, ClusterError> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(ca_err)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key).map_err(ca_err)?;
    let public_key = SubjectPublicKeyInfo::from_der(public_key_der)
        .map_err(|e| ClusterError::InvalidArgument(format!("bad public key: {e}")))?;
    // Clients verify the `swarm-manager` name, so only managers' certificates carry it: a
    // worker cannot pose as a manager to other nodes (swarmkit puts the role in the SANs the
    // same way). A promoted worker gets a new certificate before it serves.
    let mut params =
        CertificateParams::new(vec![role_ou(who.role).to_owned(), who.node_id.clone()])
            .map_err(ca_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, who.node_id.as_str());
    dn.push(DnType::OrganizationalUnitName, role_ou(who.role));
    dn.push(DnType::OrganizationName, who.cluster_id.as_str());
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = SystemTime::now();
    // Backdate a little for clock skew between nodes, as swarmkit does.
    params.not_before = (now - Duration::from_secs(300)).into();
    params.not_after = (now + expiry).into();
    let cert = params.signed_by(&public_key, &issuer).map_err(ca_err)?;
    Ok(cert.pem())
}

/// The OU for `role`.
pub fn role_ou(role: NodeRole) -> &'static str {
    match role {
        NodeRole::Manager => MANAGER_OU,
        NodeRole::Worker => WORKER_OU,
    }
}

fn first_der(pem_text: &str) -> Result<Vec<u8>, ClusterError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).map_err(ca_err)?;
    Ok(pem.contents)
}

/// Reads the identity from a node certificate (DER).
pub fn identity_from_der(der: &[u8]) -> Result<NodeIdentity, ClusterError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(ca_err)?;
    let subject = cert.subject();
    let get = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next()
            .and_then(|a| a.as_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let node_id = get(&mut subject.iter_common_name());
    let ou = get(&mut subject.iter_organizational_unit());
    let cluster_id = get(&mut subject.iter_organization());
    let role = match ou.as_str() {
        MANAGER_OU => NodeRole::Manager,
        WORKER_OU => NodeRole::Worker,
        other => {
            return Err(ClusterError::Certificate(format!(
                "certificate has unknown role {other:?}"
            )));
        }
    };
    Ok(NodeIdentity {
        node_id,
        role,
        cluster_id,
    })
}

/// Reads the identity from a node certificate (PEM).
pub fn identity_from_pem(pem: &str) -> Result<NodeIdentity, ClusterError> {
    identity_from_der(&first_der(pem)?)
}

/// When a certificate (PEM) expires, and when it was issued.
pub fn validity(pem: &str) -> Result<(SystemTime, SystemTime), ClusterError> {
    let der = first_der(pem)?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(ca_err)?;
    let to_time = |t: x509_parser::time::ASN1Time| {
        let secs = u64::try_from(t.timestamp()).unwrap_or(0);
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    };
    Ok((
        to_time(cert.validity().not_before),
        to_time(cert.validity().not_after),
    ))
}

/// Whether a certificate issued at `not_before` and expiring at `not_after` should be renewed
/// at `now`: past half of its lifetime, like swarmkit (which picks a random point in 50-80%).
pub fn needs_renewal(not_before: SystemTime, not_after: SystemTime, now: SystemTime) -> bool {
    let life = not_after.duration_since(not_before).unwrap_or_default();
    now >= not_before + life / 2
}

/// Encodes `bytes` (big-endian) in base 36, lower case, left-padded with '0' to `width`.
fn base36(bytes: &[u8], width: usize) -> String {
    let mut num: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::new();
    while num.iter().any(|b| *b != 0) {
        let mut rem: u32 = 0;
        for b in num.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = u8::try_from(cur / 36).unwrap_or(0);
            rem = cur % 36;
        }
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[rem as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// The token form of a CA certificate's digest: base36 of sha256 over its DER.
pub fn ca_digest_base36(ca_cert_pem: &str) -> Result<String, ClusterError> {
    Ok(digest_der_base36(&first_der(ca_cert_pem)?))
}

/// The token form of the digest of a DER certificate.
pub fn digest_der_base36(der: &[u8]) -> String {
    base36(&Sha256::digest(der), DIGEST_LEN)
}

/// A random identifier of 25 base36 characters (node IDs, token secrets), as swarmkit's
/// `identity.NewID` (128 random bits).
pub fn random_id() -> String {
    let bytes: [u8; 16] = rand::random();
    base36(&bytes, SECRET_LEN)
}

/// A new join token for the CA whose digest is `digest`.
pub fn new_join_token(digest: &str) -> String {
    format!("SWMTKN-1-{digest}-{}", random_id())
}

/// A parsed join token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// base36 sha256 of the CA certificate.
    pub digest: String,
    /// The secret part.
    pub secret: String,
}

/// Parses `SWMTKN-1-<digest>-<secret>`.
///
/// Errors: [`ClusterError::InvalidArgument`] with dockerd's wording for a malformed token.
pub fn parse_join_token(token: &str) -> Result<ParsedToken, ClusterError> {
    let bad = || ClusterError::InvalidArgument("invalid join token".into());
    let rest = token.trim().strip_prefix("SWMTKN-1-").ok_or_else(bad)?;
    let (digest, secret) = rest.split_once('-').ok_or_else(bad)?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    if !ok(digest, DIGEST_LEN) || !ok(secret, SECRET_LEN) {
        return Err(bad());
    }
    Ok(ParsedToken {
        digest: digest.to_owned(),
        secret: secret.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_has_san(pem: &str, name: &str) -> bool {
        let der = first_der(pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.subject_alternative_name()
            .unwrap()
            .map(|san| {
                san.value.general_names.iter().any(
                    |g| matches!(g, x509_parser::extensions::GeneralName::DNSName(n) if *n == name),
                )
            })
            .unwrap_or(false)
    }

    #[test]
    fn base36_pads_and_encodes() {
        assert_eq!(base36(&[0], 3), "000");
        assert_eq!(base36(&[35], 1), "z");
        assert_eq!(base36(&[1, 0], 0), "74"); // 256 = 7*36 + 4
        assert_eq!(base36(&[0xff; 32], 0).len(), DIGEST_LEN);
    }

    #[test]
    fn tokens_round_trip_and_pin_the_ca() {
        let ca = RootCa::generate().unwrap();
        let digest = ca_digest_base36(&ca.cert_pem).unwrap();
        let token = new_join_token(&digest);
        assert!(token.starts_with("SWMTKN-1-"));
        assert_eq!(token.len(), "SWMTKN-1-".len() + 50 + 1 + 25);
        let parsed = parse_join_token(&token).unwrap();
        assert_eq!(parsed.digest, digest);
        assert_ne!(new_join_token(&digest), token, "secrets are random");
        let other = RootCa::generate().unwrap();
        assert_ne!(ca_digest_base36(&other.cert_pem).unwrap(), digest);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for t in ["", "SWMTKN-1-abc-def", "SWMTKN-2-x-y", "junk"] {
            assert!(parse_join_token(t).is_err(), "{t}");
        }
    }

    #[test]
    fn node_certificate_carries_identity_and_expiry() {
        let ca = RootCa::generate().unwrap();
        let (_key, public) = generate_node_key().unwrap();
        let who = NodeIdentity {
            node_id: random_id(),
            role: NodeRole::Manager,
            cluster_id: random_id(),
        };
        let expiry = Duration::from_secs(3600);
        let pem = sign_node_cert(&ca.cert_pem, &ca.key_pem, &public, &who, expiry).unwrap();
        assert_eq!(identity_from_pem(&pem).unwrap(), who);
        assert!(pem_has_san(&pem, MANAGER_OU));
        let worker = NodeIdentity {
            role: NodeRole::Worker,
            ..who.clone()
        };
        let wpem = sign_node_cert(&ca.cert_pem, &ca.key_pem, &public, &worker, expiry).unwrap();
        assert!(
            !pem_has_san(&wpem, MANAGER_OU),
            "a worker must not pose as a manager"
        );
        let (nb, na) = validity(&pem).unwrap();
        let life = na.duration_since(nb).unwrap();
        assert!(life >= expiry && life <= expiry + Duration::from_secs(400));
        assert!(!needs_renewal(nb, na, SystemTime::now()));
        assert!(needs_renewal(nb, na, na));
    }
}
