//! The `local` driver's mount options (`docker volume create -o type=…
//! -o device=… -o o=…`): checked at create with dockerd's rules, mounted
//! on the volume's `_data` while a container uses it, unmounted after.

use std::collections::HashMap;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use super::VolumeError;

/// The options the local driver knows (dockerd's `validOpts`).
const VALID: &[&str] = &["type", "device", "o", "size"];

/// dockerd's checks of local driver options, with its messages.
pub fn validate(opts: &HashMap<String, String>) -> Result<(), VolumeError> {
    let mut keys: Vec<&String> = opts.keys().collect();
    keys.sort();
    if let Some(k) = keys.iter().find(|k| !VALID.contains(&k.as_str())) {
        return Err(VolumeError::Invalid(format!("invalid option: {k:?}")));
    }
    if opts.contains_key("size") {
        return Err(VolumeError::Invalid(
            "quota size requested but no quota support".into(),
        ));
    }
    // Each option needs the others dockerd lists for it.
    for (opt, needs) in [
        ("device", &["type"][..]),
        ("type", &["device"][..]),
        ("o", &["device", "type"][..]),
    ] {
        if opts.contains_key(opt)
            && let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n))
        {
            return Err(VolumeError::Invalid(format!(
                "missing required option: {missing:?}"
            )));
        }
    }
    Ok(())
}

/// A mount the volume's options describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// `device`.
    pub device: String,
    /// `type` (`none` for a bind).
    pub fstype: String,
    /// Flags named in `o` (`bind`, `ro`, `nosuid`...).
    pub flags: MsFlags,
    /// The rest of `o`, handed to the filesystem (`size=10m,uid=1000`).
    pub data: String,
}

/// What `opts` mount, if anything (volumes without `type` are plain
/// directories).
pub fn mount_spec(opts: &HashMap<String, String>) -> Option<MountSpec> {
    let fstype = opts.get("type")?.clone();
    let device = opts.get("device").cloned().unwrap_or_default();
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for o in opts
        .get("o")
        .map(|s| s.split(','))
        .into_iter()
        .flatten()
        .filter(|o| !o.is_empty())
    {
        let (set, clear) = match o {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other.to_owned());
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    Some(MountSpec {
        device,
        fstype,
        flags,
        data: data.join(","),
    })
}

/// Whether something is mounted on `path` (this mount namespace).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.to_string_lossy();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape(mp) == want)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match octal {
            Some(v) if b[i] == b'\\' => {
                out.push(v);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts `spec` on `target`. Blocking (an NFS mount waits on the network).
pub fn mount(spec: &MountSpec, target: &Path) -> Result<(), VolumeError> {
    let data = (!spec.data.is_empty()).then_some(spec.data.as_str());
    let fstype = (spec.fstype != "none" || !spec.flags.contains(MsFlags::MS_BIND))
        .then_some(spec.fstype.as_str());
    // A read-only bind needs a second, remounting call.
    let ro_bind = spec.flags.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY);
    nix::mount::mount(Some(spec.device.as_str()), target, fstype, spec.flags, data)
        .map_err(|e| mount_err(spec, target, e))?;
    if ro_bind {
        nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            spec.flags | MsFlags::MS_REMOUNT,
            None::<&str>,
        )
        .map_err(|e| mount_err(spec, target, e))?;
    }
    Ok(())
}

fn mount_err(spec: &MountSpec, target: &Path, e: nix::Error) -> VolumeError {
    VolumeError::Io {
        context: format!(
            "error while mounting volume '{}': failed to mount local volume: mount {}:{}, flags: {:#x}, data: {}",
            target.display(),
            spec.device,
            target.display(),
            spec.flags.bits(),
            spec.data
        ),
        source: std::io::Error::from(e),
    }
}

/// Unmounts `target` (lazily: a process still inside keeps its view).
pub fn unmount(target: &Path) -> Result<(), VolumeError> {
    nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(|e| VolumeError::Io {
        context: format!("unmounting {}", target.display()),
        source: std::io::Error::from(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_checked_as_dockerd_does() {
        validate(&opts(&[])).unwrap();
        validate(&opts(&[("type", "tmpfs"), ("device", "tmpfs")])).unwrap();
        let e = |kv: &[(&str, &str)]| validate(&opts(kv)).unwrap_err().to_string();
        assert_eq!(e(&[("bogus", "1")]), r#"invalid option: "bogus""#);
        assert_eq!(
            e(&[("type", "nfs")]),
            r#"missing required option: "device""#
        );
        assert_eq!(e(&[("device", "/x")]), r#"missing required option: "type""#);
        assert_eq!(
            e(&[("o", "bind"), ("type", "none")]),
            r#"missing required option: "device""#
        );
        assert!(e(&[("size", "1g")]).contains("no quota support"));
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        assert_eq!(mount_spec(&opts(&[("device", "/x")])), None);
        let m = mount_spec(&opts(&[
            ("type", "tmpfs"),
            ("device", "tmpfs"),
            ("o", "size=10m,ro,uid=1000,nosuid"),
        ]))
        .unwrap();
        assert_eq!(m.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID);
        assert_eq!(m.data, "size=10m,uid=1000");
        let b = mount_spec(&opts(&[
            ("type", "none"),
            ("device", "/srv"),
            ("o", "bind"),
        ]))
        .unwrap();
        assert_eq!(b.flags, MsFlags::MS_BIND);
        assert_eq!(b.data, "");
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert!(is_mounted(Path::new("/proc")));
    }
}
