//! Opening the on-disk stores: one sled database (`<dir>/db`) holding the log, vote and
//! state-machine trees, and the snapshot directory (`<dir>/snapshots`).

use std::path::Path;

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
    let db = sled::Config::new().path(dir.join("db")).open()?;
    let log = LogStore::open(&db)?;
    let snapshots = SnapshotDir::open(&dir.join("snapshots"))?;
    let sm = StateMachine::open(&db, snapshots, opts.keep_old_snapshots, opts.event_capacity)?;
    Ok((log, sm))
}
