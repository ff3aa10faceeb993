//! `docker create`: validate, merge image defaults, reserve the name,
//! prepare the rootfs snapshot and the containerd container.

use std::collections::HashMap;
use std::sync::Arc;

use shoal_api::models::{
    ContainerConfig, ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum,
};

use crate::image::ResolvedImage;
use crate::runtime::RuntimeError;

use super::super::container::Container;
use super::super::logdriver;
use super::super::names;
use super::super::record::{ContainerRecord, RunState};
use super::super::store::StoreError;
use super::super::{Engine, EngineError, EngineResult};
use super::volumes::{VolumeMount, copy_up_all};

/// What `create` returns: the ID and warnings for the CLI to print.
#[derive(Debug)]
pub struct Created {
    /// New container ID.
    pub id: String,
    /// Warnings (`WARNING: ...` lines in the CLI).
    pub warnings: Vec<String>,
}

/// Applies image defaults to the user's config the way dockerd's
/// `merge` does: env by key, labels by key, cmd/entrypoint only when the
/// user gave no entrypoint.
pub fn merge_config(user: &mut ContainerConfig, image: &crate::image::ContainerDefaults) {
    if user.user.as_deref().unwrap_or("").is_empty() {
        user.user = image.user.clone();
    }
    if let Some(img_ports) = &image.exposed_ports {
        let ports = user.exposed_ports.get_or_insert_with(HashMap::new);
        for k in img_ports.keys() {
            ports.entry(k.clone()).or_default();
        }
    }
    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for kv in user.env.clone().unwrap_or_default() {
        let key = kv.split('=').next().unwrap_or("").to_owned();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    }
    user.env = Some(env);
    let mut labels = image.labels.clone().unwrap_or_default();
    labels.extend(user.labels.clone().unwrap_or_default());
    user.labels = Some(labels);
    if user.entrypoint.as_ref().is_none_or(|e| e.is_empty()) {
        if user.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            user.cmd = image.cmd.clone();
        }
        if user.entrypoint.is_none() {
            user.entrypoint = image.entrypoint.clone();
        }
    }
    if user.working_dir.as_deref().unwrap_or("").is_empty() {
        user.working_dir = image.working_dir.clone();
    }
    if let Some(img_vols) = &image.volumes {
        let vols = user.volumes.get_or_insert_with(HashMap::new);
        for k in img_vols.keys() {
            vols.entry(k.clone()).or_default();
        }
    }
    if user.stop_signal.as_deref().unwrap_or("").is_empty() {
        user.stop_signal = image.stop_signal.clone();
    }
    user.healthcheck =
        super::health_config::merge(user.healthcheck.take(), image.healthcheck.as_ref());
}

fn split_body(body: ContainerCreateBody) -> (ContainerConfig, HostConfig) {
    let host = body.host_config.clone().unwrap_or_default();
    let cfg = ContainerConfig {
        hostname: body.hostname,
        domainname: body.domainname,
        user: body.user,
        attach_stdin: body.attach_stdin,
        attach_stdout: body.attach_stdout,
        attach_stderr: body.attach_stderr,
        exposed_ports: body.exposed_ports,
        tty: body.tty,
        open_stdin: body.open_stdin,
        stdin_once: body.stdin_once,
        env: body.env,
        cmd: body.cmd,
        healthcheck: body.healthcheck,
        args_escaped: body.args_escaped,
        image: body.image,
        volumes: body.volumes,
        working_dir: body.working_dir,
        entrypoint: body.entrypoint,
        network_disabled: body.network_disabled,
        mac_address: body.mac_address,
        on_build: body.on_build,
        labels: body.labels,
        stop_signal: body.stop_signal,
        stop_timeout: body.stop_timeout,
        shell: body.shell,
    };
    (cfg, host)
}

/// dockerd's checks of a restart policy's retry count (create and update).
pub(super) fn validate_restart_policy(rp: &RestartPolicy) -> EngineResult<()> {
    let name = rp.name.unwrap_or(RestartPolicyNameEnum::EMPTY);
    if rp.maximum_retry_count.unwrap_or(0) < 0 {
        return Err(EngineError::Invalid(
            "invalid restart policy: maximum retry count can't be negative".into(),
        ));
    }
    if rp.maximum_retry_count.unwrap_or(0) > 0 && name != RestartPolicyNameEnum::ON_FAILURE {
        return Err(EngineError::Invalid(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'".into(),
        ));
    }
    Ok(())
}

