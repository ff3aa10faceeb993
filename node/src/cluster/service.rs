//! [`ClusterService`]: this node's membership in a swarm — init, join, leave, restart,
//! role changes — and the read side the API needs (info, ping, manager handle).
//!
//! While the node is in a swarm it runs one [`Running`]: the TLS listener (Raft + cluster
//! RPCs), the Raft store and leader loop on managers, and the agent's heartbeat session.
//! A role change or leave stops it (in reverse start order) and starts a new one.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use shoal_raft::network::RaftGrpc;
use shoal_raft::{ClusterStore, StoreConfig};
use shoal_scheduler::model::node::{NodeAvailability, NodeDescription, NodeRole};
use shoal_scheduler::model::{Cluster, ClusterSpec};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::TcpIncoming;
use tracing::Instrument;

use super::agent::Agent;
use super::dispatcher::Dispatcher;
use super::local::{Certs, LocalState, SwarmDir};
use super::manager::ManagerCtx;
use super::rpc::ClusterRpc;
use super::{ClusterError, store_err};

/// Docker's default swarm port.
pub const DEFAULT_PORT: u16 = 2377;
/// How long init/join wait for the node to become a working member.
const MEMBER_DEADLINE: Duration = Duration::from_secs(30);

/// What this node reports about itself to the dispatcher.
pub type HostDescription = NodeDescription;

/// `docker swarm init` parameters.
#[derive(Debug, Clone, Default)]
pub struct InitParams {
    /// `--listen-addr` (default `0.0.0.0:2377`).
    pub listen_addr: String,
    /// `--advertise-addr` (default: derived).
    pub advertise_addr: String,
    /// `--force-new-cluster`.
    pub force_new_cluster: bool,
    /// `--availability` of this node (default active).
    pub availability: Option<NodeAvailability>,
    /// The initial spec (defaults filled in).
    pub spec: ClusterSpec,
}

/// `docker swarm join` parameters.
#[derive(Debug, Clone, Default)]
pub struct JoinParams {
    /// `--listen-addr`.
    pub listen_addr: String,
    /// `--advertise-addr`.
    pub advertise_addr: String,
    /// The managers to try.
    pub remote_addrs: Vec<String>,
    /// The join token.
    pub token: String,
    /// `--availability` of this node (default active).
    pub availability: Option<NodeAvailability>,
}

/// The node's swarm state as `docker info` and `/_ping` show it.
#[derive(Debug, Clone, Default)]
pub struct SwarmStatus {
    /// inactive / pending / active / locked / error.
    pub state: &'static str,
    /// This node's ID.
    pub node_id: String,
    /// The IP it advertises.
    pub node_addr: String,
    /// Whether it is a manager.
    pub control_available: bool,
    /// Known managers (node ID, addr).
    pub remote_managers: Vec<(String, String)>,
    /// Node count (managers only).
    pub nodes: Option<usize>,
    /// Manager count (managers only).
    pub managers: Option<usize>,
    /// The cluster object (managers only).
    pub cluster: Option<Cluster>,
}

/// One membership's running parts.
pub(super) struct Running {
    pub(super) local: LocalState,
    pub(super) certs: Certs,
    pub(super) store: Option<ClusterStore>,
    pub(super) manager: Option<Arc<ManagerCtx>>,
    pub(super) managers: Arc<Mutex<Vec<String>>>,
    pub(super) manager_ids: super::join::ManagerIds,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Running {
    pub(super) async fn shutdown(self) {
        self.stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("cluster tasks did not stop within 10s");
        }
        if let Some(store) = self.store
            && let Err(e) = store.shutdown().await
        {
            tracing::warn!(error = %e, "raft shutdown failed");
        }
    }
}

/// What status reads need: the local state, the manager handle, the agent's manager list.
type View = (LocalState, Option<Arc<ManagerCtx>>, Arc<Mutex<Vec<String>>>);

