//! The in-memory handle of one container: its record, a watch of its run
//! state for `wait`, and the hub its output goes to for `attach`.

use std::sync::{Arc, Mutex};

use shoal_api::stream::OutputChunk;
use tokio::sync::watch;

use crate::runtime::io::FifoWriter;

use super::hub::OutputHub;
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
    pub out: Arc<OutputHub>,
    /// Bumped after output was appended to the log: wakes log followers.
    pub log_seq: Arc<watch::Sender<u64>>,
    /// The task's stdin while it is open.
    pub stdin: tokio::sync::Mutex<Option<FifoWriter>>,
    /// Resolves when the current run's output pumps have drained.
    pub pumps_done: Mutex<Option<watch::Receiver<bool>>>,
    /// The health status the probes of the current run decided (`starting`, `healthy`,
    /// `unhealthy`), for the swarm agent, which waits for `healthy` before reporting a
    /// task running. Unlike `State.Health` it is not set to `unhealthy` when the run ends.
    pub health_tx: watch::Sender<Option<String>>,
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
        Container {
            id: rec.id.clone(),
            rec: Mutex::new(rec),
            op: tokio::sync::Mutex::new(()),
            state_tx,
            out: Arc::new(OutputHub::default()),
            log_seq: Arc::new(watch::channel(0).0),
            stdin: tokio::sync::Mutex::new(None),
            pumps_done: Mutex::new(None),
            health_tx: watch::channel(None).0,
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

    /// The run state, without copying the record (metrics read it for every container).
    pub fn status(&self) -> super::record::Status {
        match self.rec.lock() {
            Ok(r) => r.state.status,
            Err(p) => p.into_inner().state.status,
        }
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
