//! Swarm services (issue #6) on a 3-manager + 2-worker cluster of real daemons in network
//! namespaces, driven with the real `docker` CLI: services, tasks, secrets and configs.
//!
//! The tests share one cluster ([`shoal_tests::cluster::shared`]) and each uses its own
//! uniquely named services, secrets and configs, removing them at the end.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_replicated;
mod t20_secrets;
mod t30_errors;
mod t40_update;
mod t45_health;
mod t50_logs;
mod t50_placement;
mod t60_host_ports;
mod t60_nodes;
mod t70_leader_kill;
mod t70_registry_auth;
mod t90_bench;

use std::sync::OnceLock;

use shoal_tests::cluster::{CONVERGE, Cluster, Node, Shared, describe, shared};
use shoal_tests::wait;

/// The shared cluster with busybox loaded on every node.
pub fn cluster() -> Shared {
    static LOADED: OnceLock<()> = OnceLock::new();
    let c = shared();
    LOADED.get_or_init(|| {
        for n in c.nodes() {
            n.load_busybox();
        }
    });
    c
}

/// The current leader (services are created through it, reads go through any manager).
pub fn leader(c: &Cluster) -> &Node {
    c.leader()
}

/// One row of `docker service ps --no-trunc` (`{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}`).
#[derive(Debug, Clone)]
pub struct TaskRow {
    /// `web.3`.
    pub name: String,
    /// Hostname of the node, empty while pending.
    pub node: String,
    /// `Running`, `Shutdown`, ...
    pub desired: String,
    /// `Running 3 seconds ago`, `Pending 2 seconds ago`, ...
    pub current: String,
    /// The error column.
    pub error: String,
}

/// `docker service ps` on `via`, every task (history included); empty when the manager
/// cannot answer right now.
pub fn service_ps(via: &Node, service: &str) -> Vec<TaskRow> {
    let out = via.docker(&[
        "service",
        "ps",
        "--no-trunc",
        "--format",
        "{{.Name}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}",
        service,
    ]);
    if out.code != 0 {
        return Vec::new();
    }
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).map(|s| s.trim().to_owned()).unwrap_or_default();
            TaskRow {
                name: get(0).trim_start_matches(" \\_ ").to_owned(),
                node: get(1),
                desired: get(2),
                current: get(3),
                error: get(4),
            }
        })
        .collect()
}

/// The `REPLICAS` column of `docker service ls` for `service` (`6/6`); empty when the
/// manager cannot answer right now (a loaded machine can briefly lose the leader's lease).
pub fn replicas(via: &Node, service: &str) -> String {
    let out = via.docker(&[
        "service",
        "ls",
        "--filter",
        &format!("name={service}"),
        "--format",
        "{{.Name}} {{.Replicas}}",
    ]);
    if out.code != 0 {
        return format!("error: {}", out.stderr.trim());
    }
    out.stdout
        .lines()
        .find_map(|l| {
            let (n, r) = l.split_once(' ')?;
            (n == service).then(|| r.trim().to_owned())
        })
        .unwrap_or_default()
}

/// Waits until `docker service ls` shows `want` replicas for `service`.
#[track_caller]
pub fn wait_replicas(via: &Node, service: &str, want: &str) {
    let mut last = String::new();
    let ok = wait::try_until(CONVERGE, || {
        last = replicas(via, service);
        (last == want).then_some(())
    });
    assert!(
        ok.is_some(),
        "{service}: replicas never became {want} (last {last:?}); tasks: {:#?}",
        service_ps(via, service)
    );
}

/// Task containers of `service` on node `n` (`docker ps` with the swarm label), running or not.
pub fn task_containers(n: &Node, service: &str) -> Vec<String> {
    let out = n.docker(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={service}"),
    ]);
    assert_eq!(out.code, 0, "docker ps on {}: {}", n.name(), describe(&out));
    out.stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Running task containers of `service` on each node, by node name.
pub fn running_per_node(c: &Cluster, service: &str) -> Vec<(String, usize)> {
    c.nodes()
        .iter()
        .map(|n| {
            let out = n.docker(&[
                "ps",
                "-q",
                "--filter",
                &format!("label=com.docker.swarm.service.name={service}"),
            ]);
            (
                n.name().to_owned(),
                out.stdout.lines().filter(|l| !l.trim().is_empty()).count(),
            )
        })
        .collect()
}

/// Removes `service` and waits until no node has a container of it.
#[track_caller]
pub fn remove_and_wait_gone(c: &Cluster, via: &Node, service: &str) {
    via.ok(&["service", "rm", service]);
    let mut last = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        last = c
            .nodes()
            .iter()
            .map(|n| (n.name().to_owned(), task_containers(n, service).len()))
            .filter(|(_, k)| *k > 0)
            .collect::<Vec<_>>();
        last.is_empty().then_some(())
    });
    assert!(
        ok.is_some(),
        "containers of {service} left after service rm: {last:?}"
    );
}
