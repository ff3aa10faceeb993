//! Temporary host mounts of snapshot mounts (containerd's
//! `mount.WithTempMount`): the engine uses them to resolve users in a
//! rootfs, create `WorkingDir`, and stream `docker export`.
//!
//! Options are split into mount flags and filesystem data the way
//! containerd's `mount_linux.go` does. Overlay `lowerdir` lists longer than
//! a page (about 50 layers at typical paths) are not supported: containerd
//! works around that with a `chdir` that a multi-threaded process cannot
//! make safely.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use tracing::warn;

use super::{Mount, RuntimeError, RuntimeResult};

fn io_err(context: impl Into<String>, source: std::io::Error) -> RuntimeError {
    RuntimeError::Io {
        context: context.into(),
        source,
    }
}

/// Splits mount options into flags (set, cleared), propagation flags and
/// filesystem data.
fn parse_options(options: &[String]) -> (MsFlags, MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut propagation = MsFlags::empty();
    let mut data = Vec::new();
    for o in options {
        let (set, clear) = match o.as_str() {
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "nostrictatime" => (MsFlags::empty(), MsFlags::MS_STRICTATIME),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                let base = match o.trim_start_matches('r') {
                    "private" => MsFlags::MS_PRIVATE,
                    "shared" => MsFlags::MS_SHARED,
                    "slave" => MsFlags::MS_SLAVE,
                    _ => MsFlags::MS_UNBINDABLE,
                };
                propagation = if o.starts_with('r') {
                    base | MsFlags::MS_REC
                } else {
                    base
                };
                continue;
            }
            _ => {
                data.push(o.as_str());
                continue;
            }
        };
        flags |= set;
        flags &= !clear;
    }
    (flags, propagation, data.join(","))
}

/// Mounts one containerd mount on `target`.
fn mount_one(m: &Mount, target: &Path) -> RuntimeResult<()> {
    let (flags, propagation, data) = parse_options(&m.options);
    let fail = |e: nix::Error| {
        io_err(
            format!("mount {} ({}) on {}", m.source, m.kind, target.display()),
            e.into(),
        )
    };
    let data_opt = (!data.is_empty()).then_some(data.as_str());
    if data.len() >= 4096 {
        return Err(io_err(
            format!("mount {} on {}", m.kind, target.display()),
            std::io::Error::other("mount options longer than a page are not supported"),
        ));
    }
    let fstype = (!flags.contains(MsFlags::MS_BIND)).then_some(m.kind.as_str());
    nix::mount::mount(Some(m.source.as_str()), target, fstype, flags, data_opt).map_err(fail)?;
    // The kernel ignores MS_RDONLY (and other per-mount flags) on the
    // initial bind; a remount applies them.
    if flags.contains(MsFlags::MS_BIND) && flags.intersects(MsFlags::MS_RDONLY) {
        let remount = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | (flags & !MsFlags::MS_REC);
        nix::mount::mount(None::<&str>, target, None::<&str>, remount, None::<&str>)
            .map_err(fail)?;
    }
    if !propagation.is_empty() {
        nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            propagation,
            None::<&str>,
        )
        .map_err(fail)?;
    }
    Ok(())
}

/// Unmounts everything under `dir` it mounted and removes the directory,
/// also when the caller's closure panicked.
struct MountGuard {
    dir: PathBuf,
    mounted: Vec<PathBuf>,
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        for target in self.mounted.drain(..).rev() {
            if let Err(e) = nix::mount::umount2(&target, MntFlags::empty()) {
                // Busy (e.g. a file still open): detach so the dir can go.
                warn!(target = %target.display(), error = %e, "unmount failed; detaching");
                let _ = nix::mount::umount2(&target, MntFlags::MNT_DETACH);
            }
        }
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            warn!(dir = %self.dir.display(), error = %e, "cannot remove temp mount dir");
        }
    }
}

fn unique_dir(base: &Path) -> RuntimeResult<PathBuf> {
    std::fs::create_dir_all(base).map_err(|e| io_err(format!("create {}", base.display()), e))?;
    for _ in 0..16 {
        let dir = base.join(format!("mnt-{:016x}", rand::random::<u64>()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(format!("create {}", dir.display()), e)),
        }
    }
    Err(io_err(
        format!("create temp dir in {}", base.display()),
        std::io::Error::other("no unique name"),
    ))
}

/// Mounts `mounts` (a snapshot's overlay/bind mounts, in order) on a fresh
/// directory under `base`, runs `f` on it in a blocking thread, then
/// unmounts and removes the directory, even if `f` panics.
///
/// Errors: `Io` when a mount fails (nothing stays mounted then). A panic in
/// `f` is re-raised after cleanup.
pub async fn with_mounted<T, F>(base: &Path, mounts: &[Mount], f: F) -> RuntimeResult<T>
where
    F: FnOnce(&Path) -> T + Send + 'static,
    T: Send + 'static,
{
    let base = base.to_owned();
    let mounts = mounts.to_vec();
    let joined = tokio::task::spawn_blocking(move || -> RuntimeResult<T> {
        let dir = unique_dir(&base)?;
        let mut guard = MountGuard {
            dir: dir.clone(),
            mounted: Vec::new(),
        };
        for m in &mounts {
            let target = if m.target.is_empty() {
                dir.clone()
            } else {
                dir.join(m.target.trim_start_matches('/'))
            };
            mount_one(m, &target)?;
            guard.mounted.push(target);
        }
        let out = f(&dir);
        drop(guard);
        Ok(out)
    })
    .await;
    match joined {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(io_err(
            "temp mount task",
            std::io::Error::other(e.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn options_split_into_flags_and_data() {
        let (f, p, d) = parse_options(&s(&[
            "index=off",
            "workdir=/w",
            "upperdir=/u",
            "lowerdir=/l1:/l2",
            "ro",
        ]));
        assert_eq!(f, MsFlags::MS_RDONLY);
        assert!(p.is_empty());
        assert_eq!(d, "index=off,workdir=/w,upperdir=/u,lowerdir=/l1:/l2");
        let (f, p, d) = parse_options(&s(&["rbind", "ro", "rw", "rprivate", "nosuid"]));
        assert_eq!(f, MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_NOSUID);
        assert_eq!(p, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert!(d.is_empty());
    }
}
