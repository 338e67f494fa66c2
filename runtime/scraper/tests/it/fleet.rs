//! A fleet of three `scraper` processes, each with its shard's configuration (`ScraperConfig::for_shard`,
//! as the deployer writes them), against the local quote site (`testkit::QuoteSite`) and moto's
//! Kinesis: every symbol is scraped by exactly one process and none is missing; killing one process
//! stops exactly its symbols, and its heartbeat goes stale while the others' stay fresh.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::common::temp_dir;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::ShardIteratorType;
use quote_record::Symbol;
use scraper::Heartbeat;
use scraper_config::{ScraperConfig, Shard};
use testkit::{Moto, QuoteSite};

const STREAM: &str = "mst-fleet-quotes";
const SHARDS: u32 = 3;

/// The whole fleet's configuration: 30 symbols from the site's HTML page, every second.
fn whole(moto: &Moto, site: &QuoteSite, dir: &Path) -> ScraperConfig {
    let symbols: Vec<String> = (0..30).map(|i| format!("\"F{i}\"")).collect();
    let text = format!(
        r#"{{"stream": {{"name": "{STREAM}", "region": "eu-west-1", "endpoint": "{endpoint}"}},
"symbols": [{symbols}], "interval_seconds": 1, "requests_per_second_per_host": 300,
"sources": [{{"name": "quote-page", "url": "{url}", "currency": "USD",
  "fields": {{"price": "span.price", "change_pct": "span.change-pct", "volume": "span.volume", "market_time": "time.market-time"}}}}],
"spool": {{"dir": "{spool}", "max_mb": 1}}}}"#,
        endpoint = moto.endpoint(),
        symbols = symbols.join(", "),
        url = site.html_url(),
        spool = dir.join("spool").display(),
    );
    ScraperConfig::parse("fleet.yaml", &text).unwrap()
}

struct Process {
    child: Child,
    heartbeat: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts shard `shard`'s process; its source is named after the shard so each record says which
/// process made it (the only change from the generated configuration).
fn start(whole: &ScraperConfig, shard: Shard, dir: &Path) -> Process {
    let dir = dir.join(format!("shard-{}", shard.index));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = whole.for_shard(shard);
    config.sources[0].name = format!("shard-{}", shard.index);
    config.spool.dir = dir.join("spool").display().to_string();
    let heartbeat = dir.join("heartbeat.json");
    config.heartbeat_file = Some(heartbeat.display().to_string());
    let path = dir.join("scraper.yaml");
    std::fs::write(&path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_scraper"))
        .arg("--config")
        .arg(&path)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("MST_LOG", "warn")
        .env_remove("AWS_PROFILE")
        .stdout(std::fs::File::create(dir.join("scraper.log")).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process { child, heartbeat }
}

/// Every record on the stream: (symbol, source, scraped_at as Unix nanoseconds).
async fn records(c: &Client) -> Vec<(String, String, i64)> {
    let shards = c.list_shards().stream_name(STREAM).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = c
            .get_shard_iterator()
            .stream_name(STREAM)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            let page = c.get_records().shard_iterator(it).send().await.unwrap();
            for record in page.records() {
                let quote = quote_record::Quote::from_json(record.data().as_ref()).unwrap();
                out.push((
                    quote.symbol().as_str().to_owned(),
                    quote.source().to_owned(),
                    quote.scraped_at().unix_nanos(),
                ));
            }
            iterator = if page.records().is_empty() {
                None
            } else {
                page.next_shard_iterator().map(str::to_owned)
            };
        }
    }
    out
}

fn heartbeat_age(path: &Path) -> Duration {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default()
}

fn wait_for_ticks(processes: &[Process], ticks: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = processes
            .iter()
            .all(|p| Heartbeat::read(&p.heartbeat).is_ok_and(|h| h.ticks >= ticks));
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the fleet did not tick {ticks} times"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_symbol_is_scraped_by_its_one_shard_and_a_killed_shard_stops_only_its_symbols() {
    let moto = Moto::start();
    let site = QuoteSite::start_with(quote_site::SiteConfig::without_errors());
    let kinesis = Client::new(&moto.sdk_config("eu-west-1").await);
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let dir = temp_dir("fleet");
    let whole = whole(&moto, &site, &dir);
    let mut processes: Vec<Process> = Shard::all(SHARDS)
        .map(|shard| start(&whole, shard, &dir))
        .collect();
    wait_for_ticks(&processes, 3);
    for p in &processes {
        let beat = Heartbeat::read(&p.heartbeat).unwrap();
        let log = std::fs::read_to_string(p.heartbeat.with_file_name("scraper.log")).unwrap();
        assert!(beat.put > 0, "{beat:?}\n{log}");
    }

    // Every symbol, from exactly the process of its shard.
    let owner_source = |symbol: &str| {
        let symbol = Symbol::parse(symbol).unwrap();
        format!("shard-{}", scraper_config::shard::owner(&symbol, SHARDS))
    };
    let mut sources: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (symbol, source, _) in records(&kinesis).await {
        sources.entry(symbol).or_default().insert(source);
    }
    let wanted: BTreeSet<String> = whole
        .symbols
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(sources.keys().cloned().collect::<BTreeSet<_>>(), wanted);
    for (symbol, from) in &sources {
        assert_eq!(
            from,
            &BTreeSet::from([owner_source(symbol)]),
            "{symbol} was scraped by {from:?}"
        );
    }

    // Kill shard 1 (no clean stop: a crashed instance). From then on only its symbols stop.
    let killed = processes.remove(1);
    let killed_heartbeat = killed.heartbeat.clone();
    drop(killed);
    let killed_at = quote_record::Timestamp::now().unix_nanos();
    let last_ticks: Vec<u64> = processes
        .iter()
        .map(|p| Heartbeat::read(&p.heartbeat).unwrap().ticks)
        .collect();
    // Four intervals: the survivors tick on, the killed one's heartbeat ages.
    let deadline = Instant::now() + Duration::from_secs(30);
    while processes
        .iter()
        .zip(&last_ticks)
        .any(|(p, &before)| Heartbeat::read(&p.heartbeat).unwrap().ticks < before + 4)
    {
        assert!(Instant::now() < deadline, "the survivors stopped ticking");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        heartbeat_age(&killed_heartbeat) >= Duration::from_secs(3),
        "the killed shard's heartbeat is {:?} old",
        heartbeat_age(&killed_heartbeat)
    );
    for survivor in &processes {
        assert!(heartbeat_age(&survivor.heartbeat) < Duration::from_secs(3));
    }
    // Records scraped a second after the kill (a tick already under way may still land): every
    // symbol of shards 0 and 2, none of shard 1.
    let after: BTreeSet<String> = records(&kinesis)
        .await
        .into_iter()
        .filter(|(_, _, scraped_at)| *scraped_at > killed_at + 1_000_000_000)
        .map(|(symbol, _, _)| symbol)
        .collect();
    let survivors: BTreeSet<String> = wanted
        .iter()
        .filter(|s| owner_source(s) != "shard-1")
        .cloned()
        .collect();
    assert!(survivors.len() < wanted.len(), "shard 1 owns no symbol");
    assert_eq!(after, survivors);
}
