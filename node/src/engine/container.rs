//! The in-memory handle of one container: its record, a watch of its run
//! state for `wait`, and the broadcast its output goes to for `attach`.

use std::sync::Mutex;

use shoal_api::stream::OutputChunk;
use tokio::sync::{broadcast, watch};

use crate::runtime::io::FifoWriter;

use super::record::ContainerRecord;

/// What `wait` watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitState {
    /// Task alive.
    pub running: bool,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// Number of exits seen since the daemon started (for next-exit).
    pub exits: u64,
    /// The container is gone.
    pub removed: bool,
}

/// Output events for attach subscribers.
#[derive(Debug, Clone)]
pub enum OutEvent {
    /// Process output.
    Chunk(OutputChunk),
    /// The run ended and all output was delivered.
    End,
}

/// One container as the engine holds it.
#[derive(Debug)]
pub struct Container {
    /// Full ID.
    pub id: String,
    rec: Mutex<ContainerRecord>,
    /// Serialises state-changing operations (start/stop/remove...).
    pub op: tokio::sync::Mutex<()>,
    /// Run state for waiters.
    pub state_tx: watch::Sender<WaitState>,
    /// Live output for attachers (created once, survives restarts of the task).
    pub out_tx: broadcast::Sender<OutEvent>,
    /// The task's stdin while it is open.
    pub stdin: tokio::sync::Mutex<Option<FifoWriter>>,
    /// Resolves when the current run's output pumps have drained.
    pub pumps_done: Mutex<Option<watch::Receiver<bool>>>,
}

impl Container {
    /// A handle for `rec`.
    pub fn new(rec: ContainerRecord) -> Container {
        let ws = WaitState {
            running: rec.state.status.is_live(),
            exit_code: rec.state.exit_code,
            exits: 0,
            removed: false,
        };
        let (state_tx, _) = watch::channel(ws);
        let (out_tx, _) = broadcast::channel(1024);
        Container {
            id: rec.id.clone(),
            rec: Mutex::new(rec),
            op: tokio::sync::Mutex::new(()),
            state_tx,
            out_tx,
            stdin: tokio::sync::Mutex::new(None),
            pumps_done: Mutex::new(None),
        }
    }

    /// A copy of the record.
    pub fn snapshot(&self) -> ContainerRecord {
        match self.rec.lock() {
            Ok(r) => r.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Mutates the record under its lock and returns the updated copy.
    pub fn update<R>(&self, f: impl FnOnce(&mut ContainerRecord) -> R) -> (R, ContainerRecord) {
        let mut guard = match self.rec.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let r = f(&mut guard);
        (r, guard.clone())
    }

    /// Name without slash. Lookups by name call this for every container,
    /// so it copies the name only, not the whole record.
    pub fn name(&self) -> String {
        match self.rec.lock() {
            Ok(r) => r.name.clone(),
            Err(p) => p.into_inner().name.clone(),
        }
    }
}
