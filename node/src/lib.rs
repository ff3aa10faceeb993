//! Shoal's node: the `shoal` binary's library.
//!
//! ```text
//! main.rs ─> daemon::run
//!              ├─ runtime::supervisor   embedded containerd (unless --containerd)
//!              ├─ runtime::Runtime      gRPC to containerd (the only containerd_client user)
//!              ├─ image::ImageService   images in containerd's content store + snapshots
//!              ├─ engine::Engine        containers: records in sled, FIFOs, logs, exits
//!              ├─ events::EventsBus     `docker events`
//!              └─ backends::*           shoal_api backend traits over the services above
//!                  └─ shoal_api::server (unix/tcp listeners)
//! ```
//!
//! Tracing fields: `container.id`, `exec.id`, `image.ref`, `api.method`,
//! `api.path`, `http.status`.

pub mod agent;
pub mod backends;
pub mod build;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod events;
pub mod image;
pub mod live;
pub mod metrics;
pub mod net_config;
pub mod network;
pub mod registry;
pub mod reload;
pub mod runtime;
pub mod volume;
