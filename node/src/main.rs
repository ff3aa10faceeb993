//! `shoal`: the node binary. Parses flags, sets up tracing and signals,
//! and hands over to `shoal_node::daemon::run`.

use anyhow::Context;
use clap::Parser;
use shoal_node::config::{Cli, Command, DaemonConfig};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn init_tracing(cfg: &DaemonConfig) {
    let level = if cfg.debug {
        "debug"
    } else {
        cfg.log_level.as_str()
    };
    let level = match level {
        "fatal" | "panic" => "error",
        other => other,
    };
    let filter = EnvFilter::try_from_env("SHOAL_LOG").unwrap_or_else(|_| {
        EnvFilter::new(format!("{level},h2=info,hyper=info,tower=info,sled=info"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Daemon(flags) => {
            let cfg = DaemonConfig::load(&flags)?;
            init_tracing(&cfg);
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
                shoal_node::daemon::run(cfg, stop).await
            })?;
            Ok(())
        }
    }
}
