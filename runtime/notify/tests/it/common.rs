//! Shared set-up: moto with a bucket and a topic, curated Parquet objects, S3 events, and the
//! published messages read back from moto.

use aws_lambda_events::event::s3::S3Event;
use aws_sdk_s3::primitives::ByteStream;
use notify::state::State;
use notify::{Config, Notify, NotifyError, Outcome};
use parquet::arrow::ArrowWriter;
use quote_record::arrow::{QuoteBatchBuilder, schema};
use quote_record::{Quote, Timestamp};
use serde_json::{Value, json};
use testkit::Moto;

pub const BUCKET: &str = "mst-local-curated";
pub const PREFIX: &str = "state/notify/";
pub const TOPIC: &str = "mst-local-alerts";
/// The region of the tests' moto clients and events.
pub const REGION: &str = "us-east-1";
/// The function's role in the `local` environment.
pub const ROLE: &str = "NotifyRole";

/// moto with the curated bucket and the alert topic, and clients on it.
pub struct Env {
    pub moto: Moto,
    /// The test's own configuration (on a moto with IAM: the admin's).
    pub sdk: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    /// The curated bucket ([`BUCKET`], or the deployed name on a moto with IAM).
    pub bucket: String,
    pub topic_arn: String,
}

impl Env {
    pub async fn start() -> Self {
        Self::with(Moto::start(), BUCKET.to_owned()).await
    }

    /// On a moto that enforces IAM, with the curated bucket named as the `local` environment's
    /// `NotifyRole` names it (its state prefix's bucket).
    pub async fn start_with_iam() -> Self {
        let bucket = testkit::iam::RolePolicy::local(ROLE).bucket_for(PREFIX, REGION);
        Self::with(Moto::start_with_iam(), bucket).await
    }

    async fn with(moto: Moto, bucket: String) -> Self {
        let sdk = moto.sdk_config(REGION).await;
        let s3 = lambda_support::s3_client(&sdk);
        testkit::s3::create_bucket(&s3, &bucket).await;
        let topic_arn = aws_sdk_sns::Client::new(&sdk)
            .create_topic()
            .name(TOPIC)
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_owned();
        Self {
            moto,
            sdk,
            s3,
            bucket,
            topic_arn,
        }
    }

    /// The configuration the stack would set, with `THRESHOLD_PCT` when given.
    pub fn config(&self, threshold_pct: Option<&str>) -> Config {
        let topic = self.topic_arn.clone();
        let bucket = self.bucket.clone();
        let threshold = threshold_pct.map(str::to_owned);
        Config::from_lookup(move |name| match name {
            "TOPIC_ARN" => Some(topic.clone()),
            "STATE_BUCKET" => Some(bucket.clone()),
            "STATE_PREFIX" => Some(PREFIX.into()),
            "THRESHOLD_PCT" => threshold.clone(),
            _ => None,
        })
        .unwrap()
    }

    /// The handler's state with the default configuration and the tests' [`clock`].
    pub fn notify(&self) -> Notify {
        Notify::from_config(&self.config(None), &self.sdk).with_clock(clock)
    }

    /// Puts a curated object for `symbol` with `(market_time, price)` rows; returns its key.
    pub async fn put_quotes<T: AsRef<str>>(
        &self,
        symbol: &str,
        name: &str,
        rows: &[(T, f64)],
    ) -> String {
        let key = format!(
            "quotes/symbol={symbol}/dt={}/{name}.parquet",
            &rows[0].0.as_ref()[..10]
        );
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(parquet_bytes(symbol, rows)))
            .send()
            .await
            .unwrap();
        key
    }

    /// Runs the handler on an event for `keys`.
    pub async fn run(&self, notify: &Notify, keys: &[&str]) -> Result<Outcome, NotifyError> {
        notify::handle(notify, event_in(&self.bucket, keys)).await
    }

    /// (subject, message) of every message published to the topic, in order.
    pub fn published(&self) -> Vec<(String, String)> {
        published_to(&self.moto, &self.topic_arn)
    }

    /// A symbol's state object.
    pub async fn state(&self, symbol: &str) -> State {
        let body = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(format!("{PREFIX}{symbol}.json"))
            .send()
            .await
            .unwrap()
            .body
            .collect()
            .await
            .unwrap()
            .into_bytes();
        State::from_json(&body).unwrap()
    }
}

/// A Parquet object of `quote_record::arrow::schema()` with the to-parquet Lambda's writer settings
/// (`to_parquet::convert::writer_properties`: zstd, page statistics, dictionaries where it uses them).
pub fn parquet_bytes<T: AsRef<str>>(symbol: &str, rows: &[(T, f64)]) -> Vec<u8> {
    let mut builder = QuoteBatchBuilder::default();
    for (time, price) in rows {
        let time = time.as_ref();
        let line = json!({
            "v": 1, "symbol": symbol, "price": price, "currency": "USD", "change_pct": 0.1,
            "volume": 1000, "market_time": time, "scraped_at": time, "source": "quote-page",
        });
        builder.append(&Quote::from_json(line.to_string().as_bytes()).unwrap());
    }
    let batch = builder.finish().unwrap();
    let props = to_parquet::convert::writer_properties(&format!(
        "s3://mst-local-raw/raw/symbol={symbol}/notify-test"
    ));
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema(), Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

/// An `ObjectCreated:Put` event as S3 delivers it, one record per key in the curated bucket.
pub fn event(keys: &[&str]) -> S3Event {
    event_in(BUCKET, keys)
}

/// [`event`] for keys in `bucket`.
pub fn event_in(bucket: &str, keys: &[&str]) -> S3Event {
    testkit::s3::object_created(REGION, bucket, keys)
}

/// (subject, message) of the messages moto recorded as published to `topic_arn`.
pub fn published_to(moto: &Moto, topic_arn: &str) -> Vec<(String, String)> {
    let data: Value = serde_json::from_str(&moto.data_json()).unwrap();
    let topics = data["sns"]["Topic"].as_array().cloned().unwrap_or_default();
    topics
        .iter()
        .filter(|t| t["arn"] == topic_arn)
        .flat_map(|t| {
            t["sent_notifications"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        // [message_id, message, subject, message_attributes, group_id]
        .map(|n| {
            (
                n[2].as_str().unwrap_or_default().to_owned(),
                n[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The tests' clock: 2026-11-28T00:00:00Z, after every quote of the tests (fixed, so that the
/// time-sanity rule judges them the same way on any day the tests run).
pub fn clock() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-28T00:00:00Z").unwrap()
}

/// `2026-11-27T15:MM:SSZ`.
pub fn at(minute: u32, second: u32) -> String {
    format!(
        "2026-11-27T{:02}:{:02}:{second:02}Z",
        15 + minute / 60,
        minute % 60
    )
}
