//! Swarm-scoped networks (overlay and friends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ids::NetworkId;
use super::meta::Meta;

/// A network object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// The network's ID.
    pub id: NetworkId,
    /// Version and timestamps.
    pub meta: Meta,
    /// What the operator asked for.
    pub spec: NetworkSpec,
}

/// `docker network create --driver overlay ...`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Unique network name.
    pub name: String,
    /// User labels.
    pub labels: BTreeMap<String, String>,
    /// Driver name, e.g. "overlay".
    pub driver: String,
    /// Driver options.
    pub driver_options: BTreeMap<String, String>,
    /// Address pools.
    pub ipam: Vec<IpamConfig>,
    /// No external connectivity.
    pub internal: bool,
    /// Standalone containers may attach.
    pub attachable: bool,
    /// The routing-mesh network.
    pub ingress: bool,
}

/// One IPAM pool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IpamConfig {
    /// CIDR subnet.
    pub subnet: String,
    /// Gateway address, empty for the default.
    pub gateway: String,
}
