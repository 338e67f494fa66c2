//! Delivery to Kinesis: `PutRecords` batches within the API limits, retries of failed entries with
//! exponential backoff and jitter, and the spool when Kinesis cannot take them.
//!
//! Per-symbol order: Kinesis keeps the order of records of one partition key only if a later record is
//! never written before an earlier one. A `PutRecords` call can fail some entries and accept others, so a
//! call never carries two records of the same symbol: delivery proceeds in rounds, each sending the
//! oldest undelivered record of every symbol; a symbol's next record is sent only after its previous one
//! succeeded. Records that still fail after the attempts allowed stop their symbol, and go (with every
//! later record of that symbol) to the spool, in their original order. While the spool holds anything,
//! new records are appended behind it and the spool is replayed first, so nothing overtakes a spooled
//! record.
//!
//! Stop bound: once shutdown is requested, delivery ends `flush_budget` after the sink first sees
//! the request (at once while a call is in flight or a backoff runs): no `PutRecords` call starts
//! after that, a call still in flight is abandoned then, and what was not acknowledged goes to (or
//! stays in) the spool, to be sent on the next start.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use scraper_config::StreamTarget;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::spool::{Record, Spool};

/// `PutRecords` accepts at most this many records per call.
pub const MAX_RECORDS_PER_CALL: usize = 500;
/// `PutRecords` accepts at most this many bytes (data and partition keys) per call.
pub const MAX_BYTES_PER_CALL: usize = 5 << 20;
/// One record (data and partition key) may be at most this large.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Retry behaviour of the sink.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    /// Attempts per record within one delivery (first try included).
    pub max_attempts: u32,
    /// First backoff step; doubled per failed round, plus up to 100% jitter, capped.
    pub backoff_base: Duration,
    /// Largest backoff step.
    pub backoff_cap: Duration,
    /// Records read from the spool per replay window.
    pub replay_window: usize,
    /// Time allowed to deliver once shutdown is requested, in-flight calls included; what is
    /// left goes to the spool.
    pub flush_budget: Duration,
}

impl Default for SinkSettings {
    /// 5 attempts, 100 ms doubling to at most 2 s, windows of 2000, and 9 s to flush on shutdown
    /// (the daemon promises to exit within 10 s of SIGTERM: the last second is for the spool and
    /// the exit).
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(2),
            replay_window: 2000,
            flush_budget: Duration::from_secs(9),
        }
    }
}

/// What one [`Sink::submit`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SinkStats {
    /// Records Kinesis accepted (new or replayed).
    pub put: u64,
    /// Of those, replayed from the spool.
    pub replayed: u64,
    /// Entries sent again after a failure (partial failure or failed call).
    pub retried: u64,
    /// Records written to the spool.
    pub spooled: u64,
    /// Records lost: spool full (oldest), spool unwritable, or larger than Kinesis accepts. Each is
    /// logged as an error.
    pub dropped: u64,
    /// Records waiting in the spool afterwards.
    pub spool_len: u64,
}

/// A Kinesis client for `stream` with the standard credential chain (instance profile on EC2), rustls on
/// ring, 2 s connect and 10 s operation timeouts, and the SDK's own retries off (the sink retries, so it
/// knows what was retried and keeps per-symbol order).
pub async fn kinesis_client(stream: &StreamTarget) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(stream.region.clone()))
        .http_client(http_client())
        .timeout_config(timeouts())
        .retry_config(RetryConfig::disabled());
    if let Some(endpoint) = &stream.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    Client::new(&loader.load().await)
}

/// Like [`kinesis_client`] with fixed credentials (tests against an emulator).
pub fn kinesis_client_with(stream: &StreamTarget, credentials: Credentials) -> Client {
    let mut b = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(stream.region.clone()))
        .credentials_provider(credentials)
        .http_client(http_client())
        .timeout_config(timeouts())
        .retry_config(RetryConfig::disabled());
    if let Some(endpoint) = &stream.endpoint {
        b = b.endpoint_url(endpoint);
    }
    Client::from_conf(b.build())
}

