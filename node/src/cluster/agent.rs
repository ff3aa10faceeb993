//! The agent's session with the dispatcher: a heartbeat to the leader every period,
//! following the leader when it moves and failing over across the known managers.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use shoal_scheduler::model::node::{NodeDescription, NodeRole};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::join::{ManagerIds, manager_channel};
use super::local::Certs;
use super::pb::cluster_client::ClusterClient;
use super::rpc::{HeartbeatRequest, HeartbeatResponse, decode, encode};

/// How long a renewal or trust request waits before it is asked again (the restart it
/// leads to replaces this agent, so only a failed one is repeated).
const RETRY_ASK: Duration = Duration::from_secs(10);

/// What the agent tells the node's cluster service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// The operator changed this node's role: renew the certificate and restart as `0`.
    RoleChange(NodeRole),
    /// The manager list changed (persist it for restarts): addresses, node IDs.
    Managers(Vec<String>, Vec<String>),
    /// The cluster root changed (a rotation finished): trust this root from now on.
    TrustRoot(String),
    /// The node was removed from the cluster.
    Removed,
    /// The certificate reached its renewal time, or a root rotation wants one from the new
    /// root: renew it.
    RenewCertificate,
}

/// Everything the agent loop needs.
#[derive(Debug)]
pub struct Agent {
    /// This node's certificates.
    pub certs: Certs,
    /// The role its certificate carries.
    pub role: NodeRole,
    /// `host:port` this node advertises.
    pub advertise_addr: String,
    /// Known managers, most likely leader first.
    pub managers: Arc<Mutex<Vec<String>>>,
    /// Node IDs of the current managers: the only peers this agent talks to.
    pub manager_ids: ManagerIds,
    /// What the node reports, read afresh for each heartbeat (engine labels can change).
    pub description: Arc<RwLock<NodeDescription>>,
    /// Where role changes and removals go.
    pub events: mpsc::Sender<AgentEvent>,
}

impl Agent {
    fn client(&self, addr: &str) -> Option<ClusterClient<Channel>> {
        let chain = format!("{}\n{}", self.certs.cert_pem.trim_end(), self.certs.ca_pem);
        manager_channel(
            addr,
            &self.certs.ca_pem,
            &chain,
            &self.certs.key_pem,
            self.manager_ids.clone(),
        )
        .inspect_err(|e| tracing::warn!(manager = %addr, error = %e, "no channel to manager"))
        .ok()
        .map(ClusterClient::new)
    }

    /// What to ask of the node service after a heartbeat told us the cluster's `root`:
    /// a certificate from the key that signs now, then trust in the current root.
    fn root_event(&self, root: &super::rpc::RootInfo) -> Option<AgentEvent> {
        let mine = super::ca::node_tls_info(&self.certs.cert_pem, &self.certs.ca_pem).ok()?;
        if mine.cert_issuer_public_key != root.signer_public_key {
            Some(AgentEvent::RenewCertificate)
        } else if !super::ca::same_certificate(&root.trust_root, &self.certs.ca_pem) {
            Some(AgentEvent::TrustRoot(root.trust_root.clone()))
        } else {
            None
        }
    }

    /// Takes `ids` (from a manager this node verified) as the managers it accepts; true
    /// when that changed the list. An empty list (an older manager) changes nothing.
    fn learn_manager_ids(&self, mut ids: Vec<String>) -> bool {
        if ids.is_empty() {
            return false;
        }
        ids.sort_unstable();
        let mut cur = self.manager_ids.write().unwrap_or_else(|e| e.into_inner());
        let mut known = cur.clone();
        known.sort_unstable();
        if known == ids {
            return false;
        }
        *cur = ids;
        true
    }

    /// Tells the node service the manager addresses `list` and the accepted IDs, which it
    /// saves for the next start.
    async fn announce_managers(&self, list: Vec<String>) {
        let ids = self
            .manager_ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let _ = self.events.send(AgentEvent::Managers(list, ids)).await;
    }

