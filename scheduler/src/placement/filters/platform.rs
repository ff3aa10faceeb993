//! The image's platforms against the node's.

use crate::model::node::{Node, Platform};
use crate::placement::filter::{Filter, on_nodes};
use crate::placement::group::Group;
use crate::placement::node_info::NodeInfo;

/// Docker reports `x86_64`/`aarch64`; images say `amd64`/`arm64`.
fn normalize(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

/// Whether a node runs one of `platforms` (an empty list or empty fields match anything).
pub fn platform_matches(platforms: &[Platform], node: &Node) -> bool {
    if platforms.is_empty() {
        return true;
    }
    let Some(d) = &node.description else {
        return false;
    };
    let arch = normalize(&d.platform.architecture);
    platforms.iter().any(|p| {
        (p.architecture.is_empty() || normalize(&p.architecture) == arch)
            && (p.os.is_empty() || p.os == d.platform.os)
    })
}

/// Passes nodes whose platform the image supports.
#[derive(Debug, Clone, Copy)]
pub struct PlatformFilter;

impl Filter for PlatformFilter {
    fn enabled(&self, g: &Group<'_>) -> bool {
        !g.spec.placement.platforms.is_empty()
    }
    fn check(&self, g: &Group<'_>, n: &NodeInfo<'_>) -> bool {
        platform_matches(&g.spec.placement.platforms, n.node)
    }
    fn explain(&self, nodes: usize) -> String {
        on_nodes("unsupported platform", nodes)
    }
}
