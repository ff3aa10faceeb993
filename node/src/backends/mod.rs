//! The only place that implements `shoal_api` backend traits: thin adapters
//! from the API's calls to the engine and image service, and the one place
//! domain errors become `ApiError`s.

pub mod containers;
pub mod errors;
pub mod exec;
pub mod images;
pub mod nodes;
pub mod swarm;
pub mod system;
