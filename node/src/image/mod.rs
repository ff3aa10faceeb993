//! The image service: Docker images kept in containerd (content store,
//! image records, overlayfs snapshots of their layers).
//!
//! The engine uses [`ImageService::resolve`] to turn a `docker run` image
//! argument into an image config and the chain ID of its unpacked top
//! layer; `backends::images` exposes the rest to the API.
//!
//! Layout (one file per verb, as the engine does):
//!
//! ```text
//! reference.rs  parse/normalise `busybox` -> docker.io/library/busybox:latest
//! oci.rs        manifest/index/config JSON, media types, chain IDs
//! store.rs      image records <-> images (grouped by config digest), lookup,
//!               tagging with dangling records, blob writes under a lease
//! unpack.rs     layers -> committed overlayfs snapshots named by chain ID
//! archive.rs    reading docker-save / OCI-layout tars from disk
//! load.rs save.rs import.rs changes.rs      docker load / save / import
//! commit.rs                                 docker commit (containerd diff)
//! build.rs                                  docker build's step images and cache
//! list.rs filters.rs inspect.rs history.rs  read-only views
//! tag.rs remove.rs prune.rs                 mutations
//! pull.rs push.rs distribution.rs           registries (via `crate::registry`)
//! progress.rs                               Docker's JSON progress messages
//! ```
//!
//! Records in containerd's image store are named by full reference
//! (`docker.io/library/busybox:latest`); an image whose last tag moved
//! elsewhere keeps a `moby-dangling@<manifest digest>` record, as moby's
//! containerd store does, so it lists as `<none>:<none>` until pruned.
//! Garbage collection is containerd's: manifests reference their config and
//! layers with `containerd.io/gc.ref.content.*` labels, and configs their
//! unpacked chain with `containerd.io/gc.ref.snapshot.overlayfs`; writes
//! happen under a lease until the image record exists.

mod archive;
mod build;
mod changes;
mod commit;
mod distribution;
mod filters;
mod history;
mod import;
mod inspect;
mod list;
mod load;
pub mod oci;
mod platform;
pub mod progress;
mod prune;
mod pull;
mod push;
pub mod reference;
mod remove;
mod save;
mod store;
mod tag;
mod unpack;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::events::EventsBus;
use crate::registry::{Registries, RegistryError};
use crate::runtime::{Runtime, RuntimeError};

pub use build::{BuildCommit, CacheEntry};
pub use commit::CommitRequest;
pub use import::ImportRequest;
pub use load::LoadOutput;
pub use progress::Progress;
pub use prune::PruneReport;
pub use pull::{PreparedPull, PullOutcome, PullRequest};
pub use push::PreparedPush;
pub use reference::{Reference, ReferenceError};
pub use remove::DeleteItem;
pub use store::ImageEntry;

/// Image service errors.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// `No such image: X` (404).
    #[error("No such image: {0}")]
    NotFound(String),
    /// 404 with the message as is (a registry's "manifest unknown",
    /// "pull access denied").
    #[error("{0}")]
    Absent(String),
    /// Invalid reference or archive (400).
    #[error("{0}")]
    Invalid(String),
    /// In use by a container, or ambiguous (409).
    #[error("{0}")]
    Conflict(String),
    /// A registry failed or refused (pull, push, login).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// containerd failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Local I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// The `config` part of an OCI/Docker image config: defaults for containers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerDefaults {
    /// Default user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `"80/tcp": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<HashMap<String, serde_json::Value>>,
    /// `KEY=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Default entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Anonymous volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<HashMap<String, serde_json::Value>>,
    /// Default working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Image labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<HashMap<String, String>>,
    /// Default stop signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// The image's HEALTHCHECK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<shoal_api::models::HealthConfig>,
}

