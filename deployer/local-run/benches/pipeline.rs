//! The local pipeline's latency and throughput (`cargo bench -p local-run --bench pipeline`):
//! `environments/local.yaml` with 1,000 symbols scraped every second from the bundled quote site
//! (without its 429/500 answers), deployed to moto with the artifacts `deployer up` builds, and
//! run by `deployer run`'s `LocalPipeline` (scraper, event source mapping, transform, Firehose,
//! to-parquet, notify) against a local InfluxDB 1.x. Prints figures; asserts nothing about time.
//!
//! - **scrape → InfluxDB**: the quote site stamps each quote's `market_time` with the request's
//!   time (ms), and the transform writes it as the point's time. 50 sampled symbols' latest points
//!   are read every 200 ms; a new point's latency is the time it was first seen minus its time
//!   (up to one poll, 200 ms, late; a symbol with two new points between polls gives one sample).
//! - **scrape → Parquet**: a curated object's key keeps the Firehose object name, whose timestamp
//!   is the arrival time of its oldest record (1 s resolution, the scraper's put a few ms after the
//!   scrape); its latency is when the listing (every 2 s, or four times the listing's own time
//!   when longer) first saw it minus that time.
//! - **throughput**: quotes served by the site and points in InfluxDB per second, over the run
//!   after a warm-up, and what was still in flight at the end.
//!
//! The functions and the scraper are always the artifacts `deployer up` ships (optimized); only
//! `deployer run`'s own code (the mapping, Firehose, the notifications) follows the bench's build.
//! `.ci/run` runs it from the tests' unoptimized build, which it already has, for 90 s:
//! `MST_BENCH_SECONDS=90 cargo bench --workspace --all-features --profile test --bench pipeline`.
//!
//! `MST_BENCH_SECONDS` sets the measured duration (default 180: Firehose buffers 60 s, so the
//! Parquet figures need a few minutes); `MST_BENCH_SYMBOLS` the symbol count (default 1,000);
//! `MST_BENCH_ARTIFACTS` a directory of prebuilt artifacts (`deployer up --artifacts`'s layout)
//! instead of building them.

#![allow(clippy::unwrap_used)] // A bench: a panic is the failure report.

#[path = "../tests/it/common.rs"]
#[allow(dead_code)]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use local_run::LocalPipeline;
use local_run::view::View;
use testkit::{Influx1, Moto, QuoteSite};

const WARM_UP: Duration = Duration::from_secs(15);
const SAMPLED: usize = 50;
/// How often the curated buckets are listed; spaced out as the listing gets slower, as the run's
/// own listings are (`local_run::pacing`), so the measurement takes little of moto's time.
const LIST_EVERY: Duration = Duration::from_secs(2);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `A00`, `A01`, …, `Z99`: valid tickers the quote site prices like any other. Three characters:
/// the scraper's configuration lists every symbol in the instance's user data, and 1,000
/// five-character symbols exceed EC2's 16 KiB there (`deployer synth` refuses them).
fn symbols(count: u64) -> Vec<String> {
    (0..count.min(2600))
        .map(|i| format!("{}{:02}", char::from(b'A' + (i / 100) as u8), i % 100))
        .collect()
}

/// `local.yaml` for the bench: this moto, InfluxDB and quote site (its JSON source only), the
/// symbols, a 1 s interval.
fn environment(moto: &Moto, influx: &Influx1, site: &QuoteSite, symbols: &[String]) -> String {
    let text =
        std::fs::read_to_string(common::workspace().join("environments/local.yaml")).unwrap();
    let sources_start = text.find("  sources:\n").unwrap();
    let sources_end = sources_start + text[sources_start..].find("\n\n").unwrap();
    let json_source = format!(
        "  sources:\n    - name: quote-api\n      url: {}\n      format: json\n      fields:\n        price: \"$.quote.price\"\n        change_pct: \"$.quote.change_pct\"\n        volume: \"$.quote.volume\"\n        market_time: \"$.quote.market_time\"\n        currency: \"$.quote.currency\"",
        site.json_url()
    );
    let text = format!(
        "{}{json_source}{}",
        &text[..sources_start],
        &text[sources_end..]
    );
    let replaced = text
        .replace("http://127.0.0.1:5000", moto.endpoint())
        .replace(
            "url: http://127.0.0.1:8086\n",
            &format!("url: {}\n", influx.url()),
        )
        .replace(
            "symbols: [AAPL, MSFT, NVDA]",
            &format!("symbols: [{}]", symbols.join(", ")),
        )
        // The scraper spaces requests to one host (2 per second by default): the bench's single
        // local site must not be the limit.
        .replace(
            "interval_seconds: 15",
            "interval_seconds: 1\n  concurrency: 32\n  requests_per_second_per_host: 5000",
        );
    assert!(
        replaced.contains("interval_seconds: 1\n") && replaced.contains("A00"),
        "local.yaml changed: update the bench's substitutions"
    );
    replaced
}

