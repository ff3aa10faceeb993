//! Container mounts: Docker's defaults, `HostConfig.Binds`,
//! `HostConfig.Mounts` (bind/volume/tmpfs), `HostConfig.Tmpfs` and the
//! engine-managed network files, merged and ordered like moby's
//! `daemon/oci_linux.go` `WithMounts`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use shoal_api::models::{HostConfig, Mount as ApiMount, MountTypeEnum};

use super::SpecError;

/// Docker's default `/dev/shm` size (64 MiB).
pub const DEFAULT_SHM_SIZE: i64 = 64 * 1024 * 1024;

/// One OCI mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OciMount {
    pub destination: String,
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

impl OciMount {
    fn new(destination: &str, kind: &str, source: &str, options: &[&str]) -> Self {
        OciMount {
            destination: destination.to_owned(),
            kind: kind.to_owned(),
            source: source.to_owned(),
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "destination": self.destination,
            "type": self.kind,
            "source": self.source,
            "options": self.options,
        })
    }

    fn propagation(&self) -> Option<&str> {
        self.options.iter().map(String::as_str).find(|o| {
            matches!(
                *o,
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
            )
        })
    }
}

/// A bind mount the engine resolved itself (anonymous volumes, `VolumesFrom`,
/// secrets and configs later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Host path.
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// Docker's default mounts (moby `oci.DefaultLinuxSpec`); `/sys` and the
/// cgroup tree are writable only for privileged containers.
pub(super) fn default_mounts(privileged: bool, shm_size: i64) -> Vec<OciMount> {
    let sys_mode = if privileged { "rw" } else { "ro" };
    let shm = format!("size={shm_size}");
    vec![
        OciMount::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        OciMount::new(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        OciMount::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        OciMount::new(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", sys_mode],
        ),
        OciMount::new(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", sys_mode],
        ),
        OciMount::new(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        OciMount::new(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &shm],
        ),
    ]
}

fn invalid(msg: String) -> SpecError {
    SpecError::InvalidArgument(msg)
}

fn check_destination(dest: &str) -> Result<(), SpecError> {
    if !dest.starts_with('/') {
        return Err(invalid(format!(
            "invalid mount config: invalid mount path: '{dest}' mount path must be absolute"
        )));
    }
    if dest == "/" {
        return Err(invalid(
            "invalid specification: destination can't be '/'".into(),
        ));
    }
    Ok(())
}

fn bind(source: &str, dest: &str, read_only: bool, recursive: bool, prop: &str) -> OciMount {
    let mut options = vec![if recursive { "rbind" } else { "bind" }.to_owned()];
    options.push(prop.to_owned());
    if read_only {
        options.push("ro".to_owned());
    }
    OciMount {
        destination: dest.to_owned(),
        kind: "bind".to_owned(),
        source: source.to_owned(),
        options,
    }
}

fn volume_source(volumes: &HashMap<String, PathBuf>, name: &str) -> Result<String, SpecError> {
    volumes
        .get(name)
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| SpecError::NotFound(format!("no such volume: {name}")))
}

/// Parses one `HostConfig.Binds` entry: `src:dst[:mode[,mode]]`, where `src`
/// is an absolute host path or a volume name resolved through `volumes`.
pub(super) fn parse_bind(
    spec: &str,
    volumes: &HashMap<String, PathBuf>,
) -> Result<OciMount, SpecError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(invalid(format!("invalid volume specification: '{spec}'"))),
    };
    if src.is_empty() {
        return Err(invalid(format!("invalid volume specification: '{spec}'")));
    }
    check_destination(dst)?;
    let mut read_only = false;
    let mut prop = "rprivate";
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // SELinux relabel and volume copy flags: nothing to do without SELinux.
            "z" | "Z" | "nocopy" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => prop = m,
            _ => return Err(invalid(format!("invalid mode: {m}"))),
        }
    }
    let source = if src.starts_with('/') {
        src.to_owned()
    } else {
        volume_source(volumes, src)?
    };
    Ok(bind(&source, dst, read_only, true, prop))
}

