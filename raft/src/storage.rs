//! Opening the on-disk stores: one sled database (`<dir>/db`) holding the log, vote and
//! state-machine trees, and the snapshot directory (`<dir>/snapshots`).
//!
//! An encrypted store records a sealed check value in `raft_meta`, so opening it with the
//! wrong key, or without a key, fails up front with a clear error instead of on the first
//! entry read.
//!
//! A store written before its data key existed (plaintext), or by a release that sealed
//! values without associated data (format 1), is rewritten on open: every log entry, state
//! object and snapshot file is sealed in the current format, then flushed, and only then is
//! the check value (and the format marker) written. A crash half-way leaves a store that the
//! next open finishes converting: values already in the current format are skipped.

use std::path::Path;
use std::sync::Arc;

use crate::cipher::{ValueCipher, sealed_version};

use crate::error::StoreError;
use crate::log_store::LogStore;
use crate::snapshot::SnapshotDir;
use crate::state_machine::StateMachine;

/// Options for [`open_storage`].
#[derive(Debug, Clone, Copy)]
pub struct StorageOptions {
    /// Old snapshots to keep until the cluster spec says otherwise (Docker default 0).
    pub keep_old_snapshots: u64,
    /// Capacity of the watch broadcast; a watcher further behind re-snapshots.
    pub event_capacity: usize,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self {
            keep_old_snapshots: 0,
            event_capacity: 4096,
        }
    }
}

/// Opens (creating) the log store and state machine under `dir`.
///
/// Errors: [`StoreError::Db`] if sled cannot open the database (e.g. another process holds
/// it), [`StoreError::Io`] for the snapshot directory, [`StoreError::Storage`] if persisted
/// state cannot be decoded.
pub fn open_storage(
    dir: &Path,
    opts: StorageOptions,
) -> Result<(LogStore, StateMachine), StoreError> {
    open_storage_encrypted(dir, opts, None)
}

const ENCRYPTION_CHECK_KEY: &[u8] = b"encryption_check";
const ENCRYPTION_CHECK_VALUE: &[u8] = b"shoal raft data encryption key check";
const ENCRYPTION_CHECK_CONTEXT: &[u8] = b"meta/encryption_check";

/// Like [`open_storage`], encrypting stored values with `cipher` when given (`None` is the
/// plaintext format).
///
/// Errors: as [`open_storage`], plus [`StoreError::Encryption`] when `cipher` does not match
/// the store: a wrong key, a key for a plaintext store that has data, or no key for an
/// encrypted store.
pub fn open_storage_encrypted(
    dir: &Path,
    opts: StorageOptions,
    cipher: Option<Arc<ValueCipher>>,
) -> Result<(LogStore, StateMachine), StoreError> {
    finish_interrupted_rewrite(dir)?;
    let snapshots = SnapshotDir::open_with(&dir.join("snapshots"), cipher.clone())?;
    let mut db = sled::Config::new().path(dir.join("db")).open()?;
    if let Some(c) = cipher.as_deref()
        && check_encryption(&db, &snapshots, c)? == Check::Rewrite
    {
        rewrite_sealed(dir, db, &snapshots, c)?;
        db = sled::Config::new().path(dir.join("db")).open()?;
        check_encryption(&db, &snapshots, c)?;
    } else if cipher.is_none()
        && db
            .open_tree("raft_meta")?
            .contains_key(ENCRYPTION_CHECK_KEY)?
    {
        return Err(StoreError::Encryption(
            "raft store is encrypted and no data encryption key was given".into(),
        ));
    }
    let mut log = LogStore::open(&db, cipher.clone())?;
    let sm = StateMachine::open(
        &db,
        snapshots,
        opts.keep_old_snapshots,
        opts.event_capacity,
        cipher,
    )?;
    log.stats = sm.shared.stats.clone();
    Ok((log, sm))
}

/// `raft_meta` key recording the sealed-value format every stored value is in.
const SEALED_FORMAT_KEY: &[u8] = b"sealed_format";

#[derive(Debug, PartialEq, Eq)]
enum Check {
    Ok,
    Rewrite,
}

/// Verifies `c` against the store; says whether its values must be rewritten first.
fn check_encryption(
    db: &sled::Db,
    snapshots: &SnapshotDir,
    c: &ValueCipher,
) -> Result<Check, StoreError> {
    let meta = db.open_tree("raft_meta")?;
    let current = [crate::cipher::FORMAT_VERSION];
    match meta.get(ENCRYPTION_CHECK_KEY)? {
        Some(sealed) => {
            match c.open_for(ENCRYPTION_CHECK_CONTEXT, &sealed) {
                Ok(v) if v == ENCRYPTION_CHECK_VALUE => {}
                _ => {
                    return Err(StoreError::Encryption(
                        "wrong data encryption key for this raft store".into(),
                    ));
                }
            }
            if meta.get(SEALED_FORMAT_KEY)?.as_deref() == Some(&current[..]) {
                Ok(Check::Ok)
            } else {
                tracing::info!("re-sealing raft store values in the current encryption format");
                Ok(Check::Rewrite)
            }
        }
        None => {
            let has_data = !meta.is_empty()
                || !db.open_tree("raft_log")?.is_empty()
                || !db.open_tree("state")?.is_empty()
                || snapshots.count()? > 0;
            if has_data {
                tracing::warn!(
                    "raft store was written without encryption; encrypting it with the data key"
                );
                return Ok(Check::Rewrite);
            }
            mark_sealed(&meta, c)?;
            db.flush()?;
            Ok(Check::Ok)
        }
    }
}

