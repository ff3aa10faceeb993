//! The leader's side of the three log RPCs (wired into `rpc::ClusterRpc`).

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use shoal_scheduler::model::NodeId;
use tokio_util::sync::CancellationToken;
use tonic::{Status, Streaming};

use super::broker::LogBroker;
use super::wire::{LogRequest, PublishMsg};
use crate::cluster::manager::ManagerCtx;
use crate::cluster::pb;
use crate::cluster::rpc::{decode, encode};

/// A stream of encoded messages, as the RPCs answer.
pub type MsgStream = BoxStream<'static, Result<pb::Msg, Status>>;

/// How often an agent's subscription stream checks that this manager still leads.
const LEADERSHIP_CHECK: std::time::Duration = std::time::Duration::from_millis(500);

/// `LogSubscriptions`: the subscriptions for the agent of `node`, until it disconnects,
/// `stop`, or this manager stops leading (`leading` turns false): the agent then finds the
/// new leader, whose broker is the one subscriptions go to.
pub fn agent_subscriptions(
    broker: &Arc<LogBroker>,
    node: NodeId,
    leading: Arc<dyn Fn() -> bool + Send + Sync>,
    stop: CancellationToken,
) -> MsgStream {
    let listener = broker.listen(node);
    futures::stream::unfold((listener, stop), move |(mut l, stop)| {
        let leading = leading.clone();
        async move {
            let mut check = tokio::time::interval(LEADERSHIP_CHECK);
            let msg = loop {
                tokio::select! {
                    _ = stop.cancelled() => return None,
                    m = l.rx.recv() => break m?,
                    _ = check.tick() => if !leading() {
                        return None;
                    },
                }
            };
            Some((encode(&msg), (l, stop)))
        }
    })
    .boxed()
}

/// `PublishLogs`: routes what the agent of `node` sends; the answer stream ends (with one
/// error message) when the subscription is gone, which tells the agent to stop reading.
pub fn publish(
    broker: Arc<LogBroker>,
    node: NodeId,
    mut incoming: Streaming<pb::Msg>,
) -> MsgStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<pb::Msg, Status>>(1);
    tokio::spawn(async move {
        loop {
            let msg = match incoming.next().await {
                Some(Ok(m)) => m,
                Some(Err(_)) | None => return,
            };
            let msg: PublishMsg = match decode(&msg) {
                Ok(m) => m,
                Err(s) => {
                    let _ = tx.send(Err(s)).await;
                    return;
                }
            };
            if let Err(e) = broker.publish(&node, msg).await {
                let _ = tx.send(Err(Status::not_found(e.to_string()))).await;
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

/// `SubscribeLogs`: a forwarded request, answered from this (leader's) broker.
pub fn forwarded(ctx: &ManagerCtx, req: LogRequest) -> MsgStream {
    super::on_leader(ctx, req).map(|e| encode(&e)).boxed()
}
