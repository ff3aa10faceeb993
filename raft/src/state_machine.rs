//! The Raft state machine: [`ClusterState`] in memory, mirrored object by object in sled.
//!
//! Every `apply` call writes the changed objects, `last_applied` and `last_membership` in one
//! sled batch, so what is on disk is always the state as of exactly `last_applied`. It is not
//! flushed per apply: after a crash the log (flushed on append) is re-applied from there.
//! Before a snapshot is built the database is flushed, because once a snapshot exists openraft
//! may purge the log entries the on-disk state would otherwise need.
//!
//! After apply, events go out on a broadcast channel while the write lock is still held, so a
//! watcher that takes the read lock to copy the state and subscribe sees no gap and no
//! duplicate (see [`crate::watch`]).
//!
//! With a [`ValueCipher`] every value of the `state` tree is encrypted (keys, which are kind
//! and ID, stay plaintext so the tree can still be scanned by prefix).

use std::io::Cursor;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StorageIOError};
use shoal_scheduler::model::{ClusterState, ObjectRef, StoreEvent, StoreObject};
use tokio::sync::broadcast;

use crate::cipher::{ValueCipher, open_opt, seal_opt};
use crate::snapshot::{SnapshotDir, decode_state, encode_state};
use crate::types::{Response, TypeConfig, typ};

const OBJ_PREFIX: &[u8] = b"o/";
const LAST_APPLIED: &[u8] = b"m/last_applied";
const MEMBERSHIP: &[u8] = b"m/membership";

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
}

