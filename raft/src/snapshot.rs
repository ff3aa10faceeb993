//! Snapshot encoding and the on-disk snapshot directory.
//!
//! Snapshot data (what travels to a follower and what `install_snapshot` receives) is
//! `MAGIC || format version (u32 BE) || ClusterState`, the state in the store's binary
//! encoding ([`crate::codec`]) in format 2, in JSON in format 1 (still read). The version
//! lets a newer Shoal refuse, rather than misread, a snapshot format it does not know.
//!
//! Each snapshot file is `meta length (u32 BE) || JSON SnapshotMeta || data`, named
//! `<index>-<seq>.snap` with zero-padded numbers so name order is age order. After saving a
//! snapshot, all but the newest `1 + keep_old` files are removed (Docker's
//! `KeepOldSnapshots`).
//!
//! With a [`ValueCipher`] the whole file body (metadata and data) is encrypted as one value;
//! the data sent to followers is not (the transport is mutual TLS, and each receiver encrypts
//! with its own key).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use shoal_scheduler::model::ClusterState;

use crate::cipher::{ValueCipher, open_opt, seal_opt, sealed_version};
use crate::types::typ;

const MAGIC: &[u8; 8] = b"SHOALSNP";
/// The encryption context of a snapshot file body.
pub(crate) const SNAPSHOT_CONTEXT: &[u8] = b"snapshot";
/// The snapshot data format this build writes.
pub const FORMAT_VERSION: u32 = 2;
/// The first format (JSON state): read, no longer written.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// Encodes the state as snapshot data.
pub fn encode_state(state: &ClusterState) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
    out.extend_from_slice(&crate::codec::encode(state)?);
    Ok(out)
}

/// Decodes snapshot data, refusing unknown magic or versions.
pub fn decode_state(data: &[u8]) -> io::Result<ClusterState> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
    if data.len() < 12 || &data[..8] != MAGIC {
        return Err(bad("not a shoal snapshot"));
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&data[8..12]);
    let version = u32::from_be_bytes(v);
    let body = &data[12..];
    match version {
        FORMAT_VERSION => Ok(crate::codec::decode(body)?),
        JSON_FORMAT_VERSION => {
            serde_json::from_slice(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        _ => Err(bad(&format!(
            "unsupported snapshot format version {version}"
        ))),
    }
}

/// The directory of snapshot files.
#[derive(Debug)]
pub struct SnapshotDir {
    dir: PathBuf,
    seq: AtomicU64,
    cipher: Option<Arc<ValueCipher>>,
}

fn parse_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".snap")?;
    let (idx, seq) = stem.split_once('-')?;
    Some((idx.parse().ok()?, seq.parse().ok()?))
}

impl SnapshotDir {
    /// Opens (creating) `dir` and removes leftovers of interrupted writes.
    pub fn open(dir: &Path) -> io::Result<Self> {
        Self::open_with(dir, None)
    }

