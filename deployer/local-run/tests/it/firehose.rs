//! The delivery stream's emulation inside a run: records put on the stream once the run says it
//! is ready (`LocalPipeline::signal_ready`) land in the raw bucket under their partition.
//!
//! This is the race `.ci/local-up` lost: it started `deployer verify` beside `deployer run`, so
//! the canary pair was put while the run was still preparing (downloading the artifacts), before
//! the emulation took the time it reads the stream from; the pair reached Transform (its mapping
//! reads from `TRIM_HORIZON`) but never the raw bucket.

use std::io::Read as _;
use std::time::{Duration, Instant};

use lambda_contract::prefixes;
use local_run::{LocalPipeline, resources_of};
use serde_json::Value;
use stacks::pipeline::StackKind;

use crate::common::{deploy, fixture_artifacts, tempfile_dir};

fn pipeline_template(d: &crate::common::Deployment) -> Value {
    d.synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .unwrap()
        .json
        .clone()
}

/// Every line of every object under `prefix` of `bucket`.
async fn lines_under(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut lines = Vec::new();
    for object in listed.contents() {
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(object.key().unwrap())
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
        lines.extend(text.lines().map(str::to_owned));
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_put_once_the_run_is_ready_land_in_the_raw_bucket_under_their_partition() {
    let d = deploy(fixture_artifacts()).await;
    let run_dir = tempfile_dir("run");
    let ready = run_dir.join("ready");
    let pipeline = LocalPipeline::prepare(&d.options(run_dir.clone()))
        .await
        .unwrap()
        .signal_ready(ready.clone());
    let raw = pipeline
        .rules()
        .iter()
        .find(|r| r.prefix == prefixes::RAW)
        .unwrap()
        .bucket
        .clone();
    let stream_id = resources_of(&pipeline_template(&d), "AWS::Kinesis::Stream")
        .next()
        .unwrap()
        .0
        .to_owned();
    let stream = pipeline
        .resolver()
        .resolve(&serde_json::json!({ "Ref": stream_id }))
        .unwrap();
    let clients = d.clients();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(async move {
        let mut view = local_run::view::View::Plain { last: None };
        pipeline.run(stop, &mut view).await
    });

    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready.exists() {
        assert!(
            Instant::now() < deadline,
            "the run never wrote its ready file"
        );
        assert!(!run.is_finished(), "the run ended before it was ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records = [
        r#"{"symbol":"MST-CANARY","price":100.0,"market_time":"2026-12-06T04:42:53Z","source":"test"}"#,
        r#"{"symbol":"MST-CANARY","price":104.0,"market_time":"2026-12-06T04:43:53Z","source":"test"}"#,
    ];
    for record in records {
        clients
            .kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key("MST-CANARY")
            .data(aws_smithy_types::Blob::new(record.as_bytes()))
            .send()
            .await
            .unwrap();
    }

    // Firehose's buffering interval (60 s in `local`) and a margin.
    let prefix = format!("{}symbol=MST-CANARY/dt=2026-12-06/", prefixes::RAW);
    let deadline = Instant::now() + Duration::from_secs(120);
    let landed = loop {
        let landed = lines_under(&clients.s3, &raw, &prefix).await;
        if landed.len() >= records.len() || Instant::now() > deadline {
            break landed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    stop_tx.send(true).unwrap();
    let snapshot = run.await.unwrap().unwrap();
    assert_eq!(landed, records, "under s3://{raw}/{prefix}");
    assert_eq!(snapshot.failures, 0);
}