/// The `q`-quantile of sorted `values`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn describe(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    if samples.is_empty() {
        println!("{name}: no samples within the run");
        return;
    }
    println!(
        "{name}: p50 {:.2} s, p99 {:.2} s, max {:.2} s ({} samples)",
        quantile(&samples, 0.5).as_secs_f64(),
        quantile(&samples, 0.99).as_secs_f64(),
        samples.last().unwrap().as_secs_f64(),
        samples.len()
    );
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// Points in InfluxDB (the canary excluded).
fn points(influx: &Influx1) -> u64 {
    json(&influx.query(
        "quotes",
        "SELECT count(price) FROM quote WHERE symbol != 'MST-CANARY'",
    ))["results"][0]["series"][0]["values"][0][1]
        .as_u64()
        .unwrap_or(0)
}

/// Each sampled symbol's latest point time (ns since the epoch).
fn latest(influx: &Influx1, regex: &str) -> BTreeMap<String, i64> {
    let answer = json(&influx.query(
        "quotes",
        &format!("SELECT last(price) FROM quote WHERE symbol =~ /^({regex})$/ GROUP BY symbol"),
    ));
    answer["results"][0]["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some((
                s["tags"]["symbol"].as_str()?.to_owned(),
                s["values"][0][0].as_i64()?,
            ))
        })
        .collect()
}

fn served(site: &QuoteSite) -> u64 {
    site.served().symbols.values().map(|c| c.served).sum()
}

