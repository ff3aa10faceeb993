//! `NetworksBackend` over the network service (and the engine, which owns
//! container records for connect/disconnect).

use std::collections::HashMap;

use async_trait::async_trait;
use shoal_api::error::{ApiError, ApiResult};
use shoal_api::extract::Filters;
use shoal_api::models::{
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse,
    NetworkDisconnectRequest, NetworkPruneResponse,
};
use shoal_api::routers::networks::NetworksBackend;

use super::errors::engine_error;
use crate::engine::Engine;
use crate::metrics::timed_network;
use crate::network::model::NetworkRecord;
use crate::network::networks::{CreateNetwork, IpamEntry};
use crate::network::{NetError, NetworkService, inspect};

/// The networks router's backend.
#[derive(Debug, Clone)]
pub struct NetworksApi {
    /// Container records (connect, disconnect, dangling).
    pub engine: Engine,
    /// Networks.
    pub net: NetworkService,
}

/// Network errors as the API reports them.
pub fn net_error(e: NetError) -> ApiError {
    match e {
        NetError::NotFound(_) => ApiError::not_found(e.to_string()),
        NetError::Invalid(m) => ApiError::invalid(m),
        NetError::Conflict(m) => ApiError::conflict(m),
        NetError::Forbidden(m) => ApiError::new(shoal_api::error::ErrorKind::Forbidden, m),
        NetError::System(m) => ApiError::internal(m),
        NetError::Store(s) => ApiError::internal(s.to_string()),
    }
}

fn label_match(labels: &HashMap<String, String>, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(want),
    }
}

/// dockerd's `until` (RFC 3339 or a Go duration such as `24h`).
fn until_cutoff(s: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return chrono::DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| ApiError::invalid(format!("invalid until value {s}")));
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid until value {s}")))?;
    let d = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        _ => return Err(ApiError::invalid(format!("invalid until value {s}"))),
    };
    Ok(chrono::Utc::now() - d)
}

impl NetworksApi {
    fn to_api(&self, n: &NetworkRecord) -> Network {
        inspect::network_to_api(n, &self.net.members(&n.id))
    }

    fn matches(&self, n: &NetworkRecord, f: &Filters) -> bool {
        let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
            let v = f.get(key);
            v.is_empty() || v.iter().any(|x| pred(x))
        };
        let builtin = n.is_predefined();
        any("id", &|x| n.id.starts_with(x))
            && any("name", &|x| n.name.contains(x))
            && any("driver", &|x| n.driver.as_str() == x)
            && any("scope", &|x| x == "local")
            && any("type", &|x| (x == "builtin") == builtin)
            && f.get("label").iter().all(|l| label_match(&n.labels, l))
            && any("dangling", &|x| {
                let dangling = !builtin && self.engine.containers_on(&n.id).is_empty();
                (x == "true" || x == "1") == dangling
            })
    }
}

#[async_trait]
impl NetworksBackend for NetworksApi {
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Network>> {
        filters.validate(&["dangling", "driver", "id", "label", "name", "scope", "type"])?;
        for t in filters.get("type") {
            if t != "custom" && t != "builtin" {
                return Err(ApiError::invalid(format!("invalid filter: 'type'='{t}'")));
            }
        }
        let mut v: Vec<Network> = self
            .net
            .all()
            .iter()
            .filter(|n| self.matches(n, &filters))
            .map(|n| self.to_api(n))
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    async fn inspect(&self, id: &str) -> ApiResult<Network> {
        let n = self.net.find(id).map_err(net_error)?;
        Ok(self.to_api(&n))
    }

    async fn create(&self, req: NetworkCreateRequest) -> ApiResult<NetworkCreateResponse> {
        let mut unsupported = Vec::new();
        if req.ingress == Some(true) {
            unsupported.push("--ingress");
        }
        if req.config_only == Some(true) {
            unsupported.push("--config-only");
        }
        if req
            .config_from
            .as_ref()
            .and_then(|c| c.network.as_deref())
            .is_some_and(|n| !n.is_empty())
        {
            unsupported.push("--config-from");
        }
        if req
            .scope
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s != "local")
        {
            unsupported.push("--scope other than local");
        }
        if req.enable_ipv4 == Some(false) {
            unsupported.push("disabling IPv4");
        }
        let ipam = req.ipam.clone().unwrap_or_default();
        let rec = timed_network(
            "create",
            self.net.create(CreateNetwork {
                name: req.name.clone(),
                driver: req.driver.clone().unwrap_or_default(),
                internal: req.internal.unwrap_or(false),
                attachable: req.attachable.unwrap_or(false),
                enable_ipv6: req.enable_ipv6.unwrap_or(false),
                ipam_driver: ipam.driver.clone().unwrap_or_default(),
                ipam: ipam
                    .config
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| IpamEntry {
                        subnet: c.subnet,
                        gateway: c.gateway,
                        ip_range: c.ip_range,
                        aux: c.auxiliary_addresses.unwrap_or_default(),
                    })
                    .collect(),
                ipam_options: ipam.options.unwrap_or_default(),
                options: req.options.clone().unwrap_or_default(),
                labels: req.labels.clone().unwrap_or_default(),
                unsupported,
            }),
        )
        .await
        .map_err(net_error)?;
        Ok(NetworkCreateResponse {
            id: rec.id,
            warning: String::new(),
        })
    }

    async fn remove(&self, id: &str) -> ApiResult<()> {
        timed_network("delete", self.net.remove(id))
            .await
            .map_err(net_error)
    }

    async fn connect(&self, id: &str, req: NetworkConnectRequest) -> ApiResult<()> {
        let container = req.container.clone().unwrap_or_default();
        timed_network(
            "connect",
            self.engine
                .network_connect(id, &container, req.endpoint_config),
        )
        .await
        .map_err(engine_error)
    }

    async fn disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> ApiResult<()> {
        let container = req.container.clone().unwrap_or_default();
        timed_network(
            "disconnect",
            self.engine
                .network_disconnect(id, &container, req.force.unwrap_or(false)),
        )
        .await
        .map_err(engine_error)
    }

    async fn prune(&self, filters: Filters) -> ApiResult<NetworkPruneResponse> {
        filters.validate(&["label", "label!", "until"])?;
        let cutoff = match filters.get("until").first() {
            Some(u) => Some(until_cutoff(u)?),
            None => None,
        };
        let labels: Vec<String> = filters.get("label").to_vec();
        let not_labels: Vec<String> = filters.get("label!").to_vec();
        let engine = self.engine.clone();
        let removed = self
            .net
            .prune(move |n| {
                engine.containers_on(&n.id).is_empty()
                    && labels.iter().all(|l| label_match(&n.labels, l))
                    && !not_labels.iter().any(|l| label_match(&n.labels, l))
                    && cutoff.is_none_or(|c| n.created < c)
            })
            .await
            .map_err(net_error)?;
        Ok(NetworkPruneResponse {
            networks_deleted: Some(removed),
        })
    }
}
