//! Unit tests of the spec builder.

use shoal_api::models::ResourcesUlimits;

use super::*;

fn input(cmd: &[&str]) -> SpecInput {
    SpecInput {
        id: "0123456789abcdef0123".into(),
        config: ContainerConfig {
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        },
        cgroups_path: "/shoal/0123456789abcdef0123".into(),
        ..Default::default()
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

fn ns_types(spec: &Value) -> Vec<String> {
    spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_owned())
        .collect()
}

fn mount<'a>(spec: &'a Value, dest: &str) -> Option<&'a Value> {
    spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == dest)
}

#[test]
fn defaults_match_dockerd() {
    let spec = build_spec(&input(&["echo", "hi"])).unwrap();
    assert_eq!(spec["ociVersion"], OCI_VERSION);
    assert_eq!(spec["root"], json!({"path": "rootfs", "readonly": false}));
    assert_eq!(spec["hostname"], "0123456789ab");
    let p = &spec["process"];
    assert_eq!(strs(&p["args"]), vec!["echo", "hi"]);
    assert_eq!(
        strs(&p["env"]),
        vec![DEFAULT_PATH_ENV.to_string(), "HOSTNAME=0123456789ab".into()]
    );
    assert_eq!(p["cwd"], "/");
    assert_eq!(p["terminal"], false);
    assert_eq!(p["user"], json!({"uid": 0, "gid": 0, "additionalGids": []}));
    assert_eq!(strs(&p["capabilities"]["bounding"]), DEFAULT_CAPS.to_vec());
    assert_eq!(
        p["capabilities"]["effective"],
        p["capabilities"]["bounding"]
    );
    assert!(p["capabilities"].get("inheritable").is_none());
    assert_eq!(p["rlimits"], json!([]));
    assert_eq!(p["noNewPrivileges"], false);
    assert_eq!(
        ns_types(&spec),
        vec!["mount", "network", "uts", "pid", "ipc"]
    );
    assert_eq!(spec["linux"]["cgroupsPath"], "/shoal/0123456789abcdef0123");
    assert_eq!(
        strs(&spec["linux"]["maskedPaths"]).len(),
        MASKED_PATHS.len()
    );
    assert!(strs(&spec["linux"]["readonlyPaths"]).contains(&"/proc/sys".to_string()));
    assert_eq!(
        spec["linux"]["resources"]["devices"][0],
        json!({"allow": false, "access": "rwm"})
    );
    let shm = mount(&spec, "/dev/shm").unwrap();
    assert!(strs(&shm["options"]).contains(&"size=67108864".to_string()));
    assert!(strs(&mount(&spec, "/sys").unwrap()["options"]).contains(&"ro".to_string()));
    for dest in ["/proc", "/dev", "/dev/pts", "/sys/fs/cgroup", "/dev/mqueue"] {
        assert!(mount(&spec, dest).is_some(), "{dest}");
    }
    assert!(spec["linux"].get("rootfsPropagation").is_none());
}

#[test]
fn entrypoint_cmd_env_cwd_tty() {
    let mut i = input(&["-c", "true"]);
    i.config.entrypoint = Some(vec!["sh".into()]);
    i.config.env = Some(vec!["A=1".into(), "PATH=/custom".into()]);
    i.config.working_dir = Some("/work".into());
    i.config.tty = Some(true);
    i.config.hostname = Some("web".into());
    i.config.domainname = Some("example.org".into());
    let spec = build_spec(&i).unwrap();
    let p = &spec["process"];
    assert_eq!(strs(&p["args"]), vec!["sh", "-c", "true"]);
    assert_eq!(
        strs(&p["env"]),
        vec!["PATH=/custom", "HOSTNAME=web", "TERM=xterm", "A=1"]
    );
    assert_eq!(p["cwd"], "/work");
    assert_eq!(p["terminal"], true);
    assert_eq!(spec["hostname"], "web");
    assert_eq!(spec["domainname"], "example.org");
}

#[test]
fn no_command_is_an_error() {
    assert!(matches!(build_spec(&input(&[])), Err(SpecError::NoCommand)));
}

