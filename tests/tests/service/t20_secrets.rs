//! Secrets and configs: CLI round trips, delivery into tasks at `/run/secrets/<target>` and
//! the config's target, nothing in clear on any node's data-root, and "in use" refusals.

use crate::{cluster, leader, remove_and_wait_gone, task_containers, wait_replicas};
use shoal_tests::cluster::describe;

#[test]
fn secret_and_config_reach_the_task_and_no_disk() {
    let c = cluster();
    let l = leader(&c);
    let value = format!("s3cr3t-{}", std::process::id());
    let out = l.docker_stdin(&["secret", "create", "svc-pw", "-"], &value);
    assert_eq!(out.code, 0, "secret create: {}", describe(&out));
    let out = l.docker_stdin(&["config", "create", "svc-conf", "-"], "answer=42\n");
    assert_eq!(out.code, 0, "config create: {}", describe(&out));

    let ls = l.ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(ls.lines().any(|n| n == "svc-pw"), "{ls}");
    let dup = l.docker_stdin(&["secret", "create", "svc-pw", "-"], "x");
    assert_ne!(dup.code, 0);
    assert!(dup.stderr.contains("already exists"), "{}", describe(&dup));
    // Docker never shows a secret's data; it does show a config's.
    let inspect = l.ok(&["secret", "inspect", "svc-pw"]);
    assert!(!inspect.contains("\"Data\""), "{inspect}");
    let conf = l.ok(&[
        "config",
        "inspect",
        "--format",
        "{{printf \"%s\" .Spec.Data}}",
        "svc-conf",
    ]);
    assert_eq!(conf, "answer=42");

    let name = "svc-sec";
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--replicas",
        "2",
        "--secret",
        "source=svc-pw,target=pw",
        "--config",
        "source=svc-conf,target=/etc/app.conf",
        "busybox",
        "sleep",
        "3600",
    ]);
    wait_replicas(l, name, "2/2");
    let mut checked = 0;
    for n in c.nodes() {
        for id in task_containers(n, name) {
            assert_eq!(n.ok(&["exec", &id, "cat", "/run/secrets/pw"]), value);
            assert_eq!(n.ok(&["exec", &id, "cat", "/etc/app.conf"]), "answer=42");
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "both tasks checked");

    let rm = l.docker(&["secret", "rm", "svc-pw"]);
    assert_ne!(rm.code, 0, "a secret in use cannot be removed");
    assert!(
        rm.stderr
            .contains("is in use by the following service: svc-sec"),
        "{}",
        describe(&rm)
    );

    // Nothing in clear on any node's disk (the Raft store is encrypted; task files live on
    // a tmpfs).
    for n in c.nodes() {
        let out = std::process::Command::new("grep")
            .args(["-r", "-l", "-a", &value])
            .arg(n.data_root())
            .output()
            .unwrap();
        assert!(
            out.stdout.is_empty(),
            "secret found in clear under {}: {}",
            n.data_root().display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }

    remove_and_wait_gone(&c, l, name);
    l.ok(&["secret", "rm", "svc-pw"]);
    l.ok(&["config", "rm", "svc-conf"]);
    let ls = l.ok(&["secret", "ls", "--format", "{{.Name}}"]);
    assert!(!ls.lines().any(|n| n == "svc-pw"), "{ls}");
}
