//! Start order and reverse shutdown order of the daemon's parts.
//!
//! start:    lock data-root → pid file → containerd (embedded or given)
//!           → image service → engine (restores containers) → API listeners
//! shutdown: listeners stop accepting and drain → engine tasks stop (containers
//!           keep running: live-restore) → embedded containerd stops → pid file goes

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::controller::EngineController;
use crate::backends::archive::ArchiveApi;
use crate::backends::build::BuildApi;
use crate::backends::containers::ContainersApi;
use crate::backends::exec::ExecApi;
use crate::backends::images::ImagesApi;
use crate::backends::networks::NetworksApi;
use crate::backends::nodes::NodesApi;
use crate::backends::secrets::SecretsApi;
use crate::backends::services::ServicesApi;
use crate::backends::swarm::SwarmApi;
use crate::backends::system::{HostFacts, SystemApi};
use crate::backends::volumes::VolumesApi;
use crate::cluster::{ClusterService, Executor, HostDescription};
use crate::config::{DaemonConfig, DaemonFlags};
use crate::engine::{Engine, EngineConfig, EngineServices};
use crate::events::EventsBus;
use crate::image::ImageService;
use crate::live::{LiveConfig, LiveValues};
use crate::network::{NetConfig, NetworkService};
use crate::registry::Registries;
use crate::reload::{LogLevelHook, Reloader};
use crate::runtime::Runtime;
use crate::runtime::supervisor::{Supervisor, SupervisorConfig};
use crate::volume::VolumeService;

/// Why the daemon could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon holds the data-root.
    #[error("{0}")]
    AlreadyRunning(String),
    /// A bad listener address.
    #[error("{0}")]
    Listener(String),
    /// Filesystem setup failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// containerd failed.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// Networking failed to start.
    #[error("networking: {0}")]
    Network(#[from] crate::network::NetError),
    /// The engine failed to start.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// The volume store failed to open.
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let context = context.into();
    move |source| DaemonError::Io { context, source }
}

/// Holds the exclusive lock on data-root for the daemon's lifetime, so a
/// second daemon on the same data-root refuses to start.
fn lock_data_root(data_root: &Path) -> Result<Flock<File>, DaemonError> {
    let path = data_root.join("shoal.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .read(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        DaemonError::AlreadyRunning(format!(
            "another shoal daemon is already running with data-root {} (lock {} is held)",
            data_root.display(),
            path.display()
        ))
    })
}

fn write_pidfile(path: &Path) -> Result<(), DaemonError> {
    if let Ok(text) = std::fs::read_to_string(path)
        && let Ok(pid) = text.trim().parse::<i32>()
    {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if alive && pid != std::process::id() as i32 && comm.trim() == "shoal" {
            return Err(DaemonError::AlreadyRunning(format!(
                "pid file found, ensure shoal is not running or delete {}",
                path.display()
            )));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err("creating pid file dir"))?;
    }
    let mut f = File::create(path).map_err(io_err(format!("writing {}", path.display())))?;
    write!(f, "{}", std::process::id()).map_err(io_err("writing pid file"))?;
    Ok(())
}

/// A stable daemon ID (Docker shows it as `ID` in `docker info`).
fn daemon_id(data_root: &Path) -> String {
    let path = data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return id.trim().to_owned();
    }
    let bytes: [u8; 16] = rand::random();
    let id = hex::encode(bytes);
    let _ = std::fs::write(&path, &id);
    id
}

