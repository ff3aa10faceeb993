//! COPY and ADD: sources from the context (or, with `--from`, from a
//! stage's or an image's rootfs, staged into a private directory first),
//! hashed for the cache key as dockerd does (`COPY file:<sha256> in /dst`),
//! then written into a step container's rootfs and committed.
//!
//! Paths are resolved inside their root (symlinks included), so neither a
//! context nor an image can make the daemon read or write a host path;
//! wildcards are honoured in the last path element.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::dockerfile::{Instruction, words};
use super::state::Stage;
use super::{BuildError, Builder};
use crate::engine::rootfs_path::secure_join;

/// What one COPY/ADD does, resolved.
#[derive(Debug, Clone)]
struct Plan {
    /// Source paths (absolute, inside `root`), with the name each had in
    /// the instruction's directory.
    sources: Vec<PathBuf>,
    /// The destination as written, made absolute.
    dest: String,
    /// Destination is a directory (ends in `/`, or several sources).
    dest_is_dir: bool,
    /// `--chown` as given.
    chown: Option<String>,
    /// ADD: extract local tar archives.
    extract: bool,
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Resolves the source patterns inside `root`. Blocking.
fn resolve_sources(root: &Path, srcs: &[String], name: &str) -> Result<Vec<PathBuf>, BuildError> {
    let mut out = Vec::new();
    for s in srcs {
        let rel = s.trim_start_matches('/');
        let (dir, last) = match rel.rsplit_once('/') {
            Some((d, l)) => (d, l),
            None => ("", rel),
        };
        if has_meta(dir) {
            return Err(BuildError::Invalid(format!(
                "{name} {s}: Shoal's builder takes wildcards in the last path element only"
            )));
        }
        let base = secure_join(root, dir).map_err(|e| BuildError::Invalid(e.to_string()))?;
        if has_meta(last) {
            let pat = glob::Pattern::new(last)
                .map_err(|e| BuildError::Invalid(format!("{name} {s}: {e}")))?;
            let mut hits: Vec<PathBuf> = std::fs::read_dir(&base)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| pat.matches(&e.file_name().to_string_lossy()))
                        .map(|e| e.path())
                        .collect()
                })
                .unwrap_or_default();
            hits.sort();
            out.extend(hits);
        } else {
            let p = secure_join(root, rel).map_err(|e| BuildError::Invalid(e.to_string()))?;
            if std::fs::symlink_metadata(&p).is_err() {
                return Err(BuildError::Invalid(format!(
                    "{name} failed: file not found in build context or excluded by .dockerignore: stat {s}: file does not exist"
                )));
            }
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(BuildError::Invalid(format!(
            "{name} failed: no source files were specified"
        )));
    }
    Ok(out)
}

/// The content hash of the sources: names, types, modes and bytes.
fn hash_sources(sources: &[PathBuf]) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for s in sources {
        let name = s
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        hash_tree(&mut h, s, &name)?;
    }
    Ok(hex::encode(h.finalize()))
}

fn hash_tree(h: &mut Sha256, path: &Path, rel: &str) -> std::io::Result<()> {
    let md = std::fs::symlink_metadata(path)?;
    h.update(rel.as_bytes());
    h.update([0]);
    h.update(md.mode().to_le_bytes());
    if md.file_type().is_symlink() {
        h.update(b"L");
        h.update(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
    } else if md.is_dir() {
        h.update(b"D");
        let mut names: Vec<_> = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let child = format!("{rel}/{}", n.to_string_lossy());
            hash_tree(h, &path.join(&n), &child)?;
        }
    } else {
        h.update(b"F");
        h.update(md.len().to_le_bytes());
        let mut f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    h.update([0xff]);
    Ok(())
}

/// `user[:group]` → uid/gid, names looked up in the image's passwd/group.
fn parse_chown(root: &Path, spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let read = |f: &str| {
        secure_join(root, f)
            .ok()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    let lookup = |db: &str, name: &str| -> Option<(u32, u32)> {
        db.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.first() == Some(&name) && f.len() > 3 {
                Some((f[2].parse().ok()?, f[3].parse().unwrap_or(0)))
            } else if f.first() == Some(&name) && f.len() > 2 {
                Some((f[2].parse().ok()?, 0))
            } else {
                None
            }
        })
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => lookup(&read("/etc/passwd"), user).ok_or_else(|| {
            format!("unable to find user {user}: no matching entries in passwd file")
        })?,
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(&read("/etc/group"), g)
                .map(|(id, _)| id)
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        },
    };
    Ok((uid, gid))
}

