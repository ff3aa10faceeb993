//! The cluster root CA, node certificates and join tokens.
//!
//! As in swarmkit: the root CA is created by `swarm init` and stored in the replicated
//! cluster object, so any manager can sign. A node certificate's subject carries the node ID
//! (CN), its role (OU `swarm-manager`/`swarm-worker`) and the cluster ID (O). Join tokens are
//! `SWMTKN-1-<base36 sha256 of the CA cert, 50 chars>-<25-char secret>`: the digest pins the
//! CA for a node that cannot verify the manager yet, the secret authorizes it.

use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    SubjectPublicKeyInfo,
};
use sha2::{Digest, Sha256};
use shoal_scheduler::model::node::{NodeRole, NodeTlsInfo};

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

impl Drop for RootCa {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key_pem);
    }
}

/// Whether `presented` is `expected`, in time that does not depend on where
/// they differ (a join token must not leak its secret through timing).
pub fn token_matches(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
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
    // Backdate a little for clock skew between nodes, as swarmkit does; a short test
    // lifetime is backdated in proportion so renewal still falls after issuance.
    params.not_before = (now - (expiry / 10).min(Duration::from_secs(300))).into();
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

/// Whether two PEM texts hold the same first certificate (compared as DER,
/// so line wrapping does not matter).
pub fn same_certificate(a_pem: &str, b_pem: &str) -> bool {
    matches!((first_der(a_pem), first_der(b_pem)), (Ok(a), Ok(b)) if a == b)
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

/// When a certificate valid from `not_before` to `not_after` is renewed: at `fraction` of its
/// lifetime (swarmkit picks it at random in [`RENEW_FROM`], [`RENEW_UNTIL`]).
pub fn renewal_time(not_before: SystemTime, not_after: SystemTime, fraction: f64) -> SystemTime {
    let life = not_after.duration_since(not_before).unwrap_or_default();
    not_before + life.mul_f64(fraction.clamp(0.0, 1.0))
}

/// Earliest renewal point, as a fraction of a certificate's lifetime (swarmkit's).
pub const RENEW_FROM: f64 = 0.5;
/// Latest renewal point, as a fraction of a certificate's lifetime (swarmkit's).
pub const RENEW_UNTIL: f64 = 0.8;

/// A random renewal time in 50-80% of the lifetime, so nodes issued together do not all
/// renew at once (swarmkit's rule).
pub fn random_renewal_time(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    let f = RENEW_FROM + rand::random::<f64>() * (RENEW_UNTIL - RENEW_FROM);
    renewal_time(not_before, not_after, f)
}

/// Every certificate in a PEM text, as DER, in order.
pub fn all_der(pem_text: &str) -> Vec<Vec<u8>> {
    x509_parser::pem::Pem::iter_from_buffer(pem_text.as_bytes())
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .map(|p| p.contents)
        .collect()
}

/// The first certificate of a PEM text, re-encoded in one canonical form (so two nodes
/// that hold the same root print it identically, as Docker's rotation progress compares).
pub fn canonical_pem(pem_text: &str) -> String {
    first_der(pem_text)
        .map(|d| super::join::der_to_pem(&d))
        .unwrap_or_else(|_| pem_text.to_owned())
}

/// The raw subject and SubjectPublicKeyInfo of a DER certificate.
pub fn subject_and_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), ClusterError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(ca_err)?;
    Ok((
        cert.subject().as_raw().to_vec(),
        cert.public_key().raw.to_vec(),
    ))
}

/// The SubjectPublicKeyInfo of the first certificate in `pem`.
pub fn public_key_of(pem: &str) -> Result<Vec<u8>, ClusterError> {
    Ok(subject_and_key(&first_der(pem)?)?.1)
}

/// What a node with certificate chain `chain_pem` (leaf, then the intermediate when a
/// rotation issued it) trusting `ca_pem` reports as its `TLSInfo`: the issuer is the
/// intermediate if there is one, else the root.
pub fn node_tls_info(chain_pem: &str, ca_pem: &str) -> Result<NodeTlsInfo, ClusterError> {
    let chain = all_der(chain_pem);
    let issuer = match chain.get(1) {
        Some(i) => i.clone(),
        None => first_der(ca_pem)?,
    };
    let (subject, key) = subject_and_key(&issuer)?;
    Ok(NodeTlsInfo {
        trust_root: canonical_pem(ca_pem),
        cert_issuer_subject: subject,
        cert_issuer_public_key: key,
    })
}

