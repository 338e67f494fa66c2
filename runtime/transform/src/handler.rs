//! The handler: one Kinesis batch in, `BatchItemFailures` out.
//!
//! Steps: decode and validate every record (the shared quote crate); encode the valid ones as line
//! protocol into gzip bodies of at most 5,000 lines and write them in shard order, stopping at the
//! first failed write (a body whose points InfluxDB refuses is bisected instead, see
//! [`crate::write`]); quarantine the invalid records and the records InfluxDB refused that precede
//! the first failure in one S3 object; report the first failed record.
//!
//! # Delivery guarantees
//!
//! The event source mapping uses `ReportBatchItemFailures`. With it, Lambda checkpoints the shard
//! up to (not including) the *lowest* sequence number we return, and invokes us again with that
//! record and every record after it. So we return exactly one identifier: the sequence number of
//! the first record, in shard order (the order of the event's records), that was not fully
//! handled. Every record before it is done (written, or quarantined); it and everything after it
//! are retried. That is at-least-once delivery:
//!
//! - a valid record after the failure point may already have been written before the retry; the
//!   retry writes it again, which is harmless because InfluxDB identifies a point by measurement,
//!   tags and timestamp and overwrites it (the write is idempotent). We still stop writing at the
//!   first failed body: later bodies would only be written twice.
//! - records InfluxDB refuses on their own (400/422: a field type conflict, a timestamp outside
//!   the retention policy) are quarantined like invalid records, with the server's explanation;
//!   a refusal of the request itself (401/403/404: token, database, bucket) quarantines nothing
//!   and is a failure like an outage.
//! - invalid records are never reported as failures (retrying cannot make them valid) — unless
//!   the quarantine write itself fails: then the first quarantined record becomes a failure point
//!   too, so the invalid records are retried rather than lost (and the valid records after it are
//!   rewritten, idempotently).
//! - only invalid records *before* the failure point are quarantined: the others are in the
//!   retried batch and will be quarantined then. The object key comes from the batch's first
//!   record, so a whole-batch retry (crash, timeout) overwrites the object rather than
//!   duplicating it, and a retry that starts later writes a new key with the records not yet
//!   quarantined.
//! - a record that keeps failing (InfluxDB down or misconfigured) blocks its shard until the
//!   mapping's maximum record age or retry count; then the mapping sends the batch's metadata to
//!   the on-failure destination (the failed-events queue) and moves on.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use quote_record::{Quote, Timestamp};
use tracing::{debug, error, info, warn};

use crate::config::Config;
use crate::influx::{Body, BodyBuilder, WriteError, Writer};
use crate::quarantine::{self, Entry, Quarantine};
use crate::secrets::TokenCache;
use crate::write::{self, Limits};

/// How long [`handle`] and [`process`] give an invocation when no deadline is known: well
/// within the stack's default function timeout (60 s).
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_secs(30);

/// What the handler needs, built once per container.
#[derive(Debug)]
pub struct Transform {
    writer: Writer,
    tokens: TokenCache,
    quarantine: Quarantine,
    limits: Limits,
}

impl Transform {
    /// Assembles the parts.
    pub fn new(writer: Writer, tokens: TokenCache, quarantine: Quarantine) -> Self {
        Self {
            writer,
            tokens,
            quarantine,
            limits: Limits::default(),
        }
    }

    /// The same, with other bisection limits.
    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    /// Builds the parts from the configuration and an AWS SDK configuration. S3 uses path-style
    /// addressing when the SDK configuration has an endpoint override (a local emulator).
    pub fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, WriteError> {
        let writer = Writer::new(&config.influx)?;
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        let s3 = lambda_support::s3_client(sdk);
        Ok(Self::new(
            writer,
            TokenCache::new(secrets, config.token_secret_id.clone()),
            Quarantine::new(
                s3,
                config.quarantine_bucket.clone(),
                config.quarantine_prefix.clone(),
            ),
        ))
    }

    /// The token cache (how often the secret was read).
    pub fn tokens(&self) -> &TokenCache {
        &self.tokens
    }
}

/// What one invocation did, for its log line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records in the event.
    pub records: usize,
    /// Records that passed validation.
    pub valid: usize,
    /// Records that failed validation.
    pub invalid: usize,
    /// Points InfluxDB acknowledged.
    pub written: usize,
    /// Write requests sent (a 401 retry and the parts of a bisected body count).
    pub requests: usize,
    /// Records InfluxDB refused on their own (quarantined with the invalid ones).
    pub rejected: usize,
    /// Records put in the quarantine object.
    pub quarantined: usize,
    /// Key of the quarantine object, when one was written.
    pub quarantine_key: Option<String>,
    /// Index in the event of the first record to retry.
    pub failed_from: Option<usize>,
}

