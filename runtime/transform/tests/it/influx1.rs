//! InfluxDB 1.x through the v1 write API: every valid point read back with its values, invalid
//! records quarantined, and a server outage retried to exactly one copy of each point.

use serde_json::{Map, Value};
use testkit::{Influx1, Moto};
use transform::config::InfluxApi;

use crate::common::*;

const DB: &str = "quotes";

/// Rows of the first series of an InfluxQL answer as column -> value maps.
fn rows(answer: &str) -> Vec<Map<String, Value>> {
    let answer: Value = serde_json::from_str(answer).unwrap();
    let series = &answer["results"][0]["series"][0];
    let Some(values) = series["values"].as_array() else {
        return Vec::new();
    };
    let columns: Vec<String> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    values
        .iter()
        .map(|row| {
            columns
                .iter()
                .cloned()
                .zip(row.as_array().unwrap().iter().cloned())
                .collect()
        })
        .collect()
}

fn count(influx: &Influx1) -> u64 {
    rows(&influx.query(DB, "SELECT count(price) FROM quote"))
        .first()
        .map_or(0, |r| r["count"].as_u64().unwrap())
}

fn v1() -> InfluxApi {
    InfluxApi::V1 {
        database: DB.into(),
    }
}

#[tokio::test]
async fn v1_writes_every_valid_point_and_quarantines_the_invalid_ones() {
    let (influx, moto) = (Influx1::start(), Moto::start());
    influx.create_database(DB);
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "ignored-by-influx-1.6-without-auth").await;
    let t = transform(&sdk, influx.url(), v1());
    let event = fixture();
    let (valid, invalid) = split(&event);
    assert_eq!((valid.len(), invalid.len()), (7, 5));

    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let got = rows(&influx.query(DB, "SELECT * FROM quote ORDER BY time"));
    assert_eq!(got.len(), valid.len(), "{got:#?}");
    for (_, q) in &valid {
        let row = got
            .iter()
            .find(|r| {
                r["symbol"] == q.symbol().as_str() && r["time"] == q.market_time().unix_nanos()
            })
            .unwrap_or_else(|| panic!("no point for {q:?} in {got:#?}"));
        assert_eq!(row["price"].as_f64().unwrap(), q.price());
        assert_eq!(row["change_pct"].as_f64().unwrap(), q.change_pct());
        assert_eq!(
            row["volume"].as_u64(),
            q.volume(),
            "volume is an integer field"
        );
        assert_eq!(row["currency"], q.currency().as_str());
        assert_eq!(row["source"], q.source());
    }

    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1, "{objects:#?}");
    let first = &event.records[0].kinesis.sequence_number;
    assert_eq!(
        objects[0].0,
        format!("quarantine/transform/dt=2026-11-27/shardId-000000000000-{first}.jsonl")
    );
    assert_quarantined(&objects[0].1, &event, &invalid);
    let reasons: Vec<&str> = objects[0]
        .1
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "price_not_positive",
            "not_json",
            "bad_symbol",
            "market_time_after_scraped_at",
            "not_json"
        ]
    );

    // Lambda may deliver the same batch again: same points, same (overwritten) quarantine object.
    let response = transform::handle(&t, event.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(count(&influx), valid.len() as u64);
    let again = quarantine_objects(&sdk).await;
    assert_eq!(again, objects);
}

