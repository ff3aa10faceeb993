//! The transport is mutual TLS only: a peer with a certificate from another CA, or no TLS at
//! all, gets nothing; a peer with a cluster certificate reaches the service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use shoal_raft::network::Network;
use shoal_raft::network::pb::Json;
use shoal_raft::network::pb::raft_client::RaftClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_cluster_certificates_get_through() {
    init_tracing();
    let pki = Pki::new("cluster-ca");
    let root = tempfile::tempdir().unwrap();
    let mut m = Member::start(1, &root.path().join("m1"), &pki.node_tls("node1"), |_| {}).await;
    m.store
        .initialize(BTreeMap::from([(1, m.raft_node())]))
        .await
        .unwrap();

    // A cluster certificate reaches the handler (which rejects the junk payload).
    let good = Network::new(&pki.node_tls("node2"));
    let err = RaftClient::new(good.channel(&m.addr).unwrap())
        .vote(Json {
            data: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");

    // A worker's certificate from the same CA is refused: only managers run Raft.
    let worker = Network::new(&pki.tls_with_role("worker1", "swarm-worker"));
    let err = RaftClient::new(worker.channel(&m.addr).unwrap())
        .vote(Json {
            data: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");

    // A certificate from another CA never gets past the handshake.
    let other = Pki::new("other-ca");
    let bad = Network::new(&other.node_tls("intruder"));
    let err = RaftClient::new(bad.channel(&m.addr).unwrap())
        .vote(Json {
            data: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_ne!(
        err.code(),
        tonic::Code::InvalidArgument,
        "foreign certificate reached the handler: {err:?}"
    );

    // Plaintext HTTP/2 gets nothing either.
    let plain = tonic::transport::Endpoint::from_shared(format!("http://{}", m.addr))
        .unwrap()
        .connect_lazy();
    let err = RaftClient::new(plain)
        .vote(Json {
            data: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_ne!(
        err.code(),
        tonic::Code::InvalidArgument,
        "plaintext reached the handler: {err:?}"
    );

    m.stop().await;
}
