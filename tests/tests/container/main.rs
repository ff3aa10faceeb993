//! Container life cycle through the real docker CLI (issue #2): run, create flags, start/stop/
//! restart/kill/wait/rm, ps filters, inspect, logs, attach, exec, top, rename, pause, prune,
//! export.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_run;
mod t20_lifecycle;
mod t30_create_flags;
mod t40_list;
mod t50_inspect;
mod t60_logs;
mod t70_tty_attach;
mod t80_exec;
mod t85_misc;
