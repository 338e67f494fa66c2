//! The Firehose delivery stream of `deployer run`: what Amazon Data Firehose does with the
//! pipeline's `AWS::KinesisFirehose::DeliveryStream`, emulated from the synthesized template,
//! because the emulator (moto) creates the resource but never reads the Kinesis stream and ignores
//! dynamic partitioning.
//!
//! [`DeliveryConfig::from_resource`] reads the resource's `Properties` (refusing, by name, any
//! setting that is not emulated); [`run`] then reads every shard of the stream, partitions each
//! record with the template's JQ query, buffers per partition by size and time, compresses, and
//! writes objects under the evaluated prefix, with failed records under the error prefix, until
//! `stop`; then it writes every open buffer and returns.
//!
//! Emulated, after the Firehose developer guide ("Dynamic partitioning", "Custom prefixes for
//! Amazon S3 objects", "Amazon S3 object name format", "Buffering hints"):
//! - the Kinesis source ([`source`]): every shard, resharding, `LATEST` start (configurable);
//! - `MetadataExtraction` (JQ-1.6 through jaq) and `AppendDelimiterToRecord` ([`partition`]);
//! - `Prefix`/`ErrorOutputPrefix` expressions ([`prefix`]) with the arrival time of the object's
//!   oldest record, in UTC;
//! - per-partition buffering hints (size before compression, interval) ([`buffer`]);
//! - `GZIP` or `UNCOMPRESSED`, object names `<name>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>[.gz]`,
//!   SSE-KMS with the configured key, S3 retries for the retry duration ([`object`]);
//! - records whose partition keys cannot be extracted: one error document per record (the
//!   processing-failure shape) under `ErrorOutputPrefix` with `!{firehose:error-output-type}` =
//!   [`METADATA_EXTRACTION_FAILED`].
//!
//! Not emulated (each refused when the template asks for it, or listed in its module): Lambda
//! processors and `partitionKeyFromLambda`, record deaggregation, format conversion, S3 backup,
//! custom time zones and file extensions, the 500 active-partition limit, multi-stage buffering
//! delays, assuming the delivery role, CloudWatch Logs delivery (errors go to `tracing`).

pub mod buffer;
pub mod config;
mod deliver;
pub mod object;
pub mod partition;
pub mod prefix;
pub mod source;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_types::DateTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use config::{Buffering, Compression, ConfigError, DeliveryConfig, StartPosition};
pub use object::METADATA_EXTRACTION_FAILED;

use buffer::{Buffers, Destination};
use prefix::Values;
use source::{Source, SourceRecord};

/// Counters of a running delivery stream, read by the live view.
#[derive(Debug, Default)]
pub struct Stats {
    /// Records read from the stream.
    pub records_in: AtomicU64,
    /// Objects written to the bucket (data and error objects).
    pub objects_written: AtomicU64,
    /// Bytes of those objects, as stored (compressed).
    pub bytes_written: AtomicU64,
    /// Failures: each record written under the error prefix, each object given up after the retry
    /// duration, each failed Kinesis call.
    pub errors: AtomicU64,
}

/// The delivery stream could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The source stream cannot be listed (it does not exist, or the endpoint is unreachable).
    #[error("the Firehose emulation cannot read its source stream: {0}")]
    Source(#[source] aws_connect::CallError),
    /// One of its tasks panicked (a bug).
    #[error("the Firehose emulation stopped: {0}")]
    Task(String),
}

/// After `stop`, how long a failing object write is retried at most, so that Ctrl-C ends soon.
const RETRY_WHEN_STOPPING: Duration = Duration::from_secs(10);

/// Objects written at the same time: when an interval ends for many partitions at once (one per
/// symbol), writing them one after the other would hold up reading the stream.
const CONCURRENT_WRITES: usize = 8;

