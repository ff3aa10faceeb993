//! Container records in sled: one tree of records by ID, one of names to
//! IDs. Names are reserved and released in transactions so two creates can
//! never take the same name, even across a crash.

use std::path::Path;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::record::ContainerRecord;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name is taken by the given container ID.
    #[error("name in use by {0}")]
    NameInUse(String),
    /// sled failed.
    #[error("container store: {0}")]
    Sled(#[from] sled::Error),
    /// A record on disk could not be decoded or encoded.
    #[error("container store: bad record {id}: {source}")]
    Codec {
        /// Record key.
        id: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Persistent container records.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    db: sled::Db,
    records: sled::Tree,
    names: sled::Tree,
}

impl ContainerStore {
    /// Opens (or creates) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::open(dir)?;
        let records = db.open_tree("containers")?;
        let names = db.open_tree("names")?;
        Ok(ContainerStore { db, records, names })
    }

    fn encode(rec: &ContainerRecord) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(rec).map_err(|source| StoreError::Codec {
            id: rec.id.clone(),
            source,
        })
    }

    /// Stores a new record and reserves its name, atomically.
    pub fn insert_new(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        self.put_claiming_name(rec, None)
    }

    /// Overwrites a record (state changes). Durable when it returns.
    pub fn save(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        self.records.insert(rec.id.as_bytes(), Self::encode(rec)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// Moves a record to a new name, failing if the name is taken.
    pub fn rename(&self, rec: &ContainerRecord, old_name: &str) -> Result<(), StoreError> {
        self.put_claiming_name(rec, Some(old_name))
    }

    /// Writes `rec` and claims `rec.name` (releasing `old_name`) in one
    /// transaction; fails with the current owner when the name is taken.
    fn put_claiming_name(
        &self,
        rec: &ContainerRecord,
        old_name: Option<&str>,
    ) -> Result<(), StoreError> {
        let bytes = Self::encode(rec)?;
        let res = (&self.records, &self.names).transaction(|(records, names)| {
            if let Some(owner) = names.get(rec.name.as_bytes())? {
                return Err(ConflictableTransactionError::Abort(
                    String::from_utf8_lossy(&owner).into_owned(),
                ));
            }
            if let Some(old) = old_name {
                names.remove(old.as_bytes())?;
            }
            names.insert(rec.name.as_bytes(), rec.id.as_bytes())?;
            records.insert(rec.id.as_bytes(), bytes.as_slice())?;
            Ok(())
        });
        match res {
            Ok(()) => {}
            Err(TransactionError::Abort(owner)) => return Err(StoreError::NameInUse(owner)),
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        self.db.flush()?;
        Ok(())
    }

    /// Deletes a record and frees its name.
    pub fn remove(&self, id: &str, name: &str) -> Result<(), StoreError> {
        let res: Result<(), TransactionError<()>> =
            (&self.records, &self.names).transaction(|(records, names)| {
                records.remove(id.as_bytes())?;
                if names.get(name.as_bytes())?.as_deref() == Some(id.as_bytes()) {
                    names.remove(name.as_bytes())?;
                }
                Ok(())
            });
        match res {
            Ok(()) => {}
            Err(TransactionError::Abort(())) => {}
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        self.db.flush()?;
        Ok(())
    }

    /// Every record; undecodable ones are reported, not fatal.
    pub fn load_all(&self) -> Result<(Vec<ContainerRecord>, Vec<StoreError>), StoreError> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for item in self.records.iter() {
            let (k, v) = item?;
            match serde_json::from_slice::<ContainerRecord>(&v) {
                Ok(r) => ok.push(r),
                Err(source) => bad.push(StoreError::Codec {
                    id: String::from_utf8_lossy(&k).into_owned(),
                    source,
                }),
            }
        }
        Ok((ok, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::RunState;

    fn rec(id: &str, name: &str) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            created: chrono::Utc::now(),
            config: Default::default(),
            host_config: Default::default(),
            image_id: "sha256:x".into(),
            path: "sh".into(),
            args: Vec::new(),
            state: RunState::default(),
            restart_count: 0,
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            exec_ids: Vec::new(),
            network_mode: "bridge".into(),
            extra: Default::default(),
        }
    }

    #[test]
    fn names_are_unique_and_renames_free_the_old_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path()).unwrap();
        store.insert_new(&rec("a1", "web")).unwrap();
        match store.insert_new(&rec("b2", "web")) {
            Err(StoreError::NameInUse(owner)) => assert_eq!(owner, "a1"),
            other => panic!("expected NameInUse, got {other:?}"),
        }
        store.rename(&rec("a1", "api"), "web").unwrap();
        store.insert_new(&rec("b2", "web")).unwrap();
        assert!(matches!(
            store.rename(&rec("b2", "api"), "web"),
            Err(StoreError::NameInUse(_))
        ));
        store.remove("a1", "api").unwrap();
        store.insert_new(&rec("c3", "api")).unwrap();
    }

    #[test]
    fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = ContainerStore::open(dir.path()).unwrap();
            let mut r = rec("a1", "web");
            store.insert_new(&r).unwrap();
            r.state.exit_code = 3;
            store.save(&r).unwrap();
        }
        let store = ContainerStore::open(dir.path()).unwrap();
        let (all, bad) = store.load_all().unwrap();
        assert!(bad.is_empty());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state.exit_code, 3);
        assert!(matches!(
            store.insert_new(&rec("z9", "web")),
            Err(StoreError::NameInUse(_))
        ));
    }
}