#[tokio::test]
async fn influx_down_then_back_leaves_each_point_exactly_once() {
    let (mut influx, moto) = (Influx1::start(), Moto::start());
    influx.create_database(DB);
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let t = transform(&sdk, influx.url(), v1());
    let json = fixture_json();
    let event = event(&json);
    let (valid, invalid) = split(&event);

    influx.stop();
    let response = transform::handle(&t, event.clone()).await;
    // Record 0 is invalid and handled (quarantined); record 1 is the first valid one: Kinesis
    // retries from it.
    assert_eq!(
        failures(&response),
        [event.records[1].kinesis.sequence_number.clone()]
    );
    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1);
    assert_quarantined(&objects[0].1, &event, &[0]);

    influx.restart();
    // What Kinesis delivers next: the batch from the failed record on.
    let retried = event_from_retry(&json, 1);
    let response = transform::handle(&t, retried.clone()).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(count(&influx), valid.len() as u64);

    // The rest of the invalid records went to the retried batch's own object: each once.
    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 2, "{objects:#?}");
    let rest: Vec<usize> = invalid.iter().filter(|&&i| i > 0).map(|i| i - 1).collect();
    let (first_key, second_key) = (&objects[0].0, &objects[1].0);
    let (only_zero, others) = if first_key.ends_with(&format!(
        "-{}.jsonl",
        event.records[0].kinesis.sequence_number
    )) {
        (&objects[0].1, &objects[1].1)
    } else {
        (&objects[1].1, &objects[0].1)
    };
    assert!(second_key != first_key);
    assert_quarantined(only_zero, &event, &[0]);
    assert_quarantined(others, &retried, &rest);

    // A duplicate delivery of the retried batch changes nothing.
    let response = transform::handle(&t, retried).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(count(&influx), valid.len() as u64);
    assert_eq!(quarantine_objects(&sdk).await.len(), 2);
}

fn event_from_json(json: &Value) -> aws_lambda_events::event::kinesis::KinesisEvent {
    event(json)
}

fn event_from_retry(json: &Value, from: usize) -> aws_lambda_events::event::kinesis::KinesisEvent {
    event(&retry_from(json, from))
}

#[tokio::test]
async fn a_full_batch_is_written_in_bodies_of_5000_lines() {
    let (influx, moto) = (Influx1::start(), Moto::start());
    influx.create_database(DB);
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let t = transform(&sdk, influx.url(), v1());
    // Lambda's largest Kinesis batch: 10,000 records, 3 of them invalid.
    let payloads: Vec<Vec<u8>> = (0..10_000u32)
        .map(|i| {
            if i % 4_000 == 7 {
                return b"{}".to_vec();
            }
            format!(
                r#"{{"symbol":"S{}","price":{}.5,"currency":"USD","change_pct":0.1,"volume":{i},"market_time":"2026-11-27T15:{:02}:{:02}Z","scraped_at":"2026-11-27T21:00:00Z","source":"bench"}}"#,
                i % 10,
                100 + i,
                i / 10 / 60 % 60,
                i / 10 % 60,
            )
            .into_bytes()
        })
        .collect();
    let event = event(&event_with(&payloads));
    let outcome = transform::handler::process(&t, &event.records).await;
    assert_eq!(outcome.failed_from, None);
    assert_eq!((outcome.valid, outcome.invalid), (9_997, 3));
    assert_eq!(outcome.requests, 2, "{outcome:?}");
    assert_eq!(outcome.written, 9_997);
    assert_eq!(outcome.quarantined, 3);
    assert_eq!(count(&influx), 9_997);
}

