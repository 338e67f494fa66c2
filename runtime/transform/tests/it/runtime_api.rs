//! The real `transform` binary under a fake Lambda Runtime API (`testkit::RuntimeApi`): a bad
//! configuration is reported as an init error; records with a UTF-8 BOM or truncated JSON, and
//! quotes from the far future or the far past (judged against the event's Kinesis arrival times),
//! are quarantined with their reasons while the valid one is written; an event that is not JSON is
//! an invocation error and the function goes on with the next one.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use testkit::{Influx1, LambdaProcess, Moto, Report, RuntimeApi};

use crate::common::*;

const BINARY: &str = env!("CARGO_BIN_EXE_transform");
const WAIT: Duration = Duration::from_secs(60);

/// Every variable the stack sets, pointing at `influx` and `moto`, as (name, value).
fn stack_env(influx: &str, moto: &str, secret_arn: &str) -> Vec<(&'static str, String)> {
    vec![
        ("INFLUX_URL", influx.to_owned()),
        ("INFLUX_API", "v1".to_owned()),
        ("INFLUX_DATABASE", "quotes".to_owned()),
        ("INFLUX_TOKEN_SECRET_ARN", secret_arn.to_owned()),
        ("QUARANTINE_BUCKET", BUCKET.to_owned()),
        ("QUARANTINE_PREFIX", PREFIX.to_owned()),
        ("AWS_ENDPOINT_URL", moto.to_owned()),
    ]
}

