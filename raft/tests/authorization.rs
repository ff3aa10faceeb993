//! Raft RPC authorization beyond the certificate: a member cannot pose as another, and a
//! removed member is refused by every RPC although its certificate is still valid.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use shoal_raft::network::PeerAuth;
use shoal_raft::network::pb::{self, raft_client::RaftClient};
use shoal_raft::types::{Request, typ};
use shoal_raft::{ClusterStore, RaftId, RaftNode};
use shoal_scheduler::model::*;

/// Test certificates are named `node<raft id>`.
fn auth() -> PeerAuth {
    PeerAuth {
        raft_id_of: Some(Arc::new(|cn: &str| {
            cn.strip_prefix("node")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        })),
        check: None,
    }
}

async fn raw_propose(
    from: &ClusterStore,
    to: &str,
    proposer: RaftId,
    id: &str,
) -> Result<(), tonic::Status> {
    let req = Request::single(
        ClusterCommand::Create(service(id, id).into()),
        proposer,
        Timestamp(0),
    );
    let data = serde_json::to_vec(&req).unwrap();
    let mut c = RaftClient::new(from.network().channel(to).unwrap());
    c.propose(pb::Json { data }).await.map(|_| ())
}

async fn raw_vote(from: &ClusterStore, to: &str, candidate: RaftId) -> Result<(), tonic::Status> {
    let rpc = typ::VoteRequest::new(openraft::Vote::new(1000, candidate), None);
    let data = serde_json::to_vec(&rpc).unwrap();
    let mut c = RaftClient::new(from.network().channel(to).unwrap());
    c.vote(pb::Json { data }).await.map(|_| ())
}

fn denied(res: Result<(), tonic::Status>, what: &str, text: &str) {
    let s = res.expect_err(what);
    assert_eq!(s.code(), tonic::Code::PermissionDenied, "{what}: {s:?}");
    assert!(s.message().contains(text), "{what}: {}", s.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impostors_and_removed_members_are_refused() {
    init_tracing();
    let pki = Pki::new("ca");
    let root = tempfile::tempdir().unwrap();
    let mut members = Vec::new();
    for id in 1..=3u64 {
        let dir = root.path().join(format!("m{id}"));
        let tls = pki.node_tls(&format!("node{id}"));
        members.push(Member::start(id, &dir, &tls, |c| c.peer_auth = auth()).await);
    }
    let voters: BTreeMap<RaftId, RaftNode> =
        members.iter().map(|m| (m.id, m.raft_node())).collect();
    members[0].store.initialize(voters).await.unwrap();
    let all: Vec<_> = members.iter().collect();
    let leader = wait_leader(&all, "election").await;
    let li = members.iter().position(|m| m.id == leader).unwrap();
    let leader_addr = members[li].addr.clone();
    let others: Vec<usize> = (0..3).filter(|i| *i != li).collect();
    let (a, b) = (&members[others[0]], &members[others[1]]);

    // A member proposing as itself is fine; as another member it is refused.
    raw_propose(&a.store, &leader_addr, a.id, "own")
        .await
        .unwrap();
    denied(
        raw_propose(&a.store, &leader_addr, b.id, "impostor").await,
        "proposal posing as another member",
        "does not allow acting as raft member",
    );
    denied(
        raw_vote(&a.store, &leader_addr, b.id).await,
        "vote posing as another member",
        "does not allow acting as raft member",
    );
    assert!(
        members[li]
            .store
            .read(|s| s.services().get(&ServiceId::new("impostor")).is_none())
    );

    // Remove b: with its still-valid certificate it is refused everywhere.
    let (b_id, b_store) = (b.id, b.store.clone());
    members[li].store.remove_member(b_id).await.unwrap();
    let ls = members[li].store.clone();
    wait_for(
        Duration::from_secs(10),
        "removal applied on the leader",
        || ls.removed_members().contains(&b_id).then_some(()),
    )
    .await;
    denied(
        raw_propose(&b_store, &leader_addr, b_id, "removed").await,
        "proposal from a removed member",
        "was removed",
    );
    denied(
        raw_vote(&b_store, &leader_addr, b_id).await,
        "vote from a removed member",
        "was removed",
    );
    let mut c = RaftClient::new(b_store.network().channel(&leader_addr).unwrap());
    denied(
        c.read_index(pb::Json { data: Vec::new() })
            .await
            .map(|_| ()),
        "read index from a removed member",
        "was removed",
    );
    // The remaining members still work together.
    let a_store = members[others[0]].store.clone();
    a_store
        .propose_or_forward(ClusterCommand::Create(service("after", "after").into()))
        .await
        .unwrap();
    for m in &mut members {
        m.stop().await;
    }
}