/// An image ready for a container: its ID, defaults and unpacked rootfs.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// `sha256:<config digest>` (what `docker inspect` shows as Image).
    pub id: String,
    /// The reference as the user gave it, normalised (for `Config.Image`
    /// the engine keeps the user's text).
    pub reference: String,
    /// Container defaults from the image config.
    pub defaults: ContainerDefaults,
    /// Chain ID of the top layer, committed as an overlayfs snapshot; the
    /// container's rootfs is prepared on top of it. None for an image with
    /// no layers.
    pub chain_id: Option<String>,
}

/// Lets the image service ask the engine which containers use an image
/// (for 409 on `docker rmi`) without depending on it.
pub trait ImageUsage: Send + Sync + std::fmt::Debug {
    /// IDs of containers created from image `image_id` (`sha256:...`).
    fn containers_using(&self, image_id: &str) -> Vec<String>;

    /// IDs of the running containers among [`ImageUsage::containers_using`];
    /// dockerd refuses to delete their image even with force. The default
    /// says none run, which only weakens that refusal.
    fn running_containers_using(&self, image_id: &str) -> Vec<String> {
        let _ = image_id;
        Vec::new()
    }
}

/// Shared handle type.
pub type SharedImageUsage = Arc<dyn ImageUsage>;

impl From<ReferenceError> for ImageError {
    fn from(e: ReferenceError) -> Self {
        ImageError::Invalid(e.to_string())
    }
}

/// Docker images kept in containerd. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct ImageService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    runtime: Runtime,
    events: Arc<EventsBus>,
    data_root: PathBuf,
    registries: Registries,
    usage: OnceLock<SharedImageUsage>,
    /// Serialises record mutations (tag moves, deletes, loads) so that the
    /// "keep a dangling record" bookkeeping never races with itself.
    write_lock: tokio::sync::Mutex<()>,
}

impl ImageService {
    /// An image service over `runtime`; temporary files (archives being
    /// loaded or imported) go under `data_root/tmp`; pulls and pushes go
    /// through `registries`.
    pub fn new(
        runtime: Runtime,
        events: Arc<EventsBus>,
        data_root: PathBuf,
        registries: Registries,
    ) -> Self {
        ImageService {
            inner: Arc::new(Inner {
                runtime,
                events,
                data_root,
                registries,
                usage: OnceLock::new(),
                write_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Registers who answers "which containers use this image"; only the
    /// first call has an effect.
    pub fn set_usage(&self, usage: SharedImageUsage) {
        let _ = self.inner.usage.set(usage);
    }

    /// Resolves a name, `name:tag`, digest reference or full/short image
    /// ID to an image ready for a container, unpacking its layers into
    /// overlayfs snapshots when they are not yet. Errors: NotFound
    /// ("No such image: X"), Invalid for a malformed reference.
    #[tracing::instrument(skip_all, fields(image.ref = %reference))]
    pub async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let found = self.find(reference).await?;
        let chain_id = self.ensure_unpacked(&found.entry).await?;
        let defaults = match &found.entry.config.config {
            Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "image config defaults unreadable");
                ContainerDefaults::default()
            }),
            None => ContainerDefaults::default(),
        };
        Ok(ResolvedImage {
            id: found.entry.id.clone(),
            reference: found
                .reference
                .map(|r| r.to_string())
                .unwrap_or_else(|| found.entry.id.clone()),
            defaults,
            chain_id,
        })
    }

    fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The registry clients (also used by `docker login`).
    pub fn registries(&self) -> &Registries {
        &self.inner.registries
    }

    fn usage(&self) -> Option<&SharedImageUsage> {
        self.inner.usage.get()
    }

    fn tmp_dir(&self) -> PathBuf {
        self.inner.data_root.join("tmp")
    }

    /// Publishes an image event; `name` becomes the `name` attribute.
    fn event(&self, action: &str, id: &str, name: &str) {
        let mut attrs = HashMap::new();
        attrs.insert("name".to_owned(), name.to_owned());
        self.inner.events.publish(
            shoal_api::models::EventMessageTypeEnum::IMAGE,
            action,
            id,
            attrs,
        );
    }
}