    /// Like [`Self::open`], with snapshot files encrypted by `cipher` when given.
    pub fn open_with(dir: &Path, cipher: Option<Arc<ValueCipher>>) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let this = Self {
            dir: dir.to_owned(),
            seq: AtomicU64::new(0),
            cipher,
        };
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                std::fs::remove_file(entry.path())?;
            }
        }
        let max_seq = this.list()?.last().map(|(_, s, _)| *s).unwrap_or(0);
        this.seq.store(max_seq + 1, Ordering::SeqCst);
        Ok(this)
    }

    /// A fresh sequence number, unique within this directory (also across restarts).
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Snapshot files as (index, seq, path), oldest first.
    fn list(&self) -> io::Result<Vec<(u64, u64, PathBuf)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if let Some((i, s)) = parse_name(&entry.file_name().to_string_lossy()) {
                out.push((i, s, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Seals every snapshot file not yet in the current encryption format (a plaintext file
    /// or format 1) with this directory's cipher, atomically per file (temp file + rename).
    /// Returns how many files it rewrote; without a cipher it does nothing.
    pub fn reseal_files(&self) -> io::Result<usize> {
        let Some(c) = self.cipher.as_deref() else {
            return Ok(0);
        };
        let mut n = 0;
        for (_, _, path) in self.list()? {
            let raw = std::fs::read(&path)?;
            let plain = match sealed_version(&raw) {
                Some(crate::cipher::FORMAT_VERSION) => continue,
                Some(_) => c
                    .open(&raw)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
                // A plaintext body starts with its metadata length (u32 BE), far below 2^24.
                None => raw,
            };
            let sealed = c
                .seal_for(SNAPSHOT_CONTEXT, &plain)
                .map_err(io::Error::other)?;
            let tmp = path.with_extension("snap.tmp");
            {
                let mut f = std::fs::File::create(&tmp)?;
                f.write_all(&sealed)?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            n += 1;
        }
        if n > 0 {
            std::fs::File::open(&self.dir)?.sync_all()?;
        }
        Ok(n)
    }

    /// Number of snapshot files on disk.
    pub fn count(&self) -> io::Result<usize> {
        Ok(self.list()?.len())
    }

    /// Durably writes a snapshot, makes it the current one, and prunes to `1 + keep_old` files.
    pub fn save(
        &self,
        meta: &typ::SnapshotMeta,
        data: &[u8],
        seq: u64,
        keep_old: u64,
    ) -> io::Result<()> {
        let index = meta.last_log_id.map(|l| l.index).unwrap_or(0);
        let name = format!("{index:020}-{seq:020}.snap");
        let tmp = self.dir.join(format!("{name}.tmp"));
        let meta_json = serde_json::to_vec(meta).map_err(io::Error::other)?;
        let meta_len = u32::try_from(meta_json.len()).map_err(io::Error::other)?;
        let mut body = Vec::with_capacity(4 + meta_json.len() + data.len());
        body.extend_from_slice(&meta_len.to_be_bytes());
        body.extend_from_slice(&meta_json);
        body.extend_from_slice(data);
        let body =
            seal_opt(self.cipher.as_deref(), SNAPSHOT_CONTEXT, body).map_err(io::Error::other)?;
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(&name))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        let files = self.list()?;
        let keep = usize::try_from(keep_old.saturating_add(1)).unwrap_or(usize::MAX);
        if files.len() > keep {
            for (_, _, path) in &files[..files.len() - keep] {
                std::fs::remove_file(path)?;
            }
        }
        Ok(())
    }

    /// The newest snapshot: its metadata and data.
    pub fn load_current(&self) -> io::Result<Option<(typ::SnapshotMeta, Vec<u8>)>> {
        let Some((_, _, path)) = self.list()?.pop() else {
            return Ok(None);
        };
        let raw = std::fs::read(path)?;
        let raw = open_opt(self.cipher.as_deref(), SNAPSHOT_CONTEXT, &raw)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "truncated snapshot file");
        let len_bytes: [u8; 4] = raw
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        let meta_len = usize::try_from(u32::from_be_bytes(len_bytes)).map_err(io::Error::other)?;
        let meta_raw = raw.get(4..4 + meta_len).ok_or_else(bad)?;
        let meta = serde_json::from_slice(meta_raw)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Some((meta, raw[4 + meta_len..].to_vec())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{LogId, StoredMembership};

    fn meta(index: u64) -> typ::SnapshotMeta {
        typ::SnapshotMeta {
            last_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(1, 0), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("1-{index}"),
        }
    }

    #[test]
    fn encoding_round_trips_and_checks_version() {
        let state = ClusterState::default();
        let data = encode_state(&state).unwrap();
        assert_eq!(decode_state(&data).unwrap(), state);
        let mut bad = data.clone();
        bad[11] = 9;
        assert!(
            decode_state(&bad)
                .unwrap_err()
                .to_string()
                .contains("version 9")
        );
        assert!(decode_state(b"nope").is_err());
    }

    /// Snapshot data of format 1 (JSON state), as earlier versions sent and stored it,
    /// still decodes; format 2 is the binary encoding.
    #[test]
    fn json_snapshots_of_format_1_decode() {
        use shoal_scheduler::model::{ClusterCommand, Meta, Node, NodeId, Timestamp};
        let mut state = ClusterState::default();
        let node = Node {
            id: NodeId::new("n1"),
            meta: Meta::new(Timestamp(1)),
            spec: Default::default(),
            role: shoal_scheduler::model::node::NodeRole::Manager,
            description: None,
            status: Default::default(),
            manager_status: None,
        };
        state.apply(5, ClusterCommand::Create(node.into())).unwrap();
        let mut v1 = MAGIC.to_vec();
        v1.extend_from_slice(&JSON_FORMAT_VERSION.to_be_bytes());
        v1.extend_from_slice(&serde_json::to_vec(&state).unwrap());
        assert_eq!(decode_state(&v1).unwrap(), state);
        let v2 = encode_state(&state).unwrap();
        assert_eq!(v2[8..12], FORMAT_VERSION.to_be_bytes());
        assert_eq!(v2[12], crate::codec::BINARY_TAG);
        assert_eq!(decode_state(&v2).unwrap(), state);
        assert!(v2.len() < v1.len());
    }

    #[test]
    fn keeps_current_plus_old_snapshots() {
        let td = tempfile::tempdir().unwrap();
        let dir = SnapshotDir::open(td.path()).unwrap();
        for i in 1..=4u64 {
            dir.save(&meta(i * 10), &[i as u8], dir.next_seq(), 2)
                .unwrap();
        }
        assert_eq!(dir.count().unwrap(), 3);
        let (m, data) = dir.load_current().unwrap().unwrap();
        assert_eq!(m.last_log_id.unwrap().index, 40);
        assert_eq!(data, vec![4]);
        dir.save(&meta(50), &[5], dir.next_seq(), 0).unwrap();
        assert_eq!(dir.count().unwrap(), 1);
        // The sequence continues after a restart.
        let reopened = SnapshotDir::open(td.path()).unwrap();
        assert!(reopened.next_seq() > 5);
    }
}