/// Converts one `HostConfig.Mounts` entry (bind, volume or tmpfs).
pub(super) fn api_mount(
    m: &ApiMount,
    volumes: &HashMap<String, PathBuf>,
) -> Result<OciMount, SpecError> {
    let target = m.target.as_deref().unwrap_or_default();
    check_destination(target)?;
    let read_only = m.read_only.unwrap_or(false);
    match m.typ {
        Some(MountTypeEnum::BIND) => {
            let src = m.source.as_deref().unwrap_or_default();
            if !src.starts_with('/') {
                return Err(invalid(format!(
                    "invalid mount config for type \"bind\": invalid mount path: '{src}' mount path must be absolute"
                )));
            }
            let opts = m.bind_options.as_ref();
            let prop = opts
                .and_then(|o| o.propagation.as_ref())
                .map(|p| p.to_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rprivate".to_owned());
            let recursive = !opts.and_then(|o| o.non_recursive).unwrap_or(false);
            Ok(bind(src, target, read_only, recursive, &prop))
        }
        Some(MountTypeEnum::VOLUME) => {
            let name = m.source.as_deref().unwrap_or_default();
            let mut source = PathBuf::from(volume_source(volumes, name)?);
            let opts = m.volume_options.as_ref();
            if let Some(sub) = opts
                .and_then(|o| o.subpath.as_deref())
                .filter(|s| !s.is_empty())
            {
                // A relative path that stays inside the volume (dockerd
                // refuses `..` and absolute subpaths) and exists.
                let sub_path = Path::new(sub);
                if sub_path.is_absolute()
                    || sub_path
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(invalid(format!(
                        "invalid mount config: subpath must be a relative path within the volume: {sub}"
                    )));
                }
                let root = source.clone();
                source = source.join(sub_path);
                // A symlink inside the volume must not lead out of it.
                let inside = match (source.canonicalize(), root.canonicalize()) {
                    (Ok(real), Ok(root)) => real.starts_with(root),
                    _ => {
                        return Err(invalid(format!(
                            "cannot access path {}: no such file or directory",
                            source.display()
                        )));
                    }
                };
                if !inside {
                    return Err(invalid(format!(
                        "invalid mount config: subpath {sub} leads outside the volume"
                    )));
                }
            }
            Ok(bind(
                &source.to_string_lossy(),
                target,
                read_only,
                true,
                "rprivate",
            ))
        }
        Some(MountTypeEnum::TMPFS) => {
            let mut data = Vec::new();
            if let Some(t) = &m.tmpfs_options {
                if let Some(size) = t.size_bytes.filter(|s| *s > 0) {
                    data.push(format!("size={size}"));
                }
                if let Some(mode) = t.mode.filter(|m| *m > 0) {
                    data.push(format!("mode={mode:o}"));
                }
            }
            if read_only {
                data.push("ro".to_owned());
            }
            Ok(tmpfs(target, &data.join(",")))
        }
        ref other => Err(invalid(format!(
            "mount type {} is not supported",
            other.as_ref().map(|t| t.to_string()).unwrap_or_default()
        ))),
    }
}

/// A tmpfs like dockerd's: `noexec,nosuid,nodev` unless `data` overrides.
pub(super) fn tmpfs(dest: &str, data: &str) -> OciMount {
    let mut options: Vec<String> = vec!["noexec".into(), "nosuid".into(), "nodev".into()];
    for opt in data.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let opposite = match opt {
            "exec" => Some("noexec"),
            "suid" => Some("nosuid"),
            "dev" => Some("nodev"),
            _ => None,
        };
        if let Some(o) = opposite {
            options.retain(|x| x != o);
        }
        let key = opt.split('=').next().unwrap_or(opt);
        options.retain(|x| x.split('=').next() != Some(key) || !opt.contains('='));
        options.push(opt.to_owned());
    }
    OciMount {
        destination: dest.to_owned(),
        kind: "tmpfs".to_owned(),
        source: "tmpfs".to_owned(),
        options,
    }
}

