//! The function's configuration, read once from environment variables at cold start (the pipeline
//! stack, `stacks/src/pipeline/functions.rs`, sets all of them).

use lambda_support::env::Vars;

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket of the Parquet output (`CURATED_BUCKET`).
    pub curated_bucket: String,
    /// Key prefix of the Parquet output, ending in `/` (`CURATED_PREFIX`, `quotes/`; a missing final
    /// `/` is added, as in every Lambda).
    pub curated_prefix: String,
    /// Bucket of the quarantine (`QUARANTINE_BUCKET`, the raw bucket).
    pub quarantine_bucket: String,
    /// Key prefix of the quarantine, ending in `/` (`QUARANTINE_PREFIX`, `quarantine/to-parquet/`).
    pub quarantine_prefix: String,
}

pub use lambda_support::env::ConfigError;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        Ok(Self {
            curated_bucket: vars.required("CURATED_BUCKET")?,
            curated_prefix: vars.prefix("CURATED_PREFIX")?,
            quarantine_bucket: vars.required("QUARANTINE_BUCKET")?,
            quarantine_prefix: vars.prefix("QUARANTINE_PREFIX")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn reads_what_the_stack_sets() {
        let config = Config::from_lookup(lookup(&[
            ("CURATED_BUCKET", "curated"),
            ("CURATED_PREFIX", "quotes/"),
            ("QUARANTINE_BUCKET", "raw"),
            ("QUARANTINE_PREFIX", "quarantine/to-parquet/"),
        ]))
        .unwrap();
        assert_eq!(config.curated_prefix, "quotes/");
        assert_eq!(config.quarantine_bucket, "raw");
    }

    #[test]
    fn names_the_missing_variable_and_completes_prefixes() {
        assert_eq!(
            Config::from_lookup(lookup(&[("CURATED_BUCKET", "c")])),
            Err(ConfigError::Missing("CURATED_PREFIX"))
        );
        let config = Config::from_lookup(lookup(&[
            ("CURATED_BUCKET", "c"),
            ("CURATED_PREFIX", "quotes"),
            ("QUARANTINE_BUCKET", "raw"),
            ("QUARANTINE_PREFIX", "quarantine/to-parquet/"),
        ]))
        .unwrap();
        assert_eq!(config.curated_prefix, "quotes/");
    }
}
