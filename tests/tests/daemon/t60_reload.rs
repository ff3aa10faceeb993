//! Engine labels and SIGHUP reload of daemon.json (issue 11).

use nix::sys::signal::Signal;
use shoal_tests::docker::run_command;
use shoal_tests::{Daemon, Engine, Options, secs, wait};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn debug_and_labels(d: &Daemon) -> String {
    d.ok(&["info", "--format", "{{.Debug}} {{json .Labels}}"])
}

#[test]
fn label_flags_show_in_info_and_bad_labels_stop_the_start() {
    let d = Daemon::start(Options {
        extra_args: ["--label", "zone=eu-1", "--label", "ssd=true"]
            .map(String::from)
            .to_vec(),
        no_busybox: true,
        ..Options::default()
    });
    assert_eq!(debug_and_labels(&d), r#"false ["zone=eu-1","ssd=true"]"#);

    let bad = Daemon::prepare(
        Engine::from_env(),
        Options {
            extra_args: ["--label", "novalue"].map(String::from).to_vec(),
            ..Options::default()
        },
    );
    let out = run_command(bad.command(), None, secs(60));
    assert_ne!(out.code, 0, "{out:?}");
    assert_ne!(out.code, -1, "daemon must exit by itself: {out:?}");
    assert!(
        out.stderr.contains("bad attribute format: novalue"),
        "{out:?}"
    );
}

#[test]
fn sighup_applies_daemon_json_and_a_broken_file_keeps_the_running_config() {
    let d = Daemon::start(Options {
        config: Some(serde_json::json!({"labels": ["tier=old"]})),
        no_busybox: true,
        ..Options::default()
    });
    assert_eq!(debug_and_labels(&d), r#"false ["tier=old"]"#);
    let config = d.dir().join("daemon.json");
    let t0 = unix_now() - 1;

    // A good edit: debug and labels change at once; the containerd namespace needs a restart.
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "labels": ["tier=new", "rack=r7"],
            "debug": true,
            "containerd-namespace": "shoal-reload-never-used",
        }))
        .unwrap(),
    )
    .unwrap();
    d.signal(Signal::SIGHUP);
    wait::until(secs(30), "reloaded Debug and Labels in docker info", || {
        (debug_and_labels(&d) == r#"true ["tier=new","rack=r7"]"#).then_some(())
    });
    let info: serde_json::Value =
        serde_json::from_str(&d.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert_ne!(
        info["Containerd"]["Namespaces"]["Containers"], "shoal-reload-never-used",
        "containerd-namespace is restart-only"
    );
    assert!(
        d.log_tail(400)
            .contains("containerd-namespace changed but only takes effect after a restart"),
        "restart-only key reported:\n{}",
        d.log_tail(50)
    );
    // The reload event, type daemon, with the new values.
    let events = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &(unix_now() + 1).to_string(),
        "--filter",
        "type=daemon",
        "--format",
        "{{json .}}",
    ]);
    let reload: serde_json::Value = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["Action"] == "reload")
        .unwrap_or_else(|| panic!("no reload event in {events:?}"));
    assert_eq!(reload["Type"], "daemon");
    assert_eq!(reload["Actor"]["Attributes"]["debug"], "true");
    assert_eq!(
        reload["Actor"]["Attributes"]["labels"],
        r#"["tier=new","rack=r7"]"#
    );

    // A file that does not parse, then one with an unknown key: the daemon keeps running with
    // the settings it had, and the log names the problem.
    for (body, problem) in [
        (&b"{ \"labels\": [\"tier=broken\""[..], "daemon.json"),
        (
            &br#"{"labels":["tier=x"],"no-such-reload-key":1}"#[..],
            "no-such-reload-key",
        ),
    ] {
        let before = d.log_len();
        std::fs::write(&config, body).unwrap();
        d.signal(Signal::SIGHUP);
        let log = wait::until(secs(30), "reload failure logged", || {
            let l = d.log_from(before);
            l.contains("configuration reload failed").then_some(l)
        });
        assert!(log.contains(problem), "names {problem}: {log}");
        assert!(d.exited().is_none(), "daemon still running");
        assert_eq!(debug_and_labels(&d), r#"true ["tier=new","rack=r7"]"#);
    }
}

