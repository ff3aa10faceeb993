//! The image service: Docker images kept in containerd (content store,
//! image records, overlayfs snapshots of their layers).
//!
//! The engine uses [`ImageService::resolve`] to turn a `docker run` image
//! argument into an image config and the chain ID of its unpacked top
//! layer; `backends::images` exposes the rest to the API.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::runtime::RuntimeError;

/// Image service errors.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// `No such image: X` (404).
    #[error("No such image: {0}")]
    NotFound(String),
    /// Invalid reference or archive (400).
    #[error("{0}")]
    Invalid(String),
    /// In use by a container, or ambiguous (409).
    #[error("{0}")]
    Conflict(String),
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
}

/// Shared handle type.
pub type SharedImageUsage = Arc<dyn ImageUsage>;
