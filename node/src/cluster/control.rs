//! Control operations a manager serves to the API (`docker node ...`, `docker swarm
//! update`): validation with dockerd's texts, then a write through the leader.

use shoal_scheduler::model::node::{NodeRole, NodeSpec, NodeState};
use shoal_scheduler::model::{
    Cluster, ClusterCommand, ClusterSpec, Node, NodeId, ObjectRef, StoreObject,
};

use super::ca::{ca_digest_base36, new_join_token};
use super::manager::{ManagerCtx, now};
use super::{ClusterError, store_err};

/// Which join tokens `docker swarm update` rotates. `Debug` leaves the CA key out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Rotate {
    /// `--rotate-worker-token`.
    pub worker: bool,
    /// `--rotate-manager-token`.
    pub manager: bool,
    /// `docker swarm unlock-key --rotate`.
    pub unlock_key: bool,
    /// `docker swarm ca --rotate --ca-cert --ca-key`: the operator's new root (cert, key).
    pub signing_ca: Option<(String, String)>,
}

impl std::fmt::Debug for Rotate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotate")
            .field("worker", &self.worker)
            .field("manager", &self.manager)
            .field("unlock_key", &self.unlock_key)
            .field("signing_ca", &self.signing_ca.is_some())
            .finish()
    }
}

impl ManagerCtx {
    /// Every node.
    pub fn nodes(&self) -> Vec<Node> {
        self.store().read(|s| s.nodes().iter().cloned().collect())
    }

    /// Finds a node by full ID, unique ID prefix or hostname, as dockerd does.
    ///
    /// Errors: NotFound "node X not found"; InvalidArgument when a prefix is ambiguous.
    pub fn find_node(&self, key: &str) -> Result<Node, ClusterError> {
        let nodes = self.nodes();
        if let Some(n) = nodes.iter().find(|n| n.id.as_str() == key) {
            return Ok(n.clone());
        }
        let by_name: Vec<&Node> = nodes
            .iter()
            .filter(|n| {
                n.spec.name == key || n.description.as_ref().is_some_and(|d| d.hostname == key)
            })
            .collect();
        if by_name.len() == 1 {
            return Ok(by_name[0].clone());
        }
        let by_prefix: Vec<&Node> = nodes
            .iter()
            .filter(|n| !key.is_empty() && n.id.as_str().starts_with(key))
            .collect();
        match by_prefix.len() {
            1 => Ok(by_prefix[0].clone()),
            0 if by_name.is_empty() => Err(ClusterError::NotFound(format!("node {key} not found"))),
            _ => Err(ClusterError::InvalidArgument(format!(
                "node {key} is ambiguous ({} matches found)",
                by_prefix.len().max(by_name.len())
            ))),
        }
    }

    /// `docker node update` / promote / demote.
    ///
    /// Errors: OutOfSequence for a stale `version`; FailedPrecondition when demoting the
    /// last manager (dockerd's "attempting to demote the last manager of the swarm").
    pub async fn update_node(
        &self,
        key: &str,
        version: u64,
        spec: NodeSpec,
    ) -> Result<(), ClusterError> {
        let node = self.find_node(key)?;
        if node.spec.role == NodeRole::Manager && spec.role == NodeRole::Worker {
            let managers = self
                .nodes()
                .iter()
                .filter(|n| n.spec.role == NodeRole::Manager)
                .count();
            if managers <= 1 {
                return Err(ClusterError::FailedPrecondition(
                    "attempting to demote the last manager of the swarm".into(),
                ));
            }
        }
        let mut n = node;
        n.meta.version.index = version;
        n.meta.updated_at = now();
        n.spec = spec;
        self.store()
            .propose_or_forward(ClusterCommand::Update(StoreObject::Node(n)))
            .await
            .map_err(store_err)?;
        Ok(())
    }

