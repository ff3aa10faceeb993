//! Autolock (`docker swarm init --autolock`): a manager's TLS key is kept on disk sealed
//! with a key derived from the cluster's unlock key (`SWMKEY-1-...`), so a restarted
//! manager stays locked until `docker swarm unlock`.
//!
//! The sealed form is ChaCha20-Poly1305 over the PEM with a random nonce, keyed by
//! sha256 of the unlock key, stored as one base64 line after a marker header.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sha2::{Digest, Sha256};

use super::ClusterError;

const HEADER: &str = "SHOAL-SEALED-KEY-1\n";
const PREFIX: &str = "SWMKEY-1-";

/// A new random unlock key (32 bytes, as swarmkit's).
pub fn new_unlock_key() -> Vec<u8> {
    rand::random::<[u8; 32]>().to_vec()
}

/// The key as users see it: `SWMKEY-1-<base64>`.
pub fn format_unlock_key(key: &[u8]) -> String {
    format!("{PREFIX}{}", STANDARD_NO_PAD.encode(key))
}

/// Parses a user-given unlock key.
///
/// Errors: InvalidArgument with dockerd's text for anything malformed.
pub fn parse_unlock_key(s: &str) -> Result<Vec<u8>, ClusterError> {
    let invalid = || ClusterError::InvalidArgument("invalid key".into());
    let b = s.trim().strip_prefix(PREFIX).ok_or_else(invalid)?;
    STANDARD_NO_PAD.decode(b).map_err(|_| invalid())
}

fn aead(unlock_key: &[u8]) -> Result<LessSafeKey, ClusterError> {
    let kek = Sha256::digest(unlock_key);
    UnboundKey::new(&CHACHA20_POLY1305, &kek)
        .map(LessSafeKey::new)
        .map_err(|_| ClusterError::Certificate("cannot build sealing key".into()))
}

/// Whether a key file's content is sealed.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(HEADER)
}

/// Seals `pem` with `unlock_key`.
pub fn seal(pem: &str, unlock_key: &[u8]) -> Result<String, ClusterError> {
    let key = aead(unlock_key)?;
    let nonce_bytes: [u8; NONCE_LEN] = rand::random();
    let mut buf = pem.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::empty(),
        &mut buf,
    )
    .map_err(|_| ClusterError::Certificate("sealing the node key failed".into()))?;
    let mut blob = nonce_bytes.to_vec();
    blob.extend_from_slice(&buf);
    Ok(format!("{HEADER}{}\n", STANDARD.encode(blob)))
}

/// Opens a sealed key file.
///
/// Errors: InvalidArgument "swarm could not be unlocked: invalid key provided" (dockerd's
/// text) when the key does not open it.
pub fn unseal(text: &str, unlock_key: &[u8]) -> Result<String, ClusterError> {
    let invalid = || {
        ClusterError::InvalidArgument("swarm could not be unlocked: invalid key provided".into())
    };
    let body = text.strip_prefix(HEADER).ok_or_else(invalid)?;
    let mut blob = STANDARD.decode(body.trim()).map_err(|_| invalid())?;
    if blob.len() < NONCE_LEN {
        return Err(invalid());
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[..NONCE_LEN]);
    let key = aead(unlock_key)?;
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut blob[NONCE_LEN..],
        )
        .map_err(|_| invalid())?;
    String::from_utf8(plain.to_vec()).map_err(|_| invalid())
}

impl super::service::ClusterService {
    /// Whether this node is a locked manager waiting for its unlock key.
    pub fn is_locked(&self) -> bool {
        self.inner()
            .locked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// `docker swarm unlock`: opens the sealed node key and starts the manager.
    ///
    /// Errors: NotInSwarm outside a swarm; Unavailable "swarm is not locked"; InvalidArgument
    /// for a wrong key.
    pub async fn unlock(&self, key: &str) -> Result<(), ClusterError> {
        let mut guard = self.inner().running.lock().await;
        let locked = self
            .inner()
            .locked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut locked = match locked {
            Some(l) => l,
            // dockerd: outside a swarm this is "not part of a swarm", as for every swarm call.
            None if guard.is_none() => return Err(ClusterError::NotInSwarm),
            None => return Err(ClusterError::Unavailable("swarm is not locked".into())),
        };
        let unlock_key = parse_unlock_key(key).map_err(|_| {
            ClusterError::InvalidArgument(
                "swarm could not be unlocked: invalid key provided".into(),
            )
        })?;
        locked.1.key_pem = unseal(&locked.1.key_pem, &unlock_key)?;
        // The Raft data key is sealed with the same unlock key; only now can the store open.
        self.inner().dir.unseal_dek(&unlock_key)?;
        *self
            .inner()
            .sealed_with
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(unlock_key);
        *self
            .inner()
            .locked
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        tracing::info!(node.id = %locked.0.node_id, "swarm unlocked");
        *guard = Some(self.start_unlocked(locked.0, locked.1).await?);
        Ok(())
    }

    /// Keeps this manager's on-disk key sealed with the cluster's current unlock key while
    /// autolock is on, and plain while it is off (`docker swarm update --autolock`,
    /// `unlock-key --rotate`).
    pub(super) async fn keep_key_sealed(
        self,
        manager: std::sync::Arc<super::manager::ManagerCtx>,
        key_pem: String,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok(cluster) = manager.cluster() else {
                continue;
            };
            let want = if cluster.spec.encryption.auto_lock_managers {
                cluster
                    .unlock_keys
                    .iter()
                    .max_by_key(|k| k.lamport_time)
                    .map(|k| k.key.clone())
            } else {
                None
            };
            let mut current = self
                .inner()
                .sealed_with
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if current == want {
                continue;
            }
            match self.inner().dir.save_key(&key_pem, want.as_deref()) {
                Ok(()) => {
                    tracing::info!(
                        sealed = want.is_some(),
                        "node key at rest updated for autolock"
                    );
                    current = want;
                    *self
                        .inner()
                        .sealed_with
                        .lock()
                        .unwrap_or_else(|e| e.into_inner()) = current;
                }
                Err(e) => tracing::warn!(error = %e, "could not update the node key for autolock"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_unlock_key() {
        let k = new_unlock_key();
        let text = format_unlock_key(&k);
        assert!(text.starts_with("SWMKEY-1-"));
        assert_eq!(parse_unlock_key(&text).unwrap(), k);
        let sealed = seal("-----BEGIN PRIVATE KEY-----\nabc\n", &k).unwrap();
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("abc"));
        assert_eq!(
            unseal(&sealed, &k).unwrap(),
            "-----BEGIN PRIVATE KEY-----\nabc\n"
        );
        let err = unseal(&sealed, &new_unlock_key()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "swarm could not be unlocked: invalid key provided"
        );
        assert!(parse_unlock_key("SWMKEY-2-x").is_err());
    }
}
