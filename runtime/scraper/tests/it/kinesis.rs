//! Delivery to Kinesis on a moto server (`testkit::Moto`): partition keys and content, an outage
//! (connections cut, then back) with spool replay keeping every record in order per symbol, and a full
//! spool dropping (and counting) the oldest records.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::{Cut, temp_dir};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::Credentials;
use aws_sdk_kinesis::types::ShardIteratorType;
use scraper::{Record, Sink, SinkSettings, Spool, kinesis_client_with};
use scraper_config::StreamTarget;
use testkit::Moto;
use tokio::time::Instant;

const STREAM: &str = "mst-test-quotes";

/// The sink's client (the one under test: its timeouts, SDK retries off) on `endpoint`.
fn sink_client(endpoint: &str) -> Client {
    kinesis_client_with(
        &StreamTarget {
            name: STREAM.into(),
            region: "eu-west-1".into(),
            endpoint: Some(endpoint.to_owned()),
        },
        Credentials::new("testing", "testing", None, None, "test"),
    )
}

/// The test's own client, straight to moto: makes the stream and reads it back.
async fn moto_client(moto: &Moto) -> Client {
    Client::new(&moto.sdk_config("eu-west-1").await)
}

async fn create_stream(c: &Client) {
    c.create_stream()
        .stream_name(STREAM)
        .shard_count(2)
        .send()
        .await
        .unwrap();
}

/// Every record of the stream, shard by shard in sequence order: (partition key, data).
async fn read_all(c: &Client) -> Vec<(String, String)> {
    let shards = c.list_shards().stream_name(STREAM).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut it = c
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(i) = it {
            let page = c
                .get_records()
                .shard_iterator(i)
                .limit(1000)
                .send()
                .await
                .unwrap();
            for r in page.records() {
                out.push((
                    r.partition_key().to_owned(),
                    String::from_utf8(r.data().as_ref().to_vec()).unwrap(),
                ));
            }
            if page.records().is_empty() {
                break;
            }
            it = page.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}

/// Records per key, in stream order.
fn by_key(records: &[(String, String)]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, d) in records {
        m.entry(k.clone()).or_default().push(d.clone());
    }
    m
}

fn record(symbol: &str, n: usize) -> Record {
    Record {
        key: symbol.into(),
        data: format!(r#"{{"v":1,"symbol":"{symbol}","n":{n}}}"#).into_bytes(),
    }
}

fn batch(tick: usize, symbols: &[&str]) -> Vec<Record> {
    // Two records per symbol per tick, as with two sources.
    symbols
        .iter()
        .flat_map(|s| [record(s, tick * 2), record(s, tick * 2 + 1)])
        .collect()
}

fn fast() -> SinkSettings {
    SinkSettings {
        max_attempts: 3,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        ..SinkSettings::default()
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn records_arrive_with_their_partition_keys() {
    let moto = Moto::start();
    let c = moto_client(&moto).await;
    create_stream(&c).await;
    let dir = temp_dir("arrive");
    let mut sink = Sink::new(
        sink_client(moto.endpoint()),
        STREAM,
        Spool::open(&dir, 1 << 20).unwrap(),
        fast(),
    );
    let symbols = ["AAPL", "MSFT", "BRK.B"];
    let sent = batch(0, &symbols);
    let stats = sink.submit(sent.clone(), soon()).await;
    assert_eq!(
        (stats.put, stats.spooled, stats.dropped, stats.spool_len),
        (6, 0, 0, 0)
    );
    let got = read_all(&c).await;
    assert_eq!(got.len(), 6);
    let want = by_key(
        &sent
            .iter()
            .map(|r| (r.key.clone(), String::from_utf8(r.data.clone()).unwrap()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(by_key(&got), want);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn outage_spools_then_replays_in_order() {
    let moto = Moto::start();
    let cut = Cut::start(moto.port());
    let c = moto_client(&moto).await;
    let sink_c = sink_client(&cut.endpoint());
    create_stream(&c).await;
    let dir = temp_dir("outage");
    let mut sink = Sink::new(
        sink_c.clone(),
        STREAM,
        Spool::open(&dir, 1 << 20).unwrap(),
        fast(),
    );
    let symbols = ["AAPL", "MSFT", "SAP", "BRK.B"];

    let s = sink.submit(batch(0, &symbols), soon()).await;
    assert_eq!((s.put, s.spooled), (8, 0));

    cut.set_up(false);
    let s = sink.submit(batch(1, &symbols), soon()).await;
    assert_eq!((s.put, s.spooled, s.spool_len), (0, 8, 8));
    assert!(s.retried > 0);
    let s = sink.submit(batch(2, &symbols), soon()).await;
    assert_eq!((s.put, s.spooled, s.spool_len), (0, 8, 16));
    // A restart while Kinesis is away: the spool is on disk.
    drop(sink);
    let mut sink = Sink::new(
        sink_c.clone(),
        STREAM,
        Spool::open(&dir, 1 << 20).unwrap(),
        fast(),
    );

    cut.set_up(true);
    let s = sink.submit(batch(3, &symbols), soon()).await;
    assert_eq!(
        (s.put, s.replayed, s.spooled, s.dropped, s.spool_len),
        (24, 24, 8, 0, 0)
    );

    let got = by_key(&read_all(&c).await);
    for sym in symbols {
        let want: Vec<String> = (0..8)
            .map(|n| String::from_utf8(record(sym, n).data).unwrap())
            .collect();
        assert_eq!(got[sym], want, "{sym}: every record, once, in order");
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "spool files left behind"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn full_spool_drops_the_oldest_and_counts_them() {
    let moto = Moto::start();
    let cut = Cut::start(moto.port());
    let c = moto_client(&moto).await;
    let sink_c = sink_client(&cut.endpoint());
    create_stream(&c).await;
    let dir = temp_dir("full");
    let settings = SinkSettings {
        max_attempts: 1,
        ..fast()
    };
    // 32 KiB of spool: a few hundred of these records.
    let mut sink = Sink::new(
        sink_c,
        STREAM,
        Spool::open(&dir, 32 * 1024).unwrap(),
        settings,
    );
    cut.set_up(false);
    let total = 1000;
    let mut dropped = 0;
    let mut spooled = 0;
    for chunk in 0..10 {
        let records: Vec<Record> = (0..100).map(|i| record("AAPL", chunk * 100 + i)).collect();
        let s = sink
            .submit(records, Instant::now() + Duration::from_secs(5))
            .await;
        dropped += s.dropped;
        spooled += s.spooled;
    }
    assert_eq!(spooled, total);
    assert!(dropped > 0, "nothing dropped");
    let left = sink.spool_len();
    assert_eq!(
        left + dropped,
        total,
        "every record is either waiting or counted as dropped"
    );

    cut.set_up(true);
    let s = sink.replay_only(soon()).await;
    assert_eq!((s.put, s.spool_len), (left, 0));
    let got = by_key(&read_all(&c).await);
    // What arrived is the newest `left` records, in order.
    let want: Vec<String> = ((total - left) as usize..total as usize)
        .map(|n| String::from_utf8(record("AAPL", n).data).unwrap())
        .collect();
    assert_eq!(got["AAPL"], want);
    std::fs::remove_dir_all(dir).unwrap();
}