    /// Heartbeats until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut target_idx = 0usize;
        let mut redirect: Option<String> = None;
        let mut clients: std::collections::HashMap<String, ClusterClient<Channel>> =
            Default::default();
        // Renew at a random point in 50-80% of the lifetime (swarmkit's rule); a request
        // that did not lead to a restart is repeated after a while.
        let renew_at = super::ca::validity(&self.certs.cert_pem)
            .map(|(nb, na)| super::ca::random_renewal_time(nb, na))
            .ok();
        let mut asked: Option<std::time::Instant> = None;
        let tls_info = super::ca::node_tls_info(&self.certs.cert_pem, &self.certs.ca_pem).ok();
        // Only a node the dispatcher has accepted before can learn it was removed: right
        // after init or join the node object may not be applied on the leader yet.
        let mut registered = false;
        loop {
            let may_ask = asked.is_none_or(|t| t.elapsed() > RETRY_ASK);
            if may_ask && renew_at.is_some_and(|t| std::time::SystemTime::now() >= t) {
                asked = Some(std::time::Instant::now());
                tracing::info!("certificate reached its renewal time");
                let _ = self.events.send(AgentEvent::RenewCertificate).await;
            }
            let managers = self
                .managers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let target = redirect.take().or_else(|| {
                (!managers.is_empty()).then(|| managers[target_idx % managers.len()].clone())
            });
            let mut wait = Duration::from_millis(500);
            if let Some(addr) = target {
                let client = match clients.get(&addr) {
                    Some(c) => Some(c.clone()),
                    None => self.client(&addr).inspect(|c| {
                        clients.insert(addr.clone(), c.clone());
                    }),
                };
                let mut description = self
                    .description
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                description.tls_info = tls_info.clone();
                let req = HeartbeatRequest {
                    description,
                    advertise_addr: self.advertise_addr.clone(),
                };
                let result = match (client, encode(&req)) {
                    (Some(mut c), Ok(msg)) => tokio::select! {
                        _ = stop.cancelled() => return,
                        r = c.heartbeat(msg) => {
                            r.and_then(|r| decode::<HeartbeatResponse>(r.get_ref()))
                        }
                    },
                    (_, Err(e)) => Err(e),
                    (None, _) => Err(tonic::Status::invalid_argument("bad manager address")),
                };
                match result {
                    Ok(HeartbeatResponse::Ok {
                        period_ms,
                        managers: new_managers,
                        desired_role,
                        manager_ids,
                        root,
                    }) => {
                        // Keep talking to this leader: put it first.
                        let mut list = vec![addr.clone()];
                        list.extend(new_managers.into_iter().filter(|m| *m != addr));
                        let changed = {
                            let mut cur = self.managers.lock().unwrap_or_else(|e| e.into_inner());
                            let changed = *cur != list;
                            *cur = list.clone();
                            changed
                        };
                        let ids_changed = self.learn_manager_ids(manager_ids);
                        if ids_changed {
                            // Open connections were checked against the old list.
                            clients.retain(|a, _| *a == addr);
                        }
                        target_idx = 0;
                        registered = true;
                        if changed || ids_changed {
                            self.announce_managers(list).await;
                        }
                        if asked.is_none_or(|t| t.elapsed() > RETRY_ASK)
                            && let Some(ev) = root.as_ref().and_then(|r| self.root_event(r))
                        {
                            asked = Some(std::time::Instant::now());
                            tracing::info!(
                                renew = ev == AgentEvent::RenewCertificate,
                                "the cluster root CA changed"
                            );
                            let _ = self.events.try_send(ev);
                        }
                        // Repeated each heartbeat until the node restarts with the role
                        // (a reissue that failed, e.g. to a manager that just lost
                        // leadership, is retried); the service ignores duplicates.
                        if desired_role != self.role {
                            let _ = self.events.try_send(AgentEvent::RoleChange(desired_role));
                        }
                        wait = Duration::from_millis(period_ms.max(100));
                    }
                    Ok(HeartbeatResponse::NotLeader {
                        leader,
                        manager_ids,
                    }) => match leader {
                        Some(l) => {
                            if self.learn_manager_ids(manager_ids) {
                                clients.retain(|a, _| *a == addr);
                                let list = self
                                    .managers
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .clone();
                                self.announce_managers(list).await;
                            }
                            redirect = Some(l);
                            wait = Duration::from_millis(50);
                        }
                        None => target_idx += 1,
                    },
                    Ok(HeartbeatResponse::Removed) if registered => {
                        let _ = self.events.send(AgentEvent::Removed).await;
                        wait = Duration::from_secs(5);
                    }
                    Ok(HeartbeatResponse::Removed) => {}
                    Err(status) => {
                        tracing::debug!(manager = %addr, error = %status.message(), "heartbeat failed");
                        target_idx += 1;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
