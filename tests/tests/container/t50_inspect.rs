//! `docker inspect` of a container: the shape users and tools read.

use shoal_tests::{shared, unique};

#[test]
fn inspect_running_then_exited() {
    let d = shared();
    let name = unique("insp");
    let id = d.ok(&[
        "run", "-d", "--name", &name, "-l", "k=v", "-e", "A=1", "busybox", "sleep", "1000",
    ]);
    let v = d.cli().inspect(&name);

    assert_eq!(v["Id"], id.as_str());
    assert_eq!(v["Name"], format!("/{name}"));
    assert!(v["Created"].as_str().unwrap().contains('T'));
    assert_eq!(v["Path"], "sleep");
    assert_eq!(v["Args"], serde_json::json!(["1000"]));
    assert_eq!(v["RestartCount"], 0);
    assert_eq!(v["Platform"], "linux");
    let image_id = d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    assert_eq!(v["Image"], image_id.as_str());

    let s = &v["State"];
    assert_eq!(s["Status"], "running");
    assert_eq!(s["Running"], true);
    assert_eq!(s["Paused"], false);
    assert_eq!(s["Restarting"], false);
    assert_eq!(s["OOMKilled"], false);
    assert_eq!(s["Dead"], false);
    assert_eq!(s["ExitCode"], 0);
    assert!(s["Pid"].as_u64().unwrap() > 0);
    assert!(s["StartedAt"].as_str().unwrap().starts_with("20"));
    assert_eq!(s["FinishedAt"], "0001-01-01T00:00:00Z");

    let c = &v["Config"];
    assert_eq!(c["Image"], "busybox");
    assert_eq!(c["Cmd"], serde_json::json!(["sleep", "1000"]));
    assert_eq!(c["Labels"]["k"], "v");
    assert_eq!(c["Hostname"], &id[..12]);
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(
        env.contains(&"A=1") && env.iter().any(|e| e.starts_with("PATH=")),
        "{env:?}"
    );
    assert_eq!(c["Tty"], false);
    assert_eq!(c["OpenStdin"], false);

    let h = &v["HostConfig"];
    assert_eq!(h["LogConfig"]["Type"], "json-file");
    assert_eq!(h["AutoRemove"], false);
    assert!(h["RestartPolicy"]["Name"] == "no" || h["RestartPolicy"]["Name"] == "");
    assert!(h["NetworkMode"].is_string());

    assert_eq!(v["Mounts"], serde_json::json!([]));
    assert!(v["NetworkSettings"].is_object(), "{}", v["NetworkSettings"]);

    let log_path = v["LogPath"].as_str().unwrap();
    assert!(log_path.ends_with("-json.log"), "{log_path}");
    assert!(
        log_path.starts_with(&d.data_root().display().to_string()),
        "LogPath {log_path} under data-root {}",
        d.data_root().display()
    );
    assert!(std::path::Path::new(log_path).exists(), "{log_path} exists");

    d.ok(&["stop", "-t", "1", &name]);
    let v = d.cli().inspect(&name);
    let s = &v["State"];
    assert_eq!(s["Status"], "exited");
    assert_eq!(s["Running"], false);
    assert_eq!(s["ExitCode"], 137);
    assert_eq!(s["Pid"], 0);
    assert_ne!(s["FinishedAt"], "0001-01-01T00:00:00Z");

    // Lookup by short id prefix and the 404 for unknown names.
    assert_eq!(d.cli().fmt(&id[..8], "{{.Name}}"), format!("/{name}"));
    let r = d.http("GET", "/containers/no-such-ctr-shoal/json", None);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.message(), "No such container: no-such-ctr-shoal");
    d.ok(&["rm", &name]);
}
