//! Health checks (issue #8): `--health-*` options and the image's HEALTHCHECK run as probes;
//! `State.Health`, the `docker ps` status and `health` filter, `health_status` events, the
//! probe timeout, `--no-healthcheck`, and docker-py reading the state.

use std::process::Command;

use shoal_tests::docker::run_command;
use shoal_tests::{Fixture, secs, shared, unique, wait};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `State.Health` of `name` (null when it has none).
fn health(d: &Fixture, name: &str) -> serde_json::Value {
    d.cli().inspect(name)["State"]["Health"].clone()
}

/// Waits until `name`'s health status is `want`; returns `State.Health` then.
#[track_caller]
fn wait_status(d: &Fixture, name: &str, want: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let found = wait::try_until(secs(30), || {
        last = health(d, name);
        (last["Status"] == want).then(|| last.clone())
    });
    found.unwrap_or_else(|| panic!("{name} never became {want}: last State.Health {last}"))
}

/// IDs `docker ps` lists with `filter`, among containers named `name`.
fn ps_ids(d: &Fixture, name: &str, filter: &str) -> String {
    d.ok(&[
        "ps",
        "-a",
        "-q",
        "--no-trunc",
        "--filter",
        filter,
        "--filter",
        &format!("name=^{name}$"),
    ])
}

fn ps_status(d: &Fixture, name: &str) -> String {
    d.ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{name}$"),
        "--format",
        "{{.Status}}",
    ])
}

/// The Start of the newest probe in `h`'s log.
fn last_probe(h: &serde_json::Value) -> String {
    h["Log"]
        .as_array()
        .and_then(|l| l.last())
        .map(|p| p["Start"].to_string())
        .unwrap_or_default()
}

