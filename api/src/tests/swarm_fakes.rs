//! Fake `SwarmBackend` and `NodesBackend` on the shared [`Fake`]: a swarm
//! whose object version is 7, one node "n1" at version 3, and dockerd's
//! 503 texts chosen by the fake's [`SwarmRole`]. Node "missing" is 404 and
//! any stale version is 409, as swarmkit answers.

use async_trait::async_trait;

use super::fakes::Fake;
use crate::error::{ApiError, ApiResult};
use crate::extract::Filters;
use crate::models::*;
use crate::routers::nodes::NodesBackend;
use crate::routers::swarm::{SwarmBackend, SwarmUpdateFlags};
use crate::routers::unsupported::{NOT_A_SWARM_MANAGER, NOT_IN_SWARM};

/// The fake node's place in the swarm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum SwarmRole {
    /// Not in a swarm.
    Inactive,
    /// A worker: cluster reads and writes are refused.
    Worker,
    /// A manager (the default, so the happy paths need no setup).
    #[default]
    Manager,
}

pub(crate) const ALREADY_IN_SWARM: &str = "This node is already part of a swarm. Use \
     \"docker swarm leave\" to leave this swarm and join another one.";
pub(crate) const WORKER_NOT_MANAGER: &str = "This node is not a swarm manager. Worker nodes \
     can't be used to view or modify cluster state. Please run this command on a manager node \
     or promote the current node to a manager.";
pub(crate) const SWARM_VERSION: u64 = 7;
pub(crate) const NODE_VERSION: u64 = 3;
pub(crate) const UNLOCK_KEY: &str = "SWMKEY-1-fake";

impl Fake {
    /// dockerd's refusal for cluster state on anything but a manager.
    pub(crate) fn manager_only(&self) -> ApiResult<()> {
        match self.role() {
            SwarmRole::Manager => Ok(()),
            SwarmRole::Worker => Err(ApiError::unavailable(WORKER_NOT_MANAGER)),
            SwarmRole::Inactive => Err(ApiError::unavailable(NOT_A_SWARM_MANAGER)),
        }
    }

    fn not_joined(&self) -> ApiResult<()> {
        match self.role() {
            SwarmRole::Inactive => Ok(()),
            _ => Err(ApiError::unavailable(ALREADY_IN_SWARM)),
        }
    }
}

fn out_of_sequence(want: u64, got: u64) -> ApiResult<()> {
    if want == got {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "update out of sequence: the object was changed since it was read",
        ))
    }
}

