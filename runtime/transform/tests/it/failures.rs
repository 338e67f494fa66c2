//! Which record Kinesis is told to retry from when a write, the token or the quarantine fails.

use testkit::Moto;
use transform::config::InfluxApi;

use crate::common::*;
use crate::stub::Stub;

fn v2() -> InfluxApi {
    InfluxApi::V2 {
        org: "o".into(),
        bucket: "b".into(),
    }
}

fn quote(i: usize) -> Vec<u8> {
    format!(
        r#"{{"symbol":"S{}","price":{}.25,"currency":"EUR","change_pct":-1,"market_time":"2026-11-27T15:{:02}:{:02}Z","scraped_at":"2026-11-27T21:00:00Z","source":"t"}}"#,
        i % 7,
        10 + i,
        i / 7 / 60 % 60,
        i / 7 % 60
    )
    .into_bytes()
}

#[tokio::test]
async fn a_failed_second_body_is_retried_from_its_first_record() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "t").await;
    // Full bodies are stored, the last (shorter) one fails, every time.
    let stub = Stub::start(|request, _| if request.lines == 5_000 { 204 } else { 500 });
    let t = transform(&sdk, &stub.url, v2());
    let mut payloads: Vec<Vec<u8>> = (0..6_000).map(quote).collect();
    payloads[10] = b"not json".to_vec();
    payloads[5_500] = b"[]".to_vec();
    let event = event(&event_with(&payloads));
    let outcome = transform::handler::process(&t, &event.records).await;
    // Body 1 holds the first 5,000 valid records: indices 0..=5000 (index 10 is invalid); body 2
    // starts at index 5001.
    assert_eq!(outcome.failed_from, Some(5_001), "{outcome:?}");
    assert_eq!((outcome.written, outcome.requests), (5_000, 2));
    let lines: Vec<usize> = stub.requests().iter().map(|r| r.lines).collect();
    assert_eq!(lines, [5_000, 998]);
    // Only the invalid record before the failure point is quarantined; index 5,500 is retried.
    assert_eq!(outcome.quarantined, 1);
    let objects = quarantine_objects(&sdk).await;
    assert_quarantined(&objects[0].1, &event, &[10]);

    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(
        failures(&response),
        [event.records[5_001].kinesis.sequence_number.clone()]
    );
}

#[tokio::test]
async fn a_failed_quarantine_retries_the_invalid_records() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    // The secret, but no bucket: PutObject fails.
    put_secret(&sdk, "t").await;
    let stub = Stub::start(|_, _| 204);
    let t = transform(&sdk, &stub.url, v2());
    let event = fixture();
    let response = transform::handle(&t, event.clone()).await;
    // The points were written; the first invalid record (index 0) is where Kinesis resumes, so
    // no invalid record is lost (the valid ones after it are rewritten, idempotently).
    assert_eq!(
        failures(&response),
        [event.records[0].kinesis.sequence_number.clone()]
    );
    assert_eq!(stub.requests().len(), 1);
    assert_eq!(stub.requests()[0].lines, 7);
}

#[tokio::test]
async fn an_unreadable_token_retries_from_the_first_valid_record() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    // The bucket, but no secret.
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    prepare_moto(&sdk, "t").await;
    sm.delete_secret()
        .secret_id(SECRET)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let stub = Stub::start(|_, _| 204);
    let t = transform(&sdk, &stub.url, v2());
    let event = fixture();
    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(
        failures(&response),
        [event.records[1].kinesis.sequence_number.clone()]
    );
    assert!(stub.requests().is_empty());
    let objects = quarantine_objects(&sdk).await;
    assert_eq!(objects.len(), 1);
    assert_quarantined(&objects[0].1, &event, &[0]);

    // moto's reset clears everything: now the quarantine fails too, at record 0.
    moto.reset();
    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(
        failures(&response),
        [event.records[0].kinesis.sequence_number.clone()]
    );
}