/// Signs the new root `new_cert_pem` with the current root, so a node that trusts only the
/// current root verifies certificates the new one issues (swarmkit's cross-signed CA).
pub fn cross_sign(
    new_cert_pem: &str,
    old_cert_pem: &str,
    old_key_pem: &str,
) -> Result<String, ClusterError> {
    let der = first_der(new_cert_pem)?;
    let (_, new) = x509_parser::parse_x509_certificate(&der).map_err(ca_err)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn_of(new.subject())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = new.validity().not_before.to_datetime();
    params.not_after = new.validity().not_after.to_datetime();
    let public_key = SubjectPublicKeyInfo::from_der(new.public_key().raw).map_err(ca_err)?;
    let old_key = KeyPair::from_pem(old_key_pem).map_err(ca_err)?;
    let issuer = Issuer::from_ca_cert_pem(old_cert_pem, old_key).map_err(ca_err)?;
    let cert = params.signed_by(&public_key, &issuer).map_err(ca_err)?;
    // Path building matches names byte for byte: the cross-signed certificate must name
    // exactly the new root.
    let (subject, _) = subject_and_key(cert.der())?;
    if subject != new.subject().as_raw() {
        return Err(ClusterError::InvalidArgument(
            "the new root's subject cannot be reproduced in its cross-signed certificate".into(),
        ));
    }
    Ok(cert.pem())
}

/// An x509 name as rcgen builds it (single-valued RDNs, the string types rcgen knows).
fn dn_of(name: &x509_parser::x509::X509Name<'_>) -> Result<DistinguishedName, ClusterError> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let unsupported = || ClusterError::InvalidArgument("unsupported CA subject name".into());
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err(unsupported());
        };
        let oid: Vec<u64> = attr.attr_type().iter().ok_or_else(unsupported)?.collect();
        let text = std::str::from_utf8(attr.attr_value().data).map_err(|_| unsupported())?;
        let value = match attr.attr_value().header.tag() {
            Tag::Utf8String => DnValue::Utf8String(text.to_owned()),
            Tag::PrintableString => {
                DnValue::PrintableString(text.try_into().map_err(|_| unsupported())?)
            }
            Tag::Ia5String => DnValue::Ia5String(text.try_into().map_err(|_| unsupported())?),
            _ => return Err(unsupported()),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
}

