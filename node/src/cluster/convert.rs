//! Replicated model objects to Docker API types and back.

use std::collections::HashMap;

use shoal_api::models;
use shoal_scheduler::model::cluster::ClusterSpec;
use shoal_scheduler::model::node::{NodeAvailability, NodeRole, NodeSpec, NodeState, Reachability};
use shoal_scheduler::model::{Cluster, Node, Timestamp};

use super::ClusterError;

/// RFC 3339 with nanoseconds, as Docker prints object times.
pub fn time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp(t.unix_secs(), t.subsec_nanos())
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn labels(l: &std::collections::BTreeMap<String, String>) -> HashMap<String, String> {
    l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// A node as `GET /nodes` shows it.
pub fn node_to_api(n: &Node) -> models::Node {
    let role = match n.spec.role {
        NodeRole::Manager => models::NodeSpecRoleEnum::MANAGER,
        NodeRole::Worker => models::NodeSpecRoleEnum::WORKER,
    };
    let availability = match n.spec.availability {
        NodeAvailability::Active => models::NodeSpecAvailabilityEnum::ACTIVE,
        NodeAvailability::Pause => models::NodeSpecAvailabilityEnum::PAUSE,
        NodeAvailability::Drain => models::NodeSpecAvailabilityEnum::DRAIN,
    };
    let state = match n.status.state {
        NodeState::Unknown => models::NodeState::UNKNOWN,
        NodeState::Down => models::NodeState::DOWN,
        NodeState::Ready => models::NodeState::READY,
        NodeState::Disconnected => models::NodeState::DISCONNECTED,
    };
    models::Node {
        id: Some(n.id.to_string()),
        version: Some(models::ObjectVersion {
            index: Some(n.meta.version.index),
        }),
        created_at: Some(time(n.meta.created_at)),
        updated_at: Some(time(n.meta.updated_at)),
        spec: Some(models::NodeSpec {
            name: (!n.spec.name.is_empty()).then(|| n.spec.name.clone()),
            labels: Some(labels(&n.spec.labels)),
            role: Some(role),
            availability: Some(availability),
        }),
        description: n.description.as_ref().map(|d| models::NodeDescription {
            hostname: Some(d.hostname.clone()),
            platform: Some(models::Platform {
                architecture: Some(d.platform.architecture.clone()),
                os: Some(d.platform.os.clone()),
            }),
            resources: Some(models::ResourceObject {
                nano_cpus: Some(d.resources.nano_cpus),
                memory_bytes: Some(d.resources.memory_bytes),
                generic_resources: None,
            }),
            engine: Some(models::EngineDescription {
                engine_version: Some(d.engine.engine_version.clone()),
                labels: Some(labels(&d.engine.labels)),
                plugins: None,
            }),
            tls_info: d.tls_info.as_ref().map(|t| models::TlsInfo {
                trust_root: Some(t.trust_root.clone()),
                cert_issuer_subject: Some(b64(&t.cert_issuer_subject)),
                cert_issuer_public_key: Some(b64(&t.cert_issuer_public_key)),
            }),
        }),
        status: Some(models::NodeStatus {
            state: Some(state),
            message: Some(n.status.message.clone()),
            addr: Some(n.status.addr.clone()),
        }),
        manager_status: n
            .manager_status
            .as_ref()
            .filter(|_| n.role == NodeRole::Manager)
            .map(|m| models::ManagerStatus {
                leader: Some(m.leader),
                reachability: Some(match m.reachability {
                    Reachability::Unknown => models::Reachability::UNKNOWN,
                    Reachability::Unreachable => models::Reachability::UNREACHABLE,
                    Reachability::Reachable => models::Reachability::REACHABLE,
                }),
                addr: Some(m.addr.clone()),
            }),
    }
}

/// Applies a `docker node update` spec onto the model.
///
/// Errors: InvalidArgument for an empty role or availability.
pub fn node_spec_from_api(s: &models::NodeSpec) -> Result<NodeSpec, ClusterError> {
    let role = match s.role {
        Some(models::NodeSpecRoleEnum::MANAGER) => NodeRole::Manager,
        Some(models::NodeSpecRoleEnum::WORKER) => NodeRole::Worker,
        _ => return Err(ClusterError::InvalidArgument("invalid role".into())),
    };
    let availability = match s.availability {
        Some(models::NodeSpecAvailabilityEnum::ACTIVE) => NodeAvailability::Active,
        Some(models::NodeSpecAvailabilityEnum::PAUSE) => NodeAvailability::Pause,
        Some(models::NodeSpecAvailabilityEnum::DRAIN) => NodeAvailability::Drain,
        _ => return Err(ClusterError::InvalidArgument("invalid availability".into())),
    };
    Ok(NodeSpec {
        name: s.name.clone().unwrap_or_default(),
        labels: s.labels.clone().unwrap_or_default().into_iter().collect(),
        role,
        availability,
    })
}

/// The swarm spec as Docker shows it.
pub fn spec_to_api(s: &ClusterSpec) -> models::SwarmSpec {
    models::SwarmSpec {
        name: Some(s.name.clone()),
        labels: Some(labels(&s.labels)),
        orchestration: Some(models::SwarmSpecOrchestration {
            task_history_retention_limit: Some(s.orchestration.task_history_retention_limit),
        }),
        raft: Some(models::SwarmSpecRaft {
            snapshot_interval: Some(s.raft.snapshot_interval),
            keep_old_snapshots: Some(s.raft.keep_old_snapshots),
            log_entries_for_slow_followers: Some(s.raft.log_entries_for_slow_followers),
            election_tick: Some(i64::from(s.raft.election_tick)),
            heartbeat_tick: Some(i64::from(s.raft.heartbeat_tick)),
        }),
        dispatcher: Some(models::SwarmSpecDispatcher {
            heartbeat_period: Some(s.dispatcher.heartbeat_period_ns),
        }),
        ca_config: Some(models::SwarmSpecCaConfig {
            node_cert_expiry: Some(s.ca_config.node_cert_expiry_ns),
            force_rotate: Some(s.ca_config.force_rotate),
            ..Default::default()
        }),
        encryption_config: Some(models::SwarmSpecEncryptionConfig {
            auto_lock_managers: Some(s.encryption.auto_lock_managers),
        }),
        task_defaults: Some(models::SwarmSpecTaskDefaults::default()),
    }
}

/// Merges a requested swarm spec onto `base`: fields the request leaves out keep their
/// value (the CLI sends the full spec it read; `swarm init` may send a partial one).
///
/// Errors: InvalidArgument for values dockerd also refuses.
pub fn spec_from_api(
    base: &ClusterSpec,
    s: &models::SwarmSpec,
) -> Result<ClusterSpec, ClusterError> {
    let mut out = base.clone();
    if let Some(l) = &s.labels {
        out.labels = l.clone().into_iter().collect();
    }
    if let Some(o) = &s.orchestration
        && let Some(v) = o.task_history_retention_limit
    {
        out.orchestration.task_history_retention_limit = v;
    }
    if let Some(r) = &s.raft {
        if let Some(v) = r.snapshot_interval {
            out.raft.snapshot_interval = v;
        }
        if let Some(v) = r.keep_old_snapshots {
            out.raft.keep_old_snapshots = v;
        }
        if let Some(v) = r.log_entries_for_slow_followers {
            out.raft.log_entries_for_slow_followers = v;
        }
        if let Some(v) = r.election_tick.filter(|v| *v > 0) {
            out.raft.election_tick = u32::try_from(v)
                .map_err(|_| ClusterError::InvalidArgument("invalid ElectionTick".into()))?;
        }
        if let Some(v) = r.heartbeat_tick.filter(|v| *v > 0) {
            out.raft.heartbeat_tick = u32::try_from(v)
                .map_err(|_| ClusterError::InvalidArgument("invalid HeartbeatTick".into()))?;
        }
    }
    if let Some(v) = s
        .dispatcher
        .as_ref()
        .and_then(|d| d.heartbeat_period)
        .filter(|v| *v > 0)
    {
        out.dispatcher.heartbeat_period_ns = v;
    }
    if let Some(ca) = &s.ca_config {
        if let Some(v) = ca.node_cert_expiry.filter(|v| *v != 0) {
            // swarmkit's minimum certificate expiry.
            if v < 3_600_000_000_000 {
                return Err(ClusterError::InvalidArgument(
                    "minimum certificate expiry time is: 1h0m0s".into(),
                ));
            }
            out.ca_config.node_cert_expiry_ns = v;
        }
        if let Some(v) = ca.force_rotate {
            out.ca_config.force_rotate = v;
        }
    }
    if let Some(v) = s
        .encryption_config
        .as_ref()
        .and_then(|e| e.auto_lock_managers)
    {
        out.encryption.auto_lock_managers = v;
    }
    Ok(out)
}

/// The swarm as `GET /swarm` shows it; `with_tokens` for managers.
pub fn swarm_to_api(c: &Cluster, with_tokens: bool) -> models::Swarm {
    models::Swarm {
        id: Some(c.id.to_string()),
        version: Some(models::ObjectVersion {
            index: Some(c.meta.version.index),
        }),
        created_at: Some(time(c.meta.created_at)),
        updated_at: Some(time(c.meta.updated_at)),
        spec: Some(spec_to_api(&c.spec)),
        tls_info: Some(cluster_tls_info(&c.root_ca.ca_cert_pem)),
        root_rotation_in_progress: Some(c.root_ca.root_rotation.is_some()),
        data_path_port: Some(4789),
        default_addr_pool: Some(vec!["10.0.0.0/8".into()]),
        subnet_size: Some(24),
        join_tokens: with_tokens.then(|| models::JoinTokens {
            worker: Some(c.root_ca.join_tokens.worker.clone()),
            manager: Some(c.root_ca.join_tokens.manager.clone()),
        }),
    }
}

/// Go's `[]byte` in JSON: standard base64.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The cluster's `TLSInfo`: its root, which is also the issuer every node's certificate
/// has once a rotation is complete (what `docker swarm ca --rotate` waits for). During a
/// rotation it still shows the current root, as dockerd does.
fn cluster_tls_info(root_pem: &str) -> models::TlsInfo {
    let issuer = super::ca::all_der(root_pem)
        .first()
        .and_then(|d| super::ca::subject_and_key(d).ok());
    models::TlsInfo {
        trust_root: Some(super::ca::canonical_pem(root_pem)),
        cert_issuer_subject: issuer.as_ref().map(|(s, _)| b64(s)),
        cert_issuer_public_key: issuer.as_ref().map(|(_, k)| b64(k)),
    }
}

/// The operator's new root from `docker swarm ca --rotate --ca-cert --ca-key`, if any.
///
/// Errors: InvalidArgument for what Shoal cannot do: external CAs, or a root certificate
/// without its key (which needs an external CA to sign).
pub fn signing_ca_from_api(
    s: &models::SwarmSpec,
) -> Result<Option<(String, String)>, ClusterError> {
    let Some(ca) = &s.ca_config else {
        return Ok(None);
    };
    if ca.external_cas.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(ClusterError::InvalidArgument(
            "ExternalCAs: external certificate authorities are not supported".into(),
        ));
    }
    let cert = ca.signing_ca_cert.clone().filter(|c| !c.trim().is_empty());
    let key = ca.signing_ca_key.clone().filter(|k| !k.trim().is_empty());
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => Ok(Some((c, k))),
        (Some(_), None) => Err(ClusterError::InvalidArgument(
            "SigningCACert without SigningCAKey needs an external CA, which is not supported"
                .into(),
        )),
        (None, Some(_)) => Err(ClusterError::InvalidArgument(
            "SigningCAKey requires SigningCACert".into(),
        )),
    }
}

