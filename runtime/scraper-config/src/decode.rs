//! Strict decoding and validation, section by section. Every function reports its problems through the
//! decoder and returns `None` on failure; callers carry on, so one run reports every problem of the file.
//!
//! The pieces the environment file decodes the same way (the deployer's `environment` crate reads the
//! scraper's settings from `environments/<name>.yaml`) are public, so both files are checked by one piece of
//! code with the same messages: [`int`], [`positive`], [`check_unique`], [`symbols`], [`proxies`],
//! [`http_host`] and [`sources`] (the quote sources, which the environment keeps as [`SourceConfig`]s).

use std::collections::HashMap;

use quote_record::{Currency, Symbol};
use strict_yaml::{Decoder, MapReader, Span, Value, did_you_mean};

use crate::locator::{HtmlLocator, JsonPath};
use crate::shard::{MAX_SHARDS, Shard};
use crate::{
    DEFAULT_SPOOL_MAX_MB, DEFAULT_USER_AGENT, Fields, ScraperConfig, SourceConfig, SourceFormat,
    Spool, StreamTarget,
};

pub(crate) fn config(dec: &Decoder<'_>) -> Option<ScraperConfig> {
    let root = dec.root_map()?;
    let stream = root.required_value("stream").and_then(|v| stream(&v));
    let symbols = root.required_value("symbols").and_then(|v| symbols(&v));
    let interval_seconds = int(&root, "interval_seconds", 15, 1..=3600);
    let concurrency = int(&root, "concurrency", 8, 1..=256);
    let timeout_seconds = int(&root, "timeout_seconds", 10, 1..=120);
    let rps = match root.optional_value("requests_per_second_per_host") {
        None => Some(2.0),
        Some(v) => positive(&v, "a request rate such as `2` or `0.5`"),
    };
    let user_agents = match root.optional_value("user_agents") {
        None => Some(vec![DEFAULT_USER_AGENT.to_owned()]),
        Some(v) => user_agents(&v),
    };
    let proxies = match root.optional_value("proxies") {
        None => Some(Vec::new()),
        Some(v) => proxies(&v),
    };
    // The file is written by the deployer, which already refused `http://` sources outside emulator
    // environments; a local run of the scraper may point at a plain-HTTP test server.
    let sources = root
        .required_value("sources")
        .and_then(|v| sources(&v, true));
    let spool = root.required_value("spool").and_then(|v| spool(&v));
    let shard = match root.optional_value("shard") {
        None => Some(Shard::ALONE),
        Some(v) => shard(&v),
    };
    let heartbeat_file = match root.optional_value("heartbeat_file") {
        None => Some(None),
        Some(v) => v.string().and_then(|text| {
            if text.starts_with('/') || text.starts_with('.') {
                Some(Some(text))
            } else {
                v.error(
                    format!("heartbeat file `{text}` is not an absolute path"),
                    "use an absolute path such as `/var/lib/mystocktracker/heartbeat.json` (or `./heartbeat.json` for a local run)",
                );
                None
            }
        }),
    };
    root.finish();
    Some(ScraperConfig {
        stream: stream?,
        symbols: symbols?,
        interval_seconds: interval_seconds?,
        concurrency: concurrency?,
        timeout_seconds: timeout_seconds?,
        requests_per_second_per_host: rps?,
        user_agents: user_agents?,
        proxies: proxies?,
        sources: sources?,
        spool: spool?,
        shard: shard?,
        heartbeat_file: heartbeat_file?,
    })
}

/// An optional integer under `key` of `map`, in `range`; `default` when the key is absent.
pub fn int(
    map: &MapReader<'_>,
    key: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Option<u32> {
    match map.optional_value(key) {
        None => Some(default),
        Some(v) => v.u32_in(range),
    }
}

/// A finite number greater than 0. Otherwise reports it with the help `set {example}`, where `example`
/// says what the number is, such as ``a request rate such as `2` or `0.5` ``.
pub fn positive(v: &Value<'_>, example: &str) -> Option<f64> {
    let n = v.f64()?;
    if n.is_finite() && n > 0.0 {
        return Some(n);
    }
    v.error(
        format!(
            "`{}` must be a number greater than 0, found {}",
            v.path(),
            v.node().scalar().unwrap_or_default()
        ),
        format!("set {example}"),
    );
    None
}

/// `(scheme, host)` of an `http://` or `https://` URL with a non-empty, fixed host (no `{placeholder}`)
/// and a numeric port if any; `None` for anything else.
pub fn http_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => authority,
    };
    (!host.is_empty() && !host.contains('{')).then_some((scheme, host))
}

