//! The state machine on its own: apply results, rejected commands, the state a reopen
//! starts from (the newest snapshot; openraft re-applies the log above it), and snapshot
//! build/install replacing it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{node, service, ts};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership, RaftSnapshotBuilder};
use shoal_raft::storage::{StorageOptions, open_storage};
use shoal_raft::types::{Proposal, Request, typ};
use shoal_scheduler::model::*;

fn log_id(index: u64) -> typ::LogId {
    LogId::new(CommittedLeaderId::new(1, 1), index)
}

fn normal(index: u64, command: ClusterCommand) -> typ::Entry {
    typ::Entry {
        log_id: log_id(index),
        payload: EntryPayload::Normal(Request::single(command, 1, Timestamp(0))),
    }
}

#[tokio::test]
async fn apply_results_and_snapshot_reload_exactly() {
    let td = tempfile::tempdir().unwrap();
    {
        let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        let entries = vec![
            typ::Entry {
                log_id: log_id(1),
                payload: EntryPayload::Blank,
            },
            typ::Entry {
                log_id: log_id(2),
                payload: EntryPayload::Membership(Membership::new(vec![BTreeSet::from([1])], ())),
            },
            normal(3, ClusterCommand::Create(service("s1", "web").into())),
            normal(4, ClusterCommand::Create(service("s2", "web").into())), // name conflict
            normal(5, ClusterCommand::Create(node("n1", "h").into())),
            normal(
                6,
                ClusterCommand::Delete(ObjectRef::Node(NodeId::new("n1"))),
            ),
        ];
        let replies = sm.apply(entries).await.unwrap();
        assert_eq!(replies.len(), 6);
        assert!(replies[0].result.as_ref().unwrap().is_empty());
        assert!(matches!(
            replies[3].result,
            Err(ApplyError::NameConflict { .. })
        ));
        let (applied, membership) = sm.applied_state().await.unwrap();
        assert_eq!(applied, Some(log_id(6)));
        assert_eq!(membership.log_id(), &Some(log_id(2)));
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
    }
    let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
    let (applied, membership) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(6)));
    assert_eq!(membership.log_id(), &Some(log_id(2)));
    let (svc_version, nodes, services) = sm.read(|s| {
        (
            s.services()
                .get_by_name("web")
                .map(|s| (s.id.clone(), s.meta.version.index)),
            s.nodes().len(),
            s.services().len(),
        )
    });
    assert_eq!(svc_version, Some((ServiceId::new("s1"), 3)));
    assert_eq!((nodes, services), (0, 1));
}

#[tokio::test]
async fn installed_snapshot_replaces_persisted_state() {
    // Source: a state machine with s1 and s2, snapshotted.
    let src_dir = tempfile::tempdir().unwrap();
    let (_l, mut src) = open_storage(src_dir.path(), StorageOptions::default()).unwrap();
    src.apply(vec![
        normal(1, ClusterCommand::Create(service("s1", "a").into())),
        normal(2, ClusterCommand::Create(service("s2", "b").into())),
    ])
    .await
    .unwrap();
    let snap = src
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snap.meta.last_log_id, Some(log_id(2)));

    // Target: has an unrelated object that the snapshot must remove.
    let dst_dir = tempfile::tempdir().unwrap();
    {
        let (_l, mut dst) = open_storage(dst_dir.path(), StorageOptions::default()).unwrap();
        dst.apply(vec![normal(
            1,
            ClusterCommand::Create(node("old", "h").into()),
        )])
        .await
        .unwrap();
        dst.install_snapshot(&snap.meta, snap.snapshot)
            .await
            .unwrap();
        assert_eq!(dst.read(|s| (s.nodes().len(), s.services().len())), (0, 2));
        let current = dst.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta.snapshot_id, snap.meta.snapshot_id);
    }
    let (_l, mut dst) = open_storage(dst_dir.path(), StorageOptions::default()).unwrap();
    assert_eq!(dst.applied_state().await.unwrap().0, Some(log_id(2)));
    assert_eq!(dst.read(|s| (s.nodes().len(), s.services().len())), (0, 2));
}

#[tokio::test]
async fn data_dir_is_bound_to_one_member() {
    let td = tempfile::tempdir().unwrap();
    {
        let (log, _sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        log.check_owner(1).unwrap();
        log.check_owner(1).unwrap();
    }
    let (log, _sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
    let err = log.check_owner(2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid raft config: data directory belongs to raft member 1, not 2"
    );
}

/// Proposals coalesced into one entry apply one by one: a rejected one ("update out of
/// sequence", a name conflict) gets its own error and the others still apply.
#[tokio::test]
async fn batched_proposals_get_their_own_results() {
    let td = tempfile::tempdir().unwrap();
    let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
    sm.apply(vec![normal(
        1,
        ClusterCommand::Create(service("s1", "web").into()),
    )])
    .await
    .unwrap();
    let mut stale = service("s1", "web");
    stale.meta.version = Version { index: 0 };
    let mut req = Request::single(ClusterCommand::Create(service("s2", "db").into()), 1, ts(0));
    for command in [
        ClusterCommand::Update(stale.into()),
        ClusterCommand::Create(service("s3", "db").into()), // name taken by s2 just before
        ClusterCommand::Create(service("s4", "cache").into()),
    ] {
        req.batched.push(Proposal {
            command,
            proposer: 2,
            proposed_at: ts(0),
        });
    }
    let replies = sm
        .apply(vec![typ::Entry {
            log_id: log_id(2),
            payload: EntryPayload::Normal(req),
        }])
        .await
        .unwrap();
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    assert_eq!(r.result.as_ref().unwrap().len(), 1, "s2 created");
    assert_eq!(r.batched.len(), 3);
    assert!(matches!(
        r.batched[0],
        Err(ApplyError::OutOfSequence { .. })
    ));
    assert!(matches!(r.batched[1], Err(ApplyError::NameConflict { .. })));
    assert!(r.batched[2].is_ok(), "s4 created");
    let ids: Vec<String> = sm.read(|s| s.services().iter().map(|s| s.id.to_string()).collect());
    assert_eq!(ids.len(), 3, "s1, s2, s4: {ids:?}");
}

/// A log entry written before proposal batching (no `batched` field) still decodes.
#[test]
fn entry_of_the_previous_format_decodes() {
    let old = include_str!("fixtures/entry-v0.json");
    let e: typ::Entry = serde_json::from_str(old).unwrap();
    let EntryPayload::Normal(req) = e.payload else {
        panic!("normal entry expected");
    };
    assert!(req.batched.is_empty());
    assert_eq!(req.proposals(), 1);
    assert!(matches!(req.command, ClusterCommand::Create(_)));
}
