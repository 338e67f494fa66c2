//! The time-sanity rule against the function's clock: a quote from the future never moves the
//! per-symbol state forward, and a state poisoned before the rule existed is repaired, so the
//! real moves after either still send their e-mail, exactly once.

use aws_sdk_s3::primitives::ByteStream;
use quote_record::{MAX_ARRIVAL_LEAD_NANOS, Timestamp};

use crate::common::{BUCKET, Env, PREFIX, at, clock};

/// The latest `market_time` the state may hold: the tests' clock plus the lead, in µs.
fn latest_us() -> i64 {
    (clock().unix_nanos() + MAX_ARRIVAL_LEAD_NANOS) / 1_000
}

fn micros(text: &str) -> i64 {
    Timestamp::parse_rfc3339(text).unwrap().unix_micros()
}

#[tokio::test]
async fn a_far_future_quote_then_a_real_move_sends_exactly_one_email() {
    let env = Env::start().await;
    let notify = env.notify();
    // A real price, and a quote four years ahead that would be a +400% move.
    let future = env
        .put_quotes(
            "FUT",
            "future",
            &[(at(30, 5).as_str(), 100.0), ("2031-01-01T00:00:05Z", 500.0)],
        )
        .await;
    let outcome = env.run(&notify, &[&future]).await.unwrap();
    assert_eq!(
        (
            outcome.rows,
            outcome.rows_implausible,
            outcome.alerts,
            outcome.published
        ),
        (2, 1, 0, 0),
        "{outcome:?}"
    );
    let state = env.state("FUT").await;
    assert_eq!(state.windows.len(), 1, "{state:?}");
    assert!(
        state
            .windows
            .iter()
            .all(|(_, last)| last.market_time_us <= latest_us()),
        "the state moved into the future: {state:?}"
    );
    assert!(state.alerts.is_empty());

    // A real +2% move a minute later: one e-mail.
    let real = env
        .put_quotes("FUT", "real", &[(at(31, 5).as_str(), 102.0)])
        .await;
    let outcome = env.run(&notify, &[&real]).await.unwrap();
    assert_eq!(
        (outcome.windows_too_old, outcome.alerts, outcome.published),
        (0, 1, 1),
        "{outcome:?}"
    );
    let published = env.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].0, "1 symbol moved >=1%: FUT +2.00%");

    // The future object delivered again changes nothing and sends nothing.
    let outcome = env.run(&notify, &[&future]).await.unwrap();
    assert_eq!((outcome.alerts, outcome.published), (0, 0), "{outcome:?}");
    assert_eq!(env.published().len(), 1);
    let state = env.state("FUT").await;
    assert_eq!(
        state.windows.newest().map(|w| w.start_micros()),
        Some(micros("2026-11-27T15:31:00Z"))
    );
}

#[tokio::test]
async fn a_state_poisoned_before_the_rule_is_repaired_and_the_real_move_is_sent() {
    let env = Env::start().await;
    let notify = env.notify();
    // What a future quote left in the state before the rule: its window (the newest, so the
    // horizon was in 2030 and every real window "too old") and its alert id.
    let poisoned = r#"{"v":1,"symbol":"POI","windows":[
        {"window":"2026-11-27T15:30Z","market_time":"2026-11-27T15:30:05Z","price":100.0},
        {"window":"2031-01-01T00:00Z","market_time":"2031-01-01T00:00:05Z","price":500.0}],
        "alerts":["POI/2031-01-01T00:00Z/2026-11-27T15:30Z"]}"#;
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(format!("{PREFIX}POI.json"))
        .body(ByteStream::from_static(poisoned.as_bytes()))
        .send()
        .await
        .unwrap();

    let real = env
        .put_quotes("POI", "real", &[(at(31, 5).as_str(), 98.0)])
        .await;
    let outcome = env.run(&notify, &[&real]).await.unwrap();
    assert_eq!(
        (
            outcome.windows_from_future,
            outcome.windows_too_old,
            outcome.alerts,
            outcome.published
        ),
        (1, 0, 1, 1),
        "{outcome:?}"
    );
    let published = env.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].0, "1 symbol moved >=1%: POI -2.00%");

    let state = env.state("POI").await;
    assert!(
        state
            .windows
            .iter()
            .all(|(_, last)| last.market_time_us <= latest_us()),
        "{state:?}"
    );
    assert_eq!(state.windows.len(), 2);
    let alerts: Vec<&str> = state.alerts.iter().map(String::as_str).collect();
    assert_eq!(alerts, ["POI/2026-11-27T15:31Z/2026-11-27T15:30Z"]);

    // Delivered again: nothing more.
    let outcome = env.run(&notify, &[&real]).await.unwrap();
    assert_eq!(
        (outcome.windows_from_future, outcome.published),
        (0, 0),
        "{outcome:?}"
    );
    assert_eq!(env.published().len(), 1);
}
