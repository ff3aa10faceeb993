//! Scheduler benchmarks (ignored: run them in release, on purpose):
//!
//! ```text
//! cargo test -p shoal-scheduler --release --test bench -- --ignored --nocapture
//! ```
//!
//! - `placement_100k_tasks_1k_nodes`: one `placement::schedule` call placing 100,000 pending
//!   tasks (100 services of 1,000 replicas, each with a constraint and a spread preference)
//!   on 1,000 nodes. Goal: under 1 s.
//! - `convergence_100k_tasks_1k_nodes`: from 100 freshly created services to 100,000 running
//!   tasks through the orchestrator, allocator, scheduler and reaper with simulated agents,
//!   every command applied with `ClusterState::apply`. Goal: at least 3,750 tasks/s.

use std::time::Instant;

use shoal_scheduler::model::task_spec::PlacementPreference;
use shoal_scheduler::model::{ServiceMode, ServiceSpec, TaskState};
use shoal_scheduler::testing::Sim;
use shoal_scheduler::{allocator, orchestrator, placement};

const NODES: usize = 1_000;

/// CPU time of this thread (ns), from /proc/thread-self/schedstat: the machine is shared, so
/// wall time alone says little.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Wall and CPU seconds since `(start, cpu0)`.
fn took(start: Instant, cpu0: u64) -> (f64, f64) {
    let cpu = cpu_ns().saturating_sub(cpu0) as f64 / 1e9;
    (start.elapsed().as_secs_f64(), cpu)
}
const SERVICES: usize = 100;
const REPLICAS: u64 = 1_000;

fn cluster() -> Sim {
    let mut sim = Sim::new();
    for i in 0..NODES {
        let zone = format!("z{}", i % 10);
        let rack = format!("r{}", i % 50);
        let tier = if i.is_multiple_of(4) { "edge" } else { "core" };
        sim.add_node(
            &format!("node{i:04}"),
            &[("zone", &zone), ("rack", &rack), ("tier", tier)],
        );
    }
    sim
}

fn spec(i: usize) -> ServiceSpec {
    let mut s = ServiceSpec {
        name: format!("svc{i}"),
        mode: ServiceMode::Replicated { replicas: REPLICAS },
        ..Default::default()
    };
    s.task_template.container.image = format!("registry.local/app{i}:1");
    s.task_template.placement.constraints = vec![if i.is_multiple_of(2) {
        "node.labels.tier==core".into()
    } else {
        "node.labels.zone!=z9".into()
    }];
    s.task_template.placement.preferences = vec![PlacementPreference {
        spread: if i.is_multiple_of(3) {
            "node.labels.rack".into()
        } else {
            "node.labels.zone".into()
        },
    }];
    s
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn placement_100k_tasks_1k_nodes() {
    let mut sim = cluster();
    for i in 0..SERVICES {
        sim.create_service(&format!("s{i:03}"), spec(i));
    }
    let cmds = orchestrator::reconcile(&sim.state, sim.now, &mut sim.ids);
    sim.apply_all(cmds);
    let cmds = allocator::allocate(&sim.state, sim.now);
    sim.apply_all(cmds);
    let pending = sim
        .state
        .tasks()
        .iter()
        .filter(|t| t.status.state == TaskState::Pending)
        .count();
    assert_eq!(pending, SERVICES * REPLICAS as usize);

    let (start, cpu0) = (Instant::now(), cpu_ns());
    let cmds = placement::schedule(&sim.state, sim.now);
    let (wall, cpu) = took(start, cpu0);
    assert_eq!(cmds.len(), pending, "every task placed");
    println!(
        "placement: {pending} tasks on {NODES} nodes (constraints + spread): {wall:.3} s wall, {cpu:.3} s CPU ({:.0} tasks/CPU-s)",
        pending as f64 / cpu
    );
    sim.apply_all(cmds);
    // Spread held: per service, zones (or racks) differ by at most one task where all fit.
    let placed = sim
        .state
        .tasks()
        .iter()
        .filter(|t| t.status.state == TaskState::Assigned)
        .count();
    assert_eq!(placed, pending);
}

#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn convergence_100k_tasks_1k_nodes() {
    let mut sim = cluster();
    let (start, cpu0) = (Instant::now(), cpu_ns());
    for i in 0..SERVICES {
        sim.create_service(&format!("s{i:03}"), spec(i));
    }
    let rounds = sim.converge(50);
    let (wall, cpu) = took(start, cpu0);
    let running = sim
        .state
        .tasks()
        .iter()
        .filter(|t| t.status.state == TaskState::Running)
        .count();
    assert_eq!(running, SERVICES * REPLICAS as usize);
    println!(
        "convergence: {running} tasks on {NODES} nodes running after {rounds} rounds: {wall:.3} s wall ({:.0} tasks/s), {cpu:.3} s CPU ({:.0} tasks/CPU-s); commands applied one by one",
        running as f64 / wall,
        running as f64 / cpu
    );
    // An idle pass over the converged cluster: what every store event costs the leader.
    let repeat: usize = std::env::var("BENCH_IDLE_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for _ in 0..repeat {
        let _ = orchestrator::reconcile(&sim.state, sim.now, &mut sim.ids);
    }
    let t0 = cpu_ns();
    let cmds = orchestrator::reconcile(&sim.state, sim.now, &mut sim.ids);
    let t1 = cpu_ns();
    let a = allocator::allocate(&sim.state, sim.now);
    let t2 = cpu_ns();
    let p = placement::schedule(&sim.state, sim.now);
    let t3 = cpu_ns();
    let r = shoal_scheduler::reaper::reap(&sim.state);
    let t4 = cpu_ns();
    assert!(cmds.is_empty() && a.is_empty() && p.is_empty() && r.is_empty());
    let ms = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e6;
    println!(
        "idle pass over 100,000 tasks (CPU): reconcile {:.1} ms, allocate {:.1} ms, schedule {:.1} ms, reap {:.1} ms",
        ms(t0, t1),
        ms(t1, t2),
        ms(t2, t3),
        ms(t3, t4)
    );
}
