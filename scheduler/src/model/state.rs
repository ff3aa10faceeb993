//! [`ClusterState`]: every replicated object, in ordered maps, with secondary indexes.
//!
//! Only [`super::apply`] mutates it. Indexes (names, tasks by service and by node) are derived
//! data: they are not serialized and are rebuilt when a state is decoded from a snapshot.

use std::collections::{BTreeMap, BTreeSet};

use crate::fasthash::FastMap;
use std::fmt;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::cluster::Cluster;
use super::config::Config;
use super::ids::{NodeId, ServiceId, TaskId};
use super::network::Network;
use super::node::Node;
use super::object::{Object, ObjectRef, StoreObject};
use super::secret::Secret;
use super::service::Service;
use super::task::Task;

/// All objects of one kind, by ID, with a unique-name index for kinds that have names.
#[derive(Clone, PartialEq)]
pub struct Table<T: Object> {
    objects: BTreeMap<T::Id, T>,
    names: BTreeMap<String, T::Id>,
}

impl<T: Object> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.objects.iter()).finish()
    }
}

impl<T: Object> Default for Table<T> {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            names: BTreeMap::new(),
        }
    }
}

impl<T: Object> Table<T> {
    /// The object with this ID.
    pub fn get(&self, id: &T::Id) -> Option<&T> {
        self.objects.get(id)
    }

    /// The object with this unique name (kinds without names never match).
    pub fn get_by_name(&self, name: &str) -> Option<&T> {
        self.names.get(name).and_then(|id| self.objects.get(id))
    }

    /// All objects, ordered by ID.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.objects.values()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn insert(&mut self, obj: T) -> Option<T> {
        let prev = self.objects.remove(obj.id());
        if let Some(name) = prev.as_ref().and_then(Object::unique_name) {
            self.names.remove(name);
        }
        if let Some(name) = obj.unique_name().filter(|n| !n.is_empty()) {
            self.names.insert(name.to_owned(), obj.id().clone());
        }
        self.objects.insert(obj.id().clone(), obj);
        prev
    }

    fn remove(&mut self, id: &T::Id) -> Option<T> {
        let prev = self.objects.remove(id)?;
        if let Some(name) = prev.unique_name() {
            self.names.remove(name);
        }
        Some(prev)
    }
}

// A table is stored as a plain sequence of objects; the name index is rebuilt on decode.
impl<T: Object> Serialize for Table<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.objects.values())
    }
}

impl<'de, T: Object> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let objects = Vec::<T>::deserialize(d)?;
        let mut table = Table::default();
        for o in objects {
            table.insert(o);
        }
        Ok(table)
    }
}

/// The whole replicated cluster state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "StateData")]
pub struct ClusterState {
    clusters: Table<Cluster>,
    nodes: Table<Node>,
    services: Table<Service>,
    tasks: Table<Task>,
    networks: Table<Network>,
    secrets: Table<Secret>,
    configs: Table<Config>,
    #[serde(skip)]
    tasks_by_service: BTreeMap<ServiceId, BTreeSet<TaskId>>,
    #[serde(skip)]
    tasks_by_node: BTreeMap<NodeId, BTreeSet<TaskId>>,
}

/// The serialized form of [`ClusterState`]: the tables without derived indexes.
#[derive(Deserialize)]
struct StateData {
    clusters: Table<Cluster>,
    nodes: Table<Node>,
    services: Table<Service>,
    tasks: Table<Task>,
    networks: Table<Network>,
    secrets: Table<Secret>,
    configs: Table<Config>,
}

impl From<StateData> for ClusterState {
    fn from(d: StateData) -> Self {
        let mut state = ClusterState {
            clusters: d.clusters,
            nodes: d.nodes,
            services: d.services,
            tasks: Table::default(),
            networks: d.networks,
            secrets: d.secrets,
            configs: d.configs,
            tasks_by_service: BTreeMap::new(),
            tasks_by_node: BTreeMap::new(),
        };
        for task in d.tasks.objects.into_values() {
            state.put(StoreObject::Task(task));
        }
        state
    }
}