/// Runs the delivery stream until `stop` becomes true (or its sender is dropped), then writes
/// every open buffer and returns. Fails only when the source stream cannot be read at all;
/// failures after that are retried, logged and counted in `stats.errors`.
pub async fn run(
    config: DeliveryConfig,
    kinesis: aws_sdk_kinesis::Client,
    s3: aws_sdk_s3::Client,
    stats: Arc<Stats>,
    stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let config = Arc::new(config);
    let (sender, mut received) = mpsc::channel::<Vec<SourceRecord>>(64);
    let reader = tokio::spawn(source::read_stream(Source {
        kinesis,
        stream: config.stream_name.clone(),
        start: config.start,
        records: sender,
        stop,
        stats: stats.clone(),
    }));
    let mut writes = Writes {
        s3,
        config: config.clone(),
        stats: stats.clone(),
        running: JoinSet::new(),
    };
    let retry = config.retry_duration();
    let mut buffers = Buffers::new(config.buffering);
    loop {
        let deadline = buffers.next_deadline();
        tokio::select! {
            batch = received.recv() => {
                // `None`: every reader has stopped (on `stop`, or the source failed).
                let Some(records) = batch else { break };
                for record in records {
                    let routed = route(&config, &record);
                    if matches!(routed.destination, Destination::Error { .. }) {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    if let Some(full) = buffers.add(
                        routed.partition,
                        routed.destination,
                        &routed.body,
                        record.arrival,
                        Instant::now(),
                    ) {
                        writes.start(full, retry).await?;
                    }
                }
            }
            () = sleep_until(deadline) => {
                for due in buffers.due(Instant::now()) {
                    writes.start(due, retry).await?;
                }
            }
        }
    }
    for open in buffers.drain() {
        writes.start(open, retry.min(RETRY_WHEN_STOPPING)).await?;
    }
    writes.finish().await?;
    match reader.await {
        Ok(result) => result,
        Err(e) => Err(RunError::Task(format!("the stream reader failed: {e}"))),
    }
}

/// Object writes in flight, at most [`CONCURRENT_WRITES`].
struct Writes {
    s3: aws_sdk_s3::Client,
    config: Arc<DeliveryConfig>,
    stats: Arc<Stats>,
    running: JoinSet<()>,
}

impl Writes {
    /// Starts writing `batch`, first waiting for a write to end if too many are running.
    async fn start(&mut self, batch: buffer::Batch, retry: Duration) -> Result<(), RunError> {
        while self.running.len() >= CONCURRENT_WRITES {
            let done = self.running.join_next().await;
            joined(done)?;
        }
        let (s3, config, stats) = (self.s3.clone(), self.config.clone(), self.stats.clone());
        self.running
            .spawn(async move { deliver::deliver(&s3, &config, batch, &stats, retry).await });
        Ok(())
    }

    /// Waits for every write.
    async fn finish(mut self) -> Result<(), RunError> {
        while let Some(done) = self.running.join_next().await {
            joined(Some(done))?;
        }
        Ok(())
    }
}

/// A write that panicked (a bug) ends the run.
fn joined(done: Option<Result<(), tokio::task::JoinError>>) -> Result<(), RunError> {
    match done {
        Some(Err(e)) => Err(RunError::Task(format!("an object write failed: {e}"))),
        _ => Ok(()),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// A record's place: its partition (the prefix evaluated for it), where it goes and its bytes
/// there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routed {
    pub partition: String,
    pub destination: Destination,
    pub body: Vec<u8>,
}

/// Partitions one record (the processors, in Firehose's order: metadata extraction, then the
/// delimiter).
pub(crate) fn route(config: &DeliveryConfig, record: &SourceRecord) -> Routed {
    let Some(partitioning) = &config.partitioning else {
        // One buffer: its prefix is evaluated when the object is written.
        return Routed {
            partition: String::new(),
            destination: Destination::Data {
                keys: Default::default(),
            },
            body: with_delimiter(config, &record.data),
        };
    };
    let keys = partitioning.query.keys(&record.data).and_then(|keys| {
        match config
            .prefix
            .partition_keys()
            .find(|k| !keys.contains_key(*k))
        {
            Some(missing) => Err(partition::ExtractionFailed {
                message: format!(
                    "partition key {missing} is used in the prefix but not produced by the query"
                ),
            }),
            None => Ok(keys),
        }
    });
    // Random strings are chosen per object, not per partition.
    let mut placeholder = String::new;
    match keys {
        Ok(keys) => Routed {
            partition: config.prefix.expand(
                &Values {
                    arrival: record.arrival,
                    keys: &keys,
                    error_output_type: None,
                },
                &mut placeholder,
            ),
            body: with_delimiter(config, &record.data),
            destination: Destination::Data { keys },
        },
        Err(failed) => {
            let output_type = METADATA_EXTRACTION_FAILED;
            let partition = config
                .error_output_prefix
                .as_ref()
                .map_or_else(String::new, |p| {
                    p.expand(
                        &Values {
                            arrival: record.arrival,
                            keys: &Default::default(),
                            error_output_type: Some(output_type),
                        },
                        &mut placeholder,
                    )
                });
            Routed {
                // Error partitions never meet data partitions.
                partition: format!("\u{0}{partition}"),
                destination: Destination::Error { output_type },
                body: object::error_document(
                    &record.data,
                    record.arrival,
                    partition::METADATA_EXTRACTION_FAILED,
                    &failed.message,
                    DateTime::from(std::time::SystemTime::now()),
                ),
            }
        }
    }
}

fn with_delimiter(config: &DeliveryConfig, data: &[u8]) -> Vec<u8> {
    let mut body = data.to_vec();
    if let Some(delimiter) = &config.delimiter {
        body.extend_from_slice(delimiter);
    }
    body
}

#[cfg(test)]
mod contract_tests;
