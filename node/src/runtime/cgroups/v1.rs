//! cgroup v1: one hierarchy per controller (memory, cpuacct, cpu, pids, blkio).

use std::io;

use super::{BlkioEntry, CgroupReader, CgroupStats, NANOS_PER_TICK, flat_keyed, single};

/// The kernel's "no limit" in v1 files is `PAGE_COUNTER_MAX` pages,
/// rounded: anything this large means unlimited.
const UNLIMITED: u64 = 1 << 62;

pub(super) fn read(r: &CgroupReader) -> io::Result<CgroupStats> {
    // memory.usage_in_bytes is always there while the cgroup exists: its
    // absence is how a deleted task shows.
    let usage = single(&r.read("memory", "memory.usage_in_bytes")?).unwrap_or(0);
    let limit = single(&r.read_opt("memory", "memory.limit_in_bytes")?).filter(|l| *l < UNLIMITED);
    let (cpu_user, cpu_kernel) = cpu_split(r)?;
    let throttling = flat_keyed(&r.read_opt("cpu", "cpu.stat")?);
    let bytes = blkio(&r.read_opt("blkio", "blkio.io_service_bytes_recursive")?);
    let ops = blkio(&r.read_opt("blkio", "blkio.io_serviced_recursive")?);
    // Without CFQ/BFQ accounting (modern multi-queue schedulers) only the
    // throttle layer counts, which is where containerd falls back too.
    let bytes = if bytes.is_empty() {
        blkio(&r.read_opt("blkio", "blkio.throttle.io_service_bytes_recursive")?)
    } else {
        bytes
    };
    let ops = if ops.is_empty() {
        blkio(&r.read_opt("blkio", "blkio.throttle.io_serviced_recursive")?)
    } else {
        ops
    };
    Ok(CgroupStats {
        cpu_total: single(&r.read_opt("cpuacct", "cpuacct.usage")?).unwrap_or(0),
        cpu_percpu: Some(
            r.read_opt("cpuacct", "cpuacct.usage_percpu")?
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect(),
        ),
        cpu_kernel,
        cpu_user,
        throttle_periods: throttling.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: throttling.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: throttling.get("throttled_time").copied().unwrap_or(0),
        mem_usage: usage,
        mem_max_usage: single(&r.read_opt("memory", "memory.max_usage_in_bytes")?),
        mem_failcnt: single(&r.read_opt("memory", "memory.failcnt")?),
        mem_limit: limit,
        mem_stat: flat_keyed(&r.read_opt("memory", "memory.stat")?),
        pids_current: single(&r.read_opt("pids", "pids.current")?).unwrap_or(0),
        pids_limit: single(&r.read_opt("pids", "pids.max")?),
        io_bytes: bytes,
        io_ops: ops,
    })
}

/// User and kernel CPU time in nanoseconds: `cpuacct.usage_user/_sys`
/// when the kernel has them, else `cpuacct.stat` (in USER_HZ ticks).
fn cpu_split(r: &CgroupReader) -> io::Result<(u64, u64)> {
    let user = single(&r.read_opt("cpuacct", "cpuacct.usage_user")?);
    let sys = single(&r.read_opt("cpuacct", "cpuacct.usage_sys")?);
    if let (Some(u), Some(s)) = (user, sys) {
        return Ok((u, s));
    }
    let stat = flat_keyed(&r.read_opt("cpuacct", "cpuacct.stat")?);
    Ok((
        stat.get("user").copied().unwrap_or(0) * NANOS_PER_TICK,
        stat.get("system").copied().unwrap_or(0) * NANOS_PER_TICK,
    ))
}

/// `MAJ:MIN Op value` lines; the trailing `Total n` line has no device
/// and is dropped, as containerd does.
pub(super) fn blkio(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (dev, op, value) = (f.next()?, f.next()?, f.next()?);
            let (major, minor) = dev.split_once(':')?;
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_owned(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}
