//! Pages per second per core through the scraper's real tick (HTTP fetch over loopback, parse, extract,
//! validate) against the local quote site, for an HTML and a JSON source, and the fleet size the
//! environment check recommends: `cargo bench --profile artifact -p scraper-bench --bench
//! throughput` (the artifacts' profile, so the scraper is built as it ships). Prints figures;
//! asserts nothing about time.
//!
//! The scrape runs on a current-thread Tokio runtime, so all of its work is on this one thread; the
//! quote site answers from its own threads in this process. "Per core" is pages divided by this thread's
//! CPU time (user + system, from `/proc/thread-self/stat`), which does not count the site's work nor the
//! time spent waiting for it. `MST_BENCH_SECONDS` (default 2) is the time spent on each source kind.
#![allow(clippy::unwrap_used)] // A bench: a panic is the failure report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scraper::{FetchSettings, Fetcher, Scrape};
use scraper_config::ScraperConfig;
use testkit::QuoteSite;
use testkit::quote_site::SiteConfig;

/// Symbols per tick: enough that a tick is a few hundred pages, so per-tick overhead is small.
const SYMBOLS: usize = 200;

/// CPU time (user + system) this thread has used, from `/proc/thread-self/stat` (clock ticks of
/// 10 ms, so runs of a second or more are within 1%). `None` where the file is missing (not Linux).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which may hold spaces and is closed by the last `)`):
    // state is field 3, utime field 14, stime field 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux the project runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A scraper configuration with one source of `format` at `url` and [`SYMBOLS`] symbols, the
/// deployed defaults otherwise (concurrency 8, 10 s timeout), and no rate limit to speak of.
fn config(format: &str, url: &str) -> ScraperConfig {
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("\"B{i}\"")).collect();
    let fields = match format {
        "html" => {
            r#"{"price": "span.price", "change_pct": "span.change-pct", "volume": "span.volume", "market_time": "time.market-time"}"#
        }
        _ => {
            r#"{"price": "$.quote.price", "change_pct": "$.quote.change_pct", "volume": "$.quote.volume", "market_time": "$.quote.market_time", "currency": "$.quote.currency"}"#
        }
    };
    let text = format!(
        r#"{{"stream": {{"name": "unused", "region": "eu-west-1"}},
"symbols": [{symbols}], "requests_per_second_per_host": 1000000,
"sources": [{{"name": "bench-{format}", "url": "{url}", "format": "{format}", "currency": "USD", "fields": {fields}}}],
"spool": {{"dir": "/nonexistent"}}}}"#,
        symbols = symbols.join(", "),
    );
    ScraperConfig::parse("throughput.yaml", &text).unwrap()
}

/// What one source kind measured.
struct Figures {
    pages: u64,
    wall: Duration,
    cpu: Option<Duration>,
    body_bytes: usize,
}

/// Ticks against the site for `budget`; every page must give a record.
fn measure(config: &ScraperConfig, budget: Duration, body_bytes: usize) -> Figures {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scrape = Arc::new(Scrape::new(config, FetchSettings::from_config(config)).unwrap());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let tick = |scrape: &Arc<Scrape>| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let report = runtime.block_on(scrape.tick(deadline, shutdown.clone()));
        assert!(
            report.failures.is_empty() && !report.interrupted,
            "the quote site's pages must all give records: {:?}",
            report.failures.first()
        );
        report.records.len() as u64
    };
    // Warm up: connections open, allocator and caches warm.
    tick(&scrape);
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let mut pages = 0;
    while started.elapsed() < budget {
        pages += tick(&scrape);
    }
    let wall = started.elapsed();
    let cpu = cpu_before.zip(thread_cpu()).map(|(a, b)| b - a);
    Figures {
        pages,
        wall,
        cpu,
        body_bytes,
    }
}

fn main() {
    let budget = std::env::var("MST_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(Duration::from_secs(2), Duration::from_secs_f64);
    let site = QuoteSite::start_with(SiteConfig::without_errors());
    // One page of each kind through the scraper's own fetcher, for its size.
    let size = |template: &str| {
        let fetcher = Fetcher::new(FetchSettings::from_config(&config("json", template))).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let page = runtime.block_on(fetcher.get(&template.replace("{symbol}", "B0"), deadline));
        page.result.unwrap().body.len()
    };
    let mut per_core = Vec::new();
    for (kind, url) in [("html", site.html_url()), ("json", site.json_url())] {
        let f = measure(&config(kind, &url), budget, size(&url));
        let wall_rate = f.pages as f64 / f.wall.as_secs_f64();
        match f.cpu.filter(|c| !c.is_zero()) {
            Some(cpu) => {
                let rate = f.pages as f64 / cpu.as_secs_f64();
                per_core.push((kind, rate));
                println!(
                    "{kind}: {} pages of {} bytes in {:.2} s, {:.2} s CPU on the scraper's thread: \
                     {rate:.0} pages/s per core ({wall_rate:.0} pages/s wall on one thread)",
                    f.pages,
                    f.body_bytes,
                    f.wall.as_secs_f64(),
                    cpu.as_secs_f64(),
                );
            }
            None => println!(
                "{kind}: {} pages of {} bytes in {:.2} s: {wall_rate:.0} pages/s wall on one thread \
                 (no per-thread CPU time on this system, so no per-core figure)",
                f.pages,
                f.body_bytes,
                f.wall.as_secs_f64(),
            ),
        }
    }
    fleet_sizes(&per_core);
}

/// The fleet size `environment::fleet` recommends for each shipped environment and for 10,000
/// symbols from one source every 15 s, and what the planned rate per instance is next to the
/// measured one.
fn fleet_sizes(per_core: &[(&str, f64)]) {
    use environment::fleet::{
        PLANNED_PAGES_PER_SECOND_PER_INSTANCE, pages_per_second, recommended_instances,
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../environments");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let line = |name: &str, env: &environment::Environment, configured: bool| {
        println!(
            "fleet: {name}: {} symbols x {} source(s) every {} s = {:.1} pages/s: {} instance(s) recommended{}",
            env.symbols.len(),
            env.scraper.sources.len(),
            env.scraper.interval_seconds,
            pages_per_second(env),
            recommended_instances(env),
            if configured {
                format!(" ({} configured)", env.scraper.instances)
            } else {
                String::new()
            },
        );
    };
    let mut base = None;
    for file in &files {
        let env = environment::load(file).unwrap();
        line(&file.file_stem().unwrap().to_string_lossy(), &env, true);
        base.get_or_insert(env);
    }
    let mut big = base.unwrap();
    big.symbols = (0..10_000)
        .map(|i| quote_record::Symbol::parse(&format!("S{i}")).unwrap())
        .collect();
    big.scraper.interval_seconds = 15;
    big.scraper.sources.truncate(1);
    line("10,000 symbols", &big, false);
    for (kind, rate) in per_core {
        println!(
            "fleet: the measured {rate:.0} {kind} pages/s per core is {:.0}x the plan's {PLANNED_PAGES_PER_SECOND_PER_INSTANCE:.0} \
             pages/s per instance (the plan allows for 78 KB pages at about 3 ms each, `--bench parse`, \
             TLS, retries and a burstable instance's CPU credit)",
            rate / PLANNED_PAGES_PER_SECOND_PER_INSTANCE
        );
    }
}
