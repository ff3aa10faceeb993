//! Tasks follow the nodes, on a cluster of its own (3 managers, 2 workers, one spare host):
//! a global service gets a task on a node that joins and loses the one on a node that drains;
//! drain moves replicated tasks away and `active` lets new ones land again; a worker whose
//! daemon is killed has its tasks rescheduled once it is marked down, and when it comes back
//! its stale containers are removed and nothing runs twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use shoal_tests::cluster::{CONVERGE, Cluster, Node, Spec, describe};
use shoal_tests::wait;

use crate::service_ps;

/// Running task containers of `service` on each live node, by node name (nodes without any
/// left out).
pub fn running(c: &Cluster, service: &str) -> BTreeMap<String, usize> {
    c.nodes()
        .iter()
        .filter(|n| n.running())
        .filter_map(|n| {
            let k = task_ids(n, service, false).len();
            (k > 0).then(|| (n.name().to_owned(), k))
        })
        .collect()
}

/// Task IDs (the `com.docker.swarm.task.id` label) of the containers of `service` on `n`,
/// running ones only unless `all`.
pub fn task_ids(n: &Node, service: &str, all: bool) -> Vec<String> {
    let filter = format!("label=com.docker.swarm.service.name={service}");
    let mut args = vec!["ps", "--filter", &filter, "--format"];
    args.push("{{.Label \"com.docker.swarm.task.id\"}}");
    if all {
        args.push("-a");
    }
    let out = n.docker(&args);
    if out.code != 0 {
        return Vec::new();
    }
    out.stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// IDs of the tasks of `service` desired to run, as the manager `via` lists them.
pub fn desired_running(via: &Node, service: &str) -> BTreeSet<String> {
    let out = via.docker(&[
        "service",
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        service,
    ]);
    if out.code != 0 {
        return BTreeSet::new();
    }
    out.stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Waits until `check` accepts the running containers of `service` per node.
#[track_caller]
pub fn wait_running(
    c: &Cluster,
    service: &str,
    what: &str,
    check: impl Fn(&BTreeMap<String, usize>) -> bool,
) -> BTreeMap<String, usize> {
    let mut last = BTreeMap::new();
    let ok = wait::try_until(CONVERGE, || {
        last = running(c, service);
        check(&last).then_some(())
    });
    assert!(
        ok.is_some(),
        "{service}: {what} never seen; running containers per node: {last:?}"
    );
    last
}

fn total(m: &BTreeMap<String, usize>) -> usize {
    m.values().sum()
}

#[test]
fn tasks_follow_joins_drains_and_a_killed_worker() {
    let c = Cluster::start_spec(Spec {
        spares: 1,
        ..Spec::new(3, 2)
    });
    for n in c.nodes() {
        n.load_busybox();
    }
    let l = c.leader();
    l.ok(&[
        "service", "create", "-d", "--name", "glob", "--mode", "global", "busybox", "sleep", "3600",
    ]);
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "rep",
        "--replicas",
        "5",
        "busybox",
        "sleep",
        "3600",
    ]);
    wait_running(&c, "glob", "one task on each of the 5 nodes", |m| {
        m.len() == 5 && m.values().all(|k| *k == 1)
    });
    wait_running(&c, "rep", "5 tasks", |m| total(m) == 5);

    // A node that joins gets the global service's task.
    let s1 = c.node("s1");
    c.join(s1, false);
    wait_running(&c, "glob", "a task on the joined s1", |m| {
        m.len() == 6 && m.get("s1") == Some(&1)
    });
    // service ls counts it once s1 has reported it running.
    crate::wait_replicas(l, "glob", "6/6");

    // Drain empties a node: its global task goes away, its replicated tasks run elsewhere.
    l.ok(&["node", "update", "--availability", "drain", "w1"]);
    wait_running(&c, "glob", "no task on the drained w1", |m| {
        m.len() == 5 && !m.contains_key("w1")
    });
    wait_running(&c, "rep", "5 tasks, none on the drained w1", |m| {
        total(m) == 5 && !m.contains_key("w1")
    });
    // As in Docker, the stopped containers of its shut-down tasks stay as task history.
    assert!(
        task_ids(c.node("w1"), "rep", false).is_empty()
            && task_ids(c.node("w1"), "glob", false).is_empty(),
        "the drained node runs no task container"
    );
    let rows = service_ps(l, "rep");
    assert!(
        rows.iter()
            .filter(|r| r.node == "w1")
            .all(|r| r.desired == "Shutdown"),
        "tasks on w1 are desired shut down: {rows:#?}"
    );

    // Active again: the global task comes back and a scale-up lands on the emptiest node.
    l.ok(&["node", "update", "--availability", "active", "w1"]);
    wait_running(&c, "glob", "the task back on w1", |m| {
        m.len() == 6 && m.get("w1") == Some(&1)
    });
    l.ok(&["service", "scale", "-d", "rep=10"]);
    let m = wait_running(&c, "rep", "10 tasks", |m| total(m) == 10);
    assert!(
        m.get("w1").copied().unwrap_or(0) >= 1,
        "new tasks land on the reactivated w1: {m:?}"
    );

    // kill -9 a worker's daemon: once it misses its heartbeats it is down and its tasks run
    // elsewhere.
    let w2 = c.node("w2");
    let on_w2 = task_ids(w2, "rep", false);
    assert!(!on_w2.is_empty(), "w2 runs some of rep's tasks: {m:?}");
    let killed = Instant::now();
    w2.kill9();
    wait::until(CONVERGE, "w2 marked Down", || {
        let rows = l.node_ls().ok()?;
        rows.iter()
            .any(|r| r.hostname == "w2" && r.status == "Down")
            .then_some(())
    });
    let down = killed.elapsed();
    let mut last = (BTreeMap::new(), BTreeSet::new());
    let ok = wait::try_until(CONVERGE, || {
        last = (running(&c, "rep"), desired_running(l, "rep"));
        (total(&last.0) == 10 && last.1.len() == 10 && on_w2.iter().all(|t| !last.1.contains(t)))
            .then_some(())
    });
    let moved = killed.elapsed();
    assert!(
        ok.is_some(),
        "w2's tasks replaced by 10 desired and running elsewhere: running {:?}, desired {:?}, w2 had {on_w2:?}; tasks: {:#?}",
        last.0,
        last.1,
        service_ps(l, "rep")
    );
    eprintln!(
        "w2 killed: marked down after {:.1} s, its tasks running elsewhere after {:.1} s",
        down.as_secs_f64(),
        moved.as_secs_f64()
    );

    // It comes back on the same data dir: its stale containers go, nothing runs twice.
    let marks = c.log_marks();
    w2.restart();
    wait::until(CONVERGE, "w2 Ready again", || {
        let rows = l.node_ls().ok()?;
        rows.iter()
            .any(|r| r.hostname == "w2" && r.status == "Ready")
            .then_some(())
    });
    let mut last = (Vec::new(), BTreeSet::new());
    let ok = wait::try_until(CONVERGE, || {
        let on = task_ids(w2, "rep", false);
        let want = desired_running(l, "rep");
        let clean = on.iter().all(|t| want.contains(t));
        last = (on, want);
        clean.then_some(())
    });
    assert!(
        ok.is_some(),
        "w2's stale containers of rep stopped (w2 runs {:?}, desired running {:?})\n{}",
        last.0,
        last.1,
        c.logs_from(&marks)
    );
    wait_running(
        &c,
        "glob",
        "one global task per node again, w2's included",
        |m| m.len() == 6 && m.values().all(|k| *k == 1),
    );
    // Nothing runs twice: 10 containers for 10 distinct desired tasks.
    let m = running(&c, "rep");
    assert_eq!(total(&m), 10, "exactly 10 rep containers run: {m:?}");
    let mut ids: Vec<String> = c
        .nodes()
        .iter()
        .flat_map(|n| task_ids(n, "rep", false))
        .collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "no task runs twice: {ids:?}");
    let want = desired_running(l, "rep");
    assert!(
        ids.iter().all(|t| want.contains(t)),
        "every running container is a desired task: {ids:?} vs {want:?}"
    );
    for s in ["glob", "rep"] {
        let out = l.docker(&["service", "rm", s]);
        assert_eq!(out.code, 0, "service rm {s}: {}", describe(&out));
    }
}
