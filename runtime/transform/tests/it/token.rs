//! The token: read from moto's Secrets Manager once, cached, and re-read exactly once when the
//! server answers 401 (a rotated token), against a stub that accepts only the current token.

use std::sync::{Arc, Mutex};

use testkit::Moto;
use transform::config::InfluxApi;

use crate::common::*;
use crate::stub::Stub;

#[tokio::test]
async fn a_401_rereads_the_secret_once() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, "old\n").await;
    let accepted = Arc::new(Mutex::new(String::from("Token old")));
    let current = accepted.clone();
    let stub = Stub::start(move |request, _| {
        if request.authorization.as_deref() == Some(current.lock().unwrap().as_str()) {
            204
        } else {
            401
        }
    });
    let t = transform(
        &sdk,
        &stub.url,
        InfluxApi::V2 {
            org: "o".into(),
            bucket: "b".into(),
        },
    );
    let auth = |stub: &Stub| -> Vec<String> {
        stub.requests()
            .iter()
            .map(|r| r.authorization.clone().unwrap_or_default())
            .collect()
    };

    // Cold start: one read, cached.
    assert!(
        transform::handle(&t, fixture())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert!(
        transform::handle(&t, fixture())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(t.tokens().reads(), 1);
    assert_eq!(auth(&stub), ["Token old", "Token old"]);
    assert!(
        stub.requests()[0]
            .target
            .starts_with("/api/v2/write?org=o&bucket=b&precision=ns")
    );
    assert_eq!(stub.requests()[0].lines, 7);

    // The token is rotated: the server rejects the cached one, the secret is read again once.
    put_secret(&sdk, "new").await;
    *accepted.lock().unwrap() = "Token new".into();
    assert!(
        transform::handle(&t, fixture())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(t.tokens().reads(), 2);
    assert_eq!(auth(&stub)[2..], ["Token old", "Token new"]);
    assert!(
        transform::handle(&t, fixture())
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(t.tokens().reads(), 2, "the new token is cached");

    // The server wants a token the secret does not hold: one re-read, then the batch is retried
    // from its first valid record (record 0 is invalid and quarantined).
    *accepted.lock().unwrap() = "Token newer".into();
    let event = fixture();
    let response = transform::handle(&t, event.clone()).await;
    assert_eq!(
        failures(&response),
        [event.records[1].kinesis.sequence_number.clone()]
    );
    assert_eq!(t.tokens().reads(), 3);
    assert_eq!(auth(&stub)[5..], ["Token new", "Token new"]);
}

#[tokio::test]
async fn an_empty_token_sends_no_authorization_on_v1() {
    let moto = Moto::start();
    let sdk = sdk(&moto).await;
    prepare_moto(&sdk, " ").await;
    let stub = Stub::start(|_, _| 204);
    let t = transform(
        &sdk,
        &stub.url,
        InfluxApi::V1 {
            database: "quotes".into(),
        },
    );
    assert!(
        transform::handle(&t, fixture())
            .await
            .batch_item_failures
            .is_empty()
    );
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].authorization, None);
    assert_eq!(requests[0].target, "/write?db=quotes&precision=ns");
}
