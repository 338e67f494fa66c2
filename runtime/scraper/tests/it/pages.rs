//! One tick against a local HTTP server: normal HTML and JSON pages, a changed layout, a missing field,
//! an invalid value, 429 with `Retry-After` (short and too long), 503, and a page slower than the timeout.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::common::{PageServer, Reply};
use quote_record::Timestamp;
use scraper::{
    ExtractError, FailureKind, FetchError, FetchSettings, PageField, Scrape, TickReport,
};
use scraper_config::ScraperConfig;
use tokio::time::Instant;

/// The pages' market time: a minute before the test started, in whole seconds. Relative to the
/// clock because the scraper checks it against its clock (the time-sanity rule): a fixed date
/// would become "implausibly old" one day.
static MARKET_TIME: LazyLock<Timestamp> = LazyLock::new(|| {
    let now = Timestamp::now().unix_nanos();
    Timestamp::from_unix_nanos(now - now.rem_euclid(1_000_000_000) - 60_000_000_000)
});

/// [`MARKET_TIME`] with a -05:00 offset, as a page in New York writes it.
fn market_time_new_york() -> String {
    let local = Timestamp::from_unix_nanos(MARKET_TIME.unix_nanos() - 5 * 3_600_000_000_000);
    format!("{}-05:00", local.to_string().trim_end_matches('Z'))
}

fn html(price: &str, change: Option<&str>, layout_changed: bool) -> String {
    let price_class = if layout_changed { "last" } else { "price" };
    let change = change
        .map(|c| format!(r#"<span class="change">{c}</span>"#))
        .unwrap_or_default();
    format!(
        r#"<!doctype html><html><head><title>Quote</title></head><body>
<div class="quote"><h1>Example Corp</h1>
  <span class="{price_class}">{price}</span> {change}
  <span class="volume">51,234,567</span>
  <time datetime="{market_time}">Nov 27, 3:30 PM</time>
</div></body></html>"#,
        market_time = *MARKET_TIME
    )
}

fn handler(path: &str, nth: usize) -> Reply {
    match path {
        "/html/AAPL" => Reply::ok(html("1,189.23", Some("\u{2212}0.42%"), false)),
        "/html/MSFT" => Reply::ok(html("415.10", Some("+1.05 %"), false)),
        "/html/LAYOUT" => Reply::ok(html("12.00", Some("0.1%"), true)),
        "/html/MISS" => Reply::ok(html("12.00", None, false)),
        "/html/ZERO" => Reply::ok(html("0.00", Some("0%"), false)),
        "/html/SLOW" => Reply::ok(html("1.00", Some("0%"), false)).delayed(Duration::from_secs(3)),
        "/html/LIMIT" if nth == 1 => Reply::status(429).header("Retry-After", "1"),
        "/html/LIMIT" => Reply::ok(html("7.50", Some("0.5%"), false)),
        "/html/BUSY" => Reply::status(503),
        "/html/LONG" => Reply::status(429).header("Retry-After", "3600"),
        "/json/AAPL" => Reply::ok(format!(
            r#"{{"quote":{{"price":189.5,"changePct":"+1.5%","volume":1000,"time":{},"ccy":"USD"}}}}"#,
            MARKET_TIME.unix_nanos() / 1_000_000
        )),
        "/json/MSFT" => Reply::ok(format!(
            r#"{{"quote":{{"price":"415.5","changePct":-0.25,"time":"{}"}}}}"#,
            market_time_new_york()
        )),
        _ => Reply::status(404),
    }
}

fn config(server: &PageServer) -> ScraperConfig {
    let text = format!(
        r#"stream: {{name: quotes, region: eu-west-1}}
symbols: [AAPL, MSFT, LAYOUT, MISS, ZERO, SLOW, LIMIT, BUSY, LONG]
interval_seconds: 20
concurrency: 4
timeout_seconds: 1
requests_per_second_per_host: 50
user_agents: ["agent-one/1.0", "agent-two/2.0"]
sources:
  - name: quote-page
    url: "{html}"
    currency: USD
    fields: {{price: span.price, change_pct: span.change, volume: span.volume, market_time: "time@datetime"}}
  - name: quote-api
    url: "{json}"
    format: json
    currency: EUR
    fields: {{price: $.quote.price, change_pct: $.quote.changePct, volume: $.quote.volume, market_time: $.quote.time, currency: $.quote.ccy}}
spool: {{dir: /tmp/unused}}
"#,
        html = server.url("/html/{symbol}"),
        json = server.url("/json/{symbol}"),
    );
    ScraperConfig::parse("test.yaml", &text).unwrap()
}

fn failure<'a>(r: &'a TickReport, symbol: &str, source: &str) -> &'a FailureKind {
    &r.failures
        .iter()
        .find(|f| f.symbol.as_str() == symbol && f.source == source)
        .unwrap_or_else(|| panic!("no failure for {symbol}/{source}: {:#?}", r.failures))
        .kind
}

