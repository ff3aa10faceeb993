//! Orchestrator tests on the simulated cluster with a fake clock.

use std::collections::BTreeSet;

use crate::model::node::{NodeAvailability, NodeState};
use crate::model::service::ServiceMode;
use crate::model::task_spec::RestartCondition;
use crate::model::{ServiceSpec, TaskState};
use crate::testing::{SECOND, Sim};

pub(crate) fn spec(name: &str, mode: ServiceMode) -> ServiceSpec {
    let mut s = ServiceSpec {
        name: name.into(),
        mode,
        ..Default::default()
    };
    s.task_template.container.image = "busybox".into();
    s
}

pub(crate) fn replicated(name: &str, n: u64) -> ServiceSpec {
    spec(name, ServiceMode::Replicated { replicas: n })
}

pub(crate) fn cluster(nodes: usize) -> Sim {
    let mut sim = Sim::new();
    for i in 1..=nodes {
        sim.add_node(&format!("n{i}"), &[]);
    }
    sim
}

fn slots(sim: &Sim, svc: &str) -> Vec<u64> {
    let mut v: Vec<u64> = sim.active(svc).iter().map(|t| t.slot).collect();
    v.sort_unstable();
    v
}

#[test]
fn replicated_service_converges_and_spreads() {
    let mut sim = cluster(3);
    sim.create_service("s1", replicated("web", 6));
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 6);
    assert_eq!(slots(&sim, "s1"), vec![1, 2, 3, 4, 5, 6]);
    assert!(
        sim.per_node("s1").values().all(|&c| c == 2),
        "{:?}",
        sim.per_node("s1")
    );
    // Nothing changed: every entry point is quiet.
    assert_eq!(sim.manager_round(), 0);
}

#[test]
fn scale_up_and_down_keeps_slots_unique() {
    let mut sim = cluster(3);
    sim.create_service("s1", replicated("web", 2));
    sim.converge(10);
    sim.update_service("s1", |s| s.mode = ServiceMode::Replicated { replicas: 20 });
    sim.converge(10);
    assert_eq!(slots(&sim, "s1"), (1..=20).collect::<Vec<_>>());
    sim.update_service("s1", |s| s.mode = ServiceMode::Replicated { replicas: 2 });
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 2);
    assert_eq!(slots(&sim, "s1").len(), 2);
    // Removed tasks are deleted by the reaper once shut down.
    assert_eq!(sim.state.tasks().len(), 2, "{:?}", sim.state.tasks());
    // The update status is untouched by scaling (tasks are not dirty).
    assert!(sim.service("s1").update_status.is_none());
}

#[test]
fn failed_task_restarts_after_delay_in_its_slot() {
    let mut sim = cluster(2);
    sim.create_service("s1", replicated("web", 1));
    sim.converge(10);
    let first = sim.running("s1")[0].id.clone();
    sim.exit_task(&first, 1);
    sim.converge(10);
    // Default delay 5 s: the replacement waits in READY.
    let active = sim.active("s1");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].desired_state, TaskState::Ready);
    assert_eq!(active[0].slot, 1);
    assert_eq!(active[0].restart.attempts, 1);
    let wake = super::next_wakeup(&sim.state, sim.now).expect("a wakeup for the delay");
    assert_eq!(wake.0 - sim.now.0, 5 * SECOND);
    sim.advance(5 * SECOND);
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 1);
    assert_ne!(sim.running("s1")[0].id, first);
    let old = sim.state.tasks().get(&first).unwrap();
    assert_eq!(old.desired_state, TaskState::Shutdown);
}

#[test]
fn restart_condition_and_max_attempts() {
    let mut sim = cluster(1);
    let mut s = replicated("web", 1);
    s.task_template.restart_policy.condition = RestartCondition::OnFailure;
    s.task_template.restart_policy.delay_ns = Some(0);
    s.task_template.restart_policy.max_attempts = 2;
    sim.create_service("s1", s);
    sim.converge(10);
    // Exit 0 with on-failure: not restarted, and the slot is not refilled.
    let t = sim.running("s1")[0].id.clone();
    sim.exit_task(&t, 0);
    sim.converge(10);
    assert!(sim.active("s1").is_empty());
    // A failing task under a fresh spec is restarted at most twice.
    sim.update_service("s1", |s| s.task_template.container.args = vec!["x".into()]);
    sim.converge(10);
    for _ in 0..5 {
        if let Some(t) = sim.running("s1").first().map(|t| t.id.clone()) {
            sim.exit_task(&t, 1);
        }
        sim.converge(10);
    }
    let s1 = crate::model::ServiceId::new("s1");
    let v = sim.service("s1").spec_version;
    let failed = sim
        .state
        .tasks_by_service(&s1)
        .filter(|t| t.spec_version == v && t.status.state == TaskState::Failed)
        .count();
    assert_eq!(failed, 3, "first run + 2 restarts");
    assert!(sim.active("s1").is_empty());
}

