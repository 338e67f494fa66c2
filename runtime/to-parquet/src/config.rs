//! The function's configuration, read once from environment variables at cold start (the pipeline
//! stack, `stacks/src/pipeline/functions.rs`, sets all of them).

use thiserror::Error;

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bucket of the Parquet output (`CURATED_BUCKET`).
    pub curated_bucket: String,
    /// Key prefix of the Parquet output, ending in `/` (`CURATED_PREFIX`, `quotes/`).
    pub curated_prefix: String,
    /// Bucket of the quarantine (`QUARANTINE_BUCKET`, the raw bucket).
    pub quarantine_bucket: String,
    /// Key prefix of the quarantine, ending in `/` (`QUARANTINE_PREFIX`, `quarantine/to-parquet/`).
    pub quarantine_prefix: String,
}

/// A missing or malformed environment variable.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A prefix that does not end in `/`.
    #[error("environment variable {name}={value:?} is invalid: a key prefix must end in '/'")]
    NotAPrefix {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
    },
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let prefix = |name: &'static str| {
            let value = required(name)?;
            if value.ends_with('/') {
                Ok(value)
            } else {
                Err(ConfigError::NotAPrefix { name, value })
            }
        };
        Ok(Self {
            curated_bucket: required("CURATED_BUCKET")?,
            curated_prefix: prefix("CURATED_PREFIX")?,
            quarantine_bucket: required("QUARANTINE_BUCKET")?,
            quarantine_prefix: prefix("QUARANTINE_PREFIX")?,
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
    fn names_the_missing_or_bad_variable() {
        assert_eq!(
            Config::from_lookup(lookup(&[("CURATED_BUCKET", "c")])),
            Err(ConfigError::Missing("CURATED_PREFIX"))
        );
        let error = Config::from_lookup(lookup(&[
            ("CURATED_BUCKET", "c"),
            ("CURATED_PREFIX", "quotes"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("CURATED_PREFIX=\"quotes\""));
        assert!(error.to_string().contains("must end in '/'"));
    }
}