pub(super) struct Inner {
    pub(super) dir: SwarmDir,
    /// What this node reports; engine labels change on a config reload.
    pub(super) host: Arc<RwLock<HostDescription>>,
    /// Serializes init/join/leave/role changes.
    pub(super) running: tokio::sync::Mutex<Option<Running>>,
    /// A cheap copy for status reads that must not wait behind a slow join.
    pub(super) view: RwLock<Option<View>>,
    /// A restarted autolocked manager waiting for `docker swarm unlock` (key still sealed).
    pub(super) locked: Mutex<Option<(LocalState, Certs)>>,
    /// The unlock key the on-disk node key is sealed with, if any.
    pub(super) sealed_with: Mutex<Option<Vec<u8>>>,
    /// How this node runs tasks (none: the node joins but runs no tasks, as in the
    /// membership tests).
    pub(super) executor: Mutex<Option<Executor>>,
    /// How many restarts of the cluster parts (renewal, new root, role change) are under
    /// way: API calls wait them out instead of answering "not a swarm manager".
    pub(super) restarting: tokio::sync::watch::Sender<u32>,
}

/// Marks a restart of this node's cluster parts for as long as it lives.
pub(super) struct Restarting<'a>(&'a tokio::sync::watch::Sender<u32>);

impl<'a> Restarting<'a> {
    pub(super) fn begin(tx: &'a tokio::sync::watch::Sender<u32>) -> Self {
        tx.send_modify(|n| *n += 1);
        Self(tx)
    }
}

impl Drop for Restarting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How long an API call waits for a restart of the cluster parts to finish.
const RESTART_WAIT: Duration = Duration::from_secs(20);

/// What the agent needs to run tasks: the engine (narrowly) and where task secret files go.
#[derive(Clone)]
pub struct Executor {
    /// The engine as a task controller.
    pub controller: Arc<dyn crate::agent::exec::TaskController>,
    /// Root of the per-task tmpfs mounts (under exec-root).
    pub files_root: std::path::PathBuf,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("files_root", &self.files_root)
            .finish_non_exhaustive()
    }
}

/// This node's swarm membership. Cheap to clone.
#[derive(Clone)]
pub struct ClusterService {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for ClusterService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterService").finish_non_exhaustive()
    }
}

/// Adds the default port to an address without one.
pub(super) fn with_port(addr: &str, port: u16) -> String {
    if addr.parse::<std::net::SocketAddr>().is_ok() {
        return addr.to_owned();
    }
    if addr.parse::<std::net::Ipv6Addr>().is_ok() {
        return format!("[{addr}]:{port}");
    }
    match addr.rsplit_once(':') {
        Some((_, p)) if p.parse::<u16>().is_ok() => addr.to_owned(),
        _ => format!("{addr}:{port}"),
    }
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(DEFAULT_PORT)
}

/// The local IP used to reach `peer` (or the default route when `peer` is None).
fn local_ip_towards(peer: Option<&str>) -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    let target = peer
        .map(str::to_owned)
        .unwrap_or_else(|| "8.8.8.8:53".into());
    s.connect(target).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// The first IPv4 address of network interface `name`, if it is one.
fn interface_ipv4(name: &str) -> Option<std::net::Ipv4Addr> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|ifa| {
        if ifa.interface_name != name {
            return None;
        }
        ifa.address
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|sin| sin.ip())
    })
}

/// Chooses the advertise address as dockerd does: the flag (port defaulting to the listen
/// port), else a specific listen IP, else the address of the route to `peer`.
pub(super) fn advertise(
    listen: &str,
    flag: &str,
    peer: Option<&str>,
) -> Result<String, ClusterError> {
    let port = port_of(listen);
    if !flag.is_empty() {
        // dockerd also accepts an interface name (`--advertise-addr eth0[:port]`).
        let (host, flag_port) = match flag.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() && !h.contains(':') => (h, Some(p)),
            _ => (flag, None),
        };
        if host.parse::<std::net::IpAddr>().is_err()
            && let Some(ip) = interface_ipv4(host)
        {
            return Ok(format!(
                "{ip}:{}",
                flag_port.map_or(port, |p| p.parse().unwrap_or(port))
            ));
        }
        return Ok(with_port(flag, port));
    }
    if let Some((host, _)) = listen.rsplit_once(':')
        && !host.is_empty()
        && host != "0.0.0.0"
        && host != "[::]"
    {
        return Ok(listen.to_owned());
    }
    local_ip_towards(peer)
        .map(|ip| with_port(&ip.to_string(), port))
        .ok_or_else(|| {
            ClusterError::InvalidArgument(
                "could not find the system's IP address - specify one with --advertise-addr".into(),
            )
        })
}

