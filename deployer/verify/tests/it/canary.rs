//! The canary against moto and a real InfluxDB 1.x: verify puts it, the test performs the
//! pipeline's steps with the Lambdas' own handlers (transform, Firehose's delivery as a raw object,
//! to-parquet, notify), and verify reads each hop from what they really wrote; then the cleanup
//! leaves no canary anywhere and users' data untouched. A step left out is the hop verify names.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_connect::{Connection, Target};
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_s3::primitives::ByteStream;
use environment::Environment;
use quote_record::CANARY_SYMBOL;
use serde_json::{Value, json};
use testkit::{Influx1, Moto};
use tokio::time::Instant;
use verify::deployed::logical;
use verify::hops::{self, Look};
use verify::{Canary, Clients, Deployed, Outcome, Stage, cleanup};

const REGION: &str = "us-east-1";
const STREAM: &str = "mst-local-quotes";
const RAW: &str = "mst-local-raw-123456789012-us-east-1";
const CURATED: &str = "mst-local-curated-123456789012-us-east-1";
const DATABASE: &str = "quotes";
const SECRET: &str = "mst-local-influx-token";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `environments/local.yaml` pointed at this moto and InfluxDB (v1).
fn environment(dir: &Path, moto: &Moto, influx: &Influx1) -> Environment {
    std::fs::create_dir_all(dir).unwrap();
    let text = std::fs::read_to_string(workspace().join("environments/local.yaml")).unwrap();
    let start = text.find("influxdb:").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let text = format!(
        "{}influxdb:\n  url: {}\n  api: v1\n  database: {DATABASE}{}",
        &text[..start],
        influx.url(),
        &text[end..]
    )
    .replace("http://127.0.0.1:5000", moto.endpoint());
    let path = dir.join("local.yaml");
    std::fs::write(&path, text).unwrap();
    environment::load(&path).unwrap()
}

struct World {
    moto: Moto,
    influx: Influx1,
    env: Environment,
    sdk: aws_config::SdkConfig,
    clients: Clients,
    deployed: Deployed,
    _dir: PathBuf,
}

