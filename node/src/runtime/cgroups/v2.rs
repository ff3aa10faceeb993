//! cgroup v2: one unified directory per container.

use std::io;

use super::{BlkioEntry, CgroupReader, CgroupStats, flat_keyed, single};

pub(super) fn read(r: &CgroupReader) -> io::Result<CgroupStats> {
    // cgroup.procs exists in every v2 cgroup: its absence means the task is gone.
    r.read("", "cgroup.procs")?;
    let cpu = flat_keyed(&r.read_opt("", "cpu.stat")?);
    let usec = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    let io = io_stat(&r.read_opt("", "io.stat")?);
    Ok(CgroupStats {
        cpu_total: usec("usage_usec"),
        cpu_percpu: None,
        cpu_kernel: usec("system_usec"),
        cpu_user: usec("user_usec"),
        throttle_periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_time: usec("throttled_usec"),
        mem_usage: single(&r.read_opt("", "memory.current")?).unwrap_or(0),
        mem_max_usage: None,
        mem_failcnt: None,
        mem_limit: single(&r.read_opt("", "memory.max")?),
        mem_stat: flat_keyed(&r.read_opt("", "memory.stat")?),
        pids_current: single(&r.read_opt("", "pids.current")?).unwrap_or(0),
        pids_limit: single(&r.read_opt("", "pids.max")?),
        io_bytes: io.0,
        io_ops: io.1,
    })
}

/// `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..` lines, as moby maps
/// them: bytes and operations as `read`/`write` entries.
pub(super) fn io_stat(text: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let mut bytes = Vec::new();
    let mut ops = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "read"),
                "wbytes" => (&mut bytes, "write"),
                "rios" => (&mut ops, "read"),
                "wios" => (&mut ops, "write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_owned(),
                value,
            });
        }
    }
    (bytes, ops)
}
