//! How the deployer reaches AWS, in one place for the deploy engine, `policy diff --against-deployed`
//! and the CLI: the HTTPS client (rustls on `ring`), retries, timeouts, the endpoint override, which
//! credentials go where ([`Connection`]), and what a failed call means for the user ([`CallError`]: one
//! sentence naming the endpoint or profile and the fix). [`query`], [`json`] and [`rest`] call a
//! Query-, JSON- or REST-JSON-protocol API on the same connection where the service's SDK crate
//! would cost minutes of compile for a few operations (EC2, Auto Scaling, IAM, SSM, Glue, Firehose,
//! ACM, KMS, Lambda).
//!
//! Credentials: an endpoint on this machine (a loopback host, such as the moto emulator) is signed
//! with fixed emulator credentials, so a developer's real credentials never reach a local process;
//! every other endpoint, AWS's own included, gets the standard credential chain, so dummy credentials
//! never go to AWS.
//!
//! The SDK's internals (its error chains and debug dumps) are logged at `debug` level under this
//! crate's target when a call fails; the CLI shows them with `--verbose`.

mod credentials;
mod failure;
mod http;
pub mod json;
pub mod query;
pub mod rest;
mod signed;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

pub use failure::{CallError, Failure};
pub use signed::{DirectResult, Service, ServiceError};

/// Attempts per call, the first included (the SDK's standard retry mode: throttling and transient
/// errors only). CloudFormation throttles `Describe*` readily when several regions are polled at
/// once, hence more than the SDK's default of three.
pub const MAX_ATTEMPTS: u32 = 8;

/// The first retry waits a random time up to this; each further retry up to twice as long as the
/// one before (exponential backoff with full jitter), never more than [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);

/// How long establishing a connection (TCP and TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one attempt of a call may take, response body included (artifact uploads are the
/// largest requests: a few MB).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a call may take with all its attempts and the waits between them.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(600);

/// The variable that overrides the endpoint of every service (the SDK's standard name).
pub const ENDPOINT_VARIABLE: &str = "AWS_ENDPOINT_URL";

/// What the user asked for: where to send requests and whose credentials to use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The region requests are signed for unless a client names another.
    pub region: String,
    /// Where requests go instead of AWS's own endpoints, as [`endpoint_override`] finds it.
    pub endpoint: Option<String>,
    /// A named profile of `~/.aws/config` (`--profile`); `None` uses the standard chain
    /// (environment variables, `AWS_PROFILE`, SSO, web identity, container and instance roles).
    pub profile: Option<String>,
}

/// A loaded SDK configuration with the settings above, and what it was made from.
#[derive(Debug, Clone)]
pub struct Connection {
    config: SdkConfig,
    endpoint: Option<String>,
    profile: Option<String>,
}

/// The endpoint requests go to: `AWS_ENDPOINT_URL` when set, else the environment's emulator
/// endpoint, else AWS's own endpoints (`None`).
pub fn endpoint_override(emulator_endpoint: Option<&str>) -> Option<String> {
    std::env::var(ENDPOINT_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty())
        .or_else(|| emulator_endpoint.map(str::to_owned))
}

/// True when `url`'s host is this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        // [::1]:5000
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where the emulator (moto) records the SNS messages published, with each topic's
/// `sent_notifications`: its model dump restricted to SNS (`GET /moto-api/data.json?service=sns`;
/// SNS has no API that lists published messages). The restriction is `sitecustomize.py`'s fix 8,
/// which keeps a read cheap however much the pipeline has stored; a moto without it ignores the
/// query and answers its full dump, whose `sns` part is the same.
pub fn emulator_sns_dump_url(endpoint: &str) -> String {
    format!(
        "{}/moto-api/data.json?service=sns",
        endpoint.trim_end_matches('/')
    )
}

/// The retry settings of every client: [`MAX_ATTEMPTS`], [`INITIAL_BACKOFF`], [`MAX_BACKOFF`].
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The timeouts of every client: [`CONNECT_TIMEOUT`], [`ATTEMPT_TIMEOUT`], [`OPERATION_TIMEOUT`].
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

