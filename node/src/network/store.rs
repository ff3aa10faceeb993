//! Network records in sled: one JSON value per network ID, flushed before
//! a change is acknowledged.

use std::path::Path;

use super::model::NetworkRecord;
use super::{NetError, NetResult};

/// The network table.
#[derive(Debug)]
pub struct NetworkStore {
    db: sled::Db,
}

impl NetworkStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> NetResult<NetworkStore> {
        Ok(NetworkStore {
            db: sled::open(path)?,
        })
    }

    /// Every readable record; unreadable ones are logged and skipped.
    pub fn load_all(&self) -> NetResult<Vec<NetworkRecord>> {
        let mut out = Vec::new();
        for kv in self.db.iter() {
            let (k, v) = kv?;
            match serde_json::from_slice::<NetworkRecord>(&v) {
                Ok(n) => out.push(n),
                Err(e) => tracing::error!(
                    network.id = %String::from_utf8_lossy(&k), error = %e,
                    "skipping unreadable network record"
                ),
            }
        }
        Ok(out)
    }

    /// Writes `n` durably.
    pub fn save(&self, n: &NetworkRecord) -> NetResult<()> {
        let v = serde_json::to_vec(n).map_err(|e| NetError::System(e.to_string()))?;
        self.db.insert(n.id.as_bytes(), v)?;
        self.db.flush()?;
        Ok(())
    }

    /// Removes network `id` durably.
    pub fn remove(&self, id: &str) -> NetResult<()> {
        self.db.remove(id.as_bytes())?;
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as the first networked Shoal wrote it stays readable.
    #[test]
    fn decodes_first_format_fixture() {
        let fixture = r#"{"id":"ab","name":"n","driver":"bridge","created":"2026-12-01T21:00:00Z","bridge":"br-ab","subnet":"10.1.0.0/24","gateway":"10.1.0.1"}"#;
        let n: NetworkRecord = serde_json::from_str(fixture).unwrap();
        assert!(n.icc && n.masquerade && !n.internal);
        assert_eq!(n.subnet.unwrap().to_string(), "10.1.0.0/24");
    }
}
