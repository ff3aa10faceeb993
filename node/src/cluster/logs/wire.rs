//! Log broker wire messages (JSON inside `pb::Msg`, like the rest of `cluster.proto`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shoal_api::routers::containers::LogsOptions;
use shoal_api::stream::StdStream;
use shoal_scheduler::model::{NodeId, ServiceId, TaskId};

/// The container-log options a subscription asks each agent's reader for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOptions {
    /// Keep reading new lines until the subscription is closed.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Unix nanoseconds: only lines at or after.
    #[serde(default)]
    pub since: Option<i128>,
    /// Unix nanoseconds: only lines before.
    #[serde(default)]
    pub until: Option<i128>,
    /// Only each task's last N lines.
    #[serde(default)]
    pub tail: Option<usize>,
}

impl From<&LogsOptions> for LogOptions {
    fn from(o: &LogsOptions) -> Self {
        Self {
            follow: o.follow,
            stdout: o.stdout,
            stderr: o.stderr,
            since: o.since,
            until: o.until,
            tail: o.tail,
        }
    }
}

impl LogOptions {
    /// The engine's options for one container's reader (timestamps are always read: the
    /// manager's router decides whether to print them).
    pub fn to_engine(&self) -> LogsOptions {
        LogsOptions {
            follow: self.follow,
            stdout: self.stdout,
            stderr: self.stderr,
            since: self.since,
            until: self.until,
            timestamps: true,
            tail: self.tail,
        }
    }
}

/// A subscription as the leader sends it to one agent (`LogSubscriptions` stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionMsg {
    /// The subscription's ID (echoed in every `PublishMsg`).
    pub id: String,
    /// The tasks of this node whose logs are wanted.
    pub tasks: Vec<TaskId>,
    /// How to read them.
    pub options: LogOptions,
    /// The subscription is over (the client went away): stop its readers.
    #[serde(default)]
    pub close: bool,
}

/// One line (or partial line) of a task container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The task whose container wrote it.
    pub task_id: TaskId,
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    /// When the engine read it.
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
    /// The bytes.
    pub data: Vec<u8>,
}

impl LogLine {
    /// The standard stream it belongs to.
    pub fn std_stream(&self) -> StdStream {
        match self.stream {
            2 => StdStream::Stderr,
            _ => StdStream::Stdout,
        }
    }
}

/// One message of an agent's `PublishLogs` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishMsg {
    /// The subscription these lines answer.
    pub subscription: String,
    /// Lines, in the order each container wrote them.
    #[serde(default)]
    pub lines: Vec<LogLine>,
    /// This node has sent everything it will for the subscription.
    #[serde(default)]
    pub close: bool,
    /// Why some of the node's logs could not be read.
    #[serde(default)]
    pub error: Option<String>,
}

/// `SubscribeLogs`: a manager that is not the leader forwards a logs request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRequest {
    /// The tasks to read and the node each runs on.
    pub tasks: Vec<(TaskId, NodeId)>,
    /// How to read them.
    pub options: LogOptions,
    /// Services whose tasks started later join a following subscription (`docker service
    /// logs -f`); empty for one task's logs.
    #[serde(default)]
    pub services: Vec<ServiceId>,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEvent {
    /// Lines from the agent of `node`.
    Lines {
        /// The node they come from.
        node: NodeId,
        /// The lines.
        lines: Vec<LogLine>,
    },
    /// Some logs could not be read (swarmkit's "incomplete log stream" warning).
    Error(String),
}
