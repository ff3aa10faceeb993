//! `docker service logs` across the cluster, as swarmkit does it: the leader's log broker
//! hands each request to the agents of the nodes running the wanted tasks, over their
//! dispatcher sessions; each agent reads its own containers' logs through its engine and
//! streams the lines back; the manager that got the request merges them.
//!
//! ```text
//!  API ─▶ manager ── (not leader: SubscribeLogs) ──▶ leader broker.rs ── LogSubscriptions ─▶ agent
//!            ◀──────────── LogEvent stream ───────────────┘  ◀────────── PublishLogs ───────┘
//! ```
//!
//! A subscription ends when every node has closed its part (not while following) or when
//! its client goes away: dropping the subscriber's stream tells the agents to stop reading.

pub mod broker;
pub mod follow;
pub mod serve;
pub mod wire;

use futures::StreamExt;
use futures::stream::BoxStream;

use super::join::channel;
use super::manager::ManagerCtx;
use super::pb::cluster_client::ClusterClient;
use super::rpc::{decode, encode};
use super::{ClusterError, NO_LEADER};
use wire::{LogEvent, LogRequest};

/// The log events of `req.tasks` (each with its node), from the leader's broker: directly
/// on the leader, forwarded by any other manager. Following, tasks of `req.services` that
/// start later join in.
///
/// Errors: Unavailable when there is no leader to ask; the leader's refusal as a remote
/// error.
pub async fn subscribe(
    ctx: &ManagerCtx,
    req: LogRequest,
) -> Result<BoxStream<'static, LogEvent>, ClusterError> {
    if ctx.is_leader() {
        return Ok(on_leader(ctx, req).boxed());
    }
    let store = ctx.store();
    let leader = store
        .leader()
        .filter(|l| l.id != store.id())
        .and_then(|l| l.node)
        .map(|n| n.addr)
        .ok_or_else(|| ClusterError::Unavailable(NO_LEADER.into()))?;
    let certs = ctx
        .logs()
        .certs()
        .ok_or_else(|| ClusterError::Unavailable(NO_LEADER.into()))?;
    let chain = format!("{}\n{}", certs.cert_pem.trim_end(), certs.ca_pem);
    let mut client = ClusterClient::new(channel(
        &leader,
        &certs.ca_pem,
        Some((&chain, &certs.key_pem)),
    )?);
    let req = encode(&req).map_err(ClusterError::from_status)?;
    let stream = client
        .subscribe_logs(req)
        .await
        .map_err(ClusterError::from_status)?
        .into_inner();
    Ok(stream
        .map(|m| match m {
            Ok(m) => decode::<LogEvent>(&m).unwrap_or_else(|s| LogEvent::Error(s.message().into())),
            Err(s) => LogEvent::Error(format!("log stream from the leader broke: {}", s.message())),
        })
        .boxed())
}

/// Subscribes on this (leader's) broker; a following request for services also watches for
/// their new tasks.
pub(crate) fn on_leader(ctx: &ManagerCtx, req: LogRequest) -> broker::Subscription {
    let known = req.tasks.iter().map(|(t, _)| t.clone()).collect();
    let sub = ctx.logs().subscribe(req.tasks, req.options.clone());
    if req.options.follow && !req.services.is_empty() {
        follow::new_tasks_of(
            ctx.store().clone(),
            ctx.logs().clone(),
            &sub,
            req.services,
            known,
            req.options,
        );
    }
    sub
}
