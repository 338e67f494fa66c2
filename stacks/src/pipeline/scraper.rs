//! The scraper daemon's configuration file, generated from the environment and written by the EC2
//! user-data to `/etc/mystocktracker/scraper.yaml`. The types live in the `scraper-config` crate, which the
//! scraper decodes the file with; this module only fills them in from the environment. It is emitted as
//! JSON, which is valid YAML.

use environment::{Environment, SourceFormat};
use quote_record::Currency;
use scraper_config::{DEFAULT_SPOOL_MAX_MB, Fields, SourceConfig, Spool, StreamTarget};
pub use scraper_config::{SPOOL_DIR, ScraperConfig};

use super::BuildError;

/// The configuration for `env` in `region`; `stream_name` is a placeholder CloudFormation substitutes.
/// No endpoint override: the instance talks to the region's Kinesis endpoint.
pub fn scraper_config(
    env: &Environment,
    stream_name: &str,
    region: &str,
) -> Result<ScraperConfig, BuildError> {
    let scraper = &env.scraper;
    let sources = scraper
        .sources
        .iter()
        .map(|source| {
            let currency = source
                .currency
                .as_deref()
                .map(|c| Currency::parse(c).map_err(|_| BuildError::Currency(c.to_owned())))
                .transpose()?;
            Ok(SourceConfig {
                name: source.name.clone(),
                url: source.url.clone(),
                format: match source.format {
                    SourceFormat::Html => scraper_config::SourceFormat::Html,
                    SourceFormat::Json => scraper_config::SourceFormat::Json,
                },
                currency,
                fields: Fields {
                    price: source.fields.price.clone(),
                    change_pct: source.fields.change_pct.clone(),
                    volume: source.fields.volume.clone(),
                    market_time: source.fields.market_time.clone(),
                    currency: source.fields.currency.clone(),
                },
            })
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    Ok(ScraperConfig {
        stream: StreamTarget {
            name: stream_name.to_owned(),
            region: region.to_owned(),
            endpoint: None,
        },
        symbols: env.symbols.clone(),
        interval_seconds: scraper.interval_seconds,
        concurrency: scraper.concurrency,
        timeout_seconds: scraper.timeout_seconds,
        requests_per_second_per_host: scraper.requests_per_second_per_host,
        user_agents: scraper.user_agents.clone(),
        proxies: scraper.proxies.clone(),
        sources,
        spool: Spool {
            dir: SPOOL_DIR.into(),
            max_mb: DEFAULT_SPOOL_MAX_MB,
        },
    })
}
