//! Snapshots: built on the interval, pruned to KeepOldSnapshots, and installed on a new
//! member whose missing log entries were already purged on the leader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use shoal_raft::RaftId;
use shoal_scheduler::model::*;

fn small_snapshots(c: &mut shoal_raft::StoreConfig) {
    c.raft.snapshot_interval = 20;
    c.raft.log_entries_for_slow_followers = 0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_member_catches_up_through_snapshot_install() {
    init_tracing();
    let pki = Pki::new("test-ca");
    let root = tempfile::tempdir().unwrap();
    let mut members = Vec::new();
    for id in 1..=3u64 {
        let dir = root.path().join(format!("m{id}"));
        members.push(
            Member::start(
                id,
                &dir,
                &pki.node_tls(&format!("node{id}")),
                small_snapshots,
            )
            .await,
        );
    }
    let voters: BTreeMap<RaftId, _> = members.iter().map(|m| (m.id, m.raft_node())).collect();
    members[0].store.initialize(voters).await.unwrap();
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "initial election").await;
    let leader = members.iter().find(|m| m.id == leader_id).unwrap();

    // The replicated cluster spec sets KeepOldSnapshots = 1.
    let mut spec = ClusterSpec::default();
    spec.raft.keep_old_snapshots = 1;
    let cluster = Cluster {
        id: ClusterId::new("c1"),
        meta: Meta::new(ts(1)),
        spec,
        root_ca: Default::default(),
        unlock_keys: vec![],
    };
    leader
        .store
        .propose(ClusterCommand::Create(cluster.into()))
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..80 {
        last = leader
            .store
            .propose(ClusterCommand::Create(
                service(&format!("s{i}"), &format!("web{i}")).into(),
            ))
            .await
            .unwrap()
            .index;
    }

    // The leader has snapshotted and purged the log behind it.
    let metrics = leader.store.metrics();
    wait_for(Duration::from_secs(10), "leader snapshot and purge", || {
        let m = metrics.borrow();
        let snap = m.snapshot.map(|s| s.index).unwrap_or(0);
        let purged = m.purged.map(|p| p.index).unwrap_or(0);
        (snap >= 60 && purged >= 40).then_some(())
    })
    .await;
    let files = wait_for(
        Duration::from_secs(10),
        "old snapshots pruned to 1 + KeepOldSnapshots",
        || {
            let n = leader.store.snapshot_files().unwrap();
            (n == 2).then_some(n)
        },
    )
    .await;
    assert_eq!(files, 2);

    // A fresh member joins as a learner; the purged prefix forces a snapshot install.
    let dir4 = root.path().join("m4");
    let m4 = Member::start(4, &dir4, &pki.node_tls("node4"), small_snapshots).await;
    let started = Instant::now();
    leader.store.add_learner(4, m4.raft_node()).await.unwrap();
    leader
        .store
        .change_voters(BTreeSet::from([1, 2, 3, 4]))
        .await
        .unwrap();
    let count = wait_for(
        Duration::from_secs(10),
        "new member has every service",
        || {
            let n = m4.store.read(|s| s.services().len());
            (n == 80 && m4.store.applied_index() >= last).then_some(n)
        },
    )
    .await;
    println!(
        "learner -> voter caught up ({count} services) in {:?}",
        started.elapsed()
    );
    assert!(
        m4.store.metrics().borrow().snapshot.is_some(),
        "member 4 never installed a snapshot"
    );
    assert!(
        m4.store.snapshot_files().unwrap() >= 1,
        "installed snapshot not kept on disk"
    );
    assert!(
        m4.store
            .read(|s| s.clusters().get_by_name("default").is_some())
    );

    // It is now a voter that receives new writes.
    let voters = leader
        .store
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .collect::<BTreeSet<_>>();
    assert_eq!(voters, BTreeSet::from([1, 2, 3, 4]));
    let idx = leader
        .store
        .propose(ClusterCommand::Delete(ObjectRef::Service(ServiceId::new(
            "s0",
        ))))
        .await
        .unwrap()
        .index;
    wait_for(
        Duration::from_secs(5),
        "new voter applies new writes",
        || (m4.store.applied_index() >= idx).then_some(()),
    )
    .await;
    assert!(
        m4.store
            .read(|s| s.services().get_by_name("web0").is_none())
    );

    // Removing it again leaves three voters and no trace of member 4.
    leader.store.remove_member(4).await.unwrap();
    let listed: Vec<_> = leader
        .store
        .members()
        .into_iter()
        .map(|m| (m.id, m.voter))
        .collect();
    assert_eq!(listed, vec![(1, true), (2, true), (3, true)]);

    members.push(m4);
    for mut m in members {
        m.stop().await;
    }
}
