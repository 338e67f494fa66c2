//! The handler: an S3 event from the curated bucket in, at most one e-mail per object out.
//!
//! The canary's alert (`deployer verify`'s reserved symbol) is published with the message attribute
//! of [`canary_attribute`], which the e-mail subscriptions filter out: it is checked, never mailed.
//!
//! Per record: decode the key (ignore keys that are not `quotes/…/*.parquet`), read the object's
//! `price` and `market_time` (rows whose `market_time` breaks the time-sanity rule against the
//! clock are skipped, and the state never moves past the clock plus the lead), merge its windows into the symbol's state and claim the new alerts
//! with a conditional write ([`crate::store`]), then publish one e-mail listing them.
//!
//! # Exactly-once e-mail (at most once per alert across retries)
//!
//! An alert has an id (`SYMBOL/window/previous window`). The conditional state write *claims* the
//! ids it adds: only one invocation can add a given id, because a concurrent writer's PUT fails
//! its `If-Match` and redoes the merge on the state that already holds the id. Only the invocation
//! that claimed an alert publishes it.
//!
//! - Publish fails with an answer from SNS (or before the request is sent): the e-mail was not
//!   sent. The claim is released (another conditional update removing those ids) and the handler
//!   returns the error, so Lambda retries the event and the retry claims and sends them again.
//! - Publish fails without a definite answer (timeout, connection lost, 5xx): SNS may have
//!   accepted the message. The claim is kept (the alert may be lost, never sent twice), the e-mail
//!   is logged in full at error level, and the handler returns the error.
//! - The function crashes or times out after Publish succeeded: the alerts stay claimed, the
//!   retry computes the same ids, finds them claimed and sends nothing. No duplicate.
//! - The remaining gap: a crash or timeout between the claim and the end of Publish (or a failed
//!   release) leaves alerts claimed but unsent, so they are lost rather than duplicated. That is
//!   the price of never sending twice without a transactional outbox.
//!
//! The SNS client makes one attempt per Publish (no SDK retries), since a retried Publish after a
//! lost response would send the e-mail twice; Lambda's retry of the event takes that role.

use std::time::Instant;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::SdkError;
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;
use bytes::Bytes;
use quote_record::Timestamp;
use thiserror::Error;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::email::{self, Alert};
use crate::object::{self, ReadError};
use crate::store::{StateStore, StoreError, error_chain};
use crate::window::Threshold;

/// What the handler needs, built once per container.
#[derive(Debug, Clone)]
pub struct Notify {
    s3: aws_sdk_s3::Client,
    sns: aws_sdk_sns::Client,
    store: StateStore,
    topic_arn: String,
    threshold: Threshold,
    /// The clock: the time-sanity rule's reference (tests set a fixed one).
    clock: fn() -> Timestamp,
}

impl Notify {
    /// Assembles the parts: `s3` reads the curated objects and the state, `sns` publishes.
    pub fn new(s3: aws_sdk_s3::Client, sns: aws_sdk_sns::Client, config: &Config) -> Self {
        Self {
            store: StateStore::new(
                s3.clone(),
                config.state_bucket.clone(),
                config.state_prefix.clone(),
            ),
            s3,
            sns,
            topic_arn: config.topic_arn.clone(),
            threshold: config.threshold,
            clock: Timestamp::now,
        }
    }

    /// The same function with another clock (the system clock by default): what "now" is for the
    /// time-sanity rule.
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the clients from an SDK configuration: S3 uses path-style addressing when the
    /// configuration has an endpoint override (a local emulator), SNS makes a single attempt per
    /// call (see the module documentation).
    pub fn from_config(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let s3 = lambda_support::s3_client(sdk);
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(sdk)
                .retry_config(
                    aws_sdk_sns::config::retry::RetryConfig::standard().with_max_attempts(1),
                )
                .build(),
        );
        Self::new(s3, sns, config)
    }

    /// The state store.
    pub fn store(&self) -> &StateStore {
        &self.store
    }
}

