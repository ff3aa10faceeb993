//! `/configs/...`: create, list, inspect, update (labels only), remove, served
//! by the router shared with the other swarm objects.

use std::sync::Arc;

use axum::Router;

use super::swarm_objects::{self, SwarmObjects};
use crate::models::{Config, ConfigSpec};

/// What the configs router needs from the cluster (managers only); errors as
/// in [`SwarmObjects`], with "config" as the kind.
pub type ConfigsBackend = dyn SwarmObjects<ConfigSpec, Config>;

/// The `/configs` routes over `backend`.
pub(crate) fn routes(backend: Arc<ConfigsBackend>) -> Router {
    swarm_objects::routes("config", backend)
}
