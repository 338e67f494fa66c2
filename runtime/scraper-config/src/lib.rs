//! The scraper daemon's configuration, defined once.
//!
//! The deployer builds a [`ScraperConfig`] from the environment and serializes it (as JSON, which is valid
//! YAML) to `/etc/mystocktracker/scraper.yaml`; the scraper reads that file back with [`ScraperConfig::parse`],
//! which decodes it strictly through `strict-yaml`: unknown keys, wrong types and out-of-range values are all
//! reported in one run, each with file, line, column and a `help:` line, like the environment files.
//!
//! The locator syntax of `sources[].fields` is defined here too ([`Locator`]): a CSS selector with an
//! optional `@attribute` for HTML sources, a small JSONPath subset for JSON sources ([`JsonPath`]).
//!
//! ```
//! let text = r#"
//! stream: {name: quotes, region: eu-west-1}
//! symbols: [AAPL]
//! sources:
//!   - name: quote-page
//!     url: "https://quotes.example.com/{symbol}"
//!     currency: USD
//!     fields: {price: span.price, change_pct: span.change, market_time: "time@datetime"}
//! spool: {dir: /var/lib/mystocktracker/spool}
//! "#;
//! let config = scraper_config::ScraperConfig::parse("scraper.yaml", text).unwrap();
//! assert_eq!(config.interval_seconds, 15);
//! assert_eq!(config.spool.max_mb, 512);
//! ```

mod css;
pub mod decode;
mod locator;
pub mod shard;

use quote_record::{Currency, Symbol};
use serde::{Serialize, Serializer};

pub use css::{SelectorError, parse_selector};
pub use locator::{HtmlLocator, JsonPath, JsonStep, Locator, LocatorError};
pub use shard::{MAX_SHARDS, Shard};

/// Where the scraper keeps records that Kinesis could not take yet, on the instance.
pub const SPOOL_DIR: &str = "/var/lib/mystocktracker/spool";
/// Where the deployed scraper writes its heartbeat (its state directory, read by the heartbeat timer).
pub const HEARTBEAT_FILE: &str = "/var/lib/mystocktracker/heartbeat.json";
/// The spool bound written by the deployer, in MiB.
pub const DEFAULT_SPOOL_MAX_MB: u32 = 512;
/// The User-Agent used when `user_agents` is absent: honest about what it is and where to complain.
pub const DEFAULT_USER_AGENT: &str = "MyStockTracker/0.1 (+https://example.com/bot)";

/// The scraper configuration: the format of `/etc/mystocktracker/scraper.yaml`.
///
/// Field order is the serialized key order (the deployer's generated file is compared byte for byte).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScraperConfig {
    /// The Kinesis stream records go to.
    pub stream: StreamTarget,
    /// Symbols to follow; valid tickers, no duplicates, at least one.
    #[serde(serialize_with = "symbols_as_str")]
    pub symbols: Vec<Symbol>,
    /// Seconds between ticks; 1 to 3600, default 15.
    pub interval_seconds: u32,
    /// Pages fetched at once; 1 to 256, default 8.
    pub concurrency: u32,
    /// Per-request timeout in seconds; 1 to 120, default 10.
    pub timeout_seconds: u32,
    /// Requests per second allowed to one host; finite and greater than 0, default 2.
    pub requests_per_second_per_host: f64,
    /// User-Agent headers, rotated per request; at least one.
    pub user_agents: Vec<String>,
    /// `http://` or `https://` proxy URLs, rotated; empty means direct connections.
    pub proxies: Vec<String>,
    /// Quote sources; at least one, names unique.
    pub sources: Vec<SourceConfig>,
    /// The on-disk spool.
    pub spool: Spool,
    /// Which shard of the fleet this instance is (`{index, count}`); default shard 0 of 1. The symbols
    /// are already this shard's; the shard names the instance in its heartbeat.
    pub shard: Shard,
    /// Where to write the heartbeat after every tick (an absolute path); absent writes none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_file: Option<String>,
}

/// The stream, its region and, for tests and emulators, an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamTarget {
    /// Stream name.
    pub name: String,
    /// AWS region, such as `eu-west-1`.
    pub region: String,
    /// Endpoint override (`http://127.0.0.1:5000` for moto); absent in AWS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// How a source's response is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// An HTML page; locators are CSS selectors with an optional `@attribute`.
    Html,
    /// A JSON document; locators are JSON paths such as `$.quote.price`.
    Json,
}

impl SourceFormat {
    /// `html` or `json`, as written in the file.
    pub const fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Html => "html",
            SourceFormat::Json => "json",
        }
    }
}

/// One quote source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceConfig {
    /// Short name, recorded as the record's `source`: `[a-z0-9-]`, 1 to 32 characters.
    pub name: String,
    /// URL template containing `{symbol}`; `http://` or `https://`.
    pub url: String,
    /// `html` or `json`.
    pub format: SourceFormat,
    /// Currency recorded when the page states none (required when `fields.currency` is absent).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "currency_as_str"
    )]
    pub currency: Option<Currency>,
    /// Where each value is on the page.
    pub fields: Fields,
}

impl SourceConfig {
    /// The URL for `symbol` (every `{symbol}` replaced).
    pub fn url_for(&self, symbol: &Symbol) -> String {
        self.url.replace("{symbol}", symbol.as_str())
    }
}

/// Locators of each value, as written (see [`Locator`] for the syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fields {
    /// The last price. Required.
    pub price: String,
    /// The change in percent. Required.
    pub change_pct: String,
    /// The traded volume. Optional.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// The market time (RFC 3339, or Unix seconds or milliseconds). Required.
    pub market_time: String,
    /// The currency code. Optional when the source sets `currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Spool settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spool {
    /// Directory of the segment files (created if missing).
    pub dir: String,
    /// Size bound in MiB (1 to 1048576, default 512); past it the oldest records are dropped and counted.
    pub max_mb: u32,
}

impl Spool {
    /// The bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        u64::from(self.max_mb) * 1024 * 1024
    }
}

/// Why a configuration file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("error: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has problems: its `Display` renders all of them, rustc style.
    #[error(transparent)]
    Invalid(#[from] strict_yaml::Problems),
}

impl ScraperConfig {
    /// The configuration of `shard`: only the symbols it owns ([`Shard::owns`]), and its share of the
    /// per-host request rate, so the fleet as a whole keeps to the environment's rate.
    pub fn for_shard(&self, shard: Shard) -> ScraperConfig {
        ScraperConfig {
            symbols: shard.select(&self.symbols),
            requests_per_second_per_host: shard.share_of_rate(self.requests_per_second_per_host),
            shard,
            ..self.clone()
        }
    }

    /// Decodes and validates `text`; `file` names the file in diagnostics. CSS selectors are compiled by
    /// the parser the scraper extracts with ([`parse_selector`]), so a bad one is reported at its
    /// position with the other problems of the file.
    pub fn parse(file: &str, text: &str) -> Result<Self, LoadError> {
        let doc = strict_yaml::Document::parse(file, text)?;
        let dec = strict_yaml::Decoder::new(&doc);
        let config = decode::config(&dec);
        Ok(dec.finish(config)?)
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }
}

fn symbols_as_str<S: Serializer>(symbols: &[Symbol], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(symbols.iter().map(Symbol::as_str))
}

// serde's `serialize_with` hands the field by reference: `&Option<_>` is what it gives.
#[allow(clippy::ref_option)]
fn currency_as_str<S: Serializer>(currency: &Option<Currency>, s: S) -> Result<S::Ok, S::Error> {
    match currency {
        Some(c) => s.serialize_str(c.as_str()),
        None => s.serialize_none(),
    }
}