impl ClusterState {
    /// The cluster objects (zero before `swarm init`, then one).
    pub fn clusters(&self) -> &Table<Cluster> {
        &self.clusters
    }
    /// The nodes.
    pub fn nodes(&self) -> &Table<Node> {
        &self.nodes
    }
    /// The services.
    pub fn services(&self) -> &Table<Service> {
        &self.services
    }
    /// The tasks.
    pub fn tasks(&self) -> &Table<Task> {
        &self.tasks
    }
    /// The networks.
    pub fn networks(&self) -> &Table<Network> {
        &self.networks
    }
    /// The secrets.
    pub fn secrets(&self) -> &Table<Secret> {
        &self.secrets
    }
    /// The configs.
    pub fn configs(&self) -> &Table<Config> {
        &self.configs
    }

    /// The tasks of a service, ordered by task ID.
    pub fn tasks_by_service<'a>(
        &'a self,
        service: &ServiceId,
    ) -> impl Iterator<Item = &'a Task> + 'a {
        self.indexed(self.tasks_by_service.get(service))
    }

    /// IDs of services that have tasks (including services that no longer exist), ordered.
    pub fn services_with_tasks(&self) -> impl Iterator<Item = &ServiceId> + '_ {
        self.tasks_by_service.keys()
    }

    /// Every task grouped by service, each group ordered by task ID, in one scan of the task
    /// table. Cheaper than [`ClusterState::tasks_by_service`] for every service in turn, which
    /// looks each task up by ID.
    pub fn tasks_grouped_by_service(&self) -> FastMap<&ServiceId, Vec<&Task>> {
        let mut m: FastMap<&ServiceId, Vec<&Task>> = FastMap::default();
        m.reserve(self.tasks_by_service.len());
        for t in self.tasks.iter() {
            m.entry(&t.service_id).or_default().push(t);
        }
        m
    }

    /// Every assigned task grouped by node, each group ordered by task ID, in one scan.
    pub fn tasks_grouped_by_node(&self) -> FastMap<&NodeId, Vec<&Task>> {
        let mut m: FastMap<&NodeId, Vec<&Task>> = FastMap::default();
        m.reserve(self.tasks_by_node.len());
        for t in self.tasks.iter() {
            if let Some(n) = &t.node_id {
                m.entry(n).or_default().push(t);
            }
        }
        m
    }

    /// Number of tasks of a service.
    pub fn task_count_by_service(&self, service: &ServiceId) -> usize {
        self.tasks_by_service.get(service).map_or(0, BTreeSet::len)
    }

    /// The tasks assigned to a node, ordered by task ID.
    pub fn tasks_by_node<'a>(&'a self, node: &NodeId) -> impl Iterator<Item = &'a Task> + 'a {
        self.indexed(self.tasks_by_node.get(node))
    }

    /// The tasks of a service in one slot (current and historic), ordered by task ID.
    pub fn tasks_by_slot<'a>(
        &'a self,
        service: &ServiceId,
        slot: u64,
    ) -> impl Iterator<Item = &'a Task> + 'a {
        self.tasks_by_service(service)
            .filter(move |t| t.slot == slot)
    }

    fn indexed<'a>(
        &'a self,
        ids: Option<&'a BTreeSet<TaskId>>,
    ) -> impl Iterator<Item = &'a Task> + 'a {
        ids.into_iter()
            .flatten()
            .filter_map(|id| self.tasks.get(id))
    }

    /// Total number of objects of every kind.
    pub fn object_count(&self) -> usize {
        self.clusters.len()
            + self.nodes.len()
            + self.services.len()
            + self.tasks.len()
            + self.networks.len()
            + self.secrets.len()
            + self.configs.len()
    }

    /// A copy of any object by reference.
    pub fn get(&self, r: &ObjectRef) -> Option<StoreObject> {
        match r {
            ObjectRef::Cluster(id) => self.clusters.get(id).cloned().map(Into::into),
            ObjectRef::Node(id) => self.nodes.get(id).cloned().map(Into::into),
            ObjectRef::Service(id) => self.services.get(id).cloned().map(Into::into),
            ObjectRef::Task(id) => self.tasks.get(id).cloned().map(Into::into),
            ObjectRef::Network(id) => self.networks.get(id).cloned().map(Into::into),
            ObjectRef::Secret(id) => self.secrets.get(id).cloned().map(Into::into),
            ObjectRef::Config(id) => self.configs.get(id).cloned().map(Into::into),
        }
    }

    /// Every object, kind by kind, each kind ordered by ID.
    pub fn all_objects(&self) -> impl Iterator<Item = StoreObject> + '_ {
        let c = self.clusters.iter().cloned().map(StoreObject::from);
        let n = self.nodes.iter().cloned().map(StoreObject::from);
        let s = self.services.iter().cloned().map(StoreObject::from);
        let t = self.tasks.iter().cloned().map(StoreObject::from);
        let nw = self.networks.iter().cloned().map(StoreObject::from);
        let se = self.secrets.iter().cloned().map(StoreObject::from);
        let co = self.configs.iter().cloned().map(StoreObject::from);
        c.chain(n).chain(s).chain(t).chain(nw).chain(se).chain(co)
    }

    /// Inserts or replaces an object without any checks, returning the previous version.
    ///
    /// Used by apply (after its checks) and to load persisted state; keeps indexes current.
    pub fn put(&mut self, obj: StoreObject) -> Option<StoreObject> {
        match obj {
            StoreObject::Cluster(o) => self.clusters.insert(o).map(Into::into),
            StoreObject::Node(o) => self.nodes.insert(o).map(Into::into),
            StoreObject::Service(o) => self.services.insert(o).map(Into::into),
            StoreObject::Task(o) => {
                let prev = self.tasks.remove(&o.id);
                if let Some(p) = &prev {
                    self.unindex_task(p);
                }
                self.index_task(&o);
                self.tasks.insert(o);
                prev.map(Into::into)
            }
            StoreObject::Network(o) => self.networks.insert(o).map(Into::into),
            StoreObject::Secret(o) => self.secrets.insert(o).map(Into::into),
            StoreObject::Config(o) => self.configs.insert(o).map(Into::into),
        }
    }

    /// Removes an object without any checks, returning it.
    pub fn remove(&mut self, r: &ObjectRef) -> Option<StoreObject> {
        match r {
            ObjectRef::Cluster(id) => self.clusters.remove(id).map(Into::into),
            ObjectRef::Node(id) => self.nodes.remove(id).map(Into::into),
            ObjectRef::Service(id) => self.services.remove(id).map(Into::into),
            ObjectRef::Task(id) => {
                let prev = self.tasks.remove(id)?;
                self.unindex_task(&prev);
                Some(prev.into())
            }
            ObjectRef::Network(id) => self.networks.remove(id).map(Into::into),
            ObjectRef::Secret(id) => self.secrets.remove(id).map(Into::into),
            ObjectRef::Config(id) => self.configs.remove(id).map(Into::into),
        }
    }

    fn index_task(&mut self, t: &Task) {
        self.tasks_by_service
            .entry(t.service_id.clone())
            .or_default()
            .insert(t.id.clone());
        if let Some(node) = &t.node_id {
            self.tasks_by_node
                .entry(node.clone())
                .or_default()
                .insert(t.id.clone());
        }
    }

    fn unindex_task(&mut self, t: &Task) {
        if let Some(set) = self.tasks_by_service.get_mut(&t.service_id) {
            set.remove(&t.id);
            if set.is_empty() {
                self.tasks_by_service.remove(&t.service_id);
            }
        }
        if let Some(node) = &t.node_id
            && let Some(set) = self.tasks_by_node.get_mut(node)
        {
            set.remove(&t.id);
            if set.is_empty() {
                self.tasks_by_node.remove(node);
            }
        }
    }
}
