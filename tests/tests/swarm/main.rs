//! Swarm mode core (issue #3) on 3-manager + 2-worker clusters of real daemons, each node in its
//! own network namespace, driven only with the real `docker` CLI.
//!
//! Read-only checks share one cluster ([`shoal_tests::cluster::shared`]); every test that kills,
//! cuts, restarts or re-roles nodes owns its cluster. Against `SHOAL_E2E_ENGINE=dockerd` the same
//! tests validate themselves on Docker's own swarm mode.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_nodes;
mod t20_tokens;
mod t30_failover;
mod t40_partition;
mod t50_roles;
mod t60_restart;
mod t70_autolock;
mod t80_foreign_ca;
mod t90_engine_labels;
mod t95_ca_rotate;

use shoal_tests::cluster::{CONVERGE, Cluster, Node, NodeRow};
use shoal_tests::wait;

/// `docker node ls` on `via`, asserting it is accepted.
#[track_caller]
pub fn rows(via: &Node) -> Vec<NodeRow> {
    via.node_ls()
        .unwrap_or_else(|e| panic!("docker node ls on {} refused: {e}", via.name()))
}

/// The row for node `name` (by hostname) in `docker node ls` on `via`.
#[track_caller]
pub fn row(via: &Node, name: &str) -> NodeRow {
    let all = rows(via);
    all.iter()
        .find(|r| r.hostname == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in docker node ls on {}: {all:#?}", via.name()))
}

/// Waits until `check` holds for `docker node ls` on `via`.
#[track_caller]
pub fn wait_rows(via: &Node, why: &str, check: impl Fn(&[NodeRow]) -> bool) -> Vec<NodeRow> {
    let mut last = Err(String::new());
    let got = wait::try_until(CONVERGE, || {
        last = via.node_ls();
        last.as_ref().ok().filter(|r| check(r)).cloned()
    });
    got.unwrap_or_else(|| {
        panic!(
            "timed out after {CONVERGE:?} waiting for {why} (node ls on {}): {last:#?}",
            via.name()
        )
    })
}

/// Retries a write (`docker <args>`) through `via` until it succeeds: right after an election
/// a manager may still answer "no leader".
#[track_caller]
pub fn write_eventually(via: &Node, args: &[&str]) {
    let mut last = None;
    let ok = wait::try_until(CONVERGE, || {
        let out = via.docker(args);
        let done = out.code == 0;
        last = Some(out);
        done.then_some(())
    });
    if ok.is_none() {
        panic!(
            "docker {args:?} through {} never succeeded: {:?}",
            via.name(),
            last
        );
    }
}

/// The labels of node `target` as `docker node inspect` on `via` shows them (`k=v` sorted).
#[track_caller]
pub fn labels(via: &Node, target: &str) -> String {
    via.ok(&[
        "node",
        "inspect",
        "-f",
        "{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}",
        target,
    ])
}

/// Waits until `via` sees label `kv` on node `target`.
#[track_caller]
pub fn wait_label(via: &Node, target: &str, kv: &str) {
    let mut last = String::new();
    let ok = wait::try_until(CONVERGE, || {
        let out = via.docker(&[
            "node",
            "inspect",
            "-f",
            "{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}} {{end}}",
            target,
        ]);
        last = format!("{}{}", out.stdout, out.stderr);
        (out.code == 0 && out.stdout.split_whitespace().any(|l| l == kv)).then_some(())
    });
    assert!(
        ok.is_some(),
        "{} never saw label {kv} on {target}: {last}",
        via.name()
    );
}

/// Exactly one Leader, and every name in `managers` is a manager (Leader or Reachable).
#[track_caller]
pub fn assert_one_leader(rows: &[NodeRow], managers: &[&str]) {
    let leaders: Vec<_> = rows
        .iter()
        .filter(|r| r.manager_status == "Leader")
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one Leader expected: {rows:#?}");
    for m in managers {
        let r = rows.iter().find(|r| r.hostname == *m);
        assert!(
            r.is_some_and(|r| matches!(r.manager_status.as_str(), "Leader" | "Reachable")),
            "{m} should be a reachable manager: {rows:#?}"
        );
    }
}

/// Starts an owned 3 + 2 cluster.
pub fn cluster() -> Cluster {
    Cluster::start(3, 2)
}
