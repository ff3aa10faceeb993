//! The only place that implements `shoal_api` backend traits: thin adapters
//! from the API's calls to the engine and image service, and the one place
//! domain errors become `ApiError`s.

pub mod archive;
pub mod build;
pub mod containers;
pub mod errors;
pub mod exec;
pub mod images;
pub mod networks;
pub mod nodes;
mod registry_info;
pub mod secrets;
pub mod service_logs;
pub mod services;
pub mod swarm;
pub mod system;
pub mod volumes;
