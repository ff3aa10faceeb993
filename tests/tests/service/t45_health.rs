//! Service health checks (`--health-cmd`), as with Docker's executor: a task is running only
//! once its container is healthy, and an unhealthy container fails its task, which the
//! restart policy replaces.

use crate::{cluster, leader, remove_and_wait_gone, service_ps, wait_replicas};
use shoal_tests::cluster::{CONVERGE, describe};
use shoal_tests::wait;

#[test]
fn a_task_runs_once_healthy_and_an_unhealthy_one_is_replaced() {
    let c = cluster();
    let l = leader(&c);
    let name = "svc-health";
    // /tmp/ok appears 3 s after start: until then the probes fail (in the start period, so
    // they do not count) and the task must stay "starting".
    let out = l.docker(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--replicas",
        "1",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-retries",
        "1",
        "--health-start-period",
        "60s",
        "--health-start-interval",
        "300ms",
        "--stop-grace-period",
        "1s",
        "busybox",
        "sh",
        "-c",
        "sleep 3; touch /tmp/ok; exec sleep 3600",
    ]);
    assert_eq!(out.code, 0, "{}", describe(&out));
    let spec = l.ok(&[
        "service",
        "inspect",
        "-f",
        "{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck.Test}}",
        name,
    ]);
    assert_eq!(spec, r#"["CMD-SHELL","test -f /tmp/ok"]"#);
    let mut seen_starting = false;
    let mut last = Vec::new();
    let running = wait::try_until(CONVERGE, || {
        last = service_ps(l, name);
        let t = last.first()?;
        seen_starting |= t.current.starts_with("Starting");
        t.current.starts_with("Running").then(|| t.clone())
    });
    let task = running.unwrap_or_else(|| panic!("task never running: {last:#?}"));
    assert!(
        seen_starting,
        "the task was never seen starting while its container was not healthy yet"
    );
    wait_replicas(l, name, "1/1");

    // The task's container reports healthy on its node.
    let node = c
        .nodes()
        .iter()
        .find(|n| n.hostname() == task.node)
        .unwrap_or_else(|| panic!("no node {} in the cluster", task.node));
    let ctr = node.ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.swarm.service.name={name}"),
    ]);
    assert_eq!(
        node.ok(&["inspect", "-f", "{{.State.Health.Status}}", &ctr]),
        "healthy"
    );

    // Unhealthy: the container is stopped, the task fails with the health check as the cause,
    // and a new task takes its place.
    node.ok(&["exec", &ctr, "rm", "/tmp/ok"]);
    let mut last = Vec::new();
    let replaced = wait::try_until(CONVERGE, || {
        last = service_ps(l, name);
        let failed = last
            .iter()
            .find(|t| t.current.starts_with("Failed"))?
            .clone();
        let new_running = last
            .iter()
            .any(|t| t.desired == "Running" && t.current.starts_with("Running"));
        new_running.then_some(failed)
    });
    let failed = replaced.unwrap_or_else(|| panic!("unhealthy task not replaced: {last:#?}"));
    // `service ps --no-trunc` prints the error quoted, as against dockerd.
    assert_eq!(
        failed.error.trim_matches('"'),
        "task: non-zero exit (137): dockerexec: unhealthy container",
        "{last:#?}"
    );
    wait_replicas(l, name, "1/1");
    remove_and_wait_gone(&c, l, name);
}
