//! `docker swarm init --force-new-cluster`: a new single-voter Raft log seeded with the
//! state one surviving manager had applied.

use std::collections::BTreeMap;

use shoal_raft::{RaftNode, StoreConfig};
use shoal_scheduler::model::node::NodeRole;
use shoal_scheduler::model::{ClusterCommand, StoreObject};

use super::ClusterError;
use super::service::{
    ClusterService, DEFAULT_PORT, InitParams, Running, advertise, open_store, wait_for, with_port,
};
use super::store_err;

impl ClusterService {
    /// `--force-new-cluster`: recover a single-manager cluster from this node's Raft data.
    ///
    /// The committed state this manager has applied is re-proposed into a fresh Raft log
    /// whose only voter is this node (openraft has no forced membership change, so the old
    /// log is set aside under `swarm/raft.old`). The other managers become workers marked
    /// down: their Raft data belongs to the old cluster, and each must leave and rejoin.
    pub(super) async fn force_new_cluster(
        &self,
        guard: &mut tokio::sync::MutexGuard<'_, Option<Running>>,
        p: InitParams,
    ) -> Result<String, ClusterError> {
        if let Some(r) = guard.take() {
            r.shutdown().await;
        }
        *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = None;
        let Some((mut local, mut certs)) = self.inner.dir.load()? else {
            return Err(ClusterError::NotInSwarm);
        };
        if super::autolock::is_sealed(&certs.key_pem) {
            let key = self
                .inner
                .sealed_with
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .ok_or(ClusterError::Locked)?;
            certs.key_pem = super::autolock::unseal(&certs.key_pem, &key)?;
            self.inner.dir.unseal_dek(&key)?;
        }
        if local.role != NodeRole::Manager {
            return Err(ClusterError::InvalidArgument(
                "--force-new-cluster needs a node that was a manager".into(),
            ));
        }
        let tls = certs.tls();
        let seal = self
            .inner
            .sealed_with
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut config = StoreConfig::new(
            local.raft_id,
            local.advertise_addr.clone(),
            self.inner.dir.raft_dir(),
        );
        // The new cluster's store (opened by `start` below) keeps using this same DEK.
        config.cipher = self.inner.dir.raft_cipher(seal.as_deref())?;
        config.peer_auth = super::manager::raft_peer_auth();
        let old = open_store(config, &tls).await?;
        let (state, index, _) = old.view_and_watch();
        old.shutdown().await.map_err(store_err)?;
        drop(old);
        tracing::warn!(
            raft.index = index,
            "forcing a new cluster from this manager's state"
        );
        self.inner.dir.set_raft_aside()?;
        if !p.listen_addr.is_empty() {
            local.listen_addr = with_port(&p.listen_addr, DEFAULT_PORT);
        }
        if !p.advertise_addr.is_empty() {
            local.advertise_addr = advertise(&local.listen_addr, &p.advertise_addr, None)?;
        }
        local.managers = vec![local.advertise_addr.clone()];
        let mut creates = Vec::new();
        for obj in state.all_objects() {
            let obj = match obj {
                StoreObject::Node(mut n) => {
                    if n.id.as_str() == local.node_id {
                        n.manager_status = Some(shoal_scheduler::model::node::ManagerStatus {
                            raft_id: local.raft_id,
                            leader: true,
                            reachability: shoal_scheduler::model::node::Reachability::Reachable,
                            addr: local.advertise_addr.clone(),
                        });
                    } else if n.role == NodeRole::Manager || n.spec.role == NodeRole::Manager {
                        n.role = NodeRole::Worker;
                        n.spec.role = NodeRole::Worker;
                        n.manager_status = None;
                        n.status.state = shoal_scheduler::model::node::NodeState::Down;
                        n.status.message = "manager of the previous cluster".into();
                    }
                    StoreObject::Node(n)
                }
                other => other,
            };
            creates.push(ClusterCommand::Create(obj));
        }
        // The cluster object first, as on init.
        creates.sort_by_key(|c| !matches!(c, ClusterCommand::Create(StoreObject::Cluster(_))));
        let running = self.start(local.clone(), certs.clone()).await?;
        let result = async {
            let store = running.store.clone().ok_or(ClusterError::NotManager)?;
            store
                .initialize(BTreeMap::from([(
                    local.raft_id,
                    RaftNode::new(local.advertise_addr.clone()),
                )]))
                .await
                .map_err(store_err)?;
            wait_for(|| store.is_leader(), "this node to become the raft leader").await?;
            store
                .propose(ClusterCommand::Batch(creates))
                .await
                .map_err(store_err)?;
            let seal = self
                .inner
                .sealed_with
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            self.inner.dir.save(&local, &certs, seal.as_deref())
        }
        .await;
        if let Err(e) = result {
            running.shutdown().await;
            *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = None;
            return Err(e);
        }
        **guard = Some(running);
        Ok(local.node_id)
    }
}
