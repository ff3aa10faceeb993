//! Watching the store: a consistent copy of the state plus every change after it.
//!
//! [`crate::ClusterStore::view_and_watch`] copies the state and subscribes under the state
//! machine's read lock; apply publishes under the write lock, so the first event a watcher
//! receives is the first change after its copy. The channel is bounded: a watcher that falls
//! too far behind (or a replica that installs a snapshot) gets [`WatchItem::Resync`] with a
//! fresh copy instead of unbounded buffering.

use std::sync::{Arc, Weak};

use shoal_scheduler::model::{ClusterState, StoreEvent};
use tokio::sync::broadcast;

use crate::state_machine::{Shared, WatchMsg};

/// One item of a watch stream.
// Events dominate; a resync already boxes its state.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum WatchItem {
    /// The next change, in apply order.
    Event(StoreEvent),
    /// Events were lost (lag or snapshot install): here is the whole state as of `index`;
    /// continue from there.
    Resync {
        /// A copy of the state.
        state: Box<ClusterState>,
        /// The last applied log index the copy reflects.
        index: u64,
    },
}

/// A subscription to committed changes. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Watch {
    rx: broadcast::Receiver<WatchMsg>,
    // Weak, so a forgotten watch does not keep a shut-down store's state alive.
    shared: Weak<Shared>,
}

/// Copies the state and subscribes atomically. Returns the copy, its last applied index and
/// the watch that continues from it.
pub(crate) fn view_and_watch(shared: &Arc<Shared>) -> (ClusterState, u64, Watch) {
    let inner = shared.read();
    let rx = shared.events.subscribe();
    let index = inner.last_applied.map(|l| l.index).unwrap_or(0);
    let state = inner.state.clone();
    drop(inner);
    (
        state,
        index,
        Watch {
            rx,
            shared: Arc::downgrade(shared),
        },
    )
}

impl Watch {
    /// Waits for the next item. Returns `None` once the store is gone (every
    /// [`crate::ClusterStore`] handle and the Raft member dropped).
    pub async fn next(&mut self) -> Option<WatchItem> {
        match self.rx.recv().await {
            Ok(WatchMsg::Event(e)) => Some(WatchItem::Event(e)),
            Ok(WatchMsg::Reset) | Err(broadcast::error::RecvError::Lagged(_)) => {
                let shared = self.shared.upgrade()?;
                let (state, index, fresh) = view_and_watch(&shared);
                self.rx = fresh.rx;
                Some(WatchItem::Resync {
                    state: Box::new(state),
                    index,
                })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}
