//! `docker update`: new cgroup limits and restart policy for a container,
//! applied to its running task and kept in its record (so inspect and the
//! next start see them), as moby's `daemon/update.go`.
//!
//! Like dockerd, a zero (or absent) field means "leave as is": the CLI
//! sends every field of `Resources`, zeros included.

use shoal_api::models::{ContainerUpdateBody, HostConfig, RestartPolicyNameEnum};

use super::super::record::Status;
use super::super::{Engine, EngineError, EngineResult};
use crate::runtime::oci_spec;

/// dockerd's minimum memory limit (`linuxMinMemory`).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

fn set<T>(v: &Option<Vec<T>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// The first field of `body` this engine cannot change on a container,
/// as a 400 naming it.
fn refuse_unsupported(body: &ContainerUpdateBody) -> EngineResult<()> {
    let fields = [
        ("BlkioWeightDevice", set(&body.blkio_weight_device)),
        ("BlkioDeviceReadBps", set(&body.blkio_device_read_bps)),
        ("BlkioDeviceWriteBps", set(&body.blkio_device_write_bps)),
        ("BlkioDeviceReadIOps", set(&body.blkio_device_read_iops)),
        ("BlkioDeviceWriteIOps", set(&body.blkio_device_write_iops)),
        ("Devices", set(&body.devices)),
        ("DeviceCgroupRules", set(&body.device_cgroup_rules)),
        ("DeviceRequests", set(&body.device_requests)),
        ("Ulimits", set(&body.ulimits)),
        (
            "CpuRealtimePeriod",
            body.cpu_realtime_period.unwrap_or(0) != 0,
        ),
        (
            "CpuRealtimeRuntime",
            body.cpu_realtime_runtime.unwrap_or(0) != 0,
        ),
        ("KernelMemoryTCP", body.kernel_memory_tcp.unwrap_or(0) != 0),
        ("CpuCount", body.cpu_count.unwrap_or(0) != 0),
        ("CpuPercent", body.cpu_percent.unwrap_or(0) != 0),
        ("IOMaximumIOps", body.io_maximum_iops.unwrap_or(0) != 0),
        (
            "IOMaximumBandwidth",
            body.io_maximum_bandwidth.unwrap_or(0) != 0,
        ),
        ("OomKillDisable", body.oom_kill_disable.is_some()),
        ("Init", body.init.is_some()),
        (
            "CgroupParent",
            body.cgroup_parent.as_deref().is_some_and(|p| !p.is_empty()),
        ),
    ];
    match fields.iter().find(|(_, on)| *on) {
        Some((f, _)) => Err(EngineError::Invalid(format!(
            "{f} cannot be changed by docker update on this engine"
        ))),
        None => Ok(()),
    }
}

/// Merges `body` into `hc` with dockerd's checks (`verifyContainerResources`
/// and `UpdateContainer`'s conflicts). Pure: `hc` is a copy.
pub(crate) fn apply_update(hc: &mut HostConfig, body: &ContainerUpdateBody) -> EngineResult<()> {
    refuse_unsupported(body)?;
    let invalid = |m: &str| Err(EngineError::Invalid(m.to_owned()));
    let nz = |v: Option<i64>| v.filter(|v| *v != 0);
    if let Some(m) = nz(body.memory) {
        if m < MIN_MEMORY {
            return invalid("Minimum memory limit allowed is 6MB");
        }
        let swap = hc.memory_swap.unwrap_or(0);
        if swap > 0 && m > swap && nz(body.memory_swap).is_none() {
            return invalid(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            );
        }
        hc.memory = Some(m);
    }
    if let Some(s) = nz(body.memory_swap) {
        if s > 0 && s < hc.memory.unwrap_or(0) {
            return invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            );
        }
        if s > 0 && hc.memory.unwrap_or(0) == 0 {
            return invalid(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            );
        }
        hc.memory_swap = Some(s);
    }
    if let Some(r) = nz(body.memory_reservation) {
        let m = hc.memory.unwrap_or(0);
        if m > 0 && m < r {
            return invalid(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            );
        }
        if r < MIN_MEMORY {
            return invalid("Minimum memory reservation allowed is 6MB");
        }
        hc.memory_reservation = Some(r);
    }
    if let Some(s) = body.memory_swappiness.filter(|s| *s != -1) {
        if !(0..=100).contains(&s) {
            return invalid(&format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            ));
        }
        hc.memory_swappiness = Some(s);
    }
    if let Some(n) = nz(body.nano_cpus) {
        if nz(body.cpu_period).is_some() || nz(body.cpu_quota).is_some() {
            return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
        }
        if hc.cpu_quota.unwrap_or(0) > 0 || hc.cpu_period.unwrap_or(0) > 0 {
            return invalid(
                "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
            );
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        if n < 10_000_000 || n > cpus * 1_000_000_000 {
            return invalid(&format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            ));
        }
        hc.nano_cpus = Some(n);
    }
    if let Some(p) = nz(body.cpu_period) {
        if hc.nano_cpus.unwrap_or(0) > 0 {
            return invalid(
                "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
            );
        }
        if !(1000..=1_000_000).contains(&p) {
            return invalid(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)",
            );
        }
        hc.cpu_period = Some(p);
    }
    if let Some(q) = nz(body.cpu_quota) {
        if hc.nano_cpus.unwrap_or(0) > 0 {
            return invalid(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            );
        }
        if q > 0 && q < 1000 {
            return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
        }
        hc.cpu_quota = Some(q);
    }
    if let Some(s) = nz(body.cpu_shares) {
        hc.cpu_shares = Some(s);
    }
    if let Some(c) = body.cpuset_cpus.as_ref().filter(|c| !c.is_empty()) {
        hc.cpuset_cpus = Some(c.clone());
    }
    if let Some(m) = body.cpuset_mems.as_ref().filter(|m| !m.is_empty()) {
        hc.cpuset_mems = Some(m.clone());
    }
    if let Some(w) = body.blkio_weight.filter(|w| *w != 0) {
        if !(10..=1000).contains(&w) {
            return invalid("Range of blkio weight is from 10 to 1000");
        }
        hc.blkio_weight = Some(w);
    }
    if let Some(p) = body.pids_limit {
        // dockerd: 0 and -1 both mean unlimited.
        hc.pids_limit = Some(if p <= 0 { -1 } else { p });
    }
    if let Some(rp) = body.restart_policy.as_ref().filter(|rp| {
        rp.name.unwrap_or(RestartPolicyNameEnum::EMPTY) != RestartPolicyNameEnum::EMPTY
    }) {
        let name = rp.name.unwrap_or(RestartPolicyNameEnum::EMPTY);
        if hc.auto_remove == Some(true) && name != RestartPolicyNameEnum::NO {
            return invalid(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            );
        }
        super::create::validate_restart_policy(rp)?;
        hc.restart_policy = Some(rp.clone());
    }
    Ok(())
}

