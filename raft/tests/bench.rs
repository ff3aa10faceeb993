//! Measurements on a 3-member loopback cluster over the real mTLS transport (ignored by
//! default; figures are printed). Run with:
//!
//! ```text
//! cargo test -p shoal-raft --release --test bench -- --ignored --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use shoal_raft::{ClusterStore, RaftId, WriteStats};
use shoal_scheduler::model::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn report(name: &str, mut lat: Vec<Duration>, total: Duration) {
    lat.sort();
    println!(
        "{name}: n={} p50={:?} p99={:?} max={:?} -> {:.0} object changes/s",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
        lat.len() as f64 / total.as_secs_f64()
    );
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn print_stats(before: &WriteStats, after: &WriteStats) {
    let proposals = after.proposals - before.proposals;
    let entries = (after.entries - before.entries).max(1);
    let flushes = (after.flushes - before.flushes).max(1);
    println!(
        "  batching: {proposals} proposals in {entries} entries ({:.1}/entry, max {}); \
         {flushes} leader log flushes, {:.1} entries/flush, flush max {:?} (since start); \
         apply max {:?}, snapshot copy max {:?}",
        proposals as f64 / entries as f64,
        after.max_proposals_per_entry,
        (after.flushed_entries - before.flushed_entries) as f64 / flushes as f64,
        after.flush_max,
        after.apply_max,
        after.snapshot_copy_max,
    );
}

/// `writers` tasks each writing `per` objects one after another; every latency.
async fn concurrent_writers(
    leader: &Arc<ClusterStore>,
    writers: usize,
    per: usize,
    prefix: &str,
) -> Vec<Duration> {
    let mut handles = Vec::new();
    for w in 0..writers {
        let l = leader.clone();
        let prefix = prefix.to_owned();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let id = format!("{prefix}-{w}-{i}");
                lat.push(timed(&l, ClusterCommand::Create(service(&id, &id).into()), false).await);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    lat
}

async fn timed(store: &ClusterStore, cmd: ClusterCommand, forward: bool) -> Duration {
    let t = Instant::now();
    if forward {
        store.propose_or_forward(cmd).await.unwrap();
    } else {
        store.propose(cmd).await.unwrap();
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly with --ignored --nocapture"]
async fn commit_latency_and_throughput() {
    let pki = Pki::new("bench-ca");
    let root = tempfile::tempdir().unwrap();
    let members = start_cluster(&pki, root.path(), 3).await;
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "election").await;
    let leader = members
        .iter()
        .find(|m| m.id == leader_id)
        .unwrap()
        .store
        .clone();
    let follower = members
        .iter()
        .find(|m| m.id != leader_id)
        .unwrap()
        .store
        .clone();

    // Warm up channels and the allocator.
    for i in 0..100 {
        leader
            .propose(ClusterCommand::Create(
                service(&format!("w{i}"), &format!("warm{i}")).into(),
            ))
            .await
            .unwrap();
    }

    // Sequential writes on the leader: one in flight at a time.
    let n = env_usize("SHOAL_BENCH_SEQUENTIAL", 10_000);
    let before = leader.write_stats();
    let t0 = Instant::now();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        lat.push(
            timed(
                &leader,
                ClusterCommand::Create(service(&format!("a{i}"), &format!("seq{i}")).into()),
                false,
            )
            .await,
        );
    }
    report("sequential writes on the leader", lat, t0.elapsed());
    print_stats(&before, &leader.write_stats());

    // Sequential writes through a follower (forwarded over the transport).
    let n = 500;
    let t0 = Instant::now();
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        lat.push(
            timed(
                &follower,
                ClusterCommand::Create(service(&format!("f{i}"), &format!("fwd{i}")).into()),
                true,
            )
            .await,
        );
    }
    report(
        "sequential writes forwarded by a follower",
        lat,
        t0.elapsed(),
    );

    // Concurrent writers on the leader: their proposals are coalesced into entries.
    let leader = Arc::new(leader);
    for (writers, per) in [(64, 200), (512, 40)] {
        let before = leader.write_stats();
        let t0 = Instant::now();
        let lat = concurrent_writers(&leader, writers, per, &format!("c{writers}")).await;
        report(
            &format!("{writers} concurrent writers on the leader"),
            lat,
            t0.elapsed(),
        );
        print_stats(&before, &leader.write_stats());
    }

    for mut m in members {
        m.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly with --ignored --nocapture"]
async fn snapshot_install_of_100k_objects() {
    let pki = Pki::new("bench-ca");
    let root = tempfile::tempdir().unwrap();
    let tweak = |c: &mut shoal_raft::StoreConfig| {
        c.raft.snapshot_interval = 50;
        c.raft.log_entries_for_slow_followers = 0;
        // Loading is 100 entries of 1,000 objects (about 1 MiB each); on a loaded machine
        // one can take longer than the default 10 s to commit. Only the install is timed.
        c.propose_timeout = Duration::from_secs(120);
    };
    let mut members = Vec::new();
    for id in 1..=3u64 {
        members.push(
            Member::start(
                id,
                &root.path().join(format!("m{id}")),
                &pki.node_tls("n"),
                tweak,
            )
            .await,
        );
    }
    let voters: BTreeMap<RaftId, _> = members.iter().map(|m| (m.id, m.raft_node())).collect();
    members[0].store.initialize(voters).await.unwrap();
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "election").await;
    let leader = members
        .iter()
        .find(|m| m.id == leader_id)
        .unwrap()
        .store
        .clone();

    let t0 = Instant::now();
    for b in 0..100 {
        let cmds = (0..1000)
            .map(|i| {
                let id = format!("s{b}-{i}");
                ClusterCommand::Create(service(&id, &id).into())
            })
            .collect();
        leader.propose(ClusterCommand::Batch(cmds)).await.unwrap();
    }
    println!(
        "loaded 100,000 services in 100 batches in {:?}",
        t0.elapsed()
    );
    // A trigger while a build is running is ignored: re-trigger until the snapshot covers
    // every write.
    let metrics = leader.metrics();
    let target = leader.applied_index();
    let deadline = Instant::now() + Duration::from_secs(300);
    while metrics.borrow().snapshot.map(|s| s.index).unwrap_or(0) < target {
        assert!(
            Instant::now() < deadline,
            "no snapshot covering index {target}"
        );
        leader.trigger_snapshot().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let m4 = Member::start(4, &root.path().join("m4"), &pki.node_tls("n4"), tweak).await;
    let t0 = Instant::now();
    leader.add_learner(4, m4.raft_node()).await.unwrap();
    wait_for(
        Duration::from_secs(300),
        "new member has 100k services",
        || (m4.store.read(|s| s.services().len()) == 100_000).then_some(()),
    )
    .await;
    println!(
        "snapshot install of 100,000 objects on a new member: {:?} (leader: state copy for \
         its snapshot held applies for at most {:?})",
        t0.elapsed(),
        leader.write_stats().snapshot_copy_max
    );
    leader
        .change_voters(BTreeSet::from([1, 2, 3, 4]))
        .await
        .unwrap();

    members.push(m4);
    for mut m in members {
        m.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly with --ignored --nocapture"]
async fn failover_with_default_ticks() {
    let pki = Pki::new("bench-ca");
    let root = tempfile::tempdir().unwrap();
    let mut members = Vec::new();
    for id in 1..=3u64 {
        let dir = root.path().join(format!("m{id}"));
        // StoreConfig::new defaults: 100 ms tick, ElectionTick 10, HeartbeatTick 1.
        members.push(
            Member::start(id, &dir, &pki.node_tls("n"), |c| {
                c.tick = shoal_raft::StoreConfig::new(0, "", "").tick;
            })
            .await,
        );
    }
    let voters: BTreeMap<RaftId, _> = members.iter().map(|m| (m.id, m.raft_node())).collect();
    members[0].store.initialize(voters).await.unwrap();
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "election").await;
    let li = members.iter().position(|m| m.id == leader_id).unwrap();
    members[li]
        .store
        .propose(ClusterCommand::Create(node("n1", "h").into()))
        .await
        .unwrap();

    let t0 = Instant::now();
    members[li].stop().await;
    let survivor = members.iter().find(|m| m.id != leader_id).unwrap();
    let mut i = 0;
    loop {
        i += 1;
        let cmd = ClusterCommand::Create(service(&format!("x{i}"), &format!("x{i}")).into());
        if survivor.store.propose_or_forward(cmd).await.is_ok() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no leader");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "failover (100 ms tick): leader stopped -> first write through a survivor {:?}",
        t0.elapsed()
    );
    for mut m in members {
        if m.id != leader_id {
            m.stop().await;
        }
    }
}

/// Leader changes while 64 writers run for `SHOAL_BENCH_LOADED_SECS` (default 20) seconds
/// beside a CPU hog (two busy threads), with Docker's default timing (100 ms tick).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run explicitly with --ignored --nocapture"]
async fn leader_changes_under_load() {
    let secs = env_usize("SHOAL_BENCH_LOADED_SECS", 20);
    let pki = Pki::new("bench-ca");
    let root = tempfile::tempdir().unwrap();
    let members = start_cluster(&pki, root.path(), 3).await;
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "election").await;
    let terms = |ms: &[Member]| -> Vec<u64> {
        ms.iter()
            .map(|m| m.store.metrics().borrow().current_term)
            .collect()
    };
    let start_terms = terms(&members);
    let leader = Arc::new(
        members
            .iter()
            .find(|m| m.id == leader_id)
            .unwrap()
            .store
            .clone(),
    );

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(secs as u64);
    let mut handles = Vec::new();
    for w in 0..64 {
        let l = leader.clone();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut i) = (0u64, 0u64, 0u64);
            while Instant::now() < deadline {
                i += 1;
                let id = format!("l{w}-{i}");
                match l
                    .propose(ClusterCommand::Create(service(&id, &id).into()))
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(_) => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for h in handles {
        let (o, f) = h.await.unwrap();
        ok += o;
        failed += f;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in hogs {
        h.join().unwrap();
    }
    let end_terms = terms(&members);
    let changes = end_terms
        .iter()
        .zip(&start_terms)
        .map(|(e, s)| e - s)
        .max()
        .unwrap_or(0);
    println!(
        "loaded run: {secs} s, 64 writers + 2 busy threads: {ok} writes ({:.0}/s), {failed} failed, \
         term changes {changes} (terms {start_terms:?} -> {end_terms:?}), leader now {:?}",
        ok as f64 / secs as f64,
        members[0].store.leader().map(|l| l.id),
    );
    print_stats(&WriteStats::default(), &leader.write_stats());
    for mut m in members {
        m.stop().await;
    }
}
