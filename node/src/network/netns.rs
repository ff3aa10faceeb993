//! Running code inside a container's network namespace.
//!
//! A netlink or UDP socket belongs to the namespace it was opened in, and a
//! namespace is a per-thread attribute. So work inside a container's
//! namespace runs on a dedicated OS thread that enters it (`setns`) and
//! drives a small current-thread runtime; sockets it returns stay in that
//! namespace when handed back to the daemon's runtime. The thread exits
//! afterwards, so no runtime thread ever changes namespace.

use std::future::Future;
use std::os::fd::AsFd;

use nix::sched::CloneFlags;

/// Why entering a namespace failed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The process's namespace file could not be opened or entered.
    #[error("entering the network namespace of process {pid}: {msg}")]
    Enter {
        /// The process.
        pid: u32,
        /// Cause.
        msg: String,
    },
    /// The helper thread died.
    #[error("network namespace helper thread failed")]
    Thread,
}

/// Runs `f` inside the network namespace of process `pid`.
pub async fn run_in<F, Fut, R>(pid: u32, f: F) -> Result<R, NetnsError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = R>,
    R: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("netns-{pid}"))
        .spawn(move || {
            let enter = || -> Result<tokio::runtime::Runtime, String> {
                let file = std::fs::File::open(format!("/proc/{pid}/ns/net"))
                    .map_err(|e| e.to_string())?;
                nix::sched::setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
                    .map_err(|e| e.to_string())?;
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
            };
            let res = match enter() {
                Ok(rt) => Ok(rt.block_on(f())),
                Err(msg) => Err(NetnsError::Enter { pid, msg }),
            };
            let _ = tx.send(res);
        });
    if spawned.is_err() {
        return Err(NetnsError::Thread);
    }
    rx.await.map_err(|_| NetnsError::Thread)?
}
