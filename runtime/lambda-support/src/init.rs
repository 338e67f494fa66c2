//! A failed cold start, reported to the Lambda Runtime API (`POST /runtime/init/error`) before the
//! process exits. Without the report AWS shows only `Runtime.ExitError`; with it the invocation's
//! error names what failed (`errorType`, such as `Function.ConfigError`) and how to fix it
//! (`errorMessage`). `lambda_runtime` sends this request only for its own SnapStart failures (its
//! request type is private), so it is built here on the Runtime API client it already uses.

use std::process::ExitCode;
use std::time::Duration;

use lambda_runtime_api_client::{PooledClient, body::Body, build_request};
use thiserror::Error;

use lambda_contract::ConfigError;

/// The Runtime API path for init errors.
pub const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// The header that carries the error type.
pub const ERROR_TYPE_HEADER: &str = "Lambda-Runtime-Function-Error-Type";

/// The `errorType` of a missing or invalid environment variable.
pub const CONFIG_ERROR: &str = "Function.ConfigError";

/// How long the report may take: the Runtime API is local, and the process exits either way.
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a cold start failed: the `errorType` and `errorMessage` sent to the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitError {
    error_type: &'static str,
    message: String,
}

/// The init error could not be reported (it is logged instead).
#[derive(Debug, Error)]
pub enum ReportError {
    /// Not running under Lambda (or a test harness): nowhere to report to.
    #[error("AWS_LAMBDA_RUNTIME_API is not set")]
    NoRuntimeApi,
    /// The variable is not a `host:port` address.
    #[error("AWS_LAMBDA_RUNTIME_API={0:?} is not a host:port address")]
    BadAddress(String),
    /// The request could not be built (an error type that is not a valid header value).
    #[error("cannot build the init error request: {0}")]
    Request(String),
    /// No answer within the timeout, or a transport error.
    #[error("the Runtime API did not take the init error: {0}")]
    Transport(String),
    /// The Runtime API answered with an error status.
    #[error("the Runtime API answered HTTP {0} to the init error")]
    Status(u16),
}

impl InitError {
    /// An init error of type `error_type` (`Function.<What>Error`, naming what failed) with a
    /// message that says how to fix it. Neither may hold a secret: both end up in the console.
    pub fn new(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            error_type,
            message: message.into(),
        }
    }

    /// A missing or invalid environment variable ([`CONFIG_ERROR`]): the message names the
    /// variable and the fix, never its value (a URL can carry a password).
    pub fn config(error: &ConfigError) -> Self {
        let message = match error {
            ConfigError::Missing(name) => format!(
                "environment variable {name} is required but not set: set {name} in the \
                 function's environment (the pipeline stack sets it; deploy the stack again if it \
                 was removed by hand)"
            ),
            ConfigError::Invalid { name, reason, .. } => format!(
                "environment variable {name} is invalid ({reason}): set {name} to a valid value \
                 in the function's environment (the value is not repeated here)"
            ),
        };
        Self::new(CONFIG_ERROR, message)
    }

    /// The `errorType`.
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }

    /// The `errorMessage`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body of the report: `errorMessage`, `errorType` and an empty `stackTrace`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "errorMessage": self.message,
            "errorType": self.error_type,
            "stackTrace": [],
        })
        .to_string()
    }

    /// Sends the report to the Runtime API at `AWS_LAMBDA_RUNTIME_API` (within 2 s).
    pub async fn report(&self) -> Result<(), ReportError> {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or(ReportError::NoRuntimeApi)?;
        let endpoint: http::Uri = api
            .parse()
            .map_err(|_| ReportError::BadAddress(api.clone()))?;
        if endpoint.authority().is_none() {
            // The client would panic on a URI without a host.
            return Err(ReportError::BadAddress(api));
        }
        let client = PooledClient::builder().with_endpoint(endpoint).build();
        let request = build_request()
            .method("POST")
            .uri(INIT_ERROR_PATH)
            .header(ERROR_TYPE_HEADER, self.error_type)
            .header("Content-Type", "application/json")
            .body(Body::from(self.body()))
            .map_err(|e| ReportError::Request(e.to_string()))?;
        let response = tokio::time::timeout(REPORT_TIMEOUT, client.call(request))
            .await
            .map_err(|_| ReportError::Transport(format!("no answer within {REPORT_TIMEOUT:?}")))?
            .map_err(|e| ReportError::Transport(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(ReportError::Status(status.as_u16()))
        }
    }

    /// Ends a failed cold start: logs the error, reports it to the Runtime API (a failed report
    /// is logged too) and returns the exit code for `main`, which the Runtime API expects next.
    pub async fn fail(self) -> ExitCode {
        tracing::error!(
            error_type = self.error_type,
            error = self.message,
            "init failed"
        );
        if let Err(e) = self.report().await {
            tracing::error!(error = %e, "cannot report the init error to the Runtime API");
        }
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_variable_and_the_fix_but_not_the_value() {
        let missing = InitError::config(&ConfigError::Missing("QUARANTINE_BUCKET"));
        assert_eq!(missing.error_type(), "Function.ConfigError");
        assert!(missing.message().contains("QUARANTINE_BUCKET is required"));
        assert!(missing.message().contains("set QUARANTINE_BUCKET in the"));

        let invalid = InitError::config(&ConfigError::Invalid {
            name: "INFLUX_URL",
            value: "https://user:s3cret@influx.example.com".to_owned(),
            reason: "expected a base URL",
        });
        assert!(
            invalid
                .message()
                .contains("INFLUX_URL is invalid (expected a base URL)")
        );
        assert!(
            !invalid.message().contains("s3cret"),
            "{}",
            invalid.message()
        );
        assert!(!invalid.body().contains("s3cret"));
    }

    #[test]
    fn the_body_is_the_runtime_api_error_document() {
        let body: serde_json::Value =
            serde_json::from_str(&InitError::new("Function.X", "say \"why\"").body())
                .expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({"errorMessage": "say \"why\"", "errorType": "Function.X", "stackTrace": []})
        );
    }
}
