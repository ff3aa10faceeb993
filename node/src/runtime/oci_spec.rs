//! OCI runtime spec builder (pure): Docker container config in, the JSON
//! spec containerd/runc run, out. It matches what dockerd generates
//! (moby `oci/defaults.go` + `daemon/oci_linux.go`) where the CLI can see
//! the difference: capabilities, mounts, env, masked paths, rlimits.
//!
//! The only I/O here is in the helpers the engine calls to fill
//! [`SpecInput`]: [`resolve_user`]/[`resolve_group`] (the container's
//! `/etc/passwd` and `/etc/group`), [`device_mappings`]/[`host_devices`]
//! (stat of host device nodes) and [`cgroup_v2`].
//!
//! Seccomp comes from [`super::seccomp`] (the default profile unless
//! unconfined or privileged). Not generated (yet): AppArmor/SELinux labels.

mod caps;
mod devices;
mod mounts;
mod process;
mod user;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use shoal_api::models::{ContainerConfig, HostConfig, HostConfigCgroupnsModeEnum};

pub use caps::{ALL_CAPS, DEFAULT_CAPS, effective_caps, host_caps};
pub use devices::{DeviceNode, device_mappings, host_devices};
pub use mounts::{BindMount, DEFAULT_SHM_SIZE};
pub use process::{ExecConfig, container_env, exec_process, merge_env};
pub use user::{resolve_group, resolve_in_root, resolve_user};

/// OCI runtime-spec version written into specs (runc 1.1 accepts it).
pub const OCI_VERSION: &str = "1.0.2";
/// dockerd's default `PATH` for Linux containers.
pub const DEFAULT_PATH_ENV: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// moby's default masked paths.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
/// moby's default read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Errors from building a spec or resolving users.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Neither `Entrypoint` nor `Cmd` gives a command.
    #[error("no command specified")]
    NoCommand,
    /// A user or group name does not resolve (Docker's wording).
    #[error("{0}")]
    UserNotFound(String),
    /// A named volume the engine did not resolve.
    #[error("{0}")]
    NotFound(String),
    /// Invalid bind/mount/capability/ulimit settings (Docker's wording).
    #[error("{0}")]
    InvalidArgument(String),
    /// Reading the container's files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The user a process runs as, resolved with [`resolve_user`] (plus
/// `GroupAdd` gids appended by the engine).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User ID.
    pub uid: u32,
    /// Primary group ID.
    pub gid: u32,
    /// Supplementary group IDs.
    pub additional_gids: Vec<u32>,
}

/// The container's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// A new namespace with only loopback (`none`, and the default until
    /// bridge networking attaches an interface).
    #[default]
    Isolated,
    /// The host's namespace (`--network host`).
    Host,
    /// An existing namespace (bind-mounted netns file or `/proc/<pid>/ns/net`).
    Path(PathBuf),
}

/// Everything the spec is built from: the merged Docker config and what the
/// engine resolved around it.
#[derive(Debug, Clone, Default)]
pub struct SpecInput {
    /// Container ID (used for the default hostname).
    pub id: String,
    /// Merged image + create config (Entrypoint/Cmd/Env/WorkingDir/Tty…).
    pub config: ContainerConfig,
    /// Host config.
    pub host_config: HostConfig,
    /// The resolved `Config.User`.
    pub user: ResolvedUser,
    /// Network namespace.
    pub network: NetworkMode,
    /// Host file bind-mounted on `/etc/hosts`.
    pub hosts_path: Option<PathBuf>,
    /// Host file bind-mounted on `/etc/resolv.conf`.
    pub resolv_conf_path: Option<PathBuf>,
    /// Host file bind-mounted on `/etc/hostname`.
    pub hostname_path: Option<PathBuf>,
    /// cgroup path for runc's cgroupfs driver (see [`cgroups_path`]).
    pub cgroups_path: String,
    /// The host runs the unified cgroup v2 hierarchy (see [`cgroup_v2`]);
    /// decides the default cgroup namespace mode, as in dockerd.
    pub cgroup_v2: bool,
    /// Named volume → host directory, for `Binds`/`Mounts` naming volumes.
    pub volumes: HashMap<String, PathBuf>,
    /// More binds the engine resolved (anonymous volumes, …).
    pub extra_binds: Vec<BindMount>,
    /// Device nodes to create: [`device_mappings`] of `HostConfig.Devices`,
    /// plus [`host_devices`] for a privileged container.
    pub devices: Vec<DeviceNode>,
    /// Capabilities the host can grant ([`host_caps`]); the container's
    /// set is cut down to them. `None`: no limit.
    pub available_caps: Option<Vec<String>>,
    /// The machine seccomp profiles are resolved for
    /// ([`super::seccomp::Target::host`]); `None` leaves seccomp out of the
    /// spec (unit tests of other parts).
    pub seccomp: Option<super::seccomp::Target>,
}

