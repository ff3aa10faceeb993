//! Local volumes (issue #8): named volumes outlive containers and daemon restarts, image
//! `VOLUME`s and `-v /path` get populated anonymous volumes that `rm -v` removes, copy-up and
//! `nocopy`, read-only volumes, `--volumes-from`, `--mount type=volume` with a subpath, 409 while
//! in use, filters, prune and events.

use shoal_tests::image::ImageSpec;
use shoal_tests::{Daemon, Options, shared, unique};

fn volume_names(d: &Daemon, args: &[&str]) -> Vec<String> {
    let mut cmd = vec!["volume", "ls", "-q"];
    cmd.extend_from_slice(args);
    d.ok(&cmd).lines().map(str::to_owned).collect()
}

fn volume_inspect(d: &Daemon, name: &str) -> serde_json::Value {
    let s = d.ok(&["volume", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
    v[0].clone()
}

#[test]
fn named_volume_lifecycle_and_conflicts() {
    let d = shared();
    let vol = unique("vol");
    let start = chrono_now(&d);
    assert_eq!(
        d.ok(&["volume", "create", "--label", "k=v", &vol]).trim(),
        vol
    );
    let v = &volume_inspect(&d, &vol);
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Labels"]["k"], "v");
    assert_eq!(v["Scope"], "local");
    assert!(
        v["Mountpoint"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{vol}/_data")),
        "{v}"
    );
    // Creating it again answers the existing volume.
    assert_eq!(d.ok(&["volume", "create", &vol]).trim(), vol);

    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data:ro"),
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "kept");
    let ro = d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data:ro"),
        "busybox",
        "touch",
        "/data/g",
    ]);
    assert_ne!(ro.code, 0, "write to a read-only volume succeeded: {ro:?}");
    assert!(ro.stderr.contains("Read-only file system"), "{ro:?}");

    assert!(volume_names(&d, &["--filter", "label=k=v"]).contains(&vol));
    assert!(volume_names(&d, &["--filter", &format!("name={vol}")]).contains(&vol));
    assert!(!volume_names(&d, &["--filter", "label=k=other"]).contains(&vol));

    let user = unique("vol-user");
    d.ok(&[
        "create",
        "--name",
        &user,
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "true",
    ]);
    let v = d.cli().inspect(&user);
    let m = &v["Mounts"][0];
    assert_eq!(
        (m["Type"].as_str(), m["Name"].as_str()),
        (Some("volume"), Some(vol.as_str())),
        "{m}"
    );
    assert!(!volume_names(&d, &["--filter", "dangling=true"]).contains(&vol));
    let by_volume = d.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "-q",
        "--filter",
        &format!("volume={vol}"),
    ]);
    assert_eq!(by_volume, v["Id"].as_str().unwrap(), "ps --filter volume");
    let busy = d.fail(&["volume", "rm", &vol]);
    assert!(busy.stderr.contains("volume is in use"), "{busy:?}");
    let id = v["Id"].as_str().unwrap();
    assert!(busy.stderr.contains(id), "{busy:?}");
    d.ok(&["rm", &user]);
    assert!(volume_names(&d, &["--filter", "dangling=true"]).contains(&vol));
    d.ok(&["volume", "rm", &vol]);
    let gone = d.fail(&["volume", "inspect", &vol]);
    assert!(gone.stderr.contains("no such volume"), "{gone:?}");
    let bad = d.fail(&["volume", "create", "-o", "type=nfs", &unique("vo")]);
    assert!(
        bad.stderr.contains(r#"missing required option: "device""#),
        "{bad:?}"
    );
    let bad = d.fail(&["volume", "create", "-o", "bogus=1", &unique("vo")]);
    assert!(bad.stderr.contains(r#"invalid option: "bogus""#), "{bad:?}");

    let events = d.ok(&[
        "events",
        "--since",
        &start,
        "--until",
        &chrono_now(&d),
        "--filter",
        "type=volume",
        "--filter",
        &format!("volume={vol}"),
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events.lines().collect();
    assert_eq!(actions.first(), Some(&"create"), "{events}");
    assert!(actions.contains(&"mount"), "{events}");
    assert_eq!(actions.last(), Some(&"destroy"), "{events}");
}

/// The daemon's clock as `docker events` takes it (seconds since the epoch).
fn chrono_now(d: &Daemon) -> String {
    let _ = d;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

#[test]
fn image_volume_is_populated_and_removed_with_rm_v() {
    let d = shared();
    let name = unique("imgvol");
    let tag = format!("{name}:img");
    let mut spec = ImageSpec::variant(&tag, &name);
    spec.volumes = vec!["/etc".into()];
    d.cli().run_stdin(&["load"], &spec.docker_archive()).ok();
    d.ok(&[
        "create", "--name", &name, "-v", "/scratch", &tag, "sleep", "100",
    ]);
    let v = d.cli().inspect(&name);
    let mounts = v["Mounts"].as_array().unwrap();
    let anon: Vec<String> = mounts
        .iter()
        .filter(|m| m["Type"] == "volume")
        .map(|m| m["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(anon.len(), 2, "{mounts:?}");
    let listed = volume_names(&d, &[]);
    for a in &anon {
        assert_eq!(a.len(), 64, "{a}");
        assert!(listed.contains(a), "{a} not in volume ls");
        let vi = &volume_inspect(&d, a);
        assert_eq!(vi["Labels"]["com.docker.volume.anonymous"], "", "{vi}");
    }
    // The image's /etc content was copied into its volume; a second container sees it.
    let out = d.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        &name,
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(out.contains("root:"), "{out}");
    d.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{name}:ro"),
        "busybox",
        "test",
        "-d",
        "/scratch",
    ]);
    let ro = d.docker(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{name}:ro"),
        "busybox",
        "touch",
        "/scratch/x",
    ]);
    assert_ne!(ro.code, 0, "volumes-from :ro was writable: {ro:?}");
    d.ok(&["rm", "-v", &name]);
    let listed = volume_names(&d, &[]);
    for a in &anon {
        assert!(!listed.contains(a), "anonymous volume {a} survived rm -v");
    }
    // `--rm` removes anonymous volumes too; named ones stay.
    let keep = unique("keep");
    d.ok(&[
        "run",
        "--rm",
        "-v",
        "/anon",
        "-v",
        &format!("{keep}:/k"),
        "busybox",
        "true",
    ]);
    assert!(volume_names(&d, &[]).contains(&keep));
    d.ok(&["volume", "rm", &keep]);
}

#[test]
fn copy_up_nocopy_mount_subpath_and_prune() {
    let d = shared();
    let full = unique("full");
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{full}:/etc"),
        "busybox",
        "cat",
        "/etc/passwd",
    ]);
    assert!(
        out.contains("root:"),
        "named volume not filled from the image: {out}"
    );
    let empty = unique("empty");
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{empty}:/etc:nocopy"),
        "busybox",
        "ls",
        "-A",
        "/etc",
    ]);
    // Only the engine's own files are mounted over the empty volume.
    for l in out.lines() {
        assert!(
            ["hostname", "hosts", "resolv.conf"].contains(&l),
            "nocopy volume has {l}: {out}"
        );
    }
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{empty}:/v"),
        "busybox",
        "mkdir",
        "-p",
        "/v/sub/dir",
    ]);
    d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{empty}:/v"),
        "busybox",
        "sh",
        "-c",
        "echo s > /v/sub/dir/f",
    ]);
    let out = d.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={empty},dst=/m,volume-subpath=sub/dir,readonly"),
        "busybox",
        "cat",
        "/m/f",
    ]);
    assert_eq!(out, "s");
    let esc = d.docker(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={empty},dst=/m,volume-subpath=../x"),
        "busybox",
        "true",
    ]);
    assert_ne!(esc.code, 0, "subpath escaping the volume accepted: {esc:?}");
    let label = unique("prune");
    let pruned = unique("pruned");
    d.ok(&["volume", "create", "--label", &label, &pruned]);
    // Without `all`, prune removes only anonymous volumes.
    d.ok(&[
        "volume",
        "prune",
        "-f",
        "--filter",
        &format!("label={label}"),
    ]);
    assert!(volume_names(&d, &[]).contains(&pruned));
    let out = d.ok(&[
        "volume",
        "prune",
        "-f",
        "--all",
        "--filter",
        &format!("label={label}"),
    ]);
    assert!(out.contains(&pruned), "{out}");
    assert!(!volume_names(&d, &[]).contains(&pruned));
    d.ok(&["volume", "rm", &full, &empty]);
}

