//! `docker kill` and the signal parsing shared with stop.

use std::str::FromStr;

use nix::sys::signal::Signal;

use super::super::record::Status;
use super::super::{Engine, EngineError, EngineResult};

/// Parses `SIGTERM`, `TERM`, `term` or `15` into a signal number.
pub(crate) fn parse_signal(s: &str) -> EngineResult<u32> {
    let t = s.trim();
    if let Ok(n) = t.parse::<u32>() {
        if n == 0 || n > 64 {
            return Err(EngineError::Invalid(format!("Invalid signal: {s}")));
        }
        return Ok(n);
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name)
        .map(|sig| sig as i32 as u32)
        .map_err(|_| EngineError::Invalid(format!("Invalid signal: {s}")))
}

impl Engine {
    /// `POST /containers/{id}/kill`; 409 when not running.
    #[tracing::instrument(skip_all, fields(container.id = %key))]
    pub async fn kill(&self, key: &str, signal: Option<String>) -> EngineResult<()> {
        let c = self.lookup(key)?;
        let sig = match signal.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(s)?,
            None => 9,
        };
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if !rec.state.status.is_live() {
            return Err(EngineError::Conflict(format!(
                "cannot kill container: {key}: container {} is not running",
                rec.id
            )));
        }
        if sig == 9 || sig == 15 {
            let (_, r) = c.update(|r| r.state.manually_stopped = true);
            self.persist(&r).await?;
        }
        if rec.state.status == Status::Paused && sig == 9 {
            // A frozen task cannot act on SIGKILL until thawed.
            let _ = self.runtime().task_resume(&rec.id).await;
        }
        let mut rx = c.state_tx.subscribe();
        let exits = rx.borrow().exits;
        self.runtime().task_kill(&rec.id, sig, sig == 9).await?;
        self.emit(&rec, "kill", &[("signal", sig.to_string())]);
        if sig == 9 {
            // dockerd's kill with SIGKILL returns once the container is down.
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                rx.wait_for(|s| !s.running || s.exits > exits),
            )
            .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_in_all_docker_forms() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), 10);
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
