//! The time-sanity rule at the source: a page whose time is years ahead of the scraper's clock,
//! or implausibly old, gives no record (a counted failure with its reason), so it never reaches
//! the stream; a page priced a minute ago gives its record.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use crate::common::{PageServer, Reply};
use quote_record::{Field, Invalid, Timestamp};
use scraper::{ExtractError, FailureKind, FetchSettings, Scrape};
use scraper_config::ScraperConfig;
use tokio::time::Instant;

fn page(market_time: &str) -> String {
    format!(
        r#"<html><body><span class="price">101.25</span><span class="change">+0.5%</span>
<time datetime="{market_time}">x</time></body></html>"#
    )
}

#[tokio::test]
async fn a_page_from_the_future_or_the_far_past_yields_no_record() {
    let a_minute_ago =
        Timestamp::from_unix_nanos(Timestamp::now().unix_nanos() - 60_000_000_000).to_string();
    let server = PageServer::start(move |path, _| match path {
        "/q/NOW" => Reply::ok(page(&a_minute_ago)),
        // Years ahead of any clock this test runs on.
        "/q/FUTURE" => Reply::ok(page("2250-01-01T00:00:00Z")),
        // The epoch: what a broken page or parser writes.
        "/q/EPOCH" => Reply::ok(page("1970-01-01T00:00:00Z")),
        _ => Reply::status(404),
    });
    let text = format!(
        r#"stream: {{name: quotes, region: eu-west-1}}
symbols: [NOW, FUTURE, EPOCH]
interval_seconds: 20
requests_per_second_per_host: 100
sources:
  - name: quote-page
    url: "{url}"
    currency: USD
    fields: {{price: span.price, change_pct: span.change, market_time: "time@datetime"}}
spool: {{dir: /tmp/unused}}
"#,
        url = server.url("/q/{symbol}"),
    );
    let config = ScraperConfig::parse("test.yaml", &text).unwrap();
    let scrape = Arc::new(Scrape::new(&config, FetchSettings::from_config(&config)).unwrap());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let report = scrape
        .tick(Instant::now() + Duration::from_secs(20), rx)
        .await;

    let symbols: Vec<&str> = report.records.iter().map(|q| q.symbol().as_str()).collect();
    assert_eq!(symbols, ["NOW"], "{:#?}", report.failures);
    assert_eq!(report.fetched, 3);
    assert_eq!(report.failures.len(), 2);
    let reason = |symbol: &str| -> Invalid {
        let failure = report
            .failures
            .iter()
            .find(|f| f.symbol.as_str() == symbol)
            .unwrap();
        match &failure.kind {
            FailureKind::Extract(ExtractError::Invalid(invalid)) => invalid.clone(),
            other => panic!("{symbol}: {other:?}"),
        }
    };
    // The page's time is later than the scraper's clock (scraped_at) by years: the record rule
    // comparing the two catches it first.
    let future = reason("FUTURE");
    assert_eq!(future.code(), "market_time_after_scraped_at", "{future}");
    // The epoch passes that rule and is caught by the time-sanity rule.
    let epoch = reason("EPOCH");
    assert_eq!(epoch.code(), "time_too_old", "{epoch}");
    assert_eq!(epoch.field(), Some(Field::MarketTime));
    assert!(
        epoch
            .to_string()
            .starts_with("market_time 1970-01-01T00:00:00Z is "),
        "{epoch}"
    );
}
