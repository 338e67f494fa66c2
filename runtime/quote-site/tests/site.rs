//! The site over HTTP, read by the scraper's own fetcher and extractor with the sources of
//! `environments/local.yaml`: what the scraper records is what `/served` says was served.
// Test helpers panic on what a test should fail on.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use quote_record::{Symbol, Timestamp};
use quote_site::{Format, Market, QuoteSite, ServedReport, SiteConfig};
use scraper::{Extractor, FetchSettings, Fetcher};
use scraper_config::{SourceConfig, SourceFormat};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).unwrap()
}

/// `local.yaml`'s symbols and its sources, pointed at `site` instead of the file's port.
fn local_sources(site: &QuoteSite) -> (Vec<Symbol>, Vec<SourceConfig>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../environments/local.yaml");
    let env = environment::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"));
    let sources =
        env.scraper
            .sources
            .into_iter()
            .map(|mut s| {
                let rest = s.url.strip_prefix("http://127.0.0.1:").unwrap_or_else(|| {
                    panic!("local.yaml's source `{}` is not on 127.0.0.1", s.name)
                });
                let path = &rest[rest.find('/').unwrap()..];
                s.url = format!("{}{path}", site.url());
                s
            })
            .collect();
    (env.symbols, sources)
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchSettings {
        timeout: Duration::from_secs(10),
        requests_per_second_per_host: 1000.0,
        user_agents: vec![scraper_config::DEFAULT_USER_AGENT.to_owned()],
        proxies: vec![],
        max_attempts: 1,
        backoff_base: Duration::from_millis(10),
        proxy_bench: Duration::from_secs(1),
    })
    .unwrap()
}

/// One agent for the test's requests: its connections are kept alive, as the scraper's are.
fn agent() -> ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT.get_or_init(new_agent).clone()
}

fn new_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

/// Status, `Retry-After` and body of `GET url`.
fn get(url: &str) -> (u16, Option<String>, String) {
    let mut resp = agent().get(url).call().unwrap();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = resp.status().as_u16();
    (
        status,
        retry_after,
        resp.body_mut().read_to_string().unwrap(),
    )
}

