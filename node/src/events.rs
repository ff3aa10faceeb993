//! The `docker events` bus: a broadcast channel plus a bounded history so
//! `since` can replay what happened before a client subscribed.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use shoal_api::models::{EventActor, EventMessage, EventMessageScopeEnum, EventMessageTypeEnum};
use tokio::sync::broadcast;

/// How many past events `since` can reach back to (dockerd keeps 256).
const HISTORY: usize = 1024;

/// Publishes engine events to `/events` subscribers.
#[derive(Debug)]
pub struct EventsBus {
    tx: broadcast::Sender<EventMessage>,
    history: Mutex<VecDeque<EventMessage>>,
}

impl Default for EventsBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventsBus {
    /// An empty bus.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventsBus {
            tx,
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }

    /// Records and broadcasts one event. `attributes` are the actor's
    /// attributes (name, image, exitCode, labels...).
    pub fn publish(
        &self,
        typ: EventMessageTypeEnum,
        action: &str,
        id: &str,
        attributes: HashMap<String, String>,
    ) {
        let now = chrono::Utc::now();
        let msg = EventMessage {
            typ: Some(typ),
            action: Some(action.to_owned()),
            actor: Some(EventActor {
                id: Some(id.to_owned()),
                attributes: Some(attributes),
            }),
            scope: Some(EventMessageScopeEnum::LOCAL),
            time: Some(now.timestamp()),
            time_nano: now.timestamp_nanos_opt(),
        };
        // History and send under one lock so a subscriber that snapshots
        // history then subscribes sees each event exactly once.
        let mut history = match self.history.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(msg.clone());
        let _ = self.tx.send(msg);
        crate::metrics::METRICS.event();
    }

    /// Past events (oldest first) and a receiver for the ones after them.
    pub fn subscribe(&self) -> (Vec<EventMessage>, broadcast::Receiver<EventMessage>) {
        let history = match self.history.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let rx = self.tx.subscribe();
        (history.iter().cloned().collect(), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn history_then_live() {
        let bus = EventsBus::new();
        bus.publish(
            EventMessageTypeEnum::CONTAINER,
            "create",
            "a",
            HashMap::new(),
        );
        let (past, mut rx) = bus.subscribe();
        bus.publish(
            EventMessageTypeEnum::CONTAINER,
            "start",
            "a",
            HashMap::new(),
        );
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].action.as_deref(), Some("create"));
        let live = rx.recv().await.unwrap();
        assert_eq!(live.action.as_deref(), Some("start"));
    }
}
