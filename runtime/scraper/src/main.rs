//! `scraper --config /etc/mystocktracker/scraper.yaml`: wiring only (see the library for the work).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use scraper::{Sink, SinkSettings, Spool, kinesis_client};
use scraper_config::{LoadError, ScraperConfig};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

fn main() -> ExitCode {
    let Some(path) = config_path() else {
        eprintln!("usage: scraper --config <file>");
        return ExitCode::from(2);
    };
    init_logs();
    let config = match ScraperConfig::load(&path) {
        Ok(c) => c,
        Err(e @ LoadError::Invalid(_)) | Err(e @ LoadError::Read { .. }) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(daemon(config));
    // A Kinesis call abandoned at the stop deadline may leave a blocking task behind (a DNS
    // lookup): the stop bound does not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "scraper failed");
            ExitCode::FAILURE
        }
    }
}

fn config_path() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    match (args.next()?.to_str()?, args.next(), args.next()) {
        ("--config", Some(p), None) => Some(PathBuf::from(p)),
        _ => None,
    }
}

/// JSON lines on stdout (journald keeps them); level from `MST_LOG` (`error`..`trace`, default `info`).
fn init_logs() {
    let level = std::env::var("MST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_max_level(level)
        .with_writer(std::io::stdout)
        .init();
}

async fn daemon(config: ScraperConfig) -> anyhow::Result<()> {
    let spool = Spool::open(&config.spool.dir, config.spool.max_bytes())
        .with_context(|| format!("opening the spool in {}", config.spool.dir))?;
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping: no new fetches, flushing");
        let _ = tx.send(true);
    });
    let settings = SinkSettings::default();
    let flush_budget = settings.flush_budget;
    let client = kinesis_client(&config.stream).await;
    let sink =
        Sink::new(client, config.stream.name.clone(), spool, settings).with_shutdown(rx.clone());
    tracing::info!(
        stream = config.stream.name,
        region = config.stream.region,
        symbols = config.symbols.len(),
        sources = config.sources.len(),
        interval_seconds = config.interval_seconds,
        "started"
    );
    scraper::run(&config, sink, rx, flush_budget).await?;
    Ok(())
}
