//! The leader's log broker (swarmkit's `manager/logbroker`): it hands each subscription to
//! the agents of the nodes running the wanted tasks and routes their lines back to the
//! subscriber.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use shoal_scheduler::model::{NodeId, TaskId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::super::local::Certs;
use super::wire::{LogEvent, LogOptions, PublishMsg, SubscriptionMsg};

/// Subscriptions queued per agent before the broker drops new ones for it.
const AGENT_QUEUE: usize = 64;
/// Events buffered per subscriber (back-pressure on the agents' publish streams).
const SUBSCRIBER_QUEUE: usize = 256;

/// Why a publish was not routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The subscription ended (its client went away) or never existed.
    #[error("no such log subscription: {0}")]
    Gone(String),
    /// The node was not asked for logs in this subscription.
    #[error("node {0} is not part of log subscription {1}")]
    NotSubscribed(String, String),
}

struct Sub {
    tx: mpsc::Sender<LogEvent>,
    /// Nodes that have not closed their part yet, with the agent session the subscription
    /// went out on: if that session ends first, the node's part never comes.
    pending: HashMap<NodeId, u64>,
    /// Every node asked (to tell them when the subscription ends).
    nodes: Vec<NodeId>,
    /// Following: the stream stays open when every node is done.
    follow: bool,
}

/// The broker's state. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct LogBroker {
    /// The connected agents' subscription queues, with the session that registered them.
    agents: Mutex<HashMap<NodeId, (u64, mpsc::Sender<SubscriptionMsg>)>>,
    subs: Mutex<HashMap<String, Sub>>,
    sessions: AtomicU64,
    /// This manager's certificate, to forward subscriptions to the leader when it is not.
    certs: Option<Certs>,
}

impl std::fmt::Debug for LogBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogBroker").finish_non_exhaustive()
    }
}

/// An agent's registration; dropping it unregisters the agent (if not replaced since).
#[derive(Debug)]
pub struct AgentListener {
    broker: Arc<LogBroker>,
    node: NodeId,
    session: u64,
    /// The subscriptions for this agent.
    pub rx: mpsc::Receiver<SubscriptionMsg>,
}

impl Drop for AgentListener {
    fn drop(&mut self) {
        {
            let mut agents = self.broker.agents.lock().unwrap_or_else(|e| e.into_inner());
            if agents
                .get(&self.node)
                .is_some_and(|(s, _)| *s == self.session)
            {
                agents.remove(&self.node);
            }
        }
        self.broker.session_ended(&self.node, self.session);
    }
}

/// A subscriber's stream of events; it ends once every node has sent all it will (never
/// while following). Dropping it ends the subscription on every agent.
#[derive(Debug)]
pub struct Subscription {
    broker: Arc<LogBroker>,
    id: String,
    rx: mpsc::Receiver<LogEvent>,
    /// Cancelled when the subscriber goes away (stops what extends the subscription).
    gone: CancellationToken,
}

impl Subscription {
    /// The subscription's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Cancelled once this subscription is dropped.
    pub fn gone(&self) -> CancellationToken {
        self.gone.clone()
    }
}

impl Stream for Subscription {
    type Item = LogEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.gone.cancel();
        self.broker.close(&self.id);
    }
}

impl LogBroker {
    /// An empty broker.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A broker that can forward to the leader with this manager's `certs`.
    pub fn with_certs(certs: Certs) -> Arc<Self> {
        Arc::new(Self {
            certs: Some(certs),
            ..Default::default()
        })
    }

    /// The certificates for forwarding, if any.
    pub(super) fn certs(&self) -> Option<&Certs> {
        self.certs.as_ref()
    }

