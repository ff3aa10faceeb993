//! Replicated services: create (waiting for convergence as the CLI does), spread over the
//! five nodes, `service ls/ps/inspect`, scale up and down, and `service rm` leaving no
//! container behind.

use crate::{cluster, leader, remove_and_wait_gone, running_per_node, service_ps, wait_replicas};
use shoal_tests::cluster::describe;
use shoal_tests::wait;

#[test]
fn create_converges_spreads_scales_and_rm_leaves_nothing() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-web";
    let out = l.docker(&[
        "service",
        "create",
        "--name",
        name,
        "--replicas",
        "6",
        "busybox",
        "sleep",
        "3600",
    ]);
    assert_eq!(out.code, 0, "service create: {}", describe(&out));
    let all = format!("{}{}", out.stdout, out.stderr);
    // CLI 28 prints "verify: Service <id> converged".
    let id = out
        .stdout
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        all.contains(&format!("verify: Service {id} converged")),
        "the CLI should report convergence: {}",
        describe(&out)
    );

    // Every manager answers with the same counts.
    for m in c.managers() {
        wait_replicas(m, name, "6/6");
    }
    let per_node = running_per_node(&c, name);
    let total: usize = per_node.iter().map(|(_, k)| k).sum();
    assert_eq!(total, 6, "6 task containers in all: {per_node:?}");
    assert!(
        per_node.iter().all(|(_, k)| *k >= 1),
        "the default strategy spreads 6 tasks over all five nodes: {per_node:?}"
    );

    let mut rows = Vec::new();
    let ok = wait::try_until(shoal_tests::cluster::CONVERGE, || {
        rows = service_ps(l, name);
        (rows.len() == 6
            && rows
                .iter()
                .all(|r| r.desired == "Running" && r.current.starts_with("Running")))
        .then_some(())
    });
    assert!(ok.is_some(), "6 running tasks in service ps: {rows:#?}");
    let mut slots: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 6, "unique slots: {rows:#?}");

    let pretty = l.ok(&["service", "inspect", "--pretty", name]);
    assert!(pretty.contains("Name:\t\tsvc-web"), "{pretty}");
    assert!(pretty.contains("Replicated"), "{pretty}");
    assert!(pretty.contains("Replicas:\t6"), "{pretty}");
    assert!(pretty.contains("Image:\t\tbusybox"), "{pretty}");

    // The task containers carry Docker's names and labels.
    let w1 = c.node("w1");
    let names = w1.ok(&[
        "ps",
        "--filter",
        &format!("label=com.docker.swarm.service.name={name}"),
        "--format",
        "{{.Names}} {{.Label \"com.docker.swarm.node.id\"}}",
    ]);
    let first = names.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{name}.")) && first.ends_with(&w1.node_id()),
        "task container on w1 is named service.slot.taskid with its node label: {names}"
    );

    l.ok(&["service", "scale", "-d", &format!("{name}=20")]);
    wait_replicas(l, name, "20/20");
    let total: usize = running_per_node(&c, name).iter().map(|(_, k)| k).sum();
    assert_eq!(total, 20);

    l.ok(&["service", "scale", "-d", &format!("{name}=2")]);
    wait_replicas(l, name, "2/2");
    let mut last = Vec::new();
    let ok = wait::try_until(shoal_tests::cluster::CONVERGE, || {
        last = running_per_node(&c, name);
        (last.iter().map(|(_, k)| k).sum::<usize>() == 2).then_some(())
    });
    assert!(
        ok.is_some(),
        "2 running containers after scaling down: {last:?}"
    );

    remove_and_wait_gone(&c, l, name);
    let out = l.docker(&["service", "inspect", name]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no such service"),
        "inspect after rm: {}",
        describe(&out)
    );
}