fn stream(v: &Value<'_>) -> Option<StreamTarget> {
    let map = v.map()?;
    let name = map.required_value("name").and_then(|v| {
        let text = v.string()?;
        let ok = (1..=128).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !ok {
            v.error(
                format!("`{text}` is not a Kinesis stream name"),
                "use 1 to 128 letters, digits and `_ . -`",
            );
        }
        ok.then_some(text)
    });
    let region = map.required_value("region").and_then(|v| {
        let text = v.string()?;
        let parts: Vec<&str> = text.split('-').collect();
        let ok = parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            v.error(
                format!("`{text}` is not an AWS region name"),
                "use a region such as `eu-west-1`",
            );
        }
        ok.then_some(text)
    });
    let endpoint = match map.optional_value("endpoint") {
        None => Some(None),
        Some(v) => v.string().and_then(|text| {
            if http_host(&text).is_some() {
                Some(Some(text))
            } else {
                v.error(
                    format!("endpoint `{text}` is not an http(s) URL"),
                    "write it as `http://127.0.0.1:5000`, or remove it to use the region's AWS endpoint",
                );
                None
            }
        }),
    };
    map.finish();
    Some(StreamTarget {
        name: name?,
        region: region?,
        endpoint: endpoint?,
    })
}

/// Reports every item that repeats an earlier one, as ``{what} `{text}` is listed twice``, at the item's
/// `Span` (which may be a part of its `Value`, such as a source's `name`), naming the first occurrence's line.
pub fn check_unique<'a>(items: impl IntoIterator<Item = (&'a str, Span, Value<'a>)>, what: &str) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (text, span, v) in items {
        if let Some(first) = seen.get(text) {
            v.decoder().error(
                span,
                format!("{what} `{text}` is listed twice"),
                format!(
                    "remove this entry; it is already listed at line {}",
                    first.start.line
                ),
            );
        } else {
            seen.insert(text, span);
        }
    }
}

/// A non-empty list of valid, distinct ticker symbols (the `symbols` key of either file).
pub fn symbols(v: &Value<'_>) -> Option<Vec<Symbol>> {
    let items = v.items()?;
    if items.is_empty() {
        v.error(
            "`symbols` is empty",
            "list the tickers to follow, such as `[AAPL, MSFT]`",
        );
        return None;
    }
    let decoded: Vec<Option<Symbol>> = items
        .iter()
        .map(|item| {
            let text = item.str()?;
            if text == quote_record::CANARY_SYMBOL {
                item.error(
                    format!("`{text}` is reserved for the canary of `deployer verify`"),
                    "remove it from `symbols`: verify puts canary quotes of this symbol itself and removes them afterwards",
                );
                return None;
            }
            Symbol::parse(text)
                .map_err(|err| {
                    let upper = text.to_ascii_uppercase();
                    let help = if upper != text && Symbol::parse(&upper).is_ok() {
                        format!("write it in upper case: `{upper}`")
                    } else {
                        "symbols are tickers such as `AAPL` or `BRK.B`: `^[A-Z][A-Z0-9.-]{0,11}$`"
                            .to_owned()
                    };
                    item.error(format!("invalid symbol `{text}`: {err}"), help);
                })
                .ok()
        })
        .collect();
    check_unique(
        items
            .iter()
            .filter_map(|i| Some((i.str()?, i.span(), i.clone()))),
        "symbol",
    );
    decoded.into_iter().collect()
}

/// A non-empty list of User-Agent header values: each non-blank printable ASCII. Used by the
/// environment model too, so `deployer synth` refuses what the scraper would refuse at start.
pub fn user_agents(v: &Value<'_>) -> Option<Vec<String>> {
    let items = v.items()?;
    if items.is_empty() {
        v.error(
            format!("`{}` is empty", v.path()),
            "list at least one User-Agent, or remove the key to use the default",
        );
        return None;
    }
    let decoded: Vec<Option<String>> = items
        .iter()
        .map(|item| {
            let text = item.string()?;
            // A header value: visible ASCII and spaces, not blank.
            if text.trim().is_empty() || !text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                item.error(
                    "a User-Agent must be non-blank printable ASCII",
                    "write it like `MyStockTracker/0.1 (+https://example.com/bot)`",
                );
                return None;
            }
            Some(text)
        })
        .collect();
    decoded.into_iter().collect()
}

