//! A failed AWS call as the user needs it: what went wrong, in one sentence naming the endpoint or
//! profile and the fix. Sorted from the SDK's error kinds (dispatch failure, connector error kind,
//! timeout, the service's error code), the credential chain's error and this crate's own markers
//! ([`Unreachable`](crate::http::Unreachable), [`CredentialsSource`]); never from debug text.

use std::error::Error;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::credentials::CredentialsSource;
use crate::http::Unreachable;
use crate::{ATTEMPT_TIMEOUT, OPERATION_TIMEOUT, is_loopback};

/// What went wrong with a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made (refused, reset, timed out, or the name did not resolve).
    Unreachable {
        /// The endpoint tried (`scheme://host[:port]`), when known.
        endpoint: Option<String>,
        /// Why, in a few words, such as `connection refused`.
        cause: String,
    },
    /// No answer within the attempt or operation timeout.
    TimedOut,
    /// The credential chain found no credentials.
    NoCredentials {
        /// The profile asked (`None`: the default chain).
        profile: Option<String>,
    },
    /// The credential chain failed (an invalid profile, an expired SSO session, a failing
    /// `credential_process`).
    CredentialsFailed {
        /// The profile asked (`None`: the default chain).
        profile: Option<String>,
        /// What the chain said.
        cause: String,
    },
    /// AWS says the credentials have expired.
    ExpiredCredentials,
    /// AWS does not accept the credentials (unknown key, bad signature).
    RejectedCredentials {
        /// The error code, such as `InvalidClientTokenId`.
        code: String,
    },
    /// The caller may not do this.
    AccessDenied {
        /// The IAM action, when the error names it (`cloudformation:DescribeStacks`).
        action: Option<String>,
    },
    /// Still throttled after every retry.
    Throttled {
        /// The error code, such as `Throttling`.
        code: String,
    },
    /// The service refused the request for its own reasons (validation, missing resource).
    Service {
        /// The error code.
        code: Option<String>,
        /// The service's message.
        message: Option<String>,
    },
    /// The request could not be built, for the reason given (a configuration the call cannot
    /// honour, such as a FIPS endpoint for a direct call).
    NotBuilt {
        /// The innermost reason.
        cause: String,
    },
    /// The request could not be sent, or the response could not be read.
    Unreadable {
        /// Which of the two.
        what: &'static str,
    },
}

/// A failed AWS call: the operation, its region and what went wrong. Its text is one sentence for
/// the user; the SDK's own error chain is logged at `debug` level (`--verbose`), not kept here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct CallError {
    /// The operation, such as `DescribeStacks mst-prod-pipeline`.
    pub operation: String,
    /// The region it was sent to.
    pub region: String,
    /// What went wrong.
    pub failure: Failure,
}

impl CallError {
    /// Sorts an SDK error, and logs the SDK's details at `debug` level.
    pub fn new<E, R>(
        operation: impl Into<String>,
        region: &str,
        error: &SdkError<E, R>,
    ) -> CallError
    where
        E: ProvideErrorMetadata + Error + 'static,
        R: fmt::Debug,
    {
        let operation = operation.into();
        tracing::debug!(
            "{operation} ({region}) failed: {}\n{error:#?}",
            DisplayErrorContext(error)
        );
        CallError {
            operation,
            region: region.to_owned(),
            failure: classify(error),
        }
    }

    /// True when the failure is about the credentials (missing, failing, expired or rejected).
    pub fn is_credentials(&self) -> bool {
        matches!(
            self.failure,
            Failure::NoCredentials { .. }
                | Failure::CredentialsFailed { .. }
                | Failure::ExpiredCredentials
                | Failure::RejectedCredentials { .. }
        )
    }