/// `caps` without those missing from `available`.
pub(crate) fn limit_caps(mut caps: Vec<String>, available: Option<&[String]>) -> Vec<String> {
    if let Some(avail) = available {
        caps.retain(|c| avail.contains(c));
    }
    caps
}

/// The cgroup of a container under runc's cgroupfs driver, as dockerd
/// names them: `<CgroupParent or /shoal>/<id>`. Works on cgroup v1 and v2.
pub fn cgroups_path(hc: &HostConfig, id: &str) -> String {
    let parent = match hc.cgroup_parent.as_deref() {
        Some(p) if !p.is_empty() => p.trim_end_matches('/'),
        _ => "/shoal",
    };
    let parent = if parent.starts_with('/') {
        parent.to_owned()
    } else {
        format!("/{parent}")
    };
    format!("{parent}/{id}")
}

/// Whether `/sys/fs/cgroup` is the unified cgroup v2 hierarchy.
pub fn cgroup_v2() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// The hostname a container gets: `Config.Hostname`, else the short ID.
pub fn hostname_of(input: &SpecInput) -> String {
    match input.config.hostname.as_deref() {
        Some(h) if !h.is_empty() => h.to_owned(),
        _ => input.id.chars().take(12).collect(),
    }
}

/// `--ulimit`s only. Without one, a container inherits the shim's limits,
/// which are containerd's with the soft NOFILE raised to the hard one (Go
/// does that at start-up): the same 1048576 dockerd containers see under
/// systemd. A fixed default would fail on hosts with a lower hard limit
/// (raising it needs CAP_SYS_RESOURCE outside any user namespace).
fn rlimits(hc: &HostConfig) -> Result<Vec<Value>, SpecError> {
    let mut limits: Vec<(String, u64, u64)> = Vec::new();
    for u in hc.ulimits.iter().flatten() {
        let name = u.name.as_deref().unwrap_or_default();
        if name.is_empty() {
            return Err(SpecError::InvalidArgument(
                "invalid ulimit: empty name".into(),
            ));
        }
        let kind = format!("RLIMIT_{}", name.to_ascii_uppercase());
        let soft = u.soft.unwrap_or(0);
        let hard = u.hard.unwrap_or(soft);
        if soft > hard {
            return Err(SpecError::InvalidArgument(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        // -1 means unlimited (RLIM_INFINITY).
        let conv = |v: i64| u64::try_from(v).unwrap_or(u64::MAX);
        limits.retain(|(k, _, _)| *k != kind);
        limits.push((kind, conv(soft), conv(hard)));
    }
    Ok(limits
        .into_iter()
        .map(|(t, soft, hard)| json!({"type": t, "soft": soft, "hard": hard}))
        .collect())
}

fn no_new_privileges(hc: &HostConfig) -> bool {
    hc.security_opt.iter().flatten().any(|o| {
        matches!(
            o.as_str(),
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
        )
    })
}

fn resources(hc: &HostConfig, privileged: bool, devices: &[DeviceNode]) -> Value {
    let mut r = Map::new();
    let devices_rules = if privileged {
        json!([{"allow": true, "access": "rwm"}])
    } else {
        // moby's default device cgroup rules; runc adds the standard
        // /dev nodes (null, zero, full, tty, random, urandom, ptmx, pts) itself.
        json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
            {"allow": true, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
            {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"}
        ])
    };
    let devices = match devices_rules {
        Value::Array(mut rules) if !privileged => {
            rules.extend(devices.iter().map(DeviceNode::rule_json));
            Value::Array(rules)
        }
        other => other,
    };
    r.insert("devices".into(), devices);
    let mut mem = Map::new();
    if let Some(m) = hc.memory.filter(|m| *m > 0) {
        mem.insert("limit".into(), json!(m));
    }
    if let Some(s) = hc.memory_swap.filter(|s| *s > 0 || *s == -1) {
        mem.insert("swap".into(), json!(s));
    }
    if let Some(m) = hc.memory_reservation.filter(|m| *m > 0) {
        mem.insert("reservation".into(), json!(m));
    }
    if let Some(s) = hc.memory_swappiness.filter(|s| (0..=100).contains(s)) {
        mem.insert("swappiness".into(), json!(s));
    }
    if hc.oom_kill_disable == Some(true) {
        mem.insert("disableOOMKiller".into(), json!(true));
    }
    if !mem.is_empty() {
        r.insert("memory".into(), Value::Object(mem));
    }
    let mut cpu = Map::new();
    if let Some(s) = hc.cpu_shares.filter(|s| *s > 0) {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(n) = hc.nano_cpus.filter(|n| *n > 0) {
        // dockerd: --cpus=N is quota N*period over a 100ms period.
        cpu.insert("period".into(), json!(100_000));
        cpu.insert("quota".into(), json!(n / 10_000));
    } else {
        if let Some(p) = hc.cpu_period.filter(|p| *p > 0) {
            cpu.insert("period".into(), json!(p));
        }
        if let Some(q) = hc.cpu_quota.filter(|q| *q > 0) {
            cpu.insert("quota".into(), json!(q));
        }
    }
    if let Some(c) = hc.cpuset_cpus.as_ref().filter(|c| !c.is_empty()) {
        cpu.insert("cpus".into(), json!(c));
    }
    if let Some(m) = hc.cpuset_mems.as_ref().filter(|m| !m.is_empty()) {
        cpu.insert("mems".into(), json!(m));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = hc.pids_limit.filter(|p| *p > 0) {
        r.insert("pids".into(), json!({"limit": p}));
    }
    if let Some(w) = hc.blkio_weight.filter(|w| *w > 0) {
        r.insert("blockIO".into(), json!({"weight": w}));
    }
    Value::Object(r)
}

/// The `linux.resources` a running task gets for `docker update`: the
/// cgroup limits of `hc` without device rules (those are fixed at
/// create), with an unlimited pids limit written out as -1 so a lowered
/// limit can be lifted again (runc leaves a 0 alone).
pub fn update_resources(hc: &HostConfig) -> Value {
    let mut r = resources(hc, false, &[]);
    if let Value::Object(m) = &mut r {
        m.remove("devices");
        if hc.pids_limit.is_some_and(|p| p <= 0) {
            m.insert("pids".into(), json!({"limit": -1}));
        }
    }
    r
}

fn namespaces(input: &SpecInput) -> Vec<Value> {
    let hc = &input.host_config;
    let is_host = |m: &Option<String>| m.as_deref() == Some("host");
    let mut ns = vec![json!({"type": "mount"})];
    match &input.network {
        NetworkMode::Host => {}
        NetworkMode::Isolated => ns.push(json!({"type": "network"})),
        NetworkMode::Path(p) => ns.push(json!({"type": "network", "path": p})),
    }
    if !is_host(&hc.uts_mode) {
        ns.push(json!({"type": "uts"}));
    }
    if !is_host(&hc.pid_mode) {
        ns.push(json!({"type": "pid"}));
    }
    if !is_host(&hc.ipc_mode) {
        ns.push(json!({"type": "ipc"}));
    }
    let private_cgroupns = match hc.cgroupns_mode {
        Some(HostConfigCgroupnsModeEnum::PRIVATE) => true,
        Some(HostConfigCgroupnsModeEnum::HOST) => false,
        // dockerd's default: private on cgroup v2, host on v1.
        _ => input.cgroup_v2,
    };
    if private_cgroupns {
        ns.push(json!({"type": "cgroup"}));
    }
    ns
}

/// Builds the container's OCI runtime spec.
///
/// Errors: [`SpecError::NoCommand`] without Entrypoint/Cmd,
/// `InvalidArgument` for bad binds/mounts/capabilities/ulimits, `NotFound`
/// for a volume missing from `input.volumes`.
pub fn build_spec(input: &SpecInput) -> Result<Value, SpecError> {
    let cfg = &input.config;
    let hc = &input.host_config;
    let privileged = hc.privileged.unwrap_or(false);
    let tty = cfg.tty.unwrap_or(false);

    let args: Vec<String> = cfg
        .entrypoint
        .iter()
        .flatten()
        .chain(cfg.cmd.iter().flatten())
        .cloned()
        .collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let hostname = hostname_of(input);
    let env = container_env(tty, &hostname, cfg.env.as_deref().unwrap_or_default());
    let cwd = match cfg.working_dir.as_deref() {
        Some(d) if !d.is_empty() => d.to_owned(),
        _ => "/".to_owned(),
    };
    let caps = limit_caps(
        effective_caps(
            hc.cap_add.as_deref().unwrap_or_default(),
            hc.cap_drop.as_deref().unwrap_or_default(),
            privileged,
        )?,
        input.available_caps.as_deref(),
    );

    let mut process = json!({
        "terminal": tty,
        "user": {
            "uid": input.user.uid,
            "gid": input.user.gid,
            "additionalGids": input.user.additional_gids,
        },
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": rlimits(hc)?,
        "noNewPrivileges": no_new_privileges(hc),
    });
    if let Some(adj) = hc.oom_score_adj.filter(|a| *a != 0) {
        process["oomScoreAdj"] = json!(adj);
    }
    // `docker run -t` sends the client's size as ConsoleSize [height, width].
    if let Some([h, w]) = hc
        .console_size
        .as_deref()
        .and_then(|c| <[usize; 2]>::try_from(c).ok())
        && tty
        && h > 0
        && w > 0
    {
        process["consoleSize"] = json!({"height": h, "width": w});
    }

    let readonly_rootfs = hc.readonly_rootfs.unwrap_or(false);
    let shm = hc.shm_size.filter(|s| *s > 0).unwrap_or(DEFAULT_SHM_SIZE);
    let files = [
        ("/etc/resolv.conf", input.resolv_conf_path.as_deref()),
        ("/etc/hostname", input.hostname_path.as_deref()),
        ("/etc/hosts", input.hosts_path.as_deref()),
    ];
    let user = mounts::user_mounts(
        hc,
        &files,
        readonly_rootfs,
        &input.volumes,
        &input.extra_binds,
    )?;
    let mut defaults = mounts::default_mounts(privileged, shm);
    if hc.ipc_mode.as_deref() == Some("none") {
        // dockerd: `--ipc none` means no /dev/shm at all.
        defaults.retain(|m| m.destination != "/dev/shm");
    }
    let (all_mounts, propagation) = mounts::merge(defaults, user);

    let (masked, readonly): (Vec<String>, Vec<String>) = if privileged {
        (vec![], vec![])
    } else {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        (
            hc.masked_paths.clone().unwrap_or_else(|| own(MASKED_PATHS)),
            hc.readonly_paths
                .clone()
                .unwrap_or_else(|| own(READONLY_PATHS)),
        )
    };
    let mut linux = json!({
        "namespaces": namespaces(input),
        "resources": resources(hc, privileged, &input.devices),
        "maskedPaths": masked,
        "readonlyPaths": readonly,
    });
    if !input.devices.is_empty() {
        linux["devices"] = json!(
            input
                .devices
                .iter()
                .map(DeviceNode::node_json)
                .collect::<Vec<_>>()
        );
    }
    if !input.cgroups_path.is_empty() {
        linux["cgroupsPath"] = json!(input.cgroups_path);
    }
    if let Some(sysctls) = hc.sysctls.as_ref().filter(|s| !s.is_empty()) {
        linux["sysctl"] = json!(sysctls);
    }
    if let Some(p) = propagation {
        linux["rootfsPropagation"] = json!(p);
    }
    if let Some(target) = &input.seccomp {
        let choice = super::seccomp::SeccompChoice::from_options(
            hc.security_opt.as_deref().unwrap_or_default(),
            privileged,
        );
        if let Some(filter) = super::seccomp::oci_seccomp(&choice, &caps, target)
            .map_err(|e| SpecError::InvalidArgument(e.to_string()))?
        {
            linux["seccomp"] = filter;
        }
    }

    let mut spec = json!({
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": "rootfs", "readonly": readonly_rootfs},
        "mounts": all_mounts.iter().map(|m| m.to_json()).collect::<Vec<_>>(),
        "linux": linux,
    });
    if hc.uts_mode.as_deref() != Some("host") {
        spec["hostname"] = json!(hostname);
        if let Some(d) = cfg.domainname.as_deref().filter(|d| !d.is_empty()) {
            spec["domainname"] = json!(d);
        }
    }
    Ok(spec)
}

/// Where [`resolve_user`] reads from for a running container: its init
/// process's root.
pub fn proc_root(pid: u32) -> PathBuf {
    Path::new("/proc").join(pid.to_string()).join("root")
}

#[cfg(test)]
mod tests;
