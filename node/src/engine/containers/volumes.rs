//! A container's volumes: resolving `Binds`, `Mounts`, `Config.Volumes`
//! (image `VOLUME`, `-v /path`) and `VolumesFrom` to local volumes at
//! create, filling new volumes from the image, and removing anonymous
//! volumes with the container (`rm -v`, `--rm`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shoal_api::models::{HostConfig, MountTypeEnum};

use crate::runtime::oci_spec::BindMount;
use crate::volume::{CreateVolume, VolumeError, VolumeUsage};

use super::super::record::ContainerRecord;
use super::super::{Engine, EngineError, EngineResult};

/// One volume (or inherited bind) a container mounts, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeMount {
    /// Volume name; empty for a host directory inherited with `VolumesFrom`.
    pub name: String,
    /// Host directory mounted.
    pub source: PathBuf,
    /// Path inside the container.
    pub destination: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Created for this container: `rm -v` removes it.
    pub anonymous: bool,
    /// Mounted by the engine itself (anonymous or inherited), not through a
    /// `Binds`/`Mounts` entry that the spec builder reads.
    pub engine_mounted: bool,
}

/// `src:dst[:mode]` of a bind whose source is a volume name.
fn named_bind(spec: &str) -> Option<(&str, &str, &str)> {
    let mut parts = spec.splitn(3, ':');
    let src = parts.next()?;
    let dst = parts.next()?;
    let mode = parts.next().unwrap_or("");
    (!src.is_empty() && !src.starts_with('/')).then_some((src, dst, mode))
}

impl Engine {
    /// Creates (or finds) every volume `host`/`volumes` name and returns
    /// the mounts to record, plus the volumes to fill from the image (new
    /// and empty, without `nocopy`). Sets the name of anonymous `Mounts`.
    pub(crate) fn resolve_volumes(
        &self,
        host: &mut HostConfig,
        config_volumes: &[String],
    ) -> EngineResult<(Vec<VolumeMount>, Vec<VolumeMount>)> {
        let svc = self.volumes();
        let mut out = Vec::new();
        let mut fill = Vec::new();
        let mut dests: HashSet<String> = HashSet::new();
        for b in host.binds.iter().flatten() {
            let mut parts = b.splitn(3, ':');
            let _ = parts.next();
            if let Some(d) = parts.next() {
                dests.insert(d.trim_end_matches('/').to_owned());
            }
            let Some((name, dst, mode)) = named_bind(b) else {
                continue;
            };
            let (rec, new) = svc
                .create(CreateVolume {
                    name: name.to_owned(),
                    ..Default::default()
                })
                .map_err(EngineError::from)?;
            let modes: Vec<&str> = mode.split(',').collect();
            let vm = VolumeMount {
                source: svc.mountpoint(&rec.name),
                name: rec.name,
                destination: dst.to_owned(),
                read_only: modes.contains(&"ro"),
                anonymous: false,
                engine_mounted: false,
            };
            if new && !modes.contains(&"nocopy") {
                fill.push(vm.clone());
            }
            out.push(vm);
        }
        for m in host.mounts.iter_mut().flatten() {
            let target = m.target.clone().unwrap_or_default();
            dests.insert(target.trim_end_matches('/').to_owned());
            if m.typ != Some(MountTypeEnum::VOLUME) {
                continue;
            }
            let opts = m.volume_options.clone().unwrap_or_default();
            let driver = opts.driver_config.clone().unwrap_or_default();
            let name = m.source.clone().unwrap_or_default();
            let (rec, new) = svc
                .create(CreateVolume {
                    anonymous: name.is_empty(),
                    name,
                    driver: driver.name.unwrap_or_default(),
                    options: driver.options.unwrap_or_default(),
                    labels: opts.labels.unwrap_or_default(),
                })
                .map_err(EngineError::from)?;
            let anonymous = m.source.as_deref().unwrap_or("").is_empty();
            m.source = Some(rec.name.clone());
            let vm = VolumeMount {
                source: svc.mountpoint(&rec.name),
                name: rec.name,
                destination: target,
                read_only: m.read_only.unwrap_or(false),
                anonymous,
                engine_mounted: false,
            };
            let subpath = opts.subpath.as_deref().unwrap_or("");
            if new && !opts.no_copy.unwrap_or(false) && subpath.is_empty() {
                fill.push(vm.clone());
            }
            out.push(vm);
        }
        for (dest, _) in host.tmpfs.iter().flatten() {
            dests.insert(dest.trim_end_matches('/').to_owned());
        }
        // VolumesFrom: the other container's volumes and binds, read-write
        // unless `:ro` (dockerd's default keeps each mount's own mode).
        for spec in host.volumes_from.iter().flatten() {
            let (cid, mode) = match spec.split_once(':') {
                Some((c, m)) => (c, Some(m)),
                None => (spec.as_str(), None),
            };
            let ro = match mode {
                None => None,
                Some("ro") => Some(true),
                Some("rw") => Some(false),
                Some(m) => {
                    return Err(EngineError::Invalid(format!(
                        "invalid mode for volumes-from: {m}"
                    )));
                }
            };
            let other = self.lookup(cid)?.snapshot();
            for vm in inherited_mounts(&other) {
                if dests.insert(vm.destination.trim_end_matches('/').to_owned()) {
                    out.push(VolumeMount {
                        read_only: ro.unwrap_or(vm.read_only),
                        anonymous: false,
                        engine_mounted: true,
                        ..vm
                    });
                }
            }
        }
        for dest in config_volumes {
            if !dests.insert(dest.trim_end_matches('/').to_owned()) {
                continue;
            }
            let (rec, _) = svc
                .create(CreateVolume {
                    anonymous: true,
                    ..Default::default()
                })
                .map_err(EngineError::from)?;
            let vm = VolumeMount {
                source: svc.mountpoint(&rec.name),
                name: rec.name,
                destination: dest.clone(),
                read_only: false,
                anonymous: true,
                engine_mounted: true,
            };
            fill.push(vm.clone());
            out.push(vm);
        }
        Ok((out, fill))
    }

