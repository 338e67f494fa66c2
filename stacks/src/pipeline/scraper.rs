//! The scraper daemon's configuration file, generated from the environment and written by the EC2
//! user-data to `/etc/mystocktracker/scraper.yaml`. The types live in the `scraper-config` crate, which the
//! scraper decodes the file with, and the environment already holds its sources as that crate's
//! `SourceConfig`; this module only fills the rest in from the environment. It is emitted as
//! JSON, which is valid YAML.

use environment::Environment;
use scraper_config::{DEFAULT_SPOOL_MAX_MB, Shard, Spool, StreamTarget};
pub use scraper_config::{SPOOL_DIR, ScraperConfig};

/// The configuration for `env` in `region`; `stream_name` is a placeholder CloudFormation substitutes.
/// No endpoint override: the instance talks to the region's Kinesis endpoint.
pub fn scraper_config(env: &Environment, stream_name: &str, region: &str) -> ScraperConfig {
    let scraper = &env.scraper;
    ScraperConfig {
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
        sources: scraper.sources.clone(),
        spool: Spool {
            dir: SPOOL_DIR.into(),
            max_mb: DEFAULT_SPOOL_MAX_MB,
        },
        shard: Shard::ALONE,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use std::path::Path;

    use super::*;

    /// For every shipped environment, the generated file reads back with the scraper's own decoder as
    /// the same configuration, and its sources are the environment's, passed through unchanged.
    #[test]
    fn generated_configuration_reads_back_with_the_environments_sources() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|ext| ext != "yaml") {
                continue;
            }
            let env = environment::load(&path).unwrap();
            let region = env.canary_region().as_str().to_owned();
            let config = scraper_config(&env, "mst-quotes", &region);
            assert_eq!(config.sources, env.scraper.sources, "{}", path.display());
            let text = serde_json::to_string_pretty(&config).unwrap();
            let read = ScraperConfig::parse("scraper.yaml", &text)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(read, config, "{}", path.display());
            checked += 1;
        }
        assert!(checked > 0, "no environment files in {}", dir.display());
    }
}
