//! Service status for `GET /services?status=true` (moby `daemon/cluster/services.go`).

use crate::model::node::NodeState;
use crate::model::{ClusterState, ServiceId, ServiceMode, TaskState};
use crate::orchestrator::jobs::in_iteration;

/// Docker's `ServiceStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceStatusCounts {
    /// Tasks observed RUNNING.
    pub running: u64,
    /// Replicated: the replica count; global: tasks desired to run; replicated job: its
    /// max-concurrent (as swarmkit's `ListServiceStatuses`, even once the job is done); global
    /// job: tasks of the current iteration desired to complete that have not completed yet
    /// (the CLI adds `completed` to it for the job's total).
    pub desired: u64,
    /// Jobs: tasks of the current iteration that completed (0 for other modes).
    pub completed: u64,
}

/// The counts for one service; all zero for an unknown service.
pub fn service_status(state: &ClusterState, id: &ServiceId) -> ServiceStatusCounts {
    let Some(svc) = state.services().get(id) else {
        return ServiceStatusCounts::default();
    };
    let mut c = ServiceStatusCounts::default();
    let mut runnable = 0u64;
    for t in state.tasks_by_service(id) {
        let current = !svc.spec.mode.is_job() || in_iteration(svc, t);
        if !current {
            continue;
        }
        // A task on a node that is down is not counted as running, even if that is the
        // last state it reported (moby counts running tasks on active nodes only).
        let node_down = t
            .node_id
            .as_ref()
            .and_then(|n| state.nodes().get(n))
            .is_some_and(|n| n.status.state == NodeState::Down);
        if t.status.state == TaskState::Running && !node_down {
            c.running += 1;
        }
        if t.status.state == TaskState::Complete && svc.spec.mode.is_job() {
            c.completed += 1;
        }
        let to_run = match svc.spec.mode {
            ServiceMode::GlobalJob => {
                t.desired_state == TaskState::Complete && t.status.state != TaskState::Complete
            }
            _ => t.desired_state == TaskState::Running,
        };
        if to_run {
            runnable += 1;
        }
    }
    c.desired = match svc.spec.mode {
        ServiceMode::Replicated { replicas } => replicas,
        ServiceMode::ReplicatedJob { max_concurrent, .. } => max_concurrent.max(1),
        ServiceMode::Global | ServiceMode::GlobalJob => runnable,
    };
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ServiceSpec;
    use crate::testing::Sim;

    #[test]
    fn counts_running_and_desired() {
        let mut sim = Sim::new();
        sim.add_node("n1", &[]);
        let mut s = ServiceSpec {
            name: "web".into(),
            mode: ServiceMode::Replicated { replicas: 3 },
            ..Default::default()
        };
        s.task_template.container.image = "busybox".into();
        sim.create_service("s1", s.clone());
        sim.manager_round();
        let id = ServiceId::new("s1");
        assert_eq!(
            service_status(&sim.state, &id),
            ServiceStatusCounts {
                running: 0,
                desired: 3,
                completed: 0
            }
        );
        sim.converge(10);
        assert_eq!(service_status(&sim.state, &id).running, 3);
        s.name = "g".into();
        s.mode = ServiceMode::Global;
        sim.create_service("g", s);
        sim.converge(10);
        let g = service_status(&sim.state, &ServiceId::new("g"));
        assert_eq!((g.running, g.desired), (1, 1));
        assert_eq!(
            service_status(&sim.state, &ServiceId::new("nope")),
            ServiceStatusCounts::default()
        );
    }

    /// What `docker service ls` renders from these for jobs once they are done: a replicated
    /// job keeps max-concurrent as desired (`0/2 (3/3 completed)`), a global job has nothing
    /// left to run (`0/0 (1/1 completed)`), as swarmkit counts them.
    #[test]
    fn finished_jobs_count_as_swarmkit_does() {
        let mut sim = Sim::new();
        sim.add_node("n1", &[]);
        let mut s = ServiceSpec {
            name: "job".into(),
            mode: ServiceMode::ReplicatedJob {
                max_concurrent: 2,
                total_completions: 3,
            },
            ..Default::default()
        };
        s.task_template.container.image = "busybox".into();
        sim.create_service("j", s.clone());
        sim.converge(20);
        assert_eq!(
            service_status(&sim.state, &ServiceId::new("j")),
            ServiceStatusCounts {
                running: 0,
                desired: 2,
                completed: 3
            }
        );
        s.name = "gjob".into();
        s.mode = ServiceMode::GlobalJob;
        sim.create_service("gj", s);
        sim.converge(20);
        assert_eq!(
            service_status(&sim.state, &ServiceId::new("gj")),
            ServiceStatusCounts {
                running: 0,
                desired: 0,
                completed: 1
            }
        );
    }
}
