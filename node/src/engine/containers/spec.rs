//! From a container record to the inputs of the OCI spec builder.

use shoal_api::models::ExecConfig as DockerExecConfig;

use crate::runtime::oci_spec::{self, BindMount, ExecConfig, NetworkMode, ResolvedUser, SpecInput};

/// Where `--init` puts the init binary in the container (as dockerd).
const INIT_PATH: &str = "/sbin/docker-init";

/// The host's init for `--init`: docker-init (Debian's docker.io links it
/// to tini) or tini itself.
fn init_binary() -> Option<std::path::PathBuf> {
    [
        "/usr/bin/docker-init",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/tini",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_file())
}

use super::super::record::ContainerRecord;

/// The capabilities this daemon may hand out (fixed for its lifetime).
fn host_caps() -> Vec<String> {
    static CAPS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CAPS.get_or_init(oci_spec::host_caps).clone()
}
use super::super::{Engine, EngineError, EngineResult};

impl Engine {
    /// The OCI runtime spec of `rec`'s init process.
    pub(crate) fn build_spec(&self, rec: &ContainerRecord) -> EngineResult<serde_json::Value> {
        let mut dir = self.container_dir(&rec.id);
        let network = match rec.network_mode.as_str() {
            "host" => NetworkMode::Host,
            m if m.starts_with("container:") => {
                // dockerd shares the namespace and the network files of the target.
                let target = self.lookup(&m["container:".len()..])?.snapshot();
                if !target.state.status.is_live() || target.state.pid == 0 {
                    return Err(EngineError::Conflict(format!(
                        "cannot join network namespace of a non running container: {}",
                        target.id
                    )));
                }
                dir = self.container_dir(&target.id);
                NetworkMode::Path(format!("/proc/{}/ns/net", target.state.pid).into())
            }
            _ => NetworkMode::Isolated,
        };
        let (volumes, mut extra_binds) = self.volume_spec_input(rec);
        let hc = &rec.host_config;
        let mut config = rec.config.clone();
        let links = self.link_env(rec);
        if !links.is_empty() {
            // Link variables come first, so the container's own env overrides them.
            let mut env = links;
            env.extend(config.env.take().unwrap_or_default());
            config.env = Some(env);
        }
        if hc.init == Some(true) {
            // dockerd's --init: the host's init binary as PID 1, in front
            // of the entrypoint.
            let init = init_binary().ok_or_else(|| {
                EngineError::Invalid(
                    "--init: no init binary (docker-init or tini) found on this host".into(),
                )
            })?;
            extra_binds.push(BindMount {
                source: init,
                destination: INIT_PATH.into(),
                read_only: true,
            });
            let mut ep = vec![INIT_PATH.to_owned(), "--".to_owned()];
            ep.extend(config.entrypoint.take().unwrap_or_default());
            config.entrypoint = Some(ep);
        }
        let mut devices = oci_spec::device_mappings(hc.devices.as_deref().unwrap_or_default())
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        if hc.privileged == Some(true) {
            devices.extend(oci_spec::host_devices());
        }
        let input = SpecInput {
            id: rec.id.clone(),
            config,
            host_config: rec.host_config.clone(),
            user: ResolvedUser {
                uid: rec.uid,
                gid: rec.gid,
                additional_gids: rec.additional_gids.clone(),
            },
            network,
            hosts_path: Some(dir.join("hosts")),
            resolv_conf_path: Some(dir.join("resolv.conf")),
            hostname_path: Some(dir.join("hostname")),
            cgroups_path: oci_spec::cgroups_path(&rec.host_config, &rec.id),
            cgroup_v2: oci_spec::cgroup_v2(),
            available_caps: Some(host_caps()),
            seccomp: Some(seccomp_target().clone()),
            volumes,
            extra_binds,
            devices,
        };
        oci_spec::build_spec(&input).map_err(|e| EngineError::Invalid(e.to_string()))
    }

    /// The OCI process of an exec in `rec`'s running task.
    pub(crate) fn exec_process(
        &self,
        rec: &ContainerRecord,
        cfg: &DockerExecConfig,
        tty: bool,
    ) -> EngineResult<serde_json::Value> {
        let spec = self.build_spec(rec)?;
        let user = match cfg.user.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => {
                let (uid, gid, groups) =
                    oci_spec::resolve_user(&oci_spec::proc_root(rec.state.pid), u)
                        .map_err(|e| EngineError::Invalid(e.to_string()))?;
                ResolvedUser {
                    uid,
                    gid,
                    additional_gids: groups,
                }
            }
            None => ResolvedUser {
                uid: rec.uid,
                gid: rec.gid,
                additional_gids: rec.additional_gids.clone(),
            },
        };
        Ok(oci_spec::exec_process(
            &spec,
            &ExecConfig {
                args: cfg.cmd.clone().unwrap_or_default(),
                env: cfg.env.clone().unwrap_or_default(),
                container_env: rec.config.env.clone().unwrap_or_default(),
                hostname: rec.config.hostname.clone().unwrap_or_default(),
                user,
                tty,
                cwd: cfg.working_dir.clone(),
                privileged: cfg.privileged.unwrap_or(false),
                available_caps: Some(host_caps()),
            },
        ))
    }
}

/// The host as seccomp profiles see it (read once).
fn seccomp_target() -> &'static crate::runtime::seccomp::Target {
    static TARGET: std::sync::OnceLock<crate::runtime::seccomp::Target> =
        std::sync::OnceLock::new();
    TARGET.get_or_init(crate::runtime::seccomp::Target::host)
}
