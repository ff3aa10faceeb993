//! The local Docker engine: containers over containerd.
//!
//! ```text
//! backends::containers ─> Engine ─┬─ store.rs      sled records + names
//!                                 ├─ containers/   one file per verb
//!                                 ├─ pump.rs       FIFOs -> json-file log + hub.rs (attachers)
//!                                 ├─ monitor.rs    task exits -> state, restart policy, auto-remove
//!                                 └─ restore.rs    daemon start: reconcile records with containerd
//! ```
//!
//! Every container has an in-memory [`container::Container`] handle. State
//! changes take its `op` lock, write the record through the store (flushed
//! before the call returns) and then notify waiters and the events bus.

pub mod container;
pub mod containers;
pub mod error;
pub mod exec;
pub mod health;
pub mod hub;
pub mod logdriver;
pub mod logfile;
pub mod logrotate;
pub mod monitor;
pub mod names;
pub mod pull;
pub mod pump;
pub mod record;
pub mod restore;
pub mod rootfs_path;
pub mod store;
pub mod summary;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use shoal_api::models::EventMessageTypeEnum;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::events::EventsBus;
use crate::image::{ImageService, ImageUsage};
use crate::network::NetworkService;
use crate::runtime::Runtime;
use crate::volume::VolumeService;

pub use container::Container;
pub use containers::CommitOptions;
pub use error::{EngineError, EngineResult};
use record::ContainerRecord;
use store::ContainerStore;

/// Engine settings from the daemon config.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `--data-root`: records, logs, per-container files.
    pub data_root: PathBuf,
    /// `--exec-root`: FIFOs and other runtime state.
    pub exec_root: PathBuf,
    /// Reloadable settings: the default log driver and options for new containers.
    pub live: crate::live::LiveConfig,
}

/// Cheap-to-clone handle to the engine.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cfg: EngineConfig,
    runtime: Runtime,
    images: ImageService,
    network: NetworkService,
    volumes: VolumeService,
    events: Arc<EventsBus>,
    store: ContainerStore,
    containers: RwLock<HashMap<String, Arc<Container>>>,
    execs: exec::ExecTable,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// The node services an engine is wired to (each owned apart, shared by handle).
#[derive(Debug)]
pub struct EngineServices {
    /// The containerd adapter.
    pub runtime: Runtime,
    /// Images in containerd.
    pub images: ImageService,
    /// Bridges, addresses, ports and DNS.
    pub network: NetworkService,
    /// Named and anonymous volumes.
    pub volumes: VolumeService,
    /// The `docker events` bus.
    pub events: Arc<EventsBus>,
}

impl Engine {
    /// Opens the record store, registers as the image and volume services'
    /// usage source and restores containers left by a previous run.
    pub async fn open(
        cfg: EngineConfig,
        services: EngineServices,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> EngineResult<Engine> {
        let EngineServices {
            runtime,
            images,
            network,
            volumes,
            events,
        } = services;
        std::fs::create_dir_all(cfg.data_root.join("containers"))
            .map_err(EngineError::io("creating containers dir"))?;
        std::fs::create_dir_all(cfg.exec_root.join("containers"))
            .map_err(EngineError::io("creating exec-root containers dir"))?;
        let store = ContainerStore::open(&cfg.data_root.join("containers.db"))?;
        let engine = Engine {
            inner: Arc::new(Inner {
                cfg,
                runtime,
                images: images.clone(),
                network,
                volumes: volumes.clone(),
                events,
                store,
                containers: RwLock::new(HashMap::new()),
                execs: exec::ExecTable::default(),
                tracker,
                shutdown,
            }),
        };
        images.set_usage(Arc::new(engine.clone()));
        volumes.set_usage(Arc::new(engine.clone()));
        engine.restore().await?;
        Ok(engine)
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    pub(crate) fn images(&self) -> &ImageService {
        &self.inner.images
    }

    pub(crate) fn net(&self) -> &NetworkService {
        &self.inner.network
    }

    pub(crate) fn volumes(&self) -> &VolumeService {
        &self.inner.volumes
    }

    pub(crate) fn store(&self) -> &ContainerStore {
        &self.inner.store
    }

    pub(crate) fn cfg(&self) -> &EngineConfig {
        &self.inner.cfg
    }

    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.inner.tracker
    }

    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// The containerd version (for `/version`).
    pub async fn containerd_version(&self) -> Option<String> {
        self.inner.runtime.version().await.ok()
    }

    /// Per-container directory under data-root (log, hosts, resolv.conf).
    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.inner.cfg.data_root.join("containers").join(id)
    }

