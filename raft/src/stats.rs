//! Write-path counters: how proposals were batched into entries, how often the log was
//! flushed and how long flushes and applies took. Cheap atomics, read with
//! [`crate::ClusterStore::write_stats`]; the same figures go to `tracing` as span fields.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Called with how long each proposal written through this member (as leader) took,
/// from submission to applied or failed: swarmkit's `swarm_raft_transaction_latency_seconds`.
/// A callback, so the node records it in its metrics registry and this crate needs none.
#[derive(Clone, Default)]
pub struct ProposalObserver(Option<Arc<dyn Fn(Duration) + Send + Sync>>);

impl ProposalObserver {
    /// An observer calling `f` once per proposal.
    pub fn new(f: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(f)))
    }

    pub(crate) fn observe(&self, took: Duration) {
        if let Some(f) = &self.0 {
            f(took);
        }
    }
}

impl std::fmt::Debug for ProposalObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ProposalObserver")
            .field(&self.0.is_some())
            .finish()
    }
}

/// Live counters shared by the batcher, the log store and the state machine.
#[derive(Debug, Default)]
pub(crate) struct WriteCounters {
    proposals: AtomicU64,
    entries: AtomicU64,
    max_proposals_per_entry: AtomicU64,
    flushes: AtomicU64,
    flushed_entries: AtomicU64,
    flush_micros_total: AtomicU64,
    flush_micros_max: AtomicU64,
    applied_ops: AtomicU64,
    apply_micros_max: AtomicU64,
    snapshot_copy_micros_max: AtomicU64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl WriteCounters {
    /// One log entry carrying `proposals` coalesced proposals was submitted to Raft.
    pub(crate) fn record_entry(&self, proposals: usize) {
        let p = u64::try_from(proposals).unwrap_or(u64::MAX);
        self.entries.fetch_add(1, Ordering::Relaxed);
        self.proposals.fetch_add(p, Ordering::Relaxed);
        self.max_proposals_per_entry.fetch_max(p, Ordering::Relaxed);
    }

    /// One log flush (fsync) made `entries` appended entries durable in `took`.
    pub(crate) fn record_flush(&self, entries: usize, took: Duration) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.flushed_entries.fetch_add(
            u64::try_from(entries).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.flush_micros_total
            .fetch_add(micros(took), Ordering::Relaxed);
        self.flush_micros_max
            .fetch_max(micros(took), Ordering::Relaxed);
    }

    /// One state-machine apply call wrote `ops` object changes in `took`.
    pub(crate) fn record_apply(&self, ops: usize, took: Duration) {
        self.applied_ops
            .fetch_add(u64::try_from(ops).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.apply_micros_max
            .fetch_max(micros(took), Ordering::Relaxed);
    }

    /// A snapshot build held the state-machine lock for `took` to copy the state.
    pub(crate) fn record_snapshot_copy(&self, took: Duration) {
        self.snapshot_copy_micros_max
            .fetch_max(micros(took), Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> WriteStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriteStats {
            proposals: l(&self.proposals),
            entries: l(&self.entries),
            max_proposals_per_entry: l(&self.max_proposals_per_entry),
            flushes: l(&self.flushes),
            flushed_entries: l(&self.flushed_entries),
            flush_total: Duration::from_micros(l(&self.flush_micros_total)),
            flush_max: Duration::from_micros(l(&self.flush_micros_max)),
            applied_ops: l(&self.applied_ops),
            apply_max: Duration::from_micros(l(&self.apply_micros_max)),
            snapshot_copy_max: Duration::from_micros(l(&self.snapshot_copy_micros_max)),
        }
    }
}

/// A reading of this member's write-path counters since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Proposals this member submitted as leader (each caller's `propose` is one).
    pub proposals: u64,
    /// Log entries those proposals were coalesced into.
    pub entries: u64,
    /// The most proposals one entry carried.
    pub max_proposals_per_entry: u64,
    /// Log flushes (fsyncs) of appended entries, on this member as leader or follower.
    pub flushes: u64,
    /// Entries those flushes made durable (`flushed_entries / flushes` entries per fsync).
    pub flushed_entries: u64,
    /// Time spent in those flushes.
    pub flush_total: Duration,
    /// The longest single flush.
    pub flush_max: Duration,
    /// Object changes applied to the state machine.
    pub applied_ops: u64,
    /// The longest single apply call.
    pub apply_max: Duration,
    /// The longest time a snapshot build held the state lock to copy the state (the only
    /// part of a snapshot that applies wait for; encoding and writing run beside them).
    pub snapshot_copy_max: Duration,
}
