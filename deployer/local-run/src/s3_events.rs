//! The buckets' event notifications, which moto stores but never sends: the template's
//! `NotificationConfiguration.LambdaConfigurations` (event type, prefix and suffix filters) are read
//! as [`NotificationRule`]s, new objects are found by listing each bucket (`ListObjectsV2`, every
//! [`LIST_INTERVAL`]: a key not seen before, or seen with another ETag, is an `ObjectCreated:Put`),
//! and each matching function is invoked asynchronously with an S3 event shaped like S3's. A listing
//! costs moto time in proportion to the objects the buckets hold, so once the buckets' listings take
//! longer than a quarter of the interval they are spaced out ([`crate::pacing`]): events then come
//! later, and moto keeps the time the pipeline's own requests need.
//!
//! Asynchronous invocation as Lambda does it: a failed invocation is retried twice (Lambda waits
//! about one then two minutes; locally [`ASYNC_RETRY_PAUSES`]), then the event goes to the
//! function's `DeadLetterConfig` queue with Lambda's `RequestID`, `ErrorCode` and `ErrorMessage`
//! attributes. Objects present when the run starts are not events.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_sqs::types::MessageAttributeValue;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::function::{Invoke, Outcome};
use crate::pacing;
use crate::resolve::{ResolveError, Resolver};

/// How often each bucket is listed.
pub const LIST_INTERVAL: Duration = Duration::from_millis(1000);

/// The pauses before the two retries of a failed asynchronous invocation.
pub const ASYNC_RETRY_PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

/// One `LambdaConfiguration` of a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRule {
    /// The bucket's logical id.
    pub bucket_id: String,
    /// The bucket's name.
    pub bucket: String,
    /// The event type, such as `s3:ObjectCreated:*`.
    pub event: String,
    /// The function's ARN.
    pub function_arn: String,
    /// The `prefix` filter rule (empty: any).
    pub prefix: String,
    /// The `suffix` filter rule (empty: any).
    pub suffix: String,
}

impl NotificationRule {
    /// Whether an event `event_name` (such as `s3:ObjectCreated:Put`) on `key` matches: the same
    /// event type or a `*` wildcard of its family, and the key starts with the prefix and ends with
    /// the suffix (S3 compares both case-sensitively on the raw key).
    pub fn matches(&self, event_name: &str, key: &str) -> bool {
        let event_matches = match self.event.strip_suffix('*') {
            Some(family) => event_name.starts_with(family),
            None => event_name == self.event,
        };
        event_matches && key.starts_with(&self.prefix) && key.ends_with(&self.suffix)
    }
}

/// The notification rules of every bucket in `template`, resolved.
pub fn rules(template: &Value, resolver: &Resolver) -> Result<Vec<NotificationRule>, ResolveError> {
    let mut rules = Vec::new();
    let Some(resources) = template["Resources"].as_object() else {
        return Ok(rules);
    };
    for (id, resource) in resources {
        if resource["Type"] != "AWS::S3::Bucket" {
            continue;
        }
        let configs = &resource["Properties"]["NotificationConfiguration"]["LambdaConfigurations"];
        let Some(configs) = configs.as_array() else {
            continue;
        };
        let bucket = resolver.resolve(&json!({ "Ref": id }))?;
        for config in configs {
            let filter = |name: &str| {
                config["Filter"]["S3Key"]["Rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| {
                        r["Name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    })
                    .and_then(|r| r["Value"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            rules.push(NotificationRule {
                bucket_id: id.clone(),
                bucket: bucket.clone(),
                event: config["Event"].as_str().unwrap_or_default().to_owned(),
                function_arn: resolver.resolve(&config["Function"])?,
                prefix: filter("prefix"),
                suffix: filter("suffix"),
            });
        }
    }
    Ok(rules)
}

/// A new object, as the listing saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObject {
    /// The key.
    pub key: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its ETag without quotes.
    pub etag: String,
}

/// The S3 event for one new object, shaped as S3 sends it (checked against the `aws_lambda_events`
/// type): `eventTime` is now, when the listing saw it.
pub fn object_created_event(
    region: &str,
    rule: &NotificationRule,
    object: &NewObject,
    sequencer: u64,
) -> String {
    let now = aws_smithy_types::DateTime::from(SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let event = json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": now,
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:local-run"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": format!("{sequencer:016X}"), "x-amz-id-2": "local-run"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": format!("{}Notification", rule.bucket_id),
            "bucket": {"name": rule.bucket, "ownerIdentity": {"principalId": "local-run"}, "arn": format!("arn:aws:s3:::{}", rule.bucket)},
            "object": {
                "key": lambda_support::s3_event_key_encoded(&object.key),
                "size": object.size,
                "eTag": object.etag,
                "sequencer": format!("{sequencer:016X}"),
            }
        }
    }]});
    {
        // Checked against the typed event (the shape functions deserialize), sent as built: the
        // typed event would reserialize numbers as text where Lambda sends numbers.
        if let Err(e) =
            serde_json::from_value::<aws_lambda_events::event::s3::S3Event>(event.clone())
        {
            tracing::error!("the event does not match the aws_lambda_events type: {e}");
        }
        event.to_string()
    }
}

