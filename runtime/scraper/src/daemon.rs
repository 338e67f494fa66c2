//! The daemon loop: a tick every `interval_seconds`, its records to the sink, one summary line per tick,
//! and a clean stop on shutdown (stop fetching, flush to Kinesis or the spool, return).

use std::sync::Arc;
use std::time::Duration;

use quote_record::Quote;
use scraper_config::ScraperConfig;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::fetch::FetchSettings;
use crate::heartbeat::Heartbeat;
use crate::sink::{Sink, SinkStats};
use crate::spool::Record;
use crate::tick::{Scrape, SetupError, TickReport};

/// Totals over a run, for the last log line and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Ticks run.
    pub ticks: u64,
    /// Pages fetched.
    pub fetched: u64,
    /// Records made.
    pub parsed: u64,
    /// Pages that gave no record.
    pub failed: u64,
    /// Records Kinesis accepted.
    pub put: u64,
    /// Retries (HTTP and Kinesis).
    pub retried: u64,
    /// Records written to the spool.
    pub spooled: u64,
    /// Records dropped (each also logged).
    pub dropped: u64,
}

/// The Kinesis record of a quote: partition key = symbol, data = the record's JSON.
pub fn record_of(q: &Quote) -> Record {
    Record {
        key: q.symbol().as_str().to_owned(),
        data: q.to_json().into_bytes(),
    }
}

/// Runs ticks until `shutdown` turns true, then flushes and returns the totals.
pub async fn run(
    config: &ScraperConfig,
    mut sink: Sink,
    shutdown: watch::Receiver<bool>,
    flush_budget: Duration,
) -> Result<Totals, SetupError> {
    let scrape = Arc::new(Scrape::new(config, FetchSettings::from_config(config))?);
    let period = Duration::from_secs(u64::from(config.interval_seconds.max(1)));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut totals = Totals::default();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        let report = scrape.tick(started + period, shutdown.clone()).await;
        let stopping = *stop.borrow();
        let deadline = if stopping {
            Instant::now() + flush_budget
        } else {
            // Delivery may use the rest of the period, and at least a few seconds.
            (started + period).max(Instant::now() + Duration::from_secs(3))
        };
        let records: Vec<Record> = report.records.iter().map(record_of).collect();
        let stats = sink.submit(records, deadline).await;
        totals.ticks += 1;
        summarize(&mut totals, &report, &stats, started.elapsed());
        if let Some(path) = &config.heartbeat_file {
            beat(config, &totals, std::path::Path::new(path));
        }
        if stopping {
            break;
        }
    }
    tracing::info!(
        ticks = totals.ticks,
        fetched = totals.fetched,
        parsed = totals.parsed,
        failed = totals.failed,
        put = totals.put,
        retried = totals.retried,
        spooled = totals.spooled,
        dropped = totals.dropped,
        spool_len = sink.spool_len(),
        "stopped"
    );
    Ok(totals)
}

/// Rewrites the heartbeat; a failure is logged, never fatal (the stale heartbeat then says enough).
fn beat(config: &ScraperConfig, totals: &Totals, path: &std::path::Path) {
    let heartbeat = Heartbeat {
        shard: config.shard.index,
        shards: config.shard.count,
        at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        ticks: totals.ticks,
        quotes: totals.parsed,
        fetch_failures: totals.failed,
        put: totals.put,
    };
    if let Err(error) = heartbeat.write(path) {
        tracing::warn!(path = %path.display(), %error, "cannot write the heartbeat");
    }
}

fn summarize(totals: &mut Totals, report: &TickReport, stats: &SinkStats, took: Duration) {
    let parsed = report.records.len() as u64;
    let failed = report.failures.len() as u64 + report.abandoned;
    let retried = report.retried + stats.retried;
    totals.fetched += report.fetched;
    totals.parsed += parsed;
    totals.failed += failed;
    totals.put += stats.put;
    totals.retried += retried;
    totals.spooled += stats.spooled;
    totals.dropped += stats.dropped;
    tracing::info!(
        tick = totals.ticks,
        fetched = report.fetched,
        parsed,
        failed,
        put = stats.put,
        replayed = stats.replayed,
        retried,
        http_retried = report.retried,
        put_retried = stats.retried,
        spooled = stats.spooled,
        dropped = stats.dropped,
        spool_len = stats.spool_len,
        interrupted = report.interrupted,
        abandoned = report.abandoned,
        took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        "tick"
    );
}
