//! `/secrets/...`: create, list, inspect, update (labels only), remove, served
//! by the router shared with the other swarm objects.

use std::sync::Arc;

use axum::Router;

use super::swarm_objects::{self, SwarmObjects};
use crate::models::{Secret, SecretSpec};

/// What the secrets router needs from the cluster (managers only); errors as
/// in [`SwarmObjects`], with "secret" as the kind.
pub type SecretsBackend = dyn SwarmObjects<SecretSpec, Secret>;

/// The `/secrets` routes over `backend`.
pub(crate) fn routes(backend: Arc<SecretsBackend>) -> Router {
    swarm_objects::routes("secret", backend)
}
