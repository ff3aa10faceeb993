//! What dockerd refuses, refused the same way: workers, name conflicts, missing objects,
//! and a task that cannot be placed stays pending with the reason shown.

use crate::{cluster, leader, remove_and_wait_gone, service_ps};
use shoal_tests::cluster::{CONVERGE, describe};
use shoal_tests::wait;

#[test]
fn workers_refuse_and_conflicts_and_missing_objects_answer_docker_texts() {
    let c = cluster();
    let w = c.node("w1");
    for args in [
        &["service", "ls"][..],
        &["secret", "ls"][..],
        &["config", "ls"][..],
    ] {
        let out = w.docker(args);
        assert_ne!(out.code, 0);
        assert!(
            out.stderr.contains("This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state."),
            "{args:?} on a worker: {}",
            describe(&out)
        );
    }
    let l = leader(&c);
    let out = l.docker(&["service", "inspect", "svc-missing"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no such service: svc-missing"),
        "{}",
        describe(&out)
    );

    l.ok(&[
        "service", "create", "-d", "--name", "svc-dup", "busybox", "sleep", "3600",
    ]);
    let out = l.docker(&[
        "service", "create", "-d", "--name", "svc-dup", "busybox", "true",
    ]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("service svc-dup already exists"),
        "{}",
        describe(&out)
    );
    let out = l.docker(&["service", "create", "-d", "--name", "bad_name!", "busybox"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("InvalidArgument"), "{}", describe(&out));
    remove_and_wait_gone(&c, l, "svc-dup");
}

#[test]
fn unsatisfiable_constraint_stays_pending_with_the_reason() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-pending";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--constraint",
        "node.labels.zone==nowhere",
        "busybox",
        "sleep",
        "3600",
    ]);
    let mut last = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        last = service_ps(l, name);
        last.iter()
            .any(|r| r.current.starts_with("Pending") && r.error.contains("no suitable node"))
            .then_some(())
    });
    assert!(ok.is_some(), "a pending task with the reason: {last:#?}");
    assert!(
        last[0]
            .error
            .contains("scheduling constraints not satisfied on 5 nodes"),
        "{last:#?}"
    );
    remove_and_wait_gone(&c, l, name);
}