async fn world(name: &str) -> World {
    let moto = Moto::start();
    let influx = Influx1::start();
    influx.create_database(DATABASE);
    let dir = std::env::temp_dir().join(format!("verify-{name}-{}", std::process::id()));
    let env = environment(&dir, &moto, &influx);
    let sdk = moto.sdk_config(REGION).await;
    let s3 = lambda_support::s3_client(&sdk);
    for bucket in [RAW, CURATED] {
        testkit::s3::create_bucket(&s3, bucket).await;
    }
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("mst-local-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(SECRET)
        .secret_string("unused-by-influxdb-without-auth")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let connection = Connection::load(&Target {
        region: REGION.into(),
        endpoint: Some(moto.endpoint().to_owned()),
        profile: None,
    })
    .await;
    let clients = Clients::new(&connection, env.canary_region());
    let deployed = Deployed {
        stack: "mst-local-pipeline".into(),
        resources: BTreeMap::from(
            [
                (logical::STREAM, STREAM.to_owned()),
                (logical::RAW_BUCKET, RAW.to_owned()),
                (logical::CURATED_BUCKET, CURATED.to_owned()),
                (logical::TOPIC, topic),
                (logical::INFLUX_TOKEN, secret),
                (logical::TRANSFORM, "mst-local-Transform".to_owned()),
                (logical::TO_PARQUET, "mst-local-ToParquet".to_owned()),
                (logical::NOTIFY, "mst-local-Notify".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        ),
    };
    World {
        moto,
        influx,
        env,
        sdk,
        clients,
        deployed,
        _dir: dir,
    }
}

/// How far the test carries the canary through the pipeline.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Upto {
    Nothing,
    Transform,
    Firehose,
    ToParquet,
    Notify,
}

impl World {
    fn s3(&self) -> aws_sdk_s3::Client {
        lambda_support::s3_client(&self.sdk)
    }

    /// The stream's records as the event source mapping hands them to transform.
    async fn kinesis_event(&self) -> (KinesisEvent, Vec<Vec<u8>>) {
        let kinesis = aws_sdk_kinesis::Client::new(&self.sdk);
        let shard = kinesis
            .list_shards()
            .stream_name(STREAM)
            .send()
            .await
            .unwrap()
            .shards()[0]
            .shard_id()
            .to_owned();
        let iterator = kinesis
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .unwrap()
            .to_owned();
        let records = kinesis
            .get_records()
            .shard_iterator(iterator)
            .send()
            .await
            .unwrap();
        let mut payloads = Vec::new();
        let records: Vec<Value> = records
            .records()
            .iter()
            .map(|r| {
                let data = r.data().as_ref().to_vec();
                payloads.push(data.clone());
                json!({
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("{shard}:{}", r.sequence_number()),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/mst-local-TransformRole",
                    "awsRegion": REGION,
                    "eventSourceARN": format!("arn:aws:kinesis:{REGION}:123456789012:stream/{STREAM}"),
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": r.partition_key(),
                        "sequenceNumber": r.sequence_number(),
                        "data": aws_smithy_types::base64::encode(&data),
                        "approximateArrivalTimestamp": r.approximate_arrival_timestamp().unwrap().secs() as f64,
                    }
                })
            })
            .collect();
        (
            serde_json::from_value(json!({ "Records": records })).unwrap(),
            payloads,
        )
    }

    /// Carries what is in the stream through the pipeline's steps, up to `upto`.
    async fn pipeline(&self, upto: Upto) {
        if upto < Upto::Transform {
            return;
        }
        let (event, payloads) = self.kinesis_event().await;
        let lookup = |vars: Vec<(&'static str, String)>| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let config = transform::Config::from_lookup(lookup(vec![
            ("INFLUX_URL", self.influx.url().to_owned()),
            ("INFLUX_API", "v1".into()),
            ("INFLUX_DATABASE", DATABASE.into()),
            (
                "INFLUX_TOKEN_SECRET_ARN",
                self.deployed.get(logical::INFLUX_TOKEN).unwrap().to_owned(),
            ),
            ("QUARANTINE_BUCKET", RAW.into()),
            ("QUARANTINE_PREFIX", "quarantine/transform/".into()),
        ]))
        .unwrap();
        let function = transform::Transform::from_config(&config, &self.sdk).unwrap();
        let response = transform::handle(&function, event).await;
        assert!(response.batch_item_failures.is_empty(), "{response:?}");

        if upto < Upto::Firehose {
            return;
        }
        // Firehose with dynamic partitioning: JSON lines, GZIP, under raw/symbol=/dt=/.
        let mut by_partition: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for payload in payloads {
            let quote = quote_record::Quote::from_json(&payload).unwrap();
            let mut date = String::new();
            quote.market_time().write_utc_date(&mut date);
            let lines = by_partition
                .entry(format!("raw/symbol={}/dt={date}/", quote.symbol().as_str()))
                .or_default();
            lines.extend_from_slice(&payload);
            lines.push(b'\n');
        }
        let s3 = self.s3();
        let mut raw_keys = Vec::new();
        for (prefix, lines) in by_partition {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&lines).unwrap();
            let key = format!(
                "{prefix}mst-local-raw-1-2026-12-06-02-30-00-{}.gz",
                raw_keys.len()
            );
            s3.put_object()
                .bucket(RAW)
                .key(&key)
                .body(ByteStream::from(gz.finish().unwrap()))
                .send()
                .await
                .unwrap();
            raw_keys.push(key);
        }

        if upto < Upto::ToParquet {
            return;
        }
        let config = to_parquet::config::Config::from_lookup(lookup(vec![
            ("CURATED_BUCKET", CURATED.into()),
            ("CURATED_PREFIX", "quotes/".into()),
            ("QUARANTINE_BUCKET", RAW.into()),
            ("QUARANTINE_PREFIX", "quarantine/to-parquet/".into()),
        ]))
        .unwrap();
        let function = to_parquet::handler::ToParquet::new(s3.clone(), config);
        let keys: Vec<&str> = raw_keys.iter().map(String::as_str).collect();
        let summary = to_parquet::handler::handle(&function, object_created_now(RAW, &keys))
            .await
            .unwrap();
        assert_eq!(summary.invalid, 0, "{summary:?}");

        if upto < Upto::Notify {
            return;
        }
        let curated = testkit::s3::objects(&s3, CURATED, &hops::curated_prefix()).await;
        let keys: Vec<&str> = curated
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| k.ends_with(".parquet"))
            .collect();
        let topic = self.deployed.get(logical::TOPIC).unwrap().to_owned();
        let config = notify::Config::from_lookup(lookup(vec![
            ("TOPIC_ARN", topic),
            ("THRESHOLD_PCT", self.env.alerts.threshold_pct.to_string()),
            ("STATE_BUCKET", CURATED.into()),
            ("STATE_PREFIX", "state/notify/".into()),
        ]))
        .unwrap();
        let function = notify::Notify::from_config(&config, &self.sdk);
        notify::handle(&function, object_created_now(CURATED, &keys))
            .await
            .unwrap();
    }

    /// Puts a canary, carries it up to `upto`, and follows it with a short deadline.
    async fn run(&self, upto: Upto) -> (Canary, Vec<verify::Row>) {
        let canary = Canary::new(
            self.env.alerts.threshold_pct,
            quote_record::Timestamp::now(),
        )
        .unwrap();
        let started = Instant::now();
        let put = hops::put(&self.clients, &self.deployed, &canary).await;
        assert_eq!(put.outcome, Outcome::Passed, "{put:?}");
        self.pipeline(upto).await;
        let probes = hops::probes(&self.clients, &self.env, &self.deployed, &canary).await;
        let rows = hops::follow(
            probes,
            started,
            Instant::now() + Duration::from_secs(3),
            Duration::from_millis(500),
        )
        .await;
        (canary, rows)
    }

    /// A user's quote in InfluxDB and the curated bucket, which the cleanup must leave alone.
    async fn user_data(&self) {
        self.influx.write(
            DATABASE,
            "quote,symbol=AAPL,currency=USD,source=quote-page price=189.5 1795793400000000000",
        );
        self.s3()
            .put_object()
            .bucket(CURATED)
            .key("quotes/symbol=AAPL/dt=2026-11-27/user.parquet")
            .body(ByteStream::from_static(b"user data"))
            .send()
            .await
            .unwrap();
    }

    fn influx_series(&self, symbol: &str) -> usize {
        let answer: Value = serde_json::from_str(&self.influx.query(
            DATABASE,
            &format!("SELECT price FROM quote WHERE symbol = '{symbol}'"),
        ))
        .unwrap();
        answer["results"][0]["series"][0]["values"]
            .as_array()
            .map_or(0, Vec::len)
    }
}