fn http_client() -> aws_sdk_kinesis::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(10))
        .build()
}

/// Kinesis delivery with the spool behind it.
#[derive(Debug)]
pub struct Sink {
    client: Client,
    stream: String,
    spool: Spool,
    settings: SinkSettings,
    stop: StopClock,
}

/// The stop deadline: `budget` after a shutdown request was first seen.
#[derive(Debug)]
struct StopClock {
    shutdown: Option<watch::Receiver<bool>>,
    budget: Duration,
    stop_by: Option<Instant>,
}

impl StopClock {
    /// Sets the stop deadline if shutdown was requested and it is not set yet.
    fn observe(&mut self) {
        if self.stop_by.is_none()
            && let Some(rx) = &self.shutdown
            && *rx.borrow()
        {
            self.stop_by = Some(Instant::now() + self.budget);
        }
    }

    /// The time by which delivery gives up: `deadline`, or sooner once shutdown is requested.
    fn stop_time(&mut self, deadline: Instant) -> Instant {
        self.observe();
        self.stop_by.map_or(deadline, |s| s.min(deadline))
    }

    /// Runs `work` to completion, or until the stop deadline (`None`): a shutdown requested while
    /// it runs sets the deadline at once, so a hung call cannot outlive the stop bound.
    async fn until_stop<F: Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            self.observe();
            if let Some(stop) = self.stop_by {
                return tokio::time::timeout_at(stop, &mut work).await.ok();
            }
            let Some(rx) = self.shutdown.as_mut() else {
                return Some(work.await);
            };
            tokio::select! {
                out = &mut work => return Some(out),
                changed = rx.changed() => {
                    if changed.is_err() {
                        // No one can request a shutdown any more.
                        self.shutdown = None;
                    }
                }
            }
        }
    }
}

/// Which records of a delivery were accepted.
struct Delivery {
    delivered: Vec<bool>,
    put: u64,
    retried: u64,
}

impl Sink {
    /// A sink putting to `stream` through `client`, spooling to `spool`.
    pub fn new(
        client: Client,
        stream: impl Into<String>,
        spool: Spool,
        settings: SinkSettings,
    ) -> Self {
        Self {
            client,
            stream: stream.into(),
            stop: StopClock {
                shutdown: None,
                budget: settings.flush_budget,
                stop_by: None,
            },
            spool,
            settings,
        }
    }

    /// Once `shutdown` turns true, deliveries end `flush_budget` later (calls in flight then are
    /// abandoned) and spool the rest.
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> Self {
        self.stop.shutdown = Some(shutdown);
        self
    }

    /// Records waiting in the spool.
    pub fn spool_len(&self) -> u64 {
        self.spool.len()
    }

    /// Delivers `records` (in order) by `deadline`: straight to Kinesis when the spool is empty, else
    /// behind the spool, which is replayed first. What Kinesis does not take goes to the spool.
    pub async fn submit(&mut self, records: Vec<Record>, deadline: Instant) -> SinkStats {
        self.stop.observe();
        let mut stats = SinkStats {
            dropped: self.spool.take_open_dropped(),
            ..SinkStats::default()
        };
        let records: Vec<Record> = records
            .into_iter()
            .filter(|r| {
                let ok = r.data.len() + r.key.len() <= MAX_RECORD_BYTES;
                if !ok {
                    tracing::error!(
                        key = r.key,
                        bytes = r.data.len(),
                        "record larger than Kinesis accepts; dropped"
                    );
                    stats.dropped += 1;
                }
                ok
            })
            .collect();
        if self.spool.is_empty() {
            let refs: Vec<&Record> = records.iter().collect();
            let d = self.deliver(&refs, deadline).await;
            stats.put += d.put;
            stats.retried += d.retried;
            let rest: Vec<Record> = records
                .into_iter()
                .zip(d.delivered)
                .filter_map(|(r, ok)| (!ok).then_some(r))
                .collect();
            self.spool_records(&rest, &mut stats);
        } else {
            self.spool_records(&records, &mut stats);
            self.replay(deadline, &mut stats).await;
        }
        stats.spool_len = self.spool.len();
        stats
    }

