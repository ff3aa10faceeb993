//! The node's own swarm state on disk, under `<data-root>/swarm/`, so a restarted node
//! rejoins its cluster by itself:
//!
//! ```text
//! swarm/state.json                     node ID, cluster ID, role, raft id, addresses, managers
//! swarm/certificates/swarm-node.crt    this node's certificate (PEM)
//! swarm/certificates/swarm-node.key    its private key (PEM, mode 0600)
//! swarm/certificates/swarm-root-ca.crt the cluster root CA certificate
//! swarm/certificates/swarm-raft.dek    the Raft data encryption key (sealed like the key)
//! swarm/raft/                          the Raft store (managers only)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shoal_scheduler::model::node::NodeRole;

use super::ClusterError;

/// What this node remembers about its membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalState {
    /// This node's swarm node ID (its certificate's CN).
    pub node_id: String,
    /// The cluster ID (its certificate's O).
    pub cluster_id: String,
    /// The role its certificate carries.
    pub role: NodeRole,
    /// Raft member id (used once the node is a manager).
    pub raft_id: u64,
    /// `host:port` the cluster listener binds.
    pub listen_addr: String,
    /// `host:port` other nodes reach this node at.
    pub advertise_addr: String,
    /// Manager addresses last known, for workers to reach a dispatcher after a restart.
    pub managers: Vec<String>,
    /// Node IDs of the managers last known: the agent talks only to a peer whose
    /// certificate names one of them (a demoted manager's certificate is still valid).
    #[serde(default)]
    pub manager_ids: Vec<String>,
}

/// A node certificate, its key and the CA certificate, all PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Certs {
    /// The node certificate.
    pub cert_pem: String,
    /// The node's private key.
    pub key_pem: String,
    /// The cluster root CA certificate.
    pub ca_pem: String,
}

impl Drop for Certs {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key_pem);
    }
}

impl std::fmt::Debug for Certs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certs").finish_non_exhaustive()
    }
}

impl Certs {
    /// TLS config for the cluster transport. The server presents its certificate followed by
    /// the CA certificate, so a joining node can read the CA from the handshake and pin it
    /// against its token's digest.
    pub fn tls(&self) -> shoal_raft::TlsConfig {
        let chain = format!("{}\n{}", self.cert_pem.trim_end(), self.ca_pem);
        shoal_raft::TlsConfig::from_pem(chain, self.key_pem.clone(), self.ca_pem.clone())
    }
}

/// The `<data-root>/swarm` directory.
#[derive(Debug, Clone)]
pub struct SwarmDir {
    root: PathBuf,
    /// The plain Raft data encryption key once known (see `dek.rs`).
    pub(super) dek: super::dek::DekSlot,
}

impl SwarmDir {
    /// The swarm directory under `data_root`.
    pub fn new(data_root: &Path) -> Self {
        Self {
            root: data_root.join("swarm"),
            dek: Default::default(),
        }
    }

    /// Where the Raft store lives.
    pub fn raft_dir(&self) -> PathBuf {
        self.root.join("raft")
    }

    pub(super) fn certs_dir(&self) -> PathBuf {
        self.root.join("certificates")
    }

