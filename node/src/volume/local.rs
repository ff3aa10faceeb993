//! The `local` driver's on-disk side: `<root>/<name>/_data` directories,
//! their sizes, and filling a new volume from the image (copy-up).

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `<root>/<name>/_data`, as dockerd lays it out.
pub fn mountpoint(root: &Path, name: &str) -> PathBuf {
    root.join(name).join("_data")
}

/// Whether `dir` has no entries (a missing dir counts as empty).
pub fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Bytes used by the files under `dir` (not following symlinks).
pub fn disk_usage(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

/// Copies the tree at `src` into the (empty) directory `dst`, keeping
/// modes, owners and symlinks, and gives `dst` the mode and owner of `src`
/// (dockerd's `copyExistingContents`). Blocking: run off the async threads.
pub fn copy_up(src: &Path, dst: &Path) -> io::Result<()> {
    let meta = src.symlink_metadata()?;
    if !meta.is_dir() {
        return Ok(());
    }
    copy_dir(src, dst)?;
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    Ok(())
}

fn copy_dir(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = from.symlink_metadata()?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_dir(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            // Device nodes, FIFOs and sockets are not volume content.
            continue;
        }
        if !ft.is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
        std::os::unix::fs::lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_up_keeps_tree_modes_and_links() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("sub/f"), b"data").unwrap();
        std::fs::set_permissions(
            src.path().join("sub/f"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::os::unix::fs::symlink("sub/f", src.path().join("link")).unwrap();
        let dst = tempfile::tempdir().unwrap();
        assert!(is_empty_dir(dst.path()));
        copy_up(src.path(), dst.path()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("sub/f")).unwrap(), b"data");
        let mode = std::fs::metadata(dst.path().join("sub/f")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert_eq!(
            std::fs::read_link(dst.path().join("link")).unwrap(),
            Path::new("sub/f")
        );
        assert!(disk_usage(dst.path()) > 0);
    }
}
