//! Several in-process `ClusterService` nodes on loopback addresses: init, join (worker and
//! managers), node list, a refused token, a caller without a certificate, promote/demote,
//! leader failover and a restart from disk. Cluster logic only: no containers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use shoal_node::cluster::manager::ManagerCtx;
use shoal_node::cluster::{ClusterError, ClusterService, HostDescription, InitParams, JoinParams};
use shoal_scheduler::model::ClusterSpec;
use shoal_scheduler::model::node::{NodeAvailability, NodeRole, NodeState, Reachability};

struct TestNode {
    svc: ClusterService,
    addr: String,
    _dir: tempfile::TempDir,
}

fn free_addr(ip: &str) -> String {
    let l = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    l.local_addr().unwrap().to_string()
}

fn node(ip: &str, name: &str) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let host = HostDescription {
        hostname: name.into(),
        ..Default::default()
    };
    TestNode {
        svc: ClusterService::new(dir.path(), host),
        addr: free_addr(ip),
        _dir: dir,
    }
}

async fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast_spec() -> ClusterSpec {
    let mut spec = ClusterSpec::default();
    // Short heartbeats keep promotions and liveness quick in tests.
    spec.dispatcher.heartbeat_period_ns = 300_000_000;
    spec
}

async fn join(n: &TestNode, token: &str, manager: &str) -> Result<(), ClusterError> {
    n.svc
        .join(JoinParams {
            listen_addr: n.addr.clone(),
            advertise_addr: n.addr.clone(),
            remote_addrs: vec![manager.to_owned()],
            token: token.to_owned(),
            availability: None,
        })
        .await
}

fn mgr(n: &TestNode) -> std::sync::Arc<ManagerCtx> {
    n.svc.manager().expect("a manager")
}

