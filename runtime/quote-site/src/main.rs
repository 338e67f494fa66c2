//! `quote-site`: the bundled local quote site (see the library's documentation). Prints its URL
//! (`http://127.0.0.1:PORT`) as the first line of standard output, logs to standard error, and
//! serves until it is killed.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use quote_site::{QuoteSite, SiteConfig};

/// Serves deterministic quote pages (HTML and JSON) on 127.0.0.1 for the local pipeline.
#[derive(Debug, Parser)]
#[command(name = "quote-site", version, about)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one (the URL is printed first either way).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of prices, volumes and injected errors.
    #[arg(long, default_value_t = SiteConfig::default().seed)]
    seed: u64,
    /// Milliseconds between price moves.
    #[arg(long, default_value_t = 1000)]
    tick_ms: u64,
    /// Share of quote requests answered 429 with Retry-After (0 to 1).
    #[arg(long, default_value_t = SiteConfig::default().too_many_requests_rate)]
    too_many_requests_rate: f64,
    /// Share of quote requests answered 500 (0 to 1).
    #[arg(long, default_value_t = SiteConfig::default().server_error_rate)]
    server_error_rate: f64,
    /// Retry-After of a 429, in seconds.
    #[arg(long, default_value_t = SiteConfig::default().retry_after_seconds)]
    retry_after: u32,
    /// The walk stays within this many percent of its level (keep it under half the alert threshold).
    #[arg(long, default_value_t = SiteConfig::default().drift_pct)]
    drift_pct: f64,
    /// Largest move per tick, in percent.
    #[arg(long, default_value_t = SiteConfig::default().step_pct)]
    step_pct: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logs();
    let config = SiteConfig {
        seed: args.seed,
        tick: Duration::from_millis(args.tick_ms),
        too_many_requests_rate: args.too_many_requests_rate,
        server_error_rate: args.server_error_rate,
        retry_after_seconds: args.retry_after,
        drift_pct: args.drift_pct,
        step_pct: args.step_pct,
        ..SiteConfig::default()
    };
    let site = match QuoteSite::start(config, args.port) {
        Ok(site) => site,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", site.url())
        .and_then(|()| out.flush())
        .is_err()
    {
        eprintln!("error: cannot write the URL to standard output");
        return ExitCode::FAILURE;
    }
    drop(out);
    tracing::info!(url = %site.url(), "serving quote pages");
    // The server runs on its own threads until the process is killed.
    loop {
        std::thread::park();
    }
}

/// Logs to standard error: `info` (injected errors, jumps) unless `MST_LOG` says otherwise
/// (`debug` shows every quote served).
fn init_logs() {
    let level = std::env::var("MST_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .init();
}
