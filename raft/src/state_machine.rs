//! The Raft state machine: [`ClusterState`] in memory, made durable by the Raft log and
//! snapshot files, as swarmkit's memory store is.
//!
//! `apply` changes memory only: the entries it applies are already flushed in the log, and
//! after a restart openraft re-applies the committed entries above the state's
//! `last_applied`. The state on disk is the newest snapshot file (written and synced before
//! openraft may purge the log entries it covers). Writing every object on every apply, as
//! earlier versions did into the `state` tree, doubled the disk writes of each change.
//!
//! The `state` tree still holds the removed-member list (rarely changed, not part of the
//! snapshot data) and, on a store written by an earlier version, that version's object
//! mirror with its `last_applied`: it is loaded when it is newer than the newest snapshot
//! file and cleared once a snapshot covering it is saved.
//!
//! After apply, events go out on a broadcast channel while the write lock is still held, so a
//! watcher that takes the read lock to copy the state and subscribe sees no gap and no
//! duplicate (see [`crate::watch`]).
//!
//! With a [`ValueCipher`] every value of the `state` tree is encrypted (keys, which are kind
//! and ID, stay plaintext so the tree can still be scanned by prefix), and so are snapshot
//! files.

use std::io::Cursor;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};
use shoal_scheduler::model::{ClusterState, StoreEvent, StoreObject};
use tokio::sync::broadcast;

use crate::cipher::{ValueCipher, open_opt, seal_opt};
use crate::snapshot::{SnapshotDir, decode_state, encode_state};
use crate::stats::WriteCounters;
use crate::types::{RaftId, Response, TypeConfig, typ};

const OBJ_PREFIX: &[u8] = b"o/";
const LAST_APPLIED: &[u8] = b"m/last_applied";
const MEMBERSHIP: &[u8] = b"m/membership";
const REMOVED: &[u8] = b"m/removed";

type Result<T> = std::result::Result<T, typ::StorageError>;

/// What watchers receive: an event, or notice that the state was replaced wholesale (a
/// snapshot was installed) and must be re-read.
// Sent once per event; boxing would add an allocation per event for no benefit.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum WatchMsg {
    Event(StoreEvent),
    Reset,
}

/// The in-memory part, guarded by one lock.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) state: ClusterState,
    pub(crate) last_applied: Option<typ::LogId>,
    pub(crate) last_membership: typ::StoredMembership,
    /// Raft ids that were members and were removed since (swarmkit's removed-node list):
    /// the transport refuses them even with a valid certificate. An id added back leaves it.
    pub(crate) removed: std::collections::BTreeSet<RaftId>,
}

/// Updates the removed-member list for a change from membership `old` to `new`.
fn track_removed(
    removed: &mut std::collections::BTreeSet<RaftId>,
    old: &typ::StoredMembership,
    new: &typ::StoredMembership,
) {
    let now: std::collections::BTreeSet<RaftId> =
        new.membership().nodes().map(|(id, _)| *id).collect();
    for (id, _) in old.membership().nodes() {
        if !now.contains(id) {
            removed.insert(*id);
        }
    }
    removed.retain(|id| !now.contains(id));
}

