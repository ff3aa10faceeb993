//! `User`/`GroupAdd` resolution against the container's own `/etc/passwd`
//! and `/etc/group`, following runc's `libcontainer/user.GetExecUser` (which
//! dockerd uses), so the same strings succeed and fail the same way.

use std::path::{Path, PathBuf};

use super::SpecError;

/// One `/etc/passwd` entry (the fields we use).
#[derive(Debug)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

/// One `/etc/group` entry.
#[derive(Debug)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Follows `rel` inside `root`, resolving symlinks as if `root` were `/`
/// (absolute link targets restart at `root`, `..` never leaves it), like
/// moby's `FollowSymlinkInScope`. The result may not exist.
pub fn resolve_in_root(root: &Path, rel: &str) -> std::io::Result<PathBuf> {
    let mut pending: Vec<String> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .rev()
        .collect();
    let mut parts: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = pending.pop() {
        if c == ".." {
            parts.pop();
            continue;
        }
        let mut candidate = root.to_path_buf();
        candidate.extend(&parts);
        candidate.push(&c);
        match std::fs::read_link(&candidate) {
            Ok(target) => {
                links += 1;
                if links > 255 {
                    return Err(std::io::Error::other("too many levels of symbolic links"));
                }
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    parts.clear();
                }
                pending.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty() && *c != ".")
                        .map(str::to_owned)
                        .rev(),
                );
            }
            Err(_) => parts.push(c),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(&parts);
    Ok(out)
}

/// Reads a file inside the rootfs; `None` when it does not exist.
fn read_in_root(rootfs: &Path, rel: &str) -> Result<Option<String>, SpecError> {
    let path = resolve_in_root(rootfs, rel).map_err(|e| SpecError::Io {
        path: rootfs.join(rel.trim_start_matches('/')),
        source: e,
    })?;
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SpecError::Io { path, source: e }),
    }
}

