//! A container's cgroup counters, read straight from the cgroup
//! filesystem (v1 per-controller hierarchies or the v2 unified one,
//! detected once): what `docker stats` and the OOM check need.
//!
//! runc's cgroupfs driver puts a container at `<controller root>/<cgroupsPath>`
//! (see `oci_spec::cgroups_path`), so no runtime call is needed; the files
//! vanish when the task is deleted, which the readers report as
//! `NotFound` I/O errors.
//!
//! Parsing is pure (`v1.rs`, `v2.rs` take file contents); only
//! [`CgroupReader`] touches the filesystem, and it blocks: call it off
//! the async threads.

mod v1;
mod v2;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Which cgroup hierarchy the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Per-controller hierarchies under `/sys/fs/cgroup/<controller>`.
    V1,
    /// The unified hierarchy at `/sys/fs/cgroup`.
    V2,
}

/// The host's cgroup version, detected on first use.
pub fn version() -> CgroupVersion {
    static VERSION: OnceLock<CgroupVersion> = OnceLock::new();
    *VERSION.get_or_init(|| {
        if super::oci_spec::cgroup_v2() {
            CgroupVersion::V2
        } else {
            CgroupVersion::V1
        }
    })
}

/// One block-I/O counter (a line of `blkio.*` or a field of `io.stat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total` (v1) or
    /// `read`/`write` (v2), as dockerd reports them.
    pub op: String,
    /// Bytes or operations.
    pub value: u64,
}

/// A sample of one cgroup's counters. Fields a hierarchy lacks stay
/// `None` (v2 has no per-CPU usage, max usage or failcnt).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CgroupStats {
    /// Total CPU time in nanoseconds.
    pub cpu_total: u64,
    /// Per-CPU time in nanoseconds (v1 only).
    pub cpu_percpu: Option<Vec<u64>>,
    /// Kernel-mode CPU time in nanoseconds.
    pub cpu_kernel: u64,
    /// User-mode CPU time in nanoseconds.
    pub cpu_user: u64,
    /// CFS periods elapsed.
    pub throttle_periods: u64,
    /// CFS periods throttled.
    pub throttled_periods: u64,
    /// Time throttled, in nanoseconds.
    pub throttled_time: u64,
    /// Memory in use, bytes.
    pub mem_usage: u64,
    /// Peak memory use (v1 only).
    pub mem_max_usage: Option<u64>,
    /// Times the limit was hit (v1 only).
    pub mem_failcnt: Option<u64>,
    /// The memory limit; `None` when unlimited.
    pub mem_limit: Option<u64>,
    /// `memory.stat`, keys as the kernel names them.
    pub mem_stat: HashMap<String, u64>,
    /// Processes (tasks) in the cgroup.
    pub pids_current: u64,
    /// The pids limit; `None` when unlimited.
    pub pids_limit: Option<u64>,
    /// Bytes read/written per device.
    pub io_bytes: Vec<BlkioEntry>,
    /// Operations per device (v1: `io_serviced_recursive`; v2: rios/wios).
    pub io_ops: Vec<BlkioEntry>,
}

/// Reads the cgroup of one container.
#[derive(Debug, Clone)]
pub struct CgroupReader {
    version: CgroupVersion,
    root: PathBuf,
    path: String,
}

impl CgroupReader {
    /// The reader for `cgroups_path` (as in the OCI spec) on this host.
    pub fn new(cgroups_path: &str) -> CgroupReader {
        CgroupReader::with_root(version(), Path::new("/sys/fs/cgroup"), cgroups_path)
    }

    /// A reader over another cgroup mount (tests use a fake tree).
    pub fn with_root(version: CgroupVersion, root: &Path, cgroups_path: &str) -> CgroupReader {
        CgroupReader {
            version,
            root: root.to_owned(),
            path: cgroups_path.trim_start_matches('/').to_owned(),
        }
    }

    fn file(&self, controller: &str, name: &str) -> PathBuf {
        match self.version {
            CgroupVersion::V1 => self.root.join(controller).join(&self.path).join(name),
            CgroupVersion::V2 => self.root.join(&self.path).join(name),
        }
    }

    fn read(&self, controller: &str, name: &str) -> io::Result<String> {
        std::fs::read_to_string(self.file(controller, name))
    }

    /// Like [`Self::read`], with a missing file (a controller or a
    /// kernel feature this host lacks) as empty.
    fn read_opt(&self, controller: &str, name: &str) -> io::Result<String> {
        match self.read(controller, name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            other => other,
        }
    }

    /// Samples every counter. `NotFound` when the cgroup is gone.
    pub fn stats(&self) -> io::Result<CgroupStats> {
        match self.version {
            CgroupVersion::V1 => v1::read(self),
            CgroupVersion::V2 => v2::read(self),
        }
    }

    /// How many processes of this cgroup the kernel's OOM killer has
    /// killed (v1 `memory.oom_control` `oom_kill`, v2 `memory.events`
    /// `oom_kill`); 0 when the kernel does not count them.
    pub fn oom_kills(&self) -> io::Result<u64> {
        let text = match self.version {
            CgroupVersion::V1 => self.read("memory", "memory.oom_control")?,
            CgroupVersion::V2 => self.read("", "memory.events")?,
        };
        Ok(flat_keyed(&text).get("oom_kill").copied().unwrap_or(0))
    }
}

/// Parses `key value` lines (memory.stat, cpu.stat, memory.events...).
pub(crate) fn flat_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Parses a single-number file; `max` (v2) is `None`.
pub(crate) fn single(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The host's CPU time in nanoseconds (the sum of the `cpu` line of
/// `/proc/stat`, as dockerd computes `system_cpu_usage`) and the number
/// of online CPUs (its `cpuN` lines).
pub fn system_cpu() -> io::Result<(u64, u32)> {
    let text = std::fs::read_to_string("/proc/stat")?;
    Ok(parse_proc_stat(&text))
}

/// USER_HZ: the unit of `/proc/stat` and `cpuacct.stat` (100 on every
/// Linux architecture Shoal runs on).
const CLOCK_TICKS: u64 = 100;
const NANOS_PER_TICK: u64 = 1_000_000_000 / CLOCK_TICKS;

pub(crate) fn parse_proc_stat(text: &str) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            // user nice system idle iowait irq softirq, the seven fields
            // moby's getSystemCPUUsage sums.
            Some("cpu") => {
                total = fields
                    .take(7)
                    .filter_map(|f| f.parse::<u64>().ok())
                    .sum::<u64>()
                    * NANOS_PER_TICK;
            }
            Some(f) if f.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// The host's memory in bytes (`MemTotal`), what dockerd shows as the
/// limit of a container without one.
pub fn host_memory() -> io::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0))
}

/// Per-interface counters of a network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetDevStats {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Outgoing packets dropped.
    pub tx_dropped: u64,
}

/// The interfaces (but loopback) of the network namespace of `pid`,
/// from `/proc/<pid>/net/dev`.
pub fn net_dev(pid: u32) -> io::Result<Vec<(String, NetDevStats)>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev"))?;
    Ok(parse_net_dev(&text))
}

pub(crate) fn parse_net_dev(text: &str) -> Vec<(String, NetDevStats)> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let n: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            if n.len() < 12 {
                return None;
            }
            Some((
                name.to_owned(),
                NetDevStats {
                    rx_bytes: n[0],
                    rx_packets: n[1],
                    rx_errors: n[2],
                    rx_dropped: n[3],
                    tx_bytes: n[8],
                    tx_packets: n[9],
                    tx_errors: n[10],
                    tx_dropped: n[11],
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests;
