//! Reading a Lambda's configuration from environment variables, the same way in every function:
//! an empty value counts as unset, key prefixes get their final `/`, and errors name the variable.

use thiserror::Error;

/// A missing or malformed environment variable.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    /// A variable has a value the function cannot use.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is expected instead.
        reason: &'static str,
    },
}

/// Whether a variable's value counts as unset: empty or only whitespace. The deployer refuses such
/// values for required settings (a blank value in the stack would fail every cold start).
pub fn is_unset(value: &str) -> bool {
    value.trim().is_empty()
}

/// The variables, through a lookup (the process environment, or a table in tests).
pub struct Vars<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The value, if set and not blank.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !is_unset(v))
    }

    /// The value, or [`ConfigError::Missing`].
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    /// A required S3 key prefix, with a final `/` added when it is missing.
    pub fn prefix(&self, name: &'static str) -> Result<String, ConfigError> {
        let mut prefix = self.required(name)?;
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(prefix)
    }
}

/// A lookup over fixed `(name, value)` pairs, for the modules' tests.
#[cfg(test)]
pub(crate) fn lookup_in(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_prefixes_end_in_a_slash() {
        let vars = Vars(|name: &str| match name {
            "BLANK" => Some("  ".to_owned()),
            "PREFIX" => Some("quotes".to_owned()),
            _ => None,
        });
        assert_eq!(vars.required("BLANK"), Err(ConfigError::Missing("BLANK")));
        assert_eq!(vars.optional("UNSET"), None);
        assert_eq!(vars.prefix("PREFIX").unwrap(), "quotes/");
    }
}
