//! One object as Firehose writes it: its key (`<evaluated prefix><name>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`),
//! its compressed body, and the error documents of records it could not partition.
//!
//! The name's time is the approximate arrival time of the object's oldest record (UTC), like the
//! prefix's `!{timestamp:}`; the version is 1 (Firehose counts configuration changes, and a local
//! run has none).

use std::io::Write as _;

use aws_smithy_types::DateTime;
use flate2::Compression as Level;
use flate2::write::GzEncoder;

use crate::buffer::{Batch, Destination};
use crate::config::{Compression, DeliveryConfig};
use crate::prefix::{UtcFields, Values};

/// `!{firehose:error-output-type}` of records whose partition keys could not be extracted by the
/// `MetadataExtraction` query. AWS's own integration tests of the Firehose constructs
/// (aws-cdk-lib, `aws-kinesisfirehose` dynamic-partitioning integ tests, run against real
/// Firehose) expect this value for JQ partitioning failures, and `partitioning-failed` for keys
/// missing from a Lambda processor's output, which is not emulated.
pub const METADATA_EXTRACTION_FAILED: &str = "metadata-extraction-failed";

/// The stream version in object names.
const VERSION: u32 = 1;

/// The object's key.
pub(crate) fn key(config: &DeliveryConfig, batch: &Batch) -> String {
    let empty = Default::default();
    let (prefix, keys, error_output_type) = match &batch.destination {
        Destination::Data { keys } => (Some(&config.prefix), keys, None),
        Destination::Error { output_type } => (
            config.error_output_prefix.as_ref(),
            &empty,
            Some(*output_type),
        ),
    };
    let evaluated = prefix.map_or_else(String::new, |p| {
        p.expand(
            &Values {
                arrival: batch.oldest_arrival,
                keys,
                error_output_type,
            },
            &mut random_string,
        )
    });
    format!(
        "{evaluated}{}-{VERSION}-{}-{}{}",
        config.name,
        UtcFields::of(batch.oldest_arrival).object_name_time(),
        uuid(),
        config.compression.extension()
    )
}

/// The object's body.
pub(crate) fn encode(body: &[u8], compression: Compression) -> std::io::Result<Vec<u8>> {
    match compression {
        Compression::Uncompressed => Ok(body.to_vec()),
        Compression::Gzip => {
            let mut gz = GzEncoder::new(Vec::with_capacity(body.len() / 4), Level::default());
            gz.write_all(body)?;
            gz.finish()
        }
    }
}

/// The document Firehose writes under the error prefix for a record it could not process, one
/// JSON object per line: the documented shape of processing-failure records (`attemptsMade`,
/// `arrivalTimestamp` and `attemptEndingTimestamp` in Unix milliseconds, `errorCode`,
/// `errorMessage`, `rawData` the record in base64), without `lambdaArn` (no Lambda processor).
pub(crate) fn error_document(
    record: &[u8],
    arrival: DateTime,
    code: &str,
    message: &str,
    now: DateTime,
) -> Vec<u8> {
    let document = serde_json::json!({
        "attemptsMade": 1,
        "arrivalTimestamp": millis(arrival),
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": millis(now),
        "rawData": aws_smithy_types::base64::encode(record),
    });
    let mut line = document.to_string().into_bytes();
    line.push(b'\n');
    line
}

fn millis(t: DateTime) -> i64 {
    t.to_millis().unwrap_or_default()
}

/// `!{firehose:random-string}`: 11 characters, shaped like Firehose's (`046b6c7f-0b`).
pub(crate) fn random_string() -> String {
    format!("{:08x}-{:02x}", fastrand::u32(..), fastrand::u8(..))
}

/// A random (version 4) UUID, as in Firehose's object names.
fn uuid() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        8 | (b >> 62),
        (b >> 48) & 0x0fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn names_are_firehose_shaped_and_distinct() {
        let r = random_string();
        assert_eq!(r.len(), 11);
        assert_eq!(r.as_bytes()[8], b'-');
        let u = uuid();
        let groups: Vec<usize> = u.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{u}");
        assert!(u.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid(), uuid());
    }

    #[test]
    fn gzip_round_trips() {
        let body = b"{\"a\":1}\n{\"a\":2}\n".repeat(100);
        let packed = encode(&body, Compression::Gzip).unwrap();
        assert_eq!(&packed[..2], &[0x1f, 0x8b]);
        assert!(packed.len() < body.len());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        assert_eq!(encode(&body, Compression::Uncompressed).unwrap(), body);
    }

    #[test]
    fn error_documents_carry_the_record_and_why() {
        let line = error_document(
            b"not json",
            DateTime::from_millis(1_795_770_303_123),
            "DynamicPartitioning.MetadataExtractionFailed",
            "Non JSON record provided",
            DateTime::from_millis(1_795_770_304_000),
        );
        assert_eq!(line.last(), Some(&b'\n'));
        let doc: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(doc["attemptsMade"], 1);
        assert_eq!(doc["arrivalTimestamp"], 1_795_770_303_123_i64);
        assert_eq!(doc["attemptEndingTimestamp"], 1_795_770_304_000_i64);
        assert_eq!(
            doc["errorCode"],
            "DynamicPartitioning.MetadataExtractionFailed"
        );
        assert_eq!(doc["errorMessage"], "Non JSON record provided");
        assert_eq!(
            aws_smithy_types::base64::decode(doc["rawData"].as_str().unwrap()).unwrap(),
            b"not json"
        );
    }
}