    fn state_file(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// Loads the saved state, if the node is in a swarm.
    ///
    /// Errors: [`ClusterError::Io`] for unreadable or corrupt files.
    pub fn load(&self) -> Result<Option<(LocalState, Certs)>, ClusterError> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ClusterError::io(format!("reading {}", path.display()))(e)),
        };
        let state: LocalState = serde_json::from_str(&text).map_err(|e| ClusterError::Io {
            context: format!("parsing {}", path.display()),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let read = |name: &str| {
            let p = self.certs_dir().join(name);
            std::fs::read_to_string(&p)
                .map_err(ClusterError::io(format!("reading {}", p.display())))
        };
        self.load_dek()?;
        let certs = Certs {
            cert_pem: read("swarm-node.crt")?,
            key_pem: read("swarm-node.key")?,
            ca_pem: read("swarm-root-ca.crt")?,
        };
        Ok(Some((state, certs)))
    }

    /// Saves the certificates, then the state (the state file marks a complete save). With
    /// `seal` (autolock's unlock key) the private key is written sealed.
    pub fn save(
        &self,
        state: &LocalState,
        certs: &Certs,
        seal: Option<&[u8]>,
    ) -> Result<(), ClusterError> {
        let dir = self.certs_dir();
        std::fs::create_dir_all(&dir)
            .map_err(ClusterError::io(format!("creating {}", dir.display())))?;
        write_atomic(
            &dir.join("swarm-node.crt"),
            certs.cert_pem.as_bytes(),
            0o644,
        )?;
        self.save_key(&certs.key_pem, seal)?;
        write_atomic(
            &dir.join("swarm-root-ca.crt"),
            certs.ca_pem.as_bytes(),
            0o644,
        )?;
        self.save_state(state)
    }

    /// Rewrites the private key, sealed with `seal` when given (autolock) or plain, and the
    /// Raft data encryption key the same way (when this node has one).
    pub fn save_key(&self, key_pem: &str, seal: Option<&[u8]>) -> Result<(), ClusterError> {
        let text = match seal {
            Some(k) => super::autolock::seal(key_pem, k)?,
            None => key_pem.to_owned(),
        };
        write_atomic(
            &self.certs_dir().join("swarm-node.key"),
            text.as_bytes(),
            0o600,
        )?;
        self.save_dek(seal)
    }

    /// Saves only the state file (e.g. an updated manager list).
    pub fn save_state(&self, state: &LocalState) -> Result<(), ClusterError> {
        std::fs::create_dir_all(&self.root).map_err(ClusterError::io(format!(
            "creating {}",
            self.root.display()
        )))?;
        let text = serde_json::to_vec_pretty(state).map_err(|e| ClusterError::Io {
            context: "encoding swarm state".into(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.state_file(), &text, 0o600)
    }

    /// Forgets the swarm: certificates, state and Raft data (`swarm leave`).
    pub fn remove_all(&self) -> Result<(), ClusterError> {
        self.forget_dek();
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClusterError::io(format!(
                "removing {}",
                self.root.display()
            ))(e)),
        }
    }

    /// Moves the Raft data to `raft.old` (replacing an older one): `--force-new-cluster`
    /// starts a new log but keeps the previous one for forensics.
    pub fn set_raft_aside(&self) -> Result<(), ClusterError> {
        let old = self.root.join("raft.old");
        match std::fs::remove_dir_all(&old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ClusterError::io(format!("removing {}", old.display()))(e)),
        }
        std::fs::rename(self.raft_dir(), &old).map_err(ClusterError::io(format!(
            "moving {}",
            self.raft_dir().display()
        )))
    }

    /// Removes only the Raft data (a demoted manager, or before joining as a new member).
    pub fn remove_raft(&self) -> Result<(), ClusterError> {
        let dir = self.raft_dir();
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ClusterError::io(format!("removing {}", dir.display()))(e)),
        }
    }
}

pub(super) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), ClusterError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let ctx = || format!("writing {}", path.display());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(ClusterError::io(ctx()))?;
    f.write_all(data).map_err(ClusterError::io(ctx()))?;
    f.sync_all().map_err(ClusterError::io(ctx()))?;
    std::fs::rename(&tmp, path).map_err(ClusterError::io(ctx()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_leave_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let sd = SwarmDir::new(dir.path());
        assert!(sd.load().unwrap().is_none());
        let state = LocalState {
            node_id: "n".into(),
            cluster_id: "c".into(),
            role: NodeRole::Manager,
            raft_id: 7,
            listen_addr: "0.0.0.0:2377".into(),
            advertise_addr: "10.0.0.1:2377".into(),
            managers: vec!["10.0.0.1:2377".into()],
            manager_ids: vec!["m1".into()],
        };
        let certs = Certs {
            cert_pem: "c".into(),
            key_pem: "k".into(),
            ca_pem: "a".into(),
        };
        sd.save(&state, &certs, None).unwrap();
        assert_eq!(sd.load().unwrap(), Some((state, certs)));
        sd.remove_all().unwrap();
        assert!(sd.load().unwrap().is_none());
    }
}