/// Counters of the notifications, for the live view.
#[derive(Debug, Default)]
pub struct NotificationStats {
    /// Events per rule (`bucket_id prefix*suffix → function`), in rule order.
    pub events: Vec<(String, AtomicU64)>,
    /// Asynchronous invocations that failed all three attempts.
    pub failed_events: AtomicU64,
    /// Events sent to a dead-letter queue.
    pub dead_lettered: AtomicU64,
}

/// A function invoked asynchronously, with its dead-letter queue.
pub struct AsyncTarget<F> {
    /// The function.
    pub function: Arc<F>,
    /// Its `DeadLetterConfig` queue URL, if any.
    pub dead_letter_queue: Option<String>,
}

/// Watches the buckets of `rules` and invokes their functions until `stop`; returns when stopped,
/// after the queued events were delivered.
pub async fn run<F: Invoke + 'static>(
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    region: String,
    rules: Vec<NotificationRule>,
    targets: HashMap<String, AsyncTarget<F>>,
    stats: Arc<NotificationStats>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut queues: HashMap<String, mpsc::UnboundedSender<String>> = HashMap::new();
    let mut workers = Vec::new();
    for (arn, target) in targets {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        queues.insert(arn, tx);
        let (sqs, stats) = (sqs.clone(), Arc::clone(&stats));
        workers.push(tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                invoke_async(&target, &sqs, &stats, event).await;
            }
        }));
    }
    let mut seen: BTreeMap<String, HashMap<String, String>> = BTreeMap::new();
    for bucket in rules.iter().map(|r| r.bucket.clone()) {
        if let std::collections::btree_map::Entry::Vacant(slot) = seen.entry(bucket) {
            let existing = list(&s3, slot.key()).await?;
            slot.insert(existing.into_iter().map(|o| (o.key, o.etag)).collect());
        }
    }
    let mut sequencer = 0u64;
    let mut pause = LIST_INTERVAL;
    while !*stop.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
        let started = Instant::now();
        for (bucket, known) in seen.iter_mut() {
            let objects = match list(&s3, bucket).await {
                Ok(objects) => objects,
                Err(e) => {
                    tracing::warn!("{e}");
                    continue;
                }
            };
            for object in objects {
                if known.get(&object.key) == Some(&object.etag) {
                    continue;
                }
                known.insert(object.key.clone(), object.etag.clone());
                for (index, rule) in rules.iter().enumerate() {
                    if rule.bucket != *bucket || !rule.matches("s3:ObjectCreated:Put", &object.key)
                    {
                        continue;
                    }
                    sequencer += 1;
                    if let Some((_, count)) = stats.events.get(index) {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    let event = object_created_event(&region, rule, &object, sequencer);
                    match queues.get(&rule.function_arn) {
                        Some(queue) => {
                            let _ = queue.send(event);
                        }
                        None => tracing::warn!(
                            function = rule.function_arn,
                            "no hosted function for this notification"
                        ),
                    }
                }
            }
        }
        pause = pacing::pause_after(LIST_INTERVAL, started.elapsed());
    }
    // Stopping: the queued events are delivered.
    drop(queues);
    for worker in workers {
        let _ = worker.await;
    }
    Ok(())
}

