//! Process and mount housekeeping: finding a daemon's children, telling whether a pid is alive,
//! and sweeping away everything a daemon left under its temp dir.

use std::path::Path;
use std::process::{Command, Stdio};

/// Direct children of `pid` as `(pid, command name)`.
pub fn children(pid: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // comm is in parentheses and may contain spaces; fields after it are fixed.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if rest.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push((child, comm));
        }
    }
    out
}

/// Whether `pid` is a live process (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Kills every process whose command line mentions `dir` (containerd, shims left behind by a
/// killed daemon; all our own descendants) together with all their descendants (the container
/// processes under those shims), then lazily unmounts everything below `dir`.
pub fn sweep(dir: &Path) {
    let needle = format!("{}/", dir.display());
    let me = std::process::id();
    let mut parent_of = Vec::new();
    let mut seeds = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == me {
                continue;
            }
            if let Some(ppid) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|st| {
                    let close = st.rfind(')')?;
                    st[close + 1..]
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
            {
                parent_of.push((pid, ppid));
            }
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            if String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(&needle)
            {
                seeds.push(pid);
            }
        }
    }
    let mut doomed = seeds.clone();
    let mut i = 0;
    while i < doomed.len() {
        let p = doomed[i];
        for &(child, ppid) in &parent_of {
            if ppid == p && child != me && !doomed.contains(&child) {
                doomed.push(child);
            }
        }
        i += 1;
    }
    for pid in doomed {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&needle))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount")
            .args(["-l", p])
            .stderr(Stdio::null())
            .status();
    }
}
