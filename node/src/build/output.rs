//! The build's JSON message stream: `stream` text, `aux` with the image
//! ID, `errorDetail` at the end of a failed build.

use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Sends messages to the client; a client that went away makes sends fail
/// quietly (the build stops at its next step).
#[derive(Debug, Clone)]
pub struct Output {
    tx: mpsc::Sender<Value>,
    quiet: bool,
}

impl Output {
    /// Messages go to `tx`; `quiet` drops step text (`docker build -q`).
    pub fn new(tx: mpsc::Sender<Value>, quiet: bool) -> Output {
        Output { tx, quiet }
    }

    /// A `{"stream": text}` message.
    pub async fn text(&self, text: impl Into<String>) {
        if !self.quiet {
            let _ = self.tx.send(json!({ "stream": text.into() })).await;
        }
    }

    /// `{"aux":{"ID": id}}`: how the CLI learns the image ID.
    pub async fn aux_id(&self, id: &str) {
        let _ = self.tx.send(json!({ "aux": { "ID": id } })).await;
    }

    /// The final error message, with the exit code of a failed RUN as
    /// `errorDetail.code` (the CLI exits with it).
    pub async fn error(&self, message: &str, code: Option<i64>) {
        let detail = match code {
            Some(c) => json!({ "code": c, "message": message }),
            None => json!({ "message": message }),
        };
        let _ = self
            .tx
            .send(json!({ "errorDetail": detail, "error": message }))
            .await;
    }

    /// Whether the client is gone.
    pub fn closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The 12-hex short form of an ID (`sha256:` stripped).
pub fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
