//! Cut a manager off (veth down): the majority keeps working, the isolated manager refuses writes
//! with a clear error, and after healing it catches up.

use crate::{wait_label, wait_rows, write_eventually};
use shoal_tests::cluster::{CONVERGE, describe};
use shoal_tests::wait;

#[test]
fn isolated_manager_refuses_writes_and_catches_up_after_heal() {
    let c = crate::cluster();
    let leader = c.leader();
    // Cut a follower, so the test is about the minority side, not about an election.
    let cut = c
        .managers()
        .into_iter()
        .find(|m| m.name() != leader.name())
        .unwrap();
    cut.cut();

    // Majority side: writes work and the cut manager is seen Unreachable.
    write_eventually(
        leader,
        &["node", "update", "--label-add", "during=partition", "w1"],
    );
    let rows = wait_rows(leader, "the cut manager Unreachable", |r| {
        r.iter()
            .any(|r| r.hostname == cut.name() && r.manager_status == "Unreachable")
    });
    crate::assert_one_leader(&rows, &[]);

    // Minority side: a write fails (it may take an election timeout to notice) with an error
    // that says why.
    let mut last = None;
    let refused = wait::try_until(CONVERGE, || {
        let out = cut.docker(&["node", "update", "--label-add", "minority=write", "w2"]);
        let failed = out.code != 0;
        last = Some(out);
        failed.then_some(())
    });
    let out = last.unwrap();
    assert!(
        refused.is_some(),
        "the isolated manager accepted a write: {}",
        describe(&out)
    );
    let err = out.stderr.to_lowercase();
    // dockerd's isolated follower only says "context deadline exceeded" (its forward to the
    // leader times out); Shoal must say that there is no leader or no quorum.
    let clear: &[&str] = if c.engine().is_shoal() {
        &["leader", "quorum"]
    } else {
        &["leader", "quorum", "deadline exceeded"]
    };
    assert!(
        clear.iter().any(|w| err.contains(w)),
        "a clear error (no leader / quorum): {}",
        describe(&out)
    );
    eprintln!("isolated manager's error: {}", out.stderr.trim());

    // Heal: it rejoins and catches up on the write made without it.
    cut.heal();
    wait_rows(leader, "the healed manager Reachable", |r| {
        r.iter()
            .any(|r| r.hostname == cut.name() && r.manager_status == "Reachable")
    });
    wait_label(cut, "w1", "during=partition");
    let labels = crate::labels(leader, "w2");
    assert!(
        !labels.contains("minority=write"),
        "the refused write must not appear: {labels}"
    );
    // And it takes writes again.
    write_eventually(cut, &["node", "update", "--label-add", "after=heal", "w2"]);
    wait_label(leader, "w2", "after=heal");
}