impl Engine {
    /// `POST /containers/{id}/update`: 404 for an unknown container, 400
    /// for invalid or unsupported values; a live task gets the new
    /// limits first, and the record changes only if that worked.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn update(&self, key: &str, body: ContainerUpdateBody) -> EngineResult<Vec<String>> {
        let c = self.lookup(key)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let mut hc = rec.host_config.clone();
        apply_update(&mut hc, &body)?;
        if matches!(rec.state.status, Status::Removing | Status::Dead) {
            return Err(EngineError::Conflict(format!(
                "Cannot update container {}: container is marked for removal and cannot be \"update\"",
                rec.id
            )));
        }
        if rec.state.status.is_live() {
            let resources = oci_spec::update_resources(&hc);
            self.runtime().task_update(&rec.id, &resources).await?;
        }
        let (_, rec) = c.update(|r| r.host_config = hc);
        self.persist(&rec).await?;
        self.emit(&rec, "update", &[]);
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_api::models::RestartPolicy;

    fn body() -> ContainerUpdateBody {
        ContainerUpdateBody::default()
    }

    #[test]
    fn zero_fields_leave_the_config_alone() {
        let mut hc = HostConfig {
            memory: Some(32 << 20),
            pids_limit: Some(10),
            ..Default::default()
        };
        let b = ContainerUpdateBody {
            memory: Some(0),
            cpu_shares: Some(0),
            restart_policy: Some(RestartPolicy::default()),
            ..body()
        };
        apply_update(&mut hc, &b).unwrap();
        assert_eq!(hc.memory, Some(32 << 20));
        assert_eq!(hc.pids_limit, Some(10));
        assert_eq!(hc.restart_policy, None);
    }

