//! The moto side: clients, buckets, real-shaped S3 events, and reading the outputs back.

use std::path::Path;

use aws_lambda_events::event::s3::S3Event;
use testkit::Moto;
use to_parquet::Config;
use to_parquet::handler::ToParquet;

pub const RAW: &str = "mst-test-raw";
pub const CURATED: &str = "mst-test-curated";

pub async fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    lambda_support::s3_client(&moto.sdk_config("eu-west-1").await)
}

/// The function against moto, with buckets made and the configuration the stack sets.
pub async fn function(moto: &Moto) -> ToParquet {
    let s3 = s3(moto).await;
    for bucket in [RAW, CURATED] {
        s3.create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    ToParquet::new(
        s3,
        Config {
            curated_bucket: CURATED.into(),
            curated_prefix: "quotes/".into(),
            quarantine_bucket: RAW.into(),
            quarantine_prefix: "quarantine/to-parquet/".into(),
        },
    )
}

/// Form-URL-encodes a key as S3 does in event notifications.
pub fn event_key(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A real-shaped `ObjectCreated:Put` event for `bucket/key` (as S3 sends it to Lambda).
pub fn event(bucket: &str, keys: &[&str]) -> S3Event {
    let records: Vec<serde_json::Value> = keys
        .iter()
        .map(|key| {
            serde_json::json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "eu-west-1",
                "eventTime": "2026-11-27T15:31:02.123Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE:firehose"},
                "requestParameters": {"sourceIPAddress": "10.0.0.1"},
                "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "RawBucketInvokesToParquet",
                    "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
                    "object": {"key": event_key(key), "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}
                }
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

/// Every object under `prefix`, sorted by key, with its bytes.
pub async fn objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Vec<(String, Vec<u8>)> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        out.push((key, body.body.collect().await.unwrap().to_vec()));
    }
    out.sort();
    out
}

/// Reads `dir/quotes/**/*.parquet` with DuckDB (Hive partitioning): the schema as (name, type) and
/// the rows in `Row` form, sorted.
pub fn duckdb_read(dir: &Path) -> (Vec<(String, String)>, Vec<super::Row>) {
    let script = r#"
import duckdb, json, sys
glob = sys.argv[1] + "/quotes/**/*.parquet"
source = f"read_parquet('{glob}', hive_partitioning = true, hive_types = {{'symbol': 'VARCHAR', 'dt': 'VARCHAR'}})"
schema = duckdb.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()
rows = duckdb.sql(f"""SELECT 'symbol=' || symbol || '/dt=' || dt, price, currency, change_pct, volume,
    epoch_us(market_time), epoch_us(scraped_at), source FROM {source}""").fetchall()
print(json.dumps({"schema": [[c[0], c[1]] for c in schema], "rows": rows}))
"#;
    let output = std::process::Command::new(testkit::tools_python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema = value["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_str().unwrap().to_owned(),
                c[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let rows = value["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_f64().unwrap(),
                r[2].as_str().unwrap().to_owned(),
                r[3].as_f64().unwrap(),
                r[4].as_i64(),
                r[5].as_i64().unwrap(),
                r[6].as_i64().unwrap(),
                r[7].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (schema, super::sorted(rows))
}

/// Writes `objects` under `dir`, keeping their keys as paths.
pub fn download(dir: &Path, objects: &[(String, Vec<u8>)]) {
    for (key, bytes) in objects {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}