fn runc_version() -> String {
    std::process::Command::new("runc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("runc version "))
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

/// What this node reports to the swarm dispatcher.
fn host_description(labels: &[String]) -> HostDescription {
    use shoal_scheduler::model::node::{EngineDescription, Platform, Resources};
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let arch = nix::sys::utsname::uname()
        .map(|u| u.machine().to_string_lossy().into_owned())
        .unwrap_or_default();
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    HostDescription {
        hostname,
        platform: Platform {
            architecture: arch,
            os: "linux".into(),
        },
        resources: Resources {
            nano_cpus: i64::try_from(ncpu).unwrap_or(1) * 1_000_000_000,
            memory_bytes: crate::backends::system::mem_total(),
        },
        engine: EngineDescription {
            engine_version: env!("CARGO_PKG_VERSION").into(),
            labels: crate::config::labels::to_map(labels),
        },
        // Filled in by the agent from its certificates.
        tls_info: None,
    }
}

/// `engine_daemon_engine_info` and the host size gauges, fixed for the daemon's life.
fn set_engine_info(facts: &HostFacts) {
    use crate::metrics::METRICS;
    let uts = nix::sys::utsname::uname().ok();
    let field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
        uts.as_ref()
            .map(|u| f(u).to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let arch = field(|u| u.machine());
    let kernel = field(|u| u.release());
    METRICS
        .engine_info
        .with_label_values(&[
            arch.as_str(),
            "",
            facts.id.as_str(),
            "overlayfs",
            kernel.as_str(),
            "linux",
            "linux",
            "",
            env!("CARGO_PKG_VERSION"),
        ])
        .set(1.0);
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    METRICS.cpus.set(ncpu as f64);
    METRICS
        .memory
        .set(crate::backends::system::mem_total() as f64);
}

/// The unix sockets' group: `--group`, or `docker` when that group exists (as dockerd).
fn socket_group(group: Option<&str>) -> Result<Option<u32>, DaemonError> {
    use nix::unistd::Group;
    let Some(name) = group else {
        return Ok(Group::from_name("docker")
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()));
    };
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Some(gid));
    }
    match Group::from_name(name) {
        Ok(Some(g)) => Ok(Some(g.gid.as_raw())),
        _ => Err(DaemonError::Listener(format!(
            "can't create unix socket: group {name} not found"
        ))),
    }
}

/// The TLS server configuration for TCP listeners, from the `--tls*` settings.
fn tls_config(
    tls: &crate::config::TlsConfig,
) -> Result<Option<Arc<rustls::ServerConfig>>, DaemonError> {
    if !tls.enabled {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Err(DaemonError::Listener(
            "--tls needs --tlscert and --tlskey (daemon.json tlscert, tlskey)".into(),
        ));
    };
    let ca = match (&tls.ca, tls.verify) {
        (Some(ca), true) => Some(ca.as_path()),
        (None, true) => {
            return Err(DaemonError::Listener(
                "--tlsverify needs --tlscacert, the CA that signs client certificates".into(),
            ));
        }
        (Some(_), false) => {
            return Err(DaemonError::Listener(
                "--tlscacert is only used with --tlsverify: add --tlsverify to check client certificates".into(),
            ));
        }
        (None, false) => None,
    };
    shoal_api::tls::server_config(cert, key, ca)
        .map(Some)
        .map_err(|e| DaemonError::Listener(e.to_string()))
}

/// TLS on TCP listeners when configured; plain HTTP only on loopback unless the
/// operator accepted the risk by name.
fn secure_tcp(
    l: shoal_api::server::BoundListener,
    tls: Option<&Arc<rustls::ServerConfig>>,
    insecure: bool,
) -> Result<shoal_api::server::BoundListener, DaemonError> {
    let Some(addr) = l.tcp_addr() else {
        return Ok(l);
    };
    if let Some(cfg) = tls {
        return Ok(l.with_tls(cfg.clone()));
    }
    if addr.ip().is_loopback() {
        return Ok(l);
    }
    if insecure {
        tracing::warn!(addr = %addr, "serving the API over plain TCP: anyone who can reach it is root here");
        return Ok(l);
    }
    Err(DaemonError::Listener(format!(
        "refusing to serve the API on tcp://{addr} without TLS: anyone who can reach it gets root \
         on this host. Use --tlsverify with --tlscacert, --tlscert and --tlskey, or \
         --insecure-tcp-root-for-anyone to accept the risk"
    )))
}