    fn sentence(&self) -> String {
        let CallError {
            operation,
            region,
            failure,
        } = self;
        match failure {
            Failure::Unreachable {
                endpoint: Some(endpoint),
                cause,
            } if is_loopback(endpoint) => {
                let port = endpoint
                    .rsplit(':')
                    .next()
                    .map(|p| p.trim_end_matches('/'))
                    .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                    .unwrap_or("80");
                format!(
                    "cannot reach the AWS endpoint {endpoint} ({cause}). Is the emulator running? Start it with `moto_server -H 127.0.0.1 -p {port}`, or point AWS_ENDPOINT_URL at the one that runs"
                )
            }
            Failure::Unreachable {
                endpoint: Some(endpoint),
                cause,
            } => {
                let hint = if is_aws(endpoint) {
                    "check the network connection, DNS, and any proxy or firewall on the way to AWS"
                } else {
                    "check the endpoint (AWS_ENDPOINT_URL) and the network on the way to it"
                };
                format!(
                    "cannot reach the AWS endpoint {endpoint} ({cause}) for {operation} in {region}: {hint}"
                )
            }
            Failure::Unreachable {
                endpoint: None,
                cause,
            } => format!(
                "cannot reach AWS for {operation} in {region} ({cause}): check the network connection, DNS, and any proxy or firewall on the way to AWS"
            ),
            Failure::TimedOut => format!(
                "AWS did not answer {operation} in {region} in time ({} s per attempt, {} s in all): check the network connection, then run again",
                ATTEMPT_TIMEOUT.as_secs(),
                OPERATION_TIMEOUT.as_secs()
            ),
            Failure::NoCredentials {
                profile: Some(profile),
            } => format!(
                "no AWS credentials found for profile {profile}: run `aws sso login --profile {profile}` (SSO) or `aws configure --profile {profile}`, or pass another --profile"
            ),
            Failure::NoCredentials { profile: None } => "no AWS credentials found in the default chain (environment variables, AWS_PROFILE, ~/.aws, web identity, container or instance role): set AWS_PROFILE or pass --profile NAME, after `aws configure` or `aws sso login --profile NAME`".to_owned(),
            Failure::CredentialsFailed {
                profile: Some(profile),
                cause,
            } => format!(
                "the AWS credentials of profile {profile} could not be loaded ({cause}): for an SSO profile run `aws sso login --profile {profile}`, otherwise check the profile in ~/.aws/config"
            ),
            Failure::CredentialsFailed {
                profile: None,
                cause,
            } => format!(
                "the AWS credentials of the default chain could not be loaded ({cause}): check AWS_PROFILE and ~/.aws/config, or run `aws sso login --profile NAME` for an SSO profile"
            ),
            Failure::ExpiredCredentials => format!(
                "the AWS credentials have expired ({operation} in {region}): refresh them (`aws sso login --profile NAME` for SSO profiles, or new keys) and run again"
            ),
            Failure::RejectedCredentials { code } => format!(
                "AWS rejected the credentials ({code}) for {operation} in {region}: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile (`aws configure`), or pass the right one with --profile"
            ),
            Failure::AccessDenied { action } => {
                let what = action.as_deref().unwrap_or(operation);
                format!(
                    "access denied: the credentials may not call {what} in {region}; use a profile (--profile) whose role allows it, or grant the permission"
                )
            }
            Failure::Throttled { code } => format!(
                "AWS kept throttling {operation} in {region} ({code}) through every retry: wait a minute and run again"
            ),
            Failure::Service { code, message } => {
                let text = match (code, message) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (Some(code), None) => code.clone(),
                    (None, Some(message)) => message.clone(),
                    (None, None) => "the service gave no reason".to_owned(),
                };
                format!("{operation} ({region}): {text}")
            }
            Failure::NotBuilt { cause } => {
                format!("{operation} ({region}): the request could not be built: {cause}")
            }
            Failure::Unreadable { what } => {
                format!("{operation} ({region}): {what} (run with --verbose for the SDK's details)")
            }
        }
    }
}

/// True for AWS's own endpoints.
fn is_aws(endpoint: &str) -> bool {
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let host = host.split(':').next().unwrap_or_default();
    host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")
}

/// The error and everything under it.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

fn find<'a, T: Error + 'static>(error: &'a (dyn Error + 'static)) -> Option<&'a T> {
    chain(error).find_map(|e| e.downcast_ref::<T>())
}

