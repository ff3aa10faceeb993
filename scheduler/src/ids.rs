//! [`IdGen`]: task IDs are chosen by the proposer, never by apply or the pure logic.

use crate::model::TaskId;

/// Supplies IDs for tasks the orchestrator creates.
///
/// The leader's runner implements it with Docker-style random IDs (25 base-36 characters);
/// tests and simulations use [`SequentialIds`]. IDs must be unique across the cluster's life:
/// a reused ID makes the create fail with "already exists" and the pass is recomputed.
pub trait IdGen {
    /// A fresh task ID.
    fn task_id(&mut self) -> TaskId;
}

/// Deterministic IDs `<prefix><n>` (zero-padded so that ID order is creation order), for tests,
/// benchmarks and simulations.
#[derive(Debug, Clone)]
pub struct SequentialIds {
    prefix: String,
    next: u64,
}

impl SequentialIds {
    /// IDs `prefix000000000001`, `prefix000000000002`, ...
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            next: 1,
        }
    }
}

impl IdGen for SequentialIds {
    fn task_id(&mut self) -> TaskId {
        let id = TaskId::new(format!("{}{:012}", self.prefix, self.next));
        self.next += 1;
        id
    }
}
