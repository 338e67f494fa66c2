//! The scraper configuration decodes strictly, reports every problem with its position and a fix, and
//! round-trips through the JSON the deployer writes.
#![allow(clippy::unwrap_used)]

use scraper_config::{LoadError, ScraperConfig, SourceFormat};

const FILE: &str = "/etc/mystocktracker/scraper.yaml";

const BASE: &str = r#"stream: {name: mst-local-quotes, region: eu-west-1, endpoint: "http://127.0.0.1:5000"}
symbols: [AAPL, MSFT]
interval_seconds: 5
sources:
  - name: quote-page
    url: https://quotes.example.com/quote/{symbol}
    currency: USD
    fields: {price: span.price, change_pct: "span.change", market_time: "time@datetime"}
  - name: quote-api
    url: http://127.0.0.1:8080/api/{symbol}
    format: json
    fields: {price: $.price, change_pct: $.changePct, volume: $.volume, market_time: $.time, currency: $.ccy}
spool: {dir: /var/lib/mystocktracker/spool, max_mb: 64}
"#;

fn problems(text: &str) -> (String, Vec<(usize, usize, String, String)>) {
    match ScraperConfig::parse(FILE, text) {
        Ok(c) => panic!("expected problems, got {c:?}"),
        Err(LoadError::Invalid(p)) => (
            p.to_string(),
            p.diagnostics()
                .iter()
                .map(|d| {
                    (
                        d.line,
                        d.column,
                        d.message.clone(),
                        d.help.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        ),
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn base_decodes_with_defaults() {
    let c = ScraperConfig::parse(FILE, BASE).unwrap();
    assert_eq!(c.stream.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    assert_eq!(c.symbols.len(), 2);
    assert_eq!(c.interval_seconds, 5);
    assert_eq!((c.concurrency, c.timeout_seconds), (8, 10));
    assert_eq!(c.requests_per_second_per_host, 2.0);
    assert_eq!(c.user_agents, vec![scraper_config::DEFAULT_USER_AGENT]);
    assert!(c.proxies.is_empty());
    assert_eq!(c.sources[1].format, SourceFormat::Json);
    assert_eq!(c.sources[1].currency, None);
    assert_eq!(c.sources[0].currency.unwrap().as_str(), "USD");
    assert_eq!(c.spool.max_bytes(), 64 << 20);
    assert_eq!(
        c.sources[0].url_for(&c.symbols[1]),
        "https://quotes.example.com/quote/MSFT"
    );
}

#[test]
fn json_round_trip() {
    let c = ScraperConfig::parse(FILE, BASE).unwrap();
    let json = serde_json::to_string_pretty(&c).unwrap();
    assert!(json.contains(r#""format": "json""#), "{json}");
    let back = ScraperConfig::parse(FILE, &json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn every_problem_at_once() {
    let text = r#"stream: {name: "bad name", region: mars}
symbols: [AAPL, aapl, AAPL]
interval_seconds: 0
concurency: 3
requests_per_second_per_host: -1
proxies: [socks5://x:1]
sources:
  - name: Quote
    url: https://q.example.com/quote
    format: xml
    fields: {price: "@content", change_pct: c, market_time: t}
  - name: api
    url: https://q.example.com/{symbol}
    format: json
    currency: usd
    fields: {price: "price", change_pct: "$.a[*]", market_time: "$.t"}
  - name: api
    url: https://q.example.com/{symbol}
    fields: {price: p, change_pct: c, market_time: t}
spool: {dir: spool}
"#;
    let (rendered, got) = problems(text);
    let expect: &[(usize, usize, &str)] = &[
        (1, 16, "is not a Kinesis stream name"),
        (1, 36, "`mars` is not an AWS region name"),
        (2, 17, "invalid symbol `aapl`"),
        (2, 23, "symbol `AAPL` is listed twice"),
        (3, 19, "interval_seconds"),
        (4, 1, "unknown top-level key `concurency`"),
        (5, 31, "must be a number greater than 0"),
        (6, 11, "proxy `socks5://x:1` is not an http(s) URL"),
        (8, 11, "source name `Quote` is not allowed"),
        (9, 10, "has no `{symbol}` placeholder"),
        (10, 13, "unknown source format `xml`"),
        (11, 5, "source `?` has no currency"),
        (15, 15, "`usd` is not an ISO 4217 currency code"),
        (16, 21, "invalid JSON path `price`"),
        (16, 42, "invalid JSON path `$.a[*]`"),
        (17, 11, "source name `api` is listed twice"),
        (19, 5, "source `api` has no currency"),
        (20, 14, "spool directory `spool` is not an absolute path"),
    ];
    for (line, col, msg) in expect {
        assert!(
            got.iter()
                .any(|(l, c, m, _)| (l, c) == (line, col) && m.contains(msg)),
            "missing {line}:{col} {msg:?} in\n{rendered}"
        );
    }
    assert_eq!(got.len(), expect.len(), "{rendered}");
    assert!(got.iter().all(|(.., help)| !help.is_empty()), "{rendered}");
    assert!(rendered.contains(&format!("--> {FILE}:4:1")), "{rendered}");
    assert!(
        rendered.contains("did you mean `concurrency`?"),
        "{rendered}"
    );
}

#[test]
fn css_check_is_positioned() {
    // The scraper's own CSS parser refuses `span..change`: reported at the locator, with the parser's
    // reason (the same text the scraper's extractor would give).
    let text = BASE.replace("span.change", "span..change");
    let err = ScraperConfig::parse(FILE, &text).unwrap_err();
    let diags = err_diags(&err);
    let [d] = &diags[..] else { panic!("{err}") };
    assert_eq!((d.0, d.1), (8, 45), "{err}");
    let reason = scraper_config::parse_selector("span..change")
        .unwrap_err()
        .reason;
    assert_eq!(
        d.2,
        format!("`span..change` is not a valid CSS selector: {reason}"),
        "{err}"
    );
}

fn err_diags(e: &LoadError) -> Vec<(usize, usize, String)> {
    match e {
        LoadError::Invalid(p) => p
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.column, d.message.clone()))
            .collect(),
        LoadError::Read { .. } => vec![],
    }
}

#[test]
fn missing_sections() {
    let (rendered, got) = problems("symbols: [AAPL]\n");
    for key in ["stream", "sources", "spool"] {
        assert!(
            got.iter()
                .any(|(.., m, _)| m == &format!("missing top-level key `{key}`")),
            "{rendered}"
        );
    }
}

#[test]
fn source_url_must_be_http_or_https_and_sources_not_empty() {
    // The scraper's own file may name a plain-HTTP test server (BASE does); any other scheme is refused
    // with the message the environment file gives.
    let text = BASE.replace("http://127.0.0.1:8080", "ftp://127.0.0.1:8080");
    let (rendered, got) = problems(&text);
    let [(line, col, message, help)] = &got[..] else {
        panic!("expected one problem:\n{rendered}")
    };
    assert_eq!((*line, *col), (10, 10), "{rendered}");
    assert_eq!(
        message,
        "source URL `ftp://127.0.0.1:8080/api/{symbol}` is not an https URL"
    );
    assert!(help.contains("`https://`"), "{rendered}");

    let start = BASE.find("  - name: quote-page").unwrap_or_default();
    let end = BASE.find("spool:").unwrap_or_default();
    let empty = format!("{} []\n{}", &BASE[..start - 1], &BASE[end..]);
    let (rendered, got) = problems(&empty);
    let [(line, _, message, _)] = &got[..] else {
        panic!("expected one problem:\n{rendered}")
    };
    assert_eq!(
        (*line, message.as_str()),
        (4, "`sources` is empty"),
        "{rendered}"
    );
}

#[test]
fn a_shard_reads_back_and_an_index_past_the_count_is_refused_at_its_position() {
    assert_eq!(
        ScraperConfig::parse(FILE, BASE).unwrap().shard,
        scraper_config::Shard::ALONE
    );
    let config =
        ScraperConfig::parse(FILE, &format!("{BASE}shard: {{index: 2, count: 3}}\n")).unwrap();
    assert_eq!(config.shard, scraper_config::Shard { index: 2, count: 3 });
    let text = format!("{BASE}shard: {{index: 3, count: 3}}\n");
    let (_, found) = problems(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    let (line, _, message, help) = &found[0];
    assert_eq!(*line, BASE.lines().count() + 1);
    assert!(
        message.contains("shard index 3 is not below the shard count 3"),
        "{message}"
    );
    assert!(help.contains("from 0 to 2"), "{help}");
}

#[test]
fn the_shard_configurations_split_the_symbols_and_the_rate_and_read_back() {
    let text = BASE.replace(
        "symbols: [AAPL, MSFT]",
        "symbols: [AAPL, MSFT, GOOG, AMZN, NVDA, TSLA, META, ORCL]",
    );
    let whole = ScraperConfig::parse(FILE, &text).unwrap();
    let mut seen = Vec::new();
    for shard in scraper_config::Shard::all(3) {
        let part = whole.for_shard(shard);
        assert!((part.requests_per_second_per_host * 3.0 - 2.0).abs() < 1e-9);
        assert_eq!(part.shard, shard);
        if !part.symbols.is_empty() {
            let json = serde_json::to_string(&part).unwrap();
            assert_eq!(ScraperConfig::parse(FILE, &json).unwrap(), part);
        }
        seen.extend(part.symbols);
    }
    seen.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut all = whole.symbols.clone();
    all.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(seen, all);
}
