//! Temporarily mounting a snapshot on the host, for work the engine does
//! inside a container's rootfs before or without a task (user lookup,
//! creating the working directory, `docker export`).

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::{Mount, RuntimeError, RuntimeResult};

fn io_err(context: String, e: impl Into<std::io::Error>) -> RuntimeError {
    RuntimeError::Io { context, source: e.into() }
}

/// Mounts `mounts` (as containerd's snapshotter returns them) one over the
/// other on `target`.
fn mount_all(mounts: &[Mount], target: &Path) -> RuntimeResult<()> {
    for m in mounts {
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for o in &m.options {
            match o.as_str() {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" => {}
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                other => data.push(other),
            }
        }
        let fstype = if m.kind == "bind" { None } else { Some(m.kind.as_str()) };
        let data = data.join(",");
        mount(
            Some(m.source.as_str()),
            target,
            fstype,
            flags,
            (!data.is_empty()).then_some(data.as_str()),
        )
        .map_err(|e| io_err(format!("mount {} on {}", m.kind, target.display()), e))?;
        if flags.contains(MsFlags::MS_BIND) && flags.contains(MsFlags::MS_RDONLY) {
            // A bind mount ignores MS_RDONLY until remounted.
            mount(
                None::<&str>,
                target,
                None::<&str>,
                flags | MsFlags::MS_REMOUNT,
                None::<&str>,
            )
            .map_err(|e| io_err(format!("remount ro {}", target.display()), e))?;
        }
    }
    Ok(())
}

/// Mounts `mounts` on a fresh directory under `base`, runs `f` with its
/// path, and unmounts and removes the directory whatever `f` returned.
pub async fn with_mounted<T>(
    base: &Path,
    mounts: &[Mount],
    f: impl FnOnce(&Path) -> T + Send,
) -> RuntimeResult<T> {
    std::fs::create_dir_all(base).map_err(|e| io_err(format!("create {}", base.display()), e))?;
    let suffix: u64 = rand::random();
    let target: PathBuf = base.join(format!("m{suffix:016x}"));
    std::fs::create_dir(&target).map_err(|e| io_err(format!("create {}", target.display()), e))?;
    let res = mount_all(mounts, &target).map(|()| f(&target));
    for _ in mounts {
        // Lazy detach so a straggling open file can't wedge the daemon.
        let _ = umount2(&target, MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir(&target);
    res
}
