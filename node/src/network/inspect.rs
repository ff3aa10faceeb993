//! Networks in Docker's API shapes (`docker network inspect` / `ls`).

use std::collections::HashMap;

use shoal_api::models::{Ipam, IpamConfig, Network, NetworkContainer};

use super::LiveContainer;
use super::model::{Driver, NetworkRecord};

/// `AuxiliaryAddresses` as dockerd shows them: absent when none were given.
fn aux_map<T: std::fmt::Display>(
    aux: &std::collections::BTreeMap<String, T>,
) -> Option<HashMap<String, String>> {
    (!aux.is_empty()).then(|| {
        aux.iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    })
}

/// `GET /networks/{id}`: `Containers` lists the live endpoints (`verbose`
/// only adds nothing on a local network).
pub fn network_to_api(n: &NetworkRecord, members: &[(String, LiveContainer)]) -> Network {
    let mut config = match (n.driver, n.subnet) {
        (Driver::Bridge, Some(s)) => vec![IpamConfig {
            subnet: Some(s.to_string()),
            ip_range: n.ip_range.filter(|_| n.user_ipam).map(|r| r.to_string()),
            gateway: n.gateway.map(|g| g.to_string()),
            auxiliary_addresses: aux_map(&n.aux),
        }],
        _ => Vec::new(),
    };
    // dockerd lists the IPv6 entry after the IPv4 one, allocated or given.
    if let (Driver::Bridge, Some(s)) = (n.driver, n.subnet6) {
        config.push(IpamConfig {
            subnet: Some(s.to_string()),
            ip_range: n.ip_range6.map(|r| r.to_string()),
            gateway: n.gateway6.map(|g| g.to_string()),
            auxiliary_addresses: aux_map(&n.aux6),
        });
    }
    let mut containers = HashMap::new();
    for (id, l) in members {
        if let Some(ep) = l.endpoints.values().find(|e| e.network_id == n.id) {
            containers.insert(
                id.clone(),
                NetworkContainer {
                    name: Some(l.name.clone()),
                    endpoint_id: Some(ep.endpoint_id.clone()),
                    mac_address: ep.mac.clone(),
                    ipv4_address: ep.ip.map(|ip| format!("{ip}/{}", ep.prefix)),
                    ipv6_address: Some(
                        ep.ip6
                            .map(|ip| format!("{ip}/{}", ep.prefix6))
                            .unwrap_or_default(),
                    ),
                },
            );
        }
    }
    Network {
        name: Some(n.name.clone()),
        id: Some(n.id.clone()),
        created: Some(
            n.created
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        ),
        scope: Some("local".into()),
        driver: Some(n.driver.as_str().into()),
        enable_ipv4: Some(n.driver == Driver::Bridge),
        enable_ipv6: Some(n.enable_ipv6),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(config),
            options: Some(n.ipam_options.clone()),
        }),
        internal: Some(n.internal),
        attachable: Some(n.attachable),
        ingress: Some(false),
        config_from: Some(shoal_api::models::ConfigReference {
            network: Some(String::new()),
        }),
        config_only: Some(false),
        containers: Some(containers),
        options: Some(n.options.clone()),
        labels: Some(n.labels.clone()),
        peers: None,
    }
}
