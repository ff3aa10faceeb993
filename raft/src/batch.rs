//! Proposal batching on the leader, as swarmkit's store does: concurrent proposals are
//! coalesced into one Raft log entry (at most [`MAX_ENTRY_OPS`] object changes and
//! [`MAX_ENTRY_BYTES`] of encoded commands per entry), so one append, one fsync and one
//! replication round trip commit many of them.
//!
//! ```text
//!  propose() ─┐                              ┌─▶ client_write(entry 1: p1 p2 p3) ─▶ results 1..3
//!  propose() ─┼─▶ queue ─▶ batcher (≤ 4 in flight)
//!  propose() ─┘                              └─▶ client_write(entry 2: p4 ...)
//! ```
//!
//! The batcher waits only while [`MAX_IN_FLIGHT`] entries are already being written: a lone
//! proposal on an idle leader goes out at once (no added latency), and under load the queue
//! that builds up behind the in-flight entries becomes the next entry. Each proposal is
//! applied on its own (see [`crate::types::Request`]), so every caller gets its own result,
//! including its own rejection ("update out of sequence") without failing the others.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::error::{StoreError, from_raft};
use crate::stats::WriteCounters;
use crate::store::AppliedResponse;
use crate::types::{Proposal, Request, Response, typ};

/// Most object changes one entry carries (swarmkit's `MaxChangesPerTransaction`).
pub(crate) const MAX_ENTRY_OPS: usize = 200;
/// Most encoded command bytes one entry carries (swarmkit's 1.5 MiB transaction limit).
pub(crate) const MAX_ENTRY_BYTES: usize = 1536 * 1024;
/// Entries submitted to Raft and not yet applied, before the batcher waits.
const MAX_IN_FLIGHT: usize = 4;

type WriteResult = Result<AppliedResponse, StoreError>;

struct Pending {
    proposal: Proposal,
    ops: usize,
    bytes: usize,
    reply: oneshot::Sender<WriteResult>,
}

/// Handle to the batching task of one member. Cheap to clone; the task ends when the last
/// handle is dropped.
#[derive(Clone)]
pub(crate) struct Batcher {
    tx: mpsc::UnboundedSender<Pending>,
    raft: typ::Raft,
    stats: Arc<WriteCounters>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl Batcher {
    /// Starts the batching task for `raft`.
    pub(crate) fn start(raft: typ::Raft, stats: Arc<WriteCounters>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(raft.clone(), stats.clone(), rx));
        Self { tx, raft, stats }
    }

    /// Writes `req` through Raft, coalesced with whatever else is being proposed, and
    /// returns its own result.
    pub(crate) async fn submit(&self, req: Request) -> WriteResult {
        if !req.batched.is_empty() {
            // Already a multi-proposal entry (never built by callers today): write as is.
            return write_one(&self.raft, &self.stats, req).await;
        }
        let ops = req.command.op_count();
        let bytes = crate::codec::encoded_len(&req.command)
            .map_err(|e| StoreError::InvalidConfig(format!("command does not encode: {e}")))?;
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            proposal: Proposal {
                command: req.command,
                proposer: req.proposer,
                proposed_at: req.proposed_at,
            },
            ops,
            bytes,
            reply,
        };
        self.tx
            .send(pending)
            .map_err(|_| StoreError::Unavailable("raft store is shutting down".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("raft store is shutting down".into()))?
    }
}

async fn write_one(raft: &typ::Raft, stats: &WriteCounters, req: Request) -> WriteResult {
    stats.record_entry(req.proposals());
    let resp = raft.client_write(req).await.map_err(from_raft)?;
    Ok(AppliedResponse {
        index: resp.log_id.index,
        response: resp.data,
    })
}

async fn run(raft: typ::Raft, stats: Arc<WriteCounters>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut carry: Option<Pending> = None;
    loop {
        let first = match carry.take() {
            Some(p) => p,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        // Wait for a free slot before draining: what queues meanwhile joins this entry.
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let (mut ops, mut bytes) = (first.ops, first.bytes);
        let mut batch = vec![first];
        while ops < MAX_ENTRY_OPS {
            match rx.try_recv() {
                Ok(p) if ops + p.ops > MAX_ENTRY_OPS || bytes + p.bytes > MAX_ENTRY_BYTES => {
                    carry = Some(p);
                    break;
                }
                Ok(p) => {
                    ops += p.ops;
                    bytes += p.bytes;
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        let span = tracing::debug_span!("raft.propose_batch", proposals = batch.len(), ops, bytes);
        tokio::spawn(write_batch(raft.clone(), stats.clone(), batch, permit).instrument(span));
    }
}

async fn write_batch(
    raft: typ::Raft,
    stats: Arc<WriteCounters>,
    batch: Vec<Pending>,
    permit: OwnedSemaphorePermit,
) {
    let mut replies = Vec::with_capacity(batch.len());
    let mut proposals = batch.into_iter().map(|p| {
        replies.push(p.reply);
        p.proposal
    });
    let Some(first) = proposals.next() else {
        return;
    };
    let req = Request {
        command: first.command,
        proposer: first.proposer,
        proposed_at: first.proposed_at,
        batched: proposals.collect(),
    };
    stats.record_entry(req.proposals());
    let res = raft.client_write(req).await;
    drop(permit);
    match res {
        Ok(resp) => {
            let index = resp.log_id.index;
            let Response { result, batched } = resp.data;
            let mut results = std::iter::once(result).chain(batched);
            for reply in replies {
                let out = match results.next() {
                    Some(result) => Ok(AppliedResponse {
                        index,
                        response: Response {
                            result,
                            batched: Vec::new(),
                        },
                    }),
                    None => Err(StoreError::Unavailable(
                        "raft entry applied without a result for this proposal".into(),
                    )),
                };
                // The caller may have timed out and gone; its write still happened.
                let _ = reply.send(out);
            }
        }
        Err(e) => {
            for reply in replies {
                let _ = reply.send(Err(from_raft(e.clone())));
            }
        }
    }
}
