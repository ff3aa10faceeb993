//! Secrets: opaque data delivered to tasks, never returned by the API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
pub struct SecretSpec {
    /// Unique secret name.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// The secret bytes (at most [`super::validate::MAX_SECRET_SIZE`]).
    pub data: Vec<u8>,
}
