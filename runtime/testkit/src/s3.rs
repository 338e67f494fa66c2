//! S3 for the Lambdas' tests (feature `aws`): event notifications shaped like the ones S3 delivers,
//! and the objects under a prefix read back.

use aws_lambda_events::event::s3::S3Event;

/// Form-URL-encodes an object key as S3 does in event notifications (`lambda-support`'s, the one
/// `deployer run` sends).
pub use lambda_support::s3_event_key_encoded as event_key;

/// An `ObjectCreated:Put` notification for `keys` in `bucket` (in `region`), as S3 sends it to a
/// Lambda: one record per key, in order, each key form-URL-encoded ([`event_key`]) and with its own
/// sequencer. Deserialized from JSON, so it has every field a real one has; the others carry fixed
/// example values (principals, request ids, size, ETag, and `eventTime`, 2026-11-27T15:31:02.123Z,
/// which to-parquet takes as the records' arrival time: tests of that rule set their own).
pub fn object_created(region: &str, bucket: &str, keys: &[&str]) -> S3Event {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            serde_json::json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": "2026-11-27T15:31:02.123Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE:writer"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "ObjectCreatedInvokesFunction",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {
                        "key": event_key(key),
                        "size": 1024,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": format!("0055AED6DCD9028{i:03}"),
                    }
                }
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records }))
        .unwrap_or_else(|e| panic!("the S3 event does not deserialize: {e}"))
}

/// Every object under `prefix` in `bucket` with its bytes, sorted by key (all listing pages).
pub async fn objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("ListObjectsV2 s3://{bucket}/{prefix}: {e:?}"));
        for object in page.contents() {
            let key = object
                .key()
                .unwrap_or_else(|| {
                    panic!("ListObjectsV2 s3://{bucket}/{prefix}: an object without a key")
                })
                .to_owned();
            let body = s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("GetObject s3://{bucket}/{key}: {e:?}"))
                .body
                .collect()
                .await
                .unwrap_or_else(|e| panic!("GetObject s3://{bucket}/{key}: reading the body: {e}"));
            out.push((key, body.to_vec()));
        }
    }
    out.sort();
    out
}

/// Creates `bucket` in the client's region: outside `us-east-1` S3 (and moto) wants the region
/// as the bucket's location constraint.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let mut request = s3.create_bucket().bucket(bucket);
    if let Some(region) = s3.config().region().map(|r| r.as_ref().to_owned())
        && region != "us-east-1"
    {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket {bucket}: {e:?}"));
}