/// A list, possibly empty, of `http://` or `https://` proxy URLs.
pub fn proxies(v: &Value<'_>) -> Option<Vec<String>> {
    let items = v.items()?;
    let decoded: Vec<Option<String>> = items
        .iter()
        .map(|item| {
            let text = item.string()?;
            if http_host(&text).is_none() {
                item.error(
                    format!("proxy `{text}` is not an http(s) URL"),
                    "write the proxy as `http://host:port` or `https://host:port`",
                );
                return None;
            }
            Some(text)
        })
        .collect();
    decoded.into_iter().collect()
}

/// A non-empty list of quote sources with distinct names, each decoded by [`source`].
pub fn sources(v: &Value<'_>, allow_http: bool) -> Option<Vec<SourceConfig>> {
    let items = v.items()?;
    if items.is_empty() {
        v.error(
            format!("`{}` is empty", v.path()),
            "add at least one quote source",
        );
        return None;
    }
    let decoded: Vec<Option<SourceConfig>> = items.iter().map(|i| source(i, allow_http)).collect();
    // Duplicate names are reported at the later source's `name` value, naming the first one's line.
    let names = items.iter().filter_map(|item| {
        let strict_yaml::NodeKind::Map(entries) = &item.node().kind else {
            return None;
        };
        let (_, name) = entries.iter().find(|(k, _)| k.scalar() == Some("name"))?;
        Some((name.scalar()?, name.span, item.clone()))
    });
    check_unique(names, "source name");
    decoded.into_iter().collect()
}

/// One quote source: its name, its URL template (`https://`, or also `http://` when `allow_http`, with a
/// `{symbol}` placeholder), its format, its currency and its locators, checked for the format by
/// [`check_locator`]. A source with neither `currency` nor a `fields.currency` locator is refused.
pub fn source(v: &Value<'_>, allow_http: bool) -> Option<SourceConfig> {
    let map = v.map()?;
    let name = map.required_value("name").and_then(|v| {
        let text = v.string()?;
        let ok = (1..=32).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            v.error(
                format!("source name `{text}` is not allowed"),
                "use 1 to 32 lower-case letters, digits and `-`, such as `quote-page`",
            );
        }
        ok.then_some(text)
    });
    let url = map.required_value("url").and_then(|v| {
        let text = v.string()?;
        let scheme = http_host(&text).map(|(scheme, _)| scheme);
        if scheme.is_none() || (scheme == Some("http") && !allow_http) {
            v.error(
                format!("source URL `{text}` is not an https URL"),
                "use an `https://` URL such as `https://quotes.example.com/quote/{symbol}` (`http://` only against a local emulator or test server)",
            );
            return None;
        }
        if !text.contains("{symbol}") {
            v.error(
                format!("source URL `{text}` has no `{{symbol}}` placeholder"),
                "put `{symbol}` where the ticker goes, such as `https://quotes.example.com/quote/{symbol}`",
            );
            return None;
        }
        Some(text)
    });
    let format = match map.optional_value("format") {
        None => Some(SourceFormat::Html),
        Some(v) => match v.str()? {
            "html" => Some(SourceFormat::Html),
            "json" => Some(SourceFormat::Json),
            other => {
                v.error(
                    format!("unknown source format `{other}`"),
                    did_you_mean(other, &["html", "json"]),
                );
                None
            }
        },
    };
    let has_currency = map.contains("currency");
    let currency = map.optional_value("currency").and_then(|v| {
        let text = v.str()?;
        Currency::parse(text)
            .map_err(|_| {
                v.error(
                    format!("`{text}` is not an ISO 4217 currency code"),
                    "use three upper-case letters, such as `USD` or `EUR`",
                );
            })
            .ok()
    });
    let fields_key = map.get("fields").and_then(|f| f.key_span());
    let fields = map
        .required_value("fields")
        .and_then(|f| fields(&f, format));
    map.finish();
    if let Some(f) = &fields
        && f.currency.is_none()
        && !has_currency
    {
        v.decoder().error(
            fields_key.unwrap_or(v.span()),
            format!(
                "source `{}` has no currency",
                name.as_deref().unwrap_or("?")
            ),
            "add `currency: USD` (or the right code) to the source, or a `currency` locator under `fields`",
        );
        return None;
    }
    if has_currency && currency.is_none() {
        return None;
    }
    Some(SourceConfig {
        name: name?,
        url: url?,
        format: format?,
        currency,
        fields: fields?,
    })
}

