//! `docker swarm init` and `docker swarm join`: creating a cluster (root CA, tokens, the
//! first manager's Raft) and joining one (CA pinned by the token, certificate issued by a
//! manager, Raft membership for managers).

use std::collections::BTreeMap;

use shoal_raft::RaftNode;
use shoal_scheduler::model::cluster::{EncryptionKey, JoinTokens, RootCa as ModelRootCa};
use shoal_scheduler::model::node::NodeRole;
use shoal_scheduler::model::{Cluster, ClusterCommand, ClusterId, Meta, StoreObject};

use super::ca::{self, NodeIdentity, RootCa};
use super::join::{fetch_pinned_ca, request_join};
use super::local::{Certs, LocalState};
use super::manager::{new_node, now, raft_id_for};
use super::rpc::JoinRequest;
use super::service::{
    ClusterService, DEFAULT_PORT, InitParams, JoinParams, advertise, wait_for, with_port,
};
use super::{ClusterError, store_err};

impl ClusterService {
    /// `docker swarm init`: a new cluster with this node as its only manager. Returns
    /// the node ID.
    ///
    /// Errors: AlreadyInSwarm; InvalidArgument for bad addresses.
    pub async fn init(&self, p: InitParams) -> Result<String, ClusterError> {
        let mut guard = self.inner.running.lock().await;
        // dockerd: --force-new-cluster on a node without swarm state is a plain init.
        if p.force_new_cluster && self.inner.dir.load()?.is_some() {
            return self.force_new_cluster(&mut guard, p).await;
        }
        if guard.is_some() || self.is_locked() {
            return Err(ClusterError::AlreadyInSwarm);
        }
        let listen = with_port(
            if p.listen_addr.is_empty() {
                "0.0.0.0"
            } else {
                &p.listen_addr
            },
            DEFAULT_PORT,
        );
        let advertise_addr = advertise(&listen, &p.advertise_addr, None)?;
        let root = RootCa::generate()?;
        let unlock_key = super::autolock::new_unlock_key();
        let digest = ca::ca_digest_base36(&root.cert_pem)?;
        let node_id = ca::random_id();
        let cluster_id = ca::random_id();
        let (key_pem, public) = ca::generate_node_key()?;
        let cluster = Cluster {
            id: ClusterId::new(cluster_id.as_str()),
            meta: Meta::new(now()),
            spec: p.spec.clone(),
            root_ca: ModelRootCa {
                ca_cert_pem: root.cert_pem.clone(),
                ca_key_pem: root.key_pem.clone(),
                ca_cert_digest: format!("sha256:{digest}"),
                join_tokens: JoinTokens {
                    worker: ca::new_join_token(&digest),
                    manager: ca::new_join_token(&digest),
                },
                root_rotation: None,
            },
            unlock_keys: if p.spec.encryption.auto_lock_managers {
                vec![EncryptionKey {
                    subsystem: "manager".into(),
                    key: unlock_key.clone(),
                    lamport_time: 1,
                }]
            } else {
                Vec::new()
            },
        };
        let expiry = super::manager::node_cert_expiry(&p.spec);
        let cert_pem = ca::sign_node_cert(
            &root.cert_pem,
            &root.key_pem,
            &public,
            &NodeIdentity {
                node_id: node_id.clone(),
                role: NodeRole::Manager,
                cluster_id: cluster_id.clone(),
            },
            expiry,
        )?;
        let certs = Certs {
            cert_pem,
            key_pem,
            ca_pem: root.cert_pem.clone(),
        };
        let local = LocalState {
            node_id: node_id.clone(),
            cluster_id,
            role: NodeRole::Manager,
            raft_id: raft_id_for(&node_id),
            listen_addr: listen,
            advertise_addr: advertise_addr.clone(),
            managers: vec![advertise_addr.clone()],
            manager_ids: vec![node_id.clone()],
        };
        self.inner.dir.remove_raft()?;
        let running = self.start(local.clone(), certs.clone()).await?;
        let result = async {
            let store = running.store.clone().ok_or(ClusterError::NotManager)?;
            store
                .initialize(BTreeMap::from([(
                    local.raft_id,
                    RaftNode::new(advertise_addr.clone()),
                )]))
                .await
                .map_err(store_err)?;
            wait_for(|| store.is_leader(), "this node to become the raft leader").await?;
            // dockerd lists the first manager as Ready and Leader right after init.
            let mut node = new_node(
                &node_id,
                NodeRole::Manager,
                &advertise_addr,
                &self.host().hostname,
            );
            node.description = Some(self.host());
            if let Some(a) = p.availability {
                node.spec.availability = a;
            }
            node.status.state = shoal_scheduler::model::node::NodeState::Ready;
            if let Some(ms) = node.manager_status.as_mut() {
                ms.leader = true;
                ms.reachability = shoal_scheduler::model::node::Reachability::Reachable;
            }
            store
                .propose(ClusterCommand::Batch(vec![
                    ClusterCommand::Create(StoreObject::Cluster(cluster)),
                    ClusterCommand::Create(StoreObject::Node(node)),
                ]))
                .await
                .map_err(store_err)?;
            let seal = p
                .spec
                .encryption
                .auto_lock_managers
                .then(|| unlock_key.clone());
            self.inner.dir.save(&local, &certs, seal.as_deref())?;
            *self
                .inner
                .sealed_with
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = seal;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            running.shutdown().await;
            let _ = self.inner.dir.remove_all();
            *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = None;
            return Err(e);
        }
        *guard = Some(running);
        tracing::info!(node.id = %node_id, addr = %advertise_addr, "swarm initialized");
        Ok(node_id)
    }