#[tokio::test]
async fn one_tick_against_fixture_pages() {
    let server = PageServer::start(handler);
    let config = config(&server);
    let mut settings = FetchSettings::from_config(&config);
    settings.backoff_base = Duration::from_millis(50);
    let scrape = Arc::new(Scrape::new(&config, settings).unwrap());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let report = scrape.tick(started + Duration::from_secs(20), rx).await;
    let took = started.elapsed();

    // Records: exactly the good pages, with the values as written on them.
    let got: Vec<(String, &str, f64, f64, Option<u64>, String, String)> = report
        .records
        .iter()
        .map(|q| {
            (
                q.symbol().as_str().to_owned(),
                q.source(),
                q.price(),
                q.change_pct(),
                q.volume(),
                q.currency().as_str().to_owned(),
                q.market_time().to_string(),
            )
        })
        .collect();
    let t = MARKET_TIME.to_string();
    assert_eq!(
        got,
        vec![
            (
                "AAPL".into(),
                "quote-page",
                1189.23,
                -0.42,
                Some(51_234_567),
                "USD".into(),
                t.clone()
            ),
            (
                "AAPL".into(),
                "quote-api",
                189.5,
                1.5,
                Some(1000),
                "USD".into(),
                t.clone()
            ),
            (
                "MSFT".into(),
                "quote-page",
                415.10,
                1.05,
                Some(51_234_567),
                "USD".into(),
                t.clone()
            ),
            // No currency on the page: the source's fixed one; no volume: absent, not zero.
            (
                "MSFT".into(),
                "quote-api",
                415.5,
                -0.25,
                None,
                "EUR".into(),
                t.clone()
            ),
            (
                "LIMIT".into(),
                "quote-page",
                7.5,
                0.5,
                Some(51_234_567),
                "USD".into(),
                t
            ),
        ],
        "{:#?}",
        report.failures
    );

    // A changed layout and a missing field name the symbol, the source and the locator.
    assert_eq!(
        failure(&report, "LAYOUT", "quote-page"),
        &FailureKind::Extract(ExtractError::NotFound {
            field: PageField::Price,
            locator: "span.price".into()
        })
    );
    assert_eq!(
        failure(&report, "MISS", "quote-page"),
        &FailureKind::Extract(ExtractError::NotFound {
            field: PageField::ChangePct,
            locator: "span.change".into()
        })
    );
    let f = report
        .failures
        .iter()
        .find(|f| f.symbol.as_str() == "MISS" && f.source == "quote-page")
        .unwrap();
    assert_eq!(f.locator(), Some("span.change"));
    // A price of 0 is refused by the shared validation, not recorded.
    match failure(&report, "ZERO", "quote-page") {
        FailureKind::Extract(ExtractError::Invalid(i)) => {
            assert_eq!(i.code(), "price_not_positive")
        }
        other => panic!("{other:?}"),
    }
    // Slower than the timeout.
    assert!(matches!(
        failure(&report, "SLOW", "quote-page"),
        FailureKind::Fetch(FetchError::Timeout { .. })
    ));
    // 503 without Retry-After: retried with backoff, then given up after 3 attempts.
    assert_eq!(
        failure(&report, "BUSY", "quote-page"),
        &FailureKind::Fetch(FetchError::Status {
            status: 503,
            attempts: 3
        })
    );
    assert_eq!(server.requests_to("/html/BUSY").len(), 3);
    // Retry-After past the tick's end: not waited for.
    assert!(matches!(
        failure(&report, "LONG", "quote-page"),
        FailureKind::Fetch(FetchError::WaitPastDeadline { status: 429, wait_ms }) if *wait_ms >= 3_500_000
    ));
    assert_eq!(server.requests_to("/html/LONG").len(), 1);
    // 429 with Retry-After: 1 was honoured: the retry came a second later or more.
    let limit = server.requests_to("/html/LIMIT");
    assert_eq!(limit.len(), 2);
    assert!(
        limit[1].at - limit[0].at >= Duration::from_millis(990),
        "{limit:?}"
    );
    // JSON source 404s for the other symbols.
    assert!(matches!(
        failure(&report, "BUSY", "quote-api"),
        FailureKind::Fetch(FetchError::Status {
            status: 404,
            attempts: 1
        })
    ));

    assert_eq!(report.records.len() + report.failures.len(), 18);
    assert_eq!(report.fetched, 5 + 3); // 5 records, and LAYOUT, MISS, ZERO; SLOW timed out.
    assert!(report.retried >= 3, "{}", report.retried); // LIMIT once, BUSY twice
    assert!(!report.interrupted);
    assert_eq!(report.abandoned, 0);

    // Both User-Agents were used; requests to the host were spaced by the rate limit (50/s).
    let seen = server.seen.lock().unwrap().clone();
    for agent in ["agent-one/1.0", "agent-two/2.0"] {
        assert!(seen.iter().any(|s| s.user_agent == agent), "{agent} unused");
    }
    let spacing = Duration::from_millis(20) * u32::try_from(seen.len() - 1).unwrap();
    assert!(took >= spacing, "{} requests in {took:?}", seen.len());
}

