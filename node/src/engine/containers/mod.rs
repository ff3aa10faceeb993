//! Container operations, one file per verb (`impl Engine` blocks).

mod attach;
mod create;
mod export;
mod inspect;
mod kill;
mod list;
mod logs;
mod pause;
mod prune;
mod remove;
mod rename;
mod resize;
mod spec;
mod start;
mod stop;
mod top;
mod wait;

pub(crate) use attach::live_output;
pub use create::merge_config;
