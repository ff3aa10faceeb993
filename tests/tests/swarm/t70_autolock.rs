//! Autolock: a restarted manager stays locked until `docker swarm unlock` with the right key.

use crate::wait_rows;
use shoal_tests::cluster::{Cluster, Spec, describe};

#[test]
fn restarted_manager_is_locked_until_unlocked() {
    let c = Cluster::start_spec(Spec {
        autolock: true,
        ..Spec::new(3, 2)
    });
    let key = c.unlock_key().expect("autolock cluster has a key");
    assert!(key.starts_with("SWMKEY-1-"), "Docker's key format: {key}");
    let leader = c.leader();
    assert_eq!(leader.ok(&["swarm", "unlock-key", "-q"]), key);
    assert_eq!(
        leader.info("{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}"),
        "true"
    );

    let m = c
        .managers()
        .into_iter()
        .find(|m| m.name() != leader.name())
        .unwrap();
    m.stop();
    m.restart();
    assert_eq!(m.swarm_state(), "locked", "a restarted manager is locked");
    let out = m.docker(&["node", "ls"]);
    assert_ne!(
        out.code,
        0,
        "node ls on a locked manager: {}",
        describe(&out)
    );
    assert!(
        out.stderr.contains("locked"),
        "the error says the swarm is locked: {}",
        out.stderr
    );
    wait_rows(leader, "the locked manager Unreachable", |r| {
        r.iter()
            .any(|r| r.hostname == m.name() && r.manager_status == "Unreachable")
    });

    // A wrong key is refused and it stays locked.
    let wrong = format!("SWMKEY-1-{}", "A".repeat(key.len().saturating_sub(9)));
    let out = m.docker_stdin(&["swarm", "unlock"], &format!("{wrong}\n"));
    assert_ne!(out.code, 0, "unlock with a wrong key: {}", describe(&out));
    assert_eq!(m.swarm_state(), "locked");

    let out = m.docker_stdin(&["swarm", "unlock"], &format!("{key}\n"));
    assert_eq!(out.code, 0, "unlock with the key: {}", describe(&out));
    assert_eq!(m.swarm_state(), "active");
    wait_rows(leader, "the unlocked manager Reachable", |r| {
        r.iter()
            .any(|r| r.hostname == m.name() && r.manager_status == "Reachable")
    });
    let rows = wait_rows(m, "node ls on the unlocked manager", |r| r.len() == 5);
    crate::assert_one_leader(&rows, &["m1", "m2", "m3"]);

    // Workers are not locked by a restart.
    let w = c.node("w1");
    w.stop();
    w.restart();
    assert_eq!(w.swarm_state(), "active", "workers do not lock");
}