/// Checks an operator-given root (`docker swarm ca --rotate --ca-cert --ca-key`): a CA
/// certificate, valid now, whose key is `key_pem`.
///
/// Errors: InvalidArgument naming what is wrong.
pub fn check_signing_ca(cert_pem: &str, key_pem: &str) -> Result<(), ClusterError> {
    let bad = |m: String| ClusterError::InvalidArgument(m);
    let der = first_der(cert_pem).map_err(|e| bad(format!("invalid SigningCACert: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| bad(format!("invalid SigningCACert: {e}")))?;
    if !cert.is_ca() {
        return Err(bad("SigningCACert is not a CA certificate".into()));
    }
    if !cert.validity().is_valid() {
        return Err(bad("SigningCACert is expired or not yet valid".into()));
    }
    let key = KeyPair::from_pem(key_pem).map_err(|e| bad(format!("invalid SigningCAKey: {e}")))?;
    if key.subject_public_key_info() != cert.public_key().raw {
        return Err(bad("SigningCAKey does not match SigningCACert".into()));
    }
    Ok(())
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

    #[test]
    fn tokens_match_only_exactly() {
        let t = new_join_token(&"a".repeat(DIGEST_LEN));
        assert!(token_matches(&t, &t));
        assert!(!token_matches(&t[..t.len() - 1], &t));
        assert!(!token_matches(&format!("{t}x"), &t));
        assert!(!token_matches("", ""), "an unset token admits nobody");
    }

    #[test]
    fn debug_never_prints_keys_or_tokens() {
        let ca = RootCa::generate().unwrap();
        assert!(!format!("{ca:?}").contains("PRIVATE KEY"));
        let stored = shoal_scheduler::model::cluster::RootCa {
            ca_cert_pem: ca.cert_pem.clone(),
            ca_key_pem: ca.key_pem.clone(),
            ca_cert_digest: "sha256:x".into(),
            join_tokens: shoal_scheduler::model::cluster::JoinTokens {
                worker: "SWMTKN-1-worker-secret".into(),
                manager: "SWMTKN-1-manager-secret".into(),
            },
            root_rotation: None,
        };
        let shown = format!("{stored:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

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
        assert!(renewal_time(nb, na, RENEW_FROM) > SystemTime::now());
    }

    #[test]
    fn renewal_falls_between_half_and_four_fifths_of_the_lifetime() {
        let nb = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let na = nb + Duration::from_secs(1000);
        assert_eq!(renewal_time(nb, na, 0.5), nb + Duration::from_secs(500));
        for _ in 0..1000 {
            let t = random_renewal_time(nb, na);
            assert!(t >= nb + Duration::from_secs(500), "{t:?}");
            assert!(t <= nb + Duration::from_secs(800), "{t:?}");
        }
        // A short lifetime is backdated in proportion, so renewal is still in the future.
        let ca = RootCa::generate().unwrap();
        let (_key, public) = generate_node_key().unwrap();
        let who = NodeIdentity {
            node_id: random_id(),
            role: NodeRole::Worker,
            cluster_id: random_id(),
        };
        let pem = sign_node_cert(
            &ca.cert_pem,
            &ca.key_pem,
            &public,
            &who,
            Duration::from_secs(60),
        )
        .unwrap();
        let (nb, na) = validity(&pem).unwrap();
        assert!(renewal_time(nb, na, RENEW_FROM) > SystemTime::now());
    }

    /// Whether rustls accepts `chain` (leaf first) as a manager's server certificate
    /// when it trusts only `root_pem`: the same check every node's TLS makes.
    fn tls_accepts(root_pem: &str, chain: &[Vec<u8>]) -> bool {
        use rustls::client::danger::ServerCertVerifier;
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(first_der(root_pem).unwrap()))
            .unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider,
        )
        .build()
        .unwrap();
        let leaf = CertificateDer::from(chain[0].clone());
        let rest: Vec<CertificateDer<'_>> = chain[1..]
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect();
        v.verify_server_cert(
            &leaf,
            &rest,
            &ServerName::try_from(MANAGER_OU).unwrap(),
            &[],
            UnixTime::now(),
        )
        .is_ok()
    }

    #[test]
    fn cross_signed_root_verifies_against_both_roots() {
        let old = RootCa::generate().unwrap();
        let new = RootCa::generate().unwrap();
        let cross = cross_sign(&new.cert_pem, &old.cert_pem, &old.key_pem).unwrap();
        let (_key, public) = generate_node_key().unwrap();
        let who = NodeIdentity {
            node_id: random_id(),
            role: NodeRole::Manager,
            cluster_id: random_id(),
        };
        let hour = Duration::from_secs(3600);
        let leaf = sign_node_cert(&new.cert_pem, &new.key_pem, &public, &who, hour).unwrap();
        let chain = all_der(&format!("{leaf}{cross}"));
        assert_eq!(chain.len(), 2);
        assert!(
            tls_accepts(&old.cert_pem, &chain),
            "old root via the cross-signed cert"
        );
        assert!(tls_accepts(&new.cert_pem, &chain), "new root directly");
        assert!(
            !tls_accepts(&old.cert_pem, &chain[..1]),
            "without the cross-signed cert the old root cannot verify the new leaf"
        );
        let stranger = RootCa::generate().unwrap();
        assert!(!tls_accepts(&stranger.cert_pem, &chain));
        // The cross-signed cert carries the new root's key and name: a node reports the
        // new root as its issuer.
        let info = node_tls_info(&format!("{leaf}{cross}"), &old.cert_pem).unwrap();
        assert_eq!(
            info.cert_issuer_public_key,
            public_key_of(&new.cert_pem).unwrap()
        );
        let plain = node_tls_info(&leaf, &new.cert_pem).unwrap();
        assert_eq!(plain.cert_issuer_public_key, info.cert_issuer_public_key);
        assert_eq!(plain.trust_root, canonical_pem(&new.cert_pem));
    }

    #[test]
    fn operator_signing_ca_is_checked() {
        let ca = RootCa::generate().unwrap();
        let other = RootCa::generate().unwrap();
        assert!(check_signing_ca(&ca.cert_pem, &ca.key_pem).is_ok());
        assert!(check_signing_ca(&ca.cert_pem, &other.key_pem).is_err());
        assert!(check_signing_ca("junk", &ca.key_pem).is_err());
        let (_key, public) = generate_node_key().unwrap();
        let who = NodeIdentity {
            node_id: random_id(),
            role: NodeRole::Worker,
            cluster_id: random_id(),
        };
        let leaf = sign_node_cert(
            &ca.cert_pem,
            &ca.key_pem,
            &public,
            &who,
            Duration::from_secs(3600),
        )
        .unwrap();
        assert!(check_signing_ca(&leaf, &ca.key_pem).is_err(), "not a CA");
    }
}