/// Whether `path` is a tar (plain or gzip) that ADD extracts.
fn archive_reader(path: &Path) -> Option<Box<dyn Read>> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = vec![0u8; 512];
    let n = f.read(&mut head).ok()?;
    head.truncate(n);
    let f = std::fs::File::open(path).ok()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Some(Box::new(flate2::read::GzDecoder::new(f)));
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Some(Box::new(f));
    }
    None
}

/// Copies one source into the container root. Blocking.
fn apply(root: &Path, plan: &Plan, owner: (u32, u32)) -> std::io::Result<()> {
    let target = |p: &str| secure_join(root, p).map_err(|e| std::io::Error::other(e.to_string()));
    let dest_dir_exists = target(&plan.dest)?.is_dir();
    for src in &plan.sources {
        let md = std::fs::metadata(src)?;
        if md.is_dir() {
            let d = target(&plan.dest)?;
            make_dirs(&d, owner)?;
            copy_tree(root, src, &plan.dest, owner)?;
            continue;
        }
        if plan.extract
            && let Some(reader) = archive_reader(src)
        {
            let d = target(&plan.dest)?;
            make_dirs(&d, owner)?;
            let mut ar = tar::Archive::new(reader);
            ar.set_preserve_permissions(true);
            ar.set_preserve_ownerships(true);
            ar.set_overwrite(true);
            ar.unpack(&d)?;
            continue;
        }
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = if plan.dest_is_dir || dest_dir_exists {
            format!("{}/{name}", plan.dest.trim_end_matches('/'))
        } else {
            plan.dest.clone()
        };
        let d = target(&dest)?;
        if let Some(parent) = d.parent() {
            make_dirs(parent, owner)?;
        }
        copy_file(src, &d, owner)?;
    }
    Ok(())
}

fn make_dirs(d: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    if d.is_dir() {
        return Ok(());
    }
    if let Some(p) = d.parent() {
        make_dirs(p, owner)?;
    }
    std::fs::create_dir(d)?;
    std::os::unix::fs::lchown(d, Some(owner.0), Some(owner.1))?;
    Ok(())
}

fn copy_file(src: &Path, dst: &Path, owner: (u32, u32)) -> std::io::Result<()> {
    let md = std::fs::symlink_metadata(src)?;
    if dst.symlink_metadata().is_ok() && !dst.is_dir() {
        std::fs::remove_file(dst)?;
    }
    if md.file_type().is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)?;
    } else {
        std::fs::copy(src, dst)?;
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        if let Ok(m) = md.modified() {
            let f = std::fs::OpenOptions::new().write(true).open(dst)?;
            f.set_modified(m)?;
        }
    }
    std::os::unix::fs::lchown(dst, Some(owner.0), Some(owner.1))
}

/// Copies the contents of directory `src` into `dest` (a path in the root).
fn copy_tree(root: &Path, src: &Path, dest: &str, owner: (u32, u32)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_dest = format!("{}/{name}", dest.trim_end_matches('/'));
        let d = secure_join(root, &child_dest).map_err(|e| std::io::Error::other(e.to_string()))?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            if !d.is_dir() {
                std::fs::create_dir(&d)?;
            }
            let mode = entry.metadata()?.mode() & 0o7777;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode))?;
            std::os::unix::fs::lchown(&d, Some(owner.0), Some(owner.1))?;
            copy_tree(root, &entry.path(), &child_dest, owner)?;
        } else {
            copy_file(&entry.path(), &d, owner)?;
        }
    }
    Ok(())
}

/// Copies `paths` (inside `root`) into `staging`, keeping each one's name.
fn stage_out(
    root: &Path,
    srcs: &[String],
    staging: &Path,
    name: &str,
) -> Result<Vec<PathBuf>, BuildError> {
    let found = resolve_sources(root, srcs, name)?;
    let mut out = Vec::new();
    for (n, p) in found.iter().enumerate() {
        let fname = p
            .file_name()
            .map(|f| f.to_os_string())
            .unwrap_or_else(|| "root".into());
        let slot = staging.join(n.to_string());
        std::fs::create_dir_all(&slot).map_err(super::io("staging --from sources"))?;
        let dst = slot.join(&fname);
        let res = if std::fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false) {
            std::fs::create_dir(&dst).and_then(|_| copy_plain_tree(p, &dst))
        } else {
            std::fs::copy(p, &dst).map(|_| ())
        };
        res.map_err(super::io("staging --from sources"))?;
        out.push(dst);
    }
    Ok(out)
}

