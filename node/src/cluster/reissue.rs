//! What the agent reports back (role changes, renewal, removal, manager list) and the
//! certificate reissue behind renewal and promote/demote, which restarts the node's
//! cluster parts with the new certificate.

use shoal_scheduler::model::node::NodeRole;

use super::ClusterError;
use super::agent::AgentEvent;
use super::ca;
use super::join::manager_channel;
use super::local::{Certs, LocalState};
use super::pb::cluster_client::ClusterClient;
use super::rpc::{RenewRequest, RenewResponse};
use super::service::{ClusterService, Restarting, Running};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

impl ClusterService {
    pub(super) async fn handle_events(
        self,
        mut rx: mpsc::Receiver<AgentEvent>,
        stop: CancellationToken,
    ) {
        loop {
            let ev = tokio::select! {
                _ = stop.cancelled() => return,
                ev = rx.recv() => match ev { Some(ev) => ev, None => return },
            };
            match ev {
                AgentEvent::Managers(list, ids) => {
                    let mut guard = self.inner.running.lock().await;
                    if let Some(r) = guard.as_mut() {
                        // Kept in the running state too: a restart for a new root or role
                        // saves and starts from it.
                        r.local.managers = list;
                        r.local.manager_ids = ids;
                        if let Err(e) = self.inner.dir.save_state(&r.local) {
                            tracing::warn!(error = %e, "saving manager list failed");
                        }
                    }
                }
                AgentEvent::RoleChange(role) => {
                    // The restart stops this task; run it detached.
                    let svc = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = svc.reissue(Some(role)).await {
                            tracing::warn!(error = %e, ?role, "role change failed");
                        }
                    });
                }
                AgentEvent::TrustRoot(pem) => {
                    let svc = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = svc.trust_root(pem).await {
                            tracing::warn!(error = %e, "moving to the new root CA failed");
                        }
                    });
                }
                AgentEvent::RenewCertificate => {
                    let svc = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = svc.reissue(None).await {
                            tracing::warn!(error = %e, "certificate renewal failed");
                        }
                    });
                }
                AgentEvent::Removed => {
                    // `docker node rm --force` of a live node: it is no longer a member,
                    // so it drops its swarm state as if it had left.
                    tracing::warn!("this node was removed from the swarm; leaving");
                    let svc = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = svc.leave(true).await {
                            tracing::warn!(error = %e, "could not leave after removal");
                        }
                    });
                }
            }
        }
    }

    /// Gets a fresh certificate from a manager and restarts with it: for a role change
    /// (`want`: the role the managers asked for) or a renewal before expiry (`None`).
    pub(super) async fn reissue(&self, want: Option<NodeRole>) -> Result<(), ClusterError> {
        let guard = self.inner.running.lock().await;
        let Some(running) = guard.as_ref() else {
            return Ok(());
        };
        if want == Some(running.local.role) {
            return Ok(());
        }
        let managers = running
            .managers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let manager_ids = running
            .manager_ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let (key_pem, public) = ca::generate_node_key()?;
        let mut last_err = ClusterError::Unavailable("no manager reachable".into());
        let mut renewed: Option<RenewResponse> = None;
        for addr in &managers {
            match self
                .renew_at(
                    &running.certs,
                    &running.manager_ids,
                    addr,
                    &public,
                    &running.local.advertise_addr,
                )
                .await
            {
                Ok(r) => {
                    renewed = Some(r);
                    break;
                }
                Err(e) => last_err = e,
            }
        }
        let renewed = renewed.ok_or(last_err)?;
        if want.is_some_and(|r| r != renewed.role) {
            return Ok(());
        }
        let role = renewed.role;
        let role_changed = role != running.local.role;
        let mut local = running.local.clone();
        local.role = renewed.role;
        local.raft_id = renewed.raft_id;
        local.managers = managers;
        local.manager_ids = manager_ids;
        // The root comes from a manager this node verified; it changes only when a
        // rotation finished.
        let ca_pem = if renewed.ca_pem.trim().is_empty() {
            running.certs.ca_pem.clone()
        } else {
            renewed.ca_pem.clone()
        };
        let certs = Certs {
            cert_pem: renewed.cert_pem,
            key_pem,
            ca_pem,
        };
        tracing::info!(node.id = %local.node_id, ?role, role_changed, "restarting with a new certificate");
        // A promoted node starts Raft empty and catches up; a demoted one keeps none.
        self.restart_with(guard, local, certs, role_changed).await
    }

    /// Moves this node's trust to the cluster's new root once a rotation finished,
    /// keeping its certificate: it chains to the new root directly, and through the
    /// cross-signed certificate to the old one, so nodes that have not moved yet still
    /// verify it.
    pub(super) async fn trust_root(&self, ca_pem: String) -> Result<(), ClusterError> {
        let guard = self.inner.running.lock().await;
        let Some(running) = guard.as_ref() else {
            return Ok(());
        };
        if ca::same_certificate(&running.certs.ca_pem, &ca_pem) {
            return Ok(());
        }
        let mine = ca::node_tls_info(&running.certs.cert_pem, &running.certs.ca_pem)?;
        if mine.cert_issuer_public_key != ca::public_key_of(&ca_pem)? {
            // Not issued by the new root: renewing gets a certificate and the root at once.
            drop(guard);
            return self.reissue(None).await;
        }
        let local = running.local.clone();
        let certs = Certs {
            cert_pem: running.certs.cert_pem.clone(),
            key_pem: running.certs.key_pem.clone(),
            ca_pem: ca::canonical_pem(&ca_pem),
        };
        tracing::info!(node.id = %local.node_id, "restarting with the new root CA");
        self.restart_with(guard, local, certs, false).await
    }

    /// Stops the running cluster parts, saves the new identity and starts them again,
    /// holding API calls (through `Restarting`) until the new parts know a leader.
    /// `fresh_raft` drops the Raft log first, for a node whose role changed.
    async fn restart_with(
        &self,
        mut guard: tokio::sync::MutexGuard<'_, Option<Running>>,
        local: LocalState,
        certs: Certs,
        fresh_raft: bool,
    ) -> Result<(), ClusterError> {
        let _restarting = Restarting::begin(&self.inner.restarting);
        if let Some(old) = guard.take() {
            old.shutdown().await;
        }
        // Drop the status view's store handle too, so the Raft database can be reopened.
        *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = None;
        if fresh_raft {
            self.inner.dir.remove_raft()?;
        }
        let seal = self
            .inner
            .sealed_with
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.inner.dir.save(&local, &certs, seal.as_deref())?;
        let running = self.start(local, certs).await?;
        let metrics = running.store.as_ref().map(|s| s.metrics());
        *guard = Some(running);
        drop(guard);
        settle(metrics).await;
        Ok(())
    }

    async fn renew_at(
        &self,
        certs: &Certs,
        manager_ids: &super::join::ManagerIds,
        addr: &str,
        public: &[u8],
        advertise_addr: &str,
    ) -> Result<RenewResponse, ClusterError> {
        let chain = format!("{}\n{}", certs.cert_pem.trim_end(), certs.ca_pem);
        let mut c = ClusterClient::new(manager_channel(
            addr,
            &certs.ca_pem,
            &chain,
            &certs.key_pem,
            manager_ids.clone(),
        )?);
        let msg = super::rpc::encode(&RenewRequest {
            public_key_der: public.to_vec(),
            advertise_addr: advertise_addr.to_owned(),
        })
        .map_err(ClusterError::from_status)?;
        let reply = c.renew(msg).await.map_err(ClusterError::from_status)?;
        super::rpc::decode(reply.get_ref()).map_err(ClusterError::from_status)
    }
}

/// How long a restarted manager waits to learn the leader before the API calls held during
/// its restart go on (and answer "no leader" if it still has none).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until a restarted manager's Raft member knows the leader, so the API calls held
/// during the restart find a working manager rather than a member still catching up.
async fn settle(
    metrics: Option<tokio::sync::watch::Receiver<shoal_raft::types::typ::RaftMetrics>>,
) {
    if let Some(mut rx) = metrics {
        let _ = tokio::time::timeout(SETTLE, rx.wait_for(|m| m.current_leader.is_some())).await;
    }
}
