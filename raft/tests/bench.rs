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
use shoal_raft::{ClusterStore, RaftId};
use shoal_scheduler::model::*;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn report(name: &str, mut lat: Vec<Duration>, total: Duration) {
    lat.sort();
    println!(
        "{name}: n={} p50={:?} p99={:?} max={:?} -> {:.0} writes/s",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat[lat.len() - 1],
        lat.len() as f64 / total.as_secs_f64()
    );
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
    let n = 2000;
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

    // Concurrent writers on the leader: openraft batches appends and commits.
    let writers = 64;
    let per = 100;
    let t0 = Instant::now();
    let leader = Arc::new(leader);
    let mut handles = Vec::new();
    for w in 0..writers {
        let l = leader.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for i in 0..per {
                let id = format!("c{w}-{i}");
                lat.push(timed(&l, ClusterCommand::Create(service(&id, &id).into()), false).await);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    report(
        &format!("{writers} concurrent writers on the leader"),
        lat,
        t0.elapsed(),
    );

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
    leader.trigger_snapshot().await.unwrap();
    let metrics = leader.metrics();
    let target = leader.applied_index();
    wait_for(Duration::from_secs(60), "final snapshot", || {
        (metrics.borrow().snapshot.map(|s| s.index).unwrap_or(0) >= target).then_some(())
    })
    .await;

    let m4 = Member::start(4, &root.path().join("m4"), &pki.node_tls("n4"), tweak).await;
    let t0 = Instant::now();
    leader.add_learner(4, m4.raft_node()).await.unwrap();
    wait_for(
        Duration::from_secs(120),
        "new member has 100k services",
        || (m4.store.read(|s| s.services().len()) == 100_000).then_some(()),
    )
    .await;
    println!(
        "snapshot install of 100,000 objects on a new member: {:?}",
        t0.elapsed()
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
