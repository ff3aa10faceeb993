//! Domain errors to Docker's error classes, by exhaustive match so a new
//! variant forces a decision.

use shoal_api::error::{ApiError, ErrorKind};

use crate::engine::EngineError;
use crate::engine::store::StoreError;
use crate::image::ImageError;
use crate::registry::RegistryError;
use crate::runtime::RuntimeError;
use crate::volume::VolumeError;

/// containerd errors as the API reports them.
pub fn runtime_error(e: RuntimeError) -> ApiError {
    let kind = match &e {
        RuntimeError::NotFound(_) => ErrorKind::NotFound,
        RuntimeError::AlreadyExists(_) => ErrorKind::Conflict,
        RuntimeError::FailedPrecondition(_) => ErrorKind::Conflict,
        RuntimeError::InvalidArgument(_) => ErrorKind::InvalidParameter,
        RuntimeError::Unavailable(_) => ErrorKind::Unavailable,
        RuntimeError::Io { .. } | RuntimeError::Internal(_) => ErrorKind::Internal,
    };
    ApiError::new(kind, e.to_string())
}

/// Image service errors as the API reports them.
pub fn image_error(e: ImageError) -> ApiError {
    match e {
        ImageError::NotFound(_) | ImageError::Absent(_) => ApiError::not_found(e.to_string()),
        ImageError::Invalid(m) => ApiError::invalid(m),
        ImageError::Conflict(m) => ApiError::conflict(m),
        ImageError::Runtime(r) => runtime_error(r),
        ImageError::Io { .. } => ApiError::internal(e.to_string()),
        ImageError::Registry(r) => registry_error(r),
    }
}

/// Registry errors as the API reports them.
pub fn registry_error(e: RegistryError) -> ApiError {
    let kind = match &e {
        RegistryError::NotFound(_) => ErrorKind::NotFound,
        RegistryError::Unauthorized(_) => ErrorKind::Unauthorized,
        RegistryError::Refused(_) | RegistryError::Transport(_) => ErrorKind::Internal,
        RegistryError::Integrity(_) | RegistryError::Config(_) => ErrorKind::InvalidParameter,
    };
    ApiError::new(kind, e.to_string())
}

/// Volume errors as the API reports them.
pub fn volume_error(e: VolumeError) -> ApiError {
    match e {
        VolumeError::NotFound(_) | VolumeError::NoDriver(_) => ApiError::not_found(e.to_string()),
        VolumeError::Invalid(m) => ApiError::invalid(m),
        VolumeError::InUse { .. } => ApiError::conflict(e.to_string()),
        VolumeError::Sled(_)
        | VolumeError::Codec(_)
        | VolumeError::Io { .. }
        | VolumeError::Internal(_) => ApiError::internal(e.to_string()),
    }
}

/// Engine errors as the API reports them.
pub fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::NoSuchContainer(_)
        | EngineError::NoSuchExec(_)
        | EngineError::NoSuchNetwork(_)
        | EngineError::NotFoundOther(_) => ApiError::not_found(e.to_string()),
        EngineError::Invalid(m) => ApiError::invalid(m),
        EngineError::Conflict(m) => ApiError::conflict(m),
        EngineError::Forbidden(m) => ApiError::new(ErrorKind::Forbidden, m),
        EngineError::Network(m) => ApiError::internal(m),
        EngineError::NotModified => ApiError::not_modified(),
        EngineError::Image(i) => image_error(i),
        EngineError::Runtime(r) => runtime_error(r),
        EngineError::Store(StoreError::NameInUse(owner)) => {
            ApiError::conflict(format!("name in use by {owner}"))
        }
        EngineError::Store(s) => ApiError::internal(s.to_string()),
        EngineError::Volume(v) => volume_error(v),
        EngineError::Io { .. } => ApiError::internal(e.to_string()),
    }
}
