//! End to end against the moto emulator: the `local` template's delivery stream reads a real
//! Kinesis stream and writes a real bucket; to-parquet then converts what it wrote.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use local_firehose::{DeliveryConfig, METADATA_EXTRACTION_FAILED, StartPosition, Stats};
use serde_json::Value;
use testkit::Moto;
use tokio::sync::watch;

const REGION: &str = "us-east-1";
const STREAM: &str = "mst-local-quotes";
const RAW: &str = "mst-local-raw";
const CURATED: &str = "mst-local-curated";

struct Emulator {
    _moto: Moto,
    kinesis: aws_sdk_kinesis::Client,
    s3: aws_sdk_s3::Client,
}

async fn emulator() -> Emulator {
    let moto = Moto::start();
    let sdk = moto.sdk_config(REGION).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let s3 = lambda_support::s3_client(&sdk);
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    for bucket in [RAW, CURATED] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    Emulator {
        _moto: moto,
        kinesis,
        s3,
    }
}

/// The `local` template's delivery stream, resolved to this emulator's stream and bucket.
fn local_config() -> DeliveryConfig {
    let path = format!(
        "{}/../../environments/local.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let env = environment::load(std::path::Path::new(&path)).unwrap();
    let pipeline = stacks::pipeline::stacks(&env, env.canary_region())
        .unwrap()
        .into_iter()
        .find(|s| s.kind == stacks::pipeline::StackKind::Pipeline)
        .unwrap()
        .template
        .to_json()
        .unwrap();
    let properties = &pipeline["Resources"]["RawDeliveryStream"]["Properties"];
    let physical = |name: &str| match name {
        "AWS::Partition" => "aws".to_owned(),
        "AWS::Region" => REGION.to_owned(),
        "AWS::AccountId" => "123456789012".to_owned(),
        "QuoteStream" => STREAM.to_owned(),
        "RawBucket" => RAW.to_owned(),
        "DataKey" => "local-data-key".to_owned(),
        other => format!("{other}-physical"),
    };
    let resolve = |value: &Value| -> Option<String> {
        if value.get("Fn::GetAtt").is_some() {
            return Some("arn:aws:iam::123456789012:role/firehose".to_owned());
        }
        if let Some(name) = value.get("Ref").and_then(Value::as_str) {
            return Some(physical(name));
        }
        let mut text = value.get("Fn::Sub")?.as_str()?.to_owned();
        while let Some(start) = text.find("${") {
            let end = start + text[start..].find('}')?;
            let name = text[start + 2..end].to_owned();
            text.replace_range(start..=end, &physical(&name));
        }
        Some(text)
    };
    DeliveryConfig::from_resource(properties, &resolve)
        .unwrap()
        .named("mst-local-RawDeliveryStream")
        .starting_at(StartPosition::TrimHorizon)
}

/// A valid quote record priced a minute ago (the time-sanity rule accepts it).
fn quote(symbol: &str, price: &str) -> String {
    let market_time = quote_record::Timestamp::from_unix_nanos(
        quote_record::Timestamp::now().unix_nanos() - 60_000_000_000,
    );
    format!(
        r#"{{"v":1,"symbol":"{symbol}","price":{price},"currency":"USD","change_pct":0.5,"volume":100,"market_time":"{market_time}","scraped_at":"{market_time}","source":"firehose-test"}}"#
    )
}

fn today() -> String {
    quote_record::Timestamp::now().to_string()[..10].to_owned()
}

async fn put(e: &Emulator, records: &[(&str, &str)]) {
    let entries = records
        .iter()
        .map(|(key, data)| {
            PutRecordsRequestEntry::builder()
                .partition_key(*key)
                .data(Blob::new(data.as_bytes()))
                .build()
                .unwrap()
        })
        .collect();
    let out = e
        .kinesis
        .put_records()
        .stream_name(STREAM)
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
}

/// Waits (up to a minute: the machine may be busy) until `counter` reaches `n`.
async fn wait_for(counter: &AtomicU64, n: u64, what: &str) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while counter.load(Ordering::Relaxed) < n {
        assert!(
            Instant::now() < give_up,
            "{what}: still {} of {n}",
            counter.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Running {
    stats: Arc<Stats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), local_firehose::RunError>>,
}

fn start_run(e: &Emulator, config: DeliveryConfig) -> Running {
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(local_firehose::run(
        config,
        e.kinesis.clone(),
        e.s3.clone(),
        stats.clone(),
        stopped,
    ));
    Running { stats, stop, task }
}

impl Running {
    async fn stop(self) -> Arc<Stats> {
        self.stop.send(true).unwrap();
        self.task.await.unwrap().unwrap();
        self.stats
    }
}

/// Every object in the bucket under `prefix`: (key, gunzipped body, stored size), by key.
async fn objects(e: &Emulator, prefix: &str) -> Vec<(String, String, u64)> {
    let listed =
        e.s3.list_objects_v2()
            .bucket(RAW)
            .prefix(prefix)
            .send()
            .await
            .unwrap();
    let mut out = Vec::new();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        let body =
            e.s3.get_object()
                .bucket(RAW)
                .key(&key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        out.push((key, text, body.len() as u64));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_each_partition_and_the_failed_records_then_to_parquet_converts_them() {
    let e = emulator().await;
    let mut config = local_config();
    // Only the stop writes the buffers (the test never depends on the machine's speed).
    config.buffering.interval = Duration::from_secs(900);
    let running = start_run(&e, config);
    let (a1, a2, a3) = (
        quote("AAPL", "189.25"),
        quote("AAPL", "189.5"),
        quote("AAPL", "189.75"),
    );
    let m1 = quote("MSFT", "420.1");
    let no_symbol = r#"{"v":1,"price":1.5,"market_time":"2026-11-27T09:00:00Z"}"#;
    put(
        &e,
        &[
            ("AAPL", &a1),
            ("MSFT", &m1),
            ("AAPL", &a2),
            ("X", "garbage"),
            ("AAPL", &a3),
            ("Y", no_symbol),
        ],
    )
    .await;
    wait_for(&running.stats.records_in, 6, "records read").await;
    let stats = running.stop().await;

    let day = today();
    let raw = objects(&e, "raw/").await;
    assert_eq!(raw.len(), 2, "{raw:?}");
    let (aapl_key, aapl, _) = &raw[0];
    assert!(
        aapl_key.starts_with(&format!(
            "raw/symbol=AAPL/dt={day}/mst-local-RawDeliveryStream-1-"
        )),
        "{aapl_key}"
    );
    assert!(aapl_key.ends_with(".gz"));
    assert_eq!(aapl, &format!("{a1}\n{a2}\n{a3}\n"));
    assert!(
        raw[1].0.starts_with(&format!("raw/symbol=MSFT/dt={day}/")),
        "{}",
        raw[1].0
    );
    assert_eq!(raw[1].1, format!("{m1}\n"));

    let errors = objects(&e, "errors/").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .0
            .starts_with(&format!("errors/{METADATA_EXTRACTION_FAILED}/dt={day}/")),
        "{}",
        errors[0].0
    );
    let failed: Vec<Value> = errors[0]
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut raw_data: Vec<Vec<u8>> = failed
        .iter()
        .map(|d| aws_smithy_types::base64::decode(d["rawData"].as_str().unwrap()).unwrap())
        .collect();
    raw_data.sort();
    let mut expected = [no_symbol.as_bytes().to_vec(), b"garbage".to_vec()];
    expected.sort();
    assert_eq!(raw_data, expected);
    assert!(
        failed
            .iter()
            .all(|d| d["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed")
    );

    // The template's SSE-KMS key is asked for.
    let head =
        e.s3.head_object()
            .bucket(RAW)
            .key(aapl_key)
            .send()
            .await
            .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms)
    );

    assert_eq!(stats.records_in.load(Ordering::Relaxed), 6);
    assert_eq!(stats.objects_written.load(Ordering::Relaxed), 3);
    assert_eq!(
        stats.bytes_written.load(Ordering::Relaxed),
        raw.iter()
            .chain(&errors)
            .map(|(_, _, size)| size)
            .sum::<u64>()
    );
    assert_eq!(
        stats.errors.load(Ordering::Relaxed),
        2,
        "the two failed records"
    );

    // The next hop: to-parquet, invoked for the raw object as the bucket's notification would.
    let mut event =
        serde_json::to_value(testkit::s3::object_created(REGION, RAW, &[aapl_key])).unwrap();
    event["Records"][0]["eventTime"] = Value::String(quote_record::Timestamp::now().to_string());
    let function = to_parquet::handler::ToParquet::new(
        e.s3.clone(),
        to_parquet::Config {
            curated_bucket: CURATED.to_owned(),
            curated_prefix: lambda_contract::prefixes::QUOTES.to_owned(),
            quarantine_bucket: RAW.to_owned(),
            quarantine_prefix: lambda_contract::prefixes::quarantine("to-parquet"),
        },
    );
    let summary = to_parquet::handle(&function, serde_json::from_value(event).unwrap())
        .await
        .unwrap();
    assert_eq!((summary.valid, summary.invalid), (3, 0));
    assert_eq!(summary.written.len(), 1);
    assert!(
        summary.written[0].starts_with(&format!("quotes/symbol=AAPL/dt={day}/")),
        "{:?}",
        summary.written
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_s_buffer_becomes_an_object_when_it_reaches_the_size_hint() {
    let e = emulator().await;
    let records: Vec<String> = (0..5).map(|i| quote("AAPL", &format!("10{i}.5"))).collect();
    let other = quote("MSFT", "400.5");
    let mut config = local_config();
    // Two AAPL records (each with its newline) fill a buffer; the interval never passes.
    config.buffering.size_bytes = 2 * (records[0].len() as u64 + 1);
    config.buffering.interval = Duration::from_secs(900);
    let running = start_run(&e, config);
    let mut batch: Vec<(&str, &str)> = records.iter().map(|r| ("AAPL", r.as_str())).collect();
    batch.push(("MSFT", &other));
    put(&e, &batch).await;
    wait_for(&running.stats.records_in, 6, "records read").await;
    // Two full AAPL buffers are written before the stop; the rest when it stops.
    wait_for(&running.stats.objects_written, 2, "full buffers written").await;
    let written_before_stop = running.stats.objects_written.load(Ordering::Relaxed);
    let stats = running.stop().await;
    assert_eq!(
        written_before_stop, 2,
        "only full buffers are written before the stop"
    );

    let aapl = objects(&e, "raw/symbol=AAPL/").await;
    let mut sizes: Vec<usize> = aapl
        .iter()
        .map(|(_, body, _)| body.lines().count())
        .collect();
    sizes.sort();
    assert_eq!(sizes, [1, 2, 2]);
    let all: String = {
        let mut bodies: Vec<&str> = aapl.iter().map(|(_, b, _)| b.as_str()).collect();
        bodies.sort_by_key(|b| std::cmp::Reverse(b.lines().count()));
        bodies.concat()
    };
    let mut lines: Vec<&str> = all.lines().collect();
    lines.sort();
    let mut expected: Vec<&str> = records.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(lines, expected, "every record once");
    assert_eq!(objects(&e, "raw/symbol=MSFT/").await.len(), 1);
    assert_eq!(stats.objects_written.load(Ordering::Relaxed), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_s_buffer_becomes_an_object_when_its_interval_has_passed() {
    let e = emulator().await;
    let mut config = local_config();
    config.buffering.interval = Duration::from_secs(1);
    let (first, second, later) = (
        quote("AAPL", "1.5"),
        quote("AAPL", "2.5"),
        quote("AAPL", "3.5"),
    );
    // In the stream before the run starts: read together, so in one buffer.
    put(&e, &[("AAPL", &first), ("AAPL", &second)]).await;
    let running = start_run(&e, config);
    // Far below the size hint: only the interval can write it.
    wait_for(&running.stats.objects_written, 1, "the interval's object").await;
    put(&e, &[("AAPL", &later)]).await;
    wait_for(&running.stats.records_in, 3, "records read").await;
    let stats = running.stop().await;

    let aapl = objects(&e, "raw/symbol=AAPL/").await;
    let mut bodies: Vec<&str> = aapl.iter().map(|(_, b, _)| b.as_str()).collect();
    bodies.sort_by_key(|b| std::cmp::Reverse(b.len()));
    assert_eq!(
        bodies,
        [format!("{first}\n{second}\n"), format!("{later}\n")]
    );
    assert_eq!(stats.objects_written.load(Ordering::Relaxed), 2);
    assert_eq!(stats.errors.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_an_error_naming_it() {
    let e = emulator().await;
    let mut config = local_config();
    config.stream_name = "no-such-stream".to_owned();
    let running = start_run(&e, config);
    let error = running.task.await.unwrap().unwrap_err();
    assert!(
        error.to_string().contains("ListShards no-such-stream"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_at_a_time_skips_the_records_that_arrived_before_it() {
    let e = emulator().await;
    let (before, after) = (quote("AAPL", "1.5"), quote("AAPL", "2.5"));
    put(&e, &[("AAPL", &before)]).await;
    // Arrival times are in milliseconds: keep the start clearly between the two records.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = quote_record::Timestamp::now().unix_nanos() / 1_000_000;
    tokio::time::sleep(Duration::from_millis(50)).await;
    put(&e, &[("AAPL", &after)]).await;
    let mut config = local_config().starting_at(StartPosition::AtTimestamp { unix_millis: start });
    config.buffering.interval = Duration::from_secs(900);
    let running = start_run(&e, config);
    wait_for(&running.stats.records_in, 1, "records read").await;
    let stats = running.stop().await;
    let aapl = objects(&e, "raw/symbol=AAPL/").await;
    assert_eq!(aapl.len(), 1);
    assert_eq!(aapl[0].1, format!("{after}\n"));
    assert_eq!(stats.records_in.load(Ordering::Relaxed), 1);
}
