//! _ping, version, info, and API version negotiation.

use shoal_tests::{Daemon, Options, shared};

fn api_version(s: &str) -> (u32, u32) {
    let (a, b) = s
        .split_once('.')
        .unwrap_or_else(|| panic!("bad version {s}"));
    (a.parse().unwrap(), b.parse().unwrap())
}

#[test]
fn ping_get_and_head_with_headers() {
    let d = shared();
    for path in ["/_ping", "/v1.41/_ping"] {
        let r = d.http("GET", path, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), "OK", "{path}");
        let v = r.header("Api-Version").expect("API-Version header");
        if d.engine().is_shoal() {
            assert!(
                api_version(v) >= (1, 50),
                "Shoal reports API 1.50 or newer, got {v}"
            );
        }
        assert_eq!(r.header("Ostype"), Some("linux"));
        assert_eq!(r.header("Docker-Experimental"), Some("false"));
        assert!(
            r.header("Server").is_some_and(|s| s.starts_with("Docker/")),
            "{:?}",
            r.headers
        );
    }
    let r = d.http("HEAD", "/_ping", None);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(r.header("Api-Version").is_some());
    assert_eq!(r.header("Ostype"), Some("linux"));
    if d.engine().is_shoal() {
        // dockerd 20.10 predates the Swarm header (API 1.42); issue #2 asks for it.
        assert_eq!(
            d.http("GET", "/_ping", None).header("Swarm"),
            Some("inactive")
        );
    }
}

#[test]
fn version_reports_components() {
    let d = shared();
    let v = d.http("GET", "/version", None).json();
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Arch"], "amd64");
    assert!(v["Version"].as_str().is_some_and(|s| !s.is_empty()));
    let max = v["ApiVersion"].as_str().unwrap();
    let min = v["MinAPIVersion"].as_str().unwrap();
    if d.engine().is_shoal() {
        assert!(api_version(max) >= (1, 50), "{max}");
        assert_eq!(min, "1.24");
    }
    let names: Vec<&str> = v["Components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Name"].as_str())
        .collect();
    for want in ["Engine", "containerd", "runc"] {
        assert!(names.contains(&want), "component {want} in {names:?}");
    }
    let containerd = v["Components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "containerd")
        .unwrap();
    assert!(
        containerd["Version"].as_str().unwrap().contains("1."),
        "{containerd}"
    );

    // What the CLI shows.
    let out = d.ok(&[
        "version",
        "--format",
        "{{.Server.Os}} {{.Server.APIVersion}}",
    ]);
    assert_eq!(out, format!("linux {max}"));
}

#[test]
fn info_counts_and_paths() {
    let d = Daemon::start(Options::default());
    d.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    d.ok(&["run", "--name", "down", "busybox", "true"]);
    d.ok(&["create", "--name", "paused-not", "busybox", "true"]);
    let v: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert_eq!(v["Containers"], 3);
    assert_eq!(v["ContainersRunning"], 1);
    assert_eq!(v["ContainersPaused"], 0);
    assert_eq!(v["ContainersStopped"], 2);
    assert_eq!(v["Images"], 1);
    assert_eq!(v["DockerRootDir"], d.data_root().display().to_string());
    assert_eq!(v["LoggingDriver"], "json-file");
    assert_eq!(v["OSType"], "linux");
    assert_eq!(v["Architecture"], "x86_64");
    assert!(v["NCPU"].as_u64().unwrap() >= 1);
    assert!(v["MemTotal"].as_u64().unwrap() > 0);
    assert!(v["KernelVersion"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["ServerVersion"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["ID"].is_string() && v["Name"].is_string());
    assert_eq!(v["DefaultRuntime"], "runc");
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
}

#[test]
fn version_negotiation() {
    let d = shared();
    let max = d.http("GET", "/version", None).json()["ApiVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let r = d.http("GET", "/v1.99/version", None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.message(),
        format!("client version 1.99 is too new. Maximum supported API version is {max}")
    );
    let r = d.http("GET", "/v1.1/version", None);
    assert_eq!(r.status, 400, "{}", r.text());
    // dockerd answers clients this old in plain text, newer ones in JSON; accept either form.
    let msg = serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| r.text());
    assert!(
        msg.starts_with("client version 1.1 is too old. Minimum supported API version is "),
        "{msg}"
    );
    // Both ends of the supported range answer.
    assert_eq!(d.http("GET", "/v1.24/version", None).status, 200);
    assert_eq!(
        d.http("GET", &format!("/v{max}/containers/json"), None)
            .status,
        200
    );
    assert_eq!(d.http("GET", "/containers/json", None).status, 200);

    // The CLI with a pinned too-new version gets the same message.
    let mut cmd = d.cli().command(&["ps"]);
    cmd.env("DOCKER_API_VERSION", "1.99");
    let out = shoal_tests::docker::run_command(cmd, None, shoal_tests::secs(30));
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("is too new. Maximum supported API version is"),
        "{out:?}"
    );
}
