//! Promote a worker and demote a manager (raft membership changes); `docker node rm`.

use crate::{assert_one_leader, wait_rows};
use shoal_tests::cluster::describe;

#[test]
fn promote_worker_and_demote_manager() {
    let c = crate::cluster();
    let leader = c.leader();
    let w1 = c.node("w1");
    leader.ok(&["node", "promote", "w1"]);
    wait_rows(leader, "w1 a Reachable manager", |r| {
        r.iter()
            .any(|r| r.hostname == "w1" && r.manager_status == "Reachable")
    });
    // The promoted node now answers cluster calls itself.
    let rows = wait_rows(w1, "w1 serves node ls", |r| r.len() == 5);
    assert_one_leader(&rows, &["m1", "m2", "m3", "w1"]);
    assert_eq!(leader.info("{{.Swarm.Managers}}"), "4");

    // Demote a manager that is not the leader.
    let demoted = c
        .managers()
        .into_iter()
        .find(|m| m.name() != leader.name())
        .unwrap();
    leader.ok(&["node", "demote", demoted.name()]);
    let rows = wait_rows(leader, "the demoted manager listed as a worker", |r| {
        r.iter()
            .any(|r| r.hostname == demoted.name() && r.manager_status.is_empty())
    });
    assert_eq!(
        rows.iter().filter(|r| !r.manager_status.is_empty()).count(),
        3,
        "three managers again: {rows:#?}"
    );
    let _ = wait_rows(leader, "every node Ready", |r| {
        r.iter().all(|r| r.status == "Ready")
    });
    // It refuses cluster management now, as any worker.
    let refused = shoal_tests::wait::try_until(shoal_tests::cluster::CONVERGE, || {
        let out = demoted.docker(&["node", "ls"]);
        (out.code != 0 && out.stderr.contains("This node is not a swarm manager")).then_some(())
    });
    assert!(
        refused.is_some(),
        "demoted node still a manager: {}",
        describe(&demoted.docker(&["node", "ls"]))
    );
    assert_eq!(demoted.info("{{.Swarm.ControlAvailable}}"), "false");
}

#[test]
fn node_rm() {
    let c = crate::cluster();
    let leader = c.leader();
    let w2 = c.node("w2");
    let w2_id = w2.node_id();

    // A live node is refused without --force; a manager must be demoted first.
    let out = leader.docker(&["node", "rm", "w2"]);
    assert_ne!(out.code, 0, "rm of a Ready node: {}", describe(&out));
    let follower = c
        .managers()
        .into_iter()
        .find(|m| m.name() != leader.name())
        .unwrap();
    let out = leader.docker(&["node", "rm", "--force", follower.name()]);
    assert_ne!(out.code, 0, "rm of a manager: {}", describe(&out));
    assert!(
        out.stderr.contains("demote"),
        "Docker says to demote first: {}",
        out.stderr
    );

    // After the node leaves it is Down and can be removed.
    w2.ok(&["swarm", "leave"]);
    assert_eq!(w2.swarm_state(), "inactive");
    wait_rows(leader, "w2 Down", |r| {
        r.iter().any(|r| r.hostname == "w2" && r.status == "Down")
    });
    leader.ok(&["node", "rm", "w2"]);
    let rows = wait_rows(leader, "four nodes listed", |r| r.len() == 4);
    assert!(!rows.iter().any(|r| r.id == w2_id), "w2 gone: {rows:#?}");
    let out = leader.docker(&["node", "inspect", &w2_id]);
    assert_ne!(out.code, 0, "inspect of a removed node: {}", describe(&out));

    // A running worker is removed with --force.
    leader.ok(&["node", "rm", "--force", "w1"]);
    let rows = wait_rows(leader, "three nodes listed", |r| r.len() == 3);
    assert_one_leader(&rows, &["m1", "m2", "m3"]);
}