#[tokio::test]
async fn shutdown_abandons_the_tick() {
    let server = PageServer::start(|_, _| Reply::ok("x").delayed(Duration::from_secs(5)));
    let mut config = config(&server);
    config.timeout_seconds = 30;
    let scrape = Arc::new(Scrape::new(&config, FetchSettings::from_config(&config)).unwrap());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tx.send(true).unwrap();
    });
    let report = scrape.tick(started + Duration::from_secs(60), rx).await;
    assert!(report.interrupted);
    assert!(report.records.is_empty());
    assert_eq!(report.abandoned, 18);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn proxies_rotate_and_a_dead_one_is_benched() {
    // A proxy receives absolute-form requests (`GET http://host/path`); this one answers them itself.
    let proxy = PageServer::start(|path, _| {
        if path.starts_with("http://quotes.invalid/") {
            Reply::ok("ok")
        } else {
            Reply::status(400)
        }
    });
    let dead = format!("http://127.0.0.1:{}", crate::common::free_port());
    let settings = FetchSettings {
        timeout: Duration::from_secs(5),
        requests_per_second_per_host: 1000.0,
        user_agents: vec!["t/1".into()],
        proxies: vec![dead, proxy.url("")],
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        proxy_bench: Duration::from_secs(60),
    };
    let fetcher = scraper::Fetcher::new(settings).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut retries = 0;
    for _ in 0..4 {
        let out = fetcher.get("http://quotes.invalid/p/AAPL", deadline).await;
        assert_eq!(out.result.unwrap().body, "ok");
        retries += out.retries;
    }
    // The dead proxy was tried once, benched, and not used again.
    assert_eq!(retries, 1);
    assert_eq!(proxy.requests_to("http://quotes.invalid/p/AAPL").len(), 4);
}
