//! The real `notify` binary under a fake Lambda Runtime API (`testkit::RuntimeApi`): a bad
//! configuration is reported as an init error; a move is e-mailed and answered; an object that is
//! not Parquet (JSON with a BOM) and an event that is not JSON are invocation errors (Lambda
//! retries them), and the function goes on with the next event; quotes from the far future or the
//! far past (judged against the binary's own clock) move nothing, and a real move after them is
//! e-mailed exactly once.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use quote_record::Timestamp;
use serde_json::Value;
use testkit::{LambdaProcess, Report, RuntimeApi};

use crate::common::{BUCKET, Env, PREFIX, event};

const BINARY: &str = env!("CARGO_BIN_EXE_notify");
const WAIT: Duration = Duration::from_secs(60);

#[test]
fn an_invalid_threshold_is_an_init_error_naming_it() {
    let api = RuntimeApi::start();
    let mut lambda = LambdaProcess::spawn(
        BINARY,
        &api,
        &[
            ("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
            ("STATE_BUCKET", BUCKET),
            ("STATE_PREFIX", PREFIX),
            ("THRESHOLD_PCT", "-3"),
        ],
    );
    let (error_type, body) = api.wait_init_error(WAIT);
    assert_eq!(error_type.as_deref(), Some("Function.ConfigError"));
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.contains("THRESHOLD_PCT is invalid"), "{message}");
    assert!(message.contains("greater than 0"), "{message}");
    let status = lambda.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| !s.success()), "{}", lambda.log());
    assert_eq!(api.polls(), 0);
}

#[tokio::test]
async fn a_move_is_mailed_and_bad_objects_or_events_do_not_stop_it() {
    let env = Env::start().await;
    let api = RuntimeApi::start();
    let lambda = LambdaProcess::spawn(
        BINARY,
        &api,
        &[
            ("TOPIC_ARN", env.topic_arn.as_str()),
            ("STATE_BUCKET", BUCKET),
            ("STATE_PREFIX", PREFIX),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", env.moto.endpoint()),
        ],
    );
    // The binary judges times by the wall clock: quotes of two minutes and one minute ago.
    let now = Timestamp::now();
    let key = env
        .put_quotes(
            "ONE",
            "a",
            &[(from_now(now, -120), 100.0), (from_now(now, -60), 101.0)],
        )
        .await;
    let valid = serde_json::to_string(&event(&[&key])).unwrap();
    let id = api.invoke(valid.clone());
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{:?}\n{}",
        api.reports(),
        lambda.log()
    );
    let subjects: Vec<String> = env.published().into_iter().map(|(s, _)| s).collect();
    assert_eq!(subjects, ["1 symbol moved >=1%: ONE +1.00%"]);

    // A curated key holding JSON with a BOM instead of Parquet: the invocation fails (Lambda
    // retries it, then sends it to the failure destination).
    let bad_key = "quotes/symbol=BAD/dt=2026-11-27/not-parquet.parquet";
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(bad_key)
        .body(ByteStream::from(
            b"\xEF\xBB\xBF{\"symbol\":\"BAD\"}\n".to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let bad_object = serde_json::to_string(&event(&[bad_key])).unwrap();
    // An event that is not an S3 event (cut short, or with a BOM): the runtime reports it.
    for bad in [
        bad_object,
        valid[..valid.len() / 2].to_owned(),
        format!("\u{FEFF}{valid}"),
    ] {
        let id = api.invoke(bad);
        assert!(
            matches!(api.wait_result(&id, WAIT), Report::Error { .. }),
            "{:?}\n{}",
            api.reports(),
            lambda.log()
        );
    }
    // Still serving: the same object again is answered, and not mailed twice.
    let id = api.invoke(valid);
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{}",
        lambda.log()
    );
    assert_eq!(env.published().len(), 1);
}

/// `now` moved by `seconds`, on a whole second, as RFC 3339.
fn from_now(now: Timestamp, seconds: i64) -> String {
    const NANOS_PER_SEC: i64 = 1_000_000_000;
    let whole = now.unix_nanos() / NANOS_PER_SEC * NANOS_PER_SEC;
    Timestamp::from_unix_nanos(whole + seconds * NANOS_PER_SEC).to_string()
}

#[tokio::test]
async fn far_future_and_far_past_quotes_then_a_real_move_send_exactly_one_email() {
    let env = Env::start().await;
    let api = RuntimeApi::start();
    let lambda = LambdaProcess::spawn(
        BINARY,
        &api,
        &[
            ("TOPIC_ARN", env.topic_arn.as_str()),
            ("STATE_BUCKET", BUCKET),
            ("STATE_PREFIX", PREFIX),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", env.moto.endpoint()),
        ],
    );
    // The binary judges times by the wall clock: build them around now. Two minutes ago a real
    // price; a year ahead a +400% quote, and the epoch a -99% one, both implausible.
    let now = Timestamp::now();
    let year = 365 * 86_400;
    let implausible = env
        .put_quotes(
            "FUT",
            "implausible",
            &[
                (from_now(now, -120), 100.0),
                (from_now(now, year), 500.0),
                ("1970-01-01T00:00:05Z".to_owned(), 1.0),
            ],
        )
        .await;
    let implausible = serde_json::to_string(&event(&[&implausible])).unwrap();
    let id = api.invoke(implausible.clone());
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{:?}\n{}",
        api.reports(),
        lambda.log()
    );
    assert_eq!(env.published(), [], "an implausible quote was mailed");
    assert!(
        lambda.log().contains("implausible market_time"),
        "{}",
        lambda.log()
    );

    // A real +2% move a minute later: one e-mail.
    let real = env
        .put_quotes("FUT", "real", &[(from_now(now, -60), 102.0)])
        .await;
    let id = api.invoke(serde_json::to_string(&event(&[&real])).unwrap());
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{}",
        lambda.log()
    );
    let subjects: Vec<String> = env.published().into_iter().map(|(s, _)| s).collect();
    assert_eq!(subjects, ["1 symbol moved >=1%: FUT +2.00%"]);

    // The implausible object delivered again sends nothing more.
    let id = api.invoke(implausible);
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{}",
        lambda.log()
    );
    assert_eq!(env.published().len(), 1, "{:?}", env.published());
}