#[async_trait]
impl SwarmBackend for Fake {
    async fn init(&self, req: SwarmInitRequest) -> ApiResult<String> {
        self.not_joined()?;
        self.record(format!(
            "swarm-init listen={:?} advertise={:?} pool={:?} subnet={:?} port={:?} autolock={:?}",
            req.listen_addr,
            req.advertise_addr,
            req.default_addr_pool,
            req.subnet_size,
            req.data_path_port,
            req.spec
                .and_then(|s| s.encryption_config)
                .and_then(|e| e.auto_lock_managers),
        ));
        Ok("n1".into())
    }
    async fn init_with_availability(
        &self,
        req: SwarmInitRequest,
        availability: Option<NodeSpecAvailabilityEnum>,
    ) -> ApiResult<String> {
        let id = SwarmBackend::init(self, req).await?;
        self.record(format!("availability={availability:?}"));
        Ok(id)
    }
    async fn join_with_availability(
        &self,
        req: SwarmJoinRequest,
        availability: Option<NodeSpecAvailabilityEnum>,
    ) -> ApiResult<()> {
        SwarmBackend::join(self, req).await?;
        self.record(format!("availability={availability:?}"));
        Ok(())
    }
    async fn join(&self, req: SwarmJoinRequest) -> ApiResult<()> {
        self.not_joined()?;
        self.record(format!(
            "swarm-join listen={:?} remotes={:?} token={:?}",
            req.listen_addr, req.remote_addrs, req.join_token
        ));
        Ok(())
    }
    async fn leave(&self, force: bool) -> ApiResult<()> {
        if self.role() == SwarmRole::Inactive {
            return Err(ApiError::unavailable(NOT_IN_SWARM));
        }
        self.record(format!("swarm-leave force={force}"));
        Ok(())
    }
    async fn inspect(&self) -> ApiResult<Swarm> {
        self.manager_only()?;
        Ok(Swarm {
            id: Some("swarm1".into()),
            version: Some(ObjectVersion {
                index: Some(SWARM_VERSION),
            }),
            spec: Some(SwarmSpec {
                name: Some("default".into()),
                ..Default::default()
            }),
            join_tokens: Some(JoinTokens {
                worker: Some("SWMTKN-1-w".into()),
                manager: Some("SWMTKN-1-m".into()),
            }),
            ..Default::default()
        })
    }
    async fn update(
        &self,
        version: u64,
        spec: SwarmSpec,
        flags: SwarmUpdateFlags,
    ) -> ApiResult<()> {
        self.manager_only()?;
        out_of_sequence(SWARM_VERSION, version)?;
        self.record(format!(
            "swarm-update v={version} name={:?} {flags:?}",
            spec.name
        ));
        Ok(())
    }
    async fn unlock_key(&self) -> ApiResult<UnlockKeyResponse> {
        self.manager_only()?;
        Ok(UnlockKeyResponse {
            unlock_key: Some(UNLOCK_KEY.into()),
        })
    }
    async fn unlock(&self, req: SwarmUnlockRequest) -> ApiResult<()> {
        if self.role() == SwarmRole::Inactive {
            return Err(ApiError::unavailable(NOT_IN_SWARM));
        }
        self.record(format!("swarm-unlock {:?}", req.unlock_key));
        if req.unlock_key.as_deref() != Some(UNLOCK_KEY) {
            return Err(ApiError::invalid(
                "swarm could not be unlocked: invalid key",
            ));
        }
        Ok(())
    }
}

fn node_missing(id: &str) -> ApiResult<()> {
    if id == "missing" {
        return Err(ApiError::not_found(format!("node {id} not found")));
    }
    Ok(())
}

#[async_trait]
impl NodesBackend for Fake {
    async fn list(&self, filters: Filters) -> ApiResult<Vec<Node>> {
        self.manager_only()?;
        self.record(format!("node-ls {:?}", filters.0));
        Ok(vec![fake_node("n1")])
    }
    async fn inspect(&self, id: &str) -> ApiResult<Node> {
        self.manager_only()?;
        node_missing(id)?;
        self.record(format!("node-inspect {id}"));
        Ok(fake_node(id))
    }
    async fn update(&self, id: &str, version: u64, spec: NodeSpec) -> ApiResult<()> {
        self.manager_only()?;
        node_missing(id)?;
        out_of_sequence(NODE_VERSION, version)?;
        self.record(format!(
            "node-update {id} v={version} role={:?} availability={:?} labels={:?}",
            spec.role, spec.availability, spec.labels
        ));
        Ok(())
    }
    async fn remove(&self, id: &str, force: bool) -> ApiResult<()> {
        self.manager_only()?;
        node_missing(id)?;
        self.record(format!("node-rm {id} force={force}"));
        Ok(())
    }
}

fn fake_node(id: &str) -> Node {
    Node {
        id: Some(id.into()),
        version: Some(ObjectVersion {
            index: Some(NODE_VERSION),
        }),
        spec: Some(NodeSpec {
            role: Some(NodeSpecRoleEnum::MANAGER),
            availability: Some(NodeSpecAvailabilityEnum::ACTIVE),
            ..Default::default()
        }),
        description: Some(NodeDescription {
            hostname: Some("host1".into()),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            state: Some(NodeState::READY),
            addr: Some("10.0.0.1".into()),
            ..Default::default()
        }),
        // `docker swarm join-token` prints `docker swarm join ... <Addr>`.
        manager_status: Some(ManagerStatus {
            leader: Some(true),
            reachability: Some(Reachability::REACHABLE),
            addr: Some("10.0.0.1:2377".into()),
        }),
        ..Default::default()
    }
}
