//! `docker service update` rolls the tasks to the new spec, and `docker service rollback`
//! brings the previous one back.

use crate::{cluster, leader, remove_and_wait_gone, wait_replicas};
use shoal_tests::cluster::{CONVERGE, describe};
use shoal_tests::wait;

/// The `A` environment variable of every running task container of `service`.
fn env_values(c: &shoal_tests::cluster::Cluster, service: &str) -> Vec<String> {
    let mut out = Vec::new();
    for n in c.nodes() {
        let running = n.docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.swarm.service.name={service}"),
        ]);
        for id in running.stdout.lines().filter(|l| !l.trim().is_empty()) {
            let env = n.docker(&[
                "inspect",
                "-f",
                "{{range .Config.Env}}{{println .}}{{end}}",
                id,
            ]);
            let a = env
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix("A="))
                .unwrap_or("-")
                .to_owned();
            out.push(a);
        }
    }
    out.sort();
    out
}

#[test]
fn update_rolls_tasks_and_rollback_restores_them() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-upd";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--replicas",
        "3",
        "--env",
        "A=1",
        "busybox",
        "sleep",
        "3600",
    ]);
    wait_replicas(l, name, "3/3");
    let out = l.docker(&[
        "service",
        "update",
        "-d",
        "--env-add",
        "A=2",
        "--update-parallelism",
        "2",
        "--update-delay",
        "1s",
        name,
    ]);
    assert_eq!(out.code, 0, "{}", describe(&out));
    let mut last = Vec::new();
    let ok = wait::try_until(CONVERGE, || {
        last = env_values(&c, name);
        (last == ["2", "2", "2"]).then_some(())
    });
    assert!(ok.is_some(), "every task runs the new spec: {last:?}");

    let out = l.docker(&["service", "rollback", "-d", name]);
    assert_eq!(out.code, 0, "{}", describe(&out));
    let ok = wait::try_until(CONVERGE, || {
        last = env_values(&c, name);
        (last == ["1", "1", "1"]).then_some(())
    });
    assert!(
        ok.is_some(),
        "rollback restores the previous spec: {last:?}"
    );
    remove_and_wait_gone(&c, l, name);
}
