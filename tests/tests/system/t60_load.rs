//! Load (issue #10): 16 concurrent clients creating, starting, execing, logging and removing
//! containers (`tests/py/load.py`, docker-py). No call may fail or hang, nothing may be left
//! behind and the daemon's RSS must come back down once the containers are gone.
//!
//! CI runs 20 seconds against Shoal. The run, Shoal and dockerd one after the other in
//! the same run (README, "Load"):
//! `SHOAL_LOAD_SECS=600 cargo test -p shoal-tests --test system -- --ignored t60_load --nocapture`.

use shoal_tests::{Daemon, Engine, Options};
use std::process::Command;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the load against `d` and returns its report.
fn load(d: &Daemon, clients: u64, secs: u64) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/load.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--socket")
        .arg(d.sock())
        .args(["--pid", &d.pid().to_string()])
        .args(["--clients", &clients.to_string()])
        .args(["--seconds", &secs.to_string()])
        .output()
        .expect("run python3 (docker-py 7 must be installed: pip install docker)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "load.py failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("load.py report {line:?}: {e}"))
}

/// What must hold for Shoal: every call succeeded, nothing left, the daemon answers, and the
/// RSS after the run is back within 64 MiB of where the warm-up left it.
fn check(engine: &str, r: &serde_json::Value) {
    let rss = &r["rss_kb"];
    eprintln!(
        "load {engine}: {} clients {} s: {} operations, {} ops/s, p50 {} ms, p99 {} ms, {} errors; \
         RSS kB before {} warm {} peak {} end {} settled {}; per op {}; errors {}",
        r["clients"],
        r["seconds"],
        r["operations"],
        r["ops_per_s"],
        r["p50_ms"],
        r["p99_ms"],
        r["errors"],
        rss["before"],
        rss["warm"],
        rss["peak"],
        rss["end"],
        rss["settled"],
        r["per_op"],
        r["error_samples"],
    );
}

fn assert_healthy(r: &serde_json::Value) {
    assert_eq!(r["errors"], 0, "errors under load: {}", r["error_samples"]);
    assert_eq!(r["left_behind"], 0);
    assert_eq!(r["ping_after"], true);
    assert!(r["operations"].as_u64().unwrap_or(0) > 0);
    let warm = r["rss_kb"]["warm"].as_u64().unwrap_or(0);
    let settled = r["rss_kb"]["settled"].as_u64().unwrap_or(u64::MAX);
    assert!(
        settled <= warm + 64 * 1024,
        "RSS grew from {warm} kB after warm-up to {settled} kB after the run"
    );
}

fn daemon(engine: Engine) -> Daemon {
    Daemon::start_engine(engine, Options::default())
}

#[test]
fn t60_load_short_run_against_shoal() {
    let d = daemon(Engine::from_env());
    let r = load(&d, env_u64("SHOAL_LOAD_CLIENTS", 16), 20);
    check("short", &r);
    assert_healthy(&r);
}

#[test]
#[ignore = "the issue's 10-minute run against Shoal and dockerd; see the module docs"]
fn t60_load_shoal_and_dockerd() {
    let clients = env_u64("SHOAL_LOAD_CLIENTS", 16);
    let secs = env_u64("SHOAL_LOAD_SECS", 600);
    let shoal = daemon(Engine::Shoal);
    let rs = load(&shoal, clients, secs);
    drop(shoal);
    check("shoal", &rs);
    let dockerd = daemon(Engine::Dockerd);
    let rd = load(&dockerd, clients, secs);
    drop(dockerd);
    check("dockerd", &rd);
    assert_healthy(&rs);
}