#[test]
fn env_merge_rules() {
    let d = vec!["A=1".to_string(), "B=2".to_string()];
    assert_eq!(
        merge_env(&d, &["B=3".into(), "C=4".into(), "A".into(), "Z".into()]),
        vec!["B=3", "C=4"]
    );
}

#[test]
fn user_and_network_modes() {
    let mut i = input(&["id"]);
    i.user = ResolvedUser {
        uid: 1000,
        gid: 1001,
        additional_gids: vec![10, 20],
    };
    i.network = NetworkMode::Host;
    let spec = build_spec(&i).unwrap();
    assert_eq!(
        spec["process"]["user"],
        json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20]})
    );
    assert_eq!(ns_types(&spec), vec!["mount", "uts", "pid", "ipc"]);

    i.network = NetworkMode::Path("/run/netns/x".into());
    let spec = build_spec(&i).unwrap();
    assert_eq!(
        spec["linux"]["namespaces"][1],
        json!({"type": "network", "path": "/run/netns/x"})
    );

    i.host_config.pid_mode = Some("host".into());
    i.host_config.ipc_mode = Some("host".into());
    i.host_config.uts_mode = Some("host".into());
    i.cgroup_v2 = true;
    let spec = build_spec(&i).unwrap();
    assert_eq!(ns_types(&spec), vec!["mount", "network", "cgroup"]);
    assert!(spec.get("hostname").is_none());
}

#[test]
fn network_files_and_readonly_rootfs() {
    let mut i = input(&["true"]);
    i.hosts_path = Some("/run/shoal/c/hosts".into());
    i.resolv_conf_path = Some("/run/shoal/c/resolv.conf".into());
    i.hostname_path = Some("/run/shoal/c/hostname".into());
    i.host_config.readonly_rootfs = Some(true);
    let spec = build_spec(&i).unwrap();
    assert_eq!(spec["root"]["readonly"], true);
    let hosts = mount(&spec, "/etc/hosts").unwrap();
    assert_eq!(hosts["type"], "bind");
    assert_eq!(hosts["source"], "/run/shoal/c/hosts");
    assert_eq!(strs(&hosts["options"]), vec!["rbind", "rprivate", "ro"]);
    assert!(mount(&spec, "/etc/resolv.conf").is_some());
    assert!(mount(&spec, "/etc/hostname").is_some());
}

