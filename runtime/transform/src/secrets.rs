//! The InfluxDB token, read from Secrets Manager once per container and re-read when InfluxDB
//! rejects it (the token was rotated while the container lived).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use thiserror::Error;
use tokio::sync::Mutex;

/// The token. It has no `Display` and its `Debug` hides the value, so it cannot reach a log by
/// accident; [`Token::expose`] is the one way to read it (to build the `Authorization` header).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// A token from its text (surrounding whitespace, such as the newline of `echo`, removed).
    pub fn new(value: &str) -> Self {
        Self(Arc::from(value.trim()))
    }

    /// The secret text. Use it only to authenticate a request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An empty token: requests are sent without `Authorization` (InfluxDB with auth disabled).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Reading the secret failed.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The `GetSecretValue` call failed (permissions, network, missing secret, no value yet).
    #[error("cannot read secret {secret_id}: {message}")]
    Read {
        /// ARN or name of the secret.
        secret_id: String,
        /// The SDK error with its causes.
        message: String,
    },
    /// The secret holds binary data, not a string.
    #[error("secret {0} has no string value (put the token with --secret-string)")]
    NotAString(String),
}

/// Caches the token for the life of the container.
#[derive(Debug)]
pub struct TokenCache {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    current: Mutex<Option<Token>>,
    reads: AtomicU64,
}

impl TokenCache {
    /// A cache over the secret `secret_id` (ARN or name); nothing is read until [`TokenCache::get`].
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            current: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// The cached token, reading the secret if there is none yet.
    pub async fn get(&self) -> Result<Token, SecretError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            return Ok(token.clone());
        }
        let token = self.read().await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// Called when the server rejected `rejected`: reads the secret again, unless the cache already
    /// holds a different token (another request refreshed it meanwhile).
    pub async fn refresh(&self, rejected: &Token) -> Result<Token, SecretError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && token != rejected
        {
            return Ok(token.clone());
        }
        let token = self.read().await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// How many times the secret was read (for logs and tests).
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    async fn read(&self) -> Result<Token, SecretError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                secret_id: self.secret_id.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        match out.secret_string() {
            Some(value) => Ok(Token::new(value)),
            None => Err(SecretError::NotAString(self.secret_id.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn debug_hides_the_token() {
        let t = Token::new(" s3cr3t\n");
        assert_eq!(t.expose(), "s3cr3t");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        assert!(Token::new("\n").is_empty());
    }
}
