//! The agent's end of the log broker (swarmkit's agent `logs` publisher): it listens for the
//! leader's log subscriptions and, for each, reads the wanted task containers' logs through
//! the engine and streams the lines back on a `PublishLogs` call until the logs end (or,
//! following, until the leader closes the subscription).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::Channel;

use super::exec::TaskController;
use super::session::Dialer;
use crate::cluster::logs::wire::{LogLine, PublishMsg, SubscriptionMsg};
use crate::cluster::pb;
use crate::cluster::pb::cluster_client::ClusterClient;
use crate::cluster::rpc::{decode, encode};

/// Lines sent per `PublishMsg` at most.
const LINES_PER_MSG: usize = 128;
/// Pause before asking the next manager.
const RETRY: std::time::Duration = std::time::Duration::from_millis(250);

/// Follows the leader's log subscriptions until `stop`.
pub async fn follow_subscriptions(
    dialer: Dialer,
    ctl: Arc<dyn TaskController>,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    let mut attempt = 0usize;
    loop {
        if let Some((addr, mut client)) = dialer.client(attempt) {
            let opened = tokio::select! {
                _ = stop.cancelled() => return,
                r = client.log_subscriptions(pb::Msg { data: b"{}".to_vec() }) => r,
            };
            match opened {
                Ok(resp) => {
                    attempt = 0;
                    let mut stream = resp.into_inner();
                    let mut active: HashMap<String, CancellationToken> = HashMap::new();
                    loop {
                        let msg = tokio::select! {
                            _ = stop.cancelled() => return,
                            m = stream.next() => m,
                        };
                        let sub = match msg {
                            Some(Ok(m)) => match decode::<SubscriptionMsg>(&m) {
                                Ok(s) => s,
                                Err(e) => {
                                    tracing::warn!(error = %e.message(), "bad log subscription");
                                    continue;
                                }
                            },
                            Some(Err(s)) => {
                                tracing::debug!(manager = %addr, error = %s.message(), "log subscriptions broke");
                                break;
                            }
                            None => break,
                        };
                        active.retain(|_, t| !t.is_cancelled());
                        if sub.close {
                            if let Some(t) = active.remove(&sub.id) {
                                t.cancel();
                            }
                            continue;
                        }
                        // A following subscription grows by a message per new task; its
                        // readers share one token so that closing it stops them all.
                        let token = active
                            .entry(sub.id.clone())
                            .or_insert_with(|| stop.child_token())
                            .clone();
                        tracker.spawn(publish(client.clone(), ctl.clone(), sub, token));
                    }
                    // The broker that held these subscriptions is gone with its session.
                    for t in active.values() {
                        t.cancel();
                    }
                }
                Err(s) => {
                    tracing::debug!(manager = %addr, error = %s.message(), "log subscriptions refused");
                    attempt += 1;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}

/// Serves one subscription: this node's wanted task containers' lines, then `close`.
async fn publish(
    mut client: ClusterClient<Channel>,
    ctl: Arc<dyn TaskController>,
    sub: SubscriptionMsg,
    token: CancellationToken,
) {
    let (tx, rx) = mpsc::channel::<PublishMsg>(16);
    let outgoing = tokio_stream::wrappers::ReceiverStream::new(rx)
        .filter_map(|m| futures::future::ready(encode(&m).ok()));
    // The answer stream ends when the leader drops the subscription (its client left).
    let call_token = token.clone();
    let call = tokio::spawn(async move {
        if let Ok(resp) = client.publish_logs(outgoing).await {
            let mut answers = resp.into_inner();
            while answers.next().await.is_some() {}
        }
        call_token.cancel();
    });
    let id = sub.id.clone();
    let msg = |lines: Vec<LogLine>, close: bool, error: Option<String>| PublishMsg {
        subscription: id.clone(),
        lines,
        close,
        error,
    };
    let wanted: HashSet<&str> = sub.tasks.iter().map(|t| t.as_str()).collect();
    let containers = match ctl.task_containers().await {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(msg(Vec::new(), true, Some(e.message))).await;
            drop(tx);
            let _ = call.await;
            return;
        }
    };
    let opts = sub.options.to_engine();
    let mut readers = Vec::new();
    let mut errors = Vec::new();
    for c in containers
        .into_iter()
        .filter(|c| wanted.contains(c.task_id.as_str()))
    {
        let task = shoal_scheduler::model::TaskId::new(c.task_id.as_str());
        match ctl.logs(&c.id, opts.clone()).await {
            Ok(s) => readers.push(
                s.map(move |chunk| LogLine {
                    task_id: task.clone(),
                    stream: chunk.stream as u8,
                    timestamp: chunk.timestamp,
                    data: chunk.data.to_vec(),
                })
                .boxed(),
            ),
            Err(e) => errors.push(format!("task {}: {}", c.task_id, e.message)),
        }
    }
    if !errors.is_empty() {
        let _ = tx
            .send(msg(Vec::new(), false, Some(errors.join(", "))))
            .await;
    }
    let mut lines = futures::stream::select_all(readers).ready_chunks(LINES_PER_MSG);
    loop {
        let batch = tokio::select! {
            _ = token.cancelled() => break,
            b = lines.next() => b,
        };
        match batch {
            Some(b) => {
                if tx.send(msg(b, false, None)).await.is_err() {
                    break;
                }
            }
            None => {
                if sub.options.follow {
                    // Every container stopped: nothing more will come, but a follower
                    // keeps its stream open until its client leaves.
                    token.cancelled().await;
                } else {
                    let _ = tx.send(msg(Vec::new(), true, None)).await;
                }
                break;
            }
        }
    }
    drop(tx);
    token.cancel();
    let _ = call.await;
}
