//! Engine errors; `backends` maps them to HTTP.

use crate::image::ImageError;
use crate::runtime::RuntimeError;

use super::store::StoreError;

/// Why a container operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `No such container: X` (404).
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// `No such exec instance: X` (404).
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    /// `network X not found` (404).
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// Another missing thing, with its full message (404).
    #[error("{0}")]
    NotFoundOther(String),
    /// A bad parameter (400).
    #[error("{0}")]
    Invalid(String),
    /// Wrong state or name clash (409).
    #[error("{0}")]
    Conflict(String),
    /// Forbidden (403): predefined networks, endpoints that exist.
    #[error("{0}")]
    Forbidden(String),
    /// Networking failed on the host (500).
    #[error("{0}")]
    Network(String),
    /// Nothing to do (304): start of a running container, stop of a stopped one.
    #[error("not modified")]
    NotModified,
    /// The image service failed (keeps its own classes).
    #[error(transparent)]
    Image(#[from] ImageError),
    /// containerd failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The record store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A volume operation failed (keeps its own classes).
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
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

impl EngineError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
        let context = context.into();
        move |source| EngineError::Io { context, source }
    }
}

/// Result alias.
pub type EngineResult<T> = Result<T, EngineError>;
