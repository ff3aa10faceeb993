//! Volume metadata in sled (`<data-root>/volumes/metadata.db`), one JSON
//! record per volume name. Usage is not stored: it is computed from the
//! container records, so a crash can never leave a stale reference count.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::VolumeError;

/// One volume as stored. New fields must take `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    /// Volume name (64 hex digits for anonymous volumes).
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// User labels.
    #[serde(default)]
    pub labels: HashMap<String, String>,
    /// Driver options (`type`, `device`, `o`).
    #[serde(default)]
    pub options: HashMap<String, String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Created for one container (image `VOLUME`, `-v /path`).
    #[serde(default)]
    pub anonymous: bool,
}

/// The persistent volume table.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    db: sled::Db,
    tree: sled::Tree,
}

impl VolumeStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<VolumeStore, VolumeError> {
        let db = sled::open(path)?;
        let tree = db.open_tree("volumes")?;
        Ok(VolumeStore { db, tree })
    }

    /// Stores `rec` unless the name exists; returns the stored record
    /// (the existing one if there was one) and whether it was new.
    pub fn insert_new(&self, rec: &VolumeRecord) -> Result<(VolumeRecord, bool), VolumeError> {
        let bytes = serde_json::to_vec(rec)?;
        match self
            .tree
            .compare_and_swap(rec.name.as_bytes(), None as Option<&[u8]>, Some(bytes))?
        {
            Ok(()) => {
                self.db.flush()?;
                Ok((rec.clone(), true))
            }
            Err(cas) => {
                let existing = cas
                    .current
                    .ok_or_else(|| VolumeError::Internal("volume vanished during create".into()))?;
                Ok((serde_json::from_slice(&existing)?, false))
            }
        }
    }

    /// The record of `name`.
    pub fn get(&self, name: &str) -> Result<Option<VolumeRecord>, VolumeError> {
        match self.tree.get(name.as_bytes())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    /// Every record; undecodable ones are logged and skipped.
    pub fn all(&self) -> Vec<VolumeRecord> {
        self.tree
            .iter()
            .filter_map(|kv| match kv {
                Ok((k, v)) => match serde_json::from_slice(&v) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(volume = %String::from_utf8_lossy(&k), error = %e, "bad volume record");
                        None
                    }
                },
                Err(e) => {
                    tracing::error!(error = %e, "reading volume store");
                    None
                }
            })
            .collect()
    }

    /// Forgets `name`.
    pub fn remove(&self, name: &str) -> Result<(), VolumeError> {
        self.tree.remove(name.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written by this version decode, and so does the smallest
    /// record (future versions add fields with defaults).
    #[test]
    fn insert_get_and_old_format() {
        let dir = tempfile::tempdir().unwrap();
        let s = VolumeStore::open(&dir.path().join("m.db")).unwrap();
        let rec = VolumeRecord {
            name: "v".into(),
            driver: "local".into(),
            labels: HashMap::from([("a".into(), "b".into())]),
            options: HashMap::new(),
            created_at: Utc::now(),
            anonymous: false,
        };
        assert!(s.insert_new(&rec).unwrap().1);
        let (again, new) = s.insert_new(&rec).unwrap();
        assert!(!new);
        assert_eq!(again, rec);
        assert_eq!(s.get("v").unwrap(), Some(rec));
        let fixture = r#"{"name":"old","driver":"local","created_at":"2026-01-01T00:00:00Z"}"#;
        let old: VolumeRecord = serde_json::from_str(fixture).unwrap();
        assert!(!old.anonymous && old.labels.is_empty());
        s.remove("v").unwrap();
        assert!(s.all().is_empty());
    }
}