fn spawn(api: &RuntimeApi, env: &[(&'static str, String)]) -> LambdaProcess {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    LambdaProcess::spawn(BINARY, api, &env)
}

/// The init error's type and message; the process must have exited with a failure.
fn init_error(api: &RuntimeApi, lambda: &mut LambdaProcess) -> (String, String) {
    let (error_type, body) = api.wait_init_error(WAIT);
    let status = lambda.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| !s.success()),
        "{status:?}\n{}",
        lambda.log()
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["errorType"].as_str(), error_type.as_deref());
    assert_eq!(body["stackTrace"], Value::Array(Vec::new()));
    (
        error_type.unwrap(),
        body["errorMessage"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_missing_variable_is_an_init_error_naming_it() {
    let api = RuntimeApi::start();
    let mut env = stack_env("http://127.0.0.1:1", "http://127.0.0.1:1", "arn:secret");
    env.retain(|(k, _)| *k != "QUARANTINE_BUCKET");
    let mut lambda = spawn(&api, &env);
    let (error_type, message) = init_error(&api, &mut lambda);
    assert_eq!(error_type, "Function.ConfigError");
    assert!(
        message.contains("QUARANTINE_BUCKET is required but not set"),
        "{message}"
    );
    assert!(message.contains("set QUARANTINE_BUCKET in"), "{message}");
    assert_eq!(api.polls(), 0, "asked for an event after a failed init");
}

#[test]
fn an_invalid_url_is_an_init_error_without_its_value() {
    let api = RuntimeApi::start();
    let mut env = stack_env("http://127.0.0.1:1", "http://127.0.0.1:1", "arn:secret");
    env[0].1 = "ftp://writer:hunter2@influx.example.com".to_owned();
    let mut lambda = spawn(&api, &env);
    let (error_type, message) = init_error(&api, &mut lambda);
    assert_eq!(error_type, "Function.ConfigError");
    assert!(message.contains("INFLUX_URL is invalid"), "{message}");
    assert!(message.contains("http:// or https://"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!lambda.log().contains("hunter2"), "{}", lambda.log());
}

#[test]
fn a_url_the_writer_cannot_use_is_an_init_error_without_its_value() {
    let api = RuntimeApi::start();
    let mut env = stack_env("http://127.0.0.1:1", "http://127.0.0.1:1", "arn:secret");
    // Passes the configuration's shape check; the URL parser refuses the port.
    env[0].1 = "http://writer:hunter2@127.0.0.1:99999".to_owned();
    let mut lambda = spawn(&api, &env);
    let (error_type, message) = init_error(&api, &mut lambda);
    assert_eq!(error_type, "Function.InfluxWriterError");
    assert!(message.contains("invalid port number"), "{message}");
    assert!(message.contains("check INFLUX_URL"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!lambda.log().contains("hunter2"), "{}", lambda.log());
}

/// A valid-shaped quote payload at `market_time`, scraped a second later (RFC 3339 both).
fn quote_payload(symbol: &str, market_time: &str, scraped_at: &str) -> Vec<u8> {
    format!(
        r#"{{"v":1,"symbol":"{symbol}","price":101.5,"currency":"USD","change_pct":0.5,"market_time":"{market_time}","scraped_at":"{scraped_at}","source":"quote-page"}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn bom_truncated_and_implausibly_timed_records_are_quarantined_and_bad_events_do_not_stop_it()
{
    let (influx, moto) = (Influx1::start(), Moto::start());
    influx.create_database("quotes");
    let sdk = sdk(&moto).await;
    let secret_arn = prepare_moto(&sdk, "ignored-by-influx-1.x-without-auth").await;
    let api = RuntimeApi::start();
    let lambda = spawn(&api, &stack_env(influx.url(), moto.endpoint(), &secret_arn));

    // Record 0 has a BOM before valid JSON, record 1 is cut short, record 2 is years ahead of its
    // arrival (2026-11-27T21:00:03Z, see `event_with`), record 3 is the epoch, record 4 is valid.
    let (valid, _) = split(&fixture());
    let json = valid[0].1.to_json();
    let bom = [b"\xEF\xBB\xBF".as_slice(), json.as_bytes()].concat();
    let truncated = json.as_bytes()[..json.len() / 2].to_vec();
    let future = quote_payload("FUTURE", "2031-01-01T00:00:00Z", "2031-01-01T00:00:01Z");
    let epoch = quote_payload("EPOCH", "1970-01-01T00:00:00Z", "1970-01-01T00:00:01Z");
    let payloads = vec![bom, truncated, future, epoch, json.clone().into_bytes()];
    let event_json = event_with(&payloads);
    let id = api.invoke(event_json.to_string());
    let Report::Response { body, .. } = api.wait_result(&id, WAIT) else {
        panic!("not a response: {:?}\n{}", api.reports(), lambda.log());
    };
    let response: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(response["batchItemFailures"], Value::Array(Vec::new()));

    let quarantined = quarantine_objects(&sdk).await;
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_quarantined(&quarantined[0].1, &event(&event_json), &[0, 1, 2, 3]);
    let reasons: Vec<&str> = quarantined[0]
        .1
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    // A BOM is not JSON (RFC 8259 forbids it on the wire): quarantined, not accepted.
    assert_eq!(
        reasons,
        [
            "not_json",
            "not_json",
            "time_ahead_of_arrival",
            "time_too_old"
        ]
    );
    assert_eq!(
        BASE64
            .decode(quarantined[0].1[0]["data_base64"].as_str().unwrap())
            .unwrap()[..3],
        *b"\xEF\xBB\xBF",
        "the BOM is kept in the quarantined bytes"
    );
    let points = influx.query("quotes", "SELECT count(price) FROM quote");
    assert!(points.contains("\"values\":[[0,1]]"), "{points}");

    // An event that is not a Kinesis event (cut short, or with a BOM): an invocation error, and
    // the function keeps serving.
    let text = event_json.to_string();
    for bad in [&text[..text.len() / 2], &format!("\u{FEFF}{text}")] {
        let id = api.invoke(bad);
        match api.wait_result(&id, WAIT) {
            // The runtime names the failure in the body (the header says `unhandled`).
            Report::Error { body, .. } => assert!(body.contains("DeserializeError"), "{body}"),
            other => panic!("{other:?}\n{}", lambda.log()),
        }
    }
    let id = api.invoke(event_with(&[json.into_bytes()]).to_string());
    assert!(
        matches!(api.wait_result(&id, WAIT), Report::Response { .. }),
        "{}",
        lambda.log()
    );
}
