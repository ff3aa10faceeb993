//! Domain errors to Docker's error classes, by exhaustive match so a new
//! variant forces a decision.

use shoal_api::error::{ApiError, ErrorKind};

use crate::engine::EngineError;
use crate::engine::store::StoreError;
use crate::image::ImageError;
use crate::runtime::RuntimeError;

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
        ImageError::NotFound(_) => ApiError::not_found(e.to_string()),
        ImageError::Invalid(m) => ApiError::invalid(m),
        ImageError::Conflict(m) => ApiError::conflict(m),
        ImageError::Runtime(r) => runtime_error(r),
        ImageError::Io { .. } => ApiError::internal(e.to_string()),
    }
}

/// Engine errors as the API reports them.
pub fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::NoSuchContainer(_)
        | EngineError::NoSuchExec(_)
        | EngineError::NoSuchNetwork(_) => ApiError::not_found(e.to_string()),
        EngineError::Invalid(m) => ApiError::invalid(m),
        EngineError::Conflict(m) => ApiError::conflict(m),
        EngineError::NotModified => ApiError::not_modified(),
        EngineError::Image(i) => image_error(i),
        EngineError::Runtime(r) => runtime_error(r),
        EngineError::Store(StoreError::NameInUse(owner)) => {
            ApiError::conflict(format!("name in use by {owner}"))
        }
        EngineError::Store(s) => ApiError::internal(s.to_string()),
        EngineError::Io { .. } => ApiError::internal(e.to_string()),
    }
}
