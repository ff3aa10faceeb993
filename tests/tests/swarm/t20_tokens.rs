//! Join tokens: a wrong token and a rotated (old) token are refused; the current one works.

use shoal_tests::cluster::{Cluster, Spec, describe};

#[test]
fn wrong_and_rotated_tokens_are_refused() {
    let c = Cluster::start_spec(Spec {
        spares: 1,
        ..Spec::new(3, 2)
    });
    let m1 = c.node("m1");
    let m2 = c.node("m2");
    let spare = c.node("s1");
    let good = c.token(m1, false);
    assert!(
        good.starts_with("SWMTKN-1-"),
        "Docker's token format: {good}"
    );
    let parts: Vec<&str> = good.split('-').collect();
    assert_eq!(parts.len(), 4, "SWMTKN-1-<CA digest>-<secret>: {good}");

    // A token of the right shape with a wrong secret, and garbage.
    let wrong_secret = format!("SWMTKN-1-{}-{}", parts[2], "0".repeat(parts[3].len()));
    // Docker's wording: the manager refuses the secret; the CLI's daemon refuses the shape.
    for (bad, says) in [
        (
            wrong_secret.as_str(),
            "A valid join token is necessary to join this cluster",
        ),
        ("SWMTKN-1-garbage", "invalid join token"),
        ("not-a-token", "invalid join token"),
    ] {
        let out = spare.join_with(bad, &m1.host.ip);
        assert_ne!(out.code, 0, "join with {bad} must fail: {}", describe(&out));
        assert!(
            out.stderr.contains(says),
            "join with {bad}: expected {says:?}: {}",
            describe(&out)
        );
        assert_ne!(spare.swarm_state(), "active", "refused join left it out");
    }
    // A right secret with the digest of another CA: the joiner must not trust this cluster.
    let wrong_ca = format!("SWMTKN-1-{}-{}", "1".repeat(parts[2].len()), parts[3]);
    let out = spare.join_with(&wrong_ca, &m1.host.ip);
    assert_ne!(
        out.code,
        0,
        "join with a foreign CA digest: {}",
        describe(&out)
    );

    // Rotation through another manager: the old worker token is refused, the new one works.
    m2.ok(&["swarm", "join-token", "--rotate", "-q", "worker"]);
    let new = c.token(m1, false);
    assert_ne!(new, good, "rotation changes the token");
    let out = spare.join_with(&good, &m1.host.ip);
    assert_ne!(
        out.code,
        0,
        "rotated token must be refused: {}",
        describe(&out)
    );
    assert!(
        out.stderr.to_lowercase().contains("token"),
        "the error names the token: {}",
        out.stderr
    );
    let rows = crate::rows(m1);
    assert_eq!(
        rows.len(),
        5,
        "no node was added by refused joins: {rows:#?}"
    );

    // Manager token rotation too: the old one refused (the control: the new worker token joins).
    let old_mgr = c.token(m1, true);
    m1.ok(&["swarm", "join-token", "--rotate", "-q", "manager"]);
    let out = spare.join_with(&old_mgr, &m1.host.ip);
    assert_ne!(out.code, 0, "rotated manager token: {}", describe(&out));

    let out = spare.join_with(&new, &m1.host.ip);
    assert_eq!(out.code, 0, "the current token joins: {}", describe(&out));
    crate::wait_rows(m1, "s1 listed Ready", |r| {
        r.len() == 6
            && r.iter()
                .any(|r| r.hostname == "s1" && r.status == "Ready" && r.manager_status.is_empty())
    });
}