/// An `ObjectCreated` event as S3 delivers it, sent now (the time-sanity rule judges records
/// against the event's time).
fn object_created_now(bucket: &str, keys: &[&str]) -> aws_lambda_events::event::s3::S3Event {
    let mut event =
        serde_json::to_value(testkit::s3::object_created(REGION, bucket, keys)).unwrap();
    for record in event["Records"].as_array_mut().unwrap() {
        record["eventTime"] = Value::from(quote_record::Timestamp::now().to_string());
    }
    serde_json::from_value(event).unwrap()
}

fn outcomes(rows: &[verify::Row]) -> Vec<(&str, &str)> {
    rows.iter()
        .map(|r| {
            (
                r.name.as_str(),
                match r.outcome {
                    Outcome::Passed => "passed",
                    Outcome::Failed { .. } => "failed",
                    Outcome::Emulated => "emulated",
                    Outcome::NotReached => "not reached",
                },
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hop_is_read_from_what_the_lambdas_wrote_and_the_cleanup_leaves_nothing() {
    let w = world("passes").await;
    w.user_data().await;
    let (canary, rows) = w.run(Upto::Notify).await;
    assert_eq!(
        outcomes(&rows),
        [
            ("influxdb", "passed"),
            ("raw", "passed"),
            ("curated", "passed"),
            ("alert", "passed")
        ],
        "{rows:#?}"
    );
    assert!(
        rows[3].detail.contains(&canary.alert_id()),
        "{}",
        rows[3].detail
    );
    assert!(rows.iter().all(|r| r.latency.is_some()));

    // The e-mail subscriptions filter the canary's alert out by this attribute.
    let data: Value = serde_json::from_str(&w.moto.data_json()).unwrap();
    let sent = &data["sns"]["Topic"][0]["sent_notifications"];
    assert_eq!(sent.as_array().unwrap().len(), 1, "{sent}");
    assert!(
        sent[0][3]
            .get(lambda_contract::notify::CANARY_ATTRIBUTE)
            .is_some(),
        "{sent}"
    );

    assert_eq!(w.influx_series(CANARY_SYMBOL), 2);
    let row = cleanup::remove(&w.clients, &w.env, &w.deployed).await;
    assert_eq!(row.outcome, Outcome::Passed, "{row:?}");
    assert_eq!(row.stage, Stage::Cleanup);
    assert_eq!(w.influx_series(CANARY_SYMBOL), 0, "canary points removed");
    assert_eq!(w.influx_series("AAPL"), 1, "users' points kept");
    let s3 = w.s3();
    let raw = testkit::s3::objects(&s3, RAW, "").await;
    assert!(
        raw.is_empty(),
        "raw canary objects removed: {:?}",
        raw.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    let curated = testkit::s3::objects(&s3, CURATED, "").await;
    assert_eq!(
        curated.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["quotes/symbol=AAPL/dt=2026-11-27/user.parquet"],
        "only the user's object is left (no canary Parquet, no canary state object)"
    );
    // A second cleanup has nothing left to do.
    let again = cleanup::remove(&w.clients, &w.env, &w.deployed).await;
    assert_eq!(again.outcome, Outcome::Passed);
    assert!(!again.detail.contains("object(s)"), "{}", again.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_hop_the_canary_does_not_reach_is_named() {
    let w = world("broken").await;
    for (upto, broken) in [
        (Upto::Nothing, "influxdb"),
        (Upto::Transform, "raw"),
        (Upto::Firehose, "curated"),
        (Upto::ToParquet, "alert"),
    ] {
        let (canary, rows) = w.run(upto).await;
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["influxdb", "raw", "curated", "alert"]);
        let at = names.iter().position(|n| *n == broken).unwrap();
        for i in 0..rows.len() {
            let expected = match i {
                i if i < at => "passed",
                i if i == at => "failed",
                _ => "not reached",
            };
            assert_eq!(outcomes(&rows)[i].1, expected, "{broken}: {rows:#?}");
        }
        let Outcome::Failed { problem, hint } = &rows[at].outcome else {
            unreachable!()
        };
        assert!(
            problem.contains(&canary.source) || problem.contains(&canary.alert_id()),
            "{problem}"
        );
        assert!(problem.contains("within 3 s of the put"), "{problem}");
        assert!(!hint.is_empty());
        let row = cleanup::remove(&w.clients, &w.env, &w.deployed).await;
        assert_eq!(row.outcome, Outcome::Passed, "{row:?}");
    }
}

/// A look that cannot succeed (no InfluxDB token readable in AWS) breaks the hop at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_token_breaks_the_influxdb_hop_without_waiting() {
    let mut w = world("token").await;
    w.env.emulator = None;
    w.deployed.resources.insert(
        logical::INFLUX_TOKEN.into(),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing".into(),
    );
    let canary = Canary::new(1.0, quote_record::Timestamp::now()).unwrap();
    let probes = hops::probes(&w.clients, &w.env, &w.deployed, &canary).await;
    assert!(matches!((probes[0].look)().await, Look::Broken { .. }));
}
