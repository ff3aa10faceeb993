//! tonic `Status` from containerd to [`RuntimeError`]; no higher layer sees tonic.

use containerd_client::tonic::{Code, Status};

use crate::runtime::RuntimeError;

/// Classifies a containerd status; `op` names the call for the message.
pub fn status_to_error(op: &str, status: Status) -> RuntimeError {
    let msg = format!("{op}: {}", status.message());
    match status.code() {
        Code::NotFound => RuntimeError::NotFound(msg),
        Code::AlreadyExists => RuntimeError::AlreadyExists(msg),
        Code::FailedPrecondition => RuntimeError::FailedPrecondition(msg),
        Code::InvalidArgument | Code::OutOfRange => RuntimeError::InvalidArgument(msg),
        Code::Unavailable => RuntimeError::Unavailable(msg),
        _ => RuntimeError::Internal(msg),
    }
}
