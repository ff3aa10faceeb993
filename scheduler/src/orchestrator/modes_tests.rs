//! Global and job mode tests.

use crate::model::node::{NodeAvailability, NodeState};
use crate::model::service::ServiceMode;
use crate::model::{ServiceId, TaskState};
use crate::status::service_status;
use crate::testing::{SECOND, Sim};

use super::tests::{cluster, spec};

#[test]
fn global_follows_nodes_joining_draining_leaving_and_constraints() {
    let mut sim = cluster(3);
    let mut s = spec("agent", ServiceMode::Global);
    s.task_template.placement.constraints = vec!["node.labels.skip!=yes".into()];
    sim.create_service("g", s);
    sim.converge(10);
    assert_eq!(sim.per_node("g").len(), 3);
    assert!(sim.active("g").iter().all(|t| t.slot == 0));
    sim.add_node("n4", &[]);
    sim.converge(10);
    assert_eq!(sim.per_node("g").len(), 4, "a joining node gets a task");
    sim.set_availability("n2", NodeAvailability::Drain);
    sim.converge(10);
    assert!(!sim.per_node("g").contains_key(&"n2".into()), "drained");
    sim.set_node_state("n3", NodeState::Down);
    sim.converge(10);
    assert_eq!(sim.per_node("g").len(), 2);
    assert!(
        sim.active("g")
            .iter()
            .all(|t| t.node_id.as_ref().unwrap().as_str() != "n3")
    );
    sim.set_node_state("n3", NodeState::Ready);
    sim.set_availability("n2", NodeAvailability::Active);
    sim.converge(10);
    assert_eq!(sim.per_node("g").len(), 4, "back");
    // A label change makes n4 ineligible: the enforcer rejects its task.
    sim.update_node("n4", |n| {
        n.spec.labels.insert("skip".into(), "yes".into());
    });
    sim.converge(10);
    assert_eq!(sim.per_node("g").len(), 3);
    let rejected = sim
        .state
        .tasks_by_node(&"n4".into())
        .find(|t| t.status.state == TaskState::Rejected)
        .expect("rejected by the enforcer");
    assert_eq!(
        rejected.status.err,
        "assigned node no longer meets constraints"
    );
    // A node that leaves (node rm) loses its task.
    sim.must(crate::model::ClusterCommand::Delete(
        crate::model::ObjectRef::Node("n1".into()),
    ));
    sim.converge(10);
    assert_eq!(sim.active("g").len(), 2);
    assert_eq!(service_status(&sim.state, &ServiceId::new("g")).desired, 2);
    // Its task can never report again: orphaned, then reaped as history.
    let lost = sim
        .state
        .tasks_by_node(&"n1".into())
        .filter(|t| t.status.state == TaskState::Orphaned)
        .count();
    assert_eq!(lost, 1);
}

#[test]
fn constraint_change_moves_a_replicated_task() {
    let mut sim = Sim::new();
    sim.add_node("a", &[("zone", "a")]);
    sim.add_node("b", &[("zone", "b")]);
    let mut s = spec("web", ServiceMode::Replicated { replicas: 2 });
    s.task_template.placement.constraints = vec!["node.labels.zone==a".into()];
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(sim.per_node("s1").get(&"a".into()), Some(&2));
    sim.update_node("a", |n| {
        n.spec.labels.insert("zone".into(), "c".into());
    });
    sim.update_node("b", |n| {
        n.spec.labels.insert("zone".into(), "a".into());
    });
    sim.advance(6 * SECOND);
    sim.converge(10);
    sim.advance(6 * SECOND);
    sim.converge(10);
    assert_eq!(
        sim.per_node("s1").get(&"b".into()),
        Some(&2),
        "{:?}",
        sim.per_node("s1")
    );
}

