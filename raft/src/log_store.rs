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
//!
//! The newest entries are also kept in memory ([`RecentEntries`]): the leader reads every
//! entry back once per follower to replicate it and every member once more to apply it,
//! and serving those reads from memory spares a decode (and decryption) each time.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cipher::{ValueCipher, open_opt, seal_opt};
use crate::error::StoreError;
use crate::stats::WriteCounters;
use crate::types::{RaftId, TypeConfig, typ};

const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const LAST_PURGED: &[u8] = b"last_purged";
const OWNER: &[u8] = b"owner";
/// A log flush slower than this is logged: it delays every write behind it.
const SLOW_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// Most encoded bytes of entries kept in memory (a few seconds of writes at full speed:
/// replication and apply read far behind the newest entry only when a follower lags).
const RECENT_BYTES: usize = 32 * 1024 * 1024;

type Result<T> = std::result::Result<T, typ::StorageError>;

/// The newest log entries, contiguous, ending at the last entry of the log (when not
/// empty): every append adds to the back, truncation and purges cut both the log and this.
#[derive(Debug, Default)]
struct RecentEntries {
    /// Entries with their encoded size.
    entries: VecDeque<(typ::Entry, usize)>,
    bytes: usize,
}

/// Which end of [`RecentEntries`] to drop from.
#[derive(Clone, Copy)]
enum End {
    Front,
    Back,
}