    /// Per-container directory under exec-root (FIFOs).
    pub(crate) fn container_run_dir(&self, id: &str) -> PathBuf {
        self.inner.cfg.exec_root.join("containers").join(id)
    }

    /// Finds a container by full ID, name (with or without `/`) or unique
    /// ID prefix, as dockerd does.
    pub fn lookup(&self, key: &str) -> EngineResult<Arc<Container>> {
        let map = match self.inner.containers.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if key.is_empty() {
            return Err(EngineError::NoSuchContainer(key.to_owned()));
        }
        if let Some(c) = map.get(key) {
            return Ok(c.clone());
        }
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(c) = map.values().find(|c| c.name() == name) {
            return Ok(c.clone());
        }
        let mut matches = map.values().filter(|c| c.id.starts_with(key));
        match (matches.next(), matches.next()) {
            (Some(c), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(EngineError::Invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
            _ => Err(EngineError::NoSuchContainer(key.to_owned())),
        }
    }

    /// Every container handle.
    pub fn all(&self) -> Vec<Arc<Container>> {
        let map = match self.inner.containers.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.values().cloned().collect()
    }

    pub(crate) fn insert(&self, c: Arc<Container>) {
        let mut map = match self.inner.containers.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.insert(c.id.clone(), c);
    }

    pub(crate) fn forget(&self, id: &str) {
        let mut map = match self.inner.containers.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.remove(id);
    }

    /// Publishes a container event with Docker's actor attributes
    /// (name, image, labels, plus `extra`).
    pub(crate) fn emit(&self, rec: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs: HashMap<String, String> = rec.config.labels.clone().unwrap_or_default();
        attrs.insert("name".into(), rec.name.clone());
        attrs.insert("image".into(), rec.config.image.clone().unwrap_or_default());
        for (k, v) in extra {
            attrs.insert((*k).to_owned(), v.clone());
        }
        self.inner
            .events
            .publish(EventMessageTypeEnum::CONTAINER, action, &rec.id, attrs);
    }

    /// Persists `rec`; a failure is logged, since the in-memory state is
    /// already changed and the next save will carry it.
    pub(crate) async fn persist(&self, rec: &ContainerRecord) -> EngineResult<()> {
        self.inner.store.save(rec).await.map_err(|e| {
            tracing::error!(container.id = %rec.id, error = %e, "saving container record");
            EngineError::from(e)
        })
    }

    /// [`Self::persist`] where no request waits for the answer (exit monitor, restore):
    /// the failure is logged there.
    pub(crate) async fn persist_or_log(&self, rec: &ContainerRecord) {
        let _ = self.persist(rec).await;
    }
}

impl ImageUsage for Engine {
    fn containers_using(&self, image_id: &str) -> Vec<String> {
        self.all()
            .iter()
            .map(|c| c.snapshot())
            .filter(|r| r.image_id == image_id)
            .map(|r| r.id)
            .collect()
    }

    fn running_containers_using(&self, image_id: &str) -> Vec<String> {
        self.all()
            .iter()
            .map(|c| c.snapshot())
            .filter(|r| r.image_id == image_id && r.state.status.is_live())
            .map(|r| r.id)
            .collect()
    }
}