impl Connection {
    /// Loads the configuration for `target`. Nothing is sent yet (credentials are resolved on the
    /// first call).
    pub async fn load(target: &Target) -> Connection {
        let endpoint = target.endpoint.clone();
        let emulator = endpoint.as_deref().is_some_and(is_loopback);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http::client())
            .region(Region::new(target.region.clone()))
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let profile = if emulator {
            if let Some(profile) = &target.profile {
                tracing::warn!(
                    "ignoring --profile {profile}: requests go to an emulator on this machine, which is signed with emulator credentials"
                );
            }
            loader = loader.credentials_provider(Credentials::new(
                "mst-emulator",
                "mst-emulator",
                None,
                None,
                "emulator",
            ));
            None
        } else {
            if let Some(profile) = &target.profile {
                loader = loader.profile_name(profile);
            }
            target.profile.clone()
        };
        let mut config = loader.load().await;
        if !emulator && let Some(provider) = config.credentials_provider() {
            // Credential errors then say which profile (or the default chain) had none.
            config = config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(credentials::Labelled::new(
                    provider,
                    profile.clone(),
                )))
                .build();
        }
        Connection {
            config,
            endpoint,
            profile,
        }
    }

    /// This connection acting as `role_arn` (STS `AssumeRole` with this connection's
    /// credentials, refreshed before they expire), the session named `session_name` so CloudTrail
    /// shows who deployed. Nothing is sent yet: a role that cannot be assumed fails the first call.
    pub async fn assume_role(&self, role_arn: &str, session_name: &str) -> Connection {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name(session_name)
            .configure(&self.config)
            .build()
            .await;
        let config = self
            .config
            .clone()
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        Connection {
            config,
            endpoint: self.endpoint.clone(),
            profile: self.profile.clone(),
        }
    }

    /// The SDK configuration every client is built from.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// The endpoint override in force, if any.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// True when requests go to an emulator on this machine (signed with emulator credentials).
    pub fn is_emulator(&self) -> bool {
        self.endpoint.as_deref().is_some_and(is_loopback)
    }

    /// The profile credentials come from; `None` for the default chain or an emulator.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
    use super::*;

    #[test]
    fn the_sns_dump_url_asks_for_sns_only_with_or_without_a_trailing_slash() {
        for endpoint in ["http://127.0.0.1:5000", "http://127.0.0.1:5000/"] {
            assert_eq!(
                emulator_sns_dump_url(endpoint),
                "http://127.0.0.1:5000/moto-api/data.json?service=sns"
            );
        }
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost:5000/",
            "http://LOCALHOST",
            "http://127.1.2.3:80/path",
            "http://[::1]:5000",
            "http://user@127.0.0.1:5000",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://cloudformation.us-east-1.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://moto:5000",
            "http://localhost.example.com:5000",
            "http://127.0.0.1.example.com",
            "https://[2001:db8::1]:443",
            "",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[tokio::test]
    async fn emulator_credentials_go_only_to_loopback_endpoints() {
        use aws_credential_types::provider::ProvideCredentials;
        let local = Connection::load(&Target {
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:5000".into()),
            profile: Some("someone".into()),
        })
        .await;
        assert!(local.is_emulator());
        assert_eq!(local.endpoint(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            local.profile(),
            None,
            "a profile never signs for an emulator"
        );
        let provider = local.sdk_config().credentials_provider().unwrap();
        let credentials = provider.provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "mst-emulator");

        // Anything else is the standard chain (of the named profile), never the emulator's keys.
        let remote = Connection::load(&Target {
            region: "us-east-1".into(),
            endpoint: Some("http://10.0.0.1:5000".into()),
            profile: Some("someone".into()),
        })
        .await;
        assert!(!remote.is_emulator());
        assert_eq!(remote.profile(), Some("someone"));
        let provider = remote.sdk_config().credentials_provider().unwrap();
        assert!(format!("{provider:?}").contains("Labelled"), "{provider:?}");
    }

    #[tokio::test]
    async fn a_direct_call_refuses_a_fips_endpoint_it_does_not_know_in_one_sentence() {
        let connection = Connection::load(&Target {
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
        })
        .await;
        // The user's FIPS setting, and no endpoint: nothing may be sent to a non-FIPS endpoint.
        let mut fips = connection.sdk_config().to_builder();
        fips.set_endpoint_url(None);
        let fips = fips.use_fips(true).build();
        let kms = json::JsonClient::new(&fips, "us-east-1", json::KMS);
        let error = kms
            .call("DescribeKey", serde_json::json!({"KeyId": "alias/x"}))
            .await
            .unwrap_err();
        let sentence = CallError::new("DescribeKey alias/x", "us-east-1", &error).to_string();
        assert!(
            sentence.starts_with(
                "DescribeKey alias/x (us-east-1): the request could not be built: FIPS endpoints"
            ),
            "{sentence}"
        );
        assert!(
            sentence.ends_with("set AWS_ENDPOINT_URL_KMS to the endpoint to use"),
            "{sentence}"
        );
    }
}
