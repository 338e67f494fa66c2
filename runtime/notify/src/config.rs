//! The function's configuration, read once from environment variables at cold start.
//!
//! The variables, their formats and their checks are the contract shared with the deployer
//! (`lambda_contract::notify`): the pipeline stack writes them from the same type this function
//! reads them with; here the threshold becomes the function's [`Threshold`].

use crate::window::Threshold;

pub use lambda_contract::ConfigError;

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

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), so that tests need
    /// not change the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let contract = lambda_contract::notify::Config::from_lookup(lookup)?;
        // The contract accepts exactly the thresholds `Threshold` does (finite, above 0).
        let threshold =
            Threshold::from_percent(contract.threshold_pct).ok_or(ConfigError::Invalid {
                name: lambda_contract::notify::THRESHOLD_PCT,
                value: contract.threshold_pct.to_string(),
                reason: "expected a finite percentage greater than 0, such as 1 or 0.5",
            })?;
        Ok(Self {
            topic_arn: contract.topic_arn,
            threshold,
            state_bucket: contract.state_bucket,
            state_prefix: contract.state_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_threshold_becomes_the_functions() {
        let c = Config::from_lookup(|name| match name {
            "TOPIC_ARN" => Some("arn:aws:sns:eu-west-1:111122223333:mst-alerts".to_owned()),
            "STATE_BUCKET" => Some("mst-curated".to_owned()),
            "STATE_PREFIX" => Some("state/notify".to_owned()),
            "THRESHOLD_PCT" => Some("0.5%".to_owned()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(c.threshold.percent(), 0.5);
        assert_eq!(c.state_prefix, "state/notify/");
        assert_eq!(
            Config::from_lookup(|_| None),
            Err(ConfigError::Missing("TOPIC_ARN"))
        );
    }
}
