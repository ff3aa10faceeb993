//! The container flow through SDKs, as programs drive the engine: bollard (issue #2) and
//! docker-py streams (issue #8).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_bollard;
mod t20_dockerpy;
