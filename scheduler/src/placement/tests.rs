//! Placement tests: filters, explanations, spread, batches.

use std::collections::BTreeMap;

use crate::model::node::{NodeAvailability, NodeState, Platform};
use crate::model::service::{PortConfig, PublishMode, ServiceMode};
use crate::model::task_spec::{PlacementPreference, Resources};
use crate::model::{ServiceId, ServiceSpec, TaskState};
use crate::testing::{SECOND, Sim};

fn svc(name: &str, n: u64) -> ServiceSpec {
    let mut s = ServiceSpec {
        name: name.into(),
        mode: ServiceMode::Replicated { replicas: n },
        ..Default::default()
    };
    s.task_template.container.image = "busybox".into();
    s
}

fn pending_errs(sim: &Sim, id: &str) -> Vec<String> {
    sim.state
        .tasks_by_service(&ServiceId::new(id))
        .filter(|t| t.status.state == TaskState::Pending)
        .map(|t| t.status.err.clone())
        .collect()
}

fn zones(sim: &Sim, id: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for t in sim.running(id) {
        let node = sim.state.nodes().get(t.node_id.as_ref().unwrap()).unwrap();
        let z = node.spec.labels.get("zone").cloned().unwrap_or_default();
        *m.entry(z).or_insert(0) += 1;
    }
    m
}

#[test]
fn unsatisfiable_constraint_stays_pending_with_dockers_reason() {
    let mut sim = Sim::new();
    for i in 0..5 {
        sim.add_node(&format!("n{i}"), &[]);
    }
    let mut s = svc("web", 2);
    s.task_template.placement.constraints = vec!["node.labels.zone==nowhere".into()];
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(
        pending_errs(&sim, "s1"),
        vec!["no suitable node (scheduling constraints not satisfied on 5 nodes)"; 2]
    );
    // Quiet once explained: the same reason is not written again.
    assert_eq!(sim.manager_round(), 0);
}

#[test]
fn explanation_orders_reasons_by_count() {
    let mut sim = Sim::new();
    for i in 0..5 {
        sim.add_node(&format!("n{i}"), &[("zone", if i < 2 { "a" } else { "b" })]);
    }
    sim.set_node_state("n0", NodeState::Down);
    let mut s = svc("big", 1);
    s.task_template.resources.reservations = Some(Resources {
        memory_bytes: 100 << 30,
        ..Default::default()
    });
    s.task_template.placement.constraints = vec!["node.labels.zone==a".into()];
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(
        pending_errs(&sim, "s1"),
        // swarmkit's pipeline checks resources before constraints: each node counts once,
        // for the first filter it fails.
        vec![
            "no suitable node (insufficient resources on 4 nodes; 1 node not available for new tasks)"
        ]
    );
}

#[test]
fn resources_are_reserved_against_capacity() {
    let mut sim = Sim::new();
    sim.add_node("n1", &[]);
    sim.add_node("n2", &[]);
    let mut s = svc("cpu", 5);
    // 4 CPUs per node, 2 per task: two per node, the fifth waits.
    s.task_template.resources.reservations = Some(Resources {
        nano_cpus: 2 * SECOND,
        ..Default::default()
    });
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 4);
    assert_eq!(
        pending_errs(&sim, "s1"),
        vec!["no suitable node (insufficient resources on 2 nodes)"]
    );
    sim.add_node("n3", &[]);
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 5);
}

#[test]
fn host_ports_and_max_replicas() {
    let mut sim = Sim::new();
    sim.add_node("n1", &[]);
    sim.add_node("n2", &[]);
    let mut s = svc("web", 3);
    s.endpoint_spec.ports = vec![PortConfig {
        target_port: 80,
        published_port: 8080,
        publish_mode: PublishMode::Host,
        ..Default::default()
    }];
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(sim.running("s1").len(), 2);
    assert_eq!(
        pending_errs(&sim, "s1"),
        vec!["no suitable node (host-mode port already in use on 2 nodes)"]
    );
    let mut m = svc("capped", 3);
    m.task_template.placement.max_replicas = 1;
    sim.create_service("s2", m);
    sim.converge(10);
    assert_eq!(sim.running("s2").len(), 2);
    assert_eq!(
        pending_errs(&sim, "s2"),
        vec!["no suitable node (max replicas per node limit exceed)"]
    );
}

#[test]
fn platforms_and_availability() {
    let mut sim = Sim::new();
    sim.add_node("n1", &[]);
    sim.add_node("n2", &[]);
    sim.set_availability("n2", NodeAvailability::Pause);
    let mut s = svc("arm", 1);
    s.task_template.placement.platforms = vec![Platform {
        architecture: "arm64".into(),
        os: "linux".into(),
    }];
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(
        pending_errs(&sim, "s1"),
        vec![
            "no suitable node (1 node not available for new tasks; unsupported platform on 1 node)"
        ]
    );
    let mut s = svc("amd", 1);
    s.task_template.placement.platforms = vec![Platform {
        architecture: "amd64".into(),
        os: String::new(),
    }];
    sim.create_service("s2", s);
    sim.converge(10);
    assert_eq!(sim.running("s2").len(), 1, "x86_64 nodes run amd64 images");
}

#[test]
fn spread_preference_balances_zones_then_nodes() {
    let mut sim = Sim::new();
    // Zone a has 1 node, zone b has 3: spread gives each zone half.
    sim.add_node("a1", &[("zone", "a")]);
    for i in 1..=3 {
        sim.add_node(&format!("b{i}"), &[("zone", "b")]);
    }
    let mut s = svc("web", 8);
    s.task_template.placement.preferences = vec![PlacementPreference {
        spread: "node.labels.zone".into(),
    }];
    sim.create_service("s1", s);
    sim.converge(10);
    assert_eq!(
        zones(&sim, "s1"),
        BTreeMap::from([("a".into(), 4), ("b".into(), 4)])
    );
    // Without a preference the least-loaded strategy spreads over nodes.
    sim.create_service("s2", svc("plain", 8));
    sim.converge(10);
    assert!(
        sim.per_node("s2").values().all(|&c| c == 2),
        "{:?}",
        sim.per_node("s2")
    );
}

#[test]
fn least_loaded_counts_other_services_too() {
    let mut sim = Sim::new();
    sim.add_node("n1", &[]);
    sim.add_node("n2", &[]);
    let mut s = svc("pinned", 3);
    s.task_template.placement.constraints = vec!["node.id==n1".into()];
    sim.create_service("s1", s);
    sim.converge(10);
    sim.create_service("s2", svc("other", 1));
    sim.converge(10);
    assert_eq!(
        sim.per_node("s2").keys().next().map(|n| n.as_str()),
        Some("n2")
    );
}