    /// Replays the spool only (no new records), for the end of a run or an idle tick.
    pub async fn replay_only(&mut self, deadline: Instant) -> SinkStats {
        self.submit(Vec::new(), deadline).await
    }

    fn spool_records(&mut self, records: &[Record], stats: &mut SinkStats) {
        if records.is_empty() {
            return;
        }
        match self.spool.append(records) {
            Ok(a) => {
                stats.spooled += a.written;
                stats.dropped += a.dropped;
            }
            Err(e) => {
                // Nothing else can keep them: say so loudly and count them.
                tracing::error!(error = %e, records = records.len(), "spool write failed; records dropped");
                stats.dropped += records.len() as u64;
            }
        }
    }

    async fn replay(&mut self, deadline: Instant, stats: &mut SinkStats) {
        loop {
            let window = match self.spool.peek(self.settings.replay_window) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, "spool read failed; replay postponed");
                    return;
                }
            };
            if window.is_empty() {
                return;
            }
            let refs: Vec<&Record> = window.iter().map(|(_, r)| r).collect();
            let d = self.deliver(&refs, deadline).await;
            stats.put += d.put;
            stats.replayed += d.put;
            stats.retried += d.retried;
            let all = d.delivered.iter().all(|&ok| ok);
            let acked = window
                .iter()
                .zip(&d.delivered)
                .filter_map(|((seq, _), ok)| ok.then_some(*seq));
            if let Err(e) = self.spool.ack(acked) {
                tracing::error!(error = %e, "spool cursor update failed; records may be sent twice");
            }
            if !all {
                return;
            }
        }
    }

    /// Sends `items` in rounds (one record per symbol per call, see the module docs).
    async fn deliver(&mut self, items: &[&Record], deadline: Instant) -> Delivery {
        let mut delivered = vec![false; items.len()];
        let (mut put, mut retried) = (0u64, 0u64);
        // Per-symbol queues of item indices, in order.
        let mut queues: Vec<std::collections::VecDeque<usize>> = Vec::new();
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        for (i, r) in items.iter().enumerate() {
            let q = *by_key.entry(r.key.as_str()).or_insert_with(|| {
                queues.push(Default::default());
                queues.len() - 1
            });
            queues[q].push_back(i);
        }
        let mut attempts = vec![0u32; items.len()];
        let mut failed_rounds = 0u32;
        'rounds: loop {
            let mut heads: Vec<(usize, usize)> = queues
                .iter()
                .enumerate()
                .filter_map(|(q, queue)| queue.front().map(|&i| (i, q)))
                .collect();
            if heads.is_empty() {
                break;
            }
            heads.sort_unstable();
            let mut round_failed = 0u64;
            let mut last_error = None;
            for chunk in chunks(items, &heads) {
                let entries: Vec<PutRecordsRequestEntry> = chunk
                    .iter()
                    .filter_map(|&(i, _)| {
                        PutRecordsRequestEntry::builder()
                            .partition_key(items[i].key.clone())
                            .data(Blob::new(items[i].data.clone()))
                            .build()
                            .ok()
                    })
                    .collect();
                // No call starts after the stop deadline (or the tick's end).
                if Instant::now() >= self.stop.stop_time(deadline) {
                    tracing::warn!(
                        unsent = chunk.len(),
                        "PutRecords: out of time; the rest goes to the spool"
                    );
                    break 'rounds;
                }
                let call = self
                    .client
                    .put_records()
                    .stream_name(&self.stream)
                    .set_records(Some(entries))
                    .send();
                let Some(result) = self.stop.until_stop(call).await else {
                    // Kinesis may or may not have taken them: spooled, they are sent again (at
                    // least once).
                    tracing::warn!(
                        records = chunk.len(),
                        "PutRecords: call abandoned at the stop deadline; the rest goes to the spool"
                    );
                    break 'rounds;
                };
                match result {
                    Ok(out) if out.records().len() == chunk.len() => {
                        for (&(i, q), entry) in chunk.iter().zip(out.records()) {
                            if let Some(code) = entry.error_code() {
                                attempts[i] += 1;
                                round_failed += 1;
                                last_error = Some(format!(
                                    "{code}: {}",
                                    entry.error_message().unwrap_or_default()
                                ));
                            } else {
                                delivered[i] = true;
                                put += 1;
                                queues[q].pop_front();
                            }
                        }
                    }
                    Ok(out) => {
                        for &(i, _) in &chunk {
                            attempts[i] += 1;
                        }
                        round_failed += chunk.len() as u64;
                        last_error = Some(format!(
                            "PutRecords answered {} entries for {}",
                            out.records().len(),
                            chunk.len()
                        ));
                    }
                    Err(e) => {
                        for &(i, _) in &chunk {
                            attempts[i] += 1;
                        }
                        round_failed += chunk.len() as u64;
                        last_error = Some(error_chain(&e));
                    }
                }
            }
            if round_failed == 0 {
                failed_rounds = 0;
                continue;
            }
            failed_rounds += 1;
            // A symbol whose oldest record used up its attempts stops here: the rest of it is spooled.
            let mut stopped = 0;
            for queue in &mut queues {
                if queue
                    .front()
                    .is_some_and(|&i| attempts[i] >= self.settings.max_attempts)
                {
                    queue.clear();
                    stopped += 1;
                }
            }
            let pending = queues.iter().any(|q| !q.is_empty());
            tracing::warn!(
                failed = round_failed,
                stopped_symbols = stopped,
                error = last_error.as_deref().unwrap_or_default(),
                "PutRecords: entries failed"
            );
            if !pending {
                break;
            }
            let step = self
                .settings
                .backoff_base
                .saturating_mul(2u32.saturating_pow(failed_rounds.saturating_sub(1).min(16)))
                .min(self.settings.backoff_cap);
            let wait = step + step.mul_f64(fastrand::f64());
            let stop = self.stop.stop_time(deadline);
            if Instant::now() + wait >= stop
                || self
                    .stop
                    .until_stop(tokio::time::sleep(wait))
                    .await
                    .is_none()
            {
                break;
            }
            retried += queues
                .iter()
                .filter_map(|q| q.front())
                .filter(|&&i| attempts[i] > 0)
                .count() as u64;
        }
        Delivery {
            delivered,
            put,
            retried,
        }
    }
}

/// Splits the heads into calls within the count and size limits.
fn chunks(items: &[&Record], heads: &[(usize, usize)]) -> Vec<Vec<(usize, usize)>> {
    let mut out: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut bytes = 0usize;
    for &(i, q) in heads {
        let size = items[i].data.len() + items[i].key.len();
        let fits = out
            .last()
            .is_some_and(|c| c.len() < MAX_RECORDS_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL);
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(c) = out.last_mut() {
            c.push((i, q));
        }
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_limits() {
        let small = Record {
            key: "A".into(),
            data: vec![0; 100],
        };
        let big = Record {
            key: "B".into(),
            data: vec![0; MAX_RECORD_BYTES - 1],
        };
        let items: Vec<&Record> = std::iter::repeat_n(&small, 1200).collect();
        let heads: Vec<(usize, usize)> = (0..1200).map(|i| (i, i)).collect();
        let sizes: Vec<usize> = chunks(&items, &heads).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![500, 500, 200]);
        let items: Vec<&Record> = std::iter::repeat_n(&big, 12).collect();
        let heads: Vec<(usize, usize)> = (0..12).map(|i| (i, i)).collect();
        let sizes: Vec<usize> = chunks(&items, &heads).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 5, 2]);
    }
}
