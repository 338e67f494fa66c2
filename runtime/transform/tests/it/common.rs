//! Shared set-up: events, AWS clients on moto, the handler, and quarantine read-back.

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quote_record::{Invalid, Quote, Timestamp};
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

/// When the records of [`event_with`] arrive: 2026-11-27T21:00:01Z plus one second per record,
/// after the times their payloads carry. Whole seconds: `aws_lambda_events` reads the digits
/// after the point as milliseconds (`.25` is 25 ms), which only Kinesis' three-digit fractions
/// survive.
pub const EVENT_WITH_ARRIVAL: f64 = 1_795_813_201.0;

/// A real-shaped event whose records carry `payloads` in order, with increasing sequence numbers
/// and arrival times from [`EVENT_WITH_ARRIVAL`].
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
            r["kinesis"]["approximateArrivalTimestamp"] =
                Value::from(EVENT_WITH_ARRIVAL + i as f64);
            r["eventID"] = Value::from(format!("shardId-000000000003:{seq}"));
            r
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// When Kinesis received `record`.
pub fn arrived_at(record: &KinesisEventRecord) -> Timestamp {
    let t = &record.kinesis.approximate_arrival_timestamp.0;
    Timestamp::from_unix_nanos(t.timestamp_nanos_opt().unwrap())
}

/// The record's payload read and checked as the handler must: the record rules, then its times
/// against its Kinesis arrival time.
pub fn decode(record: &KinesisEventRecord) -> Result<Quote, Invalid> {
    let quote = Quote::from_json(&record.kinesis.data.0)?;
    quote.check_arrival(arrived_at(record))?;
    Ok(quote)
}

/// Decoded payloads of an event with their index, split into valid quotes and invalid ones.
pub fn split(event: &KinesisEvent) -> (Vec<(usize, Quote)>, Vec<usize>) {
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for (i, r) in event.records.iter().enumerate() {
        match decode(r) {
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
        let Err(invalid) = decode(&event.records[i]) else {
            panic!("record {i} is valid");
        };
        let record = &event.records[i].kinesis;
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
        assert_eq!(
            line["approximate_arrival"],
            arrived_at(&event.records[i]).to_string(),
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