/// What one invocation did, for its log line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records in the event.
    pub records: usize,
    /// Records ignored (not a curated quote object).
    pub ignored: usize,
    /// Objects read.
    pub objects: usize,
    /// Rows read from them.
    pub rows: usize,
    /// Distinct symbols.
    pub symbols: usize,
    /// Windows in the objects.
    pub windows: usize,
    /// Windows that changed a state object.
    pub windows_changed: usize,
    /// Windows older than the state's horizon, ignored.
    pub windows_too_old: usize,
    /// Rows whose `market_time` breaks the time-sanity rule against the clock, ignored.
    pub rows_implausible: usize,
    /// Windows priced after the clock plus the lead: ignored, or removed from the state.
    pub windows_from_future: usize,
    /// Alerts claimed (new) by this invocation.
    pub alerts: usize,
    /// E-mails published.
    pub published: usize,
    /// Conditional state writes that lost a race and were redone.
    pub state_conflicts: u32,
}

/// An invocation that failed: Lambda retries the event.
#[derive(Debug, Error)]
pub enum NotifyError {
    /// The curated object could not be read.
    #[error(
        "cannot read s3://{bucket}/{key}: {message} (check s3:GetObject on quotes/* for the function's role)"
    )]
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// The SDK error with its source chain.
        message: String,
    },
    /// The object is not curated Parquet.
    #[error("s3://{bucket}/{key}: {source}")]
    Read {
        /// The bucket.
        bucket: String,
        /// The key.
        key: String,
        /// Why.
        source: ReadError,
    },
    /// The state could not be read or written.
    #[error(transparent)]
    State(#[from] StoreError),
    /// Publish failed; `released` tells whether the alerts will be sent by the retry.
    #[error(
        "cannot publish the e-mail for s3://{bucket}/{key} ({alerts} alerts) to {topic}: {message}; {}",
        if *released { "the alerts were released and the retry sends them" } else { "SNS may have sent it, so the alerts stay claimed and are not sent again (check sns:Publish and the topic)" }
    )]
    Publish {
        /// The object.
        bucket: String,
        /// Its key.
        key: String,
        /// The topic.
        topic: String,
        /// Alerts in the e-mail.
        alerts: usize,
        /// The SDK error with its source chain.
        message: String,
        /// Whether the claim was released.
        released: bool,
    },
}

