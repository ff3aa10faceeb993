//! `docker service logs`: the lines of every task on every node, prefixed by the CLI from
//! the swarm details (`name.slot.task@node    | line`), with `--tail`, `-t`, `-f` and task
//! logs, through the leader and through a manager that forwards to it; a follow picks up the
//! tasks a scale-up starts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::{cluster, leader, remove_and_wait_gone, wait_replicas};
use shoal_tests::cluster::{CONVERGE, Node, describe};
use shoal_tests::wait;

/// One parsed line of `docker service logs` output.
#[derive(Debug, Clone)]
struct Line {
    slot: String,
    task: String,
    node: String,
    text: String,
}

/// Parses `svc.slot.task@node    | text` lines (after an optional timestamp).
fn parse(service: &str, out: &str, timestamps: bool) -> Vec<Line> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = if timestamps {
                let (ts, rest) = l
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("no timestamp: {l:?}"));
                assert!(
                    ts.starts_with("20") && ts.ends_with('Z'),
                    "RFC3339 timestamp first: {l:?}"
                );
                rest
            } else {
                l
            };
            let (ctx, text) = l
                .split_once(" | ")
                .unwrap_or_else(|| panic!("no `|` separator: {l:?}"));
            let ctx = ctx.trim_end();
            let (task_name, node) = ctx
                .split_once('@')
                .unwrap_or_else(|| panic!("no @node: {l:?}"));
            let rest = task_name
                .strip_prefix(&format!("{service}."))
                .unwrap_or_else(|| panic!("no service name prefix: {l:?}"));
            let (slot, task) = rest
                .split_once('.')
                .unwrap_or_else(|| panic!("no slot.task: {l:?}"));
            Line {
                slot: slot.to_owned(),
                task: task.to_owned(),
                node: node.to_owned(),
                text: text.to_owned(),
            }
        })
        .collect()
}

fn logs(via: &Node, service: &str, extra: &[&str]) -> String {
    let mut args = vec!["service", "logs"];
    args.extend_from_slice(extra);
    args.push(service);
    let out = via.docker(&args);
    assert_eq!(out.code, 0, "service logs {extra:?}: {}", describe(&out));
    out.stdout
}