/// The innermost error's text: the most specific reason (the SDK's outer layers say "dispatch
/// failure" or "an error occurred while loading credentials").
fn innermost(error: &(dyn Error + 'static)) -> String {
    chain(error)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

fn classify<E, R>(error: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + Error + 'static,
    R: fmt::Debug,
{
    match error {
        SdkError::DispatchFailure(dispatch) => {
            let Some(connector) = dispatch.as_connector_error() else {
                return Failure::Unreadable {
                    what: "the request could not be sent",
                };
            };
            if let Some(credentials) = find::<CredentialsError>(connector) {
                let profile = find::<CredentialsSource>(connector).and_then(|s| s.profile.clone());
                return match credentials {
                    CredentialsError::CredentialsNotLoaded(_) => Failure::NoCredentials { profile },
                    _ => Failure::CredentialsFailed {
                        profile,
                        cause: innermost(connector),
                    },
                };
            }
            let endpoint = find::<Unreachable>(connector).map(|u| u.endpoint.clone());
            if connector.is_timeout() || connector.is_io() || endpoint.is_some() {
                return Failure::Unreachable {
                    endpoint,
                    cause: connection_cause(connector),
                };
            }
            Failure::Unreadable {
                what: "the request could not be sent",
            }
        }
        SdkError::TimeoutError(_) => Failure::TimedOut,
        SdkError::ConstructionFailure(_) => Failure::NotBuilt {
            cause: error.source().map(innermost).unwrap_or_default(),
        },
        SdkError::ResponseError(_) => Failure::Unreadable {
            what: "AWS's response could not be read",
        },
        SdkError::ServiceError(service) => from_code(service.err()),
        _ => Failure::Unreadable {
            what: "the call failed",
        },
    }
}

/// A refused, reset or timed-out connection, else the innermost reason (such as a name that did
/// not resolve).
fn connection_cause(connector: &(dyn Error + 'static)) -> String {
    use std::io::ErrorKind;
    let io = chain(connector).find_map(|e| e.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        Some(ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
            "connection reset".to_owned()
        }
        Some(ErrorKind::TimedOut) => "timed out".to_owned(),
        _ if find::<aws_smithy_runtime_api::client::result::ConnectorError>(connector)
            .is_some_and(|c| c.is_timeout()) =>
        {
            "timed out".to_owned()
        }
        _ => innermost(connector),
    }
}

/// A service error, by its code.
fn from_code(error: &impl ProvideErrorMetadata) -> Failure {
    let code = error.code().map(str::to_owned);
    let message = error.message().map(str::to_owned);
    let Some(code) = code else {
        return Failure::Service { code, message };
    };
    match code.as_str() {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            Failure::ExpiredCredentials
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "AuthFailure"
        | "InvalidAccessKeyId"
        | "InvalidToken" => Failure::RejectedCredentials { code },
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "UnauthorizedException" => Failure::AccessDenied {
            action: message.as_deref().and_then(denied_action),
        },
        _ if aws_runtime::retries::classifiers::THROTTLING_ERRORS.contains(&code.as_str()) => {
            Failure::Throttled { code }
        }
        _ => Failure::Service {
            code: Some(code),
            message,
        },
    }
}

/// The IAM action an access-denied message names: `... is not authorized to perform:
/// cloudformation:DescribeStacks on resource: ...`.
fn denied_action(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("perform: ")?;
    let action = rest.split_whitespace().next()?.trim_end_matches([',', '.']);
    action.contains(':').then(|| action.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_denied_action_comes_from_the_message_when_it_names_one() {
        assert_eq!(
            denied_action(
                "User: arn:aws:iam::444455556666:user/ci is not authorized to perform: cloudformation:DescribeStacks on resource: arn:aws:cloudformation:eu-west-1:444455556666:stack/mst-prod-pipeline/*"
            )
            .as_deref(),
            Some("cloudformation:DescribeStacks")
        );
        assert_eq!(
            denied_action(
                "User: arn:aws:iam::1:user/x is not authorized to perform: sts:GetCallerIdentity"
            )
            .as_deref(),
            Some("sts:GetCallerIdentity")
        );
        assert_eq!(denied_action("Access Denied"), None);
    }

    fn sentence(failure: Failure) -> String {
        CallError {
            operation: "GetCallerIdentity".into(),
            region: "eu-west-1".into(),
            failure,
        }
        .to_string()
    }

    #[test]
    fn an_unreachable_endpoint_gets_the_hint_for_what_it_is() {
        let unreachable = |endpoint: &str| {
            sentence(Failure::Unreachable {
                endpoint: Some(endpoint.into()),
                cause: "timed out".into(),
            })
        };
        assert_eq!(
            unreachable("https://sts.eu-west-1.amazonaws.com"),
            "cannot reach the AWS endpoint https://sts.eu-west-1.amazonaws.com (timed out) for GetCallerIdentity in eu-west-1: check the network connection, DNS, and any proxy or firewall on the way to AWS"
        );
        assert!(
            unreachable("http://moto.internal:5000").ends_with(
                "check the endpoint (AWS_ENDPOINT_URL) and the network on the way to it"
            )
        );
        assert!(
            unreachable("http://localhost").contains(
                "Is the emulator running? Start it with `moto_server -H 127.0.0.1 -p 80`"
            )
        );
    }

    #[test]
    fn credential_sentences_name_the_profile_or_the_default_chain() {
        assert!(
            sentence(Failure::NoCredentials {
                profile: Some("ci".into())
            })
            .starts_with(
                "no AWS credentials found for profile ci: run `aws sso login --profile ci`"
            )
        );
        assert!(
            sentence(Failure::CredentialsFailed {
                profile: None,
                cause: "the SSO token has expired".into()
            })
            .starts_with(
                "the AWS credentials of the default chain could not be loaded (the SSO token has expired)"
            )
        );
    }

    #[test]
    fn endpoints_of_aws_are_told_apart_from_others() {
        assert!(is_aws("https://sts.us-east-1.amazonaws.com"));
        assert!(is_aws(
            "https://cloudformation.cn-north-1.amazonaws.com.cn:443"
        ));
        assert!(!is_aws("https://moto.internal:5000"));
    }
}
