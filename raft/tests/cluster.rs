//! A 3-member cluster in one process over the real tonic + mTLS transport on 127.0.0.1:
//! replication, optimistic concurrency, forwarding, watch, failover, restart from disk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use shoal_raft::{StoreError, WatchItem};
use shoal_scheduler::model::*;

fn svc_ref(id: &str) -> ObjectRef {
    ObjectRef::Service(ServiceId::new(id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicates_rejects_stale_updates_and_forwards() {
    init_tracing();
    let pki = Pki::new("test-ca");
    let root = tempfile::tempdir().unwrap();
    let members = start_cluster(&pki, root.path(), 3).await;
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "initial election").await;
    let leader = members.iter().find(|m| m.id == leader_id).unwrap();
    let follower = members.iter().find(|m| m.id != leader_id).unwrap();

    // A follower watch started before the write sees exactly the write, then its commit.
    let (before, _, mut watch) = follower.store.view_and_watch();
    assert!(before.services().is_empty());

    let applied = leader
        .store
        .propose(ClusterCommand::Create(service("s1", "web").into()))
        .await
        .unwrap();
    assert!(
        matches!(&applied.events[..], [StoreEvent::Created(StoreObject::Service(s))] if s.meta.version.index == applied.index)
    );

    // Every replica applies it with the same version.
    for m in &members {
        let v = wait_for(
            Duration::from_secs(5),
            "replication to every member",
            || {
                m.store.read(|s| {
                    s.services()
                        .get_by_name("web")
                        .map(|s| s.meta.version.index)
                })
            },
        )
        .await;
        assert_eq!(v, applied.index, "member {} has a different version", m.id);
    }
    // Skip commits of entries applied before the write (the new leader's blank entry).
    let mut created = false;
    loop {
        let item = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .unwrap()
            .unwrap();
        match item {
            WatchItem::Event(StoreEvent::Created(StoreObject::Service(s))) => {
                assert_eq!(s.id, ServiceId::new("s1"));
                created = true;
            }
            WatchItem::Event(StoreEvent::Commit { index }) if index == applied.index => break,
            WatchItem::Event(StoreEvent::Commit { index }) => {
                assert!(index < applied.index && !created)
            }
            other => panic!("unexpected watch item {other:?}"),
        }
    }
    assert!(created, "watch missed the create");

    // Optimistic concurrency: the second update from the same read is out of sequence.
    let read = follower
        .store
        .read(|s| s.services().get(&ServiceId::new("s1")).cloned())
        .unwrap();
    let mut upd = read.clone();
    upd.spec.labels.insert("tier".into(), "front".into());
    leader
        .store
        .propose(ClusterCommand::Update(upd.into()))
        .await
        .unwrap();
    let mut stale = read;
    stale.spec.labels.insert("tier".into(), "back".into());
    let err = leader
        .store
        .propose(ClusterCommand::Update(stale.clone().into()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfSequence(_)), "{err:?}");
    assert_eq!(err.to_string(), "update out of sequence");

    // A follower refuses to propose and names the leader...
    let err = follower
        .store
        .propose(ClusterCommand::Delete(svc_ref("s1")))
        .await
        .unwrap_err();
    match err {
        StoreError::NotLeader { leader: Some(l) } => {
            assert_eq!(l.id, leader_id);
            assert_eq!(l.node.unwrap().addr, leader.addr);
        }
        other => panic!("expected NotLeader, got {other:?}"),
    }
    // ...and forwards over the transport; rejections travel back typed.
    let err = follower
        .store
        .propose_or_forward(ClusterCommand::Update(stale.into()))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "update out of sequence");
    let applied = follower
        .store
        .propose_or_forward(ClusterCommand::Delete(svc_ref("s1")))
        .await
        .unwrap();
    assert!(matches!(&applied.events[..], [StoreEvent::Deleted(_)]));

    // Linearizable read on the leader; followers refuse it.
    leader.store.ensure_linearizable().await.unwrap();
    assert!(leader.store.read(|s| s.services().is_empty()));
    assert!(matches!(
        follower.store.ensure_linearizable().await,
        Err(StoreError::NotLeader { .. })
    ));

    for mut m in members {
        m.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_and_restart_from_disk() {
    init_tracing();
    let pki = Pki::new("test-ca");
    let root = tempfile::tempdir().unwrap();
    let mut members = start_cluster(&pki, root.path(), 3).await;
    let all: Vec<_> = members.iter().collect();
    let leader_id = wait_leader(&all, "initial election").await;
    let li = members.iter().position(|m| m.id == leader_id).unwrap();

    let batch = ClusterCommand::Batch(vec![
        ClusterCommand::Create(node("n1", "host-1").into()),
        ClusterCommand::Create(service("s1", "web").into()),
    ]);
    let applied = members[li].store.propose(batch).await.unwrap();
    for m in &members {
        wait_for(Duration::from_secs(5), "batch replicated", || {
            (m.store.applied_index() >= applied.index).then_some(())
        })
        .await;
    }

    // Kill the leader; a write through a survivor must succeed once a new leader is elected.
    let started = Instant::now();
    members[li].stop().await;
    let survivor = members.iter().find(|m| m.id != leader_id).unwrap();
    let mut upd = survivor
        .store
        .read(|s| s.nodes().get(&NodeId::new("n1")).cloned())
        .unwrap();
    upd.spec.availability = node::NodeAvailability::Drain;
    let applied2 = loop {
        match survivor
            .store
            .propose_or_forward(ClusterCommand::Update(upd.clone().into()))
            .await
        {
            Ok(a) => break a,
            Err(StoreError::NotLeader { .. } | StoreError::Unavailable(_)) => {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "no leader after 10 s"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("unexpected error during failover: {e:?}"),
        }
    };
    let failover = started.elapsed();
    println!(
        "failover: leader stopped -> first successful write through a survivor in {failover:?}"
    );
    assert!(
        failover < Duration::from_secs(5),
        "failover took {failover:?}"
    );
    let survivors: Vec<_> = members.iter().filter(|m| m.id != leader_id).collect();
    let new_leader = wait_leader(&survivors, "new leader among survivors").await;
    assert_ne!(new_leader, leader_id);

    // Restart the old leader from its sled directory on the same address. Dropping the old
    // handle releases the sled lock, as a process exit would.
    let old = members.remove(li);
    let (id, addr, dir) = (old.id, old.addr.clone(), old.dir.clone());
    drop(old);
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    let restarted = Member::start_on(
        listener,
        config(id, &addr, &dir),
        &pki.node_tls("node-restarted"),
    )
    .await;
    // Everything it had applied before it stopped is there straight from disk...
    let (has_service, has_node) = restarted.store.read(|s| {
        (
            s.services().get_by_name("web").is_some(),
            s.nodes().get(&NodeId::new("n1")).is_some(),
        )
    });
    assert!(
        has_service && has_node,
        "committed state missing after restart"
    );
    // ...and it catches up with what was committed while it was down.
    let drained = wait_for(
        Duration::from_secs(10),
        "restarted member catches up",
        || {
            restarted.store.read(|s| {
                s.nodes()
                    .get(&NodeId::new("n1"))
                    .filter(|n| n.meta.version.index == applied2.index)
                    .map(|n| n.spec.availability)
            })
        },
    )
    .await;
    assert_eq!(drained, node::NodeAvailability::Drain);
    members.push(restarted);

    for mut m in members {
        m.stop().await;
    }
}