#[test]
fn service_logs_merge_every_node_with_prefixes_tail_follow_and_task_logs() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-logs";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--replicas",
        "3",
        "--replicas-max-per-node",
        "1",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do echo tick-$(hostname)-$i; echo err-$(hostname)-$i >&2; i=$((i+1)); sleep 1; done",
    ]);
    wait_replicas(l, name, "3/3 (max 1 per node)");

    // Every task's lines arrive, with the CLI's `name.slot.task@node | ` prefix, both
    // streams, from three distinct nodes.
    let mut last = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        last = parse(name, &logs(l, name, &[]), false);
        let slots: BTreeSet<&str> = last
            .iter()
            .filter(|x| x.text.starts_with("tick-"))
            .map(|x| x.slot.as_str())
            .collect();
        (slots.len() == 3).then_some(())
    });
    assert!(ok.is_some(), "lines of all 3 tasks: {last:#?}");
    let hostnames: BTreeSet<String> = c.nodes().iter().map(|n| n.hostname().to_owned()).collect();
    // Each task's lines come from one container (its hostname in every line) on one node.
    let mut containers_of_task: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut nodes_of_task: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for x in &last {
        let (_, rest) = x
            .text
            .split_once('-')
            .unwrap_or_else(|| panic!("tick-/err- line: {x:?}"));
        let (container, _) = rest.rsplit_once('-').unwrap_or_else(|| panic!("{x:?}"));
        assert!(hostnames.contains(&x.node), "node is a hostname: {x:?}");
        assert_eq!(
            x.task.len(),
            12,
            "task ID (the CLI truncates it to 12): {x:?}"
        );
        containers_of_task
            .entry(&x.task)
            .or_default()
            .insert(container);
        nodes_of_task.entry(&x.task).or_default().insert(&x.node);
    }
    assert!(
        containers_of_task.values().all(|c| c.len() == 1) && containers_of_task.len() == 3,
        "each task prefix has the lines of one container: {containers_of_task:?}"
    );
    let nodes: BTreeSet<&&str> = nodes_of_task.values().flatten().collect();
    assert_eq!(nodes.len(), 3, "tasks on three nodes: {nodes_of_task:?}");
    // The CLI demultiplexes: the tasks' stderr lines go to its stderr, with the same prefix.
    let out = l.docker(&["service", "logs", "--tail", "2", name]);
    let err = parse(name, &out.stderr, false);
    assert!(
        !err.is_empty() && err.iter().all(|x| x.text.starts_with("err-")),
        "stderr lines on the CLI's stderr: {}",
        describe(&out)
    );

    // --tail 1: the last line of each task, from either stream (the CLI asks for both and
    // prints stderr lines on its own stderr; a task writes tick then err, so its last line
    // is usually on stderr).
    let out = l.docker(&["service", "logs", "--tail", "1", name]);
    assert_eq!(out.code, 0, "service logs --tail 1: {}", describe(&out));
    let mut tail = parse(name, &out.stdout, false);
    tail.extend(parse(name, &out.stderr, false));
    let mut per_task: BTreeMap<&str, usize> = BTreeMap::new();
    for x in &tail {
        *per_task.entry(&x.task).or_default() += 1;
    }
    assert_eq!(per_task.len(), 3, "--tail 1: one line per task: {tail:#?}");
    assert!(per_task.values().all(|k| *k == 1), "--tail 1: {tail:#?}");

    // -t: a timestamp before the prefix; through a manager that is not the leader.
    let follower = c
        .managers()
        .into_iter()
        .find(|m| m.name() != l.name())
        .expect("a follower manager");
    // Two lines per task over both streams (the CLI prints stderr lines on its stderr).
    let out = follower.docker(&["service", "logs", "-t", "--tail", "2", name]);
    assert_eq!(out.code, 0, "service logs -t --tail 2: {}", describe(&out));
    let mut stamped = parse(name, &out.stdout, true);
    stamped.extend(parse(name, &out.stderr, true));
    assert_eq!(
        stamped.len(),
        6,
        "--tail 2 of 3 tasks via a follower: {stamped:#?}"
    );

    // Task logs: `docker service logs <task-id>` shows only that task.
    let task_ids = l.ok(&[
        "service",
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "desired-state=running",
        name,
    ]);
    let task = task_ids
        .lines()
        .next()
        .expect("a task ID")
        .trim()
        .to_owned();
    // Three lines over both streams (stderr lines come on the CLI's stderr), once the task
    // has written that many (it may have just started).
    let mut of_task = Vec::new();
    let three = wait::try_until(Duration::from_secs(60), || {
        let out = l.docker(&["service", "logs", "--tail", "3", &task]);
        assert_eq!(out.code, 0, "task logs --tail 3: {}", describe(&out));
        of_task = parse(name, &out.stdout, false);
        of_task.extend(parse(name, &out.stderr, false));
        (of_task.len() >= 3).then_some(())
    });
    assert!(three.is_some(), "task logs --tail 3: {of_task:#?}");
    assert_eq!(of_task.len(), 3, "task logs --tail 3: {of_task:#?}");
    assert!(
        of_task.iter().all(|x| task.starts_with(&x.task)),
        "only task {task}: {of_task:#?}"
    );

    // -f: a line written after the command started arrives while it runs.
    let recent = parse(name, &logs(l, name, &["--tail", "2"]), false);
    let one = recent
        .iter()
        .find(|x| x.slot == "1" && x.text.starts_with("tick-"))
        .unwrap_or_else(|| panic!("a tick of slot 1: {recent:#?}"));
    let (prefix, n) = one.text.rsplit_once('-').expect("tick-host-n");
    let n: u64 = n.parse().expect("a counter");
    let follow = l
        .cli()
        .spawn(&["service", "logs", "-f", "--tail", "1", name]);
    follow.wait_stdout(&format!("| {prefix}-{}\n", n + 3), Duration::from_secs(60));
    drop(follow);

    // -f across a scale-up, through the follower (the request is forwarded to the leader):
    // the task that starts after the command joins it, from its very first line.
    let follow = follower
        .cli()
        .spawn(&["service", "logs", "-f", "--tail", "0", name]);
    follow.wait_stdout(" | tick-", Duration::from_secs(60));
    l.ok(&["service", "scale", "-d", &format!("{name}=4")]);
    let mut seen = Vec::new();
    let first_of_new = wait::try_until(CONVERGE, || {
        seen = parse(name, &follow.stdout(), false);
        seen.iter()
            .any(|x| x.slot == "4" && x.text.starts_with("tick-") && x.text.ends_with("-0"))
            .then_some(())
    });
    assert!(
        first_of_new.is_some(),
        "the new slot 4 task's first line in the running follow: {seen:#?}\ntasks: {:#?}",
        crate::service_ps(l, name)
    );
    drop(follow);

    remove_and_wait_gone(&c, l, name);
}