    /// `docker swarm join`.
    ///
    /// Errors: AlreadyInSwarm; InvalidArgument for a malformed token or a CA that does not
    /// match it; Remote(InvalidArgument) "A valid join token is necessary to join this
    /// cluster" for a wrong or rotated token; Unavailable when no manager answers.
    pub async fn join(&self, p: JoinParams) -> Result<(), ClusterError> {
        let mut guard = self.inner.running.lock().await;
        if guard.is_some() || self.is_locked() {
            return Err(ClusterError::AlreadyInSwarm);
        }
        let token = ca::parse_join_token(&p.token)?;
        let remote = p
            .remote_addrs
            .first()
            .map(|a| with_port(a, DEFAULT_PORT))
            .ok_or_else(|| {
                ClusterError::InvalidArgument("at least 1 RemoteAddr is required to join".into())
            })?;
        let listen = with_port(
            if p.listen_addr.is_empty() {
                "0.0.0.0"
            } else {
                &p.listen_addr
            },
            DEFAULT_PORT,
        );
        let advertise_addr = advertise(&listen, &p.advertise_addr, Some(&remote))?;
        let ca_pem = fetch_pinned_ca(&remote, &token.digest).await?;
        let (key_pem, public) = ca::generate_node_key()?;
        let resp = request_join(
            &remote,
            &ca_pem,
            &JoinRequest {
                token: p.token.clone(),
                public_key_der: public,
                advertise_addr: advertise_addr.clone(),
                hostname: self.host().hostname,
                availability: p.availability,
            },
        )
        .await?;
        // Trust stays with the CA the token pinned: a join answer naming another
        // root is refused rather than adopted.
        if !ca::same_certificate(&resp.ca_pem, &ca_pem) {
            return Err(ClusterError::Certificate(
                "the manager answered the join with a CA other than the one the join token pins"
                    .into(),
            ));
        }
        let certs = Certs {
            cert_pem: resp.cert_pem,
            key_pem,
            ca_pem,
        };
        let mut managers = vec![remote.clone()];
        managers.extend(
            resp.managers
                .into_iter()
                .filter(|m| *m != remote && *m != advertise_addr),
        );
        let local = LocalState {
            node_id: resp.node_id.clone(),
            cluster_id: resp.cluster_id,
            role: resp.role,
            raft_id: resp.raft_id,
            listen_addr: listen,
            advertise_addr,
            managers,
            manager_ids: resp.manager_ids,
        };
        self.inner.dir.remove_raft()?;
        self.inner.dir.save(&local, &certs, None)?;
        *self
            .inner
            .sealed_with
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        let running = match self.start(local.clone(), certs).await {
            Ok(r) => r,
            Err(e) => {
                let _ = self.inner.dir.remove_all();
                return Err(e);
            }
        };
        if let Some(store) = running.store.clone() {
            // dockerd returns from a manager join once the node is a Raft member.
            let id = local.raft_id;
            let joined = wait_for(
                || {
                    store
                        .metrics()
                        .borrow()
                        .membership_config
                        .membership()
                        .voter_ids()
                        .any(|v| v == id)
                },
                "this manager to join the raft cluster",
            )
            .await;
            if let Err(e) = joined {
                tracing::warn!(error = %e, "manager join still in progress");
            }
        }
        *guard = Some(running);
        tracing::info!(node.id = %resp.node_id, role = ?local.role, "joined swarm");
        Ok(())
    }
}
