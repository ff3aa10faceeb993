//! HTTP handlers for `/swarm/...`.
//!
//! Parsing follows moby's `cluster_routes.go`: bodies are read before the
//! query (so bad JSON wins over a bad `version`), an empty body decodes as
//! the zero value, and calls with nothing to return answer a bare 200.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use serde::Deserialize;

use super::{SwarmBackend, SwarmUpdateFlags};
use crate::error::ApiResult;
use crate::extract::{OptionalJsonBody, QueryParams};
use crate::models::{
    NodeSpecAvailabilityEnum, SwarmInitRequest, SwarmJoinRequest, SwarmSpec,
    SwarmSpecEncryptionConfig, SwarmUnlockRequest,
};
use crate::version::ApiVersion;

type Backend = State<Arc<dyn SwarmBackend>>;

/// The `/swarm` routes over `backend`.
pub(crate) fn routes(backend: Arc<dyn SwarmBackend>) -> Router {
    Router::new()
        .route("/swarm", get(inspect))
        .route("/swarm/init", post(init))
        .route("/swarm/join", post(join))
        .route("/swarm/leave", post(leave))
        .route("/swarm/update", post(update))
        .route("/swarm/unlockkey", get(unlock_key))
        .route("/swarm/unlock", post(unlock))
        .with_state(backend)
}

/// moby's `InitRequest` as the CLI sends it: the swagger's fields plus the
/// two it leaves out.
#[derive(Debug, Default, Deserialize)]
struct InitBody {
    #[serde(flatten)]
    req: SwarmInitRequest,
    #[serde(rename = "AutoLockManagers", default)]
    auto_lock_managers: Option<bool>,
    #[serde(rename = "Availability", default)]
    availability: Option<NodeSpecAvailabilityEnum>,
}

/// moby's `JoinRequest`: the swagger's fields plus `Availability`.
#[derive(Debug, Default, Deserialize)]
struct JoinBody {
    #[serde(flatten)]
    req: SwarmJoinRequest,
    #[serde(rename = "Availability", default)]
    availability: Option<NodeSpecAvailabilityEnum>,
}

/// Go's zero value `""` means "not given".
fn given(a: Option<NodeSpecAvailabilityEnum>) -> Option<NodeSpecAvailabilityEnum> {
    a.filter(|a| *a != NodeSpecAvailabilityEnum::EMPTY)
}

/// Answers the new node's ID as a JSON string, which `docker swarm init`
/// prints in "Swarm initialized: current node (ID) is now a manager."
async fn init(
    State(b): Backend,
    version: ApiVersion,
    OptionalJsonBody(body): OptionalJsonBody<InitBody>,
) -> ApiResult<Response> {
    let mut req = body.req;
    // dockerd drops fields older clients could not have meant: address
    // pools came with API 1.39, the data path port with 1.40.
    if !version.at_least(1, 39) {
        req.default_addr_pool = None;
        req.subnet_size = None;
    }
    if !version.at_least(1, 40) {
        req.data_path_port = None;
    }
    // dockerd locks the managers when either the request or its spec asks
    // (the CLI sets both); the spec is the one place the backend looks.
    if body.auto_lock_managers == Some(true) {
        let spec = req.spec.get_or_insert_with(SwarmSpec::default);
        spec.encryption_config
            .get_or_insert_with(SwarmSpecEncryptionConfig::default)
            .auto_lock_managers = Some(true);
    }
    let node_id = b
        .init_with_availability(req, given(body.availability))
        .await?;
    Ok(Json(node_id).into_response())
}

async fn join(
    State(b): Backend,
    OptionalJsonBody(body): OptionalJsonBody<JoinBody>,
) -> ApiResult<StatusCode> {
    b.join_with_availability(body.req, given(body.availability))
        .await?;
    Ok(StatusCode::OK)
}

async fn leave(State(b): Backend, q: QueryParams) -> ApiResult<StatusCode> {
    b.leave(q.bool("force")).await?;
    Ok(StatusCode::OK)
}

async fn inspect(State(b): Backend) -> ApiResult<Response> {
    Ok(Json(b.inspect().await?).into_response())
}

/// `docker swarm update`, `join-token --rotate`, `unlock-key --rotate` and
/// `ca --rotate` all land here with the spec they just read from `GET
/// /swarm` and its `Version.Index`.
async fn update(
    State(b): Backend,
    q: QueryParams,
    OptionalJsonBody(spec): OptionalJsonBody<SwarmSpec>,
) -> ApiResult<StatusCode> {
    let version = q.object_version("swarm")?;
    let flags = SwarmUpdateFlags {
        rotate_worker_token: q.strict_bool("rotateWorkerToken")?,
        rotate_manager_token: q.strict_bool("rotateManagerToken")?,
        rotate_manager_unlock_key: q.strict_bool("rotateManagerUnlockKey")?,
    };
    b.update(version, spec, flags).await?;
    Ok(StatusCode::OK)
}

async fn unlock_key(State(b): Backend) -> ApiResult<Response> {
    Ok(Json(b.unlock_key().await?).into_response())
}

async fn unlock(
    State(b): Backend,
    OptionalJsonBody(req): OptionalJsonBody<SwarmUnlockRequest>,
) -> ApiResult<StatusCode> {
    b.unlock(req).await?;
    Ok(StatusCode::OK)
}