fn depth(dest: &str) -> usize {
    Path::new(dest).components().count()
}

/// Every user-visible mount of the container: network files, `Binds`,
/// `Mounts`, `Tmpfs` and engine binds.
pub(super) fn user_mounts(
    hc: &HostConfig,
    network_files: &[(&str, Option<&Path>)],
    readonly_rootfs: bool,
    volumes: &HashMap<String, PathBuf>,
    extra: &[BindMount],
) -> Result<Vec<OciMount>, SpecError> {
    let mut out = Vec::new();
    for (dest, src) in network_files {
        if let Some(src) = src {
            // dockerd makes these read-only along with a read-only rootfs.
            out.push(bind(
                &src.to_string_lossy(),
                dest,
                readonly_rootfs,
                true,
                "rprivate",
            ));
        }
    }
    for b in hc.binds.iter().flatten() {
        out.push(parse_bind(b, volumes)?);
    }
    for m in hc.mounts.iter().flatten() {
        out.push(api_mount(m, volumes)?);
    }
    let mut tmpfs_dests: Vec<(&String, &String)> = hc.tmpfs.iter().flatten().collect();
    tmpfs_dests.sort();
    for (dest, data) in tmpfs_dests {
        check_destination(dest)?;
        out.push(tmpfs(dest, data));
    }
    for b in extra {
        check_destination(&b.destination)?;
        out.push(bind(
            &b.source.to_string_lossy(),
            &b.destination,
            b.read_only,
            true,
            "rprivate",
        ));
    }
    // A later mount on the same destination replaces an earlier one (user
    // binds win over the engine's /etc/hosts etc.).
    let mut seen = HashSet::new();
    let mut deduped: Vec<OciMount> = out
        .into_iter()
        .rev()
        .filter(|m| seen.insert(m.destination.trim_end_matches('/').to_owned()))
        .collect();
    deduped.reverse();
    Ok(deduped)
}

