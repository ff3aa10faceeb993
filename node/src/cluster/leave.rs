//! `docker swarm leave [--force]`, including a manager taking itself out of Raft first.

use shoal_scheduler::model::node::NodeRole;

use super::ClusterError;
use super::ca::NodeIdentity;
use super::join::channel;
use super::local::Certs;
use super::pb::cluster_client::ClusterClient;
use super::rpc::MembershipRequest;
use super::service::ClusterService;

impl ClusterService {
    /// `docker swarm leave [--force]`.
    ///
    /// Errors: NotInSwarm; Unavailable with dockerd's warning for a manager without force.
    pub async fn leave(&self, force: bool) -> Result<(), ClusterError> {
        let mut guard = self.inner.running.lock().await;
        if self.is_locked() {
            if !force {
                return Err(ClusterError::Locked);
            }
            *self.inner.locked.lock().unwrap_or_else(|e| e.into_inner()) = None;
            self.inner.dir.remove_all()?;
            return Ok(());
        }
        let Some(running) = guard.as_ref() else {
            return Err(ClusterError::NotInSwarm);
        };
        if let Some(m) = running.manager.clone() {
            let managers: Vec<_> = m
                .nodes()
                .into_iter()
                .filter(|n| n.role == NodeRole::Manager)
                .collect();
            let reachable = managers
                .iter()
                .filter(|n| {
                    n.manager_status.as_ref().is_some_and(|s| {
                        s.reachability == shoal_scheduler::model::node::Reachability::Reachable
                    })
                })
                .count()
                .max(1);
            if !force {
                let mut msg = String::from(
                    "You are attempting to leave the swarm on a node that is participating as a manager. ",
                );
                if managers.len() <= 1 {
                    msg.push_str("Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message. ");
                } else {
                    msg.push_str(&format!(
                        "Removing this node leaves {} managers out of {}. Without a Raft quorum your swarm will be inaccessible. The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.",
                        reachable - 1,
                        managers.len()
                    ));
                }
                return Err(ClusterError::Unavailable(msg));
            }
            if managers.len() > 1 {
                let who = NodeIdentity {
                    node_id: running.local.node_id.clone(),
                    role: NodeRole::Manager,
                    cluster_id: running.local.cluster_id.clone(),
                };
                let result = if m.is_leader() {
                    m.membership(&who, MembershipRequest::Leave).await
                } else {
                    match m.store().leader().and_then(|l| l.node) {
                        Some(leader) => self.remote_leave(&running.certs, &leader.addr).await,
                        None => Err(ClusterError::Unavailable("no leader".into())),
                    }
                };
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not remove this manager from raft; leaving anyway");
                }
            }
        }
        if let Some(r) = guard.take() {
            r.shutdown().await;
        }
        *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = None;
        self.inner.dir.remove_all()?;
        tracing::info!("left the swarm");
        Ok(())
    }

    async fn remote_leave(&self, certs: &Certs, leader: &str) -> Result<(), ClusterError> {
        let chain = format!("{}\n{}", certs.cert_pem.trim_end(), certs.ca_pem);
        let mut c = ClusterClient::new(channel(
            leader,
            &certs.ca_pem,
            Some((&chain, &certs.key_pem)),
        )?);
        let msg =
            super::rpc::encode(&MembershipRequest::Leave).map_err(ClusterError::from_status)?;
        c.membership(msg).await.map_err(ClusterError::from_status)?;
        Ok(())
    }
}
