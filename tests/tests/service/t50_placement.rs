//! Placement by node labels (`--constraint node.labels.zone==a`, `--placement-pref
//! spread=node.labels.zone`) and jobs run to completion (replicated-job with
//! `--max-concurrent`, global-job), as `docker service ls/ps` render them.

use std::collections::BTreeMap;

use crate::{cluster, leader, remove_and_wait_gone, replicas, service_ps, task_containers};
use shoal_tests::cluster::{CONVERGE, Cluster, describe};
use shoal_tests::wait;

/// Zone of each node: three in `a`, two in `b`.
const ZONES: [(&str, &str); 5] = [
    ("m1", "a"),
    ("m2", "a"),
    ("w1", "a"),
    ("m3", "b"),
    ("w2", "b"),
];

/// Running task containers of `service` per node name (only nodes that have some).
fn running(c: &Cluster, service: &str) -> BTreeMap<String, usize> {
    crate::running_per_node(c, service)
        .into_iter()
        .filter(|(_, k)| *k > 0)
        .collect()
}

#[test]
fn constraints_and_spread_follow_node_labels() {
    let c = cluster();
    let l = leader(&c);
    for (node, zone) in ZONES {
        l.ok(&[
            "node",
            "update",
            "--label-add",
            &format!("zone={zone}"),
            node,
        ]);
    }
    let labels = l.ok(&[
        "node",
        "inspect",
        "w2",
        "--format",
        "{{index .Spec.Labels \"zone\"}}",
    ]);
    assert_eq!(labels, "b", "node inspect shows the label");

    let name = "svc-zone-a";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--replicas",
        "5",
        "--constraint",
        "node.labels.zone==a",
        "busybox",
        "sleep",
        "3600",
    ]);
    let mut last = BTreeMap::new();
    let ok = wait::try_until(CONVERGE, || {
        last = running(&c, name);
        (last.values().sum::<usize>() == 5).then_some(())
    });
    assert!(ok.is_some(), "5 running tasks of {name}: {last:?}");
    let zone_a = ["m1", "m2", "w1"];
    assert!(
        last.keys().all(|n| zone_a.contains(&n.as_str())),
        "every task of {name} runs in zone a (m1, m2, w1): {last:?}"
    );
    assert!(
        last.len() == 3,
        "the tasks spread over the three zone-a nodes: {last:?}"
    );

    // Three zone-a nodes and two zone-b nodes: spreading over the zone label puts half of the
    // tasks in each zone, so zone-b nodes get more than their share of nodes.
    let spread = "svc-spread";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        spread,
        "--replicas",
        "6",
        "--placement-pref",
        "spread=node.labels.zone",
        "busybox",
        "sleep",
        "3600",
    ]);
    let ok = wait::try_until(CONVERGE, || {
        last = running(&c, spread);
        (last.values().sum::<usize>() == 6).then_some(())
    });
    assert!(ok.is_some(), "6 running tasks of {spread}: {last:?}");
    let in_zone = |z: &str| -> usize {
        ZONES
            .iter()
            .filter(|(_, zone)| *zone == z)
            .map(|(n, _)| last.get(*n).copied().unwrap_or(0))
            .sum()
    };
    assert_eq!(
        (in_zone("a"), in_zone("b")),
        (3, 3),
        "spread=node.labels.zone puts 3 tasks in each zone: {last:?}"
    );
    let b: Vec<usize> = ["m3", "w2"]
        .iter()
        .map(|n| last.get(*n).copied().unwrap_or(0))
        .collect();
    assert!(
        b.iter().all(|k| *k >= 1),
        "within zone b the tasks spread over both nodes: {last:?}"
    );

    remove_and_wait_gone(&c, l, name);
    remove_and_wait_gone(&c, l, spread);
    for (node, _) in ZONES {
        l.ok(&["node", "update", "--label-rm", "zone", node]);
    }
}

#[test]
fn replicated_job_runs_to_completion_with_max_concurrent() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-job";
    let out = l.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--mode",
        "replicated-job",
        "--replicas",
        "3",
        "--max-concurrent",
        "2",
        "busybox",
        "sleep",
        "2",
    ]);
    assert_eq!(out.code, 0, "service create: {}", describe(&out));
    // While it runs, never more than max-concurrent tasks run at once.
    let mut most = 0;
    let mut last = String::new();
    let ok = wait::try_until(CONVERGE, || {
        let rows = service_ps(l, name);
        let now = rows
            .iter()
            .filter(|r| r.current.starts_with("Running"))
            .count();
        most = most.max(now);
        last = replicas(l, name);
        (last == "0/2 (3/3 completed)").then_some(())
    });
    assert!(
        ok.is_some(),
        "service ls shows the job done (last {last:?}); tasks: {:#?}",
        service_ps(l, name)
    );
    assert!(most <= 2, "at most 2 tasks ran at once, saw {most}");
    let rows = service_ps(l, name);
    assert_eq!(rows.len(), 3, "three tasks: {rows:#?}");
    assert!(
        rows.iter()
            .all(|r| r.desired == "Complete" && r.current.starts_with("Complete")),
        "every task Complete: {rows:#?}"
    );
    let mut slots: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 3, "three distinct slots: {rows:#?}");
    // Nothing runs again: the job stays done.
    for n in c.nodes() {
        let out = n.ok(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={name}"),
        ]);
        assert!(out.is_empty(), "no job task still running on {}", n.name());
    }
    remove_and_wait_gone(&c, l, name);
}

#[test]
fn global_job_completes_once_per_node() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-gjob";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--mode",
        "global-job",
        "busybox",
        "true",
    ]);
    let mut last = String::new();
    let ok = wait::try_until(CONVERGE, || {
        last = replicas(l, name);
        (last == "0/0 (5/5 completed)").then_some(())
    });
    assert!(
        ok.is_some(),
        "service ls shows the global job done on 5 nodes (last {last:?}); tasks: {:#?}",
        service_ps(l, name)
    );
    let rows = service_ps(l, name);
    let mut nodes: Vec<&str> = rows.iter().map(|r| r.node.as_str()).collect();
    nodes.sort();
    assert_eq!(
        nodes,
        ["m1", "m2", "m3", "w1", "w2"],
        "one completed task per node: {rows:#?}"
    );
    for n in c.nodes() {
        let k = task_containers(n, name).len();
        assert!(
            k <= 1,
            "at most one task container of {name} on {}: {k}",
            n.name()
        );
    }
    remove_and_wait_gone(&c, l, name);
}
