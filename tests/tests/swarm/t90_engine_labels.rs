//! Engine labels (issue 11) reach the managers: a node's daemon.json `labels`, reloaded with
//! SIGHUP, show in `docker node inspect` as `Description.Engine.Labels` on every manager, and
//! `--constraint engine.labels.X==Y` places a service's tasks by them.

use nix::sys::signal::Signal;
use shoal_tests::cluster::{CONVERGE, Cluster, describe};
use shoal_tests::wait;

#[test]
fn reloaded_engine_labels_show_in_node_inspect() {
    let c = Cluster::start(1, 1);
    let m1 = c.node("m1");
    let w1 = c.node("w1");
    let labels = |n: &str| {
        m1.ok(&[
            "node",
            "inspect",
            n,
            "--format",
            "{{json .Description.Engine.Labels}}",
        ])
    };
    let empty = labels("w1");
    assert!(empty == "{}" || empty == "null", "no labels yet: {empty}");
    for (node, value) in [(w1, "worker-disk"), (m1, "manager-disk")] {
        std::fs::write(
            node.dir().join("daemon.json"),
            format!(r#"{{"labels":["storage={value}","zone=z1"]}}"#),
        )
        .unwrap();
        node.signal(Signal::SIGHUP);
    }
    for (name, value) in [("w1", "worker-disk"), ("m1", "manager-disk")] {
        let want = format!(r#"{{"storage":"{value}","zone":"z1"}}"#);
        wait::until(CONVERGE, &format!("{name}'s engine labels on m1"), || {
            (labels(name) == want).then_some(())
        });
    }
    assert_eq!(
        w1.info("{{json .Labels}}"),
        r#"["storage=worker-disk","zone=z1"]"#
    );

    // The labels are placement constraints: every task lands on the worker that has it.
    for n in [m1, w1] {
        n.load_busybox();
    }
    let out = m1.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        "on-worker-disk",
        "--replicas",
        "3",
        "--constraint",
        "engine.labels.storage==worker-disk",
        "busybox",
        "sleep",
        "3600",
    ]);
    assert_eq!(out.code, 0, "service create: {}", describe(&out));
    wait::until(CONVERGE, "3 constrained tasks running on w1", || {
        let rows = m1.ok(&[
            "service",
            "ps",
            "on-worker-disk",
            "--filter",
            "desired-state=running",
            "--format",
            "{{.Node}} {{.CurrentState}}",
        ]);
        let rows: Vec<&str> = rows.lines().collect();
        (rows.len() == 3 && rows.iter().all(|r| r.starts_with("w1 Running"))).then_some(())
    });
    m1.ok(&["service", "rm", "on-worker-disk"]);
}
