//! Router and server tests over fake backends (test builds only).

mod fakes;
mod router;
mod socket;
mod swarm;
mod swarm_fakes;
