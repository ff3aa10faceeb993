//! Network modes before real networking lands (issue #2): the default gives the container its own
//! namespace with loopback only; `--network host` shares the host's; `--network none` is empty.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_modes;
