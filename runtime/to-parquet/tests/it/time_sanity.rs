//! The time-sanity rule against the raw object's creation (the S3 event's time), on moto's S3:
//! quotes from the far future or the far past are quarantined with their reason and never reach
//! the curated Parquet (read back with DuckDB); no `dt=` partition is made for them.
#![allow(clippy::unwrap_used)]

use crate::common::s3::*;
use crate::common::*;
use testkit::Moto;
use testkit::s3::objects;

fn record(symbol: &str, market_time: &str, scraped_at: &str) -> String {
    format!(
        r#"{{"v":1,"symbol":"{symbol}","price":42.5,"currency":"USD","change_pct":1.5,"market_time":"{market_time}","scraped_at":"{scraped_at}","source":"quote-page"}}"#
    )
}

#[tokio::test]
async fn far_future_and_far_past_quotes_are_quarantined_never_in_parquet() {
    let moto = Moto::start();
    let function = function(&moto).await;
    // Created at CREATED, 2026-11-28T00:00:00Z.
    let valid = [
        record("AAPL", "2026-11-27T15:30:01Z", "2026-11-27T15:30:02Z"),
        // Four minutes ahead of the object: within the lead (clock skew).
        record("AAPL", "2026-11-28T00:03:59Z", "2026-11-28T00:04:00Z"),
        // 399 days old: within the bound.
        record("AAPL", "2025-10-25T00:00:00Z", "2026-11-27T23:59:00Z"),
    ];
    let rejected = [
        // Both times years ahead, agreeing with each other.
        record("AAPL", "2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z"),
        // The scraper's clock alone ahead (one hour).
        record("AAPL", "2026-11-27T23:59:00Z", "2026-11-28T01:00:00Z"),
        // The epoch, and 401 days old.
        record("AAPL", "1970-01-01T00:00:00Z", "2026-11-27T23:59:00Z"),
        record("AAPL", "2025-10-23T23:59:59Z", "2026-11-27T23:59:00Z"),
    ];
    let body = [
        valid[0].as_str(),
        rejected[0].as_str(),
        valid[1].as_str(),
        rejected[1].as_str(),
        rejected[2].as_str(),
        valid[2].as_str(),
        rejected[3].as_str(),
    ]
    .join("\n")
        + "\n";
    let key = "raw/symbol=AAPL/dt=2026-11-27/mst-test-1-2026-11-27-23-59-59-time";
    function
        .s3
        .put_object()
        .bucket(RAW)
        .key(key)
        .body(body.clone().into_bytes().into())
        .send()
        .await
        .unwrap();

    let summary = to_parquet::handle(&function, event(RAW, &[key]))
        .await
        .unwrap();
    assert_eq!((summary.valid, summary.invalid), (3, 4), "{summary:?}");

    let curated = objects(&function.s3, CURATED, "quotes/").await;
    let keys: Vec<&str> = curated.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        keys.iter().all(|k| k.contains("/dt=2025-10-25/")
            || k.contains("/dt=2026-11-27/")
            || k.contains("/dt=2026-11-28/")),
        "{keys:?}"
    );
    assert_eq!(keys.len(), 3, "{keys:?}");
    let dir = std::env::temp_dir().join(format!("to-parquet-time-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    download(&dir, &curated);
    let (_, rows) = duckdb_read(&dir);
    let valid_lines: Vec<String> = valid.to_vec();
    assert_eq!(rows, expected_rows(&valid_lines));
    let _ = std::fs::remove_dir_all(&dir);

    // Each rejected record is in the quarantine with its reason, message and original bytes.
    let quarantine = objects(&function.s3, RAW, "quarantine/to-parquet/").await;
    assert_eq!(quarantine.len(), 1);
    let entries: Vec<serde_json::Value> = std::str::from_utf8(&quarantine[0].1)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap(),
                e["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "time_ahead_of_arrival",
                "market_time 2031-01-01T00:00:00Z is 1495d ahead of the arrival time \
                 2026-11-28T00:00:00Z; at most 5m is allowed"
            ),
            (
                "time_ahead_of_arrival",
                "scraped_at 2026-11-28T01:00:00Z is 1h ahead of the arrival time \
                 2026-11-28T00:00:00Z; at most 5m is allowed"
            ),
            (
                "time_too_old",
                "market_time 1970-01-01T00:00:00Z is 20785d before the arrival time \
                 2026-11-28T00:00:00Z; at most 400d is allowed"
            ),
            (
                "time_too_old",
                "market_time 2025-10-23T23:59:59Z is 400d 1s before the arrival time \
                 2026-11-28T00:00:00Z; at most 400d is allowed"
            ),
        ]
    );
    use base64::Engine as _;
    let originals: Vec<String> = entries
        .iter()
        .map(|e| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(e["data_base64"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();
    assert_eq!(originals, rejected);

    // A replay of the same event (same time) judges the records the same way.
    let again = to_parquet::handle(&function, event(RAW, &[key]))
        .await
        .unwrap();
    assert_eq!(again.written, summary.written);
    assert_eq!(objects(&function.s3, CURATED, "quotes/").await, curated);
}

#[tokio::test]
async fn the_reference_is_the_objects_creation_not_the_clock() {
    // The verdict follows the event's time (the object's creation), not the clock that runs the
    // function: the same object announced as created at 2031-01-01T00:01Z keeps both records,
    // announced at CREATED (2026) it quarantines both.
    let moto = Moto::start();
    let function = function(&moto).await;
    let body = [
        record("MSFT", "2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z"),
        record("MSFT", "2030-06-01T00:00:00Z", "2030-06-01T00:00:01Z"),
    ]
    .join("\n");
    let key = "raw/symbol=MSFT/dt=2031-01-01/mst-test-1-later";
    function
        .s3
        .put_object()
        .bucket(RAW)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
    let later = to_parquet::handle(&function, event_at(RAW, &[key], "2031-01-01T00:01:00Z"))
        .await
        .unwrap();
    assert_eq!((later.valid, later.invalid), (2, 0));
    let now = to_parquet::handle(&function, event(RAW, &[key]))
        .await
        .unwrap();
    assert_eq!((now.valid, now.invalid), (0, 2));
}
