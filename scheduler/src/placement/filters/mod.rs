//! The filters, in swarmkit's pipeline order.

mod constraints;
mod host_ports;
mod max_replicas;
mod platform;
mod ready;
mod resources;

pub use constraints::ConstraintFilter;
pub use host_ports::HostPortFilter;
pub use max_replicas::MaxReplicasFilter;
pub use platform::{PlatformFilter, platform_matches};
pub use ready::ReadyFilter;
pub use resources::ResourceFilter;
