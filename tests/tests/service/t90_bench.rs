//! Benchmark (ignored; run explicitly, once per engine, on the same machine):
//!
//! ```sh
//! cargo build --release -p shoal-node
//! SHOAL_BIN=target/release/shoal cargo test -p shoal-tests --test service -- --ignored --nocapture bench_
//! SHOAL_E2E_ENGINE=dockerd cargo test -p shoal-tests --test service -- --ignored --nocapture bench_
//! ```
//!
//! On its own 3 + 2 cluster: from `docker service create -d --replicas 50` to 50 tasks
//! running (`service ls` shows 50/50), and from `docker service rm` to no task container left
//! on any node. Prints the figures; asserts only that both end states are reached.

use std::time::{Duration, Instant};

use shoal_tests::cluster::{CONVERGE, Cluster};
use shoal_tests::wait;

use crate::{replicas, task_containers};

fn poll(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    let ok = wait::try_until(CONVERGE * 2, || {
        if done() {
            Some(())
        } else {
            std::thread::sleep(Duration::from_millis(50));
            None
        }
    });
    assert!(ok.is_some(), "{what} not reached");
    start.elapsed()
}

#[test]
#[ignore = "benchmark: run explicitly with --ignored --nocapture"]
fn bench_replicas_50_create_and_rm() {
    let c = Cluster::start(3, 2);
    for n in c.nodes() {
        n.load_busybox();
    }
    let l = c.leader();
    let name = "bench50";
    let start = Instant::now();
    l.ok(&[
        "service",
        "create",
        "-d",
        "--name",
        name,
        "--replicas",
        "50",
        "busybox",
        "sleep",
        "3600",
    ]);
    let create_call = start.elapsed();
    let running = create_call + poll("50/50 running", || replicas(l, name) == "50/50");
    let start = Instant::now();
    l.ok(&["service", "rm", name]);
    let gone = poll("no task container left", || {
        c.nodes()
            .iter()
            .all(|n| task_containers(n, name).is_empty())
    }) + start.elapsed().saturating_sub(start.elapsed());
    let rm = start.elapsed().max(gone);
    eprintln!(
        "BENCH engine={:?} create->50 running: {:.2} s; rm->no container: {:.2} s",
        std::env::var("SHOAL_E2E_ENGINE").unwrap_or_else(|_| "shoal".into()),
        running.as_secs_f64(),
        rm.as_secs_f64()
    );
}
