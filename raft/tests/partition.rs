//! A leader cut off from the other managers: the majority elects a new leader and keeps
//! accepting writes, the isolated manager refuses writes with a clear error, and after the
//! partition heals it steps down and catches up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use shoal_raft::StoreError;
use shoal_scheduler::model::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_leader_refuses_writes_and_catches_up_after_heal() {
    init_tracing();
    let pki = Pki::new("ca");
    let root = tempfile::tempdir().unwrap();
    let mut members = start_cluster(&pki, root.path(), 3).await;
    let all: Vec<_> = members.iter().collect();
    let old_leader = wait_leader(&all, "initial election").await;
    let li = members.iter().position(|m| m.id == old_leader).unwrap();
    members[li]
        .store
        .propose(ClusterCommand::Create(service("s1", "before").into()))
        .await
        .unwrap();

    isolate(&members, li);
    let majority: Vec<_> = members.iter().filter(|m| m.id != old_leader).collect();
    let started = Instant::now();
    let applied = loop {
        let cmd = ClusterCommand::Create(service("s2", "during").into());
        match majority[0].store.propose_or_forward(cmd).await {
            Ok(a) => break a,
            Err(StoreError::NotLeader { .. } | StoreError::Unavailable(_)) => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "majority never recovered"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    };
    println!(
        "majority accepted a write {:?} after the partition",
        started.elapsed()
    );
    let new_leader = wait_leader(&majority, "new leader in the majority").await;
    assert_ne!(new_leader, old_leader);

    // The isolated manager still thinks it leads, but refuses writes promptly and clearly.
    let t = Instant::now();
    let err = members[li]
        .store
        .propose(ClusterCommand::Create(service("s3", "isolated").into()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("no quorum"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "refusal took {:?}",
        t.elapsed()
    );
    assert!(
        members[li]
            .store
            .read(|s| s.services().get_by_name("during").is_none())
    );

    heal(&members, li);
    let all: Vec<_> = members.iter().collect();
    let leader = wait_leader(&all, "everyone follows the new leader after healing").await;
    assert_eq!(leader, new_leader);
    wait_for(Duration::from_secs(10), "healed manager catches up", || {
        members[li]
            .store
            .read(|s| {
                s.services()
                    .get_by_name("during")
                    .map(|s| s.meta.version.index)
            })
            .filter(|v| *v == applied.index)
    })
    .await;
    assert!(
        members[li]
            .store
            .read(|s| s.services().get_by_name("isolated").is_none())
    );

    for m in &mut members {
        m.stop().await;
    }
}
