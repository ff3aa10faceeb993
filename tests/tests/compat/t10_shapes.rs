//! JSON shapes of inspect, list, version, info and history, Shoal ⊇ dockerd.

use serde_json::Value;
use shoal_tests::{Daemon, Engine, Options};

/// Fields dockerd 20.10 (API 1.41) returns that later API versions (≤ 1.50, which Shoal speaks)
/// removed or that only describe dockerd's own storage/network internals.
const NOT_REQUIRED: &[&str] = &[
    // Removed in API 1.42-1.44.
    "HostConfig.KernelMemory",
    "HostConfig.KernelMemoryTCP",
    "Config.MacAddress",
    "NetworkSettings.HairpinMode",
    "NetworkSettings.LinkLocalIPv6Address",
    "NetworkSettings.LinkLocalIPv6PrefixLen",
    "NetworkSettings.SecondaryIPAddresses",
    "NetworkSettings.SecondaryIPv6Addresses",
    "NetworkSettings.Bridge",
    // Commit.Expected: deprecated and dropped from the API models by 1.49.
    "ContainerdCommit.Expected",
    "RuncCommit.Expected",
    // Image inspect: removed in API 1.44-1.45.
    "VirtualSize",
    "Container",
    "ContainerConfig",
    "DockerVersion",
    "Parent",
    "[].VirtualSize",
    // dockerd's graph driver; nullable in the API, and Shoal's storage is containerd snapshots.
    "GraphDriver",
    // Info: Commit.Expected was removed from the API (absent from the 1.56 spec).
    "ContainerdCommit.Expected",
    "RuncCommit.Expected",
    "InitCommit.Expected",
    // Info: dockerd/graph-driver and kernel details that describe dockerd itself.
    "DriverStatus",
    "Plugins.Authorization",
    "Plugins.Log",
    "RegistryConfig.AllowNondistributableArtifactsCIDRs",
    "RegistryConfig.AllowNondistributableArtifactsHostnames",
    "ExecutionDriver",
    "KernelMemory",
    "KernelMemoryTCP",
    "LiveRestoreEnabled",
    "ClusterStore",
    "ClusterAdvertise",
    "SystemStatus",
    "Swarm.RemoteManagers",
    "Swarm.Nodes",
    "Swarm.Managers",
    "Swarm.Cluster",
    "InitBinary",
    "InitCommit",
    "ProductLicense",
    "Warnings",
    "DefaultAddressPools",
    // Artefacts of how the reference dockerd runs here (--bridge=none; br_netfilter state).
    "Config.NetworkDisabled",
    "BridgeNfIptables",
    "BridgeNfIp6tables",
    // dockerd 20.10's extra runtime aliases; `runc` is the one that matters.
    "Runtimes.io.containerd.runc.v2",
    "Runtimes.io.containerd.runtime.v1.linux",
    // Version: dockerd's build metadata.
    "BuildTime",
    "KernelVersion",
    "Experimental",
    "Platform",
];

/// Paths (dotted, `[]` for array elements) present in `want` but missing from `got`.
fn missing(want: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if NOT_REQUIRED
                    .iter()
                    .any(|n| *n == p || p.ends_with(&format!(".{n}")) && n.contains('.'))
                {
                    continue;
                }
                match g.get(k) {
                    // A null, empty, false or zero field left out decodes to the same zero value
                    // in typed clients (the docker CLI, SDKs); a field with content does not.
                    None if is_empty(wv) => {}
                    None => out.push(p),
                    Some(gv) => missing(wv, gv, &p, out),
                }
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if let (Some(w0), Some(g0)) = (w.first(), g.first()) {
                missing(w0, g0, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// Runs the same scenario on a daemon; returns the JSON of each endpoint by name.
fn scenario(d: &Daemon) -> Vec<(&'static str, Value)> {
    let code = d
        .docker(&[
            "run", "--name", "exited", "-l", "a=b", "busybox", "sh", "-c", "exit 3",
        ])
        .code;
    assert_eq!(code, 3);
    d.ok(&["run", "-d", "--name", "running", "busybox", "sleep", "1000"]);
    let get = |path: &str| -> Value {
        let r = d.http("GET", &format!("/v1.41{path}"), None);
        assert_eq!(r.status, 200, "{:?} GET {path}: {}", d.engine(), r.text());
        r.json()
    };
    vec![
        ("container inspect (exited)", get("/containers/exited/json")),
        (
            "container inspect (running)",
            get("/containers/running/json"),
        ),
        ("container list", get("/containers/json?all=1&size=1")),
        ("image inspect", get("/images/busybox/json")),
        ("image list", get("/images/json")),
        ("image history", get("/images/busybox/history")),
        ("version", get("/version")),
        ("info", get("/info")),
        ("top", get("/containers/running/top")),
    ]
}

#[test]
fn shoal_answers_carry_every_dockerd_field() {
    let shoal_engine = Engine::from_env();
    let reference = Daemon::start_engine(Engine::Dockerd, Options::default());
    let subject = Daemon::start_engine(shoal_engine, Options::default());
    let want = scenario(&reference);
    let got = scenario(&subject);
    let mut report = Vec::new();
    for ((name, w), (_, g)) in want.iter().zip(got.iter()) {
        let mut out = Vec::new();
        missing(w, g, "", &mut out);
        if !out.is_empty() {
            report.push(format!("{name}: missing {}", out.join(", ")));
        }
    }
    assert!(
        report.is_empty(),
        "fields dockerd returns and {shoal_engine:?} does not:\n{}",
        report.join("\n")
    );
}

#[test]
fn error_messages_match_dockerd() {
    let reference = Daemon::start_engine(Engine::Dockerd, Options::default());
    let subject = Daemon::start_engine(Engine::from_env(), Options::default());
    let probes: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/containers/nope/json", None),
        ("DELETE", "/containers/nope", None),
        ("POST", "/containers/nope/start", None),
        ("GET", "/images/nope:1/json", None),
        ("GET", "/exec/nope/json", None),
        ("GET", "/v1.99/version", None),
        (
            "POST",
            "/containers/create?name=a%20b",
            Some(r#"{"Image":"busybox"}"#),
        ),
    ];
    let mut diffs = Vec::new();
    for (method, path, body) in probes {
        let w = reference.http(method, path, *body);
        let g = subject.http(method, path, *body);
        let wm = w.message().replace("1.41", "X");
        let gm = g.message();
        // The maximum API version differs by design; compare the rest of the sentence.
        let gm = gm
            .split("Maximum supported API version is")
            .next()
            .unwrap_or("")
            .to_string()
            + if gm.contains("Maximum supported API version is") {
                "Maximum supported API version is X"
            } else {
                ""
            };
        // dockerd 20.10 sometimes prefixes the modern sentence ("no such image: x: No such
        // image: x"); the modern sentence alone is what current dockerd says.
        if w.status != g.status || !wm.ends_with(&gm) || gm.is_empty() {
            diffs.push(format!(
                "{method} {path}: dockerd {} {wm:?}, got {} {gm:?}",
                w.status, g.status
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
