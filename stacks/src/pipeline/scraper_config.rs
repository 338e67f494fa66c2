//! The scraper daemon's configuration file, generated from the environment and written by the EC2
//! user-data to `/etc/mystocktracker/scraper.yaml`. It is emitted as JSON, which is valid YAML, so the
//! scraper reads it with the same strict YAML decoder as a hand-written file.

use environment::{Environment, SourceFormat};
use serde::Serialize;

/// Where the scraper keeps records that Kinesis could not take yet.
pub const SPOOL_DIR: &str = "/var/lib/mystocktracker/spool";

/// The scraper configuration (the format `runtime/scraper` reads).
#[derive(Debug, Clone, Serialize)]
pub struct ScraperConfig {
    /// The Kinesis stream records go to.
    pub stream: StreamTarget,
    /// Symbols to follow.
    pub symbols: Vec<String>,
    /// Seconds between ticks.
    pub interval_seconds: u32,
    /// Pages fetched at once.
    pub concurrency: u32,
    /// Per-request timeout.
    pub timeout_seconds: u32,
    /// Per-host rate limit.
    pub requests_per_second_per_host: f64,
    /// Rotated User-Agent headers.
    pub user_agents: Vec<String>,
    /// Rotated proxies.
    pub proxies: Vec<String>,
    /// Quote sources.
    pub sources: Vec<SourceConfig>,
    /// The on-disk spool.
    pub spool: Spool,
}

/// The stream and its region.
#[derive(Debug, Clone, Serialize)]
pub struct StreamTarget {
    /// Stream name (filled in by CloudFormation).
    pub name: String,
    /// Region.
    pub region: String,
}

/// One source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceConfig {
    /// Source name.
    pub name: String,
    /// URL template with `{symbol}`.
    pub url: String,
    /// `html` or `json`.
    pub format: &'static str,
    /// Fixed currency when the page has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Locators.
    pub fields: Fields,
}

/// CSS selectors or JSON paths.
#[derive(Debug, Clone, Serialize)]
pub struct Fields {
    /// Price.
    pub price: String,
    /// Change in percent.
    pub change_pct: String,
    /// Volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Market time.
    pub market_time: String,
    /// Currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Spool settings.
#[derive(Debug, Clone, Serialize)]
pub struct Spool {
    /// Directory.
    pub dir: String,
    /// Size bound in MiB; the oldest records are dropped (and counted) past it.
    pub max_mb: u32,
}

impl ScraperConfig {
    /// The configuration for `env`; `stream_name` is a placeholder CloudFormation substitutes.
    pub fn new(env: &Environment, stream_name: &str, region: &str) -> Self {
        let scraper = &env.scraper;
        Self {
            stream: StreamTarget {
                name: stream_name.to_owned(),
                region: region.to_owned(),
            },
            symbols: env.symbols.iter().map(|s| s.as_str().to_owned()).collect(),
            interval_seconds: scraper.interval_seconds,
            concurrency: scraper.concurrency,
            timeout_seconds: scraper.timeout_seconds,
            requests_per_second_per_host: scraper.requests_per_second_per_host,
            user_agents: scraper.user_agents.clone(),
            proxies: scraper.proxies.clone(),
            sources: scraper
                .sources
                .iter()
                .map(|source| SourceConfig {
                    name: source.name.clone(),
                    url: source.url.clone(),
                    format: match source.format {
                        SourceFormat::Html => "html",
                        SourceFormat::Json => "json",
                    },
                    currency: source.currency.clone(),
                    fields: Fields {
                        price: source.fields.price.clone(),
                        change_pct: source.fields.change_pct.clone(),
                        volume: source.fields.volume.clone(),
                        market_time: source.fields.market_time.clone(),
                        currency: source.fields.currency.clone(),
                    },
                })
                .collect(),
            spool: Spool {
                dir: SPOOL_DIR.into(),
                max_mb: 512,
            },
        }
    }
}
