//! Shared set-up: events, AWS clients on moto, the handler, and quarantine read-back.

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quote_record::Quote;
use serde_json::Value;
use testkit::Moto;
use transform::Transform;
use transform::config::{InfluxApi, InfluxConfig};
use transform::influx::Writer;
use transform::quarantine::Quarantine;
use transform::secrets::TokenCache;

pub const BUCKET: &str = "mst-local-raw";
pub const PREFIX: &str = "quarantine/transform/";
pub const SECRET: &str = "mst-local-influx-token";

/// The fixture event (12 records: 7 valid, 5 invalid).
pub fn fixture() -> KinesisEvent {
    serde_json::from_str(include_str!("../fixtures/kinesis_quotes.json")).unwrap()
}

/// The fixture event as JSON, to derive other real-shaped events from.
pub fn fixture_json() -> Value {
    serde_json::from_str(include_str!("../fixtures/kinesis_quotes.json")).unwrap()
}

/// A Kinesis event from raw JSON (as Lambda would deserialize it).
pub fn event(json: &Value) -> KinesisEvent {
    serde_json::from_value(json.clone()).unwrap()
}

/// The records of `event` from index `from` on: what Kinesis delivers when it retries from the
/// record at `from`.
pub fn retry_from(json: &Value, from: usize) -> Value {
    let records = json["Records"].as_array().unwrap()[from..].to_vec();
    serde_json::json!({ "Records": records })
}

/// A real-shaped event whose records carry `payloads` in order, with increasing sequence numbers.
pub fn event_with(payloads: &[Vec<u8>]) -> Value {
    let template = fixture_json()["Records"][0].clone();
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let mut r = template.clone();
            let seq = format!("4965783456547293518642063712953701243158723741285{i:07}");
            r["kinesis"]["sequenceNumber"] = Value::from(seq.clone());
            r["kinesis"]["data"] = Value::from(BASE64.encode(data));
            r["eventID"] = Value::from(format!("shardId-000000000003:{seq}"));
            r
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// Decoded payloads of an event with their index, split into valid quotes and invalid ones.
pub fn split(event: &KinesisEvent) -> (Vec<(usize, Quote)>, Vec<usize>) {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for (i, r) in event.records.iter().enumerate() {
        match Quote::from_json(&r.kinesis.data.0) {
            Ok(q) => valid.push((i, q)),
            Err(_) => invalid.push(i),
        }
    }
    (valid, invalid)
}

/// The sequence numbers a response asks Kinesis to retry from.
pub fn failures(response: &KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect()
}

pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    moto.sdk_config("eu-west-1").await
}

pub fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    lambda_support::s3_client(sdk)
}

pub async fn prepare_moto(sdk: &aws_config::SdkConfig, token: &str) -> String {
    testkit::s3::create_bucket(&s3(sdk), BUCKET).await;
    put_secret(sdk, token).await
}

/// Creates the secret, or puts a new value; returns its ARN.
pub async fn put_secret(sdk: &aws_config::SdkConfig, token: &str) -> String {
    let sm = aws_sdk_secretsmanager::Client::new(sdk);
    match sm
        .create_secret()
        .name(SECRET)
        .secret_string(token)
        .send()
        .await
    {
        Ok(out) => out.arn().unwrap().to_owned(),
        Err(_) => sm
            .put_secret_value()
            .secret_id(SECRET)
            .secret_string(token)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned(),
    }
}

/// The handler's state for an InfluxDB target, with the token secret and quarantine on moto.
pub fn transform(sdk: &aws_config::SdkConfig, url: &str, api: InfluxApi) -> Transform {
    let writer = Writer::new(&InfluxConfig {
        url: url.to_owned(),
        api,
        timeout: std::time::Duration::from_secs(5),
    })
    .unwrap();
    Transform::new(
        writer,
        TokenCache::new(aws_sdk_secretsmanager::Client::new(sdk), SECRET),
        Quarantine::new(s3(sdk), BUCKET, PREFIX),
    )
}

/// Every quarantine object: (key, parsed lines).
pub async fn quarantine_objects(sdk: &aws_config::SdkConfig) -> Vec<(String, Vec<Value>)> {
    testkit::s3::objects(&s3(sdk), BUCKET, PREFIX)
        .await
        .into_iter()
        .map(|(key, body)| {
            let lines = std::str::from_utf8(&body)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (key, lines)
        })
        .collect()
}

/// Checks quarantine lines against the event's records: reason, message, sequence number,
/// partition key and the original payload.
pub fn assert_quarantined(lines: &[Value], event: &KinesisEvent, indices: &[usize]) {
    assert_eq!(lines.len(), indices.len(), "{lines:#?}");
    for (line, &i) in lines.iter().zip(indices) {
        let record = &event.records[i].kinesis;
        let Err(invalid) = Quote::from_json(&record.data.0) else {
            panic!("record {i} is valid");
        };
        assert_eq!(line["reason"], invalid.code(), "{line}");
        assert_eq!(line["message"], invalid.to_string(), "{line}");
        assert_eq!(line["sequence_number"], record.sequence_number.as_str());
        assert_eq!(line["partition_key"], record.partition_key.as_str());
        assert_eq!(
            BASE64
                .decode(line["data_base64"].as_str().unwrap())
                .unwrap(),
            record.data.0
        );
        assert!(
            line["approximate_arrival"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-27T15:30:0"),
            "{line}"
        );
    }
}

/// A valid quote payload: `symbol` at `price`, with `volume` if given, at 2026-11-27 15:MM:SS UTC
/// for `second` = MM * 60 + SS (before the fixture's arrival time, 15:30:02.5).
pub fn quote_at(symbol: &str, price: f64, volume: Option<u64>, second: u32) -> Vec<u8> {
    let volume = volume.map_or(String::new(), |v| format!(r#","volume":{v}"#));
    format!(
        r#"{{"symbol":"{symbol}","price":{price},"currency":"USD","change_pct":0.5{volume},"market_time":"2026-11-27T15:{:02}:{:02}Z","scraped_at":"2026-11-27T15:29:00Z","source":"t"}}"#,
        second / 60 % 30,
        second % 60
    )
    .into_bytes()
}

/// The quarantine lines of every object, in key order.
pub async fn quarantine_lines(sdk: &aws_config::SdkConfig) -> Vec<Value> {
    quarantine_objects(sdk)
        .await
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .collect()
}