impl RecentEntries {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn last_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.log_id.index)
    }

    fn pop(&mut self, end: End) {
        let popped = match end {
            End::Front => self.entries.pop_front(),
            End::Back => self.entries.pop_back(),
        };
        if let Some((_, n)) = popped {
            self.bytes -= n;
        }
    }

    fn push(&mut self, entry: typ::Entry, size: usize) {
        let next = self.last_index().map(|i| i + 1);
        if next.is_some_and(|n| n != entry.log_id.index) {
            // Not adjacent (after the log was replaced by a snapshot, or an entry rewritten
            // in place): start again from this one, so what is here always matches the disk.
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        self.entries.push_back((entry, size));
        while self.bytes > RECENT_BYTES && self.entries.len() > 1 {
            self.pop(End::Front);
        }
    }

    /// Drops entries at `index` and after.
    fn truncate(&mut self, index: u64) {
        while self.last_index().is_some_and(|i| i >= index) {
            self.pop(End::Back);
        }
    }

    /// Drops entries up to `index`.
    fn purge(&mut self, index: u64) {
        while self.first_index().is_some_and(|i| i <= index) {
            self.pop(End::Front);
        }
    }

    /// The entries of `range` (from `start`), if every one of them is here. An open end
    /// is left to the disk: only a bounded range proves nothing is missing after the back.
    fn get<RB: RangeBounds<u64>>(&self, start: u64, range: &RB) -> Option<Vec<typ::Entry>> {
        let end = match range.end_bound() {
            Bound::Included(x) => x.checked_add(1)?,
            Bound::Excluded(x) => *x,
            Bound::Unbounded => return None,
        };
        let first = self.first_index()?;
        let after_back = self.last_index()? + 1;
        if start < first || end > after_back {
            return None;
        }
        let skip = usize::try_from(start - first).ok()?;
        let take = usize::try_from(end.saturating_sub(start)).ok()?;
        Some(
            self.entries
                .iter()
                .skip(skip)
                .take(take)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

/// The sled-backed [`RaftLogStorage`]. Cloning shares the same trees (used as the log reader).
#[derive(Debug, Clone)]
pub struct LogStore {
    db: sled::Db,
    logs: sled::Tree,
    meta: sled::Tree,
    cipher: Option<Arc<ValueCipher>>,
    recent: Arc<Mutex<RecentEntries>>,
    pub(crate) stats: Arc<WriteCounters>,
    /// Serializes background purges.
    purging: Arc<std::sync::Mutex<()>>,
}

fn key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The encryption context of the log entry at `index`: a sealed entry only opens at the
/// index it was written for.
pub(crate) fn log_context(index: u64) -> Vec<u8> {
    let mut c = b"log/".to_vec();
    c.extend_from_slice(&key(index));
    c
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
            recent: Arc::default(),
            stats: Arc::default(),
            purging: Arc::default(),
        })
    }

    fn recent(&self) -> MutexGuard<'_, RecentEntries> {
        // Every change to it is a single push or pop: a panic cannot leave it half-done.
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decodes the entry value stored at `index`.
    fn decode_entry(&self, index: u64, raw: &[u8]) -> std::io::Result<typ::Entry> {
        let plain = open_opt(self.cipher.as_deref(), &log_context(index), raw)
            .map_err(std::io::Error::other)?;
        Ok(crate::codec::decode(&plain)?)
    }

    /// Encodes one entry for storage (binary; JSON entries of earlier versions still decode).
    fn encode_entry(&self, entry: &typ::Entry) -> std::io::Result<Vec<u8>> {
        let plain = crate::codec::encode(entry)?;
        seal_opt(
            self.cipher.as_deref(),
            &log_context(entry.log_id.index),
            plain,
        )
        .map_err(std::io::Error::other)
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
        // Purges cut the in-memory entries at once, so a hit holds nothing purged.
        if let Some(hit) = self.recent().get(start, &range) {
            return Ok(hit);
        }
        // Entries up to the purge point may still be on disk (deleted in the background).
        let purged: Option<typ::LogId> = self.read_meta(LAST_PURGED)?;
        let start = match purged {
            Some(p) => start.max(p.index.saturating_add(1)),
            None => start,
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
                .decode_entry(idx, &v)
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
            Some((k, v)) => {
                let idx = u64::from_be_bytes(k.as_ref().try_into().map_err(|_| {
                    StorageIOError::read_logs(&std::io::Error::other("malformed log key"))
                })?);
                let e = self
                    .decode_entry(idx, &v)
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
        let span = tracing::debug_span!("raft.append", entries = tracing::field::Empty);
        let guard = span.enter();
        let mut batch = sled::Batch::default();
        let mut appended = Vec::new();
        for entry in entries {
            let raw = self
                .encode_entry(&entry)
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            let size = raw.len();
            batch.insert(&key(entry.log_id.index), raw);
            appended.push((entry, size));
        }
        let n = appended.len();
        span.record("entries", n);
        self.logs
            .apply_batch(batch)
            .map_err(|e| StorageIOError::write_logs(&e))?;
        {
            let mut recent = self.recent();
            for (entry, size) in appended {
                recent.push(entry, size);
            }
        }
        drop(guard);
        // Entries are readable now; they are durable once the flush completes. One flush
        // covers every entry of the call (openraft hands a follower all entries of an
        // AppendEntries at once; the leader's entries carry many batched proposals).
        // Flushing in the background and completing `callback` later would not group
        // appends: openraft 0.9.25 awaits the callback on its core task before it takes
        // the next write or replicates this entry (measured: still 1 entry per flush).
        let started = std::time::Instant::now();
        let res = self.flush().await.map_err(std::io::Error::other);
        let took = started.elapsed();
        self.stats.record_flush(n, took);
        if took > SLOW_FLUSH {
            tracing::warn!(
                entries = n,
                took_ms = took.as_millis(),
                "slow raft log flush"
            );
        }
        callback.log_io_completed(res);
        Ok(())
    }

    async fn truncate(&mut self, log_id: typ::LogId) -> Result<()> {
        tracing::debug!(raft.index = log_id.index, "truncate log");
        self.recent().truncate(log_id.index);
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
        // openraft awaits purge on its core task, in line with appends and heartbeats, so
        // only the purge point is recorded here (it becomes durable with the next flush).
        // Deleting the entries, up to a snapshot interval of them, happens in the
        // background, after a flush has made the purge point durable: a crash in between
        // leaves entries below the purge point, which nothing reads and the next purge
        // removes. Purges are serialized so an older one never runs after a newer one.
        tracing::debug!(raft.index = log_id.index, "purge log");
        self.write_meta(LAST_PURGED, &log_id)?;
        self.recent().purge(log_id.index);
        let (db, logs, lock) = (self.db.clone(), self.logs.clone(), self.purging.clone());
        let upto = log_id.index;
        tokio::task::spawn_blocking(move || {
            let _serial = lock.lock().unwrap_or_else(|e| e.into_inner());
            let span = tracing::debug_span!("raft.purge", raft.index = upto, removed = 0usize);
            let _enter = span.enter();
            if let Err(e) = db.flush() {
                tracing::warn!(error = %e, "flush before purging the raft log failed");
                return;
            }
            let mut batch = sled::Batch::default();
            let mut n = 0usize;
            for k in logs.range(..=key(upto)).keys() {
                match k {
                    Ok(k) => {
                        batch.remove(k);
                        n += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the raft log to purge failed");
                        return;
                    }
                }
            }
            if let Err(e) = logs.apply_batch(batch) {
                tracing::warn!(error = %e, "purging the raft log failed");
            }
            span.record("removed", n);
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank(index: u64) -> typ::Entry {
        typ::Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Blank,
        }
    }

    fn indexes(v: Option<Vec<typ::Entry>>) -> Option<Vec<u64>> {
        v.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    /// The in-memory entries answer only ranges they wholly hold, and follow truncation,
    /// purges, a rewritten entry and the byte bound.
    #[test]
    fn recent_entries_answer_only_what_they_hold() {
        let mut r = RecentEntries::default();
        for i in 5..=9 {
            r.push(blank(i), 10);
        }
        assert_eq!(indexes(r.get(6, &(6..9))), Some(vec![6, 7, 8]));
        assert_eq!(indexes(r.get(9, &(9..=9))), Some(vec![9]));
        assert_eq!(indexes(r.get(4, &(4..9))), None, "starts before the first");
        assert_eq!(indexes(r.get(8, &(8..11))), None, "ends after the last");
        assert_eq!(indexes(r.get(8, &(8..))), None, "an open end goes to disk");
        r.truncate(8);
        assert_eq!(indexes(r.get(7, &(7..9))), None);
        r.push(blank(8), 10);
        r.purge(6);
        assert_eq!(indexes(r.get(7, &(7..9))), Some(vec![7, 8]));
        assert_eq!(indexes(r.get(6, &(6..9))), None);
        // An entry rewritten in place (or a jump): only it is kept.
        r.push(blank(7), 10);
        assert_eq!(indexes(r.get(7, &(7..8))), Some(vec![7]));
        assert_eq!(indexes(r.get(8, &(8..9))), None);
        assert_eq!(r.bytes, 10);
        // The byte bound evicts from the front.
        r.push(blank(8), RECENT_BYTES);
        assert_eq!(indexes(r.get(7, &(7..9))), None);
        assert_eq!(indexes(r.get(8, &(8..9))), Some(vec![8]));
    }

    /// An entry stored as JSON, as every version before the binary encoding wrote it,
    /// still reads from the log (next to a binary one), also as the last log id.
    #[tokio::test]
    async fn json_entries_of_earlier_versions_read() {
        let td = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(td.path()).open().unwrap();
        let mut log = LogStore::open(&db, None).unwrap();
        let fixture = include_bytes!("../tests/fixtures/entry-v0.json");
        let old: typ::Entry = serde_json::from_slice(fixture).unwrap();
        log.logs
            .insert(key(old.log_id.index), &fixture[..])
            .unwrap();
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id, Some(old.log_id));
        let new = typ::Entry {
            log_id: openraft::LogId::new(old.log_id.leader_id, old.log_id.index + 1),
            payload: old.payload.clone(),
        };
        let raw = log.encode_entry(&new).unwrap();
        assert_eq!(raw[0], crate::codec::BINARY_TAG);
        log.logs.insert(key(new.log_id.index), raw).unwrap();
        let read = log.try_get_log_entries(old.log_id.index..).await.unwrap();
        let as_json = |e: &typ::Entry| serde_json::to_value(e).unwrap();
        assert_eq!(
            read.iter().map(as_json).collect::<Vec<_>>(),
            [as_json(&old), as_json(&new)]
        );
    }
}
