//! Cluster trust (issue 10): `docker swarm ca --rotate` moves every node to a new root
//! cross-signed by the old one, then drops the old root and changes both join tokens; nodes
//! renew their certificates before they expire (under a short test-only lifetime).

use crate::wait_rows;
use shoal_tests::cluster::{CONVERGE, Cluster, Node, Spec, describe};
use shoal_tests::wait;

/// The node's certificate as `openssl x509` prints its serial and end date.
fn cert_facts(n: &Node) -> (String, String) {
    let path = n.data_root().join("swarm/certificates/swarm-node.crt");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-enddate", "-in"])
        .arg(&path)
        .output()
        .expect("run openssl (apt-get install openssl)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    (get("serial="), get("notAfter="))
}

/// Seconds until an openssl `notAfter=` date.
fn secs_until(not_after: &str) -> i64 {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", not_after, "+%s"])
        .output()
        .expect("date");
    let at: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    at - now
}

/// `docker node inspect -f <fmt> <target>` on `via`.
fn inspect(via: &Node, target: &str, fmt: &str) -> String {
    via.ok(&["node", "inspect", "-f", fmt, target])
}

#[test]
fn ca_rotate_moves_every_node_to_a_new_root_and_changes_the_tokens() {
    let c = Cluster::start_spec(Spec {
        spares: 1,
        ..Spec::new(3, 2)
    });
    let leader = c.leader();
    let old_root = leader.ok(&["swarm", "ca"]);
    assert!(old_root.contains("BEGIN CERTIFICATE"), "{old_root}");
    assert_eq!(
        leader.info("{{.Swarm.Cluster.TLSInfo.TrustRoot}}").trim(),
        old_root.trim()
    );
    let old_worker = c.token(leader, false);
    let old_manager = c.token(leader, true);
    for n in c.nodes().iter().filter(|n| !n.is_spare()) {
        n.load_busybox();
    }
    leader.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "5",
        "busybox",
        "sleep",
        "3600",
    ]);

    // Attached, as an operator runs it: the CLI polls the leader's swarm and node list until
    // every node has a certificate from the new root and trusts it, then prints the new
    // root. The node it polls restarts its own cluster parts for its renewal on the way;
    // its API waits that out instead of answering "not a swarm manager".
    let out = leader.docker(&["swarm", "ca", "--rotate"]);
    assert_eq!(out.code, 0, "swarm ca --rotate: {}", describe(&out));
    assert!(
        out.stdout.contains("rotated CA certificates"),
        "the CLI showed its progress: {}",
        describe(&out)
    );
    let printed = out
        .stdout
        .find("-----BEGIN CERTIFICATE-----")
        .map(|at| out.stdout[at..].trim().to_string())
        .unwrap_or_else(|| panic!("no root printed: {}", describe(&out)));
    assert_ne!(printed, old_root.trim(), "the CLI printed the new root");
    let mut last = String::new();
    let done = wait::try_until(CONVERGE, || {
        let leader = c.leader();
        let out = leader.docker(&[
            "info",
            "-f",
            "{{.Swarm.Cluster.RootRotationInProgress}}|{{.Swarm.Cluster.TLSInfo.CertIssuerPublicKey}}",
        ]);
        last = describe(&out);
        let (progress, key) = out.stdout.trim().split_once('|')?;
        if out.code != 0 || progress != "false" {
            return None;
        }
        let ls = leader.docker(&["node", "ls", "-q"]);
        let ids: Vec<String> = ls.stdout.split_whitespace().map(str::to_owned).collect();
        let root = leader.docker(&["swarm", "ca"]).stdout;
        let all = ids.len() == 5
            && ids.iter().all(|id| {
                let o = leader.docker(&[
                "node",
                "inspect",
                "-f",
                "{{.Description.TLSInfo.CertIssuerPublicKey}}|{{.Description.TLSInfo.TrustRoot}}",
                id,
            ]);
                o.code == 0
                    && o.stdout
                        .trim()
                        .split_once('|')
                        .is_some_and(|(k, t)| k == key && t.trim() == root.trim())
            });
        (all && root.trim() != old_root.trim()).then_some(())
    });
    assert!(done.is_some(), "rotation never finished: {last}");
    let leader = c.leader();
    let new_root = leader.ok(&["swarm", "ca"]);
    assert!(new_root.contains("BEGIN CERTIFICATE"), "{new_root}");
    assert_ne!(new_root, old_root, "the root changed");
    assert_eq!(
        new_root.trim(),
        printed,
        "the root the CLI printed is the cluster's"
    );
    assert_eq!(
        leader.info("{{.Swarm.Cluster.RootRotationInProgress}}"),
        "false"
    );
    let issuer_key = leader.info("{{.Swarm.Cluster.TLSInfo.CertIssuerPublicKey}}");
    for n in c.nodes().iter().filter(|n| !n.is_spare()) {
        assert_eq!(
            inspect(leader, n.name(), "{{.Description.TLSInfo.TrustRoot}}").trim(),
            new_root.trim(),
            "{} trusts the new root",
            n.name()
        );
        assert_eq!(
            inspect(
                leader,
                n.name(),
                "{{.Description.TLSInfo.CertIssuerPublicKey}}"
            ),
            issuer_key,
            "{} has a certificate from the new root",
            n.name()
        );
        let on_disk =
            std::fs::read_to_string(n.data_root().join("swarm/certificates/swarm-root-ca.crt"))
                .unwrap();
        assert_eq!(on_disk.trim(), new_root.trim(), "{} on disk", n.name());
    }
    wait_rows(leader, "every node Ready after the rotation", |r| {
        r.len() == 5 && r.iter().all(|r| r.status == "Ready")
    });

    // Both tokens embed the new root's digest.
    let new_worker = c.token(leader, false);
    let new_manager = c.token(leader, true);
    assert_ne!(new_worker, old_worker);
    assert_ne!(new_manager, old_manager);
    assert_ne!(
        new_worker.split('-').nth(2),
        old_worker.split('-').nth(2),
        "the digest part changed"
    );

    // The service still runs, on every node.
    wait::until(CONVERGE, "5 web tasks running", || {
        let rows = leader.docker(&[
            "service",
            "ps",
            "web",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
        ]);
        (rows.code == 0
            && rows.stdout.lines().count() == 5
            && rows.stdout.lines().all(|l| l.starts_with("Running")))
        .then_some(())
    });

    // The old token no longer admits anyone; the new one does.
    let spare = c.node("s1");
    let out = spare.join_with(&old_worker, &leader.host.ip);
    assert_ne!(
        out.code,
        0,
        "join with the pre-rotation token: {}",
        describe(&out)
    );
    let out = wait::try_until(CONVERGE, || {
        let out = spare.join_with(&new_worker, &leader.host.ip);
        (out.code == 0).then_some(out)
    });
    assert!(out.is_some(), "s1 never joined with the new token");
    wait_rows(leader, "s1 Ready", |r| {
        r.len() == 6 && r.iter().all(|r| r.status == "Ready")
    });
    assert_eq!(
        inspect(leader, "s1", "{{.Description.TLSInfo.CertIssuerPublicKey}}"),
        issuer_key
    );
}

