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
mod t65_log_drivers;
mod t70_tty_attach;
mod t80_exec;
mod t85_misc;
mod t90_volumes;
mod t90_workdir_escape;
mod t95_file_modes;
mod t95_options;
mod t95_schema_walk;
mod t96_seccomp;
mod t97_cp_diff;
mod t98_resources;
mod t99_health;
