//! Prometheus metrics on `--metrics-addr` (issue 11): dockerd's metric names move as containers
//! run, API latency is recorded per route, and a real Prometheus server scrapes the target.

use std::process::{Child, Command, Stdio};

use shoal_tests::docker::run_command;
use shoal_tests::{Daemon, Options, secs, wait};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn curl(url: &str) -> Option<String> {
    let mut c = Command::new("curl");
    c.args(["-fsS", "--max-time", "10", url]);
    let out = run_command(c, None, secs(20));
    (out.code == 0).then_some(out.stdout)
}

/// The value of the sample whose line starts with `series` (name and labels as printed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Kills the Prometheus server this test started, by its pid, on every exit path.
struct Prom(Child);

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn metrics_move_with_containers_and_prometheus_scrapes_them() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let d = Daemon::start(Options {
        extra_args: vec!["--metrics-addr".into(), addr.clone()],
        ..Options::default()
    });
    let url = format!("http://{addr}/metrics");
    let before = curl(&url).expect("metrics answer");
    let starts = |t: &str| {
        sample(
            t,
            r#"engine_daemon_container_actions_seconds_count{action="start"}"#,
        )
        .unwrap_or(0.0)
    };
    let running = |t: &str| {
        sample(
            t,
            r#"engine_daemon_container_states_containers{state="running"}"#,
        )
        .unwrap_or(-1.0)
    };
    assert!(
        before.contains("engine_daemon_engine_info{"),
        "engine info: {before}"
    );
    assert_eq!(sample(&before, "swarm_node_manager"), Some(0.0));
    let name = shoal_tests::unique("metrics");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "600"]);
    d.ok(&["run", "--rm", "busybox", "true"]);
    let after = curl(&url).expect("metrics answer");
    assert!(
        starts(&after) >= starts(&before) + 2.0,
        "two starts recorded:\n{after}"
    );
    assert_eq!(running(&after), 1.0, "one running container:\n{after}");
    assert!(
        sample(&after, "engine_daemon_events_total").unwrap_or(0.0)
            > sample(&before, "engine_daemon_events_total").unwrap_or(0.0),
        "events counted"
    );
    assert!(
        after.contains(
            r#"shoal_api_request_duration_seconds_count{method="POST",route="/containers/{id}/start",status="204"}"#
        ),
        "API latency per route template and status:\n{after}"
    );
    d.ok(&["stop", "-t", "0", &name]);
    let stopped = curl(&url).unwrap();
    assert_eq!(running(&stopped), 0.0);
    assert_eq!(
        sample(
            &stopped,
            r#"engine_daemon_container_states_containers{state="stopped"}"#
        ),
        Some(1.0)
    );

    // A real Prometheus, on loopback with its own config and storage, scrapes the target.
    let prom_port = free_port();
    let dir = d.dir().join("prometheus");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: shoal\n    static_configs:\n      - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let _prom = Prom(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run prometheus (Debian package `prometheus`, installed by .ci/run)"),
    );
    let api = format!("http://127.0.0.1:{prom_port}/api/v1");
    wait::until(secs(90), "Prometheus reports the shoal target up", || {
        let t: serde_json::Value = serde_json::from_str(&curl(&format!("{api}/targets"))?).ok()?;
        let targets = t["data"]["activeTargets"].as_array()?;
        targets.iter().any(|t| t["health"] == "up").then_some(())
    });
    // And it has the engine's figures, not just a reachable port.
    let q = wait::until(
        secs(60),
        "Prometheus has the container state series",
        || {
            let body = curl(&format!(
                "{api}/query?query=engine_daemon_container_states_containers"
            ))?;
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (!v["data"]["result"].as_array()?.is_empty()).then_some(v)
        },
    );
    assert_eq!(q["status"], "success", "{q}");
}

/// The count of histogram `name` (with `labels` as printed, e.g. `{action="create"}`).
fn count(text: &str, name: &str, labels: &str) -> f64 {
    sample(text, &format!("{name}_count{labels}")).unwrap_or(0.0)
}

#[test]
fn network_actions_and_a_one_node_swarm_show_in_the_metrics() {
    let addr = format!("127.0.0.1:{}", free_port());
    let d = Daemon::start(Options {
        extra_args: vec!["--metrics-addr".into(), addr.clone()],
        ..Options::default()
    });
    let url = format!("http://{addr}/metrics");
    let net_actions = "engine_daemon_network_actions_seconds";
    let before = curl(&url).expect("metrics answer");
    let net = shoal_tests::unique("metricsnet");
    d.ok(&["network", "create", &net]);
    // A container started on the network joins it: dockerd's "allocate".
    d.ok(&["run", "--rm", "--network", &net, "busybox", "true"]);
    d.ok(&["network", "rm", &net]);
    let after = curl(&url).expect("metrics answer");
    for action in ["create", "allocate", "delete"] {
        let labels = format!(r#"{{action="{action}"}}"#);
        assert_eq!(
            count(&after, net_actions, &labels),
            count(&before, net_actions, &labels) + 1.0,
            "one network {action} recorded:\n{after}"
        );
    }
    let raft = "swarm_raft_transaction_latency_seconds";
    let delay = "swarm_dispatcher_scheduling_delay_seconds";
    assert_eq!(count(&after, raft, ""), 0.0, "no swarm, no raft:\n{after}");

    // A one-node swarm on its own loopback port, with one service.
    let swarm_addr = format!("127.0.0.1:{}", free_port());
    d.ok(&[
        "swarm",
        "init",
        "--advertise-addr",
        &swarm_addr,
        "--listen-addr",
        &swarm_addr,
    ]);
    let svc = shoal_tests::unique("metricssvc");
    d.ok(&[
        "service",
        "create",
        "-d",
        "--no-resolve-image",
        "--name",
        &svc,
        "busybox",
        "sleep",
        "600",
    ]);
    let text = wait::until(
        secs(90),
        "the service's task reported running (scheduling delay recorded)",
        || {
            let t = curl(&url)?;
            (count(&t, delay, "") >= 1.0).then_some(t)
        },
    );
    assert!(
        count(&text, raft, "") >= 1.0,
        "raft proposals timed:\n{text}"
    );
    assert!(
        sample(&text, &format!("{raft}_sum")).unwrap_or(0.0) > 0.0,
        "raft latency is not zero:\n{text}"
    );
    assert!(
        sample(&text, &format!("{delay}_sum")).unwrap_or(0.0) > 0.0,
        "scheduling delay is not zero:\n{text}"
    );
    assert_eq!(sample(&text, "swarm_node_manager"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "swarm_manager_leader"), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, r#"swarm_manager_nodes{state="ready"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "swarm_manager_services_total"),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, r#"swarm_manager_tasks_total{state="running"}"#).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    d.ok(&["service", "rm", &svc]);
    d.ok(&["swarm", "leave", "--force"]);
    let left = curl(&url).expect("metrics answer");
    assert_eq!(sample(&left, "swarm_node_manager"), Some(0.0), "{left}");
}