    /// The name → directory map and the engine binds for the spec.
    pub(crate) fn volume_spec_input(
        &self,
        rec: &ContainerRecord,
    ) -> (HashMap<String, PathBuf>, Vec<BindMount>) {
        let mut names = HashMap::new();
        let mut binds = Vec::new();
        for vm in &rec.volumes {
            if !vm.name.is_empty() {
                names.insert(vm.name.clone(), vm.source.clone());
            }
            if vm.engine_mounted {
                binds.push(BindMount {
                    source: vm.source.clone(),
                    destination: vm.destination.clone(),
                    read_only: vm.read_only,
                });
            }
        }
        (names, binds)
    }

    /// After a container is gone: removes its anonymous volumes that no
    /// other container uses (`rm -v`, `--rm`).
    pub(crate) fn remove_anonymous_volumes(&self, rec: &ContainerRecord) {
        for vm in rec.volumes.iter().filter(|v| v.anonymous) {
            match self.volumes().remove(&vm.name, true) {
                Ok(()) | Err(VolumeError::InUse { .. }) => {}
                Err(e) => {
                    tracing::warn!(volume = %vm.name, error = %e, "removing anonymous volume")
                }
            }
        }
    }

    /// Mounts the volumes of `rec` whose options describe a mount
    /// (`volume create -o type=…`), before its task starts.
    pub(crate) async fn activate_volumes(&self, rec: &ContainerRecord) -> EngineResult<()> {
        let names: Vec<String> = rec
            .volumes
            .iter()
            .filter(|v| !v.name.is_empty())
            .map(|v| v.name.clone())
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let (svc, id) = (self.volumes().clone(), rec.id.clone());
        tokio::task::spawn_blocking(move || {
            for (i, n) in names.iter().enumerate() {
                if let Err(e) = svc.activate(n, &id) {
                    for done in &names[..i] {
                        svc.deactivate(done, &id);
                    }
                    return Err(e);
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| EngineError::io("mounting volumes")(std::io::Error::other(e)))?
        .map_err(EngineError::from)
    }

    /// After the task of `rec` ended: unmounts what only it used.
    pub(crate) async fn deactivate_volumes(&self, rec: &ContainerRecord) {
        let names: Vec<String> = rec
            .volumes
            .iter()
            .filter(|v| !v.name.is_empty())
            .map(|v| v.name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let (svc, id) = (self.volumes().clone(), rec.id.clone());
        let _ = tokio::task::spawn_blocking(move || {
            for n in &names {
                svc.deactivate(n, &id);
            }
        })
        .await;
    }

    /// `mount` events for a start.
    pub(crate) fn emit_volume_mounts(&self, rec: &ContainerRecord) {
        for vm in rec.volumes.iter().filter(|v| !v.name.is_empty()) {
            self.volumes()
                .emit_mount(&vm.name, &rec.id, &vm.destination, !vm.read_only);
        }
    }
}

/// What `VolumesFrom` takes from `rec`: its volumes and host binds.
fn inherited_mounts(rec: &ContainerRecord) -> Vec<VolumeMount> {
    let mut out: Vec<VolumeMount> = rec.volumes.clone();
    for b in rec.host_config.binds.iter().flatten() {
        let parts: Vec<&str> = b.splitn(3, ':').collect();
        if let [src, dst, rest @ ..] = parts.as_slice()
            && src.starts_with('/')
        {
            let mode = rest.first().copied().unwrap_or("");
            out.push(VolumeMount {
                name: String::new(),
                source: PathBuf::from(src),
                destination: (*dst).to_owned(),
                read_only: mode.split(',').any(|m| m == "ro"),
                anonymous: false,
                engine_mounted: true,
            });
        }
    }
    out
}

/// Fills each volume in `fill` from the image content at its destination
/// under `root` (blocking).
pub(crate) fn copy_up_all(root: &Path, fill: &[VolumeMount]) -> Result<(), String> {
    for vm in fill {
        let src = root.join(vm.destination.trim_start_matches('/'));
        // Never follow a link out of the rootfs: only real directories.
        let Ok(meta) = src.symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() || !crate::volume::local::is_empty_dir(&vm.source) {
            continue;
        }
        crate::volume::local::copy_up(&src, &vm.source)
            .map_err(|e| format!("copying image content to volume {}: {e}", vm.name))?;
    }
    Ok(())
}

impl VolumeUsage for Engine {
    fn containers_using_volume(&self, name: &str) -> Vec<String> {
        self.all()
            .iter()
            .map(|c| c.snapshot())
            .filter(|r| r.volumes.iter().any(|v| v.name == name))
            .map(|r| r.id)
            .collect()
    }
}
