//! The transform Lambda's environment: the InfluxDB target, the token's secret and the quarantine.

use std::time::Duration;

use crate::vars::{ConfigError, Vars};

/// The InfluxDB base URL, such as `https://influx.example.com:8086` (see [`influx_url_problem`]).
pub const INFLUX_URL: &str = "INFLUX_URL";
/// The write API: `v1` or `v2`.
pub const INFLUX_API: &str = "INFLUX_API";
/// The v2 organisation (with `INFLUX_API=v2`).
pub const INFLUX_ORG: &str = "INFLUX_ORG";
/// The v2 bucket (with `INFLUX_API=v2`).
pub const INFLUX_BUCKET: &str = "INFLUX_BUCKET";
/// The v1 database (with `INFLUX_API=v1`).
pub const INFLUX_DATABASE: &str = "INFLUX_DATABASE";
/// Optional: timeout of one write request in whole seconds, 1 to 900 (default 10).
pub const INFLUX_TIMEOUT_SECONDS: &str = "INFLUX_TIMEOUT_SECONDS";
/// ARN (or name) of the Secrets Manager secret holding the InfluxDB token.
pub const INFLUX_TOKEN_SECRET_ARN: &str = "INFLUX_TOKEN_SECRET_ARN";
/// The bucket of the quarantine (the raw bucket).
pub const QUARANTINE_BUCKET: &str = "QUARANTINE_BUCKET";
/// The quarantine's key prefix, [`crate::prefixes::quarantine`]`("transform")`.
pub const QUARANTINE_PREFIX: &str = "QUARANTINE_PREFIX";

/// The Lambda's own quarantine sub-prefix name (`quarantine/transform/`).
pub const QUARANTINE_NAME: &str = "transform";

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

impl InfluxApi {
    /// `v1` or `v2`, as in `INFLUX_API` and the environment file's `influxdb.api`.
    pub fn as_str(&self) -> &'static str {
        match self {
            InfluxApi::V1 { .. } => "v1",
            InfluxApi::V2 { .. } => "v2",
        }
    }
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

/// Everything the function reads from its environment. `V` is the type of the values CloudFormation
/// fills in at deployment (`String` in the function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<V = String> {
    /// The InfluxDB target.
    pub influx: InfluxConfig,
    /// ARN (or name) of the Secrets Manager secret whose string value is the InfluxDB token
    /// (`INFLUX_TOKEN_SECRET_ARN`). An empty secret value means "send no token".
    pub token_secret_id: V,
    /// Bucket of the quarantine (`QUARANTINE_BUCKET`).
    pub quarantine_bucket: V,
    /// Key prefix of the quarantine, ending in `/` (`QUARANTINE_PREFIX`, such as
    /// `quarantine/transform/`).
    pub quarantine_prefix: String,
}

/// Why `url` cannot be the InfluxDB base URL, if it cannot: the function appends `/write?..` or
/// `/api/v2/write?..` to it, so it must be `http://` or `https://` with no query and no fragment.
pub fn influx_url_problem(url: &str) -> Option<&'static str> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        Some("it must start with `http://` or `https://`")
    } else if url.contains('?') {
        Some("it has a query (`?`): the transform Lambda appends its own write path and query")
    } else if url.contains('#') {
        Some("it has a fragment (`#`): the transform Lambda appends its own write path and query")
    } else {
        None
    }
}

impl<V> Config<V> {
    /// The function's environment variables. `literal` makes a value of the deployer's type from
    /// text. `INFLUX_TIMEOUT_SECONDS` is written only when it differs from the default.
    pub fn into_variables(self, literal: impl Fn(String) -> V) -> Vec<(&'static str, V)> {
        let mut vars = vec![
            (INFLUX_URL, literal(self.influx.url)),
            (INFLUX_API, literal(self.influx.api.as_str().to_owned())),
        ];
        match self.influx.api {
            InfluxApi::V1 { database } => vars.push((INFLUX_DATABASE, literal(database))),
            InfluxApi::V2 { org, bucket } => {
                vars.push((INFLUX_ORG, literal(org)));
                vars.push((INFLUX_BUCKET, literal(bucket)));
            }
        }
        if self.influx.timeout != DEFAULT_INFLUX_TIMEOUT {
            vars.push((
                INFLUX_TIMEOUT_SECONDS,
                literal(self.influx.timeout.as_secs().to_string()),
            ));
        }
        vars.push((INFLUX_TOKEN_SECRET_ARN, self.token_secret_id));
        vars.push((QUARANTINE_BUCKET, self.quarantine_bucket));
        vars.push((QUARANTINE_PREFIX, literal(self.quarantine_prefix)));
        vars
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), so that tests need
    /// not change the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);