#[test]
fn privileged_gets_everything() {
    let mut i = input(&["true"]);
    i.host_config.privileged = Some(true);
    i.host_config.cap_drop = Some(vec!["ALL".into()]);
    let spec = build_spec(&i).unwrap();
    assert_eq!(
        spec["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len(),
        41
    );
    assert_eq!(spec["linux"]["maskedPaths"], json!([]));
    let mut limited = i.clone();
    limited.available_caps = Some(vec!["CAP_CHOWN".into(), "CAP_SYS_ADMIN".into()]);
    assert_eq!(
        build_spec(&limited).unwrap()["process"]["capabilities"]["effective"],
        json!(["CAP_CHOWN", "CAP_SYS_ADMIN"])
    );
    assert_eq!(spec["linux"]["readonlyPaths"], json!([]));
    assert_eq!(
        spec["linux"]["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    assert!(strs(&mount(&spec, "/sys").unwrap()["options"]).contains(&"rw".to_string()));
}

#[test]
fn caps_and_security_opts() {
    let mut i = input(&["true"]);
    i.host_config.cap_add = Some(vec!["NET_ADMIN".into()]);
    i.host_config.cap_drop = Some(vec!["CAP_NET_RAW".into()]);
    i.host_config.security_opt = Some(vec!["no-new-privileges".into()]);
    let spec = build_spec(&i).unwrap();
    let caps = strs(&spec["process"]["capabilities"]["bounding"]);
    assert!(caps.contains(&"CAP_NET_ADMIN".into()) && !caps.contains(&"CAP_NET_RAW".into()));
    assert_eq!(spec["process"]["noNewPrivileges"], true);
    i.host_config.cap_add = Some(vec!["BOGUS".into()]);
    assert!(matches!(build_spec(&i), Err(SpecError::InvalidArgument(_))));
}

#[test]
fn resources_and_ulimits() {
    let mut i = input(&["true"]);
    i.host_config.memory = Some(64 << 20);
    i.host_config.memory_swap = Some(-1);
    i.host_config.cpu_shares = Some(512);
    i.host_config.nano_cpus = Some(1_500_000_000);
    i.host_config.pids_limit = Some(100);
    i.host_config.shm_size = Some(1 << 20);
    i.host_config.sysctls = Some(HashMap::from([("net.ipv4.ip_forward".into(), "1".into())]));
    i.host_config.oom_score_adj = Some(500);
    i.host_config.ulimits = Some(vec![
        ResourcesUlimits {
            name: Some("nofile".into()),
            soft: Some(1024),
            hard: Some(2048),
        },
        ResourcesUlimits {
            name: Some("nproc".into()),
            soft: Some(-1),
            hard: Some(-1),
        },
    ]);
    let spec = build_spec(&i).unwrap();
    let r = &spec["linux"]["resources"];
    assert_eq!(r["memory"], json!({"limit": 67108864, "swap": -1}));
    assert_eq!(
        r["cpu"],
        json!({"shares": 512, "period": 100000, "quota": 150000})
    );
    assert_eq!(r["pids"], json!({"limit": 100}));
    assert_eq!(spec["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
    assert_eq!(spec["process"]["oomScoreAdj"], 500);
    assert_eq!(
        spec["process"]["rlimits"],
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048},
            {"type": "RLIMIT_NPROC", "soft": u64::MAX, "hard": u64::MAX}
        ])
    );
    assert!(
        strs(&mount(&spec, "/dev/shm").unwrap()["options"]).contains(&"size=1048576".to_string())
    );
    i.host_config.ulimits = Some(vec![ResourcesUlimits {
        name: Some("nofile".into()),
        soft: Some(10),
        hard: Some(5),
    }]);
    assert!(build_spec(&i).is_err());
}

#[test]
fn binds_mounts_and_tmpfs_in_spec() {
    let mut i = input(&["true"]);
    i.host_config.binds = Some(vec!["/srv/data:/data:ro".into(), "vol:/v".into()]);
    i.host_config.tmpfs = Some(HashMap::from([("/run".into(), "size=1m".into())]));
    i.volumes = HashMap::from([(
        "vol".into(),
        PathBuf::from("/var/lib/shoal/volumes/vol/_data"),
    )]);
    i.extra_binds = vec![BindMount {
        source: "/anon".into(),
        destination: "/data/cache".into(),
        read_only: false,
    }];
    let spec = build_spec(&i).unwrap();
    let data = mount(&spec, "/data").unwrap();
    assert_eq!(strs(&data["options"]), vec!["rbind", "rprivate", "ro"]);
    assert_eq!(
        mount(&spec, "/v").unwrap()["source"],
        "/var/lib/shoal/volumes/vol/_data"
    );
    let run = mount(&spec, "/run").unwrap();
    assert_eq!(
        strs(&run["options"]),
        vec!["noexec", "nosuid", "nodev", "size=1m"]
    );
    let dests: Vec<&str> = spec["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["destination"].as_str().unwrap())
        .collect();
    let pos = |d: &str| dests.iter().position(|x| *x == d).unwrap();
    assert!(pos("/data") < pos("/data/cache"));
}

#[test]
fn exec_process_inherits_container_process() {
    let mut i = input(&["sleep", "100"]);
    i.config.env = Some(vec!["A=1".into()]);
    i.host_config.security_opt = Some(vec!["no-new-privileges:true".into()]);
    let spec = build_spec(&i).unwrap();
    let exec = ExecConfig {
        args: vec!["echo".into(), "hi".into()],
        env: vec!["B=2".into(), "A=3".into()],
        container_env: vec!["A=1".into()],
        hostname: "0123456789ab".into(),
        user: ResolvedUser {
            uid: 5,
            gid: 6,
            additional_gids: vec![],
        },
        tty: true,
        cwd: Some("/tmp".into()),
        privileged: false,
        available_caps: None,
    };
    let p = exec_process(&spec, &exec);
    assert_eq!(strs(&p["args"]), vec!["echo", "hi"]);
    assert_eq!(
        strs(&p["env"]),
        vec![
            DEFAULT_PATH_ENV,
            "HOSTNAME=0123456789ab",
            "TERM=xterm",
            "A=3",
            "B=2"
        ]
    );
    assert_eq!(p["terminal"], true);
    assert_eq!(p["cwd"], "/tmp");
    assert_eq!(p["user"]["uid"], 5);
    assert_eq!(p["noNewPrivileges"], true);
    assert_eq!(p["rlimits"], spec["process"]["rlimits"]);
    assert_eq!(p["capabilities"], spec["process"]["capabilities"]);

    let p = exec_process(
        &spec,
        &ExecConfig {
            privileged: true,
            cwd: None,
            ..exec.clone()
        },
    );
    assert_eq!(p["capabilities"]["effective"].as_array().unwrap().len(), 41);
    assert_eq!(p["cwd"], "/");
    let p = exec_process(
        &spec,
        &ExecConfig {
            privileged: true,
            available_caps: Some(vec!["CAP_KILL".into()]),
            ..exec
        },
    );
    assert_eq!(p["capabilities"]["bounding"], json!(["CAP_KILL"]));
}

#[test]
fn devices_become_nodes_and_cgroup_rules() {
    let mut i = input(&["true"]);
    i.devices = vec![DeviceNode {
        path: "/dev/fuse".into(),
        kind: 'c',
        major: 10,
        minor: 229,
        file_mode: 0o666,
        uid: 0,
        gid: 0,
        permissions: "rwm".into(),
    }];
    let spec = build_spec(&i).unwrap();
    assert_eq!(spec["linux"]["devices"][0]["path"], "/dev/fuse");
    assert_eq!(spec["linux"]["devices"][0]["type"], "c");
    let rules = spec["linux"]["resources"]["devices"].as_array().unwrap();
    assert_eq!(
        rules.last().unwrap(),
        &json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    );
    i.host_config.privileged = Some(true);
    let spec = build_spec(&i).unwrap();
    assert_eq!(
        spec["linux"]["resources"]["devices"],
        json!([{"allow": true, "access": "rwm"}])
    );
    assert_eq!(spec["linux"]["devices"].as_array().unwrap().len(), 1);
}

#[test]
fn console_size_ipc_none_and_cgroup_paths() {
    let mut i = input(&["sh"]);
    i.config.tty = Some(true);
    i.host_config.console_size = Some(vec![40, 120]);
    i.host_config.ipc_mode = Some("none".into());
    let spec = build_spec(&i).unwrap();
    assert_eq!(
        spec["process"]["consoleSize"],
        json!({"height": 40, "width": 120})
    );
    assert!(mount(&spec, "/dev/shm").is_none());
    i.config.tty = Some(false);
    assert!(
        build_spec(&i).unwrap()["process"]
            .get("consoleSize")
            .is_none()
    );

    let mut hc = HostConfig::default();
    assert_eq!(cgroups_path(&hc, "abc"), "/shoal/abc");
    hc.cgroup_parent = Some("custom/".into());
    assert_eq!(cgroups_path(&hc, "abc"), "/custom/abc");
}

#[test]
fn update_resources_have_no_devices_and_lift_pids_limits() {
    let hc = HostConfig {
        memory: Some(64 << 20),
        pids_limit: Some(-1),
        ..Default::default()
    };
    let r = update_resources(&hc);
    assert!(r.get("devices").is_none(), "{r}");
    assert_eq!(r["memory"]["limit"], 64 << 20);
    assert_eq!(r["pids"]["limit"], -1);
    let hc = HostConfig {
        pids_limit: Some(50),
        ..Default::default()
    };
    assert_eq!(update_resources(&hc)["pids"]["limit"], 50);
}
