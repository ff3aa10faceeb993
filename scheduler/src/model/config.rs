//! Configs: non-secret data delivered to tasks as files.
//!
//! Like secrets, the data is immutable and a config in use cannot be deleted (see
//! [`super::apply`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::container::Driver;
use super::ids::ConfigId;
use super::meta::Meta;

/// A config object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The config's ID.
    pub id: ConfigId,
    /// Version and timestamps.
    pub meta: Meta,
    /// Name, labels and data.
    pub spec: ConfigSpec,
}

/// `docker config create`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigSpec {
    /// Unique config name.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// The config bytes (at most [`super::validate::MAX_CONFIG_SIZE`]).
    pub data: Vec<u8>,
    /// Templating driver (`golang`): the data is expanded per task (see [`crate::template`]).
    pub templating: Option<Driver>,
}
