//! Property: any sequence of node failures, recoveries, drains, task failures and scale
//! changes, run through the orchestrator, allocator, scheduler and reaper with simulated agents,
//! converges to the desired count with unique slots and no live task on a down node.

use proptest::prelude::*;
use shoal_scheduler::model::node::{NodeAvailability, NodeState};
use shoal_scheduler::model::{ServiceMode, ServiceSpec, TaskState};
use shoal_scheduler::testing::Sim;

const NODES: usize = 5;

#[derive(Debug, Clone)]
enum Op {
    Down(usize),
    Up(usize),
    Drain(usize),
    Activate(usize),
    Scale(u64),
    FailTask(usize),
    /// A manager round whose commands are lost (a leader that died before proposing), followed
    /// by nothing: the next leader must still converge.
    LostRound,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..NODES).prop_map(Op::Down),
        (0..NODES).prop_map(Op::Up),
        (0..NODES).prop_map(Op::Drain),
        (0..NODES).prop_map(Op::Activate),
        (0u64..12).prop_map(Op::Scale),
        (0usize..20).prop_map(Op::FailTask),
        Just(Op::LostRound),
    ]
}

fn node(i: usize) -> String {
    format!("n{i}")
}

fn check(sim: &Sim, replicas: u64) -> Result<(), TestCaseError> {
    let active = sim.active("s1");
    let mut slots: Vec<u64> = active.iter().map(|t| t.slot).collect();
    slots.sort_unstable();
    let unique = slots.windows(2).all(|w| w[0] != w[1]);
    prop_assert!(unique, "duplicate slots: {:?}", slots);
    prop_assert_eq!(slots.len() as u64, replicas, "active tasks");
    for t in &active {
        if let Some(n) = &t.node_id {
            let st = sim.state.nodes().get(n).map(|n| n.status.state);
            prop_assert_ne!(
                st,
                Some(NodeState::Down),
                "live task {} on down node {}",
                t.id,
                n
            );
        }
    }
    let usable = sim.state.nodes().iter().any(|n| {
        n.status.state == NodeState::Ready && n.spec.availability == NodeAvailability::Active
    });
    if usable {
        prop_assert_eq!(sim.running("s1").len() as u64, replicas, "running tasks");
    } else {
        prop_assert!(
            active.iter().all(|t| t.status.state == TaskState::Pending),
            "with no usable node every task waits"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn converges_to_desired_count_with_unique_slots(ops in proptest::collection::vec(op(), 1..30)) {
        let mut sim = Sim::new();
        for i in 0..NODES {
            sim.add_node(&node(i), &[]);
        }
        let mut spec = ServiceSpec {
            name: "web".into(),
            mode: ServiceMode::Replicated { replicas: 4 },
            ..Default::default()
        };
        spec.task_template.container.image = "busybox".into();
        spec.task_template.restart_policy.delay_ns = Some(0);
        sim.create_service("s1", spec);
        let mut replicas = 4;
        sim.converge(50);
        check(&sim, replicas)?;
        for op in ops {
            match op {
                Op::Down(i) => sim.set_node_state(&node(i), NodeState::Down),
                Op::Up(i) => sim.set_node_state(&node(i), NodeState::Ready),
                Op::Drain(i) => sim.set_availability(&node(i), NodeAvailability::Drain),
                Op::Activate(i) => sim.set_availability(&node(i), NodeAvailability::Active),
                Op::Scale(n) => {
                    replicas = n;
                    sim.update_service("s1", |s| s.mode = ServiceMode::Replicated { replicas: n });
                }
                Op::FailTask(k) => {
                    let running = sim.running("s1");
                    if !running.is_empty() {
                        let id = running[k % running.len()].id.clone();
                        sim.exit_task(&id, 1);
                    }
                }
                Op::LostRound => {
                    let _ = shoal_scheduler::orchestrator::reconcile(&sim.state, sim.now, &mut sim.ids);
                }
            }
            sim.advance(1_000_000_000);
            sim.converge(50);
            check(&sim, replicas)?;
        }
    }
}
