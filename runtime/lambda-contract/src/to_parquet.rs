//! The to-parquet Lambda's environment: where the Parquet output and the quarantine go.

use crate::vars::{ConfigError, Vars};

/// The bucket of the Parquet output (the curated bucket).
pub const CURATED_BUCKET: &str = "CURATED_BUCKET";
/// The Parquet output's key prefix, [`crate::prefixes::QUOTES`].
pub const CURATED_PREFIX: &str = "CURATED_PREFIX";
/// The bucket of the quarantine (the raw bucket).
pub const QUARANTINE_BUCKET: &str = "QUARANTINE_BUCKET";
/// The quarantine's key prefix, [`crate::prefixes::quarantine`]`("to-parquet")`.
pub const QUARANTINE_PREFIX: &str = "QUARANTINE_PREFIX";

/// The Lambda's own quarantine sub-prefix name (`quarantine/to-parquet/`).
pub const QUARANTINE_NAME: &str = "to-parquet";

/// Everything the function reads from its environment. `V` is the type of the values CloudFormation
/// fills in at deployment (`String` in the function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<V = String> {
    /// Bucket of the Parquet output (`CURATED_BUCKET`).
    pub curated_bucket: V,
    /// Key prefix of the Parquet output, ending in `/` (`CURATED_PREFIX`, `quotes/`; a missing final
    /// `/` is added, as in every Lambda).
    pub curated_prefix: String,
    /// Bucket of the quarantine (`QUARANTINE_BUCKET`, the raw bucket).
    pub quarantine_bucket: V,
    /// Key prefix of the quarantine, ending in `/` (`QUARANTINE_PREFIX`, `quarantine/to-parquet/`).
    pub quarantine_prefix: String,
}

impl<V> Config<V> {
    /// The function's environment variables. `literal` makes a value of the deployer's type from
    /// text.
    pub fn into_variables(self, literal: impl Fn(String) -> V) -> Vec<(&'static str, V)> {
        vec![
            (CURATED_BUCKET, self.curated_bucket),
            (CURATED_PREFIX, literal(self.curated_prefix)),
            (QUARANTINE_BUCKET, self.quarantine_bucket),
            (QUARANTINE_PREFIX, literal(self.quarantine_prefix)),
        ]
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        Ok(Self {
            curated_bucket: vars.required(CURATED_BUCKET)?,
            curated_prefix: vars.prefix(CURATED_PREFIX)?,
            quarantine_bucket: vars.required(QUARANTINE_BUCKET)?,
            quarantine_prefix: vars.prefix(QUARANTINE_PREFIX)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::vars::lookup_in as lookup;

    #[test]
    fn reads_what_the_stack_sets() {
        let written = Config {
            curated_bucket: "curated".to_owned(),
            curated_prefix: crate::prefixes::QUOTES.to_owned(),
            quarantine_bucket: "raw".to_owned(),
            quarantine_prefix: crate::prefixes::quarantine(QUARANTINE_NAME),
        };
        let vars = written.clone().into_variables(|v| v);
        let read = Config::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .expect("valid");
        assert_eq!(read, written);
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
        .expect("valid");
        assert_eq!(config.curated_prefix, "quotes/");
    }
}
