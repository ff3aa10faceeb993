//! Autolock and `--force-new-cluster` on in-process `ClusterService` nodes: a restarted
//! autolocked manager stays locked until unlocked with the right key, and one surviving
//! manager recovers the cluster's state as a new single-manager cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use shoal_node::cluster::{ClusterError, ClusterService, HostDescription, InitParams, JoinParams};
use shoal_scheduler::model::ClusterSpec;
use shoal_scheduler::model::node::{NodeRole, NodeState};

struct TestNode {
    svc: ClusterService,
    addr: String,
    dir: tempfile::TempDir,
}

fn node(ip: &str, name: &str) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let l = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let host = HostDescription {
        hostname: name.into(),
        ..Default::default()
    };
    TestNode {
        svc: ClusterService::new(dir.path(), host),
        addr,
        dir,
    }
}

async fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autolock_and_force_new_cluster() {
    let n1 = node("127.0.0.1", "n1");
    let n2 = node("127.0.0.2", "n2");
    let n3 = node("127.0.0.3", "n3");
    let mut spec = ClusterSpec::default();
    spec.dispatcher.heartbeat_period_ns = 300_000_000;
    spec.encryption.auto_lock_managers = true;
    let id1 = n1
        .svc
        .init(InitParams {
            listen_addr: n1.addr.clone(),
            advertise_addr: n1.addr.clone(),
            force_new_cluster: false,
            spec,
            availability: None,
        })
        .await
        .unwrap();
    let m1 = n1.svc.manager().unwrap();
    let key = m1.unlock_key().unwrap().expect("autolock key");
    let token = m1.cluster().unwrap().root_ca.join_tokens.manager.clone();
    for n in [&n2, &n3] {
        n.svc
            .join(JoinParams {
                listen_addr: n.addr.clone(),
                advertise_addr: n.addr.clone(),
                remote_addrs: vec![n1.addr.clone()],
                token: token.clone(),
                availability: None,
            })
            .await
            .unwrap();
    }
    let key_file = n2.dir.path().join("swarm/certificates/swarm-node.key");
    wait("n2's key sealed at rest", || {
        std::fs::read_to_string(&key_file)
            .unwrap()
            .starts_with("SHOAL-SEALED-KEY-1")
    })
    .await;
    // So is its Raft data encryption key.
    let dek_file = n2.dir.path().join("swarm/certificates/swarm-raft.dek");
    wait("n2's raft key sealed at rest", || {
        std::fs::read_to_string(&dek_file).is_ok_and(|t| t.starts_with("SHOAL-SEALED-KEY-1"))
    })
    .await;

    // A restarted manager is locked until unlocked with the right key.
    n2.svc.shutdown().await;
    n2.svc.restore().await.unwrap();
    assert_eq!(n2.svc.status().state, "locked");
    assert!(matches!(n2.svc.manager(), Err(ClusterError::Locked)));
    let err = n2
        .svc
        .unlock("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "swarm could not be unlocked: invalid key provided"
    );
    n2.svc.unlock(&key).await.unwrap();
    assert_eq!(n2.svc.status().state, "active");
    let m2 = n2.svc.manager().unwrap();
    wait("n2 to see every node ready", || {
        m2.nodes()
            .iter()
            .filter(|n| n.status.state == NodeState::Ready)
            .count()
            == 3
    })
    .await;

    // A label written before losing two managers survives --force-new-cluster.
    let n = m1.find_node(&id1).unwrap();
    let mut s = n.spec.clone();
    s.labels.insert("keep".into(), MARKER.into());
    m1.update_node(&id1, n.meta.version.index, s).await.unwrap();
    drop(m2);
    n2.svc.shutdown().await;
    n3.svc.shutdown().await;
    // Without its quorum the survivor refuses to serve cluster state, as dockerd does.
    wait("the survivor to notice it lost quorum", || {
        m1.check_available().is_err_and(|e| {
            e.to_string()
                .starts_with("The swarm does not have a leader")
        })
    })
    .await;
    drop(m1);
    let id = n1
        .svc
        .init(InitParams {
            force_new_cluster: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(id, id1);
    let m1 = n1.svc.manager().unwrap();
    let nodes = m1.nodes();
    assert_eq!(nodes.len(), 3);
    let me = m1.find_node(&id1).unwrap();
    assert_eq!(me.spec.labels.get("keep").map(String::as_str), Some(MARKER));
    assert!(me.manager_status.unwrap().leader);
    assert_eq!(
        nodes.iter().filter(|n| n.role == NodeRole::Manager).count(),
        1,
        "the lost managers are no longer voters"
    );
    // The recovered cluster takes writes with its single manager.
    let n = m1.find_node(&id1).unwrap();
    let mut s = n.spec.clone();
    s.labels.insert("after".into(), "recovery".into());
    m1.update_node(&id1, n.meta.version.index, s).await.unwrap();
    n1.svc.shutdown().await;
    // The Raft data (current and set-aside) never holds the label in plaintext.
    let raw = raw_bytes(&n1.dir.path().join("swarm"));
    assert!(!raw.is_empty());
    assert!(
        !raw.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
        "label value found in plaintext under swarm/"
    );
}

const MARKER: &str = "raft-at-rest-marker-5b1c";

/// Every byte of every file under `dir`.
fn raw_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(raw_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}