/// Handles one batch of Kinesis records (all from one shard, in shard order), with
/// [`DEFAULT_TIME_BUDGET`]: see [`handle_until`].
// Not `async`: returning `handle_until`'s future itself keeps the binary's main future within the
// compiler's query depth limit (one more async layer overflows it).
pub fn handle(
    transform: &Transform,
    event: KinesisEvent,
) -> impl Future<Output = KinesisEventResponse> + '_ {
    handle_until(transform, event, Instant::now() + DEFAULT_TIME_BUDGET)
}

/// Handles one batch of Kinesis records (all from one shard, in shard order); bisection sends no
/// request that could end after `deadline` (see [`crate::write`]). Never fails as a whole: every
/// problem is expressed as a batch item failure (see the module documentation).
pub async fn handle_until(
    transform: &Transform,
    event: KinesisEvent,
    deadline: Instant,
) -> KinesisEventResponse {
    let started = Instant::now();
    let outcome = process_until(transform, &event.records, deadline).await;
    let failed_sequence_number = outcome
        .failed_from
        .and_then(|i| event.records.get(i))
        .map(|r| r.kinesis.sequence_number.clone());
    info!(
        records = outcome.records,
        valid = outcome.valid,
        invalid = outcome.invalid,
        written = outcome.written,
        requests = outcome.requests,
        rejected = outcome.rejected,
        quarantined = outcome.quarantined,
        quarantine_key = outcome.quarantine_key.as_deref(),
        retry_from_sequence_number = failed_sequence_number.as_deref(),
        secret_reads = transform.tokens.reads(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "batch done"
    );
    let mut response = KinesisEventResponse::default();
    if let Some(sequence_number) = failed_sequence_number {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number);
        response.batch_item_failures.push(failure);
    }
    response
}

/// The Lambda context's deadline (milliseconds since the Unix epoch) as an [`Instant`].
pub fn deadline_from_epoch_millis(deadline_ms: u64) -> Instant {
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Instant::now() + left
}

/// The work of [`handle`], returning what happened.
pub fn process<'a>(
    transform: &'a Transform,
    records: &'a [KinesisEventRecord],
) -> impl Future<Output = Outcome> + 'a {
    process_until(transform, records, Instant::now() + DEFAULT_TIME_BUDGET)
}

/// The work of [`handle_until`], returning what happened.
pub async fn process_until(
    transform: &Transform,
    records: &[KinesisEventRecord],
    deadline: Instant,
) -> Outcome {
    let mut outcome = Outcome {
        records: records.len(),
        ..Outcome::default()
    };
    let encoded = encode(records);
    outcome.valid = encoded.valid;
    outcome.invalid = encoded.invalid.len();
    outcome.failed_from = encoded.failed_from;
    if let Some(i) = encoded.failed_from {
        error!(
            index = i,
            "encoding failed; the batch is retried from this record"
        );
    }

    let report = write::write_bodies(
        &transform.writer,
        &transform.tokens,
        encoded.bodies.iter().map(|(_, body)| body),
        &encoded.line_records,
        transform.limits,
        deadline,
    )
    .await;
    outcome.written = report.written;
    outcome.requests = report.requests;
    outcome.rejected = report.rejected.len();
    if let Some(i) = report.failed_from {
        fail_from(&mut outcome, i);
    }

    // Records after the failure point are in the retried batch: quarantine them then.
    let limit = outcome.failed_from.unwrap_or(usize::MAX);
    let rejected = report.rejected.into_iter().filter_map(|r| {
        let record = records.get(r.record)?;
        let entry = Entry::rejected(
            &r.message,
            &record.kinesis.sequence_number,
            &record.kinesis.partition_key,
            arrival(record),
            &record.kinesis.data.0,
        );
        Some((r.record, entry))
    });
    let mut quarantined: Vec<(usize, Entry)> = encoded
        .invalid
        .into_iter()
        .chain(rejected)
        .filter(|(i, _)| *i < limit)
        .collect();
    quarantined.sort_by_key(|(i, _)| *i);
    let first_quarantined = quarantined.first().map(|(i, _)| *i);
    let lines: Vec<Entry> = quarantined.into_iter().map(|(_, entry)| entry).collect();
    if let (Some(first_quarantined), Some(first)) = (first_quarantined, records.first()) {
        let arrival = arrival(first);
        let key = quarantine::object_key(
            transform.quarantine.prefix(),
            arrival.get(..10).unwrap_or("unknown"),
            shard_id(first),
            &first.kinesis.sequence_number,
        );
        for entry in &lines {
            debug!(
                sequence_number = entry.sequence_number,
                reason = entry.reason,
                message = entry.message,
                "invalid record"
            );
        }
        match transform.quarantine.put(&key, &lines).await {
            Ok(()) => {
                warn!(
                    count = lines.len(),
                    bucket = transform.quarantine.bucket(),
                    key,
                    "quarantined invalid records"
                );
                outcome.quarantined = lines.len();
                outcome.quarantine_key = Some(key);
            }
            Err(e) => {
                // Not losing them: the batch is retried from the first of them.
                error!(error = %e, "quarantine failed; the invalid records are retried");
                outcome.failed_from = Some(limit.min(first_quarantined));
            }
        }
    }
    outcome
}