#[test]
fn ca_options_shoal_cannot_honour_are_refused_by_name() {
    let c = Cluster::start(1, 0);
    let m1 = c.node("m1");
    let scratch = tempfile::tempdir().unwrap();
    let cert = scratch.path().join("ca.crt");
    std::fs::write(&cert, m1.ok(&["swarm", "ca"])).unwrap();
    // A root without its key needs an external CA: refused with a 400 naming the field.
    let out = m1.docker(&[
        "swarm",
        "ca",
        "--rotate",
        "--ca-cert",
        cert.to_str().unwrap(),
        "--external-ca",
        "protocol=cfssl,url=https://ca.example.com",
    ]);
    assert_ne!(out.code, 0, "{}", describe(&out));
    assert!(out.stderr.contains("ExternalCAs"), "{}", describe(&out));
    // An operator root and key are checked: a key that is not the certificate's is refused.
    let key = scratch.path().join("ca.key");
    std::fs::copy(
        m1.data_root().join("swarm/certificates/swarm-node.key"),
        &key,
    )
    .unwrap();
    let out = m1.docker(&[
        "swarm",
        "ca",
        "--rotate",
        "--ca-cert",
        cert.to_str().unwrap(),
        "--ca-key",
        key.to_str().unwrap(),
        "--detach",
    ]);
    assert_ne!(out.code, 0, "{}", describe(&out));
    assert!(out.stderr.contains("SigningCAKey"), "{}", describe(&out));
    // The cluster was left as it was.
    assert_eq!(
        m1.info("{{.Swarm.Cluster.RootRotationInProgress}}"),
        "false"
    );
}

#[test]
fn certificates_are_renewed_before_they_expire() {
    // 40 s certificates: renewal is due between 20 s and 32 s after issue.
    let c = Cluster::start_spec(Spec {
        cert_expiry_secs: Some(40),
        ..Spec::new(1, 1)
    });
    for n in c.nodes() {
        let (serial, not_after) = cert_facts(n);
        assert!(!serial.is_empty(), "{}: no certificate", n.name());
        let left = secs_until(&not_after);
        assert!(
            left <= 45,
            "{}: the test lifetime applies ({left} s left)",
            n.name()
        );
        let renewed = wait::try_until(std::time::Duration::from_secs(60), || {
            let (s, a) = cert_facts(n);
            (!s.is_empty() && s != serial).then_some(a)
        });
        let renewed = renewed.unwrap_or_else(|| panic!("{} never renewed", n.name()));
        assert!(
            secs_until(&not_after) > 0,
            "{} renewed only after its certificate expired",
            n.name()
        );
        assert!(
            secs_until(&renewed) > 0,
            "{} got a valid certificate",
            n.name()
        );
    }
    wait_rows(c.node("m1"), "both nodes Ready after renewal", |r| {
        r.len() == 2 && r.iter().all(|r| r.status == "Ready")
    });
}
