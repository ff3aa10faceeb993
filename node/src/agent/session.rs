//! The agent's session with the leader's dispatcher: it follows the assignments stream into
//! the [`Worker`] and sends the runners' status reports in batches, failing over across the
//! known managers (the heartbeat loop keeps the current leader first in that list).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use super::worker::Worker;
use crate::cluster::dispatcher::wire::{AssignmentBatch, StatusReport, StatusUpdate};
use crate::cluster::join::{ManagerIds, manager_channel};
use crate::cluster::local::Certs;
use crate::cluster::pb;
use crate::cluster::pb::cluster_client::ClusterClient;
use crate::cluster::rpc::{decode, encode};

/// Most reports per `UpdateTaskStatus` call.
const REPORT_BATCH: usize = 512;
/// Pause before trying the next manager.
const RETRY: Duration = Duration::from_millis(250);

/// Dials managers with this node's certificate, one cached channel per address. A manager is
/// accepted only if its certificate names one of `manager_ids` (a demoted or removed
/// manager keeps a valid certificate until it expires); the cache is dropped when that list
/// changes, as its connections were checked against the old one.
#[derive(Debug, Clone)]
pub struct Dialer {
    certs: Certs,
    managers: Arc<Mutex<Vec<String>>>,
    manager_ids: ManagerIds,
    clients: Arc<Mutex<Cached>>,
}

#[derive(Debug, Default)]
struct Cached {
    /// The manager IDs the cached channels were made under.
    ids: Vec<String>,
    by_addr: HashMap<String, ClusterClient<Channel>>,
}

impl Dialer {
    /// A dialer over the shared manager list and the managers this node accepts.
    pub fn new(certs: Certs, managers: Arc<Mutex<Vec<String>>>, manager_ids: ManagerIds) -> Self {
        Self {
            certs,
            managers,
            manager_ids,
            clients: Arc::default(),
        }
    }

    /// The `attempt`-th manager to try (the first is the leader when heartbeats succeed).
    fn target(&self, attempt: usize) -> Option<String> {
        let m = self.managers.lock().unwrap_or_else(|e| e.into_inner());
        (!m.is_empty()).then(|| m[attempt % m.len()].clone())
    }

    pub(crate) fn client(&self, attempt: usize) -> Option<(String, ClusterClient<Channel>)> {
        let addr = self.target(attempt)?;
        let ids = self
            .manager_ids
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut cached = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if cached.ids != ids {
            cached.by_addr.clear();
            cached.ids = ids;
        }
        if let Some(c) = cached.by_addr.get(&addr) {
            return Some((addr, c.clone()));
        }
        let chain = format!("{}\n{}", self.certs.cert_pem.trim_end(), self.certs.ca_pem);
        let ch = manager_channel(
            &addr,
            &self.certs.ca_pem,
            &chain,
            &self.certs.key_pem,
            self.manager_ids.clone(),
        )
        .inspect_err(|e| tracing::warn!(manager = %addr, error = %e, "no channel to manager"))
        .ok()?;
        let c = ClusterClient::new(ch);
        cached.by_addr.insert(addr.clone(), c.clone());
        Some((addr, c))
    }
}

/// Follows the assignments stream until `stop`.
pub async fn follow_assignments(dialer: Dialer, mut worker: Worker, stop: CancellationToken) {
    let mut attempt = 0usize;
    loop {
        if let Some((addr, mut client)) = dialer.client(attempt) {
            let opened = tokio::select! {
                _ = stop.cancelled() => return,
                r = client.assignments(pb::Msg { data: b"{}".to_vec() }) => r,
            };
            match opened {
                Ok(resp) => {
                    attempt = 0;
                    let mut stream = resp.into_inner();
                    loop {
                        let msg = tokio::select! {
                            _ = stop.cancelled() => return,
                            m = stream.next() => m,
                        };
                        match msg {
                            Some(Ok(m)) => match decode::<AssignmentBatch>(&m) {
                                Ok(batch) => worker.apply(batch).await,
                                Err(e) => tracing::warn!(error = %e, "bad assignment batch"),
                            },
                            Some(Err(s)) => {
                                tracing::debug!(manager = %addr, error = %s.message(), "assignments stream broke");
                                break;
                            }
                            None => break,
                        }
                    }
                }
                Err(s) => {
                    tracing::debug!(manager = %addr, error = %s.message(), "assignments refused");
                    attempt += 1;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Sends the runners' reports to the leader in batches until `stop`; a report is kept until
/// the dispatcher has committed it.
pub async fn send_reports(
    dialer: Dialer,
    mut rx: mpsc::Receiver<StatusUpdate>,
    stop: CancellationToken,
) {
    let mut pending: Vec<StatusUpdate> = Vec::new();
    let mut attempt = 0usize;
    loop {
        if pending.is_empty() {
            tokio::select! {
                _ = stop.cancelled() => return,
                u = rx.recv() => match u { Some(u) => pending.push(u), None => return },
            }
        }
        while pending.len() < REPORT_BATCH {
            match rx.try_recv() {
                Ok(u) => pending.push(u),
                Err(_) => break,
            }
        }
        let sent = match (
            dialer.client(attempt),
            encode(&StatusReport {
                updates: pending.clone(),
            }),
        ) {
            (Some((addr, mut client)), Ok(msg)) => {
                let r = tokio::select! {
                    _ = stop.cancelled() => return,
                    r = client.update_task_status(msg) => r,
                };
                match r {
                    Ok(_) => true,
                    Err(s) => {
                        tracing::debug!(manager = %addr, error = %s.message(), "status report refused");
                        false
                    }
                }
            }
            _ => false,
        };
        if sent {
            pending.clear();
            attempt = 0;
        } else {
            attempt += 1;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RETRY) => {}
            }
        }
    }
}