#[test]
fn restart_window_counts_only_recent_restarts() {
    let mut sim = cluster(1);
    let mut s = replicated("web", 1);
    s.task_template.restart_policy.delay_ns = Some(0);
    s.task_template.restart_policy.max_attempts = 1;
    s.task_template.restart_policy.window_ns = 10 * SECOND;
    sim.create_service("s1", s);
    sim.converge(10);
    for _ in 0..3 {
        let t = sim.running("s1")[0].id.clone();
        sim.exit_task(&t, 1);
        sim.converge(10);
        assert_eq!(sim.running("s1").len(), 1, "restarted: outside the window");
        sim.advance(11 * SECOND);
    }
    // The last restart is now outside the window again: one more is allowed...
    let t = sim.running("s1")[0].id.clone();
    sim.exit_task(&t, 1);
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 1);
    sim.advance(SECOND);
    // ...but not a second one within 10 s of it.
    let t = sim.running("s1")[0].id.clone();
    sim.exit_task(&t, 1);
    sim.converge(10);
    assert!(
        sim.running("s1").is_empty(),
        "second failure within the window"
    );
}

#[test]
fn node_down_moves_tasks_and_stale_ones_stop_when_it_returns() {
    let mut sim = cluster(3);
    sim.create_service("s1", replicated("web", 6));
    sim.converge(10);
    sim.set_node_state("n1", NodeState::Down);
    sim.converge(10);
    let running = sim.running("s1");
    assert_eq!(running.len(), 6);
    assert!(
        running
            .iter()
            .all(|t| t.node_id.as_ref().unwrap().as_str() != "n1")
    );
    assert_eq!(slots(&sim, "s1"), vec![1, 2, 3, 4, 5, 6]);
    // The stale tasks on n1 still claim to run, with desired state shutdown.
    let n1 = crate::model::NodeId::new("n1");
    let stale: Vec<_> = sim.state.tasks_by_node(&n1).collect();
    assert_eq!(stale.len(), 2);
    assert!(stale.iter().all(|t| t.desired_state == TaskState::Shutdown));
    sim.set_node_state("n1", NodeState::Ready);
    sim.converge(10);
    assert!(
        sim.state
            .tasks_by_node(&n1)
            .all(|t| t.status.state == TaskState::Shutdown)
    );
    assert_eq!(sim.running("s1").len(), 6);
}

#[test]
fn drain_moves_tasks_away_and_pause_keeps_them() {
    let mut sim = cluster(3);
    sim.create_service("s1", replicated("web", 3));
    sim.converge(10);
    sim.set_availability("n2", NodeAvailability::Pause);
    sim.converge(10);
    assert_eq!(sim.per_node("s1").get(&"n2".into()), Some(&1));
    sim.set_availability("n1", NodeAvailability::Drain);
    sim.converge(10);
    let per = sim.per_node("s1");
    assert_eq!(per.get(&"n1".into()), None);
    assert_eq!(per.values().sum::<usize>(), 3);
    // Paused n2 takes no new task: the moved one went to n3.
    assert_eq!(per.get(&"n3".into()), Some(&2));
}

#[test]
fn deleted_service_tasks_are_removed() {
    let mut sim = cluster(2);
    sim.create_service("s1", replicated("web", 4));
    sim.converge(10);
    sim.must(crate::model::ClusterCommand::Delete(
        crate::model::ObjectRef::Service("s1".into()),
    ));
    sim.converge(10);
    assert_eq!(sim.state.tasks().len(), 0);
}

#[test]
fn history_is_trimmed_to_the_retention_limit() {
    let mut sim = cluster(1);
    let mut s = replicated("web", 1);
    s.task_template.restart_policy.delay_ns = Some(0);
    sim.create_service("s1", s);
    sim.converge(10);
    for _ in 0..10 {
        let t = sim.running("s1")[0].id.clone();
        sim.exit_task(&t, 1);
        sim.converge(10);
    }
    assert_eq!(sim.state.tasks().len(), 5);
    let ids: BTreeSet<_> = sim.state.tasks().iter().map(|t| t.slot).collect();
    assert_eq!(ids, BTreeSet::from([1]));
}

#[test]
fn duplicate_slot_from_a_deposed_leader_is_repaired() {
    let mut sim = cluster(2);
    sim.create_service("s1", replicated("web", 2));
    // Two leaders decide on the same state; both proposals apply (creates carry no version).
    let state = sim.state.clone();
    let a = super::reconcile(&state, sim.now, &mut crate::SequentialIds::new("a"));
    let b = super::reconcile(&state, sim.now, &mut crate::SequentialIds::new("b"));
    sim.apply_all(a);
    sim.apply_all(b);
    assert_eq!(sim.active("s1").len(), 4, "two tasks per slot for a moment");
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 2);
    assert_eq!(slots(&sim, "s1"), vec![1, 2]);
}

#[test]
fn a_lost_update_of_the_failed_task_does_not_replace_it_twice() {
    let mut sim = cluster(1);
    let mut s = replicated("web", 1);
    s.task_template.restart_policy.delay_ns = Some(0);
    sim.create_service("s1", s);
    sim.converge(10);
    let first = sim.running("s1")[0].id.clone();
    sim.exit_task(&first, 1);
    // Only the create of the replacement is applied; the update of the old task is lost.
    let cmds = super::reconcile(&sim.state, sim.now, &mut sim.ids);
    let creates: Vec<_> = cmds
        .into_iter()
        .filter(|c| matches!(c, crate::model::ClusterCommand::Create(_)))
        .collect();
    assert_eq!(creates.len(), 1);
    sim.apply_all(creates);
    let again = super::reconcile(&sim.state, sim.now, &mut sim.ids);
    assert!(
        again
            .iter()
            .all(|c| !matches!(c, crate::model::ClusterCommand::Create(_))),
        "no second replacement: {again:?}"
    );
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 1);
}