fn copy_plain_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dst.join(entry.file_name());
        let ft = entry.file_type()?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &to)?;
        } else if ft.is_dir() {
            std::fs::create_dir(&to)?;
            std::fs::set_permissions(&to, entry.metadata()?.permissions())?;
            copy_plain_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

impl Builder {
    /// `COPY [--from=x] [--chown=u:g] src... dest`, `ADD [--chown] src... dest`.
    pub(super) async fn copy_step(
        &mut self,
        stage: &mut Stage,
        i: &Instruction,
    ) -> Result<(), BuildError> {
        let name = i.name.to_uppercase();
        for (k, _) in &i.flags {
            match (i.name.as_str(), k.as_str()) {
                ("copy", "from") | (_, "chown") => {}
                (_, "chmod") | (_, "link") | ("add", "checksum") | ("add", "keep-git-dir") => {
                    return Err(BuildError::Invalid(format!(
                        "the --{k} option requires BuildKit"
                    )));
                }
                _ => return Err(BuildError::Invalid(format!("{name} Unknown flag: {k}"))),
            }
        }
        let args = match &i.json {
            Some(v) => v
                .iter()
                .map(|w| words::expand(w, self.escape, &|n| stage.lookup(n)))
                .collect::<Result<Vec<_>, _>>(),
            None => words::expand_all(&i.args, self.escape, &|n| stage.lookup(n)),
        }
        .map_err(|e| BuildError::Invalid(format!("{name} {e}")))?;
        if args.len() < 2 {
            return Err(BuildError::Invalid(format!(
                "{name} requires at least two arguments, but only one was provided. Destination could not be determined."
            )));
        }
        let (srcs, dest) = args.split_at(args.len() - 1);
        let srcs = srcs.to_vec();
        if let Some(url) = srcs
            .iter()
            .find(|s| s.starts_with("http://") || s.starts_with("https://"))
        {
            return Err(BuildError::Invalid(format!(
                "{name} {url}: Shoal's builder does not fetch URLs (the daemon has no network access for builds); download the file into the context and COPY it"
            )));
        }
        let mut dest = dest[0].clone();
        if !dest.starts_with('/') {
            dest = format!("{}/{dest}", stage.workdir().trim_end_matches('/'));
        }
        let chown = i.flag("chown").map(|c| {
            words::expand(c, self.escape, &|n| stage.lookup(n)).unwrap_or_else(|_| c.to_owned())
        });
        // Sources: the context, or a staged copy out of another rootfs.
        let staging = tempfile::Builder::new()
            .prefix("build-from-")
            .tempdir_in(&self.tmp)
            .map_err(super::io("staging --from sources"))?;
        let sources = match i.flag("from") {
            Some(from) => {
                let from = words::expand(from, self.escape, &|n| stage.lookup(n))
                    .map_err(|e| BuildError::Invalid(format!("{name} {e}")))?;
                self.stage_from(&from, &srcs, staging.path(), &name).await?
            }
            None => {
                let root = self.context.root().to_owned();
                let (s, n) = (srcs.clone(), name.clone());
                tokio::task::spawn_blocking(move || resolve_sources(&root, &s, &n))
                    .await
                    .map_err(|e| BuildError::Invalid(format!("{name}: {e}")))??
            }
        };
        let dest_is_dir = dest.ends_with('/') || sources.len() > 1;
        if sources.len() > 1 && !dest.ends_with('/') {
            return Err(BuildError::Invalid(format!(
                "When using {name} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let s2 = sources.clone();
        let hash = tokio::task::spawn_blocking(move || hash_sources(&s2))
            .await
            .map_err(|e| BuildError::Invalid(format!("{name}: {e}")))?
            .map_err(super::io("hashing sources"))?;
        let kind = if sources.len() > 1 {
            "multi"
        } else if sources[0].is_dir() {
            "dir"
        } else {
            "file"
        };
        let chown_text = chown
            .as_ref()
            .map(|c| format!("--chown={c} "))
            .unwrap_or_default();
        let key = format!(
            "{} #(nop) {name} {chown_text}{kind}:{hash} in {dest} ",
            stage.shell().join(" ")
        );
        if let Some(id) = self.cached(stage, &key) {
            self.use_cache(stage, id).await;
            return Ok(());
        }
        let plan = Plan {
            sources,
            dest,
            dest_is_dir,
            chown,
            extract: i.name == "add",
        };
        let cid = self
            .step_container(stage, vec![format!("#(nop) {name}")], stage.env())
            .await?;
        let res = self
            .engine
            .with_container_root(&cid, move |root| -> Result<(), BuildError> {
                let owner = match &plan.chown {
                    Some(c) => parse_chown(root, c).map_err(BuildError::Invalid)?,
                    None => (0, 0),
                };
                apply(root, &plan, owner).map_err(super::io("copying into the image"))
            })
            .await;
        drop(staging);
        let res = match res {
            Ok(r) => r,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = res {
            let _ = self.engine.remove(&cid, true, true).await;
            return Err(e);
        }
        self.commit_container(stage, &cid, &key, true, false).await
    }

    /// Copies `srcs` out of stage or image `from` into `staging`.
    async fn stage_from(
        &mut self,
        from: &str,
        srcs: &[String],
        staging: &Path,
        name: &str,
    ) -> Result<Vec<PathBuf>, BuildError> {
        let lower = from.to_ascii_lowercase();
        let by_name = self
            .done
            .iter()
            .find(|d| d.name.as_deref() == Some(lower.as_str()));
        let by_index = lower.parse::<usize>().ok().and_then(|n| self.done.get(n));
        let image = match by_name.or(by_index) {
            Some(d) => d.image.clone(),
            None => {
                if lower.parse::<usize>().is_ok() {
                    return Err(BuildError::Invalid(format!(
                        "invalid from flag value {from}: refers to current build stage or a stage that does not exist"
                    )));
                }
                let auth = None;
                Some(self.engine.ensure_image(from, auth, None, false).await?)
            }
        };
        let Some(image) = image else {
            // A scratch stage with no layer has no files.
            return Err(BuildError::Invalid(format!(
                "{name} failed: file not found in build context or excluded by .dockerignore: stat {}: file does not exist",
                srcs.first().map(String::as_str).unwrap_or("")
            )));
        };
        let mut tmp_stage = Stage::new(None, Some(image), serde_json::Map::new());
        let cid = self
            .step_container(
                &mut tmp_stage,
                vec![format!("#(nop) {name} --from")],
                Vec::new(),
            )
            .await?;
        let (s, st, n) = (srcs.to_vec(), staging.to_owned(), name.to_owned());
        let res = self
            .engine
            .with_container_root(&cid, move |root| stage_out(root, &s, &st, &n))
            .await;
        let _ = self.engine.remove(&cid, true, true).await;
        res?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_resolve_globs_and_stay_in_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir(r.join("d")).unwrap();
        std::fs::write(r.join("d/a.txt"), "a").unwrap();
        std::fs::write(r.join("d/b.txt"), "b").unwrap();
        std::fs::write(r.join("d/c.md"), "c").unwrap();
        std::os::unix::fs::symlink("/etc", r.join("escape")).unwrap();
        let got = resolve_sources(r, &["d/*.txt".into()], "COPY").unwrap();
        assert_eq!(got.len(), 2);
        assert!(resolve_sources(r, &["nope".into()], "COPY").is_err());
        assert!(resolve_sources(r, &["d/*.none".into()], "COPY").is_err());
        assert!(resolve_sources(r, &["*/a.txt".into()], "COPY").is_err());
        // A symlink to /etc resolves inside the root, where no passwd is.
        assert!(resolve_sources(r, &["escape/passwd".into()], "COPY").is_err());
    }

    #[test]
    fn hash_changes_with_content() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        std::fs::write(&f, "one").unwrap();
        let a = hash_sources(std::slice::from_ref(&f)).unwrap();
        assert_eq!(a, hash_sources(std::slice::from_ref(&f)).unwrap());
        std::fs::write(&f, "two").unwrap();
        assert_ne!(a, hash_sources(&[f]).unwrap());
    }

    #[test]
    fn chown_names_from_the_image() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::fs::write(
            t.path().join("etc/passwd"),
            "root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(t.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(parse_chown(t.path(), "app"), Ok((1000, 1001)));
        assert_eq!(parse_chown(t.path(), "app:staff"), Ok((1000, 50)));
        assert_eq!(parse_chown(t.path(), "7:8"), Ok((7, 8)));
        assert_eq!(parse_chown(t.path(), "9"), Ok((9, 9)));
        assert!(parse_chown(t.path(), "ghost").is_err());
    }
}
