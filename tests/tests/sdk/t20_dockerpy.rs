//! Streams through docker-py 7 (`tests/py/streams.py`): exec output never lost, detach keys,
//! followed logs. The Python SDK reads hijacked streams differently from the docker CLI (it
//! takes the socket from under http.client's buffered reader), which is what these catch.

use shoal_tests::{shared, unique};
use std::process::Command;

/// Runs one case of the script against the shared daemon; panics with its output on failure.
fn run_case(case: &str) {
    let d = shared();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/py/streams.py");
    let out = Command::new("python3")
        .args([script, case, &unique("py")])
        .env("DOCKER_HOST", d.cli().host())
        .env("DOCKER_CONFIG", d.cli().config_dir())
        .output()
        .expect("run python3 (docker-py 7 must be installed: pip install docker)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("ok {case}")),
        "docker-py case {case} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn exec_output_is_lossless_and_demultiplexed() {
    run_case("exec");
}

#[test]
fn detach_keys_end_attach_and_exec_sessions() {
    run_case("detach");
}

#[test]
fn followed_logs_arrive_live_and_end_with_the_container() {
    run_case("logs");
}
