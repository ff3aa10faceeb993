//! Shoal side by side with dockerd: the same requests, and every field dockerd returns must be in
//! Shoal's answer too (values differ; shapes must not). Needs dockerd (`apt-get install docker.io`).

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_shapes;
