//! Create options are honoured or refused with a 400 naming them (issue #8): `--group-add`,
//! `--device`, `--init` take effect; options this engine does not apply yet are refused.

use shoal_tests::{shared, unique};

#[test]
fn group_add_device_and_init_take_effect() {
    let d = shared();
    let out = d.ok(&[
        "run",
        "--rm",
        "--group-add",
        "1234",
        "--group-add",
        "4321",
        "busybox",
        "id",
        "-G",
    ]);
    let groups: Vec<&str> = out.split_whitespace().collect();
    assert!(
        groups.contains(&"1234") && groups.contains(&"4321"),
        "id -G: {out}"
    );
    d.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/shoalnull",
        "busybox",
        "test",
        "-c",
        "/dev/shoalnull",
    ]);
    let name = unique("init");
    let out = d.ok(&[
        "run",
        "--name",
        &name,
        "--init",
        "busybox",
        "cat",
        "/proc/1/cmdline",
    ]);
    assert!(
        out.starts_with("/sbin/docker-init"),
        "PID 1 is not the init: {out:?}"
    );
    let v = d.cli().inspect(&name);
    assert_eq!(v["HostConfig"]["Init"], true);
    assert_eq!(v["HostConfig"]["CpuRealtimeRuntime"], 0);
    assert_eq!(v["State"]["ExitCode"], 0);
    d.ok(&["rm", &name]);
    d.ok(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "true",
    ]);
}

#[test]
fn ps_filters_expose_and_health() {
    let d = shared();
    let name = unique("expose");
    let id = d.ok(&[
        "create", "--name", &name, "--expose", "8080", "busybox", "true",
    ]);
    let ps = |f: &str| {
        d.ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "-q",
            "--filter",
            f,
            "--filter",
            &format!("name={name}"),
        ])
    };
    assert_eq!(ps("expose=8080"), id);
    assert_eq!(ps("expose=8000-8100/tcp"), id);
    assert_eq!(ps("expose=9090"), "");
    // busybox has no HEALTHCHECK and none was given: its health is "none".
    assert_eq!(ps("health=none"), id);
    assert_eq!(ps("health=healthy"), "");
    assert_eq!(ps("health=starting"), "");
    let bad = d.fail(&["ps", "--filter", "health=bogus"]);
    assert!(
        bad.stderr
            .contains("Unrecognised filter value for health: bogus"),
        "{bad:?}"
    );
    d.ok(&["rm", &name]);
}

#[test]
fn unapplied_options_are_refused_by_name() {
    let d = shared();
    for (args, field) in [
        (&["--cpu-rt-runtime", "1000"][..], "CpuRealtimeRuntime"),
        (
            &["--device-cgroup-rule", "c 1:3 rwm"][..],
            "DeviceCgroupRules",
        ),
        (&["--storage-opt", "size=1G"][..], "StorageOpt"),
        (
            &["--device-read-bps", "/dev/null:1mb"][..],
            "BlkioDeviceReadBps",
        ),
        (
            &["--security-opt", "apparmor=docker-default"][..],
            "SecurityOpt apparmor",
        ),
        (
            &["--security-opt", "bogus=1"][..],
            "invalid --security-opt 2",
        ),
    ] {
        let name = unique("refused");
        let mut cmd = vec!["create", "--name", name.as_str()];
        cmd.extend_from_slice(args);
        cmd.extend_from_slice(&["busybox", "true"]);
        let out = d.fail(&cmd);
        assert!(out.stderr.contains(field), "{args:?}: {out:?}");
        // Nothing was created.
        assert_ne!(
            d.docker(&["inspect", &name]).code,
            0,
            "{name} exists after a refused create"
        );
    }
}
