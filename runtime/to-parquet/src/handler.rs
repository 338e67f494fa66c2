//! The S3 event handler: each raw object is streamed from S3 through the [`Converter`] and its
//! outputs are streamed back to S3.
//!
//! Delivery: the outputs' keys and bytes depend only on the source object (its name and content),
//! so when an invocation fails part-way and Lambda retries the event (S3 invokes asynchronously:
//! two retries, then the function's dead-letter queue), the retry rewrites the same objects with
//! the same bytes. Every valid record ends up exactly once in the curated data; objects written
//! before the failure are overwritten, not duplicated. An object that vanished before it was read is
//! logged and skipped (retrying cannot bring it back); every other failure fails the invocation.

use std::collections::HashMap;
use std::time::Instant;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use quote_record::Timestamp;
use thiserror::Error;

use crate::config::Config;
use crate::convert::{ConvertError, Converter, Options, Output, Stats};
use crate::layout::{output_stem, parquet_key, quarantine_key};
use crate::upload::{PART_BYTES, Upload, UploadError};

/// Bytes of the source handed to the converter at once.
const PIECE_BYTES: usize = 1 << 20;

/// The function's clients and configuration, built once per container.
#[derive(Debug, Clone)]
pub struct ToParquet {
    /// S3 client.
    pub s3: Client,
    /// Configuration.
    pub config: Config,
    /// Output bytes buffered before a multipart part is sent ([`PART_BYTES`]; at least 5 MiB).
    pub part_bytes: usize,
}

impl ToParquet {
    /// The function with its S3 client and configuration, parts of [`PART_BYTES`].
    pub fn new(s3: Client, config: Config) -> Self {
        Self {
            s3,
            config,
            part_bytes: PART_BYTES,
        }
    }
}

/// Converting one object failed.
#[derive(Debug, Error)]
pub enum HandlerError {
    /// The event's key is not URL-encoded UTF-8.
    #[error(transparent)]
    Key(#[from] lambda_support::BadEventKey),
    /// Reading the source failed.
    #[error(
        "cannot read s3://{bucket}/{key}: {message} (check s3:GetObject on the raw prefix for the function's role)"
    )]
    Read {
        /// Source bucket.
        bucket: String,
        /// Source key.
        key: String,
        /// The SDK's error with its context.
        message: String,
    },
    /// The conversion failed.
    #[error("converting s3://{bucket}/{key}: {source}")]
    Convert {
        /// Source bucket.
        bucket: String,
        /// Source key.
        key: String,
        /// What failed.
        source: ConvertError,
    },
    /// Writing an output failed.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Objects converted.
    pub objects: usize,
    /// Objects skipped because they no longer exist.
    pub vanished: usize,
    /// Counters summed over the objects.
    pub valid: u64,
    /// Records quarantined.
    pub invalid: u64,
    /// Keys written (Parquet files and quarantine objects), in order.
    pub written: Vec<String>,
}

/// Handles one S3 event: converts every object in it, in order.
pub async fn handle(function: &ToParquet, event: S3Event) -> Result<Summary, HandlerError> {
    let mut summary = Summary::default();
    for record in event.records {
        let created = created_at(&record);
        let (Some(bucket), Some(encoded)) = (record.s3.bucket.name, record.s3.object.key) else {
            tracing::warn!("S3 event record without bucket or key: ignored");
            continue;
        };
        let key = lambda_support::s3_event_key(&encoded)?;
        match convert_object(function, &bucket, &key, created).await? {
            Some((stats, written)) => {
                summary.objects += 1;
                summary.valid += stats.valid;
                summary.invalid += stats.invalid;
                summary.written.extend(written);
            }
            None => summary.vanished += 1,
        }
    }
    tracing::info!(
        objects = summary.objects,
        vanished = summary.vanished,
        valid = summary.valid,
        invalid = summary.invalid,
        written = summary.written.len(),
        "invocation done"
    );
    Ok(summary)
}

/// The time of an S3 event record: when the object was created. It is the time-sanity rule's
/// reference for the object's records (Firehose writes an object after every record in it);
/// Lambda's retries and replays of the event carry the same time, so they convert the same way.
fn created_at(record: &S3EventRecord) -> Timestamp {
    let time = &record.event_time;
    Timestamp::from_unix_nanos(
        time.timestamp()
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(time.timestamp_subsec_nanos())),
    )
}

