//! A peer with a certificate from another cluster's CA cannot talk to this cluster's managers:
//! the mutual-TLS handshake on the cluster port (2377) is refused, while a certificate of this
//! cluster (the control) is accepted.

use shoal_tests::cluster::{Cluster, Node, shared};
use std::path::PathBuf;
use std::process::Command;

/// The node's certificate, its key with any PEM headers dropped (dockerd keeps KEK headers in
/// it), and the cluster root CA, from `<data-root>/swarm/certificates/`.
fn tls_files(n: &Node, scratch: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let d = n.data_root().join("swarm/certificates");
    let key = std::fs::read_to_string(d.join("swarm-node.key"))
        .unwrap_or_else(|e| panic!("{}: no node key in {}: {e}", n.name(), d.display()));
    let clean: String = key
        .lines()
        .filter(|l| !l.is_empty() && !l.contains(':'))
        .map(|l| format!("{l}\n"))
        .collect();
    let key_path = scratch.join(format!("{}.key", n.name()));
    std::fs::write(&key_path, clean).unwrap();
    (
        d.join("swarm-node.crt"),
        key_path,
        d.join("swarm-root-ca.crt"),
    )
}

/// `openssl s_client` from the root namespace to `ip:2377` presenting `cert`/`key`; true if the
/// handshake completed and the server sent no alert. TLS 1.2 first, where a rejected client
/// certificate fails the handshake itself; TLS 1.3 if the server only speaks that, where the
/// rejection arrives as an alert after the client's Finished.
fn handshake(ip: &str, cert: &PathBuf, key: &PathBuf, ca: &PathBuf) -> (bool, String) {
    let mut text = String::new();
    for version in ["-tls1_2", "-tls1_3"] {
        let out = Command::new("timeout")
            .args(["20", "openssl", "s_client", version, "-connect"])
            .arg(format!("{ip}:2377"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .arg("-CAfile")
            .arg(ca)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run openssl (apt-get install openssl)");
        text = format!(
            "{version}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let unsupported = [
            "wrong version number",
            "unsupported protocol",
            "no protocols",
        ]
        .iter()
        .any(|w| text.contains(w));
        if unsupported {
            continue;
        }
        return (out.status.success() && !text.contains("alert number"), text);
    }
    (false, text)
}

#[test]
fn peer_with_certificate_of_another_ca_is_refused() {
    let a = shared();
    let b = Cluster::start(1, 0);
    let scratch = tempfile::tempdir().unwrap();
    let target = a.node("m1");

    let (a_cert, a_key, a_ca) = tls_files(a.node("m2"), scratch.path());
    let (ok, text) = handshake(&target.host.ip, &a_cert, &a_key, &a_ca);
    assert!(ok, "control: a member's certificate is accepted:\n{text}");

    let (b_cert, b_key, _) = tls_files(b.node("m1"), scratch.path());
    let (ok, text) = handshake(&target.host.ip, &b_cert, &b_key, &a_ca);
    assert!(
        !ok,
        "a certificate from another cluster's CA must be refused:\n{text}"
    );

    // Cluster A is unaffected: still 5 nodes, one leader, and B's node is not among them.
    let rows = crate::rows(target);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let b_id = b.node("m1").node_id();
    assert!(!rows.iter().any(|r| r.id == b_id), "{rows:#?}");
}