#[tokio::test]
async fn a_field_type_conflict_quarantines_only_the_conflicting_records() {
    let (influx, moto) = (Influx1::start(), Moto::start());
    influx.create_database(DB);
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let t = transform(&sdk, influx.url(), v1());
    // InfluxDB 1.x fixes a field's type per measurement and shard (a week of time): a float
    // `volume` written first makes every integer `volume` of that week a conflict. Quotes without
    // a volume are not affected.
    influx.write(
        DB,
        "quote,currency=USD,source=seed,symbol=SEED volume=1.5 1795784400000000000",
    );
    let mut payloads: Vec<Vec<u8>> = (0..12u32)
        .map(|i| quote_at(&format!("S{}", i % 3), 10.0 + f64::from(i), None, i))
        .collect();
    payloads[3] = quote_at("S0", -1.0, None, 3);
    for i in [5u32, 9] {
        payloads[i as usize] = quote_at("S2", 10.0 + f64::from(i), Some(100), i);
    }
    let event = event(&event_with(&payloads));
    let outcome = transform::handler::process(&t, &event.records).await;
    assert_eq!(outcome.failed_from, None, "{outcome:?}");
    assert_eq!((outcome.written, outcome.rejected), (9, 2), "{outcome:?}");
    assert!(outcome.requests <= 1 + 2 * 2 * 4, "{outcome:?}");

    // The other points are stored.
    let got = rows(&influx.query(
        DB,
        "SELECT * FROM quote WHERE symbol != 'SEED' ORDER BY time",
    ));
    let stored: Vec<i64> = got.iter().map(|r| r["time"].as_i64().unwrap()).collect();
    let (valid, _) = split(&event);
    let expected: Vec<i64> = valid
        .iter()
        .filter(|(i, _)| ![5, 9].contains(i))
        .map(|(_, q)| q.market_time().unix_nanos())
        .collect();
    assert_eq!(stored, expected, "{got:#?}");

    // The conflicting ones are quarantined with the server's explanation, in shard order with
    // the invalid one.
    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1, "{objects:#?}");
    let lines = &objects[0].1;
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "price_not_positive",
            "rejected_by_influxdb",
            "rejected_by_influxdb"
        ]
    );
    for (line, i) in lines[1..].iter().zip([5, 9]) {
        let record = &event.records[i].kinesis;
        assert_eq!(line["sequence_number"], record.sequence_number.as_str());
        let message = line["message"].as_str().unwrap();
        assert!(
            message.starts_with("InfluxDB refused points (HTTP 400 Bad Request): partial write: field type conflict: input field \"volume\" on measurement \"quote\" is type integer, already exists as type float"),
            "{message}"
        );
    }

    // A batch where every point conflicts: the answer's dropped count settles it in one request.
    let payloads: Vec<Vec<u8>> = (20..30u32)
        .map(|i| quote_at("S1", f64::from(i), Some(u64::from(i)), i))
        .collect();
    let all_conflicting = event_from_json(&event_with(&payloads));
    let outcome = transform::handler::process(&t, &all_conflicting.records).await;
    assert_eq!(outcome.failed_from, None, "{outcome:?}");
    assert_eq!((outcome.requests, outcome.rejected), (1, 10), "{outcome:?}");
}

#[tokio::test]
async fn a_missing_database_quarantines_nothing() {
    let (influx, moto) = (Influx1::start(), Moto::start());
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    // No CREATE DATABASE: InfluxDB answers 404 "database not found".
    let t = transform(&sdk, influx.url(), v1());
    let event = fixture();
    let outcome = transform::handler::process(&t, &event.records).await;
    assert_eq!(outcome.failed_from, Some(1), "{outcome:?}");
    assert_eq!((outcome.requests, outcome.rejected), (1, 0));
    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1);
    assert_quarantined(&objects[0].1, &event, &[0]);
}

#[tokio::test]
async fn points_beyond_the_retention_policy_are_quarantined() {
    let (influx, moto) = (Influx1::start(), Moto::start());
    influx.query("", "CREATE DATABASE recent WITH DURATION 1h");
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let t = transform(
        &sdk,
        influx.url(),
        InfluxApi::V1 {
            database: "recent".into(),
        },
    );
    // Records that arrived now; record 2 is three hours old, beyond the one-hour retention.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let rfc3339 = |ago_s: u64| {
        let nanos = (now.as_secs() - ago_s) as i64 * 1_000_000_000;
        quote_record::Timestamp::from_unix_nanos(nanos).to_string()
    };
    let payloads: Vec<Vec<u8>> = (0..5u64)
        .map(|i| {
            let ago = if i == 2 { 3 * 3600 } else { 600 - i };
            format!(
                r#"{{"symbol":"S{i}","price":1.5,"currency":"USD","change_pct":0,"market_time":"{}","scraped_at":"{}","source":"t"}}"#,
                rfc3339(ago),
                rfc3339(60)
            )
            .into_bytes()
        })
        .collect();
    let mut json = event_with(&payloads);
    for record in json["Records"].as_array_mut().unwrap() {
        record["kinesis"]["approximateArrivalTimestamp"] = Value::from(now.as_secs() as f64);
    }
    let event = event_from_json(&json);
    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(failures(&response), Vec::<String>::new());

    let stored = rows(&influx.query("recent", "SELECT count(price) FROM quote"));
    assert_eq!(stored[0]["count"], 4);
    let lines = quarantine_lines(&sdk).await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["reason"], "rejected_by_influxdb");
    assert_eq!(
        lines[0]["sequence_number"],
        event.records[2].kinesis.sequence_number.as_str()
    );
    assert_eq!(
        lines[0]["message"],
        "InfluxDB refused points (HTTP 400 Bad Request): partial write: points beyond retention policy dropped=1"
    );
}
