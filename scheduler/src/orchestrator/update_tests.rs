//! Rolling update and rollback tests on the simulated cluster with a fake clock.

use crate::model::service::{FailureAction, UpdateConfig, UpdateOrder, UpdateState};
use crate::model::{ServiceId, TaskState};
use crate::testing::{SECOND, Sim};

use super::tests::{cluster, replicated};

fn images(sim: &Sim, svc: &str) -> Vec<String> {
    let mut v: Vec<String> = sim
        .running(svc)
        .iter()
        .map(|t| t.spec.container.image.clone())
        .collect();
    v.sort();
    v
}

fn set_image(sim: &mut Sim, svc: &str, image: &str) {
    let image = image.to_owned();
    sim.update_service(svc, move |s| s.task_template.container.image = image);
}

/// Agent + manager rounds without moving the clock, until quiet.
fn settle(sim: &mut Sim) {
    sim.converge(20);
}

/// Rounds until the first task with `image` runs; returns its ID.
fn first_running_with(sim: &mut Sim, image: &str) -> crate::model::TaskId {
    for _ in 0..10 {
        sim.manager_round();
        sim.agent_round();
        if let Some(t) = sim
            .running("s1")
            .into_iter()
            .find(|t| t.spec.container.image == image)
        {
            return t.id.clone();
        }
    }
    panic!("no task with {image} ever ran");
}

fn state(sim: &Sim, svc: &str) -> Option<UpdateState> {
    sim.service(svc).update_status.as_ref().map(|u| u.state)
}

fn with_update(n: u64, cfg: UpdateConfig) -> crate::model::ServiceSpec {
    let mut s = replicated("web", n);
    s.update_config = Some(cfg);
    s.rollback_config = Some(UpdateConfig {
        monitor_ns: SECOND,
        ..Default::default()
    });
    s
}

#[test]
fn rolling_update_respects_parallelism_delay_and_monitor() {
    let mut sim = cluster(3);
    sim.create_service(
        "s1",
        with_update(
            6,
            UpdateConfig {
                parallelism: 2,
                delay_ns: 10 * SECOND,
                monitor_ns: 3 * SECOND,
                ..Default::default()
            },
        ),
    );
    settle(&mut sim);
    set_image(&mut sim, "s1", "busybox:2");
    let mut rounds = 0;
    loop {
        settle(&mut sim);
        let running = sim.running("s1").len();
        assert!(
            running >= 4,
            "never fewer than replicas - parallelism: {running}"
        );
        let new = images(&sim, "s1")
            .iter()
            .filter(|i| *i == "busybox:2")
            .count();
        // At most two new tasks per 10 s batch.
        assert!(new <= 2 * (rounds + 1), "round {rounds}: {new} updated");
        if state(&sim, "s1") == Some(UpdateState::Completed) {
            break;
        }
        let wake = super::next_wakeup(&sim.state, sim.now).expect("update waits on the clock");
        sim.now = wake;
        rounds += 1;
        assert!(rounds < 20, "update never completed");
    }
    assert_eq!(images(&sim, "s1"), vec!["busybox:2".to_string(); 6]);
    let st = sim.service("s1").update_status.clone().unwrap();
    assert_eq!(st.message, "update completed");
    assert!(st.completed_at.is_some() && st.started_at.is_some());
    // Three batches, 10 s apart, then the 3 s monitor: completed no earlier than 23 s.
    assert!(st.completed_at.unwrap().0 - st.started_at.unwrap().0 >= 23 * SECOND);
}

#[test]
fn start_first_runs_the_new_task_before_stopping_the_old() {
    let mut sim = cluster(2);
    sim.create_service(
        "s1",
        with_update(
            1,
            UpdateConfig {
                order: UpdateOrder::StartFirst,
                monitor_ns: SECOND,
                ..Default::default()
            },
        ),
    );
    settle(&mut sim);
    let old = sim.running("s1")[0].id.clone();
    set_image(&mut sim, "s1", "busybox:2");
    // One manager round creates the new task; the old one still runs.
    sim.manager_round();
    sim.manager_round();
    assert_eq!(sim.running("s1").len(), 1);
    assert_eq!(
        sim.state.tasks().get(&old).unwrap().desired_state,
        TaskState::Running
    );
    sim.agent_round();
    assert_eq!(sim.running("s1").len(), 2, "both run for a moment");
    settle(&mut sim);
    assert_eq!(images(&sim, "s1"), vec!["busybox:2".to_string()]);
    assert_eq!(
        sim.state.tasks().get(&old).unwrap().status.state,
        TaskState::Shutdown
    );
}