/// Defaults first (minus those a user mount replaces; a user `/dev` drops
/// every default under `/dev`), then user mounts ordered parents-first.
/// Also returns the rootfs propagation shared/slave binds need.
pub(super) fn merge(
    defaults: Vec<OciMount>,
    mut user: Vec<OciMount>,
) -> (Vec<OciMount>, Option<&'static str>) {
    let dests: HashSet<String> = user
        .iter()
        .map(|m| m.destination.trim_end_matches('/').to_owned())
        .collect();
    let user_dev = dests.contains("/dev");
    let mut all: Vec<OciMount> = defaults
        .into_iter()
        .filter(|m| !dests.contains(&m.destination))
        .filter(|m| !(user_dev && m.destination.starts_with("/dev/")))
        .collect();
    user.sort_by_key(|m| depth(&m.destination));
    let propagation = if user
        .iter()
        .any(|m| matches!(m.propagation(), Some("shared" | "rshared")))
    {
        Some("rshared")
    } else if user
        .iter()
        .any(|m| matches!(m.propagation(), Some("slave" | "rslave")))
    {
        Some("rslave")
    } else {
        None
    };
    all.extend(user);
    (all, propagation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_api::models::{MountBindOptions, MountTmpfsOptions};

    fn no_volumes() -> HashMap<String, PathBuf> {
        HashMap::new()
    }

    #[test]
    fn binds_parse_modes() {
        let m = parse_bind("/host:/ctr", &no_volumes()).unwrap();
        assert_eq!(m, bind("/host", "/ctr", false, true, "rprivate"));
        let m = parse_bind("/host:/ctr:ro,z", &no_volumes()).unwrap();
        assert_eq!(m.options, vec!["rbind", "rprivate", "ro"]);
        let m = parse_bind("/host:/ctr:rshared", &no_volumes()).unwrap();
        assert_eq!(m.options, vec!["rbind", "rshared"]);
    }

    #[test]
    fn binds_reject_bad_specs() {
        for bad in ["/only", "/a:rel", "/a:/b:bogus", ":/b", "/a:/"] {
            assert!(parse_bind(bad, &no_volumes()).is_err(), "{bad}");
        }
        let e = parse_bind("/a:/b:bogus", &no_volumes()).unwrap_err();
        assert_eq!(e.to_string(), "invalid mode: bogus");
    }

    #[test]
    fn named_volumes_resolve_through_the_map() {
        let mut vols = HashMap::new();
        vols.insert(
            "data".to_string(),
            PathBuf::from("/var/lib/shoal/volumes/data/_data"),
        );
        let m = parse_bind("data:/data:ro", &vols).unwrap();
        assert_eq!(m.source, "/var/lib/shoal/volumes/data/_data");
        assert!(matches!(
            parse_bind("other:/x", &vols),
            Err(SpecError::NotFound(_))
        ));
    }

    #[test]
    fn api_mounts() {
        let m = ApiMount {
            typ: Some(MountTypeEnum::BIND),
            source: Some("/src".into()),
            target: Some("/dst".into()),
            read_only: Some(true),
            bind_options: Some(MountBindOptions {
                non_recursive: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            api_mount(&m, &no_volumes()).unwrap().options,
            vec!["bind", "rprivate", "ro"]
        );
        let t = ApiMount {
            typ: Some(MountTypeEnum::TMPFS),
            target: Some("/run".into()),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: Some(1024),
                mode: Some(0o700),
                ..Default::default()
            }),
            ..Default::default()
        };
        let t = api_mount(&t, &no_volumes()).unwrap();
        assert_eq!(t.kind, "tmpfs");
        assert_eq!(
            t.options,
            vec!["noexec", "nosuid", "nodev", "size=1024", "mode=700"]
        );
        let rel = ApiMount {
            typ: Some(MountTypeEnum::BIND),
            source: Some("rel".into()),
            target: Some("/x".into()),
            ..Default::default()
        };
        assert!(api_mount(&rel, &no_volumes()).is_err());
    }

    #[test]
    fn tmpfs_options_override_defaults() {
        let t = tmpfs("/tmp", "exec,size=64m");
        assert_eq!(t.options, vec!["nosuid", "nodev", "exec", "size=64m"]);
    }

    #[test]
    fn merge_replaces_defaults_and_orders_parents_first() {
        let user = vec![
            bind("/a", "/data/sub", false, true, "rprivate"),
            bind("/b", "/data", false, true, "rslave"),
            bind("/c", "/dev/shm", false, true, "rprivate"),
        ];
        let (all, prop) = merge(default_mounts(false, DEFAULT_SHM_SIZE), user);
        let dests: Vec<&str> = all.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(
            dests,
            vec![
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/data",
                "/data/sub",
                "/dev/shm"
            ]
        );
        assert_eq!(all[8].kind, "bind");
        assert_eq!(prop, Some("rslave"));
    }

    #[test]
    fn user_dev_mount_drops_dev_defaults() {
        let (all, _) = merge(
            default_mounts(false, DEFAULT_SHM_SIZE),
            vec![bind("/dev", "/dev", false, true, "rprivate")],
        );
        assert!(all.iter().all(|m| !m.destination.starts_with("/dev/")));
    }

    #[test]
    fn later_user_mount_wins_on_same_destination() {
        let hc = HostConfig {
            binds: Some(vec!["/mine:/etc/hosts:ro".into()]),
            ..Default::default()
        };
        let files = [("/etc/hosts", Some(Path::new("/run/shoal/c1/hosts")))];
        let ms = user_mounts(&hc, &files, false, &no_volumes(), &[]).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].source, "/mine");
    }
}
