//! Device nodes: `HostConfig.Devices` (`--device`) and every host device
//! for `--privileged`, as moby's `oci/devices_linux.go` does. Reading
//! `/dev` is I/O, so the engine calls these and passes the result in
//! `SpecInput::devices`.

use std::path::Path;

use nix::sys::stat::{SFlag, major, minor};
use serde_json::{Value, json};
use shoal_api::models::DeviceMapping;

use super::SpecError;

/// A device node to create inside the container, with the cgroup
/// permissions (`r`, `w`, `m`) it is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Path inside the container.
    pub path: String,
    /// `c` (character) or `b` (block).
    pub kind: char,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits of the node.
    pub file_mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// cgroup access, e.g. `rwm`.
    pub permissions: String,
}

impl DeviceNode {
    pub(super) fn node_json(&self) -> Value {
        json!({
            "path": self.path,
            "type": self.kind.to_string(),
            "major": self.major,
            "minor": self.minor,
            "fileMode": self.file_mode,
            "uid": self.uid,
            "gid": self.gid,
        })
    }

    pub(super) fn rule_json(&self) -> Value {
        json!({
            "allow": true,
            "type": self.kind.to_string(),
            "major": self.major,
            "minor": self.minor,
            "access": self.permissions,
        })
    }
}

/// Stats one host device node; `Ok(None)` for anything that is not a
/// character or block device.
fn stat_device(
    host: &Path,
    in_container: &str,
    perms: &str,
) -> Result<Option<DeviceNode>, SpecError> {
    let st = nix::sys::stat::stat(host).map_err(|e| SpecError::Io {
        path: host.to_owned(),
        source: e.into(),
    })?;
    let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    let kind = if fmt == SFlag::S_IFCHR {
        'c'
    } else if fmt == SFlag::S_IFBLK {
        'b'
    } else {
        return Ok(None);
    };
    Ok(Some(DeviceNode {
        path: in_container.to_owned(),
        kind,
        major: major(st.st_rdev),
        minor: minor(st.st_rdev),
        file_mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        permissions: perms.to_owned(),
    }))
}

/// Every device under `dir`, recursively, mapped to `prefix` inside the
/// container. Skips the directories Docker skips.
fn devices_under(dir: &Path, prefix: &str, perms: &str, out: &mut Vec<DeviceNode>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(ft) = e.file_type() else { continue };
        let inside = format!("{}/{name}", prefix.trim_end_matches('/'));
        if ft.is_dir() {
            if matches!(
                name.as_str(),
                "pts" | "shm" | "fd" | "mqueue" | ".lxc" | ".lxd-mounts" | ".udev"
            ) {
                continue;
            }
            devices_under(&e.path(), &inside, perms, out);
        } else if ft.is_symlink() || name == "console" {
            continue;
        } else if let Ok(Some(d)) = stat_device(&e.path(), &inside, perms) {
            out.push(d);
        }
    }
}

/// Every host device for a `--privileged` container.
pub fn host_devices() -> Vec<DeviceNode> {
    let mut out = Vec::new();
    devices_under(Path::new("/dev"), "/dev", "rwm", &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Resolves `HostConfig.Devices` (`--device host[:container[:perms]]`);
/// a directory maps every device below it.
///
/// Errors (Docker's wording): `error gathering device information while
/// adding custom device "X": …` when the host path cannot be read, and
/// `invalid device mode` for permissions other than `r`/`w`/`m`.
pub fn device_mappings(mappings: &[DeviceMapping]) -> Result<Vec<DeviceNode>, SpecError> {
    let mut out = Vec::new();
    for m in mappings {
        let host = m.path_on_host.as_deref().unwrap_or_default();
        let inside = match m.path_in_container.as_deref() {
            Some(p) if !p.is_empty() => p,
            _ => host,
        };
        let perms = match m.cgroup_permissions.as_deref() {
            Some(p) if !p.is_empty() => p,
            _ => "rwm",
        };
        if !perms.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(SpecError::InvalidArgument(format!(
                "invalid device mode: {perms}"
            )));
        }
        let gather = |e: std::io::Error| {
            SpecError::InvalidArgument(format!(
                "error gathering device information while adding custom device \"{host}\": {e}"
            ))
        };
        let meta = std::fs::metadata(host).map_err(gather)?;
        if meta.is_dir() {
            devices_under(Path::new(host), inside, perms, &mut out);
            continue;
        }
        match stat_device(Path::new(host), inside, perms) {
            Ok(Some(d)) => out.push(d),
            Ok(None) => return Err(gather(std::io::Error::other("not a device node"))),
            Err(SpecError::Io { source, .. }) => return Err(gather(source)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_device_is_found() {
        let d = device_mappings(&[DeviceMapping {
            path_on_host: Some("/dev/null".into()),
            path_in_container: Some("/dev/mynull".into()),
            cgroup_permissions: Some("rw".into()),
        }])
        .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].kind, d[0].major, d[0].minor), ('c', 1, 3));
        assert_eq!(d[0].path, "/dev/mynull");
        assert_eq!(d[0].rule_json()["access"], "rw");
        assert!(host_devices().iter().any(|d| d.path == "/dev/null"));
    }

    #[test]
    fn bad_devices_are_rejected() {
        let bad_mode = DeviceMapping {
            path_on_host: Some("/dev/null".into()),
            cgroup_permissions: Some("rwx".into()),
            ..Default::default()
        };
        assert_eq!(
            device_mappings(&[bad_mode]).unwrap_err().to_string(),
            "invalid device mode: rwx"
        );
        let missing = DeviceMapping {
            path_on_host: Some("/dev/does-not-exist".into()),
            ..Default::default()
        };
        assert!(
            device_mappings(&[missing])
                .unwrap_err()
                .to_string()
                .starts_with("error gathering device information while adding custom device \"/dev/does-not-exist\"")
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        let regular = DeviceMapping {
            path_on_host: Some(file.path().to_string_lossy().into_owned()),
            ..Default::default()
        };
        assert!(device_mappings(&[regular]).is_err());
    }
}
