//! What every Lambda binary of the pipeline sets up the same way, so that `main` only wires a
//! handler to the runtime: JSON log lines, the AWS SDK configuration (rustls on `ring`, deadlines),
//! and init errors reported to the Runtime API ([`init`]).

pub mod init;

pub use init::InitError;

use std::time::Duration;

use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The HTTPS client for the AWS SDK clients: rustls with ring (the SDK crates are built without
/// their default client, which would compile aws-lc).
pub fn aws_http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration of a Lambda: the standard chain (the function's role), the HTTPS client
/// above, and deadlines so that a hung call fails inside the function's timeout instead of at it
/// (the SDK retries an attempt up to 3 times). `operation_timeout` bounds one call, retries included.
pub async fn sdk_config(operation_timeout: Duration) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(operation_timeout / 2)
        .operation_timeout(operation_timeout)
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_http_client())
        .timeout_config(timeouts)
        .load()
        .await
}

/// The S3 client of a Lambda: path-style addressing when the SDK configuration has an endpoint
/// override (a local emulator such as moto has no per-bucket host names), virtual-hosted otherwise.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}

/// JSON lines on stdout (the functions' log format is JSON, so CloudWatch indexes the fields), one
/// object per event with its fields flattened and the current span; the level filter comes from
/// `RUST_LOG` in `target=level` form (default `info`).
pub fn init_json_logs() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_ansi(false),
        )
        .with(filter)
        .init();
}

/// The exit code once the runtime loop ends, which it does only when the Runtime API fails: the
/// error is logged, and Lambda starts a new process.
pub fn exit_code(run: Result<(), lambda_runtime_api_client::BoxError>) -> std::process::ExitCode {
    match run {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "the Lambda runtime loop failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// An S3 event's object key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEventKey(pub String);

impl std::fmt::Display for BadEventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "S3 event object key {:?} is not URL-encoded UTF-8",
            self.0
        )
    }
}

impl std::error::Error for BadEventKey {}

/// The object key of an S3 event record, decoded: S3 sends keys form-URL-encoded (a space arrives as
/// `+`, a literal `+` as `%2B`, non-ASCII as percent-encoded UTF-8).
pub fn s3_event_key(encoded: &str) -> Result<String, BadEventKey> {
    let spaces = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaces)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| BadEventKey(encoded.to_owned()))
}

/// Form-URL-encodes an object key as S3 does in event notifications: unreserved bytes and `/` as
/// they are, a space as `+`, every other byte (UTF-8 included) as `%XX`; the inverse of
/// [`s3_event_key`] (used by `deployer run`'s notifications and the Lambdas' tests).
pub fn s3_event_key_encoded(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_event_keys_decode_back() {
        let key = "raw/symbol=BRK.B/dt=2026-11-27/a b+cé.gz";
        assert_eq!(
            s3_event_key_encoded(key),
            "raw/symbol%3DBRK.B/dt%3D2026-11-27/a+b%2Bc%C3%A9.gz"
        );
        assert_eq!(s3_event_key(&s3_event_key_encoded(key)).unwrap(), key);
    }

    #[test]
    fn event_keys_are_form_url_decoded() {
        assert_eq!(
            s3_event_key("raw/symbol%3DBRK.B/dt%3D2026-11-27/a+b%2Bc%C3%A9.gz").unwrap(),
            "raw/symbol=BRK.B/dt=2026-11-27/a b+cé.gz"
        );
        assert_eq!(s3_event_key("plain/key").unwrap(), "plain/key");
        let bad = s3_event_key("raw/%FF%FE").unwrap_err();
        assert!(bad.to_string().contains("raw/%FF%FE"));
    }
}