fn entries(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    entries(text)
        .filter_map(|f| {
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    entries(text)
        .filter_map(|f| {
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves Docker's `User` (`""`, `name`, `uid`, `name:group`, `uid:gid`,
/// …) against `<rootfs>/etc/passwd` and `<rootfs>/etc/group`, returning
/// `(uid, gid, additional gids)`. Additional gids are the groups listing the
/// user as a member, only when no group was given explicitly (as in runc).
/// Numeric ids need no passwd entry, and missing files are fine for them.
///
/// Errors (Docker's wording): `unable to find user X: no matching entries
/// in passwd file`, `unable to find group X: no matching entries in group
/// file`; `Io` when the files exist but cannot be read.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<(u32, u32, Vec<u32>), SpecError> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, g),
        None => (user, ""),
    };
    let passwd = read_in_root(rootfs, "etc/passwd")?.map(|t| parse_passwd(&t));
    let uid_num: Option<u32> = user_arg.parse().ok();

    let (mut uid, mut gid) = (0u32, 0u32);
    let mut matched_name: Option<String> = None;
    let found = passwd.as_ref().and_then(|entries| {
        entries
            .iter()
            .find(|e| match (user_arg.is_empty(), uid_num) {
                (true, _) => e.uid == 0,
                (false, Some(n)) => e.uid == n,
                (false, None) => e.name == user_arg,
            })
    });
    if let Some(e) = found {
        uid = e.uid;
        gid = e.gid;
        matched_name = Some(e.name.clone());
    } else if !user_arg.is_empty() {
        match uid_num {
            Some(n) => uid = n,
            None => {
                return Err(SpecError::UserNotFound(format!(
                    "unable to find user {user_arg}: no matching entries in passwd file"
                )));
            }
        }
    }

    let mut additional = Vec::new();
    if !group_arg.is_empty() || matched_name.is_some() {
        let groups = read_in_root(rootfs, "etc/group")?
            .map(|t| parse_group(&t))
            .unwrap_or_default();
        if !group_arg.is_empty() {
            let gid_num: Option<u32> = group_arg.parse().ok();
            let hit = groups.iter().find(|g| match gid_num {
                Some(n) => g.gid == n,
                None => g.name == group_arg,
            });
            gid = match (hit, gid_num) {
                (Some(g), _) => g.gid,
                (None, Some(n)) => n,
                (None, None) => {
                    return Err(SpecError::UserNotFound(format!(
                        "unable to find group {group_arg}: no matching entries in group file"
                    )));
                }
            };
        } else if let Some(name) = &matched_name {
            additional = groups
                .iter()
                .filter(|g| g.members.iter().any(|m| m == name))
                .map(|g| g.gid)
                .collect();
        }
    }
    Ok((uid, gid, additional))
}

/// Resolves one `HostConfig.GroupAdd` entry (name or numeric gid).
///
/// Errors: `unable to find group X: no matching entries in group file`.
pub fn resolve_group(rootfs: &Path, group: &str) -> Result<u32, SpecError> {
    if let Ok(n) = group.parse() {
        return Ok(n);
    }
    let groups = read_in_root(rootfs, "etc/group")?
        .map(|t| parse_group(&t))
        .unwrap_or_default();
    groups
        .iter()
        .find(|g| g.name == group)
        .map(|g| g.gid)
        .ok_or_else(|| {
            SpecError::UserNotFound(format!(
                "unable to find group {group}: no matching entries in group file"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# comment\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
             nobody:x:65534:65534:nobody:/home:/bin/false\nweb:x:1000:1001::/home/web:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwheel:x:10:root\ndaemon:x:1:\nwww:x:1001:\nstaff:x:50:web,daemon\n\
             audio:x:29:web\nnogroup:x:65533:\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn empty_user_is_root_with_supplementary_groups() {
        let r = rootfs();
        assert_eq!(resolve_user(r.path(), "").unwrap(), (0, 0, vec![10]));
    }

    #[test]
    fn names_and_numbers() {
        let r = rootfs();
        assert_eq!(
            resolve_user(r.path(), "web").unwrap(),
            (1000, 1001, vec![50, 29])
        );
        assert_eq!(
            resolve_user(r.path(), "1000").unwrap(),
            (1000, 1001, vec![50, 29])
        );
        assert_eq!(
            resolve_user(r.path(), "nobody").unwrap(),
            (65534, 65534, vec![])
        );
        // Unknown numeric uid: allowed, gid stays 0.
        assert_eq!(resolve_user(r.path(), "4242").unwrap(), (4242, 0, vec![]));
    }

    #[test]
    fn explicit_group_drops_supplementary_groups() {
        let r = rootfs();
        assert_eq!(
            resolve_user(r.path(), "web:staff").unwrap(),
            (1000, 50, vec![])
        );
        assert_eq!(resolve_user(r.path(), "web:7").unwrap(), (1000, 7, vec![]));
        assert_eq!(resolve_user(r.path(), "5:6").unwrap(), (5, 6, vec![]));
        assert_eq!(
            resolve_user(r.path(), "daemon:wheel").unwrap(),
            (1, 10, vec![])
        );
    }

    #[test]
    fn unknown_names_fail_like_docker() {
        let r = rootfs();
        let e = resolve_user(r.path(), "ghost").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        let e = resolve_user(r.path(), "web:ghosts").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert_eq!(resolve_group(r.path(), "audio").unwrap(), 29);
        assert_eq!(resolve_group(r.path(), "123").unwrap(), 123);
        assert!(resolve_group(r.path(), "nope").is_err());
    }

    #[test]
    fn missing_files_allow_numeric_ids_only() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(resolve_user(empty.path(), "").unwrap(), (0, 0, vec![]));
        assert_eq!(resolve_user(empty.path(), "1:2").unwrap(), (1, 2, vec![]));
        assert_eq!(
            resolve_user(empty.path(), "web").unwrap_err().to_string(),
            "unable to find user web: no matching entries in passwd file"
        );
    }

    #[test]
    fn symlinks_stay_inside_the_rootfs() {
        let r = rootfs();
        std::os::unix::fs::symlink("/etc", r.path().join("etc2")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc/passwd", r.path().join("escape")).unwrap();
        assert_eq!(
            resolve_in_root(r.path(), "/etc2/passwd").unwrap(),
            r.path().join("etc/passwd")
        );
        assert_eq!(
            resolve_in_root(r.path(), "escape").unwrap(),
            r.path().join("etc/passwd")
        );
    }
}
