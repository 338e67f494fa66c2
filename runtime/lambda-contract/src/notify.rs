//! The notify Lambda's environment: the alert topic, the threshold and where its state lives.

use crate::vars::{ConfigError, Vars};

/// The SNS topic the e-mails are published to: an ARN.
pub const TOPIC_ARN: &str = "TOPIC_ARN";
/// Optional: the alert threshold in percent (see [`threshold_pct_problem`]; default
/// [`DEFAULT_THRESHOLD_PCT`]).
pub const THRESHOLD_PCT: &str = "THRESHOLD_PCT";
/// The bucket of the state objects (the curated bucket).
pub const STATE_BUCKET: &str = "STATE_BUCKET";
/// The state objects' key prefix, [`crate::prefixes::NOTIFY_STATE`].
pub const STATE_PREFIX: &str = "STATE_PREFIX";

/// The SNS message attribute notify sets on the alert of `deployer verify`'s canary (the reserved
/// canary symbol). The e-mail subscriptions' filter policy (in `stacks`) drops
/// messages that carry it, so no one is mailed the canary; alarm messages, which carry no
/// attributes, still reach every address.
pub const CANARY_ATTRIBUTE: &str = "mst-canary";

/// The value notify gives [`CANARY_ATTRIBUTE`].
pub const CANARY_ATTRIBUTE_VALUE: &str = "true";

/// The threshold when `THRESHOLD_PCT` is unset: 1%.
pub const DEFAULT_THRESHOLD_PCT: f64 = 1.0;

/// The alert rule's window, in seconds: a move is measured between the last prices of two adjacent
/// one-minute UTC windows of `market_time` that have a price (the notify Lambda's `window` module).
/// Grafana's price-move alert rule groups by the same window (`deployer grafana`).
pub const WINDOW_SECONDS: u32 = 60;

/// Relative tolerance of the threshold comparison. Prices are decimal numbers held in binary
/// floating point, so a move of exactly 1.00% in decimal can come out a hair below 0.01
/// (`(111.1 - 110.0) / 110.0 = 0.009999999999999948`). A tolerance of one part in a billion of
/// the threshold makes every decimal 1.00% move alert, and is far below a 0.01% step
/// (a 0.99% move is 1% below the 1% threshold), so nothing that is not a 1.00% move alerts.
/// The notify Lambda and Grafana's alert rule both compare `|move| >= threshold × (1 - this)`.
pub const THRESHOLD_TOLERANCE: f64 = 1e-9;

/// The smallest move, in percent, that alerts with `threshold_pct`: the threshold less the
/// [`THRESHOLD_TOLERANCE`].
pub fn alerting_move_pct(threshold_pct: f64) -> f64 {
    threshold_pct * (1.0 - THRESHOLD_TOLERANCE)
}

/// Everything the function reads from its environment. `V` is the type of the values CloudFormation
/// fills in at deployment (`String` in the function).
#[derive(Debug, Clone, PartialEq)]
pub struct Config<V = String> {
    /// The SNS topic the e-mails are published to (`TOPIC_ARN`).
    pub topic_arn: V,
    /// The alert threshold in percent (`THRESHOLD_PCT`, default 1).
    pub threshold_pct: f64,
    /// Bucket of the state objects (`STATE_BUCKET`).
    pub state_bucket: V,
    /// Key prefix of the state objects, ending in `/` (`STATE_PREFIX`, such as `state/notify/`).
    pub state_prefix: String,
}

/// Why `percent` cannot be the alert threshold, if it cannot: it must be finite and above 0.
pub fn threshold_pct_problem(percent: f64) -> Option<&'static str> {
    (!(percent.is_finite() && percent > 0.0))
        .then_some("the threshold must be a finite percentage greater than 0")
}

impl<V> Config<V> {
    /// The function's environment variables. `literal` makes a value of the deployer's type from
    /// text.
    pub fn into_variables(self, literal: impl Fn(String) -> V) -> Vec<(&'static str, V)> {
        vec![
            (TOPIC_ARN, self.topic_arn),
            (THRESHOLD_PCT, literal(self.threshold_pct.to_string())),
            (STATE_BUCKET, self.state_bucket),
            (STATE_PREFIX, literal(self.state_prefix)),
        ]
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

        let topic_arn = vars.required(TOPIC_ARN)?;
        if !topic_arn.starts_with("arn:") {
            return Err(ConfigError::Invalid {
                name: TOPIC_ARN,
                value: topic_arn,
                reason: "expected a topic ARN such as arn:aws:sns:eu-west-1:111122223333:alerts",
            });
        }
        let threshold_pct = match vars.optional(THRESHOLD_PCT) {
            None => DEFAULT_THRESHOLD_PCT,
            Some(value) => value
                .trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|pct| threshold_pct_problem(*pct).is_none())
                .ok_or(ConfigError::Invalid {
                    name: THRESHOLD_PCT,
                    value,
                    reason: "expected a finite percentage greater than 0, such as 1 or 0.5",
                })?,
        };
        let state_prefix = vars.prefix(STATE_PREFIX)?;
        Ok(Self {
            topic_arn,
            threshold_pct,
            state_bucket: vars.required(STATE_BUCKET)?,
            state_prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::vars::lookup_in as lookup;

    const STACK: [(&str, &str); 3] = [
        ("TOPIC_ARN", "arn:aws:sns:eu-west-1:111122223333:mst-alerts"),
        ("STATE_BUCKET", "mst-curated"),
        ("STATE_PREFIX", "state/notify"),
    ];

    #[test]
    fn as_the_stack_sets_it() {
        let c = Config::from_lookup(lookup(&STACK)).expect("valid");
        assert_eq!(c.threshold_pct, DEFAULT_THRESHOLD_PCT);
        assert_eq!(c.state_prefix, "state/notify/");
        let mut vars = STACK.to_vec();
        vars.push(("THRESHOLD_PCT", "0.5"));
        let c = Config::from_lookup(lookup(&vars)).expect("valid");
        assert_eq!(c.threshold_pct, 0.5);
    }

    #[test]
    fn variables_read_back_as_the_same_configuration() {
        let written = Config {
            topic_arn: "arn:aws:sns:eu-west-1:111122223333:mst-alerts".to_owned(),
            threshold_pct: 2.5,
            state_bucket: "mst-curated".to_owned(),
            state_prefix: crate::prefixes::NOTIFY_STATE.to_owned(),
        };
        let vars: HashMap<&str, String> =
            written.clone().into_variables(|v| v).into_iter().collect();
        let read = Config::from_lookup(|name| vars.get(name).cloned()).expect("valid");
        assert_eq!(read, written);
    }

    #[test]
    fn bad_values_are_named() {
        for bad in ["0", "-1", "NaN", "inf", "one"] {
            let mut vars = STACK.to_vec();
            vars.push(("THRESHOLD_PCT", bad));
            let err = Config::from_lookup(lookup(&vars)).expect_err(bad);
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
        let err = Config::from_lookup(lookup(&[("TOPIC_ARN", "alerts")])).expect_err("not an ARN");
        assert!(err.to_string().contains("TOPIC_ARN"), "{err}");
    }
}