/// What `main` hands the daemon besides its configuration.
pub struct DaemonHooks {
    /// The command line, re-merged with daemon.json on SIGHUP.
    pub flags: DaemonFlags,
    /// Changes the log filter on reload.
    pub set_log_level: LogLevelHook,
}

impl std::fmt::Debug for DaemonHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonHooks").finish_non_exhaustive()
    }
}

/// Runs the daemon until SIGTERM/SIGINT (or `stop` is cancelled); SIGHUP reloads daemon.json.
pub async fn run(
    cfg: DaemonConfig,
    hooks: DaemonHooks,
    stop: CancellationToken,
) -> Result<(), DaemonError> {
    // dockerd's modes: data-root 0710 (only root lists it; the group may traverse
    // to what it is given), exec-root 0700. Applied on every start, since the
    // umask chose them before.
    for (dir, mode) in [(&cfg.data_root, 0o710), (&cfg.exec_root, 0o700)] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(io_err(format!("chmod {}", dir.display())))?;
    }
    let listeners = cfg
        .hosts
        .iter()
        .map(|h| shoal_api::server::parse_host(h).map_err(DaemonError::Listener))
        .collect::<Result<Vec<_>, _>>()?;
    let _lock = lock_data_root(&cfg.data_root)?;
    write_pidfile(&cfg.pidfile)?;
    // Bind before the slow parts so a bad address fails fast; connections
    // wait in the backlog until the API is served.
    let gid = socket_group(cfg.group.as_deref())?;
    let tls = tls_config(&cfg.tls)?;
    let mut bound = Vec::with_capacity(listeners.len());
    for l in &listeners {
        let b = shoal_api::server::bind_with_group(l, gid)
            .await
            .map_err(|e| DaemonError::Listener(e.to_string()))?;
        bound.push(secure_tcp(b, tls.as_ref(), cfg.insecure_tcp)?);
    }

    let metrics_listener = match &cfg.metrics_addr {
        Some(addr) => Some(
            crate::metrics::server::bind(addr)
                .await
                .map_err(|e| DaemonError::Listener(e.to_string()))?,
        ),
        None => None,
    };

    let (supervisor, socket): (Option<Supervisor>, PathBuf) = match &cfg.containerd {
        Some(sock) => (None, sock.clone()),
        None => {
            let sup = Supervisor::start(SupervisorConfig {
                data_root: cfg.data_root.clone(),
                exec_root: cfg.exec_root.clone(),
                log_level: if cfg.debug {
                    "debug".into()
                } else {
                    "info".into()
                },
            })
            .await?;
            let sock = sup.socket();
            (Some(sup), sock)
        }
    };
    let runtime =
        Runtime::connect(&socket, &cfg.containerd_namespace, Duration::from_secs(30)).await?;
    tracing::info!(containerd = %socket.display(), "connected to containerd");

    let tracker = TaskTracker::new();
    let live = LiveConfig::new(LiveValues::from_config(&cfg));
    let engine_stop = CancellationToken::new();
    let events = Arc::new(EventsBus::new());
    let registries = Registries::new(cfg.registry.clone());
    let images = ImageService::new(
        runtime.clone(),
        events.clone(),
        cfg.data_root.clone(),
        registries.clone(),
    );
    let network = NetworkService::open(
        NetConfig {
            data_root: cfg.data_root.clone(),
            bridge: cfg.net.bridge.clone(),
            bip: cfg.net.bip,
            fixed_cidr: cfg.net.fixed_cidr,
            ipv6: cfg.net.ipv6,
            fixed_cidr_v6: cfg.net.fixed_cidr_v6,
            pools: cfg.net.pools.clone(),
            mtu: cfg.net.mtu,
            chain_prefix: cfg.net.chain_prefix.clone(),
        },
        events.clone(),
        tracker.clone(),
        engine_stop.clone(),
    )
    .await?;
    let volumes = VolumeService::open(&cfg.data_root, events.clone())?;
    let engine = Engine::open(
        EngineConfig {
            data_root: cfg.data_root.clone(),
            exec_root: cfg.exec_root.clone(),
            live: live.clone(),
        },
        EngineServices {
            runtime: runtime.clone(),
            images: images.clone(),
            network: network.clone(),
            volumes: volumes.clone(),
            events: events.clone(),
        },
        tracker.clone(),
        engine_stop.clone(),
    )
    .await?;
    let facts = HostFacts {
        id: daemon_id(&cfg.data_root),
        data_root: cfg.data_root.display().to_string(),
        containerd_address: socket.display().to_string(),
        containerd_namespace: cfg.containerd_namespace.clone(),
        runc_version: runc_version(),
    };
    // A node that was in a swarm rejoins it by itself; a failure leaves the engine up.
    let cluster = ClusterService::new(&cfg.data_root, host_description(&cfg.labels));
    cluster.set_executor(Executor {
        controller: Arc::new(EngineController {
            engine: engine.clone(),
        }),
        files_root: cfg.exec_root.join("swarm").join("tasks"),
    });
    if let Err(e) = cluster.restore().await {
        tracing::error!(error = %e, "could not rejoin the swarm");
    }
    let services_api = Arc::new(ServicesApi {
        cluster: cluster.clone(),
    });
    let secrets_api = Arc::new(SecretsApi {
        cluster: cluster.clone(),
    });
    let backends = shoal_api::Backends {
        containers: Arc::new(ContainersApi {
            engine: engine.clone(),
        }),
        archive: Arc::new(ArchiveApi {
            engine: engine.clone(),
        }),
        exec: Arc::new(ExecApi {
            engine: engine.clone(),
        }),
        images: Arc::new(ImagesApi::new(images.clone())),
        build: Arc::new(BuildApi {
            service: crate::build::BuildService::new(engine.clone(), cfg.data_root.clone()),
        }),
        distribution: Arc::new(ImagesApi::new(images.clone())),
        system: Arc::new(SystemApi {
            engine: engine.clone(),
            images,
            events: events.clone(),
            facts: facts.clone(),
            live: live.clone(),
            cluster: cluster.clone(),
        }),
        swarm: Arc::new(SwarmApi {
            cluster: cluster.clone(),
        }),
        nodes: Arc::new(NodesApi {
            cluster: cluster.clone(),
        }),
        networks: Arc::new(NetworksApi {
            engine: engine.clone(),
            net: network.clone(),
        }),
        volumes: Arc::new(VolumesApi { volumes }),
        services: services_api.clone(),
        tasks: services_api,
        secrets: secrets_api.clone(),
        configs: secrets_api,
    };
    let reloader = Arc::new(Reloader {
        flags: hooks.flags,
        running: std::sync::Mutex::new(cfg.clone()),
        live,
        cluster: cluster.clone(),
        registries: registries.clone(),
        events: events.clone(),
        set_log_level: hooks.set_log_level,
        daemon_id: facts.id.clone(),
    });
    tracker.spawn(reloader.run(engine_stop.clone()));
    let observer: Option<Arc<dyn shoal_api::RequestMetrics>> = match metrics_listener {
        Some(listener) => {
            set_engine_info(&facts);
            let sources = crate::metrics::server::Sources {
                engine: engine.clone(),
                cluster: cluster.clone(),
            };
            tracker.spawn(crate::metrics::server::serve(
                listener,
                sources,
                stop.clone(),
            ));
            Some(Arc::new(crate::metrics::ApiMetrics))
        }
        None => None,
    };
    let router = shoal_api::router_observed(backends, observer);
    tracing::info!(hosts = ?cfg.hosts, "API listening");
    shoal_api::server::serve_bound_limited(
        bound,
        router,
        stop.clone(),
        shoal_api::server::ServerLimits::default(),
    )
    .await;

    tracing::info!("shutting down; containers keep running (live-restore)");
    cluster.shutdown().await;
    engine_stop.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(10), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 10s");
    }
    if let Some(sup) = supervisor {
        sup.shutdown().await;
    }
    let _ = std::fs::remove_file(&cfg.pidfile);
    Ok(())
}