fn mark_sealed(meta: &sled::Tree, c: &ValueCipher) -> Result<(), StoreError> {
    meta.insert(
        ENCRYPTION_CHECK_KEY,
        c.seal_for(ENCRYPTION_CHECK_CONTEXT, ENCRYPTION_CHECK_VALUE)?,
    )?;
    meta.insert(SEALED_FORMAT_KEY, &[crate::cipher::FORMAT_VERSION][..])?;
    Ok(())
}

const DB: &str = "db";
const DB_NEW: &str = "db.new";
const DB_OLD: &str = "db.old";
const DB_NEW_DONE: &str = "db.new.done";

/// Completes or discards a rewrite a crash interrupted (see [`rewrite_sealed`]).
fn finish_interrupted_rewrite(dir: &Path) -> Result<(), StoreError> {
    let (db, new, old, done) = (
        dir.join(DB),
        dir.join(DB_NEW),
        dir.join(DB_OLD),
        dir.join(DB_NEW_DONE),
    );
    if done.exists() {
        // The new database is complete: finish the swap.
        if new.exists() {
            if db.exists() && !old.exists() {
                std::fs::rename(&db, &old)?;
            }
            std::fs::rename(&new, &db)?;
        }
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::remove_file(&done)?;
        sync_dir(dir)?;
    } else if new.exists() {
        // Incomplete: the original is untouched; start over later.
        std::fs::remove_dir_all(&new)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Rewrites the whole database into a fresh one with every log entry and state value sealed
/// in the current format, re-seals the snapshot files, then swaps the new database in.
///
/// A copy rather than in-place updates: sled is log-structured, and overwritten plaintext
/// would stay in its old segments on disk. The swap is crash-safe: the new database is
/// complete and flushed before `db.new.done` is written, and [`finish_interrupted_rewrite`]
/// completes the renames after a crash (or drops an incomplete copy).
fn rewrite_sealed(
    dir: &Path,
    db: sled::Db,
    snapshots: &SnapshotDir,
    c: &ValueCipher,
) -> Result<(), StoreError> {
    let new_path = dir.join(DB_NEW);
    if new_path.exists() {
        std::fs::remove_dir_all(&new_path)?;
    }
    // No background flusher: it would keep the database (and its file lock) alive a while
    // after the drop below, and the swapped-in database is reopened right away.
    let new = sled::Config::new()
        .path(&new_path)
        .flush_every_ms(None)
        .open()?;
    let (mut n_log, mut n_state) = (0, 0);
    for name in db.tree_names() {
        let src = db.open_tree(&name)?;
        let dst = new.open_tree(&name)?;
        match name.as_ref() {
            b"raft_log" => {
                n_log = copy_tree(&src, &dst, Some(c), |k| {
                    let idx: [u8; 8] = k.try_into().map_err(|_| {
                        StoreError::Encryption(
                            "malformed log key while encrypting the store".into(),
                        )
                    })?;
                    Ok(crate::log_store::log_context(u64::from_be_bytes(idx)))
                })?;
            }
            b"state" => {
                n_state = copy_tree(&src, &dst, Some(c), |k| {
                    Ok(crate::state_machine::state_context(k))
                })?;
            }
            _ => {
                copy_tree(&src, &dst, None, |_| Ok(Vec::new()))?;
            }
        }
    }
    mark_sealed(&new.open_tree("raft_meta")?, c)?;
    new.flush()?;
    drop(new);
    drop(db);
    let n_snap = snapshots.reseal_files()?;
    let done = dir.join(DB_NEW_DONE);
    std::fs::File::create(&done)?.sync_all()?;
    sync_dir(dir)?;
    finish_interrupted_rewrite(dir)?;
    tracing::info!(
        log_entries = n_log,
        state_values = n_state,
        snapshot_files = n_snap,
        "raft store sealed in the current encryption format"
    );
    Ok(())
}

/// Copies `src` into `dst`; with `cipher`, every value not yet in the current format
/// (plaintext or format 1) is sealed for the context `context` gives its key.
fn copy_tree(
    src: &sled::Tree,
    dst: &sled::Tree,
    cipher: Option<&ValueCipher>,
    context: impl Fn(&[u8]) -> Result<Vec<u8>, StoreError>,
) -> Result<usize, StoreError> {
    const CHUNK: usize = 1000;
    let mut done = 0;
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for item in src.iter() {
        let (k, v) = item?;
        let value = match cipher {
            None => v.to_vec(),
            Some(c) => {
                let plain = match sealed_version(&v) {
                    Some(crate::cipher::FORMAT_VERSION) => c.open_for(&context(&k)?, &v)?,
                    // Format 1 carries no associated data.
                    Some(_) => c.open(&v)?,
                    None => v.to_vec(),
                };
                c.seal_for(&context(&k)?, &plain)?
            }
        };
        batch.insert(k, value);
        pending += 1;
        done += 1;
        if pending == CHUNK {
            dst.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    dst.apply_batch(batch)?;
    Ok(done)
}