#[test]
fn sighup_applies_registry_mirrors_and_insecure_registries_to_the_next_pull() {
    use shoal_tests::registry::{Registry, RegistryOptions};
    let mirror = Registry::start(RegistryOptions::default());
    let d = Daemon::start(Options {
        config: Some(serde_json::json!({})),
        ..Options::default()
    });
    let registry_info = || -> serde_json::Value {
        serde_json::from_str(&d.ok(&["info", "--format", "{{json .RegistryConfig}}"])).unwrap()
    };
    assert_eq!(registry_info()["Mirrors"], serde_json::json!([]));
    // What the mirror will serve as Docker Hub's library/<repo>.
    let repo = shoal_tests::unique("reloadmirror");
    let on_mirror = format!("{}/library/{repo}:v1", mirror.host());
    d.ok(&["tag", "busybox", &on_mirror]);
    let out = d.ok(&["push", &on_mirror]);
    assert!(out.contains("Pushed"), "{out}");
    d.ok(&["rmi", &on_mirror]);
    let want_id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);

    // The harness's keys (this daemon's bridge and pools) stay; the registry keys are added.
    let config = d.dir().join("daemon.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let m = json.as_object_mut().unwrap();
    m.insert(
        "registry-mirrors".into(),
        serde_json::json!([format!("http://{}", mirror.host())]),
    );
    m.insert(
        "insecure-registries".into(),
        serde_json::json!(["10.77.0.0/16", "reg.example.invalid:5000"]),
    );
    m.insert("max-concurrent-downloads".into(), serde_json::json!(1));
    m.insert("max-concurrent-uploads".into(), serde_json::json!(2));
    let t0 = unix_now() - 1;
    std::fs::write(&config, serde_json::to_vec(&json).unwrap()).unwrap();
    d.signal(Signal::SIGHUP);
    let mirror_url = format!("http://{}/", mirror.host());
    let mut last = serde_json::Value::Null;
    let info = wait::try_until(secs(30), || {
        last = registry_info();
        (last["Mirrors"] == serde_json::json!([mirror_url])).then(|| last.clone())
    })
    .unwrap_or_else(|| {
        panic!(
            "the mirror {mirror_url} in docker info: {last}\n{}",
            d.log_from(0)
                .lines()
                .filter(|l| l.contains("reload") || l.contains("SIGHUP"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(
        info["InsecureRegistryCIDRs"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("10.77.0.0/16")),
        "{info}"
    );
    assert_eq!(
        info["IndexConfigs"]["reg.example.invalid:5000"]["Secure"], false,
        "{info}"
    );
    assert!(
        !d.log_tail(200)
            .contains("only takes effect after a restart"),
        "registry keys are live now:\n{}",
        d.log_tail(50)
    );
    let events = d.ok(&[
        "events",
        "--since",
        &t0.to_string(),
        "--until",
        &(unix_now() + 1).to_string(),
        "--filter",
        "type=daemon",
        "--format",
        "{{json .Actor.Attributes}}",
    ]);
    let attrs: serde_json::Value = serde_json::from_str(
        events
            .lines()
            .next()
            .unwrap_or_else(|| panic!("no reload event: {events:?}")),
    )
    .unwrap();
    assert_eq!(attrs["max-concurrent-downloads"], "1", "{attrs}");
    assert_eq!(attrs["max-concurrent-uploads"], "2", "{attrs}");
    assert_eq!(
        attrs["insecure-registries"],
        format!(
            r#"["10.77.0.0/16","reg.example.invalid:5000","{}"]"#,
            mirror.host()
        ),
        "{attrs}"
    );

    // The next pull of a Docker Hub name goes to the new mirror, without a restart.
    let hub_name = format!("{repo}:v1");
    let out = d.ok(&["pull", &hub_name]);
    assert!(out.contains("Downloaded newer image"), "{out}");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &hub_name]),
        want_id
    );
    d.ok(&["rmi", &hub_name]);
}
