//! Stop and restart every node at once: all committed state is intact.

use crate::{assert_one_leader, labels, wait_rows};
use shoal_tests::cluster::Cluster;

fn snapshot(c: &Cluster) -> (Vec<(String, String)>, String, String, String) {
    let m1 = c.node("m1");
    let mut ids: Vec<(String, String)> = c
        .nodes()
        .iter()
        .map(|n| (n.name().to_string(), n.node_id()))
        .collect();
    ids.sort();
    (
        ids,
        m1.info("{{.Swarm.Cluster.ID}}"),
        c.token(m1, false),
        c.token(m1, true),
    )
}

#[test]
fn stop_and_restart_every_node_keeps_all_state() {
    let c = crate::cluster();
    let leader = c.leader();
    leader.ok(&["node", "update", "--label-add", "keep=me", "w1"]);
    leader.ok(&["node", "update", "--availability", "drain", "w2"]);
    let follower = c
        .managers()
        .into_iter()
        .find(|m| m.name() != leader.name())
        .unwrap();
    // Written through a follower, so it was forwarded and replicated before the restart.
    follower.ok(&["node", "update", "--label-add", "zone=b", "m3"]);
    crate::wait_label(leader, "m3", "zone=b");
    let before = snapshot(&c);

    c.restart_all();

    for m in c.managers() {
        let rows = wait_rows(m, "5 Ready nodes and a leader after restart", |r| {
            r.len() == 5
                && r.iter().all(|r| r.status == "Ready")
                && r.iter().filter(|r| r.manager_status == "Leader").count() == 1
                && r.iter().filter(|r| r.manager_status == "Reachable").count() == 2
        });
        assert_one_leader(&rows, &["m1", "m2", "m3"]);
        let w2 = rows.iter().find(|r| r.hostname == "w2").unwrap();
        assert_eq!(w2.availability, "Drain", "availability kept: {rows:#?}");
        assert!(
            labels(m, "w1").contains("keep=me"),
            "label kept on {}",
            m.name()
        );
        assert!(
            labels(m, "m3").contains("zone=b"),
            "label kept on {}",
            m.name()
        );
    }
    assert_eq!(snapshot(&c), before, "node IDs, cluster ID and tokens kept");
    for w in c.workers() {
        assert_eq!(w.swarm_state(), "active", "{} back in the swarm", w.name());
    }
    // And the cluster still takes writes.
    crate::write_eventually(
        c.node("m2"),
        &["node", "update", "--label-add", "after=restart", "w1"],
    );
    crate::wait_label(c.node("m1"), "w1", "after=restart");
}
