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
        // Records hold environments and commands: only root reads them.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::Sled(sled::Error::Io(e)))?;
        }
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
    pub async fn insert_new(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        self.put_claiming_name(rec, None)?;
        self.flush().await
    }

    /// Makes every write so far durable. sled's `flush_async` does the fsync on
    /// sled's own threads, so no tokio worker blocks on the disk.
    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }

    /// Overwrites a record (state changes). Durable when it returns.
    pub async fn save(&self, rec: &ContainerRecord) -> Result<(), StoreError> {
        self.records.insert(rec.id.as_bytes(), Self::encode(rec)?)?;
        self.flush().await
    }

    /// Moves a record to a new name, failing if the name is taken.
    pub async fn rename(&self, rec: &ContainerRecord, old_name: &str) -> Result<(), StoreError> {
        self.put_claiming_name(rec, Some(old_name))?;
        self.flush().await
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
        Ok(())
    }

    /// Deletes a record and frees its name.
    pub async fn remove(&self, id: &str, name: &str) -> Result<(), StoreError> {
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
        self.flush().await
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
            networks: Default::default(),
            ports: Vec::new(),
            extra: Default::default(),
            volumes: Vec::new(),
        }
    }

    /// A record written before containers had volumes still decodes.
    #[test]
    fn record_without_volumes_decodes() {
        let mut v = serde_json::to_value(rec("old", "old")).unwrap();
        v.as_object_mut().unwrap().remove("volumes");
        let back: ContainerRecord = serde_json::from_value(v).unwrap();
        assert!(back.volumes.is_empty());
    }

    #[tokio::test]
    async fn names_are_unique_and_renames_free_the_old_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path()).unwrap();
        store.insert_new(&rec("a1", "web")).await.unwrap();
        match store.insert_new(&rec("b2", "web")).await {
            Err(StoreError::NameInUse(owner)) => assert_eq!(owner, "a1"),
            other => panic!("expected NameInUse, got {other:?}"),
        }
        store.rename(&rec("a1", "api"), "web").await.unwrap();
        store.insert_new(&rec("b2", "web")).await.unwrap();
        assert!(matches!(
            store.rename(&rec("b2", "api"), "web").await,
            Err(StoreError::NameInUse(_))
        ));
        store.remove("a1", "api").await.unwrap();
        store.insert_new(&rec("c3", "api")).await.unwrap();
    }

    /// A record written before container networking (no `networks`, no `ports`) still decodes.
    #[test]
    fn decodes_records_without_network_fields() {
        let fixture = r#"{"id":"a1","name":"web","created":"2026-11-25T10:00:00Z","config":{},
            "host_config":{},"image_id":"sha256:x","path":"sh","args":[],"state":{"status":"exited",
            "pid":0,"exit_code":0,"error":"","started_at":null,"finished_at":null,"oom_killed":false,
            "manually_stopped":false},"restart_count":0,"uid":0,"gid":0,"additional_gids":[],
            "exec_ids":[],"network_mode":"bridge","extra":{}}"#;
        let r: ContainerRecord = serde_json::from_str(fixture).unwrap();
        assert!(r.networks.is_empty());
        assert!(r.ports.is_empty());
        assert_eq!(r.network_mode, "bridge");
    }

    #[tokio::test]
    async fn records_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = ContainerStore::open(dir.path()).unwrap();
            let mut r = rec("a1", "web");
            store.insert_new(&r).await.unwrap();
            r.state.exit_code = 3;
            store.save(&r).await.unwrap();
        }
        let store = ContainerStore::open(dir.path()).unwrap();
        let (all, bad) = store.load_all().unwrap();
        assert!(bad.is_empty());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].state.exit_code, 3);
        assert!(matches!(
            store.insert_new(&rec("z9", "web")).await,
            Err(StoreError::NameInUse(_))
        ));
    }
}