impl Shared {
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

fn obj_key(r: &ObjectRef) -> Vec<u8> {
    let mut k = OBJ_PREFIX.to_vec();
    k.extend_from_slice(r.kind().as_str().as_bytes());
    k.push(b'/');
    k.extend_from_slice(r.id_str().as_bytes());
    k
}

/// Encodes a state-tree value (encrypted when a cipher is set).
fn json<T: serde::Serialize>(cipher: Option<&ValueCipher>, v: &T) -> Result<Vec<u8>> {
    let plain = serde_json::to_vec(v).map_err(|e| StorageIOError::write_state_machine(&e))?;
    seal_opt(cipher, plain).map_err(|e| StorageIOError::write_state_machine(&e).into())
}

/// Decodes a state-tree value written by [`json`].
fn from_json<T: serde::de::DeserializeOwned>(
    cipher: Option<&ValueCipher>,
    raw: &[u8],
) -> Result<T> {
    let plain = open_opt(cipher, raw).map_err(|e| StorageIOError::read_state_machine(&e))?;
    serde_json::from_slice(&plain).map_err(|e| StorageIOError::read_state_machine(&e).into())
}

impl StateMachine {
    /// Loads the state machine from `db` (tree `state`) and the snapshot directory.
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
        let mut state = ClusterState::default();
        for item in tree.scan_prefix(OBJ_PREFIX) {
            let (_, v) = item.map_err(|e| StorageIOError::read_state_machine(&e))?;
            let obj: StoreObject = from_json(c, &v)?;
            state.put(obj);
        }
        let read = |k: &[u8]| -> Result<Option<sled::IVec>> {
            tree.get(k)
                .map_err(|e| StorageIOError::read_state_machine(&e).into())
        };
        let last_applied = match read(LAST_APPLIED)? {
            Some(v) => from_json(c, &v)?,
            None => None,
        };
        let last_membership = match read(MEMBERSHIP)? {
            Some(v) => from_json(c, &v)?,
            None => typ::StoredMembership::default(),
        };
        let (events, _) = broadcast::channel(event_capacity.max(1));
        let inner = Inner {
            state,
            last_applied,
            last_membership,
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
        let (state, last_applied, last_membership) = {
            let i = self.shared.read();
            (i.state.clone(), i.last_applied, i.last_membership.clone())
        };
        // The on-disk state must be at least as new as the snapshot before logs are purged.
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
            Ok(data)
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?
        .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        tracing::info!(
            raft.index = meta.last_log_id.map(|l| l.index),
            bytes = data.len(),
            "snapshot built"
        );
        Ok(typ::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<typ::LogId>, typ::StoredMembership)> {
        let i = self.shared.read();
        Ok((i.last_applied, i.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>>
    where
        I: IntoIterator<Item = typ::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let c = self.shared.cipher.as_deref();
        let mut inner = self.shared.write();
        let mut batch = sled::Batch::default();
        let mut events = Vec::new();
        let mut replies = Vec::new();
        for ent in entries {
            let index = ent.log_id.index;
            inner.last_applied = Some(ent.log_id);
            let result = match ent.payload {
                EntryPayload::Blank => Ok(Vec::new()),
                EntryPayload::Normal(req) => inner.state.apply(index, req.command),
                EntryPayload::Membership(m) => {
                    inner.last_membership = typ::StoredMembership::new(Some(ent.log_id), m);
                    Ok(Vec::new())
                }
            };
            if let Ok(evs) = &result {
                for ev in evs {
                    match ev {
                        StoreEvent::Created(o) | StoreEvent::Updated { new: o, .. } => {
                            batch.insert(obj_key(&o.object_ref()), json(c, o)?)
                        }
                        StoreEvent::Deleted(o) => batch.remove(obj_key(&o.object_ref())),
                        StoreEvent::Commit { .. } => {}
                    }
                }
                events.extend(evs.iter().cloned());
            }
            events.push(StoreEvent::Commit { index });
            replies.push(Response { result });
        }
        batch.insert(LAST_APPLIED, json(c, &inner.last_applied)?);
        batch.insert(MEMBERSHIP, json(c, &inner.last_membership)?);
        self.shared
            .tree
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        for ev in events {
            // No receiver is fine: nobody is watching.
            let _ = self.shared.events.send(WatchMsg::Event(ev));
        }
        drop(inner);
        Ok(replies)
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
        let (state, data) =
            tokio::task::spawn_blocking(move || decode_state(&data).map(|s| (s, data)))
                .await
                .map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?
                .map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?;

        // Replace the on-disk state in one atomic batch: drop every old object, write the new.
        let c = self.shared.cipher.as_deref();
        let mut batch = sled::Batch::default();
        for k in self.shared.tree.scan_prefix(OBJ_PREFIX).keys() {
            batch.remove(k.map_err(|e| StorageIOError::write_state_machine(&e))?);
        }
        for obj in state.all_objects() {
            batch.insert(obj_key(&obj.object_ref()), json(c, &obj)?);
        }
        batch.insert(LAST_APPLIED, json(c, &meta.last_log_id)?);
        batch.insert(MEMBERSHIP, json(c, &meta.last_membership)?);

        let (keep_old, objects) = {
            let mut inner = self.shared.write();
            self.shared
                .tree
                .apply_batch(batch)
                .map_err(|e| StorageIOError::write_state_machine(&e))?;
            let keep_old = self.shared.keep_old(&state);
            let objects = state.object_count();
            inner.state = state;
            inner.last_applied = meta.last_log_id;
            inner.last_membership = meta.last_membership.clone();
            let _ = self.shared.events.send(WatchMsg::Reset);
            (keep_old, objects)
        };

        self.shared
            .db
            .flush_async()
            .await
            .map_err(|e| StorageIOError::write_state_machine(&e))?;
        let seq = self.shared.snapshots.next_seq();
        self.shared
            .snapshots
            .save(meta, &data, seq, keep_old)
            .map_err(|e| StorageIOError::write_snapshot(sig, &e))?;
        tracing::info!(
            raft.index = meta.last_log_id.map(|l| l.index),
            objects,
            "snapshot installed"
        );
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<typ::Snapshot>> {
        let current = self
            .shared
            .snapshots
            .load_current()
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(current.map(|(meta, data)| typ::Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
