//! Docker's JSON progress messages for pull and push, sent to whoever
//! watches (the API stream, or nobody when the swarm agent pulls).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Progress updates closer together than this are dropped (the CLI
/// redraws at about this rate anyway).
const TICK: Duration = Duration::from_millis(100);

/// Where progress goes; cloning shares the channel.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    tx: Option<mpsc::Sender<Value>>,
}

impl Progress {
    /// Progress sent to `tx`.
    pub fn to(tx: mpsc::Sender<Value>) -> Self {
        Progress { tx: Some(tx) }
    }

    /// Progress nobody reads.
    pub fn none() -> Self {
        Progress { tx: None }
    }

    /// Sends a message; a watcher that went away is not an error (the
    /// operation goes on, as dockerd's does).
    pub async fn send(&self, v: Value) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(v).await;
        }
    }

    /// `{"status": s}`.
    pub async fn status(&self, s: impl Into<String>) {
        self.send(json!({ "status": s.into() })).await;
    }

    /// `{"status": s, "progressDetail": {}, "id": id}`.
    pub async fn layer(&self, id: &str, s: &str) {
        self.send(json!({ "status": s, "progressDetail": {}, "id": id }))
            .await;
    }

    /// A throttled byte counter for layer `id` with status `s` (e.g.
    /// `Downloading`) out of `total` bytes.
    pub fn meter(&self, id: &str, s: &'static str, total: i64) -> Meter {
        Meter {
            progress: self.clone(),
            id: id.to_owned(),
            status: s,
            total,
            last: Arc::new(Mutex::new(None)),
        }
    }
}

/// See [`Progress::meter`].
#[derive(Debug, Clone)]
pub struct Meter {
    progress: Progress,
    id: String,
    status: &'static str,
    total: i64,
    last: Arc<Mutex<Option<Instant>>>,
}

impl Meter {
    /// Reports `current` bytes done, unless a report went out very
    /// recently; never blocks (a slow client loses intermediate updates).
    pub fn update(&self, current: u64) {
        let Some(tx) = &self.progress.tx else { return };
        let now = Instant::now();
        if let Ok(mut last) = self.last.lock() {
            if last.is_some_and(|t| now.duration_since(t) < TICK) && current as i64 != self.total {
                return;
            }
            *last = Some(now);
        }
        let _ = tx.try_send(json!({
            "status": self.status,
            "progressDetail": { "current": current, "total": self.total },
            "id": self.id,
        }));
    }
}

/// The 12-character ID Docker shows for a layer digest.
pub fn short_digest(digest: &str) -> String {
    digest
        .strip_prefix("sha256:")
        .unwrap_or(digest)
        .chars()
        .take(12)
        .collect()
}
