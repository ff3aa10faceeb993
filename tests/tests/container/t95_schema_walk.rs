//! Every field of a container create body takes effect or is refused (issue #8). The fields come
//! from the Engine API contract (`../shared/docker-engine-api.yaml`: `ContainerConfig`,
//! `HostConfig` and the `Resources` it includes), so a field the contract gains and this table
//! does not list fails the walk. Each field is created with a non-default value and must:
//! - change the OCI spec Shoal hands to containerd (read back with `ctr c info`), or
//! - change behaviour that a named end-to-end test proves (the test must exist, and inspect
//!   must show the value recorded), or
//! - be refused with a 400 whose message names the field.
//!
//! The few fields dockerd itself does not act on for Linux containers are listed with why.

use serde_json::{Value, json};
use shoal_tests::{shared, unique};
use std::path::Path;

/// What a field does when set.
#[derive(Debug, Clone, Copy)]
enum Effect {
    /// The OCI spec differs from the one without the field.
    Spec,
    /// Not in the spec; the named test (a function in `tests/tests/`) proves the effect.
    Behaviour(&'static str),
    /// Refused: 400 naming the field.
    Refused,
    /// dockerd does not act on it for Linux containers either (why).
    NotOnLinux(&'static str),
}

use Effect::*;

/// `(field, value, other fields it needs, effect)`. Values are JSON; "other fields" are set on
/// the baseline too, so only the field itself makes the difference.
const FIELDS: &[(&str, &str, &str, Effect)] = &[
    // Config (the create body's top level).
    ("Hostname", r#""walker""#, "{}", Spec),
    ("Domainname", r#""example.org""#, "{}", Spec),
    ("User", r#""1000:1000""#, "{}", Spec),
    (
        "AttachStdin",
        "true",
        "{}",
        Behaviour("start_attach_interactive"),
    ),
    (
        "AttachStdout",
        "false",
        "{}",
        Behaviour("run_detached_ps_logs_exec_stop_rm"),
    ),
    (
        "AttachStderr",
        "false",
        "{}",
        Behaviour("run_detached_ps_logs_exec_stop_rm"),
    ),
    (
        "ExposedPorts",
        r#"{"8080/tcp": {}}"#,
        "{}",
        Behaviour("ps_filters_expose_and_health"),
    ),
    ("Tty", "true", "{}", Spec),
    (
        "OpenStdin",
        "true",
        "{}",
        Behaviour("open_stdin_and_stdin_once"),
    ),
    (
        "StdinOnce",
        "true",
        r#"{"OpenStdin": true}"#,
        Behaviour("open_stdin_and_stdin_once"),
    ),
    ("Env", r#"["WALK=1"]"#, "{}", Spec),
    ("Cmd", r#"["sleep", "1"]"#, "{}", Spec),
    (
        "Healthcheck",
        r#"{"Test": ["CMD", "true"], "Interval": 1000000000}"#,
        "{}",
        Behaviour("starting_healthy_unhealthy_with_events_ps_and_filters"),
    ),
    (
        "ArgsEscaped",
        "true",
        "{}",
        NotOnLinux("Windows command lines only, as in dockerd"),
    ),
    (
        "Image",
        r#""busybox:latest""#,
        "{}",
        Behaviour("run_rm_echo_prints_hello"),
    ),
    ("Volumes", r#"{"/walk": {}}"#, "{}", Spec),
    ("WorkingDir", r#""/tmp""#, "{}", Spec),
    ("Entrypoint", r#"["/bin/sh", "-c"]"#, "{}", Spec),
    (
        "NetworkDisabled",
        "true",
        "{}",
        Behaviour("network_disabled_leaves_only_loopback"),
    ),
    (
        "OnBuild",
        r#"["RUN true"]"#,
        "{}",
        Behaviour("scratch_targets_shell_env_and_onbuild"),
    ),
    (
        "Labels",
        r#"{"walk": "1"}"#,
        "{}",
        Behaviour("labels_include_image_labels"),
    ),
    (
        "StopSignal",
        r#""SIGUSR1""#,
        "{}",
        Behaviour("stop_signal_is_used_by_stop"),
    ),
    (
        "StopTimeout",
        "3",
        "{}",
        Behaviour("stop_timeout_is_used_by_stop"),
    ),
    (
        "Shell",
        r#"["/bin/ash", "-c"]"#,
        "{}",
        Behaviour("scratch_targets_shell_env_and_onbuild"),
    ),
    // HostConfig.
    ("Binds", r#"["/tmp:/hosttmp:ro"]"#, "{}", Spec),
    (
        "ContainerIDFile",
        r#""/tmp/walk.cid""#,
        "{}",
        NotOnLinux("the CLI writes the file; dockerd only records the path"),
    ),
    (
        "LogConfig",
        r#"{"Type": "json-file", "Config": {"max-size": "1m"}}"#,
        "{}",
        Behaviour("json_file_rotation_with_log_opts"),
    ),
    ("NetworkMode", r#""host""#, "{}", Spec),
    (
        "PortBindings",
        r#"{"80/tcp": [{"HostPort": ""}]}"#,
        "{}",
        Behaviour("random_port_answers_from_loopback_and_another_host"),
    ),
    (
        "RestartPolicy",
        r#"{"Name": "on-failure", "MaximumRetryCount": 2}"#,
        "{}",
        Behaviour("restart_policies_restart_exited_containers"),
    ),
    (
        "AutoRemove",
        "true",
        "{}",
        Behaviour("auto_remove_after_exit"),
    ),
    ("VolumeDriver", r#""flocker""#, "{}", Refused),
    ("VolumesFrom", r#"["SOURCE"]"#, "{}", Spec),
    (
        "Mounts",
        r#"[{"Type": "tmpfs", "Target": "/walkfs"}]"#,
        "{}",
        Spec,
    ),
    ("ConsoleSize", "[40, 120]", r#"{"Tty": true}"#, Spec),
    ("Annotations", r#"{"walk": "1"}"#, "{}", Refused),
    ("CapAdd", r#"["NET_ADMIN"]"#, "{}", Spec),
    ("CapDrop", r#"["CHOWN"]"#, "{}", Spec),
    ("CgroupnsMode", r#""CGROUPNS""#, "{}", Spec),
    (
        "Dns",
        r#"["192.0.2.53"]"#,
        "{}",
        Behaviour("add_host_dns_flags_and_links_are_visible_inside"),
    ),
    (
        "DnsOptions",
        r#"["ndots:2"]"#,
        "{}",
        Behaviour("add_host_dns_flags_and_links_are_visible_inside"),
    ),
    (
        "DnsSearch",
        r#"["example.org"]"#,
        "{}",
        Behaviour("add_host_dns_flags_and_links_are_visible_inside"),
    ),
    (
        "ExtraHosts",
        r#"["walk.example:192.0.2.1"]"#,
        "{}",
        Behaviour("add_host_dns_flags_and_links_are_visible_inside"),
    ),
    ("GroupAdd", r#"["1234"]"#, "{}", Spec),
    ("IpcMode", r#""host""#, "{}", Spec),
    ("Cgroup", r#""container:SOURCE""#, "{}", Refused),
    (
        "Links",
        r#"["SOURCE:src"]"#,
        "{}",
        Behaviour("add_host_dns_flags_and_links_are_visible_inside"),
    ),
    ("OomScoreAdj", "100", "{}", Spec),
    ("PidMode", r#""host""#, "{}", Spec),
    ("Privileged", "true", "{}", Spec),
    (
        "PublishAllPorts",
        "true",
        r#"{"ExposedPorts": {"8080/tcp": {}}}"#,
        Behaviour("publish_all_picks_free_ports_and_docker_port_reports_them"),
    ),
    ("ReadonlyRootfs", "true", "{}", Spec),
    ("SecurityOpt", r#"["seccomp=unconfined"]"#, "{}", Spec),
    ("StorageOpt", r#"{"size": "1G"}"#, "{}", Refused),
    ("Tmpfs", r#"{"/walktmp": "size=1m"}"#, "{}", Spec),
    ("UTSMode", r#""host""#, "{}", Spec),
    ("UsernsMode", r#""private""#, "{}", Refused),
    ("ShmSize", "1048576", "{}", Spec),
    ("Sysctls", r#"{"net.ipv4.ip_forward": "1"}"#, "{}", Spec),
    ("Runtime", r#""crun""#, "{}", Refused),
    ("Isolation", r#""hyperv""#, "{}", Refused),
    ("MaskedPaths", r#"["/proc/walk"]"#, "{}", Spec),
    ("ReadonlyPaths", r#"["/proc/walk"]"#, "{}", Spec),
    // HostConfig's Resources.
    ("CpuShares", "512", "{}", Spec),
    ("Memory", "67108864", "{}", Spec),
    ("CgroupParent", r#""/shoal-walk""#, "{}", Spec),
    ("BlkioWeight", "300", "{}", Spec),
    (
        "BlkioWeightDevice",
        r#"[{"Path": "/dev/null", "Weight": 300}]"#,
        "{}",
        Refused,
    ),
    (
        "BlkioDeviceReadBps",
        r#"[{"Path": "/dev/null", "Rate": 1024}]"#,
        "{}",
        Refused,
    ),
    (
        "BlkioDeviceWriteBps",
        r#"[{"Path": "/dev/null", "Rate": 1024}]"#,
        "{}",
        Refused,
    ),
    (
        "BlkioDeviceReadIOps",
        r#"[{"Path": "/dev/null", "Rate": 10}]"#,
        "{}",
        Refused,
    ),
    (
        "BlkioDeviceWriteIOps",
        r#"[{"Path": "/dev/null", "Rate": 10}]"#,
        "{}",
        Refused,
    ),
    ("CpuPeriod", "50000", "{}", Spec),
    ("CpuQuota", "25000", "{}", Spec),
    ("CpuRealtimePeriod", "1000000", "{}", Refused),
    ("CpuRealtimeRuntime", "10000", "{}", Refused),
    ("CpusetCpus", r#""0""#, "{}", Spec),
    ("CpusetMems", r#""0""#, "{}", Spec),
    (
        "Devices",
        r#"[{"PathOnHost": "/dev/null", "PathInContainer": "/dev/walknull", "CgroupPermissions": "rwm"}]"#,
        "{}",
        Spec,
    ),
    ("DeviceCgroupRules", r#"["c 1:3 rwm"]"#, "{}", Refused),
    (
        "DeviceRequests",
        r#"[{"Driver": "nvidia", "Count": -1}]"#,
        "{}",
        Refused,
    ),
    ("MemoryReservation", "33554432", "{}", Spec),
    ("MemorySwap", "134217728", r#"{"Memory": 67108864}"#, Spec),
    ("MemorySwappiness", "10", "{}", Spec),
    ("NanoCpus", "500000000", "{}", Spec),
    ("OomKillDisable", "true", r#"{"Memory": 67108864}"#, Spec),
    ("Init", "true", "{}", Spec),
    ("PidsLimit", "50", "{}", Spec),
    (
        "Ulimits",
        r#"[{"Name": "nofile", "Soft": 100, "Hard": 200}]"#,
        "{}",
        Spec,
    ),
    ("CpuCount", "1", "{}", Refused),
    ("CpuPercent", "50", "{}", Refused),
    ("IOMaximumIOps", "100", "{}", Refused),
    ("IOMaximumBandwidth", "1048576", "{}", Refused),
];

fn contract() -> String {
    let p = match std::env::var_os("SHOAL_API_SPEC") {
        Some(p) => std::path::PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/docker-engine-api.yaml"),
    };
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "Engine API contract at {}: {e} (set SHOAL_API_SPEC)",
            p.display()
        )
    })
}

/// The property names of `definitions.<name>` in the contract: the keys one level under the
/// first `properties:` of that definition (the contract's layout is regular enough for this).
fn properties(yaml: &str, name: &str) -> Vec<String> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let header = format!("  {name}:");
    let mut lines = yaml.lines().skip_while(|l| *l != header.as_str()).skip(1);
    let props_at = loop {
        let l = lines
            .next()
            .unwrap_or_else(|| panic!("{name}: no properties"));
        if l.trim() == "properties:" {
            break indent(l);
        }
    };
    let mut out = Vec::new();
    for l in lines {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let at = indent(l);
        if at <= props_at {
            break;
        }
        if at == props_at + 2
            && let Some(key) = l.trim().strip_suffix(':')
        {
            out.push(key.to_string());
        }
    }
    assert!(!out.is_empty(), "{name}: no properties found");
    out
}

/// The names of every test function under `tests/tests/`.
fn test_functions() -> String {
    let mut all = String::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                all.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    all
}

/// The OCI spec containerd holds for `id`, with the container's ID (and its short form,
/// the default hostname) replaced so two specs compare on everything else.
fn oci_spec(d: &shoal_tests::Fixture, id: &str) -> Value {
    let sock = d.exec_root().join("containerd/containerd.sock");
    let out = std::process::Command::new("ctr")
        .arg("-a")
        .arg(&sock)
        .args(["-n", "shoal", "containers", "info", id])
        .output()
        .expect("ctr (apt-get install containerd)");
    assert!(
        out.status.success(),
        "ctr containers info {id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: Value = serde_json::from_slice(&out.stdout).expect("ctr info JSON");
    let text = info["Spec"]
        .to_string()
        .replace(id, "ID")
        .replace(&id[..12], "ID");
    serde_json::from_str(&text).unwrap()
}

/// A create body: busybox `true` with `config` on top and `host` as its HostConfig.
fn body(config: &serde_json::Map<String, Value>, host: &serde_json::Map<String, Value>) -> Value {
    let mut b = json!({"Image": "busybox", "Cmd": ["true"]});
    for (k, v) in config {
        b[k] = v.clone();
    }
    b["HostConfig"] = Value::Object(host.clone());
    b
}

/// Creates a container; the response's status and JSON.
fn create(d: &shoal_tests::Fixture, name: &str, body: &Value) -> (u16, Value) {
    let r = d.http(
        "POST",
        &format!("/containers/create?name={name}"),
        Some(&body.to_string()),
    );
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

#[test]
fn every_create_field_changes_the_spec_or_behaviour_or_is_refused_by_name() {
    let d = shared();
    if !d.engine().is_shoal() {
        // The walk reads Shoal's containerd namespace; the table is Shoal's contract.
        return;
    }
    let yaml = contract();
    let in_config = properties(&yaml, "ContainerConfig");
    let mut in_host = properties(&yaml, "Resources");
    in_host.extend(properties(&yaml, "HostConfig"));

    // Every field of the contract is in the table, and the table names no other field.
    let listed: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    for f in in_config.iter().chain(&in_host) {
        assert!(listed.contains(&f.as_str()), "{f}: not in the walk's table");
    }
    for f in &listed {
        assert!(
            in_config.iter().chain(&in_host).any(|c| c == f),
            "{f}: not a field of the contract"
        );
    }

    let tests = test_functions();
    let source = unique("walk-src");
    d.ok(&[
        "create", "--name", &source, "-v", "/fromsrc", "busybox", "true",
    ]);
    // The host's own cgroup namespace mode is the default; the other one is the change.
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let other_cgroupns = if v2 { "host" } else { "private" };

    let mut failures = Vec::new();
    let mut created = vec![source.clone()];
    for (i, (field, value, with, effect)) in FIELDS.iter().enumerate() {
        let value: Value = serde_json::from_str(
            &value
                .replace("SOURCE", &source)
                .replace("CGROUPNS", other_cgroupns),
        )
        .unwrap_or_else(|e| panic!("{field}: bad sample: {e}"));
        let with: Value = serde_json::from_str(with).unwrap();
        let config_field = in_config.iter().any(|c| c == field);
        let (mut config, mut host) = (serde_json::Map::new(), serde_json::Map::new());
        for (k, v) in with.as_object().unwrap() {
            if in_config.contains(k) {
                config.insert(k.clone(), v.clone());
            } else {
                host.insert(k.clone(), v.clone());
            }
        }
        let base_name = unique(&format!("walk{i}-base"));
        let (status, base) = create(&d, &base_name, &body(&config, &host));
        assert_eq!(status, 201, "{field}: baseline create: {base}");
        created.push(base_name.clone());
        if config_field {
            config.insert(field.to_string(), value.clone());
        } else {
            host.insert(field.to_string(), value.clone());
        }
        let name = unique(&format!("walk{i}"));
        let (status, resp) = create(&d, &name, &body(&config, &host));
        if status == 201 {
            created.push(name.clone());
        }
        let message = resp["message"].as_str().unwrap_or_default().to_string();
        match effect {
            Refused => {
                if status != 400 || !message.contains(field) {
                    failures.push(format!(
                        "{field}: want a 400 naming it, got {status} {resp}"
                    ));
                }
            }
            _ if status != 201 => {
                failures.push(format!("{field}: create answered {status} {resp}"));
            }
            Spec => {
                let before = oci_spec(&d, base["Id"].as_str().unwrap());
                let after = oci_spec(&d, resp["Id"].as_str().unwrap());
                if before == after {
                    failures.push(format!("{field}={value}: the OCI spec did not change"));
                }
            }
            Behaviour(test) => {
                if !tests.contains(&format!("fn {test}(")) {
                    failures.push(format!("{field}: the test {test} does not exist"));
                }
                let section = if config_field { "Config" } else { "HostConfig" };
                let shown = |n: &str| {
                    let v: Value = serde_json::from_str(&d.ok(&["inspect", n])).unwrap();
                    v[0][section][field].clone()
                };
                if shown(&name) == shown(&base_name) {
                    failures.push(format!("{field}: inspect does not show the value set"));
                }
            }
            NotOnLinux(why) => eprintln!("{field}: accepted, not acted on for Linux ({why})"),
        }
    }
    let mut rm = vec!["rm", "-f", "-v"];
    rm.extend(created.iter().map(String::as_str));
    d.ok(&rm);
    assert!(
        failures.is_empty(),
        "fields that neither take effect nor are refused:\n{}",
        failures.join("\n")
    );
}
