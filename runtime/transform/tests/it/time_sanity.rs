//! The time-sanity rule against the Kinesis arrival time, on InfluxDB 1.x: quotes from the far
//! future or the far past are quarantined with their reason, never written, not counted as
//! written; quotes within the lead are written.

use quote_record::{MAX_ARRIVAL_LEAD_NANOS, Timestamp};
use serde_json::Value;
use testkit::{Influx1, Moto};
use transform::config::InfluxApi;

use crate::common::*;

const DB: &str = "quotes";

fn record(symbol: &str, market_time: &str, scraped_at: &str) -> Vec<u8> {
    format!(
        r#"{{"v":1,"symbol":"{symbol}","price":101.5,"currency":"USD","change_pct":0.5,"market_time":"{market_time}","scraped_at":"{scraped_at}","source":"quote-page"}}"#
    )
    .into_bytes()
}

/// Every point's (symbol, time in ns) in the database.
fn points(influx: &Influx1) -> Vec<(String, i64)> {
    let answer: Value =
        serde_json::from_str(&influx.query(DB, "SELECT price, symbol FROM quote")).unwrap();
    let Some(values) = answer["results"][0]["series"][0]["values"].as_array() else {
        return Vec::new();
    };
    let mut out: Vec<(String, i64)> = values
        .iter()
        .map(|row| {
            (
                row[2].as_str().unwrap().to_owned(),
                row[0].as_i64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn far_future_and_far_past_quotes_are_quarantined_never_written() {
    let (influx, moto) = (Influx1::start(), Moto::start());
    influx.create_database(DB);
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "ignored-by-influx-1.6-without-auth").await;
    let t = transform(
        &sdk,
        influx.url(),
        InfluxApi::V1 {
            database: DB.into(),
        },
    );
    // The records arrive at 2026-11-27T21:00:01Z + i s.
    let payloads = vec![
        record("OK", "2026-11-27T20:59:58Z", "2026-11-27T21:00:00Z"),
        // Both times years ahead: the page and the scraper's clock agree with each other.
        record("FUTURE", "2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z"),
        // Only the scraper's clock ahead (half an hour).
        record("SKEW", "2026-11-27T20:59:00Z", "2026-11-27T21:30:00Z"),
        // The epoch, and a two-digit year read as 2000: implausibly old.
        record("EPOCH", "1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z"),
        record("Y2K", "2000-11-27T15:30:00Z", "2026-11-27T21:00:00Z"),
        // Four minutes ahead of the arrival (a scraper clock slightly fast): within the lead.
        record("LEAD", "2026-11-27T21:04:00Z", "2026-11-27T21:04:01Z"),
        // Half a year old (a suspended stock's last trade): within the bound.
        record("OLD", "2026-05-27T15:30:00Z", "2026-11-27T21:00:00Z"),
    ];
    let event = event(&event_with(&payloads));
    let (valid, invalid) = split(&event);
    assert_eq!(invalid, [1, 2, 3, 4]);

    let outcome = transform::handler::process(&t, &event.records).await;
    assert_eq!(outcome.failed_from, None, "{outcome:?}");
    assert_eq!(
        (outcome.valid, outcome.invalid, outcome.written),
        (3, 4, 3),
        "{outcome:?}"
    );
    assert_eq!(outcome.quarantined, 4);

    // InfluxDB holds exactly the three plausible quotes; nothing after the arrival + lead.
    let expected: Vec<(String, i64)> = {
        let mut v: Vec<(String, i64)> = valid
            .iter()
            .map(|(_, q)| (q.symbol().as_str().to_owned(), q.market_time().unix_nanos()))
            .collect();
        v.sort();
        v
    };
    let stored = points(&influx);
    assert_eq!(stored, expected);
    let symbols: Vec<&str> = stored.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(symbols, ["LEAD", "OK", "OLD"]);
    let latest =
        arrived_at(&event.records[event.records.len() - 1]).unix_nanos() + MAX_ARRIVAL_LEAD_NANOS;
    assert!(stored.iter().all(|(_, t)| *t <= latest), "{stored:?}");

    // The quarantine holds the four with their reason and a message naming the field, the
    // distance and the bound.
    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1, "{objects:#?}");
    let lines = &objects[0].1;
    assert_quarantined(lines, &event, &invalid);
    let codes: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "time_ahead_of_arrival",
            "time_ahead_of_arrival",
            "time_too_old",
            "time_too_old"
        ]
    );
    let message = |i: usize| lines[i]["message"].as_str().unwrap();
    assert_eq!(
        message(0),
        "market_time 2031-01-01T00:00:00Z is 1495d 2h 59m 58s ahead of the arrival time \
         2026-11-27T21:00:02Z; at most 5m is allowed"
    );
    assert!(
        message(1).starts_with("scraped_at 2026-11-27T21:30:00Z is 29m 57s ahead of"),
        "{}",
        message(1)
    );
    assert!(
        message(2).starts_with("market_time 1970-01-01T00:00:00Z is ")
            && message(2).ends_with("at most 400d is allowed"),
        "{}",
        message(2)
    );
    assert!(
        message(3).starts_with("market_time 2000-11-27T15:30:00Z is 9496d"),
        "{}",
        message(3)
    );

    // A retry of the same batch changes nothing: the future quote still is not written.
    let response = transform::handle(&t, event.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(points(&influx), expected);
    assert!(
        !points(&influx).iter().any(|(_, t)| *t
            > Timestamp::parse_rfc3339("2027-01-01T00:00:00Z")
                .unwrap()
                .unix_nanos()),
        "a point from the future reached InfluxDB"
    );
}
