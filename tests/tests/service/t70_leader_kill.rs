//! kill -9 the leader in the middle of `docker service scale web=30`, on a cluster of its
//! own: a new leader picks up where the old one stopped and the cluster converges to exactly
//! 30 running tasks in slots 1..30; when the old leader comes back nothing runs twice.

use std::collections::BTreeSet;

use shoal_tests::cluster::{CONVERGE, Cluster};
use shoal_tests::wait;

use crate::t60_nodes::{desired_running, running, task_ids};

/// `docker service ps web --filter desired-state=running` as (name, node) rows.
fn desired_rows(via: &shoal_tests::cluster::Node) -> Vec<(String, String)> {
    let out = via.docker(&[
        "service",
        "ps",
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Name}}\t{{.Node}}\t{{.CurrentState}}",
        "web",
    ]);
    if out.code != 0 {
        return Vec::new();
    }
    out.stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.trim().to_owned();
            let node = f.next()?.trim().to_owned();
            let state = f.next()?.trim();
            state.starts_with("Running").then_some((name, node))
        })
        .collect()
}

#[test]
fn leader_killed_during_scale_to_30_converges_to_exactly_30() {
    let c = Cluster::start(3, 2);
    for n in c.nodes() {
        n.load_busybox();
    }
    let old = c.leader();
    old.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        "web",
        "--replicas",
        "2",
        "busybox",
        "sleep",
        "3600",
    ]);
    wait::until(CONVERGE, "web at 2/2", || {
        (crate::replicas(old, "web") == "2/2").then_some(())
    });
    old.ok(&["service", "scale", "-d", "web=30"]);
    // Kill it while the scale-up is under way: once the orchestrator has begun, before
    // everything runs.
    let mut seen = 0;
    wait::try_until(CONVERGE, || {
        seen = desired_running(old, "web").len();
        (seen > 2).then_some(())
    });
    let at_kill = desired_rows(old).len();
    old.kill9();
    eprintln!(
        "leader {} killed with {seen} tasks desired running and {at_kill} running",
        old.name()
    );

    let via = c
        .managers()
        .into_iter()
        .find(|m| m.name() != old.name())
        .expect("another manager");
    let new = c.leader_via_except(via, old.hostname());
    assert_ne!(new.name(), old.name());
    let mut last = Vec::new();
    let ok = wait::try_until(CONVERGE * 2, || {
        last = desired_rows(new);
        let mut slots: Vec<&str> = last.iter().map(|(n, _)| n.as_str()).collect();
        slots.sort();
        slots.dedup();
        let want: BTreeSet<String> = (1..=30).map(|i| format!("web.{i}")).collect();
        let have: BTreeSet<String> = slots.iter().map(|s| (*s).to_owned()).collect();
        (last.len() == 30
            && have == want
            && last.iter().all(|(_, node)| node != old.hostname())
            && running(&c, "web").values().sum::<usize>() == 30)
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "exactly 30 running tasks in slots web.1..web.30 off the dead {} (on the live nodes: {:?}); last: {last:#?}",
        old.name(),
        running(&c, "web")
    );
    assert_eq!(crate::replicas(new, "web"), "30/30");

    // The old leader comes back: its stale tasks stop (their stopped containers stay as task
    // history until the reaper, as on Docker), still exactly 30 run.
    old.restart();
    let mut counts = Default::default();
    let ok = wait::try_until(CONVERGE, || {
        let want = desired_running(new, "web");
        let on_old = task_ids(old, "web", false);
        counts = running(&c, "web");
        (on_old.iter().all(|t| want.contains(t))
            && counts.values().sum::<usize>() == 30
            && want.len() == 30)
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "after {} restarts, exactly the 30 desired tasks run: {counts:?}",
        old.name()
    );
    new.ok(&["service", "rm", "web"]);
}
