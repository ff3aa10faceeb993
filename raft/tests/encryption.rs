//! Encryption at rest: with a data encryption key nothing a member writes to disk (log,
//! state tree, snapshot files) shows the cluster's data in plaintext, reading back through
//! the store works, and a wrong or missing key fails cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Member, Pki, node, wait_for};
use shoal_raft::{StoreError, ValueCipher};
use shoal_scheduler::model::*;

const MARKER: &str = "plaintext-marker-7f3e9a";

/// Every byte of every file under `dir`, concatenated.
fn raw_bytes(dir: &Path) -> Vec<u8> {
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

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn cipher() -> (Arc<ValueCipher>, [u8; 32]) {
    let key = ValueCipher::generate_key().unwrap();
    (Arc::new(ValueCipher::new(&key).unwrap()), key)
}

/// Runs one member, writes a node carrying the marker label, snapshots, and stops it.
async fn write_marker(dir: &Path, pki: &Pki, cipher: Option<Arc<ValueCipher>>) {
    let tls = pki.node_tls("m1");
    let mut m = Member::start(1, dir, &tls, |c| c.cipher = cipher).await;
    m.store
        .initialize(BTreeMap::from([(1, m.raft_node())]))
        .await
        .unwrap();
    let store = m.store.clone();
    wait_for(Duration::from_secs(10), "leader", || {
        store.is_leader().then_some(())
    })
    .await;
    let mut n = node("n1", "host-1");
    n.spec.labels.insert("secret".into(), MARKER.into());
    m.store
        .propose(ClusterCommand::Create(n.into()))
        .await
        .unwrap();
    m.store.trigger_snapshot().await.unwrap();
    let store = m.store.clone();
    wait_for(Duration::from_secs(10), "snapshot file", || {
        (store.snapshot_files().unwrap() > 0).then_some(())
    })
    .await;
    m.stop().await;
}

#[tokio::test]
async fn encrypted_store_hides_data_on_disk_and_reads_it_back() {
    let pki = Pki::new("enc-ca");
    let td = tempfile::tempdir().unwrap();
    let (c, key) = cipher();
    write_marker(td.path(), &pki, Some(c)).await;
    let raw = raw_bytes(td.path());
    assert!(!raw.is_empty());
    assert!(!contains(&raw, MARKER), "marker found in plaintext on disk");

    // The same key reads everything back.
    let tls = pki.node_tls("m1");
    let again = Arc::new(ValueCipher::new(&key).unwrap());
    let mut m = Member::start(1, td.path(), &tls, |c| c.cipher = Some(again)).await;
    let label = m.store.read(|s| {
        s.nodes()
            .get(&NodeId::new("n1"))
            .and_then(|n| n.spec.labels.get("secret").cloned())
    });
    assert_eq!(label.as_deref(), Some(MARKER));
    m.stop().await;
    drop(m);

    // A wrong key, or none, fails cleanly.
    let wrong = cipher().0;
    let mut cfg = common::config(1, "127.0.0.1:1", td.path());
    cfg.cipher = Some(wrong);
    let err = shoal_raft::ClusterStore::open(cfg.clone(), &tls)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Encryption(_)), "{err}");
    assert!(
        err.to_string().contains("wrong data encryption key"),
        "{err}"
    );
    cfg.cipher = None;
    let err = shoal_raft::ClusterStore::open(cfg, &tls).await.unwrap_err();
    assert!(matches!(err, StoreError::Encryption(_)), "{err}");
}

/// A store written before its data key existed (plaintext) is encrypted on the next start
/// with a key: afterwards no file under it shows the data, and everything reads back.
#[tokio::test]
async fn plaintext_store_is_encrypted_on_the_next_start() {
    // The control: without a key the same write is visible on disk, so the scans here
    // really look where the data goes.
    let pki = Pki::new("plain-ca");
    let td = tempfile::tempdir().unwrap();
    write_marker(td.path(), &pki, None).await;
    assert!(contains(&raw_bytes(td.path()), MARKER));

    let (c, key) = cipher();
    let tls = pki.node_tls("m1");
    let mut m = Member::start(1, td.path(), &tls, |cfg| cfg.cipher = Some(c)).await;
    let label = |m: &Member| {
        m.store.read(|s| {
            s.nodes()
                .get(&NodeId::new("n1"))
                .and_then(|n| n.spec.labels.get("secret").cloned())
        })
    };
    assert_eq!(label(&m).as_deref(), Some(MARKER));
    let store = m.store.clone();
    wait_for(Duration::from_secs(10), "leader after encrypting", || {
        store.is_leader().then_some(())
    })
    .await;
    m.store
        .propose(ClusterCommand::Create(node("n2", "host-2").into()))
        .await
        .unwrap();
    m.stop().await;
    drop((m, store));
    assert!(
        !contains(&raw_bytes(td.path()), MARKER),
        "plaintext left on disk after encrypting the store"
    );

    // Now it is an encrypted store: the key reads it, no key is refused.
    let again = Arc::new(ValueCipher::new(&key).unwrap());
    let mut m = Member::start(1, td.path(), &tls, |cfg| cfg.cipher = Some(again)).await;
    assert_eq!(label(&m).as_deref(), Some(MARKER));
    assert_eq!(m.store.read(|s| s.nodes().len()), 2);
    m.stop().await;
    drop(m);
    let cfg = common::config(1, "127.0.0.1:1", td.path());
    let err = shoal_raft::ClusterStore::open(cfg, &tls).await.unwrap_err();
    assert!(matches!(err, StoreError::Encryption(_)), "{err}");
}