/// Parses the Firehose timestamp `yyyy-MM-dd-HH-mm-ss` in a curated key into a time.
fn firehose_time(key: &str) -> Option<SystemTime> {
    let name = key.rsplit('/').next()?;
    // <name>-1-yyyy-MM-dd-HH-mm-ss-<uuid>.parquet: the six numbers after "-1-".
    let rest = &name[name.find("-1-")? + 3..];
    let parts: Vec<&str> = rest.splitn(7, '-').take(6).collect();
    let stamp = format!(
        "{}-{}-{}T{}:{}:{}Z",
        parts.first()?,
        parts.get(1)?,
        parts.get(2)?,
        parts.get(3)?,
        parts.get(4)?,
        parts.get(5)?
    );
    let parsed =
        aws_smithy_types::DateTime::from_str(&stamp, aws_smithy_types::date_time::Format::DateTime)
            .ok()?;
    SystemTime::try_from(parsed).ok()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let seconds = env_number("MST_BENCH_SECONDS", 180);
    let symbols = symbols(env_number("MST_BENCH_SYMBOLS", 1000));
    // Prebuilt artifacts (as `deployer up --artifacts DIR` takes them), or built as `up` builds
    // them into this bench's target directory (<target>/<profile>/deps/pipeline-<hash>).
    let artifacts = match std::env::var_os("MST_BENCH_ARTIFACTS") {
        Some(dir) => engine::artifacts::from_dir(std::path::Path::new(&dir)).unwrap(),
        None => {
            let exe = std::env::current_exe().unwrap();
            let target_dir = exe.ancestors().nth(3).unwrap().to_path_buf();
            engine::artifacts::build(&common::workspace(), Some(&target_dir)).unwrap()
        }
    };

    let moto = Moto::start();
    let influx = Influx1::start();
    influx.create_database("quotes");
    let site = QuoteSite::start_with(quote_site::SiteConfig::without_errors());
    let dir = common::tempfile_dir("bench");
    std::fs::write(
        dir.join("local.yaml"),
        environment(&moto, &influx, &site, &symbols),
    )
    .unwrap();
    let env = environment::load(&dir.join("local.yaml")).unwrap();
    let d = common::deploy_environment(moto, env, artifacts).await;
    let options = d.options(common::tempfile_dir("bench-run"));
    let pipeline = LocalPipeline::prepare(&options).await.unwrap();
    println!("{}", pipeline.summary().trim_end());
    let curated: Vec<String> = pipeline
        .rules()
        .iter()
        .filter(|r| r.suffix == ".parquet")
        .map(|r| r.bucket.clone())
        .collect();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(async move {
        let mut view = View::Plain { last: None };
        pipeline.run(stop, &mut view).await
    });

    let sampled: Vec<&String> = symbols
        .iter()
        .step_by((symbols.len() / SAMPLED).max(1))
        .collect();
    let regex = sampled
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("|");
    let s3 = d.clients().s3;
    let started = Instant::now();
    let mut seen_points: BTreeMap<String, i64> = BTreeMap::new();
    let mut influx_latency = Vec::new();
    let mut parquet_seen: BTreeSet<String> = BTreeSet::new();
    let mut parquet_latency = Vec::new();
    let mut last_listing = Instant::now();
    let mut listing_pause = LIST_EVERY;
    let mut window_start: Option<(Instant, u64, u64)> = None;
    let end = started + WARM_UP + Duration::from_secs(seconds);
    while Instant::now() < end {
        let measuring = started.elapsed() >= WARM_UP;
        if measuring && window_start.is_none() {
            window_start = Some((Instant::now(), served(&site), points(&influx)));
        }
        let now = SystemTime::now();
        for (symbol, time) in latest(&influx, &regex) {
            let previous = seen_points.insert(symbol, time);
            if measuring && previous.is_some_and(|p| p < time) {
                let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(time as u64);
                influx_latency.push(now.duration_since(at).unwrap_or_default());
            }
        }
        if last_listing.elapsed() >= listing_pause {
            let listing_started = Instant::now();
            for bucket in &curated {
                let mut pages = s3
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix("quotes/")
                    .into_paginator()
                    .send();
                while let Some(Ok(page)) = pages.next().await {
                    let now = SystemTime::now();
                    for object in page.contents() {
                        let key = object.key().unwrap_or_default().to_owned();
                        if !key.ends_with(".parquet") || !parquet_seen.insert(key.clone()) {
                            continue;
                        }
                        if let Some(at) = firehose_time(&key) {
                            parquet_latency.push(now.duration_since(at).unwrap_or_default());
                        }
                    }
                }
            }
            // The pause runs from the listing's end, as the run's own listings pause.
            last_listing = Instant::now();
            listing_pause = local_run::pacing::pause_after(LIST_EVERY, listing_started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (window_at, served_at_start, points_at_start) = window_start.unwrap();
    let window = window_at.elapsed().as_secs_f64();
    let (served_now, points_now) = (served(&site), points(&influx));
    stop_tx.send(true).unwrap();
    let snapshot = run.await.unwrap().unwrap();
    let points_final = points(&influx);

    // `.ci/run` runs this bench from its unoptimized test build (no build of its own); the
    // figures say which build they come from.
    let build = if cfg!(debug_assertions) {
        "unoptimized build (test profile)"
    } else {
        "optimized build"
    };
    println!(
        "\nlocal pipeline, {} symbols every 1 s, {window:.0} s measured after a {} s warm-up, deployer run's {build} ({}):",
        symbols.len(),
        WARM_UP.as_secs(),
        aws_smithy_types::DateTime::from(SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap()
    );
    println!(
        "throughput: scraped {:.0} quotes/s, written to InfluxDB {:.0} points/s; in flight at the end {} (all written after the stop: {})",
        (served_now - served_at_start) as f64 / window,
        (points_now - points_at_start) as f64 / window,
        served_now.saturating_sub(points_now),
        points_final
    );
    describe("scrape → InfluxDB latency", influx_latency);
    describe(
        "scrape → Parquet latency (oldest record of each file)",
        parquet_latency,
    );
    println!(
        "Parquet files: {}; the run's final counters: {snapshot:?}",
        parquet_seen.len()
    );
}