/// State shared by the state machine, its snapshot builders and [`crate::ClusterStore`].
#[derive(Debug)]
pub(crate) struct Shared {
    inner: RwLock<Inner>,
    pub(crate) events: broadcast::Sender<WatchMsg>,
    db: sled::Db,
    tree: sled::Tree,
    snapshots: SnapshotDir,
    keep_old_default: u64,
    cipher: Option<Arc<ValueCipher>>,
    /// The `state` tree still holds an earlier version's object mirror, to clear once a
    /// snapshot file covers it.
    legacy: std::sync::atomic::AtomicBool,
    pub(crate) stats: Arc<WriteCounters>,
    /// Unit tests only: make the next apply fail after memory was changed.
    #[cfg(test)]
    fail_next_write: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Unit tests inject a write failure here; production builds never fail it.
    fn check_injected_failure(&self) -> Result<()> {
        #[cfg(test)]
        if self
            .fail_next_write
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StorageIOError::write_state_machine(&std::io::Error::other(
                "injected write failure",
            ))
            .into());
        }
        Ok(())
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way later
        // readers would misread more than a crash would, so poisoning is ignored.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// KeepOldSnapshots from the replicated cluster spec, else the configured default.
    fn keep_old(&self, state: &ClusterState) -> u64 {
        state
            .clusters()
            .iter()
            .next()
            .map(|c| c.spec.raft.keep_old_snapshots)
            .unwrap_or(self.keep_old_default)
    }

    /// Flushes the whole database (log and state) to disk.
    pub(crate) async fn flush(&self) -> Result<()> {
        self.db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        Ok(())
    }

    /// Removes an earlier version's object mirror from the `state` tree, once a saved
    /// snapshot file is at least as new (blocking).
    fn clear_legacy(&self) -> std::result::Result<(), sled::Error> {
        if !self.legacy.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for k in self.tree.scan_prefix(OBJ_PREFIX).keys() {
            batch.remove(k?);
        }
        batch.remove(LAST_APPLIED);
        batch.remove(MEMBERSHIP);
        self.tree.apply_batch(batch)?;
        self.legacy
            .store(false, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(
            "object mirror of an earlier version cleared: snapshot files hold the state"
        );
        Ok(())
    }

    /// Number of snapshot files on disk (for tests and metrics).
    pub(crate) fn snapshot_files(&self) -> std::io::Result<usize> {
        self.snapshots.count()
    }
}

/// The sled-backed [`RaftStateMachine`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) shared: Arc<Shared>,
}

/// The key of an object in an earlier version's object mirror (written by tests only now).
#[cfg(test)]
fn obj_key(r: &shoal_scheduler::model::ObjectRef) -> Vec<u8> {
    let mut k = OBJ_PREFIX.to_vec();
    k.extend_from_slice(r.kind().as_str().as_bytes());
    k.push(b'/');
    k.extend_from_slice(r.id_str().as_bytes());
    k
}

/// The encryption context of the state-tree value at `key`.
pub(crate) fn state_context(key: &[u8]) -> Vec<u8> {
    let mut c = b"state/".to_vec();
    c.extend_from_slice(key);
    c
}

/// Encodes the state-tree value stored at `key` (encrypted, bound to `key`, when a cipher
/// is set).
fn json<T: serde::Serialize>(cipher: Option<&ValueCipher>, key: &[u8], v: &T) -> Result<Vec<u8>> {
    let plain = crate::codec::encode(v).map_err(|e| StorageIOError::write_state_machine(&e))?;
    seal_opt(cipher, &state_context(key), plain)
        .map_err(|e| StorageIOError::write_state_machine(&e).into())
}

/// Decodes a state-tree value written by [`json`] at `key`.
fn from_json<T: serde::de::DeserializeOwned>(
    cipher: Option<&ValueCipher>,
    key: &[u8],
    raw: &[u8],
) -> Result<T> {
    let plain = open_opt(cipher, &state_context(key), raw)
        .map_err(|e| StorageIOError::read_state_machine(&e))?;
    crate::codec::decode(&plain).map_err(|e| StorageIOError::read_state_machine(&e).into())
}