/// Converts one object created at `created`; `None` when it no longer exists.
async fn convert_object(
    function: &ToParquet,
    bucket: &str,
    key: &str,
    created: Timestamp,
) -> Result<Option<(Stats, Vec<String>)>, HandlerError> {
    let started = Instant::now();
    let read_error = |message: String| HandlerError::Read {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
    let object = match function
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(object) => object,
        Err(SdkError::ServiceError(e)) if matches!(e.err(), GetObjectError::NoSuchKey(_)) => {
            tracing::warn!(bucket, key, "source object no longer exists: skipped");
            return Ok(None);
        }
        Err(e) => return Err(read_error(DisplayErrorContext(e).to_string())),
    };
    let stem = output_stem(bucket, key);
    let mut outputs = Outputs {
        function,
        stem: &stem,
        open: HashMap::new(),
        written: Vec::new(),
    };
    let converter = Converter::new(Options::new(format!("s3://{bucket}/{key}"), created));
    let convert_error = |source| HandlerError::Convert {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source,
    };
    let mut body = object.body;
    let result: Result<Stats, HandlerError> = async {
        let mut converter = converter;
        // The body arrives in frames of a few KiB; the converter parses on several threads only
        // when it gets thousands of records at once, so frames are gathered into 1 MiB pieces.
        let mut piece: Vec<u8> = Vec::with_capacity(PIECE_BYTES);
        loop {
            let chunk = body
                .try_next()
                .await
                .map_err(|e| read_error(DisplayErrorContext(e).to_string()))?;
            if let Some(chunk) = &chunk {
                piece.extend_from_slice(chunk);
            }
            if piece.len() < PIECE_BYTES && chunk.is_some() {
                continue;
            }
            converter.push(&piece).map_err(convert_error)?;
            piece.clear();
            for (output, bytes) in converter.take_ready(function.part_bytes) {
                outputs.write(output, bytes).await?;
            }
            if chunk.is_none() {
                break;
            }
        }
        let finished = converter.finish().map_err(convert_error)?;
        let stats = finished.stats();
        for (output, bytes) in finished {
            outputs.write(output.clone(), bytes).await?;
            outputs.finish(&output).await?;
        }
        Ok(stats)
    }
    .await;
    match result {
        Ok(stats) => {
            tracing::info!(
                bucket,
                key,
                gzip = stats.gzip,
                bytes = stats.bytes,
                valid = stats.valid,
                invalid = stats.invalid,
                outputs = outputs.written.len(),
                millis = started.elapsed().as_millis() as u64,
                "object converted"
            );
            Ok(Some((stats, outputs.written)))
        }
        Err(e) => {
            for (_, upload) in outputs.open.drain() {
                upload.abort().await;
            }
            Err(e)
        }
    }
}

/// The open uploads of one source object.
struct Outputs<'a> {
    function: &'a ToParquet,
    stem: &'a str,
    open: HashMap<Output, Upload>,
    written: Vec<String>,
}

impl Outputs<'_> {
    fn upload(&mut self, output: &Output) -> &mut Upload {
        let config = &self.function.config;
        let (s3, stem, part) = (&self.function.s3, self.stem, self.function.part_bytes);
        self.open
            .entry(output.clone())
            .or_insert_with(|| match output {
                Output::Partition(partition) => Upload::new(
                    s3,
                    part,
                    &config.curated_bucket,
                    parquet_key(&config.curated_prefix, partition, stem),
                    "application/vnd.apache.parquet",
                ),
                Output::Quarantine => Upload::new(
                    s3,
                    part,
                    &config.quarantine_bucket,
                    quarantine_key(&config.quarantine_prefix, stem),
                    "application/x-ndjson",
                ),
            })
    }

    async fn write(&mut self, output: Output, bytes: Vec<u8>) -> Result<(), UploadError> {
        self.upload(&output).write(bytes).await
    }

    async fn finish(&mut self, output: &Output) -> Result<(), UploadError> {
        if let Some(upload) = self.open.remove(output) {
            let key = upload.key().to_owned();
            upload.finish().await?;
            self.written.push(key);
        }
        Ok(())
    }
}
