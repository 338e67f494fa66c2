//! The quarantine: invalid records, and valid ones InfluxDB refused, with their reason, as one
//! JSON-lines S3 object per invocation.
//!
//! Key: `<prefix>dt=<YYYY-MM-DD>/<shard id>-<first sequence number>.jsonl`, where the date is the
//! approximate arrival date of the invocation's first record and the sequence number is that
//! record's. Both come from the batch, not the clock, so a retried batch (which starts at the same
//! record) writes the same key again: it overwrites instead of duplicating.

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use thiserror::Error;

/// The reason of a valid record whose point InfluxDB refused (a field type conflict, a timestamp
/// outside the retention policy, …); the entry's message is the server's explanation.
pub const REJECTED_BY_INFLUXDB: &str = "rejected_by_influxdb";

/// One quarantined record: one line of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Stable machine code from the quote crate (`price_not_positive`, `not_json`, …), or
    /// [`REJECTED_BY_INFLUXDB`].
    pub reason: &'static str,
    /// The human explanation.
    pub message: String,
    /// The record's Kinesis sequence number.
    pub sequence_number: String,
    /// The record's partition key (the symbol, as the scraper writes it).
    pub partition_key: String,
    /// When Kinesis received the record, RFC 3339 UTC.
    pub approximate_arrival: String,
    /// The original payload, base64 (it may not be UTF-8, let alone JSON).
    pub data_base64: String,
}

impl Entry {
    /// An entry for a record whose payload `data` failed validation.
    pub fn new(
        invalid: &quote_record::Invalid,
        sequence_number: &str,
        partition_key: &str,
        approximate_arrival: String,
        data: &[u8],
    ) -> Self {
        Self::with_reason(
            invalid.code(),
            invalid.to_string(),
            sequence_number,
            partition_key,
            approximate_arrival,
            data,
        )
    }

    /// An entry for a valid record whose point InfluxDB refused on its own: reason
    /// [`REJECTED_BY_INFLUXDB`], message the server's explanation.
    pub fn rejected(
        message: &str,
        sequence_number: &str,
        partition_key: &str,
        approximate_arrival: String,
        data: &[u8],
    ) -> Self {
        Self::with_reason(
            REJECTED_BY_INFLUXDB,
            message.to_owned(),
            sequence_number,
            partition_key,
            approximate_arrival,
            data,
        )
    }

    fn with_reason(
        reason: &'static str,
        message: String,
        sequence_number: &str,
        partition_key: &str,
        approximate_arrival: String,
        data: &[u8],
    ) -> Self {
        Self {
            reason,
            message,
            sequence_number: sequence_number.to_owned(),
            partition_key: partition_key.to_owned(),
            approximate_arrival,
            data_base64: BASE64.encode(data),
        }
    }
}

/// The object key for a batch: see the module documentation.
pub fn object_key(
    prefix: &str,
    arrival_date: &str,
    shard_id: &str,
    first_sequence_number: &str,
) -> String {
    format!("{prefix}dt={arrival_date}/{shard_id}-{first_sequence_number}.jsonl")
}

/// The object's body: one JSON object per entry, each followed by a newline.
pub fn encode(entries: &[Entry]) -> Result<Vec<u8>, QuarantineError> {
    let mut out = Vec::with_capacity(entries.len() * 256);
    for entry in entries {
        serde_json::to_writer(&mut out, entry)
            .map_err(|e| QuarantineError::Encode(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Writing to the quarantine failed.
#[derive(Debug, Error)]
pub enum QuarantineError {
    /// Serializing the entries failed.
    #[error("cannot encode quarantine entries: {0}")]
    Encode(String),
    /// `PutObject` failed.
    #[error(
        "cannot write s3://{bucket}/{key}: {message} (check s3:PutObject on the quarantine prefix for the function's role)"
    )]
    Put {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The SDK error with its causes.
        message: String,
    },
}

/// Where quarantined records go.
#[derive(Debug, Clone)]
pub struct Quarantine {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl Quarantine {
    /// Objects go to `bucket` under `prefix` (which ends in `/`).
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Writes `entries` as the object `key` (replacing any object of that key).
    pub async fn put(&self, key: &str, entries: &[Entry]) -> Result<(), QuarantineError> {
        let body = encode(entries)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| QuarantineError::Put {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_lines() {
        assert_eq!(
            object_key(
                "quarantine/transform/",
                "2026-11-27",
                "shardId-000000000000",
                "4959"
            ),
            "quarantine/transform/dt=2026-11-27/shardId-000000000000-4959.jsonl"
        );
        let Err(invalid) = quote_record::Quote::from_json(b"{\"v\":2}") else {
            panic!("v2 is not valid");
        };
        let e = Entry::new(
            &invalid,
            "49",
            "AAPL",
            "2026-11-27T15:30:02Z".into(),
            b"{\"v\":2}",
        );
        let text = String::from_utf8(encode(&[e.clone(), e]).expect("encode")).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert!(
            lines[0].starts_with(r#"{"reason":"unsupported_version","message":""#),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with(r#","sequence_number":"49","partition_key":"AAPL","approximate_arrival":"2026-11-27T15:30:02Z","data_base64":"eyJ2IjoyfQ=="}"#),
            "{}",
            lines[0]
        );
    }
}