fn post(url: &str) -> (u16, String) {
    let mut resp = agent().post(url).send_empty().unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

fn served(site: &QuoteSite, query: &str) -> ServedReport {
    let (status, _, body) = get(&format!("{}/served{query}", site.url()));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn local_yaml_sources_read_what_was_served() {
    let site = QuoteSite::start(SiteConfig::without_errors(), 0).unwrap();
    let (symbols, sources) = local_sources(&site);
    let formats: Vec<SourceFormat> = sources.iter().map(|s| s.format).collect();
    assert!(
        formats.contains(&SourceFormat::Html) && formats.contains(&SourceFormat::Json),
        "local.yaml should read both page kinds: {formats:?}"
    );
    let fetcher = fetcher();
    let mut records = Vec::new();
    for round in 0..2 {
        for source in &sources {
            let extractor = Extractor::new(source).unwrap();
            for symbol in &symbols {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                let body = fetcher
                    .get(&source.url_for(symbol), deadline)
                    .await
                    .result
                    .unwrap_or_else(|e| panic!("{} {symbol:?}: {e}", source.name))
                    .body;
                let quote = extractor
                    .extract(symbol, &body, Timestamp::now())
                    .unwrap_or_else(|e| panic!("{} round {round}: {e}\n{body}", source.name));
                records.push(quote);
            }
        }
    }
    let report = site.served();
    assert_eq!(report.quotes.len(), records.len());
    for (quote, served) in records.iter().zip(&report.quotes) {
        assert_eq!(quote.symbol().as_str(), served.symbol);
        assert_eq!(quote.price(), served.price, "{served:?}");
        assert_eq!(quote.change_pct(), served.change_pct, "{served:?}");
        assert_eq!(quote.volume(), Some(served.volume), "{served:?}");
        assert_eq!(quote.market_time().to_string(), served.market_time);
        assert_eq!(quote.currency().as_str(), "USD");
        let expected_source = match served.format {
            Format::Html => "quote-page",
            Format::Json => "quote-api",
        };
        assert_eq!(quote.source(), expected_source);
        // market_time is the time of serving: the record time rules accept it at once.
        let age = Timestamp::now().unix_nanos() - quote.market_time().unix_nanos();
        assert!(
            (0..10_000_000_000).contains(&age),
            "market time {age} ns old"
        );
    }
    for symbol in &symbols {
        let counts = &report.symbols[symbol.as_str()];
        assert_eq!((counts.html, counts.json, counts.served), (2, 2, 4));
    }
}

#[test]
fn same_seed_same_pages_other_seed_other_prices() {
    // One tick per hour: every request of the test falls in tick 0.
    let config = SiteConfig {
        tick: Duration::from_secs(3600),
        ..SiteConfig::without_errors()
    };
    let a = QuoteSite::start(config.clone(), 0).unwrap();
    let b = QuoteSite::start(config.clone(), 0).unwrap();
    let c = QuoteSite::start(
        SiteConfig {
            seed: 1234,
            ..config
        },
        0,
    )
    .unwrap();
    for site in [&a, &b, &c] {
        for s in ["AAPL", "MSFT", "BRK.B"] {
            assert_eq!(get(&format!("{}/api/quote/{s}", site.url())).0, 200);
        }
    }
    let values = |site: &QuoteSite| -> Vec<(String, f64, f64, u64)> {
        site.served()
            .quotes
            .into_iter()
            .map(|q| (q.symbol, q.price, q.change_pct, q.volume))
            .collect()
    };
    assert_eq!(values(&a), values(&b));
    assert_ne!(values(&a), values(&c));
}

#[test]
fn prices_move_each_tick_along_the_seeded_walk() {
    let config = SiteConfig {
        tick: Duration::from_millis(20),
        ..SiteConfig::without_errors()
    };
    let site = QuoteSite::start(config.clone(), 0).unwrap();
    for _ in 0..15 {
        assert_eq!(get(&format!("{}/quote/NVDA", site.url())).0, 200);
        std::thread::sleep(Duration::from_millis(45));
    }
    let reference = Market::new(config);
    let quotes = site.served().quotes;
    let ticks: Vec<u64> = quotes.iter().map(|q| q.tick).collect();
    assert!(ticks.windows(2).all(|w| w[0] < w[1]), "ticks {ticks:?}");
    for q in &quotes {
        assert_eq!(q.price, reference.walk_price(&sym("NVDA"), q.tick), "{q:?}");
    }
    let distinct = quotes
        .windows(2)
        .filter(|w| w[0].price != w[1].price)
        .count();
    assert!(distinct >= 5, "the price should move: {quotes:?}");
}

#[test]
fn errors_are_injected_at_their_rates_and_accounted() {
    let all_429 = QuoteSite::start(
        SiteConfig {
            too_many_requests_rate: 1.0,
            server_error_rate: 0.0,
            retry_after_seconds: 3,
            ..SiteConfig::default()
        },
        0,
    )
    .unwrap();
    let (status, retry_after, _) = get(&format!("{}/quote/AAPL", all_429.url()));
    assert_eq!((status, retry_after.as_deref()), (429, Some("3")));
    let all_500 = QuoteSite::start(
        SiteConfig {
            too_many_requests_rate: 0.0,
            server_error_rate: 1.0,
            ..SiteConfig::default()
        },
        0,
    )
    .unwrap();
    assert_eq!(get(&format!("{}/api/quote/AAPL", all_500.url())).0, 500);

    let config = SiteConfig {
        too_many_requests_rate: 0.1,
        server_error_rate: 0.05,
        ..SiteConfig::default()
    };
    let statuses = |site: &QuoteSite| -> Vec<u16> {
        (0..400)
            .map(|i| {
                let s = ["AAPL", "MSFT"][i % 2];
                get(&format!("{}/quote/{s}", site.url())).0
            })
            .collect()
    };
    let first = QuoteSite::start(config.clone(), 0).unwrap();
    let seen = statuses(&first);
    // The same seed answers the same requests the same way.
    let again = QuoteSite::start(config, 0).unwrap();
    assert_eq!(seen, statuses(&again));
    let count = |code| seen.iter().filter(|s| **s == code).count() as u64;
    // At 400 requests the binomial deviation is about 15 and 11: these bounds are five of them.
    assert!((count(429) as i64 - 40).abs() < 75, "{} 429s", count(429));
    assert!((count(500) as i64 - 20).abs() < 55, "{} 500s", count(500));
    assert!(count(429) > 0 && count(500) > 0);
    let report = served(&first, "");
    let sum = |f: fn(&quote_site::SymbolCounts) -> u64| report.symbols.values().map(f).sum::<u64>();
    assert_eq!(sum(|c| c.too_many_requests), count(429));
    assert_eq!(sum(|c| c.server_errors), count(500));
    assert_eq!(sum(|c| c.served), count(200));
    assert_eq!(report.quotes.len() as u64, count(200));
}

#[test]
fn a_jump_moves_the_next_quote_and_is_reported() {
    let site = QuoteSite::start(SiteConfig::without_errors(), 0).unwrap();
    let url = site.url();
    assert_eq!(get(&format!("{url}/quote/MSFT")).0, 200);
    let (status, body) = post(&format!("{url}/jump?symbol=MSFT&pct=5"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(get(&format!("{url}/api/quote/MSFT")).0, 200);
    assert_eq!(get(&format!("{url}/quote/MSFT")).0, 200);
    let quotes = served(&site, "?symbol=MSFT").quotes;
    let [before, jumped, after] = &quotes[..] else {
        panic!("{quotes:?}")
    };
    assert!(!before.jumped && jumped.jumped && !after.jumped);
    let moved = jumped.price / before.price - 1.0;
    assert!((moved - 0.05).abs() <= 0.01 / before.price, "moved {moved}");
    // After the jump the walk goes on from the new level.
    assert!((after.price / jumped.price - 1.0).abs() < 0.006);
    assert_eq!(served(&site, "").symbols["MSFT"].jumps, 1);
    // Bad requests say what to send.
    for bad in [
        "/jump?symbol=MSFT",
        "/jump?symbol=MSFT&pct=-100",
        "/jump?symbol=MSFT&pct=x",
        "/jump?symbol=msft%20&pct=5",
        "/jump?pct=5",
    ] {
        let (status, body) = post(&format!("{url}{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("POST /jump?symbol=AAPL&pct=5"), "{body}");
    }
}

#[test]
fn served_filters_by_symbol_and_sequence() {
    let site = QuoteSite::start(SiteConfig::without_errors(), 0).unwrap();
    for s in ["AAPL", "MSFT", "AAPL", "NVDA"] {
        assert_eq!(get(&format!("{}/quote/{s}", site.url())).0, 200);
    }
    let aapl: Vec<u64> = served(&site, "?symbol=AAPL")
        .quotes
        .iter()
        .map(|q| q.seq)
        .collect();
    assert_eq!(aapl, [1, 3]);
    let since: Vec<u64> = served(&site, "?since=2")
        .quotes
        .iter()
        .map(|q| q.seq)
        .collect();
    assert_eq!(since, [3, 4]);
    assert_eq!(get(&format!("{}/served?since=x", site.url())).0, 400);
}

#[test]
fn unknown_pages_and_methods_are_refused_with_directions() {
    let site = QuoteSite::start(SiteConfig::without_errors(), 0).unwrap();
    let url = site.url();
    let (status, _, body) = get(&format!("{url}/nothing"));
    assert_eq!(status, 404);
    assert!(body.contains("/quote/SYMBOL"), "{body}");
    assert_eq!(get(&format!("{url}/quote/not-a-ticker")).0, 404);
    assert_eq!(get(&format!("{url}/jump?symbol=AAPL&pct=5")).0, 405);
    assert_eq!(post(&format!("{url}/quote/AAPL")).0, 405);
    assert_eq!(get(&format!("{url}/health")).0, 200);
    // Nothing of this was a quote.
    assert!(site.served().quotes.is_empty());
}

#[test]
fn a_taken_port_and_bad_settings_are_explained() {
    let site = QuoteSite::start(SiteConfig::default(), 0).unwrap();
    let err = QuoteSite::start(SiteConfig::default(), site.addr().port())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("stop what uses the port"), "{err}");
    let err = QuoteSite::start(
        SiteConfig {
            too_many_requests_rate: 0.8,
            server_error_rate: 0.4,
            step_pct: 1.0,
            ..SiteConfig::default()
        },
        0,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("together must be at most 1"), "{err}");
    assert!(
        err.contains("the step must be above 0 and below the drift"),
        "{err}"
    );
}

#[test]
fn stop_closes_the_port_and_open_connections() {
    let mut site = QuoteSite::start(SiteConfig::without_errors(), 0).unwrap();
    let addr = site.addr();
    // A kept-alive connection is open (ureq pools it) when the site stops.
    let agent = new_agent();
    assert_eq!(
        agent
            .get(format!("http://{addr}/health"))
            .call()
            .unwrap()
            .status(),
        200
    );
    site.stop();
    assert!(agent.get(format!("http://{addr}/health")).call().is_err());
    assert!(std::net::TcpStream::connect(addr).is_err());
}
