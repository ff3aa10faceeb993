//! One module per Docker API resource, each with its own backend trait.

pub mod containers;
pub mod exec;
pub mod images;
pub mod system;

use crate::Backends;

/// Assembles every resource router.
pub(crate) fn build(_backends: Backends) -> axum::Router {
    axum::Router::new()
}
