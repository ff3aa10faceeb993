//! The Raft log and vote on sled.
//!
//! Two trees of the store's one sled database: `raft_log` holds entries keyed by big-endian
//! index (so key order is log order), `raft_meta` holds the vote, the committed log id and the
//! last purged log id. Durability: the database is flushed before `save_vote` returns and
//! before the `LogFlushed` callback of an append fires, as openraft requires; a flush covers
//! the state-machine tree too, since they share the database.
//!
//! With a [`ValueCipher`], entry values are encrypted (they carry cluster objects); keys and
//! the `raft_meta` values (vote, log ids, owner) stay plaintext.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cipher::{ValueCipher, open_opt, seal_opt};
use crate::error::StoreError;
use crate::types::{RaftId, TypeConfig, typ};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";
const OWNER: &[u8] = b"owner";

type Result<T> = std::result::Result<T, typ::StorageError>;

/// The sled-backed [`RaftLogStorage`]. Cloning shares the same trees (used as the log reader).
#[derive(Debug, Clone)]
pub struct LogStore {
    db: sled::Db,
    logs: sled::Tree,
    meta: sled::Tree,
    cipher: Option<Arc<ValueCipher>>,
}

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn encode<T: Serialize>(v: &T) -> std::result::Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(v)
}

impl LogStore {
    /// Opens (creating if needed) the log trees of `db`; entries are encrypted with `cipher`
    /// when given.
    pub fn open(
        db: &sled::Db,
        cipher: Option<Arc<ValueCipher>>,
    ) -> std::result::Result<Self, sled::Error> {
        Ok(Self {
            db: db.clone(),
            logs: db.open_tree("raft_log")?,
            meta: db.open_tree("raft_meta")?,
            cipher,
        })
    }

    /// Decodes one stored entry value.
    fn decode_entry(&self, raw: &[u8]) -> std::io::Result<typ::Entry> {
        let plain = open_opt(self.cipher.as_deref(), raw).map_err(std::io::Error::other)?;
        serde_json::from_slice(&plain).map_err(std::io::Error::other)
    }

    /// Encodes one entry for storage.
    fn encode_entry(&self, entry: &typ::Entry) -> std::io::Result<Vec<u8>> {
        let plain = encode(entry).map_err(std::io::Error::other)?;
        seal_opt(self.cipher.as_deref(), plain).map_err(std::io::Error::other)
    }

    /// Binds the log to Raft member `id` on first use, and refuses a log written by another
    /// member: votes and entries are only meaningful for the id that wrote them.
    ///
    /// Errors: [`StoreError::InvalidConfig`] on a mismatch, [`StoreError::Storage`] on I/O.
    pub fn check_owner(&self, id: RaftId) -> std::result::Result<(), StoreError> {
        match self.read_meta::<RaftId>(OWNER)? {
            Some(owner) if owner == id => Ok(()),
            Some(owner) => Err(StoreError::InvalidConfig(format!(
                "data directory belongs to raft member {owner}, not {id}"
            ))),
            None => {
                self.write_meta(OWNER, &id)?;
                self.db.flush()?;
                Ok(())
            }
        }
    }

    fn read_meta<T: DeserializeOwned>(&self, k: &[u8]) -> Result<Option<T>> {
        let Some(raw) = self.meta.get(k).map_err(|e| StorageIOError::read(&e))? else {
            return Ok(None);
        };
        serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| StorageIOError::read(&e).into())
    }

    fn write_meta<T: Serialize>(&self, k: &[u8], v: &T) -> Result<()> {
        let raw = encode(v).map_err(|e| StorageIOError::write(&e))?;
        self.meta
            .insert(k, raw)
            .map_err(|e| StorageIOError::write(&e))?;
        Ok(())
    }

    async fn flush(&self) -> std::result::Result<(), sled::Error> {
        self.db.flush_async().await.map(|_| ())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<typ::Entry>> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        for item in self.logs.range(key(start)..) {
            let (k, v) = item.map_err(|e| StorageIOError::read_logs(&e))?;
            let idx = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| {
                StorageIOError::read_logs(&std::io::Error::other("malformed log key"))
            })?);
            if !range.contains(&idx) {
                break;
            }
            let entry = self
                .decode_entry(&v)
                .map_err(|e| StorageIOError::read_log_at_index(idx, &e))?;
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        let last_purged_log_id: Option<typ::LogId> = self.read_meta(LAST_PURGED)?;
        let last = match self
            .logs
            .last()
            .map_err(|e| StorageIOError::read_logs(&e))?
        {
            Some((_, v)) => {
                let e = self
                    .decode_entry(&v)
                    .map_err(|e| StorageIOError::read_logs(&e))?;
                Some(e.log_id)
            }
            None => None,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last.or(last_purged_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &typ::Vote) -> Result<()> {
        self.write_meta(VOTE, vote)?;
        self.flush()
            .await
            .map_err(|e| StorageIOError::write_vote(&e))?;
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<typ::Vote>> {
        self.read_meta(VOTE)
    }

    // Persisting `committed` lets a restarted member re-apply committed entries at once
    // instead of waiting for the leader. It is flushed with the next append or vote.
    async fn save_committed(&mut self, committed: Option<typ::LogId>) -> Result<()> {
        self.write_meta(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<typ::LogId>> {
        Ok(self.read_meta::<Option<typ::LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = typ::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = sled::Batch::default();
        for entry in entries {
            let raw = self
                .encode_entry(&entry)
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            batch.insert(&key(entry.log_id.index), raw);
        }
        self.logs
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        // Entries are readable now; they are durable once the flush completes.
        let res = self.flush().await.map_err(std::io::Error::other);
        callback.log_io_completed(res);
        Ok(())
    }

    async fn truncate(&mut self, log_id: typ::LogId) -> Result<()> {
        tracing::debug!(raft.index = log_id.index, "truncate log");
        let mut batch = sled::Batch::default();
        for item in self.logs.range(key(log_id.index)..) {
            let (k, _) = item.map_err(|e| StorageIOError::write_logs(&e))?;
            batch.remove(k);
        }
        self.logs
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn purge(&mut self, log_id: typ::LogId) -> Result<()> {
        tracing::debug!(raft.index = log_id.index, "purge log");
        // Record the purge point first, so a crash in between never leaves a hole unexplained.
        self.write_meta(LAST_PURGED, &log_id)?;
        self.flush().await.map_err(|e| StorageIOError::write(&e))?;
        let mut batch = sled::Batch::default();
        for item in self.logs.range(..=key(log_id.index)) {
            let (k, _) = item.map_err(|e| StorageIOError::write_logs(&e))?;
            batch.remove(k);
        }
        self.logs
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
