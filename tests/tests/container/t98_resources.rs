//! `docker stats`, `docker update` and OOM kills (issue #8): counters from the container's
//! cgroup in the API's shape, limits changed on a running container and kept, a process
//! over its memory limit killed and reported.

use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;
use shoal_tests::{sdk, shared, unique};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A cgroup file inside the container, v2 name first, then the v1 controller's.
fn cgroup_file(d: &shoal_tests::Fixture, name: &str, v2: &str, v1: &str) -> String {
    d.ok(&[
        "exec",
        name,
        "sh",
        "-c",
        &format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}"),
    ])
}

#[tokio::test]
async fn stats_show_usage_limit_and_stream_samples() {
    let d = shared();
    let name = unique("stats");
    // The shell keeps 2 MiB in a variable, so memory use is well above zero.
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 2097152 /dev/zero | tr '\\0' a); sleep 300; echo $x",
    ]);
    let line = d.ok(&["stats", "--no-stream", "--format", "{{json .}}", &name]);
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stats line {line:?}: {e}"));
    let mem = v["MemUsage"].as_str().unwrap_or_default().to_owned();
    assert!(mem.ends_with("/ 64MiB"), "MemUsage {mem:?} in {line}");
    assert!(!mem.starts_with("0B"), "no memory use reported: {line}");
    assert_ne!(v["PIDs"], "0", "{line}");
    assert!(
        v["CPUPerc"].as_str().unwrap_or_default().ends_with('%'),
        "{line}"
    );
    assert!(
        v["NetIO"].as_str().is_some_and(|n| n.contains(" / ")),
        "{line}"
    );

    let docker = sdk::connect(&d).await;
    let samples: Vec<_> = docker
        .stats(
            &name,
            Some(
                StatsOptionsBuilder::new()
                    .stream(true)
                    .one_shot(false)
                    .build(),
            ),
        )
        .take(2)
        .collect()
        .await;
    let samples: Vec<_> = samples
        .into_iter()
        .map(|s| s.expect("stats sample"))
        .collect();
    assert_eq!(samples.len(), 2);
    assert!(
        samples[1].read > samples[0].read,
        "read does not increase: {:?} then {:?}",
        samples[0].read,
        samples[1].read
    );
    assert_eq!(samples[1].preread, samples[0].read);
    let total = |s: &Option<bollard::models::ContainerCpuStats>| {
        s.as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
    };
    assert_eq!(
        total(&samples[1].precpu_stats),
        total(&samples[0].cpu_stats)
    );
    assert!(
        total(&samples[1].cpu_stats).unwrap_or(0) > 0,
        "{:?}",
        samples[1]
    );
    let mem = samples[1].memory_stats.clone().unwrap_or_default();
    assert_eq!(mem.limit, Some(64 << 20));
    assert!(mem.usage.unwrap_or(0) > 0, "{mem:?}");
    assert!(
        samples[1]
            .pids_stats
            .as_ref()
            .and_then(|p| p.current)
            .unwrap_or(0)
            >= 2,
        "{:?}",
        samples[1].pids_stats
    );

    // one-shot: a single sample at once, no previous CPU numbers.
    let one = d.http(
        "GET",
        &format!("/containers/{name}/stats?stream=false&one-shot=true"),
        None,
    );
    assert_eq!(one.status, 200, "{}", one.text());
    let doc: serde_json::Value = serde_json::from_str(one.text().trim()).expect("one JSON doc");
    assert_eq!(doc["preread"], "0001-01-01T00:00:00Z");
    assert_eq!(doc["id"].as_str().map(str::len), Some(64));
    assert_eq!(doc["name"], format!("/{name}"));
    d.ok(&["rm", "-f", &name]);
    let missing = d.http("GET", "/containers/nonexistent-stats/stats?stream=0", None);
    assert_eq!(missing.status, 404);
}

#[test]
fn update_changes_a_running_container_and_is_kept() {
    let d = shared();
    let name = unique("update");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "300"]);
    assert_eq!(
        d.ok(&["update", "--memory", "64m", "--pids-limit", "50", &name]),
        name
    );
    let mem = || cgroup_file(&d, &name, "memory.max", "memory/memory.limit_in_bytes");
    let pids = || cgroup_file(&d, &name, "pids.max", "pids/pids.max");
    assert_eq!(mem(), "67108864");
    assert_eq!(pids(), "50");
    let v = d.cli().inspect(&name);
    assert_eq!(v["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(v["HostConfig"]["PidsLimit"], 50);

    d.ok(&["update", "--restart", "always", "--cpus", "0.5", &name]);
    let v = d.cli().inspect(&name);
    assert_eq!(v["HostConfig"]["RestartPolicy"]["Name"], "always");
    assert_eq!(v["HostConfig"]["NanoCpus"], 500_000_000);
    // A restart builds the task from the record: the limits stay.
    d.ok(&["restart", "-t", "0", &name]);
    assert_eq!(mem(), "67108864");
    assert_eq!(pids(), "50");
    let quota = cgroup_file(&d, &name, "cpu.max", "cpu/cpu.cfs_quota_us");
    assert!(quota.starts_with("50000"), "cpu quota {quota:?}");

    let err = d.fail(&["update", "--memory", "1m", &name]).err();
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    let err = d.fail(&["update", "--restart", "always:3", &name]).err();
    assert!(err.contains("maximum retry count"), "{err}");
    let err = d
        .fail(&["update", "--memory", "64m", "nonexistent-upd"])
        .err();
    assert!(err.contains("No such container"), "{err}");
    // A field Shoal cannot change is a 400 naming it, not dropped.
    let r = d.http(
        "POST",
        &format!("/containers/{name}/update"),
        Some(r#"{"CpuRealtimeRuntime": 1000}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("CpuRealtimeRuntime"), "{}", r.text());
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn memory_limit_oom_kills_and_reports() {
    let d = shared();
    let name = unique("oom");
    let start = unix_now() - 1;
    let out = d.cli().run(&[
        "run",
        "--name",
        &name,
        "--memory",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.code, 137, "{out:?}");
    assert!(!out.stdout.contains("survived"), "{out:?}");
    let v = d.cli().inspect(&name);
    assert_eq!(v["State"]["OOMKilled"], true, "{}", v["State"]);
    assert_eq!(v["State"]["ExitCode"], 137);
    let until = unix_now() + 1;
    let actions = d.ok(&[
        "events",
        "--since",
        &start.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        &format!("container={name}"),
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = actions.lines().collect();
    let oom = actions.iter().position(|a| *a == "oom");
    let die = actions.iter().position(|a| *a == "die");
    assert!(
        matches!((oom, die), (Some(o), Some(di)) if o < di),
        "events: {actions:?}"
    );
    d.ok(&["rm", "-f", &name]);
}
