//! The Raft data-encryption key (DEK), as swarmkit keeps it: every manager encrypts its Raft
//! data at rest with a random 32-byte key, autolock or not. The DEK lives next to the node
//! key (`swarm/certificates/swarm-raft.dek`), plain without autolock and sealed with the
//! unlock key like the node key with it, so turning autolock on or off or rotating the
//! unlock key only reseals the DEK and never re-encrypts the Raft data.
//!
//! The plain DEK is held in memory by [`SwarmDir`] once known: read from a plain file,
//! unsealed by `docker swarm unlock`, or generated when a manager opens a fresh Raft
//! directory (init, join as manager, promotion). A locked manager never has it, so its Raft
//! store cannot be opened. A Raft directory written before this existed (no DEK) stays in
//! the plaintext format until the node leaves or is demoted.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shoal_raft::ValueCipher;

use super::ClusterError;
use super::local::SwarmDir;

const HEADER: &str = "SHOAL-RAFT-DEK-1\n";
const FILE: &str = "swarm-raft.dek";

/// The in-memory plain DEK shared by the clones of one [`SwarmDir`].
pub(super) type DekSlot = Arc<std::sync::Mutex<Option<Vec<u8>>>>;

fn encode(dek: &[u8]) -> String {
    format!("{HEADER}{}\n", STANDARD.encode(dek))
}

fn decode(text: &str) -> Result<Vec<u8>, ClusterError> {
    let bad = || ClusterError::Certificate("malformed raft data encryption key file".into());
    let body = text.strip_prefix(HEADER).ok_or_else(bad)?;
    let dek = STANDARD.decode(body.trim()).map_err(|_| bad())?;
    if dek.len() != shoal_raft::cipher::KEY_LEN {
        return Err(bad());
    }
    Ok(dek)
}

impl SwarmDir {
    fn dek_path(&self) -> std::path::PathBuf {
        self.certs_dir().join(FILE)
    }

    fn dek_slot(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        self.dek.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the DEK file into memory when it is plain; a sealed one waits for
    /// [`Self::unseal_dek`]. No file (a pre-encryption node) leaves memory as it is.
    pub(super) fn load_dek(&self) -> Result<(), ClusterError> {
        let path = self.dek_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ClusterError::io(format!("reading {}", path.display()))(e)),
        };
        if !super::autolock::is_sealed(&text) {
            *self.dek_slot() = Some(decode(&text)?);
        }
        Ok(())
    }

    /// Opens a sealed DEK file with the unlock key (`docker swarm unlock`).
    ///
    /// Errors: InvalidArgument (dockerd's "invalid key provided") when the key does not open it.
    pub(super) fn unseal_dek(&self, unlock_key: &[u8]) -> Result<(), ClusterError> {
        let path = self.dek_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ClusterError::io(format!("reading {}", path.display()))(e)),
        };
        let plain = if super::autolock::is_sealed(&text) {
            super::autolock::unseal(&text, unlock_key)?
        } else {
            text
        };
        *self.dek_slot() = Some(decode(&plain)?);
        Ok(())
    }

    /// Rewrites the DEK file from memory, sealed with `seal` (autolock) or plain. Without a
    /// DEK in memory nothing is written (a locked node never overwrites its sealed file).
    pub(super) fn save_dek(&self, seal: Option<&[u8]>) -> Result<(), ClusterError> {
        let Some(dek) = self.dek_slot().clone() else {
            return Ok(());
        };
        let plain = encode(&dek);
        let text = match seal {
            Some(k) => super::autolock::seal(&plain, k)?,
            None => plain,
        };
        let dir = self.certs_dir();
        std::fs::create_dir_all(&dir)
            .map_err(ClusterError::io(format!("creating {}", dir.display())))?;
        super::local::write_atomic(&self.dek_path(), text.as_bytes(), 0o600)
    }

    /// Forgets the in-memory DEK (`swarm leave`).
    pub(super) fn forget_dek(&self) {
        *self.dek_slot() = None;
    }

    /// The cipher for opening this node's Raft store. A fresh Raft directory gets a new DEK
    /// (persisted, sealed with `seal` when autolock is on) unless one is known already
    /// (`--force-new-cluster` keeps it); an existing directory without a DEK is a
    /// pre-encryption store and opens in plaintext (`None`).
    ///
    /// Errors: Io/Certificate when the new DEK cannot be generated or saved.
    pub(super) fn raft_cipher(
        &self,
        seal: Option<&[u8]>,
    ) -> Result<Option<Arc<ValueCipher>>, ClusterError> {
        let cipher_err = |e: shoal_raft::CipherError| ClusterError::Certificate(e.to_string());
        let known = self.dek_slot().clone();
        let dek = match known {
            Some(dek) => dek,
            None if self.raft_dir().join("db").exists() => return Ok(None),
            None => {
                let dek = ValueCipher::generate_key().map_err(cipher_err)?.to_vec();
                *self.dek_slot() = Some(dek.clone());
                self.save_dek(seal)?;
                tracing::info!("generated the raft data encryption key");
                dek
            }
        };
        Ok(Some(Arc::new(ValueCipher::new(&dek).map_err(cipher_err)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dek_is_generated_once_and_resealed_with_autolock() {
        let td = tempfile::tempdir().unwrap();
        let sd = SwarmDir::new(td.path());
        assert!(sd.raft_cipher(None).unwrap().is_some());
        let first = sd.dek_slot().clone().unwrap();
        // Known DEK: reused.
        sd.raft_cipher(None).unwrap();
        assert_eq!(sd.dek_slot().clone().unwrap(), first);
        // Sealed with an unlock key: a fresh process cannot read it until unsealed.
        let k = super::super::autolock::new_unlock_key();
        sd.save_dek(Some(&k)).unwrap();
        let text = std::fs::read_to_string(sd.dek_path()).unwrap();
        assert!(super::super::autolock::is_sealed(&text));
        let fresh = SwarmDir::new(td.path());
        fresh.load_dek().unwrap();
        assert!(fresh.dek_slot().is_none());
        assert!(
            fresh
                .unseal_dek(&super::super::autolock::new_unlock_key())
                .is_err()
        );
        fresh.unseal_dek(&k).unwrap();
        assert_eq!(fresh.dek_slot().clone().unwrap(), first);
        // Autolock off again: plain, same DEK.
        fresh.save_dek(None).unwrap();
        let plain = SwarmDir::new(td.path());
        plain.load_dek().unwrap();
        assert_eq!(plain.dek_slot().clone().unwrap(), first);
    }

    #[test]
    fn existing_raft_dir_without_dek_stays_plaintext() {
        let td = tempfile::tempdir().unwrap();
        let sd = SwarmDir::new(td.path());
        std::fs::create_dir_all(sd.raft_dir().join("db")).unwrap();
        assert!(sd.raft_cipher(None).unwrap().is_none());
        assert!(!sd.dek_path().exists());
    }
}
