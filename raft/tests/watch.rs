//! Watch semantics on a single-member cluster: events in order after the copy, and a
//! watcher that falls behind the bounded channel gets a full resync instead of a gap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use shoal_raft::WatchItem;
use shoal_scheduler::model::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_watcher_resyncs_with_full_state() {
    init_tracing();
    let pki = Pki::new("ca");
    let root = tempfile::tempdir().unwrap();
    let mut m = Member::start(1, &root.path().join("m1"), &pki.node_tls("n1"), |c| {
        c.storage.event_capacity = 4;
    })
    .await;
    m.store
        .initialize(BTreeMap::from([(1, m.raft_node())]))
        .await
        .unwrap();
    wait_leader(&[&m], "single member leads").await;

    let (state, index, mut watch) = m.store.view_and_watch();
    assert!(state.services().is_empty());
    let mut last = index;
    for i in 0..10 {
        let id = format!("s{i}");
        last = m
            .store
            .propose(ClusterCommand::Create(service(&id, &id).into()))
            .await
            .unwrap()
            .index;
    }
    // 20 messages (create + commit per write) overflowed a 4-slot channel.
    let item = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap()
        .unwrap();
    match item {
        WatchItem::Resync { state, index } => {
            assert_eq!(state.services().len(), 10);
            assert_eq!(index, last);
        }
        other => panic!("expected a resync, got {other:?}"),
    }
    // After the resync the stream continues with new changes only.
    let applied = m
        .store
        .propose(ClusterCommand::Delete(ObjectRef::Service(ServiceId::new(
            "s0",
        ))))
        .await
        .unwrap();
    let item = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(item, WatchItem::Event(StoreEvent::Deleted(StoreObject::Service(s))) if s.id == ServiceId::new("s0"))
    );
    let item = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(item, WatchItem::Event(StoreEvent::Commit { index }) if index == applied.index)
    );
    m.stop().await;
}