fn fields(v: &Value<'_>, format: Option<SourceFormat>) -> Option<Fields> {
    let map = v.map()?;
    let locator = |key: &str, required: bool| -> Option<Option<String>> {
        let value = if required {
            map.required_value(key)
        } else {
            map.optional_value(key)
        };
        match value {
            None => (!required).then_some(None),
            Some(v) => {
                let text = v.string()?;
                check_locator(&v, &text, format).then_some(Some(text))
            }
        }
    };
    let price = locator("price", true).flatten();
    let change_pct = locator("change_pct", true).flatten();
    let volume = locator("volume", false);
    let market_time = locator("market_time", true).flatten();
    let currency = locator("currency", false);
    map.finish();
    Some(Fields {
        price: price?,
        change_pct: change_pct?,
        volume: volume?,
        market_time: market_time?,
        currency: currency?,
    })
}

/// Checks a locator's syntax for the source's format (unknown format: only that it is not blank),
/// reporting a problem at `v`: an HTML locator's selector is compiled by the scraper's own CSS parser
/// ([`crate::parse_selector`]), a JSON path is parsed fully. The deployer's environment model checks
/// the sources with this too (through [`sources`]), so `deployer synth` refuses exactly what the scraper would.
pub fn check_locator(v: &Value<'_>, text: &str, format: Option<SourceFormat>) -> bool {
    if text.trim().is_empty() {
        v.error(
            format!("`{}` is empty", v.path()),
            "write a CSS selector (html) or a JSON path (json)",
        );
        return false;
    }
    match format {
        None => true,
        Some(SourceFormat::Html) => match HtmlLocator::parse(text) {
            Ok(l) => match crate::css::parse_selector(&l.selector) {
                Ok(_) => true,
                Err(reason) => {
                    v.error(
                        format!("`{}` is not a valid CSS selector: {reason}", l.selector),
                        "write a CSS selector such as `span.price`, optionally `@attribute` (`time@datetime`)",
                    );
                    false
                }
            },
            Err(e) => {
                v.error(
                    format!("invalid HTML locator `{text}`: {e}"),
                    "write a CSS selector such as `span.price`, optionally `@attribute` (`time@datetime`)",
                );
                false
            }
        },
        Some(SourceFormat::Json) => match JsonPath::parse(text) {
            Ok(_) => true,
            Err(e) => {
                v.error(
                    format!("invalid JSON path `{text}`: {e}"),
                    "write a path such as `$.quote.price` or `$.results[0]['last price']` (no wildcards or filters)",
                );
                false
            }
        },
    }
}

fn spool(v: &Value<'_>) -> Option<Spool> {
    let map = v.map()?;
    let dir = map.required_value("dir").and_then(|v| {
        let text = v.string()?;
        if !text.starts_with('/') && !text.starts_with('.') {
            v.error(
                format!("spool directory `{text}` is not an absolute path"),
                "use an absolute path such as `/var/lib/mystocktracker/spool` (or `./spool` for a local run)",
            );
            return None;
        }
        Some(text)
    });
    let max_mb = int(&map, "max_mb", DEFAULT_SPOOL_MAX_MB, 1..=1_048_576);
    map.finish();
    Some(Spool {
        dir: dir?,
        max_mb: max_mb?,
    })
}

fn shard(v: &Value<'_>) -> Option<Shard> {
    let map = v.map()?;
    let count = map
        .required_value("count")
        .and_then(|v| v.u32_in(1..=MAX_SHARDS));
    let index = map.required_value("index").and_then(|v| {
        let index = v.u32_in(0..=MAX_SHARDS - 1)?;
        match count {
            Some(count) if index >= count => {
                v.error(
                    format!("shard index {index} is not below the shard count {count}"),
                    format!("use an index from 0 to {}", count - 1),
                );
                None
            }
            _ => Some(index),
        }
    });
    map.finish();
    Some(Shard {
        index: index?,
        count: count?,
    })
}

#[cfg(test)]
mod tests {
    use super::http_host;

    #[test]
    fn urls() {
        assert_eq!(
            http_host("http://127.0.0.1:5000"),
            Some(("http", "127.0.0.1"))
        );
        assert_eq!(
            http_host("https://localhost/x"),
            Some(("https", "localhost"))
        );
        assert_eq!(
            http_host("https://quotes.example.com/q/{symbol}"),
            Some(("https", "quotes.example.com"))
        );
        assert_eq!(http_host("ftp://x"), None);
        assert_eq!(http_host("https://:80"), None);
        assert_eq!(http_host("https://x:port"), None);
        assert_eq!(http_host("https://{symbol}.example.com/q"), None);
    }
}
