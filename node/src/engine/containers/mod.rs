//! Container operations, one file per verb (`impl Engine` blocks).

mod archive;
mod attach;
mod changes;
mod commit;
mod create;
mod export;
mod health_config;
mod inspect;
mod kill;
mod list;
mod logs;
mod network;
mod options;
mod pause;
mod prune;
mod remove;
mod rename;
mod resize;
mod spec;
mod start;
mod stats;
mod stop;
mod top;
mod update;
mod volumes;
mod wait;

pub(crate) use attach::live_output;
pub use commit::CommitOptions;
pub use create::merge_config;
pub use health_config::Probe;
pub(crate) use health_config::probe as health_probe;
pub use stats::StatsMode;
pub use volumes::VolumeMount;