impl ClusterService {
    /// A service over `<data_root>/swarm`; call [`Self::restore`] to rejoin after a restart.
    pub fn new(data_root: &std::path::Path, host: HostDescription) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir: SwarmDir::new(data_root),
                host: Arc::new(RwLock::new(host)),
                running: tokio::sync::Mutex::new(None),
                view: RwLock::new(None),
                locked: Mutex::new(None),
                sealed_with: Mutex::new(None),
                executor: Mutex::new(None),
                restarting: tokio::sync::watch::channel(0).0,
            }),
        }
    }

    /// Lets this node's agent run tasks through `executor` (call before [`Self::restore`]).
    pub fn set_executor(&self, executor: Executor) {
        *self
            .inner
            .executor
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(executor);
    }

    /// What this node reports to the dispatcher, as it is now.
    pub(super) fn host(&self) -> HostDescription {
        self.inner
            .host
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the engine labels this node reports (`--label`, reloaded on SIGHUP); the
    /// agent's next heartbeat carries them and the leader updates the node object.
    pub fn set_engine_labels(&self, labels: std::collections::BTreeMap<String, String>) {
        self.inner
            .host
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .engine
            .labels = labels;
    }

    /// Restarts the saved membership, if any (a restarted node rejoins by itself).
    pub async fn restore(&self) -> Result<(), ClusterError> {
        let mut guard = self.inner.running.lock().await;
        if guard.is_some() {
            return Ok(());
        }
        if let Some((local, certs)) = self.inner.dir.load()? {
            if super::autolock::is_sealed(&certs.key_pem) {
                tracing::warn!(node.id = %local.node_id, "swarm is locked; run docker swarm unlock");
                *self.inner.locked.lock().unwrap_or_else(|e| e.into_inner()) = Some((local, certs));
                return Ok(());
            }
            tracing::info!(node.id = %local.node_id, role = ?local.role, "rejoining swarm");
            *guard = Some(self.start(local, certs).await?);
        }
        Ok(())
    }

    /// Stops the running membership (daemon shutdown); the on-disk state stays.
    pub async fn shutdown(&self) {
        let running = self.inner.running.lock().await.take();
        *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) = None;
        if let Some(r) = running {
            r.shutdown().await;
        }
    }

    /// The manager handle for API calls: waits out a restart of this node's cluster parts
    /// (a certificate renewal or a move to a new root, which every node goes through during
    /// `docker swarm ca --rotate`), so that a client polling this node, such as the CLI's
    /// rotation progress, does not see it leave the swarm for a moment.
    ///
    /// Errors: as [`Self::manager`].
    pub async fn manager_settled(&self) -> Result<Arc<ManagerCtx>, ClusterError> {
        let mut rx = self.inner.restarting.subscribe();
        if *rx.borrow_and_update() > 0 {
            // Past the wait, answer with whatever state the node is in.
            let _ = tokio::time::timeout(RESTART_WAIT, rx.wait_for(|n| *n == 0)).await;
        }
        self.manager()
    }

    /// [`Self::manager_settled`] for calls that read or change the cluster's objects: it
    /// also refuses while the manager has no leader or lost its quorum.
    ///
    /// Errors: as [`Self::manager`], and dockerd's "does not have a leader" text (503).
    pub async fn available_manager(&self) -> Result<Arc<ManagerCtx>, ClusterError> {
        let m = self.manager_settled().await?;
        m.check_available()?;
        Ok(m)
    }

    /// The manager handle for cluster calls.
    ///
    /// Errors: dockerd's "not a swarm manager" texts (503).
    pub fn manager(&self) -> Result<Arc<ManagerCtx>, ClusterError> {
        if self.is_locked() {
            return Err(ClusterError::Locked);
        }
        let view = self.inner.view.read().unwrap_or_else(|e| e.into_inner());
        match view.as_ref() {
            None => Err(ClusterError::NotManager),
            Some((_, Some(m), _)) => Ok(m.clone()),
            Some((_, None, _)) => Err(ClusterError::NotManagerWorker),
        }
    }

    /// The state for `docker info` / `/_ping`.
    pub fn status(&self) -> SwarmStatus {
        if let Some((local, _)) = self
            .inner
            .locked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return SwarmStatus {
                state: "locked",
                node_id: local.node_id.clone(),
                node_addr: super::manager::host_of(&local.advertise_addr),
                ..Default::default()
            };
        }
        let view = self.inner.view.read().unwrap_or_else(|e| e.into_inner());
        let Some((local, manager, managers)) = view.as_ref() else {
            return SwarmStatus {
                state: "inactive",
                ..Default::default()
            };
        };
        let mut st = SwarmStatus {
            state: "active",
            node_id: local.node_id.clone(),
            node_addr: super::manager::host_of(&local.advertise_addr),
            control_available: manager.is_some(),
            ..Default::default()
        };
        match manager {
            Some(m) => {
                let nodes = m.nodes();
                st.remote_managers = nodes
                    .iter()
                    .filter(|n| n.role == NodeRole::Manager)
                    .filter_map(|n| {
                        n.manager_status
                            .as_ref()
                            .map(|s| (n.id.to_string(), s.addr.clone()))
                    })
                    .collect();
                st.managers = Some(st.remote_managers.len());
                st.nodes = Some(nodes.len());
                st.cluster = m.cluster().ok();
            }
            None => {
                st.remote_managers = managers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .map(|a| (String::new(), a.clone()))
                    .collect();
            }
        }
        st
    }

    pub(super) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// [`Self::start`] for the unlock path.
    pub(super) fn start_unlocked(
        &self,
        local: LocalState,
        certs: Certs,
    ) -> futures::future::BoxFuture<'_, Result<Running, ClusterError>> {
        self.start(local, certs)
    }

    /// Starts the listener, Raft (managers), leader loop and agent for `local`.
    ///
    /// Boxed with an explicit `Send` bound: a role change restarts through here from a task
    /// this function spawns, and the compiler cannot infer `Send` through that cycle.
    pub(super) fn start(
        &self,
        local: LocalState,
        certs: Certs,
    ) -> futures::future::BoxFuture<'_, Result<Running, ClusterError>> {
        Box::pin(self.start_inner(local, certs))
    }

    async fn start_inner(&self, local: LocalState, certs: Certs) -> Result<Running, ClusterError> {
        // Root span: these tasks (and Raft's) outlive the API request that started them.
        let span = tracing::info_span!(parent: None, "cluster", node.id = %local.node_id);
        let tls = certs.tls();
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let (store, manager, dispatcher) = if local.role == NodeRole::Manager {
            let mut config = StoreConfig::new(
                local.raft_id,
                local.advertise_addr.clone(),
                self.inner.dir.raft_dir(),
            );
            let seal = self
                .inner
                .sealed_with
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            config.cipher = self.inner.dir.raft_cipher(seal.as_deref())?;
            config.peer_auth = super::manager::raft_peer_auth();
            config.observer = shoal_raft::ProposalObserver::new(|took| {
                crate::metrics::METRICS.raft_transaction(took);
            });
            let store = open_store(config, &tls).instrument(span.clone()).await?;
            let ctx = ManagerCtx::new(
                store.clone(),
                local.node_id.clone(),
                super::logs::broker::LogBroker::with_certs(certs.clone()),
            );
            let dispatcher = Dispatcher::new(ctx.clone());
            (Some(store), Some(ctx), Some(dispatcher))
        } else {
            (None, None, None)
        };
        let listener = TcpListener::bind(&local.listen_addr).await.map_err(|e| {
            ClusterError::InvalidArgument(format!("failed to listen on {}: {e}", local.listen_addr))
        });
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                if let Some(s) = &store {
                    let _ = s.shutdown().await;
                }
                return Err(e);
            }
        };
        let mut router = tonic::transport::Server::builder()
            .tls_config(tls.server_config_join_allowed())
            .map_err(|e| ClusterError::Certificate(e.to_string()))?
            .add_service(ClusterRpc::new(dispatcher.clone(), stop.clone()));
        if let Some(s) = &store {
            router = router.add_service(RaftGrpc::new(s.clone()));
        }
        let server_stop = stop.clone();
        tasks.spawn(
            async move {
                let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
                if let Err(e) = router
                    .serve_with_incoming_shutdown(incoming, server_stop.cancelled_owned())
                    .await
                {
                    tracing::error!(error = %e, "cluster listener failed");
                }
            }
            .instrument(span.clone()),
        );
        if let Some(d) = &dispatcher {
            tasks.spawn(d.clone().run(stop.clone()).instrument(span.clone()));
            let runner = super::runners::LeaderRunner::new(d.ctx().clone());
            tasks.spawn(runner.run(stop.clone()).instrument(span.clone()));
        }
        if let Some(m) = &manager {
            tasks.spawn(m.clone().run(stop.clone()).instrument(span.clone()));
            tasks.spawn(
                self.clone()
                    .keep_key_sealed(m.clone(), certs.key_pem.clone(), stop.clone())
                    .instrument(span.clone()),
            );
        }
        let managers = Arc::new(Mutex::new(if local.role == NodeRole::Manager {
            vec![local.advertise_addr.clone()]
        } else {
            local.managers.clone()
        }));
        let manager_ids: super::join::ManagerIds = Arc::new(RwLock::new(local.manager_ids.clone()));
        let (events_tx, events_rx) = mpsc::channel(16);
        let agent = Agent {
            certs: certs.clone(),
            role: local.role,
            advertise_addr: local.advertise_addr.clone(),
            managers: managers.clone(),
            manager_ids: manager_ids.clone(),
            description: self.inner.host.clone(),
            events: events_tx,
        };
        tasks.spawn(agent.run(stop.clone()).instrument(span.clone()));
        let executor = self
            .inner
            .executor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(ex) = executor {
            let _enter = span.enter();
            crate::agent::start(
                shoal_scheduler::model::NodeId::new(local.node_id.as_str()),
                self.host(),
                ex.controller,
                ex.files_root,
                certs.clone(),
                managers.clone(),
                manager_ids.clone(),
                &tasks,
                stop.clone(),
            );
        }
        tasks.spawn(
            self.clone()
                .handle_events(events_rx, stop.clone())
                .instrument(span.clone()),
        );
        *self.inner.view.write().unwrap_or_else(|e| e.into_inner()) =
            Some((local.clone(), manager.clone(), managers.clone()));
        Ok(Running {
            local,
            certs,
            store,
            manager,
            managers,
            manager_ids,
            stop,
            tasks,
        })
    }
}

