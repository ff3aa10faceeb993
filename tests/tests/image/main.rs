//! Local images through the real docker CLI (issue #2): load (docker-save and OCI), save, import,
//! ls filters, inspect, tag, rmi, history, prune; and (issue #9) push, pull, login against a real
//! loopback registry. Images are built in Rust and reach registries by docker push.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod t10_load_save;
mod t20_list;
mod t30_tag_rmi;
mod t40_history_prune;
mod t50_registry;
mod t60_commit;
mod t70_build;

use shoal_tests::image::ImageSpec;

/// Loads `spec` as a docker-save archive; returns the CLI output.
pub fn load(d: &shoal_tests::Daemon, spec: &ImageSpec) -> String {
    d.cli().run_stdin(&["load"], &spec.docker_archive()).ok()
}