#[test]
fn replicated_job_runs_to_completion_with_max_concurrent() {
    let mut sim = cluster(3);
    sim.complete_jobs = false;
    sim.create_service(
        "j",
        spec(
            "job",
            ServiceMode::ReplicatedJob {
                max_concurrent: 2,
                total_completions: 5,
            },
        ),
    );
    sim.converge(10);
    let mut done = 0;
    for _ in 0..10 {
        let running: Vec<_> = sim.running("j").iter().map(|t| t.id.clone()).collect();
        assert!(running.len() <= 2, "max concurrent");
        if running.is_empty() {
            break;
        }
        assert_eq!(
            sim.state.tasks().get(&running[0]).unwrap().desired_state,
            TaskState::Complete
        );
        sim.exit_task(&running[0], 0);
        done += 1;
        sim.converge(10);
    }
    assert_eq!(done, 5);
    // swarmkit's ListServiceStatuses: a replicated job's desired count is its
    // max-concurrent, also once complete (the CLI shows `0/2 (5/5 completed)`).
    let st = service_status(&sim.state, &ServiceId::new("j"));
    assert_eq!((st.completed, st.desired, st.running), (5, 2, 0));
    // A failed job task is retried (condition any acts as on-failure); a completed one never.
    sim.update_service("j", |s| {
        s.mode = ServiceMode::ReplicatedJob {
            max_concurrent: 1,
            total_completions: 1,
        };
        s.task_template.restart_policy.delay_ns = Some(0);
    });
    sim.converge(10);
    let t = sim.running("j")[0].id.clone();
    assert_eq!(sim.running("j")[0].job_iteration, Some(1));
    sim.exit_task(&t, 3);
    sim.converge(10);
    let t = sim.running("j")[0].id.clone();
    sim.exit_task(&t, 0);
    sim.converge(10);
    assert!(sim.running("j").is_empty());
    assert_eq!(
        service_status(&sim.state, &ServiceId::new("j")).completed,
        1
    );
}

#[test]
fn global_job_runs_once_per_node() {
    let mut sim = cluster(3);
    sim.create_service("gj", spec("gjob", ServiceMode::GlobalJob));
    sim.converge(10);
    let s = ServiceId::new("gj");
    let complete = sim
        .state
        .tasks_by_service(&s)
        .filter(|t| t.status.state == TaskState::Complete)
        .count();
    assert_eq!(complete, 3);
    sim.add_node("n4", &[]);
    sim.converge(10);
    assert_eq!(service_status(&sim.state, &s).completed, 4);
    assert_eq!(sim.manager_round(), 0, "done: nothing more to do");
}

/// The e2e scenario of tests/service/t60_nodes.rs: a node that goes down has its tasks
/// replaced and no healthy task elsewhere is touched.
#[test]
fn node_down_moves_only_its_own_tasks() {
    let mut sim = cluster(6);
    sim.create_service("g", spec("glob", ServiceMode::Global));
    sim.create_service("r", spec("rep", ServiceMode::Replicated { replicas: 5 }));
    sim.converge(20);
    sim.set_availability("n5", NodeAvailability::Drain);
    sim.converge(20);
    sim.set_availability("n5", NodeAvailability::Active);
    sim.converge(20);
    sim.update_service("r", |s| s.mode = ServiceMode::Replicated { replicas: 10 });
    sim.converge(20);
    sim.advance(60 * SECOND);
    sim.converge(20);
    let before: Vec<_> = sim
        .running("r")
        .iter()
        .filter(|t| t.node_id.as_ref().unwrap().as_str() != "n6")
        .map(|t| t.id.clone())
        .collect();
    sim.set_node_state("n6", NodeState::Down);
    for _ in 0..20 {
        sim.converge(20);
        sim.advance(SECOND);
    }
    let after: Vec<_> = sim.running("r").iter().map(|t| t.id.clone()).collect();
    assert_eq!(after.len(), 10);
    for t in &before {
        assert!(after.contains(t), "healthy task {t} was replaced");
    }
}

/// `docker service scale` changes only the replica count: the running tasks keep running.
#[test]
fn scaling_up_restarts_nothing() {
    let mut sim = cluster(2);
    sim.create_service("r", spec("rep", ServiceMode::Replicated { replicas: 2 }));
    sim.converge(20);
    let before: Vec<_> = sim.running("r").iter().map(|t| t.id.clone()).collect();
    sim.update_service("r", |s| s.mode = ServiceMode::Replicated { replicas: 3 });
    for _ in 0..20 {
        sim.converge(20);
        sim.advance(SECOND);
    }
    let after: Vec<_> = sim.running("r").iter().map(|t| t.id.clone()).collect();
    assert_eq!(after.len(), 3);
    for t in &before {
        assert!(after.contains(t), "task {t} was replaced by a scale-up");
    }
    assert!(
        sim.service("r").update_status.is_none(),
        "no update started"
    );
}