fn validate_host_config(host: &HostConfig) -> EngineResult<()> {
    if let Some(rp) = &host.restart_policy {
        let name = rp.name.unwrap_or(RestartPolicyNameEnum::EMPTY);
        let restarts = !matches!(
            name,
            RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO
        );
        if restarts && host.auto_remove == Some(true) {
            return Err(EngineError::Invalid(
                "can't create 'AutoRemove' container with restart policy".into(),
            ));
        }
        validate_restart_policy(rp)?;
    }
    let log = host.log_config.clone().unwrap_or_default();
    logdriver::parse(
        log.typ.as_deref().unwrap_or(""),
        &log.config.unwrap_or_default(),
    )
    .map(|_| ())
    .map_err(EngineError::Invalid)
}

impl Engine {
    /// Creates a container (`POST /containers/create`).
    #[tracing::instrument(skip_all, fields(container.name = name.as_deref().unwrap_or("")))]
    pub async fn create(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> EngineResult<Created> {
        let networking = body.networking_config.clone();
        let (mut config, mut host) = split_body(body);
        let image_ref = config.image.clone().unwrap_or_default();
        if image_ref.is_empty() {
            return Err(EngineError::Invalid("No image specified".into()));
        }
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => Some(names::normalize(&n).map_err(EngineError::Invalid)?),
            None => None,
        };
        validate_host_config(&host)?;
        super::health_config::validate(config.healthcheck.as_ref())?;
        super::options::refuse_unsupported(&host)?;
        if let Some(wd) = config.working_dir.as_deref().filter(|w| !w.is_empty())
            && !wd.starts_with('/')
        {
            return Err(EngineError::Invalid(format!(
                "the working directory '{wd}' is invalid, it needs to be an absolute path"
            )));
        }
        let (network_mode, networks) = self.plan_networks(
            &host,
            networking.as_ref(),
            config.mac_address.as_deref(),
            config.network_disabled == Some(true),
        )?;
        crate::network::ports::requests(
            host.port_bindings.as_ref(),
            config.exposed_ports.as_ref(),
            host.publish_all_ports == Some(true),
        )
        .map_err(EngineError::Invalid)?;
        for l in host.links.iter().flatten() {
            let target = l.trim_start_matches('/').split(':').next().unwrap_or("");
            self.lookup(target).map_err(|_| {
                EngineError::Invalid(format!("could not get container for {target}"))
            })?;
        }
        let image = self.images().resolve(&image_ref).await?;
        merge_config(&mut config, &image.defaults);
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(EngineError::Invalid("No command specified".into()));
        }
        let mut warnings = Vec::new();
        if network_mode == "host"
            && (host.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
                || host.publish_all_ports == Some(true))
        {
            // dockerd's answer: the CLI prints it as a WARNING line.
            warnings.push("Published ports are discarded when using host network mode".to_string());
        }
        let id = names::new_id();
        if config.hostname.as_deref().unwrap_or("").is_empty() {
            config.hostname = Some(if network_mode == "host" {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| id[..12].to_owned())
            } else {
                id[..12].to_owned()
            });
        }
        // dockerd records the resolved mode ("default" becomes "bridge"),
        // the runtime, and the masked/read-only paths it will apply.
        host.network_mode = Some(network_mode.clone());
        if host.runtime.as_deref().unwrap_or("").is_empty() {
            host.runtime = Some("runc".into());
        }
        // dockerd's inspect always shows these (0: no realtime share).
        host.cpu_realtime_period.get_or_insert(0);
        host.cpu_realtime_runtime.get_or_insert(0);
        if host.privileged != Some(true) {
            let own = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            if host.masked_paths.is_none() {
                host.masked_paths = Some(own(crate::runtime::oci_spec::MASKED_PATHS));
            }
            if host.readonly_paths.is_none() {
                host.readonly_paths = Some(own(crate::runtime::oci_spec::READONLY_PATHS));
            }
        }
        if host
            .log_config
            .as_ref()
            .and_then(|l| l.typ.as_deref())
            .unwrap_or("")
            .is_empty()
        {
            let mut lc = host.log_config.clone().unwrap_or_default();
            let (driver, opts) = self.cfg().live.log_defaults();
            lc.typ = Some(driver);
            if lc.config.as_ref().is_none_or(|c| c.is_empty()) {
                lc.config = Some(opts);
            }
            host.log_config = Some(lc);
        }
        let mut config_volumes: Vec<String> = config
            .volumes
            .iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        config_volumes.sort();
        let (volumes, fill) = self.resolve_volumes(&mut host, &config_volumes)?;
        let rec = ContainerRecord {
            id: id.clone(),
            name: String::new(),
            created: chrono::Utc::now(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config,
            host_config: host,
            image_id: image.id.clone(),
            state: RunState::default(),
            restart_count: 0,
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            exec_ids: Vec::new(),
            network_mode,
            networks,
            ports: Vec::new(),
            extra: HashMap::new(),
            volumes,
        };
        let unreserved = rec.clone();
        let rec = match self.reserve(rec, name).await {
            Ok(r) => r,
            Err(e) => {
                self.remove_anonymous_volumes(&unreserved);
                return Err(e);
            }
        };
        match self.materialize(rec.clone(), &image, &fill).await {
            Ok(rec) => {
                self.persist(&rec).await?;
                self.emit(&rec, "create", &[]);
                self.insert(Arc::new(Container::new(rec)));
                Ok(Created { id, warnings })
            }
            Err(e) => {
                self.rollback_create(&rec).await;
                Err(e)
            }
        }
    }

    /// Stores the record under `name` (or a generated one), atomically.
    async fn reserve(
        &self,
        mut rec: ContainerRecord,
        name: Option<String>,
    ) -> EngineResult<ContainerRecord> {
        let fixed = name.is_some();
        for attempt in 0..10 {
            rec.name = name.clone().unwrap_or_else(|| names::random(attempt));
            match self.store().insert_new(&rec).await {
                Ok(()) => return Ok(rec),
                Err(StoreError::NameInUse(owner)) if fixed => {
                    return Err(EngineError::Conflict(format!(
                        "Conflict. The container name \"/{}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name.",
                        rec.name
                    )));
                }
                Err(StoreError::NameInUse(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // Every random attempt collided: the short ID is unique.
        rec.name = names::fallback(&rec.id);
        self.store().insert_new(&rec).await?;
        Ok(rec)
    }

    /// Snapshot, per-container files, user resolution and the containerd
    /// container. Everything here is undone by `rollback_create`.
    async fn materialize(
        &self,
        mut rec: ContainerRecord,
        image: &ResolvedImage,
        fill: &[VolumeMount],
    ) -> EngineResult<ContainerRecord> {
        let dir = self.container_dir(&rec.id);
        std::fs::create_dir_all(&dir).map_err(EngineError::io("creating container dir"))?;
        self.write_etc_files(&rec)?;
        // The lease keeps the new snapshot from garbage collection until the
        // containerd container that references it exists.
        let lease = format!("shoal-create-{}", rec.id);
        self.runtime()
            .create_lease(&lease, std::time::Duration::from_secs(3600))
            .await?;
        let res = self.prepare_rootfs(&mut rec, image, &lease, fill).await;
        let res = match res {
            Ok(()) => self.create_runtime_container(&rec).await,
            Err(e) => Err(e),
        };
        if let Err(e) = self.runtime().delete_lease(&lease, false).await {
            tracing::warn!(error = %e, "deleting create lease");
        }
        res?;
        Ok(rec)
    }

    /// Prepares the rootfs snapshot; resolves the user, creates the
    /// working directory and fills new volumes from the image in it when
    /// the config needs that (a mount costs time, so plain numeric users
    /// without volumes to fill skip it).
    async fn prepare_rootfs(
        &self,
        rec: &mut ContainerRecord,
        image: &ResolvedImage,
        lease: &str,
        fill: &[VolumeMount],
    ) -> EngineResult<()> {
        let mounts = self
            .runtime()
            .prepare_snapshot(lease, &rec.id, image.chain_id.as_deref(), HashMap::new())
            .await?;
        let user = rec.config.user.clone().unwrap_or_default();
        let workdir = rec.config.working_dir.clone().unwrap_or_default();
        // Only `uid:gid` in numbers needs nothing from the image: a name, or
        // a bare uid (whose supplementary groups come from /etc/group, as
        // for root in dockerd), is resolved against the rootfs.
        let numeric = user.split(':').count() == 2
            && user
                .split(':')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        // `GroupAdd`: numbers as they are, names from the image's /etc/group.
        let group_add = rec.host_config.group_add.clone().unwrap_or_default();
        let numeric_groups: Option<Vec<u32>> = group_add.iter().map(|g| g.parse().ok()).collect();
        if numeric
            && (workdir.is_empty() || workdir == "/")
            && fill.is_empty()
            && let Some(groups) = numeric_groups
        {
            let mut parts = user.split(':');
            rec.uid = parts.next().and_then(|u| u.parse().ok()).unwrap_or(0);
            rec.gid = parts.next().and_then(|g| g.parse().ok()).unwrap_or(0);
            rec.additional_gids = groups;
            return Ok(());
        }
        let base = self.cfg().exec_root.join("mnt");
        let fill = fill.to_vec();
        let resolved = crate::runtime::mount::with_mounted(&base, &mounts, move |root| {
            if !workdir.is_empty() {
                // dockerd creates the working directory at create time; resolved inside
                // the rootfs so `..` or an image's symlink cannot reach the host.
                let p = super::super::rootfs_path::secure_join(root, &workdir)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
                std::fs::create_dir_all(&p).map_err(|e| {
                    EngineError::Invalid(format!("creating working directory {workdir}: {e}"))
                })?;
            }
            copy_up_all(root, &fill).map_err(EngineError::Invalid)?;
            let (uid, gid, mut groups) = crate::runtime::oci_spec::resolve_user(root, &user)
                .map_err(|e| EngineError::Invalid(e.to_string()))?;
            for g in &group_add {
                let gid = match g.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) => crate::runtime::oci_spec::resolve_group(root, g)
                        .map_err(|e| EngineError::Invalid(e.to_string()))?,
                };
                if !groups.contains(&gid) {
                    groups.push(gid);
                }
            }
            Ok::<_, EngineError>((uid, gid, groups))
        })
        .await?;
        let (uid, gid, groups) = resolved?;
        rec.uid = uid;
        rec.gid = gid;
        rec.additional_gids = groups;
        Ok(())
    }

    /// (Re)creates the containerd container for `rec` from its spec.
    pub(crate) async fn create_runtime_container(&self, rec: &ContainerRecord) -> EngineResult<()> {
        let spec = self.build_spec(rec)?;
        let mut labels = HashMap::new();
        labels.insert("io.shoal.name".to_string(), rec.name.clone());
        match self
            .runtime()
            .container_create(&rec.id, &spec, Some(&rec.id), &rec.image_id, labels)
            .await
        {
            Ok(()) => Ok(()),
            // A container started before: its record holds the spec of
            // that start, and `docker update` may have changed limits since.
            Err(RuntimeError::AlreadyExists(_)) => {
                Ok(self.runtime().container_update_spec(&rec.id, &spec).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn rollback_create(&self, rec: &ContainerRecord) {
        self.remove_anonymous_volumes(rec);
        let _ = self.runtime().container_delete(&rec.id).await;
        let _ = self.runtime().remove_snapshot(&rec.id).await;
        let _ = std::fs::remove_dir_all(self.container_dir(&rec.id));
        if let Err(e) = self.store().remove(&rec.id, &rec.name).await {
            tracing::error!(container.id = %rec.id, error = %e, "rolling back create");
        }
    }

    /// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` for the container.
    fn write_etc_files(&self, rec: &ContainerRecord) -> EngineResult<()> {
        let dir = self.container_dir(&rec.id);
        let hostname = rec.config.hostname.clone().unwrap_or_default();
        std::fs::write(dir.join("hostname"), format!("{hostname}\n"))
            .map_err(EngineError::io("writing hostname"))?;
        let hosts = if rec.network_mode == "host" {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        } else {
            format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
            )
        };
        std::fs::write(dir.join("hosts"), hosts).map_err(EngineError::io("writing hosts"))?;
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        std::fs::write(dir.join("resolv.conf"), resolv)
            .map_err(EngineError::io("writing resolv.conf"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ContainerDefaults;

    fn defaults() -> ContainerDefaults {
        ContainerDefaults {
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            cmd: Some(vec!["sh".into()]),
            working_dir: Some("/w".into()),
            labels: Some([("l".to_string(), "img".to_string())].into()),
            ..Default::default()
        }
    }

    #[test]
    fn image_cmd_used_when_user_gives_none() {
        let mut c = ContainerConfig::default();
        merge_config(&mut c, &defaults());
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(c.working_dir.as_deref(), Some("/w"));
    }

    #[test]
    fn user_entrypoint_drops_image_cmd() {
        let mut c = ContainerConfig {
            entrypoint: Some(vec!["echo".into()]),
            ..Default::default()
        };
        merge_config(&mut c, &defaults());
        assert_eq!(c.cmd, None);
    }

    #[test]
    fn env_and_labels_merge_by_key() {
        let mut c = ContainerConfig {
            env: Some(vec!["A=2".into()]),
            labels: Some([("l".to_string(), "mine".to_string())].into()),
            ..Default::default()
        };
        merge_config(&mut c, &defaults());
        assert_eq!(
            c.env,
            Some(vec!["PATH=/bin".to_string(), "A=2".to_string()])
        );
        assert_eq!(c.labels.unwrap()["l"], "mine");
    }
}
