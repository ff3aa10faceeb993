//! The common shape of stored objects: the [`Object`] trait, the [`StoreObject`] sum type used
//! in commands and events, and [`ObjectRef`] to name one object of any kind.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::cluster::Cluster;
use super::config::Config;
use super::ids::{ClusterId, ConfigId, NetworkId, NodeId, SecretId, ServiceId, TaskId};
use super::meta::Meta;
use super::network::Network;
use super::node::Node;
use super::secret::Secret;
use super::service::Service;
use super::state::{ClusterState, Table};
use super::task::Task;

/// The kinds of replicated object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// [`Cluster`].
    Cluster,
    /// [`Node`].
    Node,
    /// [`Service`].
    Service,
    /// [`Task`].
    Task,
    /// [`Network`].
    Network,
    /// [`Secret`].
    Secret,
    /// [`Config`].
    Config,
}

impl ObjectKind {
    /// Lower-case name as used in Docker's error texts ("service", "node", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Cluster => "cluster",
            ObjectKind::Node => "node",
            ObjectKind::Service => "service",
            ObjectKind::Task => "task",
            ObjectKind::Network => "network",
            ObjectKind::Secret => "secret",
            ObjectKind::Config => "config",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Behaviour shared by every stored object kind.
pub trait Object:
    Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned + Into<StoreObject>
{
    /// The kind's typed ID.
    type Id: Clone + Ord + fmt::Debug + fmt::Display + Serialize + DeserializeOwned;
    /// The kind tag.
    const KIND: ObjectKind;
    /// The object's ID.
    fn id(&self) -> &Self::Id;
    /// The object's metadata.
    fn meta(&self) -> &Meta;
    /// Mutable metadata (apply stamps the version).
    fn meta_mut(&mut self) -> &mut Meta;
    /// A name that must be unique among objects of this kind, if the kind has one.
    fn unique_name(&self) -> Option<&str> {
        None
    }
    /// A reference to this object.
    fn object_ref(&self) -> ObjectRef;
    /// This kind's table in the state.
    fn table(state: &ClusterState) -> &Table<Self>;
}

macro_rules! impl_object {
    ($ty:ident, $id:ident, $kind:ident, $field:ident, |$o:ident| $name:expr) => {
        impl Object for $ty {
            type Id = $id;
            const KIND: ObjectKind = ObjectKind::$kind;
            fn id(&self) -> &$id {
                &self.id
            }
            fn meta(&self) -> &Meta {
                &self.meta
            }
            fn meta_mut(&mut self) -> &mut Meta {
                &mut self.meta
            }
            fn unique_name(&self) -> Option<&str> {
                let $o = self;
                $name
            }
            fn object_ref(&self) -> ObjectRef {
                ObjectRef::$kind(self.id.clone())
            }
            fn table(state: &ClusterState) -> &Table<Self> {
                state.$field()
            }
        }

        impl From<$ty> for StoreObject {
            fn from(o: $ty) -> Self {
                StoreObject::$kind(o)
            }
        }
    };
}

impl_object!(Cluster, ClusterId, Cluster, clusters, |o| Some(
    o.spec.name.as_str()
));
// Docker does not require node names to be unique (two hosts may share a hostname).
impl_object!(Node, NodeId, Node, nodes, |_o| None);
impl_object!(Service, ServiceId, Service, services, |o| Some(
    o.spec.name.as_str()
));
impl_object!(Task, TaskId, Task, tasks, |_o| None);
impl_object!(Network, NetworkId, Network, networks, |o| Some(
    o.spec.name.as_str()
));
impl_object!(Secret, SecretId, Secret, secrets, |o| Some(
    o.spec.name.as_str()
));
impl_object!(Config, ConfigId, Config, configs, |o| Some(
    o.spec.name.as_str()
));

/// Any stored object, as carried by commands and events.
// Services and tasks (the large variants) are most of what is stored and moved, so boxing them
// would add an allocation to the common case without saving memory.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "object", rename_all = "lowercase")]
pub enum StoreObject {
    /// A cluster.
    Cluster(Cluster),
    /// A node.
    Node(Node),
    /// A service.
    Service(Service),
    /// A task.
    Task(Task),
    /// A network.
    Network(Network),
    /// A secret.
    Secret(Secret),
    /// A config.
    Config(Config),
}

impl StoreObject {
    /// The object's kind.
    pub fn kind(&self) -> ObjectKind {
        self.object_ref().kind()
    }

    /// A reference to the object.
    pub fn object_ref(&self) -> ObjectRef {
        match self {
            StoreObject::Cluster(o) => o.object_ref(),
            StoreObject::Node(o) => o.object_ref(),
            StoreObject::Service(o) => o.object_ref(),
            StoreObject::Task(o) => o.object_ref(),
            StoreObject::Network(o) => o.object_ref(),
            StoreObject::Secret(o) => o.object_ref(),
            StoreObject::Config(o) => o.object_ref(),
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &Meta {
        match self {
            StoreObject::Cluster(o) => &o.meta,
            StoreObject::Node(o) => &o.meta,
            StoreObject::Service(o) => &o.meta,
            StoreObject::Task(o) => &o.meta,
            StoreObject::Network(o) => &o.meta,
            StoreObject::Secret(o) => &o.meta,
            StoreObject::Config(o) => &o.meta,
        }
    }
}

/// Names one object of any kind by ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum ObjectRef {
    /// A cluster.
    Cluster(ClusterId),
    /// A node.
    Node(NodeId),
    /// A service.
    Service(ServiceId),
    /// A task.
    Task(TaskId),
    /// A network.
    Network(NetworkId),
    /// A secret.
    Secret(SecretId),
    /// A config.
    Config(ConfigId),
}

impl ObjectRef {
    /// The referenced kind.
    pub fn kind(&self) -> ObjectKind {
        match self {
            ObjectRef::Cluster(_) => ObjectKind::Cluster,
            ObjectRef::Node(_) => ObjectKind::Node,
            ObjectRef::Service(_) => ObjectKind::Service,
            ObjectRef::Task(_) => ObjectKind::Task,
            ObjectRef::Network(_) => ObjectKind::Network,
            ObjectRef::Secret(_) => ObjectKind::Secret,
            ObjectRef::Config(_) => ObjectKind::Config,
        }
    }

    /// The referenced ID as a string.
    pub fn id_str(&self) -> &str {
        match self {
            ObjectRef::Cluster(i) => i.as_str(),
            ObjectRef::Node(i) => i.as_str(),
            ObjectRef::Service(i) => i.as_str(),
            ObjectRef::Task(i) => i.as_str(),
            ObjectRef::Network(i) => i.as_str(),
            ObjectRef::Secret(i) => i.as_str(),
            ObjectRef::Config(i) => i.as_str(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.id_str())
    }
}