/// A batch decoded and encoded: gzip bodies with the index of their first record, and the
/// invalid records with their index.
struct Encoded {
    bodies: Vec<(usize, Body)>,
    /// The index of the record of each line of the bodies, in order.
    line_records: Vec<usize>,
    invalid: Vec<(usize, Entry)>,
    valid: usize,
    /// Set when encoding itself failed (it cannot in practice: gzip into memory).
    failed_from: Option<usize>,
}

fn encode(records: &[KinesisEventRecord]) -> Encoded {
    let mut out = Encoded {
        bodies: Vec::new(),
        line_records: Vec::new(),
        invalid: Vec::new(),
        valid: 0,
        failed_from: None,
    };
    let mut body: Option<(usize, BodyBuilder)> = None;
    for (i, record) in records.iter().enumerate() {
        let data = &record.kinesis.data.0;
        // The time-sanity rule's reference: when Kinesis received the record. It is fixed for the
        // record's life, so a late or retried invocation judges the record the same way.
        let decoded =
            Quote::from_json(data).and_then(|q| q.check_arrival(arrived_at(record)).map(|()| q));
        match decoded {
            Ok(quote) => {
                out.valid += 1;
                let (first, builder) = body.get_or_insert_with(|| (i, BodyBuilder::new()));
                if builder.push(&quote).is_err() {
                    out.failed_from = Some(*first);
                    return out;
                }
                out.line_records.push(i);
                if builder.is_full()
                    && let Some((first, builder)) = body.take()
                {
                    match builder.finish() {
                        Ok(finished) => out.bodies.push((first, finished)),
                        Err(_) => {
                            out.failed_from = Some(first);
                            return out;
                        }
                    }
                }
            }
            Err(invalid) => out.invalid.push((
                i,
                Entry::new(
                    &invalid,
                    &record.kinesis.sequence_number,
                    &record.kinesis.partition_key,
                    arrival(record),
                    data,
                ),
            )),
        }
    }
    if let Some((first, builder)) = body {
        match builder.finish() {
            Ok(finished) => out.bodies.push((first, finished)),
            Err(_) => out.failed_from = Some(first),
        }
    }
    out
}

fn fail_from(outcome: &mut Outcome, index: usize) {
    outcome.failed_from = Some(outcome.failed_from.map_or(index, |f| f.min(index)));
}

/// The shard of a record: the part of its event id (`shardId-000000000000:<sequence number>`)
/// before the colon.
fn shard_id(record: &KinesisEventRecord) -> &str {
    match record.event_id.as_deref() {
        Some(id) => id.split_once(':').map_or(id, |(shard, _)| shard),
        None => "unknown-shard",
    }
}

/// When Kinesis received the record (`approximateArrivalTimestamp`).
fn arrived_at(record: &KinesisEventRecord) -> Timestamp {
    let t = &record.kinesis.approximate_arrival_timestamp.0;
    let nanos = t
        .timestamp()
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(t.timestamp_subsec_nanos()));
    Timestamp::from_unix_nanos(nanos)
}

/// [`arrived_at`] as RFC 3339 UTC (always at least `YYYY-MM-DD` long).
fn arrival(record: &KinesisEventRecord) -> String {
    arrived_at(record).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_deadlines_become_instants() {
        let now_ms = |offset: Duration| {
            (SystemTime::now() + offset)
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis() as u64
        };
        let before = Instant::now();
        let past = deadline_from_epoch_millis(1_000);
        assert!(
            past <= Instant::now(),
            "a past deadline is now at the latest"
        );
        let in_a_minute = deadline_from_epoch_millis(now_ms(Duration::from_secs(60)));
        assert!(in_a_minute > before + Duration::from_secs(50));
        assert!(in_a_minute <= Instant::now() + Duration::from_secs(60));
    }
}
