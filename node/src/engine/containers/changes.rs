//! `docker diff`: the container's changes against its image, read from the
//! overlay snapshot's upper directory (as moby's overlay2 driver does):
//! a whiteout (0:0 character device) is a deletion, an entry that exists
//! in a lower layer is a change, anything else an addition. Parent
//! directories of changes are reported as changed, like dockerd.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use shoal_api::models::{ChangeType, FilesystemChange};

use super::super::{Engine, EngineError, EngineResult};

fn exists_below(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| l.join(rel).symlink_metadata().is_ok())
}

/// Walks `upper`; returns `(path, kind)` with kind 0 changed, 1 added, 2 deleted.
fn walk(upper: &Path, lowers: &[PathBuf]) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(upper.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let child = rel.join(e.file_name());
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            let path = format!("/{}", child.display());
            let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
            if whiteout {
                out.push((path, 2));
                continue;
            }
            let kind = if exists_below(lowers, &child) { 0 } else { 1 };
            out.push((path, kind));
            // A new directory's content is all new; dockerd lists it too.
            if meta.is_dir() {
                stack.push(child);
            }
        }
    }
    out.sort();
    out
}

impl Engine {
    /// `GET /containers/{id}/changes`.
    pub async fn changes(&self, key: &str) -> EngineResult<Vec<FilesystemChange>> {
        let rec = self.lookup(key)?.snapshot();
        let mounts = self.runtime().snapshot_mounts(&rec.id).await?;
        let overlay = mounts.iter().find(|m| m.kind == "overlay").ok_or_else(|| {
            EngineError::Invalid("docker diff needs the overlayfs snapshotter".into())
        })?;
        let opt = |key: &str| {
            overlay
                .options
                .iter()
                .find_map(|o| o.strip_prefix(key))
                .map(str::to_owned)
        };
        let upper = opt("upperdir=")
            .map(PathBuf::from)
            .ok_or_else(|| EngineError::Invalid("container snapshot has no upper layer".into()))?;
        let lowers: Vec<PathBuf> = opt("lowerdir=")
            .unwrap_or_default()
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        let found = tokio::task::spawn_blocking(move || walk(&upper, &lowers))
            .await
            .map_err(|e| EngineError::Invalid(format!("diff task: {e}")))?;
        Ok(found
            .into_iter()
            .map(|(path, kind)| FilesystemChange {
                path,
                kind: match kind {
                    0 => ChangeType::_0,
                    1 => ChangeType::_1,
                    _ => ChangeType::_2,
                },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_added_changed_deleted() {
        let lower = tempfile::tempdir().unwrap();
        let upper = tempfile::tempdir().unwrap();
        std::fs::create_dir(lower.path().join("etc")).unwrap();
        std::fs::write(lower.path().join("etc/old"), b"").unwrap();
        std::fs::create_dir(upper.path().join("etc")).unwrap();
        std::fs::write(upper.path().join("etc/new"), b"").unwrap();
        nix::sys::stat::mknod(
            &upper.path().join("etc/old"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let got = walk(upper.path(), &[lower.path().to_path_buf()]);
        assert_eq!(
            got,
            vec![
                ("/etc".to_string(), 0),
                ("/etc/new".to_string(), 1),
                ("/etc/old".to_string(), 2)
            ]
        );
    }
}
