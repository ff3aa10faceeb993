//! The dispatcher: the leader's end of every agent's session (swarmkit's
//! `manager/dispatcher`, split small).
//!
//! ```text
//!  agent ── Heartbeat (unary, every period) ──▶ sessions.rs    liveness, node status Ready/Down
//!        ◀─ Assignments (server stream) ─────── assignments.rs tasks + their secrets/configs,
//!                                                              full set then batched changes
//!        ── UpdateTaskStatus (unary, batch) ──▶ status.rs      many agents' reports → one proposal
//! ```
//!
//! Only the leader dispatches; other managers redirect heartbeats and refuse the rest with
//! Unavailable, and a session ends when its manager loses leadership.

mod assignments;
mod sessions;
mod status;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::manager::ManagerCtx;

pub use status::StatusBatcher;

/// The leader's dispatcher state. Cheap to share.
#[derive(Debug)]
pub struct Dispatcher {
    ctx: Arc<ManagerCtx>,
    /// Last heartbeat per node ID (on the leader).
    sessions: Mutex<HashMap<String, Instant>>,
    /// When this manager last became leader (for the liveness grace period).
    leader_since: Mutex<Option<Instant>>,
    /// Where task status reports queue for the next batched proposal.
    status_tx: mpsc::Sender<status::Pending>,
    status_rx: Mutex<Option<mpsc::Receiver<status::Pending>>>,
}

impl Dispatcher {
    /// A dispatcher over the manager `ctx`; [`Self::run`] drives its leader loops.
    pub fn new(ctx: Arc<ManagerCtx>) -> Arc<Self> {
        let (status_tx, status_rx) = mpsc::channel(1024);
        Arc::new(Self {
            ctx,
            sessions: Mutex::default(),
            leader_since: Mutex::default(),
            status_tx,
            status_rx: Mutex::new(Some(status_rx)),
        })
    }

    /// The manager this dispatcher belongs to.
    pub fn ctx(&self) -> &Arc<ManagerCtx> {
        &self.ctx
    }

    /// Runs node liveness and the status batcher until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let rx = self
            .status_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let batcher = rx.map(|rx| StatusBatcher::new(self.ctx.clone(), rx).run(stop.clone()));
        let liveness = self.clone().liveness(stop.clone());
        match batcher {
            Some(b) => {
                tokio::join!(b, liveness);
            }
            None => liveness.await,
        }
    }
}
