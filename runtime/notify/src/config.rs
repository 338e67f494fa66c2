//! The function's configuration, read once from environment variables at cold start.

use lambda_support::env::Vars;

use crate::window::Threshold;

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The SNS topic the e-mails are published to (`TOPIC_ARN`).
    pub topic_arn: String,
    /// The alert threshold (`THRESHOLD_PCT`, percent, default 1).
    pub threshold: Threshold,
    /// Bucket of the state objects (`STATE_BUCKET`).
    pub state_bucket: String,
    /// Key prefix of the state objects, ending in `/` (`STATE_PREFIX`, such as `state/notify/`).
    pub state_prefix: String,
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

        let topic_arn = vars.required("TOPIC_ARN")?;
        if !topic_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid {
                name: "TOPIC_ARN",
                value: topic_arn,
                reason: "expected a topic ARN such as arn:aws:sns:eu-west-1:111122223333:alerts",
            });
        }
        let threshold = match vars.optional("THRESHOLD_PCT") {
            None => Threshold::default(),
            Some(value) => value
                .trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .and_then(Threshold::from_percent)
                .ok_or(ConfigError::Invalid {
                    name: "THRESHOLD_PCT",
                    value,
                    reason: "expected a finite percentage greater than 0, such as 1 or 0.5",
                })?,
        };
        let state_prefix = vars.prefix("STATE_PREFIX")?;
        Ok(Self {
            topic_arn,
            threshold,
            state_bucket: vars.required("STATE_BUCKET")?,
            state_prefix,
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

    const STACK: [(&str, &str); 3] = [
        ("TOPIC_ARN", "arn:aws:sns:eu-west-1:111122223333:mst-alerts"),
        ("STATE_BUCKET", "mst-curated"),
        ("STATE_PREFIX", "state/notify"),
    ];

    #[test]
    fn as_the_stack_sets_it() {
        let c = Config::from_lookup(lookup(&STACK)).unwrap();
        assert_eq!(c.threshold, Threshold::default());
        assert_eq!(c.state_prefix, "state/notify/");
        let mut vars = STACK.to_vec();
        vars.push(("THRESHOLD_PCT", "0.5"));
        let c = Config::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(c.threshold.percent(), 0.5);
    }

    #[test]
    fn bad_values_are_named() {
        for bad in ["0", "-1", "NaN", "inf", "one"] {
            let mut vars = STACK.to_vec();
            vars.push(("THRESHOLD_PCT", bad));
            let err = Config::from_lookup(lookup(&vars)).unwrap_err();
            assert!(
                err.to_string()
                    .contains(&format!("THRESHOLD_PCT=\"{bad}\"")),
                "{err}"
            );
        }
        assert_eq!(
            Config::from_lookup(lookup(&STACK[..2])),
            Err(ConfigError::Missing("STATE_PREFIX"))
        );
        let err = Config::from_lookup(lookup(&[("TOPIC_ARN", "alerts")])).unwrap_err();
        assert!(err.to_string().contains("TOPIC_ARN"), "{err}");
    }
}
