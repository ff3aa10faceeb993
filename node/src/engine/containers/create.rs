//! `docker create`: validate, merge image defaults, reserve the name,
//! prepare the rootfs snapshot and the containerd container.

use std::collections::HashMap;
use std::sync::Arc;

use shoal_api::models::{ContainerConfig, ContainerCreateBody, HostConfig, RestartPolicyNameEnum};

use crate::image::ResolvedImage;
use crate::runtime::RuntimeError;

use super::super::container::Container;
use super::super::logfile::Rotation;
use super::super::names;
use super::super::record::{ContainerRecord, RunState};
use super::super::store::StoreError;
use super::super::{Engine, EngineError, EngineResult};

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

/// The network mode as dockerd records it, or a 4xx for what this engine
/// cannot provide yet.
fn network_mode(host: &HostConfig, config: &ContainerConfig) -> EngineResult<String> {
    if config.network_disabled == Some(true) {
        return Ok("none".into());
    }
    let mode = host.network_mode.clone().unwrap_or_default();
    match mode.as_str() {
        "" | "default" | "bridge" => Ok("bridge".into()),
        "host" | "none" => Ok(mode),
        other if other.starts_with("container:") => Err(EngineError::Invalid(format!(
            "network mode {other} is not supported by this engine yet"
        ))),
        other => Err(EngineError::NoSuchNetwork(other.to_owned())),
    }
}

fn validate_host_config(host: &HostConfig) -> EngineResult<Rotation> {
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
        if rp.maximum_retry_count.unwrap_or(0) < 0 {
            return Err(EngineError::Invalid(
                "invalid restart policy: maximum retry count can't be negative".into(),
            ));
        }
        if rp.maximum_retry_count.unwrap_or(0) > 0 && name != RestartPolicyNameEnum::ON_FAILURE {
            return Err(EngineError::Invalid(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            ));
        }
    }
    for bind in host.binds.iter().flatten() {
        let src = bind.split(':').next().unwrap_or("");
        if !src.starts_with('/') {
            return Err(EngineError::Invalid(format!(
                "named volumes are not supported by this engine yet: {bind}"
            )));
        }
    }
    let log = host.log_config.clone().unwrap_or_default();
    match log.typ.as_deref().unwrap_or("") {
        "" | "json-file" => {
            let opts = log.config.unwrap_or_default();
            Rotation::from_opts(&opts).map_err(EngineError::Invalid)
        }
        "none" => Ok(Rotation::default()),
        other => Err(EngineError::Invalid(format!(
            "failed to create task for container: logger: no log driver named '{other}' is registered"
        ))),
    }
}

impl Engine {
    /// Creates a container (`POST /containers/create`).
    #[tracing::instrument(skip_all, fields(container.name = name.as_deref().unwrap_or("")))]
    pub async fn create(
        &self,
        name: Option<String>,
        body: ContainerCreateBody,
    ) -> EngineResult<Created> {
        let (mut config, mut host) = split_body(body);
        let image_ref = config.image.clone().unwrap_or_default();
        if image_ref.is_empty() {
            return Err(EngineError::Invalid("No image specified".into()));
        }
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => Some(names::normalize(&n).map_err(EngineError::Invalid)?),
            None => None,
        };
        let _rotation = validate_host_config(&host)?;
        let network_mode = network_mode(&host, &config)?;
        let image = self.images().resolve(&image_ref).await?;
        merge_config(&mut config, &image.defaults);
        let mut argv: Vec<String> = config.entrypoint.clone().unwrap_or_default();
        argv.extend(config.cmd.clone().unwrap_or_default());
        if argv.is_empty() {
            return Err(EngineError::Invalid("No command specified".into()));
        }
        let mut warnings = Vec::new();
        if host.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
            || host.publish_all_ports == Some(true)
        {
            warnings.push(
                "Published ports are discarded: this engine has no container networking yet"
                    .to_string(),
            );
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
        // dockerd records the resolved mode ("default" becomes "bridge").
        host.network_mode = Some(network_mode.clone());
        if host
            .log_config
            .as_ref()
            .and_then(|l| l.typ.as_deref())
            .unwrap_or("")
            .is_empty()
        {
            let mut lc = host.log_config.clone().unwrap_or_default();
            lc.typ = Some(self.cfg().log_driver.clone());
            if lc.config.as_ref().is_none_or(|c| c.is_empty()) {
                lc.config = Some(self.cfg().log_opts.clone());
            }
            host.log_config = Some(lc);
        }
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
            extra: HashMap::new(),
        };
        let rec = self.reserve(rec, name)?;
        match self.materialize(rec.clone(), &image).await {
            Ok(rec) => {
                self.persist(&rec);
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
    fn reserve(
        &self,
        mut rec: ContainerRecord,
        name: Option<String>,
    ) -> EngineResult<ContainerRecord> {
        let fixed = name.is_some();
        for attempt in 0..10 {
            rec.name = name.clone().unwrap_or_else(|| names::random(attempt));
            match self.store().insert_new(&rec) {
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
        Err(EngineError::Conflict(
            "could not generate a unique container name".into(),
        ))
    }

    /// Snapshot, per-container files, user resolution and the containerd
    /// container. Everything here is undone by `rollback_create`.
    async fn materialize(
        &self,
        mut rec: ContainerRecord,
        image: &ResolvedImage,
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
        let res = self.prepare_rootfs(&mut rec, image, &lease).await;
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

    /// Prepares the rootfs snapshot; resolves the user and creates the
    /// working directory in it when the config needs that (a mount costs
    /// time, so plain numeric users skip it).
    async fn prepare_rootfs(
        &self,
        rec: &mut ContainerRecord,
        image: &ResolvedImage,
        lease: &str,
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
        if numeric && (workdir.is_empty() || workdir == "/") {
            let mut parts = user.split(':');
            rec.uid = parts.next().and_then(|u| u.parse().ok()).unwrap_or(0);
            rec.gid = parts.next().and_then(|g| g.parse().ok()).unwrap_or(0);
            return Ok(());
        }
        let base = self.cfg().exec_root.join("mnt");
        let resolved = crate::runtime::mount::with_mounted(&base, &mounts, move |root| {
            if !workdir.is_empty() {
                let p = root.join(workdir.trim_start_matches('/'));
                // dockerd creates the working directory at create time.
                let _ = std::fs::create_dir_all(p);
            }
            crate::runtime::oci_spec::resolve_user(root, &user)
        })
        .await?;
        let (uid, gid, groups) = resolved.map_err(|e| EngineError::Invalid(e.to_string()))?;
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
            Err(RuntimeError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn rollback_create(&self, rec: &ContainerRecord) {
        let _ = self.runtime().container_delete(&rec.id).await;
        let _ = self.runtime().remove_snapshot(&rec.id).await;
        let _ = std::fs::remove_dir_all(self.container_dir(&rec.id));
        if let Err(e) = self.store().remove(&rec.id, &rec.name) {
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
