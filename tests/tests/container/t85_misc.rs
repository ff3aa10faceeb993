//! top, rename, pause/unpause, prune, export.

use shoal_tests::{secs, shared, unique};
use std::io::Read;

#[test]
fn top_lists_container_processes() {
    let d = shared();
    let name = unique("top");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "1001"]);
    let out = d.ok(&["top", &name]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert!(header.contains("PID") && header.contains("CMD"), "{out}");
    assert!(lines.any(|l| l.contains("sleep 1001")), "{out}");
    let out = d.ok(&["top", &name, "-o", "pid,comm"]);
    assert!(out.lines().next().unwrap().contains("COMMAND"), "{out}");
    assert!(out.contains("sleep"), "{out}");
    d.ok(&["stop", "-t", "1", &name]);
    let out = d.fail(&["top", &name]);
    assert!(out.stderr.contains("is not running"), "{out:?}");
    d.ok(&["rm", &name]);
}

#[test]
fn rename_and_conflicts() {
    let d = shared();
    let a = unique("rn-a");
    let b = unique("rn-b");
    let c = unique("rn-c");
    let id = d.ok(&["create", "--name", &a, "busybox", "true"]);
    d.ok(&["create", "--name", &c, "busybox", "true"]);
    d.ok(&["rename", &a, &b]);
    assert_eq!(d.cli().fmt(&b, "{{.Name}} {{.Id}}"), format!("/{b} {id}"));
    assert_ne!(d.docker(&["inspect", &a]).code, 0);
    // The old name is free again.
    d.ok(&["create", "--name", &a, "busybox", "true"]);

    let out = d.fail(&["rename", &b, &c]);
    assert!(out.stderr.contains("is already in use"), "{out:?}");
    let r = d.http("POST", &format!("/containers/{b}/rename?name={c}"), None);
    assert_eq!(r.status, 409, "{}", r.text());
    let r = d.http(
        "POST",
        &format!("/containers/{b}/rename?name=bad%20name"),
        None,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.http("POST", "/containers/no-such-shoal-ctr/rename?name=x", None);
    assert_eq!(r.status, 404, "{}", r.text());
    d.ok(&["rm", &a, &b, &c]);
}

#[test]
fn pause_and_unpause() {
    let d = shared();
    let name = unique("pause");
    d.ok(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
    d.ok(&["pause", &name]);
    assert_eq!(
        d.cli().fmt(
            &name,
            "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"
        ),
        "paused true true"
    );
    let st = d.ok(&[
        "ps",
        "--filter",
        &format!("name={name}"),
        "--format",
        "{{.Status}}",
    ]);
    assert!(st.contains("(Paused)"), "{st}");
    let paused = d.ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("name={name}"),
        "--filter",
        "status=paused",
    ]);
    assert!(!paused.is_empty());
    let out = d.fail(&["exec", &name, "true"]);
    assert!(out.stderr.contains("paused"), "{out:?}");
    let out = d.fail(&["pause", &name]);
    assert!(out.stderr.contains("already paused"), "{out:?}");

    d.ok(&["unpause", &name]);
    assert_eq!(
        d.cli().fmt(&name, "{{.State.Status}} {{.State.Paused}}"),
        "running false"
    );
    assert_eq!(d.ok(&["exec", &name, "echo", "alive"]), "alive");
    let out = d.fail(&["unpause", &name]);
    assert!(out.stderr.contains("is not paused"), "{out:?}");
    d.ok(&["rm", "-f", &name]);
}

#[test]
fn container_prune_removes_only_stopped_matches() {
    let d = shared();
    let label = unique("prune");
    let lab = format!("p={label}");
    let running = format!("{label}-run");
    let stopped = format!("{label}-stop");
    let created = format!("{label}-created");
    let other = format!("{label}-other");
    d.ok(&[
        "run", "-d", "--name", &running, "-l", &lab, "busybox", "sleep", "1000",
    ]);
    d.ok(&["run", "--name", &stopped, "-l", &lab, "busybox", "true"]);
    d.ok(&["create", "--name", &created, "-l", &lab, "busybox", "true"]);
    d.ok(&[
        "run",
        "--name",
        &other,
        "-l",
        "p=someone-else",
        "busybox",
        "true",
    ]);
    let stopped_id = d.cli().fmt(&stopped, "{{.Id}}");

    let out = d.ok(&[
        "container",
        "prune",
        "-f",
        "--filter",
        &format!("label={lab}"),
    ]);
    assert!(out.contains(&stopped_id), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_ne!(
        d.docker(&["inspect", &stopped]).code,
        0,
        "stopped container pruned"
    );
    assert_ne!(
        d.docker(&["inspect", &created]).code,
        0,
        "created container pruned"
    );
    assert_eq!(
        d.docker(&["inspect", &running]).code,
        0,
        "running container kept"
    );
    assert_eq!(d.docker(&["inspect", &other]).code, 0, "other label kept");

    let r = d.http(
        "POST",
        &format!("/containers/prune?filters=%7B%22label%22%3A%7B%22{lab}%22%3Atrue%7D%7D"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(
        v["ContainersDeleted"].is_null() || v["ContainersDeleted"] == serde_json::json!([]),
        "{v}"
    );
    assert_eq!(v["SpaceReclaimed"], 0);
    d.ok(&["rm", "-f", &running, &other]);
}

#[test]
fn export_writes_the_filesystem_as_tar() {
    let d = shared();
    let name = unique("export");
    d.ok(&[
        "run",
        "--name",
        &name,
        "busybox",
        "sh",
        "-c",
        "echo exported > /exported.txt",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fs.tar");
    d.ok(&["export", "-o", file.to_str().unwrap(), &name]);
    let mut names = Vec::new();
    let mut content = String::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&file).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        if p.trim_start_matches("./") == "exported.txt" {
            e.read_to_string(&mut content).unwrap();
        }
        names.push(p.trim_start_matches("./").to_string());
    }
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n == "bin/sh"), "{names:?}");
    assert_eq!(content, "exported\n");

    // Export also streams to stdout, and works on a running container.
    let running = unique("export-run");
    d.ok(&["run", "-d", "--name", &running, "busybox", "sleep", "1000"]);
    let out =
        shoal_tests::docker::run_command(d.cli().command(&["export", &running]), None, secs(60));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.len() > 1024,
        "export to stdout wrote {} bytes",
        out.stdout.len()
    );
    d.ok(&["rm", "-f", &name, &running]);
}
