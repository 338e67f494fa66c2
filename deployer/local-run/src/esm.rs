//! The Kinesis event source mapping, as Lambda runs it, from the template's
//! `AWS::Lambda::EventSourceMapping`: one poller per shard (batches of a shard in order, one at a
//! time), batches of up to `BatchSize` records gathered for at most
//! `MaximumBatchingWindowInSeconds`, and Lambda's error handling:
//!
//! - `ReportBatchItemFailures`: a response `{"batchItemFailures":[{"itemIdentifier": seq}]}` makes
//!   the records from the lowest failed sequence number on the next attempt (the ones before it are
//!   done); an identifier that is not in the batch fails the whole batch.
//! - `BisectBatchOnFunctionError`: a failed batch of more than one record is split in two halves,
//!   retried in order; splitting does not count as a retry.
//! - `MaximumRetryAttempts` (-1: until the records expire) and `MaximumRecordAgeInSeconds` (-1:
//!   never): records past either are discarded, and a failure record describing them (Lambda's
//!   shape, with `KinesisBatchInfo`) is sent to the `DestinationConfig.OnFailure` queue.
//!
//! Retries of a failed batch wait [`RETRY_PAUSE`] (Lambda retries at once, then backs off; locally a
//! short pause keeps a broken function from spinning).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::types::{Record, ShardIteratorType};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::function::{Invoke, Outcome};
use crate::resolve::{ResolveError, Resolver};