#[test]
fn stop_first_waits_for_the_old_task_to_stop() {
    let mut sim = cluster(2);
    sim.create_service("s1", with_update(1, UpdateConfig::default()));
    settle(&mut sim);
    set_image(&mut sim, "s1", "busybox:2");
    sim.manager_round();
    let s1 = ServiceId::new("s1");
    let new = sim
        .state
        .tasks_by_service(&s1)
        .find(|t| t.spec.container.image == "busybox:2")
        .unwrap();
    assert_eq!(new.desired_state, TaskState::Ready, "waits for the old one");
    settle(&mut sim);
    assert_eq!(images(&sim, "s1"), vec!["busybox:2".to_string()]);
}

#[test]
fn failing_update_pauses_by_default() {
    let mut sim = cluster(2);
    let mut spec = with_update(2, UpdateConfig::default());
    spec.task_template.restart_policy.delay_ns = Some(0);
    sim.create_service("s1", spec);
    settle(&mut sim);
    set_image(&mut sim, "s1", "busybox:bad");
    let bad = first_running_with(&mut sim, "busybox:bad");
    sim.exit_task(&bad, 1);
    settle(&mut sim);
    let st = sim.service("s1").update_status.clone().unwrap();
    assert_eq!(st.state, UpdateState::Paused);
    assert_eq!(
        st.message,
        format!("update paused due to failure or early termination of task {bad}")
    );
    // Paused: the other slot keeps the old image.
    assert!(images(&sim, "s1").contains(&"busybox".to_string()));
}

#[test]
fn failing_update_with_rollback_action_rolls_back_by_itself() {
    let mut sim = cluster(2);
    let mut spec = with_update(
        2,
        UpdateConfig {
            failure_action: FailureAction::Rollback,
            ..Default::default()
        },
    );
    spec.task_template.restart_policy.delay_ns = Some(0);
    sim.create_service("s1", spec);
    settle(&mut sim);
    set_image(&mut sim, "s1", "busybox:bad");
    let bad = first_running_with(&mut sim, "busybox:bad");
    sim.exit_task(&bad, 1);
    settle(&mut sim);
    assert_eq!(state(&sim, "s1"), Some(UpdateState::RollbackStarted));
    assert_eq!(
        sim.service("s1").update_status.as_ref().unwrap().message,
        format!("update rolled back due to failure or early termination of task {bad}")
    );
    assert_eq!(
        sim.service("s1").spec.task_template.container.image,
        "busybox"
    );
    // Rollback monitor is 1 s.
    sim.advance(2 * SECOND);
    settle(&mut sim);
    assert_eq!(state(&sim, "s1"), Some(UpdateState::RollbackCompleted));
    assert_eq!(images(&sim, "s1"), vec!["busybox".to_string(); 2]);
}

#[test]
fn manual_rollback_and_force_update() {
    let mut sim = cluster(2);
    sim.create_service(
        "s1",
        with_update(
            2,
            UpdateConfig {
                parallelism: 0,
                monitor_ns: SECOND,
                ..Default::default()
            },
        ),
    );
    settle(&mut sim);
    set_image(&mut sim, "s1", "busybox:2");
    settle(&mut sim);
    sim.advance(2 * SECOND);
    settle(&mut sim);
    assert_eq!(state(&sim, "s1"), Some(UpdateState::Completed));
    let rolled = sim.service("s1").rolled_back(sim.now).unwrap();
    assert_eq!(
        rolled.update_status.as_ref().unwrap().message,
        "manually requested rollback"
    );
    sim.must(crate::model::ClusterCommand::Update(rolled.into()));
    settle(&mut sim);
    sim.advance(2 * SECOND);
    settle(&mut sim);
    assert_eq!(state(&sim, "s1"), Some(UpdateState::RollbackCompleted));
    assert_eq!(images(&sim, "s1"), vec!["busybox".to_string(); 2]);
    // --force: same spec, new counter: every task is replaced.
    let before: Vec<_> = sim.running("s1").iter().map(|t| t.id.clone()).collect();
    sim.update_service("s1", |s| s.task_template.force_update += 1);
    settle(&mut sim);
    sim.advance(2 * SECOND);
    settle(&mut sim);
    let after: Vec<_> = sim.running("s1").iter().map(|t| t.id.clone()).collect();
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|t| !before.contains(t)));
    assert_eq!(state(&sim, "s1"), Some(UpdateState::Completed));
}

#[test]
fn rollback_without_previous_spec_is_refused() {
    let mut sim = cluster(1);
    sim.create_service("s1", replicated("web", 1));
    let err = sim.service("s1").rolled_back(sim.now).unwrap_err();
    assert_eq!(err.to_string(), "service s1 does not have a previous spec");
}