fn ready_count(m: &ManagerCtx) -> usize {
    m.nodes()
        .iter()
        .filter(|n| n.status.state == NodeState::Ready)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_lifecycle_on_loopback() {
    let n1 = node("127.0.0.1", "n1");
    let n2 = node("127.0.0.2", "n2");
    let n3 = node("127.0.0.3", "n3");
    let n4 = node("127.0.0.4", "n4");

    let id1 = n1
        .svc
        .init(InitParams {
            listen_addr: n1.addr.clone(),
            advertise_addr: n1.addr.clone(),
            force_new_cluster: false,
            spec: fast_spec(),
            availability: Some(NodeAvailability::Pause),
        })
        .await
        .unwrap();
    assert_eq!(n1.svc.status().state, "active");
    assert!(matches!(
        n1.svc.init(InitParams::default()).await,
        Err(ClusterError::AlreadyInSwarm)
    ));
    let m1 = mgr(&n1);
    // `docker swarm init --availability pause`.
    assert_eq!(
        m1.find_node(&id1).unwrap().spec.availability,
        NodeAvailability::Pause
    );
    let tokens = m1.cluster().unwrap().root_ca.join_tokens.clone();

    // A wrong secret with the right CA digest is refused with dockerd's text.
    let bad = format!(
        "{}-{}",
        tokens.worker.rsplit_once('-').unwrap().0,
        "0".repeat(25)
    );
    let err = join(&n4, &bad, &n1.addr).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster"
    );
    assert_eq!(n4.svc.status().state, "inactive");

    // A caller without a certificate gets nothing from the dispatcher or from Raft.
    let ca = m1.cluster().unwrap().root_ca.ca_cert_pem.clone();
    let ch = shoal_node::cluster::join::channel(&n1.addr, &ca, None).unwrap();
    let err = shoal_node::cluster::pb::cluster_client::ClusterClient::new(ch.clone())
        .heartbeat(shoal_node::cluster::pb::Msg {
            data: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
    let err = shoal_raft::network::pb::raft_client::RaftClient::new(ch)
        .vote(shoal_raft::network::pb::Json {
            data: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");

    // A worker and two managers join (one manager through a follower... after it exists).
    join(&n2, &tokens.worker, &n1.addr).await.unwrap();
    join(&n3, &tokens.manager, &n1.addr).await.unwrap();
    join(&n4, &tokens.manager, &n3.addr).await.unwrap();
    assert!(!n2.svc.status().control_available);
    assert!(matches!(
        n2.svc.manager(),
        Err(ClusterError::NotManagerWorker)
    ));
    wait("4 ready nodes", || ready_count(&m1) == 4).await;
    let m3 = mgr(&n3);
    wait("n3 to see 4 nodes and one leader", || {
        let nodes = m3.nodes();
        nodes.len() == 4
            && nodes
                .iter()
                .filter(|n| n.manager_status.as_ref().is_some_and(|m| m.leader))
                .count()
                == 1
    })
    .await;
    let leader = m3.find_node(&id1).unwrap();
    assert!(leader.manager_status.unwrap().leader);
    assert_eq!(n1.svc.status().managers, Some(3));

    // Promote the worker; demote a manager.
    let id2 = n2.svc.status().node_id;
    let w = m1.find_node(&id2).unwrap();
    let mut spec = w.spec.clone();
    spec.role = NodeRole::Manager;
    m1.update_node(&id2, w.meta.version.index, spec)
        .await
        .unwrap();
    wait("n2 to become a manager", || n2.svc.manager().is_ok()).await;
    wait("n2 reachable", || {
        m1.find_node(&id2)
            .unwrap()
            .manager_status
            .is_some_and(|m| m.reachability == Reachability::Reachable)
    })
    .await;
    let id4 = n4.svc.status().node_id;
    let w = m1.find_node(&id4).unwrap();
    let mut spec = w.spec.clone();
    spec.role = NodeRole::Worker;
    m1.update_node(&id4, w.meta.version.index, spec)
        .await
        .unwrap();
    wait("n4 to become a worker", || {
        n4.svc.manager().is_err() && m1.find_node(&id4).unwrap().role == NodeRole::Worker
    })
    .await;

    // A stale version is refused.
    let stale = m1.find_node(&id4).unwrap();
    let mut spec = stale.spec.clone();
    spec.labels.insert("a".into(), "b".into());
    m1.update_node(&id4, stale.meta.version.index, spec.clone())
        .await
        .unwrap();
    assert!(matches!(
        m1.update_node(&id4, stale.meta.version.index, spec).await,
        Err(ClusterError::OutOfSequence)
    ));

    // The leader goes away: a write through a surviving manager succeeds.
    n1.svc.shutdown().await;
    // The sled database closes with its last handle; the restart below reopens it.
    drop(m1);
    let m2 = mgr(&n2);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = m2.find_node(&id4).unwrap();
        let mut spec = n.spec.clone();
        spec.labels.insert("after".into(), "failover".into());
        match m2.update_node(&id4, n.meta.version.index, spec).await {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "no write after failover: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait("n1 down and unreachable", || {
        let n = m2.find_node(&id1).unwrap();
        n.status.state == NodeState::Down
            && n.manager_status
                .is_some_and(|m| m.reachability == Reachability::Unreachable)
    })
    .await;

    // n1 restarts from disk and rejoins by itself.
    n1.svc.restore().await.unwrap();
    wait("n1 ready again", || {
        m2.find_node(&id1).unwrap().status.state == NodeState::Ready
    })
    .await;
    let m1 = mgr(&n1);
    wait("n1 caught up", || {
        m1.find_node(&id4)
            .is_ok_and(|n| n.spec.labels.contains_key("after"))
    })
    .await;

    // The worker leaves; a manager needs --force.
    n4.svc.leave(false).await.unwrap();
    assert_eq!(n4.svc.status().state, "inactive");
    assert!(matches!(
        n3.svc.leave(false).await,
        Err(ClusterError::Unavailable(_))
    ));
    for n in [&n1, &n2, &n3] {
        n.svc.shutdown().await;
    }
}
