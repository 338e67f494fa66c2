//! End to end with the real `transform` binary: quotes put on the deployed stream reach InfluxDB
//! through the event source mapping and the hosted function, with the environment and the token
//! secret exactly as `deployer run` wires them.

use std::time::{Duration, Instant, SystemTime};

use engine::artifacts::{Artifact, zip_bootstrap};
use local_run::LocalPipeline;
use stacks::pipeline::{ArtifactParameter, StackKind};
use testkit::Influx1;

use crate::common::{deploy_with, fixture_artifacts, rfc3339, shipped_binary, tempfile_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_put_on_the_stream_reach_influxdb_through_the_real_transform_binary() {
    let binary = std::fs::read(shipped_binary(ArtifactParameter::Transform)).unwrap();
    let influx = Influx1::start();
    influx.create_database("quotes");
    let artifacts: Vec<Artifact> = fixture_artifacts()
        .into_iter()
        .map(|a| match a.parameter {
            ArtifactParameter::Transform => {
                Artifact::new(a.parameter, zip_bootstrap(&binary).unwrap())
            }
            _ => a,
        })
        .collect();
    let d = deploy_with(artifacts, Some(influx.url())).await;
    let mut options = d.options(tempfile_dir("run"));
    options.scraper = false;
    let pipeline = LocalPipeline::prepare(&options).await.unwrap();
    let stream_id = d.synthesis.regions[0]
        .stacks
        .iter()
        .find(|s| s.kind == StackKind::Pipeline)
        .map(|s| {
            local_run::resources_of(&s.json, "AWS::Kinesis::Stream")
                .next()
                .unwrap()
                .0
                .clone()
        })
        .unwrap();
    let stream = pipeline
        .resolver()
        .resolve(&serde_json::json!({ "Ref": stream_id }))
        .unwrap();
    let log = pipeline.functions()["Transform"].config().log.clone();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(async move {
        let mut view = local_run::view::View::Plain { last: None };
        pipeline.run(stop, &mut view).await
    });

    let kinesis = d.clients().kinesis;
    let now = SystemTime::now();
    for (i, symbol) in ["AAPL", "MSFT", "NVDA"].iter().enumerate() {
        let market = now - Duration::from_secs(60 + i as u64);
        let record = serde_json::json!({
            "v": 1, "symbol": symbol, "price": 100.5 + i as f64, "currency": "USD",
            "change_pct": 0.25, "volume": 1000 + i as u64,
            "market_time": rfc3339(market), "scraped_at": rfc3339(market + Duration::from_secs(1)),
            "source": "quote-page",
        });
        kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key(*symbol)
            .data(aws_smithy_types::Blob::new(record.to_string().into_bytes()))
            .send()
            .await
            .unwrap();
    }
    let count = || {
        let answer = influx.query("quotes", "SELECT count(price) FROM quote");
        let value: serde_json::Value = serde_json::from_str(&answer).unwrap();
        value["results"][0]["series"][0]["values"][0][1]
            .as_u64()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while count() < 3 {
        assert!(
            Instant::now() < deadline,
            "InfluxDB has {} points; the function's log:\n{}",
            count(),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop_tx.send(true).unwrap();
    let snapshot = run.await.unwrap().unwrap();
    assert_eq!(count(), 3);
    let symbols = influx.query("quotes", "SHOW TAG VALUES FROM quote WITH KEY = \"symbol\"");
    for symbol in ["AAPL", "MSFT", "NVDA"] {
        assert!(symbols.contains(symbol), "{symbols}");
    }
    assert_eq!(snapshot.processed, 3);
    assert_eq!(
        snapshot.failures,
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
