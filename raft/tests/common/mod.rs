//! Test harness: a cluster CA with node certificates, and in-process members serving the
//! real tonic + mTLS transport on 127.0.0.1.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use shoal_raft::storage::StorageOptions;
use shoal_raft::{ClusterStore, RaftId, RaftNode, StoreConfig, TlsConfig};
use shoal_scheduler::model::*;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A cluster root CA able to issue node certificates.
pub struct Pki {
    ca_pem: String,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca_pem: cert.pem(),
            ca_params: params,
            ca_key: key,
        }
    }

    /// A manager certificate (SAN `swarm-manager`, CN = node id) and the CA, as a TLS config.
    pub fn node_tls(&self, node_id: &str) -> TlsConfig {
        self.tls_with_role(node_id, "swarm-manager")
    }

    /// A certificate of this CA carrying role `ou` (`swarm-manager` or `swarm-worker`).
    pub fn tls_with_role(&self, node_id: &str, ou: &str) -> TlsConfig {
        let mut params = CertificateParams::new(vec!["swarm-manager".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, node_id);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, ou);
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        TlsConfig::from_pem(cert.pem(), key.serialize_pem(), self.ca_pem.clone())
    }
}

/// One running member: the store plus its gRPC server.
pub struct Member {
    pub store: ClusterStore,
    pub id: RaftId,
    pub addr: String,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

pub fn config(id: RaftId, addr: &str, dir: &Path) -> StoreConfig {
    let mut c = StoreConfig::new(id, addr, dir);
    // The default 100 ms tick: heartbeats every 100 ms, a dead leader noticed after ~1.1-1.2 s.
    c.tick = Duration::from_millis(100);
    c.storage = StorageOptions::default();
    c
}

impl Member {
    /// Starts a member on `listener` with the given config.
    pub async fn start_on(listener: TcpListener, config: StoreConfig, tls: &TlsConfig) -> Self {
        let addr = config.addr.clone();
        let dir = config.data_dir.clone();
        let id = config.id;
        // A store stopped just before may still hold its sled lock for a moment (sled's
        // flusher thread lets go of the database on its next wake-up), as a process that
        // is still exiting would.
        let deadline = Instant::now() + Duration::from_secs(10);
        let store = loop {
            match ClusterStore::open(config.clone(), tls).await {
                Ok(s) => break s,
                Err(shoal_raft::StoreError::Db(e))
                    if e.to_string().contains("could not acquire lock")
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("open store: {e:?}"),
            }
        };
        let (tx, rx) = oneshot::channel::<()>();
        let tls2 = tls.clone();
        let s2 = store.clone();
        let server = tokio::spawn(async move {
            shoal_raft::network::serve(listener, &tls2, s2, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        Self {
            store,
            id,
            addr,
            dir,
            stop: Some(tx),
            server: Some(server),
        }
    }

    /// Starts a member with a fresh port.
    pub async fn start(
        id: RaftId,
        dir: &Path,
        tls: &TlsConfig,
        tweak: impl FnOnce(&mut StoreConfig),
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut c = config(id, &addr, dir);
        tweak(&mut c);
        Self::start_on(listener, c, tls).await
    }

    /// Stops Raft and the server, keeping the data directory.
    pub async fn stop(&mut self) {
        self.store.shutdown().await.expect("raft shutdown");
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.abort();
            let _ = h.await;
        }
    }

    pub fn raft_node(&self) -> RaftNode {
        RaftNode::new(self.addr.clone())
    }
}

/// Polls `f` every 20 ms until it returns `Some`, or panics with `why` after `timeout`.
pub async fn wait_for<T>(timeout: Duration, why: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {why}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every running member agrees on one leader among them; returns its id.
pub async fn wait_leader(members: &[&Member], why: &str) -> RaftId {
    wait_for(Duration::from_secs(10), why, || {
        let leaders: Vec<_> = members
            .iter()
            .map(|m| m.store.leader().map(|l| l.id))
            .collect();
        let first = leaders.first().copied().flatten()?;
        let agreed = leaders.iter().all(|l| *l == Some(first));
        let is_member = members.iter().any(|m| m.id == first && m.store.is_leader());
        (agreed && is_member).then_some(first)
    })
    .await
}

/// Starts `n` members (ids 1..=n) and initializes them as one cluster.
pub async fn start_cluster(pki: &Pki, root: &Path, n: u64) -> Vec<Member> {
    let mut members = Vec::new();
    for id in 1..=n {
        let dir = root.join(format!("m{id}"));
        members.push(Member::start(id, &dir, &pki.node_tls(&format!("node{id}")), |_| {}).await);
    }
    let voters: BTreeMap<RaftId, RaftNode> =
        members.iter().map(|m| (m.id, m.raft_node())).collect();
    members[0]
        .store
        .initialize(voters)
        .await
        .expect("initialize");
    members
}

pub fn ts(n: i64) -> Timestamp {
    Timestamp(n)
}

pub fn service(id: &str, name: &str) -> Service {
    Service::new(
        ServiceId::new(id),
        ServiceSpec {
            name: name.into(),
            task_template: TaskSpec {
                container: task::ContainerSpec {
                    image: "busybox".into(),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        },
        ts(1),
    )
}

pub fn node(id: &str, hostname: &str) -> Node {
    Node {
        id: NodeId::new(id),
        meta: Meta::new(ts(1)),
        spec: NodeSpec {
            name: hostname.into(),
            ..Default::default()
        },
        role: node::NodeRole::Manager,
        description: None,
        status: Default::default(),
        manager_status: None,
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Cuts member `i` off from every other member in both directions (fault injection).
pub fn isolate(members: &[Member], i: usize) {
    for (j, m) in members.iter().enumerate() {
        if j != i {
            members[i].store.network().block(&m.addr);
            m.store.network().block(&members[i].addr);
        }
    }
}

/// Undoes [`isolate`].
pub fn heal(members: &[Member], i: usize) {
    for (j, m) in members.iter().enumerate() {
        if j != i {
            members[i].store.network().unblock(&m.addr);
            m.store.network().unblock(&members[i].addr);
        }
    }
}
