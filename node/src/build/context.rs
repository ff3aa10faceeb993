//! The build context: the request body (a tar, maybe gzip'd) unpacked into
//! a private directory, the Dockerfile read from it, and `.dockerignore`
//! applied (the CLI filters too; SDKs sending their own tar may not).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::ignore::Ignore;

/// Why the context is unusable (400-class: the client's input).
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The body is not a tar archive.
    #[error("the build context is not a valid tar archive: {0}")]
    BadArchive(String),
    /// The Dockerfile is missing.
    #[error("Cannot locate specified Dockerfile: {0}")]
    NoDockerfile(String),
    /// `.dockerignore` is malformed.
    #[error("{0}")]
    BadIgnore(String),
    /// Local I/O.
    #[error("build context: {0}")]
    Io(#[from] std::io::Error),
}

/// An unpacked context; its directory goes away on drop.
#[derive(Debug)]
pub struct Context {
    dir: tempfile::TempDir,
    /// The Dockerfile's text.
    pub dockerfile: String,
}

impl Context {
    /// The context root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Unpacks `archive` (a file holding the body) under `tmp` and reads
/// `dockerfile` from it. Blocking.
pub fn unpack(archive: &Path, tmp: &Path, dockerfile: &str) -> Result<Context, ContextError> {
    std::fs::create_dir_all(tmp)?;
    let dir = tempfile::Builder::new().prefix("build-").tempdir_in(tmp)?;
    let mut file = std::fs::File::open(archive)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = std::fs::File::open(archive)?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_permissions(true);
    tar.set_overwrite(true);
    tar.unpack(dir.path())
        .map_err(|e| ContextError::BadArchive(e.to_string()))?;
    let rel = dockerfile.trim_start_matches("./");
    let df_path = crate::engine::rootfs_path::secure_join(dir.path(), rel)
        .map_err(|e| ContextError::NoDockerfile(e.to_string()))?;
    let text = std::fs::read_to_string(&df_path)
        .map_err(|_| ContextError::NoDockerfile(format!("{rel}: no such file or directory")))?;
    let ignore_path = dir.path().join(".dockerignore");
    if let Ok(raw) = std::fs::read_to_string(&ignore_path) {
        let ig = Ignore::parse(&raw).map_err(ContextError::BadIgnore)?;
        prune(dir.path(), dir.path(), &ig)?;
    }
    Ok(Context {
        dir,
        dockerfile: text,
    })
}

/// Removes what `.dockerignore` excludes, as moby's daemon does for a
/// context that was not filtered by the client.
fn prune(root: &Path, dir: &Path, ig: &Ignore) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path: PathBuf = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let is_dir = entry.file_type()?.is_dir();
        if ig.excluded(&rel) {
            if is_dir && ig.has_exclusions() {
                // A `!` rule may re-include something below.
                prune(root, &path, ig)?;
                if std::fs::read_dir(&path)?.next().is_none() {
                    std::fs::remove_dir(&path)?;
                }
            } else if is_dir {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        } else if is_dir {
            prune(root, &path, ig)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_reads_dockerfile_and_applies_dockerignore() {
        let tmp = tempfile::tempdir().unwrap();
        let tar_path = tmp.path().join("ctx.tar");
        {
            let f = std::fs::File::create(&tar_path).unwrap();
            let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            let mut b = tar::Builder::new(gz);
            for (name, data) in [
                ("Dockerfile", "FROM scratch\n"),
                (".dockerignore", "*.log\nsecret/\n"),
                ("a.log", "x"),
                ("keep.txt", "k"),
                ("secret/key", "s"),
            ] {
                let mut h = tar::Header::new_gnu();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            }
            b.into_inner().unwrap().finish().unwrap();
        }
        let ctx = unpack(&tar_path, &tmp.path().join("t"), "Dockerfile").unwrap();
        assert_eq!(ctx.dockerfile, "FROM scratch\n");
        assert!(ctx.root().join("keep.txt").exists());
        assert!(!ctx.root().join("a.log").exists());
        assert!(!ctx.root().join("secret").exists());
        assert!(matches!(
            unpack(&tar_path, &tmp.path().join("t"), "Other"),
            Err(ContextError::NoDockerfile(_))
        ));
    }
}
