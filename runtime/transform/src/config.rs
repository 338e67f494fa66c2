//! The function's configuration, read once from environment variables at cold start.
//!
//! The pipeline stack (`stacks/src/pipeline/functions.rs`) sets every required variable; the
//! optional ones have defaults that suit it.

use std::time::Duration;

use lambda_support::env::Vars;

/// Default timeout of one InfluxDB write request (connect included).
pub const DEFAULT_INFLUX_TIMEOUT: Duration = Duration::from_secs(10);

/// Which InfluxDB write API to speak, and where its points go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InfluxApi {
    /// InfluxDB 1.x: `POST /write?db=..&precision=ns`.
    V1 {
        /// `INFLUX_DATABASE`.
        database: String,
    },
    /// InfluxDB 2.x (and compatible servers): `POST /api/v2/write?org=..&bucket=..&precision=ns`.
    V2 {
        /// `INFLUX_ORG`.
        org: String,
        /// `INFLUX_BUCKET`.
        bucket: String,
    },
}

/// Where and how to write points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfluxConfig {
    /// Base URL without a trailing slash (`INFLUX_URL`), such as `https://influx.example.com:8086`.
    pub url: String,
    /// API and target (`INFLUX_API` with its variables).
    pub api: InfluxApi,
    /// Timeout of each write request (`INFLUX_TIMEOUT_SECONDS`, default 10).
    pub timeout: Duration,
}

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The InfluxDB target.
    pub influx: InfluxConfig,
    /// ARN (or name) of the Secrets Manager secret whose string value is the InfluxDB token
    /// (`INFLUX_TOKEN_SECRET_ARN`). An empty secret value means "send no token".
    pub token_secret_id: String,
    /// Bucket of the quarantine (`QUARANTINE_BUCKET`).
    pub quarantine_bucket: String,
    /// Key prefix of the quarantine, ending in `/` (`QUARANTINE_PREFIX`, such as
    /// `quarantine/transform/`).
    pub quarantine_prefix: String,
}

pub use lambda_support::env::ConfigError;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), so that tests need
    /// not change the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);

        let url = vars.required("INFLUX_URL")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(['?', '#'])
        {
            return Err(ConfigError::Invalid {
                name: "INFLUX_URL",
                value: url,
                reason: "expected a base URL such as https://influx.example.com:8086 (http:// or https://, no query)",
            });
        }
        let url = url.trim_end_matches('/').to_owned();
        let api = match vars.required("INFLUX_API")?.as_str() {
            "v1" => InfluxApi::V1 {
                database: vars.required("INFLUX_DATABASE")?,
            },
            "v2" => InfluxApi::V2 {
                org: vars.required("INFLUX_ORG")?,
                bucket: vars.required("INFLUX_BUCKET")?,
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: "INFLUX_API",
                    value: other.to_owned(),
                    reason: "expected v1 or v2",
                });
            }
        };
        let timeout = match vars.optional("INFLUX_TIMEOUT_SECONDS") {
            None => DEFAULT_INFLUX_TIMEOUT,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(seconds @ 1..=900) => Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "INFLUX_TIMEOUT_SECONDS",
                        value,
                        reason: "expected whole seconds from 1 to 900",
                    });
                }
            },
        };
        let quarantine_prefix = vars.prefix("QUARANTINE_PREFIX")?;
        Ok(Self {
            influx: InfluxConfig { url, api, timeout },
            token_secret_id: vars.required("INFLUX_TOKEN_SECRET_ARN")?,
            quarantine_bucket: vars.required("QUARANTINE_BUCKET")?,
            quarantine_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const COMMON: [(&str, &str); 4] = [
        ("INFLUX_URL", "https://influx.example.com:8086/"),
        (
            "INFLUX_TOKEN_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:1:secret:t",
        ),
        ("QUARANTINE_BUCKET", "raw"),
        ("QUARANTINE_PREFIX", "quarantine/transform/"),
    ];

    #[test]
    fn v2_as_the_stack_sets_it() {
        let mut vars = COMMON.to_vec();
        vars.extend([
            ("INFLUX_API", "v2"),
            ("INFLUX_ORG", "o"),
            ("INFLUX_BUCKET", "b"),
        ]);
        let c = Config::from_lookup(lookup(&vars)).expect("valid");
        assert_eq!(c.influx.url, "https://influx.example.com:8086");
        assert_eq!(
            c.influx.api,
            InfluxApi::V2 {
                org: "o".into(),
                bucket: "b".into()
            }
        );
        assert_eq!(c.influx.timeout, DEFAULT_INFLUX_TIMEOUT);
        assert_eq!(c.quarantine_prefix, "quarantine/transform/");
    }

    #[test]
    fn v1_needs_a_database() {
        let mut vars = COMMON.to_vec();
        vars.push(("INFLUX_API", "v1"));
        assert_eq!(
            Config::from_lookup(lookup(&vars)),
            Err(ConfigError::Missing("INFLUX_DATABASE"))
        );
        vars.extend([
            ("INFLUX_DATABASE", "quotes"),
            ("INFLUX_TIMEOUT_SECONDS", "3"),
        ]);
        let c = Config::from_lookup(lookup(&vars)).expect("valid");
        assert_eq!(
            c.influx.api,
            InfluxApi::V1 {
                database: "quotes".into()
            }
        );
        assert_eq!(c.influx.timeout, Duration::from_secs(3));
    }

    #[test]
    fn bad_values_are_named() {
        let mut vars = COMMON.to_vec();
        vars.push(("INFLUX_API", "v3"));
        let err = Config::from_lookup(lookup(&vars)).expect_err("v3");
        assert!(err.to_string().contains("INFLUX_API=\"v3\""), "{err}");
        let vars = [("INFLUX_URL", "influx:8086")];
        let err = Config::from_lookup(lookup(&vars)).expect_err("no scheme");
        assert!(err.to_string().contains("INFLUX_URL"), "{err}");
        let mut vars = COMMON.to_vec();
        vars.extend([
            ("INFLUX_API", "v1"),
            ("INFLUX_DATABASE", "d"),
            ("INFLUX_TIMEOUT_SECONDS", "0"),
        ]);
        let err = Config::from_lookup(lookup(&vars)).expect_err("zero timeout");
        assert!(err.to_string().contains("INFLUX_TIMEOUT_SECONDS"), "{err}");
    }
}