/// Opens the Raft store, retrying briefly while handles of a just-stopped member (in-flight
/// API calls) still hold the database lock.
pub(super) async fn open_store(
    config: StoreConfig,
    tls: &shoal_raft::TlsConfig,
) -> Result<ClusterStore, ClusterError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ClusterStore::open(config.clone(), tls).await {
            Ok(s) => return Ok(s),
            Err(shoal_raft::StoreError::Db(e)) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "raft database busy; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(store_err(e)),
        }
    }
}

/// Polls `cond` until it holds or [`MEMBER_DEADLINE`] passes.
pub(super) async fn wait_for(
    mut cond: impl FnMut() -> bool,
    what: &str,
) -> Result<(), ClusterError> {
    let deadline = Instant::now() + MEMBER_DEADLINE;
    while !cond() {
        if Instant::now() > deadline {
            return Err(ClusterError::Unavailable(format!(
                "timed out waiting for {what}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_address_follows_dockerd_rules() {
        assert_eq!(with_port("10.0.0.1", 2377), "10.0.0.1:2377");
        assert_eq!(with_port("10.0.0.1:4000", 2377), "10.0.0.1:4000");
        assert_eq!(with_port("::1", 2377), "[::1]:2377");
        assert_eq!(
            advertise("0.0.0.0:2377", "10.0.0.1", None).unwrap(),
            "10.0.0.1:2377"
        );
        assert_eq!(
            advertise("0.0.0.0:2400", "10.0.0.1", None).unwrap(),
            "10.0.0.1:2400"
        );
        assert_eq!(
            advertise("10.0.0.2:2377", "", None).unwrap(),
            "10.0.0.2:2377"
        );
        assert_eq!(
            advertise("0.0.0.0:2377", "lo", None).unwrap(),
            "127.0.0.1:2377"
        );
        assert_eq!(
            advertise("0.0.0.0:2377", "lo:2390", None).unwrap(),
            "127.0.0.1:2390"
        );
        assert_eq!(
            advertise("0.0.0.0:2377", "", Some("127.0.0.1:2377")).unwrap(),
            "127.0.0.1:2377"
        );
    }
}
