//! Property: a rolling update of any size, parallelism and order, with agents that take a
//! random number of rounds to report, never runs fewer than `replicas - parallelism` tasks
//! (stop-first) or fewer than `replicas` (start-first), and ends with every task on the new
//! spec and the update completed.

use proptest::prelude::*;
use shoal_scheduler::model::service::{UpdateConfig, UpdateOrder, UpdateState};
use shoal_scheduler::model::{ServiceMode, ServiceSpec};
use shoal_scheduler::orchestrator;
use shoal_scheduler::testing::{SECOND, Sim};

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn rolling_update_keeps_capacity(
        replicas in 1u64..10,
        parallelism in 1u64..4,
        start_first in any::<bool>(),
        nodes in 1usize..5,
        // Which rounds the agents skip (slow reporting).
        lazy in proptest::collection::vec(any::<bool>(), 64),
    ) {
        let mut sim = Sim::new();
        for i in 0..nodes {
            sim.add_node(&format!("n{i}"), &[]);
        }
        let mut spec = ServiceSpec {
            name: "web".into(),
            mode: ServiceMode::Replicated { replicas },
            ..Default::default()
        };
        spec.task_template.container.image = "busybox:1".into();
        spec.update_config = Some(UpdateConfig {
            parallelism,
            monitor_ns: SECOND,
            order: if start_first { UpdateOrder::StartFirst } else { UpdateOrder::StopFirst },
            ..Default::default()
        });
        sim.create_service("s1", spec);
        sim.converge(20);
        prop_assert_eq!(sim.running("s1").len() as u64, replicas);
        sim.update_service("s1", |s| s.task_template.container.image = "busybox:2".into());
        let floor = if start_first { replicas } else { replicas.saturating_sub(parallelism) };
        let mut done = false;
        for (round, skip) in lazy.iter().enumerate() {
            sim.manager_round();
            if !skip {
                sim.agent_round();
            }
            let running = sim.running("s1").len() as u64;
            prop_assert!(running >= floor, "round {}: {} running, floor {}", round, running, floor);
            let st = sim.service("s1").update_status.as_ref().map(|u| u.state);
            if st == Some(UpdateState::Completed) {
                done = true;
                break;
            }
            if let Some(w) = orchestrator::next_wakeup(&sim.state, sim.now) {
                sim.now = w;
            }
        }
        if !done {
            // Let slow agents finish.
            for _ in 0..40 {
                sim.converge(20);
                if let Some(w) = orchestrator::next_wakeup(&sim.state, sim.now) {
                    sim.now = w;
                } else {
                    break;
                }
            }
            sim.converge(20);
        }
        let st = sim.service("s1").update_status.as_ref().map(|u| u.state);
        prop_assert_eq!(st, Some(UpdateState::Completed));
        let running = sim.running("s1");
        prop_assert_eq!(running.len() as u64, replicas);
        prop_assert!(running.iter().all(|t| t.spec.container.image == "busybox:2"));
    }
}
