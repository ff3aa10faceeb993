//! Specs from `oci_spec::build_spec` run under real runc the way Docker's
//! do: user, hostname, network files, env, cwd, read-only rootfs, binds,
//! tmpfs, loopback-only network, default capabilities.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod runtime_support;

use std::collections::HashMap;
use std::time::Duration;

use runtime_support::{Env, read_to_end, read_until};
use shoal_node::runtime::io::{FifoReader, FifoWriter};
use shoal_node::runtime::oci_spec::{self, ResolvedUser, SpecInput};
use tokio::io::AsyncWriteExt;

const T: Duration = Duration::from_secs(20);

#[tokio::test]
async fn docker_like_container_environment() {
    let env = Env::new().await;
    let id = Env::id("spec");
    let etc = env.rootfs.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(env.rootfs.join("work")).unwrap();
    std::fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
    )
    .unwrap();
    let (uid, gid, additional_gids) = oci_spec::resolve_user(&env.rootfs, "app").unwrap();
    assert_eq!(
        (uid, gid, additional_gids.clone()),
        (1000, 1000, vec![2000])
    );

    let files = env.dir.path().join("files");
    let data = env.dir.path().join("data");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    // The container user must be able to write the bind-mounted dir.
    nix::unistd::chown(&data, Some(1000.into()), Some(1000.into())).unwrap();
    std::fs::write(files.join("hosts"), "127.0.0.1 localhost\n10.0.0.5 web\n").unwrap();
    std::fs::write(files.join("resolv.conf"), "nameserver 1.1.1.1\n").unwrap();
    std::fs::write(files.join("hostname"), "web\n").unwrap();

    let script = "id; hostname; cat /etc/hostname; grep web /etc/hosts; cat /etc/resolv.conf; pwd; \
                  echo FOO=$FOO; touch /ro-test 2>/dev/null && echo rootfs-rw || echo rootfs-ro; \
                  touch /data/x && echo data-rw; touch /scratch/y && echo scratch-rw; \
                  ls /sys/class/net; grep CapBnd /proc/self/status";
    let mut input = SpecInput {
        id: id.clone(),
        user: ResolvedUser {
            uid,
            gid,
            additional_gids,
        },
        hosts_path: Some(files.join("hosts")),
        resolv_conf_path: Some(files.join("resolv.conf")),
        hostname_path: Some(files.join("hostname")),
        cgroups_path: format!("/shoal-test/{id}"),
        cgroup_v2: oci_spec::cgroup_v2(),
        ..Default::default()
    };
    input.config.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
    input.config.hostname = Some("web".into());
    input.config.env = Some(vec!["FOO=bar".into()]);
    input.config.working_dir = Some("/work".into());
    input.host_config.readonly_rootfs = Some(true);
    input.host_config.binds = Some(vec![format!("{}:/data", data.display())]);
    input.host_config.tmpfs = Some(HashMap::from([(
        "/scratch".into(),
        "size=1m,mode=1777".into(),
    )]));
    let spec = oci_spec::build_spec(&input).unwrap();

    let io = env.create_with_spec(&id, &spec, false, false).await;
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    let mut err = FifoReader::open(io.stderr.as_ref().unwrap()).unwrap();
    env.rt.task_start(&id).await.unwrap();
    let text = read_to_end(&mut out, T).await;
    let errors = read_to_end(&mut err, T).await;
    assert_eq!(
        env.rt.task_wait(&id).await.unwrap().code,
        0,
        "{text}\n{errors}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("uid=1000(app) gid=1000(app)"),
        "{text}"
    );
    assert!(lines[0].contains("2000(extra)"), "{text}");
    assert_eq!(
        lines[1..],
        [
            "web",
            "web",
            "10.0.0.5 web",
            "nameserver 1.1.1.1",
            "/work",
            "FOO=bar",
            "rootfs-ro",
            "data-rw",
            "scratch-rw",
            "lo",
            // Docker's 14 default capabilities.
            "CapBnd:\t00000000a80425fb",
        ]
    );
    assert!(data.join("x").exists());
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn tty_with_stdin() {
    let env = Env::new().await;
    let id = Env::id("ttyin");
    let io = env
        .create(&id, &["sh", "-c", "read x; echo got-$x"], true, true)
        .await;
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    let mut stdin = FifoWriter::open(io.stdin.as_ref().unwrap()).unwrap();
    env.rt.task_start(&id).await.unwrap();
    env.rt.task_resize(&id, None, 120, 30).await.unwrap();
    stdin.write_all(b"abc\n").await.unwrap();
    let text = read_until(&mut out, "got-abc", T).await;
    // The tty echoes input, then the reply.
    assert!(text.contains("abc\r\n"), "{text:?}");
    assert_eq!(env.rt.task_wait(&id).await.unwrap().code, 0);
    stdin.shutdown().await.unwrap();
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn privileged_and_device_mappings() {
    let env = Env::new().await;
    let id = Env::id("priv");
    let script = "grep CapBnd /proc/self/status; echo x > /dev/mynull && echo wrote; \
                  test -c /dev/full && echo host-devices";
    let mut input = SpecInput {
        id: id.clone(),
        cgroups_path: format!("/shoal-test/{id}"),
        cgroup_v2: oci_spec::cgroup_v2(),
        ..Default::default()
    };
    input.config.cmd = Some(vec!["sh".into(), "-c".into(), script.into()]);
    input.host_config.privileged = Some(true);
    input.available_caps = Some(oci_spec::host_caps());
    input.devices = oci_spec::device_mappings(&[shoal_api::models::DeviceMapping {
        path_on_host: Some("/dev/null".into()),
        path_in_container: Some("/dev/mynull".into()),
        cgroup_permissions: Some("rwm".into()),
    }])
    .unwrap();
    input.devices.extend(oci_spec::host_devices());
    let spec = oci_spec::build_spec(&input).unwrap();
    let io = env.create_with_spec(&id, &spec, false, false).await;
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    env.rt.task_start(&id).await.unwrap();
    let text = read_to_end(&mut out, T).await;
    assert_eq!(env.rt.task_wait(&id).await.unwrap().code, 0, "{text}");
    // Everything this host can grant (a sandbox may lack some capabilities).
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own_bnd = own.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    assert_eq!(text, format!("{own_bnd}\nwrote\nhost-devices\n"));
    env.remove(&id).await;
    env.shutdown().await;
}

#[tokio::test]
async fn console_size_applies_to_the_tty() {
    let env = Env::new().await;
    let id = Env::id("consz");
    let mut input = SpecInput {
        id: id.clone(),
        cgroups_path: format!("/shoal-test/{id}"),
        ..Default::default()
    };
    input.config.cmd = Some(vec!["stty".into(), "size".into()]);
    input.config.tty = Some(true);
    input.host_config.console_size = Some(vec![40, 120]);
    let spec = oci_spec::build_spec(&input).unwrap();
    let io = env.create_with_spec(&id, &spec, false, true).await;
    let mut out = FifoReader::open(io.stdout.as_ref().unwrap()).unwrap();
    env.rt.task_start(&id).await.unwrap();
    assert_eq!(read_to_end(&mut out, T).await, "40 120\r\n");
    env.remove(&id).await;
    env.shutdown().await;
}