/// The cluster part of `docker info`'s Swarm section.
pub fn cluster_info(c: &Cluster) -> models::ClusterInfo {
    let s = swarm_to_api(c, false);
    models::ClusterInfo {
        id: s.id,
        version: s.version,
        created_at: s.created_at,
        updated_at: s.updated_at,
        spec: s.spec,
        tls_info: s.tls_info,
        root_rotation_in_progress: s.root_rotation_in_progress,
        data_path_port: s.data_path_port,
        default_addr_pool: s.default_addr_pool,
        subnet_size: s.subnet_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_merge_keeps_unset_fields_and_checks_expiry() {
        let base = ClusterSpec::default();
        let req = models::SwarmSpec {
            raft: Some(models::SwarmSpecRaft {
                snapshot_interval: Some(500),
                ..Default::default()
            }),
            ..Default::default()
        };
        let out = spec_from_api(&base, &req).unwrap();
        assert_eq!(out.raft.snapshot_interval, 500);
        assert_eq!(out.raft.keep_old_snapshots, base.raft.keep_old_snapshots);
        let bad = models::SwarmSpec {
            ca_config: Some(models::SwarmSpecCaConfig {
                node_cert_expiry: Some(1_000_000_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(spec_from_api(&base, &bad).is_err());
        let round = spec_from_api(&base, &spec_to_api(&out)).unwrap();
        assert_eq!(round, out);
    }

    #[test]
    fn node_spec_round_trips() {
        let mut n = super::super::manager::new_node("abc", NodeRole::Manager, "10.0.0.1:2377", "h");
        n.spec.labels.insert("k".into(), "v".into());
        n.spec.availability = NodeAvailability::Drain;
        let api = node_to_api(&n);
        assert_eq!(
            api.status.as_ref().unwrap().addr.as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            node_spec_from_api(api.spec.as_ref().unwrap()).unwrap(),
            n.spec
        );
        assert_eq!(
            time(Timestamp::from_unix(0, 5)),
            "1970-01-01T00:00:00.000000005Z"
        );
    }
}
