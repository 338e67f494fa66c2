//! Throughput of the handler against VictoriaMetrics (v2 API) over the benchmark data set, with
//! the token and the quarantine on moto. Not a test: it prints figures and asserts no timing.
//!
//! `cargo bench -p transform-bench --bench transform [-- FILE]`; FILE defaults to
//! `$MST_BENCH_DIR/data/quotes_100k.jsonl` (`MST_BENCH_DIR` defaults to `~/.cache/mystocktracker/bench`;
//! make the data with `../shared/bench/setup DIR`). `runtime/transform-bench/bench.sh` also prints the
//! zipped Lambda's size.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use testkit::{Moto, VictoriaMetrics};
use transform::Transform;
use transform::config::{InfluxApi, InfluxConfig};
use transform::influx::{BodyBuilder, Writer};
use transform::quarantine::Quarantine;
use transform::secrets::TokenCache;

const RUNS: usize = 5;

fn events(lines: &[&[u8]], batch: usize) -> Vec<String> {
    lines
        .chunks(batch)
        .enumerate()
        .map(|(b, chunk)| {
            let records: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, line)| {
                    let seq = format!("49657834565472935186420637129537012431587{:07}{:08}", b, i);
                    json!({
                        "kinesis": {
                            "kinesisSchemaVersion": "1.0",
                            "partitionKey": "bench",
                            "sequenceNumber": seq,
                            "data": BASE64.encode(line),
                            // 2026-11-28T00:00:00Z: after every record of the data set (26 and
                            // 27 November), so the time-sanity rule passes them all.
                            "approximateArrivalTimestamp": 1795824000.0 + i as f64 / 1000.0,
                        },
                        "eventSource": "aws:kinesis",
                        "eventVersion": "1.0",
                        "eventID": format!("shardId-000000000000:{seq}"),
                        "eventName": "aws:kinesis:record",
                        "invokeIdentityArn": "arn:aws:iam::111122223333:role/bench",
                        "awsRegion": "eu-west-1",
                        "eventSourceARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/bench",
                    })
                })
                .collect();
            json!({ "Records": records }).to_string()
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| {
            let dir = std::env::var("MST_BENCH_DIR").unwrap_or_else(|_| {
                let home = std::env::var("HOME").unwrap_or_default();
                format!("{home}/.cache/mystocktracker/bench")
            });
            format!("{dir}/data/quotes_100k.jsonl")
        });
    let data = std::fs::read(&path).unwrap_or_else(|e| {
        panic!("cannot read {path} ({e}): make it with `../shared/bench/setup DIR` and set MST_BENCH_DIR=DIR")
    });
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    println!(
        "data: {path}: {} records, {} bytes",
        lines.len(),
        data.len()
    );

    let (vm, moto) = (VictoriaMetrics::start(), Moto::start());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sdk = moto.sdk_config("eu-west-1").await;
        let s3 = lambda_support::s3_client(&sdk);
        testkit::s3::create_bucket(&s3, "bench").await;
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        sm.create_secret()
            .name("bench")
            .secret_string("token")
            .send()
            .await
            .unwrap();
        let t = Transform::new(
            Writer::new(&InfluxConfig {
                url: vm.url().to_owned(),
                api: InfluxApi::V2 {
                    org: "mst".into(),
                    bucket: "quotes".into(),
                },
                timeout: Duration::from_secs(30),
            })
            .unwrap(),
            TokenCache::new(sm, "bench"),
            Quarantine::new(s3, "bench", "quarantine/transform/"),
        );

        // The CPU part alone: validate, line protocol, gzip (no I/O), as the handler does it.
        let mut times = Vec::new();
        let mut gzip_bytes = 0;
        for _ in 0..=RUNS {
            let start = Instant::now();
            gzip_bytes = 0;
            let mut body = BodyBuilder::new();
            for line in &lines {
                if let Ok(q) = quote_record::Quote::from_json(line) {
                    body.push(&q).unwrap();
                    if body.is_full() {
                        gzip_bytes += std::mem::take(&mut body).finish().unwrap().len();
                    }
                }
            }
            gzip_bytes += body.finish().unwrap().len();
            times.push(start.elapsed());
        }
        let encode = median(times);
        println!(
            "encode only (validate + line protocol + gzip level 1, one core): {:.3} s = {:.0} records/s; {} gzip bytes",
            encode.as_secs_f64(),
            lines.len() as f64 / encode.as_secs_f64(),
            gzip_bytes
        );

        println!(
            "{:>6} {:>8} {:>12} {:>12} {:>12} {:>10} {:>10}",
            "batch", "events", "handler s", "records/s", "+ JSON s", "written", "quarant."
        );
        for batch in [500, 10_000] {
            let events = events(&lines, batch);
            let (mut handler_times, mut total_times) = (Vec::new(), Vec::new());
            let (mut written, mut quarantined) = (0, 0);
            // One warm-up run (connections, token read), then RUNS timed runs.
            for run in 0..=RUNS {
                let (mut handler, mut total) = (Duration::ZERO, Duration::ZERO);
                (written, quarantined) = (0, 0);
                for text in &events {
                    let start = Instant::now();
                    // What the runtime does before calling the handler.
                    let event: KinesisEvent = serde_json::from_str(text).unwrap();
                    let decoded = start.elapsed();
                    let outcome = transform::handler::process(&t, &event.records).await;
                    let all = start.elapsed();
                    assert_eq!(outcome.failed_from, None, "{outcome:?}");
                    written += outcome.written;
                    quarantined += outcome.quarantined;
                    handler += all - decoded;
                    total += all;
                }
                if run > 0 {
                    handler_times.push(handler);
                    total_times.push(total);
                }
            }
            let handler = median(handler_times);
            let total = median(total_times);
            println!(
                "{batch:>6} {:>8} {:>12.3} {:>12.0} {:>12.3} {:>10} {:>10}",
                events.len(),
                handler.as_secs_f64(),
                lines.len() as f64 / handler.as_secs_f64(),
                total.as_secs_f64(),
                written,
                quarantined
            );
        }
        println!(
            "(median of {RUNS} runs after a warm-up; 'handler s' = validate + line protocol + gzip + \
             POSTs to VictoriaMetrics + one PutObject to moto per batch with invalid records; \
             '+ JSON s' adds deserializing the Kinesis event)"
        );
        let exported = vm.export(r#"{__name__="quote_price"}"#);
        let samples: usize = exported
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["values"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        println!(
            "VictoriaMetrics holds {samples} quote_price samples ({} runs x 2 batch sizes; it keeps duplicates)",
            RUNS + 1
        );
    });
}
