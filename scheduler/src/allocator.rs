//! The allocator (swarmkit `manager/allocator`): NEW → PENDING.
//!
//! Today it does the bookkeeping that needs no network driver: a service's published ports
//! ([`Endpoint`], ingress ports without a published port get one from Docker's dynamic range
//! 30000–32767, kept across spec changes), and each task's network attachments (the networks
//! of its spec, without addresses: overlay addresses and VIPs are the next issue's) and its
//! copy of the service endpoint. Then the task moves to PENDING with swarmkit's message
//! "pending task scheduling".

use std::collections::BTreeSet;

use crate::model::service::{Endpoint, PortConfig, PortProtocol, PublishMode};
use crate::model::task::NetworkAttachment;
use crate::model::{ClusterCommand, ClusterState, Service, StoreObject, TaskState, Timestamp};
use crate::orchestrator::wants_to_run;

/// Docker's dynamic port range for ingress ports (swarmkit `portallocator`).
pub const DYNAMIC_PORTS: std::ops::RangeInclusive<u32> = 30000..=32767;

/// swarmkit's message for a task waiting for the scheduler.
pub const PENDING_MESSAGE: &str = "pending task scheduling";

/// Allocates what services and NEW tasks need; see the module docs. One command per object;
/// O(tasks) and empty when nothing is NEW and every endpoint is current.
pub fn allocate(state: &ClusterState, now: Timestamp) -> Vec<ClusterCommand> {
    let mut out = Vec::new();
    let mut used: BTreeSet<(PortProtocol, u32)> = state
        .services()
        .iter()
        .filter_map(|s| s.endpoint.as_ref())
        .flat_map(|e| e.ports.iter())
        .filter(|p| p.publish_mode == PublishMode::Ingress && p.published_port != 0)
        .map(|p| (p.protocol, p.published_port))
        .collect();
    let mut endpoints = std::collections::HashMap::new();
    for s in state.services().iter() {
        let current = s
            .endpoint
            .as_ref()
            .is_some_and(|e| e.spec == s.spec.endpoint_spec);
        if current {
            continue;
        }
        let ep = allocate_endpoint(s, &mut used);
        let mut u = s.clone();
        u.endpoint = Some(ep.clone());
        u.meta.updated_at = now;
        out.push(ClusterCommand::Update(StoreObject::Service(u)));
        endpoints.insert(s.id.clone(), ep);
    }
    for t in state.tasks().iter() {
        if t.status.state != TaskState::New || !wants_to_run(t) {
            continue;
        }
        let Some(svc) = state.services().get(&t.service_id) else {
            continue;
        };
        let mut u = t.clone();
        u.endpoint = endpoints
            .get(&svc.id)
            .cloned()
            .or_else(|| svc.endpoint.clone());
        u.networks = t
            .spec
            .networks
            .iter()
            .map(|n| NetworkAttachment {
                network_id: n.target.clone(),
                addresses: Vec::new(),
                aliases: n.aliases.clone(),
            })
            .collect();
        u.status.state = TaskState::Pending;
        u.status.message = PENDING_MESSAGE.into();
        u.status.timestamp = now;
        u.meta.updated_at = now;
        out.push(ClusterCommand::Update(StoreObject::Task(u)));
    }
    out
}

/// The endpoint for a service's current spec; ingress ports without a published port keep the
/// one they had, else get the lowest free one.
fn allocate_endpoint(s: &Service, used: &mut BTreeSet<(PortProtocol, u32)>) -> Endpoint {
    let old: Vec<&PortConfig> = s.endpoint.iter().flat_map(|e| e.ports.iter()).collect();
    let mut ports = Vec::with_capacity(s.spec.endpoint_spec.ports.len());
    for p in &s.spec.endpoint_spec.ports {
        let mut p = p.clone();
        if p.publish_mode == PublishMode::Ingress && p.published_port == 0 {
            let kept = old.iter().find(|o| {
                o.target_port == p.target_port
                    && o.protocol == p.protocol
                    && o.publish_mode == PublishMode::Ingress
                    && DYNAMIC_PORTS.contains(&o.published_port)
            });
            let port = kept.map(|o| o.published_port).or_else(|| {
                DYNAMIC_PORTS
                    .clone()
                    .find(|&n| !used.contains(&(p.protocol, n)))
            });
            if let Some(n) = port {
                p.published_port = n;
                used.insert((p.protocol, n));
            }
        }
        ports.push(p);
    }
    Endpoint {
        spec: s.spec.endpoint_spec.clone(),
        ports,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::service::{PortConfig, PublishMode, ServiceMode};
    use crate::model::{ServiceId, ServiceSpec, TaskState};
    use crate::testing::Sim;

    fn web(name: &str, ports: Vec<PortConfig>) -> ServiceSpec {
        let mut s = ServiceSpec {
            name: name.into(),
            mode: ServiceMode::Replicated { replicas: 1 },
            ..Default::default()
        };
        s.task_template.container.image = "busybox".into();
        s.endpoint_spec.ports = ports;
        s
    }

    fn port(target: u32, published: u32, mode: PublishMode) -> PortConfig {
        PortConfig {
            target_port: target,
            published_port: published,
            publish_mode: mode,
            ..Default::default()
        }
    }

    #[test]
    fn ingress_ports_get_dynamic_ports_kept_across_updates() {
        let mut sim = Sim::new();
        sim.add_node("n1", &[]);
        sim.create_service("s1", web("a", vec![port(80, 0, PublishMode::Ingress)]));
        sim.create_service(
            "s2",
            web(
                "b",
                vec![
                    port(80, 0, PublishMode::Ingress),
                    port(81, 0, PublishMode::Host),
                ],
            ),
        );
        sim.converge(10);
        let ep = |sim: &Sim, id: &str| sim.service(id).endpoint.clone().unwrap().ports;
        assert_eq!(ep(&sim, "s1")[0].published_port, 30000);
        assert_eq!(ep(&sim, "s2")[0].published_port, 30001);
        assert_eq!(
            ep(&sim, "s2")[1].published_port,
            0,
            "host mode stays as asked"
        );
        sim.update_service("s1", |s| {
            s.endpoint_spec
                .ports
                .push(port(443, 0, PublishMode::Ingress));
        });
        sim.converge(10);
        let p = ep(&sim, "s1");
        assert_eq!((p[0].published_port, p[1].published_port), (30000, 30002));
        let t = sim.running("s1")[0];
        assert_eq!(
            t.endpoint.as_ref().unwrap().ports,
            p,
            "tasks carry the endpoint"
        );
    }

    #[test]
    fn new_tasks_become_pending_with_swarmkits_message() {
        let mut sim = Sim::new();
        sim.create_service("s1", web("a", vec![]));
        sim.manager_round();
        let t = sim
            .state
            .tasks_by_service(&ServiceId::new("s1"))
            .next()
            .unwrap();
        assert_eq!(t.status.state, TaskState::Pending);
        assert_eq!(t.status.message, super::PENDING_MESSAGE);
        assert_eq!(t.status.err, "no suitable node");
    }
}