#[test]
fn starting_healthy_unhealthy_with_events_ps_and_filters() {
    let d = shared();
    let name = unique("health");
    let since = unix_now();
    // The start period keeps the failing probes (no /tmp/ok yet) from counting.
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "test -f /tmp/ok && echo fine",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        "--health-start-period",
        "60s",
        "--health-start-interval",
        "200ms",
        "busybox",
        "sleep",
        "300",
    ]);
    let hc = d.cli().inspect(&name)["Config"]["Healthcheck"].clone();
    assert_eq!(
        hc,
        serde_json::json!({
            "Test": ["CMD-SHELL", "test -f /tmp/ok && echo fine"],
            "Interval": 300_000_000i64,
            "Retries": 2,
            "StartPeriod": 60_000_000_000i64,
            "StartInterval": 200_000_000i64,
        }),
        "Config.Healthcheck"
    );
    // Failing probes in the start period: still starting, no failing streak.
    let h = wait::until(secs(30), "two failed probes while starting", || {
        let h = health(&d, &name);
        (h["Log"].as_array().map_or(0, Vec::len) >= 2).then_some(h)
    });
    assert_eq!(h["Status"], "starting", "{h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");
    assert_eq!(h["Log"][0]["ExitCode"], 1, "{h}");
    assert!(
        ps_status(&d, &name).ends_with("(health: starting)"),
        "{}",
        ps_status(&d, &name)
    );
    assert_eq!(ps_ids(&d, &name, "health=starting"), id);
    assert_eq!(ps_ids(&d, &name, "health=none"), "");

    d.ok(&["exec", &name, "touch", "/tmp/ok"]);
    let h = wait_status(&d, &name, "healthy");
    let log = h["Log"].as_array().unwrap();
    let newest = log.last().unwrap();
    assert_eq!(newest["ExitCode"], 0, "{h}");
    assert_eq!(newest["Output"], "fine\n", "{h}");
    assert!(ps_status(&d, &name).ends_with("(healthy)"));
    assert_eq!(ps_ids(&d, &name, "health=healthy"), id);

    d.ok(&["exec", &name, "rm", "/tmp/ok"]);
    let h = wait_status(&d, &name, "unhealthy");
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    assert!(
        h["Log"].as_array().unwrap().len() <= 5,
        "dockerd keeps 5: {h}"
    );
    assert!(ps_status(&d, &name).ends_with("(unhealthy)"));
    assert_eq!(ps_ids(&d, &name, "health=unhealthy"), id);

    let until = unix_now() + 1;
    let actions = d.ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}}",
    ]);
    let health_events: Vec<&str> = actions
        .lines()
        .filter(|a| a.starts_with("health_status"))
        .collect();
    assert_eq!(
        health_events,
        ["health_status: healthy", "health_status: unhealthy"],
        "all events: {actions}"
    );

    // Paused: no probes run.
    d.ok(&["pause", &name]);
    let before = last_probe(&health(&d, &name));
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(
        last_probe(&health(&d, &name)),
        before,
        "a probe ran while paused"
    );
    d.ok(&["unpause", &name]);

    // A restart starts over from "starting" (and the start period again).
    d.ok(&["restart", "-t", "0", &name]);
    let h = health(&d, &name);
    assert_eq!(h["Status"], "starting", "after restart: {h}");
    assert_eq!(h["FailingStreak"], 0, "{h}");

    // Stopped: the probes stop and, as on dockerd, the status reads unhealthy.
    d.ok(&["stop", "-t", "0", &name]);
    let h = wait_status(&d, &name, "unhealthy");
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert_eq!(
        last_probe(&health(&d, &name)),
        last_probe(&h),
        "probe after stop"
    );
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn a_probe_over_its_timeout_is_a_failure() {
    let d = shared();
    let name = unique("health-timeout");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "sleep 10",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "300",
    ]);
    let h = wait_status(&d, &name, "unhealthy");
    let p = &h["Log"][0];
    assert_eq!(p["ExitCode"], -1, "{h}");
    assert_eq!(p["Output"], "Health check exceeded timeout (300ms)", "{h}");
    assert_eq!(d.cli().fmt(&name, "{{.State.Running}}"), "true");
    // The killed probe's process is gone from the container.
    let ps = d.ok(&["exec", &name, "ps", "-o", "args"]);
    assert!(
        ps.lines().filter(|l| l.trim() == "sleep 10").count() <= 1,
        "timed-out probes pile up: {ps}"
    );
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn image_healthcheck_is_inherited_and_no_healthcheck_disables_it() {
    let d = shared();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD test -f /etc/passwd\n",
    )
    .unwrap();
    let tag = format!("{}:1", unique("hcimage"));
    let mut cmd = d
        .cli()
        .command(&["build", "-q", "-t", &tag, dir.path().to_str().unwrap()]);
    cmd.env("DOCKER_BUILDKIT", "0");
    let out = run_command(cmd, None, secs(120));
    assert_eq!(out.code, 0, "build: {out:?}");
    let image_hc = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Healthcheck}}",
        &tag,
    ]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&image_hc).unwrap(),
        serde_json::json!({"Test": ["CMD-SHELL", "test -f /etc/passwd"], "Interval": 200_000_000i64, "Retries": 1}),
    );

    let inherits = unique("hc-inherit");
    d.ok(&["run", "-d", "--name", &inherits, &tag, "sleep", "300"]);
    wait_status(&d, &inherits, "healthy");

    // The user's fields win, the rest comes from the image.
    let overrides = unique("hc-override");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &overrides,
        "--health-cmd",
        "false",
        &tag,
        "sleep",
        "300",
    ]);
    let h = wait_status(&d, &overrides, "unhealthy");
    assert_eq!(h["FailingStreak"], 1, "{h}");
    assert_eq!(
        d.cli()
            .fmt(&overrides, "{{json .Config.Healthcheck.Interval}}"),
        "200000000"
    );

    let disabled = unique("hc-none");
    let id = d.ok(&[
        "run",
        "-d",
        "--name",
        &disabled,
        "--no-healthcheck",
        &tag,
        "sleep",
        "300",
    ]);
    assert_eq!(
        d.cli().fmt(&disabled, "{{json .Config.Healthcheck.Test}}"),
        r#"["NONE"]"#
    );
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(health(&d, &disabled), serde_json::Value::Null);
    assert_eq!(ps_ids(&d, &disabled, "health=none"), id);
    assert!(!ps_status(&d, &disabled).contains("health"));

    // HEALTHCHECK NONE in a child image turns the parent's off.
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {tag}\nHEALTHCHECK NONE\n"),
    )
    .unwrap();
    let child = format!("{}:1", unique("hcchild"));
    let mut cmd = d
        .cli()
        .command(&["build", "-q", "-t", &child, dir.path().to_str().unwrap()]);
    cmd.env("DOCKER_BUILDKIT", "0");
    let out = run_command(cmd, None, secs(120));
    assert_eq!(out.code, 0, "build: {out:?}");
    let plain = unique("hc-child");
    d.ok(&["run", "-d", "--name", &plain, &child, "sleep", "300"]);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(health(&d, &plain), serde_json::Value::Null);

    d.ok(&["rm", "-f", &inherits, &overrides, &disabled, &plain]);
    d.ok(&["rmi", &child, &tag]);
}

const DOCKER_PY: &str = r#"
import sys, time, docker
client = docker.from_env()
c = client.containers.run(
    "busybox", "sleep 300", detach=True, name=sys.argv[1],
    healthcheck={"test": ["CMD", "true"], "interval": 200_000_000, "retries": 1},
)
try:
    h = None
    for _ in range(300):
        c.reload()
        h = c.attrs["State"].get("Health")
        if h and h["Status"] == "healthy":
            break
        time.sleep(0.1)
    assert h and h["Status"] == "healthy", h
    assert h["FailingStreak"] == 0, h
    assert h["Log"] and h["Log"][-1]["ExitCode"] == 0, h
    assert c.health == "healthy", c.health
    assert c.attrs["Config"]["Healthcheck"]["Test"] == ["CMD", "true"], c.attrs["Config"]
    print("ok health")
finally:
    c.remove(force=True)
"#;

#[test]
fn docker_py_reads_state_health() {
    let d = shared();
    let out = Command::new("python3")
        .args(["-c", DOCKER_PY, &unique("py-health")])
        .env("DOCKER_HOST", d.cli().host())
        .env("DOCKER_CONFIG", d.cli().config_dir())
        .output()
        .expect("run python3 (docker-py 7 must be installed: pip install docker)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok health"),
        "docker-py: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