    #[test]
    fn limits_and_restart_policy_merge() {
        let mut hc = HostConfig::default();
        let b = ContainerUpdateBody {
            memory: Some(64 << 20),
            pids_limit: Some(50),
            nano_cpus: Some(500_000_000),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: Some(0),
            }),
            ..body()
        };
        apply_update(&mut hc, &b).unwrap();
        assert_eq!(hc.memory, Some(64 << 20));
        assert_eq!(hc.pids_limit, Some(50));
        assert_eq!(hc.nano_cpus, Some(500_000_000));
        assert_eq!(
            hc.restart_policy.and_then(|r| r.name),
            Some(RestartPolicyNameEnum::ALWAYS)
        );
        let mut hc = HostConfig::default();
        apply_update(
            &mut hc,
            &ContainerUpdateBody {
                pids_limit: Some(0),
                ..body()
            },
        )
        .unwrap();
        assert_eq!(hc.pids_limit, Some(-1));
    }

    #[test]
    fn dockerd_checks_and_refusals() {
        let err = |hc: &mut HostConfig, b: ContainerUpdateBody| {
            apply_update(hc, &b).unwrap_err().to_string()
        };
        let mut hc = HostConfig::default();
        assert_eq!(
            err(
                &mut hc,
                ContainerUpdateBody {
                    memory: Some(1 << 20),
                    ..body()
                }
            ),
            "Minimum memory limit allowed is 6MB"
        );
        let mut hc = HostConfig {
            memory: Some(32 << 20),
            memory_swap: Some(64 << 20),
            ..Default::default()
        };
        assert!(
            err(
                &mut hc,
                ContainerUpdateBody {
                    memory: Some(128 << 20),
                    ..body()
                }
            )
            .starts_with("Memory limit should be smaller")
        );
        let mut hc = HostConfig {
            nano_cpus: Some(1_000_000_000),
            ..Default::default()
        };
        assert!(
            err(
                &mut hc,
                ContainerUpdateBody {
                    cpu_quota: Some(50_000),
                    ..body()
                }
            )
            .contains("NanoCPUs has already been set")
        );
        let mut hc = HostConfig::default();
        let always_with_count = ContainerUpdateBody {
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: Some(3),
            }),
            ..body()
        };
        assert!(err(&mut hc, always_with_count).contains("maximum retry count"));
        let mut hc = HostConfig {
            auto_remove: Some(true),
            ..Default::default()
        };
        let always = ContainerUpdateBody {
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::ALWAYS),
                maximum_retry_count: None,
            }),
            ..body()
        };
        assert!(err(&mut hc, always).contains("AutoRemove"));
        let mut hc = HostConfig::default();
        let e = err(
            &mut hc,
            ContainerUpdateBody {
                cpu_realtime_runtime: Some(1000),
                ..body()
            },
        );
        assert!(e.starts_with("CpuRealtimeRuntime "), "{e}");
        assert_eq!(
            hc,
            HostConfig::default(),
            "a refused update changes nothing"
        );
    }
}
