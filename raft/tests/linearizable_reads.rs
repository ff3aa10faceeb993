//! Linearizable reads: a read through `read_linearizable` on any member sees every write
//! acknowledged before it (read index from the leader, then wait for the local apply), and
//! a member cut off from the quorum refuses instead of answering from stale state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use shoal_raft::StoreError;
use shoal_scheduler::model::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_followers_see_acknowledged_writes_and_isolated_members_refuse() {
    init_tracing();
    let pki = Pki::new("ca");
    let root = tempfile::tempdir().unwrap();
    let mut members = start_cluster(&pki, root.path(), 3).await;
    let all: Vec<_> = members.iter().collect();
    let leader = wait_leader(&all, "initial election").await;
    let li = members.iter().position(|m| m.id == leader).unwrap();

    // Each write is followed at once by a read on the other members: no polling, the read
    // itself must wait for what was acknowledged.
    for i in 0..30 {
        let id = format!("s{i}");
        let writer = &members[i % 3].store;
        writer
            .propose_or_forward(ClusterCommand::Create(service(&id, &id).into()))
            .await
            .unwrap();
        for m in &members {
            let seen = m
                .store
                .read_linearizable(|s| s.services().get(&ServiceId::new(&id)).is_some())
                .await
                .unwrap();
            assert!(seen, "member {} did not see acknowledged write {id}", m.id);
        }
    }

    // A follower cut off from everyone: its linearizable read fails, its plain read is stale.
    let fi = (li + 1) % 3;
    isolate(&members, fi);
    let leader_store = members[li].store.clone();
    leader_store
        .propose(ClusterCommand::Create(service("late", "late").into()))
        .await
        .unwrap();
    let err = members[fi]
        .store
        .read_linearizable(|s| s.services().len())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Unavailable(_) | StoreError::NotLeader { leader: None }
        ),
        "{err:?}"
    );
    assert!(
        members[fi]
            .store
            .read(|s| s.services().get(&ServiceId::new("late")).is_none()),
        "isolated follower cannot have the write"
    );
    heal(&members, fi);
    let seen = wait_for_async(Duration::from_secs(20), || {
        let s = members[fi].store.clone();
        async move {
            s.read_linearizable(|st| st.services().get(&ServiceId::new("late")).is_some())
                .await
                .ok()
                .filter(|seen| *seen)
        }
    })
    .await;
    assert!(seen);
    for m in &mut members {
        m.stop().await;
    }
}

/// Polls an async check every 50 ms until it yields `Some`, or panics after `timeout`.
async fn wait_for_async<T, F, Fut>(timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
