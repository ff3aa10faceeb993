//! The basic container flow through an SDK (bollard), as programs drive the engine (issue #2).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_bollard;
