//! Opening the on-disk stores: one sled database (`<dir>/db`) holding the log, vote and
//! state-machine trees, and the snapshot directory (`<dir>/snapshots`).
//!
//! An encrypted store records a sealed check value in `raft_meta`, so opening it with the
//! wrong key, or without a key, fails up front with a clear error instead of on the first
//! entry read; a plaintext store with data refuses to be opened with a key (its values would
//! not decrypt).

use std::path::Path;
use std::sync::Arc;

use crate::cipher::ValueCipher;

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
    let db = sled::Config::new().path(dir.join("db")).open()?;
    check_encryption(&db, cipher.as_deref())?;
    let log = LogStore::open(&db, cipher.clone())?;
    let snapshots = SnapshotDir::open_with(&dir.join("snapshots"), cipher.clone())?;
    let sm = StateMachine::open(
        &db,
        snapshots,
        opts.keep_old_snapshots,
        opts.event_capacity,
        cipher,
    )?;
    Ok((log, sm))
}

fn check_encryption(db: &sled::Db, cipher: Option<&ValueCipher>) -> Result<(), StoreError> {
    let meta = db.open_tree("raft_meta")?;
    match (meta.get(ENCRYPTION_CHECK_KEY)?, cipher) {
        (Some(sealed), Some(c)) => match c.open(&sealed) {
            Ok(v) if v == ENCRYPTION_CHECK_VALUE => Ok(()),
            _ => Err(StoreError::Encryption(
                "wrong data encryption key for this raft store".into(),
            )),
        },
        (Some(_), None) => Err(StoreError::Encryption(
            "raft store is encrypted and no data encryption key was given".into(),
        )),
        (None, None) => Ok(()),
        (None, Some(c)) => {
            let has_data = !meta.is_empty()
                || !db.open_tree("raft_log")?.is_empty()
                || !db.open_tree("state")?.is_empty();
            if has_data {
                return Err(StoreError::Encryption(
                    "raft store holds unencrypted data; it cannot be opened with a key".into(),
                ));
            }
            meta.insert(ENCRYPTION_CHECK_KEY, c.seal(ENCRYPTION_CHECK_VALUE)?)?;
            db.flush()?;
            Ok(())
        }
    }
}
