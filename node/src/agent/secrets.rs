//! Secrets and configs as files on a per-task tmpfs (swarmkit's secret mounts): the data
//! never touches the node's disk, the container gets each file bind-mounted read-only, and
//! the tmpfs goes away when the task stops.
//!
//! Secrets appear at `/run/secrets/<target>` (an absolute target is used as is); configs at
//! their target, by default `/<config name>`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use shoal_scheduler::model::container::FileTarget;
use shoal_scheduler::model::{Config, ConfigId, Secret, SecretId, Task};

use super::container_config::FileMount;

/// Where a task's files live: `<exec-root>/swarm/tasks/<task id>` (a tmpfs each).
#[derive(Debug, Clone)]
pub struct TaskFiles {
    root: PathBuf,
}

fn uid_gid(f: &FileTarget) -> (Option<nix::unistd::Uid>, Option<nix::unistd::Gid>) {
    let uid = f.uid.parse::<u32>().ok().map(nix::unistd::Uid::from_raw);
    let gid = f.gid.parse::<u32>().ok().map(nix::unistd::Gid::from_raw);
    (uid, gid)
}

/// Where a secret's file appears in the container.
pub fn secret_target(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/run/secrets/{name}")
    }
}

/// Where a config's file appears in the container.
pub fn config_target(name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

fn write_file(dir: &Path, key: &str, data: &[u8], f: &FileTarget) -> Result<PathBuf, String> {
    let path = dir.join(key);
    std::fs::write(&path, data).map_err(|e| format!("writing {}: {e}", path.display()))?;
    let mode = if f.mode == 0 { 0o444 } else { f.mode };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    let (uid, gid) = uid_gid(f);
    nix::unistd::chown(&path, uid, gid).map_err(|e| format!("chown {}: {e}", path.display()))?;
    Ok(path)
}

impl TaskFiles {
    /// Files under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn dir(&self, task: &str) -> PathBuf {
        self.root.join(task)
    }

    /// Writes the secrets and configs `task` is granted onto a fresh tmpfs and returns the
    /// bind mounts for its container. Blocking: call from a blocking thread.
    ///
    /// Errors: the message the task is rejected with (a secret that did not arrive, a
    /// failed mount).
    pub fn prepare(
        &self,
        task: &Task,
        secrets: &BTreeMap<SecretId, Secret>,
        configs: &BTreeMap<ConfigId, Config>,
    ) -> Result<Vec<FileMount>, String> {
        let c = &task.spec.container;
        if c.secrets.is_empty() && c.configs.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.dir(task.id.as_str());
        self.cleanup(task.id.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        nix::mount::mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("mode=0755,size=16m"),
        )
        .map_err(|e| format!("mounting a tmpfs for the task's secrets: {e}"))?;
        let mut out = Vec::new();
        for r in &c.secrets {
            let s = secrets
                .get(&r.secret_id)
                .ok_or_else(|| format!("secret {} was not sent to this node", r.secret_name))?;
            let f = r.file.clone().unwrap_or_else(|| FileTarget {
                name: r.secret_name.clone(),
                mode: 0o444,
                ..Default::default()
            });
            let path = write_file(&dir, &format!("s-{}", r.secret_id), &s.spec.data, &f)?;
            out.push(FileMount {
                source: path.display().to_string(),
                target: secret_target(&f.name),
            });
        }
        for r in &c.configs {
            if r.runtime {
                return Err("runtime configs (credential specs) are not supported on Linux".into());
            }
            let cfg = configs
                .get(&r.config_id)
                .ok_or_else(|| format!("config {} was not sent to this node", r.config_name))?;
            let f = r.file.clone().unwrap_or_else(|| FileTarget {
                name: r.config_name.clone(),
                mode: 0o444,
                ..Default::default()
            });
            let path = write_file(&dir, &format!("c-{}", r.config_id), &cfg.spec.data, &f)?;
            out.push(FileMount {
                source: path.display().to_string(),
                target: config_target(&f.name),
            });
        }
        Ok(out)
    }

    /// Unmounts and removes the task's files (idempotent). Blocking.
    pub fn cleanup(&self, task: &str) {
        let dir = self.dir(task);
        if !dir.exists() {
            return;
        }
        // Lazily: a container that still holds a bind of a file keeps only its own reference.
        let _ = nix::mount::umount2(&dir, MntFlags::MNT_DETACH);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(task.id = %task, error = %e, "could not remove the task's secret files");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_docker() {
        assert_eq!(secret_target("pw"), "/run/secrets/pw");
        assert_eq!(secret_target("/etc/pw"), "/etc/pw");
        assert_eq!(config_target("conf"), "/conf");
        assert_eq!(config_target("/etc/app.conf"), "/etc/app.conf");
    }
}
