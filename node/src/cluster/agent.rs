//! The agent's session with the dispatcher: a heartbeat to the leader every period,
//! following the leader when it moves and failing over across the known managers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_scheduler::model::node::{NodeDescription, NodeRole};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::join::channel;
use super::local::Certs;
use super::pb::cluster_client::ClusterClient;
use super::rpc::{HeartbeatRequest, HeartbeatResponse, decode, encode};

/// What the agent tells the node's cluster service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// The operator changed this node's role: renew the certificate and restart as `0`.
    RoleChange(NodeRole),
    /// The manager list changed (persist it for restarts).
    Managers(Vec<String>),
    /// The node was removed from the cluster.
    Removed,
    /// The certificate is past half its lifetime: renew it.
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
    /// What the node reports.
    pub description: NodeDescription,
    /// Where role changes and removals go.
    pub events: mpsc::Sender<AgentEvent>,
}

impl Agent {
    fn client(&self, addr: &str) -> Option<ClusterClient<Channel>> {
        let chain = format!("{}\n{}", self.certs.cert_pem.trim_end(), self.certs.ca_pem);
        channel(
            addr,
            &self.certs.ca_pem,
            Some((&chain, &self.certs.key_pem)),
        )
        .ok()
        .map(ClusterClient::new)
    }

    /// Heartbeats until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut target_idx = 0usize;
        let mut redirect: Option<String> = None;
        let mut clients: std::collections::HashMap<String, ClusterClient<Channel>> =
            Default::default();
        let mut renewal_asked = false;
        // Only a node the dispatcher has accepted before can learn it was removed: right
        // after init or join the node object may not be applied on the leader yet.
        let mut registered = false;
        loop {
            if !renewal_asked
                && let Ok((nb, na)) = super::ca::validity(&self.certs.cert_pem)
                && super::ca::needs_renewal(nb, na, std::time::SystemTime::now())
            {
                renewal_asked = true;
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
                let req = HeartbeatRequest {
                    description: self.description.clone(),
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
                        target_idx = 0;
                        registered = true;
                        if changed {
                            let _ = self.events.send(AgentEvent::Managers(list)).await;
                        }
                        // Repeated each heartbeat until the node restarts with the role
                        // (a reissue that failed, e.g. to a manager that just lost
                        // leadership, is retried); the service ignores duplicates.
                        if desired_role != self.role {
                            let _ = self.events.try_send(AgentEvent::RoleChange(desired_role));
                        }
                        wait = Duration::from_millis(period_ms.max(100));
                    }
                    Ok(HeartbeatResponse::NotLeader { leader }) => match leader {
                        Some(l) => {
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
