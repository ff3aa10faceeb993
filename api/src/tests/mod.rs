//! Router and server tests over fake backends (test builds only).

mod fakes;
mod router;
mod services;
mod services_fakes;
mod socket;
mod swarm;
mod swarm_fakes;
