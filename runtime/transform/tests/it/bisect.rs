//! Bisection of bodies the server refuses points of, against a scripted stub: the refused records
//! are found and quarantined, the rest written; the number of requests is bounded and the next
//! invocation resumes where the last one stopped; configuration errors, 413 and transient errors
//! quarantine nothing.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use quote_record::Quote;
use serde_json::Value;
use testkit::Moto;
use transform::config::InfluxApi;
use transform::quarantine::REJECTED_BY_INFLUXDB;
use transform::write::Limits;

use crate::common::*;
use crate::stub::Stub;

fn v1() -> InfluxApi {
    InfluxApi::V1 {
        database: "quotes".into(),
    }
}

/// Refuses every request holding a line of symbol `BAD`, the way InfluxDB 1.x refuses a point
/// whose field type conflicts (without a `dropped=` count).
fn refusing_bad_lines() -> Stub {
    Stub::scripted(|request, _| {
        if request.body.contains("symbol=BAD ") {
            (
                400,
                r#"{"error":"partial write: field type conflict: BAD is refused"}"#.into(),
            )
        } else {
            (204, String::new())
        }
    })
}

/// Payloads: `count` valid quotes, symbol `BAD` at `bad`, `not json` at `invalid`.
fn payloads(count: usize, bad: &[usize], invalid: &[usize]) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let second = u32::try_from(i).unwrap();
            if invalid.contains(&i) {
                b"not json".to_vec()
            } else if bad.contains(&i) {
                quote_at("BAD", 1.0 + f64::from(second), None, second)
            } else {
                quote_at(
                    &format!("S{}", i % 3),
                    1.0 + f64::from(second),
                    None,
                    second,
                )
            }
        })
        .collect()
}

fn rejected_sequence_numbers(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["reason"] == REJECTED_BY_INFLUXDB)
        .map(|l| l["sequence_number"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bisection_is_bounded_and_the_next_invocation_resumes_where_it_stopped() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let stub = refusing_bad_lines();
    let limits = Limits {
        max_split_requests: 6,
        reserve: Duration::from_secs(1),
    };
    let t = transform(&sdk, &stub.url, v1()).with_limits(limits);
    let bad: [usize; 4] = [5, 17, 18, 30];
    let json = event_with(&payloads(40, &bad, &[10]));
    let event = event(&json);

    // Each invocation sends its body once plus at most 6 parts, settles a prefix of the batch and
    // asks Kinesis to retry from the first record it did not settle.
    let mut start = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= 20, "no progress");
        let retried = transform::handler::process(&t, &event.records[start..]).await;
        assert!(retried.requests <= 7, "{retried:?}");
        let Some(failed_from) = retried.failed_from else {
            break;
        };
        assert!(
            failed_from > 0,
            "each invocation settles something: {retried:?}"
        );
        start += failed_from;
    }
    assert!(rounds > 1, "six parts cannot isolate four bad lines");

    // Every refused record quarantined exactly once, with the server's explanation; the invalid
    // one too; nothing else.
    let lines = quarantine_lines(&sdk).await;
    let expected: Vec<String> = bad
        .iter()
        .map(|&i| event.records[i].kinesis.sequence_number.clone())
        .collect();
    let mut got = rejected_sequence_numbers(&lines);
    got.sort();
    assert_eq!(got, expected);
    for line in lines.iter().filter(|l| l["reason"] == REJECTED_BY_INFLUXDB) {
        assert_eq!(
            line["message"],
            "InfluxDB refused points (HTTP 400 Bad Request): partial write: field type conflict: BAD is refused"
        );
        assert_eq!(line["partition_key"], "AAPL", "the fixture's partition key");
    }
    assert_eq!(lines.len(), bad.len() + 1);
    assert!(lines.iter().any(|l| l["reason"] == "not_json"));

    // Every other valid point reached the server in an accepted request; no refused one did.
    let accepted: BTreeSet<String> = stub
        .requests()
        .iter()
        .filter(|r| r.status == 204)
        .flat_map(|r| r.body.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    for (i, q) in split(&event).0 {
        let line = q.to_line_protocol();
        assert_eq!(accepted.contains(&line), !bad.contains(&i), "{i}: {line}");
    }
}

#[tokio::test]
async fn no_time_left_means_no_bisection() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let stub = refusing_bad_lines();
    let t = transform(&sdk, &stub.url, v1());
    let event = event(&event_with(&payloads(4, &[2], &[0])));
    // The deadline is now: the body goes once, then no part fits before the deadline.
    let outcome = transform::handler::process_until(&t, &event.records, Instant::now()).await;
    assert_eq!(outcome.requests, 1, "{outcome:?}");
    assert_eq!(outcome.failed_from, Some(1));
    assert_eq!((outcome.rejected, outcome.quarantined), (0, 1));
}

