//! The real `to-parquet` binary under a fake Lambda Runtime API (`testkit::RuntimeApi`): a bad
//! configuration is reported as an init error; a line with a UTF-8 BOM before its JSON, a
//! truncated line and quotes from the far future or the far past (judged against the S3 event's
//! time) are quarantined with their reasons while the valid line becomes Parquet; an event that is
//! not JSON is an invocation error and the function goes on with the next one.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::s3::*;
use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use testkit::s3::objects;
use testkit::{LambdaProcess, Moto, Report, RuntimeApi};

const BINARY: &str = env!("CARGO_BIN_EXE_to-parquet");
const WAIT: Duration = Duration::from_secs(60);

#[test]
fn an_invalid_prefix_variable_is_an_init_error_naming_it() {
    let api = RuntimeApi::start();
    let mut lambda = LambdaProcess::spawn(
        BINARY,
        &api,
        &[
            ("CURATED_BUCKET", CURATED),
            ("QUARANTINE_BUCKET", RAW),
            ("QUARANTINE_PREFIX", "quarantine/to-parquet/"),
        ],
    );
    let (error_type, body) = api.wait_init_error(WAIT);
    assert_eq!(error_type.as_deref(), Some("Function.ConfigError"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errorType"], "Function.ConfigError");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("CURATED_PREFIX is required but not set"),
        "{message}"
    );
    let status = lambda.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| !s.success()), "{}", lambda.log());
    assert_eq!(api.polls(), 0);
}

/// A valid-shaped quote line for MSFT at `market_time`, scraped at `scraped_at` (RFC 3339 both).
fn quote_line(market_time: &str, scraped_at: &str) -> String {
    format!(
        r#"{{"v":1,"symbol":"MSFT","price":42.5,"currency":"USD","change_pct":1.5,"market_time":"{market_time}","scraped_at":"{scraped_at}","source":"quote-page"}}"#
    )
}

#[tokio::test]
async fn bom_truncated_and_implausibly_timed_lines_are_quarantined_and_bad_events_do_not_stop_it() {
    let moto = Moto::start();
    let function = function(&moto).await;
    let api = RuntimeApi::start();
    let lambda = LambdaProcess::spawn(BINARY, &api, &binary_env(&moto));
    let valid = valid_line(1);
    // The event says the object was created at CREATED (2026-11-28T00:00:00Z): years ahead of it,
    // and the epoch, are implausible.
    let future = quote_line("2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z");
    let epoch = quote_line("1970-01-01T00:00:00Z", "2026-11-27T23:59:00Z");
    let body = format!(
        "\u{FEFF}{}\n{valid}\n{future}\n{epoch}\n{}\n",
        valid_line(0),
        &valid_line(2)[..40]
    );
    let key = "raw/symbol=MSFT/dt=2026-11-26/bom-and-truncated.json";
    function
        .s3
        .put_object()
        .bucket(RAW)
        .key(key)
        .body(body.into_bytes().into())
        .send()
        .await
        .unwrap();
    let event = serde_json::to_string(&event(RAW, &[key])).unwrap();
    let id = api.invoke(event.clone());
    let Report::Response { body, .. } = api.wait_result(&id, WAIT) else {
        panic!("not a response: {:?}\n{}", api.reports(), lambda.log());
    };
    assert_eq!(
        body, "2",
        "keys written: one Parquet object and the quarantine"
    );

    let curated = objects(&function.s3, CURATED, "quotes/").await;
    assert_eq!(curated.len(), 1);
    let (partition, _) = curated[0].0.rsplit_once('/').unwrap();
    let (rows, _) = read_parquet(
        partition.trim_start_matches("quotes/"),
        curated[0].1.clone(),
    );
    assert_eq!(rows, expected_rows(&[valid]));

    let quarantine = objects(&function.s3, RAW, "quarantine/to-parquet/").await;
    assert_eq!(quarantine.len(), 1);
    let entries: Vec<Value> = String::from_utf8(quarantine[0].1.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<&str> = entries
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "not_an_object",
            "time_ahead_of_arrival",
            "time_too_old",
            "truncated"
        ],
        "{entries:?}"
    );
    // The BOM starts bytes outside any object: its whole line, BOM included, is quarantined.
    assert_eq!(entries[0]["reason"], "not_an_object", "{entries:?}");
    assert_eq!(entries[0]["offset"], 0, "{entries:?}");
    assert_eq!(
        BASE64
            .decode(entries[0]["data_base64"].as_str().unwrap())
            .unwrap(),
        format!("\u{FEFF}{}", valid_line(0)).into_bytes()
    );
    for (entry, line) in [(&entries[1], &future), (&entries[2], &epoch)] {
        assert_eq!(
            BASE64
                .decode(entry["data_base64"].as_str().unwrap())
                .unwrap(),
            line.as_bytes(),
            "{entry}"
        );
    }

    // An event that is not an S3 event (cut short, or with a BOM): an invocation error, and the
    // function keeps serving.
    for bad in [&event[..event.len() / 2], &format!("\u{FEFF}{event}")] {
        let id = api.invoke(bad);
        match api.wait_result(&id, WAIT) {
            // The runtime names the failure in the body (the header says `unhandled`).
            Report::Error { body, .. } => assert!(body.contains("DeserializeError"), "{body}"),
            other => panic!("{other:?}\n{}", lambda.log()),
        }
    }
    let id = api.invoke(event);
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{}",
        lambda.log()
    );
}
