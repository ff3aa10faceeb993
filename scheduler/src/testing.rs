//! An in-memory cluster for tests, benchmarks and simulations (feature `testing`): the pure
//! entry points applied through [`ClusterState::apply`], with simulated agents that report
//! the tasks assigned to their (ready) node as running without starting containers.

use std::collections::BTreeMap;

use crate::ids::SequentialIds;
use crate::model::cluster::{Cluster, RootCa};
use crate::model::node::{
    Node, NodeAvailability, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus,
};
use crate::model::{
    ApplyError, ClusterCommand, ClusterId, ClusterSpec, ClusterState, ContainerStatus, Meta,
    NodeId, Service, ServiceId, ServiceSpec, StoreObject, Task, TaskId, TaskState, Timestamp,
};
use crate::{allocator, orchestrator, placement, reaper};

/// One second in nanoseconds.
pub const SECOND: i64 = 1_000_000_000;

/// A simulated cluster.
#[derive(Debug)]
pub struct Sim {
    /// The replicated state.
    pub state: ClusterState,
    /// The fake clock.
    pub now: Timestamp,
    /// The next Raft log index.
    pub index: u64,
    /// Task IDs.
    pub ids: SequentialIds,
    /// Commands rejected by apply (stale decisions), for diagnostics.
    pub rejected: Vec<ApplyError>,
    /// Whether simulated agents complete job tasks (exit 0) right after running them.
    pub complete_jobs: bool,
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    /// An empty cluster (with its cluster object) at t = 1000 s.
    pub fn new() -> Self {
        let mut sim = Sim {
            state: ClusterState::default(),
            now: Timestamp(1000 * SECOND),
            index: 1,
            ids: SequentialIds::new("t"),
            rejected: Vec::new(),
            complete_jobs: true,
        };
        let cluster = Cluster {
            id: ClusterId::new("c"),
            meta: Meta::new(sim.now),
            spec: ClusterSpec::default(),
            root_ca: RootCa::default(),
            unlock_keys: Vec::new(),
        };
        sim.must(ClusterCommand::Create(cluster.into()));
        sim
    }

    /// Applies a command at the next index.
    pub fn apply(&mut self, cmd: ClusterCommand) -> Result<(), ApplyError> {
        let idx = self.index;
        self.index += 1;
        self.state.apply(idx, cmd).map(|_| ())
    }

    /// Applies a command that must succeed.
    ///
    /// # Panics
    /// When apply rejects it: a test set-up error.
    pub fn must(&mut self, cmd: ClusterCommand) {
        if let Err(e) = self.apply(cmd) {
            panic!("apply failed: {e}");
        }
    }

    /// Applies commands one by one; returns how many applied (rejections are recorded).
    pub fn apply_all(&mut self, cmds: Vec<ClusterCommand>) -> usize {
        let mut ok = 0;
        for c in cmds {
            match self.apply(c) {
                Ok(()) => ok += 1,
                Err(e) => self.rejected.push(e),
            }
        }
        ok
    }

    /// Moves the clock.
    pub fn advance(&mut self, ns: i64) {
        self.now = Timestamp(self.now.0 + ns);
    }

    /// Adds a ready, active worker with 4 CPUs and 8 GiB.
    pub fn add_node(&mut self, id: &str, labels: &[(&str, &str)]) {
        let mut spec = NodeSpec {
            availability: NodeAvailability::Active,
            ..Default::default()
        };
        for (k, v) in labels {
            spec.labels.insert((*k).into(), (*v).into());
        }
        let mut desc = NodeDescription {
            hostname: format!("host-{id}"),
            ..Default::default()
        };
        desc.platform.os = "linux".into();
        desc.platform.architecture = "x86_64".into();
        desc.resources.nano_cpus = 4 * SECOND;
        desc.resources.memory_bytes = 8 << 30;
        let node = Node {
            id: NodeId::new(id),
            meta: Meta::new(self.now),
            spec,
            role: NodeRole::Worker,
            description: Some(desc),
            status: NodeStatus {
                state: NodeState::Ready,
                ..Default::default()
            },
            manager_status: None,
        };
        self.must(ClusterCommand::Create(node.into()));
    }

    /// Changes a node through `f`.
    ///
    /// # Panics
    /// When the node does not exist.
    pub fn update_node(&mut self, id: &str, f: impl FnOnce(&mut Node)) {
        let mut n = self
            .state
            .nodes()
            .get(&NodeId::new(id))
            .unwrap_or_else(|| panic!("no node {id}"))
            .clone();
        f(&mut n);
        self.must(ClusterCommand::Update(n.into()));
    }

    /// Marks a node ready or down, as the dispatcher does.
    pub fn set_node_state(&mut self, id: &str, state: NodeState) {
        self.update_node(id, |n| n.status.state = state);
    }

    /// Sets a node's availability.
    pub fn set_availability(&mut self, id: &str, a: NodeAvailability) {
        self.update_node(id, |n| n.spec.availability = a);
    }