#[tokio::test]
async fn a_dropped_count_equal_to_the_lines_settles_a_part_at_once() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    // InfluxDB's answer counts the refused points.
    let stub = Stub::scripted(|request, _| {
        let bad = request.body.matches("symbol=BAD ").count();
        if bad == 0 {
            return (204, String::new());
        }
        let error = format!(
            "partial write: field type conflict: input field \\\"volume\\\" on measurement \\\"quote\\\" is type integer, already exists as type float dropped={bad}"
        );
        (400, format!(r#"{{"error":"{error}"}}"#))
    });
    let t = transform(&sdk, &stub.url, v1());
    let bad: Vec<usize> = (10..20).collect();
    let event = event(&event_with(&payloads(20, &bad, &[])));
    let outcome = transform::handler::process(&t, &event.records).await;
    // 20 lines (dropped=10): split; 0..10 written; 10..20 dropped=10: all refused.
    assert_eq!(outcome.requests, 3, "{outcome:?}");
    assert_eq!((outcome.written, outcome.rejected), (10, 10));
    assert_eq!(outcome.failed_from, None);
    let lines = quarantine_lines(&sdk).await;
    assert_eq!(lines.len(), 10);
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("already exists as type float dropped=10"),
        "{}",
        lines[0]
    );
}

#[tokio::test]
async fn configuration_errors_quarantine_nothing() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let event = fixture();
    let cases = [
        (404, r#"{"error":"database not found: \"quotes\""}"#, 1),
        (400, r#"{"error":"retention policy not found: autogen"}"#, 1),
        (401, r#"{"error":"authorization failed"}"#, 2),
        (
            403,
            r#"{"code":"forbidden","message":"insufficient permissions"}"#,
            2,
        ),
        (405, "method not allowed", 1),
    ];
    for (status, body, requests) in cases {
        let stub = Stub::scripted(move |_, _| (status, body.to_owned()));
        let t = transform(&sdk, &stub.url, v1());
        let outcome = transform::handler::process(&t, &event.records).await;
        // Record 0 is invalid (quarantined); record 1, the first valid one, is retried.
        assert_eq!(outcome.failed_from, Some(1), "{status}: {outcome:?}");
        assert_eq!(outcome.requests, requests, "{status}: {outcome:?}");
        assert_eq!((outcome.rejected, outcome.quarantined), (0, 1), "{status}");
        let lines = quarantine_lines(&sdk).await;
        assert_quarantined(&lines, &event, &[0]);
    }
}

#[tokio::test]
async fn a_413_splits_the_body_and_quarantines_nothing() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    let event = fixture();
    let (valid, invalid) = split(&event);

    let stub = Stub::start(|request, _| if request.lines > 2 { 413 } else { 204 });
    let t = transform(&sdk, &stub.url, v1());
    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(failures(&response), Vec::<String>::new());
    let written: usize = stub
        .requests()
        .iter()
        .filter(|r| r.status == 204)
        .map(|r| r.lines)
        .sum();
    assert_eq!(written, valid.len());
    assert_quarantined(&quarantine_lines(&sdk).await, &event, &invalid);

    // A single line still too large is a failure, not a quarantine.
    let stub = Stub::start(|_, _| 413);
    let t = transform(&sdk, &stub.url, v1());
    let outcome = transform::handler::process(&t, &event.records).await;
    // 7 lines, then 0..3, then 0..1 (the first valid record, index 1).
    assert_eq!(outcome.requests, 3, "{outcome:?}");
    assert_eq!(outcome.failed_from, Some(1));
    assert_eq!(outcome.rejected, 0);
}

#[tokio::test]
async fn a_transient_error_while_bisecting_retries_from_that_part() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    // The whole body is refused (a bad line), its first half written, then the server fails.
    let stub = Stub::scripted(|_, n| match n {
        0 => (400, r#"{"error":"partial write: bad"}"#.into()),
        1 => (204, String::new()),
        _ => (503, "busy".into()),
    });
    let t = transform(&sdk, &stub.url, v1());
    let event = event(&event_with(&payloads(4, &[2], &[])));
    let outcome = transform::handler::process(&t, &event.records).await;
    assert_eq!(outcome.requests, 3, "{outcome:?}");
    assert_eq!(outcome.written, 2);
    assert_eq!(outcome.failed_from, Some(2));
    assert_eq!((outcome.rejected, outcome.quarantined), (0, 0));
    let lines: Vec<usize> = stub.requests().iter().map(|r| r.lines).collect();
    assert_eq!(lines, [4, 2, 2]);
    assert!(
        Quote::from_json(&event.records[2].kinesis.data.0).is_ok(),
        "record 2 is valid and retried, not quarantined"
    );
}
