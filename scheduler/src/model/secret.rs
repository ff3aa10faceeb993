//! Secrets: opaque data delivered to tasks, never returned by the API.
//!
//! The data is immutable: `docker secret update` may change labels only (enforced by
//! [`super::apply`]). A secret referenced by a service cannot be deleted; that check lives in
//! [`super::apply`] too, so it holds whichever manager proposes the delete.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::container::Driver;
use super::ids::SecretId;
use super::meta::Meta;

/// A secret object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// The secret's ID.
    pub id: SecretId,
    /// Version and timestamps.
    pub meta: Meta,
    /// Name, labels and data.
    pub spec: SecretSpec,
}

/// `docker secret create`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretSpec {
    /// Unique secret name.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// The secret bytes (at most [`super::validate::MAX_SECRET_SIZE`]).
    pub data: Vec<u8>,
    /// External secret driver (refused by the control API: Shoal has no secret plugins).
    pub driver: Option<Driver>,
    /// Templating driver (`golang`): the data is expanded per task (see [`crate::template`]).
    pub templating: Option<Driver>,
}