async fn invoke_async<F: Invoke>(
    target: &AsyncTarget<F>,
    sqs: &aws_sdk_sqs::Client,
    stats: &NotificationStats,
    event: String,
) {
    let mut outcome = target.function.invoke(event.clone()).await;
    for pause in ASYNC_RETRY_PAUSES {
        if outcome.is_success() {
            return;
        }
        tokio::time::sleep(pause).await;
        outcome = target.function.invoke(event.clone()).await;
    }
    if outcome.is_success() {
        return;
    }
    stats.failed_events.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(
        function = target.function.arn(),
        "asynchronous invocation failed 3 times: {outcome}"
    );
    let Some(queue) = &target.dead_letter_queue else {
        return;
    };
    let (code, message) = match &outcome {
        Outcome::FunctionError {
            error_type,
            message,
        } => (error_type.clone(), message.clone()),
        other => ("Unhandled".to_owned(), other.to_string()),
    };
    let attribute = |value: String| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
    };
    let mut request = sqs.send_message().queue_url(queue).message_body(event);
    for (name, value) in [
        ("RequestID", "local-run".to_owned()),
        ("ErrorCode", code),
        ("ErrorMessage", message),
    ] {
        if let Ok(attribute) = attribute(value) {
            request = request.message_attributes(name, attribute);
        }
    }
    match request.send().await {
        Ok(_) => {
            stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::error!(
            queue,
            "cannot dead-letter the event: {}",
            aws_smithy_types::error::display::DisplayErrorContext(e)
        ),
    }
}

async fn list(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<NewObject>, String> {
    let mut out = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "ListObjectsV2 {bucket}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            )
        })?;
        for object in page.contents() {
            out.push(NewObject {
                key: object.key().unwrap_or_default().to_owned(),
                size: object.size().unwrap_or_default(),
                etag: object
                    .e_tag()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_owned(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use super::*;

    fn rule(event: &str, prefix: &str, suffix: &str) -> NotificationRule {
        NotificationRule {
            bucket_id: "CuratedBucket".into(),
            bucket: "b".into(),
            event: event.into(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            prefix: prefix.into(),
            suffix: suffix.into(),
        }
    }

    #[test]
    fn filters_match_event_family_prefix_and_suffix_case_sensitively() {
        let r = rule("s3:ObjectCreated:*", "quotes/", ".parquet");
        assert!(r.matches(
            "s3:ObjectCreated:Put",
            "quotes/symbol=AAPL/dt=2026-11-27/a.parquet"
        ));
        assert!(r.matches(
            "s3:ObjectCreated:CompleteMultipartUpload",
            "quotes/x.parquet"
        ));
        assert!(!r.matches("s3:ObjectRemoved:Delete", "quotes/x.parquet"));
        assert!(!r.matches("s3:ObjectCreated:Put", "state/notify/AAPL.json"));
        assert!(!r.matches("s3:ObjectCreated:Put", "quotes/x.parquet.tmp"));
        assert!(!r.matches("s3:ObjectCreated:Put", "Quotes/x.parquet"));
        assert!(!r.matches("s3:ObjectCreated:Put", "quotes/x.PARQUET"));
        let exact = rule("s3:ObjectCreated:Put", "", "");
        assert!(exact.matches("s3:ObjectCreated:Put", "anything"));
        assert!(!exact.matches("s3:ObjectCreated:Copy", "anything"));
    }

    #[test]
    fn the_event_is_s3s_shape_with_the_key_form_url_encoded() {
        let r = rule("s3:ObjectCreated:*", "raw/", "");
        let object = NewObject {
            key: "raw/symbol=BRK.B/dt=2026-11-27/a b+c.gz".into(),
            size: 42,
            etag: "abc".into(),
        };
        let text = object_created_event("us-east-1", &r, &object, 7);
        let event: aws_lambda_events::event::s3::S3Event = serde_json::from_str(&text).unwrap();
        let record = &event.records[0];
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(record.s3.bucket.name.as_deref(), Some("b"));
        assert_eq!(record.s3.object.size, Some(42));
        let key = record.s3.object.key.as_deref().unwrap();
        assert_eq!(key, "raw/symbol%3DBRK.B/dt%3D2026-11-27/a+b%2Bc.gz");
        assert_eq!(lambda_support::s3_event_key(key).unwrap(), object.key);
    }
}