#[test]
fn named_volume_survives_daemon_restart() {
    let d = Daemon::start(Options::default());
    let vol = unique("persist");
    d.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "sh",
        "-c",
        "echo durable > /data/f",
    ]);
    assert_eq!(d.terminate(), 0, "daemon exit code");
    d.restart();
    assert!(volume_names(&d, &[]).contains(&vol));
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/data"),
        "busybox",
        "cat",
        "/data/f",
    ]);
    assert_eq!(out, "durable");
    let busy = d.fail(&["volume", "rm", &vol]);
    assert!(
        busy.stderr.contains("volume is in use"),
        "usage lost over the restart: {busy:?}"
    );
    d.ok(&["rm", "writer"]);
    d.ok(&["volume", "rm", &vol]);
}

/// Whether the host (the daemon's mount namespace is the test's) has a mount on `path`.
fn host_mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path))
}

#[test]
fn local_driver_options_mount_tmpfs_and_binds_while_in_use() {
    let d = shared();
    let tv = unique("vol-tmpfs");
    d.ok(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m,uid=1000",
        &tv,
    ]);
    let v = volume_inspect(&d, &tv);
    assert_eq!(v["Options"]["type"], "tmpfs", "{v}");
    let mp = v["Mountpoint"].as_str().unwrap().to_string();
    let out = d.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{tv}:/data"),
        "busybox",
        "sh",
        "-c",
        "grep ' /data ' /proc/mounts; stat -c %u /data",
    ]);
    assert!(out.contains("tmpfs /data tmpfs"), "{out}");
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.ends_with("1000"), "{out}");
    assert!(
        !host_mounted(&mp),
        "still mounted after the container: {mp}"
    );

    // A bind volume: the container writes into the host directory, and removing the volume
    // leaves that directory's files alone.
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("from-host"), "hello").unwrap();
    let bv = unique("vol-bind");
    d.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &format!("device={}", host.path().display()),
        &bv,
    ]);
    let name = unique("bind-user");
    d.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &format!("{bv}:/data"),
        "busybox",
        "sh",
        "-c",
        "cat /data/from-host > /data/seen && sleep 60",
    ]);
    let bmp = volume_inspect(&d, &bv)["Mountpoint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(host_mounted(&bmp), "not mounted while in use: {bmp}");
    let seen = host.path().join("seen");
    let t0 = std::time::Instant::now();
    while !seen.exists() && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "hello");
    d.ok(&["rm", "-f", &name]);
    assert!(!host_mounted(&bmp), "still mounted after rm: {bmp}");
    d.ok(&["volume", "rm", &bv, &tv]);
    assert!(
        host.path().join("from-host").exists(),
        "volume rm deleted the host files"
    );

    // A mount that fails fails the start, naming the volume's mount.
    let broken = unique("vol-broken");
    d.ok(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        "device=/nonexistent-shoal",
        &broken,
    ]);
    let out = d.fail(&[
        "run",
        "--rm",
        "-v",
        &format!("{broken}:/data"),
        "busybox",
        "true",
    ]);
    assert!(
        out.stderr.contains("failed to mount local volume"),
        "{out:?}"
    );
    d.ok(&["volume", "rm", &broken]);
}
