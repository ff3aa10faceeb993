//! `shoal`: the node binary. Parses flags, sets up tracing and signals,
//! and hands over to `shoal_node::daemon::run`.

use anyhow::Context;
use clap::Parser;
use std::sync::Arc;

use shoal_node::config::{Cli, Command, DaemonConfig};
use shoal_node::daemon::DaemonHooks;
use shoal_node::reload::{LogLevelHook, effective_level};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn filter_for(level: &str) -> EnvFilter {
    // netlink-packet-route warns about every kernel attribute newer than itself.
    EnvFilter::new(format!(
        "{level},h2=info,hyper=info,tower=info,sled=info,netlink_packet_route=error"
    ))
}

/// Installs the subscriber; the returned hook swaps the level on a reload
/// (unless `SHOAL_LOG` fixed the filter).
fn init_tracing(cfg: &DaemonConfig) -> LogLevelHook {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = effective_level(cfg.debug, &cfg.log_level);
    let from_env = EnvFilter::try_from_env("SHOAL_LOG").ok();
    let fixed = from_env.is_some();
    let (filter, handle) =
        tracing_subscriber::reload::Layer::new(from_env.unwrap_or_else(|| filter_for(level)));
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    Arc::new(move |level: &str| {
        if fixed {
            return Ok(());
        }
        handle.reload(filter_for(level)).map_err(|e| e.to_string())
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Daemon(flags) => {
            // Before the config is checked: a default `--log-driver journald` needs it.
            if let Some(p) = &flags.journald_socket {
                shoal_node::engine::logdriver::journald::set_socket(p.clone());
            }
            let cfg = DaemonConfig::load(&flags)?;
            let set_log_level = init_tracing(&cfg);
            let hooks = DaemonHooks {
                flags,
                set_log_level,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(async move {
                let stop = CancellationToken::new();
                let signals = stop.clone();
                tokio::spawn(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut term), Ok(mut int)) = (
                        signal(SignalKind::terminate()),
                        signal(SignalKind::interrupt()),
                    ) else {
                        tracing::error!("cannot install signal handlers");
                        return;
                    };
                    tokio::select! {
                        _ = term.recv() => tracing::info!("SIGTERM received"),
                        _ = int.recv() => tracing::info!("SIGINT received"),
                    }
                    signals.cancel();
                });
                shoal_node::daemon::run(cfg, hooks, stop).await
            })?;
            Ok(())
        }
    }
}
