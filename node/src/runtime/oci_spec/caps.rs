//! Linux capabilities: Docker's default set and `--cap-add`/`--cap-drop`
//! (moby `oci/caps.TweakCapabilities`).

use super::SpecError;

/// dockerd's default capability set (moby `oci/caps.DefaultCapabilities`).
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability up to CAP_CHECKPOINT_RESTORE (40), in kernel order.
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities this process may grant (its bounding set). A
/// privileged container cannot get more than that: asking runc for a
/// capability outside it fails with EPERM, so sandboxed hosts (missing e.g.
/// CAP_SYS_RESOURCE) need the intersection, as podman does.
pub fn host_caps() -> Vec<String> {
    let mask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    caps_in_mask(mask)
}

fn caps_in_mask(mask: u64) -> Vec<String> {
    ALL_CAPS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1u64 << bit) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Uppercases, adds the `CAP_` prefix and validates (`ALL` passes through).
fn normalize(caps: &[String]) -> Result<Vec<String>, SpecError> {
    caps.iter()
        .map(|c| {
            let up = c.trim().to_ascii_uppercase();
            if up == "ALL" {
                return Ok(up);
            }
            let full = if up.starts_with("CAP_") {
                up
            } else {
                format!("CAP_{up}")
            };
            if ALL_CAPS.contains(&full.as_str()) {
                Ok(full)
            } else {
                Err(SpecError::InvalidArgument(format!(
                    "unknown capability: \"{full}\""
                )))
            }
        })
        .collect()
}

/// The capability set of a container: everything when `privileged`, else
/// Docker's defaults adjusted by `add`/`drop` (either may contain `ALL`).
pub fn effective_caps(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<Vec<String>, SpecError> {
    if privileged {
        return Ok(ALL_CAPS.iter().map(|c| c.to_string()).collect());
    }
    let add = normalize(add)?;
    let drop = normalize(drop)?;
    let has = |v: &[String], c: &str| v.iter().any(|x| x == c);
    let mut caps: Vec<String> = if has(&add, "ALL") {
        ALL_CAPS
            .iter()
            .filter(|c| !has(&drop, c))
            .map(|c| c.to_string())
            .collect()
    } else if has(&drop, "ALL") {
        add
    } else {
        let mut caps: Vec<String> = DEFAULT_CAPS
            .iter()
            .filter(|c| !has(&drop, c))
            .map(|c| c.to_string())
            .collect();
        caps.extend(add);
        caps
    };
    let mut seen = std::collections::HashSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_and_privileged() {
        assert_eq!(effective_caps(&[], &[], false).unwrap(), s(DEFAULT_CAPS));
        assert_eq!(effective_caps(&[], &[], true).unwrap().len(), 41);
    }

    #[test]
    fn add_and_drop_normalize_names() {
        let caps = effective_caps(&s(&["net_admin", "CAP_CHOWN"]), &s(&["mknod"]), false).unwrap();
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!caps.contains(&"CAP_MKNOD".to_string()));
        assert_eq!(caps.iter().filter(|c| *c == "CAP_CHOWN").count(), 1);
    }

    #[test]
    fn all_keywords() {
        assert_eq!(
            effective_caps(&s(&["chown"]), &s(&["all"]), false).unwrap(),
            s(&["CAP_CHOWN"])
        );
        let caps = effective_caps(&s(&["ALL"]), &s(&["SYS_ADMIN"]), false).unwrap();
        assert_eq!(caps.len(), 40);
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn bounding_mask_maps_to_names() {
        assert_eq!(
            caps_in_mask(0b101),
            s(&["CAP_CHOWN", "CAP_DAC_READ_SEARCH"])
        );
        assert_eq!(caps_in_mask(u64::MAX).len(), ALL_CAPS.len());
        assert!(host_caps().contains(&"CAP_CHOWN".to_string()));
    }

    #[test]
    fn unknown_capability_is_rejected() {
        let e = effective_caps(&s(&["FLY"]), &[], false).unwrap_err();
        assert_eq!(e.to_string(), "unknown capability: \"CAP_FLY\"");
    }
}