    /// `docker node rm [--force]`.
    ///
    /// Errors (dockerd's texts): FailedPrecondition for a manager ("... must be demoted to
    /// worker before removal") and, without force, for a node that is not down.
    pub async fn remove_node(&self, key: &str, force: bool) -> Result<(), ClusterError> {
        let node = self.find_node(key)?;
        if node.role == NodeRole::Manager || node.spec.role == NodeRole::Manager {
            return Err(ClusterError::FailedPrecondition(format!(
                "node {} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal",
                node.id
            )));
        }
        if !force && node.status.state == NodeState::Ready {
            return Err(ClusterError::FailedPrecondition(format!(
                "node {} is not down and can't be removed",
                node.id
            )));
        }
        self.store()
            .propose_or_forward(ClusterCommand::Delete(ObjectRef::Node(NodeId::new(
                node.id.as_str(),
            ))))
            .await
            .map_err(store_err)?;
        Ok(())
    }

    /// The current unlock key as users see it, if autolock is on.
    pub fn unlock_key(&self) -> Result<Option<String>, ClusterError> {
        let c = self.cluster()?;
        Ok(c.spec
            .encryption
            .auto_lock_managers
            .then(|| c.unlock_keys.iter().max_by_key(|k| k.lamport_time))
            .flatten()
            .map(|k| super::autolock::format_unlock_key(&k.key)))
    }

    /// `docker swarm update`: a new spec and token rotation.
    ///
    /// Errors: OutOfSequence for a stale `version`.
    pub async fn update_swarm(
        &self,
        version: u64,
        spec: ClusterSpec,
        rotate: Rotate,
    ) -> Result<Cluster, ClusterError> {
        let mut c = self.cluster()?;
        c.meta.version.index = version;
        c.meta.updated_at = now();
        let forced = spec.ca_config.force_rotate != c.spec.ca_config.force_rotate;
        c.spec = spec;
        match rotate.signing_ca {
            Some((cert, key)) => {
                super::ca::check_signing_ca(&cert, &key)?;
                if super::ca::same_certificate(&cert, &c.root_ca.ca_cert_pem) {
                    // Back to the current root: a rotation in progress is abandoned.
                    c.root_ca.root_rotation = None;
                } else if !c
                    .root_ca
                    .root_rotation
                    .as_ref()
                    .is_some_and(|r| super::ca::same_certificate(&r.ca_cert_pem, &cert))
                {
                    start_root_rotation(&mut c, cert, key)?;
                }
            }
            None if forced => {
                let new = super::ca::RootCa::generate()?;
                start_root_rotation(&mut c, new.cert_pem.clone(), new.key_pem.clone())?;
            }
            None => {}
        }
        let digest = ca_digest_base36(&c.root_ca.ca_cert_pem)?;
        if rotate.worker {
            c.root_ca.join_tokens.worker = new_join_token(&digest);
        }
        if rotate.manager {
            c.root_ca.join_tokens.manager = new_join_token(&digest);
        }
        // Autolock: a key exists exactly while autolock is on; rotation replaces it.
        if !c.spec.encryption.auto_lock_managers {
            c.unlock_keys.clear();
        } else if c.unlock_keys.is_empty() || rotate.unlock_key {
            let lamport = c
                .unlock_keys
                .iter()
                .map(|k| k.lamport_time)
                .max()
                .unwrap_or(0)
                + 1;
            c.unlock_keys = vec![shoal_scheduler::model::cluster::EncryptionKey {
                subsystem: "manager".into(),
                key: super::autolock::new_unlock_key(),
                lamport_time: lamport,
            }];
        }
        self.store()
            .propose_or_forward(ClusterCommand::Update(StoreObject::Cluster(c.clone())))
            .await
            .map_err(store_err)?;
        Ok(c)
    }
}

/// Starts rotating to the root `cert`/`key` (`docker swarm ca --rotate`): the current root
/// cross-signs it, managers sign with it from now on, and the leader swaps the roots once
/// every node has renewed (see `ManagerCtx::finish_root_rotation`). A rotation already in
/// progress is replaced, as in swarmkit; the current root always cross-signs.
fn start_root_rotation(c: &mut Cluster, cert: String, key: String) -> Result<(), ClusterError> {
    let cross = super::ca::cross_sign(&cert, &c.root_ca.ca_cert_pem, &c.root_ca.ca_key_pem)?;
    c.root_ca.root_rotation = Some(shoal_scheduler::model::cluster::RootRotation {
        ca_cert_pem: cert,
        ca_key_pem: key,
        cross_signed_ca_cert_pem: cross,
    });
    tracing::info!("root CA rotation started");
    Ok(())
}