    /// Creates a service, as the control API does.
    pub fn create_service(&mut self, id: &str, spec: ServiceSpec) {
        let s = Service::new(ServiceId::new(id), spec, self.now);
        self.must(ClusterCommand::Create(s.into()));
    }

    /// The stored service.
    ///
    /// # Panics
    /// When the service does not exist.
    pub fn service(&self, id: &str) -> &Service {
        self.state
            .services()
            .get(&ServiceId::new(id))
            .unwrap_or_else(|| panic!("no service {id}"))
    }

    /// `docker service update`: a new spec through [`Service::with_new_spec`].
    pub fn update_service(&mut self, id: &str, f: impl FnOnce(&mut ServiceSpec)) {
        let cur = self.service(id).clone();
        let mut spec = cur.spec.clone();
        f(&mut spec);
        let new = cur.with_new_spec(spec, self.now);
        self.must(ClusterCommand::Update(new.into()));
    }

    /// One round of every leader component on the current state, applied in turn.
    pub fn manager_round(&mut self) -> usize {
        let mut n = 0;
        let cmds = orchestrator::reconcile(&self.state, self.now, &mut self.ids);
        n += self.apply_all(cmds);
        let cmds = allocator::allocate(&self.state, self.now);
        n += self.apply_all(cmds);
        let cmds = placement::schedule(&self.state, self.now);
        n += self.apply_all(cmds);
        let cmds = reaper::reap(&self.state);
        n += self.apply_all(cmds);
        n
    }

    /// Every ready node's agent reports its tasks: assigned tasks that should run are running
    /// (jobs complete if [`Sim::complete_jobs`]), tasks that should stop are shut down.
    pub fn agent_round(&mut self) -> usize {
        let now = self.now;
        let mut cmds = Vec::new();
        let by_node = self.state.tasks_grouped_by_node();
        for node in self.state.nodes().iter() {
            if node.status.state != NodeState::Ready {
                continue;
            }
            for &t in by_node.get(&node.id).into_iter().flatten() {
                let st = t.status.state;
                let next = if t.desired_state > TaskState::Complete {
                    (st <= TaskState::Running && st >= TaskState::Assigned)
                        .then_some(TaskState::Shutdown)
                } else if t.desired_state == TaskState::Ready {
                    None
                } else if (TaskState::Assigned..TaskState::Running).contains(&st) {
                    Some(TaskState::Running)
                } else if st == TaskState::Running
                    && t.desired_state == TaskState::Complete
                    && self.complete_jobs
                {
                    Some(TaskState::Complete)
                } else {
                    None
                };
                if let Some(next) = next {
                    let mut u = t.clone();
                    set_state(&mut u, next, now, 0);
                    cmds.push(ClusterCommand::Update(StoreObject::Task(u)));
                }
            }
        }
        self.apply_all(cmds)
    }

    /// Runs manager and agent rounds until nothing changes; returns the rounds taken.
    ///
    /// # Panics
    /// When it does not settle within `max` rounds.
    pub fn converge(&mut self, max: usize) -> usize {
        for round in 1..=max {
            let n = self.manager_round() + self.agent_round();
            if n == 0 {
                return round;
            }
        }
        panic!("no convergence within {max} rounds");
    }

    /// The container of `task` exits with `code` (FAILED, or COMPLETE for 0).
    pub fn exit_task(&mut self, task: &TaskId, code: i64) {
        if let Some(t) = self.state.tasks().get(task) {
            let mut u = t.clone();
            let state = if code == 0 {
                TaskState::Complete
            } else {
                TaskState::Failed
            };
            set_state(&mut u, state, self.now, code);
            self.must(ClusterCommand::Update(StoreObject::Task(u)));
        }
    }

    /// Tasks of a service that want to run and are not finished, by slot (or node for global).
    pub fn active(&self, service: &str) -> Vec<&Task> {
        self.state
            .tasks_by_service(&ServiceId::new(service))
            .filter(|t| orchestrator::is_active(t))
            .collect()
    }

    /// Tasks of a service observed RUNNING that want to run.
    pub fn running(&self, service: &str) -> Vec<&Task> {
        self.active(service)
            .into_iter()
            .filter(|t| t.status.state == TaskState::Running)
            .collect()
    }

    /// Running tasks per node for a service.
    pub fn per_node(&self, service: &str) -> BTreeMap<NodeId, usize> {
        let mut m = BTreeMap::new();
        for t in self.running(service) {
            if let Some(n) = &t.node_id {
                *m.entry(n.clone()).or_insert(0) += 1;
            }
        }
        m
    }
}

fn set_state(t: &mut Task, state: TaskState, now: Timestamp, code: i64) {
    t.status.state = state;
    t.status.timestamp = now;
    t.status.message = state.as_str().into();
    let cs = t
        .status
        .container_status
        .get_or_insert_with(|| ContainerStatus {
            container_id: format!("c-{}", t.id),
            ..Default::default()
        });
    if state.is_terminal() {
        cs.exit_code = Some(code);
        cs.pid = 0;
    } else if state == TaskState::Running {
        cs.pid = 4242;
    }
    t.meta.updated_at = now;
}