    /// Registers the agent of `node` (its `LogSubscriptions` stream); a later registration
    /// of the same node replaces this one.
    pub fn listen(self: &Arc<Self>, node: NodeId) -> AgentListener {
        let (tx, rx) = mpsc::channel(AGENT_QUEUE);
        let session = self.sessions.fetch_add(1, Ordering::Relaxed);
        self.agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.clone(), (session, tx));
        AgentListener {
            broker: self.clone(),
            node,
            session,
            rx,
        }
    }

    /// Starts a subscription to the logs of `tasks` (each with the node that runs it).
    /// Nodes with no agent connected are reported in-band, as swarmkit's "incomplete log
    /// stream" warning.
    pub fn subscribe(
        self: &Arc<Self>,
        tasks: Vec<(TaskId, NodeId)>,
        options: LogOptions,
    ) -> Subscription {
        let id = hex::encode(rand::random::<[u8; 12]>());
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let mut by_node: BTreeMap<NodeId, Vec<TaskId>> = BTreeMap::new();
        for (t, n) in tasks {
            by_node.entry(n).or_default().push(t);
        }
        let mut pending = HashMap::new();
        let mut unavailable = Vec::new();
        // Held while sending, so that an agent session ending meanwhile finds the
        // subscription registered (lock order everywhere: subs, then agents).
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        {
            let agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
            for (node, tasks) in &by_node {
                let msg = SubscriptionMsg {
                    id: id.clone(),
                    tasks: tasks.clone(),
                    options: options.clone(),
                    close: false,
                };
                match agents.get(node) {
                    Some((session, agent)) if agent.try_send(msg).is_ok() => {
                        pending.insert(node.clone(), *session);
                    }
                    _ => unavailable.push(node.clone()),
                }
            }
        }
        if !unavailable.is_empty() {
            let list: Vec<String> = unavailable
                .iter()
                .map(|n| format!("node {n} is not available"))
                .collect();
            // The queue is fresh and far larger than one event.
            let _ = tx.try_send(LogEvent::Error(format!(
                "warning: incomplete log stream. some logs could not be retrieved for the following reasons: {}",
                list.join(", ")
            )));
        }
        let nodes = pending.keys().cloned().collect();
        // Nothing to wait for: the stream ends once the warning is read.
        if !pending.is_empty() || options.follow {
            subs.insert(
                id.clone(),
                Sub {
                    tx,
                    pending,
                    nodes,
                    follow: options.follow,
                },
            );
        }
        drop(subs);
        Subscription {
            broker: self.clone(),
            id,
            rx,
            gone: CancellationToken::new(),
        }
    }

    /// Adds `task`, running on `node`, to the following subscription `id` (a task that
    /// started after the request). False once the subscription is gone. An agent that is
    /// not connected is reported in-band, as at subscribe.
    pub fn extend(&self, id: &str, task: TaskId, node: NodeId, options: LogOptions) -> bool {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sub) = subs.get_mut(id) else {
            return false;
        };
        let msg = SubscriptionMsg {
            id: id.to_owned(),
            tasks: vec![task],
            options,
            close: false,
        };
        let sent = {
            let agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
            agents
                .get(&node)
                .and_then(|(session, agent)| agent.try_send(msg).is_ok().then_some(*session))
        };
        if let Some(session) = sent {
            if !sub.nodes.contains(&node) {
                sub.nodes.push(node.clone());
            }
            sub.pending.insert(node, session);
        } else {
            let _ = sub.tx.try_send(LogEvent::Error(format!(
                "warning: incomplete log stream. some logs could not be retrieved for the following reasons: node {node} is not available"
            )));
        }
        true
    }

    /// Routes what the agent of `node` sent for a subscription; waits while the subscriber
    /// is slow. Errors: the subscription is gone (the agent should stop its readers).
    pub async fn publish(&self, node: &NodeId, msg: PublishMsg) -> Result<(), PublishError> {
        let tx = {
            let subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
            let sub = subs
                .get(&msg.subscription)
                .ok_or_else(|| PublishError::Gone(msg.subscription.clone()))?;
            if !sub.nodes.contains(node) {
                return Err(PublishError::NotSubscribed(
                    node.to_string(),
                    msg.subscription.clone(),
                ));
            }
            sub.tx.clone()
        };
        if !msg.lines.is_empty() {
            tx.send(LogEvent::Lines {
                node: node.clone(),
                lines: msg.lines,
            })
            .await
            .map_err(|_| PublishError::Gone(msg.subscription.clone()))?;
        }
        if let Some(e) = msg.error {
            tx.send(LogEvent::Error(e))
                .await
                .map_err(|_| PublishError::Gone(msg.subscription.clone()))?;
        }
        if msg.close {
            let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(sub) = subs.get_mut(&msg.subscription) {
                sub.pending.remove(node);
                // Dropping the sender ends the subscriber's stream once it has read all.
                if sub.pending.is_empty() && !sub.follow {
                    subs.remove(&msg.subscription);
                }
            }
        }
        Ok(())
    }

    /// The agent session `session` of `node` ended (it disconnected, reconnected, or this
    /// manager stopped leading): what it was asked for will not come. Each subscription
    /// waiting on it gets swarmkit's in-band error and, not following, ends once no other
    /// node is pending.
    fn session_ended(&self, node: &NodeId, session: u64) {
        let mut subs = self.subs.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|_, sub| {
            if sub.pending.get(node) != Some(&session) {
                return true;
            }
            sub.pending.remove(node);
            let _ = sub.tx.try_send(LogEvent::Error(format!(
                "warning: incomplete log stream. some logs could not be retrieved for the following reasons: node {node} disconnected unexpectedly"
            )));
            sub.follow || !sub.pending.is_empty()
        });
    }

    /// Ends subscription `id` and tells its agents to stop reading.
    fn close(&self, id: &str) {
        let Some(sub) = self
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
        else {
            return;
        };
        let agents = self.agents.lock().unwrap_or_else(|e| e.into_inner());
        for node in sub.nodes {
            if let Some((_, agent)) = agents.get(&node) {
                let _ = agent.try_send(SubscriptionMsg {
                    id: id.to_owned(),
                    tasks: Vec::new(),
                    options: LogOptions::default(),
                    close: true,
                });
            }
        }
    }

    /// Subscriptions in flight (tests, metrics).
    pub fn active(&self) -> usize {
        self.subs.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn line(task: &str, data: &str) -> super::super::wire::LogLine {
        super::super::wire::LogLine {
            task_id: TaskId::new(task),
            stream: 1,
            timestamp: None,
            data: data.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn lines_of_every_node_reach_the_subscriber_and_it_ends_when_all_closed() {
        let b = LogBroker::new();
        let mut a1 = b.listen(NodeId::new("n1"));
        let mut a2 = b.listen(NodeId::new("n2"));
        let mut sub = b.subscribe(
            vec![
                (TaskId::new("t1"), NodeId::new("n1")),
                (TaskId::new("t2"), NodeId::new("n2")),
            ],
            LogOptions::default(),
        );
        let s1 = a1.rx.recv().await.unwrap();
        let s2 = a2.rx.recv().await.unwrap();
        assert_eq!(s1.tasks, vec![TaskId::new("t1")]);
        assert_eq!(s2.tasks, vec![TaskId::new("t2")]);
        for (node, task) in [("n1", "t1"), ("n2", "t2")] {
            b.publish(
                &NodeId::new(node),
                PublishMsg {
                    subscription: s1.id.clone(),
                    lines: vec![line(task, "x\n")],
                    close: true,
                    error: None,
                },
            )
            .await
            .unwrap();
        }
        let got: Vec<LogEvent> = (&mut sub).collect().await;
        assert_eq!(got.len(), 2);
        assert_eq!(b.active(), 0);
    }

    #[tokio::test]
    async fn a_following_subscription_extends_to_a_new_node_and_routes_its_lines() {
        let b = LogBroker::new();
        let mut a1 = b.listen(NodeId::new("n1"));
        let mut a2 = b.listen(NodeId::new("n2"));
        let follow = LogOptions {
            follow: true,
            ..Default::default()
        };
        let mut sub = b.subscribe(vec![(TaskId::new("t1"), NodeId::new("n1"))], follow.clone());
        let first = a1.rx.recv().await.unwrap();
        assert!(b.extend(
            sub.id(),
            TaskId::new("t2"),
            NodeId::new("n2"),
            follow.clone()
        ));
        let added = a2.rx.recv().await.unwrap();
        assert_eq!(
            (added.id.as_str(), added.tasks.clone()),
            (first.id.as_str(), vec![TaskId::new("t2")])
        );
        b.publish(
            &NodeId::new("n2"),
            PublishMsg {
                subscription: added.id.clone(),
                lines: vec![line("t2", "new\n")],
                close: false,
                error: None,
            },
        )
        .await
        .unwrap();
        match sub.next().await {
            Some(LogEvent::Lines { node, lines }) => {
                assert_eq!(node, NodeId::new("n2"));
                assert_eq!(lines[0].task_id, TaskId::new("t2"));
            }
            other => panic!("expected the new task's line, got {other:?}"),
        }
        // An agent that is not connected is a warning, not a silent gap.
        assert!(b.extend(
            sub.id(),
            TaskId::new("t3"),
            NodeId::new("n3"),
            follow.clone()
        ));
        match sub.next().await {
            Some(LogEvent::Error(m)) => assert!(m.contains("node n3 is not available"), "{m}"),
            other => panic!("expected the warning, got {other:?}"),
        }
        let id = sub.id().to_owned();
        let gone = sub.gone();
        drop(sub);
        assert!(gone.is_cancelled());
        // Both agents are told to stop.
        assert!(a1.rx.recv().await.unwrap().close);
        assert!(a2.rx.recv().await.unwrap().close);
        assert!(!b.extend(&id, TaskId::new("t4"), NodeId::new("n1"), follow));
    }

    #[tokio::test]
    async fn an_agent_session_that_ends_before_answering_ends_the_stream_with_a_warning() {
        let b = LogBroker::new();
        let a1 = b.listen(NodeId::new("n1"));
        let mut a2 = b.listen(NodeId::new("n2"));
        let mut sub = b.subscribe(
            vec![
                (TaskId::new("t1"), NodeId::new("n1")),
                (TaskId::new("t2"), NodeId::new("n2")),
            ],
            LogOptions::default(),
        );
        let s2 = a2.rx.recv().await.unwrap();
        b.publish(
            &NodeId::new("n2"),
            PublishMsg {
                subscription: s2.id.clone(),
                lines: vec![line("t2", "x\n")],
                close: true,
                error: None,
            },
        )
        .await
        .unwrap();
        // n1's session goes away with the subscription queued and unanswered.
        drop(a1);
        let got: Vec<LogEvent> = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            (&mut sub).collect::<Vec<_>>(),
        )
        .await
        .expect("the stream ends instead of waiting for n1 forever");
        assert!(matches!(got[0], LogEvent::Lines { .. }), "{got:?}");
        assert!(
            matches!(&got[1], LogEvent::Error(m) if m.contains("node n1 disconnected unexpectedly")),
            "{got:?}"
        );
        assert_eq!(b.active(), 0);
        // A session replaced by a newer one of the same node counts as ended too.
        let old = b.listen(NodeId::new("n3"));
        let mut sub = b.subscribe(
            vec![(TaskId::new("t3"), NodeId::new("n3"))],
            LogOptions::default(),
        );
        let _new = b.listen(NodeId::new("n3"));
        drop(old);
        let got: Vec<LogEvent> = (&mut sub).collect().await;
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[tokio::test]
    async fn an_absent_agent_is_reported_and_dropping_tells_agents_to_stop() {
        let b = LogBroker::new();
        let mut a1 = b.listen(NodeId::new("n1"));
        let mut sub = b.subscribe(
            vec![
                (TaskId::new("t1"), NodeId::new("n1")),
                (TaskId::new("t2"), NodeId::new("gone")),
            ],
            LogOptions {
                follow: true,
                ..Default::default()
            },
        );
        match sub.next().await {
            Some(LogEvent::Error(m)) => assert!(m.contains("node gone is not available"), "{m}"),
            other => panic!("expected the warning, got {other:?}"),
        }
        let s = a1.rx.recv().await.unwrap();
        assert!(!s.close);
        drop(sub);
        let c = a1.rx.recv().await.unwrap();
        assert!(c.close && c.id == s.id);
        let err = b
            .publish(
                &NodeId::new("n1"),
                PublishMsg {
                    subscription: s.id,
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(err, Err(PublishError::Gone(_))));
    }
}
