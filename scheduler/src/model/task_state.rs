//! Task states and the monotonic rule.
//!
//! A task's observed state only moves forward through this order (swarmkit
//! `design/task_model.md`); each state has one writer:
//!
//! ```text
//! NEW -> PENDING -> ASSIGNED -> ACCEPTED -> PREPARING -> READY -> STARTING -> RUNNING
//!  orchestrator  allocator  scheduler   \________________ agent __________________/
//!                                                                    -> COMPLETE | SHUTDOWN | FAILED | REJECTED
//!                                                                    -> REMOVE | ORPHANED
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// The lifecycle state of a task, ordered.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Created by the orchestrator.
    #[default]
    New,
    /// Resources (e.g. network addresses) allocated; waiting for placement.
    Pending,
    /// Placed on a node by the scheduler.
    Assigned,
    /// Acknowledged by the node's agent.
    Accepted,
    /// The agent is preparing resources (pulling the image, creating the container).
    Preparing,
    /// Prepared and ready to start.
    Ready,
    /// Being started.
    Starting,
    /// Running.
    Running,
    /// Exited successfully.
    Complete,
    /// Stopped on request.
    Shutdown,
    /// Exited with an error.
    Failed,
    /// The node could not run it.
    Rejected,
    /// Marked for removal once the agent has cleaned up.
    Remove,
    /// The node went away while the task ran.
    Orphaned,
}

impl TaskState {
    /// Every state, in swarmkit's order.
    pub const ALL: [TaskState; 14] = [
        TaskState::New,
        TaskState::Pending,
        TaskState::Assigned,
        TaskState::Accepted,
        TaskState::Preparing,
        TaskState::Ready,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Complete,
        TaskState::Shutdown,
        TaskState::Failed,
        TaskState::Rejected,
        TaskState::Remove,
        TaskState::Orphaned,
    ];

    /// Whether this state is final: nothing runs any more.
    pub fn is_terminal(self) -> bool {
        self > TaskState::Running
    }

    /// Docker's lower-case name of the state (`docker service ps`).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Ready => "ready",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Shutdown => "shutdown",
            TaskState::Failed => "failed",
            TaskState::Rejected => "rejected",
            TaskState::Remove => "remove",
            TaskState::Orphaned => "orphaned",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transition that would move a task's state backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("invalid task state transition from {from} to {to}")]
pub struct TransitionError {
    /// The current state.
    pub from: TaskState,
    /// The rejected new state.
    pub to: TaskState,
}

/// Checks that moving from `from` to `to` respects the monotonic rule.
///
/// Staying in the same state is allowed (a status message update). Moving backwards fails.
pub fn check_transition(from: TaskState, to: TaskState) -> Result<(), TransitionError> {
    if to < from {
        Err(TransitionError { from, to })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_ordered_as_in_swarmkit() {
        let order = TaskState::ALL;
        assert!(order.windows(2).all(|w| w[0] < w[1]));
        assert!(!TaskState::Running.is_terminal());
        assert!(TaskState::Complete.is_terminal());
    }

    #[test]
    fn forward_and_same_state_transitions_are_allowed() {
        assert!(check_transition(TaskState::New, TaskState::Pending).is_ok());
        assert!(check_transition(TaskState::Running, TaskState::Running).is_ok());
        assert!(check_transition(TaskState::Assigned, TaskState::Failed).is_ok());
    }

    #[test]
    fn backward_transition_is_rejected() {
        let err = check_transition(TaskState::Running, TaskState::Assigned).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid task state transition from running to assigned"
        );
    }

    #[test]
    fn serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&TaskState::Running).unwrap(),
            "\"running\""
        );
    }
}
