//! From a container record to the inputs of the OCI spec builder.

use shoal_api::models::ExecConfig as DockerExecConfig;

use crate::runtime::oci_spec::{self, ExecConfig, NetworkMode, ResolvedUser, SpecInput};

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
        let dir = self.container_dir(&rec.id);
        let network = match rec.network_mode.as_str() {
            "host" => NetworkMode::Host,
            _ => NetworkMode::Isolated,
        };
        let input = SpecInput {
            id: rec.id.clone(),
            config: rec.config.clone(),
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
            ..Default::default()
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
