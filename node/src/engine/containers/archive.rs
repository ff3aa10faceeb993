//! `docker cp` (archive GET/HEAD/PUT) and `docker diff`.
//!
//! A running container is reached through `/proc/<pid>/root`, so its
//! volumes and binds are seen as the process sees them; a stopped one
//! through a temporary mount of its rootfs snapshot. Every path is resolved
//! inside that root with [`resolve_in_root`] (moby's
//! `FollowSymlinkInScope`): a symlink in the container, absolute or with
//! `..`, never leads to the host. Files are created with `O_NOFOLLOW` and
//! existing entries are unlinked, not written through.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use shoal_api::routers::archive::{PathStat, PutOptions};
use shoal_api::stream::ByteStream;
use tokio::sync::mpsc;

use crate::runtime::oci_spec::resolve_in_root;

use super::super::record::ContainerRecord;
use super::super::{Engine, EngineError, EngineResult};

/// Why a copy failed, before it becomes an [`EngineError`].
#[derive(Debug)]
enum CopyError {
    NotFound(String),
    Invalid(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for CopyError {
    fn from(e: std::io::Error) -> Self {
        CopyError::Io(e)
    }
}

fn not_found(path: &str, rec: &ContainerRecord) -> CopyError {
    CopyError::NotFound(format!(
        "Could not find the file {path} in container {}",
        rec.name
    ))
}

impl CopyError {
    fn into_engine(self) -> EngineError {
        match self {
            CopyError::NotFound(m) => EngineError::NotFoundOther(m),
            CopyError::Invalid(m) => EngineError::Invalid(m),
            CopyError::Io(e) => EngineError::Io {
                context: "copying files".into(),
                source: e,
            },
        }
    }
}

/// Go `os.FileMode` bits of `meta` (what the docker CLI decodes).
fn go_mode(meta: &std::fs::Metadata) -> u32 {
    let mut m = meta.mode() & 0o777;
    let ft = meta.file_type();
    if ft.is_dir() {
        m |= 1 << 31;
    } else if ft.is_symlink() {
        m |= 1 << 27;
    }
    let raw = meta.mode();
    if raw & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if raw & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if raw & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

/// The parent of `path` resolved in `root`, plus its base name unresolved
/// (so a symlink is reported, and archived, as itself).
fn locate(root: &Path, path: &str) -> std::io::Result<(PathBuf, String)> {
    let trimmed = path.trim_end_matches('/');
    let (parent, base) = match trimmed.rsplit_once('/') {
        Some((p, b)) => (p, b),
        None => ("", trimmed),
    };
    if base.is_empty() || base == "." {
        // "/" or "dir/.": the directory itself.
        let dir = resolve_in_root(root, trimmed)?;
        return Ok((dir, ".".to_owned()));
    }
    if base == ".." {
        let dir = resolve_in_root(root, trimmed)?;
        return Ok((dir, ".".to_owned()));
    }
    let parent = resolve_in_root(root, parent)?;
    Ok((parent.join(base), base.to_owned()))
}

fn stat_in(
    root: &Path,
    path: &str,
    rec: &ContainerRecord,
) -> Result<(PathStat, PathBuf), CopyError> {
    let (full, name) = locate(root, path)?;
    let meta = full.symlink_metadata().map_err(|_| not_found(path, rec))?;
    let link_target = if meta.file_type().is_symlink() {
        let target = resolve_in_root(root, path)?;
        let rel = target.strip_prefix(root).unwrap_or(&target);
        format!("/{}", rel.display())
    } else {
        String::new()
    };
    let mtime = meta
        .modified()
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let name = if name == "." {
        full.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".to_owned())
    } else {
        name
    };
    Ok((
        PathStat {
            name,
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            mode: go_mode(&meta),
            mtime,
            link_target,
        },
        full,
    ))
}

/// Sends what the tar builder writes to the HTTP body.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads the request body stream from a blocking thread.
struct StreamReader {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    buf: Bytes,
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// A tar entry's path as relative components, or `None` if it tries to
/// leave the extraction directory.
fn entry_components(p: &Path) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn remove_existing(path: &Path, is_dir_entry: bool, opts: &PutOptions) -> Result<(), CopyError> {
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(());
    };
    let is_dir = meta.is_dir();
    if is_dir && is_dir_entry {
        return Ok(());
    }
    if opts.no_overwrite_dir_non_dir && is_dir != is_dir_entry {
        return Err(CopyError::Invalid(format!(
            "cannot overwrite {} {} with a {}",
            if is_dir { "directory" } else { "non-directory" },
            path.display(),
            if is_dir_entry {
                "directory"
            } else {
                "non-directory"
            }
        )));
    }
    if is_dir {
        std::fs::remove_dir_all(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Extracts `tar` under `dest_rel` in `root`, one entry at a time, each
/// resolved inside `root` (blocking).
fn extract(
    root: &Path,
    dest_rel: &str,
    tar: impl Read,
    opts: &PutOptions,
) -> Result<(), CopyError> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let header = entry.header().clone();
        let Some(parts) = entry_components(&entry.path()?) else {
            continue;
        };
        let Some((name, dirs)) = parts.split_last() else {
            continue;
        };
        let parent_rel = format!("{dest_rel}/{}", dirs.join("/"));
        let parent = resolve_in_root(root, &parent_rel)?;
        std::fs::create_dir_all(&parent)?;
        let target = parent.join(name);
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        match kind {
            tar::EntryType::Directory => {
                remove_existing(&target, true, opts)?;
                if !target.is_dir() {
                    std::fs::create_dir(&target)?;
                }
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                remove_existing(&target, false, opts)?;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(mode)
                    .open(&target)?;
                std::io::copy(&mut entry, &mut f)?;
                f.set_permissions(std::fs::Permissions::from_mode(mode))?;
                if let Ok(mtime) = header.mtime() {
                    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
                    let _ = f.set_modified(t);
                }
            }
            tar::EntryType::Symlink => {
                remove_existing(&target, false, opts)?;
                let link = header
                    .link_name()?
                    .ok_or_else(|| CopyError::Invalid("symlink without a target".into()))?;
                std::os::unix::fs::symlink(link, &target)?;
            }
            tar::EntryType::Link => {
                remove_existing(&target, false, opts)?;
                let link = header
                    .link_name()?
                    .ok_or_else(|| CopyError::Invalid("hard link without a target".into()))?;
                let Some(lparts) = entry_components(&link) else {
                    continue;
                };
                let src = resolve_in_root(root, &format!("{dest_rel}/{}", lparts.join("/")))?;
                std::fs::hard_link(src, &target)?;
            }
            // Devices, FIFOs: not created by docker cp either.
            _ => continue,
        }
        let (uid, gid) = if opts.copy_uid_gid {
            (
                header.uid().ok().and_then(|u| u32::try_from(u).ok()),
                header.gid().ok().and_then(|g| u32::try_from(g).ok()),
            )
        } else {
            (Some(0), Some(0))
        };
        std::os::unix::fs::lchown(&target, uid, gid)?;
    }
    Ok(())
}

impl Engine {
    /// Runs `f` on the container's root: `/proc/<pid>/root` while it runs,
    /// else a temporary mount of its rootfs (blocking, off the async threads).
    async fn with_root<T, F>(&self, rec: &ContainerRecord, f: F) -> EngineResult<T>
    where
        F: FnOnce(&Path) -> T + Send + 'static,
        T: Send + 'static,
    {
        if rec.state.status.is_live() && rec.state.pid > 0 {
            let root = crate::runtime::oci_spec::proc_root(rec.state.pid);
            return tokio::task::spawn_blocking(move || f(&root))
                .await
                .map_err(|e| EngineError::Invalid(format!("copy task: {e}")));
        }
        let mounts = self.runtime().snapshot_mounts(&rec.id).await?;
        let base = self.cfg().exec_root.join("mnt");
        Ok(crate::runtime::mount::with_mounted(&base, &mounts, f).await?)
    }

    /// Runs `f` on container `key`'s root filesystem (mounted when it is
    /// not running), off the async threads: `docker build` writes COPY
    /// sources and WORKDIR directories with it.
    pub async fn with_container_root<T, F>(&self, key: &str, f: F) -> EngineResult<T>
    where
        F: FnOnce(&Path) -> T + Send + 'static,
        T: Send + 'static,
    {
        let rec = self.lookup(key)?.snapshot();
        self.with_root(&rec, f).await
    }

    /// `HEAD /containers/{id}/archive`.
    pub async fn archive_stat(&self, key: &str, path: &str) -> EngineResult<PathStat> {
        let rec = self.lookup(key)?.snapshot();
        let (path, r) = (path.to_owned(), rec.clone());
        self.with_root(&rec, move |root| stat_in(root, &path, &r).map(|(s, _)| s))
            .await?
            .map_err(CopyError::into_engine)
    }

    /// `GET /containers/{id}/archive`: the stat and a tar of the path.
    pub async fn archive_get(&self, key: &str, path: &str) -> EngineResult<(PathStat, ByteStream)> {
        let rec = self.lookup(key)?.snapshot();
        let stat = self.archive_stat(key, path).await?;
        let (tx, rx) = mpsc::channel(16);
        let engine = self.clone();
        let path = path.to_owned();
        let name = stat.name.clone();
        self.emit(&rec, "archive-path", &[]);
        tokio::spawn(async move {
            let err_tx = tx.clone();
            let r = rec.clone();
            let res = engine
                .with_root(&rec, move |root| -> Result<(), CopyError> {
                    let (_, full) = stat_in(root, &path, &r)?;
                    let w = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter { tx });
                    let mut b = tar::Builder::new(w);
                    b.follow_symlinks(false);
                    if full.symlink_metadata()?.is_dir() {
                        b.append_dir_all(&name, &full)?;
                    } else {
                        b.append_path_with_name(&full, &name)?;
                    }
                    b.into_inner()?
                        .into_inner()
                        .map_err(|e| CopyError::Io(e.into_error()))?;
                    Ok(())
                })
                .await;
            let err = match res {
                Ok(Ok(())) => None,
                Ok(Err(CopyError::Io(e))) => Some(e),
                Ok(Err(CopyError::NotFound(m) | CopyError::Invalid(m))) => {
                    Some(std::io::Error::other(m))
                }
                Err(e) => Some(std::io::Error::other(e.to_string())),
            };
            if let Some(e) = err {
                let _ = err_tx.send(Err(e)).await;
            }
        });
        Ok((
            stat,
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)),
        ))
    }

    /// `PUT /containers/{id}/archive`: extracts a tar into the directory
    /// `path`, which must exist.
    pub async fn archive_put(
        &self,
        key: &str,
        path: &str,
        mut body: ByteStream,
        opts: PutOptions,
    ) -> EngineResult<()> {
        let rec = self.lookup(key)?.snapshot();
        if rec.host_config.readonly_rootfs == Some(true) {
            return Err(EngineError::Invalid(
                "container rootfs is marked read-only".into(),
            ));
        }
        let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
        let feeder = tokio::spawn(async move {
            while let Some(chunk) = body.next().await {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        let (p, r) = (path.to_owned(), rec.clone());
        let res = self
            .with_root(&rec, move |root| -> Result<(), CopyError> {
                let dest = resolve_in_root(root, &p)?;
                match dest.symlink_metadata() {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        return Err(CopyError::Invalid(
                            "extraction point is not a directory".into(),
                        ));
                    }
                    Err(_) => return Err(not_found(&p, &r)),
                }
                let rel = dest
                    .strip_prefix(root)
                    .unwrap_or(Path::new(""))
                    .to_string_lossy()
                    .into_owned();
                extract(
                    root,
                    &format!("/{rel}"),
                    StreamReader {
                        rx,
                        buf: Bytes::new(),
                    },
                    &opts,
                )
            })
            .await;
        feeder.abort();
        res?.map_err(CopyError::into_engine)?;
        self.emit(&rec, "extract-to-dir", &[]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> ContainerRecord {
        serde_json::from_value(serde_json::json!({
            "id": "c", "name": "n", "created": "2026-01-01T00:00:00Z",
            "config": {}, "host_config": {}, "image_id": "i", "path": "sh", "args": [],
            "state": {"status": "created", "pid": 0, "exit_code": 0, "error": "",
                      "started_at": null, "finished_at": null, "oom_killed": false,
                      "manually_stopped": false},
            "restart_count": 0, "uid": 0, "gid": 0, "additional_gids": [],
            "network_mode": "bridge"
        }))
        .unwrap()
    }

    /// A symlink in the container pointing at a host directory (absolute or
    /// through `..`) is followed inside the container root only.
    #[test]
    fn extraction_stays_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let outside = host.path().to_string_lossy().into_owned();
        std::fs::create_dir(root.path().join("dst")).unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("dst/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", root.path().join("dst/up")).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        for name in ["abs/evil", "up/evil2", "../evil3", "ok/f"] {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses "..": write the name bytes directly.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &b"x"[..]).unwrap();
        }
        let tar = b.into_inner().unwrap();
        extract(root.path(), "/dst", &tar[..], &PutOptions::default()).unwrap();
        assert!(
            std::fs::read_dir(host.path()).unwrap().next().is_none(),
            "wrote outside the root"
        );
        assert_eq!(std::fs::read(root.path().join("dst/ok/f")).unwrap(), b"x");
        // The absolute link resolved inside the root.
        let inside = root
            .path()
            .join(outside.trim_start_matches('/'))
            .join("evil");
        assert!(inside.exists(), "{}", inside.display());
        let (stat, _) = stat_in(root.path(), "/dst/abs", &rec()).unwrap();
        assert_eq!(stat.mode & (1 << 27), 1 << 27);
        assert_eq!(stat.link_target, outside);
        assert!(matches!(
            stat_in(root.path(), "/nope", &rec()),
            Err(CopyError::NotFound(_))
        ));
    }
}
