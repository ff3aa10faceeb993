//! kill -9 the leader: a new leader is elected among the survivors and a write through a surviving
//! manager succeeds; the killed manager comes back and catches up.

use crate::{assert_one_leader, wait_label, wait_rows, write_eventually};
use std::time::Instant;

#[test]
fn kill9_leader_elects_new_leader_and_writes_succeed() {
    let c = crate::cluster();
    let old = c.leader();
    let old_name = old.name().to_string();
    let survivors: Vec<_> = c
        .managers()
        .into_iter()
        .filter(|m| m.name() != old_name)
        .collect();

    old.kill9();
    let killed = Instant::now();
    // The benchmark number: kill -9 to the first write accepted by a survivor.
    write_eventually(
        survivors[0],
        &["node", "update", "--label-add", "first=write", "w2"],
    );
    eprintln!(
        "failover: kill -9 of {old_name} to first successful write through {}: {:?}",
        survivors[0].name(),
        killed.elapsed()
    );
    let new = c.leader_via_except(survivors[0], &old_name);
    assert_ne!(new.name(), old_name, "a surviving manager leads");
    // Both survivors agree on it, and see the killed leader Unreachable.
    wait_rows(
        survivors[1],
        "the same new leader, the old one Unreachable",
        |r| {
            r.iter()
                .any(|r| r.hostname == new.name() && r.manager_status == "Leader")
                && r.iter()
                    .any(|r| r.hostname == old_name && r.manager_status == "Unreachable")
        },
    );

    // A write through the survivor that is NOT the leader (forwarded to it).
    let via = survivors.iter().find(|m| m.name() != new.name()).unwrap();
    write_eventually(
        via,
        &["node", "update", "--label-add", "after=failover", "w1"],
    );
    wait_label(new, "w1", "after=failover");

    // The killed manager restarts, rejoins as a follower and catches up.
    old.restart();
    let rows = wait_rows(new, "the old leader Reachable again", |r| {
        r.iter()
            .any(|r| r.hostname == old_name && r.manager_status == "Reachable")
            && r.iter().all(|r| r.status == "Ready")
    });
    assert_one_leader(&rows, &["m1", "m2", "m3"]);
    wait_label(old, "w1", "after=failover");
}