/// Handles one S3 event. Returns an error (so Lambda retries the event) when any object fails;
/// objects before it are done, and redoing them is harmless (their alerts are claimed).
pub async fn handle(notify: &Notify, event: S3Event) -> Result<Outcome, NotifyError> {
    let started = Instant::now();
    let mut outcome = Outcome {
        records: event.records.len(),
        ..Outcome::default()
    };
    let mut symbols = std::collections::BTreeSet::new();
    let mut result = Ok(());
    for record in &event.records {
        let Some((bucket, key, symbol)) = target(record) else {
            outcome.ignored += 1;
            continue;
        };
        symbols.insert(symbol.clone());
        if let Err(e) = process(notify, &bucket, &key, &symbol, &mut outcome).await {
            error!(error = %e, bucket, key, "object failed; the event is retried");
            result = Err(e);
            break;
        }
    }
    outcome.symbols = symbols.len();
    info!(
        records = outcome.records,
        ignored = outcome.ignored,
        objects = outcome.objects,
        rows = outcome.rows,
        symbols = outcome.symbols,
        windows = outcome.windows,
        windows_changed = outcome.windows_changed,
        windows_too_old = outcome.windows_too_old,
        rows_implausible = outcome.rows_implausible,
        windows_from_future = outcome.windows_from_future,
        alerts = outcome.alerts,
        published = outcome.published,
        state_conflicts = outcome.state_conflicts,
        failed = result.is_err(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "invocation done"
    );
    result.map(|()| outcome)
}

/// The bucket, decoded key and symbol of a record, or `None` (logged) when it is not ours.
fn target(record: &S3EventRecord) -> Option<(String, String, String)> {
    let (Some(bucket), Some(raw_key)) = (&record.s3.bucket.name, &record.s3.object.key) else {
        warn!("event record without bucket or key; ignored");
        return None;
    };
    let key = match lambda_support::s3_event_key(raw_key) {
        Ok(key) => key,
        Err(e) => {
            warn!(error = %e, "ignored");
            return None;
        }
    };
    match object::symbol_of_key(&key) {
        Ok(symbol) => Some((bucket.clone(), key, symbol.as_str().to_owned())),
        Err(e) => {
            warn!(bucket, key, error = %e, "ignored");
            None
        }
    }
}

async fn process(
    notify: &Notify,
    bucket: &str,
    key: &str,
    symbol: &str,
    outcome: &mut Outcome,
) -> Result<(), NotifyError> {
    let get_err = |message: String| NotifyError::Get {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
    let out = notify
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| get_err(error_chain(&e)))?;
    let data: Bytes = out
        .body
        .collect()
        .await
        .map_err(|e| get_err(error_chain(&e)))?
        .into_bytes();
    let now = (notify.clock)();
    let read = object::read_windows(data, now).map_err(|source| NotifyError::Read {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source,
    })?;
    outcome.objects += 1;
    outcome.rows += read.rows;
    outcome.windows += read.windows.len();
    outcome.rows_implausible += read.implausible;
    if let Some(first) = &read.first_implausible {
        warn!(
            bucket,
            key,
            rows = read.implausible,
            first = %first,
            code = first.code(),
            "rows with an implausible market_time ignored"
        );
    }
    if read.skipped > 0 {
        warn!(
            bucket,
            key,
            skipped = read.skipped,
            "rows without a usable price or time skipped"
        );
    }

    let threshold = notify.threshold;
    let updated = notify
        .store
        .update(symbol, |state| {
            state.claim(symbol, &read.windows, threshold, now)
        })
        .await?;
    outcome.state_conflicts += updated.conflicts;
    let claim = updated.result;
    outcome.windows_changed += claim.windows_changed;
    outcome.windows_too_old += claim.windows_too_old;
    outcome.windows_from_future += claim.windows_from_future;
    if claim.windows_from_future > 0 {
        warn!(
            bucket,
            key,
            windows = claim.windows_from_future,
            "windows priced after the clock plus the lead ignored or removed from the state"
        );
    }
    outcome.alerts += claim.new_alerts.len();
    if claim.windows_too_old > 0 {
        warn!(
            bucket,
            key,
            windows = claim.windows_too_old,
            "windows older than the state's horizon ignored"
        );
    }
    if claim.new_alerts.is_empty() {
        return Ok(());
    }

    let alerts: Vec<Alert> = claim
        .new_alerts
        .iter()
        .map(|m| Alert {
            symbol: symbol.to_owned(),
            movement: *m,
        })
        .collect();
    let ids: Vec<String> = claim.new_alerts.iter().map(|m| m.id(symbol)).collect();
    let subject = email::subject(&alerts, threshold);
    let body = email::body(&alerts, threshold, bucket, key);
    let mut publish = notify
        .sns
        .publish()
        .topic_arn(&notify.topic_arn)
        .subject(&subject)
        .message(&body);
    if let Some((name, value)) = canary_attribute(symbol) {
        publish = publish.message_attributes(name, value);
    }
    match publish.send().await {
        Ok(out) => {
            outcome.published += 1;
            info!(
                bucket,
                key,
                alerts = alerts.len(),
                message_id = out.message_id(),
                subject,
                "e-mail published"
            );
            Ok(())
        }
        Err(e) => {
            let message = error_chain(&e);
            let released = if not_sent(&e) {
                match notify
                    .store
                    .update(symbol, |state| state.release(&ids))
                    .await
                {
                    Ok(_) => true,
                    Err(release) => {
                        error!(error = %release, ?ids, subject, body, "cannot release the claim: these alerts are lost");
                        false
                    }
                }
            } else {
                error!(
                    ?ids,
                    subject,
                    body,
                    "publish outcome unknown: the e-mail may not have been sent, and it is not sent again"
                );
                false
            };
            Err(NotifyError::Publish {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                topic: notify.topic_arn.clone(),
                alerts: alerts.len(),
                message,
                released,
            })
        }
    }
}

/// The message attribute of the canary's alert (`deployer verify`'s reserved symbol): the e-mail
/// subscriptions' filter policy drops messages that carry it. `None` for every other symbol.
pub fn canary_attribute(symbol: &str) -> Option<(&'static str, MessageAttributeValue)> {
    if symbol != quote_record::CANARY_SYMBOL {
        return None;
    }
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(lambda_contract::notify::CANARY_ATTRIBUTE_VALUE)
        .build()
        .ok()
        .map(|value| (lambda_contract::notify::CANARY_ATTRIBUTE, value))
}

/// Whether a failed Publish certainly did not send the message: SNS answered with a client error
/// (4xx: not found, no permission, throttled, invalid), or the request was never built.
fn not_sent(e: &SdkError<PublishError, HttpResponse>) -> bool {
    match e {
        SdkError::ConstructionFailure(_) => true,
        SdkError::ServiceError(s) => s.raw().status().as_u16() < 500,
        _ => false,
    }
}
