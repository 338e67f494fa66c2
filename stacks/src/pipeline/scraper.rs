//! The scraper daemon's configuration files, one per shard, generated from the environment. The types
//! live in the `scraper-config` crate, which the scraper decodes the file with, and the environment
//! already holds its sources as that crate's `SourceConfig`; this module only fills the rest in from the
//! environment and splits the symbols into shards (`scraper_config::shard`). Each file is JSON (valid
//! YAML), stored in the artifacts bucket under its SHA-256 and fetched and checked by the instance's
//! first boot, which writes it to `/etc/mystocktracker/scraper.yaml`.

use environment::Environment;
use scraper_config::{DEFAULT_SPOOL_MAX_MB, HEARTBEAT_FILE, Shard, Spool, StreamTarget};
pub use scraper_config::{SPOOL_DIR, ScraperConfig};
use sha2::{Digest, Sha256};

/// The stream's name in a stored shard configuration: CloudFormation names the stream, after the
/// configuration was uploaded, so the first boot puts the name in (its user data has it).
pub const STREAM_NAME_PLACEHOLDER: &str = "@@STREAM_NAME@@";

/// The key prefix of shard configurations in the artifacts bucket.
pub const CONFIGURATION_PREFIX: &str = "scraper-config";

/// The configuration for `env` in `region`, whole (every symbol, shard 0 of 1); `stream_name` is the
/// stream's name or [`STREAM_NAME_PLACEHOLDER`]. No endpoint override: the instance talks to the
/// region's Kinesis endpoint.
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
        heartbeat_file: Some(HEARTBEAT_FILE.into()),
    }
}

/// One shard's configuration file as stored in the artifacts bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardConfiguration {
    /// The shard.
    pub shard: Shard,
    /// `scraper-config/<sha256 of bytes>.json`.
    pub key: String,
    /// The file, with [`STREAM_NAME_PLACEHOLDER`] for the stream's name.
    pub bytes: Vec<u8>,
}

/// The configuration of every shard of `env`'s fleet (`scraper.instances`) in `region`, in shard order.
pub fn shard_configurations(
    env: &Environment,
    region: &str,
) -> Result<Vec<ShardConfiguration>, serde_json::Error> {
    let whole = scraper_config(env, STREAM_NAME_PLACEHOLDER, region);
    Shard::all(env.scraper.instances)
        .map(|shard| {
            let mut bytes = serde_json::to_vec_pretty(&whole.for_shard(shard))?;
            bytes.push(b'\n');
            let hash: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Ok(ShardConfiguration {
                shard,
                key: format!("{CONFIGURATION_PREFIX}/{hash}.json"),
                bytes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test: a panic is the failure report.

    use std::path::Path;

    use super::*;

    fn shipped() -> Vec<(std::path::PathBuf, Environment)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../environments");
        let mut envs = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "yaml") {
                let env = environment::load(&path).unwrap();
                envs.push((path, env));
            }
        }
        assert!(
            !envs.is_empty(),
            "no environment files in {}",
            dir.display()
        );
        envs
    }

    /// For every shipped environment, the generated file reads back with the scraper's own decoder as
    /// the same configuration, and its sources are the environment's, passed through unchanged.
    #[test]
    fn generated_configuration_reads_back_with_the_environments_sources() {
        for (path, env) in shipped() {
            let region = env.canary_region().as_str().to_owned();
            let config = scraper_config(&env, "mst-quotes", &region);
            assert_eq!(config.sources, env.scraper.sources, "{}", path.display());
            let text = serde_json::to_string_pretty(&config).unwrap();
            let read = ScraperConfig::parse("scraper.yaml", &text)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(read, config, "{}", path.display());
        }
    }

    /// The stored files of all shards together hold the environment's symbols exactly once, each
    /// file is named by its SHA-256, and each reads back (with the stream's name put in, as the first
    /// boot does) as its shard's configuration with its share of the rate.
    #[test]
    fn the_shard_files_cover_the_symbols_exactly_once_and_read_back() {
        for (path, mut env) in shipped() {
            let symbols: Vec<quote_record::Symbol> = (0..500)
                .map(|i| quote_record::Symbol::parse(&format!("T{i}")).unwrap())
                .collect();
            env.symbols = symbols.clone();
            for instances in [1, 3, 7] {
                env.scraper.instances = instances;
                let files = shard_configurations(&env, "eu-west-1").unwrap();
                assert_eq!(files.len(), instances as usize);
                let mut seen: Vec<String> = Vec::new();
                for file in &files {
                    let hash: String = Sha256::digest(&file.bytes)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    assert_eq!(file.key, format!("scraper-config/{hash}.json"));
                    let text = String::from_utf8(file.bytes.clone())
                        .unwrap()
                        .replace(STREAM_NAME_PLACEHOLDER, "mst-prod-QuoteStream-x1");
                    let config = ScraperConfig::parse("scraper.yaml", &text)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert_eq!(config.shard, file.shard);
                    let share = env.scraper.requests_per_second_per_host / f64::from(instances);
                    assert!((config.requests_per_second_per_host - share).abs() < 1e-9);
                    seen.extend(config.symbols.iter().map(|s| s.as_str().to_owned()));
                }
                let mut want: Vec<String> = symbols.iter().map(|s| s.as_str().to_owned()).collect();
                seen.sort();
                want.sort();
                assert_eq!(seen, want, "{} with {instances} instances", path.display());
            }
        }
    }
}
