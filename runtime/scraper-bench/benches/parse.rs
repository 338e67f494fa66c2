//! Parse time per page: `cargo bench --profile artifact -p scraper-bench --bench parse` (the
//! artifacts' profile, so the parser is built as it ships). Prints figures; asserts nothing.
//!
//! The HTML fixture is shaped like a real quote page (about 78 KB: navigation, a table of related
//! quotes, scripts and the quote block somewhere in the middle), so the time is dominated by html5ever's
//! tree building, as in production.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use quote_record::{Symbol, Timestamp};
use scraper::Extractor;
use scraper_config::ScraperConfig;

fn page() -> String {
    let mut s = String::from("<!doctype html><html><head><title>AAPL quote</title>");
    for i in 0..40 {
        s.push_str(&format!(
            "<link rel=\"preload\" href=\"/static/chunk-{i}.js\"><meta name=\"m{i}\" content=\"v{i}\">"
        ));
    }
    s.push_str("<script>window.__STATE__ = {\"a\": [1,2,3], \"b\": \"<div>not markup</div>\"};</script></head><body><nav><ul>");
    for i in 0..200 {
        s.push_str(&format!("<li><a href=\"/markets/{i}\">Market {i}</a></li>"));
    }
    s.push_str("</ul></nav><main><table class=\"related\">");
    for i in 0..600 {
        s.push_str(&format!(
            "<tr><td class=\"sym\">SYM{i}</td><td class=\"px\">{}.{:02}</td><td>+0.{:02}%</td></tr>",
            100 + i,
            i % 100,
            i % 97
        ));
    }
    s.push_str(
        "</table><section class=\"quote\"><h1>Apple Inc.</h1>\
         <span class=\"price\" data-currency=\"USD\">1,189.23</span>\
         <span class=\"change\">\u{2212}0.42%</span><span class=\"volume\">51,234,567</span>\
         <time datetime=\"2026-11-27T15:30:01Z\">3:30 PM</time></section>",
    );
    for i in 0..300 {
        s.push_str(&format!(
            "<p class=\"news\">Headline number {i} about markets &amp; more.</p>"
        ));
    }
    s.push_str("</main></body></html>");
    s
}

fn main() {
    let config = ScraperConfig::parse(
        "bench.yaml",
        r#"stream: {name: s, region: eu-west-1}
symbols: [AAPL]
sources:
  - name: page
    url: "https://q.example.com/{symbol}"
    fields: {price: "section.quote span.price", change_pct: "section.quote .change", volume: "section.quote .volume", market_time: "section.quote time@datetime", currency: "span.price@data-currency"}
  - name: api
    url: "https://q.example.com/api/{symbol}"
    format: json
    currency: USD
    fields: {price: $.quote.price, change_pct: $.quote.changePct, volume: $.quote.volume, market_time: $.quote.time}
spool: {dir: /tmp/x}
"#,
    )
    .unwrap();
    let html = page();
    let json = r#"{"meta":{"v":3,"tags":["a","b","c"]},"quote":{"symbol":"AAPL","price":189.5,"changePct":"+1.5%","volume":1000,"time":1795793401000,"ccy":"USD"},"related":[1,2,3,4,5,6,7,8,9,10]}"#;
    let symbol = Symbol::parse("AAPL").unwrap();
    let now = Timestamp::parse_rfc3339("2026-11-27T15:31:00Z").unwrap();
    for (name, source, body, target) in [
        ("html", 0, html.as_str(), Duration::from_secs(3)),
        ("json", 1, json, Duration::from_secs(1)),
    ] {
        let ex = Extractor::new(&config.sources[source]).unwrap();
        // Warm up, and check that the page really parses.
        ex.extract(&symbol, body, now).unwrap();
        let mut best = f64::INFINITY;
        let mut total = 0u64;
        let started = Instant::now();
        while started.elapsed() < target {
            let t = Instant::now();
            for _ in 0..10 {
                black_box(ex.extract(&symbol, black_box(body), now).unwrap());
            }
            best = best.min(t.elapsed().as_secs_f64() / 10.0);
            total += 10;
        }
        let mean = started.elapsed().as_secs_f64() / total as f64;
        println!(
            "{name}: {} bytes/page, {total} pages, mean {:.1} µs/page, best {:.1} µs/page ({:.0} pages/s per core)",
            body.len(),
            mean * 1e6,
            best * 1e6,
            1.0 / mean
        );
    }
}
