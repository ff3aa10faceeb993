//! Paths inside a container's root filesystem, resolved the way securejoin does:
//! `..` and symlinks (absolute or relative) are evaluated as if `root` were `/`,
//! so no image content or request can make the daemon touch a host path outside it.

use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow (as Linux's MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// Why a path could not be resolved inside the root.
#[derive(Debug, thiserror::Error)]
pub enum RootPathError {
    /// A symlink loop or a chain longer than [`MAX_LINKS`].
    #[error("too many levels of symbolic links resolving {0}")]
    TooManyLinks(String),
    /// Reading a link failed.
    #[error("resolving {path}: {source}")]
    Io {
        /// The path asked for.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Joins `unsafe_path` onto `root` with every component resolved inside `root`.
/// Components that do not exist yet are kept as they are (for creating them).
pub fn secure_join(root: &Path, unsafe_path: &str) -> Result<PathBuf, RootPathError> {
    // The resolved part, relative to root, as plain names.
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    // What is left to walk, front first.
    let mut pending: Vec<std::ffi::OsString> = components(Path::new(unsafe_path));
    pending.reverse();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate: PathBuf = root.join(resolved.iter().collect::<PathBuf>()).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(RootPathError::TooManyLinks(unsafe_path.to_owned()));
                }
                let target =
                    std::fs::read_link(&candidate).map_err(|source| RootPathError::Io {
                        path: unsafe_path.to_owned(),
                        source,
                    })?;
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved.push(part),
        }
    }
    Ok(root.join(resolved.iter().collect::<PathBuf>()))
}

/// Normal components and `..` of `p` (root, `.` and prefixes dropped).
fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_and_symlinks_stay_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../..", r.join("a/up")).unwrap();
        std::os::unix::fs::symlink("loop2", r.join("loop1")).unwrap();
        std::os::unix::fs::symlink("loop1", r.join("loop2")).unwrap();
        assert_eq!(
            secure_join(r, "/../../../../tmp/x").unwrap(),
            r.join("tmp/x")
        );
        assert_eq!(secure_join(r, "/abs/passwd").unwrap(), r.join("etc/passwd"));
        assert_eq!(secure_join(r, "/a/up/tmp").unwrap(), r.join("tmp"));
        assert_eq!(secure_join(r, "a/b/../b/./c").unwrap(), r.join("a/b/c"));
        assert!(matches!(
            secure_join(r, "/loop1/x"),
            Err(RootPathError::TooManyLinks(_))
        ));
    }
}