impl StateMachine {
    /// Loads the state machine: the newest snapshot file, or the object mirror of the
    /// `state` tree an earlier version wrote when that is newer.
    ///
    /// `keep_old_default` applies until a cluster object carries `KeepOldSnapshots`;
    /// `event_capacity` bounds the watch channel (a slower watcher re-snapshots); values are
    /// encrypted with `cipher` when given.
    pub fn open(
        db: &sled::Db,
        snapshots: SnapshotDir,
        keep_old_default: u64,
        event_capacity: usize,
        cipher: Option<Arc<ValueCipher>>,
    ) -> Result<Self> {
        let c = cipher.as_deref();
        let tree = db
            .open_tree("state")
            .map_err(|e| StorageIOError::read_state_machine(&e))?;
        let read = |k: &[u8]| -> Result<Option<sled::IVec>> {
            tree.get(k)
                .map_err(|e| StorageIOError::read_state_machine(&e).into())
        };
        let legacy_applied: Option<typ::LogId> = match read(LAST_APPLIED)? {
            Some(v) => from_json(c, LAST_APPLIED, &v)?,
            None => None,
        };
        let snapshot = snapshots
            .load_current()
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        let snapshot_applied = snapshot.as_ref().and_then(|(m, _)| m.last_log_id);
        let legacy = legacy_applied.is_some() || tree.scan_prefix(OBJ_PREFIX).next().is_some();
        let (state, last_applied, last_membership) = match snapshot {
            Some((meta, data)) if legacy_applied <= snapshot_applied => {
                let state = decode_state(&data)
                    .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
                (state, meta.last_log_id, meta.last_membership)
            }
            _ => {
                let mut state = ClusterState::default();
                for item in tree.scan_prefix(OBJ_PREFIX) {
                    let (k, v) = item.map_err(|e| StorageIOError::read_state_machine(&e))?;
                    let obj: StoreObject = from_json(c, &k, &v)?;
                    state.put(obj);
                }
                let membership = match read(MEMBERSHIP)? {
                    Some(v) => from_json(c, MEMBERSHIP, &v)?,
                    None => typ::StoredMembership::default(),
                };
                (state, legacy_applied, membership)
            }
        };
        let removed = match read(REMOVED)? {
            Some(v) => from_json(c, REMOVED, &v)?,
            None => Default::default(),
        };
        let (events, _) = broadcast::channel(event_capacity.max(1));
        let inner = Inner {
            state,
            last_applied,
            last_membership,
            removed,
        };
        Ok(Self {
            shared: Arc::new(Shared {
                inner: RwLock::new(inner),
                events,
                db: db.clone(),
                tree,
                snapshots,
                keep_old_default,
                cipher,
                legacy: std::sync::atomic::AtomicBool::new(legacy),
                stats: Arc::default(),
                #[cfg(test)]
                fail_next_write: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }
}

impl StateMachine {
    /// Runs `f` on the current state.
    pub fn read<R>(&self, f: impl FnOnce(&ClusterState) -> R) -> R {
        f(&self.shared.read().state)
    }
}

/// Builds a snapshot from a copy of the state, off the apply path.
#[derive(Debug)]
pub struct SnapshotBuilder {
    shared: Arc<Shared>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<typ::Snapshot> {
        // Copy under the read lock (cheap next to encoding), then encode without it.
        let copy_started = std::time::Instant::now();
        let (state, last_applied, last_membership) = {
            let i = self.shared.read();
            (i.state.clone(), i.last_applied, i.last_membership.clone())
        };
        let copy_took = copy_started.elapsed();
        self.shared.stats.record_snapshot_copy(copy_took);
        // The removed-member list (not in the snapshot) must be durable before openraft may
        // purge the membership entries it was derived from.
        self.shared
            .db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        let seq = self.shared.snapshots.next_seq();
        let snapshot_id = match last_applied {
            Some(l) => format!("{}-{}-{seq}", l.leader_id, l.index),
            None => format!("--{seq}"),
        };
        let meta = typ::SnapshotMeta {
            last_log_id: last_applied,
            last_membership,
            snapshot_id,
        };
        let shared = self.shared.clone();
        let meta2 = meta.clone();
        let data = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let keep_old = shared.keep_old(&state);
            let data = encode_state(&state)?;
            shared.snapshots.save(&meta2, &data, seq, keep_old)?;
            shared.clear_legacy().map_err(std::io::Error::other)?;
            Ok(data)
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(
            raft.index = meta.last_log_id.map(|l| l.index),
            bytes = data.len(),
            copy_ms = copy_took.as_millis(),
            "snapshot built"
        );
        Ok(typ::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

/// What one `apply` call accumulates.
#[derive(Default)]
struct ApplyWork {
    /// The removed-member list changed and must be written.
    removed_changed: bool,
    events: Vec<StoreEvent>,
    replies: Vec<Response>,
    ops: usize,
}

/// Reverts object events already applied to `state`, newest first.
fn undo(state: &mut ClusterState, events: &[StoreEvent]) {
    for ev in events.iter().rev() {
        match ev {
            StoreEvent::Created(o) => {
                state.remove(&o.object_ref());
            }
            StoreEvent::Updated { old, .. } => {
                state.put(old.clone());
            }
            StoreEvent::Deleted(o) => {
                state.put(o.clone());
            }
            StoreEvent::Commit { .. } => {}
        }
    }
}

impl StateMachine {
    /// Applies `entries` to memory, collecting events and replies in `work`.
    fn apply_entries<I: IntoIterator<Item = typ::Entry>>(
        inner: &mut Inner,
        entries: I,
        work: &mut ApplyWork,
    ) {
        for ent in entries {
            let index = ent.log_id.index;
            inner.last_applied = Some(ent.log_id);
            let reply = match ent.payload {
                EntryPayload::Blank => Response::empty(),
                EntryPayload::Normal(req) => {
                    work.ops += req.op_count();
                    let result = Self::apply_command(&mut inner.state, index, req.command, work);
                    let mut batched = Vec::with_capacity(req.batched.len());
                    for p in req.batched {
                        batched.push(Self::apply_command(
                            &mut inner.state,
                            index,
                            p.command,
                            work,
                        ));
                    }
                    Response { result, batched }
                }
                EntryPayload::Membership(m) => {
                    let new = typ::StoredMembership::new(Some(ent.log_id), m);
                    let before = inner.removed.clone();
                    track_removed(&mut inner.removed, &inner.last_membership, &new);
                    work.removed_changed |= inner.removed != before;
                    inner.last_membership = new;
                    Response::empty()
                }
            };
            work.events.push(StoreEvent::Commit { index });
            work.replies.push(reply);
        }
    }

    /// Applies one command (all-or-nothing on its own) and collects its events; an error
    /// is the command's own rejection.
    fn apply_command(
        state: &mut ClusterState,
        index: u64,
        cmd: shoal_scheduler::model::ClusterCommand,
        work: &mut ApplyWork,
    ) -> std::result::Result<Vec<StoreEvent>, shoal_scheduler::model::ApplyError> {
        let result = state.apply(index, cmd);
        if let Ok(evs) = &result {
            work.events.extend(evs.iter().cloned());
        }
        result
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<typ::LogId>, typ::StoredMembership)> {
        let i = self.shared.read();
        Ok((i.last_applied, i.last_membership.clone()))
    }

    #[tracing::instrument(level = "debug", name = "raft.apply", skip_all, fields(entries, ops))]
    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>>
    where
        I: IntoIterator<Item = typ::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let started = std::time::Instant::now();
        let mut inner = self.shared.write();
        let before = (
            inner.last_applied,
            inner.last_membership.clone(),
            inner.removed.clone(),
        );
        let mut work = ApplyWork::default();
        // Memory only: the entries are durable in the log and snapshots carry the state.
        // The one write, the removed-member list after a membership change, is undone from
        // the events if it fails, so memory never runs ahead of what a restart rebuilds.
        Self::apply_entries(&mut inner, entries, &mut work);
        let res = self.shared.check_injected_failure().and_then(|()| {
            if work.removed_changed {
                let c = self.shared.cipher.as_deref();
                self.shared
                    .tree
                    .insert(REMOVED, json(c, REMOVED, &inner.removed)?)
                    .map_err(|e| StorageIOError::write_state_machine(&e))?;
            }
            Ok(())
        });
        if let Err(e) = res {
            undo(&mut inner.state, &work.events);
            (inner.last_applied, inner.last_membership, inner.removed) = before;
            tracing::error!(error = %e, "apply failed; in-memory state rolled back");
            return Err(e);
        }
        let span = tracing::Span::current();
        span.record("entries", work.replies.len());
        span.record("ops", work.ops);
        for ev in work.events {
            // No receiver is fine: nobody is watching.
            let _ = self.shared.events.send(WatchMsg::Event(ev));
        }
        drop(inner);
        self.shared.stats.record_apply(work.ops, started.elapsed());
        Ok(work.replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            shared: self.shared.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &typ::SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<()> {
        let sig = Some(meta.signature());
        let data = snapshot.into_inner();
        let removed = {
            let inner = self.shared.read();
            let mut removed = inner.removed.clone();
            track_removed(&mut removed, &inner.last_membership, &meta.last_membership);
            removed
        };
        // Decoding a large state is a second of CPU or more: on a blocking thread, not on
        // the runtime's workers (which carry this member's heartbeats and RPCs). Only the
        // removed-member list is written to the tree; the snapshot file is the state on disk.
        let shared = self.shared.clone();
        let meta2 = meta.clone();
        let removed2 = removed.clone();
        let (state, data) = tokio::task::spawn_blocking(move || -> Result<_> {
            let state = decode_state(&data)
                .map_err(|e| StorageIOError::read_snapshot(Some(meta2.signature()), &e))?;
            let c = shared.cipher.as_deref();
            shared
                .tree
                .insert(REMOVED, json(c, REMOVED, &removed2)?)
                .map_err(|e| StorageIOError::write_state_machine(&e))?;
            Ok((state, data))
        })
        .await
        .map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))??;
        let keep_old = self.shared.keep_old(&state);
        let objects = state.object_count();
        let old_state = {
            let mut inner = self.shared.write();
            let old = std::mem::replace(&mut inner.state, state);
            inner.last_applied = meta.last_log_id;
            inner.last_membership = meta.last_membership.clone();
            inner.removed = removed;
            let _ = self.shared.events.send(WatchMsg::Reset);
            old
        };
        // Freeing a large state takes a while; not under the lock, not on this task.
        tokio::task::spawn_blocking(move || drop(old_state));

        // Saved before openraft, once this returns, drops the log the snapshot replaces.
        let seq = self.shared.snapshots.next_seq();
        let (shared, meta2) = (self.shared.clone(), meta.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            shared.db.flush().map_err(std::io::Error::other)?;
            shared.snapshots.save(&meta2, &data, seq, keep_old)?;
            shared.clear_legacy().map_err(std::io::Error::other)
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?
        .map_err(|e| StorageIOError::write_snapshot(sig, &e))?;
        tracing::info!(
            raft.index = meta.last_log_id.map(|l| l.index),
            objects,
            "snapshot installed"
        );
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<typ::Snapshot>> {
        // Reading (and decrypting) a large snapshot file is blocking work.
        let shared = self.shared.clone();
        let current = tokio::task::spawn_blocking(move || shared.snapshots.load_current())
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(current.map(|(meta, data)| typ::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{StorageOptions, open_storage};
    use crate::types::Request;
    use openraft::{CommittedLeaderId, LogId};
    use shoal_scheduler::model::{
        ClusterCommand, Meta, Node, NodeId, NodeSpec, Timestamp, node::NodeRole,
    };

    fn entry(index: u64, command: ClusterCommand) -> typ::Entry {
        typ::Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request::single(command, 1, Timestamp(0))),
        }
    }

    fn node(id: &str) -> ClusterCommand {
        ClusterCommand::Create(
            Node {
                id: NodeId::new(id),
                meta: Meta::new(Timestamp(1)),
                spec: NodeSpec::default(),
                role: NodeRole::Manager,
                description: None,
                status: Default::default(),
                manager_status: None,
            }
            .into(),
        )
    }

    /// The object mirror an earlier version wrote in the `state` tree (binary and JSON
    /// values, a JSON `last_applied`) loads; the first snapshot saved afterwards replaces
    /// it, and the next open reads that snapshot.
    #[tokio::test]
    async fn object_mirror_of_earlier_versions_loads_until_a_snapshot_covers_it() {
        let td = tempfile::tempdir().unwrap();
        {
            let (_log, sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
            let tree = &sm.shared.tree;
            for (id, binary) in [("n0", false), ("n1", true)] {
                let ClusterCommand::Create(obj) = node(id) else {
                    unreachable!()
                };
                let v = if binary {
                    crate::codec::encode(&obj).unwrap()
                } else {
                    serde_json::to_vec(&obj).unwrap()
                };
                tree.insert(obj_key(&obj.object_ref()), v).unwrap();
            }
            let last = serde_json::to_vec(&Some(LogId::new(CommittedLeaderId::new(1, 1), 2)));
            tree.insert(LAST_APPLIED, last.unwrap()).unwrap();
            sm.shared.flush().await.unwrap();
        }
        let (log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        assert_eq!(sm.read(|s| s.nodes().len()), 2);
        assert_eq!(
            sm.applied_state().await.unwrap().0.map(|l| l.index),
            Some(2)
        );
        sm.apply(vec![entry(3, node("n3"))]).await.unwrap();
        let snap = sm.get_snapshot_builder().await.build_snapshot().await;
        assert_eq!(snap.unwrap().meta.last_log_id.map(|l| l.index), Some(3));
        assert!(sm.shared.tree.scan_prefix(OBJ_PREFIX).next().is_none());
        assert!(sm.shared.tree.get(LAST_APPLIED).unwrap().is_none());
        drop((sm, log));
        let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        assert_eq!(sm.read(|s| s.nodes().len()), 3);
        assert_eq!(
            sm.applied_state().await.unwrap().0.map(|l| l.index),
            Some(3)
        );
    }

    /// Apply writes no object to disk: a restart without a snapshot starts from nothing
    /// (openraft re-applies the committed log), and one with a snapshot starts from it.
    #[tokio::test]
    async fn restart_state_is_the_newest_snapshot() {
        let td = tempfile::tempdir().unwrap();
        {
            let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
            sm.apply(vec![entry(1, node("n1"))]).await.unwrap();
            assert!(sm.shared.tree.iter().next().is_none(), "nothing written");
        }
        let (log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        assert_eq!(sm.applied_state().await.unwrap().0, None);
        assert_eq!(sm.read(|s| s.nodes().len()), 0);
        sm.apply(vec![entry(1, node("n1")), entry(2, node("n2"))])
            .await
            .unwrap();
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        sm.apply(vec![entry(3, node("n3"))]).await.unwrap();
        drop((sm, log));
        let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        assert_eq!(
            sm.applied_state().await.unwrap().0.map(|l| l.index),
            Some(2)
        );
        assert_eq!(sm.read(|s| s.nodes().len()), 2);
    }

    /// A failed write leaves memory exactly as it was: all or nothing.
    #[tokio::test]
    async fn failed_write_rolls_memory_back() {
        let td = tempfile::tempdir().unwrap();
        let (_log, mut sm) = open_storage(td.path(), StorageOptions::default()).unwrap();
        sm.apply(vec![entry(1, node("n1"))]).await.unwrap();
        let before = sm.read(|s| s.clone());
        let (mut watch_state, _, mut watch) = crate::watch::view_and_watch(&sm.shared);
        sm.shared
            .fail_next_write
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let deleted =
            ClusterCommand::Delete(shoal_scheduler::model::ObjectRef::Node(NodeId::new("n1")));
        assert!(
            sm.apply(vec![entry(2, node("n2")), entry(3, deleted)])
                .await
                .is_err()
        );
        assert_eq!(sm.read(|s| s.clone()), before, "memory rolled back");
        assert_eq!(
            sm.applied_state().await.unwrap().0.map(|l| l.index),
            Some(1)
        );
        // Nothing was published for the failed write; the retry applies normally.
        sm.apply(vec![entry(2, node("n2"))]).await.unwrap();
        match watch.next().await {
            Some(crate::watch::WatchItem::Event(StoreEvent::Created(o))) => {
                assert_eq!(o.object_ref().id_str(), "n2");
                watch_state.put(o);
            }
            other => panic!("expected the retried create, got {other:?}"),
        }
        assert_eq!(watch_state, sm.read(|s| s.clone()));
    }
}
