//! Writing an object to the bucket, retried as Firehose retries S3 delivery.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_connect::CallError;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::Stats;
use crate::buffer::Batch;
use crate::config::DeliveryConfig;
use crate::object;

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Writes `batch` as one object. A failing write is retried for `retry` (Firehose's retry
/// duration), then logged and counted in [`Stats::errors`]: Firehose then gives the records up too.
pub(crate) async fn deliver(
    s3: &Client,
    config: &DeliveryConfig,
    batch: Batch,
    stats: &Stats,
    retry: Duration,
) {
    let key = object::key(config, &batch);
    let body = match object::encode(&batch.body, config.compression) {
        Ok(body) => body,
        Err(e) => {
            stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                key,
                "cannot compress the object ({e}); its {} records are lost",
                batch.records
            );
            return;
        }
    };
    let region = s3
        .config()
        .region()
        .map(ToString::to_string)
        .unwrap_or_default();
    let give_up = Instant::now() + retry;
    let mut wait = Duration::from_secs(1);
    loop {
        let mut put = s3
            .put_object()
            .bucket(&config.bucket)
            .key(&key)
            .body(ByteStream::from(body.clone()));
        if let Some(key_arn) = &config.kms_key_arn {
            put = put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_arn);
        }
        match put.send().await {
            Ok(_) => {
                stats.objects_written.fetch_add(1, Ordering::Relaxed);
                stats
                    .bytes_written
                    .fetch_add(body.len() as u64, Ordering::Relaxed);
                tracing::debug!(
                    bucket = %config.bucket,
                    key,
                    records = batch.records,
                    bytes = body.len(),
                    "Firehose emulation wrote an object"
                );
                return;
            }
            Err(e) => {
                let error = CallError::new(
                    format!("PutObject s3://{}/{key}", config.bucket),
                    &region,
                    &e,
                );
                if Instant::now() + wait > give_up {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        "{error}; gave up after the retry duration ({}s): {} records not delivered",
                        retry.as_secs(),
                        batch.records
                    );
                    return;
                }
                tracing::warn!("{error}; retrying in {}s", wait.as_secs());
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
}