        let url = vars.required(INFLUX_URL)?;
        if influx_url_problem(&url).is_some() {
            return Err(ConfigError::Invalid {
                name: INFLUX_URL,
                value: url,
                reason: "expected a base URL such as https://influx.example.com:8086 (http:// or https://, no query or fragment)",
            });
        }
        let url = url.trim_end_matches('/').to_owned();
        let api = match vars.required(INFLUX_API)?.as_str() {
            "v1" => InfluxApi::V1 {
                database: vars.required(INFLUX_DATABASE)?,
            },
            "v2" => InfluxApi::V2 {
                org: vars.required(INFLUX_ORG)?,
                bucket: vars.required(INFLUX_BUCKET)?,
            },
            other => {
                return Err(ConfigError::Invalid {
                    name: INFLUX_API,
                    value: other.to_owned(),
                    reason: "expected v1 or v2",
                });
            }
        };
        let timeout = match vars.optional(INFLUX_TIMEOUT_SECONDS) {
            None => DEFAULT_INFLUX_TIMEOUT,
            Some(value) => match value.trim().parse::<u64>() {
                Ok(seconds @ 1..=900) => Duration::from_secs(seconds),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: INFLUX_TIMEOUT_SECONDS,
                        value,
                        reason: "expected whole seconds from 1 to 900",
                    });
                }
            },
        };
        let quarantine_prefix = vars.prefix(QUARANTINE_PREFIX)?;
        Ok(Self {
            influx: InfluxConfig { url, api, timeout },
            token_secret_id: vars.required(INFLUX_TOKEN_SECRET_ARN)?,
            quarantine_bucket: vars.required(QUARANTINE_BUCKET)?,
            quarantine_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::vars::lookup_in as lookup;

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
        for url in [
            "influx:8086",
            "https://influx.example.com:8086/?db=x",
            "https://influx.example.com:8086/#top",
        ] {
            let err = Config::from_lookup(lookup(&[("INFLUX_URL", url)])).expect_err(url);
            assert!(err.to_string().contains("INFLUX_URL"), "{err}");
            assert!(influx_url_problem(url).is_some(), "{url}");
        }
        let mut vars = COMMON.to_vec();
        vars.extend([
            ("INFLUX_API", "v1"),
            ("INFLUX_DATABASE", "d"),
            ("INFLUX_TIMEOUT_SECONDS", "0"),
        ]);
        let err = Config::from_lookup(lookup(&vars)).expect_err("zero timeout");
        assert!(err.to_string().contains("INFLUX_TIMEOUT_SECONDS"), "{err}");
    }

    /// What the deployer writes, the function reads back unchanged (the URL loses its final `/`).
    #[test]
    fn variables_read_back_as_the_same_configuration() {
        for (api, timeout) in [
            (
                InfluxApi::V2 {
                    org: "o".into(),
                    bucket: "b".into(),
                },
                DEFAULT_INFLUX_TIMEOUT,
            ),
            (
                InfluxApi::V1 {
                    database: "quotes".into(),
                },
                Duration::from_secs(30),
            ),
        ] {
            let written = Config {
                influx: InfluxConfig {
                    url: "https://influx.example.com:8086".into(),
                    api,
                    timeout,
                },
                token_secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:t".to_owned(),
                quarantine_bucket: "raw".to_owned(),
                quarantine_prefix: crate::prefixes::quarantine(QUARANTINE_NAME),
            };
            let vars: HashMap<&str, String> =
                written.clone().into_variables(|v| v).into_iter().collect();
            let read = Config::from_lookup(|name| vars.get(name).cloned()).expect("valid");
            assert_eq!(read, written);
        }
    }
}
