//! Delivery: retries send nothing twice, concurrent invocations lose no state, a failed Publish
//! releases its claim, and what is not ours is ignored.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use notify::NotifyError;
use notify::window::{Threshold, Windows};

use crate::common::{BUCKET, Env, PREFIX, at, clock, event};

#[tokio::test]
async fn moto_honours_conditional_puts() {
    let env = Env::start().await;
    let put = |body: &'static str| {
        env.s3
            .put_object()
            .bucket(BUCKET)
            .key("state/notify/PROBE.json")
            .body(ByteStream::from_static(body.as_bytes()))
    };
    let created = put("1").if_none_match("*").send().await.unwrap();
    let err = put("2").if_none_match("*").send().await.unwrap_err();
    assert_eq!(err.code(), Some("PreconditionFailed"));
    let etag = created.e_tag().unwrap().to_owned();
    let second = put("3").if_match(&etag).send().await.unwrap();
    let err = put("4").if_match(&etag).send().await.unwrap_err();
    assert_eq!(err.code(), Some("PreconditionFailed"));
    put("5")
        .if_match(second.e_tag().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_retried_event_sends_no_second_email() {
    let env = Env::start().await;
    let notify = env.notify();
    let key = env
        .put_quotes("AAPL", "a", &[(at(30, 5), 100.0), (at(31, 5), 102.0)])
        .await;
    let first = env.run(&notify, &[&key]).await.unwrap();
    assert_eq!((first.alerts, first.published), (1, 1));
    let state = env.state("AAPL").await;
    for _ in 0..2 {
        let again = env.run(&notify, &[&key]).await.unwrap();
        assert_eq!(
            (again.alerts, again.published, again.windows_changed),
            (0, 0, 0)
        );
    }
    assert_eq!(env.published().len(), 1);
    assert_eq!(env.state("AAPL").await, state);
}

#[tokio::test]
async fn concurrent_invocations_on_overlapping_objects_lose_nothing() {
    let env = Env::start().await;
    let notify = env.notify();
    // Two flushes of the same symbol overlapping on minutes 33-35, with moves in both halves and
    // one across the seam. Several symbols so that the writes collide more than once.
    let prices = [100.0, 101.5, 101.6, 99.0, 99.1, 100.5, 100.4, 98.0, 98.1];
    let rows = |range: std::ops::RangeInclusive<usize>| -> Vec<(String, f64)> {
        range.map(|i| (at(30 + i as u32, 10), prices[i])).collect()
    };
    let symbols = ["CA", "CB", "CC", "CD"];
    let mut keys = Vec::new();
    for s in symbols {
        keys.push((
            env.put_quotes(s, "a", &rows(0..=5)).await,
            env.put_quotes(s, "b", &rows(3..=8)).await,
        ));
    }
    let mut conflicts = 0;
    for (a, b) in &keys {
        let (ka, kb) = ([a.as_str()], [b.as_str()]);
        let (ra, rb) = tokio::join!(env.run(&notify, &ka), env.run(&notify, &kb));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        conflicts += ra.state_conflicts + rb.state_conflicts;
    }
    println!("conditional writes redone after a lost race: {conflicts}");

    // What one pass over all rows gives.
    let mut all = Windows::new();
    for (t, p) in rows(0..=8) {
        all.observe(
            quote_record::Timestamp::parse_rfc3339(&t)
                .unwrap()
                .unix_micros(),
            p,
        );
    }
    let expected = all.moves(Threshold::default(), notify::window::Window(i64::MIN));
    assert_eq!(expected.len(), 4);
    let published = env.published();
    for s in symbols {
        let state = env.state(s).await;
        assert_eq!(state.windows, all, "{s}");
        let ids: Vec<String> = expected.iter().map(|m| m.id(s)).collect();
        assert_eq!(state.alerts.iter().cloned().collect::<Vec<_>>(), ids, "{s}");
        // Each alert in exactly one e-mail.
        let lines: usize = published
            .iter()
            .map(|(_, body)| {
                body.lines()
                    .filter(|l| l.starts_with(&format!("{s} ")))
                    .count()
            })
            .sum();
        assert_eq!(lines, expected.len(), "{s}");
    }
}

#[tokio::test]
async fn a_failed_publish_releases_the_claim_and_the_retry_sends() {
    let env = Env::start().await;
    let mut config = env.config(None);
    config.topic_arn = "arn:aws:sns:us-east-1:123456789012:no-such-topic".into();
    let broken = notify::Notify::from_config(&config, &env.sdk).with_clock(clock);
    let key = env
        .put_quotes("TSLA", "a", &[(at(30, 5), 200.0), (at(31, 5), 190.0)])
        .await;
    let err = env.run(&broken, &[&key]).await.unwrap_err();
    assert!(
        matches!(
            err,
            NotifyError::Publish {
                released: true,
                alerts: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-topic"), "{err}");
    let state = env.state("TSLA").await;
    assert_eq!(state.windows.len(), 2);
    assert!(state.alerts.is_empty(), "{state:?}");
    assert!(env.published().is_empty());

    // Lambda's retry (here with the topic fixed) sends it, once.
    let notify = env.notify();
    let outcome = env.run(&notify, &[&key]).await.unwrap();
    assert_eq!((outcome.alerts, outcome.published), (1, 1));
    env.run(&notify, &[&key]).await.unwrap();
    let published = env.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, "1 symbol moved >=1%: TSLA -5.00%");
}

#[tokio::test]
async fn keys_that_are_not_curated_quotes_are_ignored() {
    let env = Env::start().await;
    let notify = env.notify();
    let outcome = notify::handle(
        &notify,
        event(&[
            "raw/symbol=AAPL/dt=2026-11-27/x.gz",
            "quotes/symbol=AAPL/dt=2026-11-27/_SUCCESS",
            "quotes/symbol=aapl/dt=2026-11-27/x.parquet",
        ]),
    )
    .await
    .unwrap();
    assert_eq!(
        (outcome.records, outcome.ignored, outcome.objects),
        (3, 3, 0)
    );
}

#[tokio::test]
async fn unreadable_objects_and_state_are_errors() {
    let env = Env::start().await;
    let notify = env.notify();
    // Not Parquet.
    let key = "quotes/symbol=BAD/dt=2026-11-27/x.parquet";
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(b"{\"not\":\"parquet\"}"))
        .send()
        .await
        .unwrap();
    let err = env.run(&notify, &[key]).await.unwrap_err();
    assert!(matches!(err, NotifyError::Read { .. }), "{err}");
    assert!(err.to_string().contains(key), "{err}");
    // Missing object.
    let err = env
        .run(&notify, &["quotes/symbol=GONE/dt=2026-11-27/x.parquet"])
        .await
        .unwrap_err();
    assert!(matches!(err, NotifyError::Get { .. }), "{err}");
    // Corrupt state.
    env.s3
        .put_object()
        .bucket(BUCKET)
        .key(format!("{PREFIX}CORR.json"))
        .body(ByteStream::from_static(b"[]"))
        .send()
        .await
        .unwrap();
    let key = env
        .put_quotes("CORR", "a", &[(at(30, 5), 1.0), (at(31, 5), 2.0)])
        .await;
    let err = env.run(&notify, &[&key]).await.unwrap_err();
    assert!(err.to_string().contains("state/notify/CORR.json"), "{err}");
    assert!(err.to_string().contains("delete it"), "{err}");
}

/// The canary's alert (`deployer verify`'s reserved symbol) is published with the attribute the
/// e-mail subscriptions filter out; a user symbol's alert carries no attribute, so it is mailed.
#[tokio::test]
async fn the_canary_alert_carries_the_attribute_the_subscriptions_filter_out() {
    let env = Env::start().await;
    let notify = env.notify();
    let canary = env
        .put_quotes(
            quote_record::CANARY_SYMBOL,
            "c",
            &[(at(30, 5), 100.0), (at(31, 5), 102.0)],
        )
        .await;
    let user = env
        .put_quotes("AAPL", "a", &[(at(30, 5), 100.0), (at(31, 5), 102.0)])
        .await;
    let outcome = env.run(&notify, &[&canary, &user]).await.unwrap();
    assert_eq!(outcome.published, 2);
    let data: serde_json::Value = serde_json::from_str(&env.moto.data_json()).unwrap();
    let sent: Vec<(String, serde_json::Value)> = data["sns"]["Topic"][0]["sent_notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n[1].as_str().unwrap().to_owned(), n[3].clone()))
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for (message, attributes) in sent {
        let marked = attributes
            .get(lambda_contract::notify::CANARY_ATTRIBUTE)
            .is_some();
        assert_eq!(
            marked,
            message.contains(quote_record::CANARY_SYMBOL),
            "{message}: {attributes}"
        );
    }
    assert!(notify::handler::canary_attribute("AAPL").is_none());
}
