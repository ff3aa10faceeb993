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

use crate::backends::containers::ContainersApi;
use crate::backends::exec::ExecApi;
use crate::backends::images::ImagesApi;
use crate::backends::system::{HostFacts, SystemApi};
use crate::config::DaemonConfig;
use crate::engine::{Engine, EngineConfig};
use crate::events::EventsBus;
use crate::image::ImageService;
use crate::runtime::Runtime;
use crate::runtime::supervisor::{Supervisor, SupervisorConfig};

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
    /// The engine failed to start.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
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
    if let Ok(text) = std::fs::read_to_string(path) {
        if let Ok(pid) = text.trim().parse::<i32>() {
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
            if alive && pid != std::process::id() as i32 {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if comm.trim() == "shoal" {
                    return Err(DaemonError::AlreadyRunning(format!(
                        "pid file found, ensure shoal is not running or delete {}",
                        path.display()
                    )));
                }
            }
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
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return id.trim().to_owned();
        }
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

/// Runs the daemon until SIGTERM/SIGINT (or `stop` is cancelled).
pub async fn run(cfg: DaemonConfig, stop: CancellationToken) -> Result<(), DaemonError> {
    for dir in [&cfg.data_root, &cfg.exec_root] {
        std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
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
    let mut bound = Vec::with_capacity(listeners.len());
    for l in &listeners {
        bound.push(
            shoal_api::server::bind(l)
                .await
                .map_err(|e| DaemonError::Listener(e.to_string()))?,
        );
    }

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
    let engine_stop = CancellationToken::new();
    let events = Arc::new(EventsBus::new());
    let images = ImageService::new(runtime.clone(), events.clone(), cfg.data_root.clone());
    let engine = Engine::open(
        EngineConfig {
            data_root: cfg.data_root.clone(),
            exec_root: cfg.exec_root.clone(),
            log_driver: cfg.log_driver.clone(),
            log_opts: cfg.log_opts.clone(),
        },
        runtime.clone(),
        images.clone(),
        events.clone(),
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
        log_driver: cfg.log_driver.clone(),
        debug: cfg.debug,
    };
    let backends = shoal_api::Backends {
        containers: Arc::new(ContainersApi {
            engine: engine.clone(),
        }),
        exec: Arc::new(ExecApi {
            engine: engine.clone(),
        }),
        images: Arc::new(ImagesApi::new(images.clone())),
        system: Arc::new(SystemApi {
            engine: engine.clone(),
            images,
            events,
            facts,
        }),
    };
    let router = shoal_api::router(backends);
    tracing::info!(hosts = ?cfg.hosts, "API listening");
    shoal_api::server::serve_bound(bound, router, stop.clone()).await;

    tracing::info!("shutting down; containers keep running (live-restore)");
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
