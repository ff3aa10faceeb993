//! Polling with a deadline and a reason, instead of sleeping and hoping.
//!
//! Every wait in the suite names what it waits for, so a timeout says which expectation failed
//! rather than "test hung".

use std::time::{Duration, Instant};

/// How often [`until`] re-checks its condition.
const POLL: Duration = Duration::from_millis(50);

/// Calls `check` until it returns `Some`, or panics after `timeout` with `reason`.
///
/// `check` should be cheap and side-effect free apart from observing the system.
pub fn until<T>(timeout: Duration, reason: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {reason}");
        }
        std::thread::sleep(POLL);
    }
}

/// Like [`until`], but returns `None` on timeout instead of panicking, for callers that want to
/// report the last observed state themselves.
pub fn try_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// Seconds, for readable call sites: `wait::until(secs(10), ...)`.
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
