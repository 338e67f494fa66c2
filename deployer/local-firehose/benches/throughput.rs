//! Throughput of the Firehose emulation against moto: 1,000 symbols' quotes already in a
//! two-shard stream are read, partitioned with the `local` template's JQ query and buffered
//! (records/s), then the stop writes one gzip object per partition (objects/s). Prints figures;
//! asserts only that every record was delivered. `cargo bench -p local-firehose`.

#![allow(clippy::unwrap_used)] // A benchmark: a panic is the failure report.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use local_firehose::{DeliveryConfig, StartPosition, Stats};
use serde_json::Value;

const SYMBOLS: usize = 1000;
const QUOTES_PER_SYMBOL: usize = 10;

fn config(stream: &str, bucket: &str) -> DeliveryConfig {
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
    let physical = |name: &str| match name {
        "QuoteStream" => stream.to_owned(),
        "RawBucket" => bucket.to_owned(),
        "AWS::Partition" => "aws".to_owned(),
        "AWS::Region" => "us-east-1".to_owned(),
        "AWS::AccountId" => "123456789012".to_owned(),
        other => format!("{other}-physical"),
    };
    let resolve = |value: &Value| -> Option<String> {
        if value.get("Fn::GetAtt").is_some() || value.get("Ref").is_some() {
            return Some("arn:aws:iam::123456789012:role/firehose".to_owned());
        }
        let mut text = value.get("Fn::Sub")?.as_str()?.to_owned();
        while let Some(start) = text.find("${") {
            let end = start + text[start..].find('}')?;
            let name = text[start + 2..end].to_owned();
            text.replace_range(start..=end, &physical(&name));
        }
        Some(text)
    };
    let mut config = DeliveryConfig::from_resource(
        &pipeline["Resources"]["RawDeliveryStream"]["Properties"],
        &resolve,
    )
    .unwrap()
    .starting_at(StartPosition::TrimHorizon);
    config.buffering.interval = Duration::from_secs(900);
    config
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let moto = testkit::Moto::start();
    let sdk = moto.sdk_config("us-east-1").await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let s3 = lambda_support::s3_client(&sdk);
    let (stream, bucket) = ("bench-quotes", "bench-raw");
    kinesis
        .create_stream()
        .stream_name(stream)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    s3.create_bucket().bucket(bucket).send().await.unwrap();

    let market_time = quote_record::Timestamp::now();
    let records: Vec<(String, String)> = (0..QUOTES_PER_SYMBOL)
        .flat_map(|i| {
            (0..SYMBOLS).map(move |s| {
                let symbol = format!("S{s:04}");
                let data = format!(
                    r#"{{"v":1,"symbol":"{symbol}","price":{}.25,"currency":"USD","change_pct":0.5,"volume":100,"market_time":"{market_time}","scraped_at":"{market_time}","source":"bench"}}"#,
                    100 + i
                );
                (symbol, data)
            })
        })
        .collect();
    for chunk in records.chunks(500) {
        let entries = chunk
            .iter()
            .map(|(key, data)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(key)
                    .data(Blob::new(data.as_bytes()))
                    .build()
                    .unwrap()
            })
            .collect();
        kinesis
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
    }

    let total = records.len() as u64;
    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(local_firehose::run(
        config(stream, bucket),
        kinesis,
        s3,
        stats.clone(),
        stopped,
    ));
    while stats.records_in.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let read = started.elapsed();
    let flushing = Instant::now();
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    let flushed = flushing.elapsed();
    let objects = stats.objects_written.load(Ordering::Relaxed);
    assert_eq!(objects, SYMBOLS as u64, "one object per partition");
    println!(
        "local-firehose vs moto: {total} records from 2 shards read and partitioned in {:.2}s ({:.0} records/s, GetRecords at most once a second per shard); {objects} gzip objects written at stop in {:.2}s ({:.0} objects/s, {} bytes)",
        read.as_secs_f64(),
        total as f64 / read.as_secs_f64(),
        flushed.as_secs_f64(),
        objects as f64 / flushed.as_secs_f64(),
        stats.bytes_written.load(Ordering::Relaxed),
    );
}
