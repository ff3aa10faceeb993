//! Create options this engine cannot honour yet are refused with a 400
//! naming them, never accepted and dropped; security options are checked
//! against what is applied.

use shoal_api::models::HostConfig;

use super::super::{EngineError, EngineResult};

fn refuse(field: &str, why: &str) -> EngineError {
    EngineError::Invalid(format!(
        "{field} is not supported by this engine yet: {why}"
    ))
}

fn set<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

fn nonzero(v: Option<i64>) -> bool {
    v.is_some_and(|v| v != 0)
}

/// The first create option set in `host`/`config` that Shoal does not
/// apply, as a 400 naming the HostConfig/Config field.
pub(crate) fn refuse_unsupported(host: &HostConfig) -> EngineResult<()> {
    let throttles = [
        ("BlkioWeightDevice", set(&host.blkio_weight_device)),
        ("BlkioDeviceReadBps", set(&host.blkio_device_read_bps)),
        ("BlkioDeviceWriteBps", set(&host.blkio_device_write_bps)),
        ("BlkioDeviceReadIOps", set(&host.blkio_device_read_iops)),
        ("BlkioDeviceWriteIOps", set(&host.blkio_device_write_iops)),
    ];
    if let Some((f, _)) = throttles.iter().find(|(_, on)| *on) {
        return Err(refuse(f, "block I/O device throttles"));
    }
    let numbers = [
        ("CpuRealtimePeriod", nonzero(host.cpu_realtime_period)),
        ("CpuRealtimeRuntime", nonzero(host.cpu_realtime_runtime)),
        ("KernelMemoryTCP", nonzero(host.kernel_memory_tcp)),
        ("CpuCount", nonzero(host.cpu_count)),
        ("CpuPercent", nonzero(host.cpu_percent)),
        ("IOMaximumIOps", nonzero(host.io_maximum_iops)),
        ("IOMaximumBandwidth", nonzero(host.io_maximum_bandwidth)),
    ];
    if let Some((f, _)) = numbers.iter().find(|(_, on)| *on) {
        return Err(refuse(f, "not applied on this host"));
    }
    if set(&host.device_cgroup_rules) {
        return Err(refuse("DeviceCgroupRules", "device cgroup rules"));
    }
    if set(&host.device_requests) {
        return Err(refuse("DeviceRequests", "no device drivers (GPUs)"));
    }
    if host.storage_opt.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(refuse(
            "StorageOpt",
            "the snapshotter takes no per-container options",
        ));
    }
    if host.annotations.as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(refuse("Annotations", "OCI annotations"));
    }
    if !matches!(host.userns_mode.as_deref().unwrap_or(""), "" | "host") {
        return Err(refuse("UsernsMode", "user namespaces (only \"host\")"));
    }
    if !host.cgroup.as_deref().unwrap_or("").is_empty() {
        return Err(refuse("Cgroup", "joining another container's cgroup"));
    }
    if !matches!(host.volume_driver.as_deref().unwrap_or(""), "" | "local") {
        return Err(refuse("VolumeDriver", "only the local volume driver"));
    }
    if let Some(i) = host.isolation
        && !matches!(i.to_string().as_str(), "" | "default")
    {
        return Err(refuse(
            "Isolation",
            "Linux containers have only the default isolation",
        ));
    }
    // Only runc is configured; dockerd refuses a runtime it does not know.
    if let Some(rt) = host.runtime.as_deref()
        && !matches!(rt, "" | "runc" | "io.containerd.runc.v2")
    {
        return Err(EngineError::Invalid(format!(
            "unknown or invalid runtime name: {rt} (Runtime: this engine runs runc only)"
        )));
    }
    check_security_opts(host)
}

/// `SecurityOpt`: `no-new-privileges` and `seccomp=unconfined|builtin|
/// <profile JSON>` are applied (a profile that does not parse is a 400);
/// `apparmor=unconfined` and `label=disable` describe what every container
/// gets here (no AppArmor, no SELinux); anything else is refused, unknown
/// keys with dockerd's message.
fn check_security_opts(host: &HostConfig) -> EngineResult<()> {
    for opt in host.security_opt.iter().flatten() {
        if opt == "no-new-privileges" || opt == "disable" {
            continue;
        }
        let Some((key, value)) = opt.split_once(['=', ':']) else {
            return Err(EngineError::Invalid(format!(
                "invalid --security-opt 1: \"{opt}\""
            )));
        };
        match (key, value) {
            ("no-new-privileges", "true" | "false") => {}
            ("seccomp", "unconfined" | "builtin")
            | ("apparmor", "unconfined")
            | ("label", "disable") => {}
            ("seccomp", profile) => {
                crate::runtime::seccomp::validate(profile)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
            }
            ("apparmor", _) => {
                return Err(refuse("SecurityOpt apparmor", "AppArmor is not available"));
            }
            ("label", _) => {
                return Err(refuse(
                    "SecurityOpt label",
                    "SELinux labels are not applied",
                ));
            }
            ("systempaths", "unconfined") => {
                return Err(refuse("SecurityOpt systempaths", "unmasked system paths"));
            }
            _ => {
                return Err(EngineError::Invalid(format!(
                    "invalid --security-opt 2: \"{opt}\""
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_field() {
        let h = HostConfig {
            cpu_realtime_runtime: Some(100),
            ..Default::default()
        };
        let e = refuse_unsupported(&h).unwrap_err().to_string();
        assert!(e.starts_with("CpuRealtimeRuntime "), "{e}");
        let h = HostConfig {
            security_opt: Some(vec![
                "seccomp=unconfined".into(),
                "no-new-privileges".into(),
            ]),
            userns_mode: Some("host".into()),
            ..Default::default()
        };
        refuse_unsupported(&h).unwrap();
        let h = HostConfig {
            security_opt: Some(vec!["bogus=1".into()]),
            ..Default::default()
        };
        let e = refuse_unsupported(&h).unwrap_err().to_string();
        assert_eq!(e, "invalid --security-opt 2: \"bogus=1\"");
    }
}
