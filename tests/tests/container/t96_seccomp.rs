//! Seccomp: the default profile confines every container, `seccomp=unconfined` and
//! `--privileged` lift it, capabilities widen it as in dockerd, and a profile file given with
//! `--security-opt seccomp=<file>` replaces it.

use shoal_tests::shared;

/// The `Seccomp:` mode of the container's process (0 none, 2 filter).
fn seccomp_mode(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no Seccomp line in {out:?}"))
}

#[test]
fn default_profile_blocks_namespaces_and_options_lift_it() {
    let d = shared();
    let info = d.ok(&["info", "--format", "{{json .SecurityOptions}}"]);
    assert!(info.contains("name=seccomp,profile=builtin"), "{info}");

    let status = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "grep", "Seccomp:", "/proc/self/status"]);
        d.ok(&args)
    };
    assert_eq!(seccomp_mode(&status(&[])), "2", "default: a filter");
    assert_eq!(
        seccomp_mode(&status(&["--security-opt", "seccomp=unconfined"])),
        "0"
    );
    assert_eq!(seccomp_mode(&status(&["--privileged"])), "0");

    // A new user namespace needs no capability, only the profile stops it.
    let unshare = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        // The test image links only common applets; busybox itself has `unshare`.
        args.extend_from_slice(&["busybox", "busybox", "unshare", "-U", "true"]);
        d.docker(&args)
    };
    let blocked = unshare(&[]);
    assert_ne!(blocked.code, 0, "unshare ran under the default profile");
    assert!(
        blocked.stderr.contains("Operation not permitted"),
        "{blocked:?}"
    );
    for extra in [
        &["--security-opt", "seccomp=unconfined"][..],
        &["--cap-add", "SYS_ADMIN"][..],
    ] {
        let out = unshare(extra);
        assert_eq!(out.code, 0, "{extra:?}: {out:?}");
    }
    // What programs commonly need still works: fork (clone without namespaces), chroot.
    let out = d.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "busybox chroot / true && echo chroot-ok; sleep 0 & wait; echo done",
    ]);
    assert!(out.contains("chroot-ok") && out.ends_with("done"), "{out}");
}

#[test]
fn a_profile_file_replaces_the_default_and_bad_ones_are_refused() {
    let d = shared();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    std::fs::write(
        &path,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", path.display());
    let out = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "sh",
        "-c",
        "touch /tmp/f && echo touched; mkdir /tmp/d",
    ]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("touched"), "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    // Under this profile unshare is allowed (the default is ALLOW).
    let out = d.docker(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "busybox",
        "unshare",
        "-U",
        "true",
    ]);
    assert_eq!(out.code, 0, "{out:?}");

    std::fs::write(&path, r#"{"defaultAction":"ALLOW_EVERYTHING"}"#).unwrap();
    let bad = d.fail(&["create", "--security-opt", &opt, "busybox", "true"]);
    assert!(
        bad.stderr.contains("Decoding seccomp profile failed"),
        "{bad:?}"
    );
}