/// The pause before retrying a failed batch.
pub const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The pause between two `GetRecords` calls that returned nothing (Lambda polls each shard about
/// once a second; the Kinesis limit is five reads per second per shard).
pub const POLL_PAUSE: Duration = Duration::from_millis(250);

/// The mapping's settings, read from the template.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingSettings {
    /// The stream's ARN (`EventSourceArn`).
    pub stream_arn: String,
    /// The stream's name (from the ARN).
    pub stream_name: String,
    /// `StartingPosition`: `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    /// `BatchSize` (default 100).
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds` (default 0).
    pub batching_window: Duration,
    /// `FunctionResponseTypes` has `ReportBatchItemFailures`.
    pub report_item_failures: bool,
    /// `BisectBatchOnFunctionError`.
    pub bisect: bool,
    /// `MaximumRetryAttempts`; `None` for -1 (retry until the records expire).
    pub max_retries: Option<u32>,
    /// `MaximumRecordAgeInSeconds`; `None` for -1 (never expire).
    pub max_record_age: Option<Duration>,
    /// `DestinationConfig.OnFailure.Destination` (a queue ARN).
    pub on_failure: Option<String>,
}

/// A setting of the mapping the local run cannot use.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// A value did not resolve.
    #[error("the event source mapping's {property}: {source}")]
    Resolve {
        /// The property.
        property: &'static str,
        /// Why.
        source: ResolveError,
    },
    /// A value is malformed.
    #[error("the event source mapping's {0} is not valid: {1}")]
    Invalid(&'static str, String),
}

impl MappingSettings {
    /// Reads the settings from the resource's `Properties`, resolving references with `resolver`.
    pub fn from_resource(properties: &Value, resolver: &Resolver) -> Result<Self, MappingError> {
        let resolve = |property: &'static str, value: &Value| {
            resolver
                .resolve(value)
                .map_err(|source| MappingError::Resolve { property, source })
        };
        let stream_arn = resolve("EventSourceArn", &properties["EventSourceArn"])?;
        let stream_name = stream_arn
            .rsplit_once(":stream/")
            .map(|(_, name)| name.to_owned())
            .ok_or_else(|| MappingError::Invalid("EventSourceArn", stream_arn.clone()))?;
        let int = |property: &'static str, default: i64| match &properties[property] {
            Value::Null => Ok(default),
            value => value
                .as_i64()
                .ok_or_else(|| MappingError::Invalid(property, value.to_string())),
        };
        let batch_size = usize::try_from(int("BatchSize", 100)?)
            .map_err(|e| MappingError::Invalid("BatchSize", e.to_string()))?;
        let window = u64::try_from(int("MaximumBatchingWindowInSeconds", 0)?)
            .map_err(|e| MappingError::Invalid("MaximumBatchingWindowInSeconds", e.to_string()))?;
        let retries = int("MaximumRetryAttempts", -1)?;
        let age = int("MaximumRecordAgeInSeconds", -1)?;
        let on_failure = match &properties["DestinationConfig"]["OnFailure"]["Destination"] {
            Value::Null => None,
            value => Some(resolve("DestinationConfig.OnFailure.Destination", value)?),
        };
        Ok(Self {
            stream_arn,
            stream_name,
            starting_position: properties["StartingPosition"]
                .as_str()
                .unwrap_or("TRIM_HORIZON")
                .to_owned(),
            batch_size: batch_size.max(1),
            batching_window: Duration::from_secs(window),
            report_item_failures: properties["FunctionResponseTypes"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
            bisect: properties["BisectBatchOnFunctionError"].as_bool() == Some(true),
            max_retries: u32::try_from(retries).ok(),
            max_record_age: u64::try_from(age).ok().map(Duration::from_secs),
            on_failure,
        })
    }
}

/// Counters of the mapping, for the live view.
#[derive(Debug, Default)]
pub struct MappingStats {
    /// Records read from the stream.
    pub records_read: AtomicU64,
    /// Records the function processed successfully.
    pub records_done: AtomicU64,
    /// Invocations that failed (function error, timeout, init failure) or reported failed items.
    pub failed_invocations: AtomicU64,
    /// Records discarded after their retries or age ran out (sent to the on-failure queue).
    pub records_discarded: AtomicU64,
    /// Failure records sent to the on-failure destination.
    pub failure_records_sent: AtomicU64,
}

/// Where discarded batches are described: the on-failure queue.
#[derive(Debug, Clone)]
pub struct FailureDestination {
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue's URL.
    pub queue_url: String,
}

impl FailureDestination {
    /// The destination for a queue ARN, its URL asked from SQS (`GetQueueUrl`).
    pub async fn for_queue_arn(sqs: aws_sdk_sqs::Client, arn: &str) -> Result<Self, String> {
        let mut parts = arn.split(':');
        let (Some(account), Some(name)) = (parts.nth(4), parts.next()) else {
            return Err(format!("{arn} is not an SQS queue ARN"));
        };
        let url = sqs
            .get_queue_url()
            .queue_name(name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "GetQueueUrl {name}: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(e)
                )
            })?;
        Ok(Self {
            sqs,
            queue_url: url.queue_url().unwrap_or_default().to_owned(),
        })
    }
}

/// The mapping, running: one task per shard.
pub struct Mapping<F> {
    settings: MappingSettings,
    kinesis: aws_sdk_kinesis::Client,
    function: Arc<F>,
    region: String,
    invoke_identity_arn: String,
    destination: Option<FailureDestination>,
    stats: Arc<MappingStats>,
}

/// A record being delivered and its attempts so far.
#[derive(Clone)]
struct Pending {
    records: Vec<Record>,
    retries: u32,
}

impl<F: Invoke + 'static> Mapping<F> {
    /// A mapping of `settings` invoking `function`; `invoke_identity_arn` is the function's role
    /// (the event's `invokeIdentityArn`).
    pub fn new(
        settings: MappingSettings,
        kinesis: aws_sdk_kinesis::Client,
        function: Arc<F>,
        region: impl Into<String>,
        invoke_identity_arn: impl Into<String>,
        destination: Option<FailureDestination>,
    ) -> Self {
        Self {
            settings,
            kinesis,
            function,
            region: region.into(),
            invoke_identity_arn: invoke_identity_arn.into(),
            destination,
            stats: Arc::new(MappingStats::default()),
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<MappingStats> {
        Arc::clone(&self.stats)
    }

    /// The settings.
    pub fn settings(&self) -> &MappingSettings {
        &self.settings
    }

    /// The invoked function's ARN.
    pub fn function_arn(&self) -> &str {
        self.function.arn()
    }

    /// Polls every shard until `stop` turns true; the batch in flight is finished first.
    pub async fn run(self: Arc<Self>, stop: watch::Receiver<bool>) -> Result<(), String> {
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.settings.stream_name)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ListShards {}: {}",
                    self.settings.stream_name,
                    aws_smithy_types::error::display::DisplayErrorContext(e)
                )
            })?;
        let mut tasks = Vec::new();
        for shard in shards.shards() {
            let this = Arc::clone(&self);
            let shard_id = shard.shard_id().to_owned();
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                this.poll_shard(shard_id, stop).await
            }));
        }
        for task in tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(format!("a shard poller stopped: {e}")),
            }
        }
        Ok(())
    }

    async fn iterator(&self, shard_id: &str, after: Option<&str>) -> Result<String, String> {
        let mut request = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&self.settings.stream_name)
            .shard_id(shard_id);
        request = match after {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::from(
                self.settings.starting_position.as_str(),
            )),
        };
        let answer = request.send().await.map_err(|e| {
            format!(
                "GetShardIterator {shard_id}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            )
        })?;
        answer
            .shard_iterator()
            .map(str::to_owned)
            .ok_or_else(|| format!("GetShardIterator {shard_id}: no iterator"))
    }

    async fn poll_shard(
        &self,
        shard_id: String,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let mut iterator = Some(self.iterator(&shard_id, None).await?);
        let mut last_sequence: Option<String> = None;
        let mut buffer: VecDeque<Record> = VecDeque::new();
        let mut first_buffered: Option<tokio::time::Instant> = None;
        while !*stop.borrow() {
            if buffer.len() < self.settings.batch_size
                && let Some(current) = iterator.take()
            {
                match self
                    .kinesis
                    .get_records()
                    .shard_iterator(&current)
                    .limit(10_000)
                    .send()
                    .await
                {
                    Ok(page) => {
                        let records = page.records();
                        self.stats
                            .records_read
                            .fetch_add(records.len() as u64, Ordering::Relaxed);
                        if let Some(last) = records.last() {
                            last_sequence = Some(last.sequence_number().to_owned());
                        }
                        if !records.is_empty() && first_buffered.is_none() {
                            first_buffered = Some(tokio::time::Instant::now());
                        }
                        buffer.extend(records.iter().cloned());
                        iterator = page.next_shard_iterator().map(str::to_owned);
                    }
                    Err(e) => {
                        tracing::warn!(
                            shard = shard_id,
                            "GetRecords: {}",
                            aws_smithy_types::error::display::DisplayErrorContext(e)
                        );
                        // An expired iterator: start again after the last record read.
                        iterator = Some(self.iterator(&shard_id, last_sequence.as_deref()).await?);
                    }
                }
            }
            let window_over = first_buffered
                .is_some_and(|first| first.elapsed() >= self.settings.batching_window);
            if buffer.len() >= self.settings.batch_size || (!buffer.is_empty() && window_over) {
                let take = buffer.len().min(self.settings.batch_size);
                let batch: Vec<Record> = buffer.drain(..take).collect();
                first_buffered = (!buffer.is_empty()).then(tokio::time::Instant::now);
                self.deliver(&shard_id, batch).await;
                continue;
            }
            if iterator.is_none() {
                // The shard was closed (resharding): nothing more will come.
                if buffer.is_empty() {
                    return Ok(());
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_PAUSE) => {}
                _ = stop.changed() => {}
            }
        }
        // Stopping: what was read is delivered, not dropped.
        while !buffer.is_empty() {
            let take = buffer.len().min(self.settings.batch_size);
            let batch: Vec<Record> = buffer.drain(..take).collect();
            self.deliver(&shard_id, batch).await;
        }
        Ok(())
    }

    /// Delivers one batch with Lambda's error handling (see the module documentation).
    pub async fn deliver(&self, shard_id: &str, batch: Vec<Record>) {
        let mut pending = VecDeque::from([Pending {
            records: batch,
            retries: 0,
        }]);
        while let Some(Pending { records, retries }) = pending.pop_front() {
            let (expired, fresh): (Vec<Record>, Vec<Record>) =
                records.into_iter().partition(|r| self.expired(r));
            if !expired.is_empty() {
                self.discard(shard_id, &expired, "RecordAgeExceeded", retries, None)
                    .await;
            }
            if fresh.is_empty() {
                continue;
            }
            let outcome = self.function.invoke(self.event(shard_id, &fresh)).await;
            let failed_from = match &outcome {
                Outcome::Success(body) if self.settings.report_item_failures => {
                    first_failure(body, &fresh)
                }
                Outcome::Success(_) => Ok(None),
                _ => Err(()),
            };
            match failed_from {
                Ok(None) => {
                    self.stats
                        .records_done
                        .fetch_add(fresh.len() as u64, Ordering::Relaxed);
                }
                Ok(Some(index)) => {
                    self.stats
                        .failed_invocations
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        shard = shard_id,
                        function = self.function.arn(),
                        failed_from = fresh[index].sequence_number(),
                        retries,
                        "the function reported batch item failures: retrying from the first"
                    );
                    self.stats
                        .records_done
                        .fetch_add(index as u64, Ordering::Relaxed);
                    let rest = fresh[index..].to_vec();
                    self.retry_or_discard(&mut pending, shard_id, rest, retries, &outcome)
                        .await;
                }
                Err(()) => {
                    self.stats
                        .failed_invocations
                        .fetch_add(1, Ordering::Relaxed);
                    if self.settings.bisect && fresh.len() > 1 {
                        let second = fresh[fresh.len() / 2..].to_vec();
                        let first = fresh[..fresh.len() / 2].to_vec();
                        pending.push_front(Pending {
                            records: second,
                            retries,
                        });
                        pending.push_front(Pending {
                            records: first,
                            retries,
                        });
                        tokio::time::sleep(RETRY_PAUSE).await;
                    } else {
                        self.retry_or_discard(&mut pending, shard_id, fresh, retries, &outcome)
                            .await;
                    }
                }
            }
        }
    }

    async fn retry_or_discard(
        &self,
        pending: &mut VecDeque<Pending>,
        shard_id: &str,
        records: Vec<Record>,
        retries: u32,
        outcome: &Outcome,
    ) {
        if self.settings.max_retries.is_some_and(|max| retries >= max) {
            self.discard(
                shard_id,
                &records,
                "RetryAttemptsExhausted",
                retries,
                Some(outcome),
            )
            .await;
        } else {
            pending.push_front(Pending {
                records,
                retries: retries.saturating_add(1),
            });
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    fn expired(&self, record: &Record) -> bool {
        let (Some(max), Some(arrival)) = (
            self.settings.max_record_age,
            record.approximate_arrival_timestamp(),
        ) else {
            return false;
        };
        let arrival = SystemTime::UNIX_EPOCH
            + Duration::from_millis(u64::try_from(arrival.to_millis().unwrap_or(0)).unwrap_or(0));
        SystemTime::now()
            .duration_since(arrival)
            .is_ok_and(|age| age > max)
    }

    /// The event Lambda sends for `records` (the `aws_lambda_events` Kinesis event shape).
    pub fn event(&self, shard_id: &str, records: &[Record]) -> String {
        let records: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key(),
                        "sequenceNumber": r.sequence_number(),
                        "data": aws_smithy_types::base64::encode(r.data().as_ref()),
                        "approximateArrivalTimestamp": arrival_seconds(r),
                        "encryptionType": r.encryption_type().map(|e| e.as_str()).unwrap_or("NONE"),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("{shard_id}:{}", r.sequence_number()),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": self.invoke_identity_arn,
                    "awsRegion": self.region,
                    "eventSourceARN": self.settings.stream_arn,
                })
            })
            .collect();
        let event = json!({ "Records": records });
        {
            // Checked against the typed event (the shape functions deserialize), sent as built: the
            // typed event would reserialize numbers as text where Lambda sends numbers.
            if let Err(e) = serde_json::from_value::<aws_lambda_events::event::kinesis::KinesisEvent>(
                event.clone(),
            ) {
                tracing::error!("the event does not match the aws_lambda_events type: {e}");
            }
            event.to_string()
        }
    }

    /// Sends Lambda's failure record for `records` to the on-failure destination.
    async fn discard(
        &self,
        shard_id: &str,
        records: &[Record],
        condition: &str,
        retries: u32,
        outcome: Option<&Outcome>,
    ) {
        self.stats
            .records_discarded
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        tracing::warn!(
            shard = shard_id,
            records = records.len(),
            first = first.sequence_number(),
            last = last.sequence_number(),
            condition,
            "discarding records (sent to the on-failure destination when there is one)"
        );
        let Some(destination) = &self.destination else {
            return;
        };
        let body = failure_record(
            self.function.arn(),
            &self.settings.stream_arn,
            shard_id,
            records,
            condition,
            retries,
            outcome,
        );
        match destination
            .sqs
            .send_message()
            .queue_url(&destination.queue_url)
            .message_body(body.to_string())
            .send()
            .await
        {
            Ok(_) => {
                self.stats
                    .failure_records_sent
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::error!(
                queue = destination.queue_url,
                "cannot send the failure record: {}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            ),
        }
    }
}

fn arrival_seconds(record: &Record) -> f64 {
    record
        .approximate_arrival_timestamp()
        .and_then(|t| t.to_millis().ok())
        .map(|ms| ms as f64 / 1000.0)
        .unwrap_or_default()
}

fn arrival_text(record: &Record) -> String {
    record
        .approximate_arrival_timestamp()
        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
        .unwrap_or_default()
}

/// The index in `records` of the lowest sequence number a partial batch response names as failed:
/// `Ok(None)` when none failed, `Err` when the response fails the whole batch (an identifier that is
/// not in the batch, or a body that is not a batch response).
fn first_failure(body: &str, records: &[Record]) -> Result<Option<usize>, ()> {
    let response: Value = match serde_json::from_str(body) {
        Ok(value) => value,
        Err(_) if body.trim().is_empty() => return Ok(None),
        Err(_) => return Err(()),
    };
    let failures = match &response["batchItemFailures"] {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(()),
    };
    let mut lowest: Option<usize> = None;
    for item in failures {
        let id = item["itemIdentifier"].as_str().ok_or(())?;
        let index = records
            .iter()
            .position(|r| r.sequence_number() == id)
            .ok_or(())?;
        lowest = Some(lowest.map_or(index, |l| l.min(index)));
    }
    Ok(lowest)
}

/// Lambda's failure record for a stream batch sent to an on-failure destination.
pub fn failure_record(
    function_arn: &str,
    stream_arn: &str,
    shard_id: &str,
    records: &[Record],
    condition: &str,
    retries: u32,
    outcome: Option<&Outcome>,
) -> Value {
    let function_error = match outcome {
        Some(Outcome::Success(_)) | None => Value::Null,
        Some(_) => json!("Unhandled"),
    };
    let first = records.first();
    let last = records.last();
    let now = aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let mut response = json!({"statusCode": 200, "executedVersion": "$LATEST"});
    if !function_error.is_null() {
        response["functionError"] = function_error;
    }
    json!({
        "requestContext": {
            "requestId": lambda_host_request_id(),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": retries + 1,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": now,
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first.map(|r| r.sequence_number()),
            "endSequenceNumber": last.map(|r| r.sequence_number()),
            "approximateArrivalOfFirstRecord": first.map(arrival_text),
            "approximateArrivalOfLastRecord": last.map(arrival_text),
            "batchSize": records.len(),
            "streamArn": stream_arn,
        }
    })
}

/// A fresh request id for a failure record (the ids of Lambda's own records are UUIDs too).
fn lambda_host_request_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (nanos >> 64) as u32,
        (nanos >> 48) as u16,
        (nanos >> 36) as u16 & 0xfff,
        (nanos >> 24) as u16 & 0xfff,
        nanos as u64 & 0xffff_ffff_ffff
    )
}
